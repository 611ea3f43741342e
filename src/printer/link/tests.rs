//! The link printer's exchange with scripted printers: what is sent, in which order, and
//! what is believed.

use super::*;
use crate::printer::status::{DLE_EOT_OFFLINE, DLE_EOT_PAPER, DLE_EOT_PRINTER, GS_R_PAPER};

/// A scripted link: each status request (`DLE EOT n`, `GS r 1`) is answered with the
/// next queued bytes (none: silent).
struct Script {
    sent: Vec<u8>,
    answers: std::collections::VecDeque<Vec<u8>>,
    line: std::collections::VecDeque<u8>,
    /// The timeout of every `recv` (a wait; `pending` never waits).
    waits: Vec<Duration>,
}

impl Script {
    fn new(answers: &[&[u8]]) -> Script {
        Script {
            sent: Vec::new(),
            answers: answers.iter().map(|a| a.to_vec()).collect(),
            line: Default::default(),
            waits: Vec::new(),
        }
    }
}

impl Link for Script {
    fn send(&mut self, bytes: &[u8]) -> io::Result<()> {
        self.sent.extend_from_slice(bytes);
        let request = matches!(bytes, [0x10, 0x04, _] | [0x1D, 0x72, 0x01]);
        if request && let Some(answer) = self.answers.pop_front() {
            self.line.extend(answer);
        }
        Ok(())
    }
    fn recv(&mut self, timeout: Duration) -> io::Result<Option<u8>> {
        self.waits.push(timeout);
        Ok(self.line.pop_front())
    }
    fn pending(&mut self) -> io::Result<Option<u8>> {
        Ok(self.line.pop_front())
    }
}

/// A ready printer's answers: `DLE EOT 1`, `2`, `4`, `1`, then `GS r 1`.
const READY: [&[u8]; 5] = [&[0x12], &[0x12], &[0x12], &[0x12], &[0x00]];

#[test]
fn status_then_receipt_then_marker() {
    let mut link = Script::new(&READY);
    let status = query(&mut link).unwrap();
    assert_eq!(status.not_ready(), None);
    assert!(!status.garbled);
    assert!(print_confirmed(&mut link, b"\x1b@hello", Duration::from_secs(1)).unwrap());
    assert_eq!(
        link.sent,
        [
            &DLE_EOT_PRINTER[..],
            &DLE_EOT_OFFLINE,
            &DLE_EOT_PAPER,
            &DLE_EOT_PRINTER,
            b"\x1b@hello",
            &GS_R_PAPER
        ]
        .concat()
    );
    // A silent printer: unknown, and the receipt goes unconfirmed.
    let mut silent = Script::new(&[]);
    assert!(!query(&mut silent).unwrap().answered());
    assert!(!print_confirmed(&mut silent, b"x", Duration::from_millis(10)).unwrap());
}

#[test]
fn the_exchange_waits_only_for_answers() {
    // Draining stale bytes and checking that nothing follows an answer look at what
    // is already there: a timed wait costs a scheduler tick (4–10 ms) per request.
    let mut link = Script::new(&READY);
    assert_eq!(query(&mut link).unwrap().not_ready(), None);
    let confirm = Duration::from_secs(7);
    assert!(print_confirmed(&mut link, b"\x1b@hello", confirm).unwrap());
    let status = exchange::STATUS_TIMEOUT;
    assert_eq!(link.waits, [status, status, status, status, confirm]);
}

#[test]
fn a_byte_before_the_request_is_never_its_answer() {
    // The tail of earlier noise is on the line and the printer says nothing: that
    // byte must not pass for the GS r answer, nor for a status.
    let mut link = Script::new(&[]);
    link.line.push_back(0x00);
    assert!(!print_confirmed(&mut link, b"x", Duration::ZERO).unwrap());
    let mut link = Script::new(&[&[0x12], &[0x12], &[0x12], &[0x12]]);
    link.line.extend([0x12, 0x12]);
    let stale_first = query(&mut link).unwrap();
    assert!(
        !stale_first.garbled,
        "stale replies before a query are forgotten"
    );
}

#[test]
fn line_noise_is_never_a_status_nor_a_confirmation() {
    let garbled = |answers: &[&[u8]]| query(&mut Script::new(answers)).unwrap().garbled;
    // Wrong fixed bits; two bytes for one request; the two DLE EOT 1 answers differ.
    assert!(garbled(&[&[0x13]]));
    assert!(garbled(&[&[0x12, 0x00], &[0x12], &[0x12], &[0x12]]));
    assert!(garbled(&[&[0x12], &[0x12], &[0x12], &[0x1A]]));
    assert!(garbled(&[&[0x12], &[0x93], &[0x12], &[0x12]]));
    assert!(!garbled(&READY[..4]));
    // GS r: not the documented shape, or not alone.
    let confirmed =
        |answer: &[u8]| print_confirmed(&mut Script::new(&[answer]), b"x", Duration::ZERO);
    assert!(confirmed(&[0x00]).unwrap() && confirmed(&[0x03]).unwrap());
    for noise in [&[0x01][..], &[0x90], &[0x12], &[0x00, 0x00], &[0xFF, 0x00]] {
        assert!(!confirmed(noise).unwrap(), "{noise:02x?}");
    }
    // On a connection whose status was noise, even a well-shaped GS r answer is not
    // believed.
    let noisy = [&[0x12, 0x55][..], &[0x00]];
    let printout = LinkPrinter::new(Scripted(noisy.iter().map(|a| a.to_vec()).collect()))
        .write_job("T1", b"x")
        .unwrap();
    assert_eq!(printout.confirmed, Some(false));
    let mut printer = LinkPrinter::new(Scripted(vec![vec![0x77]]));
    let status = printer.status();
    assert_eq!(status.error.as_deref(), Some(status::GARBLED));
}

/// Opens a [`Script`] link with the same answers every time.
struct Scripted(Vec<Vec<u8>>);

impl Connector for Scripted {
    fn describe(&self) -> String {
        "script".into()
    }
    fn open(&mut self) -> io::Result<Box<dyn Link>> {
        let answers: Vec<&[u8]> = self.0.iter().map(Vec::as_slice).collect();
        Ok(Box::new(Script::new(&answers)))
    }
}

#[test]
fn the_print_result_says_whether_the_printer_confirmed() {
    let answering = READY.iter().map(|a| a.to_vec()).collect();
    let printout = LinkPrinter::new(Scripted(answering))
        .write_job("T1", b"x")
        .unwrap();
    assert_eq!(printout.confirmed, Some(true));
    let location = printout.location.as_deref();
    assert_eq!(location, Some("script (confirmed by the printer)"));
    let silent = LinkPrinter::new(Scripted(Vec::new()))
        .write_job("T1", b"x")
        .unwrap();
    assert_eq!(silent.confirmed, Some(false));
    let location = silent.location.as_deref();
    assert_eq!(location, Some("script (sent; the printer did not confirm)"));
}

/// A [`Script`] whose sent bytes are also logged where the test can see them.
struct Logged(Script, std::sync::Arc<std::sync::Mutex<Vec<u8>>>);

impl Link for Logged {
    fn send(&mut self, bytes: &[u8]) -> io::Result<()> {
        self.1.lock().unwrap().extend_from_slice(bytes);
        self.0.send(bytes)
    }
    fn recv(&mut self, timeout: Duration) -> io::Result<Option<u8>> {
        self.0.recv(timeout)
    }
}

/// Opens [`Logged`] links answering like a ready printer.
struct LoggedReady(std::sync::Arc<std::sync::Mutex<Vec<u8>>>);

impl Connector for LoggedReady {
    fn describe(&self) -> String {
        "script".into()
    }
    fn open(&mut self) -> io::Result<Box<dyn Link>> {
        Ok(Box::new(Logged(Script::new(&READY), self.0.clone())))
    }
}

#[test]
fn a_gated_job_asks_the_status_first_and_sends_nothing_until_released() {
    let status = [
        &DLE_EOT_PRINTER[..],
        &DLE_EOT_OFFLINE,
        &DLE_EOT_PAPER,
        &DLE_EOT_PRINTER,
    ]
    .concat();
    // Shut: the status is asked before the gate is consulted (so it overlaps the wait),
    // and no receipt byte goes out.
    let sent = std::sync::Arc::default();
    let mut printer = LinkPrinter::new(LoggedReady(std::sync::Arc::clone(&sent)));
    let (key, gate) = Gate::shut();
    key.release(false);
    let withheld = printer.write_job_gated("T1", b"QR", gate);
    assert_eq!(withheld, Err(PrinterError::Withheld));
    assert_eq!(
        *sent.lock().unwrap(),
        status,
        "the status, and nothing else"
    );
    // Released: the receipt and the confirmation request follow the status.
    let sent = std::sync::Arc::default();
    let mut printer = LinkPrinter::new(LoggedReady(std::sync::Arc::clone(&sent)));
    let (key, gate) = Gate::shut();
    key.release(true);
    let printout = printer.write_job_gated("T1", b"QR", gate).unwrap();
    assert_eq!(printout.confirmed, Some(true));
    let whole = [&status[..], b"QR", &GS_R_PAPER].concat();
    assert_eq!(*sent.lock().unwrap(), whole);
}

/// Opens [`Logged`] links with `answers`, each link its own copy; counts the opens.
struct LoggedScript {
    answers: Vec<&'static [u8]>,
    sent: std::sync::Arc<std::sync::Mutex<Vec<u8>>>,
    opens: usize,
    per_job: bool,
}

impl LoggedScript {
    fn new(answers: &[&'static [u8]], per_job: bool) -> LoggedScript {
        LoggedScript {
            answers: answers.to_vec(),
            sent: std::sync::Arc::default(),
            opens: 0,
            per_job,
        }
    }
}

impl Connector for LoggedScript {
    fn describe(&self) -> String {
        "script".into()
    }
    fn open(&mut self) -> io::Result<Box<dyn Link>> {
        self.opens += 1;
        Ok(Box::new(Logged(
            Script::new(&self.answers),
            self.sent.clone(),
        )))
    }
    fn per_job(&self) -> bool {
        self.per_job
    }
}

const STATUS: [&[u8]; 4] = [
    &DLE_EOT_PRINTER,
    &DLE_EOT_OFFLINE,
    &DLE_EOT_PAPER,
    &DLE_EOT_PRINTER,
];

#[test]
fn a_receipt_after_prepare_goes_out_without_asking_again() {
    let mut printer = LinkPrinter::new(LoggedScript::new(&READY, true));
    assert_eq!(printer.prepare(), Some(PREPARED_FOR));
    let sent = printer.connector.sent.clone();
    assert_eq!(*sent.lock().unwrap(), STATUS.concat(), "asked ahead");
    let printout = printer.write_job("T1", b"QR").unwrap();
    assert_eq!(printout.confirmed, Some(true));
    let whole = [&STATUS.concat()[..], b"QR", &GS_R_PAPER].concat();
    assert_eq!(*sent.lock().unwrap(), whole, "the status once, on one link");
    assert_eq!(printer.connector.opens, 1);
    // Used once: the next receipt asks again.
    assert!(printer.prepared.is_none());
}

#[test]
fn a_status_asked_ahead_is_not_believed_when_stale_or_when_the_printer_spoke_since() {
    let twice: Vec<&'static [u8]> = [&READY[..4], &READY[..]].concat();
    // Stale: asked PREPARED_FOR ago.
    let mut printer = LinkPrinter::new(LoggedScript::new(&twice, false));
    printer.prepare().unwrap();
    let asked = &mut printer.prepared.as_mut().unwrap().0;
    *asked = asked.checked_sub(PREPARED_FOR).unwrap();
    assert_eq!(
        printer.write_job("T1", b"QR").unwrap().confirmed,
        Some(true)
    );
    let asked_twice = [&STATUS.concat()[..], &STATUS.concat(), b"QR", &GS_R_PAPER].concat();
    assert_eq!(*printer.connector.sent.lock().unwrap(), asked_twice);
    // A byte the printer volunteered since: asked again.
    let mut printer = LinkPrinter::new(LoggedScript::new(&twice, false));
    printer.prepare().unwrap();
    printer
        .link
        .as_mut()
        .unwrap()
        .send(&DLE_EOT_PRINTER)
        .unwrap(); // its answer waits unread
    printer.connector.sent.lock().unwrap().clear();
    printer.write_job("T1", b"QR").unwrap();
    let sent = printer.connector.sent.lock().unwrap().clone();
    assert!(sent.starts_with(&STATUS.concat()), "{sent:02x?}");
    // The printer was asked (its status or identity) in between: asked again.
    let mut printer = LinkPrinter::new(LoggedScript::new(&twice, false));
    printer.prepare().unwrap();
    printer.status();
    assert!(printer.prepared.is_none());
}

#[test]
fn a_printer_not_ready_ahead_is_asked_again_when_the_receipt_comes() {
    let paper_out: &'static [u8] = &[0x7E];
    let answers: Vec<&'static [u8]> = vec![&[0x12], &[0x12], paper_out, &[0x12]];
    let mut printer = LinkPrinter::new(LoggedScript::new(&answers, true));
    assert_eq!(
        printer.prepare(),
        None,
        "nothing held for a printer without paper"
    );
    assert!(
        printer.link.is_none(),
        "a TCP printer's connection is let go"
    );
    printer.connector.answers = READY.to_vec();
    assert_eq!(
        printer.write_job("T1", b"QR").unwrap().confirmed,
        Some(true)
    );
    assert_eq!(printer.connector.opens, 2);
}

#[test]
fn letting_go_closes_a_tcp_printers_connection_and_forgets_the_status() {
    let mut printer = LinkPrinter::new(LoggedScript::new(&READY, true));
    printer.prepare().unwrap();
    printer.let_go();
    assert!(printer.link.is_none() && printer.prepared.is_none());
    // A serial link stays open (it is never closed between jobs).
    let mut printer = LinkPrinter::new(LoggedScript::new(&READY, false));
    printer.prepare().unwrap();
    printer.let_go();
    assert!(printer.link.is_some() && printer.prepared.is_none());
}

/// Opens no link: the printer is unreachable.
struct Unreachable(usize);

impl Connector for Unreachable {
    fn describe(&self) -> String {
        "unreachable".into()
    }
    fn open(&mut self) -> io::Result<Box<dyn Link>> {
        self.0 += 1;
        Err(io::Error::new(io::ErrorKind::TimedOut, "connect timed out"))
    }
}

#[test]
fn a_printer_that_was_not_ready_is_not_asked_ahead_again() {
    let mut printer = LinkPrinter::new(Unreachable(0));
    assert_eq!(printer.prepare(), None);
    let tried = printer.connector.0;
    assert!(tried >= 1);
    // The next checkout: the receipt's own attempt is the only one that waits.
    assert_eq!(printer.prepare(), None);
    assert_eq!(printer.connector.0, tried, "not asked ahead again");
    assert!(printer.write_job("T1", b"QR").is_err());
    assert!(printer.connector.0 > tried, "the receipt still tries");
    // Once a receipt found it ready, it is asked ahead again.
    let mut printer = LinkPrinter::new(LoggedScript::new(
        &[&[0x12], &[0x12], &[0x7E], &[0x12]],
        true,
    ));
    assert_eq!(printer.prepare(), None, "paper out");
    assert_eq!(printer.prepare(), None);
    assert_eq!(
        printer.connector.opens, 1,
        "not asked ahead while it was out of paper"
    );
    printer.connector.answers = READY.to_vec();
    printer.write_job("T1", b"QR").unwrap();
    printer.connector.answers = READY.to_vec();
    assert_eq!(printer.prepare(), Some(PREPARED_FOR));
}

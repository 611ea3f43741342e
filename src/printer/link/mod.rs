//! The byte-stream transports — serial, USB printer class (usblp) and TCP 9100 — and the
//! ESC/POS status protocol they share.
//!
//! Every receipt goes the same way, whatever the wire (receiptio's technique, see
//! `docs/escpos.md` §4):
//!
//! 1. ask the printer's real-time status, `DLE EOT 1` (printer), `2` (offline cause) and
//!    `4` (paper sensor), each a separate write, then `1` again; a valid reply byte matches
//!    `b & 0x93 == 0x12`, comes alone, and the two `1` answers agree. Offline, cover open or paper out: the receipt is *not* sent —
//!    the job keeps it pending and tries again when the printer is back;
//! 2. write the receipt;
//! 3. send `GS r 1` and wait for its one-byte reply: the printer answers it only after it
//!    has processed everything before it, so the reply means "printed up to here".
//!
//! No reply is "unknown", never "ok": a printer that answers nothing (a unidirectional
//! usblp device, a silent clone) still gets its receipts, reported as unconfirmed. So does
//! one whose answers are line noise (wrong baud rate, bad RX wire): `exchange.rs` says
//! when an answer counts.
//!
//! A link that fails (USB-serial adapter unplugged, usblp `ENODEV`, TCP reset) is dropped
//! and opened again, by path, for the next job.
//!
//! This file holds the [`Link`]/[`Connector`] abstraction and the printer on it;
//! `exchange.rs` the exchange itself; `identify.rs` the `GS I` maker/model questions of a
//! probe, `baud.rs` the serial baud probe; each wire is
//! one [`Connector`] in its own file (`serial.rs`, `usb.rs`, `tcp.rs`), and what the reply
//! bytes mean is `printer/status.rs`. Nothing here knows a particular wire.

use std::io;
use std::time::Duration;

use exchange::{print_confirmed, query};
use tracing::{debug, warn};

use super::status::{self, Realtime};
use super::{Gate, Identity, Printer, PrinterError, Printout};
use crate::config::DrawerLevel;
use crate::protocol::PrinterStatus;

mod baud;
mod exchange;
mod identify;
mod serial;
mod tcp;
mod usb;

pub use baud::{BAUD_CANDIDATES, BaudVerdict, ROUNDS, accepted, probe_baud};
pub use serial::Serial;
pub use tcp::Tcp;
pub use usb::Usb;

/// A bidirectional byte link to a printer.
pub trait Link: Send {
    /// Send all of `bytes` (paced or flow-controlled as the link requires) and wait until
    /// they have left the host.
    fn send(&mut self, bytes: &[u8]) -> io::Result<()>;
    /// One byte from the printer within `timeout`; `Ok(None)` when none came, or when the
    /// link cannot read back at all.
    fn recv(&mut self, timeout: Duration) -> io::Result<Option<u8>>;
    /// One byte the printer already sent (buffered by the kernel), without waiting;
    /// `Ok(None)` when nothing is there.
    fn pending(&mut self) -> io::Result<Option<u8>> {
        self.recv(Duration::ZERO)
    }
}

/// How a transport opens its link.
pub trait Connector: Send + 'static {
    /// `serial /dev/ttyUSB0 9600 8N1 …`, `usb /dev/usb/lp0`, `tcp host:9100`.
    fn describe(&self) -> String;
    /// Open a fresh link to the printer.
    fn open(&mut self) -> io::Result<Box<dyn Link>>;
    /// Close the link after every job (TCP printers serve one connection at a time).
    fn per_job(&self) -> bool {
        false
    }
    /// How long the printer may take to process `len` bytes before `GS r` must answer.
    fn confirm_timeout(&self, len: usize) -> Duration {
        Duration::from_secs(5) + Duration::from_millis(len as u64 / 10)
    }
}

/// A printer on a byte link: serial, usblp or TCP.
pub struct LinkPrinter<C: Connector> {
    connector: C,
    link: Option<Box<dyn Link>>,
    /// The drawer sensor's level that means open (`printer.drawer_open_level`).
    drawer_open: DrawerLevel,
}

impl<C: Connector> LinkPrinter<C> {
    /// A printer reached through `connector`; the link opens on first use. Its drawer
    /// reads open when the sensor is low, unless [`LinkPrinter::drawer_open_level`] says.
    pub fn new(connector: C) -> Self {
        LinkPrinter {
            connector,
            link: None,
            drawer_open: DrawerLevel::Low,
        }
    }

    /// The same printer, its drawer read as open when the sensor is at `level`.
    pub fn drawer_open_level(self, level: DrawerLevel) -> Self {
        LinkPrinter {
            drawer_open: level,
            ..self
        }
    }

    fn io_err(&self, e: &io::Error) -> PrinterError {
        PrinterError::Io {
            target: self.connector.describe(),
            message: e.to_string(),
        }
    }

    fn link(&mut self) -> io::Result<&mut Box<dyn Link>> {
        let link = match self.link.take() {
            Some(link) => link,
            None => self.connector.open()?,
        };
        Ok(self.link.insert(link))
    }

    /// Status through the current link, opening it again once if it has gone bad.
    fn realtime(&mut self) -> io::Result<Realtime> {
        match self.link().and_then(|l| query(l.as_mut())) {
            Ok(r) => Ok(r),
            Err(e) => {
                debug!(error = %e, "status on the open link failed; reopening");
                self.link = None;
                self.link().and_then(|l| query(l.as_mut()))
            }
        }
    }
}

impl<C: Connector> Printer for LinkPrinter<C> {
    fn describe(&self) -> String {
        self.connector.describe()
    }

    fn write_job(&mut self, name: &str, bytes: &[u8]) -> Result<Printout, PrinterError> {
        self.write_job_gated(name, bytes, Gate::open())
    }

    /// Open the link and ask the status first, then wait at `gate`: the status exchange
    /// overlaps whatever the gate waits for (a journal `fsync`). Nothing of `bytes` goes
    /// out before the gate opens.
    fn write_job_gated(
        &mut self,
        name: &str,
        bytes: &[u8],
        gate: Gate,
    ) -> Result<Printout, PrinterError> {
        let realtime = match self.realtime() {
            Ok(r) => r,
            Err(e) => {
                self.link = None;
                return Err(self.io_err(&e));
            }
        };
        let description = self.connector.describe();
        if realtime.not_ready().is_some() {
            if self.connector.per_job() {
                self.link = None;
            }
            let status = realtime.to_protocol(&description, self.drawer_open);
            return Err(PrinterError::NotReady(status));
        }
        if !gate.wait() {
            if self.connector.per_job() {
                self.link = None;
            }
            return Err(PrinterError::Withheld);
        }
        let confirm = self.connector.confirm_timeout(bytes.len());
        let result = self
            .link()
            .and_then(|l| print_confirmed(l.as_mut(), bytes, confirm));
        if self.connector.per_job() || result.is_err() {
            self.link = None;
        }
        // On a connection whose status answers were noise, no answer is believed.
        let confirmed = result.map_err(|e| self.io_err(&e))? && !realtime.garbled;
        if !confirmed && (realtime.answered() || realtime.garbled) {
            warn!(
                job = name,
                garbled = realtime.garbled,
                "the printer took the receipt but did not confirm it (no valid GS r reply)"
            );
        }
        let said = if confirmed {
            "confirmed by the printer"
        } else {
            "sent; the printer did not confirm"
        };
        Ok(Printout {
            location: Some(format!("{description} ({said})")),
            confirmed: Some(confirmed),
        })
    }

    fn identify(&mut self) -> Identity {
        self.identify_now()
    }

    fn status(&mut self) -> PrinterStatus {
        let description = self.connector.describe();
        let status = match self.realtime() {
            Ok(r) => r.to_protocol(&description, self.drawer_open),
            Err(e) => {
                self.link = None;
                status::unreachable(format!("cannot reach the printer: {e}"), Some(description))
            }
        };
        if self.connector.per_job() {
            self.link = None;
        }
        status
    }
}

#[cfg(test)]
mod tests {
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
}

//! The byte-stream transports — serial, USB printer class (usblp) and TCP 9100 — and the
//! ESC/POS status protocol they share.
//!
//! Every receipt goes the same way, whatever the wire (receiptio's technique, see
//! `docs/escpos.md` §4):
//!
//! 1. ask the printer's real-time status, `DLE EOT 1` (printer), `2` (offline cause) and
//!    `4` (paper sensor), each a separate write; a valid reply byte matches
//!    `b & 0x93 == 0x12`. Offline, cover open or paper out: the receipt is *not* sent —
//!    the job keeps it pending and tries again when the printer is back;
//! 2. write the receipt;
//! 3. send `GS r 1` and wait for its one-byte reply: the printer answers it only after it
//!    has processed everything before it, so the reply means "printed up to here".
//!
//! No reply is "unknown", never "ok": a printer that answers nothing (a unidirectional
//! usblp device, a silent clone) still gets its receipts, reported as unconfirmed.
//!
//! A link that fails (USB-serial adapter unplugged, usblp `ENODEV`, TCP reset) is dropped
//! and opened again, by path, for the next job.
//!
//! This file holds the [`Link`]/[`Connector`] abstraction and that exchange; each wire is
//! one [`Connector`] in its own file (`serial.rs`, `usb.rs`, `tcp.rs`), and what the reply
//! bytes mean is `printer/status.rs`. Nothing here knows a particular wire.

use std::io;
use std::time::{Duration, Instant};

use tracing::{debug, warn};

use super::status::{self, DLE_EOT_OFFLINE, DLE_EOT_PAPER, DLE_EOT_PRINTER, GS_R_PAPER, Realtime};
use super::{Printer, PrinterError, Printout};
use crate::protocol::PrinterStatus;

mod serial;
mod tcp;
mod usb;

pub use serial::Serial;
pub use tcp::Tcp;
pub use usb::Usb;

/// How long one status reply may take.
const STATUS_TIMEOUT: Duration = Duration::from_millis(500);

/// A bidirectional byte link to a printer.
pub trait Link: Send {
    /// Send all of `bytes` (paced or flow-controlled as the link requires) and wait until
    /// they have left the host.
    fn send(&mut self, bytes: &[u8]) -> io::Result<()>;
    /// One byte from the printer within `timeout`; `Ok(None)` when none came, or when the
    /// link cannot read back at all.
    fn recv(&mut self, timeout: Duration) -> io::Result<Option<u8>>;
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

/// Forget bytes the printer sent earlier (a late status reply, automatic status).
fn drain(link: &mut dyn Link) -> io::Result<()> {
    while link.recv(Duration::from_millis(1))?.is_some() {}
    Ok(())
}

/// Ask `DLE EOT 1`, `2` and `4`, each as its own write.
fn query(link: &mut dyn Link) -> io::Result<Realtime> {
    drain(link)?;
    let mut ask = |request: &[u8]| -> io::Result<Option<u8>> {
        link.send(request)?;
        let deadline = Instant::now() + STATUS_TIMEOUT;
        while let Some(left) = deadline.checked_duration_since(Instant::now()) {
            match link.recv(left)? {
                Some(b) if status::valid_realtime(b) => return Ok(Some(b)),
                Some(other) => debug!(byte = other, "ignoring a non-status byte"),
                None => return Ok(None),
            }
        }
        Ok(None)
    };
    let printer = ask(&DLE_EOT_PRINTER)?;
    if printer.is_none() {
        // Silent printer: do not wait for the other two.
        return Ok(Realtime::default());
    }
    let offline_cause = ask(&DLE_EOT_OFFLINE)?;
    let paper = ask(&DLE_EOT_PAPER)?;
    Ok(Realtime::from_replies(printer, offline_cause, paper))
}

/// Write a receipt and wait for `GS r 1`'s reply: `Ok(true)` when the printer confirmed.
fn print_confirmed(link: &mut dyn Link, bytes: &[u8], confirm: Duration) -> io::Result<bool> {
    link.send(bytes)?;
    link.send(&GS_R_PAPER)?;
    let deadline = Instant::now() + confirm;
    while let Some(left) = deadline.checked_duration_since(Instant::now()) {
        match link.recv(left)? {
            Some(b) if status::is_gs_r_reply(b) => return Ok(true),
            Some(_) => continue,
            None => return Ok(false),
        }
    }
    Ok(false)
}

/// A printer on a byte link: serial, usblp or TCP.
pub struct LinkPrinter<C: Connector> {
    connector: C,
    link: Option<Box<dyn Link>>,
}

impl<C: Connector> LinkPrinter<C> {
    /// A printer reached through `connector`; the link opens on first use.
    pub fn new(connector: C) -> Self {
        LinkPrinter {
            connector,
            link: None,
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
            return Err(PrinterError::NotReady(realtime.to_protocol(&description)));
        }
        let confirm = self.connector.confirm_timeout(bytes.len());
        let result = self
            .link()
            .and_then(|l| print_confirmed(l.as_mut(), bytes, confirm));
        if self.connector.per_job() || result.is_err() {
            self.link = None;
        }
        let confirmed = result.map_err(|e| self.io_err(&e))?;
        if !confirmed && realtime.answered() {
            warn!(
                job = name,
                "the printer took the receipt but did not confirm it (no GS r reply)"
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

    fn status(&mut self) -> PrinterStatus {
        let description = self.connector.describe();
        let status = match self.realtime() {
            Ok(r) => r.to_protocol(&description),
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

    /// A scripted link: replies queued per request.
    struct Script {
        sent: Vec<u8>,
        replies: std::collections::VecDeque<Option<u8>>,
    }

    impl Link for Script {
        fn send(&mut self, bytes: &[u8]) -> io::Result<()> {
            self.sent.extend_from_slice(bytes);
            Ok(())
        }
        fn recv(&mut self, _: Duration) -> io::Result<Option<u8>> {
            Ok(self.replies.pop_front().flatten())
        }
    }

    #[test]
    fn status_then_receipt_then_marker() {
        let mut link = Script {
            sent: Vec::new(),
            // drain → nothing; DLE EOT 1, 2, 4 replies; GS r reply
            replies: [None, Some(0x12), Some(0x12), Some(0x12), Some(0x00)].into(),
        };
        let status = query(&mut link).unwrap();
        assert_eq!(status.not_ready(), None);
        assert!(print_confirmed(&mut link, b"\x1b@hello", Duration::from_secs(1)).unwrap());
        assert_eq!(
            link.sent,
            [
                &DLE_EOT_PRINTER[..],
                &DLE_EOT_OFFLINE,
                &DLE_EOT_PAPER,
                b"\x1b@hello",
                &GS_R_PAPER
            ]
            .concat()
        );
        // A silent printer: unknown, and the receipt goes unconfirmed.
        let mut silent = Script {
            sent: Vec::new(),
            replies: [].into(),
        };
        assert!(!query(&mut silent).unwrap().answered());
        assert!(!print_confirmed(&mut silent, b"x", Duration::from_millis(10)).unwrap());
    }

    /// Opens a [`Script`] link with the same replies every time.
    struct Scripted(Vec<Option<u8>>);

    impl Connector for Scripted {
        fn describe(&self) -> String {
            "script".into()
        }
        fn open(&mut self) -> io::Result<Box<dyn Link>> {
            Ok(Box::new(Script {
                sent: Vec::new(),
                replies: self.0.clone().into(),
            }))
        }
    }

    #[test]
    fn the_print_result_says_whether_the_printer_confirmed() {
        // drain → nothing; DLE EOT 1, 2, 4 replies; GS r reply
        let answering = vec![None, Some(0x12), Some(0x12), Some(0x12), Some(0x00)];
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
}

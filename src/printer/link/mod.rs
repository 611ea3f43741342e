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
//!    for a checkout this is asked ahead, while WeChat Pay places the order
//!    ([`Printer::prepare`]): a ready answer stands for the receipt for [`PREPARED_FOR`] on
//!    the link kept open, unless the printer has sent anything since;
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
use std::time::{Duration, Instant};

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

/// How long a ready status asked ahead ([`Printer::prepare`]) stands for the receipt that
/// follows: longer than WeChat Pay takes to answer a placement, short enough that a TCP
/// printer's one connection is not held for a receipt that never comes.
pub(crate) const PREPARED_FOR: Duration = Duration::from_secs(2);

/// A printer on a byte link: serial, usblp or TCP.
pub struct LinkPrinter<C: Connector> {
    connector: C,
    link: Option<Box<dyn Link>>,
    /// A ready status asked ahead on the open link, and when.
    prepared: Option<(Instant, Realtime)>,
    /// The printer could not take a receipt when last asked (unreachable, paper out…): it
    /// is not asked ahead, so an offline printer costs a receipt one connect timeout, not two.
    was_unready: bool,
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
            prepared: None,
            was_unready: false,
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

    /// The status asked ahead, if it still stands for a receipt now: asked less than
    /// [`PREPARED_FOR`] ago, on the link still open, and the printer has said nothing since
    /// (a byte it volunteered may tell of a change: then the status is asked again). Used once.
    fn prepared_status(&mut self) -> Option<Realtime> {
        let (asked, realtime) = self.prepared.take()?;
        if asked.elapsed() >= PREPARED_FOR {
            return None;
        }
        let link = self.link.as_mut()?;
        matches!(link.pending(), Ok(None)).then_some(realtime)
    }

    /// Status through the current link, opening it again once if it has gone bad.
    fn realtime(&mut self) -> io::Result<Realtime> {
        let asked = match self.link().and_then(|l| query(l.as_mut())) {
            Ok(r) => Ok(r),
            Err(e) => {
                debug!(error = %e, "status on the open link failed; reopening");
                self.link = None;
                self.link().and_then(|l| query(l.as_mut()))
            }
        };
        self.was_unready = !matches!(&asked, Ok(r) if r.not_ready().is_none());
        asked
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
        let asked = match self.prepared_status() {
            Some(ready) => Ok(ready),
            None => self.realtime(),
        };
        let realtime = match asked {
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

    /// Open the link and ask the status now, for a receipt expected within
    /// [`PREPARED_FOR`]: it then goes out without asking again (a silent printer's 500 ms
    /// wait for an answer is spent ahead too). Only a status that lets a receipt out is
    /// kept; a printer that is not ready is asked again when the receipt comes. One that
    /// was not ready when last asked is not asked ahead: the receipt asks it.
    fn prepare(&mut self) -> Option<Duration> {
        self.prepared = None;
        if self.was_unready {
            return None;
        }
        match self.realtime() {
            Ok(r) if r.not_ready().is_none() => {
                self.prepared = Some((Instant::now(), r));
                Some(PREPARED_FOR)
            }
            Ok(_) => {
                self.let_go();
                None
            }
            Err(e) => {
                debug!(error = %e, "the printer could not be asked ahead of a receipt");
                self.link = None;
                None
            }
        }
    }

    fn let_go(&mut self) {
        self.prepared = None;
        if self.connector.per_job() {
            self.link = None;
        }
    }

    fn identify(&mut self) -> Identity {
        self.prepared = None;
        self.identify_now()
    }

    fn status(&mut self) -> PrinterStatus {
        self.prepared = None;
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
mod tests;

//! Printer transports behind one [`Printer`] trait, driven from a dedicated thread.
//!
//! Printer I/O is blocking by nature (serial ports, the usblp device, a stalled TCP
//! printer), so every transport is a plain blocking object owned by one thread, and the
//! async side talks to it through a [`PrinterHandle`]. The thread's queue is also what keeps
//! receipts from interleaving when several jobs print at once.
//!
//! # Layout
//!
//! - `mod.rs`: the [`Printer`] trait, what a written job tells ([`Printout`]: where it went,
//!   whether the printer confirmed it), [`PrinterError`], [`open`] (settings → transport)
//!   and the [`PrinterHandle`] thread;
//! - `file.rs`: the `file` transport ([`FilePrinter`]), one `.bin` file of ESC/POS bytes per
//!   receipt, written atomically, for development;
//! - [`link`]: the byte-stream transports `serial`, `usb` (the kernel usblp device) and `tcp`
//!   (port 9100), one file each, and the print-with-status exchange they share;
//! - `status.rs`: the ESC/POS status bytes and replies decoded into typed values; every
//!   `PrinterStatus` this module reports is built there;
//! - [`profile`]: built-in printer models; [`discover`]: `wxprint printers`;
//! - `identify.rs`: what a printer says it is ([`Identity`], `wxprint printers --probe`).
//!
//! Printers take bytes: this module does not know what a receipt says, nor jobs or the
//! socket; of the protocol it knows only `PrinterStatus` (with its `Paper`). What the
//! printer thread sees of the printer goes to the fleet metrics (`crate::metrics`).

use std::sync::mpsc;
use std::time::Duration;

use tokio::sync::oneshot;

use crate::config::{PrinterSettings, Transport};
use crate::protocol::PrinterStatus;

pub mod discover;
mod file;
mod identify;
pub mod link;
pub mod profile;
mod status;

pub use file::FilePrinter;
pub use identify::Identity;

/// A stuck usblp write is abandoned after this.
const USB_WRITE_TIMEOUT: Duration = Duration::from_secs(30);
/// Connecting to a network printer, and each write to it.
const TCP_TIMEOUT: Duration = Duration::from_secs(5);

/// What went wrong talking to the printer.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum PrinterError {
    /// The transport failed (device gone, connection refused, write timed out).
    #[error("cannot write to {target}: {message}")]
    Io {
        /// The transport as described for the technician (`serial /dev/ttyUSB0 …`), or the
        /// directory of the file printer.
        target: String,
        /// The operating system's reason.
        message: String,
    },
    /// The printer says it cannot print now (paper out, cover open, offline): nothing was
    /// sent; try again when it is back.
    #[error("the printer is not ready: {}", .0.error.as_deref().unwrap_or("not ready"))]
    NotReady(PrinterStatus),
    /// The printer thread is gone (the daemon is stopping).
    #[error("the printer thread has stopped")]
    Stopped,
    /// The job's gate was shut: what had to be on disk before its bytes go out could not
    /// be written, so nothing was sent; the job is tried again once it is.
    #[error("the receipt was held back: it may only be printed once its order is on disk")]
    Withheld,
}

/// Holds a queued job's bytes back until what must be durable first is on disk: the
/// printer checks its status (and opens its link) meanwhile, then waits here. Never lets
/// bytes out unless [`GateKey::release`] said so; a dropped key shuts it.
pub struct Gate(Option<oneshot::Receiver<bool>>);

/// The side of a [`Gate`] that lets its job's bytes out, or not.
pub struct GateKey(oneshot::Sender<bool>);

impl Gate {
    /// A gate that is open from the start: the job is written as soon as it is reached.
    pub fn open() -> Gate {
        Gate(None)
    }

    /// A shut gate and its key.
    pub fn shut() -> (GateKey, Gate) {
        let (tx, rx) = oneshot::channel();
        (GateKey(tx), Gate(Some(rx)))
    }

    /// Block until the key decides (the printer thread only): `true` to send the bytes.
    pub fn wait(self) -> bool {
        self.0.is_none_or(|rx| rx.blocking_recv().unwrap_or(false))
    }
}

impl GateKey {
    /// Let the job's bytes out (`go`), or drop them unsent.
    pub fn release(self, go: bool) {
        let _ = self.0.send(go);
    }
}

impl PrinterError {
    /// The printer's state this error tells of, for the POS: the status the printer gave
    /// when it is not ready, else an unreachable printer (`paper` unknown) on `transport`.
    pub(crate) fn into_status(self, transport: &str) -> PrinterStatus {
        match self {
            PrinterError::NotReady(status) => status,
            other => status::unreachable(other.to_string(), Some(transport.to_owned())),
        }
    }
}

/// What a written (or refused) job says of the printer, for the fleet metrics.
fn tell_metrics(written: &Result<Printout, PrinterError>) {
    match written {
        Ok(_) => crate::metrics::printer_printed(),
        Err(PrinterError::NotReady(status)) => crate::metrics::printer_status(status),
        Err(PrinterError::Io { .. }) => crate::metrics::printer_unreachable(),
        Err(PrinterError::Stopped | PrinterError::Withheld) => {}
    }
}

/// What a transport can tell about a job it has written.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Printout {
    /// Where the job went, in words, when the transport can tell: the file written, or
    /// the transport and whether the printer confirmed it.
    pub location: Option<String>,
    /// Whether the printer confirmed the job (it answered `GS r 1` sent after it, i.e. has
    /// processed it); `None` when the transport cannot ask (the file transport).
    pub confirmed: Option<bool>,
}

/// The transport the settings describe.
pub fn open(settings: &PrinterSettings) -> Box<dyn Printer> {
    match settings.transport {
        Transport::File => Box::new(FilePrinter::new(&settings.device)),
        Transport::Serial => Box::new(
            link::LinkPrinter::new(link::Serial {
                device: settings.device.clone(),
                baud_rate: settings.baud_rate,
                flow_control: settings.flow_control,
            })
            .drawer_open_level(settings.drawer_open_level),
        ),
        Transport::Usb => Box::new(
            link::LinkPrinter::new(link::Usb {
                device: settings.device.clone(),
                write_timeout: USB_WRITE_TIMEOUT,
            })
            .drawer_open_level(settings.drawer_open_level),
        ),
        Transport::Tcp => Box::new(
            link::LinkPrinter::new(link::Tcp {
                address: settings.address.clone(),
                timeout: TCP_TIMEOUT,
            })
            .drawer_open_level(settings.drawer_open_level),
        ),
    }
}

/// A blocking printer transport. Runs on the printer thread only.
pub trait Printer: Send + 'static {
    /// `file ./receipts`, `serial /dev/ttyUSB0 9600 8N1`…: for logs and the `printer` op.
    fn describe(&self) -> String;

    /// Write one complete job. `name` identifies it (the order number, `test-page`); the
    /// answer says where it went and whether the printer confirmed it, as far as the
    /// transport can tell.
    fn write_job(&mut self, name: &str, bytes: &[u8]) -> Result<Printout, PrinterError>;

    /// Live status, as far as the transport can know it.
    fn status(&mut self) -> PrinterStatus;

    /// What the printer says it is (`wxprint printers --probe`, the log at start-up): its
    /// status, then the maker and model it answers to `GS I`. Transports that cannot ask
    /// a printer say so.
    fn identify(&mut self) -> Identity {
        let status = self.status();
        let why = "this transport has no printer to ask";
        Identity::not_asked(self.describe(), status, false, why)
    }

    /// Get ready for a receipt expected soon (a checkout's, while WeChat Pay places its
    /// order): transports that can open their link and ask the printer's status do it now,
    /// so the receipt goes out without asking. How long that stays good; `None` when
    /// nothing is held ([`Printer::let_go`] is then not called).
    fn prepare(&mut self) -> Option<Duration> {
        None
    }

    /// The receipt expected by [`Printer::prepare`] did not come in time: let go of what it
    /// holds (a TCP printer's one connection).
    fn let_go(&mut self) {}

    /// [`Printer::write_job`] once `gate` opens ([`PrinterError::Withheld`] if it is shut,
    /// nothing sent). Transports that can do something useful meanwhile (open the link,
    /// ask the printer's status) do it before waiting at the gate.
    fn write_job_gated(
        &mut self,
        name: &str,
        bytes: &[u8],
        gate: Gate,
    ) -> Result<Printout, PrinterError> {
        if !gate.wait() {
            return Err(PrinterError::Withheld);
        }
        self.write_job(name, bytes)
    }
}

/// A job's bytes, or how to make them.
pub enum JobBytes {
    /// Made already.
    Ready(Vec<u8>),
    /// Made on the printer thread when the job is reached: a receipt queued behind a shut
    /// gate is rendered there while the job's thread waits for the disk, not before.
    Render(Box<dyn FnOnce() -> Vec<u8> + Send>),
}

impl JobBytes {
    fn into_bytes(self) -> Vec<u8> {
        match self {
            JobBytes::Ready(bytes) => bytes,
            JobBytes::Render(render) => render(),
        }
    }
}

/// A request to the printer thread.
enum Command {
    Print {
        name: String,
        bytes: JobBytes,
        gate: Gate,
        reply: oneshot::Sender<Result<Printout, PrinterError>>,
    },
    Prepare,
    Status {
        reply: oneshot::Sender<PrinterStatus>,
    },
    Identify {
        reply: oneshot::Sender<Identity>,
    },
}

/// A job queued on the printer thread ([`PrinterHandle::queue`]).
pub struct Queued(Option<oneshot::Receiver<Result<Printout, PrinterError>>>);

impl Queued {
    /// Wait until the job is written (or refused).
    pub async fn written(self) -> Result<Printout, PrinterError> {
        let answer = self.0.ok_or(PrinterError::Stopped)?;
        answer.await.map_err(|_| PrinterError::Stopped)?
    }
}

/// The async side's handle on the printer thread. Cheap to clone; the thread ends when
/// the last handle is dropped, after finishing the job it is writing.
#[derive(Clone, Debug)]
pub struct PrinterHandle {
    tx: mpsc::Sender<Command>,
    description: std::sync::Arc<str>,
}

impl PrinterHandle {
    /// Start the printer thread for `printer`.
    pub fn spawn(printer: Box<dyn Printer>) -> PrinterHandle {
        let description: std::sync::Arc<str> = printer.describe().into();
        let (tx, rx) = mpsc::channel::<Command>();
        std::thread::Builder::new()
            .name("wxprint-printer".into())
            .spawn(move || serve(printer, &rx))
            .expect("spawn the printer thread");
        PrinterHandle { tx, description }
    }

    /// The transport, as [`Printer::describe`] put it.
    pub fn describe(&self) -> &str {
        &self.description
    }

    /// A receipt is expected soon: let the printer get ready for it ([`Printer::prepare`]),
    /// queued like a job. Nothing waits for it.
    pub fn prepare(&self) {
        let _ = self.tx.send(Command::Prepare);
    }

    /// Queue one job and wait until it is written.
    pub async fn print(&self, name: &str, bytes: Vec<u8>) -> Result<Printout, PrinterError> {
        self.queue(name, JobBytes::Ready(bytes), Gate::open())
            .written()
            .await
    }

    /// Queue one job behind `gate` now; [`Queued::written`] waits for the outcome.
    pub fn queue(&self, name: &str, bytes: JobBytes, gate: Gate) -> Queued {
        let (reply, answer) = oneshot::channel();
        let sent = self.tx.send(Command::Print {
            name: name.to_owned(),
            bytes,
            gate,
            reply,
        });
        Queued(sent.is_ok().then_some(answer))
    }

    /// Ask the printer who it is ([`Printer::identify`]), queued like a job; `None` when
    /// the printer thread has stopped.
    pub async fn identify(&self) -> Option<Identity> {
        let (reply, answer) = oneshot::channel();
        self.tx.send(Command::Identify { reply }).ok()?;
        answer.await.ok()
    }

    /// Ask the transport for its live status.
    pub async fn status(&self) -> PrinterStatus {
        let (reply, answer) = oneshot::channel();
        let stopped = || status::unreachable(PrinterError::Stopped.to_string(), None);
        if self.tx.send(Command::Status { reply }).is_err() {
            return stopped();
        }
        answer.await.unwrap_or_else(|_| stopped())
    }
}

/// The printer thread: one command at a time, in order, until the last handle is gone.
/// What a `Prepare` holds is let go when no job has come for it in time.
fn serve(mut printer: Box<dyn Printer>, rx: &mpsc::Receiver<Command>) {
    let mut held_until: Option<std::time::Instant> = None;
    loop {
        let command = match held_until {
            None => rx.recv().map_err(|_| mpsc::RecvTimeoutError::Disconnected),
            Some(until) => {
                rx.recv_timeout(until.saturating_duration_since(std::time::Instant::now()))
            }
        };
        let command = match command {
            Ok(command) => command,
            Err(mpsc::RecvTimeoutError::Timeout) => {
                printer.let_go();
                held_until = None;
                continue;
            }
            Err(mpsc::RecvTimeoutError::Disconnected) => return,
        };
        held_until = None;
        match command {
            Command::Prepare => {
                held_until = printer.prepare().map(|d| std::time::Instant::now() + d);
            }
            Command::Print {
                name,
                bytes,
                gate,
                reply,
            } => {
                let written = printer.write_job_gated(&name, &bytes.into_bytes(), gate);
                tell_metrics(&written);
                let _ = reply.send(written);
            }
            Command::Status { reply } => {
                let status = printer.status();
                crate::metrics::printer_status(&status);
                let _ = reply.send(status);
            }
            Command::Identify { reply } => {
                let _ = reply.send(printer.identify());
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::protocol::Paper;

    #[test]
    fn a_printer_error_tells_the_printer_state() {
        let io = PrinterError::Io {
            target: "/dev/usb/lp0".into(),
            message: "No such device".into(),
        };
        let unreachable = PrinterStatus {
            online: Some(false),
            paper: Paper::Unknown,
            cover_open: None,
            error: Some("cannot write to /dev/usb/lp0: No such device".into()),
            transport: Some("usb /dev/usb/lp0".into()),
            drawer: crate::protocol::DrawerState::Unknown,
        };
        assert_eq!(io.into_status("usb /dev/usb/lp0"), unreachable);
        let out = PrinterStatus {
            paper: Paper::Out,
            error: Some("paper out".into()),
            ..unreachable
        };
        assert_eq!(PrinterError::NotReady(out.clone()).into_status("x"), out);
    }

    /// Logs what the printer thread asks of it; holds a prepared state for 30 ms.
    struct Recording(std::sync::Arc<std::sync::Mutex<Vec<&'static str>>>);

    impl Printer for Recording {
        fn describe(&self) -> String {
            "recording".into()
        }
        fn write_job(&mut self, _: &str, _: &[u8]) -> Result<Printout, PrinterError> {
            self.0.lock().unwrap().push("print");
            Ok(Printout::default())
        }
        fn status(&mut self) -> PrinterStatus {
            unreachable!("not asked here")
        }
        fn prepare(&mut self) -> Option<Duration> {
            self.0.lock().unwrap().push("prepare");
            Some(Duration::from_millis(30))
        }
        fn let_go(&mut self) {
            self.0.lock().unwrap().push("let go");
        }
    }

    #[tokio::test]
    async fn the_printer_thread_lets_go_of_a_prepared_printer_only_when_no_job_came() {
        let log = std::sync::Arc::default();
        let handle = PrinterHandle::spawn(Box::new(Recording(std::sync::Arc::clone(&log))));
        handle.prepare();
        handle.print("T1", b"x".to_vec()).await.unwrap();
        tokio::time::sleep(Duration::from_millis(100)).await;
        assert_eq!(
            *log.lock().unwrap(),
            ["prepare", "print"],
            "the job came in time"
        );
        handle.prepare();
        let deadline = std::time::Instant::now() + Duration::from_secs(10);
        while log.lock().unwrap().len() < 4 && std::time::Instant::now() < deadline {
            tokio::time::sleep(Duration::from_millis(5)).await;
        }
        assert_eq!(
            *log.lock().unwrap(),
            ["prepare", "print", "prepare", "let go"]
        );
    }
}

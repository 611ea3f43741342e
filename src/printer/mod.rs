//! Printer transports behind one [`Printer`] trait, driven from a dedicated thread.
//!
//! Printer I/O is blocking by nature (serial ports, the usblp device, a stalled TCP
//! printer), so every transport is a plain blocking object owned by one thread, and the
//! async side talks to it through a [`PrinterHandle`]. The thread's queue is also what keeps
//! receipts from interleaving when several jobs print at once.
//!
//! Transports: `file` (one `.bin` file of ESC/POS bytes per receipt, written atomically,
//! for development), and in [`link`] `serial`, `usb` (the kernel usblp device) and `tcp`
//! (port 9100), which also speak the ESC/POS status protocol.

use std::io::Write;
use std::path::{Path, PathBuf};
use std::sync::mpsc;

use tokio::sync::oneshot;

use crate::config::{PrinterSettings, Transport};
use crate::protocol::PrinterStatus;

pub mod discover;
pub mod link;
pub mod profile;

/// What went wrong talking to the printer.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum PrinterError {
    #[error("cannot write to {target}: {message}")]
    Io { target: String, message: String },
    /// The printer says it cannot print now (paper out, cover open, offline): nothing was
    /// sent; try again when it is back.
    #[error("the printer is not ready: {}", .0.error.as_deref().unwrap_or("not ready"))]
    NotReady(PrinterStatus),
    #[error("the printer thread has stopped")]
    Stopped,
}

/// The transport the settings describe.
pub fn open(settings: &PrinterSettings) -> Box<dyn Printer> {
    match settings.transport {
        Transport::File => Box::new(FilePrinter::new(&settings.device)),
        Transport::Serial => Box::new(link::LinkPrinter::new(link::Serial {
            device: settings.device.clone(),
            baud_rate: settings.baud_rate,
            flow_control: settings.flow_control,
        })),
        Transport::Usb => Box::new(link::LinkPrinter::new(link::Usb {
            device: settings.device.clone(),
            write_timeout: std::time::Duration::from_secs(30),
        })),
        Transport::Tcp => Box::new(link::LinkPrinter::new(link::Tcp {
            address: settings.address.clone(),
            timeout: std::time::Duration::from_secs(5),
        })),
    }
}

/// A blocking printer transport. Runs on the printer thread only.
pub trait Printer: Send + 'static {
    /// `file ./receipts`, `serial /dev/ttyUSB0 9600 8N1`…: for logs and the `printer` op.
    fn describe(&self) -> String;

    /// Write one complete job. `name` identifies it (the order number, `test-page`); the
    /// answer says where it went when the transport can tell (a file name).
    fn write_job(&mut self, name: &str, bytes: &[u8]) -> Result<Option<String>, PrinterError>;

    /// Live status, as far as the transport can know it.
    fn status(&mut self) -> PrinterStatus;
}

/// The `file` transport: one file per job in a directory, written to a temporary name and
/// renamed, so a reader never sees half a receipt.
#[derive(Debug)]
pub struct FilePrinter {
    dir: PathBuf,
    seq: u64,
}

impl FilePrinter {
    pub fn new(dir: impl Into<PathBuf>) -> FilePrinter {
        FilePrinter {
            dir: dir.into(),
            seq: 0,
        }
    }

    fn io_err(&self, e: std::io::Error) -> PrinterError {
        PrinterError::Io {
            target: self.dir.display().to_string(),
            message: e.to_string(),
        }
    }

    fn file_name(&mut self, name: &str) -> PathBuf {
        // Time first so that `ls` lists receipts in print order; a counter keeps two
        // receipts of the same second (a quick reprint) apart.
        let stamp = crate::clock::receipt_time(crate::clock::now_ms())
            .replace([':', '-'], "")
            .replace(' ', "-");
        loop {
            self.seq += 1;
            let candidate = self.dir.join(format!("{stamp}-{name}-{}.bin", self.seq));
            if !candidate.exists() {
                return candidate;
            }
        }
    }
}

impl Printer for FilePrinter {
    fn describe(&self) -> String {
        format!("file {}", self.dir.display())
    }

    fn write_job(&mut self, name: &str, bytes: &[u8]) -> Result<Option<String>, PrinterError> {
        std::fs::create_dir_all(&self.dir).map_err(|e| self.io_err(e))?;
        let path = self.file_name(name);
        let tmp = self.dir.join(format!(".{name}.tmp"));
        let result = std::fs::File::create(&tmp)
            .and_then(|mut f| f.write_all(bytes))
            .and_then(|()| std::fs::rename(&tmp, &path));
        if let Err(e) = result {
            let _ = std::fs::remove_file(&tmp);
            return Err(self.io_err(e));
        }
        Ok(Some(path.display().to_string()))
    }

    fn status(&mut self) -> PrinterStatus {
        let writable = writable_dir(&self.dir);
        PrinterStatus {
            online: None,
            paper: "ok".into(),
            cover_open: None,
            error: writable.err(),
            transport: Some(self.describe()),
        }
    }
}

/// Whether `dir` exists (or can be created) and is a directory.
fn writable_dir(dir: &Path) -> Result<(), String> {
    std::fs::create_dir_all(dir)
        .map_err(|e| format!("cannot create receipt directory {}: {e}", dir.display()))?;
    let meta = std::fs::metadata(dir).map_err(|e| e.to_string())?;
    if meta.permissions().readonly() {
        return Err(format!("receipt directory {} is read-only", dir.display()));
    }
    Ok(())
}

enum Command {
    Print {
        name: String,
        bytes: Vec<u8>,
        reply: oneshot::Sender<Result<Option<String>, PrinterError>>,
    },
    Status {
        reply: oneshot::Sender<PrinterStatus>,
    },
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
    pub fn spawn(mut printer: Box<dyn Printer>) -> PrinterHandle {
        let description: std::sync::Arc<str> = printer.describe().into();
        let (tx, rx) = mpsc::channel::<Command>();
        std::thread::Builder::new()
            .name("wxprint-printer".into())
            .spawn(move || {
                for command in rx {
                    match command {
                        Command::Print { name, bytes, reply } => {
                            let _ = reply.send(printer.write_job(&name, &bytes));
                        }
                        Command::Status { reply } => {
                            let _ = reply.send(printer.status());
                        }
                    }
                }
            })
            .expect("spawn the printer thread");
        PrinterHandle { tx, description }
    }

    /// The transport, as [`Printer::describe`] put it.
    pub fn describe(&self) -> &str {
        &self.description
    }

    /// Queue one job and wait until it is written.
    pub async fn print(&self, name: &str, bytes: Vec<u8>) -> Result<Option<String>, PrinterError> {
        let (reply, answer) = oneshot::channel();
        self.tx
            .send(Command::Print {
                name: name.to_owned(),
                bytes,
                reply,
            })
            .map_err(|_| PrinterError::Stopped)?;
        answer.await.map_err(|_| PrinterError::Stopped)?
    }

    /// Ask the transport for its live status.
    pub async fn status(&self) -> PrinterStatus {
        let (reply, answer) = oneshot::channel();
        let stopped = || PrinterStatus {
            online: Some(false),
            paper: "unknown".into(),
            cover_open: None,
            error: Some(PrinterError::Stopped.to_string()),
            transport: None,
        };
        if self.tx.send(Command::Status { reply }).is_err() {
            return stopped();
        }
        answer.await.unwrap_or_else(|_| stopped())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test]
    async fn file_printer_writes_one_file_per_job() {
        let dir = tempfile::tempdir().unwrap();
        let handle = PrinterHandle::spawn(Box::new(FilePrinter::new(dir.path().join("r"))));
        let a = handle
            .print("T0000001", b"\x1b@one".to_vec())
            .await
            .unwrap()
            .unwrap();
        let b = handle
            .print("T0000001", b"\x1b@two".to_vec())
            .await
            .unwrap()
            .unwrap();
        assert_ne!(a, b);
        assert!(a.ends_with(".bin") && a.contains("T0000001"));
        assert_eq!(std::fs::read(&a).unwrap(), b"\x1b@one");
        assert_eq!(std::fs::read(&b).unwrap(), b"\x1b@two");
        let names: Vec<_> = std::fs::read_dir(dir.path().join("r")).unwrap().collect();
        assert_eq!(names.len(), 2, "no temporary files left behind");
        let status = handle.status().await;
        assert_eq!(status.online, None);
        assert_eq!(status.error, None);
    }

    #[tokio::test]
    async fn unwritable_directory_is_an_error() {
        let dir = tempfile::tempdir().unwrap();
        let blocker = dir.path().join("not-a-dir");
        std::fs::write(&blocker, b"").unwrap();
        let handle = PrinterHandle::spawn(Box::new(FilePrinter::new(&blocker)));
        let e = handle.print("T0000001", vec![1]).await.unwrap_err();
        assert!(matches!(e, PrinterError::Io { .. }), "{e}");
        assert!(handle.status().await.error.is_some());
    }
}

//! The `file` transport, for development: one `.bin` file of ESC/POS bytes per receipt in a
//! directory, written to a temporary name and renamed, so a reader never sees half a receipt.
//!
//! There is no printer to ask, so its status only says whether the directory is writable,
//! and its print result never says whether a printer confirmed the job.

use std::io::Write;
use std::path::{Path, PathBuf};

use super::{Printer, PrinterError, Printout, status};
use crate::protocol::PrinterStatus;

/// The `file` transport: one file per job in a directory, written to a temporary name and
/// renamed, so a reader never sees half a receipt.
#[derive(Debug)]
pub struct FilePrinter {
    dir: PathBuf,
    seq: u64,
}

impl FilePrinter {
    /// Receipts go to `dir`, created when the first one is written.
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

    fn write_job(&mut self, name: &str, bytes: &[u8]) -> Result<Printout, PrinterError> {
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
        // No printer to ask: written is all it can tell.
        Ok(Printout {
            location: Some(path.display().to_string()),
            confirmed: None,
        })
    }

    fn status(&mut self) -> PrinterStatus {
        let writable = writable_dir(&self.dir);
        status::unasked(writable.err(), self.describe())
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

#[cfg(test)]
mod tests {
    use super::*;
    use crate::printer::PrinterHandle;

    #[tokio::test]
    async fn file_printer_writes_one_file_per_job() {
        let dir = tempfile::tempdir().unwrap();
        let handle = PrinterHandle::spawn(Box::new(FilePrinter::new(dir.path().join("r"))));
        let one = handle
            .print("T0000001", b"\x1b@one".to_vec())
            .await
            .unwrap();
        assert_eq!(one.confirmed, None, "no printer to confirm");
        let a = one.location.unwrap();
        let b = handle
            .print("T0000001", b"\x1b@two".to_vec())
            .await
            .unwrap()
            .location
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

//! The textfile for node_exporter's textfile collector, replaced atomically: the text goes
//! to a temporary file in the same directory (same filesystem, and a name not ending in
//! `.prom`, so the collector never reads it half-written), made readable by all (0644:
//! node_exporter runs as another user), then renamed over the textfile.
//!
//! No `fsync`: the file is rewritten every few seconds, a register's storage is often flash,
//! and a power cut costs at most one stale or empty file until the next write.

use std::fs::{self, OpenOptions, Permissions};
use std::io::{self, Write as _};
use std::os::unix::fs::{OpenOptionsExt as _, PermissionsExt as _};
use std::path::{Path, PathBuf};

/// The textfile's mode: node_exporter must read it.
const MODE: u32 = 0o644;

/// Replace `path` with `text` atomically.
pub(super) fn write(path: &Path, text: &str) -> io::Result<()> {
    let temp = temp_path(path);
    let written = (|| {
        let mut file = OpenOptions::new()
            .write(true)
            .create(true)
            .truncate(true)
            .mode(MODE)
            .open(&temp)?;
        file.write_all(text.as_bytes())?;
        // The umask (systemd's UMask=) may have taken bits away.
        file.set_permissions(Permissions::from_mode(MODE))?;
        fs::rename(&temp, path)
    })();
    if written.is_err() {
        let _ = fs::remove_file(&temp);
    }
    written
}

/// `dir/.wxprint.prom.<pid>.tmp` for `dir/wxprint.prom`.
fn temp_path(path: &Path) -> PathBuf {
    let name = path
        .file_name()
        .map_or_else(|| "metrics".into(), |n| n.to_string_lossy().into_owned());
    path.with_file_name(format!(".{name}.{}.tmp", std::process::id()))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_textfile_is_replaced_whole_readable_by_all_and_no_temporary_file_stays() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("wxprint.prom");
        write(&path, "a 1\n").unwrap();
        write(&path, "a 2\n").unwrap();
        assert_eq!(fs::read_to_string(&path).unwrap(), "a 2\n");
        let mode = fs::metadata(&path).unwrap().permissions().mode() & 0o777;
        assert_eq!(mode, 0o644);
        let names: Vec<_> = fs::read_dir(dir.path())
            .unwrap()
            .map(|e| e.unwrap().file_name())
            .collect();
        assert_eq!(names, ["wxprint.prom"]);
        assert!(!temp_path(&path).to_string_lossy().ends_with(".prom"));
    }

    #[test]
    fn a_missing_directory_is_an_error_and_leaves_nothing() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("absent").join("wxprint.prom");
        let err = write(&path, "a 1\n").unwrap_err();
        assert_eq!(err.kind(), io::ErrorKind::NotFound);
        assert!(!path.exists());
    }
}

//! The group commit: one background thread that makes the journal's *grouped* writes
//! durable together, one `fdatasync` of the WAL file for all the writes of a short window,
//! off the daemon's thread.
//!
//! A grouped write is an ordinary SQLite commit made with `synchronous=NORMAL`: it is in
//! the WAL (readable, ordered, atomic) but not yet forced to the disk. Syncing the WAL file
//! makes every commit in it durable — also what the next `synchronous=FULL` commit does,
//! so a durable write carries the grouped ones before it, and the thread then skips its
//! own sync ([`GroupCommit::carried`]). Knows files and timing, not records.

use std::path::PathBuf;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Condvar, Mutex};
use std::thread::JoinHandle;
use std::time::Duration;

use tracing::error;

/// How long a grouped write may wait for its sync: what a power cut can take back.
pub const WINDOW: Duration = Duration::from_millis(50);

#[derive(Default)]
struct Flags {
    /// Grouped writes not yet synced.
    dirty: bool,
    stop: bool,
}

#[derive(Default)]
struct Inner {
    flags: Mutex<Flags>,
    changed: Condvar,
    /// How many syncs the thread made (tests count them).
    syncs: AtomicU64,
}

/// The handle of the group-commit thread; dropping it syncs what is left and stops it.
pub(crate) struct GroupCommit {
    inner: Arc<Inner>,
    thread: Option<JoinHandle<()>>,
}

impl GroupCommit {
    /// Start the thread that syncs `wal` (the journal's `-wal` file) after grouped writes.
    pub(crate) fn start(wal: PathBuf) -> std::io::Result<GroupCommit> {
        let inner = Arc::new(Inner::default());
        let thread = {
            let inner = inner.clone();
            std::thread::Builder::new()
                .name("wxprint-journal-sync".into())
                .spawn(move || run(&inner, &wal))?
        };
        Ok(GroupCommit {
            inner,
            thread: Some(thread),
        })
    }

    /// A grouped write was committed: sync it within [`WINDOW`].
    pub(crate) fn written(&self) {
        let mut flags = self.lock();
        if !flags.dirty {
            flags.dirty = true;
            self.inner.changed.notify_all();
        }
    }

    /// A durable write was committed: its sync carried every grouped write before it, so
    /// the thread has nothing to sync for them (a second sync racing the next checkout's
    /// own would only lengthen it).
    pub(crate) fn carried(&self) {
        let mut flags = self.lock();
        if flags.dirty {
            flags.dirty = false;
            self.inner.changed.notify_all();
        }
    }

    /// How many syncs the thread has made.
    #[cfg(test)]
    pub(crate) fn syncs(&self) -> u64 {
        self.inner.syncs.load(Ordering::SeqCst)
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, Flags> {
        self.inner.flags.lock().unwrap_or_else(|p| p.into_inner())
    }
}

impl Drop for GroupCommit {
    fn drop(&mut self) {
        self.lock().stop = true;
        self.inner.changed.notify_all();
        if let Some(thread) = self.thread.take() {
            let _ = thread.join();
        }
    }
}

/// Wait for a grouped write, let the window gather more, sync once; until stopped (then
/// one last sync if anything is left).
fn run(inner: &Inner, wal: &std::path::Path) {
    let lock = || inner.flags.lock().unwrap_or_else(|p| p.into_inner());
    loop {
        let mut flags = lock();
        while !flags.dirty && !flags.stop {
            flags = inner.changed.wait(flags).unwrap_or_else(|p| p.into_inner());
        }
        if !flags.dirty {
            return; // stopped, nothing left
        }
        if !flags.stop {
            // Gather the window's other writes (a stop cuts it short, a durable write
            // makes it needless).
            flags = inner
                .changed
                .wait_timeout_while(flags, WINDOW, |f| f.dirty && !f.stop)
                .unwrap_or_else(|p| p.into_inner())
                .0;
            if !flags.dirty {
                if flags.stop {
                    return;
                }
                continue; // carried by a durable write meanwhile
            }
        }
        flags.dirty = false;
        let stop = flags.stop;
        drop(flags);
        if let Err(e) = sync(wal) {
            error!(wal = %wal.display(), error = %e, "journal group sync failed; the next durable write syncs it");
        }
        inner.syncs.fetch_add(1, Ordering::SeqCst);
        if stop {
            return;
        }
    }
}

/// `fdatasync` the WAL file (opened by path: SQLite keeps its own descriptor private).
fn sync(wal: &std::path::Path) -> std::io::Result<()> {
    match std::fs::File::open(wal) {
        Ok(file) => file.sync_data(),
        // No WAL (yet, or checkpointed away on shutdown): nothing unsynced.
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => Ok(()),
        Err(e) => Err(e),
    }
}

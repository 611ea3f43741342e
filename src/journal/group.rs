//! The group commit: one background thread that makes the journal's *grouped* writes
//! durable together, one `fdatasync` of the WAL file for all the writes of a short window,
//! off the daemon's thread.
//!
//! A grouped write is an ordinary SQLite commit made with `synchronous=NORMAL`: it is in
//! the WAL (readable, ordered, atomic) but not yet forced to the disk. Syncing the WAL file
//! makes every commit in it durable — also what the next `synchronous=FULL` commit does,
//! so a durable write carries the grouped ones before it, and the thread then skips its
//! own sync ([`GroupCommit::carried`]). Knows files and timing, not records.
//!
//! The same thread folds the WAL into the main file (a *checkpoint*) once a commit leaves
//! it [`CHECKPOINT_PAGES`] long. SQLite would otherwise do that inside the commit that
//! crossed the mark — on the daemon's thread, in some checkout's path, with two more
//! syncs (issue 12: the daemon's own time at p99). Here it is a `PASSIVE` checkpoint on the
//! thread's own connection: it never blocks a writer, and the next writer starts the WAL
//! over once it has been folded in whole. Writes that never pause long enough for that
//! (thousands in a row) would grow the WAL without end; past [`FORCE_PAGES`] the writer
//! folds it in itself between two of its commits, as SQLite would, and it starts over.

use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Condvar, Mutex, MutexGuard};
use std::thread::JoinHandle;
use std::time::Duration;

use rusqlite::Connection;
use rusqlite::config::DbConfig;
use rusqlite::hooks::Wal;
use rusqlite::wal::CheckpointMode;
use tracing::{debug, error};

/// How long a grouped write may wait for its sync: what a power cut can take back.
pub const WINDOW: Duration = Duration::from_millis(50);

/// WAL pages after which the thread checkpoints: SQLite's own `wal_autocheckpoint` mark
/// (about 4 MiB), moved off the daemon's thread.
pub(crate) const CHECKPOINT_PAGES: i32 = 1000;

/// WAL pages (about 16 MiB) at which a commit checkpoints in line after all: the thread's
/// checkpoints have not caught up with the writes.
pub(crate) const FORCE_PAGES: i32 = 4 * CHECKPOINT_PAGES;

#[derive(Default)]
struct Flags {
    /// Grouped writes not yet synced.
    dirty: bool,
    /// The WAL has grown past [`CHECKPOINT_PAGES`].
    checkpoint: bool,
    stop: bool,
}

#[derive(Default)]
struct Inner {
    flags: Mutex<Flags>,
    changed: Condvar,
    /// How many syncs the thread made (tests count them).
    syncs: AtomicU64,
    /// How many checkpoints it ran (tests count them).
    checkpoints: AtomicU64,
    /// Held by whoever checkpoints (this thread, a forced commit, the shutdown's): two at
    /// once would make the second fail as busy.
    folding: Mutex<()>,
}

/// The handle of the group-commit thread; dropping it syncs what is left and stops it.
pub(crate) struct GroupCommit {
    inner: Arc<Inner>,
    thread: Option<JoinHandle<()>>,
}

impl GroupCommit {
    /// Start the thread that syncs the WAL of the database `db` after grouped writes and
    /// checkpoints it when it has grown.
    pub(crate) fn start(db: PathBuf) -> std::io::Result<GroupCommit> {
        let inner = Arc::new(Inner::default());
        let thread = {
            let inner = inner.clone();
            std::thread::Builder::new()
                .name("wxprint-journal-sync".into())
                .spawn(move || run(&inner, &db))?
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
    /// own would only lengthen it). The thread is not woken for that: it finds nothing to
    /// do when its window ends.
    pub(crate) fn carried(&self) {
        self.lock().dirty = false;
    }

    /// The journal's connection's `wal_hook`, called after each commit with the WAL's
    /// length in pages (installing it also turns SQLite's own checkpoints off): past
    /// [`CHECKPOINT_PAGES`] the thread is asked to checkpoint; past [`FORCE_PAGES`] the
    /// commit checkpoints itself.
    pub(crate) fn on_commit(
        &self,
    ) -> impl FnMut(&mut Wal, i32) -> rusqlite::Result<()> + Send + 'static {
        let inner = self.inner.clone();
        move |wal, pages| {
            if pages >= FORCE_PAGES {
                // The commit is done: a failed checkpoint must not make it look failed.
                let _folding = inner.folding();
                match wal.checkpoint_v2(CheckpointMode::PASSIVE) {
                    Ok((_, folded)) => debug!(
                        pages,
                        folded, "journal checkpointed in a commit (the WAL outgrew the thread's)"
                    ),
                    Err(e) => {
                        error!(pages, error = %e, "journal checkpoint in a commit failed (the WAL outgrew the background's); it keeps growing until the next one")
                    }
                }
            } else if pages >= CHECKPOINT_PAGES {
                let mut flags = inner.flags.lock().unwrap_or_else(|p| p.into_inner());
                if !flags.checkpoint {
                    flags.checkpoint = true;
                    inner.changed.notify_all();
                }
            }
            Ok(())
        }
    }

    /// Hold off the thread's checkpoints (for one of the journal's own) while the guard lives.
    pub(crate) fn folding(&self) -> MutexGuard<'_, ()> {
        self.inner.folding()
    }

    /// How many syncs the thread has made.
    #[cfg(test)]
    pub(crate) fn syncs(&self) -> u64 {
        self.inner.syncs.load(Ordering::SeqCst)
    }

    /// How many checkpoints the thread has run.
    #[cfg(test)]
    pub(crate) fn checkpoints(&self) -> u64 {
        self.inner.checkpoints.load(Ordering::SeqCst)
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, Flags> {
        self.inner.flags.lock().unwrap_or_else(|p| p.into_inner())
    }
}

impl Inner {
    fn folding(&self) -> MutexGuard<'_, ()> {
        self.folding.lock().unwrap_or_else(|p| p.into_inner())
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

/// Wait for a grouped write, let the window gather more, sync once; checkpoint when
/// asked; until stopped (then one last sync if anything is left).
fn run(inner: &Inner, db: &Path) {
    let mut wal = db.as_os_str().to_owned();
    wal.push("-wal");
    let wal = PathBuf::from(wal);
    let mut checkpointer = None;
    let lock = || inner.flags.lock().unwrap_or_else(|p| p.into_inner());
    loop {
        let mut flags = lock();
        while !flags.dirty && !flags.checkpoint && !flags.stop {
            flags = inner.changed.wait(flags).unwrap_or_else(|p| p.into_inner());
        }
        if flags.checkpoint && !flags.stop {
            flags.checkpoint = false;
            drop(flags);
            let folding = inner.folding();
            checkpoint(&mut checkpointer, db);
            drop(folding);
            inner.checkpoints.fetch_add(1, Ordering::SeqCst);
            continue;
        }
        if !flags.dirty {
            return; // stopped, nothing left (the shutdown checkpoints on its own)
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
        if let Err(e) = sync(&wal) {
            error!(wal = %wal.display(), error = %e, "journal group sync failed; the next durable write syncs it");
        }
        inner.syncs.fetch_add(1, Ordering::SeqCst);
        if stop {
            return;
        }
    }
}

/// Fold the WAL into `db` as far as no reader prevents it, on this thread's own connection
/// (opened at the first checkpoint). A failure is logged: the WAL only grows until the next
/// checkpoint or the shutdown's.
fn checkpoint(conn: &mut Option<Connection>, db: &Path) {
    let result = match conn {
        Some(c) => passive_checkpoint(c),
        None => open_checkpointer(db).and_then(|c| passive_checkpoint(conn.insert(c))),
    };
    match result {
        Ok((busy, log, folded)) => {
            debug!(busy, log, folded, "journal checkpointed in the background");
        }
        Err(e) => {
            error!(journal = %db.display(), error = %e, "journal background checkpoint failed; the WAL keeps growing until the next one");
        }
    }
}

/// A connection that only checkpoints. Closing it must not checkpoint or remove the WAL
/// (that is the daemon's shutdown's call, and a journal dropped without it must keep its
/// WAL as after a crash).
fn open_checkpointer(db: &Path) -> rusqlite::Result<Connection> {
    let conn = Connection::open(db)?;
    conn.set_db_config(DbConfig::SQLITE_DBCONFIG_NO_CKPT_ON_CLOSE, true)?;
    Ok(conn)
}

/// `PRAGMA wal_checkpoint(PASSIVE)`: (busy, pages in the WAL, pages folded in).
fn passive_checkpoint(conn: &Connection) -> rusqlite::Result<(i64, i64, i64)> {
    conn.query_row("PRAGMA wal_checkpoint(PASSIVE)", [], |r| {
        Ok((r.get(0)?, r.get(1)?, r.get(2)?))
    })
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

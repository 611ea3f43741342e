//! Durable job records in SQLite (`journal.sqlite` under `state_dir`).
//!
//! WAL mode with `synchronous=FULL`: when [`Journal::insert`] or [`Journal::update`]
//! returns, the record is on disk and survives a power cut. [`Journal::update_grouped`]
//! is for changes whose loss in a power cut costs nothing but a repeat (a receipt printed
//! again): committed at once, made durable by the group commit (`group.rs`) within
//! [`GROUP_WINDOW`], one `fdatasync` for all of them, off the caller's thread. The `jobs`
//! module commits every state change here *before* it tells anyone about it, and decides
//! which changes may be grouped. The journal stores records; it knows no business rules.
//!
//! - this file: the [`Journal`] — open, insert, update, get, the unfinished jobs, checkpoint;
//! - `record.rs`: [`JobRecord`], what one job is;
//! - `schema.rs`: the table, versioned with `PRAGMA user_version`; [`Journal::open`]
//!   migrates older files forward and refuses files from a newer wxprint;
//! - `group.rs`: the group commit, a thread that syncs the WAL after grouped writes;
//! - `wal.rs`: the WAL file kept at its size between runs, so commits write over it;
//! - `refunds.rs`: [`RefundRecord`], one refund of a paid order, and its table (schema 4);
//! - `slips.rs`: [`SlipRecord`], a payment or refund slip still to print, and its table
//!   (schema 5);
//! - `codec.rs`: how a record is spelled in a row — the journal's own spellings, so that
//!   renaming a wire value never makes an old journal unreadable.

mod codec;
mod group;
mod prune;
mod record;
mod refunds;
mod schema;
mod slips;
mod wal;

use std::path::{Path, PathBuf};

use rusqlite::{Connection, OptionalExtension};

use crate::protocol::JobState;

pub use group::WINDOW as GROUP_WINDOW;
pub use record::JobRecord;
pub use refunds::RefundRecord;
pub use schema::SCHEMA_VERSION;
pub use slips::SlipRecord;

/// File name of the journal inside `state_dir`.
pub const FILE_NAME: &str = "journal.sqlite";

/// Why the journal could not be opened, read or written.
#[derive(Debug, thiserror::Error)]
pub enum JournalError {
    /// `daemon.state_dir` does not exist and could not be created (permissions, a file in
    /// the way, a read-only file system).
    #[error(
        "cannot create state directory {path}: {source}; check `daemon.state_dir` and its permissions"
    )]
    CreateDir {
        /// The state directory.
        path: PathBuf,
        /// The operating system's reason.
        source: std::io::Error,
    },
    /// SQLite could not open, migrate, read or write the journal (permissions, a full
    /// disk, a file that is not a database, another process holding the lock).
    #[error("journal {path}: {source}")]
    Sqlite {
        /// The journal file, `journal.sqlite` under the state directory.
        path: PathBuf,
        /// SQLite's error.
        source: rusqlite::Error,
    },
    /// The journal was written by a newer wxprint whose schema this one does not know:
    /// upgrade wxprint, or move the file away to start an empty journal.
    #[error(
        "journal {path} has schema version {found}, newer than this wxprint understands ({SCHEMA_VERSION}); upgrade wxprint or move the file away"
    )]
    TooNew {
        /// The journal file.
        path: PathBuf,
        /// Its `PRAGMA user_version`, greater than [`SCHEMA_VERSION`].
        found: i64,
    },
    /// The group-commit thread could not be started (the system is out of threads or
    /// memory).
    #[error(
        "cannot start the journal's sync thread: {source}; the system is out of threads or memory"
    )]
    Thread {
        /// The operating system's reason.
        source: std::io::Error,
    },
    /// A stored row is not a record: its state, print state, close reason or error is not
    /// one this wxprint can read.
    #[error("journal {path}: corrupt record {out_trade_no}: {what}")]
    Corrupt {
        /// The journal file.
        path: PathBuf,
        /// The row's order number.
        out_trade_no: String,
        /// The column at fault and its value, e.g. `state "frobbed"`.
        what: String,
    },
}

/// SQLite's page cache for the journal, in KiB (negative `cache_size`): enough for the
/// table's inner pages and the rows being written.
const CACHE_KIB: i64 = 256;

/// The open journal.
pub struct Journal {
    conn: Connection,
    path: PathBuf,
    group: group::GroupCommit,
}

impl std::fmt::Debug for Journal {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "Journal({})", self.path.display())
    }
}

impl Journal {
    /// Open or create the journal in `state_dir` (created if missing).
    pub fn open(state_dir: &Path) -> Result<Journal, JournalError> {
        std::fs::create_dir_all(state_dir).map_err(|source| JournalError::CreateDir {
            path: state_dir.to_owned(),
            source,
        })?;
        let path = state_dir.join(FILE_NAME);
        let conn = Connection::open(&path).map_err(|source| JournalError::Sqlite {
            path: path.clone(),
            source,
        })?;
        let group = group::GroupCommit::start(path.clone())
            .map_err(|source| JournalError::Thread { source })?;
        let mut journal = Journal { conn, path, group };
        journal.init()?;
        wal::keep(&journal.conn).map_err(|e| journal.err(e))?;
        // Checkpoints move to the group thread: SQLite's own would run inside a commit.
        let on_commit = journal.group.on_commit();
        journal
            .conn
            .wal_hook(Some(on_commit))
            .map_err(|e| journal.err(e))?;
        Ok(journal)
    }

    /// Where the journal lives.
    pub fn path(&self) -> &Path {
        &self.path
    }

    fn err(&self, source: rusqlite::Error) -> JournalError {
        JournalError::Sqlite {
            path: self.path.clone(),
            source,
        }
    }

    /// WAL, durable commits, and a page cache of [`CACHE_KIB`]: the daemon keeps every
    /// open job in memory anyway, so SQLite's default 2 MiB cache (filled by a journal of a
    /// thousand pending orders) only adds to its resident size.
    fn init(&self) -> Result<(), JournalError> {
        self.conn
            .execute_batch(&format!(
                "PRAGMA journal_mode = WAL;
                 PRAGMA synchronous = FULL;
                 PRAGMA busy_timeout = 5000;
                 PRAGMA cache_size = -{CACHE_KIB};"
            ))
            .map_err(|e| self.err(e))?;
        let version = schema::version(&self.conn).map_err(|e| self.err(e))?;
        if version > SCHEMA_VERSION {
            return Err(JournalError::TooNew {
                path: self.path.clone(),
                found: version,
            });
        }
        schema::migrate(&self.conn, version).map_err(|e| self.err(e))
    }

    /// Store a new job. Fails if the number is already stored.
    pub fn insert(&mut self, job: &JobRecord) -> Result<(), JournalError> {
        codec::write_row(&self.conn, codec::Write::Insert, job).map_err(|e| self.err(e))?;
        self.group.carried();
        Ok(())
    }

    /// Replace a job's record with `job`.
    pub fn update(&mut self, job: &JobRecord) -> Result<(), JournalError> {
        codec::write_row(&self.conn, codec::Write::Replace, job).map_err(|e| self.err(e))?;
        self.group.carried();
        Ok(())
    }

    /// Replace a job's record with `job` now, durable within [`GROUP_WINDOW`] (or at the
    /// next durable write, whichever is first): a power cut in between loses this change
    /// and nothing after it.
    pub fn update_grouped(&mut self, job: &JobRecord) -> Result<(), JournalError> {
        self.conn
            .execute_batch("PRAGMA synchronous = NORMAL;")
            .map_err(|e| self.err(e))?;
        let written = codec::write_row(&self.conn, codec::Write::Replace, job);
        // Back to FULL before anything else, even when the write failed.
        let full = self.conn.execute_batch("PRAGMA synchronous = FULL;");
        written.and(full).map_err(|e| self.err(e))?;
        self.group.written();
        Ok(())
    }

    /// The job stored under `out_trade_no`.
    pub fn get(&self, out_trade_no: &str) -> Result<Option<JobRecord>, JournalError> {
        let row = self
            .conn
            .prepare_cached("SELECT * FROM jobs WHERE out_trade_no = ?1")
            .and_then(|mut s| s.query_row([out_trade_no], codec::read_row).optional())
            .map_err(|e| self.err(e))?;
        row.map(|r| self.checked(r)).transpose()
    }

    /// Every job not yet paid, closed or failed, oldest first.
    pub fn unfinished(&self) -> Result<Vec<JobRecord>, JournalError> {
        let finals = [JobState::Paid, JobState::Closed, JobState::Failed]
            .map(|s| format!("'{}'", codec::state_name(s)))
            .join(", ");
        let sql = format!("SELECT * FROM jobs WHERE state NOT IN ({finals}) ORDER BY created_ms");
        let rows = self
            .conn
            .prepare(&sql)
            .and_then(|mut s| {
                s.query_map([], codec::read_row)?
                    .collect::<Result<Vec<_>, _>>()
            })
            .map_err(|e| self.err(e))?;
        rows.into_iter().map(|r| self.checked(r)).collect()
    }

    /// Fold the WAL into the main file and start it over (`wal.rs`: the file keeps its
    /// size); called on shutdown. Fails (busy) when another process reads the journal
    /// meanwhile; the WAL is then kept whole, and replayed at the next open.
    pub fn checkpoint(&self) -> Result<(), JournalError> {
        // Not while the group thread checkpoints: SQLite refuses a second one as busy.
        let _folding = self.group.folding();
        wal::fold_and_restart(&self.conn).map_err(|e| self.err(e))
    }

    /// A row read back, or the `Corrupt` error naming this journal.
    fn checked(&self, row: Result<JobRecord, codec::Corrupt>) -> Result<JobRecord, JournalError> {
        row.map_err(|c| JournalError::Corrupt {
            path: self.path.clone(),
            out_trade_no: c.out_trade_no,
            what: c.what,
        })
    }
}

#[cfg(test)]
mod tests;

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
        let mut wal = path.clone().into_os_string();
        wal.push("-wal");
        let group = group::GroupCommit::start(wal.into())
            .map_err(|source| JournalError::Thread { source })?;
        let journal = Journal { conn, path, group };
        journal.init()?;
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
        codec::write_row(&self.conn, "INSERT", job).map_err(|e| self.err(e))?;
        self.group.carried();
        Ok(())
    }

    /// Replace a job's record with `job`.
    pub fn update(&mut self, job: &JobRecord) -> Result<(), JournalError> {
        codec::write_row(&self.conn, "INSERT OR REPLACE", job).map_err(|e| self.err(e))?;
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
        let written = codec::write_row(&self.conn, "INSERT OR REPLACE", job);
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

    /// Fold the WAL into the main file; called on shutdown.
    pub fn checkpoint(&self) -> Result<(), JournalError> {
        self.conn
            .execute_batch("PRAGMA wal_checkpoint(TRUNCATE);")
            .map_err(|e| self.err(e))
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
mod tests {
    use super::*;
    use crate::money::{Currency, Money};
    use crate::payment::ExchangeRate;
    use crate::protocol::{CloseReason, ErrorBody, ErrorCode};

    fn record(no: &str) -> JobRecord {
        JobRecord {
            goods_tag: Some("tag".into()),
            ..JobRecord::new(
                no,
                r#"{"order":{}}"#,
                "Latte x2",
                Money::cny(3200),
                1_795_666_200_000,
                1_795_665_600_000,
            )
        }
    }

    #[test]
    fn the_page_cache_is_small() {
        let dir = tempfile::tempdir().unwrap();
        let j = Journal::open(dir.path()).unwrap();
        let pages: i64 = j
            .conn
            .query_row("PRAGMA cache_size", [], |r| r.get(0))
            .unwrap();
        assert_eq!(pages, -CACHE_KIB, "a 256 KiB cache, not SQLite's 2 MiB");
    }

    #[test]
    fn records_survive_reopening() {
        let dir = tempfile::tempdir().unwrap();
        let mut a = record("T0000001");
        let mut b = record("T0000002");
        {
            let mut j = Journal::open(dir.path()).unwrap();
            j.insert(&a).unwrap();
            j.insert(&b).unwrap();
            assert!(j.insert(&a).is_err(), "a number is stored once");
            a.state = JobState::Paid;
            a.transaction_id = Some("4200".into());
            a.close_reason = None;
            j.update(&a).unwrap();
            b.state = JobState::Closed;
            b.close_reason = Some(CloseReason::Cancelled);
            b.error = Some(ErrorBody::new(ErrorCode::Printer, "paper out"));
            j.update(&b).unwrap();
            // Dropped without checkpoint: like a crash, the WAL must carry the commits.
        }
        let j = Journal::open(dir.path()).unwrap();
        assert_eq!(j.get("T0000001").unwrap().unwrap(), a);
        assert_eq!(j.get("T0000002").unwrap().unwrap(), b);
        assert_eq!(j.get("T0000003").unwrap(), None);
    }

    #[test]
    fn a_durable_write_carries_the_grouped_ones_and_the_group_does_not_sync_again() {
        let dir = tempfile::tempdir().unwrap();
        let mut j = Journal::open(dir.path()).unwrap();
        let (mut a, b) = (record("T0000001"), record("T0000002"));
        j.insert(&a).unwrap();
        a.state = JobState::Closed;
        a.close_reason = Some(CloseReason::Cancelled);
        j.update_grouped(&a).unwrap();
        // The next checkout's insert syncs the WAL, grouped write included.
        j.insert(&b).unwrap();
        std::thread::sleep(GROUP_WINDOW * 4);
        assert_eq!(
            j.group.syncs(),
            0,
            "a second sync for what was already synced"
        );
        // A grouped write with no durable write after it is still synced by the group.
        j.update_grouped(&a).unwrap();
        let start = std::time::Instant::now();
        while j.group.syncs() == 0 {
            assert!(
                start.elapsed() < std::time::Duration::from_secs(10),
                "no sync"
            );
            std::thread::sleep(std::time::Duration::from_millis(5));
        }
    }

    #[test]
    fn grouped_updates_share_one_sync_and_survive_reopening() {
        let dir = tempfile::tempdir().unwrap();
        let mut records: Vec<_> = (0..20).map(|i| record(&format!("T{i:07}"))).collect();
        {
            let mut j = Journal::open(dir.path()).unwrap();
            for r in &records {
                j.insert(r).unwrap();
            }
            assert_eq!(
                j.group.syncs(),
                0,
                "durable writes sync inline, not in the group"
            );
            for r in &mut records {
                r.state = JobState::Closed;
                r.close_reason = Some(CloseReason::Cancelled);
                j.update_grouped(r).unwrap();
                // Readable at once, before any sync.
                assert_eq!(j.get(&r.out_trade_no).unwrap().as_ref(), Some(&*r));
            }
            let start = std::time::Instant::now();
            while j.group.syncs() == 0 {
                assert!(
                    start.elapsed() < std::time::Duration::from_secs(10),
                    "no sync"
                );
                std::thread::yield_now();
            }
            let syncs = j.group.syncs();
            assert!(syncs < 5, "20 grouped writes, {syncs} syncs: not grouped");
            // Back to FULL: a plain update is durable again when it returns.
            let mode: i64 = j
                .conn
                .query_row("PRAGMA synchronous", [], |row| row.get(0))
                .unwrap();
            assert_eq!(mode, 2, "synchronous=FULL after a grouped write");
        }
        let j = Journal::open(dir.path()).unwrap();
        for r in &records {
            assert_eq!(j.get(&r.out_trade_no).unwrap().as_ref(), Some(r));
        }
    }

    #[test]
    fn lists_unfinished_jobs_oldest_first() {
        let dir = tempfile::tempdir().unwrap();
        let mut j = Journal::open(dir.path()).unwrap();
        let mut first = record("T0000001");
        first.created_ms -= 10;
        let mut done = record("T0000002");
        done.state = JobState::Failed;
        let mut second = record("T0000003");
        second.state = JobState::Cancelling;
        for r in [&second, &done, &first] {
            j.insert(r).unwrap();
        }
        let nos: Vec<_> = j
            .unfinished()
            .unwrap()
            .into_iter()
            .map(|r| r.out_trade_no)
            .collect();
        assert_eq!(nos, ["T0000001", "T0000003"]);
    }

    #[test]
    fn refuses_a_journal_from_the_future() {
        let dir = tempfile::tempdir().unwrap();
        drop(Journal::open(dir.path()).unwrap());
        let conn = Connection::open(dir.path().join(FILE_NAME)).unwrap();
        conn.execute_batch("PRAGMA user_version = 99;").unwrap();
        drop(conn);
        let e = Journal::open(dir.path()).unwrap_err();
        assert!(matches!(e, JournalError::TooNew { found: 99, .. }), "{e}");
    }

    #[test]
    fn a_global_payment_survives_reopening() {
        let dir = tempfile::tempdir().unwrap();
        let hkd = Money::new(1234, Currency::new("HKD"));
        let mut r = JobRecord::new("T0000001", "{}", "Milk tea", hkd, 0, 0);
        r.state = JobState::Paid;
        r.paid_total = Some(1234);
        r.payer_total = Some(1135);
        r.payer_currency = Some(Currency::CNY);
        r.exchange_rate = Some(ExchangeRate {
            kind: "SETTLEMENT_RATE".into(),
            rate: 92_000_000,
        });
        Journal::open(dir.path()).unwrap().insert(&r).unwrap();
        let back = Journal::open(dir.path()).unwrap().get("T0000001").unwrap();
        assert_eq!(back.as_ref(), Some(&r));
        assert_eq!(r.payer_amount(), Money::cny(1135));
    }

    #[test]
    fn a_version_1_journal_is_migrated_to_version_2() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join(FILE_NAME);
        {
            let conn = Connection::open(&path).unwrap();
            schema::create_v1(&conn).unwrap();
            conn.execute_batch(
                r#"INSERT INTO jobs VALUES ('T0000001', '{"order":{}}', 'paid', 'printed',
                    'Latte x2', 3200, 'CNY', NULL, NULL, '2026-11-26T12:10:00+08:00',
                    1795666200000, NULL, 0, 'weixin://wxpay/bizpayurl?pr=abc',
                    1795665601000, '4200000001', '2026-11-26T12:01:00+08:00', 3000, 3200,
                    NULL, NULL, 1795665600000, 1795665660000);
                   INSERT INTO jobs VALUES ('T0000002', '{"order":{}}', 'awaiting_payment',
                    'printed', 'Tea', 800, 'CNY', NULL, NULL, '2026-11-26T12:10:00+08:00',
                    1795666200000, NULL, 0, 'weixin://wxpay/bizpayurl?pr=def', 1795665601000,
                    NULL, NULL, NULL, NULL, NULL, NULL, 1795665600000, 1795665600000);"#,
            )
            .unwrap();
        }
        let mut j = Journal::open(dir.path()).unwrap();
        let version = schema::version(&j.conn).unwrap();
        assert_eq!((version, SCHEMA_VERSION), (5, 5));
        let paid = j.get("T0000001").unwrap().unwrap();
        assert_eq!(paid.state, JobState::Paid);
        assert_eq!(paid.transaction_id.as_deref(), Some("4200000001"));
        assert_eq!(
            (paid.paid_amount(), paid.payer_amount()),
            (Money::cny(3200), Money::cny(3000))
        );
        assert_eq!(
            (paid.payer_currency.clone(), paid.exchange_rate.clone()),
            (None, None)
        );
        let open: Vec<_> = j
            .unfinished()
            .unwrap()
            .into_iter()
            .map(|r| r.out_trade_no)
            .collect();
        assert_eq!(
            open,
            ["T0000002"],
            "the unfinished job resumes after the upgrade"
        );
        // The migrated file takes the new columns, and opens again without a second step.
        let mut converted = paid.clone();
        converted.payer_currency = Some(Currency::CNY);
        j.update(&converted).unwrap();
        drop(j);
        let j = Journal::open(dir.path()).unwrap();
        assert_eq!(j.get("T0000001").unwrap(), Some(converted));
    }
}

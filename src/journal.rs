//! Durable job records in SQLite (`journal.sqlite` under `state_dir`).
//!
//! WAL mode with `synchronous=FULL`: when [`Journal::insert`] or [`Journal::update`]
//! returns, the record is on disk and survives a power cut. The `jobs` module commits every
//! state change here *before* it tells anyone about it, so a POS never hears of a state the
//! daemon could forget. The journal stores records; it knows no business rules.
//!
//! The schema is versioned with `PRAGMA user_version`; [`Journal::open`] migrates older
//! files forward and refuses files from a newer wxprint.

use std::path::{Path, PathBuf};

use rusqlite::{Connection, OptionalExtension, Row, params};

use crate::clock;
use crate::money::{Currency, Money};
use crate::protocol::{CloseReason, ErrorBody, JobState, PrintState};

/// The schema this build writes.
pub const SCHEMA_VERSION: i64 = 1;

/// File name of the journal inside `state_dir`.
pub const FILE_NAME: &str = "journal.sqlite";

/// One job, as stored.
#[derive(Debug, Clone, PartialEq)]
pub struct JobRecord {
    pub out_trade_no: String,
    /// Canonical JSON of the checkout's `order` and `receipt`: what "identical content"
    /// means for an idempotent retry.
    pub request: String,
    pub state: JobState,
    pub print: PrintState,
    pub description: String,
    /// The order's amount (columns `total` and `currency`).
    pub amount: Money,
    pub attach: Option<String>,
    pub goods_tag: Option<String>,
    /// RFC 3339 `time_expire` sent to WeChat Pay (fixed at creation, so that a retried
    /// placement is identical).
    pub time_expire: String,
    pub expire_ms: i64,
    /// The payment backend's exact placement request (see `PlaceOrder::request`).
    pub place_body: Option<String>,
    /// A technician's test order, placed on the built-in sandbox.
    pub loopback: bool,
    pub code_url: Option<String>,
    /// When the order was last placed successfully: WeChat Pay's order age (for the
    /// `close_min_age` rule) counts from here, not from the checkout.
    pub placed_ms: Option<i64>,
    pub transaction_id: Option<String>,
    pub success_time: Option<String>,
    /// What the customer paid, in the minor unit of the order's currency; read it as
    /// [`JobRecord::payer_amount`].
    pub payer_total: Option<i64>,
    /// The amount WeChat Pay reports as paid (normally the order's), in the minor unit of
    /// the order's currency; read it as [`JobRecord::paid_amount`].
    pub paid_total: Option<i64>,
    pub close_reason: Option<CloseReason>,
    pub error: Option<ErrorBody>,
    pub created_ms: i64,
    pub updated_ms: i64,
}

impl JobRecord {
    /// A job as a checkout creates it: `ordering`, nothing printed, placed or paid yet, with
    /// `time_expire` spelled from `expire_ms`. The order's optional parts (`attach`,
    /// `goods_tag`, `place_body`, `loopback`) start empty; set them with struct update:
    /// `JobRecord { attach, ..JobRecord::new(…) }`.
    pub fn new(
        out_trade_no: impl Into<String>,
        request: impl Into<String>,
        description: impl Into<String>,
        amount: Money,
        expire_ms: i64,
        created_ms: i64,
    ) -> JobRecord {
        JobRecord {
            out_trade_no: out_trade_no.into(),
            request: request.into(),
            state: JobState::Ordering,
            print: PrintState::Pending,
            description: description.into(),
            amount,
            attach: None,
            goods_tag: None,
            time_expire: clock::rfc3339(expire_ms),
            expire_ms,
            place_body: None,
            loopback: false,
            code_url: None,
            placed_ms: None,
            transaction_id: None,
            success_time: None,
            payer_total: None,
            paid_total: None,
            close_reason: None,
            error: None,
            created_ms,
            updated_ms: created_ms,
        }
    }

    /// What WeChat Pay reports as paid: `paid_total` once paid, else the order's amount.
    pub fn paid_amount(&self) -> Money {
        self.amount
            .with_minor(self.paid_total.unwrap_or(self.amount.minor()))
    }

    /// What the customer paid: `payer_total` once paid, else the order's amount.
    pub fn payer_amount(&self) -> Money {
        self.amount
            .with_minor(self.payer_total.unwrap_or(self.amount.minor()))
    }
}

#[derive(Debug, thiserror::Error)]
pub enum JournalError {
    #[error(
        "cannot create state directory {path}: {source}; check `daemon.state_dir` and its permissions"
    )]
    CreateDir {
        path: PathBuf,
        source: std::io::Error,
    },
    #[error("journal {path}: {source}")]
    Sqlite {
        path: PathBuf,
        source: rusqlite::Error,
    },
    #[error(
        "journal {path} has schema version {found}, newer than this wxprint understands ({SCHEMA_VERSION}); upgrade wxprint or move the file away"
    )]
    TooNew { path: PathBuf, found: i64 },
    #[error("journal {path}: corrupt record {out_trade_no}: {what}")]
    Corrupt {
        path: PathBuf,
        out_trade_no: String,
        what: String,
    },
}

/// The open journal.
pub struct Journal {
    conn: Connection,
    path: PathBuf,
}

impl std::fmt::Debug for Journal {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "Journal({})", self.path.display())
    }
}

const COLUMNS: &str = "out_trade_no, request, state, print, description, total, currency, attach, \
     goods_tag, time_expire, expire_ms, place_body, loopback, code_url, placed_ms, transaction_id, success_time, \
     payer_total, paid_total, close_reason, error, created_ms, updated_ms";

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
        let mut journal = Journal { conn, path };
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

    fn init(&mut self) -> Result<(), JournalError> {
        self.conn
            .execute_batch(
                "PRAGMA journal_mode = WAL;
                 PRAGMA synchronous = FULL;
                 PRAGMA busy_timeout = 5000;",
            )
            .map_err(|e| self.err(e))?;
        let version: i64 = self
            .conn
            .query_row("PRAGMA user_version", [], |r| r.get(0))
            .map_err(|e| self.err(e))?;
        if version > SCHEMA_VERSION {
            return Err(JournalError::TooNew {
                path: self.path.clone(),
                found: version,
            });
        }
        if version < 1 {
            self.conn
                .execute_batch(
                    "BEGIN;
                     CREATE TABLE jobs (
                         out_trade_no   TEXT PRIMARY KEY,
                         request        TEXT NOT NULL,
                         state          TEXT NOT NULL,
                         print          TEXT NOT NULL,
                         description    TEXT NOT NULL,
                         total          INTEGER NOT NULL,
                         currency       TEXT NOT NULL,
                         attach         TEXT,
                         goods_tag      TEXT,
                         time_expire    TEXT NOT NULL,
                         expire_ms      INTEGER NOT NULL,
                         place_body     TEXT,
                         loopback       INTEGER NOT NULL DEFAULT 0,
                         code_url       TEXT,
                         placed_ms      INTEGER,
                         transaction_id TEXT,
                         success_time   TEXT,
                         payer_total    INTEGER,
                         paid_total     INTEGER,
                         close_reason   TEXT,
                         error          TEXT,
                         created_ms     INTEGER NOT NULL,
                         updated_ms     INTEGER NOT NULL
                     );
                     CREATE INDEX jobs_by_state ON jobs(state);
                     PRAGMA user_version = 1;
                     COMMIT;",
                )
                .map_err(|e| self.err(e))?;
        }
        // Future schema versions migrate here, one `if version < N` step each.
        Ok(())
    }

    /// Store a new job. Fails if the number is already stored.
    pub fn insert(&mut self, job: &JobRecord) -> Result<(), JournalError> {
        let sql = format!(
            "INSERT INTO jobs ({COLUMNS}) VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10, ?11, ?12, ?13, ?14, ?15, ?16, ?17, ?18, ?19, ?20, ?21, ?22, ?23)"
        );
        self.write(&sql, job)
    }

    /// Replace a job's record with `job`.
    pub fn update(&mut self, job: &JobRecord) -> Result<(), JournalError> {
        let sql = format!(
            "INSERT OR REPLACE INTO jobs ({COLUMNS}) VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10, ?11, ?12, ?13, ?14, ?15, ?16, ?17, ?18, ?19, ?20, ?21, ?22, ?23)"
        );
        self.write(&sql, job)
    }

    fn write(&mut self, sql: &str, j: &JobRecord) -> Result<(), JournalError> {
        let error = j
            .error
            .as_ref()
            .map(|e| serde_json::to_string(e).expect("plain data"));
        let mut stmt = self.conn.prepare_cached(sql).map_err(|e| self.err(e))?;
        stmt.execute(params![
            j.out_trade_no,
            j.request,
            j.state.as_str(),
            j.print.as_str(),
            j.description,
            j.amount.minor(),
            j.amount.currency().code(),
            j.attach,
            j.goods_tag,
            j.time_expire,
            j.expire_ms,
            j.place_body,
            j.loopback,
            j.code_url,
            j.placed_ms,
            j.transaction_id,
            j.success_time,
            j.payer_total,
            j.paid_total,
            j.close_reason.map(CloseReason::as_str),
            error,
            j.created_ms,
            j.updated_ms,
        ])
        .map_err(|e| JournalError::Sqlite {
            path: self.path.clone(),
            source: e,
        })?;
        Ok(())
    }

    /// The job stored under `out_trade_no`.
    pub fn get(&self, out_trade_no: &str) -> Result<Option<JobRecord>, JournalError> {
        let sql = format!("SELECT {COLUMNS} FROM jobs WHERE out_trade_no = ?1");
        let row = self
            .conn
            .prepare_cached(&sql)
            .and_then(|mut s| s.query_row([out_trade_no], raw_row).optional())
            .map_err(|e| self.err(e))?;
        row.map(|r| self.decode(r)).transpose()
    }

    /// Every job not yet paid, closed or failed, oldest first.
    pub fn unfinished(&self) -> Result<Vec<JobRecord>, JournalError> {
        let sql = format!(
            "SELECT {COLUMNS} FROM jobs WHERE state NOT IN ('paid', 'closed', 'failed') ORDER BY created_ms"
        );
        let rows = self
            .conn
            .prepare(&sql)
            .and_then(|mut s| s.query_map([], raw_row)?.collect::<Result<Vec<_>, _>>())
            .map_err(|e| self.err(e))?;
        rows.into_iter().map(|r| self.decode(r)).collect()
    }

    /// Fold the WAL into the main file; called on shutdown.
    pub fn checkpoint(&self) -> Result<(), JournalError> {
        self.conn
            .execute_batch("PRAGMA wal_checkpoint(TRUNCATE);")
            .map_err(|e| self.err(e))
    }

    fn decode(&self, r: RawRow) -> Result<JobRecord, JournalError> {
        let corrupt = |what: String| JournalError::Corrupt {
            path: self.path.clone(),
            out_trade_no: r.out_trade_no.clone(),
            what,
        };
        let state =
            JobState::parse(&r.state).ok_or_else(|| corrupt(format!("state {:?}", r.state)))?;
        let print =
            PrintState::parse(&r.print).ok_or_else(|| corrupt(format!("print {:?}", r.print)))?;
        let close_reason = match &r.close_reason {
            None => None,
            Some(s) => {
                Some(CloseReason::parse(s).ok_or_else(|| corrupt(format!("close_reason {s:?}")))?)
            }
        };
        let error = match &r.error {
            None => None,
            Some(s) => Some(serde_json::from_str(s).map_err(|e| corrupt(format!("error {e}")))?),
        };
        Ok(JobRecord {
            out_trade_no: r.out_trade_no,
            request: r.request,
            state,
            print,
            description: r.description,
            amount: Money::new(r.total, Currency::new(r.currency)),
            attach: r.attach,
            goods_tag: r.goods_tag,
            time_expire: r.time_expire,
            expire_ms: r.expire_ms,
            place_body: r.place_body,
            loopback: r.loopback,
            code_url: r.code_url,
            placed_ms: r.placed_ms,
            transaction_id: r.transaction_id,
            success_time: r.success_time,
            payer_total: r.payer_total,
            paid_total: r.paid_total,
            close_reason,
            error,
            created_ms: r.created_ms,
            updated_ms: r.updated_ms,
        })
    }
}

/// A row as SQLite returns it, before the enums are checked.
struct RawRow {
    out_trade_no: String,
    request: String,
    state: String,
    print: String,
    description: String,
    total: i64,
    currency: String,
    attach: Option<String>,
    goods_tag: Option<String>,
    time_expire: String,
    expire_ms: i64,
    place_body: Option<String>,
    loopback: bool,
    code_url: Option<String>,
    placed_ms: Option<i64>,
    transaction_id: Option<String>,
    success_time: Option<String>,
    payer_total: Option<i64>,
    paid_total: Option<i64>,
    close_reason: Option<String>,
    error: Option<String>,
    created_ms: i64,
    updated_ms: i64,
}

fn raw_row(r: &Row<'_>) -> rusqlite::Result<RawRow> {
    Ok(RawRow {
        out_trade_no: r.get(0)?,
        request: r.get(1)?,
        state: r.get(2)?,
        print: r.get(3)?,
        description: r.get(4)?,
        total: r.get(5)?,
        currency: r.get(6)?,
        attach: r.get(7)?,
        goods_tag: r.get(8)?,
        time_expire: r.get(9)?,
        expire_ms: r.get(10)?,
        place_body: r.get(11)?,
        loopback: r.get(12)?,
        code_url: r.get(13)?,
        placed_ms: r.get(14)?,
        transaction_id: r.get(15)?,
        success_time: r.get(16)?,
        payer_total: r.get(17)?,
        paid_total: r.get(18)?,
        close_reason: r.get(19)?,
        error: r.get(20)?,
        created_ms: r.get(21)?,
        updated_ms: r.get(22)?,
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::protocol::ErrorCode;

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
}

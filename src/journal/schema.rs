//! The journal's SQLite schema and its versions: the `jobs` table as each version created
//! it, and the steps that bring an older file forward. The version is `PRAGMA
//! user_version`; a file newer than [`SCHEMA_VERSION`] is refused by the caller.
//!
//! A version's DDL is history: once released it never changes (files in the field were
//! made by it). A new column is a new version with an `ALTER TABLE` step. What goes *in* a
//! column — the spellings of states, reasons and errors — is `codec.rs`'s business.

use rusqlite::Connection;

/// The schema this build writes.
pub const SCHEMA_VERSION: i64 = 5;

/// Version 1: one row per job; `state` indexed for [`Journal::unfinished`](super::Journal::unfinished).
const V1: &str = "BEGIN;
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
     COMMIT;";

/// Version 2: what a payment in another currency needs to be reported again after a
/// restart — the payer's currency and the rate WeChat Pay converted at (WeChat Pay Global).
/// NULL in every row a version-1 file held: the order's currency, nothing converted.
const V2: &str = "BEGIN;
     ALTER TABLE jobs ADD COLUMN payer_currency TEXT;
     ALTER TABLE jobs ADD COLUMN rate_type TEXT;
     ALTER TABLE jobs ADD COLUMN rate INTEGER;
     PRAGMA user_version = 2;
     COMMIT;";

/// Version 3: when the receipt was first handed to the printer, so that a receipt whose
/// print a crash cut off is printed again marked as a reprint. NULL in older rows: their
/// receipts print unmarked, as before.
const V3: &str = "BEGIN;
     ALTER TABLE jobs ADD COLUMN print_started_ms INTEGER;
     PRAGMA user_version = 3;
     COMMIT;";

/// Version 4: the refunds of paid orders, one row per `out_refund_no`, journaled before
/// the first call to the payment backend (`body`: the pinned request). `seq` numbers an
/// order's refunds from 1 (the default `<out_trade_no>-R<n>`). Older files gain the
/// empty table.
const V4: &str = "BEGIN;
     CREATE TABLE refunds (
         out_refund_no  TEXT PRIMARY KEY,
         out_trade_no   TEXT NOT NULL,
         seq            INTEGER NOT NULL,
         named          INTEGER NOT NULL,
         request        TEXT NOT NULL,
         amount         INTEGER NOT NULL,
         currency       TEXT NOT NULL,
         reason         TEXT,
         body           TEXT,
         state          TEXT NOT NULL,
         refund_id      TEXT,
         success_time   TEXT,
         payer_refund   INTEGER,
         payer_currency TEXT,
         error          TEXT,
         created_ms     INTEGER NOT NULL,
         updated_ms     INTEGER NOT NULL
     );
     CREATE INDEX refunds_by_order ON refunds(out_trade_no, seq);
     CREATE INDEX refunds_by_state ON refunds(state);
     PRAGMA user_version = 4;
     COMMIT;";

/// Version 5: the payment and refund slips still to print, one row each (`out_refund_no`
/// `''` for a payment slip), written with the `paid` or `refunded` outcome they confirm
/// and deleted once printed or given up; `discount`: the payment's promotions (WeChat Pay
/// reports them only with the payment). Older files gain the empty table.
const V5: &str = "BEGIN;
     CREATE TABLE slips (
         out_trade_no   TEXT NOT NULL,
         out_refund_no  TEXT NOT NULL DEFAULT '',
         discount       INTEGER,
         created_ms     INTEGER NOT NULL,
         PRIMARY KEY (out_trade_no, out_refund_no)
     );
     PRAGMA user_version = 5;
     COMMIT;";

/// The schema version of the open file (0: a new, empty file).
pub(super) fn version(conn: &Connection) -> rusqlite::Result<i64> {
    conn.query_row("PRAGMA user_version", [], |r| r.get(0))
}

/// Bring a file of version `from` (≤ [`SCHEMA_VERSION`]) to [`SCHEMA_VERSION`], one step
/// per version, each in its own transaction.
pub(super) fn migrate(conn: &Connection, from: i64) -> rusqlite::Result<()> {
    if from < 1 {
        conn.execute_batch(V1)?;
    }
    if from < 2 {
        conn.execute_batch(V2)?;
    }
    if from < 3 {
        conn.execute_batch(V3)?;
    }
    if from < 4 {
        conn.execute_batch(V4)?;
    }
    if from < 5 {
        conn.execute_batch(V5)?;
    }
    // Future schema versions migrate here, one `if from < N` step each.
    Ok(())
}

/// A file as a version-1 wxprint made it, for the migration tests.
#[cfg(test)]
pub(super) fn create_v1(conn: &Connection) -> rusqlite::Result<()> {
    conn.execute_batch(V1)
}

/// A file as a version-2 wxprint made it, for the migration tests.
#[cfg(test)]
pub(super) fn create_v2(conn: &Connection) -> rusqlite::Result<()> {
    conn.execute_batch(V1)?;
    conn.execute_batch(V2)
}

//! [`SlipRecord`]: a payment or refund slip still to print (the `slips` table of schema 5),
//! and the [`Journal`]'s calls for it: note one, list them, forget one.
//!
//! A row is written with the outcome it confirms — just before the `paid` job record or
//! the `refunded` refund record, both durable writes, so it is on disk when they are (it
//! rides their `fsync`: one WAL) and never costs the outcome a sync of its own — and
//! deleted once the slip is printed or given up. A daemon that stops in between prints it
//! at its next start. Plain data; when a slip is wanted and how it prints is `jobs`'.

use rusqlite::{Row, params};

use super::{Journal, JournalError};

/// A slip still to print.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SlipRecord {
    /// The paid order.
    pub out_trade_no: String,
    /// The refund, for a refund slip; `None` for a payment slip.
    pub out_refund_no: Option<String>,
    /// The sum of the payment's promotions, in the minor unit of the order's currency;
    /// `None` when it had none (and on refund slips).
    pub discount: Option<i64>,
    /// When it was noted, in milliseconds since the Unix epoch.
    pub created_ms: i64,
}

fn read_row(r: &Row<'_>) -> rusqlite::Result<SlipRecord> {
    let refund: String = r.get("out_refund_no")?;
    Ok(SlipRecord {
        out_trade_no: r.get("out_trade_no")?,
        out_refund_no: (!refund.is_empty()).then_some(refund),
        discount: r.get("discount")?,
        created_ms: r.get("created_ms")?,
    })
}

impl Journal {
    /// Note a slip to print, committed at once and made durable by the next durable write
    /// (the outcome it confirms, written right after) or the group commit. Noting the same
    /// slip again changes nothing.
    pub fn insert_slip(&mut self, slip: &SlipRecord) -> Result<(), JournalError> {
        self.conn
            .execute_batch("PRAGMA synchronous = NORMAL;")
            .map_err(|e| self.err(e))?;
        let written = self.conn.execute(
            "INSERT OR IGNORE INTO slips (out_trade_no, out_refund_no, discount, created_ms)
             VALUES (?1, ?2, ?3, ?4)",
            params![
                slip.out_trade_no,
                slip.out_refund_no.as_deref().unwrap_or(""),
                slip.discount,
                slip.created_ms
            ],
        );
        // Back to FULL before anything else, even when the write failed.
        let full = self.conn.execute_batch("PRAGMA synchronous = FULL;");
        written.map(drop).and(full).map_err(|e| self.err(e))?;
        self.group.written();
        Ok(())
    }

    /// Every slip still to print, oldest first.
    pub fn pending_slips(&self) -> Result<Vec<SlipRecord>, JournalError> {
        self.conn
            .prepare_cached("SELECT * FROM slips ORDER BY created_ms, rowid")
            .and_then(|mut s| s.query_map([], read_row)?.collect())
            .map_err(|e| self.err(e))
    }

    /// Forget a slip: printed, or given up. Grouped like a printed receipt: a power cut
    /// right after may print it once more.
    pub fn delete_slip(&mut self, slip: &SlipRecord) -> Result<(), JournalError> {
        self.conn
            .execute_batch("PRAGMA synchronous = NORMAL;")
            .map_err(|e| self.err(e))?;
        let deleted = self.conn.execute(
            "DELETE FROM slips WHERE out_trade_no = ?1 AND out_refund_no = ?2",
            params![
                slip.out_trade_no,
                slip.out_refund_no.as_deref().unwrap_or("")
            ],
        );
        let full = self.conn.execute_batch("PRAGMA synchronous = FULL;");
        deleted.map(drop).and(full).map_err(|e| self.err(e))?;
        self.group.written();
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use rusqlite::Connection;

    use super::super::{FILE_NAME, schema};
    use super::*;

    fn slip(no: &str, refund: Option<&str>, created_ms: i64) -> SlipRecord {
        SlipRecord {
            out_trade_no: no.into(),
            out_refund_no: refund.map(str::to_owned),
            discount: refund.is_none().then_some(500),
            created_ms,
        }
    }

    #[test]
    fn slips_are_kept_until_deleted_and_survive_reopening() {
        let dir = tempfile::tempdir().unwrap();
        {
            // A version-4 file gains the table.
            let conn = Connection::open(dir.path().join(FILE_NAME)).unwrap();
            schema::migrate(&conn, 0).unwrap();
            conn.execute_batch("DROP TABLE slips; PRAGMA user_version = 4;")
                .unwrap();
        }
        let paid = slip("T0000001", None, 2);
        let refund = slip("T0000001", Some("T0000001-R1"), 3);
        let other = slip("T0000002", None, 1);
        {
            let mut j = Journal::open(dir.path()).unwrap();
            for s in [&paid, &refund, &other] {
                j.insert_slip(s).unwrap();
            }
            let again = SlipRecord {
                discount: None,
                created_ms: 9,
                ..paid.clone()
            };
            j.insert_slip(&again).unwrap();
            j.delete_slip(&other).unwrap();
            // Dropped without checkpoint, like a crash.
        }
        let mut j = Journal::open(dir.path()).unwrap();
        assert_eq!(j.pending_slips().unwrap(), [paid.clone(), refund.clone()]);
        j.delete_slip(&paid).unwrap();
        assert_eq!(j.pending_slips().unwrap(), [refund]);
    }
}

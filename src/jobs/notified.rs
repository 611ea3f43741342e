//! A verified transaction answer that arrived on its own — a WeChat Pay payment
//! notification — for job N: the same settle path as a query answer (`polling.rs`'s
//! [`finish_paid`]: journal first, then `paid` once), and the job's polling stops.
//!
//! Only the job's side: the notification's HTTP, signature and decryption are
//! `crate::notify`'s and `crate::wechatpay`'s. Money rules kept here: only an order this
//! daemon journaled counts (never a test order), a paid job never changes again, and a
//! repeated notification changes nothing.

use tracing::info;

use super::polling::finish_paid;
use super::{Jobs, transitions};
use crate::clock;
use crate::journal::JobRecord;
use crate::payment::TradeState;
use crate::protocol::JobState;

/// What a notification did.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Notified {
    /// The job was open and is now paid (journaled, `paid` sent).
    Paid,
    /// Nothing changed: the job is already over (a repeat), or the answer settles nothing.
    Unchanged,
}

/// Why a notification cannot be taken.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum NotifiedError {
    /// No order of this register has that number (or it is a `loopback` test order).
    #[error(
        "order {0:?} is not one of this register's orders: check that wechatpay.notify_url \
         leads only to this register"
    )]
    Unknown(String),
    /// The journal could not be read or written: ask WeChat Pay to send it again.
    #[error("the journal failed ({0}); the notification is to be sent again")]
    Journal(String),
}

impl Jobs {
    /// A verified answer `answer` about order `no` arrived (a payment notification): a paid
    /// open job is settled as a query would settle it, journal first; its task wakes and
    /// stops polling. `Ok` only once the outcome is in the journal.
    pub fn notified(&self, no: &str, answer: TradeState) -> Result<Notified, NotifiedError> {
        let journal_failed =
            |e: crate::journal::JournalError| NotifiedError::Journal(e.to_string());
        let wake = {
            let state = self.shared.lock();
            match state.active.get(no) {
                Some(active) if !active.record.loopback => active.wake.clone(),
                Some(_) => return Err(NotifiedError::Unknown(no.to_owned())),
                None => {
                    let stored = state.journal.get(no).map_err(journal_failed)?;
                    drop(state);
                    return self.notified_stored(no, stored, answer);
                }
            }
        };
        let TradeState::Paid(payment) = answer else {
            return Ok(Notified::Unchanged);
        };
        info!(out_trade_no = no, "payment notification");
        finish_paid(&self.shared, no, payment);
        wake.notify_one();
        let state = self.shared.lock();
        match state.journal.get(no).map_err(journal_failed)? {
            Some(record) if record.state == JobState::Paid => Ok(Notified::Paid),
            _ => Err(NotifiedError::Journal(format!(
                "order {no} is reported paid but its record was not written"
            ))),
        }
    }

    /// A notification about order `no`, no longer active, whose record in the journal is
    /// `stored`. A final record is a repeat (`Unchanged`). An unfinished one is a job whose
    /// final write failed (it left the active set all the same): a `Paid` answer is
    /// written now — its `paid` event already went out — and `Ok` only once it is on disk,
    /// so WeChat Pay sends the notification again until it is.
    fn notified_stored(
        &self,
        no: &str,
        stored: Option<JobRecord>,
        answer: TradeState,
    ) -> Result<Notified, NotifiedError> {
        let mut record = match stored {
            Some(record) if !record.loopback => record,
            _ => return Err(NotifiedError::Unknown(no.to_owned())),
        };
        let TradeState::Paid(payment) = answer else {
            return Ok(Notified::Unchanged);
        };
        if record.state.is_final() {
            return Ok(Notified::Unchanged);
        }
        info!(
            out_trade_no = no,
            "payment notification for an unwritten outcome"
        );
        transitions::paid(&mut record, payment);
        record.updated_ms = clock::now_ms();
        let mut state = self.shared.lock();
        match state.journal.update(&record) {
            Ok(()) => Ok(Notified::Paid),
            Err(e) => Err(NotifiedError::Journal(e.to_string())),
        }
    }
}

#[cfg(test)]
mod tests {
    use std::sync::Arc;

    use super::*;
    use crate::jobs::fixtures::{self, NO, Scripted, awaiting, payment};

    /// Makes every write of a `paid` record to the journal in `dir` fail, as a full disk
    /// would, until [`heal`] is called.
    fn fail_paid_writes(dir: &std::path::Path) {
        let db = rusqlite::Connection::open(dir.join(crate::journal::FILE_NAME)).unwrap();
        db.execute_batch(
            "CREATE TRIGGER fail_paid BEFORE INSERT ON jobs WHEN NEW.state = 'paid'
             BEGIN SELECT RAISE(ABORT, 'disk full'); END;
             CREATE TRIGGER fail_paid_update BEFORE UPDATE ON jobs WHEN NEW.state = 'paid'
             BEGIN SELECT RAISE(ABORT, 'disk full'); END;",
        )
        .unwrap();
    }

    fn heal(dir: &std::path::Path) {
        let db = rusqlite::Connection::open(dir.join(crate::journal::FILE_NAME)).unwrap();
        db.execute_batch("DROP TRIGGER fail_paid; DROP TRIGGER fail_paid_update;")
            .unwrap();
    }

    #[tokio::test]
    async fn a_paid_outcome_whose_write_failed_is_written_by_the_retried_notification() {
        let dir = tempfile::tempdir().unwrap();
        let (shared, _wake) =
            fixtures::shared(Arc::new(Scripted::default()), dir.path(), awaiting());
        let jobs = Jobs {
            shared: Arc::new(shared),
        };
        fail_paid_writes(dir.path());
        let first = jobs.notified(NO, TradeState::Paid(payment(3200)));
        assert!(matches!(first, Err(NotifiedError::Journal(_))), "{first:?}");
        // WeChat Pay sends it again while the disk still fails: still not taken.
        let again = jobs.notified(NO, TradeState::Paid(payment(3200)));
        assert!(matches!(again, Err(NotifiedError::Journal(_))), "{again:?}");
        assert_eq!(
            fixtures::journaled(&jobs.shared).state,
            JobState::AwaitingPayment
        );
        heal(dir.path());
        // Not paid yet per the answer: nothing to write, nothing claimed.
        assert_eq!(
            jobs.notified(NO, TradeState::NotPay),
            Ok(Notified::Unchanged)
        );
        assert_eq!(
            jobs.notified(NO, TradeState::Paid(payment(3200))),
            Ok(Notified::Paid)
        );
        let written = fixtures::journaled(&jobs.shared);
        assert_eq!(written.state, JobState::Paid);
        assert_eq!(written.transaction_id.as_deref(), Some("4200000001"));
        // Now final: a repeat changes nothing.
        assert_eq!(
            jobs.notified(NO, TradeState::Paid(payment(3200))),
            Ok(Notified::Unchanged)
        );
    }
}

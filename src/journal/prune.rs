//! Pruning: finished jobs (paid, closed, failed) whose last change is older than the
//! configured keep time leave the journal, so it stays small and the daemon starts fast.
//! Never an unfinished job: those are resumed on start whatever their age; nor a job with a
//! refund still processing or changed within the keep time (its refund needs the job's
//! record); a pruned job's refunds go with it. The schedule
//! (at start, then daily) and the keep time (`daemon.keep_finished`) are the caller's.

use super::{Journal, JournalError, codec};
use crate::protocol::JobState;

impl Journal {
    /// Delete every finished job last changed before `before_ms` whose refunds are all
    /// over and also last changed before `before_ms`, with those refunds, in one
    /// transaction; how many jobs went. A job with a refund still processing (or recent)
    /// stays: its refund is finished and reported from the job's record.
    pub fn prune_finished(&mut self, before_ms: i64) -> Result<usize, JournalError> {
        let finals = [JobState::Paid, JobState::Closed, JobState::Failed]
            .map(|s| format!("'{}'", codec::state_name(s)))
            .join(", ");
        let prunable = format!(
            "SELECT out_trade_no FROM jobs WHERE state IN ({finals}) AND updated_ms < ?1
             AND NOT EXISTS (SELECT 1 FROM refunds r WHERE r.out_trade_no = jobs.out_trade_no
                             AND (r.state = 'processing' OR r.updated_ms >= ?1))"
        );
        let tx = self.conn.transaction().map_err(|e| JournalError::Sqlite {
            path: self.path.clone(),
            source: e,
        })?;
        let pruned = tx
            .execute(
                &format!("DELETE FROM refunds WHERE out_trade_no IN ({prunable})"),
                [before_ms],
            )
            .and_then(|_| {
                tx.execute(
                    &format!("DELETE FROM jobs WHERE out_trade_no IN ({prunable})"),
                    [before_ms],
                )
            })
            .and_then(|n| tx.commit().map(|()| n));
        pruned.map_err(|e| self.err(e))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::journal::{JobRecord, RefundRecord};
    use crate::money::Money;
    use crate::protocol::RefundState;

    fn job(no: &str, state: JobState, updated_ms: i64) -> JobRecord {
        let mut r = JobRecord::new(no, "{}", "Latte", Money::cny(100), 10_000, 0);
        r.state = state;
        r.updated_ms = updated_ms;
        r
    }

    fn refund(no: &str, order: &str, state: RefundState, updated_ms: i64) -> RefundRecord {
        RefundRecord {
            out_refund_no: no.into(),
            out_trade_no: order.into(),
            seq: 1,
            named: false,
            request: r#"{"amount":100}"#.into(),
            amount: Money::cny(100),
            reason: None,
            body: Some("{}".into()),
            state,
            refund_id: None,
            success_time: None,
            payer_refund: None,
            payer_currency: None,
            error: None,
            created_ms: updated_ms,
            updated_ms,
        }
    }

    #[test]
    fn a_job_with_a_processing_or_recent_refund_stays_and_a_pruned_jobs_refunds_go() {
        let dir = tempfile::tempdir().unwrap();
        let mut j = Journal::open(dir.path()).unwrap();
        for no in ["PROCESSING", "RECENT", "OLDREFUNDED", "ABNORMAL"] {
            j.insert(&job(no, JobState::Paid, 1_000)).unwrap();
        }
        let refunds = [
            refund(
                "PROCESSING-R1",
                "PROCESSING",
                RefundState::Processing,
                1_000,
            ),
            refund("RECENT-R1", "RECENT", RefundState::Refunded, 9_000),
            refund(
                "OLDREFUNDED-R1",
                "OLDREFUNDED",
                RefundState::Refunded,
                1_000,
            ),
            refund("ABNORMAL-R1", "ABNORMAL", RefundState::Abnormal, 1_000),
        ];
        for r in &refunds {
            j.insert_refund(r).unwrap();
        }
        assert_eq!(j.prune_finished(5_000).unwrap(), 2);
        for no in ["PROCESSING", "RECENT"] {
            assert!(j.get(no).unwrap().is_some(), "{no} kept");
            assert_eq!(j.refunds_of(no).unwrap().len(), 1, "{no}'s refund kept");
        }
        for no in ["OLDREFUNDED", "ABNORMAL"] {
            assert_eq!(j.get(no).unwrap(), None, "{no} pruned");
            assert_eq!(
                j.get_refund(&format!("{no}-R1")).unwrap(),
                None,
                "with its refund"
            );
        }
        assert_eq!(j.unfinished_refunds().unwrap().len(), 1);
    }

    #[test]
    fn only_old_finished_jobs_are_pruned_never_unfinished_ones() {
        let dir = tempfile::tempdir().unwrap();
        let mut j = Journal::open(dir.path()).unwrap();
        let jobs = [
            job("OLDPAID", JobState::Paid, 1_000),
            job("OLDCLOSED", JobState::Closed, 1_000),
            job("OLDFAILED", JobState::Failed, 1_000),
            job("NEWPAID", JobState::Paid, 9_000),
            job("OLDOPEN", JobState::AwaitingPayment, 1_000),
            job("OLDCANCELLING", JobState::Cancelling, 1_000),
            job("OLDORDERING", JobState::Ordering, 1_000),
            job("OLDPAYING", JobState::UserPaying, 1_000),
        ];
        for r in &jobs {
            j.insert(r).unwrap();
        }
        assert_eq!(j.prune_finished(5_000).unwrap(), 3);
        for no in ["OLDPAID", "OLDCLOSED", "OLDFAILED"] {
            assert_eq!(j.get(no).unwrap(), None, "{no} pruned");
        }
        assert!(j.get("NEWPAID").unwrap().is_some(), "kept: recent");
        let open: Vec<String> = j
            .unfinished()
            .unwrap()
            .into_iter()
            .map(|r| r.out_trade_no)
            .collect();
        assert_eq!(
            open.len(),
            4,
            "every unfinished job stays, however old: {open:?}"
        );
    }
}

//! Pruning: finished jobs (paid, closed, failed) whose last change is older than the
//! configured keep time leave the journal, so it stays small and the daemon starts fast.
//! Never an unfinished job: those are resumed on start whatever their age. The schedule
//! (at start, then daily) and the keep time (`daemon.keep_finished`) are the caller's.

use super::{Journal, JournalError, codec};
use crate::protocol::JobState;

impl Journal {
    /// Delete every finished job last changed before `before_ms`; how many went.
    pub fn prune_finished(&mut self, before_ms: i64) -> Result<usize, JournalError> {
        let finals = [JobState::Paid, JobState::Closed, JobState::Failed]
            .map(|s| format!("'{}'", codec::state_name(s)))
            .join(", ");
        let sql = format!("DELETE FROM jobs WHERE state IN ({finals}) AND updated_ms < ?1");
        self.conn
            .execute(&sql, [before_ms])
            .map_err(|e| self.err(e))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::journal::JobRecord;
    use crate::money::Money;

    fn job(no: &str, state: JobState, updated_ms: i64) -> JobRecord {
        let mut r = JobRecord::new(no, "{}", "Latte", Money::cny(100), 10_000, 0);
        r.state = state;
        r.updated_ms = updated_ms;
        r
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

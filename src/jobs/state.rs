//! The job manager's shared state: one lock over the journal, the active jobs and the
//! subscribers, and the one way to change a job — [`State::transition`], which commits the
//! new record to the journal *before* its event goes out.
//!
//! What a change *is* lives in `transitions.rs` (pure); when to make it lives in the task
//! (`task.rs`, `printing.rs`, `polling.rs`). This file knows neither: it applies, commits
//! and delivers.

use std::collections::HashMap;
use std::future::Future;
use std::sync::{Arc, Mutex, MutexGuard};
use std::time::Duration;

use tokio::sync::Notify;
use tokio_util::sync::CancellationToken;
use tokio_util::task::TaskTracker;
use tracing::error;

use super::budget::QueryBudget;
use super::config::JobsConfig;
use super::refusals::{err, not_found};
use super::subscribers::Subscribers;
use crate::clock;
use crate::journal::{JobRecord, Journal};
use crate::payment::PaymentBackend;
use crate::payment::sandbox::Sandbox;
use crate::printer::PrinterHandle;
use crate::protocol::{DelayReason, ErrorBody, ErrorCode, Event, LastError};

/// What every job task and the [`super::Jobs`] handle share.
pub(crate) struct Shared {
    pub(crate) config: JobsConfig,
    pub(crate) backend: Arc<dyn PaymentBackend>,
    /// Where loopback (technician test) orders are placed: never WeChat Pay.
    pub(crate) loopback: Arc<Sandbox>,
    pub(crate) printer: PrinterHandle,
    pub(crate) state: Mutex<State>,
    /// Tells job tasks to stop at their next safe point (never mid-print).
    pub(crate) stop: CancellationToken,
    pub(crate) tasks: TaskTracker,
    /// The query budget every job's payment queries share.
    pub(crate) queries: QueryBudget,
    /// Wakes the slip task (`slips.rs`): a slip was noted.
    pub(crate) slips: Notify,
}

/// Everything behind the lock.
pub(crate) struct State {
    pub(crate) journal: Journal,
    /// Jobs whose outcome is open, each driven by a task.
    pub(crate) active: HashMap<String, Active>,
    pub(crate) subscribers: Subscribers,
    pub(crate) shutting_down: bool,
}

/// A job whose outcome is open.
pub(crate) struct Active {
    /// Boxed: the jobs map holds a thousand of these inline, so each slot stays small
    /// (a map of pending jobs grows by doubling, its empty slots cost their full size).
    pub(crate) record: Box<JobRecord>,
    /// Whether `record` is what the journal holds (a write may have failed).
    pub(crate) durable: bool,
    /// Wakes the job's task early: a cancel, a sandbox payment.
    pub(crate) wake: Arc<Notify>,
    /// The failure of the latest attempt at a step that has not succeeded since (in
    /// memory: `status` shows it while the job is open).
    /// Boxed, as `record`: most jobs have none.
    pub(crate) last_error: Option<Box<LastError>>,
}

impl Shared {
    pub(crate) fn lock(&self) -> MutexGuard<'_, State> {
        self.state.lock().unwrap_or_else(|p| p.into_inner())
    }

    /// The current record of an active job (boxed: a job's task holds it across awaits,
    /// and a thousand pending tasks would each carry it inline).
    pub(crate) fn record(&self, no: &str) -> Option<Box<JobRecord>> {
        self.lock().active.get(no).map(|a| a.record.clone())
    }

    /// [`State::transition`] under the lock.
    pub(crate) fn transition(
        &self,
        no: &str,
        change: impl FnOnce(&mut JobRecord) -> Option<Event>,
    ) -> Option<JobRecord> {
        self.lock().transition(no, change)
    }

    /// [`State::transition_grouped`] under the lock.
    pub(crate) fn transition_grouped(
        &self,
        no: &str,
        change: impl FnOnce(&mut JobRecord) -> Option<Event>,
    ) -> Option<JobRecord> {
        self.lock().transition_grouped(no, change)
    }

    /// Whether the job's current record is in the journal; writes it again if an earlier
    /// write failed.
    pub(crate) fn ensure_durable(&self, no: &str) -> bool {
        let mut guard = self.lock();
        let state = &mut *guard;
        let Some(active) = state.active.get_mut(no) else {
            return true;
        };
        if !active.durable {
            active.durable = state.journal.update(&active.record).is_ok();
        }
        active.durable
    }

    /// The backend a job's order lives on.
    pub(crate) fn backend_of(&self, record: &JobRecord) -> &dyn PaymentBackend {
        self.backend_for(record.loopback)
    }

    /// The backend an order is placed on: the built-in sandbox for a `loopback` order,
    /// else the daemon's.
    pub(crate) fn backend_for(&self, loopback: bool) -> &dyn PaymentBackend {
        if loopback {
            self.loopback.as_ref()
        } else {
            self.backend.as_ref()
        }
    }

    /// Send an event about a job without changing it (nothing to journal).
    pub(crate) fn notify(&self, event: Event) {
        self.lock().subscribers.emit(&event);
    }

    /// A step of the job failed: keep the failure for `status`, and send `event` (a
    /// `delayed`) when there is one to send.
    pub(crate) fn delayed(&self, no: &str, failure: LastError, event: Option<Event>) {
        crate::metrics::retry(failure.reason);
        let mut state = self.lock();
        if let Some(active) = state.active.get_mut(no) {
            active.last_error = Some(Box::new(failure));
        }
        if let Some(event) = event {
            state.subscribers.emit(&event);
        }
    }

    /// A step succeeded: forget the job's last failure if it was of that step (`printer`:
    /// the printing step, else a payment backend call).
    pub(crate) fn recovered(&self, no: &str, printer: bool) {
        let mut state = self.lock();
        if let Some(active) = state.active.get_mut(no)
            && active
                .last_error
                .as_ref()
                .is_some_and(|e| (e.reason == DelayReason::Printer) == printer)
        {
            active.last_error = None;
        }
    }

    /// `f`, unless the daemon stops first.
    pub(crate) async fn or_stop<F: Future>(&self, f: F) -> Option<F::Output> {
        tokio::select! {
            biased;
            _ = self.stop.cancelled() => None,
            out = f => Some(out),
        }
    }

    /// Sleep for `d`, or until `wake`; `None` when the daemon stops first.
    pub(crate) async fn sleep(&self, d: Duration, wake: &Notify) -> Option<()> {
        tokio::select! {
            biased;
            _ = self.stop.cancelled() => None,
            _ = wake.notified() => Some(()),
            _ = tokio::time::sleep(d) => Some(()),
        }
    }
}

impl State {
    /// A fresh state over `journal`, no job active yet.
    pub(crate) fn new(journal: Journal) -> State {
        State {
            journal,
            active: HashMap::new(),
            subscribers: Subscribers::default(),
            shutting_down: false,
        }
    }

    /// Apply `change` to an active job, commit it, then send the event it returns. The
    /// journal write happens before anyone hears of the change. A job that reaches a final
    /// state leaves the active set: it never changes again. `None` when `no` is not active.
    pub(crate) fn transition(
        &mut self,
        no: &str,
        change: impl FnOnce(&mut JobRecord) -> Option<Event>,
    ) -> Option<JobRecord> {
        self.transition_with(no, false, change)
    }

    /// [`State::transition`] for a change whose loss in a power cut costs only a repeat
    /// (a receipt printed again): committed at once, on disk with the journal's group
    /// commit (`journal::GROUP_WINDOW`), so the daemon's thread does not wait for the disk.
    pub(crate) fn transition_grouped(
        &mut self,
        no: &str,
        change: impl FnOnce(&mut JobRecord) -> Option<Event>,
    ) -> Option<JobRecord> {
        self.transition_with(no, true, change)
    }

    fn transition_with(
        &mut self,
        no: &str,
        grouped: bool,
        change: impl FnOnce(&mut JobRecord) -> Option<Event>,
    ) -> Option<JobRecord> {
        let active = self.active.get_mut(no)?;
        let mut record = JobRecord::clone(&active.record);
        let event = change(&mut record);
        record.updated_ms = clock::now_ms();
        let written = if grouped {
            self.journal.update_grouped(&record)
        } else {
            self.journal.update(&record)
        };
        active.durable = match written {
            Ok(()) => true,
            Err(e) => {
                // The event still goes out: a POS must hear of a payment even when the disk
                // is failing. Nothing is printed until the record is safe (see
                // `ensure_durable`), so a restart can never re-place a printed order.
                error!(out_trade_no = no, error = %e, "journal write failed");
                false
            }
        };
        super::metered::changed(&active.record, &record, record.updated_ms);
        *active.record = record.clone();
        if record.state.is_final() {
            self.active.remove(no);
        }
        if let Some(event) = event {
            self.subscribers.emit(&event);
        }
        Some(record)
    }

    /// The stored record of a job that is not active (its outcome is known), or
    /// `order_not_found`.
    pub(crate) fn stored(&self, no: &str) -> Result<JobRecord, ErrorBody> {
        self.journal
            .get(no)
            .map_err(|e| err(ErrorCode::Internal, e.to_string()))?
            .ok_or_else(|| not_found(no))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::jobs::fixtures::{NO, awaiting, payment};
    use crate::jobs::transitions;
    use crate::printer::Printout;
    use crate::protocol::JobState;

    /// A state over a journal in `dir` with the fixtures' placed job active.
    fn state_with_job(dir: &std::path::Path) -> State {
        let mut journal = Journal::open(dir).unwrap();
        journal.insert(&awaiting()).unwrap();
        let mut state = State::new(journal);
        let active = Active {
            record: Box::new(awaiting()),
            durable: true,
            wake: Arc::new(Notify::new()),
            last_error: None,
        };
        state.active.insert(NO.into(), active);
        state
    }

    #[test]
    fn a_change_is_journaled_and_then_sent() {
        let dir = tempfile::tempdir().unwrap();
        let mut state = state_with_job(dir.path());
        let (_, mut rx) = state.subscribers.add(Some(NO.into()));
        let changed = state.transition(NO, |r| transitions::printed(r, Printout::default()));
        let changed = changed.expect("an active job changes");
        assert_eq!(state.journal.get(NO).unwrap(), Some(changed.clone()));
        assert_eq!(*state.active[NO].record, changed);
        assert!(matches!(rx.try_recv(), Ok(Event::Printed { .. })));
        assert!(rx.try_recv().is_err(), "one event");
    }

    #[test]
    fn a_paid_job_never_changes_again() {
        let dir = tempfile::tempdir().unwrap();
        let mut state = state_with_job(dir.path());
        let (_, mut rx) = state.subscribers.add(None);
        state.transition(NO, |r| transitions::paid(r, payment(3200)));
        assert!(state.active.is_empty(), "a final job leaves the active set");
        let late = state.transition(NO, |r| {
            transitions::closed(r, Some(crate::protocol::CloseReason::Cancelled), 0)
        });
        assert_eq!(late, None, "nothing changes a paid job");
        assert_eq!(
            state.journal.get(NO).unwrap().unwrap().state,
            JobState::Paid
        );
        assert!(matches!(rx.try_recv(), Ok(Event::Paid { .. })));
        assert!(rx.try_recv().is_err(), "no closed event after paid");
    }

    #[test]
    fn a_finished_job_is_answered_from_the_journal() {
        let dir = tempfile::tempdir().unwrap();
        let mut state = state_with_job(dir.path());
        state.transition(NO, |r| transitions::closed(r, None, r.expire_ms));
        assert_eq!(state.stored(NO).unwrap().state, JobState::Closed);
        let unknown = state.stored("T9999").unwrap_err();
        assert_eq!(unknown.code, ErrorCode::OrderNotFound);
    }
}

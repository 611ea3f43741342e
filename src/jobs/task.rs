//! The task of one job: place the order, print the receipt, then poll (`polling.rs`)
//! until it is paid or closed. This file owns the placement and its retries.
//!
//! The driver only decides *when*; *what* a change is comes from `transitions.rs`, and
//! every change goes through [`Shared::transition`] (journal first, then the event).

use std::sync::Arc;
use std::time::Duration;

use tokio::sync::Notify;
use tokio::time::Instant;
use tracing::{debug, info, warn};

use super::delays::{Delays, delay_error, last_error, unavailable};
use super::polling::{finish_closed, poll};
use super::printing::{Early, Printing, print_attempt_with, queue_early};
use super::refusals::wechatpay_refused;
use super::state::Shared;
use super::transitions;
use crate::clock;
use crate::payment::PaymentError;
use crate::protocol::PrintState;

/// The longest pause between two attempts at a failing backend call.
const MAX_BACKOFF: Duration = Duration::from_secs(30);

/// Exponential back-off with jitter: 1 s, 2 s, 4 s … up to [`MAX_BACKOFF`].
pub(crate) fn backoff(attempt: u32) -> Duration {
    let base = Duration::from_secs(1 << attempt.min(5)).min(MAX_BACKOFF);
    base + Duration::from_millis(fastrand::u64(0..250))
}

/// How a job's task starts.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Start {
    /// A checkout just journaled: nothing was sent to WeChat Pay for it yet.
    New,
    /// A job of the journal, resumed after a restart: an attempt before the restart may
    /// have reached WeChat Pay, so while it is `ordering` its order may exist there.
    Resumed,
}

/// The task of one job: place, print, poll, close. Returns when the job is final or the
/// daemon stops (the journal then holds where it was, and the next start resumes it).
pub(crate) async fn drive(shared: Arc<Shared>, no: String, wake: Arc<Notify>, start: Start) {
    if run(&shared, &no, &wake, start).await.is_none() {
        debug!(out_trade_no = %no, "job paused for shutdown");
    }
}

async fn run(shared: &Shared, no: &str, wake: &Notify, start: Start) -> Option<()> {
    // The order may exist at WeChat Pay from any attempt up to now (a placement whose
    // answer was lost, or one made before a restart): its age counts from the latest.
    let mut last_attempt_ms = clock::now_ms();
    // The placement and the first print are boxed, each only while it runs: a job's task
    // is as large as its largest step, and a thousand pending jobs spend their life in
    // `poll` (its size is checked in `jobs::tests`).
    let early = Box::pin(place(shared, no, wake, &mut last_attempt_ms, start)).await?;
    let mut printing = Printing::default();
    Box::pin(print_attempt_with(shared, no, &mut printing, early)).await;
    poll(shared, no, wake, last_attempt_ms, &mut printing).await
}

/// Place the order, retrying the identical request while the outcome is unknown. The POS
/// hears `delayed` while attempts fail; without a verified answer within `place_timeout`
/// the checkout fails (`wechatpay_unavailable`). A placement answered now hands back its
/// receipt, queued at the printer behind a shut gate: the printer asks its status while
/// the `code_url` is written to disk, and prints only once the job releases it. A job
/// resumed while `ordering` may have been placed before the restart: a final failure then
/// closes its order at WeChat Pay instead of assuming it never existed.
async fn place(
    shared: &Shared,
    no: &str,
    wake: &Notify,
    last_attempt_ms: &mut i64,
    start: Start,
) -> Option<Option<Early>> {
    let mut attempt = 0;
    let mut delays = Delays::new(Instant::now(), shared.config.place_timeout);
    delays.maybe_placed = start == Start::Resumed;
    loop {
        let record = shared.record(no)?;
        let Some(order) = transitions::next_placement(&record, clock::now_ms()) else {
            return Some(None);
        };
        let answer = tokio::select! {
            biased;
            answer = shared.or_stop(shared.backend_of(&record).place(&order)) => answer,
            () = tokio::time::sleep_until(delays.deadline()) => {
                // Given up mid-attempt: the order may exist.
                *last_attempt_ms = clock::now_ms();
                delays.maybe_placed = true;
                give_up(shared, no, &delays);
                return Some(None);
            }
        };
        // The order may have been created at any moment up to the answer (or the lack of
        // one): count its age from the latest, so a close is never early.
        *last_attempt_ms = clock::now_ms();
        match answer? {
            Ok(placed) => {
                info!(out_trade_no = no, code_url = %placed.code_url, "order placed");
                let placed_ms = *last_attempt_ms;
                shared.recovered(no, false);
                let early = queue_early(shared, &record, &placed.code_url);
                // A receipt queued now goes out right after this commit: the note that its
                // print started rides the code_url's commit (one sync on the path, not a
                // sync and a commit).
                let noted = early.is_some();
                shared.transition(no, |r| {
                    let event = transitions::placed(r, placed.code_url, placed_ms);
                    if noted && r.print == PrintState::Pending {
                        r.print_started_ms = Some(placed_ms);
                    }
                    event
                });
                return Some(early);
            }
            Err(e) => {
                if on_placement_error(shared, no, e.clone(), attempt, &delays) {
                    return Some(None);
                }
                let pause = backoff(attempt);
                let now = Instant::now();
                if let Some((reason, event)) = delays.failed(&e, now, pause, (no, record.state)) {
                    let error = delays.latest.clone().unwrap_or_else(|| delay_error(&e));
                    shared.delayed(no, last_error(reason, error), event);
                }
                let left = delays.deadline().saturating_duration_since(now);
                if left.is_zero() {
                    give_up(shared, no, &delays);
                    return Some(None);
                }
                shared.sleep(pause.min(left), wake).await?;
                attempt += 1;
            }
        }
    }
}

/// No verified answer within `place_timeout`: the checkout fails. An order that may exist
/// at WeChat Pay is closed in the background (the job goes on as a cancel).
fn give_up(shared: &Shared, no: &str, delays: &Delays) {
    let background = delays.maybe_placed;
    let error = unavailable(delays.limit(), delays.latest.as_ref(), background);
    warn!(
        out_trade_no = no,
        background, "no verified answer from WeChat Pay in time; the checkout fails"
    );
    if background {
        shared.transition(no, |r| transitions::abandoned(r, error));
    } else {
        shared.transition(no, |r| transitions::refused(r, error));
    }
}

/// Act on a failed placement: `true` when the job has its answer, `false` to retry the
/// identical request. A refusal after attempts that may have created the order fails the
/// checkout but closes the order in the background.
fn on_placement_error(
    shared: &Shared,
    no: &str,
    e: PaymentError,
    attempt: u32,
    delays: &Delays,
) -> bool {
    match e {
        PaymentError::OrderClosed(_) => {
            // Closed at WeChat Pay before we could place it again: it cannot be paid.
            finish_closed(shared, no, None);
            true
        }
        PaymentError::Rejected {
            code,
            message,
            request_id,
        } => {
            warn!(out_trade_no = no, %code, %message, request_id = request_id.as_deref().unwrap_or("none"), "order refused");
            let error = wechatpay_refused(code, message, request_id);
            if delays.maybe_placed {
                shared.transition(no, |r| transitions::abandoned(r, error));
            } else {
                shared.transition(no, |r| transitions::refused(r, error));
            }
            true
        }
        PaymentError::OrderPaid(_) => {
            // Placed and paid before we heard back: the poll loop reports it.
            shared.transition(no, transitions::placed_and_paid);
            true
        }
        e => {
            warn!(out_trade_no = no, error = %e, attempt, "placing the order failed; retrying the identical request");
            false
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::jobs::fixtures::{self, CODE_URL, NO, Scripted, journaled, ordering_now};
    use crate::jobs::record::place_order;
    use crate::journal::JobRecord;
    use crate::payment::Placed;
    use crate::protocol::{CloseReason, JobState};

    fn transient() -> PaymentError {
        PaymentError::Transient {
            message: "connection reset".into(),
            request_id: None,
        }
    }

    fn rejected(code: &str) -> PaymentError {
        PaymentError::Rejected {
            code: code.into(),
            message: "refused".into(),
            request_id: Some("req-1".into()),
        }
    }

    /// Runs the placement of the fixtures' new job against `answers`; returns the backend
    /// and the `Shared`, to look at what happened.
    async fn place_with(
        record: &JobRecord,
        answers: Vec<Result<Placed, PaymentError>>,
        dir: &std::path::Path,
    ) -> (Arc<Scripted>, Shared) {
        place_from(Start::New, record, answers, dir).await
    }

    /// [`place_with`] for a task started as `start`.
    async fn place_from(
        start: Start,
        record: &JobRecord,
        answers: Vec<Result<Placed, PaymentError>>,
        dir: &std::path::Path,
    ) -> (Arc<Scripted>, Shared) {
        let backend = Arc::new(Scripted::default());
        backend.place.lock().unwrap().extend(answers);
        let (shared, wake) = fixtures::shared(backend.clone(), dir, record.clone());
        let mut last_attempt_ms = 0;
        place(&shared, NO, &wake, &mut last_attempt_ms, start).await;
        assert!(
            last_attempt_ms >= record.created_ms,
            "the latest attempt is noted"
        );
        (backend, shared)
    }

    #[test]
    fn backoff_doubles_up_to_thirty_seconds() {
        for (attempt, secs) in [(0, 1), (1, 2), (3, 8), (4, 16), (5, 30), (9, 30)] {
            let pause = backoff(attempt);
            let base = Duration::from_secs(secs);
            assert!(
                pause >= base && pause < base + Duration::from_millis(250),
                "{attempt}"
            );
        }
    }

    #[tokio::test(start_paused = true)]
    async fn a_failed_placement_is_retried_with_the_identical_order() {
        let dir = tempfile::tempdir().unwrap();
        let record = ordering_now();
        let placed = Placed {
            code_url: CODE_URL.into(),
        };
        let answers = vec![Err(transient()), Err(transient()), Ok(placed)];
        let (backend, shared) = place_with(&record, answers, dir.path()).await;
        let orders = backend.placed.lock().unwrap().clone();
        assert_eq!(orders.len(), 3);
        assert!(
            orders.iter().all(|o| *o == place_order(&record)),
            "{orders:?}"
        );
        let r = journaled(&shared);
        assert_eq!(r.state, JobState::AwaitingPayment);
        assert_eq!(r.code_url.as_deref(), Some(CODE_URL));
    }

    #[tokio::test(start_paused = true)]
    async fn a_refused_order_fails_and_is_not_placed_again() {
        let dir = tempfile::tempdir().unwrap();
        let record = ordering_now();
        let (backend, shared) =
            place_with(&record, vec![Err(rejected("PARAM_ERROR"))], dir.path()).await;
        assert_eq!(backend.placed.lock().unwrap().len(), 1);
        let r = journaled(&shared);
        assert_eq!(r.state, JobState::Failed);
        let error = r.error.expect("the refusal is kept");
        assert_eq!(error.wechatpay_code.as_deref(), Some("PARAM_ERROR"));
        assert_eq!(error.request_id.as_deref(), Some("req-1"));
    }

    #[tokio::test(start_paused = true)]
    async fn a_job_resumed_while_ordering_is_closed_not_dropped_when_refused() {
        // Before the restart a placement may have created the order: refused now, the
        // checkout fails but the order is closed at WeChat Pay, as after a lost answer.
        let dir = tempfile::tempdir().unwrap();
        let record = ordering_now();
        let refused = vec![Err(rejected("NO_AUTH"))];
        let (backend, shared) = place_from(Start::Resumed, &record, refused, dir.path()).await;
        assert_eq!(backend.placed.lock().unwrap().len(), 1);
        let r = journaled(&shared);
        assert_eq!(r.state, JobState::Cancelling, "closed in the background");
        let error = r.error.expect("the refusal is kept");
        assert_eq!(error.wechatpay_code.as_deref(), Some("NO_AUTH"));
    }

    #[tokio::test(start_paused = true)]
    async fn an_order_closed_at_wechat_pay_before_its_placement_is_closed() {
        let dir = tempfile::tempdir().unwrap();
        let record = ordering_now();
        let closed = PaymentError::OrderClosed(NO.into());
        let (_, shared) = place_with(&record, vec![Err(closed)], dir.path()).await;
        let r = journaled(&shared);
        assert_eq!(
            (r.state, r.close_reason),
            (JobState::Closed, Some(CloseReason::Remote))
        );
    }

    #[tokio::test(start_paused = true)]
    async fn an_order_paid_before_its_placement_answer_is_left_to_the_poll() {
        let dir = tempfile::tempdir().unwrap();
        let record = ordering_now();
        let answers = vec![Err(PaymentError::OrderPaid(NO.into()))];
        let (backend, shared) = place_with(&record, answers, dir.path()).await;
        assert_eq!(backend.placed.lock().unwrap().len(), 1);
        assert_eq!(journaled(&shared).state, JobState::AwaitingPayment);
    }
}

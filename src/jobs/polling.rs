//! Polling a placed order until it is paid or closed, and closing it on expiry or cancel —
//! never younger than `close_min_age`, and with a query on either side of the close, so
//! that a payment racing the close is reported as paid.
//!
//! [`Poller`]'s schedule, close timing and back-off are the loop's arithmetic, and
//! [`outcome`] reads a query around a close; those are pure. [`Poller::apply`] commits what a
//! query said (through the journal), and [`poll`] and [`close`] do the rest of the I/O.

use std::time::Duration;

use tokio::sync::Notify;
use tokio::time::Instant;
use tracing::{info, warn};

use super::config::JobsConfig;
use super::config::PollSchedule;
use super::delays::{Delays, delay_error, last_error};
use super::printing::{Printing, print_attempt};
use super::state::Shared;
use super::task::backoff;
use super::transitions;
use crate::clock;
use crate::journal::JobRecord;
use crate::payment::{Payment, PaymentError, TradeState};
use crate::protocol::{CloseReason, JobState};

/// The poll loop's arithmetic. Pure: the loop passes the time.
pub(crate) struct Poller {
    schedule: PollSchedule,
    close_min_age: i64,
    /// The latest placement attempt: the order may exist at WeChat Pay from then on.
    last_attempt_ms: i64,
    /// Rate-limit answers in a row (back off: WeChat Pay asks for it). Other failed queries
    /// keep the schedule: the client already retried them, and an answer that did not
    /// verify is simply asked again.
    rate_limited: u32,
    /// Failed closes in a row (back off).
    failed_closes: u32,
    /// Failed queries, and when the POS last heard of them.
    delays: Delays,
}

impl Poller {
    pub(crate) fn new(config: &JobsConfig, last_attempt_ms: i64) -> Poller {
        Poller {
            schedule: config.poll,
            close_min_age: clock::ms(config.close_min_age),
            last_attempt_ms,
            rate_limited: 0,
            failed_closes: 0,
            // Polling never gives up on a placed order: no deadline.
            delays: Delays::new(Instant::now(), Duration::MAX),
        }
    }

    /// When the order may be closed. WeChat Pay's rule: never close an order younger than
    /// `close_min_age`, counted from the latest moment it may have been created.
    pub(crate) fn close_at(&self, record: &JobRecord) -> i64 {
        // One millisecond more: both instants are whole milliseconds (truncated), so the
        // real age at `close_at` is then never below `close_min_age`.
        record
            .placed_ms
            .unwrap_or(self.last_attempt_ms)
            .max(self.last_attempt_ms)
            + self.close_min_age
            + 1
    }

    /// Whether the order is to be closed at `now_ms`: it is cancelled or expired.
    fn wants_close(record: &JobRecord, now_ms: i64) -> bool {
        record.state == JobState::Cancelling || now_ms >= record.expire_ms
    }

    /// Whether to close the order at `now_ms`: wanted, and old enough.
    pub(crate) fn close_now(&self, record: &JobRecord, now_ms: i64) -> bool {
        Self::wants_close(record, now_ms) && now_ms >= self.close_at(record)
    }

    /// The pause before the next query of a job in `state`, `elapsed` after polling began:
    /// `paying` while the customer confirms, `fast` in the fast window, then `slow`; longer
    /// while the backend rate-limits us.
    pub(crate) fn next_wait(&self, state: JobState, elapsed: Duration) -> Duration {
        let wait = if state == JobState::UserPaying {
            self.schedule.paying
        } else if elapsed < self.schedule.fast_window {
            self.schedule.fast
        } else {
            self.schedule.slow
        };
        if self.rate_limited > 0 {
            wait.max(backoff(self.rate_limited))
        } else {
            wait
        }
    }

    /// How long to sleep at `now_ms` before the next query due after `wait`: cut short at
    /// the deadline (the close falling due, else `time_expire`), which is then returned too.
    pub(crate) fn pause(
        &self,
        record: &JobRecord,
        now_ms: i64,
        wait: Duration,
    ) -> (Duration, Option<i64>) {
        let due = if Self::wants_close(record, now_ms) {
            self.close_at(record)
        } else {
            record.expire_ms
        };
        let until_due = Duration::from_millis(u64::try_from(due - now_ms).unwrap_or(0));
        if until_due <= wait {
            (until_due, Some(due))
        } else {
            (wait, None)
        }
    }

    /// A close did not settle the order: the pause before the next attempt.
    pub(crate) fn close_failed(&mut self) -> Duration {
        let pause = backoff(self.failed_closes);
        self.failed_closes += 1;
        pause
    }

    /// Act on the answer to a query of `record`'s order; `true` when the job is over.
    fn apply(
        &mut self,
        shared: &Shared,
        record: &JobRecord,
        answer: Result<TradeState, PaymentError>,
    ) -> bool {
        let no = record.out_trade_no.as_str();
        match answer {
            Ok(TradeState::Paid(payment)) => {
                finish_paid(shared, no, payment);
                return true;
            }
            Ok(TradeState::Closed) => {
                finish_closed(shared, no, None);
                return true;
            }
            Ok(TradeState::UserPaying) => {
                self.rate_limited = 0;
                shared.transition(no, transitions::user_paying);
            }
            Ok(TradeState::NotPay) => {
                self.rate_limited = 0;
                if record.state == JobState::UserPaying {
                    shared.transition(no, transitions::not_paying);
                }
            }
            Err(e) => {
                if e == PaymentError::RateLimited {
                    warn!(
                        out_trade_no = no,
                        "rate limited by the payment backend; slowing down"
                    );
                    self.rate_limited += 1;
                } else {
                    warn!(out_trade_no = no, error = %e, "query failed; will query again");
                }
                self.tell(shared, record, &e);
                return false;
            }
        }
        shared.recovered(no, false);
        false
    }

    /// A query failed: keep it for `status`, and tell the POS (at most every few seconds).
    fn tell(&mut self, shared: &Shared, record: &JobRecord, e: &PaymentError) {
        let retry_in = self.next_wait(record.state, Duration::ZERO);
        let job = (record.out_trade_no.as_str(), record.state);
        if let Some((reason, event)) = self.delays.failed(e, Instant::now(), retry_in, job) {
            let error = self.delays.latest.clone().unwrap_or_else(|| delay_error(e));
            shared.delayed(&record.out_trade_no, last_error(reason, error), event);
        }
    }
}

/// Poll until the order is paid or closed; close it on expiry or cancel, when allowed.
pub(crate) async fn poll(
    shared: &Shared,
    no: &str,
    wake: &Notify,
    last_attempt_ms: i64,
    printing: &mut Printing,
) -> Option<()> {
    let mut poller = Poller::new(&shared.config, last_attempt_ms);
    let started = Instant::now();
    loop {
        let record = shared.record(no)?;
        let now = clock::now_ms();
        if poller.close_now(&record, now) {
            match shared.or_stop(close(shared, &record)).await? {
                Closing::Settled => return Some(()),
                Closing::Retry => {
                    shared.sleep(poller.close_failed(), wake).await?;
                    continue;
                }
            }
        }

        // Sleep until the next query, or until the close becomes due.
        let mut wait = poller.next_wait(record.state, started.elapsed());
        // A receipt waiting for the printer is tried again on its own schedule.
        if let Some(print_in) = printing.wait(&record) {
            if print_in.is_zero() {
                print_attempt(shared, no, printing).await;
                continue;
            }
            wait = wait.min(print_in);
        }
        let (pause, deadline) = poller.pause(&record, now, wait);
        shared.sleep(pause, wake).await?;
        if shared.record(no).is_none() {
            return Some(()); // settled meanwhile (a payment notification): polling stops
        }
        if deadline.is_some_and(|due| clock::now_ms() >= due) {
            continue; // time to close: the top of the loop does it
        }
        if record.state == JobState::Ordering && record.code_url.is_none() {
            continue; // nothing placed: nothing to query
        }

        let answer = shared.or_stop(shared.backend_of(&record).query(no)).await?;
        if poller.apply(shared, &record, answer) {
            return Some(());
        }
    }
}

/// What a close attempt achieved.
pub(crate) enum Closing {
    /// The job is final (closed, or paid after all).
    Settled,
    /// Try again later.
    Retry,
}

/// What a query made around a close settles.
#[derive(Debug, PartialEq)]
pub(crate) enum Outcome {
    Paid(Payment),
    Closed,
}

/// What a query's `answer` settles around a close (`closed`: whether the close call itself
/// succeeded). A payment always wins, so one that raced the close is reported as paid; an
/// order WeChat Pay no longer knows is closed only if our close went through. Anything
/// else settles nothing: try again.
pub(crate) fn outcome(answer: &Result<TradeState, PaymentError>, closed: bool) -> Option<Outcome> {
    match answer {
        Ok(TradeState::Paid(payment)) => Some(Outcome::Paid(payment.clone())),
        Ok(TradeState::Closed) => Some(Outcome::Closed),
        Err(PaymentError::OrderNotFound(_)) if closed => Some(Outcome::Closed),
        _ => None,
    }
}

/// Close the order: query first (it may be paid), close, then query once more — a payment
/// that raced the close wins.
pub(crate) async fn close(shared: &Shared, record: &JobRecord) -> Closing {
    let no = record.out_trade_no.as_str();
    let reason = transitions::close_reason(record);
    let backend = shared.backend_of(record);
    if let Some(outcome) = outcome(&backend.query(no).await, false) {
        finish(shared, no, outcome, reason);
        return Closing::Settled;
    }
    let closed = match backend.close(no).await {
        Ok(()) => true,
        // Never created (cancelled or expired before placement went through).
        Err(PaymentError::OrderNotFound(_)) => true,
        Err(e) => {
            warn!(out_trade_no = no, error = %e, "close failed; querying the order");
            false
        }
    };
    let answer = backend.query(no).await;
    if let Some(outcome) = outcome(&answer, closed) {
        finish(shared, no, outcome, reason);
        return Closing::Settled;
    }
    match answer {
        Ok(state) => warn!(
            out_trade_no = no,
            ?state,
            closed,
            "order still open after close; retrying"
        ),
        Err(e) => warn!(out_trade_no = no, error = %e, "query after close failed; retrying"),
    }
    Closing::Retry
}

fn finish(shared: &Shared, no: &str, outcome: Outcome, reason: CloseReason) {
    match outcome {
        Outcome::Paid(payment) => finish_paid(shared, no, payment),
        Outcome::Closed => finish_closed(shared, no, Some(reason)),
    }
}

/// The order is paid: report it.
pub(crate) fn finish_paid(shared: &Shared, no: &str, payment: Payment) {
    info!(out_trade_no = no, transaction_id = %payment.transaction_id, "paid");
    shared.transition(no, |r| transitions::paid(r, payment));
}

/// The order is closed, for `reason` (or the one the record implies, see
/// [`transitions::closed`]).
pub(crate) fn finish_closed(shared: &Shared, no: &str, reason: Option<CloseReason>) {
    shared.transition(no, |r| transitions::closed(r, reason, clock::now_ms()));
}

#[cfg(test)]
mod tests {
    use std::sync::Arc;

    use super::*;
    use crate::jobs::fixtures::{
        self, MINUTE, NO, SECOND, Scripted, T0, awaiting, cancelling, journaled, payment,
    };

    const S: Duration = Duration::from_secs(1);

    /// A poller for a job placed at [`T0`], with the production schedule and a
    /// five-minute `close_min_age`.
    fn poller() -> Poller {
        Poller::new(&fixtures::config(), T0)
    }

    #[test]
    fn next_wait_follows_the_schedule() {
        let p = poller();
        let cases = [
            (JobState::AwaitingPayment, Duration::ZERO, S),
            (JobState::AwaitingPayment, 59 * S, S),
            (JobState::AwaitingPayment, 60 * S, 10 * S),
            (JobState::Cancelling, 30 * S, S),
            (JobState::Cancelling, 120 * S, 10 * S),
            (JobState::UserPaying, 600 * S, S),
        ];
        for (state, elapsed, wait) in cases {
            assert_eq!(
                p.next_wait(state, elapsed),
                wait,
                "{state:?} after {elapsed:?}"
            );
        }
    }

    #[test]
    fn rate_limits_slow_the_queries_down() {
        let mut p = poller();
        p.rate_limited = 3;
        let wait = p.next_wait(JobState::UserPaying, Duration::ZERO);
        assert!((8 * S..9 * S).contains(&wait), "{wait:?}");
        p.rate_limited = 1;
        let wait = p.next_wait(JobState::AwaitingPayment, 120 * S);
        assert_eq!(wait, 10 * S, "the schedule when it is slower");
    }

    #[test]
    fn a_cancel_younger_than_close_min_age_keeps_polling_and_closes_once_allowed() {
        let p = poller();
        let r = cancelling();
        let allowed = T0 + 5 * MINUTE + 1; // + 1 ms: whole milliseconds, never early
        assert_eq!(p.close_at(&r), allowed);
        assert!(!p.close_now(&r, T0 + 5 * MINUTE), "not a millisecond early");
        assert!(!p.close_now(&r, T0 + MINUTE), "too young to close");
        assert_eq!(p.pause(&r, T0 + MINUTE, S), (S, None), "the queries go on");
        let (pause, deadline) = p.pause(&r, allowed - 300, S);
        assert_eq!(
            pause,
            Duration::from_millis(300),
            "wakes when the close is allowed"
        );
        assert_eq!(deadline, Some(allowed));
        assert!(p.close_now(&r, allowed));
    }

    #[test]
    fn the_close_age_counts_from_the_latest_placement_attempt() {
        let r = cancelling(); // placed at T0
        let later = Poller::new(&fixtures::config(), T0 + 20 * SECOND);
        assert_eq!(later.close_at(&r), T0 + 20 * SECOND + 5 * MINUTE + 1);
        let mut never_placed = cancelling();
        never_placed.placed_ms = None;
        assert_eq!(poller().close_at(&never_placed), T0 + 5 * MINUTE + 1);
    }

    #[test]
    fn an_unpaid_order_is_closed_at_time_expire() {
        let p = poller();
        let r = awaiting();
        let expire = r.expire_ms;
        assert!(!p.close_now(&r, expire - 1));
        assert_eq!(
            p.pause(&r, expire - 400, S).1,
            Some(expire),
            "wakes at expiry"
        );
        assert_eq!(p.pause(&r, expire - 2 * SECOND, S), (S, None));
        assert!(p.close_now(&r, expire));
    }

    #[test]
    fn failed_closes_back_off() {
        let mut p = poller();
        let pauses: Vec<u64> = (0..7).map(|_| p.close_failed().as_secs()).collect();
        assert_eq!(pauses, [1, 2, 4, 8, 16, 30, 30]);
    }

    #[test]
    fn a_query_that_says_paid_settles_as_paid_before_or_after_the_close() {
        let paid = Ok(TradeState::Paid(payment(3200)));
        for closed in [false, true] {
            assert_eq!(outcome(&paid, closed), Some(Outcome::Paid(payment(3200))));
        }
        assert_eq!(
            outcome(&Ok(TradeState::Closed), false),
            Some(Outcome::Closed)
        );
    }

    #[test]
    fn an_unknown_order_is_closed_only_once_our_close_went_through() {
        let unknown = Err(PaymentError::OrderNotFound(NO.into()));
        assert_eq!(outcome(&unknown, true), Some(Outcome::Closed));
        assert_eq!(outcome(&unknown, false), None);
    }

    #[test]
    fn an_open_order_or_a_failed_query_settles_nothing() {
        let answers = [
            Ok(TradeState::NotPay),
            Ok(TradeState::UserPaying),
            Err(PaymentError::RateLimited),
            Err(PaymentError::Transient {
                message: "timeout".into(),
                request_id: None,
            }),
        ];
        for answer in answers {
            assert_eq!(outcome(&answer, true), None, "{answer:?}");
        }
    }

    #[tokio::test]
    async fn a_payment_that_races_the_close_is_reported_as_paid() {
        let dir = tempfile::tempdir().unwrap();
        let backend = Arc::new(Scripted::default());
        backend
            .query
            .lock()
            .unwrap()
            .extend([Ok(TradeState::NotPay), Ok(TradeState::Paid(payment(3200)))]);
        backend.close.lock().unwrap().push_back(Ok(()));
        let (shared, _wake) = fixtures::shared(backend.clone(), dir.path(), cancelling());
        let closing = close(&shared, &cancelling()).await;
        assert!(matches!(closing, Closing::Settled));
        assert_eq!(*backend.calls.lock().unwrap(), ["query", "close", "query"]);
        let r = journaled(&shared);
        assert_eq!(r.state, JobState::Paid, "the payment wins");
        assert_eq!(r.close_reason, None);
        assert!(shared.record(NO).is_none(), "over");
    }

    #[tokio::test]
    async fn an_order_still_open_after_the_close_is_closed_again_later() {
        let dir = tempfile::tempdir().unwrap();
        let backend = Arc::new(Scripted::default()); // queries: NOTPAY; close: fails
        let (shared, _wake) = fixtures::shared(backend.clone(), dir.path(), cancelling());
        let closing = close(&shared, &cancelling()).await;
        assert!(matches!(closing, Closing::Retry));
        assert_eq!(journaled(&shared).state, JobState::Cancelling);
        backend.close.lock().unwrap().push_back(Ok(()));
        backend
            .query
            .lock()
            .unwrap()
            .extend([Ok(TradeState::NotPay), Ok(TradeState::Closed)]);
        assert!(matches!(
            close(&shared, &cancelling()).await,
            Closing::Settled
        ));
        let r = journaled(&shared);
        assert_eq!(
            (r.state, r.close_reason),
            (JobState::Closed, Some(CloseReason::Cancelled))
        );
    }
}

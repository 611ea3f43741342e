use std::sync::Arc;

use super::*;
use crate::jobs::fixtures::{
    self, MINUTE, NO, SECOND, Scripted, T0, awaiting, cancelling, journaled, payment,
};
use crate::protocol::CloseReason;

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

#[test]
fn the_schedule_counts_from_the_placement_so_a_resumed_old_order_polls_slowly() {
    let p = poller();
    let r = awaiting(); // placed at T0
    assert_eq!(p.age(&r, T0 + 30 * SECOND), 30 * S);
    let age = p.age(&r, T0 + 5 * MINUTE);
    assert_eq!(p.next_wait(r.state, age), 10 * S, "not a fast window again");
}

#[test]
fn a_new_paying_or_cancelled_order_is_queried_first_and_old_ones_in_turn() {
    let p = poller();
    assert_eq!(p.lane(&awaiting(), T0 + 59 * SECOND), Lane::Urgent);
    assert_eq!(p.lane(&awaiting(), T0 + 60 * SECOND), Lane::Background);
    assert_eq!(p.lane(&cancelling(), T0 + 9 * MINUTE), Lane::Urgent);
    let paying = JobRecord {
        state: JobState::UserPaying,
        ..awaiting()
    };
    assert_eq!(p.lane(&paying, T0 + 9 * MINUTE), Lane::Urgent);
}

#[test]
fn the_first_queries_of_resumed_old_orders_are_spread_out() {
    let p = poller();
    let old = 5 * 60 * S;
    assert_eq!(p.first_wait(10 * S, old, 0.25), Duration::from_millis(2500));
    assert_eq!(p.first_wait(10 * S, old, 0.0), Duration::ZERO);
    assert_eq!(
        p.first_wait(S, 2 * S, 0.25),
        S,
        "a new order keeps its schedule"
    );
}

//! Closing an order: query, close, query — a payment that raced the close wins — and
//! finishing a job as paid or closed. Queries of an expired order take their turn in the
//! query budget; a cancelled one (a cashier waits) does not queue.

use tracing::{info, warn};

use super::Lane;
use crate::clock;
use crate::jobs::slips;
use crate::jobs::state::Shared;
use crate::jobs::transitions;
use crate::journal::JobRecord;
use crate::payment::{Payment, PaymentError, TradeState};
use crate::protocol::{CloseReason, JobState};

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

/// Query `record`'s order: in its turn in the query budget when `lane` is given, at once
/// otherwise. A 429 slows the budget down.
async fn query(
    shared: &Shared,
    record: &JobRecord,
    lane: Option<Lane>,
) -> Result<TradeState, PaymentError> {
    let permit = match lane {
        Some(lane) => Some(shared.queries.take(lane).await),
        None => None,
    };
    let answer = shared.backend_of(record).query(&record.out_trade_no).await;
    if let (Some(permit), Err(PaymentError::RateLimited)) = (permit, &answer) {
        permit.rate_limited();
    }
    answer
}

/// Close the order: query first (it may be paid), close, then query once more — a payment
/// that raced the close wins. A cancelled order (a cashier waits) goes at once; an expired
/// one takes its turns in the query budget.
pub(crate) async fn close(shared: &Shared, record: &JobRecord) -> Closing {
    let no = record.out_trade_no.as_str();
    let reason = transitions::close_reason(record);
    let backend = shared.backend_of(record);
    let lane = (record.state != JobState::Cancelling).then_some(Lane::Background);
    if let Some(outcome) = outcome(&query(shared, record, lane).await, false) {
        finish(shared, no, outcome, reason);
        return Closing::Settled;
    }
    let permit = match lane {
        Some(lane) => Some(shared.queries.take(lane).await),
        None => None,
    };
    let closed = match backend.close(no).await {
        Ok(()) => true,
        // Never created (cancelled or expired before placement went through).
        Err(PaymentError::OrderNotFound(_)) => true,
        Err(e) => {
            warn!(out_trade_no = no, error = %e, "close failed; querying the order");
            false
        }
    };
    drop(permit);
    let answer = query(shared, record, lane).await;
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

/// The order is paid: report it (its slip, when one is wanted, is noted in the same
/// lock and printed after the event).
pub(crate) fn finish_paid(shared: &Shared, no: &str, payment: Payment) {
    info!(out_trade_no = no, transaction_id = %payment.transaction_id, "paid");
    let mut state = shared.lock();
    let slip = slips::note_paid(&mut state, shared.config.paid_slip, no, &payment);
    state.transition(no, |r| transitions::paid(r, payment));
    if slip {
        shared.slips.notify_one();
    }
}

/// The order is closed, for `reason` (or the one the record implies, see
/// [`transitions::closed`]).
pub(crate) fn finish_closed(shared: &Shared, no: &str, reason: Option<CloseReason>) {
    shared.transition(no, |r| transitions::closed(r, reason, clock::now_ms()));
}

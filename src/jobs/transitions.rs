//! The machine itself: every change of one job's record, as a pure function of the record
//! and what happened, returning the event to send (if any). These are the money rules of
//! `mod.rs` in code, and their unit tests say them again.
//!
//! No I/O, no clock, no lock: the caller passes the time and hands the function to
//! [`super::state::State::transition`], which commits the result before the event goes out.

use tracing::{error, info};

use super::record::{paid_event, place_order};
use super::refusals::{Refused, duplicate_order};
use crate::journal::JobRecord;
use crate::payment::{Payment, PlaceOrder};
use crate::protocol::{CloseReason, ErrorBody, Event, JobState, PrintState};

/// Whether the customer can still pay with the printed QR at `now_ms`: placed, not over,
/// not expired.
pub(crate) fn payable(record: &JobRecord, now_ms: i64) -> bool {
    matches!(
        record.state,
        JobState::AwaitingPayment | JobState::UserPaying
    ) && record.code_url.is_some()
        && now_ms < record.expire_ms
}

/// A checkout repeating a known order: resumed (its `accepted`) only when its canonical
/// `request` is the stored one; other content under the same number is refused.
pub(crate) fn resume(record: &JobRecord, request: &str) -> Result<Event, Refused> {
    if record.request != request {
        let error = duplicate_order(&record.out_trade_no);
        return Err(Refused::about(record, error));
    }
    Ok(Event::Accepted {
        out_trade_no: record.out_trade_no.clone(),
        state: record.state,
        resumed: true,
    })
}

/// The order to place at `now_ms`, if the job still needs one. Only while `ordering` —
/// nothing placed, so nothing printed: WeChat Pay answers a re-placement with a new
/// `code_url` and kills the printed one — and before `time_expire`. Always the record's
/// pinned order, so that every attempt, before or after a restart, is identical.
pub(crate) fn next_placement(record: &JobRecord, now_ms: i64) -> Option<PlaceOrder> {
    // Cancelled or expired before the order was known: the poll loop closes it (closing an
    // order that was never created is harmless).
    (record.state == JobState::Ordering && now_ms < record.expire_ms).then(|| place_order(record))
}

/// The order was placed at `placed_ms`: keep its `code_url` and announce it, unless the job
/// was cancelled meanwhile (then there is no QR for this order).
pub(crate) fn placed(r: &mut JobRecord, code_url: String, placed_ms: i64) -> Option<Event> {
    r.code_url = Some(code_url.clone());
    r.placed_ms = Some(placed_ms);
    if r.state != JobState::Ordering {
        return None; // cancelled meanwhile: no QR for this order
    }
    r.state = JobState::AwaitingPayment;
    Some(Event::CodeUrl {
        out_trade_no: r.out_trade_no.clone(),
        state: r.state,
        code_url,
    })
}

/// Placed and paid before we heard back: wait for the payment, which the poll loop reports.
pub(crate) fn placed_and_paid(r: &mut JobRecord) -> Option<Event> {
    if r.state == JobState::Ordering {
        r.state = JobState::AwaitingPayment;
    }
    None
}

/// WeChat Pay refused the order for good: the job fails with its answer.
pub(crate) fn refused(r: &mut JobRecord, error: ErrorBody) -> Option<Event> {
    r.state = JobState::Failed;
    r.error = Some(error.clone());
    Some(Event::Failed {
        out_trade_no: r.out_trade_no.clone(),
        state: JobState::Failed,
        error,
    })
}

/// The receipt came out of the printer (`location`: where it went, when known).
pub(crate) fn printed(r: &mut JobRecord, location: Option<String>) -> Option<Event> {
    r.print = PrintState::Printed;
    Some(Event::Printed {
        out_trade_no: Some(r.out_trade_no.clone()),
        state: Some(r.state),
        print: PrintState::Printed,
        location,
    })
}

/// The receipt could not be printed in time; the order stays payable.
pub(crate) fn print_failed(r: &mut JobRecord, error: ErrorBody) -> Option<Event> {
    r.print = PrintState::Failed;
    r.error = Some(error.clone());
    Some(Event::Error {
        out_trade_no: Some(r.out_trade_no.clone()),
        state: Some(r.state),
        print: Some(PrintState::Failed),
        error,
    })
}

/// A query says USERPAYING: the customer is confirming (poll faster).
pub(crate) fn user_paying(r: &mut JobRecord) -> Option<Event> {
    if r.state == JobState::AwaitingPayment {
        r.state = JobState::UserPaying;
    }
    None
}

/// A query says NOTPAY again after USERPAYING: the customer gave up that attempt.
pub(crate) fn not_paying(r: &mut JobRecord) -> Option<Event> {
    if r.state == JobState::UserPaying {
        r.state = JobState::AwaitingPayment;
    }
    None
}

/// The order is paid, whatever the job was doing (a cancel or a close included): the
/// payment is reported as WeChat Pay states it.
pub(crate) fn paid(r: &mut JobRecord, payment: Payment) -> Option<Event> {
    if payment.total != r.total {
        error!(
            out_trade_no = %r.out_trade_no,
            ordered = r.total,
            paid = payment.total,
            "paid amount differs from the order; reporting what WeChat Pay says"
        );
    }
    r.state = JobState::Paid;
    r.transaction_id = Some(payment.transaction_id);
    r.success_time = Some(payment.success_time);
    r.payer_total = Some(payment.payer_total);
    r.paid_total = Some(payment.total);
    Some(paid_event(r))
}

/// The order is closed, unpaid. Without a known `reason`: cancelled if the job was
/// cancelling, expired if `now_ms` is past `time_expire`, else closed remotely.
pub(crate) fn closed(r: &mut JobRecord, reason: Option<CloseReason>, now_ms: i64) -> Option<Event> {
    let reason = reason.unwrap_or(match r.state {
        JobState::Cancelling => CloseReason::Cancelled,
        _ if now_ms >= r.expire_ms => CloseReason::Expired,
        _ => CloseReason::Remote,
    });
    info!(out_trade_no = %r.out_trade_no, reason = reason.as_str(), "closed");
    r.state = JobState::Closed;
    r.close_reason = Some(reason);
    Some(Event::Closed {
        out_trade_no: r.out_trade_no.clone(),
        state: JobState::Closed,
        reason,
    })
}

/// Why we close an order ourselves: the cashier cancelled it, or its time is up.
pub(crate) fn close_reason(record: &JobRecord) -> CloseReason {
    if record.state == JobState::Cancelling {
        CloseReason::Cancelled
    } else {
        CloseReason::Expired
    }
}

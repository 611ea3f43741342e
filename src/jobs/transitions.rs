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
use crate::printer::Printout;
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

/// The checkout failed (`error`) after attempts that may have created the order at WeChat
/// Pay: the POS hears `failed` (its checkout is over, nothing was shown to the customer),
/// while the job goes on as a cancel — queried, closed once WeChat Pay allows, reported
/// `paid` should it ever turn out paid — so that no payable order is left behind.
pub(crate) fn abandoned(r: &mut JobRecord, error: ErrorBody) -> Option<Event> {
    if r.state != JobState::Ordering {
        return None; // placed or cancelled meanwhile: the job carries on as it is
    }
    r.state = JobState::Cancelling;
    r.error = Some(error.clone());
    Some(Event::Failed {
        out_trade_no: r.out_trade_no.clone(),
        state: JobState::Cancelling,
        error,
    })
}

/// The receipt came out of the printer (`printout`: where it went and whether the printer
/// confirmed it, as far as the transport can tell).
pub(crate) fn printed(r: &mut JobRecord, printout: Printout) -> Option<Event> {
    r.print = PrintState::Printed;
    Some(Event::Printed {
        out_trade_no: Some(r.out_trade_no.clone()),
        state: Some(r.state),
        print: PrintState::Printed,
        location: printout.location,
        confirmed: printout.confirmed,
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
    if payment.total != r.amount {
        error!(
            out_trade_no = %r.out_trade_no,
            ordered = %r.amount,
            paid = %payment.total,
            "paid amount differs from the order; reporting what WeChat Pay says"
        );
    }
    r.state = JobState::Paid;
    r.transaction_id = Some(payment.transaction_id);
    r.success_time = Some(payment.success_time);
    // `paid_total` in the minor unit of the order's currency; what the customer paid in
    // their own currency (CNY on WeChat Pay Global), with the rate it was converted at.
    r.payer_total = Some(payment.payer_total.minor());
    r.payer_currency = Some(payment.payer_total.currency().clone());
    r.exchange_rate = payment.exchange_rate;
    r.paid_total = Some(payment.total.minor());
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

#[cfg(test)]
mod tests {
    use super::*;
    use crate::jobs::fixtures::{
        CODE_URL, MINUTE, NO, T0, awaiting, cancelling, ordering, payment,
    };
    use crate::money::Money;
    use crate::protocol::ErrorCode;

    #[test]
    fn a_placement_is_retried_only_with_the_identical_pinned_order() {
        let r = ordering();
        let first = next_placement(&r, T0).expect("an ordering job is placed");
        assert_eq!(
            first.request, r.place_body,
            "the request pinned at checkout"
        );
        assert_eq!(
            first.time_expire, r.time_expire,
            "time_expire fixed at checkout"
        );
        assert_eq!(first.amount, Money::cny(3200));
        let retry = next_placement(&r, T0 + MINUTE).expect("retried while ordering");
        assert_eq!(retry, first, "every attempt is the identical order");
    }

    #[test]
    fn nothing_is_placed_again_once_placed_printed_cancelled_or_expired() {
        let r = ordering();
        assert!(next_placement(&r, r.expire_ms - 1).is_some());
        assert_eq!(next_placement(&r, r.expire_ms), None, "past time_expire");
        assert_eq!(
            next_placement(&awaiting(), T0),
            None,
            "placed: a QR may be out"
        );
        let mut printed = awaiting();
        transitions_printed(&mut printed);
        assert_eq!(next_placement(&printed, T0), None, "printed");
        let mut cancelled = ordering();
        cancelled.state = JobState::Cancelling;
        assert_eq!(
            next_placement(&cancelled, T0),
            None,
            "cancelled before placing"
        );
    }

    fn transitions_printed(r: &mut JobRecord) {
        printed(r, Printout::default());
        assert_eq!(r.print, PrintState::Printed);
    }

    #[test]
    fn placing_announces_the_code_url() {
        let mut r = ordering();
        let event = placed(&mut r, CODE_URL.into(), T0 + 5);
        assert_eq!(r.state, JobState::AwaitingPayment);
        assert_eq!(r.code_url.as_deref(), Some(CODE_URL));
        assert_eq!(
            r.placed_ms,
            Some(T0 + 5),
            "the order's age counts from here"
        );
        let expected = Event::CodeUrl {
            out_trade_no: NO.into(),
            state: JobState::AwaitingPayment,
            code_url: CODE_URL.into(),
        };
        assert_eq!(event, Some(expected));
    }

    #[test]
    fn a_code_url_that_arrives_after_a_cancel_is_kept_but_never_announced() {
        let mut r = ordering();
        r.state = JobState::Cancelling;
        assert_eq!(placed(&mut r, CODE_URL.into(), T0), None, "no QR to print");
        assert_eq!(r.state, JobState::Cancelling, "still to be closed");
        assert_eq!(r.code_url.as_deref(), Some(CODE_URL));
        assert_eq!(r.placed_ms, Some(T0), "the close waits for its age");
        assert!(!payable(&r, T0), "never printed nor reprinted");
    }

    #[test]
    fn an_order_paid_before_its_placement_answer_waits_for_the_poll() {
        let mut r = ordering();
        assert_eq!(
            placed_and_paid(&mut r),
            None,
            "the poll loop reports the payment"
        );
        assert_eq!(r.state, JobState::AwaitingPayment);
        let mut c = ordering();
        c.state = JobState::Cancelling;
        placed_and_paid(&mut c);
        assert_eq!(c.state, JobState::Cancelling, "a cancel is not undone");
    }

    #[test]
    fn a_refused_order_fails_with_wechat_pays_answer() {
        let mut r = ordering();
        let error = ErrorBody::new(ErrorCode::Wechatpay, "bad appid");
        let event = refused(&mut r, error.clone());
        assert_eq!(r.state, JobState::Failed);
        assert_eq!(r.error.as_ref(), Some(&error));
        assert!(matches!(event, Some(Event::Failed { error: e, .. }) if e == error));
    }

    #[test]
    fn a_payment_wins_whatever_the_job_was_doing() {
        for state in [
            JobState::AwaitingPayment,
            JobState::UserPaying,
            JobState::Cancelling,
        ] {
            let mut r = awaiting();
            r.state = state;
            // WeChat Pay's amount is reported even when it differs from the order.
            let event = paid(&mut r, payment(3100)).expect("a paid event");
            assert_eq!(r.state, JobState::Paid, "from {state:?}");
            assert_eq!(r.transaction_id.as_deref(), Some("4200000001"));
            let Event::Paid { amount, state, .. } = event else {
                panic!("not a paid event: {event:?}");
            };
            assert_eq!(state, JobState::Paid);
            assert_eq!((amount.total, amount.payer_total), (3100, 3000));
        }
    }

    #[test]
    fn a_closed_order_says_why() {
        let expire = awaiting().expire_ms;
        let cases = [
            (cancelling(), None, T0, CloseReason::Cancelled),
            (awaiting(), None, expire, CloseReason::Expired),
            (awaiting(), None, expire - 1, CloseReason::Remote),
            (
                awaiting(),
                Some(CloseReason::Cancelled),
                expire,
                CloseReason::Cancelled,
            ),
        ];
        for (mut r, given, now, reason) in cases {
            let event = closed(&mut r, given, now);
            assert_eq!(r.state, JobState::Closed);
            assert_eq!(r.close_reason, Some(reason), "{given:?} at {now}");
            assert!(matches!(event, Some(Event::Closed { reason: r, .. }) if r == reason));
        }
        assert_eq!(close_reason(&cancelling()), CloseReason::Cancelled);
        assert_eq!(close_reason(&awaiting()), CloseReason::Expired);
    }

    #[test]
    fn userpaying_comes_and_goes_but_never_undoes_a_cancel() {
        let mut r = awaiting();
        assert_eq!(user_paying(&mut r), None);
        assert_eq!(r.state, JobState::UserPaying);
        assert_eq!(not_paying(&mut r), None);
        assert_eq!(r.state, JobState::AwaitingPayment);
        let mut c = cancelling();
        user_paying(&mut c);
        not_paying(&mut c);
        assert_eq!(c.state, JobState::Cancelling);
    }

    #[test]
    fn printing_changes_the_receipt_not_the_order() {
        let mut r = awaiting();
        let printout = Printout {
            location: Some("receipt.bin".into()),
            confirmed: Some(true),
        };
        let event = printed(&mut r, printout);
        assert_eq!(
            (r.state, r.print),
            (JobState::AwaitingPayment, PrintState::Printed)
        );
        assert!(
            matches!(event, Some(Event::Printed { location: Some(l), confirmed: Some(true), .. }) if l == "receipt.bin")
        );
        let mut f = awaiting();
        let error = ErrorBody::new(ErrorCode::Printer, "paper out");
        print_failed(&mut f, error);
        assert_eq!(
            (f.state, f.print),
            (JobState::AwaitingPayment, PrintState::Failed)
        );
        assert!(payable(&f, T0), "the order stays payable");
    }

    #[test]
    fn only_a_placed_open_unexpired_order_is_payable() {
        let r = awaiting();
        assert!(payable(&r, T0));
        assert!(!payable(&r, r.expire_ms), "past time_expire");
        assert!(!payable(&ordering(), T0), "not placed");
        assert!(!payable(&cancelling(), T0), "cancelled");
        let mut paying = awaiting();
        user_paying(&mut paying);
        assert!(payable(&paying, T0));
        let mut done = awaiting();
        paid(&mut done, payment(3200));
        assert!(!payable(&done, T0), "paid");
    }

    #[test]
    fn a_checkout_resumes_only_with_identical_content() {
        let r = awaiting();
        let accepted = resume(&r, &r.request).expect("identical content resumes");
        let expected = Event::Accepted {
            out_trade_no: NO.into(),
            state: JobState::AwaitingPayment,
            resumed: true,
        };
        assert_eq!(accepted, expected);
        let refused = resume(&r, r#"{"order":{"other":1}}"#).unwrap_err();
        assert_eq!(refused.error.code, ErrorCode::DuplicateOrder);
        assert_eq!(refused.state, Some(JobState::AwaitingPayment));
    }
}

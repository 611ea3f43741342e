//! Payment and refund slips: noted with the outcome they confirm, printed after it by one
//! task, never before and never in its way.
//!
//! - A payment slip is wanted when the checkout asked (`"slip": true`, part of its stored
//!   request) or `receipt.paid_slip` is on; a refund slip when the refund asked (`"slip":
//!   true` in its `refund` object, part of its stored request). [`note_paid`] and
//!   [`note_refund`] write the slip to the journal just before the `paid` / `refunded`
//!   record (same lock; the outcome's durable write makes both durable, no sync of its
//!   own), and the event goes out as before: the slip costs it one SQLite insert.
//! - [`run`], the slip task (one per daemon), prints every noted slip, oldest first, after
//!   the event it confirms. A printer that is not ready holds the slip like a receipt:
//!   `slip{print: pending}` once per printer state, tried again, `slip{print: failed}`
//!   after `printer.print_timeout`; printed, `slip{print: printed}`. Either way the slip is
//!   forgotten. A daemon that stops first prints it at its next start (once more, if it
//!   stopped between the print and forgetting it).
//!
//! Knows the lock, the journal's slips, the printer handle and the slips' layout
//! (`receipt::slip`); the rules of payments and refunds are elsewhere.

use std::sync::Arc;
use std::time::Duration;

use tokio::sync::Notify;
use tokio::time::Instant;
use tracing::{info, warn};

use super::record::{receipt_spec, slip_asked};
use super::refusals::err;
use super::state::{Shared, State};
use crate::clock;
use crate::journal::{JobRecord, RefundRecord, SlipRecord};
use crate::payment::Payment;
use crate::printer::{PrinterError, Printout};
use crate::protocol::{ErrorBody, ErrorCode, Event, JobState, PrintState, RefundState, SlipEvent};
use crate::receipt::{self, PaidSlip, RefundSlip};

/// Note the payment slip of active job `no`, about to be paid with `payment`, when one is
/// wanted; `true` when noted (then wake the slip task once the `paid` event is out). A
/// failed write is logged and costs only the slip.
pub(super) fn note_paid(state: &mut State, paid_slip: bool, no: &str, payment: &Payment) -> bool {
    let Some(active) = state.active.get(no) else {
        return false;
    };
    if !(paid_slip || slip_asked(&active.record)) {
        return false;
    }
    let slip = SlipRecord {
        out_trade_no: no.to_owned(),
        out_refund_no: None,
        discount: payment.discount.as_ref().map(|d| d.minor()),
        created_ms: clock::now_ms(),
    };
    insert(state, &slip)
}

/// Note the refund slip of `refund`, about to be written refunded, when its request asked
/// for one; `true` when noted.
pub(super) fn note_refund(state: &mut State, refund: &RefundRecord) -> bool {
    let asked =
        serde_json::from_str::<serde_json::Value>(&refund.request).is_ok_and(|r| r["slip"] == true);
    if !asked || refund.state != RefundState::Refunded {
        return false;
    }
    let slip = SlipRecord {
        out_trade_no: refund.out_trade_no.clone(),
        out_refund_no: Some(refund.out_refund_no.clone()),
        discount: None,
        created_ms: clock::now_ms(),
    };
    insert(state, &slip)
}

fn insert(state: &mut State, slip: &SlipRecord) -> bool {
    match state.journal.insert_slip(slip) {
        Ok(()) => true,
        Err(e) => {
            warn!(out_trade_no = %slip.out_trade_no, error = %e, "could not note the slip; it is not printed");
            false
        }
    }
}

/// The slip task: print every noted slip, then wait for the next; returns when the daemon
/// stops (a slip being printed is finished first).
pub(super) async fn run(shared: Arc<Shared>) {
    loop {
        let pending = shared.lock().journal.pending_slips();
        let pending = pending.unwrap_or_else(|e| {
            warn!(error = %e, "could not read the slips to print");
            Vec::new()
        });
        for slip in pending {
            if print(&shared, &slip).await.is_none() {
                return;
            }
        }
        tokio::select! {
            biased;
            () = shared.stop.cancelled() => return,
            () = shared.slips.notified() => {}
        }
    }
}

/// Whether a noted slip can be printed.
enum Ready {
    /// What it confirms is in the journal.
    Print,
    /// Its outcome's write failed and is to be repeated.
    Wait,
    /// Its order or refund is gone, or ended otherwise.
    Forget,
}

/// What became of a slip's attempt.
enum Outcome {
    Printed(Printout),
    Failed(ErrorBody),
}

/// Print `slip` until printed or given up; `None` when the daemon stops first (the slip
/// stays noted).
async fn print(shared: &Shared, slip: &SlipRecord) -> Option<()> {
    let Some(bytes) = bytes_of(shared, slip) else {
        return Some(());
    };
    let name = format!(
        "{}-slip",
        slip.out_refund_no.as_ref().unwrap_or(&slip.out_trade_no)
    );
    let timeout = shared.config.print_timeout;
    let retry = (timeout / 4).clamp(Duration::from_millis(10), Duration::from_secs(2));
    let (first, idle) = (Instant::now(), Notify::new());
    let mut reported = None;
    let outcome = loop {
        let e = match shared.printer.print(&name, bytes.clone()).await {
            Ok(printout) => break Outcome::Printed(printout),
            Err(PrinterError::Stopped) => return None,
            Err(e) => e,
        };
        let message = e.to_string();
        if first.elapsed() >= timeout {
            let message = format!(
                "the slip could not be printed within {}: {message}",
                humantime::format_duration(timeout)
            );
            break Outcome::Failed(err(ErrorCode::Printer, message));
        }
        if reported.as_ref() != Some(&message) {
            warn!(out_trade_no = %slip.out_trade_no, error = %message, "printer not ready; the slip waits");
            let error = err(ErrorCode::Printer, format!("{message}; the slip waits"));
            shared.notify(event(slip, PrintState::Pending, None, Some(error)));
            reported = Some(message);
        }
        shared.sleep(retry, &idle).await?;
    };
    forget(shared, slip);
    let done = match outcome {
        Outcome::Printed(printout) => {
            info!(out_trade_no = %slip.out_trade_no, out_refund_no = slip.out_refund_no.as_deref().unwrap_or(""), "slip printed");
            event(slip, PrintState::Printed, Some(printout), None)
        }
        Outcome::Failed(error) => {
            warn!(out_trade_no = %slip.out_trade_no, error = %error.message, "slip given up");
            event(slip, PrintState::Failed, None, Some(error))
        }
    };
    shared.notify(done);
    Some(())
}

fn event(
    slip: &SlipRecord,
    print: PrintState,
    printout: Option<Printout>,
    error: Option<ErrorBody>,
) -> Event {
    let printout = printout.unwrap_or_default();
    Event::Slip(Box::new(SlipEvent {
        out_trade_no: slip.out_trade_no.clone(),
        out_refund_no: slip.out_refund_no.clone(),
        print,
        location: printout.location,
        confirmed: printout.confirmed,
        error,
    }))
}

fn forget(shared: &Shared, slip: &SlipRecord) {
    if let Err(e) = shared.lock().journal.delete_slip(slip) {
        warn!(out_trade_no = %slip.out_trade_no, error = %e, "could not forget a slip; it may print again after a restart");
    }
}

/// The slip's bytes, once what it confirms is in the journal. A slip whose order or refund
/// is gone or ended otherwise is forgotten; one whose outcome is not written yet (a write
/// that failed, to be repeated) waits: `None` either way.
fn bytes_of(shared: &Shared, slip: &SlipRecord) -> Option<Vec<u8>> {
    let (order, refund) = {
        let state = shared.lock();
        let order = state.journal.get(&slip.out_trade_no).ok().flatten();
        let refund = slip
            .out_refund_no
            .as_ref()
            .map(|no| state.journal.get_refund(no).ok().flatten());
        (order, refund)
    };
    let ready = match (&order, &refund) {
        (None, _) | (_, Some(None)) => Ready::Forget,
        (Some(o), None) if o.state == JobState::Paid => Ready::Print,
        (Some(o), None) if o.state.is_final() => Ready::Forget,
        (Some(_), Some(Some(r))) if r.state == RefundState::Refunded => Ready::Print,
        (Some(_), Some(Some(r))) if r.state.is_final() => Ready::Forget,
        _ => Ready::Wait,
    };
    match ready {
        Ready::Print => {}
        Ready::Forget => {
            forget(shared, slip);
            return None;
        }
        Ready::Wait => return None,
    }
    let order = order?;
    let layout = &shared.config.layout;
    Some(match refund.flatten() {
        None => receipt::encode_paid(&paid_slip(shared, &order, slip), layout),
        Some(r) => receipt::encode_refund(&refund_slip(shared, &order, &r), layout),
    })
}

fn paid_slip(shared: &Shared, order: &JobRecord, slip: &SlipRecord) -> PaidSlip {
    PaidSlip {
        title: title(shared, order),
        out_trade_no: order.out_trade_no.clone(),
        transaction_id: order.transaction_id.clone().unwrap_or_default(),
        time: local_time(shared, order, order.success_time.as_deref()),
        total: order.paid_amount(),
        discount: slip.discount.map(|d| order.amount.with_minor(d)),
        payer_total: order.payer_amount(),
        exchange_rate: order.exchange_rate.as_ref().map(|r| r.rate),
        sandbox: shared.backend_of(order).as_sandbox().is_some(),
    }
}

fn refund_slip(shared: &Shared, order: &JobRecord, r: &RefundRecord) -> RefundSlip {
    let payer_refund = match (r.payer_refund, &r.payer_currency) {
        (Some(minor), Some(currency)) => crate::money::Money::new(minor, currency.clone()),
        (Some(minor), None) => r.amount.with_minor(minor),
        (None, _) => r.amount.clone(),
    };
    RefundSlip {
        title: title(shared, order),
        out_trade_no: order.out_trade_no.clone(),
        out_refund_no: r.out_refund_no.clone(),
        refund_id: r.refund_id.clone().unwrap_or_default(),
        time: local_time(shared, order, r.success_time.as_deref()),
        refund: r.amount.clone(),
        payer_refund,
        sandbox: shared.backend_of(order).as_sandbox().is_some(),
    }
}

/// The checkout's own title, else `receipt.title`.
fn title(shared: &Shared, order: &JobRecord) -> String {
    receipt_spec(order)
        .title
        .unwrap_or_else(|| shared.config.receipt_title.clone())
}

/// WeChat Pay's RFC 3339 time as the receipts print times: China Standard Time, the
/// daemon's one time zone (`clock`); on WeChat Pay Global, whose shops may be elsewhere, it
/// says so. A time that does not parse is printed as given.
fn local_time(shared: &Shared, order: &JobRecord, time: Option<&str>) -> String {
    let time = time.unwrap_or_default();
    let Some(ms) = clock::parse_rfc3339(time) else {
        return time.to_owned();
    };
    let local = clock::receipt_time(ms);
    if shared.backend_of(order).currency_rule().is_global() {
        format!("{local} (UTC+8)")
    } else {
        local
    }
}

#[cfg(test)]
mod tests {
    use std::sync::Arc;

    use super::*;
    use crate::jobs::fixtures::{self, NO, Scripted, awaiting, payment};
    use crate::jobs::transitions;
    use crate::money::Money;

    fn slip(discount: Option<i64>) -> SlipRecord {
        SlipRecord {
            out_trade_no: NO.into(),
            out_refund_no: None,
            discount,
            created_ms: 0,
        }
    }

    fn pending(shared: &Shared) -> usize {
        shared.lock().journal.pending_slips().unwrap().len()
    }

    #[test]
    fn a_slip_is_noted_only_when_asked_for_or_configured() {
        let dir = tempfile::tempdir().unwrap();
        let (shared, _) = fixtures::shared(Arc::new(Scripted::default()), dir.path(), awaiting());
        let mut paid = payment(3200);
        paid.discount = Some(Money::cny(100));
        let mut state = shared.lock();
        assert!(
            !note_paid(&mut state, false, NO, &paid),
            "neither asked nor configured"
        );
        assert!(
            !note_paid(&mut state, true, "T9999", &paid),
            "not an active job"
        );
        assert!(note_paid(&mut state, true, NO, &paid));
        let noted = state.journal.pending_slips().unwrap();
        assert_eq!(
            noted,
            [SlipRecord {
                created_ms: noted[0].created_ms,
                ..slip(Some(100))
            }]
        );
        let asked = r#"{"order":{"out_trade_no":"T0001","description":"Latte x2","amount":{"total":3200}},"slip":true}"#;
        state.active.get_mut(NO).unwrap().record.request = asked.into();
        state.journal.delete_slip(&noted[0]).unwrap();
        assert!(
            note_paid(&mut state, false, NO, &paid),
            "the checkout asked"
        );
    }

    #[test]
    fn a_slip_prints_once_its_order_is_paid_and_is_forgotten_if_it_never_will_be() {
        let dir = tempfile::tempdir().unwrap();
        let (shared, _) = fixtures::shared(Arc::new(Scripted::default()), dir.path(), awaiting());
        shared.lock().journal.insert_slip(&slip(Some(500))).unwrap();
        assert_eq!(
            bytes_of(&shared, &slip(Some(500))),
            None,
            "not paid yet: it waits"
        );
        assert_eq!(pending(&shared), 1);
        shared.transition(NO, |r| transitions::paid(r, payment(3200)));
        let bytes = bytes_of(&shared, &slip(Some(500))).expect("paid: printed");
        for text in ["商户单号", "-￥5.00", "4200000001"] {
            let mut e = crate::escpos::EscPos::new();
            e.text(text);
            let encoded = &e.as_bytes()[if text.is_ascii() { 0 } else { 2 }..];
            let encoded = &encoded[..encoded.len() - if text.is_ascii() { 0 } else { 2 }];
            assert!(
                crate::escpos::testing::find(&bytes, encoded).is_some(),
                "{text}"
            );
        }

        let dir = tempfile::tempdir().unwrap();
        let mut closed = awaiting();
        closed.state = JobState::Closed;
        let (shared, _) = fixtures::shared(Arc::new(Scripted::default()), dir.path(), closed);
        shared.lock().journal.insert_slip(&slip(None)).unwrap();
        assert_eq!(bytes_of(&shared, &slip(None)), None);
        assert_eq!(pending(&shared), 0, "closed unpaid: forgotten");
    }
}

//! Refunds of paid orders (`refund` op, extension): the rules, checked against the journal
//! before any call, and the [`Jobs::refund`] handle.
//!
//! ```text
//!   refund ──journal──▶ processing ──apply (pinned body, again while unknown)──▶ query …
//!                           ├──SUCCESS──▶ refunded
//!                           ├──CLOSED / refused──▶ failed     (a new refund needs a new number)
//!                           └──ABNORMAL──▶ abnormal           (the merchant platform finishes it)
//! ```
//!
//! - only a paid order is refunded, and its refunds (but failed ones) never exceed what was
//!   paid;
//! - a refund is named by its `out_refund_no`; without one it is `<out_trade_no>-R<n>`, and
//!   a request identical (amount and reason) to any unnamed refund of the order that has
//!   not failed is that refund again — also after other refunds were made since — so a POS
//!   retry never refunds twice; two unnamed refunds of one order with the same amount and
//!   reason are therefore one refund (a POS that means two names the second);
//! - the same number with the same content resumes, with other content is refused;
//! - the refund and the backend's exact request are journaled before the first call, so a
//!   crash never turns one refund into two; the task (`refund_task.rs`) repeats that
//!   request byte for byte until the outcome is known.
//!
//! Knows the lock, the journal's refunds and the wire's events; how a refund is driven is
//! `refund_task.rs`'s.

use std::sync::Arc;

use serde_json::json;
use tracing::info;

use super::refusals::{Refused, err, journal_failed, shutting_down};
use super::state::{Shared, State};
use super::{Follow, Jobs, refund_task};
use crate::clock;
use crate::journal::{JobRecord, JournalError, RefundRecord};
use crate::payment::RefundOrder;
use crate::protocol::{
    ErrorCode, Event, JobState, Refund, RefundAmount, RefundState, RefundStatus,
};

impl Jobs {
    /// `refund`: refund some or all of a paid order, or resume the identical refund.
    pub fn refund(&self, no: &str, refund: &Refund) -> Result<Follow, Refused> {
        let mut guard = self.shared.lock();
        let state = &mut *guard;
        if state.shutting_down {
            return Err(shutting_down().into());
        }
        let order = match state.active.get(no) {
            Some(a) => JobRecord::clone(&a.record),
            None => state.stored(no)?,
        };
        if order.state != JobState::Paid {
            return Err(Refused::about(&order, not_refundable(&order)));
        }
        let known = state.journal.refunds_of(no).map_err(|e| internal(&e))?;
        let request = canonical(refund);
        if let Some(same) = same_refund(state, &order, &known, refund, &request)? {
            return Ok(self.resume_refund(state, same));
        }
        check_amount(&order, &known, refund)?;
        let record = new_refund(state, &order, &known, refund, request)?;
        let record = RefundRecord {
            body: self
                .shared
                .backend_of(&order)
                .prepare_refund(&refund_order(&order, &record)),
            ..record
        };
        state
            .journal
            .insert_refund(&record)
            .map_err(|e| Refused::about(&order, journal_failed(&e)))?;
        info!(out_trade_no = no, out_refund_no = %record.out_refund_no,
              amount = %record.amount, "refund accepted");
        let accepted = accepted(&record, false);
        state.subscribers.emit_to_watchers(&accepted);
        let subscription = self.subscribe(state, Some(no.to_owned()));
        spawn(&self.shared, record.out_refund_no);
        Ok(Follow {
            initial: vec![accepted],
            subscription: Some(subscription),
        })
    }

    /// A known refund asked for again: what it is, then (while processing) what comes.
    fn resume_refund(&self, state: &mut State, record: RefundRecord) -> Follow {
        let accepted = accepted(&record, true);
        state.subscribers.emit_to_watchers(&accepted);
        let mut initial = vec![accepted];
        initial.extend(final_event(&record));
        let subscription = (!record.state.is_final())
            .then(|| self.subscribe(state, Some(record.out_trade_no.clone())));
        Follow {
            initial,
            subscription,
        }
    }

    /// Resume every refund the journal holds as processing (on start).
    pub(super) fn resume_refunds(&self) -> Result<(), JournalError> {
        let unfinished = self.shared.lock().journal.unfinished_refunds()?;
        for refund in unfinished {
            info!(out_refund_no = %refund.out_refund_no, "resuming unfinished refund");
            spawn(&self.shared, refund.out_refund_no);
        }
        Ok(())
    }
}

fn spawn(shared: &Arc<Shared>, out_refund_no: String) {
    let task = refund_task::drive(shared.clone(), out_refund_no);
    shared.tasks.spawn(task);
}

/// The refunds of order `no` as `status` lists them.
pub(super) fn refunds_status(state: &State, no: &str) -> Vec<RefundStatus> {
    let refunds = state.journal.refunds_of(no).unwrap_or_default();
    refunds.iter().map(status_of).collect()
}

fn status_of(r: &RefundRecord) -> RefundStatus {
    RefundStatus {
        out_refund_no: r.out_refund_no.clone(),
        state: r.state,
        amount: r.amount.minor(),
        currency: r.amount.currency().code().to_owned(),
        reason: r.reason.clone(),
        created_at: clock::rfc3339(r.created_ms),
        refund_id: r.refund_id.clone(),
        success_time: r.success_time.clone(),
        error: r.error.clone(),
    }
}

/// What "the same refund" means: the amount, the reason and (only when asked for, so that
/// the refunds journaled before slips existed stay the same) the refund slip.
fn canonical(refund: &Refund) -> String {
    let mut request = json!({"amount": refund.amount, "reason": refund.reason});
    if refund.slip {
        request["slip"] = true.into();
    }
    request.to_string()
}

/// The refund this request names or repeats, if it is known; a known number with other
/// content (or of another order) is refused.
fn same_refund(
    state: &State,
    order: &JobRecord,
    known: &[RefundRecord],
    refund: &Refund,
    request: &str,
) -> Result<Option<RefundRecord>, Refused> {
    let Some(no) = &refund.out_refund_no else {
        // Unnamed: the same amount and reason as any unnamed refund of the order that did
        // not fail is that refund again (a POS retry, whatever was refunded since). A failed
        // one gave nothing back: the same request then makes a new refund. Several match
        // only in a journal written before this rule: the latest is taken.
        let same = known
            .iter()
            .rev()
            .find(|r| !r.named && r.state != RefundState::Failed && r.request == request);
        return Ok(same.cloned());
    };
    let stored = state.journal.get_refund(no).map_err(|e| internal(&e))?;
    match stored {
        None => Ok(None),
        Some(r) if r.out_trade_no == order.out_trade_no && r.request == request => Ok(Some(r)),
        Some(r) => Err(Refused::about(order, duplicate_refund(&r))),
    }
}

/// The amount must fit in what is left of the paid total (failed refunds gave nothing back).
fn check_amount(order: &JobRecord, known: &[RefundRecord], refund: &Refund) -> Result<(), Refused> {
    let paid = order.paid_amount();
    let taken: i64 = known
        .iter()
        .filter(|r| r.state != RefundState::Failed)
        .map(|r| r.amount.minor())
        .sum();
    let left = paid.minor() - taken;
    if refund.amount <= left {
        return Ok(());
    }
    let mut error = err(
        ErrorCode::RefundTooLarge,
        format!(
            "refund.amount: {} is more than is left of order {:?}: {} was paid, {} is already \
             refunded or being refunded, so at most {} can be refunded",
            paid.with_minor(refund.amount),
            order.out_trade_no,
            paid,
            paid.with_minor(taken),
            paid.with_minor(left.max(0))
        ),
    );
    error.field = Some("refund.amount".into());
    Err(Refused::about(order, error))
}

/// The new refund's record, numbered.
fn new_refund(
    state: &State,
    order: &JobRecord,
    known: &[RefundRecord],
    refund: &Refund,
    request: String,
) -> Result<RefundRecord, Refused> {
    let seq = known.iter().map(|r| r.seq).max().unwrap_or(0) + 1;
    let out_refund_no = match &refund.out_refund_no {
        Some(no) => no.clone(),
        None => free_number(state, &order.out_trade_no, seq)?,
    };
    let now = clock::now_ms();
    Ok(RefundRecord {
        out_refund_no,
        out_trade_no: order.out_trade_no.clone(),
        seq,
        named: refund.out_refund_no.is_some(),
        request,
        amount: order.amount.with_minor(refund.amount),
        reason: refund.reason.clone(),
        body: None,
        state: RefundState::Processing,
        refund_id: None,
        success_time: None,
        payer_refund: None,
        payer_currency: None,
        error: None,
        created_ms: now,
        updated_ms: now,
    })
}

/// `<out_trade_no>-R<n>` from `n = seq`, the first not taken (a POS may have named a refund
/// so).
fn free_number(state: &State, no: &str, seq: i64) -> Result<String, Refused> {
    for n in seq.. {
        let candidate = format!("{no}-R{n}");
        let taken = state
            .journal
            .get_refund(&candidate)
            .map_err(|e| internal(&e))?;
        if taken.is_none() {
            return Ok(candidate);
        }
    }
    unreachable!("an unbounded range ends only by returning")
}

/// What the backend is asked: the refund with the order's paid total and pinned body.
pub(super) fn refund_order(order: &JobRecord, r: &RefundRecord) -> RefundOrder {
    RefundOrder {
        out_trade_no: order.out_trade_no.clone(),
        out_refund_no: r.out_refund_no.clone(),
        refund: r.amount.clone(),
        total: order.paid_amount(),
        reason: r.reason.clone(),
        request: r.body.clone(),
    }
}

fn accepted(r: &RefundRecord, resumed: bool) -> Event {
    Event::RefundAccepted {
        out_trade_no: r.out_trade_no.clone(),
        out_refund_no: r.out_refund_no.clone(),
        state: r.state,
        amount: r.amount.minor(),
        currency: r.amount.currency().code().to_owned(),
        resumed,
    }
}

/// `refunded` or `refund_failed` of a finished refund; `None` while processing.
pub(super) fn final_event(r: &RefundRecord) -> Option<Event> {
    let (out_trade_no, out_refund_no) = (r.out_trade_no.clone(), r.out_refund_no.clone());
    match r.state {
        RefundState::Processing => None,
        RefundState::Refunded => Some(Event::Refunded {
            out_trade_no,
            out_refund_no,
            refund_id: r.refund_id.clone().unwrap_or_default(),
            success_time: r.success_time.clone().unwrap_or_default(),
            amount: RefundAmount {
                refund: r.amount.minor(),
                payer_refund: r.payer_refund.unwrap_or(r.amount.minor()),
                currency: r.amount.currency().code().to_owned(),
                payer_currency: r.payer_currency.as_ref().map(|c| c.code().to_owned()),
            },
        }),
        RefundState::Failed | RefundState::Abnormal => Some(Event::RefundFailed {
            out_trade_no,
            out_refund_no,
            state: r.state,
            error: r
                .error
                .clone()
                .unwrap_or_else(|| err(ErrorCode::Internal, "unknown")),
        }),
    }
}

fn internal(e: &JournalError) -> Refused {
    err(
        ErrorCode::Internal,
        format!("the journal could not be read: {e}"),
    )
    .into()
}

fn not_refundable(order: &JobRecord) -> crate::protocol::ErrorBody {
    err(
        ErrorCode::NotRefundable,
        format!(
            "order {:?} is {}; only a paid order can be refunded",
            order.out_trade_no,
            order.state.as_str()
        ),
    )
}

fn duplicate_refund(known: &RefundRecord) -> crate::protocol::ErrorBody {
    err(
        ErrorCode::DuplicateRefund,
        format!(
            "refund {:?} was already asked for (order {:?}, {}) with different content; use a \
             new out_refund_no for a different refund",
            known.out_refund_no, known.out_trade_no, known.amount
        ),
    )
}

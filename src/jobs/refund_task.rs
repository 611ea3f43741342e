//! One refund's task: ask the payment backend with the pinned request until it answers
//! for certain (unknown outcomes are asked again byte for byte: one number, one refund),
//! then query until the refund is refunded, closed or abnormal; commit each change to the
//! journal before its event goes out. A stop (shutdown) leaves the refund `processing` in
//! the journal; the next start resumes it here.
//!
//! Refunds of one order are asked for one after another, at least the backend's
//! [`refund_spacing`](crate::payment::PaymentBackend::refund_spacing) apart (WeChat Pay:
//! a minute): a second refund waits in `processing`, it is never failed for being early.
//!
//! A refund notification ([`Jobs::refund_notified`]) ends a processing refund the same
//! way, journal first; whichever of it and the task comes second changes nothing.
//!
//! Knows the lock, the backend's refund calls and the refund's record; the rules of what
//! may be refunded are `refund.rs`'s.

use std::sync::Arc;
use std::time::Duration;

use tokio::sync::Notify;
use tracing::{error, info, warn};

use super::Jobs;
use super::refund::{final_event, refund_order};
use super::refusals::{err, wechatpay_refused};
use super::slips;
use super::state::Shared;
use crate::clock;
use crate::journal::{JobRecord, JournalError, RefundRecord};
use crate::payment::{PaymentError, RefundProgress};
use crate::protocol::{ErrorBody, ErrorCode, RefundState};

/// Waits between queries of a processing refund; the last one repeats.
const POLLS: [Duration; 6] = [
    Duration::from_secs(1),
    Duration::from_secs(2),
    Duration::from_secs(5),
    Duration::from_secs(10),
    Duration::from_secs(30),
    Duration::from_secs(60),
];

fn nth(n: usize) -> Duration {
    POLLS[n.min(POLLS.len() - 1)]
}

/// Drive refund `out_refund_no` to its outcome, or until the daemon stops.
pub(super) async fn drive(shared: Arc<Shared>, out_refund_no: String) {
    let _stopped: Option<()> = run(&shared, &out_refund_no).await;
}

/// [`drive`]; `None` when the daemon stops first (or the refund is already finished).
async fn run(shared: &Shared, out_refund_no: &str) -> Option<()> {
    let (order, refund) = load(shared, out_refund_no)?;
    let idle = Notify::new();
    spaced(shared, &order, &refund, &idle).await?;
    let mut progress = apply(shared, &order, &refund, &idle).await?;
    let request = refund_order(&order, &refund);
    let mut polls = 0;
    loop {
        match progress {
            RefundProgress::Processing { refund_id } => {
                if let Some(id) = refund_id {
                    remember_id(shared, out_refund_no, id);
                }
                shared.sleep(nth(polls), &idle).await?;
                polls += 1;
                // Finished meanwhile (a refund notification): nothing left to ask.
                load(shared, out_refund_no)?;
                progress = match shared
                    .or_stop(shared.backend_of(&order).query_refund(&request))
                    .await?
                {
                    Ok(p) => p,
                    Err(e) => {
                        warn!(out_refund_no, error = %e, "refund query failed; asking again");
                        RefundProgress::Processing { refund_id: None }
                    }
                };
            }
            end => {
                settle(shared, out_refund_no, end);
                return Some(());
            }
        }
    }
}

/// End refund `no` as `end` says (refunded, closed or abnormal; processing changes
/// nothing). Whether it changed: an already finished refund stays as it ended.
fn settle(shared: &Shared, no: &str, end: RefundProgress) -> bool {
    match end {
        RefundProgress::Processing { .. } => false,
        RefundProgress::Refunded(done) => finish(shared, no, |r| {
            r.state = RefundState::Refunded;
            r.refund_id = Some(done.refund_id);
            r.success_time = Some(done.success_time);
            r.payer_refund = Some(done.payer_refund.minor());
            let payer = done.payer_refund.currency();
            r.payer_currency = (payer != r.amount.currency()).then(|| payer.clone());
        }),
        RefundProgress::Closed => {
            let error = closed(no);
            finish(shared, no, |r| failed(r, error))
        }
        RefundProgress::Abnormal => {
            let error = abnormal(no);
            finish(shared, no, |r| {
                r.state = RefundState::Abnormal;
                r.error = Some(error);
            })
        }
    }
}

/// The refund and its order, as the journal holds them; `None` when it is finished.
fn load(shared: &Shared, out_refund_no: &str) -> Option<(JobRecord, RefundRecord)> {
    let state = shared.lock();
    let refund = state.journal.get_refund(out_refund_no).ok()??;
    let order = state.journal.get(&refund.out_trade_no).ok()??;
    (!refund.state.is_final()).then_some((order, refund))
}

/// Wait until this refund may be asked for: every earlier refund of its order answered
/// and at least the backend's spacing ago (WeChat Pay: one minute between two refunds of
/// one order). The refund stays queued, never failed. `None` when the daemon stops first.
async fn spaced(
    shared: &Shared,
    order: &JobRecord,
    refund: &RefundRecord,
    idle: &Notify,
) -> Option<()> {
    let spacing = shared.backend_of(order).refund_spacing();
    if spacing.is_zero() {
        return Some(());
    }
    let mut told = false;
    loop {
        let wait = spacing_left(shared, refund, spacing);
        if wait.is_zero() {
            return Some(());
        }
        if !told {
            info!(out_refund_no = %refund.out_refund_no, wait_ms = wait.as_millis(),
                  "refund queued behind an earlier refund of the same order");
            told = true;
        }
        shared.sleep(wait, idle).await?;
    }
}

/// How long refund `refund` must still wait for the earlier refunds of its order: a poll
/// interval while one of them is unanswered, else what is left of `spacing` since the
/// latest one was answered (its record's last change).
fn spacing_left(shared: &Shared, refund: &RefundRecord, spacing: Duration) -> Duration {
    let known = shared
        .lock()
        .journal
        .refunds_of(&refund.out_trade_no)
        .unwrap_or_default();
    let earlier = known
        .iter()
        .filter(|r| r.seq < refund.seq && r.out_refund_no != refund.out_refund_no);
    let mut latest = None;
    for r in earlier {
        if !r.state.is_final() && r.refund_id.is_none() {
            return spacing.min(Duration::from_secs(1));
        }
        latest = latest.max(Some(r.updated_ms));
    }
    let Some(latest) = latest else {
        return Duration::ZERO;
    };
    let since = u64::try_from(clock::now_ms() - latest).unwrap_or(0);
    spacing.saturating_sub(Duration::from_millis(since))
}

/// Ask for the refund until the backend answers for certain; a refusal ends it as failed.
/// `None` when it ended, or the daemon stops first.
async fn apply(
    shared: &Shared,
    order: &JobRecord,
    refund: &RefundRecord,
    idle: &Notify,
) -> Option<RefundProgress> {
    let request = refund_order(order, refund);
    let no = &refund.out_refund_no;
    for attempt in 0.. {
        let answer = shared
            .or_stop(shared.backend_of(order).refund(&request))
            .await?;
        let e = match answer {
            Ok(progress) => return Some(progress),
            Err(e) => e,
        };
        if let Some(refused) = refused(&e) {
            finish(shared, no, |r| failed(r, refused));
            return None;
        }
        warn!(out_refund_no = %no, attempt, error = %e,
              "refund outcome unknown; asking again with the same request");
        shared.sleep(nth(attempt), idle).await?;
    }
    None
}

/// The error a refund ends with when the backend refused it for good; `None` for the
/// failures whose outcome is unknown (asked again).
fn refused(e: &PaymentError) -> Option<ErrorBody> {
    match e {
        PaymentError::Transient { .. } | PaymentError::Unverified { .. } => None,
        PaymentError::RateLimited => None,
        PaymentError::Rejected {
            code,
            message,
            request_id,
        } => Some(wechatpay_refused(
            code.clone(),
            format!("WeChat Pay refused the refund: {message}"),
            request_id.clone(),
        )),
        other => Some(err(ErrorCode::Wechatpay, other.to_string())),
    }
}

fn failed(r: &mut RefundRecord, error: ErrorBody) {
    r.state = RefundState::Failed;
    r.error = Some(error);
}

fn closed(no: &str) -> ErrorBody {
    let mut e = err(
        ErrorCode::Wechatpay,
        format!(
            "WeChat Pay closed refund {no} without paying anything back (the merchant's \
             refundable balance stayed short); top it up and refund again with a new \
             out_refund_no"
        ),
    );
    e.wechatpay_code = Some("CLOSED".into());
    e
}

fn abnormal(no: &str) -> ErrorBody {
    let mut e = err(
        ErrorCode::Wechatpay,
        format!(
            "WeChat Pay could not pay refund {no} back to the customer (their bank card may \
             be cancelled or frozen); finish it on the WeChat Pay merchant platform"
        ),
    );
    e.wechatpay_code = Some("ABNORMAL".into());
    e
}

/// Keep WeChat Pay's refund number for `status` once it is known.
fn remember_id(shared: &Shared, no: &str, id: String) {
    let mut state = shared.lock();
    let Ok(Some(mut r)) = state.journal.get_refund(no) else {
        return;
    };
    if r.refund_id.as_ref() != Some(&id) {
        r.refund_id = Some(id);
        r.updated_ms = clock::now_ms();
        if let Err(e) = state.journal.update_refund(&r) {
            warn!(out_refund_no = no, error = %e, "could not store the refund id");
        }
    }
}

/// Apply the outcome, commit it, then tell subscribers (also when the write fails: a POS
/// must hear of money that went back). A refund already finished (by the task or a
/// notification, whichever came second) is left as it is: `false`.
fn finish(shared: &Shared, no: &str, change: impl FnOnce(&mut RefundRecord)) -> bool {
    let mut state = shared.lock();
    let mut r = match state.journal.get_refund(no) {
        Ok(Some(r)) => r,
        other => {
            error!(
                out_refund_no = no,
                "refund vanished from the journal: {other:?}"
            );
            return false;
        }
    };
    if r.state.is_final() {
        return false;
    }
    change(&mut r);
    r.updated_ms = clock::now_ms();
    // Its slip first, made durable by the outcome's write; printed after the event.
    if slips::note_refund(&mut state, &r) {
        shared.slips.notify_one();
    }
    if let Err(e) = state.journal.update_refund(&r) {
        error!(out_refund_no = no, error = %e, "could not store the refund's outcome");
    }
    info!(
        out_refund_no = no,
        state = r.state.as_str(),
        "refund finished"
    );
    if let Some(event) = final_event(&r) {
        state.subscribers.emit(&event);
    }
    true
}

/// Why a refund notification cannot be taken.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum RefundNotifiedError {
    /// No refund of this register has that number (or it is a test order's).
    #[error(
        "refund {0:?} is not one of this register's refunds: check that wechatpay.notify_url \
         leads only to this register"
    )]
    Unknown(String),
    /// The journal could not be read or written: ask WeChat Pay to send it again.
    #[error("the journal failed ({0}); the notification is to be sent again")]
    Journal(String),
}

impl Jobs {
    /// A verified outcome of refund `no` arrived on its own (a `REFUND.*` notification):
    /// a processing refund this register journaled ends as it says, journal first, then
    /// `refunded` / `refund_failed` to the POS; its task stops at its next turn. `Ok(true)`
    /// once the outcome is in the journal, `Ok(false)` when nothing changed (a repeat, or
    /// still processing).
    pub fn refund_notified(
        &self,
        no: &str,
        progress: RefundProgress,
    ) -> Result<bool, RefundNotifiedError> {
        if journaled(&self.shared, no)?.state.is_final() {
            return Ok(false);
        }
        if !settle(&self.shared, no, progress) {
            return Ok(false);
        }
        info!(out_refund_no = no, "refund notification");
        let journal = |e: JournalError| RefundNotifiedError::Journal(e.to_string());
        let stored = self.shared.lock().journal.get_refund(no).map_err(journal)?;
        match stored {
            Some(r) if r.state.is_final() => Ok(true),
            _ => Err(RefundNotifiedError::Journal(format!(
                "refund {no} is reported finished but its record was not written"
            ))),
        }
    }
}

impl Jobs {
    /// The order of refund `no`, when this register journaled it: the order a refund
    /// notification about `no` must name to be believed.
    pub fn refund_order_of(&self, no: &str) -> Result<String, RefundNotifiedError> {
        journaled(&self.shared, no).map(|r| r.out_trade_no)
    }
}

/// Refund `no` as journaled, if it is this register's and of a real order (a test order's
/// refunds never reach WeChat Pay).
fn journaled(shared: &Shared, no: &str) -> Result<RefundRecord, RefundNotifiedError> {
    let journal = |e: JournalError| RefundNotifiedError::Journal(e.to_string());
    let unknown = || RefundNotifiedError::Unknown(no.to_owned());
    let state = shared.lock();
    let refund = state
        .journal
        .get_refund(no)
        .map_err(journal)?
        .ok_or_else(unknown)?;
    let order = state.journal.get(&refund.out_trade_no).map_err(journal)?;
    if order.is_none_or(|o| o.loopback) {
        return Err(unknown());
    }
    Ok(refund)
}

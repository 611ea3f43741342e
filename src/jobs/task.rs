//! The task of one job: place the order, print the receipt, then poll (`polling.rs`)
//! until it is paid or closed. This file owns the placement and its retries.
//!
//! The driver only decides *when*; *what* a change is comes from `transitions.rs`, and
//! every change goes through [`Shared::transition`] (journal first, then the event).

use std::sync::Arc;
use std::time::Duration;

use tokio::sync::Notify;
use tracing::{debug, info, warn};

use super::polling::{finish_closed, poll};
use super::printing::{Printing, print_attempt};
use super::refusals::wechatpay_refused;
use super::state::Shared;
use super::transitions;
use crate::clock;
use crate::payment::PaymentError;

/// The longest pause between two attempts at a failing backend call.
const MAX_BACKOFF: Duration = Duration::from_secs(30);

/// Exponential back-off with jitter: 1 s, 2 s, 4 s … up to [`MAX_BACKOFF`].
pub(crate) fn backoff(attempt: u32) -> Duration {
    let base = Duration::from_secs(1 << attempt.min(5)).min(MAX_BACKOFF);
    base + Duration::from_millis(fastrand::u64(0..250))
}

/// The task of one job: place, print, poll, close. Returns when the job is final or the
/// daemon stops (the journal then holds where it was, and the next start resumes it).
pub(crate) async fn drive(shared: Arc<Shared>, no: String, wake: Arc<Notify>) {
    if run(&shared, &no, &wake).await.is_none() {
        debug!(out_trade_no = %no, "job paused for shutdown");
    }
}

async fn run(shared: &Shared, no: &str, wake: &Notify) -> Option<()> {
    // The order may exist at WeChat Pay from any attempt up to now (a placement whose
    // answer was lost, or one made before a restart): its age counts from the latest.
    let mut last_attempt_ms = clock::now_ms();
    place(shared, no, wake, &mut last_attempt_ms).await?;
    let mut printing = Printing::default();
    print_attempt(shared, no, &mut printing).await;
    poll(shared, no, wake, last_attempt_ms, &mut printing).await
}

/// Place the order, retrying the identical request while the outcome is unknown.
async fn place(shared: &Shared, no: &str, wake: &Notify, last_attempt_ms: &mut i64) -> Option<()> {
    let mut attempt = 0;
    loop {
        let record = shared.record(no)?;
        let Some(order) = transitions::next_placement(&record, clock::now_ms()) else {
            return Some(());
        };
        let answer = shared
            .or_stop(shared.backend_of(&record).place(&order))
            .await;
        // The order may have been created at any moment up to the answer (or the lack of
        // one): count its age from the latest, so a close is never early.
        *last_attempt_ms = clock::now_ms();
        match answer? {
            Ok(placed) => {
                info!(out_trade_no = no, code_url = %placed.code_url, "order placed");
                let placed_ms = *last_attempt_ms;
                shared.transition(no, |r| transitions::placed(r, placed.code_url, placed_ms));
                return Some(());
            }
            Err(e) => {
                if on_placement_error(shared, no, e, attempt) {
                    return Some(());
                }
                shared.sleep(backoff(attempt), wake).await?;
                attempt += 1;
            }
        }
    }
}

/// Act on a failed placement: `true` when the job has its answer, `false` to retry the
/// identical request.
fn on_placement_error(shared: &Shared, no: &str, e: PaymentError, attempt: u32) -> bool {
    match e {
        PaymentError::Rejected { code, .. }
            if matches!(code.as_str(), "ORDER_CLOSED" | "ORDERCLOSED") =>
        {
            // Closed at WeChat Pay before we could place it again: it cannot be paid.
            finish_closed(shared, no, None);
            true
        }
        PaymentError::Rejected {
            code,
            message,
            request_id,
        } => {
            warn!(out_trade_no = no, %code, %message, ?request_id, "order refused");
            let error = wechatpay_refused(code, message, request_id);
            shared.transition(no, |r| transitions::refused(r, error));
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

//! What a job's change tells the fleet metrics: its receipt printed (time to printed), its
//! outcome (checkouts by outcome, time to paid). Read from the record before and after the
//! change, so that every path to a state (a query, a notification, a close, a resume) is
//! counted once and nothing else is. Technicians' `loopback` test orders are not counted.

use std::time::Duration;

use crate::journal::JobRecord;
use crate::metrics::{self, Outcome};
use crate::protocol::PrintState;

/// `before` became `after` at `now_ms`.
pub(super) fn changed(before: &JobRecord, after: &JobRecord, now_ms: i64) {
    if after.loopback {
        return;
    }
    let since_checkout = || Duration::from_millis(now_ms.saturating_sub(after.created_ms) as u64);
    if before.print != PrintState::Printed && after.print == PrintState::Printed {
        metrics::time_to_printed(since_checkout());
    }
    if before.state.is_final() {
        return;
    }
    if let Some(outcome) = Outcome::of(after.state, after.close_reason) {
        metrics::checkout_finished(outcome);
        if outcome == Outcome::Paid {
            metrics::time_to_paid(since_checkout());
        }
    }
}

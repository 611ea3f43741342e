//! `REFUND.SUCCESS` / `REFUND.ABNORMAL` / `REFUND.CLOSED`: the decrypted refund object
//! (`original_type` `refund`, `refund_status`), read and checked to be this merchant's by
//! the WeChat Pay client, then handed to the jobs, which end the refund it names if this
//! register journaled it. `Ok` (204) only once the outcome is in the journal, or was.
//!
//! Knows the notification's shape and the answers; the refund's rules are the jobs'.

use tracing::{debug, warn};

use super::Notifications;
use super::request::{Believed, Refusal};
use crate::jobs::RefundNotifiedError;

/// `REFUND.*`: the refund object; a finished refund of this register ends its refund.
pub(super) fn refund(n: &Notifications, event: &Believed) -> Result<(), Refusal> {
    if event.original_type != "refund" {
        return Err(Refusal::new(
            400,
            format!(
                "original_type {:?} is not \"refund\" for {}",
                event.original_type, event.event_type
            ),
        ));
    }
    let (no, progress) = n.backend.read_refund(&event.plaintext).map_err(|e| {
        warn!(id = %event.id, error = %e, "refund notification refused");
        Refusal::from(e)
    })?;
    match n.jobs.refund_notified(&no, progress) {
        Ok(true) => Ok(()),
        Ok(false) => {
            debug!(id = %event.id, out_refund_no = %no, "refund notification changes nothing");
            Ok(())
        }
        Err(e @ RefundNotifiedError::Unknown(_)) => {
            warn!(id = %event.id, error = %e, "refund notification refused");
            Err(Refusal::new(404, e.to_string()))
        }
        Err(e @ RefundNotifiedError::Journal(_)) => Err(Refusal::new(500, e.to_string())),
    }
}

//! `REFUND.SUCCESS` / `REFUND.ABNORMAL` / `REFUND.CLOSED`: the decrypted refund object
//! (`original_type` `refund`, `refund_status`) names a refund; the jobs say which order
//! that refund of this register is of (else 404); the WeChat Pay client checks the object
//! is about that refund of that order of this merchant (else 400) and reads it; the jobs
//! end the refund. `Ok` (204) only once the outcome is in the journal, or was.
//!
//! Knows the notification's shape and the answers; the refund's rules are the jobs'.

use tracing::{debug, warn};

use super::Notifications;
use super::request::{Believed, Refusal};
use crate::jobs::RefundNotifiedError;
use crate::wechatpay::NotificationError;

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
    let refused = |e: NotificationError| {
        warn!(id = %event.id, error = %e, "refund notification refused");
        Refusal::from(e)
    };
    let no = n.backend.refund_number(&event.plaintext).map_err(refused)?;
    // The refund must be one of this register's, and the object about it and its order.
    let order = n
        .jobs
        .refund_order_of(&no)
        .map_err(|e| jobs_refusal(event, e))?;
    let progress = n
        .backend
        .read_refund(&event.plaintext, &order, &no)
        .map_err(refused)?;
    match n.jobs.refund_notified(&no, progress) {
        Ok(true) => Ok(()),
        Ok(false) => {
            debug!(id = %event.id, out_refund_no = %no, "refund notification changes nothing");
            Ok(())
        }
        Err(e) => Err(jobs_refusal(event, e)),
    }
}

/// A refund this register does not know (404), or a journal that failed (500).
fn jobs_refusal(event: &Believed, e: RefundNotifiedError) -> Refusal {
    match e {
        RefundNotifiedError::Unknown(_) => {
            warn!(id = %event.id, error = %e, "refund notification refused");
            Refusal::new(404, e.to_string())
        }
        RefundNotifiedError::Journal(_) => Refusal::new(500, e.to_string()),
    }
}

//! What a believed notification changes, by `event_type`. One table, [`HANDLERS`]: an
//! event family (`TRANSACTION.`, `REFUND.`) and the function that takes its decrypted
//! object (refunds: `refund.rs`). A new family is one entry and one function, nothing else.

use tracing::{debug, warn};

use super::Notifications;
use super::request::{Believed, Refusal};
use crate::jobs::notified::{Notified, NotifiedError};

/// A family's handler: `Ok` once the outcome is in the journal (or already was).
type Handler = fn(&Notifications, &Believed) -> Result<(), Refusal>;

/// `event_type` prefix → handler: payments, and refunds (`REFUND.SUCCESS`,
/// `REFUND.ABNORMAL`, `REFUND.CLOSED`, `original_type` `refund`).
const HANDLERS: &[(&str, Handler)] = &[
    ("TRANSACTION.", transaction),
    ("REFUND.", super::refund::refund),
];

/// Hand `event` to its family's handler; an event no handler takes is refused (WeChat Pay
/// sends it again, so nothing is lost once a handler exists).
pub(super) fn dispatch(n: &Notifications, event: &Believed) -> Result<(), Refusal> {
    let Some((_, handler)) = HANDLERS
        .iter()
        .find(|(prefix, _)| event.event_type.starts_with(prefix))
    else {
        warn!(id = %event.id, event_type = %event.event_type, "notification of an unhandled event type");
        return Err(Refusal::new(
            400,
            format!(
                "event_type {:?} is not handled by wxprint (handled: {})",
                event.event_type,
                HANDLERS
                    .iter()
                    .map(|(p, _)| format!("{p}*"))
                    .collect::<Vec<_>>()
                    .join(", ")
            ),
        ));
    };
    handler(n, event)
}

/// `TRANSACTION.*`: the transaction object of a query answer; a paid one settles its job.
fn transaction(n: &Notifications, event: &Believed) -> Result<(), Refusal> {
    if event.original_type != "transaction" {
        return Err(Refusal::new(
            400,
            format!(
                "original_type {:?} is not \"transaction\" for {}",
                event.original_type, event.event_type
            ),
        ));
    }
    let (no, state) = n.backend.read_transaction(&event.plaintext).map_err(|e| {
        warn!(id = %event.id, error = %e, "payment notification refused");
        Refusal::from(e)
    })?;
    match n.jobs.notified(&no, state) {
        Ok(Notified::Paid) => Ok(()),
        Ok(Notified::Unchanged) => {
            debug!(id = %event.id, out_trade_no = %no, "notification changes nothing (a repeat)");
            Ok(())
        }
        Err(e @ NotifiedError::Unknown(_)) => {
            warn!(id = %event.id, error = %e, "payment notification refused");
            Err(Refusal::new(404, e.to_string()))
        }
        Err(e @ NotifiedError::Journal(_)) => Err(Refusal::new(500, e.to_string())),
    }
}

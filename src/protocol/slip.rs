//! The `slip` event (extension): how a payment slip (after `paid`) or a refund slip (after
//! `refunded`) fared at the printer. A slip is asked for with `"slip": true` in a
//! `checkout` or in a `refund`'s `refund` object (or, for payment slips, by
//! `receipt.paid_slip` in the config); it is printed after the event it confirms and never
//! delays it. The wire only: what a slip shows is `receipt`'s, when it prints `jobs`'.

use serde::{Deserialize, Serialize};

use super::error::ErrorBody;
use super::status::PrintState;

/// Where a slip stands: printed, waiting for the printer (`pending`, with the printer's
/// problem in `error`), or given up after `printer.print_timeout` (`failed`).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct SlipEvent {
    /// The paid order the slip confirms.
    pub out_trade_no: String,
    /// The refund, for a refund slip; absent on a payment slip.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub out_refund_no: Option<String>,
    /// Printed, pending or failed.
    pub print: PrintState,
    /// Where the slip went (the file transport's file name), when known.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub location: Option<String>,
    /// Whether the printer confirmed it (`GS r 1`), when the transport can tell.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub confirmed: Option<bool>,
    /// Why it waits or failed.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub error: Option<ErrorBody>,
}

impl SlipEvent {
    /// What the slip confirms: the refund for a refund slip, else the order.
    pub fn subject(&self) -> &str {
        self.out_refund_no.as_deref().unwrap_or(&self.out_trade_no)
    }
}

#[cfg(test)]
mod tests {
    use super::super::{ErrorCode, Event, Message};
    use super::*;

    #[test]
    fn a_slip_event_is_named_slip_and_names_its_order_and_refund() {
        let slip = |out_refund_no: Option<&str>| {
            Event::Slip(Box::new(SlipEvent {
                out_trade_no: "T1234567".into(),
                out_refund_no: out_refund_no.map(str::to_owned),
                print: PrintState::Failed,
                location: None,
                confirmed: None,
                error: Some(ErrorBody::new(ErrorCode::Printer, "paper out")),
            }))
        };
        let payment = slip(None);
        let wire = serde_json::to_value(Message::new(None, payment.clone())).unwrap();
        assert_eq!(wire["event"], payment.name());
        assert_eq!(payment.name(), "slip");
        assert_eq!(wire["print"], "failed");
        assert!(wire.get("out_refund_no").is_none(), "{wire}");
        assert_eq!(
            (payment.out_trade_no(), payment.out_refund_no()),
            (Some("T1234567"), None)
        );
        let refund = slip(Some("T1234567-R1"));
        assert_eq!(refund.out_refund_no(), Some("T1234567-R1"));
        let Event::Slip(inner) = &refund else {
            unreachable!()
        };
        assert_eq!(inner.subject(), "T1234567-R1");
        let line = Message::new(None, refund.clone()).to_line();
        let back: Message = serde_json::from_str(&line).unwrap();
        assert_eq!(back.event, refund, "round trip");
    }
}

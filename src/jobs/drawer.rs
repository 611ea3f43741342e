//! The `drawer` op: kick the cash drawer with the configured pulse (`ESC p`, on pin 2 or
//! the pin the POS names), queued on the printer thread like a receipt, so it never lands
//! inside one.
//!
//! Only ever on request: no payment kicks the drawer (shops open it for cash, and a WeChat
//! payment brings none). A printer that says it cannot print (paper out, cover open,
//! offline) gets nothing: `ESC p` waits in its buffer behind the fault and would open the
//! drawer later, unasked. Knows the pulse and the printer handle, nothing of payments.

use crate::escpos::{DrawerPin, DrawerPulse};
use crate::printer::PrinterError;
use crate::protocol::{ErrorCode, Event};

use super::Jobs;
use super::refusals::{Refused, err, shutting_down};

impl Jobs {
    /// `drawer`: send the configured pulse on `pin` (2 or 5, checked by the protocol;
    /// `None`: pin 2) and say what was sent, or why nothing was.
    pub async fn drawer(&self, pin: Option<u8>) -> Result<Event, Refused> {
        if self.shared.lock().shutting_down {
            return Err(shutting_down().into());
        }
        let pin = pin.and_then(DrawerPin::from_number).unwrap_or_default();
        let pulse = self.shared.config.drawer.on_pin(pin);
        let bytes = pulse.bytes();
        let printout = self
            .shared
            .printer
            .print("drawer", bytes.to_vec())
            .await
            .map_err(|e| Refused::from(err(ErrorCode::Printer, not_kicked(&e))))?;
        tracing::info!(
            pin = pin.number(),
            on_ms = pulse.on_ms(),
            off_ms = pulse.off_ms(),
            "cash drawer kicked"
        );
        Ok(drawer_event(pulse, printout.location, printout.confirmed))
    }
}

/// The `drawer` event for a pulse sent.
fn drawer_event(pulse: DrawerPulse, location: Option<String>, confirmed: Option<bool>) -> Event {
    let sent = pulse
        .bytes()
        .iter()
        .map(|b| format!("{b:02X}"))
        .collect::<Vec<_>>();
    Event::Drawer {
        pin: pulse.pin().number(),
        on_ms: pulse.on_ms(),
        off_ms: pulse.off_ms(),
        sent: sent.join(" "),
        location,
        confirmed,
    }
}

/// Why the drawer stayed shut, and what to do.
fn not_kicked(e: &PrinterError) -> String {
    match e {
        PrinterError::NotReady(status) => format!(
            "the drawer was not kicked: the printer is not ready ({}); a kick would wait in \
             its buffer and open the drawer later, so nothing was sent; fix the printer and \
             try again (or open the drawer with its key)",
            status.error.as_deref().unwrap_or("not ready")
        ),
        other => format!(
            "the drawer was not kicked: {other}; check the printer's power and cable \
             (`wxprint printer`), or open the drawer with its key"
        ),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_event_says_what_was_sent() {
        let pulse = DrawerPulse::default().on_pin(DrawerPin::Pin5);
        let event = drawer_event(pulse, None, Some(true));
        let wire = serde_json::to_value(&event).unwrap();
        assert_eq!(
            wire,
            serde_json::json!({"event": "drawer", "pin": 5, "on_ms": 50, "off_ms": 500,
                "sent": "1B 70 01 19 FA", "confirmed": true})
        );
        let gone = PrinterError::Io {
            target: "tcp 10.0.0.9:9100".into(),
            message: "Connection refused".into(),
        };
        let message = not_kicked(&gone);
        assert!(message.contains("Connection refused") && message.contains("not kicked"));
    }
}

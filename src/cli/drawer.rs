//! `wxprint drawer`'s words: the line a `drawer` event prints, and the exit code of a
//! refused kick (5 when the printer cannot take it, like `wxprint printer`; 2 for any
//! other refusal). The request itself is a plain client op (`client.rs`).

use wxprint::protocol::{DRAWER_PINS, ErrorBody, ErrorCode, Event};

/// Exit code of `wxprint drawer` when the printer cannot take the kick now.
const PRINTER_NOT_READY: u8 = 5;

/// `--pin`: 2 or 5.
pub(crate) fn pin(text: &str) -> Result<u8, String> {
    match text.trim().parse::<u8>() {
        Ok(pin) if DRAWER_PINS.contains(&pin) => Ok(pin),
        _ => Err(format!(
            "{text:?} is no drawer pin; the drawer connector drives pin 2 (the usual drawer) or pin 5"
        )),
    }
}

/// The line of a `drawer` event: `drawer     pin 2, 50 ms on / 500 ms off (1B 70 00 19 FA)`.
pub(crate) fn describe(event: &Event) -> String {
    let Event::Drawer {
        pin,
        on_ms,
        off_ms,
        sent,
        location,
        confirmed,
    } = event
    else {
        return event.name().to_owned();
    };
    // A printer on a link says whether it confirmed; the file transport, where it went.
    let said = match (confirmed, location) {
        (Some(true), _) => ", confirmed by the printer".to_owned(),
        (Some(false), _) => ", the printer did not confirm".to_owned(),
        (None, Some(location)) => format!(" → {location}"),
        (None, None) => String::new(),
    };
    format!("drawer     pin {pin}, {on_ms} ms on / {off_ms} ms off ({sent}){said}")
}

/// The exit code when the daemon refused the kick with `error`.
pub(crate) fn exit_code(error: &ErrorBody) -> u8 {
    if error.code == ErrorCode::Printer {
        PRINTER_NOT_READY
    } else {
        2
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_drawer_line_and_exit_codes() {
        let event = Event::Drawer {
            pin: 2,
            on_ms: 50,
            off_ms: 500,
            sent: "1B 70 00 19 FA".into(),
            location: None,
            confirmed: Some(true),
        };
        assert_eq!(
            describe(&event),
            "drawer     pin 2, 50 ms on / 500 ms off (1B 70 00 19 FA), confirmed by the printer"
        );
        let printer = ErrorBody::new(ErrorCode::Printer, "paper out");
        assert_eq!(exit_code(&printer), 5);
        let other = ErrorBody::new(ErrorCode::ShuttingDown, "bye");
        assert_eq!(exit_code(&other), 2);
        assert_eq!(pin("5"), Ok(5));
        assert!(pin("3").unwrap_err().contains("pin 2"));
    }
}

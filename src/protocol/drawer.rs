//! The cash drawer in the protocol (extension): the `drawer` op's argument (`pin`, 2 or 5),
//! and the drawer sensor's word in the printer's status ([`DrawerState`]).
//!
//! Knows the spellings and the valid pins only: the pulse's bytes are `escpos`'s, the
//! sensor's bit and its polarity `printer/`'s.

use serde::{Deserialize, Serialize};

use super::error::RequestError;

/// The drawer connector pins a `drawer` op may name; the first is the default.
pub const DRAWER_PINS: [u8; 2] = [2, 5];

/// The `drawer` op's arguments.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub(crate) struct DrawerArgs {
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub(crate) pin: Option<i64>,
}

impl DrawerArgs {
    /// The pin asked for, checked: 2 or 5; `None` for the default (2).
    pub(crate) fn pin(&self) -> Result<Option<u8>, RequestError> {
        match self.pin {
            None => Ok(None),
            Some(n) => match u8::try_from(n) {
                Ok(n) if DRAWER_PINS.contains(&n) => Ok(Some(n)),
                _ => Err(RequestError::invalid(
                    "pin",
                    format!("is {n}; a drawer is kicked on connector pin 2 (the default) or pin 5"),
                )),
            },
        }
    }
}

/// The cash drawer as the printer's sensor (connector pin 3) reads it, through the
/// configured polarity (`printer.drawer_open_level`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize, Default)]
#[serde(rename_all = "snake_case")]
pub enum DrawerState {
    /// The drawer is open.
    Open,
    /// The drawer is closed.
    Closed,
    /// The printer did not say (no answer, line noise, the file transport, or a daemon
    /// older than the field).
    #[default]
    Unknown,
}

impl DrawerState {
    /// The spelling on the wire.
    pub fn as_str(self) -> &'static str {
        match self {
            DrawerState::Open => "open",
            DrawerState::Closed => "closed",
            DrawerState::Unknown => "unknown",
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn only_pins_2_and_5_are_taken() {
        let args = |pin: Option<i64>| DrawerArgs { pin };
        assert_eq!(args(None).pin().unwrap(), None);
        assert_eq!(args(Some(2)).pin().unwrap(), Some(2));
        assert_eq!(args(Some(5)).pin().unwrap(), Some(5));
        for bad in [0, 1, 3, 4, 6, 258, -2] {
            let e = args(Some(bad)).pin().unwrap_err().to_string();
            assert!(e.contains("pin") && e.contains(&bad.to_string()), "{e}");
        }
        for (state, wire) in [
            (DrawerState::Open, "open"),
            (DrawerState::Closed, "closed"),
            (DrawerState::Unknown, "unknown"),
        ] {
            assert_eq!(serde_json::to_value(state).unwrap(), wire);
            assert_eq!(state.as_str(), wire);
        }
    }
}

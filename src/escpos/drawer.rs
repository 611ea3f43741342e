//! The cash drawer kick: `ESC p m t1 t2` (`1B 70 m t1 t2`), a pulse on the drawer connector
//! buffered in order with the print data (`docs/escpos.md` §3, business reference §3.1).
//!
//! m = 0 drives connector pin 2, m = 1 pin 5; the pulse is ON for t1 × 2 ms, then OFF for
//! t2 × 2 ms. Drawer solenoids are rated for at most 20 % duty (Epson TM-T60/T80, Citizen
//! CT-S series): OFF ≥ 4 × ON. [`DrawerPulse::new`] refuses any pulse that breaks that rule,
//! so no configured value can burn a solenoid; the default is the folk standard
//! `1B 70 00 19 FA` (50 ms on, 500 ms off).
//!
//! Owns the pulse and its bytes; knows nothing of when a drawer is kicked or of the
//! drawer's open/closed sensor (that is the printer's status, `printer/status.rs`).

use super::ESC;

/// The drawer connector pin the pulse drives.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum DrawerPin {
    /// Connector pin 2 (m = 0): the usual drawer.
    #[default]
    Pin2,
    /// Connector pin 5 (m = 1): a second drawer, or odd wiring.
    Pin5,
}

impl DrawerPin {
    /// The pin for its number on the connector (2 or 5).
    pub fn from_number(n: u8) -> Option<DrawerPin> {
        match n {
            2 => Some(DrawerPin::Pin2),
            5 => Some(DrawerPin::Pin5),
            _ => None,
        }
    }

    /// The pin's number on the connector.
    pub fn number(self) -> u8 {
        match self {
            DrawerPin::Pin2 => 2,
            DrawerPin::Pin5 => 5,
        }
    }

    /// `ESC p`'s `m`.
    fn m(self) -> u8 {
        match self {
            DrawerPin::Pin2 => 0,
            DrawerPin::Pin5 => 1,
        }
    }
}

/// The printer counts the pulse in steps of this many milliseconds.
pub const PULSE_STEP_MS: u16 = 2;
/// The longest time `t1` or `t2` (255 steps) can say.
pub const PULSE_MAX_MS: u16 = 255 * PULSE_STEP_MS;
/// OFF must be at least this many times ON (at most 20 % duty).
pub const DUTY_FACTOR: u16 = 4;

/// Why a pulse is refused. The messages say what was wrong, with the value, and what to do.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum PulseError {
    /// A time that the printer cannot count: zero, odd, or over 510 ms.
    #[error(
        "{what} time {ms} ms cannot be sent: ESC p counts 2 ms steps, so it must be an even number of milliseconds from 2 to 510"
    )]
    Time {
        /// `on` or `off`.
        what: &'static str,
        /// The time given.
        ms: u16,
    },
    /// OFF shorter than 4 × ON: over the 20 % duty drawer solenoids are rated for.
    #[error(
        "off time {off_ms} ms is less than 4 × the on time {on_ms} ms: drawer solenoids are rated for at most 20 % duty (off ≥ 4 × on); make the off time at least {} ms or shorten the on time",
        u32::from(*on_ms) * u32::from(DUTY_FACTOR)
    )]
    Duty {
        /// The ON time given.
        on_ms: u16,
        /// The OFF time given.
        off_ms: u16,
    },
}

/// A drawer pulse that keeps the duty rule: built only by [`DrawerPulse::new`].
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct DrawerPulse {
    pin: DrawerPin,
    on_ms: u16,
    off_ms: u16,
}

impl Default for DrawerPulse {
    /// `ESC p 0 25 250`: pin 2, 50 ms on, 500 ms off.
    fn default() -> Self {
        DrawerPulse {
            pin: DrawerPin::Pin2,
            on_ms: 50,
            off_ms: 500,
        }
    }
}

impl DrawerPulse {
    /// A pulse on `pin`, ON for `on_ms` and OFF for `off_ms` milliseconds: each an even
    /// number from 2 to 510, and OFF ≥ 4 × ON.
    pub fn new(pin: DrawerPin, on_ms: u16, off_ms: u16) -> Result<DrawerPulse, PulseError> {
        for (what, ms) in [("on", on_ms), ("off", off_ms)] {
            if ms == 0 || ms > PULSE_MAX_MS || !ms.is_multiple_of(PULSE_STEP_MS) {
                return Err(PulseError::Time { what, ms });
            }
        }
        if u32::from(off_ms) < u32::from(on_ms) * u32::from(DUTY_FACTOR) {
            return Err(PulseError::Duty { on_ms, off_ms });
        }
        Ok(DrawerPulse { pin, on_ms, off_ms })
    }

    /// The same pulse on another pin.
    pub fn on_pin(self, pin: DrawerPin) -> DrawerPulse {
        DrawerPulse { pin, ..self }
    }

    /// The pin driven.
    pub fn pin(self) -> DrawerPin {
        self.pin
    }

    /// How long the pulse is ON, in milliseconds.
    pub fn on_ms(self) -> u16 {
        self.on_ms
    }

    /// How long the pulse is OFF afterwards, in milliseconds.
    pub fn off_ms(self) -> u16 {
        self.off_ms
    }

    /// `ESC p m t1 t2`.
    pub fn bytes(self) -> [u8; 5] {
        // In range by construction: 1..=255 steps each.
        let steps = |ms: u16| (ms / PULSE_STEP_MS) as u8;
        [
            ESC,
            b'p',
            self.pin.m(),
            steps(self.on_ms),
            steps(self.off_ms),
        ]
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::escpos::EscPos;
    use crate::escpos::testing::hex;

    #[test]
    fn golden_drawer_pulses() {
        let default = DrawerPulse::default();
        assert_eq!(hex(&default.bytes()), "1B 70 00 19 FA");
        assert_eq!(
            DrawerPulse::new(DrawerPin::Pin2, 50, 500),
            Ok(default),
            "the default is a valid pulse"
        );
        assert_eq!(
            hex(&default.on_pin(DrawerPin::Pin5).bytes()),
            "1B 70 01 19 FA"
        );
        let citizen = DrawerPulse::new(DrawerPin::Pin2, 10, 100).unwrap();
        assert_eq!(hex(&citizen.bytes()), "1B 70 00 05 32");
        let longest = DrawerPulse::new(DrawerPin::Pin5, 126, 504).unwrap();
        assert_eq!(hex(&longest.bytes()), "1B 70 01 3F FC");
        let mut e = EscPos::new();
        e.drawer_pulse(default);
        assert_eq!(hex(e.as_bytes()), "1B 70 00 19 FA");
    }

    #[test]
    fn the_duty_rule_and_the_step_are_enforced() {
        // python-escpos (100/100), escpos-php (120/240), Odoo (50/50): over 20 % duty.
        for (on, off) in [(100, 100), (120, 240), (50, 50), (50, 198)] {
            let e = DrawerPulse::new(DrawerPin::Pin2, on, off).unwrap_err();
            assert_eq!(
                e,
                PulseError::Duty {
                    on_ms: on,
                    off_ms: off
                }
            );
            let text = e.to_string();
            assert!(text.contains(&format!("at least {} ms", on * 4)), "{text}");
        }
        assert!(
            DrawerPulse::new(DrawerPin::Pin2, 50, 200).is_ok(),
            "exactly 20 %"
        );
        for (on, off) in [(0, 500), (51, 500), (50, 512), (50, 0)] {
            let e = DrawerPulse::new(DrawerPin::Pin2, on, off).unwrap_err();
            assert!(matches!(e, PulseError::Time { .. }), "{on}/{off}: {e}");
            assert!(e.to_string().contains("2 ms steps"));
        }
        assert_eq!(DrawerPin::from_number(5), Some(DrawerPin::Pin5));
        assert_eq!(DrawerPin::from_number(3), None);
        assert_eq!(DrawerPin::Pin5.number(), 5);
    }
}

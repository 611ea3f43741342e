//! `[printer]`'s cash drawer keys: the kick's pulse (`drawer_on_ms`, `drawer_off_ms`), held to
//! the solenoids' duty rule by `escpos::DrawerPulse`, and the sensor's polarity
//! (`drawer_open_level`). A pulse that breaks the rule is refused here, at load, so the
//! daemon never starts with one.

use super::super::check::Check;
use super::super::settings::DrawerLevel;
use crate::escpos::{DUTY_FACTOR, DrawerPin, DrawerPulse, PULSE_MAX_MS, PulseError};

const ON: &str = "printer.drawer_on_ms";
const OFF: &str = "printer.drawer_off_ms";

/// The configured pulse (on pin 2; the `drawer` op may name pin 5); the default one after
/// recording what is wrong.
pub(in crate::config) fn pulse(c: &mut Check<'_>) -> DrawerPulse {
    let on = c.integer(ON, 1..=u32::from(PULSE_MAX_MS), "milliseconds");
    let off = c.integer(OFF, 1..=u32::from(PULSE_MAX_MS), "milliseconds");
    // In range (or already reported and replaced by 1): fits a u16.
    let (on, off) = (on as u16, off as u16);
    match DrawerPulse::new(DrawerPin::Pin2, on, off) {
        Ok(pulse) => pulse,
        Err(PulseError::Time { what, ms }) => {
            let key = if what == "on" { ON } else { OFF };
            if ms > 1 {
                c.fail(
                    key,
                    "an odd number of milliseconds",
                    "an even number: the printer counts the pulse in 2 ms steps",
                );
            }
            DrawerPulse::default()
        }
        Err(PulseError::Duty { on_ms, off_ms }) => {
            let least = u32::from(on_ms) * u32::from(DUTY_FACTOR);
            c.fail(
                OFF,
                &format!("less than 4 × drawer_on_ms ({on_ms} ms): the solenoid would run over the 20 % duty drawers are rated for"),
                &format!(
                    "at least {least} ms (off ≥ 4 × on), or a shorter drawer_on_ms (at most {} ms for this off time)",
                    off_ms / DUTY_FACTOR / 2 * 2
                ),
            );
            DrawerPulse::default()
        }
    }
}

/// `drawer_open_level`: `low` or `high`.
pub(in crate::config) fn open_level(c: &mut Check<'_>) -> DrawerLevel {
    c.choice::<DrawerLevel>("printer.drawer_open_level")
        .unwrap_or(DrawerLevel::Low)
}

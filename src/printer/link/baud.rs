//! The serial baud probe (`wxprint printers --probe --baud-probe`): which line speed a
//! serial printer answers at (business reference §2.4; no ESC/POS tool was found doing it).
//!
//! Each candidate rate is opened 8N1 without flow control (a printer holding CTS low must
//! not stall the probe), a few `NUL`s finish any command that junk at a wrong rate may have
//! begun, then the status exchange (`DLE EOT 1`, `2`, `4`, `1`) runs [`ROUNDS`] times. A
//! rate is accepted only when every round answered with valid status bytes and all rounds
//! agree: a wrong rate gives bytes too, but not that (a random byte has the fixed bits
//! with probability 1/16, and twelve of them in a row agreeing is no accident). Bytes at a
//! wrong rate reach the printer as junk, which some printers print: the caller warns.

use std::io;
use std::path::Path;

use super::exchange::query;
use super::{Connector, Serial};
use crate::config::FlowControl;

/// The rates tried, most likely first (Epson's DIP default, Star's, then the rates of
/// Chinese printers and receiptio's default).
pub const BAUD_CANDIDATES: [u32; 6] = [9600, 19200, 38400, 115200, 57600, 4800];
/// How many status exchanges must agree.
pub const ROUNDS: usize = 3;

/// What one rate got.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum BaudVerdict {
    /// Every round answered with the same valid status: the printer's rate.
    Consistent,
    /// No answer at all.
    Silent,
    /// Bytes that are no status answers (the usual sign of a wrong rate).
    Noise,
    /// Valid-looking answers that changed from round to round.
    Inconsistent,
    /// The port could not be opened or used.
    Failed(String),
}

impl BaudVerdict {
    /// In words, for the probe's report.
    pub fn as_str(&self) -> String {
        match self {
            BaudVerdict::Consistent => format!("{ROUNDS} consistent status replies"),
            BaudVerdict::Silent => "no answer".into(),
            BaudVerdict::Noise => "line noise".into(),
            BaudVerdict::Inconsistent => "answers that did not agree".into(),
            BaudVerdict::Failed(e) => format!("failed: {e}"),
        }
    }
}

/// Try `rates` in turn on `device`; each rate's verdict, up to the first accepted.
pub fn probe_baud(device: &Path, rates: &[u32]) -> Vec<(u32, BaudVerdict)> {
    let mut tried = Vec::new();
    for &baud_rate in rates {
        let mut connector = Serial {
            device: device.to_owned(),
            baud_rate,
            flow_control: FlowControl::None,
        };
        let verdict = match connector.open() {
            Ok(mut link) => {
                rounds(link.as_mut()).unwrap_or_else(|e| BaudVerdict::Failed(e.to_string()))
            }
            Err(e) => BaudVerdict::Failed(e.to_string()),
        };
        let done = verdict == BaudVerdict::Consistent;
        tried.push((baud_rate, verdict));
        if done {
            break;
        }
    }
    tried
}

/// The accepted rate of a probe, if any.
pub fn accepted(tried: &[(u32, BaudVerdict)]) -> Option<u32> {
    tried
        .iter()
        .find(|(_, v)| *v == BaudVerdict::Consistent)
        .map(|(rate, _)| *rate)
}

/// [`ROUNDS`] status exchanges on one open link.
fn rounds(link: &mut dyn super::Link) -> io::Result<BaudVerdict> {
    link.send(&[0; 8])?;
    let first = query(link)?;
    if first.garbled {
        return Ok(BaudVerdict::Noise);
    }
    if first.printer.is_none() {
        return Ok(BaudVerdict::Silent);
    }
    for _ in 1..ROUNDS {
        let again = query(link)?;
        if again.garbled {
            return Ok(BaudVerdict::Noise);
        }
        if again != first {
            return Ok(BaudVerdict::Inconsistent);
        }
    }
    Ok(BaudVerdict::Consistent)
}

//! The printer's status: the ESC/POS status bytes (`DLE EOT n` requests, `GS r 1`) and their
//! one-byte replies decoded into typed values, and every `protocol::PrinterStatus` this module
//! reports (built here and nowhere else in `printer/`).
//!
//! Bit meanings: `docs/escpos.md` §4. This file knows bytes and what they mean; it does not
//! know how they travel (the link) or when to ask (the print-with-status exchange in `link`).

use crate::config::DrawerLevel;
use crate::protocol::{DrawerState, Paper, PrinterStatus};

/// `DLE EOT 1`: real-time printer status.
pub(crate) const DLE_EOT_PRINTER: [u8; 3] = [0x10, 0x04, 0x01];
/// `DLE EOT 2`: real-time offline cause.
pub(crate) const DLE_EOT_OFFLINE: [u8; 3] = [0x10, 0x04, 0x02];
/// `DLE EOT 4`: real-time roll paper sensor.
pub(crate) const DLE_EOT_PAPER: [u8; 3] = [0x10, 0x04, 0x04];
/// `GS r 1`: transmit paper sensor status, answered in order with the print data.
pub(crate) const GS_R_PAPER: [u8; 3] = [0x1D, 0x72, 0x01];

/// A `DLE EOT` reply has bits 0 and 7 clear, 1 and 4 set (`0xx1xx10`).
const REALTIME_FIXED_MASK: u8 = 0x93;
const REALTIME_FIXED_BITS: u8 = 0x12;
/// A `GS r 1` reply has bits 4 and 7 clear (`0xx0xxxx`).
const GS_R_FIXED_MASK: u8 = 0x90;

/// A real-time status reply byte has bits 0 and 7 clear, 1 and 4 set.
pub(crate) fn valid_realtime(b: u8) -> bool {
    b & REALTIME_FIXED_MASK == REALTIME_FIXED_BITS
}

/// Whether `b` is a valid `GS r 1` reply: bits 4 and 7 clear, and each sensor reported as
/// its documented pair of equal bits (bits 0+1 near end, bits 2+3 paper end: `00` or `11`,
/// Epson's `GS r` table). Line noise rarely has that shape; see `link` for the rest.
pub(crate) fn valid_gs_r(b: u8) -> bool {
    let pair = |shift: u8| (b >> shift) & 1 == (b >> (shift + 1)) & 1;
    b & GS_R_FIXED_MASK == 0 && pair(0) && pair(2)
}

/// `DLE EOT 1`'s reply: the printer status.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct PrinterReply {
    /// Bit 3.
    pub(crate) offline: bool,
    /// Bit 2: the drawer connector's pin 3 (the drawer's open/closed switch) is high.
    pub(crate) drawer_high: bool,
}

impl PrinterReply {
    pub(crate) fn parse(b: u8) -> PrinterReply {
        PrinterReply {
            offline: b & 0x08 != 0,
            drawer_high: b & 0x04 != 0,
        }
    }
}

/// The drawer as the sensor's level reads through the configured polarity; `Unknown`
/// when the printer did not answer `DLE EOT 1`.
pub(crate) fn drawer_state(printer: Option<PrinterReply>, open_level: DrawerLevel) -> DrawerState {
    match (printer.map(|p| p.drawer_high), open_level) {
        (None, _) => DrawerState::Unknown,
        (Some(true), DrawerLevel::High) | (Some(false), DrawerLevel::Low) => DrawerState::Open,
        (Some(_), _) => DrawerState::Closed,
    }
}

/// `DLE EOT 2`'s reply: why the printer is offline.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct OfflineCause {
    /// Bit 2.
    pub(crate) cover_open: bool,
    /// Bit 5: printing stopped by paper end.
    pub(crate) paper_stop: bool,
    /// Bit 6: an error occurred.
    pub(crate) error: bool,
}

impl OfflineCause {
    pub(crate) fn parse(b: u8) -> OfflineCause {
        OfflineCause {
            cover_open: b & 0x04 != 0,
            paper_stop: b & 0x20 != 0,
            error: b & 0x40 != 0,
        }
    }
}

/// `DLE EOT 4`'s reply: the roll paper sensor.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum PaperSensor {
    Adequate,
    /// Bits 2 and 3 (only where a near-end sensor is fitted).
    NearEnd,
    /// Bits 5 and 6.
    End,
}

impl PaperSensor {
    pub(crate) fn parse(b: u8) -> PaperSensor {
        if b & 0x60 == 0x60 {
            PaperSensor::End
        } else if b & 0x0C == 0x0C {
            PaperSensor::NearEnd
        } else {
            PaperSensor::Adequate
        }
    }
}

/// Why the printer cannot take a receipt now.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum NotReady {
    PaperOut,
    CoverOpen,
    Offline,
    PrinterError,
}

impl NotReady {
    /// As `PrinterStatus.error` words it.
    pub(crate) fn as_str(self) -> &'static str {
        match self {
            NotReady::PaperOut => "paper out",
            NotReady::CoverOpen => "cover open",
            NotReady::Offline => "offline",
            NotReady::PrinterError => "printer error",
        }
    }
}

/// The printer's state as its `DLE EOT` replies tell it; `None` where it did not answer.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub(crate) struct Realtime {
    pub(crate) printer: Option<PrinterReply>,
    pub(crate) offline_cause: Option<OfflineCause>,
    pub(crate) paper: Option<PaperSensor>,
    /// Bytes came back but not as a printer answers (wrong fixed bits, more than one byte
    /// per request, two answers to the same request that differ): line noise, nothing of
    /// it believed, and nothing else on this connection either.
    pub(crate) garbled: bool,
}

impl Realtime {
    /// Decode the replies to `DLE EOT 1`, `2` and `4`, each `None` when none came.
    pub(crate) fn from_replies(
        printer: Option<u8>,
        offline_cause: Option<u8>,
        paper: Option<u8>,
    ) -> Realtime {
        Realtime {
            printer: printer.map(PrinterReply::parse),
            offline_cause: offline_cause.map(OfflineCause::parse),
            paper: paper.map(PaperSensor::parse),
            garbled: false,
        }
    }

    /// Bytes came back that are no printer's answers: status unknown.
    pub(crate) fn garbled() -> Realtime {
        Realtime {
            garbled: true,
            ..Realtime::default()
        }
    }

    /// Whether the printer answered at all.
    pub(crate) fn answered(self) -> bool {
        self.printer.is_some() || self.offline_cause.is_some() || self.paper.is_some()
    }

    pub(crate) fn offline(self) -> Option<bool> {
        self.printer.map(|p| p.offline)
    }

    pub(crate) fn cover_open(self) -> Option<bool> {
        self.offline_cause.map(|c| c.cover_open)
    }

    /// The sensor's word as the protocol spells it (`Unknown` when it did not answer),
    /// except that printing stopped by paper end is `Out` whatever the sensor says.
    pub(crate) fn paper(self) -> Paper {
        let stopped = self.offline_cause.is_some_and(|c| c.paper_stop);
        match self.paper {
            Some(PaperSensor::End) => Paper::Out,
            _ if stopped => Paper::Out,
            Some(PaperSensor::NearEnd) => Paper::NearEnd,
            Some(PaperSensor::Adequate) => Paper::Ok,
            None => Paper::Unknown,
        }
    }

    /// Why the printer cannot take a receipt now, if it says so.
    pub(crate) fn not_ready(self) -> Option<NotReady> {
        if self.paper() == Paper::Out {
            Some(NotReady::PaperOut)
        } else if self.cover_open() == Some(true) {
            Some(NotReady::CoverOpen)
        } else if self.offline() == Some(true) {
            Some(NotReady::Offline)
        } else if self.offline_cause.is_some_and(|c| c.error) {
            Some(NotReady::PrinterError)
        } else {
            None
        }
    }

    /// As the protocol's `printer` event reports it, the drawer read with `open_level`.
    pub(crate) fn to_protocol(self, transport: &str, open_level: DrawerLevel) -> PrinterStatus {
        let error = match (self.answered(), self.not_ready()) {
            _ if self.garbled => Some(GARBLED.into()),
            (false, _) => {
                Some("the printer did not answer the status request (status unknown)".into())
            }
            (true, Some(why)) => Some(why.as_str().into()),
            (true, None) => None,
        };
        PrinterStatus {
            online: self.offline().map(|off| !off),
            paper: self.paper(),
            cover_open: self.cover_open(),
            error,
            transport: Some(transport.to_owned()),
            drawer: drawer_state(self.printer, open_level),
        }
    }
}

/// What `PrinterStatus.error` says when the printer's answers were line noise.
pub(crate) const GARBLED: &str = "the printer's answers to the status request were not valid \
     status bytes (line noise): check the baud rate, the flow control and the cable";

/// A transport that cannot ask a printer (the `file` transport): paper `ok`, nothing else
/// known, `error` when it cannot write.
pub(crate) fn unasked(error: Option<String>, transport: String) -> PrinterStatus {
    PrinterStatus {
        online: None,
        paper: Paper::Ok,
        cover_open: None,
        error,
        transport: Some(transport),
        drawer: DrawerState::Unknown,
    }
}

/// A printer that cannot be reached: its link failed, or the printer thread has stopped.
pub(crate) fn unreachable(error: String, transport: Option<String>) -> PrinterStatus {
    PrinterStatus {
        online: Some(false),
        paper: Paper::Unknown,
        cover_open: None,
        error: Some(error),
        transport,
        drawer: DrawerState::Unknown,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn decodes_realtime_status() {
        assert!(
            valid_realtime(0x12)
                && valid_realtime(0x16)
                && !valid_realtime(0x00)
                && !valid_realtime(0x13)
        );
        let ready = Realtime::from_replies(Some(0x12), Some(0x12), Some(0x12));
        assert_eq!(ready.not_ready(), None);
        assert_eq!(ready.paper(), Paper::Ok);
        assert_eq!(ready.to_protocol("x", DrawerLevel::Low).paper, Paper::Ok);
        let out = Realtime::from_replies(Some(0x12), Some(0x12), Some(0x72));
        assert_eq!(out.paper(), Paper::Out);
        assert_eq!(out.not_ready(), Some(NotReady::PaperOut));
        let reported = out.to_protocol("x", DrawerLevel::Low);
        assert_eq!(reported.paper, Paper::Out);
        assert_eq!(reported.error.as_deref(), Some("paper out"));
        let near = Realtime::from_replies(Some(0x12), Some(0x12), Some(0x1E));
        assert_eq!(near.paper(), Paper::NearEnd);
        assert_eq!(
            near.to_protocol("x", DrawerLevel::Low).paper,
            Paper::NearEnd
        );
        assert_eq!(near.not_ready(), None, "near end still prints");
        let cover = Realtime::from_replies(Some(0x1A), Some(0x16), Some(0x12));
        assert_eq!(cover.cover_open(), Some(true));
        assert_eq!(cover.not_ready(), Some(NotReady::CoverOpen));
        assert_eq!(
            cover.to_protocol("x", DrawerLevel::Low).error.as_deref(),
            Some("cover open")
        );
        let silent = Realtime::default();
        let status = silent.to_protocol("tcp x", DrawerLevel::Low);
        assert_eq!(status.online, None);
        assert_eq!(status.paper, Paper::Unknown);
        assert!(status.error.unwrap().contains("unknown"));
        let noise = Realtime::garbled().to_protocol("serial x", DrawerLevel::Low);
        assert_eq!((noise.online, noise.paper), (None, Paper::Unknown));
        assert!(noise.error.unwrap().contains("baud rate"));
    }

    #[test]
    fn the_drawer_sensor_reads_through_the_configured_polarity() {
        // DLE EOT 1 bit 2: connector pin 3 high (node-escpos #288 saw 0x16 on a real one).
        let high = Realtime::from_replies(Some(0x16), Some(0x12), Some(0x12));
        let low = Realtime::from_replies(Some(0x12), Some(0x12), Some(0x12));
        let drawer = |r: Realtime, level| r.to_protocol("x", level).drawer;
        assert_eq!(drawer(high, DrawerLevel::Low), DrawerState::Closed);
        assert_eq!(drawer(low, DrawerLevel::Low), DrawerState::Open);
        assert_eq!(drawer(high, DrawerLevel::High), DrawerState::Open);
        assert_eq!(drawer(low, DrawerLevel::High), DrawerState::Closed);
        assert_eq!(high.not_ready(), None, "an open drawer is no printer fault");
        let silent = Realtime::default();
        assert_eq!(drawer(silent, DrawerLevel::Low), DrawerState::Unknown);
        assert_eq!(
            drawer(Realtime::garbled(), DrawerLevel::High),
            DrawerState::Unknown
        );
        let unreachable = unreachable("gone".into(), None);
        assert_eq!(unreachable.drawer, DrawerState::Unknown);
    }

    #[test]
    fn a_gs_r_answer_has_its_documented_shape() {
        for ok in [0x00, 0x03, 0x0C, 0x0F, 0x20, 0x40, 0x63] {
            assert!(valid_gs_r(ok), "{ok:#04x}");
        }
        // Bit 4 or 7 set, or a sensor pair split: noise, not an answer.
        for noise in [0x10, 0x80, 0x01, 0x02, 0x04, 0x08, 0x05, 0x12, 0xFF] {
            assert!(!valid_gs_r(noise), "{noise:#04x}");
        }
    }
}

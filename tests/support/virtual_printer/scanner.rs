//! The streaming ESC/POS scanner: it turns received bytes into classified items (print data,
//! `ESC @`, the end of a cut, a drawer pulse, a status query, `GS r`) and reports the
//! real-time commands that act on arrival. Command lengths come from `commands.rs`.

use std::collections::VecDeque;

use super::commands::{Class, Step, classify};

/// What one received byte is, once its command is known.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(super) enum Kind {
    /// Print data or an in-order command: kept in `bytes()`.
    Print,
    /// The first byte of `ESC @`.
    Init,
    /// The last byte of a cut.
    CutEnd,
    /// The last byte of `ESC p` (drawer pulse, in order with the print data).
    Pulse,
    /// Part of a status query or real-time command: not print data.
    Query,
    /// The last byte of `GS r n`: answered when the engine gets there.
    GsR(u8),
    /// The last byte of `GS I n`: answered when the engine gets there.
    GsI(u8),
}

/// One received byte and what it is.
#[derive(Debug, Clone, Copy)]
pub(super) struct Item {
    pub(super) byte: u8,
    pub(super) kind: Kind,
}

/// Something the parser saw that acts on arrival.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(super) enum Realtime {
    /// `DLE EOT n`: answer now.
    Status(u8),
    /// `DLE DC4 1 m t`: pulse the drawer now (unless disabled by `GS ( D`).
    Pulse,
    /// `GS r n` was received (counted as a status query).
    GsRSeen,
}

/// Where the scanner is: between commands, in a header, or skipping a payload.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
enum Mode {
    #[default]
    Ground,
    Header,
    Payload(u64),
    UntilNul(usize),
}

/// A streaming ESC/POS parser: turns received bytes into classified items.
#[derive(Debug, Default)]
pub(super) struct Parser {
    mode: Mode,
    /// Header bytes of the command being read (kept whole for re-classification after
    /// each payload block).
    cmd: Vec<u8>,
    /// How many of `cmd` were already passed on as items (before a payload).
    flushed: usize,
    /// Payload blocks of this command already skipped.
    parts: u32,
    /// The last bytes of the current payload, to spot real-time commands in it.
    scan: Vec<u8>,
    /// `DLE DC4 fn 1` (drawer pulse) disabled by `GS ( D`.
    pulse_disabled: bool,
}

impl Parser {
    /// Bytes held in the parser (a command header not yet complete).
    pub(super) fn pending(&self) -> usize {
        self.cmd.len() - self.flushed
    }

    /// Feed one received byte. Classified bytes go to `out`, real-time actions to `rt`.
    pub(super) fn feed(
        &mut self,
        b: u8,
        realtime_in_data: bool,
        out: &mut VecDeque<Item>,
        rt: &mut Vec<Realtime>,
    ) {
        match self.mode {
            Mode::Ground => match b {
                0x10 | 0x1B | 0x1C | 0x1D => {
                    self.cmd.clear();
                    self.cmd.push(b);
                    self.flushed = 0;
                    self.parts = 0;
                    self.mode = Mode::Header;
                }
                _ => out.push_back(Item {
                    byte: b,
                    kind: Kind::Print,
                }),
            },
            Mode::Header => {
                self.cmd.push(b);
                self.advance(out, rt, realtime_in_data);
            }
            Mode::Payload(left) => {
                out.push_back(Item {
                    byte: b,
                    kind: Kind::Print,
                });
                if realtime_in_data {
                    self.scan_payload(b, rt);
                }
                if left > 1 {
                    self.mode = Mode::Payload(left - 1);
                } else {
                    self.end_payload(out, rt, realtime_in_data);
                }
            }
            Mode::UntilNul(left) => {
                out.push_back(Item {
                    byte: b,
                    kind: Kind::Print,
                });
                if b == 0 || left <= 1 {
                    self.mode = Mode::Ground;
                } else {
                    self.mode = Mode::UntilNul(left - 1);
                }
            }
        }
    }

    /// A payload has been skipped: classify the header again.
    fn end_payload(
        &mut self,
        out: &mut VecDeque<Item>,
        rt: &mut Vec<Realtime>,
        realtime_in_data: bool,
    ) {
        self.scan.clear();
        self.parts += 1;
        self.mode = Mode::Header;
        self.advance(out, rt, realtime_in_data);
    }

    /// Look at the header after a new byte (or a finished payload).
    fn advance(&mut self, out: &mut VecDeque<Item>, rt: &mut Vec<Realtime>, rt_in_data: bool) {
        match classify(&self.cmd, self.parts) {
            Step::More => {}
            Step::Payload(0) => self.end_payload(out, rt, rt_in_data),
            Step::Payload(n) => {
                self.flush_header(Kind::Print, out);
                self.mode = Mode::Payload(n);
            }
            Step::UntilNul(max) => {
                self.flush_header(Kind::Print, out);
                self.mode = Mode::UntilNul(max);
            }
            Step::NotACommand => {
                // Only ever for DLE sequences, which have no payload: nothing flushed yet.
                let rest = self.cmd.split_off(1);
                self.flush_header(Kind::Print, out);
                self.mode = Mode::Ground;
                for b in rest {
                    self.feed(b, rt_in_data, out, rt);
                }
            }
            Step::Done(class) => {
                self.mode = Mode::Ground;
                self.complete(class, out, rt);
            }
        }
    }

    /// A command is complete: turn its header bytes into items.
    fn complete(&mut self, class: Class, out: &mut VecDeque<Item>, rt: &mut Vec<Realtime>) {
        let last = match class {
            Class::Print | Class::RealtimeControl => Kind::Print,
            Class::Init => Kind::Print,
            Class::Cut => Kind::CutEnd,
            Class::EscP => Kind::Pulse,
            Class::GsR(n) => Kind::GsR(n),
            Class::GsI(n) => Kind::GsI(n),
            Class::DleEot(_) | Class::DlePulse | Class::OtherRealtime => Kind::Query,
        };
        let body = match class {
            Class::GsR(_)
            | Class::GsI(_)
            | Class::DleEot(_)
            | Class::DlePulse
            | Class::OtherRealtime => Kind::Query,
            _ => Kind::Print,
        };
        match class {
            Class::Init => self.pulse_disabled = false,
            Class::RealtimeControl => self.realtime_control(),
            Class::DleEot(n) => rt.push(Realtime::Status(n)),
            Class::DlePulse if !self.pulse_disabled => rt.push(Realtime::Pulse),
            Class::GsR(_) => rt.push(Realtime::GsRSeen),
            _ => {}
        }
        let n = self.cmd.len();
        for i in self.flushed..n {
            let byte = self.cmd[i];
            let kind = if i == 0 && class == Class::Init {
                Kind::Init
            } else if i + 1 == n {
                last
            } else {
                body
            };
            out.push_back(Item { byte, kind });
        }
        self.flushed = n;
    }

    /// Pass the header bytes not yet passed on as items of one kind.
    fn flush_header(&mut self, kind: Kind, out: &mut VecDeque<Item>) {
        for &byte in &self.cmd[self.flushed..] {
            out.push_back(Item { byte, kind });
        }
        self.flushed = self.cmd.len();
    }

    /// `GS ( D pL pH 20 [a b]…`: a = 1 is `DLE DC4 fn 1`, b = 0 disables, 1 enables.
    fn realtime_control(&mut self) {
        let body = &self.cmd[5..];
        if body.first() != Some(&20) {
            return;
        }
        for pair in body[1..].chunks_exact(2) {
            if pair[0] == 1 {
                self.pulse_disabled = pair[1] == 0;
            }
        }
    }

    /// Real-time commands inside a payload, for printers that obey them there.
    fn scan_payload(&mut self, b: u8, rt: &mut Vec<Realtime>) {
        self.scan.push(b);
        if self.scan.len() > 5 {
            self.scan.remove(0);
        }
        let s = &self.scan;
        let n = s.len();
        if n >= 3 && s[n - 3] == 0x10 && s[n - 2] == 0x04 && (1..=4).contains(&s[n - 1]) {
            rt.push(Realtime::Status(s[n - 1]));
            self.scan.clear();
        } else if n == 5 && s[0] == 0x10 && s[1] == 0x14 && s[2] == 1 {
            if !self.pulse_disabled {
                rt.push(Realtime::Pulse);
            }
            self.scan.clear();
        }
    }
}

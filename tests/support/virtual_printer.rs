//! A virtual ESC/POS receipt printer for integration tests: the daemon talks to it exactly
//! as to real hardware, through a pseudo-terminal (serial) or a TCP listener (port 9100).
//!
//! ```ignore
//! let printer = VirtualPrinter::start(Link::Pty);       // synchronous: spawns std threads
//! // configure the daemon with `printer.device_path()` (or `printer.address()` for TCP)
//! let receipts = printer.wait_receipts(1, TIMEOUT).await;
//! printer.set_state(|s| s.paper = Paper::Out);
//! ```
//!
//! # How it works
//!
//! Bytes arrive from the link into a *receive buffer* (`PrinterState::rx_buffer`, 4 KiB by
//! default, like a Star TSP or many 58 mm clones). As they arrive they are run through an
//! ESC/POS command parser that knows the length of every command in
//! `reference/escpos.md` §1–3 (and a few more), so bytes inside a command's parameters or
//! payload — raster images (`GS v 0`, `ESC *`, `GS ( L`, `GS 8 L`, `GS *`, `FS q`), `GS ( k`
//! QR data, barcodes, user-defined characters — are never taken for commands.
//!
//! * **Real-time commands** (`DLE EOT n`, `DLE ENQ n`, `DLE DC4 …`) act on arrival, whatever
//!   the printer's state (paper out, offline, cover open), as on real printers. `DLE EOT n`
//!   is answered at once with one byte:
//!
//!   | n | reply                                                              |
//!   |---|--------------------------------------------------------------------|
//!   | 1 | `0x12`, `| 0x08` offline (= not `online`, or cover open, or paper out) |
//!   | 2 | `0x12`, `| 0x04` cover open, `| 0x20` paper out ("stopped by paper end") |
//!   | 3 | `0x12` (no errors are modelled)                                    |
//!   | 4 | `0x12`; near end `0x1E` (bits 2+3); out `0x7E` (bits 2+3 and 5+6)  |
//!
//!   So: all fine `12 12 12 12`; paper out `1A 32 12 7E`; cover open `1A 16 12 12`;
//!   offline `1A 12 12 12`; near end `12 12 12 1E`.
//! * **The print engine** takes bytes out of the receive buffer in order (at
//!   `slow_reader_bytes_per_sec` if set, else at once). It stops while the printer is
//!   offline, the cover is open or the paper is out, and goes on where it stopped when that
//!   clears. `GS r n` is answered when the engine reaches it, i.e. "everything before it was
//!   processed": `GS r 1`/`GS r 49` → paper sensor `0x00` ok, `0x03` near end, `0x0C` out
//!   (never sent in practice: the engine is stopped while out); `GS r 2`/`GS r 50` → drawer
//!   `0x00`.
//! * `silent`: nothing is ever answered (a unidirectional or dumb printer).
//! * **Print data** ([`VirtualPrinter::bytes`]) is what the engine processed, in order,
//!   *without* the status queries (`DLE EOT`, `DLE ENQ`, `DLE DC4`, `GS r`), which are not
//!   print data; [`VirtualPrinter::raw`] has every byte that entered the receive buffer,
//!   queries and held data included.
//! * **Receipts** ([`VirtualPrinter::receipts`]): a receipt starts at the first `ESC @` after
//!   the previous cut (or at the previous cut / the start of the stream when a job has no
//!   `ESC @`) and ends with the last byte of its cut (`GS V …`, or the legacy `ESC i` /
//!   `ESC m`). Only complete (cut) receipts are listed; a second `ESC @` inside a job does not
//!   split it.
//!
//! # Links
//!
//! * [`Link::Pty`]: a pseudo-terminal pair, raw mode (`cfmakeraw`: no echo, no CR/LF
//!   translation). The daemon opens the slave through a stable symlink in a temporary
//!   directory ([`VirtualPrinter::device_path`], like a udev `/dev/receipt-printer`); the
//!   printer keeps a slave fd of its own open, so the daemon may open and close the device as
//!   often as it likes without the master seeing a hang-up. Replies sent while the daemon has
//!   the device closed wait in the tty's input queue (as on a real line; flush input before
//!   querying).
//!   - [`VirtualPrinter::unplug`] closes the master (and the printer's slave fd) and removes
//!     the symlink: the daemon's open fd then fails with `EIO` on write (on real USB-serial
//!     or usblp hardware it would be `EIO`/`ENODEV`), and opening the path fails with
//!     `ENOENT`. [`VirtualPrinter::replug`] makes a new pair and points the symlink at the new
//!     slave. The printer itself stays powered: data already in its buffer and a half-received
//!     command stay (like a real printer whose USB-serial adapter was pulled).
//!   - **Flow control.** RTS/CTS lines cannot be emulated on a pty; their *effect* is: when
//!     the receive buffer is full the printer stops reading the master, the kernel's pty
//!     buffer (tens of KiB) fills and the daemon's `write` blocks — as if CTS dropped. The
//!     printer reads the slave's termios (the daemon's settings) through the master: with
//!     `drop_without_flow_control`, when the receive buffer is full, *further bytes are
//!     dropped* (a printer overrun; the rest of a QR prints as garbage) — unless the daemon
//!     set `CRTSCTS` (hardware flow control), or set `IXON` while the printer has `xon_xoff`.
//!     Drops only happen with a slow reader or a held engine: an idle engine drains at once.
//!     Caveat: a pty has no baud rate — one `write()` of 10 KiB lands in the kernel at once,
//!     so a daemon without flow control must pace its writes itself (as it must on a real
//!     line); the printer reads eagerly when dropping, so an unpaced burst overruns.
//!   - `xon_xoff` (software flow control, pty only): the printer sends `XOFF` (`0x13`) when
//!     its buffer is ≥ 75 % full and `XON` (`0x11`) when it has drained to ≤ 25 %. With
//!     `IXON` set on the slave the kernel then really stops the daemon's output; without it
//!     the daemon reads the `0x13`/`0x11` bytes as data. `XON`/`XOFF` appear in
//!     [`VirtualPrinter::replies`].
//! * [`Link::Tcp`]: a listener on `127.0.0.1:0` with port 9100 semantics: one connection at a
//!   time, accepted in order (others wait in the listen backlog, their writes buffered by the
//!   kernel), replies on the same socket. When the peer closes, replies still due (a `GS r`
//!   behind held data) are lost. TCP has its own flow control, so nothing is ever dropped;
//!   a slow or held printer just stops reading (the daemon's writes block / time out).
//!   [`VirtualPrinter::unplug`] stops listening and drops the connection (the peer sees a
//!   reset/EOF, new connects are refused); [`VirtualPrinter::replug`] listens on the same
//!   port again.
//!
//! # Faithful / simplified
//!
//! Faithful: real-time status answered on arrival in any state; `GS r` in order and not
//! while paper is out; held data resumes where it stopped; bytes inside command parameters
//! and payloads are not commands (`ESC 3 16` = `1B 33 10` does not start a `DLE`);
//! overrun drops bytes, which desynchronises the parser exactly like a real printer (so
//! [`VirtualPrinter::receipts`] then show garbage or merge jobs); `ESC @` resets `GS ( D`.
//!
//! Simplified:
//! * Default: real-time commands inside payloads are *ignored*. Real printers may obey
//!   `DLE EOT` / `DLE DC4` found inside image data (escpos.md §2 "Hazard"). Set
//!   `realtime_in_data` to model that: then a `10 04 n` inside a payload is answered (it
//!   cannot be disabled: Epson's `GS ( D`, `1D 28 44 05 00 14 01 00 02 00`, only disables
//!   `DLE DC4` fn 1 and fn 2), and a `10 14 01 m t` inside a payload counts as a drawer pulse
//!   unless `GS ( D` disabled fn 1. Real-time commands inside command *parameters* (e.g.
//!   between `ESC 3` and its `n`) are never obeyed.
//! * Commands are parsed when they *arrive*, not when printed: `GS ( D` takes effect on
//!   arrival.
//! * No ASB (`GS a` is accepted and ignored), no `GS I` / fn 182 / `ESC v` replies, no
//!   errors (`DLE EOT 3` is always `0x12`), no page mode semantics. Unknown `ESC x`, `GS x`,
//!   `FS x` are taken as two-byte commands. Invalid `DLE EOT n` (n ∉ 1..=4) is print data.
//! * Receive-buffer accounting counts raw bytes, queries included; a held printer with a full
//!   buffer stops reading, so a `DLE EOT` sent *after* a full buffer waits too (with
//!   DTR/DSR that is what real printers do; some would still answer).
//! * No baud rate on a pty (see above); `slow_reader_bytes_per_sec` models the drain rate.
//!
//! Several printers may run in one test process; there is no global state. Dropping the
//! [`VirtualPrinter`] stops its threads, closes its fds and removes its temporary directory.
//! [`VirtualPrinter::wait_receipts`] is `async` (tests run the daemon on the same tokio
//! runtime; a blocking wait would starve it); [`VirtualPrinter::wait_receipts_blocking`] is
//! for tests without a runtime. Do not use either under paused tokio time.

#![allow(dead_code)]

use std::collections::VecDeque;
use std::ffi::CStr;
use std::fs::File;
use std::io::{self, Read, Write};
use std::net::{Shutdown, TcpListener, TcpStream};
use std::os::fd::{AsRawFd, FromRawFd, OwnedFd};
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::{Arc, Condvar, Mutex, MutexGuard};
use std::thread::JoinHandle;
use std::time::{Duration, Instant};

/// How the daemon reaches the printer.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Link {
    /// Serial, through a pseudo-terminal pair; the daemon opens [`VirtualPrinter::device_path`].
    Pty,
    /// A raw TCP listener (port 9100 semantics) at [`VirtualPrinter::address`].
    Tcp,
}

/// The roll paper sensor.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Paper {
    Ok,
    NearEnd,
    Out,
}

/// The printer's condition; change it with [`VirtualPrinter::set_state`].
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PrinterState {
    /// `false`: offline (engine stopped, `DLE EOT 1` bit 3).
    pub online: bool,
    pub paper: Paper,
    pub cover_open: bool,
    /// Never answer anything (`DLE EOT`, `GS r`).
    pub silent: bool,
    /// Pty only: when the receive buffer is full and the host uses no matching flow control,
    /// drop incoming bytes instead of making the writer wait.
    pub drop_without_flow_control: bool,
    /// The engine drains the receive buffer at this rate (e.g. `Some(960)` ≈ 9600 baud);
    /// `None`: at once.
    pub slow_reader_bytes_per_sec: Option<u32>,
    /// Pty only: software flow control, `XOFF` at ≥ 75 % full, `XON` at ≤ 25 %.
    pub xon_xoff: bool,
    /// Obey real-time commands found inside command payloads (image data), like some real
    /// printers do. See the module docs.
    pub realtime_in_data: bool,
    /// Receive buffer size in bytes (default 4096).
    pub rx_buffer: usize,
    /// The paper runs out after this many more printed bytes (then `paper` becomes `Out`
    /// and this `None`): paper out in the middle of a receipt.
    pub paper_out_after_bytes: Option<usize>,
    /// The paper runs out right after this many more cuts: paper out between receipts.
    pub paper_out_after_cuts: Option<usize>,
}

impl Default for PrinterState {
    fn default() -> Self {
        PrinterState {
            online: true,
            paper: Paper::Ok,
            cover_open: false,
            silent: false,
            drop_without_flow_control: false,
            slow_reader_bytes_per_sec: None,
            xon_xoff: false,
            realtime_in_data: false,
            rx_buffer: 4096,
            paper_out_after_bytes: None,
            paper_out_after_cuts: None,
        }
    }
}

impl PrinterState {
    /// The engine is stopped: offline, cover open or paper out.
    pub fn held(&self) -> bool {
        !self.online || self.cover_open || self.paper == Paper::Out
    }

    /// The reply to `DLE EOT n`, `None` for an n the printer does not know.
    pub fn dle_eot_reply(&self, n: u8) -> Option<u8> {
        let mut b = 0x12;
        match n {
            1 => {
                if self.held() {
                    b |= 0x08;
                }
            }
            2 => {
                if self.cover_open {
                    b |= 0x04;
                }
                if self.paper == Paper::Out {
                    b |= 0x20;
                }
            }
            3 => {}
            4 => match self.paper {
                Paper::Ok => {}
                Paper::NearEnd => b |= 0x0C,
                Paper::Out => b |= 0x0C | 0x60,
            },
            _ => return None,
        }
        Some(b)
    }

    /// The reply to `GS r n`, `None` for an n the printer does not know.
    pub fn gs_r_reply(&self, n: u8) -> Option<u8> {
        match n {
            1 | 49 => Some(match self.paper {
                Paper::Ok => 0x00,
                Paper::NearEnd => 0x03,
                Paper::Out => 0x0C,
            }),
            2 | 50 => Some(0x00),
            _ => None,
        }
    }
}

const XON: u8 = 0x11;
const XOFF: u8 = 0x13;
/// How often the I/O threads look at their stop flag.
const TICK: Duration = Duration::from_millis(20);

// =======================================================================================
// ESC/POS parser
// =======================================================================================

/// What one received byte is, once its command is known.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Kind {
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
}

#[derive(Debug, Clone, Copy)]
struct Item {
    byte: u8,
    kind: Kind,
}

/// Something the parser saw that acts on arrival.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Realtime {
    /// `DLE EOT n`: answer now.
    Status(u8),
    /// `DLE DC4 1 m t`: pulse the drawer now (unless disabled by `GS ( D`).
    Pulse,
    /// `GS r n` was received (counted as a status query).
    GsRSeen,
}

/// What a (partial) command header needs next.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Step {
    /// More header bytes.
    More,
    /// The command is complete.
    Done(Class),
    /// The header (so far) is complete; this many payload bytes follow, after which the
    /// header is classified again (with one more part done).
    Payload(u64),
    /// Bytes up to and including a NUL follow (at most this many), then the command ends.
    UntilNul(usize),
    /// Not a command: the first byte is print data, the rest is parsed again.
    NotACommand,
}

/// What a complete command is, for the items it becomes.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Class {
    Print,
    Init,
    Cut,
    EscP,
    GsR(u8),
    DleEot(u8),
    DlePulse,
    OtherRealtime,
    /// `GS ( D`: enable/disable real-time commands.
    RealtimeControl,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
enum Mode {
    #[default]
    Ground,
    Header,
    Payload(u64),
    UntilNul(usize),
}

fn le16(lo: u8, hi: u8) -> u64 {
    u64::from(lo) | (u64::from(hi) << 8)
}

/// Classify the header of the command being read. `cmd` holds the header bytes (payload
/// bytes are not kept), `parts` how many payload blocks were skipped already.
fn classify(cmd: &[u8], parts: u32) -> Step {
    use Step::*;
    // Complete after exactly `n` header bytes.
    let fixed = |n: usize, class: Class| if cmd.len() >= n { Done(class) } else { More };
    // Header of `n` bytes, then `len(cmd)` payload bytes, then done.
    let with_payload = |n: usize, len: &dyn Fn(&[u8]) -> u64| {
        if cmd.len() < n {
            More
        } else if parts == 0 {
            Payload(len(cmd))
        } else {
            Done(Class::Print)
        }
    };
    if cmd.len() < 2 {
        return More;
    }
    match (cmd[0], cmd[1]) {
        // ---------------------------------------------------------------- DLE (real-time)
        (0x10, 0x04) => match cmd.get(2) {
            None => More,
            Some(&n) if (1..=4).contains(&n) => Done(Class::DleEot(n)),
            Some(_) => NotACommand,
        },
        (0x10, 0x05) => match cmd.get(2) {
            None => More,
            Some(&n) if (1..=4).contains(&n) => Done(Class::OtherRealtime),
            Some(_) => NotACommand,
        },
        (0x10, 0x14) => match cmd.get(2) {
            None => More,
            Some(1) => fixed(5, Class::DlePulse),
            Some(2) => fixed(5, Class::OtherRealtime),
            Some(7) => fixed(4, Class::OtherRealtime),
            Some(8) => fixed(10, Class::OtherRealtime),
            Some(_) => NotACommand,
        },
        (0x10, _) => NotACommand,

        // ---------------------------------------------------------------- ESC
        (0x1B, c) => match c {
            b'@' => Done(Class::Init),
            b'i' | b'm' => Done(Class::Cut),
            b'2' | b'<' | b'L' | b'S' | b'v' | 0x0C => Done(Class::Print),
            b' ' | b'!' | b'%' | b'-' | b'3' | b'=' | b'?' | b'E' | b'G' | b'J' | b'K' | b'M'
            | b'R' | b'T' | b'U' | b'V' | b'a' | b'd' | b'e' | b'r' | b't' | b'u' | b'{' => {
                fixed(3, Class::Print)
            }
            b'$' | b'\\' | b'c' => fixed(4, Class::Print),
            b'p' => fixed(5, Class::EscP),
            b'W' => fixed(10, Class::Print),
            // ESC * m nL nH d…: n columns of 1 (8-dot) or 3 (24-dot) bytes.
            b'*' => with_payload(5, &|c| le16(c[3], c[4]) * if c[2] >= 32 { 3 } else { 1 }),
            // ESC & y c1 c2 [x d1…d(y·x)]…: user-defined characters c1..=c2.
            b'&' => {
                if cmd.len() < 5 {
                    return More;
                }
                let (y, c1, c2) = (u64::from(cmd[2]), cmd[3], cmd[4]);
                let count = u32::from(c2.saturating_sub(c1)) + 1;
                if c2 < c1 || parts >= count {
                    return Done(Class::Print);
                }
                match cmd.get(5 + parts as usize) {
                    None => More,
                    Some(&x) => Payload(y * u64::from(x)),
                }
            }
            // ESC D n1 … NUL: tab positions (at most 32).
            b'D' => UntilNul(33),
            // ESC Z m n k dL dH d…: QR code on some Chinese firmwares.
            b'Z' => with_payload(7, &|c| le16(c[5], c[6])),
            _ => Done(Class::Print),
        },

        // ---------------------------------------------------------------- FS
        (0x1C, c) => match c {
            b'&' | b'.' => Done(Class::Print),
            b'!' | b'-' | b'W' | b'C' => fixed(3, Class::Print),
            b'S' | b'?' | b'p' => fixed(4, Class::Print),
            // FS 2 c1 c2 d1…d72: user-defined Kanji.
            b'2' => with_payload(4, &|_| 72),
            // FS ( fn pL pH …
            b'(' => with_payload(5, &|c| le16(c[3], c[4])),
            // FS q n [xL xH yL yH d1…d(x·y·8)]…: define NV bit images.
            b'q' => {
                let Some(&n) = cmd.get(2) else { return More };
                if parts >= u32::from(n) {
                    return Done(Class::Print);
                }
                let at = 3 + 4 * parts as usize;
                if cmd.len() < at + 4 {
                    return More;
                }
                Payload(le16(cmd[at], cmd[at + 1]) * le16(cmd[at + 2], cmd[at + 3]) * 8)
            }
            // FS g 1 m a1 a2 a3 a4 nL nH d… (write NV user memory), FS g 2 … (read).
            b'g' => match cmd.get(2) {
                None => More,
                Some(b'1') => with_payload(10, &|c| le16(c[8], c[9])),
                Some(_) => fixed(10, Class::Print),
            },
            _ => Done(Class::Print),
        },

        // ---------------------------------------------------------------- GS
        (0x1D, c) => match c {
            b':' | b'c' => Done(Class::Print),
            b'!' | b'/' | b'B' | b'E' | b'H' | b'I' | b'T' | b'Z' | b'a' | b'b' | b'f' | b'h'
            | b'j' | b'w' => fixed(3, Class::Print),
            b'r' => match cmd.get(2) {
                None => More,
                Some(&n) => Done(Class::GsR(n)),
            },
            b'$' | b'L' | b'P' | b'W' | b'\\' => fixed(4, Class::Print),
            b'^' => fixed(5, Class::Print),
            // GS g 0 m nL nH / GS g 2 m nL nH: maintenance counters.
            b'g' => fixed(6, Class::Print),
            // GS V m [n]: cut; functions B, C, D take an extra n.
            b'V' => match cmd.get(2) {
                None => More,
                Some(0x41 | 0x42 | 0x61 | 0x62 | 0x67 | 0x68) => fixed(4, Class::Cut),
                Some(_) => Done(Class::Cut),
            },
            // GS v 0 m xL xH yL yH d1…d(x·y): raster bit image.
            b'v' => with_payload(8, &|c| le16(c[4], c[5]) * le16(c[6], c[7])),
            // GS Q 0 m xL xH yL yH d…: variable vertical size bit image.
            b'Q' => with_payload(8, &|c| le16(c[4], c[5]) * le16(c[6], c[7]).div_ceil(8)),
            // GS * x y d1…d(x·y·8): downloaded bit image.
            b'*' => with_payload(4, &|c| u64::from(c[2]) * u64::from(c[3]) * 8),
            // GS ( D pL pH …: real-time command control; the body is kept, it is small.
            b'(' if cmd.len() >= 3 && cmd[2] == b'D' => {
                if cmd.len() < 5 || cmd.len() < 5 + le16(cmd[3], cmd[4]) as usize {
                    More
                } else {
                    Done(Class::RealtimeControl)
                }
            }
            // GS ( fn pL pH …: QR (`k`), graphics (`L`), everything else.
            b'(' => with_payload(5, &|c| le16(c[3], c[4])),
            // GS 8 fn p1 p2 p3 p4 …: graphics with a 32-bit length.
            b'8' => with_payload(7, &|c| le16(c[3], c[4]) | (le16(c[5], c[6]) << 16)),
            // GS k m d1…NUL (m ≤ 6) or GS k m n d1…dn (m ≥ 65): barcodes.
            b'k' => match cmd.get(2) {
                None => More,
                Some(&m) if m <= 6 => UntilNul(256),
                Some(_) => with_payload(4, &|c| u64::from(c[3])),
            },
            _ => Done(Class::Print),
        },

        _ => Done(Class::Print),
    }
}

/// A streaming ESC/POS parser: turns received bytes into classified items.
#[derive(Debug, Default)]
struct Parser {
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
    fn pending(&self) -> usize {
        self.cmd.len() - self.flushed
    }

    /// Feed one received byte. Classified bytes go to `out`, real-time actions to `rt`.
    fn feed(
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
            Class::DleEot(_) | Class::DlePulse | Class::OtherRealtime => Kind::Query,
        };
        let body = match class {
            Class::GsR(_) | Class::DleEot(_) | Class::DlePulse | Class::OtherRealtime => {
                Kind::Query
            }
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

// =======================================================================================
// Shared printer state
// =======================================================================================

/// Where replies go: the current pty master or TCP connection.
enum Sink {
    Pty(Arc<File>),
    Tcp(TcpStream),
}

impl Sink {
    /// Best effort, never blocks for long (the master is non-blocking; the socket has a
    /// write timeout): a reply nobody reads is lost, as on a real line.
    fn send(&mut self, bytes: &[u8]) -> bool {
        match self {
            Sink::Pty(f) => (&**f).write_all(bytes).is_ok(),
            Sink::Tcp(s) => s.write_all(bytes).is_ok(),
        }
    }
}

struct Inner {
    link: Link,
    state: PrinterState,
    parser: Parser,
    /// The receive buffer: classified bytes the engine has not processed yet.
    queue: VecDeque<Item>,
    /// Everything accepted into the receive buffer.
    raw: Vec<u8>,
    /// What the engine processed, status queries removed.
    printed: Vec<u8>,
    /// Everything sent back.
    replies: Vec<u8>,
    /// Complete receipts, as ranges of `printed`.
    receipts: Vec<(usize, usize)>,
    receipt_start: Option<usize>,
    /// End of the last cut.
    last_boundary: usize,
    status_queries: usize,
    drawer_pulses: usize,
    dropped: usize,
    sink: Option<Sink>,
    xoff_sent: bool,
    shutdown: bool,
}

impl Inner {
    /// Bytes in the receive buffer.
    fn fill(&self) -> usize {
        self.queue.len() + self.parser.pending()
    }

    fn reply(&mut self, bytes: &[u8]) {
        if let Some(sink) = &mut self.sink
            && sink.send(bytes)
        {
            self.replies.extend_from_slice(bytes);
        }
    }

    /// Bytes arrived from the link.
    fn receive(&mut self, data: &[u8], dropping: bool) {
        let mut rt = Vec::new();
        for &b in data {
            if dropping && self.fill() >= self.state.rx_buffer {
                self.dropped += 1;
                continue;
            }
            self.raw.push(b);
            self.parser
                .feed(b, self.state.realtime_in_data, &mut self.queue, &mut rt);
            for action in rt.drain(..) {
                match action {
                    Realtime::Status(n) => {
                        self.status_queries += 1;
                        if !self.state.silent
                            && let Some(reply) = self.state.dle_eot_reply(n)
                        {
                            self.reply(&[reply]);
                        }
                    }
                    Realtime::GsRSeen => self.status_queries += 1,
                    Realtime::Pulse => self.drawer_pulses += 1,
                }
            }
        }
        self.flow_control();
    }

    /// The engine: process up to `budget` items unless held.
    fn process(&mut self, budget: usize) {
        for _ in 0..budget {
            if self.state.held() {
                break;
            }
            let Some(item) = self.queue.front().copied() else {
                break;
            };
            if item.kind != Kind::Query && !matches!(item.kind, Kind::GsR(_)) {
                // The paper may run out before this byte.
                if self.state.paper_out_after_bytes == Some(0) {
                    self.state.paper_out_after_bytes = None;
                    self.state.paper = Paper::Out;
                    break;
                }
            }
            self.queue.pop_front();
            match item.kind {
                Kind::Query => {}
                Kind::GsR(n) => {
                    if !self.state.silent
                        && let Some(reply) = self.state.gs_r_reply(n)
                    {
                        self.reply(&[reply]);
                    }
                }
                Kind::Print | Kind::Init | Kind::CutEnd | Kind::Pulse => {
                    if item.kind == Kind::Init && self.receipt_start.is_none() {
                        self.receipt_start = Some(self.printed.len());
                    }
                    self.printed.push(item.byte);
                    if let Some(left) = &mut self.state.paper_out_after_bytes {
                        *left = left.saturating_sub(1);
                        if *left == 0 {
                            self.state.paper_out_after_bytes = None;
                            self.state.paper = Paper::Out;
                        }
                    }
                    match item.kind {
                        Kind::Pulse => self.drawer_pulses += 1,
                        Kind::CutEnd => self.cut(),
                        _ => {}
                    }
                }
            }
        }
        self.flow_control();
    }

    /// A cut: close the receipt.
    fn cut(&mut self) {
        let start = self.receipt_start.take().unwrap_or(self.last_boundary);
        self.receipts.push((start, self.printed.len()));
        self.last_boundary = self.printed.len();
        if let Some(left) = &mut self.state.paper_out_after_cuts {
            *left = left.saturating_sub(1);
            if *left == 0 {
                self.state.paper_out_after_cuts = None;
                self.state.paper = Paper::Out;
            }
        }
    }

    /// Software flow control (pty only): XOFF when nearly full, XON when drained.
    fn flow_control(&mut self) {
        if self.link != Link::Pty {
            return;
        }
        let cap = self.state.rx_buffer.max(4);
        let fill = self.fill();
        if self.state.xon_xoff && !self.xoff_sent && fill >= cap * 3 / 4 {
            self.xoff_sent = true;
            self.reply(&[XOFF]);
        } else if self.xoff_sent && (fill <= cap / 4 || !self.state.xon_xoff) {
            self.xoff_sent = false;
            self.reply(&[XON]);
        }
    }

    /// How many bytes the link thread may read now, and whether overflow is dropped.
    fn allowance(&self, host_flow_control: bool) -> (usize, bool) {
        let dropping =
            self.link == Link::Pty && self.state.drop_without_flow_control && !host_flow_control;
        if dropping {
            (READ_CHUNK, true)
        } else {
            let free = self.state.rx_buffer.saturating_sub(self.fill());
            (free.min(READ_CHUNK), false)
        }
    }
}

const READ_CHUNK: usize = 4096;

struct Shared {
    inner: Mutex<Inner>,
    /// Signalled whenever bytes arrive, are processed, or the state changes.
    changed: Condvar,
}

impl Shared {
    fn lock(&self) -> MutexGuard<'_, Inner> {
        self.inner.lock().unwrap_or_else(|e| e.into_inner())
    }

    fn wait<'a>(&self, guard: MutexGuard<'a, Inner>, d: Duration) -> MutexGuard<'a, Inner> {
        self.changed
            .wait_timeout(guard, d)
            .unwrap_or_else(|e| e.into_inner())
            .0
    }

    /// Read what the link thread may read, feed it in. `read` gets a buffer of the allowed
    /// size and returns `Ok(0)` at EOF; `Err(WouldBlock|TimedOut)` means "nothing yet".
    /// Returns `false` when the link is finished (EOF or error).
    fn pump(
        &self,
        buf: &mut [u8],
        host_flow_control: bool,
        read: impl FnOnce(&mut [u8]) -> io::Result<usize>,
    ) -> bool {
        let (limit, dropping) = {
            let inner = self.lock();
            let (limit, dropping) = inner.allowance(host_flow_control);
            if limit == 0 {
                // Buffer full: wait for the engine (like holding CTS low).
                drop(self.wait(inner, TICK));
                return true;
            }
            (limit, dropping)
        };
        match read(&mut buf[..limit]) {
            Ok(0) => false,
            Ok(n) => {
                self.lock().receive(&buf[..n], dropping);
                self.changed.notify_all();
                true
            }
            Err(e)
                if matches!(
                    e.kind(),
                    io::ErrorKind::WouldBlock
                        | io::ErrorKind::TimedOut
                        | io::ErrorKind::Interrupted
                ) =>
            {
                true
            }
            Err(_) => false,
        }
    }
}

/// The print engine thread: drains the receive buffer while not held.
fn engine(shared: Arc<Shared>) {
    let mut inner = shared.lock();
    let mut credit = 0.0f64;
    let mut last = Instant::now();
    loop {
        if inner.shutdown {
            return;
        }
        let now = Instant::now();
        let elapsed = now.duration_since(last).as_secs_f64();
        last = now;
        if inner.queue.is_empty() || inner.state.held() {
            credit = 0.0;
            inner.flow_control();
            inner = shared.wait(inner, TICK);
            continue;
        }
        let budget = match inner.state.slow_reader_bytes_per_sec {
            None => usize::MAX,
            Some(rate) => {
                let rate = f64::from(rate.max(1));
                // No bursts after a pause: at most 50 ms worth of credit.
                credit = (credit + elapsed * rate).min(rate * 0.05 + 1.0);
                let whole = credit.floor();
                credit -= whole;
                whole as usize
            }
        };
        if budget > 0 {
            inner.process(budget);
            shared.changed.notify_all();
        }
        if inner.state.slow_reader_bytes_per_sec.is_some() {
            inner = shared.wait(inner, Duration::from_millis(5));
        }
    }
}

// =======================================================================================
// Links
// =======================================================================================

/// A running link thread (one per plug-in).
struct Plug {
    stop: Arc<AtomicBool>,
    thread: JoinHandle<()>,
}

impl Plug {
    fn unplug(self) {
        self.stop.store(true, Ordering::SeqCst);
        let _ = self.thread.join();
    }
}

/// A pty pair: the master (non-blocking), the printer's own slave fd, the slave's path.
fn open_pty() -> io::Result<(File, File, PathBuf)> {
    // SAFETY: plain libc calls on fds we own; buffers are sized and NUL-terminated.
    unsafe {
        let master = libc::posix_openpt(libc::O_RDWR | libc::O_NOCTTY | libc::O_CLOEXEC);
        if master < 0 {
            return Err(io::Error::last_os_error());
        }
        let master = OwnedFd::from_raw_fd(master);
        if libc::grantpt(master.as_raw_fd()) != 0 || libc::unlockpt(master.as_raw_fd()) != 0 {
            return Err(io::Error::last_os_error());
        }
        let mut name = [0 as libc::c_char; 128];
        let rc = libc::ptsname_r(master.as_raw_fd(), name.as_mut_ptr(), name.len());
        if rc != 0 {
            return Err(io::Error::from_raw_os_error(rc));
        }
        let name = CStr::from_ptr(name.as_ptr());
        let slave = libc::open(
            name.as_ptr(),
            libc::O_RDWR | libc::O_NOCTTY | libc::O_CLOEXEC,
        );
        if slave < 0 {
            return Err(io::Error::last_os_error());
        }
        let slave = OwnedFd::from_raw_fd(slave);
        // Raw mode: no echo, no CR/LF translation, 8 bits, no flow control.
        let mut tio: libc::termios = std::mem::zeroed();
        if libc::tcgetattr(slave.as_raw_fd(), &mut tio) != 0 {
            return Err(io::Error::last_os_error());
        }
        libc::cfmakeraw(&mut tio);
        if libc::tcsetattr(slave.as_raw_fd(), libc::TCSANOW, &tio) != 0 {
            return Err(io::Error::last_os_error());
        }
        // Non-blocking master: a reply nobody reads must not block the printer.
        let flags = libc::fcntl(master.as_raw_fd(), libc::F_GETFL);
        if flags < 0 || libc::fcntl(master.as_raw_fd(), libc::F_SETFL, flags | libc::O_NONBLOCK) < 0
        {
            return Err(io::Error::last_os_error());
        }
        let path = PathBuf::from(name.to_string_lossy().into_owned());
        Ok((File::from(master), File::from(slave), path))
    }
}

/// Whether the host's termios (read through the master) asks for flow control the printer
/// honours: `CRTSCTS`, or `IXON` when the printer does XON/XOFF.
fn host_flow_control(master: &File, printer_xon_xoff: bool) -> bool {
    // SAFETY: tcgetattr into a zeroed termios on an fd we own.
    unsafe {
        let mut tio: libc::termios = std::mem::zeroed();
        if libc::tcgetattr(master.as_raw_fd(), &mut tio) != 0 {
            return false;
        }
        tio.c_cflag & libc::CRTSCTS != 0 || (printer_xon_xoff && tio.c_iflag & libc::IXON != 0)
    }
}

/// Wait until `fd` is readable, at most `timeout`.
fn poll_readable(fd: &impl AsRawFd, timeout: Duration) -> bool {
    let mut pfd = libc::pollfd {
        fd: fd.as_raw_fd(),
        events: libc::POLLIN,
        revents: 0,
    };
    // SAFETY: one valid pollfd.
    let rc = unsafe { libc::poll(&mut pfd, 1, timeout.as_millis() as libc::c_int) };
    rc > 0 && pfd.revents & libc::POLLIN != 0
}

/// Plug in a new pty, point `link_path` at its slave.
fn plug_pty(shared: &Arc<Shared>, link_path: &Path) -> io::Result<(Plug, PathBuf)> {
    let (master, slave, tty) = open_pty()?;
    // Re-point the symlink atomically.
    let tmp = link_path.with_extension("new");
    let _ = std::fs::remove_file(&tmp);
    std::os::unix::fs::symlink(&tty, &tmp)?;
    std::fs::rename(&tmp, link_path)?;

    let master = Arc::new(master);
    shared.lock().sink = Some(Sink::Pty(master.clone()));
    let stop = Arc::new(AtomicBool::new(false));
    let thread = {
        let (shared, stop) = (shared.clone(), stop.clone());
        std::thread::Builder::new()
            .name("vprinter-pty".into())
            .spawn(move || {
                let _slave = slave; // held open: the master never sees a hang-up
                let mut buf = vec![0u8; READ_CHUNK];
                while !stop.load(Ordering::SeqCst) {
                    let xon_xoff = shared.lock().state.xon_xoff;
                    let flow = host_flow_control(&master, xon_xoff);
                    let alive = shared.pump(&mut buf, flow, |buf| {
                        if poll_readable(&*master, TICK) {
                            (&*master).read(buf)
                        } else {
                            Err(io::ErrorKind::WouldBlock.into())
                        }
                    });
                    if !alive {
                        std::thread::sleep(TICK);
                    }
                }
            })?
    };
    Ok((Plug { stop, thread }, tty))
}

/// Listen on `port` (0: any) on 127.0.0.1 and serve connections one at a time.
fn plug_tcp(shared: &Arc<Shared>, port: u16) -> io::Result<(Plug, u16)> {
    // The port was ours a moment ago; retry briefly if the kernel still holds it.
    let mut tries = 0;
    let listener = loop {
        match TcpListener::bind(("127.0.0.1", port)) {
            Ok(l) => break l,
            Err(_) if tries < 50 && port != 0 => {
                tries += 1;
                std::thread::sleep(TICK);
            }
            Err(e) => return Err(e),
        }
    };
    let port = listener.local_addr()?.port();
    listener.set_nonblocking(true)?;
    let stop = Arc::new(AtomicBool::new(false));
    let thread = {
        let (shared, stop) = (shared.clone(), stop.clone());
        std::thread::Builder::new()
            .name("vprinter-tcp".into())
            .spawn(move || {
                while !stop.load(Ordering::SeqCst) {
                    match listener.accept() {
                        Ok((stream, _)) => serve_tcp(&shared, stream, &stop),
                        Err(_) => std::thread::sleep(Duration::from_millis(5)),
                    }
                }
            })?
    };
    Ok((Plug { stop, thread }, port))
}

/// One TCP connection, until EOF, error or unplug.
fn serve_tcp(shared: &Arc<Shared>, mut stream: TcpStream, stop: &AtomicBool) {
    let setup = (|| -> io::Result<TcpStream> {
        stream.set_nonblocking(false)?;
        stream.set_nodelay(true)?;
        stream.set_read_timeout(Some(TICK))?;
        stream.set_write_timeout(Some(Duration::from_millis(500)))?;
        stream.try_clone()
    })();
    let Ok(reply_side) = setup else { return };
    shared.lock().sink = Some(Sink::Tcp(reply_side));
    let mut buf = vec![0u8; READ_CHUNK];
    while !stop.load(Ordering::SeqCst) {
        if !shared.pump(&mut buf, false, |buf| stream.read(buf)) {
            break;
        }
    }
    shared.lock().sink = None;
    let _ = stream.shutdown(Shutdown::Both);
}

// =======================================================================================
// The printer
// =======================================================================================

enum Transport {
    Pty {
        dir: PathBuf,
        link_path: PathBuf,
        tty: Mutex<PathBuf>,
    },
    Tcp {
        port: u16,
    },
}

/// A virtual ESC/POS printer on a pty or a TCP port. See the module docs.
pub struct VirtualPrinter {
    shared: Arc<Shared>,
    transport: Transport,
    plug: Mutex<Option<Plug>>,
    engine: Option<JoinHandle<()>>,
}

impl VirtualPrinter {
    /// Start a printer (synchronous: spawns std threads; fine inside a tokio runtime).
    /// Panics if the pty or the socket cannot be created.
    pub fn start(link: Link) -> VirtualPrinter {
        Self::start_with(link, PrinterState::default())
    }

    /// Start a printer in a given state.
    pub fn start_with(link: Link, state: PrinterState) -> VirtualPrinter {
        let shared = Arc::new(Shared {
            inner: Mutex::new(Inner {
                link,
                state,
                parser: Parser::default(),
                queue: VecDeque::new(),
                raw: Vec::new(),
                printed: Vec::new(),
                replies: Vec::new(),
                receipts: Vec::new(),
                receipt_start: None,
                last_boundary: 0,
                status_queries: 0,
                drawer_pulses: 0,
                dropped: 0,
                sink: None,
                xoff_sent: false,
                shutdown: false,
            }),
            changed: Condvar::new(),
        });
        let engine = {
            let shared = shared.clone();
            std::thread::Builder::new()
                .name("vprinter-engine".into())
                .spawn(move || engine(shared))
                .expect("spawn the virtual printer's engine")
        };
        let (transport, plug) = match link {
            Link::Pty => {
                let dir = unique_temp_dir();
                let link_path = dir.join("printer");
                let (plug, tty) = plug_pty(&shared, &link_path).expect("open a pty pair");
                let tty = Mutex::new(tty);
                (
                    Transport::Pty {
                        dir,
                        link_path,
                        tty,
                    },
                    plug,
                )
            }
            Link::Tcp => {
                let (plug, port) = plug_tcp(&shared, 0).expect("listen on 127.0.0.1");
                (Transport::Tcp { port }, plug)
            }
        };
        VirtualPrinter {
            shared,
            transport,
            plug: Mutex::new(Some(plug)),
            engine: Some(engine),
        }
    }

    /// Pty: the stable symlink to the current slave (the daemon's `device`). Panics for TCP.
    pub fn device_path(&self) -> PathBuf {
        match &self.transport {
            Transport::Pty { link_path, .. } => link_path.clone(),
            Transport::Tcp { .. } => panic!("a TCP virtual printer has no device path"),
        }
    }

    /// Pty: the slave device the symlink points at now (`/dev/pts/N`). Panics for TCP.
    pub fn tty_path(&self) -> PathBuf {
        match &self.transport {
            Transport::Pty { tty, .. } => tty.lock().unwrap_or_else(|e| e.into_inner()).clone(),
            Transport::Tcp { .. } => panic!("a TCP virtual printer has no tty"),
        }
    }

    /// TCP: `127.0.0.1:PORT`. Panics for a pty.
    pub fn address(&self) -> String {
        match &self.transport {
            Transport::Tcp { port } => format!("127.0.0.1:{port}"),
            Transport::Pty { .. } => panic!("a pty virtual printer has no address"),
        }
    }

    /// Change the printer's condition (paper, cover, …); takes effect at once.
    pub fn set_state(&self, f: impl FnOnce(&mut PrinterState)) {
        f(&mut self.shared.lock().state);
        self.shared.changed.notify_all();
    }

    /// The printer's condition now (`paper_out_after_*` count down as it prints).
    pub fn state(&self) -> PrinterState {
        self.shared.lock().state.clone()
    }

    /// The print data processed so far, in order, without status queries (`DLE EOT`,
    /// `DLE ENQ`, `DLE DC4`, `GS r`). Held (unprinted) data is not included.
    pub fn bytes(&self) -> Vec<u8> {
        self.shared.lock().printed.clone()
    }

    /// Every byte accepted into the receive buffer, in order: queries and held data
    /// included, dropped bytes not.
    pub fn raw(&self) -> Vec<u8> {
        self.shared.lock().raw.clone()
    }

    /// Every byte the printer sent back (status replies, XON/XOFF), in order.
    pub fn replies(&self) -> Vec<u8> {
        self.shared.lock().replies.clone()
    }

    /// The complete (cut) receipts printed so far, each from its `ESC @` to the end of its
    /// cut command.
    pub fn receipts(&self) -> Vec<Vec<u8>> {
        let inner = self.shared.lock();
        inner
            .receipts
            .iter()
            .map(|&(s, e)| inner.printed[s..e].to_vec())
            .collect()
    }

    /// Wait until at least `n` receipts are printed; returns all of them. Panics after
    /// `timeout` (with what did arrive), so a test fails with a useful message.
    pub async fn wait_receipts(&self, n: usize, timeout: Duration) -> Vec<Vec<u8>> {
        let deadline = Instant::now() + timeout;
        loop {
            let receipts = self.receipts();
            if receipts.len() >= n {
                return receipts;
            }
            if Instant::now() >= deadline {
                self.timeout_panic(n, receipts.len(), timeout);
            }
            tokio::time::sleep(Duration::from_millis(5)).await;
        }
    }

    /// [`VirtualPrinter::wait_receipts`] for tests without a tokio runtime. Never call it
    /// on the runtime that drives the daemon.
    pub fn wait_receipts_blocking(&self, n: usize, timeout: Duration) -> Vec<Vec<u8>> {
        let deadline = Instant::now() + timeout;
        let mut inner = self.shared.lock();
        while inner.receipts.len() < n {
            let now = Instant::now();
            if now >= deadline {
                let got = inner.receipts.len();
                drop(inner);
                self.timeout_panic(n, got, timeout);
            }
            inner = self.shared.wait(inner, (deadline - now).min(TICK));
        }
        drop(inner);
        self.receipts()
    }

    /// Wait until `condition(self)` holds; `false` after `timeout`.
    pub async fn wait_until(
        &self,
        timeout: Duration,
        condition: impl Fn(&VirtualPrinter) -> bool,
    ) -> bool {
        let deadline = Instant::now() + timeout;
        loop {
            if condition(self) {
                return true;
            }
            if Instant::now() >= deadline {
                return false;
            }
            tokio::time::sleep(Duration::from_millis(5)).await;
        }
    }

    fn timeout_panic(&self, want: usize, got: usize, timeout: Duration) -> ! {
        let message = {
            let inner = self.shared.lock();
            let tail = &inner.printed[inner.printed.len().saturating_sub(64)..];
            format!(
                "virtual printer: {got} of {want} receipts after {timeout:?}; state {:?}; \
                 {} bytes printed, {} held, {} dropped, {} status queries; \
                 last printed bytes {tail:02X?}",
                inner.state,
                inner.printed.len(),
                inner.fill(),
                inner.dropped,
                inner.status_queries,
            )
        };
        panic!("{message}");
    }

    /// Status queries received: `DLE EOT n` (including those obeyed inside data) and
    /// `GS r n`, answered or not.
    pub fn status_queries(&self) -> usize {
        self.shared.lock().status_queries
    }

    /// Drawer pulses: `ESC p` when printed, `DLE DC4 1` on arrival (unless disabled).
    pub fn drawer_pulses(&self) -> usize {
        self.shared.lock().drawer_pulses
    }

    /// Bytes lost to receive-buffer overruns.
    pub fn dropped_bytes(&self) -> usize {
        self.shared.lock().dropped
    }

    /// Bytes in the receive buffer, not yet printed (held or draining).
    pub fn held_bytes(&self) -> usize {
        self.shared.lock().fill()
    }

    /// Pull the cable. Pty: the master closes (the daemon's fd fails with `EIO`) and the
    /// symlink disappears. TCP: stop listening, drop the connection. No-op if unplugged.
    pub fn unplug(&self) {
        let plug = self.plug.lock().unwrap_or_else(|e| e.into_inner()).take();
        let Some(plug) = plug else { return };
        if let Transport::Pty { link_path, .. } = &self.transport {
            let _ = std::fs::remove_file(link_path);
        }
        plug.unplug();
        let mut inner = self.shared.lock();
        inner.sink = None; // closes the pty master (its last reference)
        inner.xoff_sent = false;
    }

    /// Plug the cable back in. Pty: a new pair, the symlink re-pointed at the new slave.
    /// TCP: listen on the same port again. No-op if plugged in.
    pub fn replug(&self) {
        let mut slot = self.plug.lock().unwrap_or_else(|e| e.into_inner());
        if slot.is_some() {
            return;
        }
        let plug = match &self.transport {
            Transport::Pty { link_path, tty, .. } => {
                let (plug, path) = plug_pty(&self.shared, link_path).expect("open a pty pair");
                *tty.lock().unwrap_or_else(|e| e.into_inner()) = path;
                plug
            }
            Transport::Tcp { port } => {
                plug_tcp(&self.shared, *port)
                    .expect("listen again on the same port")
                    .0
            }
        };
        *slot = Some(plug);
    }
}

impl Drop for VirtualPrinter {
    fn drop(&mut self) {
        self.unplug();
        self.shared.lock().shutdown = true;
        self.shared.changed.notify_all();
        if let Some(engine) = self.engine.take() {
            let _ = engine.join();
        }
        if let Transport::Pty { dir, .. } = &self.transport {
            let _ = std::fs::remove_dir_all(dir);
        }
    }
}

/// A fresh private directory for the pty symlink.
fn unique_temp_dir() -> PathBuf {
    static COUNTER: AtomicU64 = AtomicU64::new(0);
    loop {
        let nanos = std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .map_or(0, |d| d.subsec_nanos());
        let dir = std::env::temp_dir().join(format!(
            "wxprint-vprinter-{}-{}-{nanos:08x}",
            std::process::id(),
            COUNTER.fetch_add(1, Ordering::Relaxed),
        ));
        match std::fs::create_dir(&dir) {
            Ok(()) => return dir,
            Err(e) if e.kind() == io::ErrorKind::AlreadyExists => continue,
            Err(e) => panic!("create {}: {e}", dir.display()),
        }
    }
}

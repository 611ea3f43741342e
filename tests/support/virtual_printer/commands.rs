//! The virtual printer's own ESC/POS command-length table: for each command, how many header
//! bytes it has and how long its payload is, so that bytes inside parameters and payloads
//! are never taken for commands. It is written from the ESC/POS references (`docs/escpos.md`
//! §1–3) and shares nothing with wxprint's own ESC/POS interpreter, which has its own table:
//! the two are kept apart on purpose, so a length wrong in one shows up as a failing test
//! instead of cancelling out. It knows lengths only; what a command does is `scanner.rs`'s.

/// What a (partial) command header needs next.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(super) enum Step {
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
pub(super) enum Class {
    Print,
    Init,
    Cut,
    EscP,
    GsR(u8),
    /// `GS I n`: transmit printer ID, answered in order like `GS r`.
    GsI(u8),
    DleEot(u8),
    DlePulse,
    OtherRealtime,
    /// `GS ( D`: enable/disable real-time commands.
    RealtimeControl,
}

use Step::*;

fn le16(lo: u8, hi: u8) -> u64 {
    u64::from(lo) | (u64::from(hi) << 8)
}

/// Complete after exactly `n` header bytes.
fn fixed(cmd: &[u8], n: usize, class: Class) -> Step {
    if cmd.len() >= n { Done(class) } else { More }
}

/// Header of `n` bytes, then `len(cmd)` payload bytes, then done.
fn with_payload(cmd: &[u8], parts: u32, n: usize, len: impl Fn(&[u8]) -> u64) -> Step {
    if cmd.len() < n {
        More
    } else if parts == 0 {
        Payload(len(cmd))
    } else {
        Done(Class::Print)
    }
}

/// Classify the header of the command being read. `cmd` holds the header bytes (payload
/// bytes are not kept), `parts` how many payload blocks were skipped already.
pub(super) fn classify(cmd: &[u8], parts: u32) -> Step {
    if cmd.len() < 2 {
        return More;
    }
    match cmd[0] {
        0x10 => classify_dle(cmd),
        0x1B => classify_esc(cmd, parts),
        0x1C => classify_fs(cmd, parts),
        0x1D => classify_gs(cmd, parts),
        _ => Done(Class::Print),
    }
}

/// `DLE …`: the real-time commands.
fn classify_dle(cmd: &[u8]) -> Step {
    match cmd[1] {
        0x04 => match cmd.get(2) {
            None => More,
            Some(&n) if (1..=4).contains(&n) => Done(Class::DleEot(n)),
            Some(_) => NotACommand,
        },
        0x05 => match cmd.get(2) {
            None => More,
            Some(&n) if (1..=4).contains(&n) => Done(Class::OtherRealtime),
            Some(_) => NotACommand,
        },
        0x14 => match cmd.get(2) {
            None => More,
            Some(1) => fixed(cmd, 5, Class::DlePulse),
            Some(2) => fixed(cmd, 5, Class::OtherRealtime),
            Some(7) => fixed(cmd, 4, Class::OtherRealtime),
            Some(8) => fixed(cmd, 10, Class::OtherRealtime),
            Some(_) => NotACommand,
        },
        _ => NotACommand,
    }
}

/// `ESC …`.
fn classify_esc(cmd: &[u8], parts: u32) -> Step {
    match cmd[1] {
        b'@' => Done(Class::Init),
        b'i' | b'm' => Done(Class::Cut),
        b'2' | b'<' | b'L' | b'S' | b'v' | 0x0C => Done(Class::Print),
        b' ' | b'!' | b'%' | b'-' | b'3' | b'=' | b'?' | b'E' | b'G' | b'J' | b'K' | b'M'
        | b'R' | b'T' | b'U' | b'V' | b'a' | b'd' | b'e' | b'r' | b't' | b'u' | b'{' => {
            fixed(cmd, 3, Class::Print)
        }
        b'$' | b'\\' | b'c' => fixed(cmd, 4, Class::Print),
        b'p' => fixed(cmd, 5, Class::EscP),
        b'W' => fixed(cmd, 10, Class::Print),
        // ESC * m nL nH d…: n columns of 1 (8-dot) or 3 (24-dot) bytes.
        b'*' => with_payload(cmd, parts, 5, |c| {
            le16(c[3], c[4]) * if c[2] >= 32 { 3 } else { 1 }
        }),
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
        b'Z' => with_payload(cmd, parts, 7, |c| le16(c[5], c[6])),
        _ => Done(Class::Print),
    }
}

/// `FS …`.
fn classify_fs(cmd: &[u8], parts: u32) -> Step {
    match cmd[1] {
        b'&' | b'.' => Done(Class::Print),
        b'!' | b'-' | b'W' | b'C' => fixed(cmd, 3, Class::Print),
        b'S' | b'?' | b'p' => fixed(cmd, 4, Class::Print),
        // FS 2 c1 c2 d1…d72: user-defined Kanji.
        b'2' => with_payload(cmd, parts, 4, |_| 72),
        // FS ( fn pL pH …
        b'(' => with_payload(cmd, parts, 5, |c| le16(c[3], c[4])),
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
            Some(b'1') => with_payload(cmd, parts, 10, |c| le16(c[8], c[9])),
            Some(_) => fixed(cmd, 10, Class::Print),
        },
        _ => Done(Class::Print),
    }
}

/// `GS …`.
fn classify_gs(cmd: &[u8], parts: u32) -> Step {
    match cmd[1] {
        b':' | b'c' => Done(Class::Print),
        b'I' => match cmd.get(2) {
            None => More,
            Some(&n) => Done(Class::GsI(n)),
        },
        b'!' | b'/' | b'B' | b'E' | b'H' | b'T' | b'Z' | b'a' | b'b' | b'f' | b'h' | b'j'
        | b'w' => fixed(cmd, 3, Class::Print),
        b'r' => match cmd.get(2) {
            None => More,
            Some(&n) => Done(Class::GsR(n)),
        },
        b'$' | b'L' | b'P' | b'W' | b'\\' => fixed(cmd, 4, Class::Print),
        b'^' => fixed(cmd, 5, Class::Print),
        // GS g 0 m nL nH / GS g 2 m nL nH: maintenance counters.
        b'g' => fixed(cmd, 6, Class::Print),
        // GS V m [n]: cut; functions B, C, D take an extra n.
        b'V' => match cmd.get(2) {
            None => More,
            Some(0x41 | 0x42 | 0x61 | 0x62 | 0x67 | 0x68) => fixed(cmd, 4, Class::Cut),
            Some(_) => Done(Class::Cut),
        },
        // GS v 0 m xL xH yL yH d1…d(x·y): raster bit image.
        b'v' => with_payload(cmd, parts, 8, |c| le16(c[4], c[5]) * le16(c[6], c[7])),
        // GS Q 0 m xL xH yL yH d…: variable vertical size bit image.
        b'Q' => with_payload(cmd, parts, 8, |c| {
            le16(c[4], c[5]) * le16(c[6], c[7]).div_ceil(8)
        }),
        // GS * x y d1…d(x·y·8): downloaded bit image.
        b'*' => with_payload(cmd, parts, 4, |c| u64::from(c[2]) * u64::from(c[3]) * 8),
        // GS ( D pL pH …: real-time command control; the body is kept, it is small.
        b'(' if cmd.len() >= 3 && cmd[2] == b'D' => {
            if cmd.len() < 5 || cmd.len() < 5 + le16(cmd[3], cmd[4]) as usize {
                More
            } else {
                Done(Class::RealtimeControl)
            }
        }
        // GS ( fn pL pH …: QR (`k`), graphics (`L`), everything else.
        b'(' => with_payload(cmd, parts, 5, |c| le16(c[3], c[4])),
        // GS 8 fn p1 p2 p3 p4 …: graphics with a 32-bit length.
        b'8' => with_payload(cmd, parts, 7, |c| {
            le16(c[3], c[4]) | (le16(c[5], c[6]) << 16)
        }),
        // GS k m d1…NUL (m ≤ 6) or GS k m n d1…dn (m ≥ 65): barcodes.
        b'k' => match cmd.get(2) {
            None => More,
            Some(&m) if m <= 6 => UntilNul(256),
            Some(_) => with_payload(cmd, parts, 4, |c| u64::from(c[3])),
        },
        _ => Done(Class::Print),
    }
}

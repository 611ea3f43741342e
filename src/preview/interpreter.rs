//! The ESC/POS interpreter: reads the byte stream command by command, keeps the printer's
//! modes (alignment, bold, size, text mode, code page, the stored QR) and tells the
//! [`Canvas`] what to draw. A standard-mode printer as described in `preview`'s docs.
//!
//! Every command's length is decided here, from the ESC/POS manuals, so that unknown or
//! irrelevant commands are skipped whole and a command cut off by the end of the input is
//! reported ([`RenderError::Truncated`]). The command-length table of the virtual printer in
//! `tests/support/virtual_printer/commands.rs` is deliberately a separate one, written independently:
//! a mistake on one side then shows up as a test failure instead of cancelling out. Do not
//! share one table between them. Nor does this file use `escpos`'s builder or QR code: what
//! it draws comes from the bytes alone.

use qrcode::{Color, EcLevel, QrCode};

use super::canvas::{Canvas, Glyph, Kind};
use super::font;
use super::{Bitmap, LINE_SPACING, RenderError};
use crate::escpos::{DLE, ESC, FS, GS, LF};

/// Bytes consumed by one command, or where the input was cut off.
type Step = Result<usize, RenderError>;

/// Printer state between commands, and the paper it prints on.
pub(super) struct Interpreter {
    canvas: Canvas,
    /// `ESC a n`: 0 left, 1 centre, 2 right.
    align: u8,
    bold: bool,
    /// One-column characters in font B (`ESC !` bit 0, `ESC M`).
    font_b: bool,
    /// Width and height multipliers of one-column characters (`GS !`, `ESC !`).
    ank_size: (usize, usize),
    /// Width and height multipliers of Chinese characters (`GS !`, `FS !`, `FS W`).
    kanji_size: (usize, usize),
    /// Between `FS &` and `FS .`: bytes are GB18030 characters.
    chinese: bool,
    /// `ESC t n`.
    code_page: u8,
    qr_data: Vec<u8>,
    qr_module: usize,
    qr_ec: EcLevel,
    /// The stored data encoded (width, modules), kept between prints.
    qr_symbol: Option<(usize, Vec<Color>)>,
}

impl Interpreter {
    /// A freshly powered-up printer on paper `width` dots wide.
    pub(super) fn new(width: usize) -> Self {
        Interpreter {
            canvas: Canvas::new(width),
            align: 0,
            bold: false,
            font_b: false,
            ank_size: (1, 1),
            kanji_size: (1, 1),
            chinese: false,
            code_page: 0,
            qr_data: Vec::new(),
            qr_module: 3,
            qr_ec: EcLevel::L,
            qr_symbol: None,
        }
    }

    /// `ESC @`: modes back to power-up, the line buffer dropped; the paper stays.
    fn reset(&mut self) {
        self.align = 0;
        self.bold = false;
        self.font_b = false;
        self.ank_size = (1, 1);
        self.kanji_size = (1, 1);
        self.canvas.line_spacing = LINE_SPACING;
        self.chinese = false;
        self.code_page = 0;
        self.canvas.clear_line();
        self.qr_data.clear();
        self.qr_module = 3;
        self.qr_ec = EcLevel::L;
        self.qr_symbol = None;
    }

    /// Interprets all of `b`; stops at the first command cut off by its end.
    pub(super) fn run(&mut self, b: &[u8]) -> Result<(), RenderError> {
        let mut i = 0;
        while i < b.len() {
            i += self.step(b, i)?;
        }
        Ok(())
    }

    /// Prints what is still buffered and returns the paper.
    pub(super) fn finish(self) -> Bitmap {
        self.canvas.finish()
    }

    /// Interprets the byte(s) at `i`; returns how many were consumed.
    fn step(&mut self, b: &[u8], i: usize) -> Step {
        match b[i] {
            LF | 0x0C => {
                self.canvas.feed_lines(1);
                Ok(1)
            }
            0x09 => {
                self.push(Kind::Ank(' '));
                Ok(1)
            }
            0x18 => {
                self.canvas.clear_line();
                Ok(1)
            }
            ESC => self.esc(b, i),
            GS => self.gs(b, i),
            FS => self.fs(b, i),
            DLE => dle(b, i),
            c if c < 0x20 || c == 0x7F => Ok(1),
            c if c < 0x80 => {
                self.push(Kind::Ank(char::from(c)));
                Ok(1)
            }
            c if self.chinese && (0x81..=0xFE).contains(&c) => self.gb18030(b, i),
            // WPC1252's A0–FF are Latin-1's.
            c if c >= 0xA0 && self.code_page == 16 => {
                self.push(Kind::Ank(char::from(c)));
                Ok(1)
            }
            _ => {
                self.push(Kind::Ank('?'));
                Ok(1)
            }
        }
    }

    /// A GB18030 character in Chinese mode: 2 bytes, or 4 when the second is a digit.
    fn gb18030(&mut self, b: &[u8], i: usize) -> Step {
        let second = *need(b, i, 2, "GB18030 character")?.get(1).unwrap_or(&0);
        let code = if (0x30..=0x39).contains(&second) {
            need(b, i, 4, "GB18030 4-byte character")?
        } else {
            &b[i..i + 2]
        };
        self.push(Kind::Kanji(font::gb18030_char(code)));
        Ok(code.len())
    }

    fn push(&mut self, kind: Kind) {
        let (sw, sh) = match kind {
            Kind::Ank(_) => self.ank_size,
            Kind::Kanji(_) => self.kanji_size,
        };
        let glyph = Glyph {
            kind,
            sw,
            sh,
            bold: self.bold,
            font_b: self.font_b,
        };
        self.canvas.push(glyph, self.align);
    }

    /// `ESC x …`: the commands that change what is printed; the rest are skipped by length.
    fn esc(&mut self, b: &[u8], i: usize) -> Step {
        let cmd = need(b, i, 2, "ESC")?[1];
        let param = |n: usize| -> Result<u8, RenderError> {
            Ok(need(b, i, 2 + n, "ESC parameter")?[1 + n])
        };
        match cmd {
            b'@' => {
                self.reset();
                Ok(2)
            }
            b'a' => {
                if let n @ (0..=2 | 0x30..=0x32) = param(1)? {
                    self.align = n & 0x0F;
                }
                Ok(3)
            }
            b'E' => {
                self.bold = param(1)? & 1 == 1;
                Ok(3)
            }
            b'!' => {
                // Sizes and font of one-column characters only (FS ! is Chinese's).
                let n = param(1)?;
                self.font_b = n & 0x01 != 0;
                self.bold = n & 0x08 != 0;
                self.ank_size = (
                    1 + usize::from(n & 0x20 != 0),
                    1 + usize::from(n & 0x10 != 0),
                );
                Ok(3)
            }
            b'M' => {
                if let n @ (0 | 1 | 0x30 | 0x31) = param(1)? {
                    self.font_b = n & 1 == 1;
                }
                Ok(3)
            }
            b'd' => {
                self.canvas.feed_lines(usize::from(param(1)?));
                Ok(3)
            }
            b'J' => {
                self.canvas.feed_dots(usize::from(param(1)?));
                Ok(3)
            }
            b'2' => {
                self.canvas.line_spacing = LINE_SPACING;
                Ok(2)
            }
            b'3' => {
                self.canvas.line_spacing = usize::from(param(1)?);
                Ok(3)
            }
            b'i' | b'm' => {
                self.canvas.cut(false);
                Ok(2)
            }
            b't' => {
                self.code_page = param(1)?;
                Ok(3)
            }
            _ => esc_skip(b, i, cmd),
        }
    }

    /// `GS x …`: size, raster images, cuts and QR codes; the rest are skipped by length.
    fn gs(&mut self, b: &[u8], i: usize) -> Step {
        let cmd = need(b, i, 2, "GS")?[1];
        let param =
            |n: usize| -> Result<u8, RenderError> { Ok(need(b, i, 2 + n, "GS parameter")?[1 + n]) };
        match cmd {
            b'!' => {
                let n = param(1)?;
                let size = (usize::from(n >> 4 & 7) + 1, usize::from(n & 7) + 1);
                self.ank_size = size;
                self.kanji_size = size;
                Ok(3)
            }
            b'v' if param(1)? == b'0' => {
                let h = need(b, i, 8, "GS v 0 header")?;
                let m = h[3] & 3;
                let x = usize::from(h[4]) + 256 * usize::from(h[5]);
                let y = usize::from(h[6]) + 256 * usize::from(h[7]);
                let data = &need(b, i, 8 + x * y, "GS v 0 image data")?[8..];
                let (sw, sh) = (usize::from(m & 1) + 1, usize::from(m >> 1) + 1);
                self.canvas.image(data, x, y, sw, sh, self.align);
                Ok(8 + x * y)
            }
            b'V' => {
                let m = param(1)?;
                let len = if matches!(m, 65 | 66 | 97 | 98 | 103 | 104) {
                    4
                } else {
                    3
                };
                need(b, i, len, "GS V")?;
                self.canvas.cut(matches!(m, 0 | 48 | 65 | 97 | 103));
                Ok(len)
            }
            b'(' => {
                let len = paren(b, i, "GS (")?;
                if b[i + 2] == b'k' {
                    self.qr_function(&b[i + 5..i + len]);
                }
                Ok(len)
            }
            _ => gs_skip(b, i, cmd),
        }
    }

    /// `FS &` / `FS .` switch Chinese mode, `FS !` / `FS W` size its characters; the rest are
    /// skipped by length.
    fn fs(&mut self, b: &[u8], i: usize) -> Step {
        let cmd = need(b, i, 2, "FS")?[1];
        match cmd {
            b'&' => {
                self.chinese = true;
                Ok(2)
            }
            b'.' => {
                self.chinese = false;
                Ok(2)
            }
            b'!' => {
                let n = need(b, i, 3, "FS !")?[2];
                self.kanji_size = (
                    1 + usize::from(n & 0x04 != 0),
                    1 + usize::from(n & 0x08 != 0),
                );
                Ok(3)
            }
            b'W' => {
                let k = 1 + usize::from(need(b, i, 3, "FS W")?[2] & 1);
                self.kanji_size = (k, k);
                Ok(3)
            }
            b'S' | b'p' => need(b, i, 4, "FS parameters").map(|_| 4),
            b'2' => need(b, i, 4 + 72, "FS 2 character").map(|_| 4 + 72),
            b'(' => paren(b, i, "FS ("),
            _ => need(b, i, 3, "FS parameter").map(|_| 3),
        }
    }

    /// One `GS ( k` function; `p` is everything after pL pH.
    fn qr_function(&mut self, p: &[u8]) {
        let (Some(&cn), Some(&f)) = (p.first(), p.get(1)) else {
            return;
        };
        if cn != 0x31 {
            return;
        }
        match (f, p.get(2)) {
            (0x43, Some(&n)) => self.qr_module = usize::from(n.clamp(1, 16)),
            (0x45, Some(&n)) => {
                self.qr_symbol = None;
                self.qr_ec = match n {
                    0x31 => EcLevel::M,
                    0x32 => EcLevel::Q,
                    0x33 => EcLevel::H,
                    _ => EcLevel::L,
                }
            }
            (0x50, Some(_)) => {
                self.qr_symbol = None;
                self.qr_data.clear();
                self.qr_data.extend_from_slice(&p[3..]);
            }
            (0x51, _) => self.print_qr(),
            _ => {}
        }
    }

    /// `GS ( k` fn 81: the stored data re-encoded with the `qrcode` crate and drawn.
    fn print_qr(&mut self) {
        self.canvas.flush();
        if self.qr_data.is_empty() {
            return;
        }
        if self.qr_symbol.is_none() {
            let Ok(code) = QrCode::with_error_correction_level(&self.qr_data, self.qr_ec) else {
                return;
            };
            self.qr_symbol = Some((code.width(), code.to_colors()));
        }
        if let Some((modules, colors)) = &self.qr_symbol {
            self.canvas.qr(*modules, colors, self.qr_module, self.align);
        }
    }
}

/// Length of an `ESC` command that draws nothing, checked against the input.
fn esc_skip(b: &[u8], i: usize, cmd: u8) -> Step {
    match cmd {
        b'<' | b'S' | b'L' | 0x0C => Ok(2),
        b'p' => need(b, i, 5, "ESC p").map(|_| 5),
        b'$' | b'\\' | b'c' => need(b, i, 4, "ESC parameters").map(|_| 4),
        b'W' => need(b, i, 10, "ESC W").map(|_| 10),
        b'*' => {
            let h = need(b, i, 5, "ESC *")?;
            let n = usize::from(h[3]) + 256 * usize::from(h[4]);
            let per = if h[2] >= 32 { 3 } else { 1 };
            need(b, i, 5 + n * per, "ESC * image data").map(|s| s.len())
        }
        b'D' => {
            // Tab positions: up to 32 bytes, NUL terminated.
            let rest = &b[(i + 2).min(b.len())..];
            match rest.iter().take(33).position(|&c| c == 0) {
                Some(p) => Ok(2 + p + 1),
                None if rest.len() < 33 => Err(truncated(i, "ESC D tab list")),
                None => Ok(2 + 33),
            }
        }
        b'&' => {
            // User-defined characters: ESC & y c1 c2 [x d1…d(y·x)]…
            let h = need(b, i, 5, "ESC &")?;
            let y = usize::from(h[2]);
            let count = usize::from(h[4].saturating_sub(h[3])) + 1;
            let mut len = 5;
            for _ in 0..count {
                let x = usize::from(need(b, i, len + 1, "ESC & data")?[len]);
                len += 1 + y * x;
                need(b, i, len, "ESC & data")?;
            }
            Ok(len)
        }
        b'(' => paren(b, i, "ESC ("),
        _ => need(b, i, 3, "ESC parameter").map(|_| 3),
    }
}

/// Length of a `GS` command that draws nothing, checked against the input.
fn gs_skip(b: &[u8], i: usize, cmd: u8) -> Step {
    let param =
        |n: usize| -> Result<u8, RenderError> { Ok(need(b, i, 2 + n, "GS parameter")?[1 + n]) };
    match cmd {
        b'8' => {
            // GS 8 L p1 p2 p3 p4 …: 32-bit length.
            let h = need(b, i, 7, "GS 8")?;
            let n = u32::from_le_bytes([h[3], h[4], h[5], h[6]]) as usize;
            need(b, i, 7usize.saturating_add(n), "GS 8 data").map(|s| s.len())
        }
        b'*' => {
            let h = need(b, i, 4, "GS *")?;
            let n = usize::from(h[2]) * usize::from(h[3]) * 8;
            need(b, i, 4 + n, "GS * data").map(|s| s.len())
        }
        b'k' => {
            let m = param(1)?;
            if m <= 6 {
                let rest = &b[i + 3..];
                match rest.iter().position(|&c| c == 0) {
                    Some(p) => Ok(3 + p + 1),
                    None => Err(truncated(i, "GS k barcode data")),
                }
            } else {
                let n = usize::from(param(2)?);
                need(b, i, 4 + n, "GS k barcode data").map(|s| s.len())
            }
        }
        b':' | b'c' => Ok(2),
        b'L' | b'W' | b'P' | b'$' | b'\\' => need(b, i, 4, "GS parameters").map(|_| 4),
        b'^' => need(b, i, 5, "GS ^").map(|_| 5),
        _ => need(b, i, 3, "GS parameter").map(|_| 3),
    }
}

/// `DLE EOT`, `DLE ENQ`, `DLE DC4` (real-time commands) are skipped whole; a lone `DLE` alone.
fn dle(b: &[u8], i: usize) -> Step {
    let cmd = need(b, i, 2, "DLE")?[1];
    match cmd {
        0x04 | 0x05 => need(b, i, 3, "DLE EOT/ENQ").map(|_| 3),
        0x14 => {
            let f = need(b, i, 3, "DLE DC4")?[2];
            let len = match f {
                7 => 4,
                8 => 10,
                _ => 5,
            };
            need(b, i, len, "DLE DC4").map(|_| len)
        }
        // A lone DLE: skip it.
        _ => Ok(1),
    }
}

fn truncated(offset: usize, what: &'static str) -> RenderError {
    RenderError::Truncated { offset, what }
}

/// The `len` bytes of a command starting at `i`, or a truncation error.
fn need<'a>(
    b: &'a [u8],
    i: usize,
    len: usize,
    what: &'static str,
) -> Result<&'a [u8], RenderError> {
    b.get(i..i.saturating_add(len))
        .ok_or_else(|| truncated(i, what))
}

/// Length of an `X ( c pL pH …` command.
fn paren(b: &[u8], i: usize, what: &'static str) -> Step {
    let h = need(b, i, 5, what)?;
    let n = usize::from(h[3]) + 256 * usize::from(h[4]);
    need(b, i, 5 + n, what).map(|s| s.len())
}

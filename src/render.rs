//! ESC/POS bytes → 1-bit bitmap → PNG: the receipt preview, and what tests decode QR codes from.
//!
//! The model is a simple standard-mode printer: font A cells are 12 × 24 dots (the 8 × 8
//! `font8x8` glyphs scaled ×1.5 across and ×3 down), CJK characters are 24 × 24 boxes, line
//! spacing is 30 dots (`ESC 2` / `ESC 3 n`), text is buffered until `LF` / `ESC d` /
//! `ESC J` / a full line, and alignment is the one in force when the line's first character
//! arrived. `GS v 0` images (m = 0–3 / 48–51: normal, double width, double height,
//! quadruple) and native `GS ( k` QR codes (re-encoded with the `qrcode` crate) are drawn at
//! the current alignment. Text modes follow what `receipt` emits: `FS &` / `FS .` switch
//! Chinese mode on and off (2-byte GB18030 codes draw as double-width boxes, `A3 A4` as `￥`;
//! the printer starts, and `ESC @` resets it, in single-byte mode); `ESC t n` selects a code
//! page, and with 16 (WPC1252) bytes `A0`–`FF` draw as their Latin-1 glyphs (other pages and
//! bytes: `?`). Cuts draw a solid (full: `GS V 0/48/65/97/103`) or dashed (partial: other
//! `GS V`, `ESC i`, `ESC m`) line. `GS ( D` (real-time command switch) and other commands
//! that change nothing on paper are skipped with their parameters where their length is
//! known, else as `ESC x n` / `GS x n` / `FS x n` with one parameter byte.
//!
//! A command cut off by the end of the input is an error for [`render`]; [`render_lossy`]
//! returns the picture drawn so far together with that error (what the CLI wants for user
//! files). Rendering never panics. Paper is capped at [`MAX_HEIGHT`] dots (further output is
//! clipped) and at [`MAX_WIDTH`] dots across.

use qrcode::{Color, EcLevel, QrCode};

/// A 1-bit image, row-major, `true` = black dot.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Bitmap {
    pub width: usize,
    pub height: usize,
    pub dots: Vec<bool>,
}

#[derive(Debug, thiserror::Error)]
pub enum RenderError {
    #[error("truncated ESC/POS command at byte {offset}: {what}")]
    Truncated { offset: usize, what: &'static str },
}

/// Longest paper rendered, in dots (≈ 8 m at 203 dpi); anything below is clipped.
pub const MAX_HEIGHT: usize = 65_535;
/// Widest paper rendered, in dots; wider requests are narrowed to this.
pub const MAX_WIDTH: usize = 4096;
/// Font A cell width in dots.
pub const CELL_WIDTH: usize = 12;
/// Font A cell height in dots.
pub const CELL_HEIGHT: usize = 24;
/// Default line spacing in dots (`ESC 2`).
pub const LINE_SPACING: usize = 30;

/// Interpret `bytes` on a paper `width_dots` wide.
///
/// Returns [`RenderError::Truncated`] if the input ends inside a command or a multi-byte
/// character; use [`render_lossy`] to get the picture anyway.
pub fn render(bytes: &[u8], width_dots: usize) -> Result<Bitmap, RenderError> {
    match render_lossy(bytes, width_dots) {
        (bitmap, None) => Ok(bitmap),
        (_, Some(err)) => Err(err),
    }
}

/// Like [`render`], but always returns what was drawn; the error (if any) tells where the
/// input was cut off. Text still pending in the line buffer at the end is printed.
pub fn render_lossy(bytes: &[u8], width_dots: usize) -> (Bitmap, Option<RenderError>) {
    let mut printer = Printer::new(width_dots.min(MAX_WIDTH));
    let err = printer.run(bytes).err();
    printer.finish();
    (printer.bitmap, err)
}

impl Bitmap {
    /// A white bitmap.
    pub fn new(width: usize, height: usize) -> Self {
        Bitmap {
            width,
            height,
            dots: vec![false; width * height],
        }
    }

    /// The dot at (x, y); `false` (white) outside the bitmap.
    pub fn get(&self, x: usize, y: usize) -> bool {
        x < self.width && y < self.height && self.dots[y * self.width + x]
    }

    /// Sets the dot at (x, y); ignored outside the bitmap.
    pub fn set(&mut self, x: usize, y: usize, black: bool) {
        if x < self.width && y < self.height {
            self.dots[y * self.width + x] = black;
        }
    }

    /// PNG encoding (1-bit greyscale). An empty bitmap becomes one white pixel.
    pub fn to_png(&self) -> Vec<u8> {
        let (width, height) = (self.width.max(1), self.height.max(1));
        let stride = width.div_ceil(8);
        let mut data = vec![0xFFu8; stride * height];
        for y in 0..self.height {
            for x in 0..self.width {
                if self.dots[y * self.width + x] {
                    data[y * stride + x / 8] &= !(0x80 >> (x % 8));
                }
            }
        }
        let mut out = Vec::with_capacity(data.len() / 4 + 128);
        // Sizes are capped by MAX_WIDTH / MAX_HEIGHT, so they fit u32.
        let mut encoder = png::Encoder::new(&mut out, width as u32, height as u32);
        encoder.set_color(png::ColorType::Grayscale);
        encoder.set_depth(png::BitDepth::One);
        let mut writer = encoder.write_header().expect("PNG header into memory");
        writer
            .write_image_data(&data)
            .expect("PNG data into memory");
        writer.finish().expect("PNG end into memory");
        out
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Kind {
    Ascii(u8),
    /// A Latin-1 glyph, U+00A0 + the index (code page WPC1252).
    Latin(u8),
    Cjk,
    Yen,
}

#[derive(Debug, Clone, Copy)]
struct Glyph {
    kind: Kind,
    sw: usize,
    sh: usize,
    bold: bool,
}

impl Glyph {
    fn width(&self) -> usize {
        match self.kind {
            Kind::Ascii(_) | Kind::Latin(_) => CELL_WIDTH * self.sw,
            Kind::Cjk | Kind::Yen => 2 * CELL_WIDTH * self.sw,
        }
    }

    fn height(&self) -> usize {
        CELL_HEIGHT * self.sh
    }
}

struct Printer {
    bitmap: Bitmap,
    y: usize,
    align: u8,
    bold: bool,
    sw: usize,
    sh: usize,
    line_spacing: usize,
    chinese: bool,
    /// `ESC t n`.
    code_page: u8,
    line: Vec<Glyph>,
    line_width: usize,
    line_align: u8,
    qr_data: Vec<u8>,
    qr_module: usize,
    qr_ec: EcLevel,
    /// The stored data encoded (width, modules), kept between prints.
    qr_symbol: Option<(usize, Vec<Color>)>,
}

type Step = Result<usize, RenderError>;

impl Printer {
    fn new(width: usize) -> Self {
        Printer {
            bitmap: Bitmap::new(width, 0),
            y: 0,
            align: 0,
            bold: false,
            sw: 1,
            sh: 1,
            line_spacing: LINE_SPACING,
            chinese: false,
            code_page: 0,
            line: Vec::with_capacity(64),
            line_width: 0,
            line_align: 0,
            qr_data: Vec::new(),
            qr_module: 3,
            qr_ec: EcLevel::L,
            qr_symbol: None,
        }
    }

    fn reset(&mut self) {
        self.align = 0;
        self.bold = false;
        self.sw = 1;
        self.sh = 1;
        self.line_spacing = LINE_SPACING;
        self.chinese = false;
        self.code_page = 0;
        self.line.clear();
        self.line_width = 0;
        self.qr_data.clear();
        self.qr_module = 3;
        self.qr_ec = EcLevel::L;
        self.qr_symbol = None;
    }

    fn run(&mut self, b: &[u8]) -> Result<(), RenderError> {
        let mut i = 0;
        while i < b.len() {
            i += self.step(b, i)?;
        }
        Ok(())
    }

    fn finish(&mut self) {
        if !self.line.is_empty() {
            let h = self.print_line();
            self.advance(h.max(self.line_spacing));
        }
        self.grow(self.y);
    }

    fn grow(&mut self, height: usize) {
        let height = height.min(MAX_HEIGHT);
        if height > self.bitmap.height {
            self.bitmap.height = height;
            self.bitmap.dots.resize(height * self.bitmap.width, false);
        }
    }

    fn advance(&mut self, dots: usize) {
        self.y = self.y.saturating_add(dots).min(MAX_HEIGHT);
    }

    /// Sets a dot, growing the paper as needed.
    fn dot(&mut self, x: usize, y: usize) {
        if x < self.bitmap.width && y < MAX_HEIGHT {
            self.grow(y + 1);
            self.bitmap.dots[y * self.bitmap.width + x] = true;
        }
    }

    /// Left edge of something `w` dots wide at alignment `align`.
    fn x_for(&self, align: u8, w: usize) -> usize {
        let free = self.bitmap.width.saturating_sub(w);
        match align {
            1 => free / 2,
            2 => free,
            _ => 0,
        }
    }

    /// Interprets the byte(s) at `i`; returns how many were consumed.
    fn step(&mut self, b: &[u8], i: usize) -> Step {
        match b[i] {
            0x0A | 0x0C => {
                self.feed_lines(1);
                Ok(1)
            }
            0x09 => {
                self.push(Kind::Ascii(b' '));
                Ok(1)
            }
            0x18 => {
                self.line.clear();
                self.line_width = 0;
                Ok(1)
            }
            0x1B => self.esc(b, i),
            0x1D => self.gs(b, i),
            0x1C => self.fs(b, i),
            0x10 => self.dle(b, i),
            c if c < 0x20 || c == 0x7F => Ok(1),
            c if c < 0x80 => {
                self.push(Kind::Ascii(c));
                Ok(1)
            }
            c if self.chinese && (0x81..=0xFE).contains(&c) => {
                let second = *need(b, i, 2, "GB18030 character")?.get(1).unwrap_or(&0);
                if (0x30..=0x39).contains(&second) {
                    need(b, i, 4, "GB18030 4-byte character")?;
                    self.push(Kind::Cjk);
                    Ok(4)
                } else {
                    self.push(if c == 0xA3 && second == 0xA4 {
                        Kind::Yen
                    } else {
                        Kind::Cjk
                    });
                    Ok(2)
                }
            }
            c if c >= 0xA0 && self.code_page == 16 => {
                self.push(Kind::Latin(c - 0xA0));
                Ok(1)
            }
            _ => {
                self.push(Kind::Ascii(b'?'));
                Ok(1)
            }
        }
    }

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
                let n = param(1)?;
                self.bold = n & 0x08 != 0;
                self.sh = if n & 0x10 != 0 { 2 } else { 1 };
                self.sw = if n & 0x20 != 0 { 2 } else { 1 };
                Ok(3)
            }
            b'd' => {
                let n = param(1)?;
                self.feed_lines(usize::from(n));
                Ok(3)
            }
            b'J' => {
                let n = usize::from(param(1)?);
                let h = if self.line.is_empty() {
                    0
                } else {
                    self.print_line()
                };
                self.advance(n.max(h));
                Ok(3)
            }
            b'2' => {
                self.line_spacing = LINE_SPACING;
                Ok(2)
            }
            b'3' => {
                self.line_spacing = usize::from(param(1)?);
                Ok(3)
            }
            b'i' | b'm' => {
                self.cut(false);
                Ok(2)
            }
            b't' => {
                self.code_page = param(1)?;
                Ok(3)
            }
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

    fn gs(&mut self, b: &[u8], i: usize) -> Step {
        let cmd = need(b, i, 2, "GS")?[1];
        let param =
            |n: usize| -> Result<u8, RenderError> { Ok(need(b, i, 2 + n, "GS parameter")?[1 + n]) };
        match cmd {
            b'!' => {
                let n = param(1)?;
                self.sw = usize::from(n >> 4 & 7) + 1;
                self.sh = usize::from(n & 7) + 1;
                Ok(3)
            }
            b'v' if param(1)? == b'0' => {
                let h = need(b, i, 8, "GS v 0 header")?;
                let m = h[3] & 3;
                let x = usize::from(h[4]) + 256 * usize::from(h[5]);
                let y = usize::from(h[6]) + 256 * usize::from(h[7]);
                let data = &need(b, i, 8 + x * y, "GS v 0 image data")?[8..];
                self.image(data, x, y, usize::from(m & 1) + 1, usize::from(m >> 1) + 1);
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
                self.cut(matches!(m, 0 | 48 | 65 | 97 | 103));
                Ok(len)
            }
            b'(' => {
                let len = paren(b, i, "GS (")?;
                if b[i + 2] == b'k' {
                    self.qr_function(&b[i + 5..i + len]);
                }
                Ok(len)
            }
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
            b'S' | b'p' => need(b, i, 4, "FS parameters").map(|_| 4),
            b'2' => need(b, i, 4 + 72, "FS 2 character").map(|_| 4 + 72),
            b'(' => paren(b, i, "FS ("),
            _ => need(b, i, 3, "FS parameter").map(|_| 3),
        }
    }

    fn dle(&mut self, b: &[u8], i: usize) -> Step {
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

    fn push(&mut self, kind: Kind) {
        let glyph = Glyph {
            kind,
            sw: self.sw,
            sh: self.sh,
            bold: self.bold,
        };
        let w = glyph.width();
        if !self.line.is_empty() && self.line_width + w > self.bitmap.width {
            let h = self.print_line();
            self.advance(h.max(self.line_spacing));
        }
        if self.line.is_empty() {
            self.line_align = self.align;
        }
        self.line.push(glyph);
        self.line_width += w;
    }

    /// `LF` (n = 1) and `ESC d n`: print the buffer, then feed so that n lines are used in all.
    fn feed_lines(&mut self, n: usize) {
        if self.line.is_empty() {
            self.advance(n * self.line_spacing);
        } else {
            let h = self.print_line();
            let first = if n == 0 { h } else { h.max(self.line_spacing) };
            self.advance(first + n.saturating_sub(1) * self.line_spacing);
        }
    }

    /// Draws the line buffer at `y` (glyphs bottom-aligned) and empties it; returns its height.
    fn print_line(&mut self) -> usize {
        let height = self.line.iter().map(Glyph::height).max().unwrap_or(0);
        let mut x = self.x_for(self.line_align, self.line_width);
        let line = std::mem::take(&mut self.line);
        // Below the end of the paper nothing shows: skip the drawing.
        if self.y < MAX_HEIGHT {
            for glyph in &line {
                let top = self.y + height - glyph.height();
                self.glyph(glyph, x, top);
                x += glyph.width();
            }
        }
        self.line = line;
        self.line.clear();
        self.line_width = 0;
        height
    }

    fn glyph(&mut self, g: &Glyph, x0: usize, y0: usize) {
        let (w, h) = (g.width(), g.height());
        let bold = usize::from(g.bold);
        match g.kind {
            Kind::Ascii(c) => self.font_glyph(
                &font8x8::legacy::BASIC_LEGACY[usize::from(c & 0x7F)],
                x0,
                y0,
                CELL_WIDTH * g.sw,
                h,
                bold,
            ),
            Kind::Latin(i) => self.font_glyph(
                &font8x8::legacy::LATIN_LEGACY[usize::from(i) % 96],
                x0,
                y0,
                CELL_WIDTH * g.sw,
                h,
                bold,
            ),
            Kind::Cjk => {
                // An outline box with a 2-dot margin; bold makes it thicker.
                let t = g.sw.min(g.sh) + bold;
                let (mx, my) = (2 * g.sw, 2 * g.sh);
                for y in y0 + my..y0 + h - my {
                    for x in x0 + mx..x0 + w - mx {
                        let edge = x < x0 + mx + t
                            || x >= x0 + w - mx - t
                            || y < y0 + my + t
                            || y >= y0 + h - my - t;
                        if edge {
                            self.dot(x, y);
                        }
                    }
                }
            }
            Kind::Yen => {
                // 'Y' centred in the double-width cell, with two bars.
                let cw = CELL_WIDTH * g.sw;
                let gx = x0 + cw / 2;
                self.font_glyph(
                    &font8x8::legacy::BASIC_LEGACY[usize::from(b'Y')],
                    gx,
                    y0,
                    cw,
                    h,
                    bold,
                );
                for bar in [h * 9 / 16, h * 11 / 16] {
                    for y in y0 + bar..y0 + bar + g.sh {
                        for x in gx + cw / 6..gx + cw - cw / 6 + bold {
                            self.dot(x, y);
                        }
                    }
                }
            }
        }
    }

    /// An 8 × 8 glyph scaled into `w` × `h` (nearest neighbour); bold repeats it 1 dot right.
    fn font_glyph(
        &mut self,
        rows: &[u8; 8],
        x0: usize,
        y0: usize,
        w: usize,
        h: usize,
        bold: usize,
    ) {
        for dy in 0..h {
            let bits = rows[dy * 8 / h];
            if bits == 0 {
                continue;
            }
            for dx in 0..w {
                // LSB is the left-most pixel in font8x8.
                if bits & (1 << (dx * 8 / w)) != 0 {
                    for shift in 0..=bold {
                        self.dot(x0 + dx + shift, y0 + dy);
                    }
                }
            }
        }
    }

    fn flush_for_graphics(&mut self) {
        if !self.line.is_empty() {
            let h = self.print_line();
            self.advance(h.max(self.line_spacing));
        }
    }

    /// `GS v 0` data: `x` bytes per row, `y` rows, scaled `sw` × `sh`.
    fn image(&mut self, data: &[u8], x: usize, y: usize, sw: usize, sh: usize) {
        self.flush_for_graphics();
        let w = x * 8 * sw;
        let x0 = self.x_for(self.align, w);
        let top = self.y;
        // Bytes that start left of the paper's right edge; the rest is clipped.
        let visible = self.bitmap.width.saturating_sub(x0).div_ceil(8 * sw).min(x);
        for row in 0..y {
            if top + row * sh >= MAX_HEIGHT {
                break;
            }
            for (bx, &byte) in data[row * x..row * x + visible].iter().enumerate() {
                if byte == 0 {
                    continue;
                }
                for bit in 0..8 {
                    if byte & (0x80 >> bit) != 0 {
                        let px = x0 + (bx * 8 + bit) * sw;
                        for dy in 0..sh {
                            for dx in 0..sw {
                                self.dot(px + dx, top + row * sh + dy);
                            }
                        }
                    }
                }
            }
        }
        self.advance(y * sh);
        self.grow(self.y);
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

    fn print_qr(&mut self) {
        self.flush_for_graphics();
        if self.qr_data.is_empty() {
            return;
        }
        if self.qr_symbol.is_none() {
            let Ok(code) = QrCode::with_error_correction_level(&self.qr_data, self.qr_ec) else {
                return;
            };
            self.qr_symbol = Some((code.width(), code.to_colors()));
        }
        let Some((modules, colors)) = self.qr_symbol.take() else {
            return;
        };
        let n = self.qr_module;
        let size = modules * n;
        let x0 = self.x_for(self.align, size);
        let top = self.y;
        let (width, bottom) = (self.bitmap.width, MAX_HEIGHT);
        for (k, color) in colors.iter().enumerate() {
            if *color == Color::Dark {
                let (mx, my) = (k % modules, k / modules);
                for y in (top + my * n..top + (my + 1) * n).take_while(|y| *y < bottom) {
                    for x in (x0 + mx * n..x0 + (mx + 1) * n).take_while(|x| *x < width) {
                        self.dot(x, y);
                    }
                }
            }
        }
        self.qr_symbol = Some((modules, colors));
        self.advance(size);
        self.grow(self.y);
    }

    /// A cut: a solid line for a full cut, a dashed one for a partial cut.
    fn cut(&mut self, full: bool) {
        self.flush_for_graphics();
        self.advance(4);
        let y = self.y;
        for x in (0..self.bitmap.width).filter(|x| full || x % 8 < 4) {
            self.dot(x, y);
        }
        self.advance(12);
        self.grow(self.y);
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

#[cfg(test)]
mod tests {
    use super::*;
    use crate::receipt::{self, EscPos, Layout, Line, QrStyle, Receipt};

    const URL: &str = "weixin://wxpay/bizpayurl?pr=Ab3dE9x";

    fn decode_qr_codes(b: &Bitmap) -> Vec<String> {
        let mut img = rqrr::PreparedImage::prepare_from_greyscale(b.width, b.height, |x, y| {
            if b.get(x, y) { 0 } else { 255 }
        });
        img.detect_grids()
            .into_iter()
            .filter_map(|g| g.decode().ok().map(|(_, s)| s))
            .collect()
    }

    fn sample(sandbox: bool) -> Receipt {
        Receipt {
            title: "小店 Corner Shop".into(),
            lines: vec![
                Line {
                    name: "Americano".into(),
                    quantity: 2,
                    amount: 2400,
                },
                Line {
                    name: "牛角包 croissant".into(),
                    quantity: 1,
                    amount: 800,
                },
            ],
            total: 3200,
            code_url: URL.into(),
            footer: "谢谢 Thank you".into(),
            out_trade_no: "T20261126120005".into(),
            time: "2026-11-26 12:00:05".into(),
            sandbox,
        }
    }

    fn black(b: &Bitmap) -> usize {
        b.dots.iter().filter(|d| **d).count()
    }

    /// Columns that have a black dot in rows `y0..y1`.
    fn ink_columns(b: &Bitmap, y0: usize, y1: usize) -> Option<(usize, usize)> {
        let cols: Vec<usize> = (0..b.width)
            .filter(|&x| (y0..y1.min(b.height)).any(|y| b.get(x, y)))
            .collect();
        Some((*cols.first()?, *cols.last()?))
    }

    #[test]
    fn receipts_round_trip_through_rqrr() {
        for base in [Layout::MM80, Layout::MM58] {
            for qr in [QrStyle::Raster, QrStyle::Native] {
                for sandbox in [false, true] {
                    let layout = Layout { qr, ..base };
                    let bytes = receipt::encode(&sample(sandbox), &layout);
                    let bitmap = render(&bytes, usize::from(layout.width_dots)).unwrap();
                    assert_eq!(bitmap.width, usize::from(layout.width_dots));
                    assert_eq!(
                        decode_qr_codes(&bitmap),
                        vec![URL.to_string()],
                        "{layout:?}"
                    );
                }
            }
        }
    }

    #[test]
    fn unscaled_raster_round_trips() {
        for layout in [Layout::MM80, Layout::MM58] {
            let bytes = receipt::qr_raster_scaled(URL, &layout, false);
            let bitmap = render(&bytes, usize::from(layout.width_dots)).unwrap();
            assert_eq!(decode_qr_codes(&bitmap), vec![URL.to_string()]);
        }
    }

    #[test]
    fn scaled_and_unscaled_raster_draw_the_same_picture() {
        let a = render(&receipt::qr_raster_scaled(URL, &Layout::MM80, true), 576).unwrap();
        let b = render(&receipt::qr_raster_scaled(URL, &Layout::MM80, false), 576).unwrap();
        assert_eq!((a.width, a.height), (b.width, b.height));
        // 29 modules × 6 dots, centred (± the byte padding), with ≥ 4 modules of white around.
        let (la, ra) = ink_columns(&a, 0, a.height).unwrap();
        let (lb, rb) = ink_columns(&b, 0, b.height).unwrap();
        assert_eq!((ra - la + 1, rb - lb + 1), (174, 174));
        assert!(
            la.abs_diff((576 - 174) / 2) <= 1 && lb.abs_diff((576 - 174) / 2) <= 1,
            "{la} {lb}"
        );
        let same = (0..a.height).all(|y| (0..174).all(|x| a.get(la + x, y) == b.get(lb + x, y)));
        assert!(same, "printer-scaled and host-scaled symbols differ");
        let top = (0..a.height)
            .find(|&y| (0..a.width).any(|x| a.get(x, y)))
            .unwrap();
        let bottom = (0..a.height)
            .rev()
            .find(|&y| (0..a.width).any(|x| a.get(x, y)))
            .unwrap();
        assert!(
            top >= 24 && a.height - 1 - bottom >= 24,
            "{top} {bottom} {}",
            a.height
        );
    }

    #[test]
    fn native_qr_matches_raster_qr() {
        let native = render(&receipt::qr_native(URL, 6), 576).unwrap();
        let raster = render(&receipt::qr_raster(URL, &Layout::MM80), 576).unwrap();
        assert_eq!(native.height, raster.height);
        let (l1, r1) = ink_columns(&native, 0, native.height).unwrap();
        let (l2, r2) = ink_columns(&raster, 0, raster.height).unwrap();
        assert_eq!(r1 - l1, r2 - l2);
        assert!(l1.abs_diff(l2) <= 1);
    }

    #[test]
    fn test_page_qr_decodes() {
        for layout in [
            Layout::MM80,
            Layout {
                qr: QrStyle::Native,
                ..Layout::MM58
            },
        ] {
            let bytes = receipt::test_page(&["printer: test".to_string()], &layout);
            let bitmap = render(&bytes, usize::from(layout.width_dots)).unwrap();
            assert_eq!(
                decode_qr_codes(&bitmap),
                vec![receipt::TEST_QR_DATA.to_string()]
            );
        }
    }

    #[test]
    fn every_prefix_renders_without_panic() {
        let layouts = [
            Layout::MM58,
            Layout {
                qr: QrStyle::Native,
                ..Layout::MM58
            },
        ];
        for layout in layouts {
            let bytes = receipt::encode(&sample(true), &layout);
            for end in 0..=bytes.len() {
                let (bitmap, err) = render_lossy(&bytes[..end], 384);
                assert_eq!(bitmap.dots.len(), bitmap.width * bitmap.height);
                if let Some(RenderError::Truncated { offset, .. }) = err {
                    assert!(offset < end);
                }
                if end % 16 == 0 {
                    match (render(&bytes[..end], 384), err) {
                        (Ok(b), None) => assert!(b == bitmap),
                        (Err(_), Some(_)) => {}
                        (r, e) => panic!(
                            "render and render_lossy disagree at {end}: {:?} / {e:?}",
                            r.err()
                        ),
                    }
                }
            }
            assert!(render(&bytes, 384).is_ok());
        }
    }

    #[test]
    fn random_bytes_never_panic() {
        let mut state = 0x2545_F491_4F6C_DD1Du64;
        let mut next = move || {
            state ^= state << 13;
            state ^= state >> 7;
            state ^= state << 17;
            state
        };
        let interesting = [
            0x1B, 0x1D, 0x1C, 0x10, 0x0A, b'(', b'k', b'v', b'0', 0x31, 0x51, 0x50, b'&', 0xA3,
        ];
        for round in 0..200 {
            let len = (next() % 300) as usize;
            let bytes: Vec<u8> = (0..len)
                .map(|_| {
                    let r = next();
                    if r % 3 == 0 {
                        interesting[(r >> 8) as usize % interesting.len()]
                    } else {
                        (r >> 16) as u8
                    }
                })
                .collect();
            let width = [0, 1, 384, 576][round % 4];
            let (bitmap, _) = render_lossy(&bytes, width);
            assert_eq!(bitmap.dots.len(), bitmap.width * bitmap.height);
            assert!(bitmap.height <= MAX_HEIGHT);
            let _ = bitmap.to_png();
        }
    }

    #[test]
    fn truncated_commands_are_reported() {
        let err = render(&[b'a', 0x1B, 0x61], 576).unwrap_err();
        assert!(matches!(err, RenderError::Truncated { offset: 1, .. }));
        let err = render(&[0x1D, 0x76, 0x30, 0, 2, 0, 2, 0, 0xFF], 576).unwrap_err();
        assert!(matches!(
            err,
            RenderError::Truncated {
                offset: 0,
                what: "GS v 0 image data"
            }
        ));
        let err = render(&[0x1C, 0x26, 0xA3], 576).unwrap_err();
        assert!(matches!(err, RenderError::Truncated { offset: 2, .. }));
        // render_lossy keeps what was drawn before the cut.
        let (bitmap, err) = render_lossy(b"HELLO\n\x1d\x76\x30\x00\x05", 576);
        assert!(err.is_some());
        assert!(black(&bitmap) > 0);
    }

    #[test]
    fn unknown_commands_are_skipped() {
        let plain = render(b"AB\n", 576).unwrap();
        for noise in [
            &b"\x1bt\x10"[..],          // ESC t n
            b"\x1d(L\x02\x000\x32",     // GS ( L fn 50
            b"\x10\x04\x04",            // DLE EOT 4
            b"\x10\x14\x01\x00\x05",    // DLE DC4 fn 1
            b"\x1bp\x00\x32\x32",       // drawer kick
            b"\x1d(k\x03\x001\x52\x30", // QR size info
            b"\x1dkA\x03123",           // barcode, form B
            b"\x1dk\x04123\x00",        // barcode, form A
            b"\x1dB\x00",               // reverse off
            b"\x1bD\x08\x10\x00",       // tab stops
            b"\x1c\x2e\x1c\x2e\r",      // FS . twice, CR
        ] {
            let bytes = [b"A", noise, b"B\n"].concat();
            assert_eq!(render(&bytes, 576).unwrap(), plain, "{noise:02X?}");
        }
    }

    #[test]
    fn text_alignment_bold_and_size() {
        let left = render(b"\x1ba\x00X\n", 576).unwrap();
        let centre = render(b"\x1ba\x01X\n", 576).unwrap();
        let right = render(b"\x1ba\x02X\n", 576).unwrap();
        assert_eq!(left.height, LINE_SPACING);
        let (l, r) = ink_columns(&left, 0, 30).unwrap();
        assert!(l < 12 && r < 12);
        let (l, r) = ink_columns(&centre, 0, 30).unwrap();
        assert!(l >= 282 && r < 294, "{l} {r}");
        let (l, r) = ink_columns(&right, 0, 30).unwrap();
        assert!(l >= 564 && r < 576);

        let bold = render(b"\x1bE\x01X\n", 576).unwrap();
        assert!(black(&bold) > black(&left));

        let big = render(b"\x1d!\x11X\nX\n", 576).unwrap();
        assert_eq!(big.height, 2 * 48);
        let (l, r) = ink_columns(&big, 0, 48).unwrap();
        assert!(r - l >= 12 && r < 24);
        assert!(black(&big) >= 3 * black(&left));

        // ESC @ resets the modes.
        let reset = render(b"\x1d!\x11\x1bE\x01\x1ba\x02\x1b@X\n", 576).unwrap();
        assert_eq!(reset, left);

        // 48 columns fit 576 dots; the 49th wraps.
        let full = render(&[b'X'; 48], 576).unwrap();
        assert_eq!(full.height, LINE_SPACING);
        let over = render(&[b'X'; 49], 576).unwrap();
        assert_eq!(over.height, 2 * LINE_SPACING);
    }

    #[test]
    fn chinese_mode_draws_double_width_boxes() {
        let mut e = EscPos::new();
        e.line("中文 ￥12.34");
        let b = render(e.as_bytes(), 576).unwrap();
        let (l, r) = ink_columns(&b, 0, 30).unwrap();
        // 2 hanzi (48) + space (12) + ￥ (24) + "12.34" (60) = 144 dots.
        assert!(l < 4 && (130..144).contains(&r), "{l} {r}");
        // The first hanzi is a box: its top edge is a solid run.
        assert!((2..22).all(|x| b.get(x, 2)));
        // Without FS & the same bytes are single-width '?' glyphs.
        let raw = render(&[0xD6, 0xD0, b'\n'], 576).unwrap();
        let (_, r) = ink_columns(&raw, 0, 30).unwrap();
        assert!(r < 24);
        // A 4-byte GB18030 sequence (¥ U+00A5) is one double-width character.
        let four = render(
            &[0x1C, 0x26, 0x81, 0x30, 0x84, 0x36, 0x1C, 0x2E, b'\n'],
            576,
        )
        .unwrap();
        let (_, r) = ink_columns(&four, 0, 30).unwrap();
        assert!((20..24).contains(&r));
    }

    #[test]
    fn raster_modes_and_alignment() {
        // One byte wide, two rows: 0x80 then 0x01.
        let img = [0x1D, 0x76, 0x30, 0, 1, 0, 2, 0, 0x80, 0x01];
        let b = render(&img, 64).unwrap();
        assert_eq!((b.width, b.height), (64, 2));
        assert!(b.get(0, 0) && b.get(7, 1) && !b.get(1, 0));
        let mut quad = img;
        quad[3] = 3;
        let b = render(&quad, 64).unwrap();
        assert_eq!(b.height, 4);
        assert!(b.get(0, 0) && b.get(1, 1) && !b.get(2, 0) && b.get(14, 2) && b.get(15, 3));
        let mut wide = img;
        wide[3] = 0x31;
        let b = render(&wide, 64).unwrap();
        assert_eq!(b.height, 2);
        assert!(b.get(1, 0) && !b.get(0, 1));
        let centred = render(&[&[0x1B, 0x61, 1][..], &img].concat(), 64).unwrap();
        assert!(centred.get(28, 0) && centred.get(35, 1));
        let right = render(&[&[0x1B, 0x61, 2][..], &img].concat(), 64).unwrap();
        assert!(right.get(56, 0) && right.get(63, 1));
    }

    #[test]
    fn feeds_and_cut() {
        assert_eq!(render(b"\n\n", 100).unwrap().height, 60);
        assert_eq!(render(b"\x1bd\x03", 100).unwrap().height, 90);
        assert_eq!(render(b"A\x1bd\x03", 100).unwrap().height, 90);
        assert_eq!(render(b"\x1b3\x10\n", 100).unwrap().height, 16);
        assert_eq!(render(b"\x1bJ\x05", 100).unwrap().height, 5);
        let cut = render(b"\x1dVB\x00", 100).unwrap();
        assert_eq!(cut.height, 16);
        assert!(cut.get(0, 4) && !cut.get(5, 4));
        // Huge feeds are clipped, not allocated without end.
        let long = render(&b"\x1bd\xff".repeat(100), 8).unwrap();
        assert_eq!(long.height, MAX_HEIGHT);
    }

    #[test]
    fn code_page_latin_glyphs() {
        // "é" in WPC1252 is E9: with ESC t 16 it draws the Latin-1 glyph, not '?'.
        let e_acute = render(b"\x1bt\x10\xe9\n", 576).unwrap();
        let question = render(b"?\n", 576).unwrap();
        let plain_e = render(b"e\n", 576).unwrap();
        assert_ne!(e_acute, question);
        assert_ne!(e_acute, plain_e);
        let (l, r) = ink_columns(&e_acute, 0, 30).unwrap();
        assert!(l < 12 && r < 12, "one column: {l} {r}");
        // Without ESC t 16 (and after ESC @) the byte is '?'.
        assert_eq!(render(b"\xe9\n", 576).unwrap(), question);
        assert_eq!(render(b"\x1bt\x10\x1b@\xe9\n", 576).unwrap(), question);
        // The code-page receipt renders its title with the accent.
        let layout = Layout {
            text: receipt::TextMode::CodePage(16),
            ..Layout::MM58
        };
        let mut r = sample(false);
        r.title = "Café".into();
        let bytes = receipt::encode(&r, &layout);
        assert!(render(&bytes, 384).is_ok());
    }

    #[test]
    fn full_and_partial_cuts() {
        let partial = render(b"\x1dVB\x00", 100).unwrap();
        let full = render(b"\x1dVA\x00", 100).unwrap();
        assert_eq!(partial.height, full.height);
        assert!(full.get(0, 4) && full.get(5, 4) && full.get(99, 4));
        assert!(partial.get(0, 4) && !partial.get(5, 4));
        assert_eq!(render(b"\x1dV\x00", 100).unwrap(), full);
        assert_eq!(render(b"\x1dV\x01", 100).unwrap(), partial);
        assert_eq!(render(b"\x1bi", 100).unwrap(), partial);
    }

    #[test]
    fn realtime_disable_and_text_mode_commands_draw_nothing() {
        let plain = render(b"AB\n", 576).unwrap();
        for noise in [
            &receipt::REALTIME_DISABLE[..],
            b"\x1c.",
            b"\x1bt\x10",
            b"\x1bt\x00",
        ] {
            let bytes = [b"A", noise, b"B\n"].concat();
            assert_eq!(render(&bytes, 576).unwrap(), plain, "{noise:02X?}");
        }
        // After GS ( D the raster still draws.
        let img = [
            &receipt::REALTIME_DISABLE[..],
            &[0x1D, 0x76, 0x30, 0, 1, 0, 1, 0, 0x80],
        ]
        .concat();
        let b = render(&img, 64).unwrap();
        assert!(b.get(0, 0) && b.height == 1);
    }

    #[test]
    fn double_height_raster_mode() {
        let img = [0x1D, 0x76, 0x30, 2, 1, 0, 1, 0, 0x80];
        let b = render(&img, 64).unwrap();
        assert_eq!(b.height, 2);
        assert!(b.get(0, 0) && b.get(0, 1) && !b.get(1, 0));
    }

    #[test]
    fn png_round_trip() {
        let mut bitmap = Bitmap::new(10, 3);
        bitmap.set(0, 0, true);
        bitmap.set(9, 2, true);
        bitmap.set(50, 50, true); // ignored
        assert!(bitmap.get(0, 0) && !bitmap.get(1, 0) && !bitmap.get(50, 50));
        let png_bytes = bitmap.to_png();
        let decoder = png::Decoder::new(std::io::Cursor::new(png_bytes));
        let mut reader = decoder.read_info().unwrap();
        let mut buf = vec![0; reader.output_buffer_size().unwrap()];
        let info = reader.next_frame(&mut buf).unwrap();
        assert_eq!((info.width, info.height), (10, 3));
        assert_eq!(
            (info.color_type, info.bit_depth),
            (png::ColorType::Grayscale, png::BitDepth::One)
        );
        assert_eq!(
            &buf[..info.line_size * 3],
            &[0x7F, 0xFF, 0xFF, 0xFF, 0xFF, 0xBF]
        );
        // Empty bitmaps still make a valid PNG.
        assert!(Bitmap::new(0, 0).to_png().starts_with(b"\x89PNG"));
    }
}

//! The paper: a growing [`Bitmap`] and the print position `y`, with what lands on it — lines
//! of glyphs (buffered until printed), `GS v 0` images, QR symbols and cut marks.
//!
//! The canvas knows dots, not bytes: the interpreter decodes commands and tells it what to
//! draw at which alignment. Paper grows as dots are set, up to [`MAX_HEIGHT`]; anything below
//! is clipped.

use qrcode::Color;

use super::font;
use super::{Bitmap, CELL_HEIGHT, CELL_WIDTH, LINE_SPACING, MAX_HEIGHT};

/// What a glyph shows.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(super) enum Kind {
    /// A one-column character (ASCII, a code-page character, `?`) in font A or B.
    Ank(char),
    /// A character of the Chinese (Kanji) font, 24 × 24 dots; `None` for a code that stands
    /// for no character (drawn as a box).
    Kanji(Option<char>),
}

/// One character cell in the line buffer, with the size and weight in force when it came.
#[derive(Debug, Clone, Copy)]
pub(super) struct Glyph {
    pub(super) kind: Kind,
    /// Width multiplier (`GS !`; `ESC !` for ANK, `FS !` / `FS W` for Chinese).
    pub(super) sw: usize,
    /// Height multiplier.
    pub(super) sh: usize,
    pub(super) bold: bool,
    /// Font B (9 × 17) instead of font A (12 × 24); one-column characters only.
    pub(super) font_b: bool,
}

impl Glyph {
    fn width(&self) -> usize {
        match self.kind {
            Kind::Ank(_) if self.font_b => FONT_B_CELL.0 * self.sw,
            Kind::Ank(_) => CELL_WIDTH * self.sw,
            Kind::Kanji(_) => 2 * CELL_WIDTH * self.sw,
        }
    }

    fn height(&self) -> usize {
        match self.kind {
            Kind::Ank(_) if self.font_b => FONT_B_CELL.1 * self.sh,
            _ => CELL_HEIGHT * self.sh,
        }
    }
}

/// Font B's cell (width, height) in dots, spacing included.
const FONT_B_CELL: (usize, usize) = (9, 17);
/// The part of font B's cell a glyph fills: Unifont's 8 × 16, unscaled.
const FONT_B_INK: (usize, usize) = (8, 16);

/// The paper and the print position.
pub(super) struct Canvas {
    bitmap: Bitmap,
    /// Top of the next line, in dots from the top of the paper.
    y: usize,
    /// Dots a line feed advances (`ESC 2` / `ESC 3 n`).
    pub(super) line_spacing: usize,
    /// Glyphs waiting for the line to be printed.
    line: Vec<Glyph>,
    line_width: usize,
    /// The alignment in force when the line's first glyph arrived.
    line_align: u8,
}

impl Canvas {
    /// Empty paper `width` dots wide.
    pub(super) fn new(width: usize) -> Self {
        Canvas {
            bitmap: Bitmap::new(width, 0),
            y: 0,
            line_spacing: LINE_SPACING,
            line: Vec::with_capacity(64),
            line_width: 0,
            line_align: 0,
        }
    }

    /// Prints what is still in the line buffer and returns the paper, as long as it was fed.
    pub(super) fn finish(mut self) -> Bitmap {
        self.flush();
        self.grow(self.y);
        self.bitmap
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

    /// Adds a glyph to the line, printing the line first if the glyph does not fit on it.
    pub(super) fn push(&mut self, glyph: Glyph, align: u8) {
        let w = glyph.width();
        if !self.line.is_empty() && self.line_width + w > self.bitmap.width {
            let h = self.print_line();
            self.advance(h.max(self.line_spacing));
        }
        if self.line.is_empty() {
            self.line_align = align;
        }
        self.line.push(glyph);
        self.line_width += w;
    }

    /// Drops the line buffer unprinted (`CAN`, `ESC @`).
    pub(super) fn clear_line(&mut self) {
        self.line.clear();
        self.line_width = 0;
    }

    /// `LF` (n = 1) and `ESC d n`: print the buffer, then feed so that n lines are used in all.
    pub(super) fn feed_lines(&mut self, n: usize) {
        if self.line.is_empty() {
            self.advance(n * self.line_spacing);
        } else {
            let h = self.print_line();
            let first = if n == 0 { h } else { h.max(self.line_spacing) };
            self.advance(first + n.saturating_sub(1) * self.line_spacing);
        }
    }

    /// `ESC J n`: print the buffer and feed `n` dots (at least the line's height).
    pub(super) fn feed_dots(&mut self, n: usize) {
        let h = if self.line.is_empty() {
            0
        } else {
            self.print_line()
        };
        self.advance(n.max(h));
    }

    /// Prints a pending line (one line feed), as before graphics and at the end.
    pub(super) fn flush(&mut self) {
        if !self.line.is_empty() {
            let h = self.print_line();
            self.advance(h.max(self.line_spacing));
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
        self.clear_line();
        height
    }

    fn glyph(&mut self, g: &Glyph, x0: usize, y0: usize) {
        let bold = usize::from(g.bold);
        match g.kind {
            Kind::Ank(c) => {
                let (w, h) = if g.font_b {
                    (FONT_B_INK.0 * g.sw, FONT_B_INK.1 * g.sh)
                } else {
                    (CELL_WIDTH * g.sw, CELL_HEIGHT * g.sh)
                };
                // Every ASCII and Latin-1 character has a glyph; '?' stands in otherwise.
                if let Some(glyph) = font::glyph(c).or_else(|| font::glyph('?')) {
                    self.font_glyph(glyph, x0, y0, w, h, bold);
                }
            }
            Kind::Kanji(c) => match c.and_then(font::glyph) {
                Some(glyph) if glyph.is_fullwidth() => {
                    self.font_glyph(glyph, x0, y0, g.width(), g.height(), bold);
                }
                // A halfwidth glyph (e.g. U+00A5) centred in the Chinese cell.
                Some(glyph) => {
                    let cw = CELL_WIDTH * g.sw;
                    self.font_glyph(glyph, x0 + cw / 2, y0, cw, g.height(), bold);
                }
                None => self.undefined_box(g, x0, y0),
            },
        }
    }

    /// What a printer prints for a code its Chinese font has no character for: an outline
    /// box with a 2-dot margin; bold makes it thicker.
    fn undefined_box(&mut self, g: &Glyph, x0: usize, y0: usize) {
        let (w, h) = (g.width(), g.height());
        let t = g.sw.min(g.sh) + usize::from(g.bold);
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

    /// A Unifont glyph scaled into `w` × `h` at (x0, y0); bold repeats it 1 dot right.
    fn font_glyph(
        &mut self,
        glyph: &unifont::Glyph,
        x0: usize,
        y0: usize,
        w: usize,
        h: usize,
        bold: usize,
    ) {
        font::scaled(glyph, w, h, |dx, dy| {
            for shift in 0..=bold {
                self.dot(x0 + dx + shift, y0 + dy);
            }
        });
    }

    /// `GS v 0` data: `x` bytes per row, `y` rows, scaled `sw` × `sh`, at alignment `align`.
    pub(super) fn image(
        &mut self,
        data: &[u8],
        x: usize,
        y: usize,
        sw: usize,
        sh: usize,
        align: u8,
    ) {
        self.flush();
        let w = x * 8 * sw;
        let x0 = self.x_for(align, w);
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

    /// A QR symbol, `modules` wide, `n` dots per module, at alignment `align`.
    pub(super) fn qr(&mut self, modules: usize, colors: &[Color], n: usize, align: u8) {
        let size = modules * n;
        let x0 = self.x_for(align, size);
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
        self.advance(size);
        self.grow(self.y);
    }

    /// A cut: a solid line for a full cut, a dashed one for a partial cut.
    pub(super) fn cut(&mut self, full: bool) {
        self.flush();
        self.advance(4);
        let y = self.y;
        for x in (0..self.bitmap.width).filter(|x| full || x % 8 < 4) {
            self.dot(x, y);
        }
        self.advance(12);
        self.grow(self.y);
    }
}

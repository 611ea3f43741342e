//! ESC/POS bytes → 1-bit bitmap → PNG: the receipt preview (`wxprint render`), and what tests
//! decode QR codes from.
//!
//! The model is a simple standard-mode printer. Text is drawn with GNU Unifont (the `unifont`
//! crate: 8 × 16 and 16 × 16 bitmaps), scaled nearest-neighbour into the printer's cells:
//! font A 12 × 24 dots (the 8 × 16 glyph ×1.5), font B 9 × 17 (`ESC !` bit 0, `ESC M`: the
//! 8 × 16 glyph unscaled), Chinese characters 24 × 24 (the 16 × 16 glyph ×1.5; a halfwidth
//! glyph is centred in the cell; a code that stands for no character is a box). So strokes
//! come out 1 or 2 dots wide where a printer's own 24-dot font has even ones: the shapes, the
//! widths and the places are the printer's, the type design is not. Line spacing is 30 dots
//! (`ESC 2` / `ESC 3 n`), text is buffered until `LF` / `ESC d` / `ESC J` / a full line
//! (glyphs of a line bottom-aligned), and alignment is the one in force when the line's first
//! character arrived. Sizes follow Epson: `GS !` sizes every character, `ESC !` (double
//! width, height) the one-column ones only, `FS !` / `FS W` the Chinese ones only; the last
//! command received wins. `GS v 0` images (m = 0–3 / 48–51: normal, double width, double
//! height, quadruple) and native `GS ( k` QR codes (re-encoded with the `qrcode` crate) are
//! drawn at the current alignment. Text modes follow what `escpos` emits: `FS &` / `FS .`
//! switch Chinese mode on and off (bytes `81`–`FE` start a 2-byte GB18030 code, or a 4-byte
//! one when the second byte is a digit, decoded as GB18030 and drawn double width; the printer
//! starts, and `ESC @` resets it, in single-byte mode); `ESC t n` selects a code page, and
//! with 16 (WPC1252) bytes `A0`–`FF` draw as their Latin-1 glyphs (other pages and bytes:
//! `?`). Cuts draw a solid (full: `GS V 0/48/65/97/103`) or dashed (partial: other `GS V`,
//! `ESC i`, `ESC m`) line. `GS ( D` (real-time command switch) and other commands that change
//! nothing on paper are skipped with their parameters where their length is known, else as
//! `ESC x n` / `GS x n` / `FS x n` with one parameter byte.
//!
//! A command cut off by the end of the input is an error for [`render`]; [`render_lossy`]
//! returns the picture drawn so far together with that error (what the CLI wants for user
//! files). Rendering never panics. Paper is capped at [`MAX_HEIGHT`] dots (further output is
//! clipped) and at [`MAX_WIDTH`] dots across.
//!
//! `interpreter.rs` reads the commands and keeps the printer's modes; `canvas.rs` draws on the
//! paper; `font.rs` has the glyphs and the GB18030 decoding. This module knows nothing of receipts or printers: it reads bytes only.

mod canvas;
mod font;
mod interpreter;
#[cfg(test)]
mod tests;

use interpreter::Interpreter;

/// A 1-bit image, row-major, `true` = black dot.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Bitmap {
    /// Width in dots.
    pub width: usize,
    /// Height in dots.
    pub height: usize,
    /// `width × height` dots, row by row.
    pub dots: Vec<bool>,
}

/// Why a byte stream could not be rendered whole.
#[derive(Debug, thiserror::Error)]
pub enum RenderError {
    /// The input ends inside a command or a multi-byte character.
    #[error("truncated ESC/POS command at byte {offset}: {what}")]
    Truncated {
        /// Where the cut-off command starts.
        offset: usize,
        /// Which command or character it is.
        what: &'static str,
    },
}

/// Why a byte stream is not ESC/POS at all (see [`check_escpos`]).
#[derive(Debug, thiserror::Error)]
pub enum NotEscPos {
    /// The input is empty.
    #[error("the file is empty, not an ESC/POS byte stream")]
    Empty,
    /// No `ESC`, `GS` or `FS` command, and mostly text: a text file, not a receipt.
    #[error(
        "not an ESC/POS byte stream: it has no ESC, GS or FS command and {text_percent}% of its {len} bytes are text"
    )]
    Text {
        /// How many bytes the input has.
        len: usize,
        /// The share of them that is text (printable, whitespace or UTF-8).
        text_percent: usize,
    },
}

/// The entry check of `wxprint render`: refuses input that is plainly no receipt — empty,
/// or mostly text without a single `ESC` / `GS` / `FS` command (every receipt wxprint
/// writes starts with `ESC @`). Anything else may be rendered.
pub fn check_escpos(bytes: &[u8]) -> Result<(), NotEscPos> {
    if bytes.is_empty() {
        return Err(NotEscPos::Empty);
    }
    if bytes.iter().any(|b| matches!(b, 0x1B..=0x1D)) {
        return Ok(());
    }
    let text = bytes
        .iter()
        .filter(|&&b| b >= 0x20 || matches!(b, b'\t' | b'\n' | b'\r'))
        .count();
    let text_percent = text * 100 / bytes.len();
    if text_percent >= 90 {
        return Err(NotEscPos::Text {
            len: bytes.len(),
            text_percent,
        });
    }
    Ok(())
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
    let mut interpreter = Interpreter::new(width_dots.min(MAX_WIDTH));
    let err = interpreter.run(bytes).err();
    (interpreter.finish(), err)
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

/// Every QR code `rqrr` finds in `bitmap`, decoded (undecodable ones are left out): the one
/// QR reader of the unit tests.
#[cfg(test)]
pub(crate) fn decode_qrs(bitmap: &Bitmap) -> Vec<String> {
    let mut img =
        rqrr::PreparedImage::prepare_from_greyscale(bitmap.width, bitmap.height, |x, y| {
            if bitmap.get(x, y) { 0 } else { 255 }
        });
    img.detect_grids()
        .into_iter()
        .filter_map(|g| g.decode().ok().map(|(_, s)| s))
        .collect()
}

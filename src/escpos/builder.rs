//! [`EscPos`], a tiny ESC/POS byte builder: every method appends exactly the documented bytes
//! (`docs/escpos.md` §1–§3), user text is encoded for the builder's [`TextMode`].
//!
//! The builder knows commands, not content: what to print and where is the caller's business
//! (`receipt`), and the QR blocks built on it live in `qr`.

use super::charset::{self, TextMode};
use super::drawer::DrawerPulse;
use super::qr::MAX_QR_BYTES;
use super::{Cut, ESC, FS, GS, LF, Layout, REALTIME_DISABLE};

/// Justification for `ESC a n`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Align {
    /// `ESC a 0`.
    Left = 0,
    /// `ESC a 1`.
    Center = 1,
    /// `ESC a 2`.
    Right = 2,
}

/// The `m` parameter of `GS v 0`: how the printer scales the bitmap.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum RasterScale {
    /// One dot per bit.
    Normal = 0,
    /// Each bit two dots wide.
    DoubleWidth = 1,
    /// Each bit two dots high.
    DoubleHeight = 2,
    /// Double width and double height.
    Quadruple = 3,
}

/// A tiny ESC/POS byte builder. Every method appends exactly the documented bytes; user
/// text is encoded for the builder's [`TextMode`] (Chinese unless set).
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct EscPos {
    buf: Vec<u8>,
    mode: TextMode,
}

impl EscPos {
    /// An empty builder in Chinese text mode.
    pub fn new() -> Self {
        Self::default()
    }

    /// An empty builder in Chinese text mode with room for `capacity` bytes.
    pub fn with_capacity(capacity: usize) -> Self {
        EscPos {
            buf: Vec::with_capacity(capacity),
            mode: TextMode::Chinese,
        }
    }

    /// A job for `layout`: `ESC @` and the layout's text mode on the printer (`FS .` or
    /// `ESC t n`), text encoded for it from now on; room for `capacity` bytes.
    pub fn start(layout: &Layout, capacity: usize) -> Self {
        let mut out = EscPos::with_capacity(capacity).with_text_mode(layout.text);
        out.init().select_text_mode();
        out
    }

    /// The same builder, encoding text for `mode` from now on (emits nothing).
    pub fn with_text_mode(mut self, mode: TextMode) -> Self {
        self.mode = mode;
        self
    }

    /// The mode text is encoded for.
    pub fn text_mode(&self) -> TextMode {
        self.mode
    }

    /// The bytes so far.
    pub fn as_bytes(&self) -> &[u8] {
        &self.buf
    }

    /// The bytes, ready to send.
    pub fn into_bytes(self) -> Vec<u8> {
        self.buf
    }

    /// Number of bytes so far.
    pub fn len(&self) -> usize {
        self.buf.len()
    }

    /// Nothing appended yet.
    pub fn is_empty(&self) -> bool {
        self.buf.is_empty()
    }

    /// Makes room for at least `additional` more bytes (emits nothing).
    pub(crate) fn reserve(&mut self, additional: usize) -> &mut Self {
        self.buf.reserve(additional);
        self
    }

    /// Appends bytes unchanged (no sanitising: only for bytes we built ourselves).
    pub fn raw(&mut self, bytes: &[u8]) -> &mut Self {
        self.buf.extend_from_slice(bytes);
        self
    }

    /// `ESC @` — initialise the printer (`1B 40`).
    pub fn init(&mut self) -> &mut Self {
        self.raw(&[ESC, b'@'])
    }

    /// Selects the builder's text mode on the printer: `FS .` (`1C 2E`) in Chinese mode,
    /// `ESC t n` (`1B 74 n`) in code-page mode. Send right after `ESC @`.
    pub fn select_text_mode(&mut self) -> &mut Self {
        match self.mode {
            TextMode::Chinese => self.raw(&[FS, b'.']),
            TextMode::CodePage(n) => self.raw(&[ESC, b't', n]),
        }
    }

    /// `ESC a n` — justification (`1B 61 n`).
    pub fn align(&mut self, align: Align) -> &mut Self {
        self.raw(&[ESC, b'a', align as u8])
    }

    /// `ESC E n` — emphasised (bold) on / off (`1B 45 01` / `1B 45 00`).
    pub fn bold(&mut self, on: bool) -> &mut Self {
        self.raw(&[ESC, b'E', u8::from(on)])
    }

    /// `GS ! n` — character size, `n = ((width-1) << 4) | (height-1)`; each clamped to 1..=8.
    pub fn size(&mut self, width: u8, height: u8) -> &mut Self {
        let w = width.clamp(1, 8) - 1;
        let h = height.clamp(1, 8) - 1;
        self.raw(&[GS, b'!', (w << 4) | h])
    }

    /// `LF` — print the line and feed one line.
    pub fn lf(&mut self) -> &mut Self {
        self.raw(&[LF])
    }

    /// `ESC d n` — print and feed `n` lines (`1B 64 n`).
    pub fn feed(&mut self, lines: u8) -> &mut Self {
        self.raw(&[ESC, b'd', lines])
    }

    /// `GS V 66 0` — feed to the cutter and (partial) cut (`1D 56 42 00`).
    pub fn cut(&mut self) -> &mut Self {
        self.raw(&[GS, b'V', 66, 0])
    }

    /// `GS V 65 0` — feed to the cutter and full cut (`1D 56 41 00`).
    pub fn cut_full(&mut self) -> &mut Self {
        self.raw(&[GS, b'V', 65, 0])
    }

    /// The end of a job: feed and cut as `cut` says (see [`Cut`]).
    pub fn finish(&mut self, cut: Cut) -> &mut Self {
        match cut {
            Cut::FeedPartial => self.feed(3).cut(),
            Cut::FeedFull => self.feed(3).cut_full(),
            Cut::None => self.feed(4),
        }
    }

    /// `ESC p m t1 t2` — kick the cash drawer with `pulse` (`1B 70 m t1 t2`).
    pub fn drawer_pulse(&mut self, pulse: DrawerPulse) -> &mut Self {
        self.raw(&pulse.bytes())
    }

    /// `GS ( D` — disable real-time commands ([`REALTIME_DISABLE`]).
    pub fn realtime_disable(&mut self) -> &mut Self {
        self.raw(&REALTIME_DISABLE)
    }

    /// `GS v 0` header: `1D 76 30 m xL xH yL yH`; `bytes_per_row` = x, `rows` = y.
    pub fn raster_header(
        &mut self,
        scale: RasterScale,
        bytes_per_row: u16,
        rows: u16,
    ) -> &mut Self {
        let [xl, xh] = bytes_per_row.to_le_bytes();
        let [yl, yh] = rows.to_le_bytes();
        self.raw(&[GS, b'v', b'0', scale as u8, xl, xh, yl, yh])
    }

    /// `GS v 0` with its data: rows top to bottom, MSB = left-most dot, bit 1 = black.
    ///
    /// # Panics
    /// If `data.len() != bytes_per_row * rows` (a bug in the caller: the printer would
    /// swallow or misread the following bytes).
    pub fn raster(
        &mut self,
        scale: RasterScale,
        bytes_per_row: u16,
        rows: u16,
        data: &[u8],
    ) -> &mut Self {
        assert_eq!(
            data.len(),
            usize::from(bytes_per_row) * usize::from(rows),
            "GS v 0 data length"
        );
        self.raster_header(scale, bytes_per_row, rows).raw(data)
    }

    /// `GS v 0` with its data drawn in place, row by row (MSB = left-most dot, bit 1 =
    /// black): for each row `y` from 0, `draw(y, row, above)` fills `row` (`bytes_per_row`
    /// zero bytes) and may copy `above`, the row before it (`None` for the first). Exactly
    /// `rows` rows are sent, so the header always matches the data.
    pub(crate) fn raster_rows(
        &mut self,
        scale: RasterScale,
        bytes_per_row: u16,
        rows: u16,
        mut draw: impl FnMut(usize, &mut [u8], Option<&[u8]>),
    ) -> &mut Self {
        self.raster_header(scale, bytes_per_row, rows);
        let width = usize::from(bytes_per_row);
        for y in 0..usize::from(rows) {
            let start = self.buf.len();
            self.buf.resize(start + width, 0);
            let (before, row) = self.buf.split_at_mut(start);
            let above = (y > 0).then(|| &before[start - width..]);
            draw(y, row, above);
        }
        self
    }

    /// Native QR, model 2, EC level M: the five `GS ( k` functions (model, module size, EC
    /// level, store, print) — 41 bytes plus the data. `module_dots` is clamped to 1..=16;
    /// data beyond [`MAX_QR_BYTES`] is cut. (Only the symbol: the centred block with its
    /// quiet zone is [`qr_native_block`](super::qr_native_block).)
    pub fn qr_native(&mut self, data: &[u8], module_dots: u8) -> &mut Self {
        let data = &data[..data.len().min(MAX_QR_BYTES)];
        // Fits in u16: at most 7089 + 3.
        let [pl, ph] = ((data.len() + 3) as u16).to_le_bytes();
        self.buf.reserve(9 + 8 + 8 + 8 + data.len() + 8);
        self.raw(&[GS, b'(', b'k', 4, 0, 0x31, 0x41, 0x32, 0x00])
            .raw(&[GS, b'(', b'k', 3, 0, 0x31, 0x43, module_dots.clamp(1, 16)])
            .raw(&[GS, b'(', b'k', 3, 0, 0x31, 0x45, 0x31])
            .raw(&[GS, b'(', b'k', pl, ph, 0x31, 0x50, 0x30])
            .raw(data)
            .raw(&[GS, b'(', b'k', 3, 0, 0x31, 0x51, 0x30])
    }

    /// User text in the builder's [`TextMode`] (see `charset`); control characters (C0, DEL,
    /// C1) become spaces. No line feed.
    ///
    /// In Chinese mode a run of non-ASCII characters goes between one `FS &` and one `FS .`
    /// (a `?` or space standing for a character inside the run stays inside it); ASCII is
    /// always sent outside.
    pub fn text(&mut self, s: &str) -> &mut Self {
        charset::push_text(&mut self.buf, s, self.mode);
        self
    }

    /// [`text`](Self::text) then `LF`.
    pub fn line(&mut self, s: &str) -> &mut Self {
        self.text(s).lf()
    }

    /// `n` spaces.
    pub(crate) fn pad(&mut self, n: usize) -> &mut Self {
        self.repeat(b' ', n)
    }

    /// `n` copies of the printable ASCII character `c` (padding, rules); any other byte is
    /// sent as a space, as in [`text`](Self::text).
    pub(crate) fn repeat(&mut self, c: u8, n: usize) -> &mut Self {
        let c = if (0x20..0x7F).contains(&c) { c } else { b' ' };
        self.buf.resize(self.buf.len() + n, c);
        self
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::escpos::testing::{bytes, hex};

    #[test]
    fn golden_simple_commands() {
        assert_eq!(bytes(|e| e.init()), [0x1B, 0x40]);
        assert_eq!(bytes(|e| e.align(Align::Left)), [0x1B, 0x61, 0]);
        assert_eq!(bytes(|e| e.align(Align::Center)), [0x1B, 0x61, 1]);
        assert_eq!(bytes(|e| e.align(Align::Right)), [0x1B, 0x61, 2]);
        assert_eq!(bytes(|e| e.bold(true)), [0x1B, 0x45, 1]);
        assert_eq!(bytes(|e| e.bold(false)), [0x1B, 0x45, 0]);
        assert_eq!(bytes(|e| e.size(1, 1)), [0x1D, 0x21, 0x00]);
        assert_eq!(bytes(|e| e.size(2, 2)), [0x1D, 0x21, 0x11]);
        assert_eq!(bytes(|e| e.size(2, 1)), [0x1D, 0x21, 0x10]);
        assert_eq!(bytes(|e| e.size(1, 3)), [0x1D, 0x21, 0x02]);
        assert_eq!(bytes(|e| e.size(8, 8)), [0x1D, 0x21, 0x77]);
        assert_eq!(bytes(|e| e.size(0, 9)), [0x1D, 0x21, 0x07]);
        assert_eq!(bytes(|e| e.lf()), [0x0A]);
        assert_eq!(bytes(|e| e.feed(3)), [0x1B, 0x64, 3]);
        assert_eq!(bytes(|e| e.cut()), [0x1D, 0x56, 0x42, 0x00]);
        assert_eq!(bytes(|e| e.cut_full()), [0x1D, 0x56, 0x41, 0x00]);
        assert_eq!(
            bytes(|e| e.finish(Cut::FeedPartial)),
            [0x1B, 0x64, 3, 0x1D, 0x56, 0x42, 0x00]
        );
        assert_eq!(
            bytes(|e| e.finish(Cut::FeedFull)),
            [0x1B, 0x64, 3, 0x1D, 0x56, 0x41, 0x00]
        );
        assert_eq!(bytes(|e| e.finish(Cut::None)), [0x1B, 0x64, 4]);
        assert_eq!(
            hex(&bytes(|e| e.realtime_disable())),
            "1D 28 44 05 00 14 01 00 02 00"
        );
        assert_eq!(bytes(|e| e.select_text_mode()), [0x1C, 0x2E]);
        let mut e = EscPos::new().with_text_mode(TextMode::CodePage(16));
        e.select_text_mode();
        assert_eq!(e.as_bytes(), [0x1B, 0x74, 16]);
    }

    #[test]
    fn golden_raster() {
        let b = bytes(|e| e.raster(RasterScale::Normal, 2, 3, &[1, 2, 3, 4, 5, 6]));
        assert_eq!(hex(&b), "1D 76 30 00 02 00 03 00 01 02 03 04 05 06");
        let b = bytes(|e| e.raster_header(RasterScale::Quadruple, 300, 255));
        assert_eq!(hex(&b), "1D 76 30 03 2C 01 FF 00");
        let b = bytes(|e| e.raster_header(RasterScale::DoubleWidth, 1, 256));
        assert_eq!(hex(&b), "1D 76 30 01 01 00 00 01");
        // Drawn in place: the same bytes, each row seeing the one above.
        let b = bytes(|e| {
            e.raster_rows(RasterScale::Normal, 2, 3, |y, row, above| {
                assert_eq!(row, [0, 0]);
                let y = y as u8;
                let expected = (y > 0).then(|| vec![2 * y - 1, 2 * y]);
                assert_eq!(above.map(<[u8]>::to_vec), expected);
                row.copy_from_slice(&[2 * y + 1, 2 * y + 2]);
            })
        });
        assert_eq!(hex(&b), "1D 76 30 00 02 00 03 00 01 02 03 04 05 06");
    }

    #[test]
    fn native_qr_length_bytes_over_255() {
        let data = vec![b'a'; 300];
        let b = bytes(|e| e.qr_native(&data, 20));
        assert_eq!(&b[9..17], &[0x1D, 0x28, 0x6B, 3, 0, 0x31, 0x43, 16]);
        // 303 = 0x012F
        assert_eq!(
            &b[25..33],
            &[0x1D, 0x28, 0x6B, 0x2F, 0x01, 0x31, 0x50, 0x30]
        );
        assert_eq!(b.len(), 9 + 8 + 8 + 8 + 300 + 8);
    }
}

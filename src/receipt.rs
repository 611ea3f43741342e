//! Receipt model → ESC/POS bytes (our own small encoder; see `reference/escpos.md`).
//!
//! [`EscPos`] emits the dozen commands we need, byte for byte as documented in
//! `reference/escpos.md` §1–§3. [`encode`] lays out a checkout receipt, [`test_page`] the
//! technician's test page; [`qr_raster`], [`qr_raster_scaled`] and [`qr_native`] produce the
//! QR part alone. A [`Layout`] carries everything a printer profile decides (paper width,
//! dpi, columns, QR style, raster scaling, `GS ( D`, text mode, cut); the named profiles are
//! in `printer::profile`.
//!
//! User text (title, item names, footer, order number, time) goes through [`EscPos::text`],
//! which replaces every control character by a space, so it can never inject a command, and
//! encodes the rest for the layout's [`TextMode`]:
//! - [`TextMode::Chinese`]: ASCII as is; runs of other characters as `FS &`, 2-byte GB18030
//!   codes, `FS .`. A character GB18030 only has a 4-byte code for prints as `?` (cheap printers
//!   only know the 2-byte area), except `¥` U+00A5, which prints as the full-width `￥`
//!   (`A3 A4`). The job starts with `FS .` after `ESC @`, because Chinese-market printers power
//!   up in Chinese mode and would read Latin-1 bytes as halves of hanzi.
//! - [`TextMode::CodePage`]: `ESC t n` after `ESC @`, then one byte per character in that
//!   code page (see [`code_page_encoding`]); anything the page lacks prints as `?`, and the
//!   yuan sign as the page's `¥` where it has one, else as `RMB `.
//!
//! Receipt text wraps to the layout's columns ([`wrap`]): CJK characters are two columns wide
//! and may break anywhere, Latin text breaks at spaces (or hard at the margin when a word is
//! longer than the line). Nothing is truncated.

use std::fmt::Write as _;

use encoding_rs::{EncoderResult, Encoding, GB18030};
use qrcode::canvas::{Canvas, MaskPattern};
use qrcode::{Color, EcLevel};

/// `ESC` (0x1B).
pub const ESC: u8 = 0x1B;
/// `GS` (0x1D).
pub const GS: u8 = 0x1D;
/// `FS` (0x1C).
pub const FS: u8 = 0x1C;
/// `LF` (0x0A).
pub const LF: u8 = 0x0A;

/// `GS ( D` fn 20: disable the real-time commands `DLE DC4` fn 1 (drawer pulse) and fn 2
/// (power off), Epson's guard before image data (`reference/escpos.md` §2). Lost on `ESC @`.
pub const REALTIME_DISABLE: [u8; 10] = [GS, b'(', b'D', 5, 0, 20, 1, 0, 2, 0];

/// One item line: `name × quantity`, and its line total in fen.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Line {
    pub name: String,
    pub quantity: u32,
    pub amount: i64,
}

/// Everything printed on one checkout receipt.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Receipt {
    pub title: String,
    pub lines: Vec<Line>,
    /// Order total in fen.
    pub total: i64,
    /// The WeChat Pay `code_url` to print as a QR code.
    pub code_url: String,
    pub footer: String,
    pub out_trade_no: String,
    /// Already formatted, e.g. "2026-11-26 12:00:05".
    pub time: String,
    /// Sandbox receipts say clearly that they are not a real payment.
    pub sandbox: bool,
}

/// How the QR is sent to the printer.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum QrStyle {
    /// `GS v 0` bitmap rendered by us.
    Raster,
    /// `GS ( k` model 2, rendered by the printer.
    Native,
}

/// How text other than ASCII reaches the printer.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum TextMode {
    /// Printers of the Chinese market: `FS .` after `ESC @`, non-ASCII runs as `FS &` +
    /// 2-byte GB18030 + `FS .`.
    #[default]
    Chinese,
    /// `ESC t n` after `ESC @` and a single-byte code page (Epson numbering, e.g. 16 =
    /// WPC1252); characters outside it (all CJK) print as `?`. See [`code_page_encoding`].
    CodePage(u8),
}

/// How the receipt ends.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum Cut {
    /// `ESC d 3` + `GS V 66 0` (`1D 56 42 00`): feed to the cutter, partial cut. Accepted by
    /// Epson, Citizen, Zjiang, SPRT: the safe default.
    #[default]
    FeedPartial,
    /// `ESC d 3` + `GS V 65 0` (`1D 56 41 00`): feed to the cutter, full cut.
    FeedFull,
    /// No cutter: `ESC d 4` only, so the last line clears the tear bar.
    None,
}

/// Printer geometry and choices that shape the bytes; built from a printer profile
/// (`printer::profile::Profile::layout`) or taken from [`Layout::MM80`] / [`Layout::MM58`].
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Layout {
    /// Printable width in dots (576 for 80 mm, 384 for 58 mm).
    pub width_dots: u16,
    /// Dots per inch of the head (203 for most).
    pub dpi: u16,
    /// Text columns in font A (48 for 80 mm, 32 for 58 mm).
    pub columns: u16,
    pub qr: QrStyle,
    /// `GS v 0` double width/height (m = 1..3) works: raster QR codes go at half resolution
    /// with m = 3 (a quarter of the bytes).
    pub raster_scaling: bool,
    /// The printer accepts `GS ( D` ([`REALTIME_DISABLE`]); sent before raster data.
    pub realtime_disable: bool,
    pub text: TextMode,
    pub cut: Cut,
}

impl Layout {
    /// The generic 80 mm profile (`80mm`): 576 dots at 203 dpi, 48 columns, raster QR with
    /// printer scaling, Chinese text mode, partial cut.
    pub const MM80: Layout = Layout {
        width_dots: 576,
        dpi: 203,
        columns: 48,
        qr: QrStyle::Raster,
        raster_scaling: true,
        realtime_disable: false,
        text: TextMode::Chinese,
        cut: Cut::FeedPartial,
    };
    /// The generic 58 mm profile (`58mm`): as [`Layout::MM80`] on 384 dots, 32 columns.
    pub const MM58: Layout = Layout {
        width_dots: 384,
        dpi: 203,
        columns: 32,
        qr: QrStyle::Raster,
        raster_scaling: true,
        realtime_disable: false,
        text: TextMode::Chinese,
        cut: Cut::FeedPartial,
    };
}

/// Justification for `ESC a n`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Align {
    Left = 0,
    Center = 1,
    Right = 2,
}

/// The `m` parameter of `GS v 0`: how the printer scales the bitmap.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum RasterScale {
    Normal = 0,
    DoubleWidth = 1,
    DoubleHeight = 2,
    /// Double width and double height.
    Quadruple = 3,
}

/// Module size of the native (`GS ( k`) QR code at 203 dpi, in dots (0.75 mm). Receipts
/// compute it per layout with [`qr_module_dots`] (6 at 180 dpi too).
pub const NATIVE_QR_MODULE_DOTS: u8 = 6;
/// Smallest printed module we aim for, in hundredths of a millimetre.
pub const MIN_MODULE_UM10: u32 = 75;
/// Line height assumed when feeding blank lines (the usual default is 30–34 dots).
pub const MIN_LINE_DOTS: usize = 30;
/// Most rows sent in one `GS v 0` block.
pub const MAX_RASTER_ROWS: usize = 255;
/// Most data bytes a QR code (version 40, byte mode) holds; native QR data is cut there.
pub const MAX_QR_BYTES: usize = 7089;
/// Data of the sample QR on the test page.
pub const TEST_QR_DATA: &str = "weixin://wxpay/bizpayurl?pr=TestQR1";
/// Continuation lines of a wrapped item name are indented this many columns.
pub const ITEM_INDENT: usize = 2;

/// A tiny ESC/POS byte builder. Every method appends exactly the documented bytes; user
/// text is encoded for the builder's [`TextMode`] (Chinese unless set).
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct EscPos {
    buf: Vec<u8>,
    mode: TextMode,
}

impl EscPos {
    pub fn new() -> Self {
        Self::default()
    }

    pub fn with_capacity(capacity: usize) -> Self {
        EscPos {
            buf: Vec::with_capacity(capacity),
            mode: TextMode::Chinese,
        }
    }

    /// The same builder, encoding text for `mode` from now on (emits nothing).
    pub fn with_text_mode(mut self, mode: TextMode) -> Self {
        self.mode = mode;
        self
    }

    pub fn text_mode(&self) -> TextMode {
        self.mode
    }

    pub fn as_bytes(&self) -> &[u8] {
        &self.buf
    }

    pub fn into_bytes(self) -> Vec<u8> {
        self.buf
    }

    pub fn len(&self) -> usize {
        self.buf.len()
    }

    pub fn is_empty(&self) -> bool {
        self.buf.is_empty()
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

    /// Native QR, model 2, EC level M: the five `GS ( k` functions (model, module size, EC
    /// level, store, print) — 41 bytes plus the data. `module_dots` is clamped to 1..=16;
    /// data beyond [`MAX_QR_BYTES`] is cut.
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

    /// User text in the builder's [`TextMode`] (see the module docs); control characters
    /// (C0, DEL, C1) become spaces. No line feed.
    ///
    /// In Chinese mode a run of non-ASCII characters goes between one `FS &` and one `FS .`
    /// (a `?` or space standing for a character inside the run stays inside it); ASCII is
    /// always sent outside.
    pub fn text(&mut self, s: &str) -> &mut Self {
        let mode = self.mode;
        if s.is_ascii() {
            self.buf.extend(
                s.bytes()
                    .map(|b| if b < 0x20 || b == 0x7F { b' ' } else { b }),
            );
            return self;
        }
        let mut in_gb = false;
        for c in s.chars() {
            match char_code(c, mode) {
                Code::Gb(pair) => {
                    if !in_gb {
                        self.buf.extend_from_slice(&[FS, b'&']);
                        in_gb = true;
                    }
                    self.buf.extend_from_slice(&pair);
                }
                Code::Byte(b) => {
                    if in_gb && c.is_ascii() {
                        self.buf.extend_from_slice(&[FS, b'.']);
                        in_gb = false;
                    }
                    self.buf.push(b);
                }
                Code::Str(s) => self.buf.extend_from_slice(s.as_bytes()),
            }
        }
        if in_gb {
            self.buf.extend_from_slice(&[FS, b'.']);
        }
        self
    }

    /// [`text`](Self::text) then `LF`.
    pub fn line(&mut self, s: &str) -> &mut Self {
        self.text(s).lf()
    }

    /// `n` spaces.
    fn pad(&mut self, n: usize) -> &mut Self {
        self.buf.resize(self.buf.len() + n, b' ');
        self
    }
}

/// What one character becomes on the wire.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Code {
    /// One byte: ASCII, a code-page byte, or `?` / space standing in.
    Byte(u8),
    /// A 2-byte GB18030 character (Chinese mode, between `FS &` and `FS .`).
    Gb([u8; 2]),
    /// Several single-byte characters (`RMB ` for the yuan sign in code pages without `¥`).
    Str(&'static str),
}

impl Code {
    /// Print width in font A columns.
    fn width(self) -> usize {
        match self {
            Code::Byte(_) => 1,
            Code::Gb(_) => 2,
            Code::Str(s) => s.len(),
        }
    }
}

const YEN: char = '\u{A5}';
const FULLWIDTH_YEN: char = '\u{FFE5}';

fn char_code(c: char, mode: TextMode) -> Code {
    if c.is_ascii() {
        return Code::Byte(if c.is_ascii_control() { b' ' } else { c as u8 });
    }
    if c.is_control() {
        return Code::Byte(b' ');
    }
    match mode {
        TextMode::Chinese => {
            let c = if c == YEN { FULLWIDTH_YEN } else { c };
            match gb18030_2byte(c) {
                Some(pair) => Code::Gb(pair),
                // No-break and other odd spaces.
                None if c.is_whitespace() => Code::Byte(b' '),
                None => Code::Byte(b'?'),
            }
        }
        TextMode::CodePage(n) => {
            let c = if c == FULLWIDTH_YEN { YEN } else { c };
            match code_page_encoding(n).and_then(|e| single_byte(e, c)) {
                Some(b) => Code::Byte(b),
                None if c == YEN => Code::Str("RMB "),
                None if c.is_whitespace() => Code::Byte(b' '),
                None => Code::Byte(b'?'),
            }
        }
    }
}

/// The 2-byte GB18030 (GBK area) code of `c`; `None` where GB18030 needs 4 bytes.
fn gb18030_2byte(c: char) -> Option<[u8; 2]> {
    let mut src = [0u8; 4];
    let src = c.encode_utf8(&mut src);
    let mut dst = [0u8; 4];
    let (result, _, written) = GB18030
        .new_encoder()
        .encode_from_utf8_without_replacement(src, &mut dst, true);
    (result == EncoderResult::InputEmpty && written == 2).then_some([dst[0], dst[1]])
}

fn single_byte(encoding: &'static Encoding, c: char) -> Option<u8> {
    let mut src = [0u8; 4];
    let src = c.encode_utf8(&mut src);
    let mut dst = [0u8; 4];
    let (result, _, written) = encoding
        .new_encoder()
        .encode_from_utf8_without_replacement(src, &mut dst, true);
    (result == EncoderResult::InputEmpty && written == 1).then_some(dst[0])
}

/// The character set behind an `ESC t n` number (Epson numbering, as in escpos-printer-db's
/// `default` profile), where `encoding_rs` has it: 16 WPC1252, 17 CP866, 45–52 WPC1250,
/// 1251, 1253–1258. `None` for every other page — including 0 (CP437, which `encoding_rs`
/// does not implement): there only ASCII is printed and everything else becomes `?`.
pub fn code_page_encoding(n: u8) -> Option<&'static Encoding> {
    use encoding_rs::*;
    Some(match n {
        16 => WINDOWS_1252,
        17 => IBM866,
        45 => WINDOWS_1250,
        46 => WINDOWS_1251,
        47 => WINDOWS_1253,
        48 => WINDOWS_1254,
        49 => WINDOWS_1255,
        50 => WINDOWS_1256,
        51 => WINDOWS_1257,
        52 => WINDOWS_1258,
        _ => return None,
    })
}

/// Print width of `s` in font A columns in Chinese mode: ASCII 1, a 2-byte GB18030 character
/// 2 (CJK is double width), anything printed as `?` 1.
pub fn text_width(s: &str) -> usize {
    text_width_in(s, TextMode::Chinese)
}

/// Print width of `s` in font A columns as [`EscPos::text`] sends it in `mode`.
pub fn text_width_in(s: &str, mode: TextMode) -> usize {
    if s.is_ascii() {
        return s.len();
    }
    s.chars().map(|c| char_code(c, mode).width()).sum()
}

fn char_width(c: char, mode: TextMode) -> usize {
    if c.is_ascii() {
        1
    } else {
        char_code(c, mode).width()
    }
}

/// Longest prefix of `s` that is at most `max` columns wide (Chinese-mode widths).
pub fn truncate_to_width(s: &str, max: usize) -> &str {
    let mut width = 0;
    for (i, c) in s.char_indices() {
        width += char_width(c, TextMode::Chinese);
        if width > max {
            return &s[..i];
        }
    }
    s
}

fn is_space(c: char) -> bool {
    c == ' ' || c.is_control()
}

fn trim_spaces(s: &str) -> &str {
    s.trim_matches(is_space)
}

/// Wraps `s` into lines: the first at most `first` columns wide, the others at most `rest`
/// (widths as sent in `mode`). Breaks at spaces (which are dropped) and next to any double-width
/// character; a word longer than a line is broken at the margin; a single character wider than
/// the line gets a line of its own. Lines are trimmed; an empty or all-space `s` gives none.
pub fn wrap(s: &str, first: usize, rest: usize, mode: TextMode) -> Vec<&str> {
    let mut lines = Vec::new();
    let mut s = trim_spaces(s);
    while !s.is_empty() {
        let limit = if lines.is_empty() { first } else { rest };
        let (line, tail) = take_line(s, limit.max(1), mode);
        lines.push(trim_spaces(line));
        s = trim_spaces(tail);
    }
    lines
}

/// Splits off the first line of `s` (which starts with a non-space) for [`wrap`].
fn take_line(s: &str, limit: usize, mode: TextMode) -> (&str, &str) {
    let mut width = 0;
    // Where the line may end: the last space or the edge of a double-width character.
    let mut brk = None;
    let mut prev_wide = false;
    for (i, c) in s.char_indices() {
        let w = char_width(c, mode);
        let wide = w >= 2;
        if i > 0 && (is_space(c) || wide || prev_wide) {
            brk = Some(i);
        }
        if width + w > limit {
            if i == 0 {
                // Wider than the whole line: alone on it.
                return s.split_at(c.len_utf8());
            }
            return match brk {
                Some(b) if !trim_spaces(&s[..b]).is_empty() => s.split_at(b),
                _ => s.split_at(i),
            };
        }
        width += w;
        prev_wide = wide;
    }
    (s, "")
}

/// Appends a fen amount as yuan with the full-width sign: 3200 → "￥32.00", 5 → "￥0.05".
pub fn write_amount(out: &mut String, fen: i64) {
    if fen < 0 {
        out.push('-');
    }
    let abs = fen.unsigned_abs();
    // Writing into a String cannot fail.
    let _ = write!(out, "\u{FFE5}{}.{:02}", abs / 100, abs % 100);
}

/// A fen amount as yuan with the full-width sign `￥` (U+FFE5): 3200 → "￥32.00". (In a
/// code-page layout [`EscPos::text`] prints the sign as the page's `¥` or `RMB `.)
pub fn format_amount(fen: i64) -> String {
    let mut s = String::with_capacity(16);
    write_amount(&mut s, fen);
    s
}

/// Narrowest line that still puts an item name beside its amount; below this the amount
/// gets a line of its own.
const MIN_NAME_COLUMNS: usize = 4;

/// An item line, `columns` wide: `name` wrapped (continuation lines indented by
/// [`ITEM_INDENT`]), `suffix` (e.g. " x 2") after the name where it fits, else on the next
/// line, and `amount` flush right on the first line. If the amount leaves less than
/// [`MIN_NAME_COLUMNS`] beside it, it goes flush right on a line after the name.
fn item_line(out: &mut EscPos, name: &str, suffix: &str, amount: &str, columns: usize) {
    let mode = out.mode;
    let amount_w = text_width_in(amount, mode);
    let beside = amount_w + 1 + MIN_NAME_COLUMNS <= columns;
    let first = if beside {
        columns - amount_w - 1
    } else {
        columns
    };
    let indent = if columns > ITEM_INDENT + MIN_NAME_COLUMNS {
        ITEM_INDENT
    } else {
        0
    };
    let rest = columns - indent;
    // (indent, text, width incl. indent)
    let mut rows: Vec<(usize, &str, usize)> = wrap(name, first, rest, mode)
        .into_iter()
        .enumerate()
        .map(|(i, l)| {
            let ind = if i == 0 { 0 } else { indent };
            (ind, l, ind + text_width_in(l, mode))
        })
        .collect();
    let suffix = suffix.trim_end_matches(is_space);
    let suffix_w = text_width_in(suffix, mode);
    let mut suffix_on_last = false;
    if let Some(&(_, _, w)) = rows.last() {
        let limit = if rows.len() == 1 { first } else { columns };
        suffix_on_last = w + suffix_w <= limit;
    }
    if !suffix_on_last && !trim_spaces(suffix).is_empty() {
        let ind = if rows.is_empty() { 0 } else { indent };
        let s = trim_spaces(suffix);
        rows.push((ind, s, ind + text_width_in(s, mode)));
    }
    if rows.is_empty() {
        rows.push((0, "", 0));
    }
    let last = rows.len() - 1;
    for (i, &(ind, text, mut w)) in rows.iter().enumerate() {
        out.pad(ind).text(text);
        if i == last && suffix_on_last {
            out.text(suffix);
            w += suffix_w;
        }
        if i == 0 && beside {
            out.pad(columns.saturating_sub(w + amount_w)).text(amount);
        }
        out.lf();
    }
    if !beside {
        out.pad(columns.saturating_sub(amount_w)).text(amount).lf();
    }
}

/// Wrapped lines of `s` at `columns`, each followed by `LF`.
fn wrapped_lines(out: &mut EscPos, s: &str, columns: usize) {
    let mode = out.mode;
    for line in wrap(s, columns, columns, mode) {
        out.line(line);
    }
}

/// Dots per module for a QR symbol `modules` wide: the smallest `n` with
/// `n × 25.4 / dpi ≥ 0.75 mm`, but no more than fits the width with a 4-module quiet zone on
/// each side (and at least 1).
pub fn qr_module_dots(modules: usize, layout: &Layout) -> usize {
    let dpi = u32::from(layout.dpi);
    let ideal = (MIN_MODULE_UM10 * dpi).div_ceil(2540).max(1) as usize;
    let width = usize::from(layout.width_dots);
    let fit = match width / (modules + 8) {
        0 => width / modules.max(1),
        n => n,
    };
    ideal.min(fit).max(1)
}

/// Blank lines to feed so that at least `dots` dots of paper stay white.
fn quiet_lines(dots: usize) -> u8 {
    dots.div_ceil(MIN_LINE_DOTS).clamp(1, 255) as u8
}

/// The module matrix of `data` at EC level M: `(width, colors)`, row-major; `None` if the
/// data is too long for any QR version.
///
/// Same symbol as `QrCode::with_error_correction_level(data, EcLevel::M)` (same version,
/// same mask, module for module — a test checks it), but about 30 times faster: the crate's
/// mask selection allocates a boxed closure per module when scoring finder-like patterns,
/// which made it ~0.3 ms of the ~0.3 ms a receipt took. Here the same ISO/IEC 18004 penalty
/// rules are scored on a plain grid.
pub fn qr_matrix(data: &[u8]) -> Option<(usize, Vec<Color>)> {
    const PATTERNS: [MaskPattern; 8] = [
        MaskPattern::Checkerboard,
        MaskPattern::HorizontalLines,
        MaskPattern::VerticalLines,
        MaskPattern::DiagonalLines,
        MaskPattern::LargeCheckerboard,
        MaskPattern::Fields,
        MaskPattern::Diamonds,
        MaskPattern::Meadow,
    ];
    let bits = qrcode::bits::encode_auto(data, EcLevel::M).ok()?;
    let version = bits.version();
    let (codewords, ec) =
        qrcode::ec::construct_codewords(&bits.into_bytes(), version, EcLevel::M).ok()?;
    let mut canvas = Canvas::new(version, EcLevel::M);
    canvas.draw_all_functional_patterns();
    canvas.draw_data(&codewords, &ec);
    let width = version.width();
    let w = usize::try_from(width).ok()?;
    let mut grid = vec![false; w * w];
    let mut best: Option<(i32, Canvas)> = None;
    for pattern in PATTERNS {
        let mut masked = canvas.clone();
        masked.apply_mask(pattern);
        for y in 0..width {
            for x in 0..width {
                // Both < width ≤ 177.
                grid[y as usize * w + x as usize] = masked.get(x, y).is_dark();
            }
        }
        let score = mask_penalty(&grid, w);
        // First lowest score wins, as in the crate.
        if best.as_ref().is_none_or(|(s, _)| score < *s) {
            best = Some((score, masked));
        }
    }
    best.map(|(_, c)| (w, c.into_colors()))
}

/// ISO/IEC 18004 mask penalty (N1 runs, N2 blocks, N3 finder-like, N4 balance), scored exactly
/// as the `qrcode` crate scores it.
fn mask_penalty(grid: &[bool], w: usize) -> i32 {
    const FINDER: [bool; 7] = [true, false, true, true, true, false, true];
    let at = |horizontal: bool, line: usize, k: usize| {
        if horizontal {
            grid[line * w + k]
        } else {
            grid[k * w + line]
        }
    };
    let mut score = 0i32;
    for horizontal in [true, false] {
        for line in 0..w {
            // N1: runs of 5 + n same-coloured modules cost 3 + n.
            let mut run = 1;
            for k in 1..=w {
                if k < w && at(horizontal, line, k) == at(horizontal, line, k - 1) {
                    run += 1;
                } else {
                    if run >= 5 {
                        score += run - 2;
                    }
                    run = 1;
                }
            }
            // N3: 1:1:3:1:1 without 4 light modules on one side costs 40 (the three real
            // finder patterns, 9 hits per direction, are subtracted below).
            for j in 0..w.saturating_sub(6) {
                if (0..7).any(|k| at(horizontal, line, j + k) != FINDER[k]) {
                    continue;
                }
                let left = (j.saturating_sub(4)..j).any(|k| at(horizontal, line, k));
                let right = (j + 7..(j + 11).min(w)).any(|k| at(horizontal, line, k));
                if !left || !right {
                    score += 40;
                }
            }
        }
        score -= 360;
    }
    // N2: every 2×2 block of one colour costs 3.
    for y in 0..w - 1 {
        for x in 0..w - 1 {
            let c = grid[y * w + x];
            if grid[y * w + x + 1] == c
                && grid[(y + 1) * w + x] == c
                && grid[(y + 1) * w + x + 1] == c
            {
                score += 3;
            }
        }
    }
    // N4: distance of the dark ratio from 50 %.
    let dark = grid.iter().filter(|d| **d).count();
    let ratio = (dark * 200 / grid.len()) as i32;
    score + (ratio - 100).abs()
}

/// The QR part as a `GS v 0` raster, printer scaling where `layout.raster_scaling` allows
/// it: see [`qr_raster_scaled`].
pub fn qr_raster(data: &str, layout: &Layout) -> Vec<u8> {
    qr_raster_scaled(data, layout, true)
}

/// The QR part as `GS v 0` raster: centred, quiet zone fed above and below, alignment back
/// to left at the end. Only the symbol's modules are sent (the quiet zone is the paper
/// around). With `allow_printer_scaling`, `layout.raster_scaling` and an even number of dots
/// per module, the bitmap is sent at half resolution with `m = 3` (double width and height):
/// a quarter of the bytes. Where `layout.realtime_disable`, `GS ( D` goes first.
///
/// (At two or more dots per module a data byte can never be `0x10` — that would be a lone
/// dark dot — so `DLE EOT` / `DLE DC4` cannot occur in our QR rasters anyway; `GS ( D` is
/// belt and braces where the printer is known to take it.)
pub fn qr_raster_scaled(data: &str, layout: &Layout, allow_printer_scaling: bool) -> Vec<u8> {
    let mut out = EscPos::with_capacity(1024).with_text_mode(layout.text);
    push_qr_raster(&mut out, data, layout, allow_printer_scaling);
    out.into_bytes()
}

/// The QR part as native `GS ( k` (model 2, EC M, `module_dots`), centred, with quiet-zone
/// feeds above and below and alignment back to left at the end.
pub fn qr_native(data: &str, module_dots: u8) -> Vec<u8> {
    let mut out = EscPos::with_capacity(64 + data.len());
    push_qr_native(&mut out, data, module_dots);
    out.into_bytes()
}

fn push_qr_native(out: &mut EscPos, data: &str, module_dots: u8) {
    let quiet = quiet_lines(4 * usize::from(module_dots.clamp(1, 16)));
    out.align(Align::Center)
        .feed(quiet)
        .qr_native(data.as_bytes(), module_dots)
        .feed(quiet)
        .align(Align::Left);
}

fn push_qr_raster(out: &mut EscPos, data: &str, layout: &Layout, allow_printer_scaling: bool) {
    let Some((modules, colors)) = qr_matrix(data.as_bytes()) else {
        // Too long for any QR version: print the data as text so nothing is silently lost.
        out.align(Align::Left).line("[QR code too long]").line(data);
        return;
    };
    let dots = qr_module_dots(modules, layout);
    let scaling = allow_printer_scaling && layout.raster_scaling;
    let (scale, sent) = if scaling && dots.is_multiple_of(2) {
        (RasterScale::Quadruple, dots / 2)
    } else {
        (RasterScale::Normal, dots)
    };
    let width = modules * sent;
    let bytes_per_row = width.div_ceil(8);
    // Padding bits split on both sides keep the symbol centred.
    let offset = (bytes_per_row * 8 - width) / 2;
    let rows = modules * sent;
    let Ok(bpr16) = u16::try_from(bytes_per_row) else {
        out.align(Align::Left).line("[QR code too wide]").line(data);
        return;
    };
    let quiet = quiet_lines(4 * dots);
    let blocks = rows.div_ceil(MAX_RASTER_ROWS);
    out.buf
        .reserve(REALTIME_DISABLE.len() + 6 + rows * bytes_per_row + blocks * 8 + 6);
    if layout.realtime_disable {
        out.realtime_disable();
    }
    out.align(Align::Center).feed(quiet);
    let mut row = 0;
    while row < rows {
        let block_rows = (rows - row).min(MAX_RASTER_ROWS);
        // At most 255.
        out.raster_header(scale, bpr16, block_rows as u16);
        for y in row..row + block_rows {
            let module_row = &colors[(y / sent) * modules..][..modules];
            // Rows repeat `sent` times: copy the previous one when possible.
            if !y.is_multiple_of(sent) && y != row {
                let start = out.buf.len() - bytes_per_row;
                out.buf.extend_from_within(start..);
                continue;
            }
            let start = out.buf.len();
            out.buf.resize(start + bytes_per_row, 0);
            let line = &mut out.buf[start..];
            for (m, color) in module_row.iter().enumerate() {
                if *color == Color::Dark {
                    for x in offset + m * sent..offset + (m + 1) * sent {
                        line[x / 8] |= 0x80 >> (x % 8);
                    }
                }
            }
        }
        row += block_rows;
    }
    out.feed(quiet).align(Align::Left);
}

/// Module size for a native QR of `data` on `layout`: [`qr_module_dots`] for the symbol the
/// data needs at EC level M (the printer picks the same version for byte-mode URLs), at
/// most 16. 6 dots at 203 and at 180 dpi.
pub fn native_module_dots(data: &str, layout: &Layout) -> u8 {
    let data = &data.as_bytes()[..data.len().min(MAX_QR_BYTES)];
    let modules = qrcode::bits::encode_auto(data, EcLevel::M)
        .ok()
        .and_then(|bits| usize::try_from(bits.version().width()).ok())
        .unwrap_or(177);
    // At most 16, so it fits u8.
    qr_module_dots(modules, layout).min(16) as u8
}

fn push_qr(out: &mut EscPos, data: &str, layout: &Layout) {
    match layout.qr {
        QrStyle::Raster => push_qr_raster(out, data, layout, true),
        QrStyle::Native => push_qr_native(out, data, native_module_dots(data, layout)),
    }
}

fn sandbox_notice(columns: usize) -> &'static str {
    const LONG: &str = "*** SANDBOX - NOT A REAL PAYMENT ***";
    if columns >= LONG.len() {
        LONG
    } else {
        "SANDBOX - NOT A REAL PAYMENT"
    }
}

/// `ESC @` and the layout's text mode (`FS .` or `ESC t n`).
fn start(layout: &Layout, capacity: usize) -> EscPos {
    let mut out = EscPos::with_capacity(capacity).with_text_mode(layout.text);
    out.init().select_text_mode();
    out
}

/// The whole receipt as ESC/POS bytes.
///
/// Title (double size, wrapped at half the columns, centred), item lines (name wrapped,
/// amount flush right on its first line), total, the QR in the layout's style, the payment
/// hint, order number and time, footer (wrapped, centred), then the layout's cut.
pub fn encode(receipt: &Receipt, layout: &Layout) -> Vec<u8> {
    let columns = usize::from(layout.columns.max(1));
    let text_len = receipt.title.len()
        + receipt.footer.len()
        + receipt.out_trade_no.len()
        + receipt.time.len()
        + receipt
            .lines
            .iter()
            .map(|l| l.name.len() + columns + 24)
            .sum::<usize>();
    let mut out = start(layout, 1536 + 2 * text_len);
    let mode = layout.text;

    let title = wrap(
        &receipt.title,
        (columns / 2).max(1),
        (columns / 2).max(1),
        mode,
    );
    if !title.is_empty() {
        out.align(Align::Center).bold(true).size(2, 2);
        for line in title {
            out.line(line);
        }
        out.size(1, 1).bold(false);
    }
    if receipt.sandbox {
        out.align(Align::Center).bold(true);
        wrapped_lines(&mut out, sandbox_notice(columns), columns);
        out.bold(false);
    }
    out.align(Align::Left).lf();

    let mut scratch = String::with_capacity(32);
    let mut amount = String::with_capacity(24);
    for line in &receipt.lines {
        scratch.clear();
        // Writing into a String cannot fail.
        let _ = write!(scratch, " x {}", line.quantity);
        amount.clear();
        write_amount(&mut amount, line.amount);
        item_line(&mut out, &line.name, &scratch, &amount, columns);
    }
    pad_with(&mut out, b'-', columns);
    out.lf();
    amount.clear();
    write_amount(&mut amount, receipt.total);
    out.bold(true);
    item_line(&mut out, "TOTAL", "", &amount, columns);
    out.bold(false);

    push_qr(&mut out, &receipt.code_url, layout);

    out.align(Align::Center);
    wrapped_lines(&mut out, "WeChat Pay: scan to pay", columns);
    if mode == TextMode::Chinese {
        wrapped_lines(&mut out, "微信扫码支付", columns);
    }
    if receipt.sandbox {
        out.bold(true);
        wrapped_lines(&mut out, sandbox_notice(columns), columns);
        out.bold(false);
    }
    out.align(Align::Left).lf();
    scratch.clear();
    scratch.push_str("No. ");
    scratch.push_str(&receipt.out_trade_no);
    wrapped_lines(&mut out, &scratch, columns);
    wrapped_lines(&mut out, &receipt.time, columns);
    let footer = wrap(&receipt.footer, columns, columns, mode);
    if !footer.is_empty() {
        out.lf().align(Align::Center);
        for line in footer {
            out.line(line);
        }
        out.align(Align::Left);
    }
    out.finish(layout.cut);
    out.into_bytes()
}

fn pad_with(out: &mut EscPos, byte: u8, n: usize) {
    out.buf.resize(out.buf.len() + n, byte);
}

/// The Chinese sample line of the test page (Chinese mode).
pub const TEST_CHINESE_LINE: &str = "中文 微信扫码支付 ￥12.34";
/// The Latin sample line of the test page (code-page mode).
pub const TEST_LATIN_LINE: &str = "Latin: àáâäçèéêëìíîïñòóôöùúûüß ÀÉÖÜ €£¥";

/// A test page for the technician: title, `info` lines (wrapped), the full ASCII set
/// (0x20–0x7E, wrapped at the columns), a Chinese line (in code-page mode a Latin line and
/// the Chinese line as it comes out — `?` — with a note that Chinese is not available on
/// this profile), the QR style in use, a sample QR in the layout's style and the layout's
/// cut.
pub fn test_page(info: &[String], layout: &Layout) -> Vec<u8> {
    let columns = usize::from(layout.columns.max(1));
    let mut out = start(
        layout,
        2048 + info.iter().map(|s| s.len() + 8).sum::<usize>(),
    );
    out.align(Align::Center)
        .bold(true)
        .line("wxprint test page")
        .bold(false)
        .align(Align::Left)
        .lf();
    for line in info {
        wrapped_lines(&mut out, line, columns);
    }
    out.lf();
    let printable: Vec<u8> = (0x20..=0x7E).collect();
    for chunk in printable.chunks(columns) {
        out.raw(chunk).lf();
    }
    match layout.text {
        TextMode::Chinese => wrapped_lines(&mut out, TEST_CHINESE_LINE, columns),
        TextMode::CodePage(n) => {
            let note = format!("ESC t {n}: {TEST_LATIN_LINE}");
            wrapped_lines(&mut out, &note, columns);
            let note = format!("{TEST_CHINESE_LINE} (Chinese is not available on this profile)");
            wrapped_lines(&mut out, &note, columns);
        }
    }
    out.lf();
    wrapped_lines(&mut out, &qr_description(TEST_QR_DATA, layout), columns);
    push_qr(&mut out, TEST_QR_DATA, layout);
    out.align(Align::Center);
    wrapped_lines(&mut out, TEST_QR_DATA, columns);
    out.align(Align::Left);
    out.finish(layout.cut);
    out.into_bytes()
}

/// One line saying how a QR of `data` goes out on `layout`, e.g. "QR: raster 29 modules x
/// 6 dots (0.75 mm), sent at 3 dots, printer doubles (GS v 0 m=3)".
pub fn qr_description(data: &str, layout: &Layout) -> String {
    let mm = |dots: usize| {
        let um10 = dots * 2540 / usize::from(layout.dpi.max(1));
        format!("{}.{:02} mm", um10 / 100, um10 % 100)
    };
    match layout.qr {
        QrStyle::Native => {
            let n = native_module_dots(data, layout);
            format!(
                "QR: native GS ( k, {n} dots/module ({})",
                mm(usize::from(n))
            )
        }
        QrStyle::Raster => {
            let Some((modules, _)) = qr_matrix(data.as_bytes()) else {
                return "QR: raster (data too long)".into();
            };
            let n = qr_module_dots(modules, layout);
            if layout.raster_scaling && n.is_multiple_of(2) {
                format!(
                    "QR: raster {modules} modules x {n} dots ({}), sent at {} dots, printer doubles (GS v 0 m=3)",
                    mm(n),
                    n / 2
                )
            } else {
                format!("QR: raster {modules} modules x {n} dots ({})", mm(n))
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn hex(bytes: &[u8]) -> String {
        bytes
            .iter()
            .map(|b| format!("{b:02X}"))
            .collect::<Vec<_>>()
            .join(" ")
    }

    fn unhex(s: &str) -> Vec<u8> {
        s.split_whitespace()
            .map(|h| u8::from_str_radix(h, 16).unwrap())
            .collect()
    }

    fn bytes(f: impl FnOnce(&mut EscPos) -> &mut EscPos) -> Vec<u8> {
        let mut e = EscPos::new();
        f(&mut e);
        e.into_bytes()
    }

    fn sample() -> Receipt {
        Receipt {
            title: "Corner Café".into(),
            lines: vec![
                Line {
                    name: "Coffee".into(),
                    quantity: 2,
                    amount: 2400,
                },
                Line {
                    name: "牛角包".into(),
                    quantity: 1,
                    amount: 800,
                },
            ],
            total: 3200,
            code_url: "weixin://wxpay/bizpayurl?pr=Ab3dE9x".into(),
            footer: "Thank you! 谢谢".into(),
            out_trade_no: "T20261126120005".into(),
            time: "2026-11-26 12:00:05".into(),
            sandbox: false,
        }
    }

    fn find(haystack: &[u8], needle: &[u8]) -> Option<usize> {
        haystack.windows(needle.len()).position(|w| w == needle)
    }

    fn count(haystack: &[u8], needle: &[u8]) -> usize {
        haystack
            .windows(needle.len())
            .filter(|w| *w == needle)
            .count()
    }

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
    }

    #[test]
    fn golden_native_qr_worked_example() {
        // reference/escpos.md §1, verified against escpos 0.20.1.
        let expected = unhex(
            "1D 28 6B 04 00 31 41 32 00
             1D 28 6B 03 00 31 43 06
             1D 28 6B 03 00 31 45 31
             1D 28 6B 1B 00 31 50 30 77 65 69 78 69 6E 3A 2F 2F 77 78 70 61 79 2F 73 2F 41 6E 34 62 61 71 77
             1D 28 6B 03 00 31 51 30",
        );
        let b = bytes(|e| e.qr_native(b"weixin://wxpay/s/An4baqw", 6));
        assert_eq!(hex(&b), hex(&expected));
        // The QR part: centred, quiet zone fed around, back to left.
        let part = qr_native("weixin://wxpay/s/An4baqw", 6);
        let mut framed = unhex("1B 61 01 1B 64 01");
        framed.extend_from_slice(&expected);
        framed.extend_from_slice(&unhex("1B 64 01 1B 61 00"));
        assert_eq!(hex(&part), hex(&framed));
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

    #[test]
    fn text_ascii_and_chinese() {
        assert_eq!(bytes(|e| e.text("Tea x 2")), b"Tea x 2");
        assert_eq!(hex(&bytes(|e| e.text("合计"))), "1C 26 BA CF BC C6 1C 2E");
        assert_eq!(hex(&bytes(|e| e.text("￥"))), "1C 26 A3 A4 1C 2E");
        assert_eq!(
            hex(&bytes(|e| e.text("a微信支付b"))),
            "61 1C 26 CE A2 D0 C5 D6 A7 B8 B6 1C 2E 62"
        );
        // ¥ U+00A5 has no 2-byte GB code: it prints as the full-width ￥.
        assert_eq!(hex(&bytes(|e| e.text("¥5"))), "1C 26 A3 A4 1C 2E 35");
        // Characters GB18030 codes in 4 bytes print as '?' (inside the run).
        assert_eq!(hex(&bytes(|e| e.text("😀"))), "3F");
        assert_eq!(
            hex(&bytes(|e| e.text("中😀文"))),
            "1C 26 D6 D0 3F CE C4 1C 2E"
        );
        // GBK's Latin letters with tones are 2-byte codes: é = A8 A6.
        assert_eq!(hex(&bytes(|e| e.text("é"))), "1C 26 A8 A6 1C 2E");
        // A no-break space (4 bytes in GB18030) is a space; the ideographic space is A1 A1.
        assert_eq!(hex(&bytes(|e| e.text("a\u{a0}b"))), "61 20 62");
        assert_eq!(hex(&bytes(|e| e.text("\u{3000}"))), "1C 26 A1 A1 1C 2E");
        assert_eq!(bytes(|e| e.line("x")), b"x\n");
    }

    fn cafe(title: &str, name: &str, amount: i64) -> Receipt {
        Receipt {
            title: title.into(),
            lines: vec![Line {
                name: name.into(),
                quantity: 1,
                amount,
            }],
            total: amount,
            code_url: "weixin://wxpay/bizpayurl?pr=Ab3dE9x1".into(),
            footer: String::new(),
            out_trade_no: "T1".into(),
            time: String::new(),
            sandbox: false,
        }
    }

    #[test]
    fn golden_chinese_receipt_head() {
        let b = encode(&cafe("咖啡小站", "拿铁 Latte", 2800), &Layout::MM58);
        let expected = unhex(
            "1B 40 1C 2E
             1B 61 01 1B 45 01 1D 21 11
             1C 26 BF A7 B7 C8 D0 A1 D5 BE 1C 2E 0A
             1D 21 00 1B 45 00
             1B 61 00 0A
             1C 26 C4 C3 CC FA 1C 2E 20 4C 61 74 74 65 20 78 20 31
             20 20 20 20 20 20 20 20 20 20 20
             1C 26 A3 A4 1C 2E 32 38 2E 30 30 0A",
        );
        assert_eq!(hex(&b[..expected.len()]), hex(&expected));
        // "拿铁 Latte x 1" (14 columns) + 11 spaces + "￥28.00" (7) = 32 columns.
        assert_eq!(
            text_width("拿铁 Latte x 1") + 11 + text_width("￥28.00"),
            32
        );
        // The payment hint in Chinese: 微信扫码支付.
        assert!(
            find(
                &b,
                &unhex("1C 26 CE A2 D0 C5 C9 A8 C2 EB D6 A7 B8 B6 1C 2E 0A")
            )
            .is_some()
        );
    }

    #[test]
    fn golden_code_page_receipt_head() {
        let layout = Layout {
            text: TextMode::CodePage(16),
            ..Layout::MM58
        };
        let b = encode(&cafe("Café", "Café crème 拿铁", 550), &layout);
        let expected = unhex(
            "1B 40 1B 74 10
             1B 61 01 1B 45 01 1D 21 11
             43 61 66 E9 0A
             1D 21 00 1B 45 00
             1B 61 00 0A
             43 61 66 E9 20 63 72 E8 6D 65 20 3F 3F 20 78 20 31
             20 20 20 20 20 20 20 20 20 20
             A5 35 2E 35 30 0A",
        );
        assert_eq!(hex(&b[..expected.len()]), hex(&expected));
        // No Chinese-mode command anywhere, no Chinese hint line.
        assert!(find(&b, &[0x1C, 0x26]).is_none());
        assert!(find(&b, &[0x1C, 0x2E]).is_none());
        assert!(find(&b, b"WeChat Pay: scan to pay\n").is_some());

        // CP437 (ESC t 0): encoding_rs has no CP437, so only ASCII; ￥ becomes "RMB ".
        let layout = Layout {
            text: TextMode::CodePage(0),
            ..Layout::MM58
        };
        let b = encode(&cafe("Café", "Tea", 550), &layout);
        assert_eq!(&b[..5], &[0x1B, 0x40, 0x1B, 0x74, 0]);
        assert!(find(&b, b"Caf?\n").is_some());
        let line = format!("Tea x 1{}RMB 5.50\n", " ".repeat(32 - 7 - 8));
        assert!(find(&b, line.as_bytes()).is_some());
    }

    #[test]
    fn code_page_text() {
        let text = |mode: TextMode, s: &str| {
            let mut e = EscPos::new().with_text_mode(mode);
            e.text(s);
            hex(e.as_bytes())
        };
        let cp1252 = TextMode::CodePage(16);
        assert_eq!(text(cp1252, "Café"), "43 61 66 E9");
        assert_eq!(text(cp1252, "€5 ¥5 ￥5"), "80 35 20 A5 35 20 A5 35");
        assert_eq!(text(cp1252, "拿铁"), "3F 3F");
        assert_eq!(text(cp1252, "a\u{9b}b\x1b"), "61 20 62 20");
        // WPC1251 (ESC t 46): Cyrillic; no ¥ there.
        assert_eq!(
            text(TextMode::CodePage(46), "Чай ¥"),
            "D7 E0 E9 20 52 4D 42 20"
        );
        assert_eq!(text_width_in("¥1", TextMode::CodePage(46)), 5);
        assert_eq!(text_width_in("¥1", TextMode::CodePage(16)), 2);
        assert_eq!(text_width_in("¥1", TextMode::Chinese), 3);
        assert_eq!(text(TextMode::CodePage(0), "é"), "3F");
        assert!(code_page_encoding(0).is_none());
        assert_eq!(code_page_encoding(16), Some(encoding_rs::WINDOWS_1252));
    }

    #[test]
    fn receipts_wrap_to_the_columns() {
        let mut r = cafe(
            "星巴克咖啡 Starbucks Reserve Roastery 上海",
            "Double shot oat milk flat white with extra foam 燕麦奶大杯",
            12_345,
        );
        r.footer = "谢谢惠顾，欢迎再次光临！ Thank you for visiting, see you again soon".into();
        for layout in [Layout::MM80, Layout::MM58] {
            let cols = usize::from(layout.columns);
            let b = encode(&r, &layout);
            // Title: double width, half the columns per line.
            for line in wrap(&r.title, cols / 2, cols / 2, TextMode::Chinese) {
                assert!(text_width(line) <= cols / 2);
                let mut e = EscPos::new();
                e.line(line);
                assert!(find(&b, e.as_bytes()).is_some(), "{line:?}");
            }
            // Every word of name and footer is printed.
            for word in [
                "Double",
                "foam",
                "麦奶大杯",
                "Thank",
                "soon",
                "欢迎再次光临！",
            ] {
                let mut e = EscPos::new();
                e.text(word);
                let mut bytes = e.as_bytes();
                if !word.is_ascii() {
                    // Without FS & / FS .: the word may be part of a longer run.
                    bytes = &bytes[2..bytes.len() - 2];
                }
                assert!(find(&b, bytes).is_some(), "{cols}: {word}");
            }
            // And it renders on that paper.
            let rendered = crate::render::render(&b, usize::from(layout.width_dots)).unwrap();
            assert_eq!(rendered.width, usize::from(layout.width_dots));
        }
        // 48 columns: the whole item name beside the amount? 48 - 8 - 1 = 39 columns.
        let b = encode(&r, &Layout::MM80);
        let mut first = EscPos::new();
        first.line(&format!(
            "Double shot oat milk flat white with{}￥123.45",
            " ".repeat(39 - 36 + 1)
        ));
        assert!(find(&b, first.as_bytes()).is_some());
        let mut second = EscPos::new();
        second.line("  extra foam 燕麦奶大杯 x 1");
        assert!(find(&b, second.as_bytes()).is_some());
        // 32 columns: 32 - 8 - 1 = 23 beside the amount.
        let b = encode(&r, &Layout::MM58);
        let mut e = EscPos::new();
        e.line(&format!(
            "Double shot oat milk{}￥123.45",
            " ".repeat(23 - 20 + 1)
        ))
        // CJK may break anywhere: 26 + 1 + 2 fits the 30 columns after the indent.
        .line("  flat white with extra foam 燕")
        .line("  麦奶大杯 x 1");
        assert!(find(&b, e.as_bytes()).is_some());
        // The title at 32 columns: 16 per line.
        let mut e = EscPos::new();
        e.line("星巴克咖啡")
            .line("Starbucks")
            .line("Reserve Roastery")
            .line("上海");
        assert!(find(&b, e.as_bytes()).is_some());
    }

    #[test]
    fn control_characters_become_spaces() {
        assert_eq!(
            bytes(|e| e.text("a\x1b@\x1dV\x00b\x7f\n\tc")),
            b"a @ V b   c"
        );
        // C1 controls inside a Chinese run, too.
        assert_eq!(
            hex(&bytes(|e| e.text("中\u{9b}文"))),
            "1C 26 D6 D0 20 CE C4 1C 2E"
        );
    }

    #[test]
    fn user_text_cannot_inject_commands() {
        let evil = "\x1b@\x1dV\x42\x00\x10\x14\x01\x00\x05\x1c.\r\n";
        let clean = " @ VB       .  ";
        assert_eq!(evil.len(), clean.len());
        let mut bad = sample();
        let mut good = sample();
        for (r, s) in [(&mut bad, evil), (&mut good, clean)] {
            r.title = format!("T{s}");
            r.footer = format!("F{s}中{s}");
            r.out_trade_no = format!("N{s}");
            r.time = format!("2026{s}");
            r.lines[0].name = format!("Tea{s}");
        }
        let layout = Layout::MM80;
        assert_eq!(encode(&bad, &layout), encode(&good, &layout));
        assert_eq!(count(&encode(&bad, &layout), &[0x1B, 0x40]), 1);
    }

    #[test]
    fn amounts() {
        assert_eq!(format_amount(3200), "￥32.00");
        assert_eq!(format_amount(5), "￥0.05");
        assert_eq!(format_amount(0), "￥0.00");
        assert_eq!(format_amount(123_456_789), "￥1234567.89");
        assert_eq!(format_amount(-150), "-￥1.50");
        assert!(!format_amount(1).contains('\u{a5}'));
    }

    #[test]
    fn widths_and_truncation() {
        assert_eq!(text_width("abc"), 3);
        assert_eq!(text_width("牛角包"), 6);
        assert_eq!(text_width("￥1.00"), 6);
        assert_eq!(truncate_to_width("牛角包", 5), "牛角");
        assert_eq!(truncate_to_width("abc", 5), "abc");
        assert_eq!(truncate_to_width("abc", 0), "");
    }

    fn item(columns: usize, mode: TextMode, name: &str, suffix: &str, amount: &str) -> Vec<u8> {
        let mut e = EscPos::new().with_text_mode(mode);
        item_line(&mut e, name, suffix, amount, columns);
        e.into_bytes()
    }

    /// What `lines` print as, in Chinese mode.
    fn zh_lines(lines: &[&str]) -> Vec<u8> {
        let mut e = EscPos::new();
        for l in lines {
            e.line(l);
        }
        e.into_bytes()
    }

    #[test]
    fn item_lines_fill_the_columns() {
        let b = item(32, TextMode::Chinese, "Coffee", " x 2", "￥24.00");
        let expected = format!("Coffee x 2{}", " ".repeat(32 - 10 - 7));
        assert_eq!(&b[..expected.len()], expected.as_bytes());
        assert_eq!(hex(&b[25..]), "1C 26 A3 A4 1C 2E 32 34 2E 30 30 0A");
        for columns in [32, 48] {
            let b = item(columns, TextMode::Chinese, "Tea", " x 1", "￥8.00");
            let line = format!("Tea x 1{}￥8.00", " ".repeat(columns - 7 - 6));
            assert_eq!(b, zh_lines(&[&line]), "{columns}");
        }
    }

    #[test]
    fn long_names_wrap_never_truncate() {
        // Chinese name, 15 hanzi = 30 columns. 32 columns: 32 - 6 (amount) - 1 = 25 beside the
        // amount → 12 hanzi; continuation indented by 2; " x 1" fits after the rest.
        let name = "牛角包牛角包牛角包牛角包牛角包";
        let b = item(32, TextMode::Chinese, name, " x 1", "￥8.00");
        assert_eq!(
            b,
            zh_lines(&["牛角包牛角包牛角包牛角包  ￥8.00", "  牛角包 x 1",])
        );
        // 48 columns: 48 - 7 = 41 beside → 20 hanzi, all of it, suffix too (30 + 4 ≤ 41).
        let b = item(48, TextMode::Chinese, name, " x 1", "￥8.00");
        assert_eq!(
            b,
            zh_lines(&[&format!("{name} x 1{}￥8.00", " ".repeat(48 - 34 - 6))])
        );

        // Latin name breaks at spaces.
        let name = "Double shot oat milk flat white with extra foam";
        let b = item(32, TextMode::Chinese, name, " x 12", "￥132.00");
        // 32 - 8 - 1 = 23 beside the amount.
        assert_eq!(
            b,
            zh_lines(&[
                "Double shot oat milk    ￥132.00",
                "  flat white with extra foam",
                "  x 12",
            ])
        );
        let b = item(48, TextMode::Chinese, name, " x 12", "￥132.00");
        // 48 - 9 = 39 beside.
        assert_eq!(
            b,
            zh_lines(&[
                "Double shot oat milk flat white with    ￥132.00",
                "  extra foam x 12",
            ])
        );
        // A word longer than the line is cut at the margin, nothing is lost.
        let word = "Supercalifragilisticexpialidocious-espresso";
        let b = item(32, TextMode::Chinese, word, " x 1", "￥5.00");
        assert_eq!(
            b,
            zh_lines(&[
                "Supercalifragilisticexpia ￥5.00",
                "  lidocious-espresso x 1",
            ])
        );
        // Mixed: CJK breaks anywhere, Latin at spaces.
        let b = item(
            32,
            TextMode::Chinese,
            "拿铁 Latte 燕麦奶 oat milk 大杯",
            " x 1",
            "￥28.00",
        );
        assert_eq!(
            b,
            zh_lines(&["拿铁 Latte 燕麦奶 oat    ￥28.00", "  milk 大杯 x 1",])
        );
        // Every column of the input comes out (no silent truncation).
        for columns in [16usize, 32, 48] {
            for name in [
                "牛角包牛角包牛角包牛角包牛角包牛角包牛角包牛角包",
                "A very long Latin item name that goes on and on and on",
            ] {
                let mut e = EscPos::new();
                item_line(&mut e, name, " x 1", "￥1.00", columns);
                let printed = String::from_utf8_lossy(e.as_bytes()).replace(' ', "");
                let _ = printed;
                let lines = wrap(name, columns - 7, columns - ITEM_INDENT, TextMode::Chinese);
                let joined: String = lines.concat();
                assert_eq!(joined.replace(' ', ""), name.replace(' ', ""), "{columns}");
                for (i, l) in lines.iter().enumerate() {
                    let limit = if i == 0 {
                        columns - 7
                    } else {
                        columns - ITEM_INDENT
                    };
                    assert!(text_width(l) <= limit, "{l:?} > {limit}");
                }
            }
        }
    }

    #[test]
    fn amount_on_its_own_line_when_nothing_fits() {
        let b = item(15, TextMode::Chinese, "Tea", " x 1000000", "￥100000.00");
        let expected = zh_lines(&["Tea x 1000000", &format!("{}￥100000.00", " ".repeat(4))]);
        assert_eq!(b, expected);
        // At 16 columns 4 are left beside the amount: the quantity moves down instead.
        let b = item(16, TextMode::Chinese, "Tea", " x 1000000", "￥100000.00");
        assert_eq!(b, zh_lines(&["Tea  ￥100000.00", "  x 1000000"]));
        // Empty name: the suffix alone beside the amount.
        let b = item(32, TextMode::Chinese, "", " x 3", "￥3.00");
        assert_eq!(
            b,
            zh_lines(&[&format!("x 3{}￥3.00", " ".repeat(32 - 3 - 6))])
        );
    }

    #[test]
    fn wrap_rules() {
        let zh = TextMode::Chinese;
        assert_eq!(wrap("", 10, 10, zh), Vec::<&str>::new());
        assert_eq!(wrap("   ", 10, 10, zh), Vec::<&str>::new());
        assert_eq!(wrap("hello world", 11, 11, zh), ["hello world"]);
        assert_eq!(wrap("hello world", 10, 10, zh), ["hello", "world"]);
        assert_eq!(wrap("hello   world  ", 5, 5, zh), ["hello", "world"]);
        assert_eq!(wrap("abcdefgh", 3, 3, zh), ["abc", "def", "gh"]);
        assert_eq!(wrap("咖啡小站", 5, 5, zh), ["咖啡", "小站"]);
        assert_eq!(wrap("咖啡小站", 1, 1, zh), ["咖", "啡", "小", "站"]);
        assert_eq!(wrap("ab咖啡", 3, 4, zh), ["ab", "咖啡"]);
        assert_eq!(wrap("a b", 1, 1, zh), ["a", "b"]);
        // Control characters count as spaces.
        assert_eq!(wrap("a\nb", 1, 1, zh), ["a", "b"]);
        // In a code page CJK is '?', one column.
        assert_eq!(
            wrap("咖啡小站", 3, 3, TextMode::CodePage(16)),
            ["咖啡小", "站"]
        );
    }

    #[test]
    fn qr_matrix_matches_the_qrcode_crate() {
        use qrcode::QrCode;
        let mut inputs: Vec<String> = vec![
            "weixin://wxpay/s/An4baqw".into(),
            "weixin://wxpay/bizpayurl?pr=Ab3dE9x".into(),
            TEST_QR_DATA.into(),
            "HELLO WORLD 123".into(),
            "0123456789".into(),
            "x".repeat(300),
            "中文 ￥12.34".into(),
        ];
        inputs.extend((0..60).map(|i| {
            format!(
                "weixin://wxpay/bizpayurl?pr={}",
                "Ab3dE9x1Zq".repeat(i % 9) + &i.to_string()
            )
        }));
        for data in &inputs {
            let code = QrCode::with_error_correction_level(data, EcLevel::M).unwrap();
            let (w, colors) = qr_matrix(data.as_bytes()).unwrap();
            assert_eq!(w, code.width(), "{data}");
            assert!(
                colors == code.to_colors(),
                "mask or modules differ for {data}"
            );
        }
        assert!(qr_matrix(&[b'y'; 3000]).is_none());
        assert!(qr_matrix(b"").is_some());
    }

    #[test]
    fn module_dots() {
        assert_eq!(qr_module_dots(29, &Layout::MM80), 6);
        assert_eq!(qr_module_dots(29, &Layout::MM58), 6);
        assert_eq!(
            qr_module_dots(
                29,
                &Layout {
                    dpi: 180,
                    ..Layout::MM80
                }
            ),
            6
        );
        assert_eq!(
            qr_module_dots(
                29,
                &Layout {
                    dpi: 300,
                    ..Layout::MM80
                }
            ),
            9
        );
        // Version 10 (57 modules) on 58 mm: 384 / 65 = 5.
        assert_eq!(qr_module_dots(57, &Layout::MM58), 5);
        assert_eq!(qr_module_dots(177, &Layout::MM58), 2);
        assert_eq!(
            qr_module_dots(
                29,
                &Layout {
                    width_dots: 10,
                    ..Layout::MM58
                }
            ),
            1
        );
    }

    /// Parses the `GS v 0` blocks of a QR part back into one bitmap (MSB = left).
    fn raster_blocks(b: &[u8]) -> Vec<(u8, usize, usize, Vec<u8>)> {
        let mut out = Vec::new();
        let mut i = 0;
        while let Some(p) = find(&b[i..], &[0x1D, 0x76, 0x30]) {
            let h = i + p;
            let m = b[h + 3];
            let x = usize::from(b[h + 4]) + 256 * usize::from(b[h + 5]);
            let y = usize::from(b[h + 6]) + 256 * usize::from(b[h + 7]);
            out.push((m, x, y, b[h + 8..h + 8 + x * y].to_vec()));
            i = h + 8 + x * y;
        }
        out
    }

    #[test]
    fn raster_qr_is_small_and_centred() {
        let url = "weixin://wxpay/bizpayurl?pr=Ab3dE9x1"; // 36 bytes
        assert_eq!(url.len(), 36);
        for layout in [Layout::MM80, Layout::MM58] {
            let part = qr_raster(url, &layout);
            assert!(part.len() <= 1000, "{} bytes", part.len());
            assert_eq!(&part[..6], &[0x1B, 0x61, 1, 0x1B, 0x64, 1]);
            assert_eq!(&part[part.len() - 6..], &[0x1B, 0x64, 1, 0x1B, 0x61, 0]);
            let blocks = raster_blocks(&part);
            assert_eq!(blocks.len(), 1);
            let (m, x, y, data) = &blocks[0];
            // 29 modules × 3 dots, printer doubles to 6 dots (0.75 mm at 203 dpi).
            assert_eq!((*m, *x, *y), (3, 11, 87));
            assert_eq!(part.len(), 6 + 8 + 11 * 87 + 6);
            // Finder pattern: the top-left module is dark, the symbol starts at bit 0.
            assert_eq!(data[0] & 0x80, 0x80);
            // Width 3 runs can never form a lone 0x10 (DLE) byte: no real-time command hazard.
            assert!(!data.contains(&0x10));

            let full = qr_raster_scaled(url, &layout, false);
            let blocks = raster_blocks(&full);
            assert_eq!(blocks.len(), 1);
            let (m, x, y, _) = &blocks[0];
            assert_eq!((*m, *x, *y), (0, 22, 174));
            assert_eq!(full.len(), 6 + 8 + 22 * 174 + 6);
        }
    }

    #[test]
    fn raster_qr_splits_tall_images() {
        let data = "x".repeat(300); // version 11+ (≥ 61 modules)
        let layout = Layout {
            dpi: 300,
            ..Layout::MM80
        };
        let part = qr_raster_scaled(&data, &layout, false);
        let blocks = raster_blocks(&part);
        assert!(blocks.len() >= 2);
        let total: usize = blocks.iter().map(|b| b.2).sum();
        let code =
            qrcode::QrCode::with_error_correction_level(data.as_bytes(), EcLevel::M).unwrap();
        let n = qr_module_dots(code.width(), &layout);
        assert_eq!(total, code.width() * n);
        assert!(blocks.iter().all(|b| b.2 <= 255 && b.0 == 0));
        // Reassemble and compare with the module matrix.
        let bpr = blocks[0].1;
        let all: Vec<u8> = blocks.iter().flat_map(|b| b.3.iter().copied()).collect();
        let offset = (bpr * 8 - code.width() * n) / 2;
        let colors = code.to_colors();
        for y in 0..total {
            for x in 0..code.width() * n {
                let bit = all[y * bpr + (x + offset) / 8] & (0x80 >> ((x + offset) % 8)) != 0;
                assert_eq!(bit, colors[(y / n) * code.width() + x / n] == Color::Dark);
            }
        }
    }

    #[test]
    fn too_long_data_prints_as_text() {
        let data = "y".repeat(3000);
        let part = qr_raster(&data, &Layout::MM80);
        assert!(find(&part, b"[QR code too long]").is_some());
        assert!(find(&part, &[0x1D, 0x76, 0x30]).is_none());
    }

    #[test]
    fn receipt_layout() {
        let r = sample();
        for layout in [
            Layout::MM80,
            Layout::MM58,
            Layout {
                qr: QrStyle::Native,
                ..Layout::MM80
            },
        ] {
            let b = encode(&r, &layout);
            assert_eq!(&b[..4], &[0x1B, 0x40, 0x1C, 0x2E]);
            assert_eq!(&b[b.len() - 7..], &[0x1B, 0x64, 3, 0x1D, 0x56, 0x42, 0x00]);
            let title = find(&b, b"Corner Caf").unwrap();
            assert_eq!(
                &b[title - 9..title],
                &[0x1B, 0x61, 1, 0x1B, 0x45, 1, 0x1D, 0x21, 0x11]
            );
            assert!(find(&b, b"Coffee x 2").is_some());
            assert!(find(&b, &"-".repeat(usize::from(layout.columns)).into_bytes()).is_some());
            assert!(find(&b, b"TOTAL").is_some());
            assert!(find(&b, b"No. T20261126120005\n").is_some());
            assert!(find(&b, b"2026-11-26 12:00:05\n").is_some());
            assert!(find(&b, b"WeChat Pay: scan to pay").is_some());
            assert!(find(&b, b"SANDBOX").is_none());
            // Every amount uses the full-width sign, never U+00A5.
            assert_eq!(count(&b, &[0xA3, 0xA4]), 3);
            assert!(find(&b, &[0x81, 0x30, 0x84, 0x36]).is_none());
            match layout.qr {
                QrStyle::Raster => assert_eq!(count(&b, &[0x1D, 0x76, 0x30]), 1),
                QrStyle::Native => {
                    assert!(find(&b, &[0x1D, 0x28, 0x6B, 3, 0, 0x31, 0x43, 6]).is_some());
                    assert!(find(&b, b"weixin://wxpay/bizpayurl?pr=Ab3dE9x").is_some());
                }
            }
        }
    }

    #[test]
    fn sandbox_notice_twice_and_empty_fields_skipped() {
        let mut r = sample();
        r.sandbox = true;
        r.title.clear();
        r.footer.clear();
        let b = encode(&r, &Layout::MM80);
        assert_eq!(count(&b, b"*** SANDBOX - NOT A REAL PAYMENT ***"), 2);
        assert!(find(&b, &[0x1D, 0x21, 0x11]).is_none());
        let b = encode(&r, &Layout::MM58);
        assert_eq!(count(&b, b"SANDBOX - NOT A REAL PAYMENT\n"), 2);
    }

    #[test]
    fn test_page_contents() {
        let info = vec!["profile: 80mm".to_string(), "status: ok".to_string()];
        for layout in [
            Layout::MM80,
            Layout::MM58,
            Layout {
                qr: QrStyle::Native,
                ..Layout::MM58
            },
        ] {
            let b = test_page(&info, &layout);
            assert_eq!(&b[..2], &[0x1B, 0x40]);
            assert!(find(&b, b"wxprint test page\n").is_some());
            assert!(find(&b, b"profile: 80mm\n").is_some());
            let cols = usize::from(layout.columns);
            let printable: Vec<u8> = (0x20..=0x7E).collect();
            assert!(find(&b, &[&printable[..cols], b"\n"].concat()).is_some());
            assert_eq!(&b[2..4], &[0x1C, 0x2E]);
            let mut zh = EscPos::new();
            zh.line("中文 ￥12.34");
            assert_eq!(
                hex(zh.as_bytes()),
                "1C 26 D6 D0 CE C4 1C 2E 20 1C 26 A3 A4 1C 2E 31 32 2E 33 34 0A"
            );
            let mut line = EscPos::new();
            line.line(TEST_CHINESE_LINE);
            assert!(find(&b, line.as_bytes()).is_some());
            assert!(find(&b, b"QR: ").is_some());
            match layout.qr {
                QrStyle::Raster => assert!(find(&b, &[0x1D, 0x76, 0x30]).is_some()),
                QrStyle::Native => assert!(find(&b, &[0x1D, 0x28, 0x6B]).is_some()),
            }
            assert_eq!(&b[b.len() - 7..], &[0x1B, 0x64, 3, 0x1D, 0x56, 0x42, 0x00]);
        }
    }
}

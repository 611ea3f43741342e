//! Receipt model → ESC/POS bytes (our own small encoder; see `reference/escpos.md`).
//!
//! [`EscPos`] emits the dozen commands we need, byte for byte as documented in
//! `reference/escpos.md` §1–§3. [`encode`] lays out a checkout receipt, [`test_page`] the
//! technician's test page; [`qr_raster`], [`qr_raster_scaled`] and [`qr_native`] produce the
//! QR part alone.
//!
//! User text (title, item names, footer, order number, time) goes through [`EscPos::text`],
//! which replaces every control character by a space, so it can never inject a command.
//! Non-ASCII runs are sent as GB18030 between `FS &` and `FS .`.

use std::fmt::Write as _;

use encoding_rs::GB18030;
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

/// Printer geometry and choices that shape the bytes.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Layout {
    /// Printable width in dots (576 for 80 mm, 384 for 58 mm).
    pub width_dots: u16,
    /// Dots per inch of the head (203 for most).
    pub dpi: u16,
    /// Text columns in font A (48 for 80 mm, 32 for 58 mm).
    pub columns: u16,
    pub qr: QrStyle,
}

impl Layout {
    pub const MM80: Layout = Layout {
        width_dots: 576,
        dpi: 203,
        columns: 48,
        qr: QrStyle::Raster,
    };
    pub const MM58: Layout = Layout {
        width_dots: 384,
        dpi: 203,
        columns: 32,
        qr: QrStyle::Raster,
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

/// Module size of the native (`GS ( k`) QR code, in dots.
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

/// A tiny ESC/POS byte builder. Every method appends exactly the documented bytes.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct EscPos {
    buf: Vec<u8>,
}

impl EscPos {
    pub fn new() -> Self {
        Self::default()
    }

    pub fn with_capacity(capacity: usize) -> Self {
        EscPos {
            buf: Vec::with_capacity(capacity),
        }
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
    /// level, store, print). `module_dots` is clamped to 1..=16; data beyond
    /// [`MAX_QR_BYTES`] is cut.
    pub fn qr_native(&mut self, data: &[u8], module_dots: u8) -> &mut Self {
        let data = &data[..data.len().min(MAX_QR_BYTES)];
        // Fits in u16: at most 7089 + 3.
        let [pl, ph] = ((data.len() + 3) as u16).to_le_bytes();
        self.buf.reserve(8 + 8 + 8 + 8 + data.len() + 8);
        self.raw(&[GS, b'(', b'k', 4, 0, 0x31, 0x41, 0x32, 0x00])
            .raw(&[GS, b'(', b'k', 3, 0, 0x31, 0x43, module_dots.clamp(1, 16)])
            .raw(&[GS, b'(', b'k', 3, 0, 0x31, 0x45, 0x31])
            .raw(&[GS, b'(', b'k', pl, ph, 0x31, 0x50, 0x30])
            .raw(data)
            .raw(&[GS, b'(', b'k', 3, 0, 0x31, 0x51, 0x30])
    }

    /// User text: ASCII as is, control characters (C0, DEL, C1) as spaces, non-ASCII runs
    /// as `FS &` + GB18030 + `FS .`. No line feed.
    pub fn text(&mut self, s: &str) -> &mut Self {
        let mut rest = s;
        while !rest.is_empty() {
            let split = rest.find(|c: char| !c.is_ascii()).unwrap_or(rest.len());
            let (ascii, tail) = rest.split_at(split);
            self.buf.extend(
                ascii
                    .bytes()
                    .map(|b| if b < 0x20 || b == 0x7F { b' ' } else { b }),
            );
            if tail.is_empty() {
                break;
            }
            let end = tail.find(|c: char| c.is_ascii()).unwrap_or(tail.len());
            let (wide, tail) = tail.split_at(end);
            self.chinese(wide);
            rest = tail;
        }
        self
    }

    /// A run of non-ASCII characters in Chinese mode.
    fn chinese(&mut self, run: &str) {
        self.buf.extend_from_slice(&[FS, b'&']);
        let mut encoder = GB18030.new_encoder();
        // GB18030 maps every scalar value; 4 bytes per char is the most it needs.
        self.buf.reserve(
            encoder
                .max_buffer_length_from_utf8_without_replacement(run.len())
                .unwrap_or(run.len() * 4),
        );
        let mut start = 0;
        for (i, c) in run.char_indices() {
            if c.is_control() {
                encode_gb(&mut encoder, &run[start..i], &mut self.buf);
                // A space inside Chinese mode is still the ASCII space.
                self.buf.push(b' ');
                start = i + c.len_utf8();
            }
        }
        encode_gb(&mut encoder, &run[start..], &mut self.buf);
        self.buf.extend_from_slice(&[FS, b'.']);
    }

    /// [`text`](Self::text) then `LF`.
    pub fn line(&mut self, s: &str) -> &mut Self {
        self.text(s).lf()
    }
}

fn encode_gb(encoder: &mut encoding_rs::Encoder, s: &str, out: &mut Vec<u8>) {
    let mut src = s;
    while !src.is_empty() {
        let need = encoder
            .max_buffer_length_from_utf8_without_replacement(src.len())
            .unwrap_or(src.len() * 4);
        out.reserve(need);
        let (result, read) = encoder.encode_from_utf8_to_vec_without_replacement(src, out, false);
        src = &src[read..];
        match result {
            encoding_rs::EncoderResult::InputEmpty => break,
            encoding_rs::EncoderResult::OutputFull => {}
            // GB18030 covers all of Unicode; should a character ever be unmappable, print '?'.
            encoding_rs::EncoderResult::Unmappable(_) => out.push(b'?'),
        }
    }
}

/// Print width of `s` in font A columns: ASCII is 1, anything else 2 (CJK is double width).
pub fn text_width(s: &str) -> usize {
    s.chars().map(char_width).sum()
}

fn char_width(c: char) -> usize {
    if c.is_ascii() { 1 } else { 2 }
}

/// Longest prefix of `s` that is at most `max` columns wide.
pub fn truncate_to_width(s: &str, max: usize) -> &str {
    let mut width = 0;
    for (i, c) in s.char_indices() {
        width += char_width(c);
        if width > max {
            return &s[..i];
        }
    }
    s
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

/// A fen amount as yuan with the full-width sign `￥` (U+FFE5): 3200 → "￥32.00".
pub fn format_amount(fen: i64) -> String {
    let mut s = String::with_capacity(16);
    write_amount(&mut s, fen);
    s
}

/// One line with `left` at the left margin and `right` flush right, `columns` wide. `left` is
/// cut to fit; if even `keep` (kept whole after `left`) and `right` do not fit, `right` goes
/// on its own line.
fn two_columns(out: &mut EscPos, left: &str, keep: &str, right: &str, columns: usize) {
    let right_w = text_width(right);
    let keep_w = text_width(keep);
    let fixed = keep_w + right_w + usize::from(!right.is_empty());
    if fixed > columns || (fixed == columns && !left.is_empty()) {
        let room = columns.saturating_sub(keep_w);
        out.text(truncate_to_width(left, room))
            .text(truncate_to_width(keep, columns))
            .lf();
        pad(out, columns.saturating_sub(right_w));
        out.text(right).lf();
        return;
    }
    let left = truncate_to_width(left, columns - fixed);
    out.text(left).text(keep);
    pad(out, columns - text_width(left) - keep_w - right_w);
    out.text(right).lf();
}

fn pad(out: &mut EscPos, n: usize) {
    out.buf.resize(out.buf.len() + n, b' ');
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

/// The QR part as a `GS v 0` raster (printer scaling allowed): see [`qr_raster_scaled`].
pub fn qr_raster(data: &str, layout: &Layout) -> Vec<u8> {
    qr_raster_scaled(data, layout, true)
}

/// The QR part as `GS v 0` raster: centred, quiet zone fed above and below, alignment back
/// to left at the end. Only the symbol's modules are sent (the quiet zone is the paper
/// around). With `allow_printer_scaling` and an even number of dots per module, the bitmap
/// is sent at half resolution with `m = 3` (double width and height): a quarter of the bytes.
pub fn qr_raster_scaled(data: &str, layout: &Layout, allow_printer_scaling: bool) -> Vec<u8> {
    let mut out = EscPos::with_capacity(1024);
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
    let (scale, sent) = if allow_printer_scaling && dots.is_multiple_of(2) {
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
    out.buf.reserve(9 + rows * bytes_per_row + blocks * 8 + 9);
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

fn push_qr(out: &mut EscPos, data: &str, layout: &Layout) {
    match layout.qr {
        QrStyle::Raster => push_qr_raster(out, data, layout, true),
        QrStyle::Native => push_qr_native(out, data, NATIVE_QR_MODULE_DOTS),
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

/// The whole receipt as ESC/POS bytes.
pub fn encode(receipt: &Receipt, layout: &Layout) -> Vec<u8> {
    let columns = usize::from(layout.columns.max(1));
    let text_len = receipt.title.len()
        + receipt.footer.len()
        + receipt.out_trade_no.len()
        + receipt.time.len()
        + receipt.lines.len() * (columns + 24);
    let mut out = EscPos::with_capacity(1536 + 2 * text_len);
    out.init();

    if !receipt.title.is_empty() {
        out.align(Align::Center)
            .bold(true)
            .size(2, 2)
            .line(&receipt.title)
            .size(1, 1)
            .bold(false);
    }
    if receipt.sandbox {
        out.align(Align::Center)
            .bold(true)
            .line(sandbox_notice(columns))
            .bold(false);
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
        two_columns(&mut out, &line.name, &scratch, &amount, columns);
    }
    pad_with(&mut out, b'-', columns);
    out.lf();
    amount.clear();
    write_amount(&mut amount, receipt.total);
    out.bold(true);
    two_columns(&mut out, "TOTAL", "", &amount, columns);
    out.bold(false);

    push_qr(&mut out, &receipt.code_url, layout);

    out.align(Align::Center)
        .line("WeChat Pay: scan to pay")
        .line("微信扫码支付");
    if receipt.sandbox {
        out.bold(true).line(sandbox_notice(columns)).bold(false);
    }
    out.align(Align::Left).lf();
    out.text("No. ").line(&receipt.out_trade_no);
    if !receipt.time.is_empty() {
        out.line(&receipt.time);
    }
    if !receipt.footer.is_empty() {
        out.lf()
            .align(Align::Center)
            .line(&receipt.footer)
            .align(Align::Left);
    }
    out.feed(3).cut();
    out.into_bytes()
}

fn pad_with(out: &mut EscPos, byte: u8, n: usize) {
    out.buf.resize(out.buf.len() + n, byte);
}

/// A test page: title, a character line, a sample QR, a cut. `info` lines are printed as is.
pub fn test_page(info: &[String], layout: &Layout) -> Vec<u8> {
    let columns = usize::from(layout.columns.max(1));
    let mut out = EscPos::with_capacity(2048 + info.iter().map(|s| s.len() + 8).sum::<usize>());
    out.init()
        .align(Align::Center)
        .bold(true)
        .line("wxprint test page")
        .bold(false)
        .align(Align::Left)
        .lf();
    for line in info {
        out.line(line);
    }
    out.lf();
    let printable: Vec<u8> = (0x20..=0x7E).collect();
    for chunk in printable.chunks(columns) {
        out.raw(chunk).lf();
    }
    out.line("中文 ￥12.34");
    push_qr(&mut out, TEST_QR_DATA, layout);
    out.align(Align::Center)
        .line(TEST_QR_DATA)
        .align(Align::Left);
    out.feed(3).cut();
    out.into_bytes()
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
        // Non-Chinese non-ASCII also goes through GB18030 (4-byte form for ¥ U+00A5).
        assert_eq!(hex(&bytes(|e| e.text("¥"))), "1C 26 81 30 84 36 1C 2E");
        assert_eq!(bytes(|e| e.line("x")), b"x\n");
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

    #[test]
    fn item_lines_fill_the_columns() {
        let mut e = EscPos::new();
        two_columns(&mut e, "Coffee", " x 2", "￥24.00", 32);
        let expected = format!("Coffee x 2{}\u{1c}&\u{a3}\u{a4}", " ".repeat(32 - 10 - 7));
        let got = e.as_bytes();
        assert_eq!(
            &got[..expected.len() - 4],
            &expected.as_bytes()[..expected.len() - 4]
        );
        assert_eq!(hex(&got[25..]), "1C 26 A3 A4 1C 2E 32 34 2E 30 30 0A");

        // CJK names count double; long names are cut.
        let mut e = EscPos::new();
        two_columns(
            &mut e,
            "牛角包牛角包牛角包牛角包牛角包",
            " x 1",
            "￥8.00",
            32,
        );
        let mut expected = EscPos::new();
        // 32 - 6 (amount) - 1 (gap) - 4 (" x 1") = 21 columns → 10 hanzi, 1 pad space + gap.
        expected
            .text("牛角包牛角包牛角包牛")
            .text(" x 1")
            .raw(b"  ")
            .text("￥8.00")
            .lf();
        assert_eq!(e.as_bytes(), expected.as_bytes());

        // Nothing fits: amount on its own line.
        let mut e = EscPos::new();
        two_columns(&mut e, "Tea", " x 1000000", "￥100000.00", 16);
        let mut expected = EscPos::new();
        expected
            .text("Tea x 1000000")
            .lf()
            .raw(&[b' '; 5])
            .text("￥100000.00")
            .lf();
        assert_eq!(e.as_bytes(), expected.as_bytes());
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
            assert_eq!(&b[..2], &[0x1B, 0x40]);
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
            let mut zh = EscPos::new();
            zh.line("中文 ￥12.34");
            assert_eq!(
                hex(zh.as_bytes()),
                "1C 26 D6 D0 CE C4 1C 2E 20 1C 26 A3 A4 1C 2E 31 32 2E 33 34 0A"
            );
            assert!(find(&b, zh.as_bytes()).is_some());
            match layout.qr {
                QrStyle::Raster => assert!(find(&b, &[0x1D, 0x76, 0x30]).is_some()),
                QrStyle::Native => assert!(find(&b, &[0x1D, 0x28, 0x6B]).is_some()),
            }
            assert_eq!(&b[b.len() - 7..], &[0x1B, 0x64, 3, 0x1D, 0x56, 0x42, 0x00]);
        }
    }
}

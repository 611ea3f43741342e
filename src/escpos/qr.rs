//! QR blocks: a QR symbol sized for the layout and sent centred, with its quiet zone fed
//! above and below, as a `GS v 0` raster we draw ([`qr_raster`]) or as the printer's own
//! `GS ( k` ([`qr_native_block`]); [`EscPos::qr_block`] picks what the layout says.
//!
//! Knows dots, modules and ESC/POS; not what the QR encodes or where on a receipt it goes.

use qrcode::{Color, EcLevel};

use super::qr_matrix::qr_matrix;
use super::{Align, EscPos, Layout, QrStyle, REALTIME_DISABLE, RasterScale};

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

/// Blank lines to feed so that at least `dots` dots of paper stay white.
fn quiet_lines(dots: usize) -> u8 {
    dots.div_ceil(MIN_LINE_DOTS).clamp(1, 255) as u8
}

/// The QR part as a `GS v 0` raster, printer scaling where `layout.raster_scaling` allows
/// it: see [`qr_raster_scaled`].
pub fn qr_raster(data: &str, layout: &Layout) -> Vec<u8> {
    qr_raster_scaled(data, layout, true)
}

/// The QR part as `GS v 0` raster: centred, quiet zone fed above and below, alignment back
/// to left at the end. Only the symbol's modules are sent (the quiet zone is the paper
/// around). With `allow_printer_scaling`, `layout.raster_scaling` and an even number of dots
/// per module, at least 4, the bitmap is sent at half resolution with `m = 3` (double width
/// and height): a quarter of the bytes. Where `layout.realtime_disable`, `GS ( D` goes first.
///
/// (At two or more dots per module a data byte can never be `0x10` — that would be a lone
/// dark dot — so `DLE EOT` / `DLE DC4` cannot occur in our QR rasters anyway: the printer
/// scales only a bitmap of four or more dots a module, and a symbol that would get one dot
/// a module prints as text instead where `GS ( D` cannot go first. `GS ( D` is belt and
/// braces where the printer is known to take it.)
pub fn qr_raster_scaled(data: &str, layout: &Layout, allow_printer_scaling: bool) -> Vec<u8> {
    let mut out = EscPos::with_capacity(1024).with_text_mode(layout.text);
    push_raster_block(&mut out, data, layout, allow_printer_scaling);
    out.into_bytes()
}

/// The QR part as native `GS ( k` (model 2, EC M, `module_dots`), centred, with quiet-zone
/// feeds above and below and alignment back to left at the end. (The bare symbol is
/// [`EscPos::qr_native`].)
pub fn qr_native_block(data: &str, module_dots: u8) -> Vec<u8> {
    let mut out = EscPos::with_capacity(64 + data.len());
    push_native_block(&mut out, data, module_dots);
    out.into_bytes()
}

impl EscPos {
    /// The QR part for `data` in the layout's [`QrStyle`]: as [`qr_raster`] or as
    /// [`qr_native_block`] at [`native_module_dots`].
    pub(crate) fn qr_block(&mut self, data: &str, layout: &Layout) -> &mut Self {
        match layout.qr {
            QrStyle::Raster => push_raster_block(self, data, layout, true),
            QrStyle::Native => push_native_block(self, data, native_module_dots(data, layout)),
        }
        self
    }
}

/// [`qr_native_block`], appended to `out`.
fn push_native_block(out: &mut EscPos, data: &str, module_dots: u8) {
    let quiet = quiet_lines(4 * usize::from(module_dots.clamp(1, 16)));
    out.align(Align::Center)
        .feed(quiet)
        .qr_native(data.as_bytes(), module_dots)
        .feed(quiet)
        .align(Align::Left);
}

/// [`qr_raster_scaled`], appended to `out`.
fn push_raster_block(out: &mut EscPos, data: &str, layout: &Layout, allow_printer_scaling: bool) {
    let Some((modules, colors)) = qr_matrix(data.as_bytes()) else {
        // Too long for any QR version: print the data as text so nothing is silently lost.
        out.align(Align::Left).line("[QR code too long]").line(data);
        return;
    };
    let dots = qr_module_dots(modules, layout);
    if dots < 2 && !layout.realtime_disable {
        // One-dot modules could make a data byte 0x10, a lone dark dot: `DLE`, which some
        // printers execute inside image data (a status request, a drawer pulse). Only a
        // symbol too large for the paper comes to this, and it could not be scanned anyway.
        out.align(Align::Left)
            .line("[QR code too large for the paper]")
            .line(data);
        return;
    }
    let scaling = allow_printer_scaling && layout.raster_scaling;
    // The printer doubles what is sent: only when that keeps two dots a module in the data.
    let (scale, sent) = if scaling && dots >= 4 && dots.is_multiple_of(2) {
        (RasterScale::Quadruple, dots / 2)
    } else {
        (RasterScale::Normal, dots)
    };
    let symbol = RasterSymbol {
        modules,
        colors: &colors,
        sent,
    };
    let bytes_per_row = (modules * sent).div_ceil(8);
    let Ok(bpr16) = u16::try_from(bytes_per_row) else {
        out.align(Align::Left).line("[QR code too wide]").line(data);
        return;
    };
    let rows = modules * sent;
    let quiet = quiet_lines(4 * dots);
    let blocks = rows.div_ceil(MAX_RASTER_ROWS);
    out.reserve(REALTIME_DISABLE.len() + 6 + rows * bytes_per_row + blocks * 8 + 6);
    if layout.realtime_disable {
        out.realtime_disable();
    }
    out.align(Align::Center).feed(quiet);
    let mut row = 0;
    while row < rows {
        let block_rows = (rows - row).min(MAX_RASTER_ROWS);
        // At most 255.
        out.raster_rows(scale, bpr16, block_rows as u16, |k, line, above| {
            symbol.draw_row(row + k, line, above)
        });
        row += block_rows;
    }
    out.feed(quiet).align(Align::Left);
}

/// A QR matrix as sent in a raster: `sent` dots per module, centred in whole bytes.
struct RasterSymbol<'a> {
    modules: usize,
    colors: &'a [Color],
    sent: usize,
}

impl RasterSymbol<'_> {
    /// Draws dot row `y` into `line`; rows repeat `sent` times, so a row that is not the
    /// first of its module row copies the one `above` where there is one.
    fn draw_row(&self, y: usize, line: &mut [u8], above: Option<&[u8]>) {
        let (modules, sent) = (self.modules, self.sent);
        if let Some(above) = above.filter(|_| !y.is_multiple_of(sent)) {
            line.copy_from_slice(above);
            return;
        }
        // Padding bits split on both sides keep the symbol centred.
        let offset = (line.len() * 8 - modules * sent) / 2;
        let module_row = &self.colors[(y / sent) * modules..][..modules];
        // Dots go through `pending` (its low `n` bits, the first one highest) a byte at a
        // time; the leading padding is `offset % 8` zero bits of it. A module's `sent` dots
        // go in as `sent / 8` whole bytes and then the `sent % 8` rest.
        let (mut pending, mut n) = (0u32, offset % 8);
        let mut bytes = line[offset / 8..].iter_mut();
        let (whole, part) = (sent / 8, sent % 8);
        let mut push = |dots: u32, k: usize| {
            pending = (pending << k) | dots;
            n += k;
            if n >= 8 {
                n -= 8;
                // Always there: `line` holds the `offset + modules × sent` dots.
                if let Some(byte) = bytes.next() {
                    *byte = (pending >> n) as u8;
                }
            }
        };
        for color in module_row {
            let dark = *color == Color::Dark;
            for _ in 0..whole {
                push(if dark { 0xFF } else { 0 }, 8);
            }
            if part > 0 {
                push(if dark { (1 << part) - 1 } else { 0 }, part);
            }
        }
        if let Some(last) = bytes.next().filter(|_| n > 0) {
            *last = (pending << (8 - n)) as u8;
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::escpos::testing::{bytes, find, hex, unhex};

    #[test]
    fn golden_native_qr_worked_example() {
        // docs/escpos.md §1, verified against escpos 0.20.1.
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
        let part = qr_native_block("weixin://wxpay/s/An4baqw", 6);
        let mut framed = unhex("1B 61 01 1B 64 01");
        framed.extend_from_slice(&expected);
        framed.extend_from_slice(&unhex("1B 64 01 1B 61 00"));
        assert_eq!(hex(&part), hex(&framed));
    }

    #[test]
    fn module_dots() {
        let mm80 = |width_dots, dpi| Layout {
            width_dots,
            dpi,
            ..Layout::MM80
        };
        assert_eq!(qr_module_dots(29, &Layout::MM80), 6);
        assert_eq!(qr_module_dots(29, &Layout::MM58), 6);
        assert_eq!(qr_module_dots(29, &mm80(576, 180)), 6);
        assert_eq!(qr_module_dots(29, &mm80(576, 300)), 9);
        // Version 10 (57 modules) on 58 mm: 384 / 65 = 5.
        assert_eq!(qr_module_dots(57, &Layout::MM58), 5);
        assert_eq!(qr_module_dots(177, &Layout::MM58), 2);
        let tiny = Layout {
            width_dots: 10,
            ..Layout::MM58
        };
        assert_eq!(qr_module_dots(29, &tiny), 1);
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

    /// The `DLE` hazard (`docs/escpos.md` §2): a version-40 symbol on 58 mm paper gets 2
    /// dots a module, sent as they are (halved for the printer to double, they would be one
    /// dot, and a data byte could be `0x10`); one that would get 1 dot prints as text unless
    /// `GS ( D` goes first.
    #[test]
    fn no_raster_sends_one_dot_modules() {
        let data = "z".repeat(2000);
        let (modules, _) = qr_matrix(data.as_bytes()).unwrap();
        assert_eq!(qr_module_dots(modules, &Layout::MM58), 2);
        let part = qr_raster(&data, &Layout::MM58);
        let blocks = raster_blocks(&part);
        assert!(blocks.iter().all(|b| b.0 == 0), "not scaled by the printer");
        assert!(blocks.iter().all(|b| !b.3.contains(&0x10)), "no DLE byte");
        let narrow = Layout {
            width_dots: 180,
            ..Layout::MM58
        };
        let text = qr_raster(&data, &narrow);
        assert!(find(&text, b"[QR code too large for the paper]").is_some());
        assert!(raster_blocks(&text).is_empty());
        let epson = Layout {
            realtime_disable: true,
            ..narrow
        };
        assert_eq!(raster_blocks(&qr_raster(&data, &epson)).len(), 1);
    }

    #[test]
    fn too_long_data_prints_as_text() {
        let data = "y".repeat(3000);
        let part = qr_raster(&data, &Layout::MM80);
        assert!(find(&part, b"[QR code too long]").is_some());
        assert!(find(&part, &[0x1D, 0x76, 0x30]).is_none());
    }
}

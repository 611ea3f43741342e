//! The QR symbol itself: data → module matrix at EC level M, with a fast mask choice.
//!
//! The `qrcode` crate encodes the data, computes the error correction and draws the
//! function patterns and the unmasked data; this module then reads that canvas once into bit
//! lines (`qr_lines`: one word per row and per column), masks each of the eight patterns a
//! whole line at a time (plus the format information, `FORMAT_BITS`) and scores it with
//! shifts and popcounts. Nothing here knows ESC/POS bytes, paper or dots (sizing and sending
//! the symbol is `qr`).
//!
//! Cost (callgrind instructions, release build, the receipt's version-3
//! `weixin://wxpay/bizpayurl?pr=Ab3dE9x`): 1 044 000 per symbol before, 166 000 now (of which
//! ~82 000 are the crate's encoding, error correction and drawing). Before, each of the 8
//! patterns cloned the canvas for the crate's `Canvas::apply_mask`, copied it module by
//! module through `Canvas::get` into a `bool` grid and scored that module by module (the
//! finder-like scan with `(0..7).any(..)` closures); now the canvas is read once and a
//! pattern costs ~60 word operations per line.

use qrcode::canvas::{Canvas, Module};
use qrcode::{Color, EcLevel};

use super::qr_lines::{Line, Wide, column_penalty, mask_line, row_penalty};

/// The module matrix of `data` at EC level M: `(width, colors)`, row-major; `None` if the
/// data is too long for any QR version.
///
/// Same symbol as `QrCode::with_error_correction_level(data, EcLevel::M)` (same version,
/// same mask, module for module — a test checks it), but with the mask chosen on bit lines
/// (see the module comment): the crate's own choice boxes a closure per module.
pub fn qr_matrix(data: &[u8]) -> Option<(usize, Vec<Color>)> {
    let bits = qrcode::bits::encode_auto(data, EcLevel::M).ok()?;
    let version = bits.version();
    let (codewords, ec) =
        qrcode::ec::construct_codewords(&bits.into_bytes(), version, EcLevel::M).ok()?;
    let mut canvas = Canvas::new(version, EcLevel::M);
    canvas.draw_all_functional_patterns();
    canvas.draw_data(&codewords, &ec);
    let w = usize::try_from(version.width()).ok()?;
    let colors = match w {
        ..=64 => best_masked::<u64>(&canvas, w),
        65..=128 => best_masked::<u128>(&canvas, w),
        _ => best_masked::<Wide>(&canvas, w),
    };
    Some((w, colors))
}

/// The symbol masked with the pattern of lowest penalty (the first of equals, as the crate
/// picks), row-major.
fn best_masked<L: Line>(canvas: &Canvas, w: usize) -> Vec<Color> {
    let unmasked = Unmasked::<L>::read(canvas, w);
    let (mut rows, mut columns) = (vec![L::ZERO; w], vec![L::ZERO; w]);
    let mut best = (i32::MAX, 0);
    for pattern in 0..8 {
        unmasked.mask(pattern, false, &mut rows);
        unmasked.mask(pattern, true, &mut columns);
        let score = row_penalty(&rows, w) + column_penalty(&columns, w);
        if score < best.0 {
            best = (score, pattern);
        }
    }
    unmasked.mask(best.1, false, &mut rows);
    let mut colors = Vec::with_capacity(w * w);
    for row in &rows {
        colors.extend((0..w).map(|x| {
            if row.test(x) {
                Color::Dark
            } else {
                Color::Light
            }
        }));
    }
    colors
}

/// A drawn, unmasked canvas as lines: rows `0..w`, then columns `0..w`, each as
/// `[dark, data]`: the dark modules before masking, and the modules a mask flips (data, error
/// correction and remainder bits; the rest is function patterns, the format information
/// reserved light).
struct Unmasked<L> {
    w: usize,
    lines: Vec<[L; 2]>,
}

impl<L: Line> Unmasked<L> {
    /// Reads `canvas` (`w` modules wide) once, module by module.
    fn read(canvas: &Canvas, w: usize) -> Self {
        let mut lines = vec![[L::ZERO; 2]; 2 * w];
        let (rows, columns) = lines.split_at_mut(w);
        for (y, row) in rows.iter_mut().enumerate() {
            for (x, column) in columns.iter_mut().enumerate() {
                // Both < w ≤ 177.
                let (dark, data) = match canvas.get(x as i16, y as i16) {
                    Module::Masked(c) => (c == Color::Dark, false),
                    Module::Unmasked(c) => (c == Color::Dark, true),
                    Module::Empty => (false, true),
                };
                for (k, set) in [dark, data].into_iter().enumerate() {
                    if set {
                        row[k] = row[k] | L::bit(x);
                        column[k] = column[k] | L::bit(y);
                    }
                }
            }
        }
        Self { w, lines }
    }

    /// Writes into `out` the rows (`column` false) or the columns of the symbol masked with
    /// `pattern` (0–7), its format information drawn, as `Canvas::apply_mask` leaves it.
    fn mask(&self, pattern: usize, column: bool, out: &mut [L]) {
        let w = self.w;
        let lines = &self.lines[usize::from(column) * w..][..w];
        // Masks repeat every 12 lines.
        let flips: [L; 12] = std::array::from_fn(|i| mask_line(pattern, column, i));
        for (lines, out) in lines.chunks(12).zip(out.chunks_mut(12)) {
            for ((&[dark, data], out), &flips) in lines.iter().zip(out).zip(&flips) {
                *out = dark ^ (flips & data);
            }
        }
        let wrap = |c: i16| match usize::from(c.unsigned_abs()) {
            back if c < 0 => w - back,
            forth => forth,
        };
        let mut dark = FORMAT_BITS[pattern & 7];
        while dark != 0 {
            // Bit 14 goes first.
            let k = 14 - dark.trailing_zeros() as usize;
            dark &= dark - 1;
            for (x, y) in [FORMAT_MAIN[k], FORMAT_SIDE[k]] {
                let (x, y) = (wrap(x), wrap(y));
                let (line, module) = if column { (x, y) } else { (y, x) };
                out[line] = out[line] | L::bit(module);
            }
        }
    }
}

/// The 15 format-information bits for EC level M (`00`) and each mask: BCH(15, 5) with
/// generator `0x537`, XOR `0x5412` (ISO/IEC 18004 §7.9).
const FORMAT_BITS: [u16; 8] = {
    let mut t = [0u16; 8];
    let mut pattern = 0;
    while pattern < 8 {
        let data = pattern << 10;
        let mut rem = data;
        let mut bit = 14;
        while bit >= 10 {
            if rem & (1 << bit) != 0 {
                rem ^= 0x537 << (bit - 10);
            }
            bit -= 1;
        }
        t[pattern as usize] = (data | rem) ^ 0x5412;
        pattern += 1;
    }
    t
};

/// Where the format bits go, most significant first, as `(x, y)` (negative: from the far
/// edge) — the `qrcode` crate's order: around the top-left finder, then split between the
/// other two.
#[rustfmt::skip]
const FORMAT_MAIN: [(i16, i16); 15] = [
    (0, 8), (1, 8), (2, 8), (3, 8), (4, 8), (5, 8), (7, 8), (8, 8),
    (8, 7), (8, 5), (8, 4), (8, 3), (8, 2), (8, 1), (8, 0),
];
/// The second copy of the format bits (see [`FORMAT_MAIN`]).
#[rustfmt::skip]
const FORMAT_SIDE: [(i16, i16); 15] = [
    (8, -1), (8, -2), (8, -3), (8, -4), (8, -5), (8, -6), (8, -7),
    (-8, 8), (-7, 8), (-6, 8), (-5, 8), (-4, 8), (-3, 8), (-2, 8), (-1, 8),
];

#[cfg(test)]
mod tests {
    use super::*;
    use qrcode::canvas::MaskPattern;

    #[test]
    fn qr_matrix_matches_the_qrcode_crate() {
        use qrcode::QrCode;
        let mut inputs: Vec<String> = vec![
            "weixin://wxpay/s/An4baqw".into(),
            "weixin://wxpay/bizpayurl?pr=Ab3dE9x".into(),
            "weixin://wxpay/bizpayurl?pr=TestQR1".into(), // the test page's QR
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

    /// Inputs from 1 to 400 bytes in all three of the crate's modes (numeric, alphanumeric,
    /// bytes, mixed), versions 1 to 15, and a few for versions 28–40 (the widest lines).
    fn many_inputs() -> Vec<Vec<u8>> {
        let alphabets: [&[u8]; 4] = [
            b"0123456789",
            b"ABCDEFGHIJKLMNOPQRSTUVWXYZ $%*+-./:",
            b"weixin://wxpay/bizpayurl?pr=Ab3dE9x",
            "中文 ￥12.34 éß".as_bytes(),
        ];
        let mut inputs: Vec<Vec<u8>> = (1..=400usize)
            .map(|n| {
                let a = alphabets[n % 4];
                (0..n).map(|i| a[(i * 7 + n) % a.len()]).collect()
            })
            .collect();
        inputs.extend(
            [1300usize, 1700, 2331].map(|n| (0..n).map(|i| (i * 31 % 251) as u8).collect()),
        );
        inputs
    }

    #[test]
    fn qr_matrix_matches_the_qrcode_crate_for_400_lengths_and_wide_symbols() {
        use qrcode::QrCode;
        let mut widths = std::collections::BTreeSet::new();
        for data in many_inputs() {
            let code = QrCode::with_error_correction_level(&data, EcLevel::M).unwrap();
            let (w, colors) = qr_matrix(&data).unwrap();
            assert_eq!(w, code.width(), "{} bytes", data.len());
            assert!(
                colors == code.to_colors(),
                "mask or modules differ for {data:?}"
            );
            widths.insert(w);
        }
        // Versions 1–15 (21–77 modules, all three line types) and 177 (version 40).
        assert!(
            (21..=77).step_by(4).all(|w| widths.contains(&w)),
            "{widths:?}"
        );
        assert!(widths.contains(&177) && widths.iter().any(|w| (129..177).contains(w)));
    }

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

    /// Every pattern, not only the winner: the masked lines are the crate's
    /// `Canvas::apply_mask` module for module, and the line-wise penalty equals the plain
    /// module-by-module one.
    fn check_every_mask<L: Line>(data: &[u8]) -> usize {
        let bits = qrcode::bits::encode_auto(data, EcLevel::M).unwrap();
        let version = bits.version();
        let (codewords, ec) =
            qrcode::ec::construct_codewords(&bits.into_bytes(), version, EcLevel::M).unwrap();
        let mut canvas = Canvas::new(version, EcLevel::M);
        canvas.draw_all_functional_patterns();
        canvas.draw_data(&codewords, &ec);
        let w = version.width() as usize;
        let unmasked = Unmasked::<L>::read(&canvas, w);
        let (mut rows, mut columns) = (vec![L::ZERO; w], vec![L::ZERO; w]);
        for (p, pattern) in PATTERNS.into_iter().enumerate() {
            let mut masked = canvas.clone();
            masked.apply_mask(pattern);
            let grid: Vec<bool> = masked
                .into_colors()
                .iter()
                .map(|c| *c == Color::Dark)
                .collect();
            unmasked.mask(p, false, &mut rows);
            unmasked.mask(p, true, &mut columns);
            for (y, x) in (0..w).flat_map(|y| (0..w).map(move |x| (y, x))) {
                let dark = grid[y * w + x];
                assert_eq!(
                    rows[y].test(x),
                    dark,
                    "row {y} col {x}, mask {p}, width {w}"
                );
                assert_eq!(
                    columns[x].test(y),
                    dark,
                    "col {x} row {y}, mask {p}, width {w}"
                );
            }
            let (by_rows, by_columns) = (row_penalty(&rows, w), column_penalty(&columns, w));
            assert_eq!(
                by_rows + by_columns,
                reference_penalty(&grid, w),
                "mask {p}, width {w}"
            );
        }
        w
    }

    #[test]
    fn every_mask_matches_apply_mask_and_the_plain_penalty() {
        let input = |n: usize| -> Vec<u8> { (0..n).map(|i| (i * 37 % 253) as u8).collect() };
        let u64s = [1, 20, 40, 100, 180].map(|n| check_every_mask::<u64>(&input(n)));
        let u128s = [190, 300, 700, 1000, 1100].map(|n| check_every_mask::<u128>(&input(n)));
        let wides = [40, 1300, 1700, 2331].map(|n| check_every_mask::<Wide>(&input(n)));
        // Widths on both sides of each line type's limit, up to version 40.
        assert_eq!((u64s[0], u64s[4]), (21, 53), "versions 1 and 9");
        assert_eq!((u128s[0], u128s[4]), (57, 125), "versions 10 and 27");
        assert_eq!(
            (wides[0], wides[1], wides[3]),
            (29, 137, 177),
            "versions 3, 30, 40"
        );
    }

    /// The penalty module by module, as the `qrcode` crate scores it (the pre-bit-line code).
    fn reference_penalty(grid: &[bool], w: usize) -> i32 {
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
                let mut run = 1;
                for k in 1..=w {
                    if k < w && at(horizontal, line, k) == at(horizontal, line, k - 1) {
                        run += 1;
                    } else {
                        score += if run >= 5 { run - 2 } else { 0 };
                        run = 1;
                    }
                }
                for j in 0..w - 6 {
                    if (0..7).any(|k| at(horizontal, line, j + k) != FINDER[k]) {
                        continue;
                    }
                    let left = (j.saturating_sub(4)..j).any(|k| at(horizontal, line, k));
                    let right = (j + 7..(j + 11).min(w)).any(|k| at(horizontal, line, k));
                    score += if !left || !right { 40 } else { 0 };
                }
            }
            score -= 360;
        }
        for y in 0..w - 1 {
            for x in 0..w - 1 {
                let c = grid[y * w + x];
                let same = [(0, 1), (1, 0), (1, 1)]
                    .iter()
                    .all(|(dy, dx)| grid[(y + dy) * w + x + dx] == c);
                score += if same { 3 } else { 0 };
            }
        }
        let dark = grid.iter().filter(|d| **d).count();
        score + ((dark * 200 / grid.len()) as i32 - 100).abs()
    }

    #[test]
    fn format_bits_are_the_standard_table() {
        // ISO/IEC 18004 Table C.1, EC level M, masks 0–7.
        let table = [
            0x5412, 0x5125, 0x5E7C, 0x5B4B, 0x45F9, 0x40CE, 0x4F97, 0x4AA0,
        ];
        assert_eq!(FORMAT_BITS, table);
    }
}

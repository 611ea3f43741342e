//! The QR symbol itself: data → module matrix at EC level M, with a fast mask choice.
//!
//! Pure computation on top of the `qrcode` crate; nothing here knows ESC/POS bytes, paper or
//! dots (sizing and sending the symbol is `qr`).

use qrcode::canvas::{Canvas, MaskPattern};
use qrcode::{Color, EcLevel};

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

#[cfg(test)]
mod tests {
    use super::*;

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
}

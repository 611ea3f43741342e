//! The preview's type: GNU Unifont glyphs (the `unifont` crate: 8 × 16 halfwidth and
//! 16 × 16 fullwidth bitmaps covering the Basic Multilingual Plane), looked up by character
//! and scaled into a printer's character cell, and the decoding of one GB18030 code as a
//! printer in Chinese (Kanji) mode reads it.
//!
//! The scaling is nearest neighbour: a 16-dot-high glyph fills a 24-dot cell ×1.5 (font A
//! 12 × 24, Chinese 24 × 24), and is drawn 1:1 in font B's 9 × 17 cell. Nothing here knows
//! commands or the paper: callers say which box to fill and get the black dots in it.

use encoding_rs::GB18030;
use unifont::Glyph;

/// Height of every Unifont glyph, in its own pixels.
const GLYPH_HEIGHT: usize = 16;

/// The Unifont glyph of `c`; `None` where the font has none (outside the BMP, private use).
pub(super) fn glyph(c: char) -> Option<&'static Glyph> {
    unifont::get_glyph(c)
}

/// Calls `dot(dx, dy)` for every black dot of `glyph` scaled into a `w` × `h` box, nearest
/// neighbour: box dot (dx, dy) shows glyph pixel (dx · gw / w, dy · 16 / h).
pub(super) fn scaled(glyph: &Glyph, w: usize, h: usize, mut dot: impl FnMut(usize, usize)) {
    let gw = glyph.get_width();
    for dy in 0..h {
        let gy = dy * GLYPH_HEIGHT / h;
        for dx in 0..w {
            if glyph.get_pixel(dx * gw / w, gy) {
                dot(dx, dy);
            }
        }
    }
}

/// The character a GB18030 code (2 bytes, or 4 when the second is a digit) stands for;
/// `None` for a code that is not valid GB18030 (the printer prints an undefined-character
/// box for it).
pub(super) fn gb18030_char(code: &[u8]) -> Option<char> {
    let text = GB18030.decode_without_bom_handling_and_without_replacement(code)?;
    let mut chars = text.chars();
    match (chars.next(), chars.next()) {
        (Some(c), None) => Some(c),
        _ => None,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn gb18030_codes_decode_like_the_printer() {
        assert_eq!(gb18030_char(&[0xD6, 0xD0]), Some('中'));
        assert_eq!(gb18030_char(&[0xA3, 0xA4]), Some('￥'));
        assert_eq!(gb18030_char(&[0x81, 0x30, 0x84, 0x36]), Some('¥'));
        // A lead byte with a trail byte GB18030 has no code for.
        assert_eq!(gb18030_char(&[0x81, 0x0A]), None);
        assert_eq!(gb18030_char(&[0xD6, 0x7F]), None);
    }

    #[test]
    fn scaling_is_nearest_neighbour() {
        let g = glyph('中').unwrap();
        assert!(g.is_fullwidth());
        let mut same = 0;
        scaled(g, 16, 16, |x, y| {
            assert!(g.get_pixel(x, y));
            same += 1;
        });
        let mut big = 0;
        scaled(g, 24, 24, |x, y| {
            assert!(g.get_pixel(x * 2 / 3, y * 2 / 3));
            big += 1;
        });
        // Every glyph pixel becomes 1, 2 or 4 dots: in between 1× and 4× as many.
        assert!(big > same && big < 4 * same, "{same} {big}");
    }
}

//! End-to-end tests of the preview: receipts and QR blocks from `escpos`/`receipt` rendered
//! and their QR codes decoded, and hand-written byte streams checked dot by dot.

use super::*;
use crate::escpos::{self, EscPos, Layout, QrStyle, TextMode};
use crate::receipt::{self, Line, Receipt};

const URL: &str = "weixin://wxpay/bizpayurl?pr=Ab3dE9x";

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
        total: crate::money::Money::cny(3200),
        code_url: URL.into(),
        footer: "谢谢 Thank you".into(),
        out_trade_no: "T20261126120005".into(),
        time: "2026-11-26 12:00:05".into(),
        sandbox,
        reprint: false,
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
                assert_eq!(decode_qrs(&bitmap), vec![URL.to_string()], "{layout:?}");
            }
        }
    }
}

#[test]
fn unscaled_raster_round_trips() {
    for layout in [Layout::MM80, Layout::MM58] {
        let bytes = escpos::qr_raster_scaled(URL, &layout, false);
        let bitmap = render(&bytes, usize::from(layout.width_dots)).unwrap();
        assert_eq!(decode_qrs(&bitmap), vec![URL.to_string()]);
    }
}

#[test]
fn scaled_and_unscaled_raster_draw_the_same_picture() {
    let a = render(&escpos::qr_raster_scaled(URL, &Layout::MM80, true), 576).unwrap();
    let b = render(&escpos::qr_raster_scaled(URL, &Layout::MM80, false), 576).unwrap();
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
    let native = render(&escpos::qr_native_block(URL, 6), 576).unwrap();
    let raster = render(&escpos::qr_raster(URL, &Layout::MM80), 576).unwrap();
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
        assert_eq!(decode_qrs(&bitmap), vec![receipt::TEST_QR_DATA.to_string()]);
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
    // The first hanzi is Unifont's 中 at ×1.5: its vertical stroke runs down the middle.
    assert!((4..20).all(|y| b.get(12, y) || b.get(11, y)));
    // A code GB18030 has no character for is a box: its top edge is a solid run.
    let undefined = render(&[0x1C, 0x26, 0xD6, 0x7F, 0x1C, 0x2E, b'\n'], 576).unwrap();
    assert!((2..22).all(|x| undefined.get(x, 2)));
    // Without FS & the same bytes are single-width '?' glyphs.
    let raw = render(&[0xD6, 0xD0, b'\n'], 576).unwrap();
    let (_, r) = ink_columns(&raw, 0, 30).unwrap();
    assert!(r < 24);
    // A 4-byte GB18030 sequence (¥ U+00A5) is one double-width character: its halfwidth
    // glyph centred in the 24-dot cell, and the 'X' after it in the next column pair.
    let four = render(
        &[0x1C, 0x26, 0x81, 0x30, 0x84, 0x36, 0x1C, 0x2E, b'X', b'\n'],
        576,
    )
    .unwrap();
    let yen = ink_columns(&four, 0, 30).map(|(l, _)| l).unwrap();
    assert!((6..18).contains(&yen), "{yen}");
    let spaced_x = render(b"  X\n", 576).unwrap();
    assert!((24..576).all(|x| (0..30).all(|y| four.get(x, y) == spaced_x.get(x, y))));
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
        text: TextMode::CodePage(16),
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
        &escpos::REALTIME_DISABLE[..],
        b"\x1c.",
        b"\x1bt\x10",
        b"\x1bt\x00",
    ] {
        let bytes = [b"A", noise, b"B\n"].concat();
        assert_eq!(render(&bytes, 576).unwrap(), plain, "{noise:02X?}");
    }
    // After GS ( D the raster still draws.
    let img = [
        &escpos::REALTIME_DISABLE[..],
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

#[test]
fn sizes_apply_per_kind_of_character() {
    // 中 (FS & D6 D0 FS .) then X, after the mode bytes given.
    let line = |modes: &[u8]| render(&[modes, b"\x1c&\xd6\xd0\x1c.X\n"].concat(), 576).unwrap();
    let plain = line(b"");
    assert_eq!(plain.height, LINE_SPACING);
    // FS ! 0C: Chinese quadruple (48 × 48), X unchanged after it, bottom-aligned.
    let fs = line(b"\x1c!\x0c");
    assert_eq!(fs.height, 48);
    let (_, r) = ink_columns(&fs, 0, 48).unwrap();
    assert!((48..60).contains(&r), "{r}");
    assert!(
        ink_columns(&fs, 0, 24).unwrap().1 < 48,
        "X is in the lower half"
    );
    assert_eq!(line(b"\x1cW\x01"), fs);
    // ESC ! 30: X quadruple (24 × 48), 中 unchanged.
    let esc = line(b"\x1b!\x30");
    assert_eq!(esc.height, 48);
    let (l, r) = ink_columns(&esc, 0, 24).unwrap();
    assert!(l >= 24 && r < 48, "only X reaches the upper half: {l} {r}");
    // GS ! sets both; the last command received wins.
    let gs = line(b"\x1d!\x11");
    let (l, r) = ink_columns(&gs, 0, 24).unwrap();
    assert!(l < 24 && (48..72).contains(&r), "{l} {r}");
    assert_eq!(line(b"\x1d!\x11\x1c!\x00"), esc);
    assert_eq!(line(b"\x1c!\x0c\x1b@"), plain);
}

#[test]
fn font_b_draws_unscaled_glyphs_in_9_by_17_cells() {
    let b = render(b"\x1b!\x01XX\n", 576).unwrap();
    let x = unifont::get_glyph('X').unwrap();
    for (dx, dy) in (0..9).flat_map(|dx| (0..17).map(move |dy| (dx, dy))) {
        assert_eq!(b.get(dx, dy), x.get_pixel(dx, dy), "({dx}, {dy})");
        assert_eq!(b.get(9 + dx, dy), x.get_pixel(dx, dy), "({dx}, {dy})");
    }
    assert_eq!(render(b"\x1bM\x01XX\n", 576).unwrap(), b);
    assert_eq!(
        render(b"\x1bM1\x1bM0XX\n", 576).unwrap(),
        render(b"XX\n", 576).unwrap()
    );
}

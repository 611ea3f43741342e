//! The ESC/POS receipt renderer (`receipt::encode`) under arbitrary receipts — titles, item
//! names, footers, order numbers and times with CJK, emoji and control characters, amounts
//! from −10¹⁰ to 10¹⁰ in several currencies, `code_url`s up to what a QR code holds — on
//! every printer profile's layout, raster and native QR: it never panics, the stream is
//! whole ESC/POS (the preview renders it), the QR part keeps the bounds of `docs/escpos.md`
//! §1 and §2, the QR printed decodes back to the `code_url`, and no control character of
//! user text ever reaches the printer as a byte.

use proptest::collection::vec;
use proptest::prelude::*;
use proptest::sample::select;
use wxprint::escpos::{
    EscPos, Layout, MAX_QR_BYTES, QrStyle, TextMode, native_module_dots, qr_native_block, qr_raster,
};
use wxprint::money::{Currency, GLOBAL_CURRENCIES, Money};
use wxprint::printer::profile;
use wxprint::protocol::MAX_AMOUNT;
use wxprint::receipt::{Line, Receipt, encode};

use crate::config;
use crate::qr::decode_qr;

/// Characters of user text: printable, CJK, Latin-1, emoji, C0 and C1 controls, anything.
fn any_char() -> impl Strategy<Value = char> {
    prop_oneof![
        4 => proptest::char::range(' ', '~'),
        3 => proptest::char::range('\u{4e00}', '\u{9fa5}'),
        1 => proptest::char::range('\u{a0}', '\u{17f}'),
        1 => proptest::char::range('\u{1f300}', '\u{1f64f}'),
        1 => proptest::char::range('\0', '\u{1f}'),
        1 => proptest::char::range('\u{7f}', '\u{9f}'),
        1 => Just('\u{a5}'),
        1 => Just('\u{ffe5}'),
        1 => any::<char>(),
    ]
}

fn text(max: usize) -> impl Strategy<Value = String> {
    vec(any_char(), 0..=max).prop_map(String::from_iter)
}

/// A `code_url` as WeChat Pay gives it, usually short, now and then up to the most a QR
/// code holds (and a little beyond, where the receipt prints it as text instead).
fn code_url() -> impl Strategy<Value = String> {
    let tail = prop_oneof![
        8 => "[A-Za-z0-9]{1,40}",
        1 => "[A-Za-z0-9&=?_-]{40,400}",
        1 => (1usize..=MAX_QR_BYTES + 64).prop_map(|n| "x".repeat(n)),
    ];
    tail.prop_map(|t| format!("weixin://wxpay/bizpayurl?pr={t}"))
}

fn amount() -> impl Strategy<Value = i64> {
    prop_oneof![
        -MAX_AMOUNT..=MAX_AMOUNT,
        -1000i64..=1000,
        Just(-MAX_AMOUNT),
        Just(MAX_AMOUNT)
    ]
}

/// Any receipt (the renderer's input is not validated again: it must take anything).
fn receipt(url: impl Strategy<Value = String>) -> impl Strategy<Value = Receipt> {
    let lines = vec((text(80), any::<u32>(), amount()), 0..6).prop_map(|lines| {
        let line = |(name, quantity, amount)| Line {
            name,
            quantity,
            amount,
        };
        lines.into_iter().map(line).collect()
    });
    let total = (1..=MAX_AMOUNT, select(&GLOBAL_CURRENCIES[..]))
        .prop_map(|(minor, code)| Money::new(minor, Currency::new(code)));
    let trailer = (text(300), text(40), text(30), any::<bool>(), any::<bool>());
    (text(80), lines, total, url, trailer).prop_map(|(title, lines, total, code_url, trailer)| {
        let (footer, out_trade_no, time, sandbox, reprint) = trailer;
        Receipt {
            title,
            lines,
            total,
            code_url,
            footer,
            out_trade_no,
            time,
            sandbox,
            reprint,
        }
    })
}

/// Every printer profile's layout, with a raster and with a native QR.
fn layouts() -> Vec<Layout> {
    let names = profile::names();
    let profiles = names.split(", ").filter_map(profile::find);
    profiles
        .flat_map(|p| [p.layout(QrStyle::Raster), p.layout(QrStyle::Native)])
        .collect()
}

fn layout() -> impl Strategy<Value = Layout> {
    select(layouts())
}

/// Where `needle` first occurs in `haystack`.
fn find(haystack: &[u8], needle: &[u8]) -> Option<usize> {
    haystack.windows(needle.len()).position(|w| w == needle)
}

/// The receipt's QR part as the layout sends it.
fn qr_part(url: &str, layout: &Layout) -> Vec<u8> {
    match layout.qr {
        QrStyle::Raster => qr_raster(url, layout),
        QrStyle::Native => qr_native_block(url, native_module_dots(url, layout)),
    }
}

/// `docs/escpos.md` §2: every `GS v 0` block of a raster QR part has at most 255 rows, fits
/// the paper (bytes per row × 8 dots, doubled when the printer scales), carries exactly
/// x × y data bytes, and no data byte is `DLE` (modules are two dots or more).
fn check_raster(part: &[u8], layout: &Layout) -> Result<(), TestCaseError> {
    let mut at = 0;
    let mut blocks = 0;
    while let Some(start) = find(&part[at..], &[0x1D, b'v', b'0']) {
        let h = &part[at + start..];
        prop_assert!(h.len() >= 8, "a cut-off GS v 0 header");
        let scale = if h[3] == 3 { 2 } else { 1 };
        let x = usize::from(u16::from_le_bytes([h[4], h[5]]));
        let y = usize::from(u16::from_le_bytes([h[6], h[7]]));
        prop_assert!(y <= 255, "{y} rows in one block");
        prop_assert!(
            x * 8 * scale <= usize::from(layout.width_dots),
            "{x} bytes a row"
        );
        prop_assert!(h.len() >= 8 + x * y, "raster data cut short");
        prop_assert!(!h[8..8 + x * y].contains(&0x10), "DLE in raster data");
        at += start + 8 + x * y;
        blocks += 1;
    }
    prop_assert!(blocks > 0 || find(part, b"[QR code too").is_some());
    Ok(())
}

/// `docs/escpos.md` §1: a native QR costs 41 bytes plus the URL (at most [`MAX_QR_BYTES`]).
fn check_native(part: &[u8], url: &str) -> Result<(), TestCaseError> {
    let stored = url.len().min(MAX_QR_BYTES);
    let start = find(part, &[0x1D, b'(', b'k', 4, 0, 0x31, 0x41]).expect("fn 165");
    let end = find(part, &[0x1D, b'(', b'k', 3, 0, 0x31, 0x51, 0x30]).expect("fn 181") + 8;
    prop_assert_eq!(end - start, 41 + stored);
    let [pl, ph] = u16::try_from(stored + 3).expect("≤ 7092").to_le_bytes();
    prop_assert!(find(part, &[0x1D, b'(', b'k', pl, ph, 0x31, 0x50, 0x30]).is_some());
    Ok(())
}

/// The receipt's text: title, item names, order number, time and footer.
fn texts(r: &Receipt) -> Vec<&str> {
    let mut texts = vec![&*r.title, &r.footer, &r.out_trade_no, &r.time];
    texts.extend(r.lines.iter().map(|l| &*l.name));
    texts
}

/// Characters of the receipt's text, to bound its bytes.
fn text_chars(r: &Receipt) -> usize {
    texts(r).iter().map(|s| s.chars().count()).sum()
}

/// `r` with every control character of its text replaced by a space.
fn without_controls(r: &Receipt) -> Receipt {
    let clean = |s: &str| -> String {
        s.chars()
            .map(|c| if c.is_control() { ' ' } else { c })
            .collect()
    };
    let mut r = r.clone();
    for s in [
        &mut r.title,
        &mut r.footer,
        &mut r.out_trade_no,
        &mut r.time,
    ] {
        *s = clean(s);
    }
    for line in &mut r.lines {
        line.name = clean(&line.name);
    }
    r
}

/// `bytes` without the `FS &` / `FS .` pairs (one pass, left to right).
fn unframed(bytes: &[u8]) -> Vec<u8> {
    let mut out = Vec::with_capacity(bytes.len());
    let mut i = 0;
    while i < bytes.len() {
        if bytes[i] == 0x1C && matches!(bytes.get(i + 1), Some(b'&' | b'.')) {
            i += 2;
            continue;
        }
        out.push(bytes[i]);
        i += 1;
    }
    out
}

proptest! {
    #![proptest_config(config(96))]

    /// Never a panic; ESC @ first and the cut last; one QR part within the bounds of
    /// `docs/escpos.md`; everything else grows with the text only: a row is at most the
    /// paper's columns, so at most 4 × columns + 8 bytes, and there are at most as many
    /// rows as characters of text, plus three per item line and a fixed frame.
    #[test]
    fn any_receipt_renders_within_bounds(r in receipt(code_url()), layout in layout()) {
        let bytes = encode(&r, &layout);
        prop_assert_eq!(&bytes[..2], &[0x1B, b'@']);
        let part = qr_part(&r.code_url, &layout);
        let at = find(&bytes, &part);
        prop_assert!(at.is_some(), "the QR part is in the receipt");
        match layout.qr {
            QrStyle::Raster => check_raster(&part, &layout)?,
            QrStyle::Native => check_native(&part, &r.code_url)?,
        }
        let columns = usize::from(layout.columns);
        let rows = text_chars(&r) + 3 * r.lines.len() + 32;
        prop_assert!(
            bytes.len() - part.len() <= (4 * columns + 8) * rows,
            "{} bytes besides the QR for {rows} rows", bytes.len() - part.len()
        );
        let rendered = wxprint::preview::render(&bytes, usize::from(layout.width_dots));
        prop_assert!(rendered.is_ok(), "not whole ESC/POS: {:?}", rendered.err());
    }

    /// What a control character in user text prints is a space: the receipt's bytes are
    /// those of the same receipt with spaces instead, so an ESC or GS in a title is never a
    /// printer command. (Up to the `FS &` / `FS .` framing of Chinese runs: a C1 control
    /// inside a run stays in it as a space, where a typed space would close it.)
    #[test]
    fn control_characters_in_text_print_as_spaces(
        r in receipt("[A-Za-z0-9]{1,20}".prop_map(|t| format!("weixin://wxpay/bizpayurl?pr={t}"))),
        layout in layout(),
    ) {
        let clean = without_controls(&r);
        prop_assert_eq!(unframed(&encode(&r, &layout)), unframed(&encode(&clean, &layout)));
        // Without C1 controls, byte for byte.
        let c1 = |c: char| ('\u{80}'..='\u{9f}').contains(&c);
        if !texts(&r).iter().any(|s| s.chars().any(c1)) {
            prop_assert_eq!(encode(&r, &layout), encode(&clean, &layout));
        }
    }

    /// Text as the builder encodes it has no control byte besides the `FS &` / `FS .` that
    /// frame Chinese runs, whatever the characters and the text mode.
    #[test]
    fn encoded_text_has_no_control_bytes(
        s in text(200),
        mode in select(vec![TextMode::Chinese, TextMode::CodePage(0), TextMode::CodePage(16)]),
    ) {
        let mut out = EscPos::new().with_text_mode(mode);
        out.text(&s);
        let mut bytes = out.into_bytes();
        for frame in [[0x1C, b'&'], [0x1C, b'.']] {
            while let Some(at) = find(&bytes, &frame) {
                bytes.drain(at..at + 2);
            }
        }
        prop_assert!(!bytes.iter().any(|&b| b < 0x20 || b == 0x7F), "{:02X?}", bytes);
    }
}

proptest! {
    #![proptest_config(config(24))]

    /// The QR printed, read back through the preview and a QR reader, is the `code_url`.
    #[test]
    fn the_qr_decodes_back_to_the_code_url(
        r in receipt(prop_oneof![
            4 => "[A-Za-z0-9]{1,40}",
            1 => "[A-Za-z0-9&=?_-]{40,300}",
        ].prop_map(|t| format!("weixin://wxpay/bizpayurl?pr={t}"))),
        layout in layout(),
    ) {
        let bytes = encode(&r, &layout);
        prop_assert_eq!(decode_qr(&bytes, usize::from(layout.width_dots)), vec![r.code_url.clone()]);
    }
}

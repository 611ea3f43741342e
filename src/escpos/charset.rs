//! How text reaches the printer: the [`TextMode`], the bytes of each character, and the print
//! width of a string (font A columns) as it will be sent.
//!
//! User text goes through [`EscPos::text`](super::EscPos::text), which replaces every control
//! character by a space, so it can never inject a command, and encodes the rest for the
//! layout's [`TextMode`]:
//! - [`TextMode::Chinese`]: ASCII as is; runs of other characters as `FS &`, 2-byte GB18030
//!   codes, `FS .`. A character GB18030 only has a 4-byte code for prints as `?` (cheap printers
//!   only know the 2-byte area), except `¥` U+00A5, which prints as the full-width `￥`
//!   (`A3 A4`). The job starts with `FS .` after `ESC @`, because Chinese-market printers power
//!   up in Chinese mode and would read Latin-1 bytes as halves of hanzi.
//! - [`TextMode::CodePage`]: `ESC t n` after `ESC @`, then one byte per character in that
//!   code page (see [`code_page_encoding`]); anything the page lacks prints as `?`, and the
//!   yuan sign as the page's `¥` where it has one, else as `RMB `.
//!
//! Nothing here knows about lines, wrapping or receipts.

use encoding_rs::{EncoderResult, Encoding, GB18030};

use super::FS;

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

/// Appends `s` encoded for `mode` (see the module docs); control characters (C0, DEL, C1)
/// become spaces.
///
/// In Chinese mode a run of non-ASCII characters goes between one `FS &` and one `FS .`
/// (a `?` or space standing for a character inside the run stays inside it); ASCII is
/// always sent outside.
pub(super) fn push_text(buf: &mut Vec<u8>, s: &str, mode: TextMode) {
    if s.is_ascii() {
        buf.extend(
            s.bytes()
                .map(|b| if b < 0x20 || b == 0x7F { b' ' } else { b }),
        );
        return;
    }
    let mut in_gb = false;
    for c in s.chars() {
        match char_code(c, mode) {
            Code::Gb(pair) => {
                if !in_gb {
                    buf.extend_from_slice(&[FS, b'&']);
                    in_gb = true;
                }
                buf.extend_from_slice(&pair);
            }
            Code::Byte(b) => {
                if in_gb && c.is_ascii() {
                    buf.extend_from_slice(&[FS, b'.']);
                    in_gb = false;
                }
                buf.push(b);
            }
            Code::Str(s) => buf.extend_from_slice(s.as_bytes()),
        }
    }
    if in_gb {
        buf.extend_from_slice(&[FS, b'.']);
    }
}

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
    encode_char(GB18030, c, 2).map(|b| [b[0], b[1]])
}

/// The byte of `c` in a single-byte `encoding`; `None` where it has none.
fn single_byte(encoding: &'static Encoding, c: char) -> Option<u8> {
    encode_char(encoding, c, 1).map(|b| b[0])
}

/// `c` in `encoding` if it takes exactly `len` bytes there (without replacement characters).
fn encode_char(encoding: &'static Encoding, c: char, len: usize) -> Option<[u8; 4]> {
    let mut src = [0u8; 4];
    let src = c.encode_utf8(&mut src);
    let mut dst = [0u8; 4];
    let (result, _, written) = encoding
        .new_encoder()
        .encode_from_utf8_without_replacement(src, &mut dst, true);
    (result == EncoderResult::InputEmpty && written == len).then_some(dst)
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

/// Print width of `s` in font A columns as [`EscPos::text`](super::EscPos::text) sends it in
/// `mode`.
pub fn text_width_in(s: &str, mode: TextMode) -> usize {
    if s.is_ascii() {
        return s.len();
    }
    s.chars().map(|c| char_code(c, mode).width()).sum()
}

/// Print width of one character in font A columns as sent in `mode`.
pub(crate) fn char_width(c: char, mode: TextMode) -> usize {
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

#[cfg(test)]
mod tests {
    use super::*;
    use crate::escpos::EscPos;
    use crate::escpos::testing::{bytes, hex};

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
    fn widths_and_truncation() {
        assert_eq!(text_width("abc"), 3);
        assert_eq!(text_width("牛角包"), 6);
        assert_eq!(text_width("￥1.00"), 6);
        assert_eq!(truncate_to_width("牛角包", 5), "牛角");
        assert_eq!(truncate_to_width("abc", 5), "abc");
        assert_eq!(truncate_to_width("abc", 0), "");
    }
}

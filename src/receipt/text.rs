//! Text set in columns: wrapping and item lines.
//!
//! Receipt text wraps to the layout's columns ([`wrap`]): CJK characters are two columns wide
//! and may break anywhere, Latin text breaks at spaces (or hard at the margin when a word is
//! longer than the line). Nothing is truncated. Widths come from `escpos` (as the text will
//! be encoded); this file decides only where lines break and what stands beside what.

use crate::escpos::{EscPos, TextMode, char_width, text_width_in};

/// Continuation lines of a wrapped item name are indented this many columns.
pub const ITEM_INDENT: usize = 2;

/// Narrowest line that still puts an item name beside its amount; below this the amount
/// gets a line of its own.
const MIN_NAME_COLUMNS: usize = 4;

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

/// Wrapped lines of `s` at `columns`, each followed by `LF`.
pub(super) fn wrapped_lines(out: &mut EscPos, s: &str, columns: usize) {
    let mode = out.text_mode();
    for line in wrap(s, columns, columns, mode) {
        out.line(line);
    }
}

/// An item line, `columns` wide: `name` wrapped (continuation lines indented by
/// [`ITEM_INDENT`]), `suffix` (e.g. " x 2") after the name where it fits, else on the next
/// line, and `amount` flush right on the first line. If the amount leaves less than
/// [`MIN_NAME_COLUMNS`] beside it, it goes flush right on a line after the name.
pub(super) fn item_line(out: &mut EscPos, name: &str, suffix: &str, amount: &str, columns: usize) {
    let mode = out.text_mode();
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

#[cfg(test)]
mod tests {
    use super::*;
    use crate::escpos::text_width;

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
        assert_eq!(
            crate::escpos::testing::hex(&b[25..]),
            "1C 26 A3 A4 1C 2E 32 34 2E 30 30 0A"
        );
        for columns in [32, 48] {
            let b = item(columns, TextMode::Chinese, "Tea", " x 1", "￥8.00");
            let line = format!("Tea x 1{}￥8.00", " ".repeat(columns - 7 - 6));
            assert_eq!(b, zh_lines(&[&line]), "{columns}");
        }
    }

    #[test]
    fn long_names_wrap_never_truncate() {
        let hanzi = "牛角包牛角包牛角包牛角包牛角包";
        let latin = "Double shot oat milk flat white with extra foam";
        let word = "Supercalifragilisticexpialidocious-espresso";
        let mixed = "拿铁 Latte 燕麦奶 oat milk 大杯";
        #[rustfmt::skip]
        let cases: [(usize, &str, &str, &str, &[&str]); 6] = [
            // Chinese name, 15 hanzi = 30 columns. 32 columns: 32 - 6 (amount) - 1 = 25 beside
            // the amount → 12 hanzi; continuation indented by 2; " x 1" fits after the rest.
            (32, hanzi, " x 1", "￥8.00", &["牛角包牛角包牛角包牛角包  ￥8.00", "  牛角包 x 1"]),
            // 48 columns: 48 - 7 = 41 beside → 20 hanzi, all of it, suffix too (30 + 4 ≤ 41),
            // then 48 - 34 - 6 = 8 spaces.
            (48, hanzi, " x 1", "￥8.00", &["牛角包牛角包牛角包牛角包牛角包 x 1        ￥8.00"]),
            // Latin name breaks at spaces; 32 - 8 - 1 = 23 beside the amount.
            (32, latin, " x 12", "￥132.00", &[
                "Double shot oat milk    ￥132.00",
                "  flat white with extra foam",
                "  x 12",
            ]),
            // 48 - 9 = 39 beside.
            (48, latin, " x 12", "￥132.00", &[
                "Double shot oat milk flat white with    ￥132.00",
                "  extra foam x 12",
            ]),
            // A word longer than the line is cut at the margin, nothing is lost.
            (32, word, " x 1", "￥5.00", &[
                "Supercalifragilisticexpia ￥5.00",
                "  lidocious-espresso x 1",
            ]),
            // Mixed: CJK breaks anywhere, Latin at spaces.
            (32, mixed, " x 1", "￥28.00", &["拿铁 Latte 燕麦奶 oat    ￥28.00", "  milk 大杯 x 1"]),
        ];
        for (columns, name, suffix, amount, lines) in cases {
            let b = item(columns, TextMode::Chinese, name, suffix, amount);
            assert_eq!(b, zh_lines(lines), "{columns}: {name}");
        }
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
}

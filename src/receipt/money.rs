//! Money as printed on a receipt: fen → "￥32.00". (A later step replaces this by a `Money`
//! type shared with the CLI.) Knows the yuan sign, not how it is encoded for a printer.

use std::fmt::Write as _;

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
/// code-page layout [`EscPos::text`](crate::escpos::EscPos::text) prints the sign as the
/// page's `¥` or `RMB `.)
pub fn format_amount(fen: i64) -> String {
    let mut s = String::with_capacity(16);
    write_amount(&mut s, fen);
    s
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn amounts() {
        assert_eq!(format_amount(3200), "￥32.00");
        assert_eq!(format_amount(5), "￥0.05");
        assert_eq!(format_amount(0), "￥0.00");
        assert_eq!(format_amount(123_456_789), "￥1234567.89");
        assert_eq!(format_amount(-150), "-￥1.50");
        assert!(!format_amount(1).contains('\u{a5}'));
    }
}

//! The checkout receipt, top to bottom: [`encode`] = header (title, reprint and sandbox
//! notices) + items
//! (lines, rule, total) + payment block (QR, how to pay) + trailer (order number, time,
//! footer), then the layout's cut. Decides order and alignment only; the bytes come from the
//! `escpos` builder.

use std::fmt::Write as _;

use super::text::{item_line, wrap, wrapped_lines};
use super::{REPRINT_NOTICE, REPRINT_NOTICE_LATIN, Receipt};
use crate::escpos::{Align, EscPos, Layout, TextMode};

/// The whole receipt as ESC/POS bytes.
///
/// Title (double size, wrapped at half the columns, centred), item lines (name wrapped,
/// amount flush right on its first line), total, the QR in the layout's style, the payment
/// hint, order number and time, footer (wrapped, centred), then the layout's cut.
pub fn encode(receipt: &Receipt, layout: &Layout) -> Vec<u8> {
    let columns = usize::from(layout.columns.max(1));
    let mut out = EscPos::start(layout, 1536 + 2 * text_len(receipt, columns));
    header(&mut out, receipt, columns);
    items(&mut out, receipt, columns);
    payment(&mut out, receipt, layout, columns);
    trailer(&mut out, receipt, columns);
    out.finish(layout.cut);
    out.into_bytes()
}

/// A generous guess of the text bytes, for the buffer's capacity.
fn text_len(receipt: &Receipt, columns: usize) -> usize {
    receipt.title.len()
        + receipt.footer.len()
        + receipt.out_trade_no.len()
        + receipt.time.len()
        + receipt
            .lines
            .iter()
            .map(|l| l.name.len() + columns + 24)
            .sum::<usize>()
}

/// The sandbox notice that fits `columns`.
pub(super) fn sandbox_notice(columns: usize) -> &'static str {
    const LONG: &str = "*** SANDBOX - NOT A REAL PAYMENT ***";
    if columns >= LONG.len() {
        LONG
    } else {
        "SANDBOX - NOT A REAL PAYMENT"
    }
}

/// Title (double size, centred, wrapped at half the columns), the reprint notice (bold,
/// centred, in Chinese too where the printer can) and the sandbox notice, then a blank line.
fn header(out: &mut EscPos, receipt: &Receipt, columns: usize) {
    let half = (columns / 2).max(1);
    let title = wrap(&receipt.title, half, half, out.text_mode());
    if !title.is_empty() {
        out.align(Align::Center).bold(true).size(2, 2);
        for line in title {
            out.line(line);
        }
        out.size(1, 1).bold(false);
    }
    if receipt.reprint {
        let notice = match out.text_mode() {
            TextMode::Chinese => REPRINT_NOTICE,
            _ => REPRINT_NOTICE_LATIN,
        };
        out.align(Align::Center).bold(true);
        wrapped_lines(out, notice, columns);
        out.bold(false);
    }
    if receipt.sandbox {
        out.align(Align::Center).bold(true);
        wrapped_lines(out, sandbox_notice(columns), columns);
        out.bold(false);
    }
    out.align(Align::Left).lf();
}

/// One item line per [`Line`](super::Line), a rule, and the bold total.
fn items(out: &mut EscPos, receipt: &Receipt, columns: usize) {
    let mut scratch = String::with_capacity(32);
    let mut amount = String::with_capacity(24);
    for line in &receipt.lines {
        scratch.clear();
        // Writing into a String cannot fail.
        let _ = write!(scratch, " x {}", line.quantity);
        amount.clear();
        let _ = write!(amount, "{}", receipt.total.with_minor(line.amount));
        item_line(out, &line.name, &scratch, &amount, columns);
    }
    out.repeat(b'-', columns).lf();
    amount.clear();
    let _ = write!(amount, "{}", receipt.total);
    out.bold(true);
    item_line(out, "TOTAL", "", &amount, columns);
    out.bold(false);
}

/// The QR in the layout's style, how to pay (in Chinese too where the printer can), and the
/// sandbox notice again, then a blank line.
fn payment(out: &mut EscPos, receipt: &Receipt, layout: &Layout, columns: usize) {
    out.qr_block(&receipt.code_url, layout);
    out.align(Align::Center);
    wrapped_lines(out, "WeChat Pay: scan to pay", columns);
    if layout.text == TextMode::Chinese {
        wrapped_lines(out, "微信扫码支付", columns);
    }
    if receipt.sandbox {
        out.bold(true);
        wrapped_lines(out, sandbox_notice(columns), columns);
        out.bold(false);
    }
    out.align(Align::Left).lf();
}

/// Order number, time, and the footer (centred, after a blank line).
fn trailer(out: &mut EscPos, receipt: &Receipt, columns: usize) {
    let number = ["No. ", &receipt.out_trade_no].concat();
    wrapped_lines(out, &number, columns);
    wrapped_lines(out, &receipt.time, columns);
    let footer = wrap(&receipt.footer, columns, columns, out.text_mode());
    if !footer.is_empty() {
        out.lf().align(Align::Center);
        for line in footer {
            out.line(line);
        }
        out.align(Align::Left);
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::escpos::testing::{count, find, hex, unhex};
    use crate::escpos::{QrStyle, text_width};
    use crate::money::Money;
    use crate::receipt::Line;

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
            total: Money::cny(3200),
            code_url: "weixin://wxpay/bizpayurl?pr=Ab3dE9x".into(),
            footer: "Thank you! 谢谢".into(),
            out_trade_no: "T20261126120005".into(),
            time: "2026-11-26 12:00:05".into(),
            sandbox: false,
            reprint: false,
        }
    }

    fn cafe(title: &str, name: &str, amount: i64) -> Receipt {
        Receipt {
            title: title.into(),
            lines: vec![Line {
                name: name.into(),
                quantity: 1,
                amount,
            }],
            total: Money::cny(amount),
            code_url: "weixin://wxpay/bizpayurl?pr=Ab3dE9x1".into(),
            footer: String::new(),
            out_trade_no: "T1".into(),
            time: String::new(),
            sandbox: false,
            reprint: false,
        }
    }

    #[test]
    fn golden_chinese_receipt_head() {
        let b = encode(&cafe("咖啡小站", "拿铁 Latte", 2800), &Layout::MM58);
        let expected = unhex(
            "1B 40 1C 2E
             1B 61 01 1B 45 01 1D 21 11
             1C 26 BF A7 B7 C8 D0 A1 D5 BE 1C 2E 0A
             1D 21 00 1B 45 00
             1B 61 00 0A
             1C 26 C4 C3 CC FA 1C 2E 20 4C 61 74 74 65 20 78 20 31
             20 20 20 20 20 20 20 20 20 20 20
             1C 26 A3 A4 1C 2E 32 38 2E 30 30 0A",
        );
        assert_eq!(hex(&b[..expected.len()]), hex(&expected));
        // "拿铁 Latte x 1" (14 columns) + 11 spaces + "￥28.00" (7) = 32 columns.
        assert_eq!(
            text_width("拿铁 Latte x 1") + 11 + text_width("￥28.00"),
            32
        );
        // The payment hint in Chinese: 微信扫码支付.
        assert!(
            find(
                &b,
                &unhex("1C 26 CE A2 D0 C5 C9 A8 C2 EB D6 A7 B8 B6 1C 2E 0A")
            )
            .is_some()
        );
    }

    #[test]
    fn golden_code_page_receipt_head() {
        let layout = Layout {
            text: TextMode::CodePage(16),
            ..Layout::MM58
        };
        let b = encode(&cafe("Café", "Café crème 拿铁", 550), &layout);
        let expected = unhex(
            "1B 40 1B 74 10
             1B 61 01 1B 45 01 1D 21 11
             43 61 66 E9 0A
             1D 21 00 1B 45 00
             1B 61 00 0A
             43 61 66 E9 20 63 72 E8 6D 65 20 3F 3F 20 78 20 31
             20 20 20 20 20 20 20 20 20 20
             A5 35 2E 35 30 0A",
        );
        assert_eq!(hex(&b[..expected.len()]), hex(&expected));
        // No Chinese-mode command anywhere, no Chinese hint line.
        assert!(find(&b, &[0x1C, 0x26]).is_none());
        assert!(find(&b, &[0x1C, 0x2E]).is_none());
        assert!(find(&b, b"WeChat Pay: scan to pay\n").is_some());

        // CP437 (ESC t 0): encoding_rs has no CP437, so only ASCII; ￥ becomes "RMB ".
        let layout = Layout {
            text: TextMode::CodePage(0),
            ..Layout::MM58
        };
        let b = encode(&cafe("Café", "Tea", 550), &layout);
        assert_eq!(&b[..5], &[0x1B, 0x40, 0x1B, 0x74, 0]);
        assert!(find(&b, b"Caf?\n").is_some());
        let line = format!("Tea x 1{}RMB 5.50\n", " ".repeat(32 - 7 - 8));
        assert!(find(&b, line.as_bytes()).is_some());
    }

    #[test]
    fn receipts_wrap_to_the_columns() {
        let mut r = cafe(
            "星巴克咖啡 Starbucks Reserve Roastery 上海",
            "Double shot oat milk flat white with extra foam 燕麦奶大杯",
            12_345,
        );
        r.footer = "谢谢惠顾，欢迎再次光临！ Thank you for visiting, see you again soon".into();
        for layout in [Layout::MM80, Layout::MM58] {
            let cols = usize::from(layout.columns);
            let b = encode(&r, &layout);
            // Title: double width, half the columns per line.
            for line in wrap(&r.title, cols / 2, cols / 2, TextMode::Chinese) {
                assert!(text_width(line) <= cols / 2);
                let mut e = EscPos::new();
                e.line(line);
                assert!(find(&b, e.as_bytes()).is_some(), "{line:?}");
            }
            // Every word of name and footer is printed.
            for word in [
                "Double",
                "foam",
                "麦奶大杯",
                "Thank",
                "soon",
                "欢迎再次光临！",
            ] {
                let mut e = EscPos::new();
                e.text(word);
                let mut bytes = e.as_bytes();
                if !word.is_ascii() {
                    // Without FS & / FS .: the word may be part of a longer run.
                    bytes = &bytes[2..bytes.len() - 2];
                }
                assert!(find(&b, bytes).is_some(), "{cols}: {word}");
            }
            // And it renders on that paper.
            let rendered = crate::preview::render(&b, usize::from(layout.width_dots)).unwrap();
            assert_eq!(rendered.width, usize::from(layout.width_dots));
        }
        // 48 columns: the whole item name beside the amount? 48 - 8 - 1 = 39 columns.
        let b = encode(&r, &Layout::MM80);
        let mut first = EscPos::new();
        first.line(&format!(
            "Double shot oat milk flat white with{}￥123.45",
            " ".repeat(39 - 36 + 1)
        ));
        assert!(find(&b, first.as_bytes()).is_some());
        let mut second = EscPos::new();
        second.line("  extra foam 燕麦奶大杯 x 1");
        assert!(find(&b, second.as_bytes()).is_some());
        // 32 columns: 32 - 8 - 1 = 23 beside the amount.
        let b = encode(&r, &Layout::MM58);
        let mut e = EscPos::new();
        e.line(&format!(
            "Double shot oat milk{}￥123.45",
            " ".repeat(23 - 20 + 1)
        ))
        // CJK may break anywhere: 26 + 1 + 2 fits the 30 columns after the indent.
        .line("  flat white with extra foam 燕")
        .line("  麦奶大杯 x 1");
        assert!(find(&b, e.as_bytes()).is_some());
        // The title at 32 columns: 16 per line.
        let mut e = EscPos::new();
        e.line("星巴克咖啡")
            .line("Starbucks")
            .line("Reserve Roastery")
            .line("上海");
        assert!(find(&b, e.as_bytes()).is_some());
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
            assert_eq!(&b[..4], &[0x1B, 0x40, 0x1C, 0x2E]);
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
    fn golden_reprint_notice_under_the_title() {
        let mut r = cafe("咖啡小站", "Tea", 100);
        r.reprint = true;
        let b = encode(&r, &Layout::MM58);
        // Title, then "*** 重印 REPRINT ***" bold and centred (重印 in GB18030), then the
        // blank line before the items.
        let expected = unhex(
            "1B 40 1C 2E
             1B 61 01 1B 45 01 1D 21 11
             1C 26 BF A7 B7 C8 D0 A1 D5 BE 1C 2E 0A
             1D 21 00 1B 45 00
             1B 61 01 1B 45 01
             2A 2A 2A 20 1C 26 D6 D8 D3 A1 1C 2E 20 52 45 50 52 49 4E 54 20 2A 2A 2A 0A
             1B 45 00
             1B 61 00 0A",
        );
        assert_eq!(hex(&b[..expected.len()]), hex(&expected));
        assert_eq!(count(&b, "重印".as_bytes()), 0, "never UTF-8 on paper");
        // Once, and not on a first copy.
        assert_eq!(count(&b, b"REPRINT"), 1);
        assert!(
            find(
                &encode(&cafe("咖啡小站", "Tea", 100), &Layout::MM58),
                b"REPRINT"
            )
            .is_none()
        );

        // A code-page printer has no hanzi: the notice is Latin only, never "??".
        let layout = Layout {
            text: TextMode::CodePage(16),
            ..Layout::MM58
        };
        let r = Receipt {
            reprint: true,
            ..cafe("Cafe", "Tea", 100)
        };
        let b = encode(&r, &layout);
        assert!(find(&b, b"*** REPRINT ***\n").is_some());
        assert!(find(&b, b"??").is_none());
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
}

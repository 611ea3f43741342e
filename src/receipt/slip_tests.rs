//! The slips' lines as the printer gets them: every field, amounts in their currency's
//! format, English labels without Chinese, nothing for what is absent.

use super::*;
use crate::escpos::testing::{count, find};
use crate::escpos::text_width_in;
use crate::money::Currency;

fn paid() -> PaidSlip {
    PaidSlip {
        title: "咖啡小站".into(),
        out_trade_no: "T20261126120005".into(),
        transaction_id: "4200001234202611261234567890".into(),
        time: "2026-11-26 12:00:09".into(),
        total: Money::cny(3200),
        discount: Some(Money::cny(500)),
        payer_total: Money::cny(2700),
        exchange_rate: None,
        sandbox: false,
    }
}

/// Whether `bytes` hold `line` as the builder encodes it in `mode`.
fn has_line(bytes: &[u8], mode: TextMode, line: &str) -> bool {
    let mut e = EscPos::new().with_text_mode(mode);
    e.line(line);
    find(bytes, e.as_bytes()).is_some()
}

/// `label` and `value` set in `columns` (Chinese mode), the value flush right.
fn row(label: &str, value: &str, columns: usize) -> String {
    row_in(TextMode::Chinese, label, value, columns)
}

fn row_in(mode: TextMode, label: &str, value: &str, columns: usize) -> String {
    let used = text_width_in(label, mode) + text_width_in(value, mode);
    format!("{label}{}{value}", " ".repeat(columns - used))
}

#[test]
fn a_payment_slip_has_every_field_in_chinese() {
    let b = encode_paid(&paid(), &Layout::MM80);
    let zh = TextMode::Chinese;
    assert!(has_line(&b, zh, "咖啡小站"), "the title");
    assert!(has_line(&b, zh, "微信支付 收款凭证"), "WeChat Pay as text");
    for (label, value) in [
        ("商户单号", "T20261126120005"),
        ("交易单号", "4200001234202611261234567890"),
        ("支付时间", "2026-11-26 12:00:09"),
        ("订单金额", "￥32.00"),
        ("优惠", "-￥5.00"),
        ("实付", "￥27.00"),
    ] {
        assert!(has_line(&b, zh, &row(label, value, 48)), "{label}");
    }
    assert!(find(&b, "汇率".as_bytes()).is_none() && find(&b, b"Rate").is_none());
    assert!(find(&b, b"SANDBOX").is_none());
    // The layout's cut at the end.
    assert_eq!(&b[b.len() - 7..], &[0x1B, 0x64, 3, 0x1D, 0x56, 0x42, 0x00]);
    // And `wxprint render` shows it, at the paper's width.
    let preview = crate::preview::render(&b, usize::from(Layout::MM80.width_dots)).unwrap();
    assert_eq!(preview.width, usize::from(Layout::MM80.width_dots));
}

#[test]
fn a_long_number_gets_a_line_of_its_own_on_58mm_and_no_discount_no_line() {
    let slip = PaidSlip {
        out_trade_no: "T".repeat(32),
        discount: None,
        ..paid()
    };
    let b = encode_paid(&slip, &Layout::MM58);
    let zh = TextMode::Chinese;
    assert!(has_line(&b, zh, "商户单号"));
    assert!(has_line(&b, zh, &"T".repeat(32)));
    assert!(has_line(&b, zh, &row("订单金额", "￥32.00", 32)));
    assert!(
        find(&b, "优惠".as_bytes()).is_none(),
        "no promotion, no line"
    );
}

#[test]
fn a_global_payment_slip_shows_the_cny_paid_and_the_rate() {
    let hkd = Money::new(1234, Currency::new("HKD"));
    let slip = PaidSlip {
        total: hkd,
        discount: None,
        payer_total: Money::cny(1135),
        exchange_rate: Some(92_000_000),
        ..paid()
    };
    let b = encode_paid(&slip, &Layout::MM80);
    let zh = TextMode::Chinese;
    assert!(has_line(&b, zh, &row("订单金额", "HKD 12.34", 48)));
    assert!(has_line(&b, zh, &row("实付", "￥11.35", 48)));
    assert!(has_line(&b, zh, &row("汇率", "1 HKD = 0.92 CNY", 48)));
}

#[test]
fn a_printer_without_chinese_gets_english_labels() {
    let layout = Layout {
        text: TextMode::CodePage(16),
        ..Layout::MM58
    };
    let slip = PaidSlip {
        title: "Corner Cafe".into(),
        sandbox: true,
        ..paid()
    };
    let b = encode_paid(&slip, &layout);
    let cp = TextMode::CodePage(16);
    assert!(has_line(&b, cp, "WeChat Pay - payment slip"));
    assert!(has_line(
        &b,
        cp,
        &row_in(cp, "Order No.", "T20261126120005", 32)
    ));
    assert!(has_line(&b, cp, "Transaction"));
    assert!(has_line(&b, cp, &row_in(cp, "Discount", "-￥5.00", 32)));
    assert!(
        find(&b, b"??").is_none(),
        "no Chinese label as question marks"
    );
    assert_eq!(count(&b, b"SANDBOX - NOT A REAL PAYMENT\n"), 2);
}

#[test]
fn a_refund_slip_shows_its_numbers_and_the_payers_amount_when_it_differs() {
    let slip = RefundSlip {
        title: "咖啡小站".into(),
        out_trade_no: "T20261126120005".into(),
        out_refund_no: "T20261126120005-R1".into(),
        refund_id: "50000000382019052709732678859".into(),
        time: "2026-11-26 12:30:00".into(),
        refund: Money::cny(1000),
        payer_refund: Money::cny(1000),
        sandbox: false,
    };
    let b = encode_refund(&slip, &Layout::MM80);
    let zh = TextMode::Chinese;
    assert!(has_line(&b, zh, "微信支付 退款凭证"));
    for (label, value) in [
        ("商户单号", "T20261126120005"),
        ("退款单号", "T20261126120005-R1"),
        ("微信退款单号", "50000000382019052709732678859"),
        ("退款时间", "2026-11-26 12:30:00"),
        ("退款金额", "￥10.00"),
    ] {
        assert!(has_line(&b, zh, &row(label, value, 48)), "{label}");
    }
    assert!(
        find(&b, "用户退款金额".as_bytes()).is_none(),
        "the same amount once"
    );
    let global = RefundSlip {
        refund: Money::new(1234, Currency::new("HKD")),
        payer_refund: Money::cny(1135),
        ..slip
    };
    let b = encode_refund(&global, &Layout::MM80);
    assert!(has_line(&b, zh, &row("用户退款金额", "￥11.35", 48)));
}

#[test]
fn rates_read_as_decimals() {
    for (rate, text) in [
        (92_000_000, "0.92"),
        (650_000_000, "6.50"),
        (4_812_345, "0.04812345"),
        (100_000_000, "1.00"),
        (0, "0.00"),
    ] {
        assert_eq!(rate_text(rate), text, "{rate}");
    }
}

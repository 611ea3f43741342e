//! The slips printed after the fact: a [`PaidSlip`] confirms a payment (after `paid`), a
//! [`RefundSlip`] a refund (after `refunded`). Top to bottom: the merchant's title, "微信支付"
//! as text (WeChat Pay's brand rules allow its logo only in its own colours, so no logo on
//! thermal paper) with the kind of slip, the numbers (商户单号, 交易单号 or 退款单号…), the
//! time, the amounts (each flush right in its currency's format), then the layout's cut.
//!
//! Only what the caller hands over is printed: the payer's identity (openid) is not a
//! field here, so it can never reach the paper. On a printer without Chinese (a code page)
//! the labels are English. Decides wording, order and alignment; the bytes come from
//! `escpos`, the data (and the time zone of its times) from the caller.

use super::encode::sandbox_notice;
use super::text::{item_line, wrap, wrapped_lines};
use crate::escpos::{Align, EscPos, Layout, TextMode};
use crate::money::Money;

/// What a payment slip shows.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PaidSlip {
    /// The shop's name, printed large at the top (none when empty).
    pub title: String,
    /// The merchant's order number (商户单号).
    pub out_trade_no: String,
    /// WeChat Pay's number for the payment (交易单号).
    pub transaction_id: String,
    /// When the customer paid, already formatted (支付时间).
    pub time: String,
    /// The order's amount (订单金额).
    pub total: Money,
    /// The sum of WeChat Pay's promotions (优惠), when there were any.
    pub discount: Option<Money>,
    /// What the customer paid, in their currency (实付): CNY on WeChat Pay Global.
    pub payer_total: Money,
    /// The conversion rate, when WeChat Pay converted (Global): units of the payer's
    /// currency per unit of the order's, × 10^8.
    pub exchange_rate: Option<i64>,
    /// A sandbox payment: the slip says it is not a real one.
    pub sandbox: bool,
}

/// What a refund slip shows.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RefundSlip {
    /// The shop's name, printed large at the top (none when empty).
    pub title: String,
    /// The refunded order (商户单号).
    pub out_trade_no: String,
    /// The refund's number (退款单号).
    pub out_refund_no: String,
    /// WeChat Pay's refund number (微信退款单号).
    pub refund_id: String,
    /// When the money went back, already formatted (退款时间).
    pub time: String,
    /// The amount refunded, in the order's currency (退款金额).
    pub refund: Money,
    /// What the customer got back, in their currency (用户退款金额); printed when it is
    /// not `refund` itself.
    pub payer_refund: Money,
    /// A sandbox refund: the slip says it is not a real one.
    pub sandbox: bool,
}

/// A label in Chinese, and in English for a printer without Chinese.
type Label = (&'static str, &'static str);

const PAID_HEADING: Label = ("微信支付 收款凭证", "WeChat Pay - payment slip");
const REFUND_HEADING: Label = ("微信支付 退款凭证", "WeChat Pay - refund slip");
const OUT_TRADE_NO: Label = ("商户单号", "Order No.");
const TRANSACTION_ID: Label = ("交易单号", "Transaction");
const PAID_AT: Label = ("支付时间", "Paid at");
const TOTAL: Label = ("订单金额", "Order total");
const DISCOUNT: Label = ("优惠", "Discount");
const PAYER_TOTAL: Label = ("实付", "Paid");
const RATE: Label = ("汇率", "Rate");
const OUT_REFUND_NO: Label = ("退款单号", "Refund No.");
const REFUND_ID: Label = ("微信退款单号", "WeChat refund");
const REFUNDED_AT: Label = ("退款时间", "Refunded at");
const REFUND: Label = ("退款金额", "Refund");
const PAYER_REFUND: Label = ("用户退款金额", "To the payer");

/// The payment slip as ESC/POS bytes.
pub fn encode_paid(slip: &PaidSlip, layout: &Layout) -> Vec<u8> {
    let (mut out, columns) = begin(layout, &slip.title, PAID_HEADING, slip.sandbox);
    field(&mut out, OUT_TRADE_NO, &slip.out_trade_no, columns);
    field(&mut out, TRANSACTION_ID, &slip.transaction_id, columns);
    field(&mut out, PAID_AT, &slip.time, columns);
    out.repeat(b'-', columns).lf();
    field(&mut out, TOTAL, &slip.total.to_string(), columns);
    if let Some(discount) = &slip.discount {
        let minus = discount.with_minor(-discount.minor());
        field(&mut out, DISCOUNT, &minus.to_string(), columns);
    }
    out.bold(true);
    field(
        &mut out,
        PAYER_TOTAL,
        &slip.payer_total.to_string(),
        columns,
    );
    out.bold(false);
    if let Some(rate) = slip.exchange_rate {
        let (from, to) = (
            slip.total.currency().code(),
            slip.payer_total.currency().code(),
        );
        let rate = format!("1 {from} = {} {to}", rate_text(rate));
        field(&mut out, RATE, &rate, columns);
    }
    end(out, layout, slip.sandbox, columns)
}

/// The refund slip as ESC/POS bytes.
pub fn encode_refund(slip: &RefundSlip, layout: &Layout) -> Vec<u8> {
    let (mut out, columns) = begin(layout, &slip.title, REFUND_HEADING, slip.sandbox);
    field(&mut out, OUT_TRADE_NO, &slip.out_trade_no, columns);
    field(&mut out, OUT_REFUND_NO, &slip.out_refund_no, columns);
    field(&mut out, REFUND_ID, &slip.refund_id, columns);
    field(&mut out, REFUNDED_AT, &slip.time, columns);
    out.repeat(b'-', columns).lf();
    out.bold(true);
    field(&mut out, REFUND, &slip.refund.to_string(), columns);
    out.bold(false);
    if slip.payer_refund != slip.refund {
        field(
            &mut out,
            PAYER_REFUND,
            &slip.payer_refund.to_string(),
            columns,
        );
    }
    end(out, layout, slip.sandbox, columns)
}

/// A rate × 10^8 as a decimal: 92000000 → `0.92`, 650000000 → `6.50`, 4812345 →
/// `0.04812345` (at least two decimals, no trailing zeros beyond them).
pub fn rate_text(rate: i64) -> String {
    let sign = if rate < 0 { "-" } else { "" };
    let rate = rate.unsigned_abs();
    let fraction = format!("{:08}", rate % 100_000_000);
    let fraction = fraction.trim_end_matches('0');
    format!("{sign}{}.{fraction:0<2}", rate / 100_000_000)
}

/// The label in the printer's language.
fn label(out: &EscPos, (chinese, english): Label) -> &'static str {
    match out.text_mode() {
        TextMode::Chinese => chinese,
        TextMode::CodePage(_) => english,
    }
}

/// The start of a slip: title (double size, centred, wrapped at half the columns), the
/// heading (bold, centred), the sandbox notice, a blank line.
fn begin(layout: &Layout, title: &str, heading: Label, sandbox: bool) -> (EscPos, usize) {
    let columns = usize::from(layout.columns.max(1));
    let mut out = EscPos::start(layout, 768 + title.len());
    let half = (columns / 2).max(1);
    let lines = wrap(title, half, half, out.text_mode());
    out.align(Align::Center);
    if !lines.is_empty() {
        out.bold(true).size(2, 2);
        for line in lines {
            out.line(line);
        }
        out.size(1, 1).bold(false);
    }
    let heading = label(&out, heading);
    out.bold(true);
    wrapped_lines(&mut out, heading, columns);
    out.bold(false);
    if sandbox {
        wrapped_lines(&mut out, sandbox_notice(columns), columns);
    }
    out.align(Align::Left).lf();
    (out, columns)
}

/// One field: the label, and its value flush right beside it, or on a line of its own
/// when it does not fit (a 32-character order number on 58 mm paper). Nothing for an empty
/// value.
fn field(out: &mut EscPos, name: Label, value: &str, columns: usize) {
    if value.trim().is_empty() {
        return;
    }
    let name = label(out, name);
    item_line(out, name, "", value, columns);
}

/// The end of a slip: the sandbox notice again, then the layout's cut.
fn end(mut out: EscPos, layout: &Layout, sandbox: bool, columns: usize) -> Vec<u8> {
    if sandbox {
        out.lf().align(Align::Center);
        wrapped_lines(&mut out, sandbox_notice(columns), columns);
        out.align(Align::Left);
    }
    out.finish(layout.cut);
    out.into_bytes()
}

#[cfg(test)]
#[path = "slip_tests.rs"]
mod tests;

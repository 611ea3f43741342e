//! The `checkout` op: the order to place and what the receipt shows, with the checks of
//! their shape done before anything is stored or sent (lengths, characters, ranges).
//!
//! Shape only: which currencies can be paid in is the payment backend's rule
//! (`PaymentBackend::accepts`, checked by `jobs` at checkout), not the wire's.

use serde::{Deserialize, Serialize};

use super::MAX_AMOUNT;
use super::error::RequestError;

/// `checkout`: place an order and print its QR.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Checkout {
    /// The order to place.
    pub order: Order,
    /// What the receipt shows; overrides the `[receipt]` config.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub receipt: Option<ReceiptSpec>,
    /// Keep sending the job's events after `printed` (default true).
    #[serde(default = "yes", skip_serializing_if = "is_true")]
    pub follow: bool,
    /// A technician's test order (`wxprint loopback`): it goes through the socket, the
    /// journal and the printer like any other, but is placed on the daemon's built-in
    /// sandbox, never at WeChat Pay (extension).
    #[serde(default, skip_serializing_if = "std::ops::Not::not")]
    pub loopback: bool,
    /// Print a payment slip after `paid` (extension): part of the checkout's content, like
    /// `receipt`; `receipt.paid_slip = true` in the config prints one for every order.
    #[serde(default, skip_serializing_if = "std::ops::Not::not")]
    pub slip: bool,
}

fn yes() -> bool {
    true
}

fn is_true(b: &bool) -> bool {
    *b
}

/// The order as WeChat Pay will see it.
///
/// Text limits are WeChat Pay's `string(N)`, which counts characters, not bytes: the Native
/// order's page says of `description` "不能超过127个字符" (at most 127 characters), and
/// WeChat Pay's knowledge base glosses `string(N)` as "≤N 个 UTF-8 字符"
/// (github.com/wechatpay-apiv3/wechatpay-skills, `wechatpay-product-coupon/references/
/// 1-品牌/接入指南/API接口清单.md`). The sandbox refuses the same (`payment/sandbox/limits.rs`).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Order {
    /// The merchant's order number: 6–32 of `0-9 A-Z a-z _ - | *`.
    pub out_trade_no: String,
    /// What is sold, as the customer's WeChat shows it (≤ 127 characters).
    pub description: String,
    /// How much, in fen.
    pub amount: OrderAmount,
    /// Merchant data WeChat Pay returns with the order (≤ 128 characters).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub attach: Option<String>,
    /// RFC 3339 with offset; default now + `order_ttl`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub time_expire: Option<String>,
    /// WeChat Pay's promotion tag (≤ 32 characters).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub goods_tag: Option<String>,
}

/// An order's amount.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct OrderAmount {
    /// In the currency's minor unit (fen for CNY, cents for HKD, yen for JPY).
    pub total: i64,
    /// ISO 4217 code; when the POS leaves it out, the merchant's configured currency
    /// (`wechatpay.currency`, CNY on the mainland), filled in at checkout before the order
    /// is stored. The payment backend says which it takes.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub currency: Option<String>,
}

/// What the receipt shows besides the QR; overrides the `[receipt]` config.
#[derive(Debug, Clone, PartialEq, Eq, Default, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ReceiptSpec {
    /// The receipt's heading.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub title: Option<String>,
    /// The items sold.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub lines: Option<Vec<ReceiptLine>>,
    /// Text under the QR code.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub footer: Option<String>,
}

/// One item on the receipt.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ReceiptLine {
    /// What was sold.
    pub name: String,
    /// How many (at least 1).
    pub quantity: u32,
    /// The line's total (quantity × unit price, not the unit price) in the currency's minor
    /// unit; negative for a discount or adjustment line. The lines add up to the order's
    /// total.
    pub amount: i64,
}

/// `out_trade_no`: 6–32 characters of `[0-9A-Za-z_-|*]` (WeChat Pay's rule).
pub fn validate_out_trade_no(field: &str, no: &str) -> Result<(), RequestError> {
    let ok_chars = no
        .bytes()
        .all(|b| b.is_ascii_alphanumeric() || matches!(b, b'_' | b'-' | b'|' | b'*'));
    if !(6..=32).contains(&no.len()) || !ok_chars {
        return Err(RequestError::invalid(
            field,
            format!("{no:?} must be 6 to 32 characters of 0-9 A-Z a-z _ - | *"),
        ));
    }
    Ok(())
}

/// Whose limit a text field is under, so that its error says so.
#[derive(Clone, Copy)]
enum Limit {
    /// WeChat Pay's own field limit (the order as WeChat Pay sees it).
    WechatPay,
    /// wxprint's limit for what it prints on the receipt.
    Receipt,
}

/// Text within `max` characters (Unicode scalar values: WeChat Pay's `string(N)` counts
/// characters, not bytes — see [`Order`]), none needing 4 bytes in UTF-8, no control
/// characters; `required` text must not be blank.
fn validate_text(
    field: &str,
    text: &str,
    max: usize,
    required: bool,
    limit: Limit,
) -> Result<(), RequestError> {
    if required && text.trim().is_empty() {
        return Err(RequestError::invalid(field, "must not be empty"));
    }
    let (whose, four_bytes) = match limit {
        Limit::WechatPay => ("WeChat Pay takes at most", "which WeChat Pay refuses"),
        Limit::Receipt => (
            "wxprint prints at most",
            "which wxprint does not print on a receipt",
        ),
    };
    let count = text.chars().count();
    if count > max {
        return Err(RequestError::invalid(
            field,
            format!("is {count} characters long; {whose} {max} here"),
        ));
    }
    if let Some(c) = text.chars().find(|c| c.len_utf8() == 4) {
        return Err(RequestError::invalid(
            field,
            format!(
                "contains {c:?} (U+{:04X}), {four_bytes} (a character of 4 bytes in UTF-8, e.g. an emoji)",
                c as u32
            ),
        ));
    }
    if let Some(c) = text.chars().find(|c| c.is_control()) {
        return Err(RequestError::invalid(
            field,
            format!(
                "contains the control character U+{:04X}; send plain text",
                c as u32
            ),
        ));
    }
    Ok(())
}

fn validate_amount(field: &str, minor: i64) -> Result<(), RequestError> {
    if !(1..=MAX_AMOUNT).contains(&minor) {
        return Err(RequestError::invalid(
            field,
            format!(
                "{minor} is out of range; an amount is a whole number in the currency's minor unit (fen for CNY) from 1 to {MAX_AMOUNT}"
            ),
        ));
    }
    Ok(())
}

impl Checkout {
    /// The order's and the receipt's limits, checked before anything is stored or sent.
    pub fn validate(&self) -> Result<(), RequestError> {
        let o = &self.order;
        validate_out_trade_no("order.out_trade_no", &o.out_trade_no)?;
        validate_text(
            "order.description",
            &o.description,
            127,
            true,
            Limit::WechatPay,
        )?;
        validate_amount("order.amount.total", o.amount.total)?;
        if let Some(attach) = &o.attach {
            validate_text("order.attach", attach, 128, false, Limit::WechatPay)?;
        }
        if let Some(tag) = &o.goods_tag {
            validate_text("order.goods_tag", tag, 32, false, Limit::WechatPay)?;
        }
        if let Some(t) = &o.time_expire {
            time::OffsetDateTime::parse(t, &time::format_description::well_known::Rfc3339)
                .map_err(|_| {
                    RequestError::invalid(
                        "order.time_expire",
                        format!("{t:?} is not an RFC 3339 time such as 2026-11-26T12:10:00+08:00"),
                    )
                })?;
        }
        if let Some(r) = &self.receipt {
            r.validate(o.amount.total)?;
        }
        Ok(())
    }
}

impl ReceiptSpec {
    /// wxprint's limits for the receipt; the lines, when given, add up to `total`.
    fn validate(&self, total: i64) -> Result<(), RequestError> {
        if let Some(title) = &self.title {
            validate_text("receipt.title", title, 64, false, Limit::Receipt)?;
        }
        if let Some(footer) = &self.footer {
            validate_text("receipt.footer", footer, 256, false, Limit::Receipt)?;
        }
        let lines = self.lines.as_deref().unwrap_or_default();
        for (i, line) in lines.iter().enumerate() {
            line.validate(i)?;
        }
        let sum: i128 = lines.iter().map(|l| i128::from(l.amount)).sum();
        if !lines.is_empty() && sum != i128::from(total) {
            return Err(RequestError::invalid(
                "receipt.lines",
                format!(
                    "the lines add up to {sum} but order.amount.total is {total} (both in the currency's minor unit); a line's amount is its line total (quantity × unit price), and a discount or adjustment is a line of its own with a negative amount"
                ),
            ));
        }
        Ok(())
    }
}

impl ReceiptLine {
    fn validate(&self, i: usize) -> Result<(), RequestError> {
        let name = format!("receipt.lines[{i}].name");
        validate_text(&name, &self.name, 64, true, Limit::Receipt)?;
        if !(-MAX_AMOUNT..=MAX_AMOUNT).contains(&self.amount) {
            return Err(RequestError::invalid(
                format!("receipt.lines[{i}].amount"),
                format!(
                    "{} is out of range; a line's amount is its total in the currency's minor unit, from -{MAX_AMOUNT} to {MAX_AMOUNT} (negative for a discount)",
                    self.amount
                ),
            ));
        }
        if self.quantity == 0 {
            return Err(RequestError::invalid(
                format!("receipt.lines[{i}].quantity"),
                "must be at least 1",
            ));
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn checkout(amount: &str) -> Checkout {
        let json = format!(
            r#"{{"order":{{"out_trade_no":"T0000000011","description":"x","amount":{amount}}}}}"#
        );
        serde_json::from_str(&json).unwrap()
    }

    #[test]
    fn the_currency_is_left_to_the_payment_backend() {
        let usd = checkout(r#"{"total":1,"currency":"USD"}"#);
        assert_eq!(usd.validate(), Ok(()), "a shape check only");
        assert_eq!(usd.order.amount.currency.as_deref(), Some("USD"));
        let default = checkout(r#"{"total":1}"#);
        assert_eq!(
            default.order.amount.currency, None,
            "the backend's to fill in"
        );
    }
}

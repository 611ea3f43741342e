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
}

fn yes() -> bool {
    true
}

fn is_true(b: &bool) -> bool {
    *b
}

/// The order as WeChat Pay will see it.
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
    /// Line total in fen.
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

/// Text WeChat Pay accepts: at most `max` characters, none needing 4 bytes in UTF-8.
fn validate_text(field: &str, text: &str, max: usize, required: bool) -> Result<(), RequestError> {
    if required && text.trim().is_empty() {
        return Err(RequestError::invalid(field, "must not be empty"));
    }
    if text.chars().count() > max {
        return Err(RequestError::invalid(
            field,
            format!(
                "is {} characters long; WeChat Pay allows at most {max}",
                text.chars().count()
            ),
        ));
    }
    if let Some(c) = text.chars().find(|c| c.len_utf8() == 4) {
        return Err(RequestError::invalid(
            field,
            format!(
                "contains {c:?} (U+{:04X}), which WeChat Pay refuses (4-byte UTF-8, e.g. emoji)",
                c as u32
            ),
        ));
    }
    if text.chars().any(|c| c.is_control()) {
        return Err(RequestError::invalid(field, "contains control characters"));
    }
    Ok(())
}

fn validate_amount(field: &str, fen: i64) -> Result<(), RequestError> {
    if !(1..=MAX_AMOUNT).contains(&fen) {
        return Err(RequestError::invalid(
            field,
            format!(
                "{fen} is out of range; an amount is an integer number of fen from 1 to {MAX_AMOUNT}"
            ),
        ));
    }
    Ok(())
}

impl Checkout {
    /// WeChat Pay's limits, checked before anything is stored or sent.
    pub fn validate(&self) -> Result<(), RequestError> {
        let o = &self.order;
        validate_out_trade_no("order.out_trade_no", &o.out_trade_no)?;
        validate_text("order.description", &o.description, 127, true)?;
        validate_amount("order.amount.total", o.amount.total)?;
        if let Some(attach) = &o.attach {
            validate_text("order.attach", attach, 128, false)?;
        }
        if let Some(tag) = &o.goods_tag {
            validate_text("order.goods_tag", tag, 32, false)?;
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
            if let Some(title) = &r.title {
                validate_text("receipt.title", title, 64, false)?;
            }
            if let Some(footer) = &r.footer {
                validate_text("receipt.footer", footer, 256, false)?;
            }
            for (i, line) in r.lines.iter().flatten().enumerate() {
                validate_text(&format!("receipt.lines[{i}].name"), &line.name, 64, true)?;
                validate_amount(&format!("receipt.lines[{i}].amount"), line.amount)?;
                if line.quantity == 0 {
                    return Err(RequestError::invalid(
                        format!("receipt.lines[{i}].quantity"),
                        "must be at least 1",
                    ));
                }
            }
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

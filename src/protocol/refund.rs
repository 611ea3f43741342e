//! The `refund` op (extension): its arguments ([`Refund`]) with their checks, and the
//! refund parts of what the daemon sends — the amounts of `refunded` ([`RefundAmount`]),
//! the refund states ([`RefundState`]) and one refund as `status` lists it
//! ([`RefundStatus`]).
//!
//! A refund is named by its `out_refund_no`; when the POS gives none, the daemon numbers
//! it `<out_trade_no>-R<n>` (see `jobs`). This file is the wire only: it knows nothing of
//! the journal, the jobs or WeChat Pay's refund calls.

use serde::{Deserialize, Serialize};

use super::MAX_AMOUNT;
use super::error::{ErrorBody, RequestError};

/// Longest `out_refund_no` (WeChat Pay's `string[1,64]`).
pub const MAX_REFUND_NO_LEN: usize = 64;
/// Longest refund `reason`, in UTF-8 bytes (WeChat Pay's `string[1,80]`).
pub const MAX_REASON_BYTES: usize = 80;

/// What a `refund` request asks: how much of a paid order goes back, under which number.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Refund {
    /// The merchant's refund number; absent: the daemon's `<out_trade_no>-R<n>`, the next
    /// free `n` (a retry of the same refund must then give the number `refund_accepted`
    /// answered, or repeat the request while that refund is the order's latest).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub out_refund_no: Option<String>,
    /// How much to refund, in the minor unit of the order's currency.
    pub amount: i64,
    /// Shown to the customer in WeChat's refund message (≤ 80 bytes).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub reason: Option<String>,
    /// Print a refund slip once the money went back (extension): part of the refund's
    /// content, like `amount` and `reason`.
    #[serde(default, skip_serializing_if = "std::ops::Not::not")]
    pub slip: bool,
}

impl Refund {
    /// The checks of lengths, characters and ranges, each naming the field by its path.
    pub(crate) fn validate(&self) -> Result<(), RequestError> {
        if !(1..=MAX_AMOUNT).contains(&self.amount) {
            return Err(RequestError::invalid(
                "refund.amount",
                format!(
                    "{} is out of range; a refund is 1 to {MAX_AMOUNT} in the minor unit of \
                     the order's currency",
                    self.amount
                ),
            ));
        }
        if let Some(no) = &self.out_refund_no {
            validate_out_refund_no("refund.out_refund_no", no)?;
        }
        if let Some(reason) = &self.reason {
            let blank = reason.trim().is_empty();
            if blank || reason.len() > MAX_REASON_BYTES || reason.chars().any(char::is_control) {
                return Err(RequestError::invalid(
                    "refund.reason",
                    format!(
                        "must be 1 to {MAX_REASON_BYTES} bytes of UTF-8 text without control \
                         characters (it is {} bytes); shorten it or leave it out",
                        reason.len()
                    ),
                ));
            }
        }
        Ok(())
    }
}

/// An `out_refund_no`: 1 to 64 characters of `0-9 A-Z a-z _ - | * @` (WeChat Pay's rule).
pub fn validate_out_refund_no(field: &str, no: &str) -> Result<(), RequestError> {
    let ok_chars = no
        .bytes()
        .all(|b| b.is_ascii_alphanumeric() || matches!(b, b'_' | b'-' | b'|' | b'*' | b'@'));
    if no.is_empty() || no.len() > MAX_REFUND_NO_LEN || !ok_chars {
        return Err(RequestError::invalid(
            field,
            format!("{no:?} must be 1 to {MAX_REFUND_NO_LEN} characters of 0-9 A-Z a-z _ - | * @"),
        ));
    }
    Ok(())
}

/// Where a refund stands.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum RefundState {
    /// Journaled, asked for or being processed by WeChat Pay.
    Processing,
    /// The money went back (final).
    Refunded,
    /// WeChat Pay refused or closed the refund; nothing went back (final): a new refund
    /// needs a new `out_refund_no`.
    Failed,
    /// WeChat Pay could not pay the money back (the customer's card was cancelled or
    /// frozen): it waits on the merchant platform, where the merchant finishes it (final
    /// for wxprint).
    Abnormal,
}

impl RefundState {
    /// The spelling on the wire.
    pub fn as_str(self) -> &'static str {
        match self {
            RefundState::Processing => "processing",
            RefundState::Refunded => "refunded",
            RefundState::Failed => "failed",
            RefundState::Abnormal => "abnormal",
        }
    }

    /// Whether the refund's outcome is known.
    pub fn is_final(self) -> bool {
        self != RefundState::Processing
    }
}

/// What went back, as WeChat Pay reports it with `refunded`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct RefundAmount {
    /// The amount refunded, in the minor unit of `currency` (the order's).
    pub refund: i64,
    /// What the customer gets back, in the minor unit of `payer_currency`.
    pub payer_refund: i64,
    /// ISO 4217 code of `refund`: the order's currency.
    pub currency: String,
    /// ISO 4217 code of `payer_refund` when it is not `currency` (WeChat Pay Global: CNY).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub payer_currency: Option<String>,
}

/// One refund of an order, as `status` lists it (`refunds`, oldest first).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct RefundStatus {
    /// The refund's number.
    pub out_refund_no: String,
    /// Where it stands.
    pub state: RefundState,
    /// The amount asked for, in the minor unit of `currency`.
    pub amount: i64,
    /// The order's currency.
    pub currency: String,
    /// The reason given, if any.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub reason: Option<String>,
    /// When the refund was asked for (RFC 3339).
    pub created_at: String,
    /// WeChat Pay's refund number, once it has one.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub refund_id: Option<String>,
    /// When the money went back, once refunded.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub success_time: Option<String>,
    /// Why it failed, once failed or abnormal.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub error: Option<ErrorBody>,
}

#[cfg(test)]
mod tests {
    use super::*;

    fn refund(no: Option<&str>, amount: i64, reason: Option<&str>) -> Refund {
        Refund {
            out_refund_no: no.map(str::to_owned),
            amount,
            reason: reason.map(str::to_owned),
            slip: false,
        }
    }

    #[test]
    fn a_refund_names_the_field_at_fault() {
        assert_eq!(refund(Some("T1-R1@x"), 1, Some("退货")).validate(), Ok(()));
        let field = |r: Refund| match r.validate() {
            Err(RequestError::InvalidRequest { field, .. }) => field,
            other => panic!("{other:?}"),
        };
        assert_eq!(field(refund(None, 0, None)), "refund.amount");
        assert_eq!(field(refund(Some(""), 1, None)), "refund.out_refund_no");
        assert_eq!(field(refund(Some("a b"), 1, None)), "refund.out_refund_no");
        assert_eq!(
            field(refund(Some(&"R".repeat(65)), 1, None)),
            "refund.out_refund_no"
        );
        assert_eq!(
            field(refund(None, 1, Some(&"退".repeat(27)))),
            "refund.reason"
        );
        assert_eq!(field(refund(None, 1, Some(" "))), "refund.reason");
    }
}

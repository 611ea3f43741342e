//! Refunds of every kind of merchant (mainland direct or service provider, WeChat Pay
//! Global common or institutional): the apply body, and the refund object WeChat Pay
//! answers an apply or a query with (and decrypts from a `REFUND.*` notification), mapped
//! into the neutral [`RefundProgress`].
//!
//! Models only, no I/O: the façade sends the body to the paths of `region.rs`, which also
//! names every field that differs by region or mode (the identity fields of the body, the
//! answer's name for WeChat's refund number — `refund_id` / `id` — and the status of a
//! refund closed unpaid — `CLOSED` / `REFUNDCLOSE`). The field order of [`request_body`]
//! and its omitted `None`s are fixed, so a refund always serialises to the same bytes; the
//! job pins those bytes before the first call and every retry sends them unchanged (one
//! `out_refund_no`, at most one refund).

use serde::{Deserialize, Serialize};
use tracing::warn;

use super::super::http::{Reply, transient};
use super::super::identity::{About, Object};
use super::super::region::Api;
use super::native::{Fields, to_json};
use crate::money::{Currency, Money};
use crate::payment::{PaymentError, RefundDone, RefundOrder, RefundProgress};

#[cfg(test)]
mod tests;

/// The apply body: the identity of `region.rs`, the order, the refund, the amount.
#[derive(Serialize)]
struct RefundBody<'a> {
    #[serde(flatten)]
    merchant: Fields<'a>,
    out_trade_no: &'a str,
    out_refund_no: &'a str,
    #[serde(skip_serializing_if = "Option::is_none")]
    reason: Option<&'a str>,
    notify_url: &'a str,
    amount: RefundAmount<'a>,
}

#[derive(Serialize)]
struct RefundAmount<'a> {
    refund: i64,
    total: i64,
    currency: &'a str,
}

/// The refund object of an answer or a notification; unknown fields are ignored.
#[derive(Deserialize)]
struct RefundAnswer {
    /// Apply and query answers.
    #[serde(default)]
    status: Option<String>,
    /// Notifications name the status so.
    #[serde(default)]
    refund_status: Option<String>,
    #[serde(default)]
    success_time: Option<String>,
    #[serde(default)]
    amount: Option<AnswerAmount>,
}

#[derive(Deserialize, Default)]
struct AnswerAmount {
    #[serde(default)]
    refund: Option<i64>,
    #[serde(default)]
    payer_refund: Option<i64>,
    #[serde(default)]
    currency: Option<String>,
    /// Global: the currency the customer gets the money back in (usually CNY).
    #[serde(default)]
    payer_currency: Option<String>,
}

/// The body of `POST` [`Api::refund_apply`] for `refund`; `notify_url` is where WeChat Pay
/// sends the refund's notification.
pub(crate) fn request_body(api: &Api, notify_url: &str, refund: &RefundOrder) -> String {
    let body = RefundBody {
        merchant: Fields(api.refund_fields()),
        out_trade_no: &refund.out_trade_no,
        out_refund_no: &refund.out_refund_no,
        reason: refund.reason.as_deref(),
        notify_url,
        amount: RefundAmount {
            refund: refund.refund.minor(),
            total: refund.total.minor(),
            currency: refund.refund.currency().code(),
        },
    };
    to_json(&body)
}

/// Which refund an answer or a notification must be about: refund `out_refund_no` of
/// order `out_trade_no`.
#[derive(Debug, Clone, Copy)]
pub(crate) struct Asked<'a> {
    pub(crate) out_trade_no: &'a str,
    pub(crate) out_refund_no: &'a str,
}

impl Asked<'_> {
    fn about(&self) -> About<'_> {
        About::refund(self.out_trade_no, self.out_refund_no)
    }
}

/// Where refund `asked` stands, from a verified answer (`object`: apply or query) of the
/// merchant of `api`; amounts whose currency the answer leaves out are in `currency`. An
/// answer about another refund, order or merchant is not believed for this one
/// ([`Api::check_identity`]).
pub(crate) fn read_refund(
    api: &Api,
    object: Object,
    asked: Asked<'_>,
    currency: &Currency,
    answer: &Reply,
) -> Result<RefundProgress, PaymentError> {
    let unreadable = |e: String| transient(e, answer.request_id.clone());
    let json: serde_json::Value = serde_json::from_slice(&answer.body)
        .map_err(|e| unreadable(format!("unreadable refund answer: {e}")))?;
    let parsed = RefundAnswer::deserialize(&json)
        .map_err(|e| unreadable(format!("unreadable refund answer: {e}")))?;
    if let Err(e) = api.check_identity(object, &json, asked.about()) {
        warn!(
            out_refund_no = asked.out_refund_no,
            out_trade_no = asked.out_trade_no,
            error = %e,
            "refund answer is about another refund, order or merchant; discarded"
        );
        return Err(unreadable(format!(
            "the refund answer is not about refund {:?} of order {:?} of this merchant ({e}); \
             discarded, asked again",
            asked.out_refund_no, asked.out_trade_no
        )));
    }
    Ok(progress(&json, api, currency, parsed))
}

/// The `out_refund_no` a decrypted `REFUND.*` notification object names, to find the
/// refund (and its order) it must be about.
pub(crate) fn refund_number(plaintext: &[u8]) -> Result<String, String> {
    let json: serde_json::Value =
        serde_json::from_slice(plaintext).map_err(|e| format!("not a refund object ({e})"))?;
    json.get("out_refund_no")
        .and_then(serde_json::Value::as_str)
        .map(str::to_owned)
        .ok_or_else(|| "the refund object has no out_refund_no".to_owned())
}

/// The progress of a decrypted `REFUND.*` notification object about refund `asked` of
/// this merchant ([`Object::RefundNotice`]); the error says which field is not ours.
pub(crate) fn read_refund_object(
    api: &Api,
    asked: Asked<'_>,
    currency: &Currency,
    plaintext: &[u8],
) -> Result<RefundProgress, String> {
    let json: serde_json::Value =
        serde_json::from_slice(plaintext).map_err(|e| format!("not a refund object ({e})"))?;
    let parsed =
        RefundAnswer::deserialize(&json).map_err(|e| format!("not a refund object ({e})"))?;
    api.check_identity(Object::RefundNotice, &json, asked.about())
        .map_err(|e| {
            format!(
                "not refund {:?} of order {:?} of this merchant: {e}",
                asked.out_refund_no, asked.out_trade_no
            )
        })?;
    Ok(progress(&json, api, currency, parsed))
}

fn progress(
    json: &serde_json::Value,
    api: &Api,
    currency: &Currency,
    parsed: RefundAnswer,
) -> RefundProgress {
    let member = |name: &str| json.get(name).and_then(serde_json::Value::as_str);
    // Notifications of either region may name the number `refund_id`.
    let refund_id = member(api.refund_number_field())
        .or_else(|| member("refund_id"))
        .map(str::to_owned);
    // Global's apply answer carries no status: the refund is being processed.
    let status = parsed.status.or(parsed.refund_status);
    match status.as_deref().unwrap_or("PROCESSING") {
        "SUCCESS" => RefundProgress::Refunded(done(
            refund_id.unwrap_or_default(),
            currency,
            parsed.success_time.unwrap_or_default(),
            parsed.amount.unwrap_or_default(),
        )),
        "ABNORMAL" => RefundProgress::Abnormal,
        "PROCESSING" => RefundProgress::Processing { refund_id },
        closed if closed == api.refund_closed_status() => RefundProgress::Closed,
        other => {
            warn!(
                out_refund_no = member("out_refund_no").unwrap_or(""),
                status = other,
                "unknown refund status; asking again later"
            );
            RefundProgress::Processing { refund_id }
        }
    }
}

/// A finished refund's amounts: the order's currency (the merchant's when the answer does
/// not say), what the payer got back in theirs (the refund's when not said).
fn done(
    refund_id: String,
    merchant_currency: &Currency,
    success_time: String,
    amount: AnswerAmount,
) -> RefundDone {
    let currency = amount
        .currency
        .map_or_else(|| merchant_currency.clone(), Currency::new);
    let refund = amount.refund.unwrap_or(0);
    let payer_currency = amount
        .payer_currency
        .map_or_else(|| currency.clone(), Currency::new);
    RefundDone {
        refund_id,
        success_time,
        refund: Money::new(refund, currency),
        payer_refund: Money::new(amount.payer_refund.unwrap_or(refund), payer_currency),
    }
}

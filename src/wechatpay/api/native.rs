//! Native orders of every kind of merchant (mainland direct or service provider, WeChat Pay
//! Global common or institutional): the order request body, the placement answer
//! (`code_url`) and the query answer, mapped into the neutral [`payment`](crate::payment)
//! types.
//!
//! Models only, no I/O: the façade sends these bodies to the paths of `region.rs`, which
//! also gives every field that differs by region or mode (the merchant's identity fields,
//! `trade_type`, the answer's name for WeChat's order number), so one model serves all four
//! kinds. The field order of [`request_body`] and its omitted `None`s are fixed, so the same
//! order always serialises to the same bytes (WeChat Pay's re-entry rule), and a mainland
//! direct merchant's body is byte for byte what it was before regions existed; the job
//! stores those bytes and sends them unchanged, even after an upgrade.

use serde::ser::SerializeMap;
use serde::{Deserialize, Serialize, Serializer};
use tracing::warn;

use super::super::http::{Reply, transient};
use super::super::identity::{About, Object};
use super::super::region::{Api, Field};
use crate::money::{Currency, Money};
use crate::payment::{ExchangeRate, Payment, PaymentError, PlaceOrder, Placed, TradeState};

#[cfg(test)]
mod tests;

/// The Native order request body.
#[derive(Serialize)]
struct NativeBody<'a> {
    #[serde(flatten)]
    merchant: Fields<'a>,
    description: &'a str,
    out_trade_no: &'a str,
    time_expire: &'a str,
    #[serde(skip_serializing_if = "Option::is_none")]
    attach: Option<&'a str>,
    notify_url: &'a str,
    #[serde(skip_serializing_if = "Option::is_none")]
    goods_tag: Option<&'a str>,
    #[serde(skip_serializing_if = "Option::is_none")]
    trade_type: Option<&'a str>,
    #[serde(skip_serializing_if = "Option::is_none")]
    merchant_category_code: Option<&'a str>,
    amount: NativeAmount<'a>,
}

/// Identity fields from `region.rs`, in their order, as JSON members (also the refund
/// body's, `refund.rs`).
pub(super) struct Fields<'a>(pub(super) Vec<Field<'a>>);

impl Serialize for Fields<'_> {
    fn serialize<S: Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        let mut map = serializer.serialize_map(Some(self.0.len()))?;
        for (name, value) in &self.0 {
            map.serialize_entry(name, value)?;
        }
        map.end()
    }
}

#[derive(Serialize)]
struct NativeAmount<'a> {
    total: i64,
    currency: &'a str,
}

#[derive(Deserialize)]
struct NativeAnswer {
    code_url: String,
}

/// The query answer; unknown fields are ignored (WeChat Pay adds fields over time). The
/// identity fields are checked by `identity.rs`, and WeChat's order number read by name
/// from the JSON, as `region.rs` names it.
#[derive(Deserialize)]
struct QueryAnswer {
    trade_state: String,
    #[serde(default)]
    success_time: Option<String>,
    #[serde(default)]
    amount: Option<QueryAmount>,
    /// The promotions (coupons, discounts) applied to the payment, for the payment slip.
    #[serde(default)]
    promotion_detail: Option<Vec<PromotionAnswer>>,
}

/// One promotion of a paid order; only its amount and currency are read, leniently (like
/// the rate: an amount WeChat Pay spells otherwise drops it from the slip, never the
/// payment).
#[derive(Deserialize)]
struct PromotionAnswer {
    #[serde(default)]
    amount: Option<serde_json::Value>,
    #[serde(default)]
    currency: Option<serde_json::Value>,
}

#[derive(Deserialize, Default)]
struct QueryAmount {
    #[serde(default)]
    total: Option<i64>,
    #[serde(default)]
    payer_total: Option<i64>,
    #[serde(default)]
    currency: Option<String>,
    /// Global: the currency the customer paid in (usually CNY).
    #[serde(default)]
    payer_currency: Option<String>,
    /// Global: the rate WeChat Pay converted at.
    #[serde(default)]
    exchange_rate: Option<RateAnswer>,
}

#[derive(Deserialize)]
struct RateAnswer {
    #[serde(rename = "type", default)]
    kind: Option<String>,
    /// Read leniently: a rate WeChat Pay leaves out or spells otherwise (a float, a string)
    /// drops the rate from the report, never the payment.
    #[serde(default)]
    rate: Option<serde_json::Value>,
}

/// Who places the order: the fields of the body that come from the settings.
pub(crate) struct Merchant<'a> {
    pub(crate) api: &'a Api,
    pub(crate) notify_url: &'a str,
    /// Global: the MCC; empty (not sent) on the mainland.
    pub(crate) merchant_category_code: &'a str,
}

/// The body of `POST …/native` for `order`, its amount in the order's currency's minor unit.
pub(crate) fn request_body(merchant: &Merchant<'_>, order: &PlaceOrder) -> String {
    let api = merchant.api;
    let body = NativeBody {
        merchant: Fields(api.order_fields()),
        description: &order.description,
        out_trade_no: &order.out_trade_no,
        time_expire: &order.time_expire,
        attach: order.attach.as_deref(),
        notify_url: merchant.notify_url,
        goods_tag: order.goods_tag.as_deref(),
        trade_type: api.trade_type(),
        merchant_category_code: api
            .takes_category_code()
            .then_some(merchant.merchant_category_code),
        amount: NativeAmount {
            total: order.amount.minor(),
            currency: order.amount.currency().code(),
        },
    };
    to_json(&body)
}

/// The body of `POST …/out-trade-no/{no}/close`: the merchant, as `region.rs` names it.
pub(crate) fn close_body(api: &Api) -> String {
    to_json(&Fields(api.merchant_fields()))
}

/// Plain data (strings and integers) serialises to JSON without fail; `{}` is never sent.
pub(super) fn to_json(value: &impl Serialize) -> String {
    serde_json::to_string(value).unwrap_or_else(|_| String::from("{}"))
}

/// The `code_url` of a verified placement answer; anything but a `weixin://` URL of
/// printable ASCII is refused: it goes to the printer as the QR's data, where a control
/// byte could be a real-time command (`DLE DC4`, a drawer pulse; `docs/escpos.md` §2).
pub(crate) fn read_placed(answer: &Reply) -> Result<Placed, PaymentError> {
    let parsed: NativeAnswer = serde_json::from_slice(&answer.body).map_err(|e| {
        transient(
            format!("unreadable Native answer: {e}"),
            answer.request_id.clone(),
        )
    })?;
    let url = &parsed.code_url;
    if !url.starts_with("weixin://") || !url.bytes().all(|b| b.is_ascii_graphic()) {
        return Err(transient(
            format!("unexpected code_url {:?}", parsed.code_url),
            answer.request_id.clone(),
        ));
    }
    Ok(Placed {
        code_url: parsed.code_url,
    })
}

/// Whether a pinned order body (`request`) was made for the merchant of `api`: the same
/// identity fields (mode and ids, [`Api::check_identity`]) and the same region (Global
/// bodies carry `trade_type`).
pub(crate) fn owns(api: &Api, request: &str) -> Result<(), String> {
    let body: serde_json::Value =
        serde_json::from_str(request).map_err(|e| format!("unreadable pinned order: {e}"))?;
    api.check_identity(Object::PinnedOrder, &body, About::default())
        .map_err(|e| format!("placed for another merchant: {e}"))?;
    if body.get("trade_type").is_some() != api.trade_type().is_some() {
        return Err("placed for another region (wechatpay.region changed)".to_owned());
    }
    Ok(())
}

/// The trade state of order `no` of the merchant of `api` from a verified query answer;
/// amounts whose currency the answer leaves out are in the merchant's `currency`.
pub(crate) fn read_query(
    no: &str,
    api: &Api,
    currency: &Currency,
    answer: &Reply,
) -> Result<TradeState, PaymentError> {
    let unreadable = |e: serde_json::Error| {
        transient(
            format!("unreadable query answer: {e}"),
            answer.request_id.clone(),
        )
    };
    let json: serde_json::Value = serde_json::from_slice(&answer.body).map_err(unreadable)?;
    // The signature covers the answer, not the question: an answer about another order or
    // merchant must not count for this one (`identity.rs`).
    if let Err(e) = api.check_identity(Object::OrderAnswer, &json, About::order(no)) {
        warn!(out_trade_no = no, error = %e, "query answer is about another order; discarded");
        return Err(transient(
            format!(
                "the query answer is not about order {no:?} of this merchant ({e}); discarded, \
                 asked again"
            ),
            answer.request_id.clone(),
        ));
    }
    read_trade(no, api, currency, &json).map_err(unreadable)
}

/// The trade state of order `no` from a transaction object (a query answer's, or a
/// notification's) whose identity was checked.
pub(crate) fn read_trade(
    no: &str,
    api: &Api,
    currency: &Currency,
    json: &serde_json::Value,
) -> Result<TradeState, serde_json::Error> {
    let parsed = QueryAnswer::deserialize(json)?;
    let member = |name: &str| json.get(name).and_then(serde_json::Value::as_str);
    let order_number = member(api.order_number_field()).unwrap_or_default();
    Ok(trade_state(no, order_number, currency, parsed))
}

fn trade_state(
    no: &str,
    order_number: &str,
    currency: &Currency,
    parsed: QueryAnswer,
) -> TradeState {
    match parsed.trade_state.as_str() {
        "SUCCESS" | "REFUND" => {
            let mut paid = payment(
                order_number,
                currency,
                parsed.success_time.unwrap_or_default(),
                parsed.amount.unwrap_or_default(),
            );
            paid.discount = discount(parsed.promotion_detail.as_deref(), &paid.total);
            TradeState::Paid(paid)
        }
        "USERPAYING" => TradeState::UserPaying,
        "CLOSED" | "REVOKED" | "PAYERROR" => TradeState::Closed,
        "NOTPAY" => TradeState::NotPay,
        other => {
            warn!(
                out_trade_no = no,
                trade_state = other,
                "unknown trade_state; polling on"
            );
            TradeState::NotPay
        }
    }
}

/// The sum of the promotions' amounts in the currency of `total` (the order's, which a
/// promotion without a `currency` is in); `None` when there are none or none is readable.
/// A promotion in another currency is left out: its amount cannot be added to the order's.
fn discount(promotions: Option<&[PromotionAnswer]>, total: &Money) -> Option<Money> {
    let code = total.currency().code();
    let amounts: Vec<i64> = promotions
        .unwrap_or_default()
        .iter()
        .filter_map(|p| {
            let theirs = p.currency.as_ref().map(|c| c.as_str());
            let amount = p.amount.as_ref().and_then(serde_json::Value::as_i64);
            let amount = amount.filter(|_| theirs.is_none_or(|c| c == Some(code)));
            if amount.is_none() {
                warn!(amount = ?p.amount, currency = ?p.currency, "promotion with an unreadable amount or in another currency; left off the slip");
            }
            amount
        })
        .collect();
    (!amounts.is_empty()).then(|| total.with_minor(amounts.iter().sum()))
}

/// A paid order's amounts: the order's currency (the merchant's when the answer does not
/// say), what the payer paid in theirs (the order's when not said), and Global's rate when
/// given.
fn payment(
    order_number: &str,
    merchant_currency: &Currency,
    success_time: String,
    amount: QueryAmount,
) -> Payment {
    let currency = amount
        .currency
        .map_or_else(|| merchant_currency.clone(), Currency::new);
    let total = amount.total.unwrap_or(0);
    let payer_currency = amount
        .payer_currency
        .map_or_else(|| currency.clone(), Currency::new);
    Payment {
        transaction_id: order_number.to_owned(),
        success_time,
        total: Money::new(total, currency),
        payer_total: Money::new(amount.payer_total.unwrap_or(total), payer_currency),
        exchange_rate: amount.exchange_rate.and_then(|r| {
            let rate = r.rate.as_ref().and_then(serde_json::Value::as_i64);
            if rate.is_none() {
                warn!(rate = %r.rate.as_ref().map_or(String::from("none"), |v| v.to_string()), "paid answer with an unreadable exchange rate; reported without it");
            }
            Some(ExchangeRate {
                kind: r.kind.unwrap_or_default(),
                rate: rate?,
            })
        }),
        discount: None,
    }
}

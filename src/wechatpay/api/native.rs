//! Native orders of a mainland direct merchant (直连商户): the order request body, the
//! placement answer (`code_url`) and the query answer, mapped into the neutral
//! [`payment`](crate::payment) types.
//!
//! Models only, no I/O: the façade sends these bodies to the paths of `region.rs`. The field
//! order of [`request_body`] and its omitted `None`s are fixed, so the same order always
//! serialises to the same bytes (WeChat Pay's re-entry rule); the job stores those bytes and
//! sends them unchanged, even after an upgrade. Partner mode (`sp_mchid`/`sub_mchid`) and
//! WeChat Pay Global (`trade_type`, `merchant_category_code`, `id`) have their own bodies and
//! answers, so they get their own files rather than options here.

use serde::{Deserialize, Serialize};
use tracing::warn;

use super::super::http::{Reply, transient};
use crate::money::{Currency, Money};
use crate::payment::{Payment, PaymentError, PlaceOrder, Placed, TradeState};

/// The Native order request body.
#[derive(Serialize)]
struct NativeBody<'a> {
    appid: &'a str,
    mchid: &'a str,
    description: &'a str,
    out_trade_no: &'a str,
    time_expire: &'a str,
    #[serde(skip_serializing_if = "Option::is_none")]
    attach: Option<&'a str>,
    notify_url: &'a str,
    #[serde(skip_serializing_if = "Option::is_none")]
    goods_tag: Option<&'a str>,
    amount: NativeAmount<'a>,
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

/// The query answer; unknown fields are ignored (WeChat Pay adds fields over time).
#[derive(Deserialize)]
struct QueryAnswer {
    #[serde(default)]
    out_trade_no: Option<String>,
    #[serde(default)]
    mchid: Option<String>,
    trade_state: String,
    #[serde(default)]
    transaction_id: Option<String>,
    #[serde(default)]
    success_time: Option<String>,
    #[serde(default)]
    amount: Option<QueryAmount>,
}

#[derive(Deserialize)]
struct QueryAmount {
    #[serde(default)]
    total: Option<i64>,
    #[serde(default)]
    payer_total: Option<i64>,
    #[serde(default)]
    currency: Option<String>,
}

/// Who places the order: the fields of the body that come from the settings.
pub(crate) struct Merchant<'a> {
    pub(crate) appid: &'a str,
    pub(crate) mchid: &'a str,
    pub(crate) notify_url: &'a str,
}

/// The body of `POST …/native` for `order`.
pub(crate) fn request_body(merchant: &Merchant<'_>, order: &PlaceOrder) -> String {
    let body = NativeBody {
        appid: merchant.appid,
        mchid: merchant.mchid,
        description: &order.description,
        out_trade_no: &order.out_trade_no,
        time_expire: &order.time_expire,
        attach: order.attach.as_deref(),
        notify_url: merchant.notify_url,
        goods_tag: order.goods_tag.as_deref(),
        amount: NativeAmount {
            total: order.amount.minor(),
            currency: order.amount.currency().code(),
        },
    };
    serde_json::to_string(&body).expect("plain data")
}

/// The body of `POST …/out-trade-no/{no}/close`.
pub(crate) fn close_body(mchid: &str) -> String {
    serde_json::json!({ "mchid": mchid }).to_string()
}

/// The `code_url` of a verified placement answer; anything but a `weixin://` URL is refused.
pub(crate) fn read_placed(answer: &Reply) -> Result<Placed, PaymentError> {
    let parsed: NativeAnswer = serde_json::from_slice(&answer.body).map_err(|e| {
        transient(
            format!("unreadable Native answer: {e}"),
            answer.request_id.clone(),
        )
    })?;
    if !parsed.code_url.starts_with("weixin://") {
        return Err(transient(
            format!("unexpected code_url {:?}", parsed.code_url),
            answer.request_id.clone(),
        ));
    }
    Ok(Placed {
        code_url: parsed.code_url,
    })
}

/// The trade state of order `no` of merchant `mchid` from a verified query answer.
pub(crate) fn read_query(
    no: &str,
    mchid: &str,
    answer: &Reply,
) -> Result<TradeState, PaymentError> {
    let parsed: QueryAnswer = serde_json::from_slice(&answer.body).map_err(|e| {
        transient(
            format!("unreadable query answer: {e}"),
            answer.request_id.clone(),
        )
    })?;
    // The signature covers the answer, not the question: a genuine answer about another
    // order (replayed by something in the middle) must not count for this one.
    if parsed.out_trade_no.as_deref() != Some(no)
        || parsed.mchid.as_deref().is_some_and(|m| m != mchid)
    {
        warn!(out_trade_no = no, answered = ?parsed.out_trade_no, "query answer is about another order; discarded");
        return Err(transient(
            format!(
                "the query answer is about order {:?}, not {no:?}",
                parsed.out_trade_no
            ),
            answer.request_id.clone(),
        ));
    }
    Ok(trade_state(no, parsed))
}

fn trade_state(no: &str, parsed: QueryAnswer) -> TradeState {
    match parsed.trade_state.as_str() {
        "SUCCESS" | "REFUND" => {
            let amount = parsed.amount.unwrap_or(QueryAmount {
                total: None,
                payer_total: None,
                currency: None,
            });
            let currency = amount.currency.map_or(Currency::CNY, Currency::new);
            let total = amount.total.unwrap_or(0);
            TradeState::Paid(Payment {
                transaction_id: parsed.transaction_id.unwrap_or_default(),
                success_time: parsed.success_time.unwrap_or_default(),
                total: Money::new(total, currency.clone()),
                payer_total: Money::new(amount.payer_total.unwrap_or(total), currency),
                exchange_rate: None,
            })
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

//! The calls about one placed order, by `out_trade_no`: query (with the real answer
//! shapes, paid and unpaid, per merchant kind: identities, `transaction_id` or Global's `id`,
//! Global's payer currency and exchange rate) and close (re-entrant; refused once paid, and
//! before the account's minimum age).

use std::collections::HashMap;
use std::time::SystemTime;

use serde_json::{Map, Value, json};

use super::Inner;
use super::fields::{reject_nulls, reject_unknown};
use super::http::{HttpRequest, percent_decode};
use super::kind::Region;
use super::orders::{SimOrder, SimPayment, TradeState};
use super::reply::Reply;
use super::time::secs_between;

impl Inner {
    /// `GET …/out-trade-no/{no}?mchid=…` (sub-merchant kinds: `?sp_mchid=…&sub_mchid=…`).
    pub(super) fn query(&self, no: &str, query: &str, orders: &HashMap<String, SimOrder>) -> Reply {
        if let Err(reply) = self.check_query_identity(&query_params(query)) {
            return reply;
        }
        let Some(order) = orders.get(no) else {
            return Reply::error(404, "ORDER_NOT_EXIST", "订单不存在");
        };
        Reply::json(200, &self.query_answer(order))
    }

    /// The query answer about `order`, shaped as the merchant's kind gets it.
    pub(super) fn query_answer(&self, order: &SimOrder) -> Value {
        let kind = self.config.kind();
        let global = kind.region() == Region::Global;
        let mut body = self.identity_json();
        body.extend(json_map(json!({
            "out_trade_no": order.out_trade_no,
            "trade_state": order.state.as_str(),
            "trade_state_desc": order.state.desc(),
            "promotion_detail": [],
        })));
        if global {
            body.insert(
                "amount".into(),
                json!({ "total": order.total, "currency": order.currency }),
            );
        } else {
            body.insert(
                "amount".into(),
                json!({ "total": order.total, "payer_currency": "CNY" }),
            );
            body.insert("scene_info".into(), json!({ "device_id": "" }));
        }
        if let Some(payment) = &order.payment {
            let mut amount = json!({
                "total": order.total,
                "payer_total": payment.payer_total,
                "currency": order.currency,
                "payer_currency": "CNY",
            });
            if let Some(rate) = payment.exchange_rate {
                amount["exchange_rate"] = json!({ "type": "SETTLEMENT_RATE", "rate": rate });
            }
            if payment.coupon > 0 {
                body.insert(
                    "promotion_detail".into(),
                    json!([{
                        "coupon_id": "109519", "name": "单品惠-6", "scope": "SINGLE",
                        "type": "CASH", "stock_id": "931386", "amount": payment.coupon,
                        "wechatpay_contribute": 0, "merchant_contribute": payment.coupon,
                        "other_contribute": 0, "currency": "CNY",
                    }]),
                );
            }
            body.extend(json_map(json!({
                "trade_type": "NATIVE",
                "success_time": payment.success_time,
                "bank_type": "OTHERS",
                "payer": self.payer_json(payment),
                "amount": amount,
                "attach": order.attach.clone().unwrap_or_default(),
            })));
            body.insert(
                kind.transaction_id_field().into(),
                json!(payment.transaction_id),
            );
        }
        Value::Object(body)
    }

    /// `appid` + `mchid`, or `sp_appid` + `sp_mchid` + `sub_mchid` (+ `sub_appid`).
    fn identity_json(&self) -> Map<String, Value> {
        let c = &self.config;
        if !c.kind().has_sub_merchant() {
            return json_map(json!({ "appid": c.appid, "mchid": c.mchid }));
        }
        let mut ids = json_map(json!({
            "sp_appid": c.appid,
            "sp_mchid": c.mchid,
            "sub_mchid": c.sub_mchid,
        }));
        if !c.sub_appid.is_empty() {
            ids.insert("sub_appid".into(), json!(c.sub_appid));
        }
        ids
    }

    /// `payer{openid}`, or `payer{sp_openid, sub_openid?}` for a sub-merchant kind.
    fn payer_json(&self, payment: &SimPayment) -> Value {
        if !self.config.kind().has_sub_merchant() {
            return json!({ "openid": payment.openid });
        }
        let mut payer = json!({ "sp_openid": payment.openid });
        if !self.config.sub_appid.is_empty() {
            payer["sub_openid"] = json!(payment.sub_openid);
        }
        payer
    }

    /// `POST …/out-trade-no/{no}/close`, body `{"mchid"}` or `{"sp_mchid","sub_mchid"}`:
    /// 204, re-entrant; paid → `ORDERPAID`; younger than `close_min_age` → refused.
    pub(super) fn close(
        &self,
        no: &str,
        req: &HttpRequest,
        orders: &mut HashMap<String, SimOrder>,
        now: SystemTime,
    ) -> Reply {
        let map = match serde_json::from_slice(&req.body) {
            Ok(Value::Object(map)) => map,
            _ => return Reply::error(400, "PARAM_ERROR", "请求体JSON格式错误"),
        };
        if let Err(reply) = reject_nulls("", &Value::Object(map.clone())) {
            return reply;
        }
        if let Err(reply) = reject_unknown("", &map, self.config.kind().trade_identity()) {
            return reply;
        }
        if let Err(reply) = self.check_close_identity(&map) {
            return reply;
        }
        let Some(order) = orders.get_mut(no) else {
            return Reply::error(404, "ORDER_NOT_EXIST", "订单不存在");
        };
        if order.state.was_paid() {
            return Reply::error(400, "ORDERPAID", "订单已支付");
        }
        if let Some(min_age) = self.config.close_min_age
            && secs_between(order.created_at, now)
                < i64::try_from(min_age.as_secs()).unwrap_or(i64::MAX)
        {
            return Reply::error(
                400,
                "INVALID_REQUEST",
                "订单生成后不能马上调用关单接口，最短调用时间间隔为5分钟",
            );
        }
        order.state = match order.state {
            TradeState::Revoked => TradeState::Revoked,
            _ => TradeState::Closed,
        };
        order.closed_at.get_or_insert(now);
        Reply::empty(204)
    }
}

/// The parameters of a query string, percent-decoded, in order.
fn query_params(query: &str) -> Vec<(String, String)> {
    query
        .split('&')
        .filter_map(|kv| kv.split_once('='))
        .map(|(k, v)| (percent_decode(k), percent_decode(v)))
        .collect()
}

/// The members of a JSON object literal.
fn json_map(value: Value) -> Map<String, Value> {
    match value {
        Value::Object(map) => map,
        _ => Map::new(),
    }
}

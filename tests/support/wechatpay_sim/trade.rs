//! The calls about one placed order, by `out_trade_no`: query (with the real answer
//! shapes, paid and unpaid) and close (re-entrant; refused once paid).

use std::collections::HashMap;
use std::time::SystemTime;

use serde_json::{Value, json};

use super::Inner;
use super::http::{HttpRequest, percent_decode};
use super::orders::{SimOrder, TradeState};
use super::place::{reject_nulls, reject_unknown};
use super::reply::Reply;

impl Inner {
    /// `GET /v3/pay/transactions/out-trade-no/{no}?mchid=…`.
    pub(super) fn query(&self, no: &str, query: &str, orders: &HashMap<String, SimOrder>) -> Reply {
        let mchid = query.split('&').find_map(|kv| {
            let (k, v) = kv.split_once('=')?;
            (k == "mchid").then(|| percent_decode(v))
        });
        match mchid {
            None => {
                return Reply::error_with(
                    400,
                    "PARAM_ERROR",
                    "输入源“/query/mchid”映射到值字段“直连商户号”必填性规则校验失败，此字段为必填项",
                    Some(json!({ "location": "query", "field": "mchid" })),
                );
            }
            Some(m) if m != self.config.mchid => {
                return Reply::error(400, "PARAM_ERROR", "mchid不匹配");
            }
            Some(_) => {}
        }
        let Some(order) = orders.get(no) else {
            return Reply::error(404, "ORDER_NOT_EXIST", "订单不存在");
        };
        let mut body = json!({
            "appid": self.config.appid,
            "mchid": self.config.mchid,
            "out_trade_no": order.out_trade_no,
            "trade_state": order.state.as_str(),
            "trade_state_desc": order.state.desc(),
            "amount": { "total": order.total, "payer_currency": "CNY" },
            "promotion_detail": [],
            "scene_info": { "device_id": "" },
        });
        if let Some(payment) = &order.payment {
            let extra = json!({
                "trade_type": "NATIVE",
                "transaction_id": payment.transaction_id,
                "success_time": payment.success_time,
                "bank_type": "OTHERS",
                "payer": { "openid": payment.openid },
                "amount": {
                    "total": order.total,
                    "payer_total": payment.payer_total,
                    "currency": "CNY",
                    "payer_currency": "CNY",
                },
                "attach": order.attach.clone().unwrap_or_default(),
            });
            if let (Value::Object(body), Value::Object(extra)) = (&mut body, extra) {
                body.extend(extra);
            }
        }
        Reply::json(200, &body)
    }

    /// `POST /v3/pay/transactions/out-trade-no/{no}/close`.
    pub(super) fn close(
        &self,
        no: &str,
        req: &HttpRequest,
        orders: &mut HashMap<String, SimOrder>,
        now: SystemTime,
    ) -> Reply {
        let body: Value = match serde_json::from_slice(&req.body) {
            Ok(Value::Object(map)) => Value::Object(map),
            _ => return Reply::error(400, "PARAM_ERROR", "请求体JSON格式错误"),
        };
        if let Err(reply) = reject_nulls("", &body) {
            return reply;
        }
        let Value::Object(map) = &body else {
            unreachable!("matched above")
        };
        if let Err(reply) = reject_unknown("", map, &["mchid"]) {
            return reply;
        }
        match map.get("mchid") {
            Some(Value::String(m)) if *m == self.config.mchid => {}
            Some(Value::String(_)) => return Reply::error(400, "PARAM_ERROR", "mchid不匹配"),
            _ => return Reply::param("/mchid", "必填性规则校验失败，此字段为必填项"),
        }
        let Some(order) = orders.get_mut(no) else {
            return Reply::error(404, "ORDER_NOT_EXIST", "订单不存在");
        };
        if order.state.was_paid() {
            return Reply::error(400, "ORDERPAID", "订单已支付");
        }
        order.state = match order.state {
            TradeState::Revoked => TradeState::Revoked,
            _ => TradeState::Closed,
        };
        order.closed_at.get_or_insert(now);
        Reply::empty(204)
    }
}

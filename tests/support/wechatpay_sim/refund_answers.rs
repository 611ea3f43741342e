//! The refund query call (mainland `GET /v3/refund/domestic/refunds/{no}`, a provider
//! with `?sub_mchid=`; Global `GET /v3/global/refunds/out-refund-no/{no}?mchid=` or
//! `?sub_mchid=&sp_mchid=`) and the refund objects WeChat Pay answers with, per region:
//! mainland `refund_id`, `status` … `CLOSED`, `amount{total, refund, payer_total,
//! payer_refund, …, currency}`; Global `id`, `recv_account`, `status` … `REFUNDCLOSE`,
//! `amount{refund, currency, payer_refund, payer_currency, exchange_rate}`, and no `status`
//! in its apply answer. The same object (as `refund_status`) is what a refund notification
//! carries (`notify.rs`).

use std::collections::HashMap;

use serde_json::{Value, json};

use super::http::percent_decode;
use super::kind::Region;
use super::orders::SimOrder;
use super::refunds::{RefundStatus, SimRefund, advance};
use super::reply::Reply;
use super::time::{rfc3339_beijing, unix};
use super::{Inner, Simulator};

impl Simulator {
    /// A finished refund's notification: its `event_type` (`REFUND.SUCCESS`, `.ABNORMAL`,
    /// `.CLOSED`) and object — the merchant (`mchid`, or `sp_mchid` + `sub_mchid`), the
    /// order, `refund_id`, `refund_status`, `amount{total, refund, payer_total,
    /// payer_refund}`. `None` while processing or unknown.
    pub fn refund_object(&self, out_refund_no: &str) -> Option<(&'static str, Value)> {
        let refund = self.refund_of(out_refund_no)?;
        let event_type = match refund.status {
            RefundStatus::Processing => return None,
            RefundStatus::Success => "REFUND.SUCCESS",
            RefundStatus::Abnormal => "REFUND.ABNORMAL",
            RefundStatus::Closed => "REFUND.CLOSED",
        };
        let order = self.order(&refund.out_trade_no)?;
        let payment = order.payment.as_ref();
        let c = &self.inner.config;
        let mut object = if c.kind().has_sub_merchant() {
            json!({ "sp_mchid": c.mchid, "sub_mchid": c.sub_mchid })
        } else {
            json!({ "mchid": c.mchid })
        };
        let fields = json!({
            "out_trade_no": refund.out_trade_no,
            "transaction_id": payment.map_or("", |p| p.transaction_id.as_str()),
            "out_refund_no": refund.out_refund_no,
            "refund_id": refund.refund_id,
            "refund_status": refund.status.as_str(c.kind().region()),
            "user_received_account": "支付用户零钱",
            "amount": {
                "total": order.total, "refund": refund.refund,
                "payer_total": payment.map_or(order.total, |p| p.payer_total),
                "payer_refund": refund.payer_refund,
            },
        });
        if let (Value::Object(object), Value::Object(fields)) = (&mut object, fields) {
            object.extend(fields);
        }
        if let Some(at) = refund.success_at {
            object["success_time"] = json!(rfc3339_beijing(at));
        }
        Some((event_type, object))
    }
}

impl Inner {
    /// `GET` a refund by `out_refund_no`, with the merchant in the query string as its
    /// kind names it.
    pub(super) fn refund_query(
        &self,
        no: &str,
        query: &str,
        orders: &HashMap<String, SimOrder>,
        refunds: &mut HashMap<String, SimRefund>,
        now: std::time::SystemTime,
    ) -> Reply {
        if let Err(reply) = self.check_refund_query(query) {
            return reply;
        }
        let Some(refund) = refunds.get_mut(no) else {
            return Reply::error(404, "RESOURCE_NOT_EXISTS", "退款单不存在");
        };
        advance(refund, now, self.config.refund_delay);
        Reply::json(200, &self.refund_answer(refund, orders, false))
    }

    /// Mainland direct: no query string at all; a provider: `sub_mchid` (its own) and
    /// nothing else; Global: as an order query.
    fn check_refund_query(&self, query: &str) -> Result<(), Reply> {
        let params: Vec<(String, String)> = query
            .split('&')
            .filter_map(|kv| kv.split_once('='))
            .map(|(k, v)| (percent_decode(k), percent_decode(v)))
            .collect();
        let kind = self.config.kind();
        if kind.region() == Region::Global {
            return self.check_query_identity(&params);
        }
        let allowed: &[&str] = if kind.has_sub_merchant() {
            &["sub_mchid"]
        } else {
            &[]
        };
        if let Some((extra, _)) = params.iter().find(|(k, _)| !allowed.contains(&k.as_str())) {
            return Err(Reply::error_with(
                400,
                "PARAM_ERROR",
                "参数中含有非法的额外参数",
                Some(json!({ "location": "query", "field": extra })),
            ));
        }
        match params.iter().find(|(k, _)| k == "sub_mchid") {
            Some((_, value)) => self.check_identity(&[("sub_mchid", value.clone())], false),
            None if kind.has_sub_merchant() => Err(Reply::error_with(
                400,
                "PARAM_ERROR",
                "输入源“/query/sub_mchid”映射到值字段“子商户号”必填性规则校验失败，此字段为必填项",
                Some(json!({ "location": "query", "field": "sub_mchid" })),
            )),
            None => Ok(()),
        }
    }

    /// The refund object of an apply (`apply`) or query answer, per region.
    pub(super) fn refund_answer(
        &self,
        refund: &SimRefund,
        orders: &HashMap<String, SimOrder>,
        apply: bool,
    ) -> Value {
        let order = orders.get(&refund.out_trade_no);
        let total = order.map_or(0, |o| o.total);
        let currency = order.map_or_else(|| self.config.currency.clone(), |o| o.currency.clone());
        let payment = order.and_then(|o| o.payment.as_ref());
        let transaction_id = payment.map_or("", |p| p.transaction_id.as_str());
        let create_time = rfc3339_beijing(unix(refund.created_at));
        let region = self.config.kind().region();
        let mut body = match region {
            Region::Mainland => json!({
                "refund_id": refund.refund_id,
                "out_refund_no": refund.out_refund_no,
                "transaction_id": transaction_id,
                "out_trade_no": refund.out_trade_no,
                "channel": "ORIGINAL",
                "user_received_account": "支付用户零钱",
                "create_time": create_time,
                "status": refund.status.as_str(region),
                "funds_account": "AVAILABLE",
                "amount": {
                    "total": total, "refund": refund.refund, "from": [],
                    "payer_total": payment.map_or(total, |p| p.payer_total),
                    "payer_refund": refund.payer_refund,
                    "settlement_refund": refund.refund, "settlement_total": total,
                    "discount_refund": 0, "currency": "CNY", "refund_fee": 0,
                },
                "promotion_detail": [],
            }),
            Region::Global => {
                let mut amount = json!({
                    "refund": refund.refund, "currency": currency,
                    "payer_refund": refund.payer_refund, "payer_currency": "CNY",
                });
                if let Some(rate) = payment.and_then(|p| p.exchange_rate) {
                    amount["exchange_rate"] = json!({ "type": "SETTLEMENT_RATE", "rate": rate });
                }
                json!({
                    "id": refund.refund_id,
                    "out_refund_no": refund.out_refund_no,
                    "create_time": create_time,
                    "amount": amount,
                })
            }
        };
        if region == Region::Global && !apply {
            body["transaction_id"] = json!(transaction_id);
            body["out_trade_no"] = json!(refund.out_trade_no);
            body["channel"] = json!("ORIGINAL");
            body["recv_account"] = json!("支付用户零钱");
            body["fund_source"] = json!("REFUND_SOURCE_UNSETTLED_FUNDS");
            body["status"] = json!(refund.status.as_str(region));
        }
        if let Some(at) = refund
            .success_at
            .filter(|_| refund.status == RefundStatus::Success)
        {
            body["success_time"] = json!(rfc3339_beijing(at));
        }
        body
    }
}

//! Refunds as the simulated WeChat Pay keeps them, and the apply call
//! (`POST /v3/refund/domestic/refunds`, Global `POST /v3/global/refunds`) with its rules:
//! only a paid order, `amount.total` the order's, the sum of refunds (but closed ones) at
//! most the order's total, at most 50 per order, one `out_refund_no` one refund (the same
//! body again answers that refund, another body is refused), and on a merchant with a
//! `refund_spacing` (Global: a minute) two refunds of one order no nearer than that. A
//! refund is PROCESSING until `refund_delay` has passed, then ends as
//! [`Simulator::end_refunds_as`] said when it was created (SUCCESS unless told).
//!
//! The answers' shapes and the query call are `refund_answers.rs`'s; this file knows no
//! HTTP framing.

use std::collections::HashMap;
use std::time::SystemTime;

use serde_json::{Map, Value};

use super::fields::{json_body, reject_unknown, string_field};
use super::http::HttpRequest;
use super::ids::digits;
use super::kind::{Region, cny_payer_total};
use super::orders::{SimOrder, TradeState};
use super::reply::Reply;
use super::time::unix;
use super::{Inner, Simulator};

/// How many refunds one order may have (WeChat: 50).
const MAX_REFUNDS: usize = 50;

/// `status` of a refund. Global spells a closed refund `REFUNDCLOSE`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum RefundStatus {
    Processing,
    #[default]
    Success,
    Closed,
    Abnormal,
}

impl RefundStatus {
    pub(super) fn as_str(self, region: Region) -> &'static str {
        match (self, region) {
            (RefundStatus::Processing, _) => "PROCESSING",
            (RefundStatus::Success, _) => "SUCCESS",
            (RefundStatus::Closed, Region::Mainland) => "CLOSED",
            (RefundStatus::Closed, Region::Global) => "REFUNDCLOSE",
            (RefundStatus::Abnormal, _) => "ABNORMAL",
        }
    }
}

/// One refund as the simulated WeChat Pay keeps it.
#[derive(Debug, Clone)]
pub struct SimRefund {
    pub out_refund_no: String,
    pub out_trade_no: String,
    /// WeChat's refund number (`refund_id`, Global `id`).
    pub refund_id: String,
    /// The raw body of the first apply.
    pub body: String,
    /// In the order's minor unit.
    pub refund: i64,
    /// What the payer gets back, in fen (Global: at the payment's rate).
    pub payer_refund: i64,
    pub status: RefundStatus,
    /// How it ends once `refund_delay` has passed.
    pub(super) ends_as: RefundStatus,
    /// Simulator clock.
    pub created_at: SystemTime,
    /// Unix seconds, once SUCCESS.
    pub success_at: Option<i64>,
    /// Accepted applies (the first and identical re-entries).
    pub applied: usize,
}

impl Simulator {
    /// Refunds created from now on end as `status` (SUCCESS, CLOSED or ABNORMAL) once the
    /// account's `refund_delay` has passed.
    pub fn end_refunds_as(&self, status: RefundStatus) {
        self.inner.lock().refunds_end_as = status;
    }

    /// A refund made outside the client (on the merchant platform, or by another system)
    /// under `out_refund_no`: SUCCESS at once. False if the order is not paid or unknown.
    pub fn refund_outside(&self, out_trade_no: &str, out_refund_no: &str, amount: i64) -> bool {
        let now = self.inner.now();
        let mut state = self.inner.lock();
        let Some(order) = state.orders.get_mut(out_trade_no) else {
            return false;
        };
        if !order.state.was_paid() {
            return false;
        }
        order.state = TradeState::Refund;
        let refund = SimRefund {
            out_refund_no: out_refund_no.into(),
            out_trade_no: out_trade_no.into(),
            refund_id: format!("50{}", digits(27)),
            body: "(merchant platform)".into(),
            refund: amount,
            payer_refund: amount,
            status: RefundStatus::Success,
            ends_as: RefundStatus::Success,
            created_at: now,
            success_at: Some(unix(now)),
            applied: 1,
        };
        state.refunds.insert(out_refund_no.into(), refund);
        true
    }

    /// A processing refund ends now as `status` (WeChat finished it). False if unknown or
    /// already finished.
    pub fn finish_refund(&self, out_refund_no: &str, status: RefundStatus) -> bool {
        let now = self.inner.now();
        let mut state = self.inner.lock();
        match state.refunds.get_mut(out_refund_no) {
            Some(r) if r.status == RefundStatus::Processing => {
                r.status = status;
                r.success_at = (status == RefundStatus::Success).then(|| unix(now));
                true
            }
            _ => false,
        }
    }

    /// One refund, by its number.
    pub fn refund_of(&self, out_refund_no: &str) -> Option<SimRefund> {
        let now = self.inner.now();
        let delay = self.inner.config.refund_delay;
        let mut state = self.inner.lock();
        let refund = state.refunds.get_mut(out_refund_no)?;
        advance(refund, now, delay);
        Some(refund.clone())
    }

    /// Every refund of order `out_trade_no`, oldest first.
    pub fn refunds_of(&self, out_trade_no: &str) -> Vec<SimRefund> {
        let mut refunds: Vec<SimRefund> = self
            .inner
            .lock()
            .refunds
            .values()
            .filter(|r| r.out_trade_no == out_trade_no)
            .cloned()
            .collect();
        refunds.sort_by_key(|r| r.created_at);
        refunds
    }
}

/// PROCESSING → its end once `delay` has passed since it was created.
pub(super) fn advance(refund: &mut SimRefund, now: SystemTime, delay: std::time::Duration) {
    let due = now
        .duration_since(refund.created_at)
        .is_ok_and(|age| age >= delay);
    if refund.status == RefundStatus::Processing && due {
        refund.status = refund.ends_as;
        if refund.status == RefundStatus::Success {
            refund.success_at = Some(unix(now));
        }
    }
}

/// A validated apply body.
struct Apply {
    out_trade_no: String,
    out_refund_no: String,
    refund: i64,
    total: i64,
    currency: String,
}

impl Inner {
    /// `POST` a refund: a new one, the same one again, or a refusal.
    pub(super) fn refund_apply(
        &self,
        req: &HttpRequest,
        orders: &mut HashMap<String, SimOrder>,
        refunds: &mut HashMap<String, SimRefund>,
        ends_as: RefundStatus,
        now: SystemTime,
    ) -> Reply {
        let form = match self.apply_form(&req.body) {
            Ok(form) => form,
            Err(reply) => return reply,
        };
        let body = String::from_utf8_lossy(&req.body).into_owned();
        if let Some(known) = refunds.get_mut(&form.out_refund_no) {
            if known.body != body {
                return Reply::error(
                    400,
                    "INVALID_REQUEST",
                    "退款单号已存在，请求参数与之前请求不一致，请核实后再试",
                );
            }
            advance(known, now, self.config.refund_delay);
            known.applied += 1;
            return Reply::json(200, &self.refund_answer(known, orders, true));
        }
        let Some(order) = orders.get_mut(&form.out_trade_no) else {
            return Reply::error(404, "RESOURCE_NOT_EXISTS", "订单不存在");
        };
        if let Err(reply) = self.refundable(order, &form, refunds, now) {
            return reply;
        }
        let payer_refund = match order.payment.as_ref().and_then(|p| p.exchange_rate) {
            Some(rate) => cny_payer_total(form.refund, &order.currency, rate),
            None => form.refund,
        };
        order.state = TradeState::Refund;
        let refund = SimRefund {
            out_refund_no: form.out_refund_no.clone(),
            out_trade_no: form.out_trade_no,
            refund_id: format!("50{}", digits(27)),
            body,
            refund: form.refund,
            payer_refund,
            status: RefundStatus::Processing,
            ends_as,
            created_at: now,
            success_at: None,
            applied: 1,
        };
        let reply = Reply::json(200, &self.refund_answer(&refund, orders, true));
        refunds.insert(form.out_refund_no, refund);
        reply
    }

    /// The order's rules: paid, the same total and currency, enough left, at most 50
    /// refunds, and the account's spacing since the order's latest refund.
    fn refundable(
        &self,
        order: &SimOrder,
        form: &Apply,
        refunds: &HashMap<String, SimRefund>,
        now: SystemTime,
    ) -> Result<(), Reply> {
        if !order.state.was_paid() {
            return Err(Reply::error(
                404,
                "RESOURCE_NOT_EXISTS",
                "订单未支付，不能退款",
            ));
        }
        if form.total != order.total || form.currency != order.currency {
            return Err(Reply::error(
                400,
                "INVALID_REQUEST",
                "您的请求参数与订单信息不一致",
            ));
        }
        let of_order: Vec<&SimRefund> = refunds
            .values()
            .filter(|r| r.out_trade_no == order.out_trade_no)
            .collect();
        if of_order.len() >= MAX_REFUNDS {
            return Err(Reply::error(
                400,
                "INVALID_REQUEST",
                "该订单退款次数已超过50次",
            ));
        }
        let taken: i64 = of_order
            .iter()
            .filter(|r| r.status != RefundStatus::Closed)
            .map(|r| r.refund)
            .sum();
        if form.refund > order.total - taken {
            return Err(Reply::error(
                400,
                "INVALID_REQUEST",
                &format!(
                    "申请退款金额超过订单可退金额：订单金额{}，已退{}，本次申请{}",
                    order.total, taken, form.refund
                ),
            ));
        }
        if let Some(spacing) = self.config.refund_spacing
            && of_order.iter().any(|r| {
                now.duration_since(r.created_at)
                    .is_ok_and(|age| age < spacing)
                    || r.created_at > now
            })
        {
            return Err(Reply::error(
                400,
                "INVALID_REQUEST",
                "同一笔订单的两次退款申请间隔须不少于1分钟，请稍后再试",
            ));
        }
        Ok(())
    }

    /// The apply body, checked the way the gateway does for the merchant's kind.
    fn apply_form(&self, raw: &[u8]) -> Result<Apply, Reply> {
        let kind = self.config.kind();
        let identity = refund_identity(kind.region(), kind.has_sub_merchant());
        let mut known: Vec<&str> = identity.iter().map(|f| f.0).collect();
        known.extend([
            "transaction_id",
            "out_trade_no",
            "out_refund_no",
            "reason",
            "notify_url",
            "amount",
        ]);
        if kind.region() == Region::Mainland {
            known.extend(["funds_account", "goods_detail"]);
        }
        let body = json_body(raw, &known)?;
        let mut named = Vec::new();
        for &(field, required) in identity {
            if let Some(value) = string_field(&body, field, required, 1, 32)? {
                named.push((field, value));
            }
        }
        let out_trade_no = string_field(&body, "out_trade_no", true, 1, 32)?.unwrap_or_default();
        let out_refund_no = string_field(&body, "out_refund_no", true, 1, 64)?.unwrap_or_default();
        if !out_refund_no
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || "_-|*@".contains(c))
        {
            return Err(Reply::param(
                "/out_refund_no",
                "格式错误，只能是数字、大小写字母_-|*@",
            ));
        }
        let _reason = string_field(&body, "reason", false, 1, 80)?;
        if let Some(url) = string_field(&body, "notify_url", false, 8, 256)?
            && (!url.starts_with("https://") || url.contains(['?', '#', ' ']))
        {
            return Err(Reply::param(
                "/notify_url",
                "格式错误，须为https地址且不能携带参数",
            ));
        }
        let (refund, total, currency) = amount(&body, kind.region(), &self.config.currency)?;
        self.check_identity(&named, true)?;
        Ok(Apply {
            out_trade_no,
            out_refund_no,
            refund,
            total,
            currency,
        })
    }
}

/// The fields naming the merchant in a refund body, with whether each is required: none
/// for a mainland direct merchant, `sub_mchid` for a provider; on Global those of an order.
fn refund_identity(region: Region, sub: bool) -> &'static [(&'static str, bool)] {
    match (region, sub) {
        (Region::Mainland, false) => &[],
        (Region::Mainland, true) => &[("sub_mchid", true)],
        (Region::Global, false) => &[("appid", true), ("mchid", true)],
        (Region::Global, true) => &[
            ("sp_appid", true),
            ("sp_mchid", true),
            ("sub_appid", false),
            ("sub_mchid", true),
        ],
    }
}

/// `amount{refund ≥ 1, total ≥ 1, currency}`: currency required, CNY on the mainland, the
/// merchant's on Global.
fn amount(
    body: &Map<String, Value>,
    region: Region,
    settles_in: &str,
) -> Result<(i64, i64, String), Reply> {
    let Some(Value::Object(amount)) = body.get("amount") else {
        return Err(Reply::param(
            "/amount",
            "必填性规则校验失败，此字段为必填项",
        ));
    };
    reject_unknown("/amount", amount, &["refund", "total", "currency", "from"])?;
    let int = |name: &str| match amount.get(name).map(Value::as_i64) {
        Some(Some(n)) if n >= 1 => Ok(n),
        Some(Some(_)) => Err(Reply::param(
            &format!("/amount/{name}"),
            "取值校验失败，金额必须大于0",
        )),
        Some(None) => Err(Reply::param(
            &format!("/amount/{name}"),
            "类型错误，应为整数",
        )),
        None => Err(Reply::param(
            &format!("/amount/{name}"),
            "必填性规则校验失败，此字段为必填项",
        )),
    };
    let (refund, total) = (int("refund")?, int("total")?);
    let expected = match region {
        Region::Mainland => "CNY",
        Region::Global => settles_in,
    };
    match amount.get("currency") {
        Some(Value::String(c)) if c == expected => Ok((refund, total, c.clone())),
        None => Err(Reply::param(
            "/amount/currency",
            "必填性规则校验失败，此字段为必填项",
        )),
        Some(_) => Err(Reply::param(
            "/amount/currency",
            &format!("取值校验失败，退款币种须为支付币种{expected}"),
        )),
    }
}

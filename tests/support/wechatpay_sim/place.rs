//! The Native place call (`POST …/native` of the merchant's kind): body validation the way
//! WeChat Pay's gateway does it (the fields, limits and identity of the kind, the Global
//! `trade_type` and MCC), then a new order or a re-entry of an existing one. The generic
//! field validators are in `fields.rs`.

use std::collections::HashMap;
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use serde_json::{Map, Value, json};

use super::Inner;
use super::fields::{amount_field, json_body, string_field};
use super::http::HttpRequest;
use super::ids::new_code_url;
use super::kind::{Region, is_mcc};
use super::orders::{SimOrder, TradeState};
use super::reply::Reply;
use super::time::{parse_rfc3339, unix};

impl Inner {
    /// `POST /v3/pay/transactions/native` (partner: `/v3/pay/partner/…`, Global:
    /// `/v3/global/…`).
    pub(super) fn native(
        &self,
        req: &HttpRequest,
        orders: &mut HashMap<String, SimOrder>,
        now: SystemTime,
    ) -> Reply {
        let form = match self.native_form(&req.body, now) {
            Ok(form) => form,
            Err(reply) => return reply,
        };
        let kind = self.config.kind();
        let body = String::from_utf8_lossy(&req.body).into_owned();
        if let Some(order) = orders.get_mut(&form.out_trade_no) {
            if order.state.was_paid() {
                return Reply::error(400, "ORDERPAID", "该订单已支付");
            }
            if !order.state.is_open() {
                return Reply::error(400, "ORDER_CLOSED", "订单已关闭");
            }
            if order.body != body {
                return Reply::error(400, "INVALID_REQUEST", "请求重入时，参数与首次请求时不一致");
            }
            if now >= order.expires_at {
                return Reply::error(400, "INVALID_REQUEST", "订单已过期");
            }
            let fresh = new_code_url(kind.code_url_prefix());
            let old = std::mem::replace(&mut order.code_url, fresh);
            order.dead_code_urls.push(old);
            order.code_url_issued_at = now;
            order.placed += 1;
            return Reply::json(200, &json!({ "code_url": order.code_url }));
        }
        let order = SimOrder {
            out_trade_no: form.out_trade_no.clone(),
            state: TradeState::NotPay,
            code_url: new_code_url(kind.code_url_prefix()),
            dead_code_urls: Vec::new(),
            body,
            placed: 1,
            description: form.description,
            total: form.total,
            currency: form.currency,
            exchange_rate: (kind.region() == Region::Global).then_some(self.config.exchange_rate),
            attach: form.attach,
            time_expire: form.time_expire,
            expires_at: form.expires_at,
            created_at: now,
            code_url_issued_at: now,
            closed_at: None,
            payment: None,
        };
        let reply = Reply::json(200, &json!({ "code_url": order.code_url }));
        orders.insert(form.out_trade_no, order);
        reply
    }

    /// Validate a Native place body the way WeChat Pay's gateway does (in its order: the
    /// first problem found is the one answered), with the fields and limits of the kind.
    fn native_form(&self, raw: &[u8], now: SystemTime) -> Result<NativeForm, Reply> {
        let kind = self.config.kind();
        let (min_no, max_attach, max_notify) = kind.limits();
        let body = json_body(raw, &kind.native_fields())?;
        let mut named = Vec::new();
        for &(field, required) in kind.place_identity() {
            if let Some(value) = string_field(&body, field, required, 1, 32)? {
                named.push((field, value));
            }
        }
        let description = string_field(&body, "description", true, 1, 127)?.unwrap_or_default();
        let out_trade_no =
            string_field(&body, "out_trade_no", true, min_no, 32)?.unwrap_or_default();
        let time_expire = string_field(&body, "time_expire", false, 1, 64)?;
        let attach = string_field(&body, "attach", false, 1, max_attach)?;
        let notify_url =
            string_field(&body, "notify_url", true, 1, max_notify)?.unwrap_or_default();
        let _goods_tag = string_field(&body, "goods_tag", false, 1, 32)?;
        if kind.region() == Region::Global {
            self.global_fields(&body)?;
        }
        check_formats(&body, &out_trade_no, &notify_url)?;
        let (total, currency) = amount_field(&body, kind.region(), &self.config.currency)?;
        let expires_at = expiry(time_expire.as_deref(), now)?;
        self.check_identity(&named, true)?;
        Ok(NativeForm {
            out_trade_no,
            description,
            total,
            currency,
            attach,
            time_expire,
            expires_at: UNIX_EPOCH + Duration::from_secs(expires_at.max(0).unsigned_abs()),
        })
    }

    /// The fields only a Global body has: `trade_type` "NATIVE", the merchant's
    /// `merchant_category_code`, a well-formed `time_start` (`limit_pay` is not checked).
    fn global_fields(&self, body: &Map<String, Value>) -> Result<(), Reply> {
        let trade_type = string_field(body, "trade_type", true, 1, 16)?.unwrap_or_default();
        if trade_type != "NATIVE" {
            return Err(Reply::param(
                "/trade_type",
                &format!("取值校验失败，本接口的trade_type应为NATIVE，收到{trade_type}"),
            ));
        }
        let mcc = string_field(body, "merchant_category_code", true, 1, 32)?.unwrap_or_default();
        if !is_mcc(&mcc) {
            return Err(Reply::param(
                "/merchant_category_code",
                &format!("格式错误，应为4位数字的MCC，收到{mcc}"),
            ));
        }
        if mcc != self.config.merchant_category_code {
            return Err(Reply::error_with(
                400,
                "PARAM_ERROR",
                &format!(
                    "merchant_category_code {mcc}与商户登记的{}不一致",
                    self.config.merchant_category_code
                ),
                Some(json!({ "location": "body", "field": "/merchant_category_code" })),
            ));
        }
        if let Some(start) = string_field(body, "time_start", false, 1, 64)?
            && parse_rfc3339(&start).is_none()
        {
            return Err(Reply::param(
                "/time_start",
                "格式错误，应为yyyy-MM-DDTHH:mm:ss+TIMEZONE",
            ));
        }
        Ok(())
    }
}

/// A validated Native place body.
struct NativeForm {
    out_trade_no: String,
    description: String,
    total: i64,
    currency: String,
    attach: Option<String>,
    time_expire: Option<String>,
    expires_at: SystemTime,
}

/// Types of the optional members, the `out_trade_no` character set, the `notify_url` form.
fn check_formats(
    body: &Map<String, Value>,
    out_trade_no: &str,
    notify_url: &str,
) -> Result<(), Reply> {
    if body.get("support_fapiao").is_some_and(|v| !v.is_boolean()) {
        return Err(Reply::param("/support_fapiao", "类型错误，应为布尔值"));
    }
    for object in ["detail", "scene_info", "settle_info"] {
        if body.get(object).is_some_and(|v| !v.is_object()) {
            return Err(Reply::param(&format!("/{object}"), "类型错误，应为对象"));
        }
    }
    if !out_trade_no
        .chars()
        .all(|c| c.is_ascii_alphanumeric() || "_-|*".contains(c))
    {
        return Err(Reply::param(
            "/out_trade_no",
            "格式错误，只能是数字、大小写字母_-|*",
        ));
    }
    if !notify_url.starts_with("https://")
        || notify_url.len() <= "https://".len()
        || notify_url.contains(['?', '#', ' '])
    {
        return Err(Reply::param(
            "/notify_url",
            "格式错误，须为https地址且不能携带参数",
        ));
    }
    Ok(())
}

/// When the order stops being payable, Unix seconds: `time_expire` raised or lowered into
/// WeChat's window, or 7 days when none was sent.
fn expiry(time_expire: Option<&str>, now: SystemTime) -> Result<i64, Reply> {
    Ok(match time_expire {
        Some(text) => {
            let at = parse_rfc3339(text).ok_or_else(|| {
                Reply::param("/time_expire", "格式错误，应为yyyy-MM-DDTHH:mm:ss+TIMEZONE")
            })?;
            // WeChat silently raises a deadline under a minute away and lowers one past
            // 90 days.
            at.clamp(unix(now) + 60, unix(now) + 90 * 86_400)
        }
        None => unix(now) + 7 * 86_400,
    })
}

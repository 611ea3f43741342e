//! The Native place call (`POST /v3/pay/transactions/native`): body validation the way
//! WeChat Pay's gateway does it, then a new order or a re-entry of an existing one. The
//! field validators here are shared with the close call (`trade.rs`).

use std::collections::HashMap;
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use serde_json::{Map, Value, json};

use super::Inner;
use super::http::HttpRequest;
use super::ids::new_code_url;
use super::orders::{SimOrder, TradeState};
use super::reply::Reply;
use super::time::{parse_rfc3339, unix};

/// The fields a Native place body may have.
const KNOWN: [&str; 13] = [
    "appid",
    "mchid",
    "description",
    "out_trade_no",
    "time_expire",
    "attach",
    "notify_url",
    "goods_tag",
    "support_fapiao",
    "amount",
    "detail",
    "scene_info",
    "settle_info",
];

impl Inner {
    /// `POST /v3/pay/transactions/native`.
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
            let fresh = new_code_url();
            let old = std::mem::replace(&mut order.code_url, fresh);
            order.dead_code_urls.push(old);
            order.code_url_issued_at = now;
            order.placed += 1;
            return Reply::json(200, &json!({ "code_url": order.code_url }));
        }
        let order = SimOrder {
            out_trade_no: form.out_trade_no.clone(),
            state: TradeState::NotPay,
            code_url: new_code_url(),
            dead_code_urls: Vec::new(),
            body,
            placed: 1,
            description: form.description,
            total: form.total,
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
    /// first problem found is the one answered).
    fn native_form(&self, raw: &[u8], now: SystemTime) -> Result<NativeForm, Reply> {
        let body = json_body(raw)?;
        let appid = string_field(&body, "appid", true, 1, 32)?.unwrap_or_default();
        let mchid = string_field(&body, "mchid", true, 1, 32)?.unwrap_or_default();
        let description = string_field(&body, "description", true, 1, 127)?.unwrap_or_default();
        let out_trade_no = string_field(&body, "out_trade_no", true, 6, 32)?.unwrap_or_default();
        let time_expire = string_field(&body, "time_expire", false, 1, 64)?;
        let attach = string_field(&body, "attach", false, 1, 128)?;
        let notify_url = string_field(&body, "notify_url", true, 1, 255)?.unwrap_or_default();
        let _goods_tag = string_field(&body, "goods_tag", false, 1, 32)?;
        check_formats(&body, &out_trade_no, &notify_url)?;
        let (total, _currency) = amount_field(&body)?;
        let expires_at = expiry(time_expire.as_deref(), now)?;
        self.check_merchant(&mchid, &appid)?;
        Ok(NativeForm {
            out_trade_no,
            description,
            total,
            attach,
            time_expire,
            expires_at: UNIX_EPOCH + Duration::from_secs(expires_at.max(0).unsigned_abs()),
        })
    }

    /// The body's `mchid` and `appid` are this merchant's.
    fn check_merchant(&self, mchid: &str, appid: &str) -> Result<(), Reply> {
        if mchid != self.config.mchid {
            return Err(Reply::error_with(
                400,
                "PARAM_ERROR",
                "mchid不匹配",
                Some(json!({ "location": "body", "field": "/mchid" })),
            ));
        }
        if appid != self.config.appid {
            return Err(Reply::error(
                400,
                "APPID_MCHID_NOT_MATCH",
                "appid和mchid不匹配",
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
    attach: Option<String>,
    time_expire: Option<String>,
    expires_at: SystemTime,
}

/// The body as a JSON object without `null`s or unknown fields.
fn json_body(raw: &[u8]) -> Result<Map<String, Value>, Reply> {
    let value: Value = serde_json::from_slice(raw)
        .map_err(|e| Reply::error(400, "PARAM_ERROR", &format!("请求体JSON格式错误: {e}")))?;
    let Value::Object(body) = value else {
        return Err(Reply::error(400, "PARAM_ERROR", "请求体必须是JSON对象"));
    };
    reject_nulls("", &Value::Object(body.clone()))?;
    reject_unknown("", &body, &KNOWN)?;
    Ok(body)
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

/// `null` anywhere → PARAM_ERROR.
pub(super) fn reject_nulls(path: &str, value: &Value) -> Result<(), Reply> {
    match value {
        Value::Null => Err(Reply::param(path, "的值不能为null")),
        Value::Object(map) => map
            .iter()
            .try_for_each(|(k, v)| reject_nulls(&format!("{path}/{k}"), v)),
        Value::Array(items) => items
            .iter()
            .enumerate()
            .try_for_each(|(i, v)| reject_nulls(&format!("{path}/{i}"), v)),
        _ => Ok(()),
    }
}

/// Fields outside `known` → PARAM_ERROR "参数中含有非法的额外参数".
pub(super) fn reject_unknown(
    path: &str,
    map: &Map<String, Value>,
    known: &[&str],
) -> Result<(), Reply> {
    match map.keys().find(|k| !known.contains(&k.as_str())) {
        Some(extra) => Err(Reply::error_with(
            400,
            "PARAM_ERROR",
            "参数中含有非法的额外参数",
            Some(json!({ "location": "body", "field": format!("{path}/{extra}") })),
        )),
        None => Ok(()),
    }
}

/// A string field: presence, type, length in characters, no 4-byte UTF-8, no padding.
fn string_field(
    body: &Map<String, Value>,
    name: &str,
    required: bool,
    min: usize,
    max: usize,
) -> Result<Option<String>, Reply> {
    let field = format!("/{name}");
    let text = match body.get(name) {
        None if required => {
            return Err(Reply::param(&field, "必填性规则校验失败，此字段为必填项"));
        }
        None => return Ok(None),
        Some(Value::String(text)) => text,
        Some(_) => return Err(Reply::param(&field, "类型错误，应为字符串")),
    };
    let chars = text.chars().count();
    if chars < min || chars > max {
        return Err(Reply::param(
            &field,
            &format!("长度校验失败，应为{min}到{max}个字符"),
        ));
    }
    if text.chars().any(|c| u32::from(c) > 0xFFFF) {
        return Err(Reply::param(
            &field,
            "包含不支持的字符（仅支持UTF-8中1到3字节的字符）",
        ));
    }
    if text.trim() != text {
        return Err(Reply::param(&field, "首尾不能包含空白字符"));
    }
    Ok(Some(text.clone()))
}

/// `amount{total ≥ 1, currency "CNY"?}`.
fn amount_field(body: &Map<String, Value>) -> Result<(i64, String), Reply> {
    let Some(amount) = body.get("amount") else {
        return Err(Reply::param(
            "/amount",
            "必填性规则校验失败，此字段为必填项",
        ));
    };
    let Value::Object(amount) = amount else {
        return Err(Reply::param("/amount", "类型错误，应为对象"));
    };
    reject_unknown("/amount", amount, &["total", "currency"])?;
    let total = match amount.get("total") {
        None => {
            return Err(Reply::param(
                "/amount/total",
                "必填性规则校验失败，此字段为必填项",
            ));
        }
        Some(v) => v
            .as_i64()
            .ok_or_else(|| Reply::param("/amount/total", "类型错误，应为整数"))?,
    };
    if total < 1 {
        return Err(Reply::param(
            "/amount/total",
            "取值校验失败，订单金额必须大于0",
        ));
    }
    let currency = match amount.get("currency") {
        None => "CNY".to_owned(),
        Some(Value::String(c)) if c == "CNY" => c.clone(),
        Some(_) => return Err(Reply::param("/amount/currency", "取值校验失败，仅支持CNY")),
    };
    Ok((total, currency))
}

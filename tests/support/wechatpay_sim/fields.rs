//! The field validators WeChat Pay's gateway applies to request bodies, shared by the place
//! (`place.rs`) and close (`trade.rs`) calls: JSON object, no `null`s, no unknown fields,
//! string lengths and character sets, the `amount` object per region.

use serde_json::{Map, Value, json};

use super::kind::{Region, is_global_currency};
use super::reply::Reply;

/// The body as a JSON object without `null`s or unknown fields.
pub(super) fn json_body(raw: &[u8], known: &[&str]) -> Result<Map<String, Value>, Reply> {
    let value: Value = serde_json::from_slice(raw)
        .map_err(|e| Reply::error(400, "PARAM_ERROR", &format!("请求体JSON格式错误: {e}")))?;
    let Value::Object(body) = value else {
        return Err(Reply::error(400, "PARAM_ERROR", "请求体必须是JSON对象"));
    };
    reject_nulls("", &Value::Object(body.clone()))?;
    reject_unknown("", &body, known)?;
    Ok(body)
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
pub(super) fn string_field(
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

/// `amount{total ≥ 1, currency}`: an integer in the minor unit; the currency is optional
/// and only CNY on the mainland, required and the merchant's own (`settles_in`) on Global.
pub(super) fn amount_field(
    body: &Map<String, Value>,
    region: Region,
    settles_in: &str,
) -> Result<(i64, String), Reply> {
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
    let currency = match (region, amount.get("currency")) {
        (Region::Mainland, None) => "CNY".to_owned(),
        (Region::Mainland, Some(Value::String(c))) if c == "CNY" => c.clone(),
        (Region::Mainland, Some(_)) => {
            return Err(Reply::param("/amount/currency", "取值校验失败，仅支持CNY"));
        }
        (Region::Global, currency) => global_currency(currency, settles_in)?,
    };
    Ok((total, currency))
}

/// A Global `amount.currency`: present, a Global currency, and the merchant's.
fn global_currency(currency: Option<&Value>, settles_in: &str) -> Result<String, Reply> {
    let field = "/amount/currency";
    let code = match currency {
        None => return Err(Reply::param(field, "必填性规则校验失败，此字段为必填项")),
        Some(Value::String(code)) => code,
        Some(_) => return Err(Reply::param(field, "类型错误，应为字符串")),
    };
    if !is_global_currency(code) {
        return Err(Reply::param(
            field,
            &format!("取值校验失败，不支持的币种{code}"),
        ));
    }
    if code != settles_in {
        return Err(Reply::error_with(
            400,
            "PARAM_ERROR",
            &format!("币种{code}与商户的结算币种{settles_in}不一致，请使用商户的结算币种下单"),
            Some(json!({ "location": "body", "field": field })),
        ));
    }
    Ok(code.clone())
}

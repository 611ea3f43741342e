//! The fields that name the merchant in a request (`mchid`/`appid`, or `sp_mchid`/`sp_appid`/
//! `sub_mchid`/`sub_appid`) checked against the account, in a place body, a query string or
//! a close body, and WeChat's answers when they do not match. Which fields a kind uses is
//! `kind.rs`'s to say.

use serde_json::{Value, json};

use super::Inner;
use super::reply::Reply;

/// The order WeChat checks identity values in: the (provider's) merchant, its app, the
/// sub-merchant, the sub-merchant's app.
const PRIORITY: [&str; 6] = [
    "mchid",
    "sp_mchid",
    "appid",
    "sp_appid",
    "sub_mchid",
    "sub_appid",
];

/// Every field that names a merchant in a query string or a close body, whatever the kind.
const TRADE_FIELDS: [&str; 3] = ["mchid", "sp_mchid", "sub_mchid"];

impl Inner {
    /// The identity values a request named (`(field, value)`, any order) are this account's;
    /// `place` answers a wrong merchant with the field in a `detail`, as the place call does.
    pub(super) fn check_identity(
        &self,
        named: &[(&str, String)],
        place: bool,
    ) -> Result<(), Reply> {
        for field in PRIORITY {
            let Some((_, value)) = named.iter().find(|(name, _)| *name == field) else {
                continue;
            };
            if value != self.config.identity(field) {
                return Err(mismatch(field, place));
            }
        }
        Ok(())
    }

    /// The identity parameters of a query string (`…?mchid=` or `…?sp_mchid=&sub_mchid=`):
    /// each one this kind needs, none of another kind's, all this account's.
    pub(super) fn check_query_identity(&self, params: &[(String, String)]) -> Result<(), Reply> {
        let needed = self.config.kind().trade_identity();
        if let Some((extra, _)) = params
            .iter()
            .find(|(k, _)| TRADE_FIELDS.contains(&k.as_str()) && !needed.contains(&k.as_str()))
        {
            return Err(Reply::error_with(
                400,
                "PARAM_ERROR",
                "参数中含有非法的额外参数",
                Some(json!({ "location": "query", "field": extra })),
            ));
        }
        let mut named = Vec::new();
        for field in needed {
            match params.iter().find(|(k, _)| k == field) {
                Some((_, value)) => named.push((*field, value.clone())),
                None => return Err(missing_query(field)),
            }
        }
        self.check_identity(&named, false)
    }

    /// The identity members of a close body (`{"mchid"}` or `{"sp_mchid","sub_mchid"}`):
    /// each one this kind needs, a string, this account's.
    pub(super) fn check_close_identity(
        &self,
        body: &serde_json::Map<String, Value>,
    ) -> Result<(), Reply> {
        let mut named = Vec::new();
        for field in self.config.kind().trade_identity() {
            match body.get(*field) {
                Some(Value::String(value)) => named.push((*field, value.clone())),
                _ => {
                    return Err(Reply::param(
                        &format!("/{field}"),
                        "必填性规则校验失败，此字段为必填项",
                    ));
                }
            }
        }
        self.check_identity(&named, false)
    }
}

/// WeChat's answer to an identity field naming someone else.
fn mismatch(field: &str, place: bool) -> Reply {
    match field {
        "mchid" | "sp_mchid" => Reply::error_with(
            400,
            "PARAM_ERROR",
            &format!("{field}不匹配"),
            place.then(|| json!({ "location": "body", "field": format!("/{field}") })),
        ),
        "appid" => Reply::error(400, "APPID_MCHID_NOT_MATCH", "appid和mchid不匹配"),
        "sp_appid" => Reply::error(400, "APPID_MCHID_NOT_MATCH", "sp_appid和sp_mchid不匹配"),
        "sub_appid" => Reply::error(400, "APPID_MCHID_NOT_MATCH", "sub_appid和sub_mchid不匹配"),
        _ => Reply::error(
            400,
            "INVALID_REQUEST",
            "受理关系不存在，请检查sub_mchid是否为该服务商的子商户",
        ),
    }
}

/// 400 `PARAM_ERROR` for a required query parameter that is missing.
fn missing_query(field: &str) -> Reply {
    let label = match field {
        "mchid" => "直连商户号",
        "sp_mchid" => "服务商户号",
        _ => "子商户号",
    };
    Reply::error_with(
        400,
        "PARAM_ERROR",
        &format!("输入源“/query/{field}”映射到值字段“{label}”必填性规则校验失败，此字段为必填项"),
        Some(json!({ "location": "query", "field": field })),
    )
}

//! Error codes and the `error` object the daemon sends, and [`RequestError`]: why a line
//! is not a valid request. Every code is listed in `docs/protocol.md` with what a POS
//! should do about it.

use serde::{Deserialize, Serialize};

use super::request::OPS;

/// Why a line is not a valid request. Converts to the `error` message sent back.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum RequestError {
    /// The line is not JSON at all.
    #[error("not valid JSON: {0}")]
    InvalidJson(String),
    /// JSON, but not a request: `field` names the culprit by its path (`order.amount.total`).
    #[error("{field}: {message}")]
    InvalidRequest {
        /// The request field at fault.
        field: String,
        /// What is wrong with it.
        message: String,
    },
    /// A string `op` that names no operation.
    #[error("unknown op {0:?}; expected one of {ops}", ops = OPS.join(", "))]
    UnknownOp(String),
}

impl RequestError {
    pub(crate) fn invalid(field: impl Into<String>, message: impl Into<String>) -> Self {
        RequestError::InvalidRequest {
            field: field.into(),
            message: message.into(),
        }
    }

    /// The protocol error code.
    pub fn code(&self) -> ErrorCode {
        match self {
            RequestError::InvalidJson(_) => ErrorCode::InvalidJson,
            RequestError::InvalidRequest { .. } => ErrorCode::InvalidRequest,
            RequestError::UnknownOp(_) => ErrorCode::UnknownOp,
        }
    }
}

/// The machine-readable error codes.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum ErrorCode {
    /// The line is not JSON.
    InvalidJson,
    /// JSON, but not a valid request; `field` names the culprit.
    InvalidRequest,
    /// The line exceeds `MAX_LINE`.
    LineTooLong,
    /// `op` names no operation.
    UnknownOp,
    /// The `out_trade_no` is known with different content.
    DuplicateOrder,
    /// No job has this `out_trade_no`.
    OrderNotFound,
    /// WeChat Pay refused or failed; `wechatpay_code` carries its own code.
    Wechatpay,
    /// No verified answer from WeChat Pay within `wechatpay.place_timeout` (unreachable,
    /// answers that do not verify, rate limits): the checkout failed, nothing was shown to
    /// the customer; an order that may exist at WeChat Pay is closed in the background.
    WechatpayUnavailable,
    /// The printer failed.
    Printer,
    /// The daemon is stopping and takes no new work.
    ShuttingDown,
    /// `reprint` or `sandbox_pay` of an order that can no longer be paid.
    NotPayable,
    /// `sandbox_pay` while the daemon runs the real backend.
    SandboxOnly,
    /// The daemon could not do what was asked for a reason of its own (journal I/O…).
    Internal,
    /// `refund` of an order that is not paid (extension).
    NotRefundable,
    /// `refund` of more than is left of the paid total (extension).
    RefundTooLarge,
    /// The `out_refund_no` is known with different content (extension).
    DuplicateRefund,
}

impl ErrorCode {
    /// The code as it is spelled on the wire (`invalid_request`).
    pub fn as_str(self) -> &'static str {
        match self {
            ErrorCode::InvalidJson => "invalid_json",
            ErrorCode::InvalidRequest => "invalid_request",
            ErrorCode::LineTooLong => "line_too_long",
            ErrorCode::UnknownOp => "unknown_op",
            ErrorCode::DuplicateOrder => "duplicate_order",
            ErrorCode::OrderNotFound => "order_not_found",
            ErrorCode::Wechatpay => "wechatpay",
            ErrorCode::WechatpayUnavailable => "wechatpay_unavailable",
            ErrorCode::Printer => "printer",
            ErrorCode::ShuttingDown => "shutting_down",
            ErrorCode::NotPayable => "not_payable",
            ErrorCode::SandboxOnly => "sandbox_only",
            ErrorCode::Internal => "internal",
            ErrorCode::NotRefundable => "not_refundable",
            ErrorCode::RefundTooLarge => "refund_too_large",
            ErrorCode::DuplicateRefund => "duplicate_refund",
        }
    }
}

/// The `error` object of `error` and `failed` messages.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ErrorBody {
    /// What kind of error.
    pub code: ErrorCode,
    /// For people: what was wrong, with what value, and what to do.
    pub message: String,
    /// WeChat Pay's own code, with `code = wechatpay`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub wechatpay_code: Option<String>,
    /// WeChat Pay's `Request-ID`, for its support.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub request_id: Option<String>,
    /// The request field at fault, with `invalid_request`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub field: Option<String>,
}

impl ErrorBody {
    /// An error with only a code and a message.
    pub fn new(code: ErrorCode, message: impl Into<String>) -> Self {
        ErrorBody {
            code,
            message: message.into(),
            wechatpay_code: None,
            request_id: None,
            field: None,
        }
    }
}

impl From<RequestError> for ErrorBody {
    fn from(e: RequestError) -> Self {
        let mut body = ErrorBody::new(e.code(), e.to_string());
        if let RequestError::InvalidRequest { field, .. } = e {
            body.field = Some(field);
        }
        body
    }
}

/// Deserialise `rest` into `T`, turning serde's message into one that names the field by
/// its path (`order.amount.total`).
///
/// `serde_path_to_error` gives the path of the value being read, but an unknown or missing
/// field is reported by serde at the level of the enclosing object, with the field's name
/// only in the message (``unknown field `colour` ``, ``missing field `amount` ``): those two
/// stable forms are read here, and nowhere else.
pub(crate) fn fields<T: serde::de::DeserializeOwned>(
    rest: serde_json::Value,
) -> Result<T, RequestError> {
    serde_path_to_error::deserialize(rest).map_err(|e| {
        let path = e.path().to_string();
        let inner = e.into_inner().to_string();
        let named = quoted_after(&inner, "unknown field `")
            .or_else(|| quoted_after(&inner, "missing field `"));
        let field = match named {
            Some(name) => join_path(&path, &name),
            None => path,
        };
        let message = inner
            .split(", expected one of")
            .next()
            .unwrap_or(&inner)
            .to_owned();
        let field = if field == "." {
            "request".into()
        } else {
            field
        };
        RequestError::invalid(field, message)
    })
}

fn quoted_after(text: &str, prefix: &str) -> Option<String> {
    let start = text.find(prefix)? + prefix.len();
    let end = text[start..].find('`')?;
    Some(text[start..start + end].to_owned())
}

fn join_path(path: &str, name: &str) -> String {
    if path.is_empty() || path == "." {
        name.to_owned()
    } else if path == name || path.ends_with(&format!(".{name}")) {
        path.to_owned()
    } else {
        format!("{path}.{name}")
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn error_codes_as_str_match_the_wire() {
        use ErrorCode::*;
        for code in [
            InvalidJson,
            InvalidRequest,
            LineTooLong,
            UnknownOp,
            DuplicateOrder,
            OrderNotFound,
            Wechatpay,
            Printer,
            ShuttingDown,
            NotPayable,
            SandboxOnly,
            Internal,
        ] {
            let wire = serde_json::to_value(code).expect("plain data");
            assert_eq!(wire.as_str(), Some(code.as_str()), "{code:?}");
        }
    }
}

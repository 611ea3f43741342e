//! An answer before it is framed (`http.rs` writes it), and the error-body shapes WeChat Pay
//! uses: `{code, message, detail?}`, PARAM_ERROR naming one body field.

use serde_json::{Value, json};

/// An answer before it is framed.
#[derive(Clone)]
pub(super) struct Reply {
    pub(super) status: u16,
    pub(super) content_type: &'static str,
    pub(super) body: Vec<u8>,
    /// `code` of a JSON error body.
    pub(super) error_code: Option<String>,
    /// Extra response headers (the `Wechatpay-*` ones once signed).
    pub(super) headers: Vec<(String, String)>,
}

impl Reply {
    pub(super) fn json(status: u16, body: &Value) -> Reply {
        Reply {
            status,
            content_type: "application/json; charset=utf-8",
            body: body.to_string().into_bytes(),
            error_code: None,
            headers: Vec::new(),
        }
    }

    pub(super) fn empty(status: u16) -> Reply {
        Reply {
            status,
            content_type: "",
            body: Vec::new(),
            error_code: None,
            headers: Vec::new(),
        }
    }

    pub(super) fn error(status: u16, code: &str, message: &str) -> Reply {
        Self::error_with(status, code, message, None)
    }

    pub(super) fn error_with(
        status: u16,
        code: &str,
        message: &str,
        detail: Option<Value>,
    ) -> Reply {
        let mut body = json!({ "code": code, "message": message });
        if let Some(detail) = detail {
            body["detail"] = detail;
        }
        Reply {
            error_code: Some(code.to_owned()),
            ..Self::json(status, &body)
        }
    }

    /// 400 PARAM_ERROR about one body field, in WeChat's `detail` shape.
    pub(super) fn param(field: &str, issue: &str) -> Reply {
        Self::error_with(
            400,
            "PARAM_ERROR",
            &format!("输入源“/body{field}”{issue}"),
            Some(json!({ "location": "body", "field": field, "issue": issue })),
        )
    }

    pub(super) fn is_2xx(&self) -> bool {
        (200..300).contains(&self.status)
    }

    pub(super) fn with_body(mut self, body: &[u8]) -> Reply {
        self.body = body.to_vec();
        self
    }
}

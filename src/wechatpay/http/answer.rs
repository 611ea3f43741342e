//! What comes back from one exchange with WeChat Pay: the [`Reply`] (believed or not), why
//! none came ([`NoAnswer`]), one attempt's failure ([`CallError`]), and the one shape of
//! WeChat Pay's error answers ([`ApiError`], wechatpay-go's `APIError`) with its
//! classification into the [`PaymentError`] the jobs act on.
//!
//! Data and classification only: sending and retrying are in `http/mod.rs`.

use serde::Deserialize;

use crate::payment::PaymentError;
use crate::wechatpay::api::codes::{self, code_is};
use crate::wechatpay::auth::{ResponseSignature, SignError, Verifier, VerifyError};

/// What WeChat Pay answered, before anyone decided to believe it.
#[derive(Debug)]
pub(crate) struct Reply {
    pub(crate) status: u16,
    pub(crate) body: Vec<u8>,
    pub(crate) request_id: Option<String>,
    /// The `Wechatpay-*` headers, or which one was missing.
    pub(crate) signature: Result<ResponseSignature, VerifyError>,
    /// Seconds between WeChat Pay's clock and ours (its `Wechatpay-Timestamp`, else its
    /// `Date`, − our clock when the headers arrived).
    pub(crate) clock_offset: Option<i64>,
    /// Our clock, Unix seconds, when the headers arrived.
    pub(crate) received_at: i64,
}

impl Reply {
    pub(crate) fn is_success(&self) -> bool {
        (200..300).contains(&self.status)
    }

    /// Checks the answer's signature with `verifier` at `now_unix`; a missing header is
    /// [`VerifyError::MissingHeader`], so an unsigned answer is never believed.
    pub(crate) fn verify(&self, verifier: &Verifier, now_unix: i64) -> Result<(), VerifyError> {
        match &self.signature {
            Ok(signature) => verifier.verify(signature, &self.body, now_unix),
            Err(missing) => Err(missing.clone()),
        }
    }
}

/// Why no answer came back. Nothing is known about the request's outcome, so the job sees
/// a transient failure and may send the same request again.
#[derive(Debug)]
pub(crate) enum NoAnswer {
    /// Not sent: the request could not be signed (the key or the random source failed).
    Sign(SignError),
    /// No connection at all (connect refused, DNS): the backup host may help.
    Connect(String),
    /// Sent, but no (complete) answer: the outcome is unknown.
    Transport(String),
    /// Sent, and no answer within `request_timeout`: the outcome is unknown.
    Timeout(String),
}

impl From<NoAnswer> for PaymentError {
    fn from(e: NoAnswer) -> PaymentError {
        let message = match e {
            NoAnswer::Sign(e) => e.to_string(),
            NoAnswer::Connect(e) | NoAnswer::Transport(e) | NoAnswer::Timeout(e) => e,
        };
        transient(message, None)
    }
}

/// One attempt's failure, before it is folded into a [`PaymentError`].
#[derive(Debug)]
pub(crate) enum CallError {
    NoAnswer(NoAnswer),
    /// A non-2xx answer; [`ApiError::read`] reads WeChat Pay's error body.
    Status(Reply),
    /// A 2xx that does not verify: not believed.
    Unverified {
        error: VerifyError,
        request_id: Option<String>,
    },
}

impl From<NoAnswer> for CallError {
    fn from(e: NoAnswer) -> CallError {
        CallError::NoAnswer(e)
    }
}

/// A non-2xx answer as WeChat Pay explains it (wechatpay-go's `APIError`).
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct ApiError {
    pub(crate) status: u16,
    /// WeChat Pay's `code`, e.g. `ORDER_NOT_EXIST`; empty when the body had none.
    pub(crate) code: String,
    pub(crate) message: String,
    pub(crate) request_id: Option<String>,
}

#[derive(Deserialize)]
struct ErrorBodyJson {
    #[serde(default)]
    code: String,
    #[serde(default)]
    message: String,
}

impl ApiError {
    /// The one reader of WeChat Pay's error body, `{"code": "…", "message": "…"}`
    /// (`docs/wechatpay.md` §3.1). A body that is not that JSON becomes the message, as text.
    pub(crate) fn read(reply: &Reply) -> ApiError {
        let (code, message) = match serde_json::from_slice::<ErrorBodyJson>(&reply.body) {
            Ok(p) => (p.code, p.message),
            Err(_) => (
                String::new(),
                String::from_utf8_lossy(&reply.body).into_owned(),
            ),
        };
        ApiError {
            status: reply.status,
            code,
            message,
            request_id: reply.request_id.clone(),
        }
    }

    /// A rate limit and 5xx: the same request may succeed after a pause.
    pub(crate) fn is_retryable(&self) -> bool {
        codes::is_rate_limit(self.status, &self.code) || self.status >= 500
    }
}

/// Fold a non-2xx answer into what the job needs to know.
impl From<ApiError> for PaymentError {
    fn from(e: ApiError) -> PaymentError {
        let ApiError {
            status,
            code,
            message,
            request_id,
        } = e;
        if codes::is_rate_limit(status, &code) {
            return PaymentError::RateLimited;
        }
        if code_is(&code, codes::ORDER_NOT_EXIST) {
            return PaymentError::OrderNotFound(message);
        }
        if code_is(&code, codes::ORDER_PAID) {
            return PaymentError::OrderPaid(message);
        }
        if code_is(&code, codes::ORDER_CLOSED) {
            return PaymentError::OrderClosed(message);
        }
        if status >= 500
            || code_is(&code, codes::SYSTEM_ERROR)
            || code_is(&code, codes::USER_PAYING)
        {
            return transient(format!("HTTP {status} {code}: {message}"), request_id);
        }
        let code = if code.is_empty() {
            format!("HTTP_{status}")
        } else {
            code
        };
        PaymentError::Rejected {
            code,
            message,
            request_id,
        }
    }
}

pub(crate) fn transient(message: String, request_id: Option<String>) -> PaymentError {
    PaymentError::Transient {
        message,
        request_id,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn error_codes_match_both_spellings() {
        assert!(code_is("SYSTEMERROR", "SYSTEM_ERROR"));
        assert!(code_is("ORDERNOTEXIST", "ORDER_NOT_EXIST"));
        assert!(code_is("ORDERPAID", "ORDER_PAID"));
        assert!(!code_is("ORDER_CLOSED", "ORDER_PAID"));
        let r = |status, code: &str| {
            PaymentError::from(ApiError {
                status,
                code: code.into(),
                message: "m".into(),
                request_id: Some("rid".into()),
            })
        };
        assert_eq!(
            r(404, "ORDERNOTEXIST"),
            PaymentError::OrderNotFound("m".into())
        );
        assert_eq!(r(400, "ORDER_PAID"), PaymentError::OrderPaid("m".into()));
        assert_eq!(r(429, "FREQUENCY_LIMITED"), PaymentError::RateLimited);
        assert_eq!(r(429, "RATELIMIT_EXCEEDED"), PaymentError::RateLimited);
        // 429 whatever the code; Global's rate-limit codes whatever the status.
        assert_eq!(r(429, "PARAM_ERROR"), PaymentError::RateLimited);
        assert_eq!(r(429, ""), PaymentError::RateLimited);
        for code in ["RATE_LIMITED", "RATELIMIT_EXCEEDED", "RATELIMITED"] {
            assert_eq!(r(403, code), PaymentError::RateLimited, "{code}");
        }
        assert!(!r(400, "FREQUENCY_LIMITED").eq(&PaymentError::RateLimited));
        let api = |status, code: &str| ApiError {
            status,
            code: code.into(),
            message: "m".into(),
            request_id: None,
        };
        assert!(api(429, "X").is_retryable() && api(403, "RATE_LIMITED").is_retryable());
        assert!(!api(400, "PARAM_ERROR").is_retryable());
        assert!(matches!(
            r(500, "SYSTEMERROR"),
            PaymentError::Transient { .. }
        ));
        assert!(matches!(r(502, ""), PaymentError::Transient { .. }));
        for code in ["ORDER_CLOSED", "ORDERCLOSED"] {
            assert_eq!(
                r(400, code),
                PaymentError::OrderClosed("m".into()),
                "{code}"
            );
        }
        for code in [
            "SIGN_ERROR",
            "MCH_NOT_EXISTS",
            "APPID_MCHID_NOT_MATCH",
            "NO_AUTH",
            "PARAM_ERROR",
        ] {
            assert!(
                matches!(r(400, code), PaymentError::Rejected { code: ref c, request_id: Some(_), .. } if c == code),
                "{code}"
            );
        }
    }
}

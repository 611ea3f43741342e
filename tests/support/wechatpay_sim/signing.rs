//! The signature side, never wxprint's code: checking a request's `Authorization` against
//! the merchant key (`rsa`/`sha2`/`base64` directly), and signing answers with the platform
//! key (`signer.rs`), spoiled as a signature fault asks.

use std::collections::{HashMap, HashSet};
use std::time::SystemTime;

use base64::Engine as _;
use base64::engine::general_purpose::STANDARD as BASE64;
use rsa::pkcs1v15::Signature;
use rsa::signature::Verifier;
use serde_json::json;

use super::faults::{Fault, STALE_BY};
use super::http::{HttpRequest, header};
use super::ids::random_alnum;
use super::reply::Reply;
use super::time::unix;
use super::{Inner, SIGNATURE_TYPE, SIGNTEST_PREFIX, Trust};

/// Maximum accepted |request timestamp − simulator clock|, seconds.
const MAX_SKEW: i64 = 300;

/// 401 `SIGN_ERROR` with a message.
fn sign_error(message: &str) -> Reply {
    Reply::error(401, "SIGN_ERROR", message)
}

/// 401 `SIGN_ERROR`: the `Authorization` header is not in the documented form.
fn format_error() -> Reply {
    sign_error("Http头Authorization值格式错误，请参考《微信支付商户REST API签名规则》")
}

impl Inner {
    /// Verify `Authorization`.
    pub(super) fn authenticate(
        &self,
        req: &HttpRequest,
        nonces: &mut HashSet<String>,
        now: SystemTime,
    ) -> Result<(), Reply> {
        let attrs = authorization_attrs(req)?;
        let get = |key: &str| attrs.get(key).copied().ok_or_else(format_error);
        let (mchid, nonce, timestamp, serial, signature) = (
            get("mchid")?,
            get("nonce_str")?,
            get("timestamp")?,
            get("serial_no")?,
            get("signature")?,
        );
        if mchid != self.config.mchid {
            return Err(sign_error("商户号不存在或与证书不匹配"));
        }
        if serial != self.config.merchant_serial {
            return Err(sign_error(
                "商户证书序列号有误。请使用签名私钥匹配的证书序列号",
            ));
        }
        let ts: i64 = match timestamp.parse() {
            Ok(ts) if !timestamp.starts_with('+') => ts,
            _ => return Err(format_error()),
        };
        if (ts - unix(now)).abs() > MAX_SKEW {
            return Err(sign_error(
                "Http头Authorization中的timestamp与系统时间相差超过5分钟",
            ));
        }
        if nonce.is_empty() {
            return Err(format_error());
        }
        let mut message = format!("{}\n{}\n{ts}\n{nonce}\n", req.method, req.target).into_bytes();
        message.extend_from_slice(&req.body);
        message.push(b'\n');
        let verified = BASE64
            .decode(signature)
            .ok()
            .and_then(|bytes| Signature::try_from(bytes.as_slice()).ok())
            .is_some_and(|sig| self.merchant_key.verify(&message, &sig).is_ok());
        if !verified {
            return Err(sign_mismatch(req, &message));
        }
        if !nonces.insert(nonce.to_owned()) {
            return Err(sign_error(
                "Http头Authorization中的nonce_str重复，请勿重放请求",
            ));
        }
        Ok(())
    }

    /// Add the `Wechatpay-*` headers to a 2xx answer, spoiled as `fault` says.
    pub(super) fn signed(
        &self,
        mut reply: Reply,
        req: &HttpRequest,
        fault: Option<&Fault>,
    ) -> Reply {
        if fault == Some(&Fault::MalformedJson) {
            let cut = reply.body.len() / 2;
            let mut body = reply.body[..cut].to_vec();
            body.extend_from_slice(b"<!-- upstream truncated -->");
            reply.status = 200;
            reply.content_type = "application/json; charset=utf-8";
            reply.body = body;
        }
        let public_key = match self.config.trust {
            Trust::PublicKey => true,
            Trust::Certificate => false,
            Trust::Both => {
                header(&req.headers, "wechatpay-serial") == Some(self.config.public_key_id.as_str())
            }
        };
        let (certificate_key, certificate_serial) = self.certificate_signer();
        let serial = match (public_key, fault == Some(&Fault::WrongSerial)) {
            (true, false) => self.config.public_key_id.clone(),
            (false, false) => certificate_serial.to_owned(),
            (true, true) => "PUB_KEY_ID_0114232000000000000000000000009999".to_owned(),
            (false, true) => "5E8A1C0FFEE0D15EA5E0000000009999".to_owned(),
        };
        let mut ts = unix(self.now());
        if fault == Some(&Fault::StaleTimestamp) {
            ts -= STALE_BY;
        }
        let nonce = random_alnum(32);
        let mut message = format!("{ts}\n{nonce}\n").into_bytes();
        message.extend_from_slice(&reply.body);
        message.push(b'\n');
        if fault == Some(&Fault::BadSignature) {
            // A genuine signature, but of another message.
            message.extend_from_slice(b"tampered");
        }
        // Both modes use the configured key (as the fixtures do) until a rotation.
        let key = if public_key {
            &self.platform_key
        } else {
            certificate_key
        };
        let mut signature = BASE64.encode(key.sign(&message));
        if fault == Some(&Fault::SignTest) {
            signature = format!("{SIGNTEST_PREFIX}{signature}");
        }
        reply.headers.extend([
            ("Wechatpay-Nonce".to_owned(), nonce),
            ("Wechatpay-Signature".to_owned(), signature),
            ("Wechatpay-Timestamp".to_owned(), ts.to_string()),
            ("Wechatpay-Serial".to_owned(), serial),
            (
                "Wechatpay-Signature-Type".to_owned(),
                SIGNATURE_TYPE.to_owned(),
            ),
        ]);
        reply
    }
}

/// The attributes of `Authorization: WECHATPAY2-SHA256-RSA2048 k="v",…` (any order, each
/// once).
fn authorization_attrs(req: &HttpRequest) -> Result<HashMap<&str, &str>, Reply> {
    let value = header(&req.headers, "authorization").ok_or_else(format_error)?;
    let params = value
        .strip_prefix("WECHATPAY2-SHA256-RSA2048 ")
        .ok_or_else(format_error)?;
    let mut attrs: HashMap<&str, &str> = HashMap::new();
    for pair in params.split(',') {
        let (key, quoted) = pair.trim().split_once('=').ok_or_else(format_error)?;
        let value = quoted
            .strip_prefix('"')
            .and_then(|v| v.strip_suffix('"'))
            .ok_or_else(format_error)?;
        if attrs.insert(key, value).is_some() {
            return Err(format_error());
        }
    }
    Ok(attrs)
}

/// 401 `SIGN_ERROR` for a signature that does not verify, with the real service's
/// `sign_information` detail (what it signed, truncated).
fn sign_mismatch(req: &HttpRequest, message: &[u8]) -> Reply {
    let shown: String = String::from_utf8_lossy(message).chars().take(128).collect();
    Reply::error_with(
        401,
        "SIGN_ERROR",
        "签名错误，请检查后再试",
        Some(json!({
            "detail": { "issue": "sign not match" },
            "field": "signature",
            "location": "authorization",
            "sign_information": {
                "method": req.method,
                "sign_message_length": message.len(),
                "truncated_sign_message": shown,
                "url": req.target,
            }
        })),
    )
}

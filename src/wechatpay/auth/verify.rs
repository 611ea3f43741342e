//! Verification of WeChat Pay API v3 responses.
//!
//! WeChat Pay signs every successful (2xx, 204 included) answer; nothing from an answer may be
//! trusted — above all no `code_url` printed as a QR code — before its signature checks. The
//! response headers are `Wechatpay-Timestamp`, `Wechatpay-Nonce`, `Wechatpay-Signature` (Base64),
//! `Wechatpay-Serial` (which key signed) and, on newer answers, `Wechatpay-Signature-Type`
//! (`WECHATPAY2-SHA256-RSA2048`). [`ResponseSignature::from_headers`] is the one reader of
//! those headers. The signed message is
//!
//! ```text
//! TIMESTAMP\nNONCE\nBODY\n      (an empty body gives TIMESTAMP\nNONCE\n\n)
//! ```
//!
//! over the **raw body bytes** (re-serialized JSON never verifies), signed SHA256withRSA
//! (PKCS#1 v1.5) by WeChat Pay. [`Verifier::verify`] checks, in this order: the signature type,
//! the timestamp (less than 300 s away from the local clock, like the official Go SDK, so an old
//! answer cannot be replayed), the key named by `Wechatpay-Serial`, WeChat's deliberate
//! `WECHATPAY/SIGNTEST/` probe signatures, and finally the RSA signature.
//!
//! Two ways of knowing WeChat Pay's key exist ("trust modes"):
//!
//! * **Public-key mode** (微信支付公钥): the merchant downloads `pub_key.pem` (an SPKI public key)
//!   and its ID `PUB_KEY_ID_…` from the merchant platform once. Answers signed with it carry
//!   `Wechatpay-Serial: PUB_KEY_ID_…`. Merchants registered since late 2024 only have this mode.
//! * **Platform-certificate mode** (平台证书): `GET /v3/certificates` lists WeChat Pay's current
//!   certificates, each encrypted with AEAD_AES_256_GCM under the merchant's 32-byte APIv3 key.
//!   Answers carry the certificate's serial (upper-case hex). That download is itself trusted
//!   because only WeChat Pay knows the APIv3 key; it is done by `certificates.rs`, which hands
//!   the result to [`Verifier::set_certificates`].
//!
//! With both configured, either serial is accepted (WeChat switches merchants over gradually).
//! This module checks; it does not fetch, decrypt or read files.

use std::collections::HashMap;
use std::sync::RwLock;

use aws_lc_rs::signature::{ParsedPublicKey, RSA_PKCS1_2048_8192_SHA256};
use base64::Engine as _;
use base64::engine::general_purpose::STANDARD as BASE64;
use rsa::pkcs1::EncodeRsaPublicKey as _;

use super::AUTH_SCHEME;
use super::error::VerifyError;
use super::keys::{PlatformCertificate, RsaPublicKey, parse_public_key_pem};
use crate::config::PUBLIC_KEY_ID_PREFIX;

/// Prefix of the deliberately wrong signatures WeChat Pay sends now and then to check that
/// merchants really verify. Such an answer must be treated as unverified (and the request
/// repeated); it is not an attack, so log it quietly.
pub(crate) const SIGNTEST_PREFIX: &str = "WECHATPAY/SIGNTEST/";

/// Largest accepted distance, exclusive, between `Wechatpay-Timestamp` and the local clock.
pub(crate) const MAX_CLOCK_SKEW_SECS: i64 = 300;

/// The signature headers of one WeChat Pay response.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ResponseSignature {
    /// `Wechatpay-Timestamp`: Unix seconds, as sent (the signed message uses this exact text).
    pub timestamp: String,
    /// `Wechatpay-Nonce`.
    pub nonce: String,
    /// `Wechatpay-Signature`: Base64 SHA256withRSA signature.
    pub signature: String,
    /// `Wechatpay-Serial`: platform certificate serial or `PUB_KEY_ID_…`.
    pub serial: String,
    /// `Wechatpay-Signature-Type`, when sent; must then be `WECHATPAY2-SHA256-RSA2048`.
    pub signature_type: Option<String>,
}

impl ResponseSignature {
    /// Collects the signature headers through `header(name)`, which returns a header's value
    /// (any HTTP library: `|n| headers.get(n).and_then(|v| v.to_str().ok())`).
    ///
    /// A missing or empty required header is [`VerifyError::MissingHeader`] naming it.
    pub fn from_headers<'a>(
        header: impl Fn(&'static str) -> Option<&'a str>,
    ) -> Result<Self, VerifyError> {
        let required = |name: &'static str| match header(name).map(str::trim) {
            Some(value) if !value.is_empty() => Ok(value.to_owned()),
            _ => Err(VerifyError::MissingHeader(name)),
        };
        Ok(Self {
            timestamp: required("Wechatpay-Timestamp")?,
            nonce: required("Wechatpay-Nonce")?,
            signature: required("Wechatpay-Signature")?,
            serial: required("Wechatpay-Serial")?,
            signature_type: header("Wechatpay-Signature-Type").map(|v| v.trim().to_owned()),
        })
    }
}

/// The signed message of a response: `TIMESTAMP\nNONCE\nBODY\n` over the raw body bytes
/// (`TIMESTAMP\nNONCE\n\n` for an empty body, e.g. `204 No Content`).
pub fn response_message(timestamp: &str, nonce: &str, body: &[u8]) -> Vec<u8> {
    let mut message = Vec::with_capacity(timestamp.len() + nonce.len() + body.len() + 3);
    message.extend_from_slice(timestamp.as_bytes());
    message.push(b'\n');
    message.extend_from_slice(nonce.as_bytes());
    message.push(b'\n');
    message.extend_from_slice(body);
    message.push(b'\n');
    message
}

/// Checks a Base64 SHA256withRSA (PKCS#1 v1.5) signature of `message` with `public_key`: the
/// low-level step of [`Verifier::verify`], without any of its header checks. Test-only: the
/// verifier keeps its keys ready as [`VerifyingKey`]s.
#[cfg(test)]
pub(crate) fn verify_signature(
    public_key: &RsaPublicKey,
    message: &[u8],
    signature_b64: &str,
) -> Result<(), VerifyError> {
    let key = VerifyingKey::new(public_key).map_err(VerifyError::Key)?;
    verify_with(&key, message, signature_b64)
}

fn verify_with(key: &VerifyingKey, message: &[u8], signature_b64: &str) -> Result<(), VerifyError> {
    let bytes = BASE64
        .decode(signature_b64)
        .map_err(|_| VerifyError::BadSignature)?;
    if key.verify(message, &bytes) {
        Ok(())
    } else {
        Err(VerifyError::BadSignature)
    }
}

/// An RSA public key parsed once into aws-lc, ready to check SHA256withRSA (PKCS#1 v1.5)
/// signatures: every WeChat Pay answer is checked on the way from its arrival to the printed
/// QR, and aws-lc does it in a fraction of the pure-Rust `rsa` crate's time (which still
/// parses the PEM and DER the keys come in; `keys.rs`).
pub(crate) struct VerifyingKey(ParsedPublicKey);

impl VerifyingKey {
    /// `key` ready to verify; fails only for a key aws-lc refuses (outside 2048–8192 bits).
    pub(crate) fn new(key: &RsaPublicKey) -> Result<VerifyingKey, String> {
        let der = key
            .to_pkcs1_der()
            .map_err(|e| format!("the RSA public key cannot be encoded ({e})"))?;
        ParsedPublicKey::new(&RSA_PKCS1_2048_8192_SHA256, der.as_bytes())
            .map(VerifyingKey)
            .map_err(|e| format!("the RSA public key is not usable for SHA256withRSA ({e})"))
    }

    /// Whether `signature` (raw bytes) is this key's SHA256withRSA signature of `message`.
    pub(crate) fn verify(&self, message: &[u8], signature: &[u8]) -> bool {
        self.0.verify_sig(message, signature).is_ok()
    }
}

/// A platform certificate's key, ready to verify.
struct CertificateKey {
    key: VerifyingKey,
    not_after_unix: i64,
}

/// Verifies WeChat Pay responses against the configured public key and/or platform certificates.
///
/// `Send + Sync`; share one behind an `Arc`. The certificate set can be replaced at any time
/// (`set_certificates`) while other threads verify.
pub struct Verifier {
    public_key: Option<(String, VerifyingKey)>,
    certificates: RwLock<HashMap<String, CertificateKey>>,
}

impl Default for Verifier {
    fn default() -> Self {
        Self::new()
    }
}

impl std::fmt::Debug for Verifier {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Verifier")
            .field("public_key_id", &self.public_key_id())
            .field("certificates", &self.certificate_serials())
            .finish()
    }
}

impl Verifier {
    /// A verifier that knows no key yet (every response fails with
    /// [`VerifyError::UnknownSerial`] until a key or certificates are added).
    pub fn new() -> Self {
        Self {
            public_key: None,
            certificates: RwLock::new(HashMap::new()),
        }
    }

    /// Adds public-key mode: `id` is the `PUB_KEY_ID_…` shown next to the key in the merchant
    /// platform and `spki_pem` the key (`pub_key.pem`). Responses whose `Wechatpay-Serial` equals
    /// `id` are checked with this key.
    pub fn with_public_key(mut self, id: &str, spki_pem: &str) -> Result<Self, VerifyError> {
        let id = id.trim();
        if !id.starts_with(PUBLIC_KEY_ID_PREFIX)
            || id.len() == PUBLIC_KEY_ID_PREFIX.len()
            || !id.chars().all(|c| c.is_ascii_alphanumeric() || c == '_')
        {
            return Err(VerifyError::Key(format!(
                "public key ID {id:?} is not valid: it starts with PUB_KEY_ID_ and is shown next \
                 to the key in the merchant platform (账户中心 → API安全 → 微信支付公钥); a \
                 certificate serial number is not a public key ID"
            )));
        }
        let key = parse_public_key_pem(spki_pem)?;
        let key = VerifyingKey::new(&key).map_err(VerifyError::Key)?;
        self.public_key = Some((id.to_owned(), key));
        Ok(self)
    }

    /// Replaces the platform certificates (certificate mode), e.g. after each download.
    pub(crate) fn set_certificates(&self, certs: Vec<PlatformCertificate>) {
        let map = certs
            .into_iter()
            .filter_map(|cert| match VerifyingKey::new(&cert.public_key) {
                Ok(key) => Some((
                    cert.serial.to_ascii_uppercase(),
                    CertificateKey {
                        key,
                        not_after_unix: cert.not_after_unix,
                    },
                )),
                Err(e) => {
                    // Not reached: `keys.rs` refuses keys outside 2048–8192 bits. An answer
                    // signed by this serial is then refused as signed by an unknown one.
                    tracing::warn!(serial = %cert.serial, error = %e, "platform certificate skipped");
                    None
                }
            })
            .collect();
        *self
            .certificates
            .write()
            .unwrap_or_else(|poisoned| poisoned.into_inner()) = map;
    }

    /// Drops the platform certificates that expired before `now_unix` (seconds) and returns
    /// their serials: an answer signed by one is then signed by an unknown serial, which a
    /// certificate-mode caller downloads the certificates for.
    pub(crate) fn purge_expired(&self, now_unix: i64) -> Vec<String> {
        let mut certificates = self
            .certificates
            .write()
            .unwrap_or_else(|poisoned| poisoned.into_inner());
        let mut expired: Vec<String> = certificates
            .iter()
            .filter(|(_, cert)| now_unix > cert.not_after_unix)
            .map(|(serial, _)| serial.clone())
            .collect();
        for serial in &expired {
            certificates.remove(serial);
        }
        expired.sort();
        expired
    }

    /// The configured public key ID (public-key mode), if any.
    pub fn public_key_id(&self) -> Option<&str> {
        self.public_key.as_ref().map(|(id, _)| id.as_str())
    }

    /// Whether a response signed by `serial` could be checked (a certificate mode caller
    /// downloads the certificates again once when this is false).
    pub fn knows_serial(&self, serial: &str) -> bool {
        self.public_key_id() == Some(serial)
            || self
                .certificates
                .read()
                .unwrap_or_else(|poisoned| poisoned.into_inner())
                .contains_key(&serial.to_ascii_uppercase())
    }

    /// Every known serial: the public key ID first, then the certificate serials in order.
    pub fn serials(&self) -> Vec<String> {
        let mut serials: Vec<String> = self
            .public_key_id()
            .map(str::to_owned)
            .into_iter()
            .collect();
        serials.extend(self.certificate_serials());
        serials
    }

    fn certificate_serials(&self) -> Vec<String> {
        let mut serials: Vec<String> = self
            .certificates
            .read()
            .unwrap_or_else(|poisoned| poisoned.into_inner())
            .keys()
            .cloned()
            .collect();
        serials.sort();
        serials
    }

    /// Verifies one response: its signature headers `sig`, its raw `body` (empty for 204) and the
    /// local clock `now_unix` (seconds).
    ///
    /// Order of checks: signature type → timestamp (|now − ts| < 300 s) → key by serial (public
    /// key if the serial is its ID, else a platform certificate) → `WECHATPAY/SIGNTEST/` probe →
    /// RSA signature.
    pub fn verify(
        &self,
        sig: &ResponseSignature,
        body: &[u8],
        now_unix: i64,
    ) -> Result<(), VerifyError> {
        for (name, value) in [
            ("Wechatpay-Timestamp", &sig.timestamp),
            ("Wechatpay-Nonce", &sig.nonce),
            ("Wechatpay-Signature", &sig.signature),
            ("Wechatpay-Serial", &sig.serial),
        ] {
            if value.is_empty() {
                return Err(VerifyError::MissingHeader(name));
            }
        }
        if let Some(kind) = &sig.signature_type
            && kind != AUTH_SCHEME
        {
            return Err(VerifyError::BadSignatureType(kind.clone()));
        }

        let timestamp = parse_timestamp(&sig.timestamp)?;
        if now_unix.abs_diff(timestamp) >= MAX_CLOCK_SKEW_SECS.unsigned_abs() {
            return Err(VerifyError::Stale {
                timestamp,
                now: now_unix,
            });
        }
        if sig.nonce.chars().any(char::is_control) {
            return Err(VerifyError::BadNonce(sig.nonce.clone()));
        }

        let message = response_message(&sig.timestamp, &sig.nonce, body);
        if let Some((id, key)) = &self.public_key
            && *id == sig.serial
        {
            return check_signature(key, &message, &sig.signature);
        }

        let certificates = self
            .certificates
            .read()
            .unwrap_or_else(|poisoned| poisoned.into_inner());
        let serial = sig.serial.to_ascii_uppercase();
        let Some(cert) = certificates.get(&serial) else {
            return Err(VerifyError::UnknownSerial(sig.serial.clone()));
        };
        if now_unix > cert.not_after_unix {
            return Err(VerifyError::CertificateExpired {
                serial,
                not_after: cert.not_after_unix,
            });
        }
        check_signature(&cert.key, &message, &sig.signature)
    }
}

fn check_signature(key: &VerifyingKey, message: &[u8], signature: &str) -> Result<(), VerifyError> {
    if signature.starts_with(SIGNTEST_PREFIX) {
        return Err(VerifyError::SignTest);
    }
    verify_with(key, message, signature)
}

/// Decimal Unix seconds, digits only (no sign, no spaces).
fn parse_timestamp(text: &str) -> Result<i64, VerifyError> {
    if text.is_empty() || text.len() > 18 || !text.bytes().all(|b| b.is_ascii_digit()) {
        return Err(VerifyError::BadTimestamp(text.to_owned()));
    }
    text.parse()
        .map_err(|_| VerifyError::BadTimestamp(text.to_owned()))
}

#[cfg(test)]
mod tests;

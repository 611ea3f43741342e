//! Verification of WeChat Pay API v3 responses, and the platform-certificate download.
//!
//! WeChat Pay signs every successful (2xx, 204 included) answer; nothing from an answer may be
//! trusted — above all no `code_url` printed as a QR code — before its signature checks. The
//! response headers are `Wechatpay-Timestamp`, `Wechatpay-Nonce`, `Wechatpay-Signature` (Base64),
//! `Wechatpay-Serial` (which key signed) and, on newer answers, `Wechatpay-Signature-Type`
//! (`WECHATPAY2-SHA256-RSA2048`). The signed message is
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
//!   certificates, each encrypted with AEAD_AES_256_GCM under the merchant's 32-byte APIv3 key
//!   ([`parse_certificates_response`]). Answers carry the certificate's serial (upper-case hex).
//!   That download is itself trusted because only WeChat Pay knows the APIv3 key.
//!
//! With both configured, either serial is accepted (WeChat switches merchants over gradually).

use std::collections::HashMap;
use std::sync::RwLock;

use aes_gcm::aead::{Aead as _, Payload};
use aes_gcm::aes::cipher::consts::U12;
use aes_gcm::{Aes256Gcm, KeyInit as _, Nonce};
use base64::Engine as _;
use base64::engine::general_purpose::STANDARD as BASE64;
use rsa::pkcs1::DecodeRsaPublicKey as _;
use rsa::pkcs1v15::{Signature, VerifyingKey};
use rsa::pkcs8::DecodePublicKey as _;
use rsa::signature::Verifier as _;
use rsa::traits::PublicKeyParts as _;
use serde::Deserialize;
use sha2::Sha256;
use x509_cert::Certificate;
use x509_cert::der::DecodePem as _;
use x509_cert::der::referenced::OwnedToRef as _;

/// An RSA public key (`rsa::PublicKey`; rsa 0.10 renamed `RsaPublicKey` to that).
pub use rsa::PublicKey as RsaPublicKey;

/// The only signature type WeChat Pay API v3 uses with RSA keys.
pub const SIGNATURE_TYPE: &str = "WECHATPAY2-SHA256-RSA2048";

/// Prefix of the deliberately wrong signatures WeChat Pay sends now and then to check that
/// merchants really verify. Such an answer must be treated as unverified (and the request
/// repeated); it is not an attack, so log it quietly.
pub const SIGNTEST_PREFIX: &str = "WECHATPAY/SIGNTEST/";

/// Largest accepted distance, exclusive, between `Wechatpay-Timestamp` and the local clock.
pub const MAX_CLOCK_SKEW_SECS: i64 = 300;

/// Prefix of WeChat Pay public-key IDs (public-key mode).
pub const PUBLIC_KEY_ID_PREFIX: &str = "PUB_KEY_ID_";

/// The only encryption algorithm of `/v3/certificates` and of notifications.
pub const AEAD_ALGORITHM: &str = "AEAD_AES_256_GCM";

/// Smallest accepted WeChat Pay key (its keys are 2048-bit RSA).
const MIN_KEY_BITS: usize = 2048;

/// Why a response, key, certificate or ciphertext was not accepted.
#[derive(Debug, thiserror::Error)]
pub enum VerifyError {
    /// A signature header is missing (or empty).
    #[error(
        "the WeChat Pay response has no {0} header, so it cannot be verified and is not trusted \
         (a proxy or captive portal between this register and WeChat Pay can cause this)"
    )]
    MissingHeader(&'static str),
    /// `Wechatpay-Signature-Type` names an algorithm other than RSA/SHA-256.
    #[error(
        "the WeChat Pay response is signed with {0:?}, but only WECHATPAY2-SHA256-RSA2048 is \
         supported: the response is not trusted (is the merchant account set up for SM2 keys?)"
    )]
    BadSignatureType(String),
    /// `Wechatpay-Timestamp` is not decimal Unix seconds.
    #[error("Wechatpay-Timestamp {0:?} is not a Unix time in seconds: the response is not trusted")]
    BadTimestamp(String),
    /// `Wechatpay-Nonce` contains line breaks or control characters (would break the framing).
    #[error("Wechatpay-Nonce {0:?} contains control characters: the response is not trusted")]
    BadNonce(String),
    /// The response timestamp is 300 s or more away from the local clock.
    #[error(
        "the WeChat Pay response is dated {timestamp} but this register's clock says {now} \
         ({} s apart; at most 299 s are accepted): the register's clock may be wrong — set it \
         right (enable NTP) — or an old response was replayed; the response is not trusted",
        now.abs_diff(*timestamp)
    )]
    Stale {
        /// `Wechatpay-Timestamp` of the response.
        timestamp: i64,
        /// The local clock, Unix seconds.
        now: i64,
    },
    /// No configured key matches `Wechatpay-Serial`.
    #[error(
        "the WeChat Pay response is signed by key {0:?}, which is not configured: in public-key \
         mode set the public key ID and pub_key.pem shown in the merchant platform (账户中心 → \
         API安全 → 微信支付公钥); in platform-certificate mode the certificates are downloaded again"
    )]
    UnknownSerial(String),
    /// The platform certificate named by `Wechatpay-Serial` has expired.
    #[error(
        "the WeChat Pay response is signed with platform certificate {serial}, which expired at \
         Unix time {not_after}: download the current certificates (or the register's clock is \
         wrong)"
    )]
    CertificateExpired {
        /// Serial of the expired certificate.
        serial: String,
        /// Its notAfter, Unix seconds.
        not_after: i64,
    },
    /// The signature is one of WeChat Pay's deliberate `WECHATPAY/SIGNTEST/` probes.
    #[error(
        "the WeChat Pay response carries a WECHATPAY/SIGNTEST/ probe signature (WeChat checks \
         that responses are verified): the response is discarded and the request repeated"
    )]
    SignTest,
    /// The RSA signature does not match the message.
    #[error(
        "the WeChat Pay response signature does not match its content: the response was altered \
         on the way or signed with a key other than the one configured for this serial (check the \
         WeChat Pay public key / platform certificates configured for this merchant)"
    )]
    BadSignature,
    /// A configured WeChat Pay public key could not be used.
    #[error("WeChat Pay public key: {0}")]
    Key(String),
    /// AEAD_AES_256_GCM decryption (or encryption) failed.
    #[error("AEAD_AES_256_GCM: {0}")]
    Decrypt(String),
    /// A platform certificate (or the `/v3/certificates` answer) could not be used.
    #[error("WeChat Pay platform certificate: {0}")]
    Certificate(String),
}

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
    /// `Wechatpay-Signature-Type`, when sent; must then be [`SIGNATURE_TYPE`].
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

/// Checks a Base64 SHA256withRSA (PKCS#1 v1.5) signature of `message` with `public_key`.
///
/// The low-level step of [`Verifier::verify`], without any of its header checks.
pub fn verify_signature(
    public_key: &RsaPublicKey,
    message: &[u8],
    signature_b64: &str,
) -> Result<(), VerifyError> {
    verify_with(
        &VerifyingKey::<Sha256>::new(public_key.clone()),
        message,
        signature_b64,
    )
}

fn verify_with(
    key: &VerifyingKey<Sha256>,
    message: &[u8],
    signature_b64: &str,
) -> Result<(), VerifyError> {
    let bytes = BASE64
        .decode(signature_b64)
        .map_err(|_| VerifyError::BadSignature)?;
    let signature = Signature::try_from(bytes.as_slice()).map_err(|_| VerifyError::BadSignature)?;
    key.verify(message, &signature)
        .map_err(|_| VerifyError::BadSignature)
}

/// One WeChat Pay platform certificate, reduced to what verification needs.
#[derive(Debug, Clone)]
pub struct PlatformCertificate {
    /// Serial number, upper-case hex without leading zeros (as `Wechatpay-Serial` sends it).
    pub serial: String,
    /// The certificate's RSA public key.
    pub public_key: RsaPublicKey,
    /// End of validity (notAfter), Unix seconds.
    pub not_after_unix: i64,
}

/// Reads a PEM (`BEGIN CERTIFICATE`) X.509 certificate holding an RSA key.
///
/// The certificate chain is not checked: platform certificates are trusted because they arrive
/// encrypted under the APIv3 key (see [`parse_certificates_response`]), as in the official SDKs.
pub fn parse_certificate_pem(pem: &str) -> Result<PlatformCertificate, VerifyError> {
    let cert = Certificate::from_pem(pem.trim()).map_err(|e| {
        VerifyError::Certificate(format!(
            "not a PEM X.509 certificate (\"BEGIN CERTIFICATE\"): {e}"
        ))
    })?;
    let tbs = cert.tbs_certificate();
    let serial = serial_hex(tbs.serial_number().as_bytes());
    let public_key =
        RsaPublicKey::try_from(tbs.subject_public_key_info().owned_to_ref()).map_err(|e| {
            VerifyError::Certificate(format!(
                "certificate {serial} does not hold a usable RSA public key ({e}); WeChat Pay RSA \
                 platform certificates do (request /v3/certificates without SM2)"
            ))
        })?;
    check_key_size(&public_key).map_err(VerifyError::Certificate)?;
    let not_after_unix =
        i64::try_from(tbs.validity().not_after.to_unix_duration().as_secs()).unwrap_or(i64::MAX);
    Ok(PlatformCertificate {
        serial,
        public_key,
        not_after_unix,
    })
}

/// Upper-case hex of a DER INTEGER's content without leading zero bytes (Go's `%X` of the serial).
fn serial_hex(der_bytes: &[u8]) -> String {
    let significant = match der_bytes.iter().position(|&b| b != 0) {
        Some(first) => &der_bytes[first..],
        None => return "0".to_owned(),
    };
    let mut hex: String = significant.iter().map(|b| format!("{b:02X}")).collect();
    // Go prints big integers without a leading zero nibble.
    if hex.len() > 1 && hex.starts_with('0') {
        hex.remove(0);
    }
    hex
}

fn check_key_size(key: &RsaPublicKey) -> Result<(), String> {
    let bits = key.size() * 8;
    if bits < MIN_KEY_BITS {
        return Err(format!(
            "the RSA key has only {bits} bits; WeChat Pay keys are 2048-bit"
        ));
    }
    Ok(())
}

/// Reads a WeChat Pay public key for public-key mode: the SPKI `BEGIN PUBLIC KEY` PEM
/// (`pub_key.pem` from the merchant platform); a PKCS#1 `BEGIN RSA PUBLIC KEY` is accepted too.
pub fn parse_public_key_pem(pem: &str) -> Result<RsaPublicKey, VerifyError> {
    let pem = pem.trim();
    let key = match pem_label(pem) {
        Some("PUBLIC KEY") => RsaPublicKey::from_public_key_pem(pem).map_err(|e| {
            VerifyError::Key(format!(
                "pub_key.pem could not be read as an RSA public key ({e}): use the file \
                 downloaded from the merchant platform (账户中心 → API安全 → 微信支付公钥)"
            ))
        })?,
        Some("RSA PUBLIC KEY") => RsaPublicKey::from_pkcs1_pem(pem)
            .map_err(|e| VerifyError::Key(format!("invalid PKCS#1 RSA public key ({e})")))?,
        Some("CERTIFICATE") => {
            return Err(VerifyError::Key(
                "this is a certificate, not a public key: in public-key mode configure pub_key.pem \
                 (\"BEGIN PUBLIC KEY\"); platform certificates are downloaded by \
                 platform-certificate mode"
                    .into(),
            ));
        }
        Some(label) if label.contains("PRIVATE") => {
            return Err(VerifyError::Key(
                "this is a private key: configure WeChat Pay's public key pub_key.pem \
                 (\"BEGIN PUBLIC KEY\"), not the merchant's apiclient_key.pem"
                    .into(),
            ));
        }
        Some(label) => {
            return Err(VerifyError::Key(format!(
                "the file holds a \"{label}\" PEM block, not a public key: configure pub_key.pem \
                 (\"BEGIN PUBLIC KEY\")"
            )));
        }
        None => {
            return Err(VerifyError::Key(
                "not PEM text (no \"-----BEGIN PUBLIC KEY-----\" line): configure pub_key.pem as \
                 downloaded from the merchant platform"
                    .into(),
            ));
        }
    };
    check_key_size(&key).map_err(VerifyError::Key)?;
    Ok(key)
}

/// The label of the first PEM block (`PUBLIC KEY` for `-----BEGIN PUBLIC KEY-----`), if any.
fn pem_label(text: &str) -> Option<&str> {
    let start = text.find("-----BEGIN ")? + "-----BEGIN ".len();
    let rest = &text[start..];
    let end = rest.find("-----")?;
    Some(&rest[..end])
}

/// A platform certificate's key, ready to verify.
struct CertificateKey {
    key: VerifyingKey<Sha256>,
    not_after_unix: i64,
}

/// Verifies WeChat Pay responses against the configured public key and/or platform certificates.
///
/// `Send + Sync`; share one behind an `Arc`. The certificate set can be replaced at any time
/// ([`Verifier::set_certificates`]) while other threads verify.
pub struct Verifier {
    public_key: Option<(String, VerifyingKey<Sha256>)>,
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
        self.public_key = Some((id.to_owned(), VerifyingKey::new(key)));
        Ok(self)
    }

    /// Replaces the platform certificates (certificate mode), e.g. after each download.
    pub fn set_certificates(&self, certs: Vec<PlatformCertificate>) {
        let map = certs
            .into_iter()
            .map(|cert| {
                (
                    cert.serial.to_ascii_uppercase(),
                    CertificateKey {
                        key: VerifyingKey::new(cert.public_key),
                        not_after_unix: cert.not_after_unix,
                    },
                )
            })
            .collect();
        *self
            .certificates
            .write()
            .unwrap_or_else(|poisoned| poisoned.into_inner()) = map;
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
            && kind != SIGNATURE_TYPE
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

fn check_signature(
    key: &VerifyingKey<Sha256>,
    message: &[u8],
    signature: &str,
) -> Result<(), VerifyError> {
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

/// Builds the AES-256-GCM cipher and nonce WeChat Pay's AEAD_AES_256_GCM uses.
fn aead_parts(apiv3_key: &[u8], nonce: &str) -> Result<(Aes256Gcm, Nonce<U12>), VerifyError> {
    if apiv3_key.len() != 32 {
        return Err(VerifyError::Decrypt(format!(
            "the APIv3 key has {} bytes but must be exactly 32: copy the 32-character APIv3 key \
             (APIv3密钥) set in the merchant platform (账户中心 → API安全), not the 32-hex-digit \
             API v2 key or a certificate serial",
            apiv3_key.len()
        )));
    }
    let cipher = Aes256Gcm::new_from_slice(apiv3_key)
        .map_err(|_| VerifyError::Decrypt("the APIv3 key must be 32 bytes".into()))?;
    let nonce = Nonce::try_from(nonce.as_bytes()).map_err(|_| {
        VerifyError::Decrypt(format!(
            "nonce {nonce:?} has {} bytes; AEAD_AES_256_GCM nonces are 12 bytes",
            nonce.len()
        ))
    })?;
    Ok((cipher, nonce))
}

/// Decrypts WeChat Pay's AEAD_AES_256_GCM: key = the 32-byte APIv3 key (its ASCII bytes as
/// configured), nonce and associated data = the bytes of the given strings, `ciphertext_b64` =
/// Base64 of ciphertext ‖ 16-byte tag. Used by `/v3/certificates` (and payment notifications).
///
/// A wrong APIv3 key and altered data fail alike (the GCM tag does not match).
pub fn decrypt_aead_aes_256_gcm(
    apiv3_key: &[u8],
    nonce: &str,
    associated_data: &str,
    ciphertext_b64: &str,
) -> Result<Vec<u8>, VerifyError> {
    let (cipher, nonce) = aead_parts(apiv3_key, nonce)?;
    let sealed = BASE64
        .decode(ciphertext_b64.trim())
        .map_err(|e| VerifyError::Decrypt(format!("the ciphertext is not Base64 ({e})")))?;
    if sealed.len() < 16 {
        return Err(VerifyError::Decrypt(
            "the ciphertext is shorter than the 16-byte GCM tag".into(),
        ));
    }
    cipher
        .decrypt(
            &nonce,
            Payload {
                msg: &sealed,
                aad: associated_data.as_bytes(),
            },
        )
        .map_err(|_| {
            VerifyError::Decrypt(
                "decryption failed: the APIv3 key is wrong (check the configured APIv3 key \
                 against the merchant platform, 账户中心 → API安全 → APIv3密钥) or the data was \
                 altered"
                    .into(),
            )
        })
}

/// The inverse of [`decrypt_aead_aes_256_gcm`] (for the simulator and tests): returns Base64 of
/// ciphertext ‖ tag.
pub fn encrypt_aead_aes_256_gcm(
    apiv3_key: &[u8],
    nonce: &str,
    associated_data: &str,
    plaintext: &[u8],
) -> Result<String, VerifyError> {
    let (cipher, nonce) = aead_parts(apiv3_key, nonce)?;
    let sealed = cipher
        .encrypt(
            &nonce,
            Payload {
                msg: plaintext,
                aad: associated_data.as_bytes(),
            },
        )
        .map_err(|_| VerifyError::Decrypt("encryption failed".into()))?;
    Ok(BASE64.encode(sealed))
}

#[derive(Deserialize)]
struct CertificatesResponse {
    data: Vec<CertificateEntry>,
}

#[derive(Deserialize)]
struct CertificateEntry {
    serial_no: String,
    encrypt_certificate: EncryptedCertificate,
}

#[derive(Deserialize)]
struct EncryptedCertificate {
    algorithm: String,
    nonce: String,
    associated_data: String,
    ciphertext: String,
}

/// Reads the body of `GET /v3/certificates`:
/// `{"data":[{"serial_no","effective_time","expire_time","encrypt_certificate":{"algorithm":
/// "AEAD_AES_256_GCM","nonce","associated_data","ciphertext"}}]}`.
///
/// Each certificate is decrypted with the APIv3 key, parsed, and its serial checked against
/// `serial_no` (case-insensitively). Unknown JSON fields are ignored. An empty list is an error:
/// WeChat Pay always lists at least one certificate to merchants that have them.
pub fn parse_certificates_response(
    body: &[u8],
    apiv3_key: &[u8],
) -> Result<Vec<PlatformCertificate>, VerifyError> {
    let response: CertificatesResponse = serde_json::from_slice(body).map_err(|e| {
        VerifyError::Certificate(format!(
            "the /v3/certificates answer is not the expected JSON ({e})"
        ))
    })?;
    if response.data.is_empty() {
        return Err(VerifyError::Certificate(
            "/v3/certificates listed no certificate: this merchant must use public-key mode \
             (configure the public key ID and pub_key.pem)"
                .into(),
        ));
    }
    response
        .data
        .into_iter()
        .map(|entry| {
            let enc = &entry.encrypt_certificate;
            if enc.algorithm != AEAD_ALGORITHM {
                return Err(VerifyError::Certificate(format!(
                    "certificate {} is encrypted with {:?}; only {AEAD_ALGORITHM} is supported",
                    entry.serial_no, enc.algorithm
                )));
            }
            let pem = decrypt_aead_aes_256_gcm(
                apiv3_key,
                &enc.nonce,
                &enc.associated_data,
                &enc.ciphertext,
            )?;
            let pem = String::from_utf8(pem).map_err(|_| {
                VerifyError::Certificate(format!(
                    "certificate {} decrypts to something that is not PEM text",
                    entry.serial_no
                ))
            })?;
            let cert = parse_certificate_pem(&pem)?;
            // Leading zeros are insignificant in a serial number (the certificate's is stored
            // without them).
            if !cert
                .serial
                .trim_start_matches('0')
                .eq_ignore_ascii_case(entry.serial_no.trim().trim_start_matches('0'))
            {
                return Err(VerifyError::Certificate(format!(
                    "the certificate listed as {} has serial {}: the list is inconsistent and not \
                     used",
                    entry.serial_no, cert.serial
                )));
            }
            Ok(cert)
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::wechatpay::sign::MerchantSigner;

    /// `testWechatPayVerifierPlatformCertificate` of the official Go SDK
    /// (`core/auth/verifiers/sha256withrsa_verifier_test.go`), serial F5765756002FDD77.
    const GO_SDK_CERT: &str = "-----BEGIN CERTIFICATE-----
MIIDVzCCAj+gAwIBAgIJAPV2V1YAL913MA0GCSqGSIb3DQEBCwUAMEIxCzAJBgNV
BAYTAlhYMRUwEwYDVQQHDAxEZWZhdWx0IENpdHkxHDAaBgNVBAoME0RlZmF1bHQg
Q29tcGFueSBMdGQwHhcNMjEwNDI3MDg0MDMyWhcNMzEwNDI1MDg0MDMyWjBCMQsw
CQYDVQQGEwJYWDEVMBMGA1UEBwwMRGVmYXVsdCBDaXR5MRwwGgYDVQQKDBNEZWZh
dWx0IENvbXBhbnkgTHRkMIIBIjANBgkqhkiG9w0BAQEFAAOCAQ8AMIIBCgKCAQEA
2VCTd91fnUn73Xy9DLvt/V62TVxRTEEstVdeRaZ3B3leO0pldE806mXO4RwdHXag
HQ4vGeZN0yqm++rDsGK+U3AH7kejyD2pXshNP9Cq5YwbptiLGtjcquw4HNxJQUOm
DeJf2vg6byms9RUipiq4SzbJKqJFlUpbuIPDpSpWz10PYmyCNeDGUUK65E5h2B83
4uxl1zNLYQCrkdBzb8oUxwYeP5a2DNxmjL5lsJML7DGr5znsevnoqGRwTm9fxCGf
y8wus7hwKz6clt3Whmmda7UAdb1c08hEQFVRbF14AR73xbnd8N0obCWJPCbzMCtk
aSef4FdEEgEXJiw0VAJT8wIDAQABo1AwTjAdBgNVHQ4EFgQUT1c7nd/SUO76HSoZ
umNUJv1R5PwwHwYDVR0jBBgwFoAUT1c7nd/SUO76HSoZumNUJv1R5PwwDAYDVR0T
BAUwAwEB/zANBgkqhkiG9w0BAQsFAAOCAQEAM+tslqBxYwqL9fdvGG6hfy69sjfX
UhBtBLWYugKKQCOWWLeq5dDWm3i5Cx2Rgiy9uc7RfmJNxQfIKlcoCNP85BjDoG1B
YnVc6znlcrT9uHgseha3987WwZsFAQbcy8TLUYHzVB8gmDgq8O08xdIe0eczatI8
t3Rg8WXO6Gs66JJ4JR+rD01o3FiSOQCRWhn19NSyDydsgPlOR2t9B9L+MkJwlsMG
Krn85TnwL3qcInzRnU8X86faXXJrI0IJi44tECKw8ftngCl6vyNwNNKPDwdkcuuV
8y3iBixO5IuKxEKEp2wGPV/4W1AXO73Z3Gb7z/1oxdgeO0hVqz1hBasTCQ==
-----END CERTIFICATE-----
";
    /// The Go SDK's published signature of `"source"` (`utils/sign_test.go`).
    const GO_SDK_SIGNATURE_OF_SOURCE: &str = "BKyAfU4iMCuvXMXS0Wzam3V/cnxZ+JaqigPM5OhljS2iOT95OO6Fsuml2JkFANJU9K6q9bLlDhPXuoVz+pp4hAm6pHU4ld815U4jsKu1RkyaII+1CYBUYC8TK0XtJ8FwUXXz8vZHh58rrAVN1XwNyvD1vfpxrMT4SL536GLwvpUHlCqIMzoZUguLli/K8V29QiOhuH6IEqLNJn8e9b3nwNcQ7be3CzYGpDAKBfDGPCqCv8Rw5zndhlffk2FEA70G4hvMwe51qMN/RAJbknXG23bSlObuTCN7Ndj1aJGH6/L+hdwfLpUtJm4QYVazzW7DFD27EpSQEqA8bX9+8m1rLg==";

    /// Java SDK `AeadAesCipherTest` vector (a real 32-byte APIv3 key).
    const JAVA_KEY: &[u8] = b"a7cde1ZJB1kG2e7VfTs3jQzaWizur8Gb";
    const JAVA_NONCE: &str = "uluk4a9R25RW";
    const JAVA_AAD: &str = "associatedData";
    const JAVA_PLAINTEXT: &[u8] = b"message";
    const JAVA_CIPHERTEXT: &str = "ulwSiIajGClcvcOYvOQ7+l+0PAbzzwI=";

    const PLATFORM_KEY: &str = include_str!("../../tests/fixtures/wechatpay/platform_key.pem");
    const PLATFORM_PUB: &str = include_str!("../../tests/fixtures/wechatpay/platform_pub.pem");
    const PLATFORM_CERT: &str = include_str!("../../tests/fixtures/wechatpay/platform_cert.pem");
    const MERCHANT_PUB: &str = include_str!("../../tests/fixtures/wechatpay/merchant_pub.pem");
    const APIV3_KEY: &str = include_str!("../../tests/fixtures/wechatpay/apiv3_key.txt");
    const PUB_KEY_ID: &str = "PUB_KEY_ID_0114232000000000000000000000000001";
    const CERT_SERIAL: &str = "5E8A1C0FFEE0D15EA5E0000000000001";

    const NOW: i64 = 1_800_000_000;
    const BODY: &[u8] = br#"{"code_url":"weixin://wxpay/bizpayurl/up?pr=NwY5Mz9&groupid=00"}"#;

    /// WeChat Pay's side: signs response messages with the fixture platform key.
    fn platform_signer() -> MerchantSigner {
        MerchantSigner::from_pkcs8_pem("1", "01", PLATFORM_KEY).expect("fixture platform key")
    }

    fn signed(serial: &str, timestamp: i64, body: &[u8]) -> ResponseSignature {
        let timestamp = timestamp.to_string();
        let nonce = "fE2yG4hJ6kL8mN0pQ2rS4tU6vW8xY0zA".to_owned();
        let signature = platform_signer().sign(&response_message(&timestamp, &nonce, body));
        ResponseSignature {
            timestamp,
            nonce,
            signature,
            serial: serial.to_owned(),
            signature_type: Some(SIGNATURE_TYPE.to_owned()),
        }
    }

    fn public_key_verifier() -> Verifier {
        Verifier::new()
            .with_public_key(PUB_KEY_ID, PLATFORM_PUB)
            .expect("fixture public key")
    }

    fn certificate_verifier() -> Verifier {
        let verifier = Verifier::new();
        verifier.set_certificates(vec![
            parse_certificate_pem(PLATFORM_CERT).expect("fixture certificate"),
        ]);
        verifier
    }

    #[test]
    fn go_sdk_certificate_verifies_published_signature() {
        let cert = parse_certificate_pem(GO_SDK_CERT).expect("Go SDK certificate parses");
        assert_eq!(cert.serial, "F5765756002FDD77");
        // notAfter 2031-04-25 08:40:32 UTC.
        assert_eq!(cert.not_after_unix, 1_934_872_832);
        verify_signature(&cert.public_key, b"source", GO_SDK_SIGNATURE_OF_SOURCE)
            .expect("published signature verifies");
        assert!(matches!(
            verify_signature(
                &cert.public_key,
                b"wrong source",
                GO_SDK_SIGNATURE_OF_SOURCE
            ),
            Err(VerifyError::BadSignature)
        ));
    }

    #[test]
    fn response_message_framing() {
        assert_eq!(
            response_message("1554208460", "NONCE1234567890", b"BODY"),
            b"1554208460\nNONCE1234567890\nBODY\n"
        );
        assert_eq!(
            response_message("1554208460", "NONCE1234567890", b""),
            b"1554208460\nNONCE1234567890\n\n"
        );
    }

    #[test]
    fn aes_256_gcm_java_sdk_known_answer() {
        let plain = decrypt_aead_aes_256_gcm(JAVA_KEY, JAVA_NONCE, JAVA_AAD, JAVA_CIPHERTEXT)
            .expect("Java SDK vector decrypts");
        assert_eq!(plain, JAVA_PLAINTEXT);
        assert_eq!(
            encrypt_aead_aes_256_gcm(JAVA_KEY, JAVA_NONCE, JAVA_AAD, JAVA_PLAINTEXT).unwrap(),
            JAVA_CIPHERTEXT
        );
    }

    #[test]
    fn aes_256_gcm_rejects_bad_key_nonce_and_tampering() {
        // Go SDK's AES-128 vector key: 16 bytes, must be refused rather than run as AES-128.
        let err =
            decrypt_aead_aes_256_gcm(b"testAPIv3Key0000", "wCq51qZv4Yfg", "x", "AAAA").unwrap_err();
        assert!(err.to_string().contains("exactly 32"), "{err}");
        let err =
            encrypt_aead_aes_256_gcm(b"testAPIv3Key0000", JAVA_NONCE, JAVA_AAD, b"m").unwrap_err();
        assert!(matches!(err, VerifyError::Decrypt(_)), "{err}");
        let err =
            decrypt_aead_aes_256_gcm(JAVA_KEY, "short", JAVA_AAD, JAVA_CIPHERTEXT).unwrap_err();
        assert!(err.to_string().contains("12 bytes"), "{err}");
        let err = decrypt_aead_aes_256_gcm(JAVA_KEY, JAVA_NONCE, "otherData", JAVA_CIPHERTEXT)
            .unwrap_err();
        assert!(err.to_string().contains("APIv3 key is wrong"), "{err}");
        let err = decrypt_aead_aes_256_gcm(
            b"b7cde1ZJB1kG2e7VfTs3jQzaWizur8Gb",
            JAVA_NONCE,
            JAVA_AAD,
            JAVA_CIPHERTEXT,
        )
        .unwrap_err();
        assert!(matches!(err, VerifyError::Decrypt(_)), "{err}");
        let err = decrypt_aead_aes_256_gcm(JAVA_KEY, JAVA_NONCE, JAVA_AAD, "!!").unwrap_err();
        assert!(err.to_string().contains("Base64"), "{err}");
    }

    #[test]
    fn fixture_certificate_parses() {
        let cert = parse_certificate_pem(PLATFORM_CERT).unwrap();
        assert_eq!(cert.serial, CERT_SERIAL);
        assert_eq!(cert.public_key, parse_public_key_pem(PLATFORM_PUB).unwrap());
        assert!(cert.not_after_unix > NOW);
    }

    #[test]
    fn public_key_mode() {
        let verifier = public_key_verifier();
        verifier
            .verify(&signed(PUB_KEY_ID, NOW, BODY), BODY, NOW)
            .expect("verifies");
        assert!(verifier.knows_serial(PUB_KEY_ID));
        assert!(!verifier.knows_serial(CERT_SERIAL));
        assert_eq!(verifier.serials(), vec![PUB_KEY_ID.to_owned()]);
        assert!(matches!(
            verifier.verify(&signed(CERT_SERIAL, NOW, BODY), BODY, NOW),
            Err(VerifyError::UnknownSerial(ref s)) if s == CERT_SERIAL
        ));
    }

    #[test]
    fn certificate_mode() {
        let verifier = certificate_verifier();
        verifier
            .verify(&signed(CERT_SERIAL, NOW, BODY), BODY, NOW)
            .expect("verifies");
        // Serials are compared case-insensitively.
        verifier
            .verify(&signed(&CERT_SERIAL.to_lowercase(), NOW, BODY), BODY, NOW)
            .expect("lower-case serial verifies");
        assert!(verifier.knows_serial(CERT_SERIAL));
        assert!(matches!(
            verifier.verify(&signed(PUB_KEY_ID, NOW, BODY), BODY, NOW),
            Err(VerifyError::UnknownSerial(_))
        ));
        // Replacing the set at runtime drops the old certificate.
        verifier.set_certificates(Vec::new());
        assert!(!verifier.knows_serial(CERT_SERIAL));
        assert!(matches!(
            verifier.verify(&signed(CERT_SERIAL, NOW, BODY), BODY, NOW),
            Err(VerifyError::UnknownSerial(_))
        ));
    }

    #[test]
    fn both_modes_accept_either_serial() {
        let verifier = public_key_verifier();
        verifier.set_certificates(vec![parse_certificate_pem(PLATFORM_CERT).unwrap()]);
        verifier
            .verify(&signed(PUB_KEY_ID, NOW, BODY), BODY, NOW)
            .unwrap();
        verifier
            .verify(&signed(CERT_SERIAL, NOW, BODY), BODY, NOW)
            .unwrap();
        assert_eq!(
            verifier.serials(),
            vec![PUB_KEY_ID.to_owned(), CERT_SERIAL.to_owned()]
        );
        assert!(matches!(
            verifier.verify(&signed("0123ABCD", NOW, BODY), BODY, NOW),
            Err(VerifyError::UnknownSerial(_))
        ));
    }

    #[test]
    fn wrong_key_for_serial_fails() {
        // The merchant's public key configured under the platform key's ID.
        let verifier = Verifier::new()
            .with_public_key(PUB_KEY_ID, MERCHANT_PUB)
            .unwrap();
        assert!(matches!(
            verifier.verify(&signed(PUB_KEY_ID, NOW, BODY), BODY, NOW),
            Err(VerifyError::BadSignature)
        ));
    }

    #[test]
    fn clock_window_is_299_seconds_either_way() {
        let verifier = public_key_verifier();
        for skew in [-299, 0, 299] {
            verifier
                .verify(&signed(PUB_KEY_ID, NOW + skew, BODY), BODY, NOW)
                .unwrap_or_else(|e| panic!("skew {skew}: {e}"));
        }
        for skew in [-300, 300, -86_400] {
            let err = verifier
                .verify(&signed(PUB_KEY_ID, NOW + skew, BODY), BODY, NOW)
                .unwrap_err();
            assert!(
                matches!(err, VerifyError::Stale { timestamp, now } if timestamp == NOW + skew && now == NOW),
                "skew {skew}: {err}"
            );
            assert!(err.to_string().contains("clock may be wrong"), "{err}");
        }
    }

    #[test]
    fn tampered_body_fails() {
        let verifier = public_key_verifier();
        let sig = signed(PUB_KEY_ID, NOW, BODY);
        let tampered = br#"{"code_url":"weixin://wxpay/bizpayurl/up?pr=EVIL000&groupid=00"}"#;
        assert!(matches!(
            verifier.verify(&sig, tampered, NOW),
            Err(VerifyError::BadSignature)
        ));
        // A trailing newline added by a proxy breaks the signature too.
        let mut extended = BODY.to_vec();
        extended.push(b'\n');
        assert!(matches!(
            verifier.verify(&sig, &extended, NOW),
            Err(VerifyError::BadSignature)
        ));
        // So does a changed nonce or timestamp.
        let mut other_nonce = sig.clone();
        other_nonce.nonce.push('X');
        assert!(matches!(
            verifier.verify(&other_nonce, BODY, NOW),
            Err(VerifyError::BadSignature)
        ));
        let mut other_ts = sig.clone();
        other_ts.timestamp = (NOW + 1).to_string();
        assert!(matches!(
            verifier.verify(&other_ts, BODY, NOW),
            Err(VerifyError::BadSignature)
        ));
        let mut garbage = sig;
        garbage.signature = "not base64!".into();
        assert!(matches!(
            verifier.verify(&garbage, BODY, NOW),
            Err(VerifyError::BadSignature)
        ));
    }

    #[test]
    fn signtest_probe_is_recognised() {
        let verifier = public_key_verifier();
        let mut sig = signed(PUB_KEY_ID, NOW, BODY);
        sig.signature = format!("{SIGNTEST_PREFIX}{}", &sig.signature[..40]);
        let err = verifier.verify(&sig, BODY, NOW).unwrap_err();
        assert!(matches!(err, VerifyError::SignTest), "{err}");
        // Certificate mode too.
        let verifier = certificate_verifier();
        let mut sig = signed(CERT_SERIAL, NOW, BODY);
        sig.signature = format!("{SIGNTEST_PREFIX}abc");
        assert!(matches!(
            verifier.verify(&sig, BODY, NOW),
            Err(VerifyError::SignTest)
        ));
    }

    #[test]
    fn signature_type_is_checked_first() {
        let verifier = public_key_verifier();
        let mut sig = signed(PUB_KEY_ID, NOW, BODY);
        sig.signature_type = None;
        verifier
            .verify(&sig, BODY, NOW)
            .expect("absent type means RSA");
        // Stale too, but the type is reported: it is checked first.
        let mut sm2 = signed(PUB_KEY_ID, NOW - 1000, BODY);
        sm2.signature_type = Some("WECHATPAY2-SM2-WITH-SM3".into());
        assert!(matches!(
            verifier.verify(&sm2, BODY, NOW),
            Err(VerifyError::BadSignatureType(ref t)) if t == "WECHATPAY2-SM2-WITH-SM3"
        ));
    }

    #[test]
    fn empty_body_204_framing() {
        let verifier = public_key_verifier();
        let timestamp = NOW.to_string();
        let nonce = "n0nce";
        let good = platform_signer().sign(format!("{timestamp}\n{nonce}\n\n").as_bytes());
        let without_blank_line =
            platform_signer().sign(format!("{timestamp}\n{nonce}\n").as_bytes());
        let mut sig = ResponseSignature {
            timestamp,
            nonce: nonce.into(),
            signature: good,
            serial: PUB_KEY_ID.into(),
            signature_type: None,
        };
        verifier.verify(&sig, b"", NOW).expect("204 verifies");
        sig.signature = without_blank_line;
        assert!(matches!(
            verifier.verify(&sig, b"", NOW),
            Err(VerifyError::BadSignature)
        ));
    }

    #[test]
    fn malformed_headers() {
        let verifier = public_key_verifier();
        for bad in [
            "",
            "-1",
            "+1800000000",
            "1800000000.0",
            " 1800000000",
            "18e8",
            "99999999999999999999",
        ] {
            let mut sig = signed(PUB_KEY_ID, NOW, BODY);
            sig.timestamp = bad.into();
            let err = verifier.verify(&sig, BODY, NOW).unwrap_err();
            assert!(
                matches!(
                    err,
                    VerifyError::BadTimestamp(_) | VerifyError::MissingHeader(_)
                ),
                "{bad:?}: {err}"
            );
        }
        let mut sig = signed(PUB_KEY_ID, NOW, BODY);
        sig.nonce = "a\nb".into();
        assert!(matches!(
            verifier.verify(&sig, BODY, NOW),
            Err(VerifyError::BadNonce(_))
        ));
        let mut sig = signed(PUB_KEY_ID, NOW, BODY);
        sig.serial.clear();
        assert!(matches!(
            verifier.verify(&sig, BODY, NOW),
            Err(VerifyError::MissingHeader("Wechatpay-Serial"))
        ));
    }

    #[test]
    fn headers_are_collected() {
        let headers = [
            ("Wechatpay-Timestamp", "1800000000"),
            ("Wechatpay-Nonce", "abc"),
            ("Wechatpay-Signature", "c2ln"),
            ("Wechatpay-Serial", PUB_KEY_ID),
        ];
        let lookup = |name: &str| headers.iter().find(|(n, _)| *n == name).map(|(_, v)| *v);
        let sig = ResponseSignature::from_headers(lookup).unwrap();
        assert_eq!(sig.timestamp, "1800000000");
        assert_eq!(sig.serial, PUB_KEY_ID);
        assert_eq!(sig.signature_type, None);
        let missing = |name: &str| {
            if name == "Wechatpay-Nonce" {
                None
            } else {
                lookup(name)
            }
        };
        assert!(matches!(
            ResponseSignature::from_headers(missing),
            Err(VerifyError::MissingHeader("Wechatpay-Nonce"))
        ));
    }

    #[test]
    fn expired_certificate_is_refused() {
        let verifier = Verifier::new();
        let mut cert = parse_certificate_pem(PLATFORM_CERT).unwrap();
        cert.not_after_unix = NOW - 1;
        verifier.set_certificates(vec![cert]);
        assert!(matches!(
            verifier.verify(&signed(CERT_SERIAL, NOW, BODY), BODY, NOW),
            Err(VerifyError::CertificateExpired { .. })
        ));
    }

    #[test]
    fn key_configuration_errors() {
        let err = Verifier::new()
            .with_public_key(CERT_SERIAL, PLATFORM_PUB)
            .unwrap_err();
        assert!(err.to_string().contains("PUB_KEY_ID_"), "{err}");
        let err = Verifier::new()
            .with_public_key(PUB_KEY_ID, PLATFORM_CERT)
            .unwrap_err();
        assert!(err.to_string().contains("certificate"), "{err}");
        let err = Verifier::new()
            .with_public_key(PUB_KEY_ID, PLATFORM_KEY)
            .unwrap_err();
        assert!(err.to_string().contains("private key"), "{err}");
        let err = Verifier::new()
            .with_public_key(PUB_KEY_ID, "junk")
            .unwrap_err();
        assert!(matches!(err, VerifyError::Key(_)), "{err}");
        let err = parse_certificate_pem(PLATFORM_PUB).unwrap_err();
        assert!(matches!(err, VerifyError::Certificate(_)), "{err}");
    }

    #[test]
    fn verifier_is_shareable() {
        fn assert_send_sync<T: Send + Sync>() {}
        assert_send_sync::<Verifier>();
        let verifier = std::sync::Arc::new(certificate_verifier());
        let sig = signed(CERT_SERIAL, NOW, BODY);
        std::thread::scope(|s| {
            let v = verifier.clone();
            s.spawn(move || {
                v.set_certificates(vec![parse_certificate_pem(PLATFORM_CERT).unwrap()])
            });
            s.spawn(|| verifier.verify(&sig, BODY, NOW).unwrap());
        });
    }

    fn certificates_json(serial_no: &str, key: &[u8]) -> String {
        let nonce = "2f1a3b4c5d6e";
        let ciphertext =
            encrypt_aead_aes_256_gcm(key, nonce, "certificate", PLATFORM_CERT.as_bytes()).unwrap();
        serde_json::json!({
            "data": [{
                "serial_no": serial_no,
                "effective_time": "2026-11-27T09:55:01+08:00",
                "expire_time": "2046-11-22T09:55:01+08:00",
                "some_new_field": 1,
                "encrypt_certificate": {
                    "algorithm": "AEAD_AES_256_GCM",
                    "nonce": nonce,
                    "associated_data": "certificate",
                    "ciphertext": ciphertext,
                }
            }]
        })
        .to_string()
    }

    #[test]
    fn certificates_response_round_trip() {
        let key = APIV3_KEY.trim().as_bytes();
        assert_eq!(key.len(), 32);
        let certs =
            parse_certificates_response(certificates_json(CERT_SERIAL, key).as_bytes(), key)
                .unwrap();
        assert_eq!(certs.len(), 1);
        assert_eq!(certs[0].serial, CERT_SERIAL);
        let verifier = Verifier::new();
        verifier.set_certificates(certs);
        verifier
            .verify(&signed(CERT_SERIAL, NOW, BODY), BODY, NOW)
            .unwrap();

        // Lower-case serial_no in the list is fine.
        parse_certificates_response(
            certificates_json(&CERT_SERIAL.to_lowercase(), key).as_bytes(),
            key,
        )
        .unwrap();
        // A mismatching serial_no, a wrong APIv3 key, an empty list and junk are refused.
        let err = parse_certificates_response(certificates_json("ABCDEF", key).as_bytes(), key)
            .unwrap_err();
        assert!(err.to_string().contains("inconsistent"), "{err}");
        let err =
            parse_certificates_response(certificates_json(CERT_SERIAL, key).as_bytes(), JAVA_KEY)
                .unwrap_err();
        assert!(matches!(err, VerifyError::Decrypt(_)), "{err}");
        let err = parse_certificates_response(br#"{"data":[]}"#, key).unwrap_err();
        assert!(err.to_string().contains("public-key mode"), "{err}");
        let err = parse_certificates_response(b"<html>", key).unwrap_err();
        assert!(matches!(err, VerifyError::Certificate(_)), "{err}");
    }
}

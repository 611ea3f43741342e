//! Request signing for WeChat Pay API v3 (`Authorization: WECHATPAY2-SHA256-RSA2048 …`).
//!
//! Every API v3 request carries an `Authorization` header that proves it comes from the merchant:
//! WeChat Pay rebuilds a five-line *signature message* from the request it received, checks the
//! signature with the public half of the merchant's API certificate (selected by `serial_no`), and
//! answers `401 SIGN_ERROR` when anything differs. The message is
//!
//! ```text
//! HTTP_METHOD\n        upper case: GET, POST
//! PATH_WITH_QUERY\n    exactly as sent, e.g. /v3/pay/transactions/out-trade-no/42?mchid=1230000109
//! UNIX_SECONDS\n       decimal seconds (not milliseconds); WeChat rejects more than 5 min of skew
//! NONCE\n              a fresh random string (32 chars of [0-9A-Za-z], as the official SDKs use)
//! BODY\n               the exact request body bytes; empty for GET, so a GET ends in "\n\n"
//! ```
//!
//! Every line — the last one included — ends in a single `\n`. The signature is
//! SHA256withRSA (RSASSA-PKCS1-v1_5 with SHA-256) made with the merchant API private key
//! (`apiclient_key.pem`, PKCS#8), encoded as standard Base64 with padding. PKCS#1 v1.5 signing is
//! deterministic, which is what makes the known-answer tests (`sign/tests.rs`) possible.
//!
//! Signing only: no HTTP (the client in `http/` sends what this signs), no verification of
//! answers (`verify.rs`).
//!
//! The usual causes of `SIGN_ERROR` are all framing mistakes: a missing final `\n` on an empty
//! body, a path without its query string, signing a different serialization of the JSON than the
//! one sent, `\r\n` line ends, millisecond timestamps, or a `serial_no` that does not belong to the
//! signing key. Sign the very bytes you send.

use std::fmt;

use aws_lc_rs::rand::SystemRandom;
use aws_lc_rs::signature::{RSA_PKCS1_SHA256, RsaKeyPair};
use base64::Engine as _;
use base64::engine::general_purpose::STANDARD as BASE64;
use rsa::pkcs1::DecodeRsaPrivateKey as _;
use rsa::pkcs8::{DecodePrivateKey as _, EncodePrivateKey as _};
use rsa::traits::PublicKeyParts as _;

use super::AUTH_SCHEME;
use super::error::SignError;
use super::keys::{MAX_KEY_BITS, MIN_KEY_BITS, pem_label};
use super::verify::VerifyingKey;

/// Length of the nonces made by [`new_nonce`] (the official SDKs use 32).
pub(crate) const NONCE_LEN: usize = 32;

/// Builds the five-line request signature message (see the module docs).
///
/// `method` must be upper case (`GET`, `POST`) and `path_with_query` the request target exactly
/// as it goes on the wire (no scheme or host, query string included, already percent-encoded).
/// `body` is the exact body sent; pass `""` for GET, which yields a message ending in `"\n\n"`.
pub(crate) fn request_message(
    method: &str,
    path_with_query: &str,
    timestamp: i64,
    nonce: &str,
    body: &str,
) -> String {
    format!("{method}\n{path_with_query}\n{timestamp}\n{nonce}\n{body}\n")
}

/// A fresh request nonce: `NONCE_LEN` (32) characters of `[0-9A-Za-z]`, like the official SDKs.
///
/// The nonce need not be secret; WeChat Pay uses it (with the timestamp) to refuse replayed
/// requests, so it only has to be unique, which a fast non-cryptographic generator provides.
pub fn new_nonce() -> String {
    (0..NONCE_LEN).map(|_| fastrand::alphanumeric()).collect()
}

/// Signs API v3 requests as one merchant: its `mchid`, the serial number of its API certificate
/// and the matching RSA private key.
///
/// Cheap to share behind an `Arc` (it is `Send + Sync`); [`fmt::Debug`] never shows the key.
#[derive(Clone)]
pub struct MerchantSigner {
    mchid: String,
    serial_no: String,
    /// The private-key operation runs in aws-lc (the TLS stack's crypto library, already in
    /// the binary): about 0.3 ms a signature where the pure-Rust `rsa` crate takes 2.3 ms,
    /// and a signature is on every checkout's path to the printer. The `rsa` crate parses
    /// the key; `self_test` checks every loaded key with one signature.
    key: RsaKeyPair,
    key_bits: usize,
}

impl MerchantSigner {
    /// Builds a signer from the merchant private key in PEM form.
    ///
    /// Accepts the PKCS#8 `BEGIN PRIVATE KEY` file WeChat Pay's certificate tool produces
    /// (`apiclient_key.pem`), and also a PKCS#1 `BEGIN RSA PRIVATE KEY` (what `openssl rsa`
    /// writes by default), since both hold the same RSA key. Encrypted keys, certificates and
    /// public keys are refused with a message saying what to configure instead. `serial_no` is the
    /// hex serial of the merchant API certificate; it is stored in upper case as WeChat shows it.
    ///
    /// The key is checked by making and verifying one signature, so a broken key fails here, at
    /// start-up, and not on the first payment.
    pub fn from_pkcs8_pem(mchid: &str, serial_no: &str, pem: &str) -> Result<Self, SignError> {
        if mchid.is_empty() || !mchid.chars().all(|c| c.is_ascii_alphanumeric()) {
            return Err(SignError::BadMchid(mchid.to_owned()));
        }
        if serial_no.is_empty() || !serial_no.chars().all(|c| c.is_ascii_hexdigit()) {
            return Err(SignError::BadSerial(serial_no.to_owned()));
        }

        let pem = pem.trim();
        let private_key = match pem_label(pem) {
            None => return Err(SignError::NotPem),
            Some("PRIVATE KEY") => rsa::PrivateKey::from_pkcs8_pem(pem)
                .map_err(|e| SignError::InvalidKey(e.to_string()))?,
            Some("RSA PRIVATE KEY") => rsa::PrivateKey::from_pkcs1_pem(pem)
                .map_err(|e| SignError::InvalidKey(e.to_string()))?,
            Some("ENCRYPTED PRIVATE KEY") => return Err(SignError::EncryptedKey),
            Some(other) => return Err(SignError::NotAPrivateKey(other.to_owned())),
        };
        let key_bits = private_key.size() * 8;
        if key_bits < MIN_KEY_BITS {
            return Err(SignError::KeyTooSmall { bits: key_bits });
        }
        if key_bits > MAX_KEY_BITS {
            return Err(SignError::InvalidKey(format!(
                "the key has {key_bits} bits, more than {MAX_KEY_BITS}; WeChat Pay merchant keys \
                 are 2048-bit (apiclient_key.pem from the certificate tool)"
            )));
        }

        let der = private_key
            .to_pkcs8_der()
            .map_err(|e| SignError::InvalidKey(e.to_string()))?;
        let key = RsaKeyPair::from_pkcs8(der.as_bytes())
            .map_err(|e| SignError::InvalidKey(e.to_string()))?;
        let signer = Self {
            mchid: mchid.to_owned(),
            serial_no: serial_no.to_ascii_uppercase(),
            key,
            key_bits,
        };
        let public =
            VerifyingKey::new(&private_key.to_public_key()).map_err(SignError::InvalidKey)?;
        signer.self_test(&public)?;
        Ok(signer)
    }

    /// Signs one message and checks the result with the key's own public half.
    fn self_test(&self, public: &VerifyingKey) -> Result<(), SignError> {
        const PROBE: &[u8] = b"wxprint key self-test\n";
        let signature = self.sign_raw(PROBE)?;
        if public.verify(PROBE, &signature) {
            Ok(())
        } else {
            Err(SignError::InvalidKey(
                "the key fails its own signature check".into(),
            ))
        }
    }

    /// The merchant ID (`mchid`) this signer signs for.
    pub fn mchid(&self) -> &str {
        &self.mchid
    }

    /// The merchant API certificate serial number (upper-case hex) sent as `serial_no`.
    pub fn serial_no(&self) -> &str {
        &self.serial_no
    }

    /// Modulus size of the private key in bits (2048 for WeChat-issued keys).
    pub fn key_bits(&self) -> usize {
        self.key_bits
    }

    /// SHA256withRSA (PKCS#1 v1.5) signature of `message`, standard Base64 with padding.
    ///
    /// Fails only if the RSA operation fails, which cannot happen with a key that passed the
    /// load-time self-test unless the operating system's random source (used for RSA blinding)
    /// fails; the caller then reports [`SignError::Signing`] instead of sending anything.
    pub fn sign(&self, message: &[u8]) -> Result<String, SignError> {
        Ok(BASE64.encode(self.sign_raw(message)?))
    }

    fn sign_raw(&self, message: &[u8]) -> Result<Vec<u8>, SignError> {
        let mut signature = vec![0; self.key.public_modulus_len()];
        self.key
            .sign(
                &RSA_PKCS1_SHA256,
                &SystemRandom::new(),
                message,
                &mut signature,
            )
            .map_err(|e| SignError::Signing(e.to_string()))?;
        Ok(signature)
    }

    /// The complete `Authorization` header value for one request:
    /// `WECHATPAY2-SHA256-RSA2048 mchid="…",nonce_str="…",timestamp="…",serial_no="…",signature="…"`.
    ///
    /// The arguments are those of `request_message`; use a fresh `timestamp` (Unix seconds) and
    /// nonce ([`new_nonce`]) for every request, retries included. The attribute order is the one
    /// of the official Go SDK (WeChat Pay does not depend on it). Fails as [`Self::sign`].
    pub fn authorization(
        &self,
        method: &str,
        path_with_query: &str,
        timestamp: i64,
        nonce: &str,
        body: &str,
    ) -> Result<String, SignError> {
        let message = request_message(method, path_with_query, timestamp, nonce, body);
        let signature = self.sign(message.as_bytes())?;
        Ok(format!(
            "{AUTH_SCHEME} mchid=\"{}\",nonce_str=\"{nonce}\",timestamp=\"{timestamp}\",\
             serial_no=\"{}\",signature=\"{signature}\"",
            self.mchid, self.serial_no
        ))
    }
}

impl fmt::Debug for MerchantSigner {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("MerchantSigner")
            .field("mchid", &self.mchid)
            .field("serial_no", &self.serial_no)
            .field(
                "key",
                &format_args!("<{}-bit RSA private key>", self.key_bits),
            )
            .finish()
    }
}

#[cfg(test)]
mod tests;

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
//! deterministic, which is what makes the known-answer tests below possible.
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
use rsa::pkcs1v15::{Signature, VerifyingKey};
use rsa::pkcs8::{DecodePrivateKey as _, EncodePrivateKey as _};
use rsa::signature::Verifier as _;
use rsa::traits::PublicKeyParts as _;
use sha2::Sha256;

/// The authentication scheme token of the `Authorization` header: `WECHATPAY2-` followed by the
/// signing algorithm (`SHA256-RSA2048`). It is also the only accepted `Wechatpay-Signature-Type`.
pub const AUTH_SCHEME: &str = "WECHATPAY2-SHA256-RSA2048";

/// Smallest merchant key accepted. WeChat Pay issues 2048-bit RSA API keys; anything smaller is not
/// a WeChat merchant key (and is too weak to use).
pub const MIN_KEY_BITS: usize = 2048;

/// Length of the nonces made by [`new_nonce`] (the official SDKs use 32).
pub const NONCE_LEN: usize = 32;

/// Why a merchant signer could not be built (or, in theory, a signature made).
#[derive(Debug, thiserror::Error)]
pub enum SignError {
    /// The text does not contain a PEM block at all.
    #[error(
        "the merchant private key is not PEM text (no \"-----BEGIN …-----\" line): configure the \
         path of apiclient_key.pem as downloaded from the WeChat Pay merchant platform"
    )]
    NotPem,
    /// A PEM block, but not a private key (a certificate or a public key, usually).
    #[error(
        "the merchant key file holds a \"{0}\" PEM block, not a private key: configure \
         apiclient_key.pem (\"BEGIN PRIVATE KEY\"), not apiclient_cert.pem or a public key"
    )]
    NotAPrivateKey(String),
    /// A password-protected PKCS#8 key.
    #[error(
        "the merchant private key is encrypted (\"BEGIN ENCRYPTED PRIVATE KEY\"): decrypt it once \
         with `openssl pkcs8 -in key.pem -out apiclient_key.pem` and protect the file with \
         `chmod 600` instead"
    )]
    EncryptedKey,
    /// The PEM block could not be decoded as an RSA private key.
    #[error(
        "the merchant private key could not be read as an RSA key ({0}): use apiclient_key.pem \
         exactly as downloaded (PKCS#8 \"BEGIN PRIVATE KEY\"); a PKCS#1 \"BEGIN RSA PRIVATE KEY\" \
         is accepted too, or convert it with `openssl pkcs8 -topk8 -nocrypt -in old.pem -out \
         apiclient_key.pem`"
    )]
    InvalidKey(String),
    /// An RSA key smaller than [`MIN_KEY_BITS`].
    #[error(
        "the merchant private key has only {bits} bits; WeChat Pay merchant API keys are 2048-bit \
         RSA: configure apiclient_key.pem from the merchant platform"
    )]
    KeyTooSmall {
        /// Modulus size found.
        bits: usize,
    },
    /// The merchant ID is empty or contains characters that would break the header.
    #[error(
        "merchant id {0:?} is not valid: use the numeric mchid shown in the WeChat Pay merchant \
         platform (账户中心 → 商户信息)"
    )]
    BadMchid(String),
    /// The certificate serial number is not hexadecimal.
    #[error(
        "merchant certificate serial number {0:?} is not valid: use the hexadecimal serial of \
         apiclient_cert.pem (merchant platform → 账户中心 → API安全 → API证书, or \
         `openssl x509 -in apiclient_cert.pem -noout -serial`)"
    )]
    BadSerial(String),
    /// The RSA operation itself failed (only possible with a broken key or OS random source).
    #[error(
        "signing with the merchant private key failed ({0}); check the key file and the system's random source"
    )]
    Signing(String),
}

/// Builds the five-line request signature message (see the module docs).
///
/// `method` must be upper case (`GET`, `POST`) and `path_with_query` the request target exactly
/// as it goes on the wire (no scheme or host, query string included, already percent-encoded).
/// `body` is the exact body sent; pass `""` for GET, which yields a message ending in `"\n\n"`.
pub fn request_message(
    method: &str,
    path_with_query: &str,
    timestamp: i64,
    nonce: &str,
    body: &str,
) -> String {
    format!("{method}\n{path_with_query}\n{timestamp}\n{nonce}\n{body}\n")
}

/// A fresh request nonce: [`NONCE_LEN`] characters of `[0-9A-Za-z]`, like the official SDKs.
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
    /// the key and checks every loaded key's signature (see `self_test`).
    key: RsaKeyPair,
    public: VerifyingKey<Sha256>,
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

        let der = private_key
            .to_pkcs8_der()
            .map_err(|e| SignError::InvalidKey(e.to_string()))?;
        let key = RsaKeyPair::from_pkcs8(der.as_bytes())
            .map_err(|e| SignError::InvalidKey(e.to_string()))?;
        let signer = Self {
            mchid: mchid.to_owned(),
            serial_no: serial_no.to_ascii_uppercase(),
            key,
            public: VerifyingKey::<Sha256>::new(private_key.to_public_key()),
            key_bits,
        };
        signer.self_test()?;
        Ok(signer)
    }

    /// Signs one message and checks the result with the key's own public half.
    fn self_test(&self) -> Result<(), SignError> {
        const PROBE: &[u8] = b"wxprint key self-test\n";
        let signature = self.sign_raw(PROBE)?;
        let signature = Signature::try_from(signature.as_slice())
            .map_err(|e| SignError::Signing(e.to_string()))?;
        self.public
            .verify(PROBE, &signature)
            .map_err(|_| SignError::InvalidKey("the key fails its own signature check".into()))
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
    /// # Panics
    ///
    /// Only if the RSA operation fails, which cannot happen with a key that passed the load-time
    /// self-test unless the operating system's random source (used for RSA blinding) fails. Use
    /// [`Self::try_sign`] to get that case as an error.
    pub fn sign(&self, message: &[u8]) -> String {
        match self.try_sign(message) {
            Ok(signature) => signature,
            Err(e) => panic!("{e}"),
        }
    }

    /// Like [`Self::sign`], but reports a failure of the RSA operation as an error.
    pub fn try_sign(&self, message: &[u8]) -> Result<String, SignError> {
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
    /// The arguments are those of [`request_message`]; use a fresh `timestamp` (Unix seconds) and
    /// nonce ([`new_nonce`]) for every request, retries included. The attribute order is the one
    /// of the official Go SDK (WeChat Pay does not depend on it).
    ///
    /// # Panics
    ///
    /// As [`Self::sign`].
    pub fn authorization(
        &self,
        method: &str,
        path_with_query: &str,
        timestamp: i64,
        nonce: &str,
        body: &str,
    ) -> String {
        let message = request_message(method, path_with_query, timestamp, nonce, body);
        let signature = self.sign(message.as_bytes());
        format!(
            "{AUTH_SCHEME} mchid=\"{}\",nonce_str=\"{nonce}\",timestamp=\"{timestamp}\",\
             serial_no=\"{}\",signature=\"{signature}\"",
            self.mchid, self.serial_no
        )
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

/// The label of the first PEM block (`PRIVATE KEY` for `-----BEGIN PRIVATE KEY-----`), if any.
fn pem_label(text: &str) -> Option<&str> {
    let start = text.find("-----BEGIN ")? + "-----BEGIN ".len();
    let rest = &text[start..];
    let end = rest.find("-----")?;
    Some(&rest[..end])
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The private key of the official Go SDK's `utils/sign_test.go`
    /// (`testAlgorithmPrivateKeyStr`, published with the label `TESTING KEY`, which its
    /// `testingKey()` helper replaces by `PRIVATE KEY` exactly as done here).
    const GO_SDK_KEY: &str = "-----BEGIN PRIVATE KEY-----
MIIEvgIBADANBgkqhkiG9w0BAQEFAASCBKgwggSkAgEAAoIBAQDZUJN33V+dSfvd
fL0Mu+39XrZNXFFMQSy1V15FpncHeV47SmV0TzTqZc7hHB0ddqAdDi8Z5k3TKqb7
6sOwYr5TcAfuR6PIPaleyE0/0KrljBum2Isa2Nyq7Dgc3ElBQ6YN4l/a+DpvKaz1
FSKmKrhLNskqokWVSlu4g8OlKlbPXQ9ibII14MZRQrrkTmHYHzfi7GXXM0thAKuR
0HNvyhTHBh4/lrYM3GaMvmWwkwvsMavnOex6+eioZHBOb1/EIZ/LzC6zuHArPpyW
3daGaZ1rtQB1vVzTyERAVVFsXXgBHvfFud3w3ShsJYk8JvMwK2RpJ5/gV0QSARcm
LDRUAlPzAgMBAAECggEBAMc7rDeUaXiWv6bMGbZ3BTXpg1FhdddnWUnYE8HfX/km
OFI7XtBHXcgYFpcjYz4D5787pcsk7ezPidAj58zqenuclmjKnUmT3pfbI5eCA2v4
C9HnbYDrmUPK1ZcADtka4D6ScDccpNYNa1g2TFHzkIrEa6H+q7S3O2fqxY/DRVtN
0JIXalBb8daaqL5QVzSmM2BMVnHy+YITJWIkP2a3pKs9C0W65JGDsnG0wVrHinHF
+cnhFZIbaPEI//DAFMc9NkrWOKVRTEgcCUxCFaHOZVNxDWZD7A2ZfJB2rK6eg//y
gEiFDR2h6mTaDowMB4YF2n2dsIO4/dCG8vPHI20jn4ECgYEA/ZGu6lEMlO0XZnam
AZGtiNgLcCfM/C2ZERZE7QTRPZH1WdK92Al9ndldsswFw4baJrJLCmghjF/iG4zi
hhBvLnOLksnZUfjdumxoHDWXo2QBWbI5QsWIE7AuTiWgWj1I7X4fCXSQf6i+M/y2
6TogQ7d0ANpZFyOkTNMn/tiJvLECgYEA22XqlamG/yfAGWery5KNH2DGlTIyd6xJ
WtJ9j3jU99lZ0bCQ5xhiBbU9ImxCi3zgTsoqLWgA/p00HhNFNoUcTl9ofc0G3zwT
D1y0ZzcnVKxGJdZ6ohW52V0hJStAigtjYAsUgjm7//FH7PiQDBDP1Wa6xSRkDQU/
aSbQxvEE8+MCgYEA3bb8krW7opyM0XL9RHH0oqsFlVO30Oit5lrqebS0oHl3Zsr2
ZGgoBlWBsEzk3UqUhTFwm/DhJLTSJ/TQPRkxnhQ5/mewNhS9C7yua7wQkzVmWN+V
YeUGTvDGDF6qDz12/vJAgSwDDRym8x4NcXD5tTw7mmNRcwIfL22SkysThIECgYAV
BgccoEoXWS/HP2/u6fQr9ZIR6eV8Ij5FPbZacTG3LlS1Cz5XZra95UgebFFUHHtC
EY1JHJY7z8SWvTH8r3Su7eWNaIAoFBGffzqqSVazfm6aYZsOvRY6BfqPHT3p/H1h
Tq6AbBffxrcltgvXnCTORjHPglU0CjSxVs7awW3AEQKBgB5WtaC8VLROM7rkfVIq
+RXqE5vtJfa3e3N7W3RqxKp4zHFAPfr82FK5CX2bppEaxY7SEZVvVInKDc5gKdG/
jWNRBmvvftZhY59PILHO2X5vO4FXh7suEjy6VIh0gsnK36mmRboYIBGsNuDHjXLe
BDa+8mDLkWu5nHEhOxy2JJZl
-----END PRIVATE KEY-----
";

    /// `testAlgorithmExpectSignature` of the Go SDK: the signature of `"source"` with that key.
    const GO_SDK_SIGNATURE_OF_SOURCE: &str = "BKyAfU4iMCuvXMXS0Wzam3V/cnxZ+JaqigPM5OhljS2iOT95OO6Fsuml2JkFANJU9K6q9bLlDhPXuoVz+pp4hAm6pHU4ld815U4jsKu1RkyaII+1CYBUYC8TK0XtJ8FwUXXz8vZHh58rrAVN1XwNyvD1vfpxrMT4SL536GLwvpUHlCqIMzoZUguLli/K8V29QiOhuH6IEqLNJn8e9b3nwNcQ7be3CzYGpDAKBfDGPCqCv8Rw5zndhlffk2FEA70G4hvMwe51qMN/RAJbknXG23bSlObuTCN7Ndj1aJGH6/L+hdwfLpUtJm4QYVazzW7DFD27EpSQEqA8bX9+8m1rLg==";

    /// The official documentation's example timestamp and nonce.
    const DOC_TS: i64 = 1554208460;
    const DOC_NONCE: &str = "593BEC0C930BF1AFEB40B4A08C8FB242";
    const DOC_NATIVE_BODY: &str = r#"{"appid":"wxd678efh567hg6787","mchid":"1230000109","description":"Image形象店-深圳腾大-QQ公仔","out_trade_no":"1217752501201407033233368018","notify_url":"https://www.weixin.qq.com/wxpay/pay.php","amount":{"total":100,"currency":"CNY"}}"#;
    const DOC_QUERY_PATH: &str =
        "/v3/pay/transactions/out-trade-no/1217752501201407033233368018?mchid=1230000109";
    /// Reference §9.5: POST native message signed with the Go SDK key (openssl and Python agree).
    const NATIVE_SIGNATURE: &str = "G7ADhrfaKVrrQb5dmPK/GTVXfkFEt6PFUUPc8eMsS5EZHVboq4+aT69gTAltdkfnzn+7/smBTjLtQj2EFOaQchOB4Uce/CU7loYBnwTgNEg7iGx7E12t0q1DQR2rC+xIqRJL1zqGKGuqqOD8SAEJfiiZzFhxRwayhvhkLpIqNOYuXHD2uJnBomf+RjuvyRiBtBabkueDGY08skMF2byICGr8u9pYIvcAdoIpZGhe37U1KFl54/Amhxsvn47pyj3mcVzK0S9XaFomnmZ4O+FpxpyFIxqqATF+fUt064Kv+jLJnc12JTZ6gtg5uyDK4alysbyFZDLhJV/jibUYxpmF4g==";
    /// Reference §9.5: GET query message (empty body, ends in "\n\n") with the same key.
    const QUERY_SIGNATURE: &str = "Mi6/vU9oV2sHqOtO5LZDQBvzCU+Hti+oFJOfyB0oyR0kxDgmeHmTqczM3gzb5jNY/uFYvtMBOke1DxYDEK6rSE3l7Y0Xp3WrgX7gZgRTHJAz/qFRze1qVxK1kWx1wcXs9jqWHy3BApmDEFO+2oBGfde4qmTG9oAMYmJZ3QTWVjNOKTaJ3lH5HbAdX+gFAO1PIOUmL8HnMlLWVNyW7BJzFFYiBvJmsSp5lgdW0Jw76oMZ0LCiPqe5FlzovlZQXx4uup7PMpGcUVzFQ69APJeBVQqAMuQJDiCbl5/XCi3eteFKVj0ZpQrcpJa+kynM0Z8TE/CwPMVR0c5b2xN1s7ofUQ==";

    const MERCHANT_KEY: &str = include_str!("../../tests/fixtures/wechatpay/merchant_key.pem");
    const MERCHANT_SERIAL: &str = "7D3A1F0E5C2B4A6978E1D0C3B2A1F0E9D8C7B6A5";

    fn go_signer() -> MerchantSigner {
        MerchantSigner::from_pkcs8_pem(
            "1230000109",
            "5157F09EFDC096DE15EBE81A47057A7232F1B8E1",
            GO_SDK_KEY,
        )
        .expect("Go SDK test key loads")
    }

    #[test]
    fn go_sdk_known_answer_signature_of_source() {
        assert_eq!(go_signer().sign(b"source"), GO_SDK_SIGNATURE_OF_SOURCE);
    }

    #[test]
    fn request_message_framing() {
        let post = request_message(
            "POST",
            "/v3/pay/transactions/native",
            DOC_TS,
            DOC_NONCE,
            DOC_NATIVE_BODY,
        );
        assert!(post.starts_with(
            "POST\n/v3/pay/transactions/native\n1554208460\n593BEC0C930BF1AFEB40B4A08C8FB242\n{"
        ));
        assert!(post.ends_with("}\n"));
        assert_eq!(post.len(), 323, "reference §9.5 gives 323 UTF-8 bytes");

        let get = request_message("GET", DOC_QUERY_PATH, DOC_TS, DOC_NONCE, "");
        assert_eq!(
            get,
            "GET\n/v3/pay/transactions/out-trade-no/1217752501201407033233368018?mchid=1230000109\n\
             1554208460\n593BEC0C930BF1AFEB40B4A08C8FB242\n\n"
        );
        assert_eq!(get.len(), 129);
    }

    #[test]
    fn derived_vectors_through_request_message_and_sign() {
        let signer = go_signer();
        let post = request_message(
            "POST",
            "/v3/pay/transactions/native",
            DOC_TS,
            DOC_NONCE,
            DOC_NATIVE_BODY,
        );
        assert_eq!(signer.sign(post.as_bytes()), NATIVE_SIGNATURE);
        let get = request_message("GET", DOC_QUERY_PATH, DOC_TS, DOC_NONCE, "");
        assert_eq!(signer.sign(get.as_bytes()), QUERY_SIGNATURE);
    }

    #[test]
    fn derived_vectors_through_authorization() {
        let signer = go_signer();
        assert_eq!(
            signer.authorization(
                "POST",
                "/v3/pay/transactions/native",
                DOC_TS,
                DOC_NONCE,
                DOC_NATIVE_BODY
            ),
            format!(
                "WECHATPAY2-SHA256-RSA2048 mchid=\"1230000109\",nonce_str=\"{DOC_NONCE}\",\
                 timestamp=\"1554208460\",serial_no=\"5157F09EFDC096DE15EBE81A47057A7232F1B8E1\",\
                 signature=\"{NATIVE_SIGNATURE}\""
            )
        );
        assert_eq!(
            signer.authorization("GET", DOC_QUERY_PATH, DOC_TS, DOC_NONCE, ""),
            format!(
                "WECHATPAY2-SHA256-RSA2048 mchid=\"1230000109\",nonce_str=\"{DOC_NONCE}\",\
                 timestamp=\"1554208460\",serial_no=\"5157F09EFDC096DE15EBE81A47057A7232F1B8E1\",\
                 signature=\"{QUERY_SIGNATURE}\""
            )
        );
    }

    #[test]
    fn nonce_shape_and_freshness() {
        let a = new_nonce();
        let b = new_nonce();
        assert_eq!(a.len(), NONCE_LEN);
        assert!(a.chars().all(|c| c.is_ascii_alphanumeric()), "{a}");
        assert_ne!(a, b);
    }

    #[test]
    fn fixture_key_loads_and_debug_hides_it() {
        let signer = MerchantSigner::from_pkcs8_pem(
            "1230000109",
            &MERCHANT_SERIAL.to_lowercase(),
            MERCHANT_KEY,
        )
        .expect("fixture key loads");
        assert_eq!(signer.mchid(), "1230000109");
        assert_eq!(
            signer.serial_no(),
            MERCHANT_SERIAL,
            "serial is normalised to upper case"
        );
        assert_eq!(signer.key_bits(), 2048);
        let debug = format!("{signer:?}");
        assert!(debug.contains("2048-bit"), "{debug}");
        assert!(
            !debug.contains("MII") && !debug.contains("BoxedUint") && debug.len() < 200,
            "{debug}"
        );
    }

    #[test]
    fn pkcs1_key_is_accepted_and_signs_identically() {
        // The same Go SDK key re-encoded as PKCS#1 ("BEGIN RSA PRIVATE KEY").
        use rsa::pkcs1::EncodeRsaPrivateKey as _;
        let pkcs1_pem = rsa::PrivateKey::from_pkcs8_pem(GO_SDK_KEY)
            .expect("the Go SDK key")
            .to_pkcs1_pem(rsa::pkcs1::LineEnding::LF)
            .expect("re-encode");
        assert!(pkcs1_pem.starts_with("-----BEGIN RSA PRIVATE KEY-----"));
        let pkcs1 = MerchantSigner::from_pkcs8_pem("1230000109", "01", &pkcs1_pem)
            .expect("PKCS#1 accepted");
        assert_eq!(pkcs1.sign(b"source"), GO_SDK_SIGNATURE_OF_SOURCE);
    }

    #[test]
    fn bad_inputs_are_refused_with_guidance() {
        let pubkey = include_str!("../../tests/fixtures/wechatpay/merchant_pub.pem");
        let cert = include_str!("../../tests/fixtures/wechatpay/platform_cert.pem");
        let err =
            MerchantSigner::from_pkcs8_pem("1230000109", MERCHANT_SERIAL, pubkey).unwrap_err();
        assert!(
            matches!(err, SignError::NotAPrivateKey(ref l) if l == "PUBLIC KEY"),
            "{err}"
        );
        let err = MerchantSigner::from_pkcs8_pem("1230000109", MERCHANT_SERIAL, cert).unwrap_err();
        assert!(err.to_string().contains("apiclient_cert.pem"), "{err}");
        let err =
            MerchantSigner::from_pkcs8_pem("1230000109", MERCHANT_SERIAL, "not a key").unwrap_err();
        assert!(matches!(err, SignError::NotPem), "{err}");
        let encrypted =
            "-----BEGIN ENCRYPTED PRIVATE KEY-----\nMIIB\n-----END ENCRYPTED PRIVATE KEY-----\n";
        let err =
            MerchantSigner::from_pkcs8_pem("1230000109", MERCHANT_SERIAL, encrypted).unwrap_err();
        assert!(matches!(err, SignError::EncryptedKey), "{err}");
        let garbage = "-----BEGIN PRIVATE KEY-----\nAAAA\n-----END PRIVATE KEY-----\n";
        let err =
            MerchantSigner::from_pkcs8_pem("1230000109", MERCHANT_SERIAL, garbage).unwrap_err();
        assert!(matches!(err, SignError::InvalidKey(_)), "{err}");
        assert!(
            err.to_string().contains("openssl pkcs8 -topk8 -nocrypt"),
            "{err}"
        );
        let err = MerchantSigner::from_pkcs8_pem("", MERCHANT_SERIAL, MERCHANT_KEY).unwrap_err();
        assert!(matches!(err, SignError::BadMchid(_)), "{err}");
        let err = MerchantSigner::from_pkcs8_pem("123\",x=\"", MERCHANT_SERIAL, MERCHANT_KEY)
            .unwrap_err();
        assert!(matches!(err, SignError::BadMchid(_)), "{err}");
        let err = MerchantSigner::from_pkcs8_pem("1230000109", "PUB_KEY_ID_01", MERCHANT_KEY)
            .unwrap_err();
        assert!(matches!(err, SignError::BadSerial(_)), "{err}");
    }

    #[test]
    fn signer_is_send_and_sync() {
        fn assert_send_sync<T: Send + Sync>() {}
        assert_send_sync::<MerchantSigner>();
    }
}

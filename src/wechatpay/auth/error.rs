//! The two errors of `auth`: [`SignError`] (the merchant's key, our requests) and
//! [`VerifyError`] (WeChat Pay's keys, certificates, answers and ciphertexts).
//!
//! They live apart from the code that raises them so that `keys.rs` and `aead.rs` need not
//! import `verify.rs`. Every message says what to configure or check; keep it that way, since
//! these texts reach the technician through `check-config` and the logs.

/// Why a merchant signer could not be built, or (in theory) a request not signed.
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
    /// An RSA key smaller than 2048 bits (`MIN_KEY_BITS`).
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

/// Why a response, key, certificate or ciphertext was not accepted.
#[derive(Debug, Clone, thiserror::Error)]
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

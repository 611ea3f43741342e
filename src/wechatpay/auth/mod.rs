//! Authentication of WeChat Pay API v3 traffic, both ways, as pure crypto and framing:
//!
//! - `sign.rs`: the merchant's request signature ([`MerchantSigner`], the `Authorization` header).
//! - `verify.rs`: WeChat Pay's response signature ([`ResponseSignature`], [`Verifier`]).
//! - `keys.rs`: PEM labels, WeChat Pay's public key, platform X.509 certificates, key sizes.
//! - `aead.rs`: AEAD_AES_256_GCM under the APIv3 key (`/v3/certificates`, later notifications).
//! - `error.rs`: [`SignError`] and [`VerifyError`].
//!
//! Nothing here knows HTTP, files or WeChat Pay's paths (of the settings, only the
//! documented `PUBLIC_KEY_ID_PREFIX`, which `config` owns): the client (`http/`) asks
//! for a header and hands over the headers and bytes it received. wechatpay-go draws the same
//! line between `core/auth`, `core/cipher` and `core/client.go`.

mod aead;
mod error;
mod keys;
mod sign;
mod verify;

/// The authentication scheme of the `Authorization` header, `WECHATPAY2-` followed by the
/// signing algorithm (`SHA256-RSA2048`). WeChat Pay names its answers' algorithm with the same
/// string, so it is also the only accepted `Wechatpay-Signature-Type`.
pub(crate) const AUTH_SCHEME: &str = "WECHATPAY2-SHA256-RSA2048";

pub use error::{SignError, VerifyError};
pub use sign::{MerchantSigner, new_nonce};
pub use verify::{ResponseSignature, Verifier, response_message};

pub(crate) use aead::{AEAD_ALGORITHM, decrypt_aead_aes_256_gcm};
pub(crate) use keys::{PlatformCertificate, parse_certificate_pem};

#[cfg(test)]
pub(crate) use aead::encrypt_aead_aes_256_gcm;

//! AEAD_AES_256_GCM, WeChat Pay's encryption of what only the merchant may read: the
//! platform certificates of `/v3/certificates` today, payment notifications later. The key is
//! the merchant's 32-byte APIv3 key.
//!
//! Decryption only (plus its inverse for tests); it knows nothing of signatures, so it is kept
//! apart from the verifier, as wechatpay-go keeps `core/cipher` apart from `core/auth`.

use aes_gcm::aead::{Aead as _, Payload};
use aes_gcm::aes::cipher::consts::U12;
use aes_gcm::{Aes256Gcm, KeyInit as _, Nonce};
use base64::Engine as _;
use base64::engine::general_purpose::STANDARD as BASE64;

use super::error::VerifyError;

/// The only encryption algorithm of `/v3/certificates` and of notifications.
pub(crate) const AEAD_ALGORITHM: &str = "AEAD_AES_256_GCM";

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
pub(crate) fn decrypt_aead_aes_256_gcm(
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

/// The inverse of [`decrypt_aead_aes_256_gcm`], for tests (the simulator in `tests/support` has
/// its own, on purpose): returns Base64 of ciphertext ‖ tag.
#[cfg(test)]
pub(crate) fn encrypt_aead_aes_256_gcm(
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

#[cfg(test)]
mod tests {
    use super::*;
    use crate::wechatpay::testkit::*;

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
}

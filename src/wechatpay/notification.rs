//! What a payment notification needs from the WeChat Pay client: its signature checked
//! like an answer's (same trust, same ±5 min window, `WECHATPAY/SIGNTEST/` refused, platform
//! certificates refreshed for an unknown serial), its `resource` decrypted with the APIv3
//! key, and the decrypted transaction read as a query answer is (same object, Global
//! fields included), checked to be this merchant's.
//!
//! The HTTP listener and what a notification changes are `crate::notify`'s; this file knows
//! only the crypto and the transaction's shape, by reusing `auth/`, `identity.rs` and
//! `api/native.rs`.

use super::WechatPay;
use super::api::native;
use super::auth::{AEAD_ALGORITHM, ResponseSignature, VerifyError, decrypt_aead_aes_256_gcm};
use super::http::{Reply, Validator as _};
use super::identity::{About, Object};
use crate::clock;
use crate::payment::TradeState;

/// Why a notification is not believed or not this merchant's.
#[derive(Debug, Clone, thiserror::Error)]
pub enum NotificationError {
    /// The signature headers are missing, stale, of an unknown key, a probe, or wrong.
    #[error("signature not verified: {0}")]
    Unverified(VerifyError),
    /// The `resource` could not be decrypted (wrong APIv3 key, altered data, other
    /// algorithm), or no APIv3 key is configured.
    #[error("resource not decrypted: {0}")]
    Undecryptable(String),
    /// The decrypted transaction is not a transaction of this merchant.
    #[error("{0}")]
    Foreign(String),
}

impl WechatPay {
    /// Check a notification's `Wechatpay-*` headers (read through `header`) over its raw
    /// `body`, exactly as an answer's are checked.
    pub async fn verify_notification<'a>(
        &self,
        header: impl Fn(&'static str) -> Option<&'a str>,
        body: &[u8],
    ) -> Result<(), NotificationError> {
        let reply = Reply {
            status: 200,
            body: body.to_vec(),
            request_id: header("Request-ID").map(str::to_owned),
            signature: ResponseSignature::from_headers(&header),
            clock_offset: None,
            received_at: clock::now_ms() / 1000,
        };
        self.validate(&reply)
            .await
            .map_err(NotificationError::Unverified)
    }

    /// Decrypt a notification's `resource` (AEAD_AES_256_GCM under the APIv3 key).
    pub fn decrypt_notification(
        &self,
        algorithm: &str,
        nonce: &str,
        associated_data: &str,
        ciphertext: &str,
    ) -> Result<Vec<u8>, NotificationError> {
        let Some(key) = &self.apiv3_key else {
            return Err(NotificationError::Undecryptable(
                "no APIv3 key is configured: set wechatpay.apiv3_key_file to receive \
                 notifications"
                    .into(),
            ));
        };
        if algorithm != AEAD_ALGORITHM {
            return Err(NotificationError::Undecryptable(format!(
                "algorithm {algorithm:?} is not {AEAD_ALGORITHM}"
            )));
        }
        decrypt_aead_aes_256_gcm(key, nonce, associated_data, ciphertext)
            .map_err(|e| NotificationError::Undecryptable(e.to_string()))
    }

    /// The decrypted transaction of a `TRANSACTION.*` notification: its `out_trade_no`
    /// and trade state, read as a query answer is, once it is checked to be this
    /// merchant's (`identity.rs`: every merchant field of this merchant's kind present and
    /// ours, none of the other kind's, and its `appid`/`sp_appid` ours).
    pub fn read_transaction(
        &self,
        plaintext: &[u8],
    ) -> Result<(String, TradeState), NotificationError> {
        let json: serde_json::Value = serde_json::from_slice(plaintext)
            .map_err(|e| NotificationError::Foreign(format!("not a transaction object ({e})")))?;
        let Some(no) = json.get("out_trade_no").and_then(serde_json::Value::as_str) else {
            return Err(NotificationError::Foreign(
                "the transaction has no out_trade_no".into(),
            ));
        };
        self.api
            .check_identity(Object::TransactionNotice, &json, About::order(no))
            .map_err(|e| NotificationError::Foreign(format!("not this merchant's: {e}")))?;
        native::read_trade(no, &self.api, self.currency.currency(), &json)
            .map(|state| (no.to_owned(), state))
            .map_err(|e| NotificationError::Foreign(format!("not a transaction object ({e})")))
    }
}

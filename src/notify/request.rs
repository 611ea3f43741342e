//! One notification, believed or refused: the signature over the raw body first (the
//! configured trust, as for an answer), then the envelope, then the `resource` decrypted.
//! A refusal carries the HTTP status WeChat Pay gets and a message saying what was wrong.

use serde::Deserialize;
use tracing::warn;

use crate::wechatpay::{NotificationError, VerifyError, WechatPay};

/// A notification whose signature verified and whose `resource` decrypted.
pub(super) struct Believed {
    /// The notification's `id` (the same on every retry).
    pub(super) id: String,
    /// `TRANSACTION.SUCCESS`, `REFUND.SUCCESS`…
    pub(super) event_type: String,
    /// `resource.original_type`: `transaction`, `refund`…
    pub(super) original_type: String,
    /// The decrypted object.
    pub(super) plaintext: Vec<u8>,
}

/// A notification not taken: the status to answer and why.
#[derive(Debug)]
pub(super) struct Refusal {
    pub(super) status: u16,
    pub(super) message: String,
}

impl Refusal {
    pub(super) fn new(status: u16, message: impl Into<String>) -> Refusal {
        Refusal {
            status,
            message: message.into(),
        }
    }
}

impl From<NotificationError> for Refusal {
    fn from(e: NotificationError) -> Refusal {
        let status = match e {
            NotificationError::Unverified(_) => 401,
            NotificationError::Undecryptable(_) | NotificationError::Foreign(_) => 400,
        };
        Refusal::new(status, e.to_string())
    }
}

#[derive(Deserialize)]
struct Envelope {
    id: String,
    event_type: String,
    #[serde(default)]
    resource_type: String,
    resource: Resource,
}

#[derive(Deserialize)]
struct Resource {
    algorithm: String,
    ciphertext: String,
    #[serde(default)]
    associated_data: String,
    nonce: String,
    #[serde(default)]
    original_type: String,
}

/// Verify, read and decrypt one notification (`header` gives its HTTP headers).
pub(super) async fn believe<'a>(
    backend: &WechatPay,
    header: impl Fn(&'static str) -> Option<&'a str>,
    body: &[u8],
) -> Result<Believed, Refusal> {
    if let Err(e) = backend.verify_notification(&header, body).await {
        // A probe is logged quietly by the client; anything else is worth a warning.
        if !matches!(&e, NotificationError::Unverified(VerifyError::SignTest)) {
            warn!(error = %e, "payment notification refused");
        }
        return Err(e.into());
    }
    let envelope: Envelope = serde_json::from_slice(body).map_err(|e| {
        Refusal::new(
            400,
            format!(
                "not a WeChat Pay notification ({e}); expected {{id, event_type, resource{{…}}}}"
            ),
        )
    })?;
    if envelope.resource_type != "encrypt-resource" {
        return Err(Refusal::new(
            400,
            format!(
                "resource_type {:?} is not \"encrypt-resource\"",
                envelope.resource_type
            ),
        ));
    }
    let r = &envelope.resource;
    let plaintext = backend
        .decrypt_notification(&r.algorithm, &r.nonce, &r.associated_data, &r.ciphertext)
        .inspect_err(|e| warn!(id = %envelope.id, error = %e, "payment notification refused"))?;
    Ok(Believed {
        id: envelope.id,
        event_type: envelope.event_type,
        original_type: envelope.resource.original_type,
        plaintext,
    })
}

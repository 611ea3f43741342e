//! Payment and refund notifications, as WeChat Pay sends them to `notify_url`: the envelope
//! `{id, create_time, resource_type: "encrypt-resource", event_type, summary, resource{…}}`
//! whose `resource` is the order's query answer (the same transaction object, per kind)
//! encrypted with AEAD_AES_256_GCM under the APIv3 key (AAD `transaction`, 12-character
//! nonce; a refund's: its refund object with `refund_status`, AAD `refund`), signed like an answer (`Wechatpay-*` headers over `TS\nNONCE\nBODY\n`), and POSTed
//! over plain HTTP/1.1 to a `host:port` or a Unix socket. A delivery is retried on any
//! non-2xx answer (or no answer) on a schedule like WeChat's (15 s, 15 s, 30 s, 3 m …, at
//! most 15 tries), which tests pass scaled down.
//!
//! Tests spoil notifications by hand: [`Notification`]'s headers and body are public, and
//! [`Simulator::seal`] encrypts any object under any key at any age.

use std::path::PathBuf;
use std::time::Duration;

use aes_gcm::Aes256Gcm;
use aes_gcm::aead::{Aead, KeyInit, Nonce, Payload};
use base64::Engine as _;
use base64::engine::general_purpose::STANDARD as BASE64;
use serde_json::{Value, json};
use tokio::io::{AsyncRead, AsyncReadExt, AsyncWrite, AsyncWriteExt};

use super::ids::random_alnum;
use super::time::{rfc3339_beijing, unix};
use super::{SIGNATURE_TYPE, Simulator, Trust};

/// WeChat Pay's documented retry schedule after the first attempt (15 tries in all).
pub const WECHAT_RETRY_SCHEDULE: [Duration; 14] = {
    const M: u64 = 60;
    let s = [
        15,
        15,
        30,
        3 * M,
        10 * M,
        20 * M,
        30 * M,
        30 * M,
        30 * M,
        60 * M,
        180 * M,
        180 * M,
        180 * M,
        360 * M,
    ];
    let mut out = [Duration::ZERO; 14];
    let mut i = 0;
    while i < 14 {
        out[i] = Duration::from_secs(s[i]);
        i += 1;
    }
    out
};

/// Where notifications go: the daemon's listener and path.
#[derive(Debug, Clone)]
pub enum NotifyTarget {
    /// `host:port` and the request path.
    Tcp(String, String),
    /// A Unix socket and the request path.
    Unix(PathBuf, String),
}

/// One notification request: its headers (the `Wechatpay-*` ones) and raw body.
#[derive(Debug, Clone)]
pub struct Notification {
    pub headers: Vec<(String, String)>,
    pub body: Vec<u8>,
}

impl Simulator {
    /// The order's transaction object now (its query answer), if the order exists.
    pub fn transaction(&self, out_trade_no: &str) -> Option<Value> {
        let state = self.inner.lock();
        state
            .orders
            .get(out_trade_no)
            .map(|o| self.inner.query_answer(o))
    }

    /// The genuine `TRANSACTION.SUCCESS` notification of a paid order, signed now.
    pub fn notification(&self, out_trade_no: &str) -> Option<Notification> {
        let transaction = self.transaction(out_trade_no)?;
        let key = self.inner.config.apiv3_key.clone();
        Some(self.seal("TRANSACTION.SUCCESS", &transaction, &key, 0))
    }

    /// The `REFUND.SUCCESS` / `.ABNORMAL` / `.CLOSED` notification of a finished refund
    /// (its refund object, `original_type` `refund`), signed now; `None` while it is
    /// processing or unknown.
    pub fn refund_notification(&self, out_refund_no: &str) -> Option<Notification> {
        let (event_type, object) = self.refund_object(out_refund_no)?;
        let key = self.inner.config.apiv3_key.clone();
        Some(self.seal_as(event_type, "refund", &object, &key, 0))
    }

    /// A notification of `event_type` carrying the transaction `object` encrypted under
    /// `apiv3_key`, signed `age_secs` ago.
    pub fn seal(
        &self,
        event_type: &str,
        object: &Value,
        apiv3_key: &[u8],
        age_secs: i64,
    ) -> Notification {
        self.seal_as(event_type, "transaction", object, apiv3_key, age_secs)
    }

    /// [`Simulator::seal`] of an object of `original_type` (`transaction`, `refund`), which
    /// is also the AEAD's associated data.
    pub fn seal_as(
        &self,
        event_type: &str,
        original_type: &str,
        object: &Value,
        apiv3_key: &[u8],
        age_secs: i64,
    ) -> Notification {
        let nonce = random_alnum(12);
        let aad = original_type;
        let cipher = Aes256Gcm::new_from_slice(apiv3_key).expect("a 32-byte APIv3 key");
        let nonce_array = Nonce::<Aes256Gcm>::try_from(nonce.as_bytes()).expect("12-byte nonce");
        let plaintext = object.to_string();
        let sealed = cipher
            .encrypt(
                &nonce_array,
                Payload {
                    msg: plaintext.as_bytes(),
                    aad: aad.as_bytes(),
                },
            )
            .expect("AES-256-GCM encryption");
        let now = unix(self.inner.now());
        let body = json!({
            "id": format!("EV-{}", random_alnum(20)),
            "create_time": rfc3339_beijing(now),
            "resource_type": "encrypt-resource",
            "event_type": event_type,
            "summary": if original_type == "refund" { "退款状态变更" } else { "支付成功" },
            "resource": {
                "original_type": original_type,
                "algorithm": "AEAD_AES_256_GCM",
                "ciphertext": BASE64.encode(sealed),
                "associated_data": aad,
                "nonce": nonce,
            }
        });
        self.sign_notification(body.to_string().into_bytes(), age_secs)
    }

    /// `body` with the `Wechatpay-*` headers, signed `age_secs` ago by the key the merchant's
    /// trust mode names (public key, else the platform certificate).
    pub fn sign_notification(&self, body: Vec<u8>, age_secs: i64) -> Notification {
        let inner = &self.inner;
        let (key, serial) = match inner.config.trust {
            Trust::PublicKey | Trust::Both => {
                (&inner.platform_key, inner.config.public_key_id.as_str())
            }
            Trust::Certificate => inner.certificate_signer(),
        };
        let ts = unix(inner.now()) - age_secs;
        let nonce = random_alnum(32);
        let mut message = format!("{ts}\n{nonce}\n").into_bytes();
        message.extend_from_slice(&body);
        message.push(b'\n');
        let signature = BASE64.encode(key.sign(&message));
        let headers = [
            ("Wechatpay-Timestamp", ts.to_string()),
            ("Wechatpay-Nonce", nonce),
            ("Wechatpay-Signature", signature),
            ("Wechatpay-Serial", serial.to_owned()),
            ("Wechatpay-Signature-Type", SIGNATURE_TYPE.to_owned()),
        ];
        Notification {
            headers: headers
                .into_iter()
                .map(|(k, v)| (k.to_owned(), v))
                .collect(),
            body,
        }
    }

    /// The payer pays `out_trade_no`, and WeChat Pay notifies `target` in the background,
    /// retrying on `retries` (e.g. [`WECHAT_RETRY_SCHEDULE`] scaled down) until a 2xx.
    /// `None` if the order could not be paid; else the statuses answered, when done.
    pub fn pay_and_notify(
        &self,
        out_trade_no: &str,
        target: NotifyTarget,
        retries: Vec<Duration>,
    ) -> Option<tokio::task::JoinHandle<Vec<u16>>> {
        if !self.pay(out_trade_no) {
            return None;
        }
        let notification = self.notification(out_trade_no)?;
        Some(tokio::spawn(async move {
            notification.deliver(&target, &retries).await
        }))
    }
}

impl Notification {
    /// POST it once; the HTTP status answered (0: no answer).
    pub async fn post(&self, target: &NotifyTarget) -> u16 {
        let result = match target {
            NotifyTarget::Tcp(address, path) => match tokio::net::TcpStream::connect(address).await
            {
                Ok(stream) => exchange(stream, path, self).await,
                Err(_) => None,
            },
            NotifyTarget::Unix(socket, path) => match tokio::net::UnixStream::connect(socket).await
            {
                Ok(stream) => exchange(stream, path, self).await,
                Err(_) => None,
            },
        };
        result.unwrap_or(0)
    }

    /// POST until a 2xx, pausing `retries[i]` before try `i + 2`; every status answered.
    pub async fn deliver(&self, target: &NotifyTarget, retries: &[Duration]) -> Vec<u16> {
        let mut statuses = vec![self.post(target).await];
        for pause in retries {
            if (200..300).contains(statuses.last().unwrap()) {
                break;
            }
            tokio::time::sleep(*pause).await;
            statuses.push(self.post(target).await);
        }
        statuses
    }
}

/// One HTTP/1.1 request and its answer's status.
async fn exchange<S: AsyncRead + AsyncWrite + Unpin>(
    mut stream: S,
    path: &str,
    n: &Notification,
) -> Option<u16> {
    let mut head = format!(
        "POST {path} HTTP/1.1\r\nHost: merchant.example\r\nContent-Type: application/json\r\nContent-Length: {}\r\nConnection: close\r\nUser-Agent: Mozilla/4.0\r\n",
        n.body.len()
    );
    for (name, value) in &n.headers {
        head.push_str(&format!("{name}: {value}\r\n"));
    }
    head.push_str("\r\n");
    stream.write_all(head.as_bytes()).await.ok()?;
    stream.write_all(&n.body).await.ok()?;
    let mut answer = Vec::new();
    stream.read_to_end(&mut answer).await.ok()?;
    let text = String::from_utf8_lossy(&answer);
    text.strip_prefix("HTTP/1.1 ")?.get(..3)?.parse().ok()
}

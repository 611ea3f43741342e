//! WeChat Pay's payment notifications (step 10 of the Native process): an optional HTTP
//! listener (`[notify] listen`, off by default) for registers that `notify_url` reaches —
//! a reverse proxy or tunnel on the shop router, or the merchant's backend forwarding the
//! raw request.
//!
//! - `listener.rs`: the HTTP/1.1 server (hyper) on `host:port` or `unix:PATH`; only `POST`
//!   to the configured path; 64 KiB bodies; every request answered within WeChat's 5 s.
//! - `request.rs`: one notification believed or refused: the envelope, the signature (the
//!   configured trust, ±5 min, `WECHATPAY/SIGNTEST/` refused) and the `resource` decrypted
//!   with the APIv3 key — the crypto is `wechatpay`'s, reused, never copied.
//! - `dispatch.rs`: what a believed notification changes, by `event_type`
//!   (`TRANSACTION.SUCCESS` → the job is paid, [`crate::jobs::Jobs::notified`]);
//!   `refund.rs`: `REFUND.*` → the refund ends, [`crate::jobs::Jobs::refund_notified`].
//!
//! The answer: `204` only once the outcome is in the journal (or was already: a repeat);
//! `4xx` for anything unverifiable, undecryptable or foreign, which changes nothing (WeChat
//! Pay sends it again, up to 15 times over a day); `500` when the journal failed. Polling
//! stays the fallback for a notification that never comes.
//!
//! This module knows HTTP and which event goes where; it does not know the journal, the
//! state machine's rules, keys or ciphers.

mod dispatch;
mod listener;
mod refund;
mod request;

use std::sync::Arc;

use crate::jobs::Jobs;
use crate::wechatpay::WechatPay;

pub use listener::{Listener, bind, run};

/// Why the listener could not start.
#[derive(Debug, thiserror::Error)]
pub enum NotifyError {
    /// The address or socket path could not be bound.
    #[error(
        "cannot listen for payment notifications on {listen}: {source}; change notify.listen \
         (or set it to \"\" to turn notifications off)"
    )]
    Bind {
        /// `notify.listen` as configured.
        listen: String,
        /// The operating system's reason.
        source: std::io::Error,
    },
}

/// Everything a notification needs: the client that verifies and decrypts it, the jobs it
/// settles, and the one path it is POSTed to.
pub struct Notifications {
    backend: Arc<WechatPay>,
    jobs: Jobs,
    path: String,
}

impl Notifications {
    /// Notifications to `path`, checked by `backend`, for the jobs of `jobs`.
    pub fn new(backend: Arc<WechatPay>, jobs: Jobs, path: &str) -> Notifications {
        Notifications {
            backend,
            jobs,
            path: path.to_owned(),
        }
    }
}

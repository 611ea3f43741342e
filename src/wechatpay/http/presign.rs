//! Signing a placement ahead of its send, on another core (issue 12 §1: the daemon's own
//! time on the real path).
//!
//! A checkout's placement body is known before the job is journaled, and the journal's
//! insert waits for the disk (`fsync`, 0.2–20 ms); the RSA signature of the request takes
//! about 0.3 ms of CPU. [`Presigner::start`] computes the `Authorization` header on a
//! blocking thread while the job's runtime thread waits for the disk, and the first send of
//! that very request ([`Presigner::take`]) uses it instead of signing again — waiting for it
//! a moment without parking its thread when it is not quite done ([`wait_briefly`]). A request
//! signed ahead is never sent twice: retries sign afresh, as WeChat Pay wants (a fresh
//! timestamp and nonce each time), and a signature older than [`FRESH`] is dropped.
//!
//! Every other request is signed on a blocking thread too ([`Presigner::sign`]): a thousand
//! pending orders being polled cost a signature each, and the runtime thread that takes new
//! checkouts must not spend its time on them (issue 12 §3: a new checkout goes first).
//!
//! Knows the signer and the request's method, path and body; nothing of jobs or journals.

use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use tokio::sync::oneshot;

use super::super::auth::{MerchantSigner, SignError, new_nonce};
use crate::clock;

/// A signature made ahead is used only this soon after (WeChat Pay accepts ±5 minutes;
/// a placement normally follows within a millisecond).
const FRESH: Duration = Duration::from_secs(30);

/// How long after a signature made ahead was started the send waits for it on its own
/// thread ([`wait_briefly`]): a 2048-bit RSA signature takes 0.25–0.5 ms on a register's
/// or a VM's core; after this the send awaits it as any other result. The daemon's runtime has
/// one thread: its other tasks wait at most this long (usually a tenth of it), once a checkout.
const SPIN_UNTIL: Duration = Duration::from_millis(1);

/// Signatures made ahead and not yet used, at most this many (concurrent checkouts).
const MAX_WAITING: usize = 16;

/// One request signed ahead: what it signs and the header, when ready.
struct Ahead {
    method: &'static str,
    path_with_query: String,
    body: String,
    made: Instant,
    authorization: oneshot::Receiver<Result<String, SignError>>,
}

/// Requests signed ahead of their first send.
pub(crate) struct Presigner {
    signer: Arc<MerchantSigner>,
    waiting: Mutex<Vec<Ahead>>,
}

impl Presigner {
    pub(crate) fn new(signer: Arc<MerchantSigner>) -> Presigner {
        Presigner {
            signer,
            waiting: Mutex::default(),
        }
    }

    /// Start signing `method path body` on a blocking thread, now. Without a tokio runtime
    /// (a synchronous caller) nothing happens and the send signs as usual.
    pub(crate) fn start(&self, method: &'static str, path_with_query: &str, body: &str) {
        let Ok(runtime) = tokio::runtime::Handle::try_current() else {
            return;
        };
        let (tx, rx) = oneshot::channel();
        let signer = self.signer.clone();
        let (path, text) = (path_with_query.to_owned(), body.to_owned());
        runtime.spawn_blocking(move || {
            let timestamp = clock::now_ms() / 1000;
            let _ = tx.send(signer.authorization(method, &path, timestamp, &new_nonce(), &text));
        });
        let mut waiting = self.lock();
        let now = Instant::now();
        waiting.retain(|a| now.duration_since(a.made) < FRESH);
        if waiting.len() >= MAX_WAITING {
            waiting.remove(0);
        }
        waiting.push(Ahead {
            method,
            path_with_query: path_with_query.to_owned(),
            body: body.to_owned(),
            made: now,
            authorization: rx,
        });
    }

    /// The `Authorization` header made ahead for exactly this request, if one is waiting
    /// and fresh; it is used once. `None`: sign now.
    pub(crate) async fn take(
        &self,
        method: &str,
        path_with_query: &str,
        body: &str,
    ) -> Option<String> {
        let ahead = {
            let mut waiting = self.lock();
            let at = waiting.iter().position(|a| {
                a.method == method && a.path_with_query == path_with_query && a.body == body
            })?;
            waiting.remove(at)
        };
        if ahead.made.elapsed() >= FRESH {
            return None;
        }
        let mut authorization = ahead.authorization;
        // A failed signature (or a thread that never ran) is made again by the caller.
        if let Some(ready) = wait_briefly(&mut authorization, ahead.made + SPIN_UNTIL) {
            return ready.ok()?.ok();
        }
        authorization.await.ok()?.ok()
    }

    /// The `Authorization` of `method path body`, signed now with a fresh timestamp and
    /// nonce, on a blocking thread when there is a runtime (else here).
    pub(crate) async fn sign(
        &self,
        method: &str,
        path_with_query: &str,
        body: &str,
    ) -> Result<String, SignError> {
        let signer = self.signer.clone();
        let (method, path, text) = (
            method.to_owned(),
            path_with_query.to_owned(),
            body.to_owned(),
        );
        let sign = move || {
            let timestamp = clock::now_ms() / 1000;
            signer.authorization(&method, &path, timestamp, &new_nonce(), &text)
        };
        match tokio::runtime::Handle::try_current() {
            Ok(runtime) => match runtime.spawn_blocking(sign).await {
                Ok(signed) => signed,
                Err(e) => Err(SignError::Signing(format!(
                    "the signing thread failed: {e}"
                ))),
            },
            Err(_) => sign(),
        }
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, Vec<Ahead>> {
        self.waiting.lock().unwrap_or_else(|p| p.into_inner())
    }
}

/// The signature made ahead, if it is (or becomes) ready while this thread waits for it
/// without giving itself up, until `until` ([`SPIN_UNTIL`] after it was started); `None`:
/// await it.
///
/// Awaiting would park this runtime thread until the signing thread wakes it, and a parked
/// core takes long to wake on a VM (measured on the real-path bench's: the send left 80–120
/// µs after the signature was made, at p50; waiting here, 2). The signature is usually
/// close to done when the job's task asks for it — the job was being written to disk
/// meanwhile — so the wait is short. `yield_now` between the looks lets a thread that shares
/// this core (the signer, on a single-core box) run.
fn wait_briefly<T>(rx: &mut oneshot::Receiver<T>, until: Instant) -> Option<Result<T, ()>> {
    loop {
        match rx.try_recv() {
            Ok(value) => return Some(Ok(value)),
            Err(oneshot::error::TryRecvError::Closed) => return Some(Err(())),
            Err(oneshot::error::TryRecvError::Empty) if Instant::now() < until => {
                std::thread::yield_now();
            }
            Err(oneshot::error::TryRecvError::Empty) => return None,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::wechatpay::testkit::{MERCHANT_KEY, MERCHANT_SERIAL};

    fn signer() -> MerchantSigner {
        MerchantSigner::from_pkcs8_pem("1900000001", MERCHANT_SERIAL, MERCHANT_KEY).unwrap()
    }

    fn presigner() -> Presigner {
        Presigner::new(Arc::new(signer()))
    }

    /// The value of `name="…"` in an `Authorization` header.
    fn attribute<'a>(header: &'a str, name: &str) -> &'a str {
        let start = header.find(&format!("{name}=\"")).unwrap() + name.len() + 2;
        let len = header[start..].find('"').unwrap();
        &header[start..start + len]
    }

    #[tokio::test]
    async fn a_request_signed_ahead_is_used_once_and_only_for_itself() {
        let p = presigner();
        p.start("POST", "/v3/pay/transactions/native", "{\"a\":1}");
        assert_eq!(
            p.take("POST", "/v3/pay/transactions/native", "{\"a\":2}")
                .await,
            None
        );
        assert_eq!(
            p.take("GET", "/v3/pay/transactions/native", "{\"a\":1}")
                .await,
            None
        );
        let auth = p
            .take("POST", "/v3/pay/transactions/native", "{\"a\":1}")
            .await
            .expect("signed ahead");
        assert!(
            auth.starts_with("WECHATPAY2-SHA256-RSA2048 mchid="),
            "{auth}"
        );
        assert_eq!(
            p.take("POST", "/v3/pay/transactions/native", "{\"a\":1}")
                .await,
            None
        );
    }

    #[tokio::test]
    async fn the_signature_made_ahead_verifies_for_the_request() {
        let p = presigner();
        let (path, body) = ("/v3/pay/transactions/native", "{\"out_trade_no\":\"X1\"}");
        p.start("POST", path, body);
        let auth = p.take("POST", path, body).await.unwrap();
        // PKCS#1 v1.5 signatures are deterministic: signing the same message now gives the
        // same header.
        let timestamp: i64 = attribute(&auth, "timestamp").parse().unwrap();
        assert!((clock::now_ms() / 1000 - timestamp).abs() <= 1, "{auth}");
        let nonce = attribute(&auth, "nonce_str");
        let again = signer().authorization("POST", path, timestamp, nonce, body);
        assert_eq!(auth, again.unwrap());
    }

    #[tokio::test]
    async fn at_most_a_few_wait_and_the_oldest_goes_first() {
        let p = presigner();
        for i in 0..=MAX_WAITING {
            p.start("POST", "/p", &i.to_string());
        }
        assert_eq!(
            p.take("POST", "/p", "0").await,
            None,
            "the oldest was dropped"
        );
        assert!(
            p.take("POST", "/p", &MAX_WAITING.to_string())
                .await
                .is_some()
        );
    }

    #[tokio::test]
    async fn a_request_signed_now_is_signed_afresh_for_itself() {
        let p = presigner();
        let path = "/v3/pay/transactions/out-trade-no/X1?mchid=1900000001";
        let auth = p.sign("GET", path, "").await.unwrap();
        let timestamp: i64 = attribute(&auth, "timestamp").parse().unwrap();
        let nonce = attribute(&auth, "nonce_str");
        let again = signer().authorization("GET", path, timestamp, nonce, "");
        assert_eq!(auth, again.unwrap());
        let other = p.sign("GET", path, "").await.unwrap();
        assert_ne!(
            attribute(&other, "nonce_str"),
            nonce,
            "a fresh nonce each time"
        );
    }

    #[test]
    fn a_signature_still_being_made_is_waited_for_only_briefly() {
        let (tx, mut rx) = oneshot::channel::<u32>();
        assert!(
            wait_briefly(&mut rx, Instant::now()).is_none(),
            "past the wait: await it"
        );
        let signer = std::thread::spawn(move || {
            std::thread::sleep(Duration::from_micros(200));
            tx.send(7).unwrap();
        });
        // Made while this thread waits (far less than the wait allows, on a loaded machine).
        let until = Instant::now() + Duration::from_millis(500);
        assert_eq!(wait_briefly(&mut rx, until), Some(Ok(7)));
        signer.join().unwrap();
        let (tx, mut rx) = oneshot::channel::<u32>();
        drop(tx);
        assert_eq!(
            wait_briefly(&mut rx, Instant::now()),
            Some(Err(())),
            "the thread died"
        );
    }

    #[test]
    fn without_a_runtime_nothing_is_signed_ahead() {
        let p = presigner();
        p.start("POST", "/p", "b");
        assert!(p.lock().is_empty());
    }
}

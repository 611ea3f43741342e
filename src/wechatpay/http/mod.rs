//! Talking to WeChat Pay over HTTP: one signed exchange ([`Http::send_once`]), one attempt
//! whose 2xx answer must be believed ([`Http::exchange`]) and WeChat Pay's retry rules
//! ([`Http::call`]). What comes back, and how an error answer is classified into a
//! [`PaymentError`], is in `answer.rs`.
//!
//! Retry rules (`docs/wechatpay.md` §3): 5xx, 202 and 429 are retried with jittered back-off
//! and the *same* body; a connection or DNS failure is retried once against the backup host
//! with a freshly signed request; an answer whose signature does not verify is retried.
//!
//! Every exchange is told to the fleet metrics (`metered.rs`: which API, how it ended).
//!
//! This module signs and sends what it is given and knows no paths, bodies or certificates:
//! whether a 2xx answer is believed is decided by a [`Validator`] (the façade, which may
//! download platform certificates first), so that `certificates.rs` can use this module
//! without this module knowing it.

use std::future::Future;
use std::sync::Arc;
use std::time::Duration;

use reqwest::Method;
use tracing::{debug, warn};

use super::auth::{MerchantSigner, ResponseSignature, VerifyError};
use crate::clock;
use crate::payment::PaymentError;

mod answer;
mod metered;
mod pool;
mod presign;

pub(crate) use answer::{ApiError, CallError, NoAnswer, Reply, transient};
pub(crate) use metered::believed as metered_believed;
use pool::InFlight;
pub(crate) use pool::pooled;
use presign::Presigner;

/// Attempts of one call when WeChat Pay answers 5xx, 202 or 429.
const ATTEMPTS: u32 = 3;

/// A signing HTTP client for one merchant and its API hosts.
pub(crate) struct Http {
    client: reqwest::Client,
    signer: Arc<MerchantSigner>,
    /// Placements signed while their job is written to disk.
    presigner: Presigner,
    api_base: String,
    backup_api_base: String,
    /// Public-key mode: sent as `Wechatpay-Serial` so that WeChat Pay signs with that key.
    public_key_id: Option<String>,
    user_agent: String,
    /// At most `pool::MAX_IN_FLIGHT` requests at once.
    in_flight: InFlight,
}

/// One request as it is signed and sent.
#[derive(Debug, Clone)]
pub(crate) struct Request<'a> {
    method: Method,
    path_with_query: &'a str,
    body: &'a str,
    /// Whether `Wechatpay-Serial` names the public key WeChat Pay should sign the answer with.
    pin_public_key: bool,
}

impl<'a> Request<'a> {
    pub(crate) fn get(path_with_query: &'a str) -> Self {
        Request {
            method: Method::GET,
            path_with_query,
            body: "",
            pin_public_key: true,
        }
    }

    pub(crate) fn post(path_with_query: &'a str, body: &'a str) -> Self {
        Request {
            method: Method::POST,
            path_with_query,
            body,
            pin_public_key: true,
        }
    }

    /// Without `Wechatpay-Serial`: `/v3/certificates` must be signed by a platform certificate.
    pub(crate) fn unpinned(self) -> Self {
        Request {
            pin_public_key: false,
            ..self
        }
    }
}

/// Decides whether a 2xx answer is believed (wechatpay-go's `Validator`).
pub(crate) trait Validator: Sync {
    /// `Ok` only when the answer's signature verifies.
    fn validate<'a>(
        &'a self,
        reply: &'a Reply,
    ) -> impl Future<Output = Result<(), VerifyError>> + Send + 'a;
}

impl Http {
    /// `api_base` and `backup_api_base` without a trailing slash; an empty backup means none.
    pub(crate) fn new(
        client: reqwest::Client,
        signer: MerchantSigner,
        api_base: &str,
        backup_api_base: &str,
        public_key_id: Option<String>,
        user_agent: String,
    ) -> Http {
        let signer = Arc::new(signer);
        Http {
            client,
            presigner: Presigner::new(signer.clone()),
            signer,
            api_base: api_base.trim_end_matches('/').to_owned(),
            backup_api_base: backup_api_base.trim_end_matches('/').to_owned(),
            public_key_id,
            user_agent,
            in_flight: InFlight::new(),
        }
    }

    /// The merchant ID requests are signed for.
    pub(crate) fn mchid(&self) -> &str {
        self.signer.mchid()
    }

    pub(crate) fn api_base(&self) -> &str {
        &self.api_base
    }

    /// The User-Agent sent with every request.
    pub(crate) fn user_agent(&self) -> &str {
        &self.user_agent
    }

    /// Start signing a POST of `body` to `path_with_query` now, on another thread, for its
    /// first send (`presign.rs`): a checkout's placement, while its job is journaled.
    pub(crate) fn sign_ahead(&self, path_with_query: &str, body: &str) {
        self.presigner.start("POST", path_with_query, body);
    }

    /// The `Authorization` of `req`: made ahead ([`Self::sign_ahead`]) if it is its first
    /// send, else signed now with a fresh timestamp and nonce.
    async fn authorization(&self, req: &Request<'_>) -> Result<String, NoAnswer> {
        let (method, path, body) = (req.method.as_str(), req.path_with_query, req.body);
        if let Some(ahead) = self.presigner.take(method, path, body).await {
            return Ok(ahead);
        }
        self.presigner
            .sign(method, path, body)
            .await
            .map_err(NoAnswer::Sign)
    }

    /// Sign `req`, send it to `base` and read the answer, whatever its status.
    pub(crate) async fn send_once(&self, base: &str, req: &Request<'_>) -> Result<Reply, NoAnswer> {
        let result = self.send_unmetered(base, req).await;
        metered::sent(req, &result);
        result
    }

    async fn send_unmetered(&self, base: &str, req: &Request<'_>) -> Result<Reply, NoAnswer> {
        let authorization = self.authorization(req).await?;
        let mut request = self
            .client
            .request(req.method.clone(), format!("{base}{}", req.path_with_query))
            .header("Authorization", authorization)
            .header("Accept", "application/json");
        if req.method != Method::GET {
            request = request
                .header("Content-Type", "application/json")
                .body(req.body.to_owned());
        }
        if req.pin_public_key
            && let Some(id) = &self.public_key_id
        {
            request = request.header("Wechatpay-Serial", id);
        }
        let _slot = self.in_flight.acquire().await;
        let resp = request.send().await.map_err(|e| {
            if e.is_connect() {
                NoAnswer::Connect(e.to_string())
            } else if e.is_timeout() {
                NoAnswer::Timeout(e.to_string())
            } else {
                NoAnswer::Transport(e.to_string())
            }
        })?;
        let status = resp.status().as_u16();
        let header = |name| resp.headers().get(name).and_then(|v| v.to_str().ok());
        let request_id = header("Request-ID").map(str::to_owned);
        let signature = ResponseSignature::from_headers(header);
        let received_at = clock::now_ms() / 1000;
        // WeChat Pay's clock: its signature timestamp when it sent one (even on an answer
        // whose other signature headers are missing), else the HTTP `Date`.
        let clock_offset = header("Wechatpay-Timestamp")
            .and_then(|ts| ts.parse::<i64>().ok())
            .or_else(|| header("Date").and_then(http_date))
            .map(|ts| ts - received_at);
        let body = resp
            .bytes()
            .await
            .map_err(|e| NoAnswer::Transport(e.to_string()))?
            .to_vec();
        Ok(Reply {
            status,
            body,
            request_id,
            signature,
            clock_offset,
            received_at,
        })
    }

    /// One attempt: a 2xx answer is returned only if `validator` believes it.
    pub(crate) async fn exchange(
        &self,
        base: &str,
        req: &Request<'_>,
        validator: &impl Validator,
    ) -> Result<Reply, CallError> {
        let reply = self.send_once(base, req).await?;
        if !reply.is_success() {
            return Err(CallError::Status(reply));
        }
        let verified = validator.validate(&reply).await;
        metered::believed(req, &reply, verified.is_ok());
        match verified {
            Ok(()) => Ok(reply),
            Err(error) => Err(CallError::Unverified {
                error,
                request_id: reply.request_id,
            }),
        }
    }

    /// One call with WeChat Pay's retry rules: the backup host on connection failure,
    /// back-off on 5xx/202/429 and on an unverified answer, up to [`ATTEMPTS`] in all.
    pub(crate) async fn call(
        &self,
        req: &Request<'_>,
        validator: &impl Validator,
    ) -> Result<Reply, PaymentError> {
        let mut last = None;
        for attempt in 0..ATTEMPTS {
            if attempt > 0 {
                metered::retried(req);
                let base = 250u64 << attempt;
                tokio::time::sleep(Duration::from_millis(base + fastrand::u64(0..base))).await;
            }
            let result = match self.exchange(&self.api_base, req, validator).await {
                Err(CallError::NoAnswer(NoAnswer::Connect(e)))
                    if !self.backup_api_base.is_empty() =>
                {
                    warn!(error = %e, backup = %self.backup_api_base, "WeChat Pay unreachable; trying the backup host");
                    metered::retried(req);
                    self.exchange(&self.backup_api_base, req, validator).await
                }
                other => other,
            };
            match result {
                Ok(reply) if reply.status == 202 => {
                    debug!(
                        path_with_query = req.path_with_query,
                        "202 accepted, not processed: retrying"
                    );
                    last = Some(transient(
                        "WeChat Pay answered 202 (not processed yet)".into(),
                        reply.request_id,
                    ));
                }
                Ok(reply) => {
                    if let Some(offset) = reply.clock_offset.filter(|o| o.abs() > 60) {
                        warn!(
                            offset_seconds = offset,
                            "the register's clock differs from WeChat Pay's; fix NTP before it exceeds 5 minutes"
                        );
                    }
                    return Ok(reply);
                }
                Err(CallError::NoAnswer(e)) => {
                    // Outcome unknown: never retried here; the job retries the identical
                    // request later (or queries).
                    return Err(e.into());
                }
                Err(CallError::Status(reply)) => {
                    let api = ApiError::read(&reply);
                    let retry = api.is_retryable();
                    let error = PaymentError::from(api);
                    if !retry {
                        return Err(error);
                    }
                    warn!(status = reply.status, error = %error, "WeChat Pay error; retrying");
                    last = Some(error);
                }
                Err(CallError::Unverified { error, request_id }) => {
                    if !matches!(error, VerifyError::SignTest) {
                        warn!(error = %error, request_id = request_id.as_deref().unwrap_or("none"), "WeChat Pay answer failed verification; not trusted");
                    }
                    last = Some(PaymentError::Unverified {
                        message: error.to_string(),
                        request_id,
                    });
                }
            }
        }
        Err(last.unwrap_or_else(|| transient("no answer".into(), None)))
    }
}

/// An HTTP `Date` (`Fri, 27 Nov 2026 02:31:28 GMT`) as Unix seconds.
fn http_date(value: &str) -> Option<i64> {
    let format = time::macros::format_description!(
        "[weekday repr:short], [day] [month repr:short] [year] [hour]:[minute]:[second] GMT"
    );
    time::PrimitiveDateTime::parse(value, format)
        .ok()
        .map(|t| t.assume_utc().unix_timestamp())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn reads_http_dates() {
        assert_eq!(
            http_date("Thu, 26 Nov 2026 04:00:05 GMT"),
            Some(1_795_665_605)
        );
        assert_eq!(http_date("yesterday"), None);
    }
}

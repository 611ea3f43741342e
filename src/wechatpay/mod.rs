//! The WeChat Pay API v3 client: Native orders placed, queried and closed with signed
//! requests, and only *verified* answers believed.
//!
//! - [`sign`]: the merchant's request signature (`Authorization: WECHATPAY2-SHA256-RSA2048 …`).
//! - [`verify`]: WeChat Pay's response signature, in public-key mode (`PUB_KEY_ID_…`) or
//!   platform-certificate mode (downloaded from `/v3/certificates`, AES-256-GCM with the
//!   APIv3 key), or both.
//! - this module: HTTP, retries, the backup host, error classification, and the
//!   [`PaymentBackend`](crate::payment::PaymentBackend) implementation the jobs drive.
//!
//! Retry rules (WeChat Pay's documentation, see `reference/wechatpay.md` §3): 5xx, 202 and
//! 429 are retried with jittered back-off and the *same* body; a connection or DNS failure
//! is retried once against the backup host with a freshly signed request. A 2xx whose
//! signature does not verify is never believed: a placement is re-entered with the
//! identical body (WeChat Pay then answers the order's current `code_url`), a query is
//! discarded. Configuration errors (`SIGN_ERROR`, `MCH_NOT_EXISTS`, `PARAM_ERROR`…) are
//! final and carry WeChat Pay's code, message and `Request-ID` to the POS.

use std::path::{Path, PathBuf};
use std::sync::Mutex;
use std::time::{Duration, Instant};

use serde::{Deserialize, Serialize};
use tracing::{debug, info, warn};

use crate::clock;
use crate::config::WechatPaySettings;
use crate::payment::{
    BoxFuture, Payment, PaymentBackend, PaymentError, PlaceOrder, Placed, TradeState,
};

pub mod sign;
pub mod verify;

use sign::MerchantSigner;
use verify::{ResponseSignature, Verifier, VerifyError};

/// How often platform certificates are downloaded again (certificate mode).
const CERTIFICATE_REFRESH: Duration = Duration::from_secs(6 * 3600);
/// Attempts of one call when WeChat Pay answers 5xx, 202 or 429.
const ATTEMPTS: u32 = 3;

/// Why the client could not be set up. Each message names the file or key at fault.
#[derive(Debug, thiserror::Error)]
pub enum SetupError {
    #[error("cannot read {what} {path}: {source}; check wechatpay.{key} and the file's owner")]
    Read {
        what: &'static str,
        key: &'static str,
        path: PathBuf,
        source: std::io::Error,
    },
    #[error(
        "{path} is readable by group or others (mode {mode:04o}); a key file must be private: run `chmod 600 {path}`"
    )]
    Permissions { path: PathBuf, mode: u32 },
    #[error("wechatpay.private_key_file {path}: {source}")]
    PrivateKey {
        path: PathBuf,
        source: sign::SignError,
    },
    #[error("wechatpay.public_key_file {path}: {source}")]
    PublicKey { path: PathBuf, source: VerifyError },
    #[error(
        "wechatpay.apiv3_key_file {path}: the APIv3 key must be exactly 32 bytes, found {len}; copy it again from the merchant platform (API安全 → APIv3密钥)"
    )]
    ApiV3Key { path: PathBuf, len: usize },
    #[error("wechatpay.ca_file {path}: {message}")]
    CaFile { path: PathBuf, message: String },
    #[error(
        "no way to verify WeChat Pay's answers: set public_key_id and public_key_file (public-key mode) or apiv3_key_file (certificate mode)"
    )]
    NoTrust,
    #[error("cannot build the HTTP client: {0}")]
    Http(String),
}

/// The WeChat Pay API v3 backend.
pub struct WechatPay {
    http: reqwest::Client,
    api_base: String,
    backup_api_base: String,
    appid: String,
    notify_url: String,
    signer: MerchantSigner,
    verifier: Verifier,
    /// Public-key mode: sent as `Wechatpay-Serial` so that WeChat Pay signs with that key.
    public_key_id: Option<String>,
    /// Certificate mode: the key that decrypts `/v3/certificates`.
    apiv3_key: Option<Vec<u8>>,
    certificates: Mutex<CertificateFetch>,
    user_agent: String,
}

/// When platform certificates were last downloaded, or tried.
#[derive(Default)]
struct CertificateFetch {
    succeeded: Option<Instant>,
    /// No download before this: a minute after a success (an unknown serial does not
    /// trigger a storm of downloads), 2 s after a transient failure, an hour after WeChat
    /// Pay said the merchant has no certificates.
    next_allowed: Option<Instant>,
}

impl CertificateFetch {
    fn hold(&mut self, d: Duration) {
        self.next_allowed = Some(Instant::now() + d);
    }
}

impl std::fmt::Debug for WechatPay {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("WechatPay")
            .field("api_base", &self.api_base)
            .field("mchid", &self.signer.mchid())
            .finish_non_exhaustive()
    }
}

/// Read a key file, refusing one that group or others can read.
fn read_private(path: &Path, what: &'static str, key: &'static str) -> Result<Vec<u8>, SetupError> {
    use std::os::unix::fs::PermissionsExt;
    let read_err = |source| SetupError::Read {
        what,
        key,
        path: path.to_owned(),
        source,
    };
    let meta = std::fs::metadata(path).map_err(read_err)?;
    let mode = meta.permissions().mode() & 0o777;
    if mode & 0o077 != 0 {
        return Err(SetupError::Permissions {
            path: path.to_owned(),
            mode,
        });
    }
    std::fs::read(path).map_err(read_err)
}

/// An answer WeChat Pay gave, after its signature checked out (for 2xx).
struct Answer {
    status: u16,
    body: Vec<u8>,
    request_id: Option<String>,
    /// Seconds between WeChat Pay's clock and ours (its `Wechatpay-Timestamp` − now).
    clock_offset: Option<i64>,
}

/// One call's failure, before it is folded into a [`PaymentError`].
#[derive(Debug)]
enum CallError {
    /// No connection at all (connect refused, DNS): the backup host may help.
    Connect(String),
    /// Sent, but no (complete) answer: the outcome is unknown.
    Transport(String),
    /// A non-2xx answer with WeChat Pay's error body.
    Status {
        status: u16,
        code: String,
        message: String,
        request_id: Option<String>,
        /// WeChat Pay's clock minus ours, from `Wechatpay-Timestamp` or `Date`.
        clock_offset: Option<i64>,
        /// Whether the (rarely) signed error answer verified.
        verified: bool,
    },
    /// A 2xx that does not verify: not believed.
    Unverified {
        error: VerifyError,
        request_id: Option<String>,
    },
}

#[derive(Deserialize)]
struct ErrorBodyJson {
    #[serde(default)]
    code: String,
    #[serde(default)]
    message: String,
}

/// The Native order request body. Field order and omitted `None`s are fixed, so the
/// same order always serialises to the same bytes (WeChat Pay's re-entry rule).
#[derive(Serialize)]
struct NativeBody<'a> {
    appid: &'a str,
    mchid: &'a str,
    description: &'a str,
    out_trade_no: &'a str,
    time_expire: &'a str,
    #[serde(skip_serializing_if = "Option::is_none")]
    attach: Option<&'a str>,
    notify_url: &'a str,
    #[serde(skip_serializing_if = "Option::is_none")]
    goods_tag: Option<&'a str>,
    amount: NativeAmount<'a>,
}

#[derive(Serialize)]
struct NativeAmount<'a> {
    total: i64,
    currency: &'a str,
}

#[derive(Deserialize)]
struct NativeAnswer {
    code_url: String,
}

/// The query answer; unknown fields are ignored (WeChat Pay adds fields over time).
#[derive(Deserialize)]
struct QueryAnswer {
    #[serde(default)]
    out_trade_no: Option<String>,
    #[serde(default)]
    mchid: Option<String>,
    trade_state: String,
    #[serde(default)]
    transaction_id: Option<String>,
    #[serde(default)]
    success_time: Option<String>,
    #[serde(default)]
    amount: Option<QueryAmount>,
}

#[derive(Deserialize)]
struct QueryAmount {
    #[serde(default)]
    total: Option<i64>,
    #[serde(default)]
    payer_total: Option<i64>,
    #[serde(default)]
    currency: Option<String>,
}

/// The `Wechatpay-*` signature headers of an answer (empty where absent: verification
/// then reports the missing header).
fn signature_of(resp: &reqwest::Response) -> ResponseSignature {
    ResponseSignature {
        timestamp: header(resp, "Wechatpay-Timestamp").unwrap_or_default(),
        nonce: header(resp, "Wechatpay-Nonce").unwrap_or_default(),
        signature: header(resp, "Wechatpay-Signature").unwrap_or_default(),
        serial: header(resp, "Wechatpay-Serial").unwrap_or_default(),
        signature_type: header(resp, "Wechatpay-Signature-Type"),
    }
}

fn header(resp: &reqwest::Response, name: &str) -> Option<String> {
    resp.headers()
        .get(name)
        .and_then(|v| v.to_str().ok())
        .map(str::to_owned)
}

/// WeChat Pay spells some codes two ways (`SYSTEM_ERROR`/`SYSTEMERROR`…): compare them
/// without underscores.
fn code_is(code: &str, name: &str) -> bool {
    code.bytes()
        .filter(|&b| b != b'_')
        .eq(name.bytes().filter(|&b| b != b'_'))
}

impl WechatPay {
    /// Set up the client from the settings: read and check the key files.
    pub fn from_settings(s: &WechatPaySettings) -> Result<WechatPay, SetupError> {
        let key_pem = read_private(
            &s.private_key_file,
            "the merchant private key",
            "private_key_file",
        )?;
        let key_pem = String::from_utf8_lossy(&key_pem);
        let signer = MerchantSigner::from_pkcs8_pem(&s.mchid, &s.merchant_serial_no, &key_pem)
            .map_err(|source| SetupError::PrivateKey {
                path: s.private_key_file.clone(),
                source,
            })?;

        let mut verifier = Verifier::new();
        let mut public_key_id = None;
        if !s.public_key_id.is_empty() {
            let pem =
                std::fs::read_to_string(&s.public_key_file).map_err(|source| SetupError::Read {
                    what: "the WeChat Pay public key",
                    key: "public_key_file",
                    path: s.public_key_file.clone(),
                    source,
                })?;
            verifier = verifier
                .with_public_key(&s.public_key_id, &pem)
                .map_err(|source| SetupError::PublicKey {
                    path: s.public_key_file.clone(),
                    source,
                })?;
            public_key_id = Some(s.public_key_id.clone());
        }
        let apiv3_key = match &s.apiv3_key_file {
            Some(path) => {
                let key = read_private(path, "the APIv3 key", "apiv3_key_file")?;
                let key = key.trim_ascii().to_vec();
                if key.len() != 32 {
                    return Err(SetupError::ApiV3Key {
                        path: path.clone(),
                        len: key.len(),
                    });
                }
                Some(key)
            }
            None => None,
        };
        if public_key_id.is_none() && apiv3_key.is_none() {
            return Err(SetupError::NoTrust);
        }

        let user_agent = format!(
            "wxprint/{} ({} {})",
            env!("CARGO_PKG_VERSION"),
            std::env::consts::OS,
            std::env::consts::ARCH
        );
        let mut http = reqwest::Client::builder()
            .timeout(s.request_timeout)
            .connect_timeout(s.request_timeout.min(Duration::from_secs(5)))
            .user_agent(&user_agent);
        if let Some(ca) = &s.ca_file {
            let pem = std::fs::read(ca).map_err(|e| SetupError::CaFile {
                path: ca.clone(),
                message: e.to_string(),
            })?;
            let certs =
                reqwest::Certificate::from_pem_bundle(&pem).map_err(|e| SetupError::CaFile {
                    path: ca.clone(),
                    message: format!("not a PEM certificate: {e}"),
                })?;
            http = http.tls_certs_merge(certs);
        }
        let http = http.build().map_err(|e| SetupError::Http(e.to_string()))?;
        Ok(WechatPay {
            http,
            api_base: s.api_base.trim_end_matches('/').to_owned(),
            backup_api_base: s.backup_api_base.trim_end_matches('/').to_owned(),
            appid: s.appid.clone(),
            notify_url: s.notify_url.clone(),
            signer,
            verifier,
            public_key_id,
            apiv3_key,
            certificates: Mutex::new(CertificateFetch::default()),
            user_agent,
        })
    }

    /// Send one signed request to `base`, and check the answer.
    async fn send_once(
        &self,
        base: &str,
        method: reqwest::Method,
        path_with_query: &str,
        body: &str,
    ) -> Result<Answer, CallError> {
        let timestamp = clock::now_ms() / 1000;
        let nonce = sign::new_nonce();
        let authorization =
            self.signer
                .authorization(method.as_str(), path_with_query, timestamp, &nonce, body);
        let mut request = self
            .http
            .request(method.clone(), format!("{base}{path_with_query}"))
            .header("Authorization", authorization)
            .header("Accept", "application/json");
        if method != reqwest::Method::GET {
            request = request
                .header("Content-Type", "application/json")
                .body(body.to_owned());
        }
        if let Some(id) = &self.public_key_id {
            request = request.header("Wechatpay-Serial", id);
        }
        let resp = request.send().await.map_err(|e| {
            if e.is_connect() {
                CallError::Connect(e.to_string())
            } else {
                CallError::Transport(e.to_string())
            }
        })?;
        let status = resp.status().as_u16();
        let request_id = header(&resp, "Request-ID");
        let signature = signature_of(&resp);
        let now = clock::now_ms() / 1000;
        let clock_offset = signature
            .timestamp
            .parse::<i64>()
            .ok()
            .or_else(|| header(&resp, "Date").as_deref().and_then(http_date))
            .map(|ts| ts - now);
        let bytes = resp
            .bytes()
            .await
            .map_err(|e| CallError::Transport(e.to_string()))?
            .to_vec();
        if !(200..300).contains(&status) {
            let parsed: Option<ErrorBodyJson> = serde_json::from_slice(&bytes).ok();
            let (code, message) = match parsed {
                Some(p) => (p.code, p.message),
                None => (String::new(), String::from_utf8_lossy(&bytes).into_owned()),
            };
            let verified = !signature.signature.is_empty()
                && self.verifier.verify(&signature, &bytes, now).is_ok();
            return Err(CallError::Status {
                status,
                code,
                message,
                request_id,
                clock_offset,
                verified,
            });
        }
        self.check_signature(&signature, &bytes)
            .await
            .map_err(|error| CallError::Unverified {
                error,
                request_id: request_id.clone(),
            })?;
        Ok(Answer {
            status,
            body: bytes,
            request_id,
            clock_offset,
        })
    }

    /// Verify a 2xx answer; in certificate mode, download the certificates when they are
    /// missing, old, or do not include the answer's serial (once).
    async fn check_signature(
        &self,
        signature: &ResponseSignature,
        body: &[u8],
    ) -> Result<(), VerifyError> {
        if self.apiv3_key.is_some() {
            // Download when the certificates are older than 6 h, or once when an answer is
            // signed with a serial we do not know — at most once a minute.
            let (stale, may_try) = {
                let fetch = self.certificates.lock().unwrap_or_else(|p| p.into_inner());
                (
                    fetch
                        .succeeded
                        .is_none_or(|at| at.elapsed() > CERTIFICATE_REFRESH),
                    fetch.next_allowed.is_none_or(|at| Instant::now() >= at),
                )
            };
            let unknown =
                !signature.serial.is_empty() && !self.verifier.knows_serial(&signature.serial);
            if (stale || unknown)
                && may_try
                && let Err(e) = self.refresh_certificates().await
            {
                warn!(error = %e, "cannot download WeChat Pay platform certificates");
            }
        }
        let result = self
            .verifier
            .verify(signature, body, clock::now_ms() / 1000);
        if let Err(VerifyError::SignTest) = &result {
            info!(
                "WeChat Pay sent a signature probe (WECHATPAY/SIGNTEST/); answer not trusted, as required"
            );
        }
        result
    }

    /// Download and decrypt the platform certificates (certificate mode).
    pub async fn refresh_certificates(&self) -> Result<usize, PaymentError> {
        let Some(key) = &self.apiv3_key else {
            return Ok(0);
        };
        let result = self.download_certificates(key).await;
        let mut fetch = self.certificates.lock().unwrap_or_else(|p| p.into_inner());
        match &result {
            Ok(_) => {
                fetch.succeeded = Some(Instant::now());
                fetch.hold(Duration::from_secs(60));
            }
            Err(PaymentError::Rejected { .. }) => fetch.hold(Duration::from_secs(3600)),
            Err(_) => fetch.hold(Duration::from_secs(2)),
        }
        result
    }

    async fn download_certificates(&self, key: &[u8]) -> Result<usize, PaymentError> {
        // The download itself is authenticated by AES-GCM with the APIv3 key; its answer
        // is then also checked against the certificates it carries.
        let path = "/v3/certificates";
        let timestamp = clock::now_ms() / 1000;
        let nonce = sign::new_nonce();
        let authorization = self
            .signer
            .authorization("GET", path, timestamp, &nonce, "");
        let resp = self
            .http
            .get(format!("{}{path}", self.api_base))
            .header("Authorization", authorization)
            .header("Accept", "application/json")
            .send()
            .await
            .map_err(|e| transient(e.to_string(), None))?;
        let status = resp.status().as_u16();
        let request_id = header(&resp, "Request-ID");
        let signature = signature_of(&resp);
        let body = resp
            .bytes()
            .await
            .map_err(|e| transient(e.to_string(), request_id.clone()))?;
        if status == 404 {
            return Err(PaymentError::Rejected {
                code: "RESOURCE_NOT_EXISTS".into(),
                message: "this merchant has no platform certificates: use public-key mode \
                          (wechatpay.public_key_id and public_key_file, from the merchant \
                          platform's API安全 page) instead of apiv3_key_file"
                    .into(),
                request_id,
            });
        }
        if !(200..300).contains(&status) {
            let parsed: Option<ErrorBodyJson> = serde_json::from_slice(&body).ok();
            let (code, message) = parsed.map(|p| (p.code, p.message)).unwrap_or_default();
            return Err(classify(status, code, message, request_id));
        }
        let certificates = verify::parse_certificates_response(&body, key)
            .map_err(|e| transient(format!("platform certificates: {e}"), request_id.clone()))?;
        let check = Verifier::new();
        check.set_certificates(certificates.clone());
        check
            .verify(&signature, &body, clock::now_ms() / 1000)
            .map_err(|e| {
                transient(
                    format!("platform certificates answer: {e}"),
                    request_id.clone(),
                )
            })?;
        let count = certificates.len();
        self.verifier.set_certificates(certificates);
        info!(count, serials = ?self.verifier.serials(), "WeChat Pay platform certificates loaded");
        Ok(count)
    }

    /// One call with WeChat Pay's retry rules: the backup host on connection failure,
    /// back-off on 5xx/202/429, one immediate re-entry on an unverified answer.
    async fn call(
        &self,
        method: reqwest::Method,
        path_with_query: &str,
        body: &str,
    ) -> Result<Answer, PaymentError> {
        let mut last = None;
        for attempt in 0..ATTEMPTS {
            if attempt > 0 {
                let base = 250u64 << attempt;
                tokio::time::sleep(Duration::from_millis(base + fastrand::u64(0..base))).await;
            }
            let result = match self
                .send_once(&self.api_base, method.clone(), path_with_query, body)
                .await
            {
                Err(CallError::Connect(e)) if !self.backup_api_base.is_empty() => {
                    warn!(error = %e, backup = %self.backup_api_base, "WeChat Pay unreachable; trying the backup host");
                    self.send_once(&self.backup_api_base, method.clone(), path_with_query, body)
                        .await
                }
                other => other,
            };
            match result {
                Ok(answer) if answer.status == 202 => {
                    debug!(path_with_query, "202 accepted, not processed: retrying");
                    last = Some(transient(
                        "WeChat Pay answered 202 (not processed yet)".into(),
                        answer.request_id,
                    ));
                }
                Ok(answer) => {
                    if let Some(offset) = answer.clock_offset.filter(|o| o.abs() > 60) {
                        warn!(
                            offset_seconds = offset,
                            "the register's clock differs from WeChat Pay's; fix NTP before it exceeds 5 minutes"
                        );
                    }
                    return Ok(answer);
                }
                Err(CallError::Status {
                    status,
                    code,
                    message,
                    request_id,
                    ..
                }) => {
                    let error = classify(status, code, message, request_id);
                    let retry = status == 429 || status >= 500;
                    if !retry {
                        return Err(error);
                    }
                    warn!(status, error = %error, "WeChat Pay error; retrying");
                    last = Some(error);
                }
                Err(CallError::Unverified { error, request_id }) => {
                    if !matches!(error, VerifyError::SignTest) {
                        warn!(error = %error, ?request_id, "WeChat Pay answer failed verification; not trusted");
                    }
                    last = Some(transient(
                        format!("the answer's signature did not verify: {error}"),
                        request_id,
                    ));
                }
                Err(CallError::Connect(e)) | Err(CallError::Transport(e)) => {
                    // Outcome unknown: never retried here; the job retries the identical
                    // request later (or queries).
                    return Err(transient(e, None));
                }
            }
        }
        Err(last.unwrap_or_else(|| transient("no answer".into(), None)))
    }

    /// `check-config --online`: one signed call (a query of an order that does not exist)
    /// that proves keys, serial, clock and trust mode end to end.
    pub async fn probe(&self) -> Result<ProbeReport, PaymentError> {
        let certificates = if self.apiv3_key.is_some() {
            Some(self.refresh_certificates().await?)
        } else {
            None
        };
        let path = format!(
            "/v3/pay/transactions/out-trade-no/WXPRINTPROBE{}?mchid={}",
            clock::now_ms(),
            self.signer.mchid()
        );
        match self
            .send_once(&self.api_base, reqwest::Method::GET, &path, "")
            .await
        {
            Err(CallError::Status {
                status: 404,
                code,
                request_id,
                clock_offset,
                verified,
                ..
            }) if code_is(&code, "ORDER_NOT_EXIST") => Ok(ProbeReport {
                request_id,
                clock_offset,
                certificates,
                verified,
            }),
            Ok(answer) => Ok(ProbeReport {
                request_id: answer.request_id,
                clock_offset: answer.clock_offset,
                certificates,
                verified: true,
            }),
            Err(CallError::Status {
                status,
                code,
                message,
                request_id,
                ..
            }) => Err(classify(status, code, message, request_id)),
            Err(CallError::Unverified { error, request_id }) => Err(PaymentError::Rejected {
                code: "VERIFY".into(),
                message: format!("WeChat Pay's answer did not verify: {error}"),
                request_id,
            }),
            Err(CallError::Connect(e)) | Err(CallError::Transport(e)) => Err(transient(e, None)),
        }
    }

    /// The User-Agent sent with every request.
    pub fn user_agent(&self) -> &str {
        &self.user_agent
    }

    fn native_body(&self, order: &PlaceOrder) -> String {
        let body = NativeBody {
            appid: &self.appid,
            mchid: self.signer.mchid(),
            description: &order.description,
            out_trade_no: &order.out_trade_no,
            time_expire: &order.time_expire,
            attach: order.attach.as_deref(),
            notify_url: &self.notify_url,
            goods_tag: order.goods_tag.as_deref(),
            amount: NativeAmount {
                total: order.total,
                currency: &order.currency,
            },
        };
        serde_json::to_string(&body).expect("plain data")
    }

    async fn place_order(&self, order: &PlaceOrder) -> Result<Placed, PaymentError> {
        // The body stored with the job at checkout: byte-identical on every attempt.
        let body = order
            .request
            .clone()
            .unwrap_or_else(|| self.native_body(order));
        let answer = self
            .call(reqwest::Method::POST, "/v3/pay/transactions/native", &body)
            .await?;
        let parsed: NativeAnswer = serde_json::from_slice(&answer.body).map_err(|e| {
            transient(
                format!("unreadable Native answer: {e}"),
                answer.request_id.clone(),
            )
        })?;
        if !parsed.code_url.starts_with("weixin://") {
            return Err(transient(
                format!("unexpected code_url {:?}", parsed.code_url),
                answer.request_id,
            ));
        }
        Ok(Placed {
            code_url: parsed.code_url,
        })
    }

    async fn query_order(&self, no: &str) -> Result<TradeState, PaymentError> {
        let path = format!(
            "/v3/pay/transactions/out-trade-no/{no}?mchid={}",
            self.signer.mchid()
        );
        let answer = self.call(reqwest::Method::GET, &path, "").await?;
        let parsed: QueryAnswer = serde_json::from_slice(&answer.body).map_err(|e| {
            transient(
                format!("unreadable query answer: {e}"),
                answer.request_id.clone(),
            )
        })?;
        // The signature covers the answer, not the question: a genuine answer about another
        // order (replayed by something in the middle) must not count for this one.
        if parsed.out_trade_no.as_deref() != Some(no)
            || parsed
                .mchid
                .as_deref()
                .is_some_and(|m| m != self.signer.mchid())
        {
            warn!(out_trade_no = no, answered = ?parsed.out_trade_no, "query answer is about another order; discarded");
            return Err(transient(
                format!(
                    "the query answer is about order {:?}, not {no:?}",
                    parsed.out_trade_no
                ),
                answer.request_id,
            ));
        }
        Ok(match parsed.trade_state.as_str() {
            "SUCCESS" | "REFUND" => {
                let amount = parsed.amount.unwrap_or(QueryAmount {
                    total: None,
                    payer_total: None,
                    currency: None,
                });
                let total = amount.total.unwrap_or(0);
                TradeState::Paid(Payment {
                    transaction_id: parsed.transaction_id.unwrap_or_default(),
                    success_time: parsed.success_time.unwrap_or_default(),
                    total,
                    payer_total: amount.payer_total.unwrap_or(total),
                    currency: amount.currency.unwrap_or_else(|| "CNY".into()),
                })
            }
            "USERPAYING" => TradeState::UserPaying,
            "CLOSED" | "REVOKED" | "PAYERROR" => TradeState::Closed,
            "NOTPAY" => TradeState::NotPay,
            other => {
                warn!(
                    out_trade_no = no,
                    trade_state = other,
                    "unknown trade_state; polling on"
                );
                TradeState::NotPay
            }
        })
    }

    async fn close_order(&self, no: &str) -> Result<(), PaymentError> {
        let path = format!("/v3/pay/transactions/out-trade-no/{no}/close");
        let body = serde_json::json!({ "mchid": self.signer.mchid() }).to_string();
        self.call(reqwest::Method::POST, &path, &body)
            .await
            .map(|_| ())
    }
}

/// What `check-config --online` learned.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ProbeReport {
    pub request_id: Option<String>,
    /// WeChat Pay's clock minus ours, in seconds, when the answer said.
    pub clock_offset: Option<i64>,
    /// Certificate mode: how many platform certificates were downloaded, decrypted with
    /// the APIv3 key and verified.
    pub certificates: Option<usize>,
    /// Whether the answer was signed and verified (WeChat Pay's error answers usually are
    /// not, so public-key mode is proven by the first real order).
    pub verified: bool,
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

fn transient(message: String, request_id: Option<String>) -> PaymentError {
    PaymentError::Transient {
        message,
        request_id,
    }
}

/// Fold a non-2xx answer into what the job needs to know.
fn classify(
    status: u16,
    code: String,
    message: String,
    request_id: Option<String>,
) -> PaymentError {
    if status == 429 {
        return PaymentError::RateLimited;
    }
    if code_is(&code, "ORDER_NOT_EXIST") {
        return PaymentError::OrderNotFound(message);
    }
    if code_is(&code, "ORDER_PAID") {
        return PaymentError::OrderPaid(message);
    }
    if status >= 500 || code_is(&code, "SYSTEM_ERROR") || code_is(&code, "USER_PAYING") {
        return transient(format!("HTTP {status} {code}: {message}"), request_id);
    }
    let code = if code.is_empty() {
        format!("HTTP_{status}")
    } else {
        code
    };
    PaymentError::Rejected {
        code,
        message,
        request_id,
    }
}

impl PaymentBackend for WechatPay {
    fn name(&self) -> &'static str {
        "wechatpay"
    }

    fn prepare(&self, order: &PlaceOrder) -> Option<String> {
        Some(self.native_body(order))
    }

    fn place<'a>(&'a self, order: &'a PlaceOrder) -> BoxFuture<'a, Result<Placed, PaymentError>> {
        Box::pin(self.place_order(order))
    }

    fn query<'a>(&'a self, no: &'a str) -> BoxFuture<'a, Result<TradeState, PaymentError>> {
        Box::pin(self.query_order(no))
    }

    fn close<'a>(&'a self, no: &'a str) -> BoxFuture<'a, Result<(), PaymentError>> {
        Box::pin(self.close_order(no))
    }
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

    #[test]
    fn error_codes_match_both_spellings() {
        assert!(code_is("SYSTEMERROR", "SYSTEM_ERROR"));
        assert!(code_is("ORDERNOTEXIST", "ORDER_NOT_EXIST"));
        assert!(code_is("ORDERPAID", "ORDER_PAID"));
        assert!(!code_is("ORDER_CLOSED", "ORDER_PAID"));
        let r = |s, c: &str| classify(s, c.into(), "m".into(), Some("rid".into()));
        assert_eq!(
            r(404, "ORDERNOTEXIST"),
            PaymentError::OrderNotFound("m".into())
        );
        assert_eq!(r(400, "ORDER_PAID"), PaymentError::OrderPaid("m".into()));
        assert_eq!(r(429, "FREQUENCY_LIMITED"), PaymentError::RateLimited);
        assert_eq!(r(429, "RATELIMIT_EXCEEDED"), PaymentError::RateLimited);
        assert!(matches!(
            r(500, "SYSTEMERROR"),
            PaymentError::Transient { .. }
        ));
        assert!(matches!(r(502, ""), PaymentError::Transient { .. }));
        for code in [
            "SIGN_ERROR",
            "MCH_NOT_EXISTS",
            "APPID_MCHID_NOT_MATCH",
            "NO_AUTH",
            "PARAM_ERROR",
        ] {
            assert!(
                matches!(r(400, code), PaymentError::Rejected { code: ref c, request_id: Some(_), .. } if c == code),
                "{code}"
            );
        }
    }
}

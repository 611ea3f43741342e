//! A WeChat Pay API v3 simulator (mainland, direct merchant, Native payment) on loopback
//! `http://127.0.0.1:<port>`, for wxprint's integration tests.
//!
//! It is an independent implementation: it signs and verifies with `rsa`/`sha2`/`base64`
//! and encrypts with `aes-gcm` itself and never calls wxprint's own WeChat Pay code, so a
//! mistake in one side shows up as a failure instead of cancelling out.
//!
//! # What is faithful
//! - **Request authentication** on every call: `Authorization: WECHATPAY2-SHA256-RSA2048
//!   mchid="…",nonce_str="…",timestamp="…",serial_no="…",signature="…"` (any attribute
//!   order); mchid and merchant serial must match, the timestamp must be within ±300 s of
//!   the simulator's clock, a nonce may be used once, and the signature must be SHA256withRSA
//!   (PKCS#1 v1.5) by the merchant key over `METHOD\nPATH?QUERY\nTS\nNONCE\nBODY\n`, with
//!   the request target and body exactly as received. Failures answer 401 `SIGN_ERROR`
//!   (unsigned, with a `detail.sign_information` like the real service's).
//! - **Native place** (`POST /v3/pay/transactions/native`): field validation (unknown fields,
//!   `null`s, lengths, character sets, 4-byte UTF-8, https `notify_url` without query, CNY,
//!   `total ≥ 1`, RFC 3339 `time_expire`); re-entry with the byte-identical body returns a
//!   *new* `code_url` and the old one dies; a different body is refused with
//!   `INVALID_REQUEST` "请求重入时，参数与首次请求时不一致"; closed → `ORDER_CLOSED`, paid →
//!   `ORDERPAID`.
//! - **Query** (`GET …/out-trade-no/{no}?mchid=…`) with the real response shape, including
//!   fields wxprint does not know (`promotion_detail`, `scene_info`, `bank_type`), and the
//!   unpaid shape that has no `trade_type`, `transaction_id` or `payer`.
//! - **Close** (`POST …/out-trade-no/{no}/close`, body `{"mchid":…}`) → 204, re-entrant;
//!   paid → `ORDERPAID`; the close time is recorded so tests can check the five-minute rule.
//! - **Certificates** (`GET /v3/certificates`): the platform certificate encrypted with
//!   AEAD_AES_256_GCM under the APIv3 key (12-character nonce, AAD `certificate`), its serial
//!   and validity read from the certificate itself; 404 `RESOURCE_NOT_EXISTS` for a merchant
//!   that only has a WeChat Pay public key.
//! - **Response signing**: every 2xx (204 and 202 included) carries `Wechatpay-Timestamp`,
//!   `-Nonce`, `-Signature` (over `TS\nNONCE\nBODY\n`, raw body bytes, so `TS\nNONCE\n\n`
//!   when empty), `-Serial` and `-Signature-Type`; in [`Trust::Both`] the answer is signed
//!   with the public key only when the request carried `Wechatpay-Serial: <public_key_id>`,
//!   as during WeChat's migration. Every answer carries a `Request-ID`; error bodies
//!   `{code, message, detail?}` are not signed.
//! - **Order life**: `time_expire` below now + 1 min is silently raised to now + 1 min and
//!   above now + 90 days silently lowered (as WeChat does); an order past it can no longer be
//!   paid nor re-entered, but stays NOTPAY until closed; a `code_url` works for 2 hours.
//! - **Backup host**: [`Simulator::second_host`] serves the same orders on another port, as
//!   `api2.mch.weixin.qq.com` does.
//!
//! # What is simplified or stricter than the real service
//! - Plain HTTP/1.1 (hand-written, keep-alive, `Content-Length` or chunked bodies) instead
//!   of TLS: owning the socket is what lets faults reset or hold connections.
//! - Stricter on purpose: re-entry must be *byte*-identical (WeChat compares parameters);
//!   `Accept` must name `application/json` (WeChat also takes `*/*`); `null` values and
//!   space-padded strings are refused with `PARAM_ERROR` (WeChat may accept them and then fail
//!   at scan time); `time_expire` must have whole seconds and an explicit offset or `Z`.
//! - Not modelled: the partner (service-provider) APIs, `detail`/`scene_info`/`settle_info`
//!   contents (accepted unchecked), the 7-day auto-close, rate limits (inject `Status429`),
//!   notifications, refunds beyond flipping the state to REFUND, and the `?algorithm_type=`
//!   filter of `/v3/certificates` (ignored).
//! - Codes whose exact value is not documented are best guesses: a body `mchid` different
//!   from the header's → 400 `PARAM_ERROR` "mchid不匹配"; re-entry after `time_expire` → 400
//!   `INVALID_REQUEST` "订单已过期"; an unknown header mchid → 401 `SIGN_ERROR`.
//!
//! # Faults
//! [`Simulator::inject`] queues a [`Fault`] for the next `times` calls to an [`Endpoint`].
//! Transport and status faults (`Delay`, `Timeout`, `Reset`, `Status*`, `Error`) act before
//! the request is handled and leave the orders unchanged. Signature faults (`BadSignature`,
//! `StaleTimestamp`, `WrongSerial`, `MalformedJson`, `SignTest`) compute the genuine answer
//! on a scratch copy of the orders (so nothing changes) and then spoil it. `LoseAnswer` and
//! `HangAfterHandling` handle the call for real (an order *is* created or closed) and then
//! reset the connection, or never answer: the "outcome unknown" cases.

#![allow(dead_code)] // each test binary uses a different part of this

use std::collections::{HashMap, HashSet};
use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicI64, Ordering};
use std::sync::{Arc, Mutex, MutexGuard};
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

use aes_gcm::Aes256Gcm;
use aes_gcm::aead::{Aead, KeyInit, Nonce, Payload};
use base64::Engine as _;
use base64::engine::general_purpose::STANDARD as BASE64;
use rsa::pkcs1v15::{Signature, SigningKey, VerifyingKey};
use rsa::pkcs8::{DecodePrivateKey, DecodePublicKey};
use rsa::signature::{SignatureEncoding, Signer, Verifier};
use serde_json::{Map, Value, json};
use sha2::Sha256;
use tokio::io::{AsyncBufReadExt, AsyncReadExt, AsyncWriteExt, BufReader};
use tokio::net::{TcpListener, TcpStream};
use tokio::task::{JoinHandle, JoinSet};

/// The test merchant's identifiers (see `tests/fixtures/wechatpay/README.md`).
pub const MCHID: &str = "1230000109";
pub const APPID: &str = "wxd678efh567hg6787";
pub const MERCHANT_SERIAL: &str = "7D3A1F0E5C2B4A6978E1D0C3B2A1F0E9D8C7B6A5";
pub const PUBLIC_KEY_ID: &str = "PUB_KEY_ID_0114232000000000000000000000000001";
pub const PLATFORM_SERIAL: &str = "5E8A1C0FFEE0D15EA5E0000000000001";

/// The value of the `Wechatpay-Signature-Type` response header.
pub const SIGNATURE_TYPE: &str = "WECHATPAY2-SHA256-RSA2048";
/// The prefix of WeChat Pay's deliberately wrong probe signatures.
pub const SIGNTEST_PREFIX: &str = "WECHATPAY/SIGNTEST/";
/// The prefix of every Native `code_url`.
pub const CODE_URL_PREFIX: &str = "weixin://wxpay/bizpayurl?pr=";

/// Maximum accepted |request timestamp − simulator clock|, seconds.
const MAX_SKEW: i64 = 300;
/// How long a `code_url` can be paid after it was issued.
const CODE_URL_LIFETIME: i64 = 2 * 3600;
/// How far back [`Fault::StaleTimestamp`] dates the answer, seconds.
const STALE_BY: i64 = 600;
/// Beijing time, the offset WeChat Pay writes its times in.
const BEIJING: i64 = 8 * 3600;

/// Which WeChat Pay key the merchant verifies answers with.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Trust {
    /// "WeChat Pay public key" mode: answers carry `Wechatpay-Serial: PUB_KEY_ID_…`;
    /// `/v3/certificates` answers 404 `RESOURCE_NOT_EXISTS`.
    PublicKey,
    /// Platform-certificate mode: answers carry the certificate serial.
    Certificate,
    /// Migrating merchant: answers are signed with the public key when the request carries
    /// `Wechatpay-Serial: <public_key_id>`, else with the certificate.
    Both,
}

/// What the simulated merchant account looks like.
#[derive(Debug, Clone)]
pub struct SimConfig {
    pub mchid: String,
    pub appid: String,
    /// Serial of the merchant API certificate (`serial_no` in `Authorization`).
    pub merchant_serial: String,
    /// SPKI PEM of the merchant key: request signatures are checked with it.
    pub merchant_public_key_pem: String,
    pub trust: Trust,
    /// PKCS#8 PEM of the WeChat Pay key that signs answers (both modes use the same key,
    /// as the fixtures do).
    pub platform_private_key_pem: String,
    pub public_key_id: String,
    pub platform_cert_pem: String,
    pub platform_serial: String,
    /// The 32-byte APIv3 key.
    pub apiv3_key: Vec<u8>,
}

impl SimConfig {
    /// The test merchant, keys read from `tests/fixtures/wechatpay/` of this crate.
    pub fn from_fixtures(trust: Trust) -> SimConfig {
        Self::from_fixtures_in(trust, &default_fixture_dir())
    }

    /// The test merchant, keys read from `dir` (a copy of `tests/fixtures/wechatpay/`).
    pub fn from_fixtures_in(trust: Trust, dir: &Path) -> SimConfig {
        let read = |name: &str| {
            let path = dir.join(name);
            std::fs::read_to_string(&path)
                .unwrap_or_else(|e| panic!("cannot read fixture {}: {e}", path.display()))
        };
        SimConfig {
            mchid: MCHID.into(),
            appid: APPID.into(),
            merchant_serial: MERCHANT_SERIAL.into(),
            merchant_public_key_pem: read("merchant_pub.pem"),
            trust,
            platform_private_key_pem: read("platform_key.pem"),
            public_key_id: PUBLIC_KEY_ID.into(),
            platform_cert_pem: read("platform_cert.pem"),
            platform_serial: PLATFORM_SERIAL.into(),
            apiv3_key: read("apiv3_key.txt").trim().as_bytes().to_vec(),
        }
    }
}

/// `tests/fixtures/wechatpay` of the crate being tested.
pub fn default_fixture_dir() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/fixtures/wechatpay")
}

/// The API a call went to (faults are injected per endpoint).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Endpoint {
    Native,
    Query,
    Close,
    Certificates,
    /// Any call, including to unknown paths.
    Any,
}

/// Something going wrong on the way, injected with [`Simulator::inject`].
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Fault {
    /// Wait this long, then handle the call normally.
    Delay(Duration),
    /// Never answer; the connection stays open until the simulator is dropped.
    Timeout,
    /// Close the TCP connection (RST) without an answer; the call is not handled.
    Reset,
    /// Handle the call for real (a place creates the order), then reset the connection.
    LoseAnswer,
    /// Handle the call for real, then never answer.
    HangAfterHandling,
    /// 500 `SYSTEM_ERROR`.
    Status500,
    /// 502 from the gateway, with an HTML body.
    Status502,
    /// 202 "accepted, not processed: repeat the same request", empty signed body.
    Status202,
    /// 429 `FREQUENCY_LIMITED`.
    Status429,
    /// A genuine answer whose signature does not match it.
    BadSignature,
    /// A genuine answer, validly signed, dated [`STALE_BY`] seconds ago.
    StaleTimestamp,
    /// A genuine answer, validly signed, naming a serial the merchant does not know.
    WrongSerial,
    /// 200 with a validly signed body that is not JSON.
    MalformedJson,
    /// WeChat's probe: the signature starts with `WECHATPAY/SIGNTEST/`.
    SignTest,
    /// Any error answer, e.g. `400 PARAM_ERROR`, `403 NO_AUTH`, `404 ORDER_NOT_EXIST`
    /// (signed only if `status` is 2xx).
    Error {
        status: u16,
        code: String,
        message: String,
    },
}

impl Fault {
    /// `Fault::Error` shorthand.
    pub fn error(status: u16, code: &str, message: &str) -> Fault {
        Fault::Error {
            status,
            code: code.into(),
            message: message.into(),
        }
    }

    /// Faults that spoil the signature layer of a genuine answer computed on a scratch copy.
    fn spoils_signature(&self) -> bool {
        matches!(
            self,
            Fault::BadSignature
                | Fault::StaleTimestamp
                | Fault::WrongSerial
                | Fault::MalformedJson
                | Fault::SignTest
        )
    }
}

/// `trade_state` of an order.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum TradeState {
    NotPay,
    UserPaying,
    Success,
    Refund,
    Closed,
    Revoked,
    PayError,
}

impl TradeState {
    pub fn as_str(self) -> &'static str {
        match self {
            TradeState::NotPay => "NOTPAY",
            TradeState::UserPaying => "USERPAYING",
            TradeState::Success => "SUCCESS",
            TradeState::Refund => "REFUND",
            TradeState::Closed => "CLOSED",
            TradeState::Revoked => "REVOKED",
            TradeState::PayError => "PAYERROR",
        }
    }

    fn desc(self) -> &'static str {
        match self {
            TradeState::NotPay => "订单未支付",
            TradeState::UserPaying => "用户支付中",
            TradeState::Success => "支付成功",
            TradeState::Refund => "订单发生过退款",
            TradeState::Closed => "订单已关闭",
            TradeState::Revoked => "订单已撤销",
            TradeState::PayError => "支付失败，请重新下单支付",
        }
    }

    /// NOTPAY or USERPAYING: can still be paid, closed or re-entered.
    fn is_open(self) -> bool {
        matches!(self, TradeState::NotPay | TradeState::UserPaying)
    }

    fn was_paid(self) -> bool {
        matches!(self, TradeState::Success | TradeState::Refund)
    }
}

/// How a simulated order was paid.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SimPayment {
    /// 28 digits.
    pub transaction_id: String,
    /// RFC 3339, `+08:00`.
    pub success_time: String,
    pub openid: String,
    pub payer_total: i64,
}

/// One order as the simulated WeChat Pay keeps it.
#[derive(Debug, Clone)]
pub struct SimOrder {
    pub out_trade_no: String,
    pub state: TradeState,
    /// The only `code_url` that can still be paid.
    pub code_url: String,
    /// Earlier `code_url`s, killed by re-entries, oldest first.
    pub dead_code_urls: Vec<String>,
    /// The raw body of the first placement.
    pub body: String,
    /// Successful placements (the first one and identical re-entries).
    pub placed: usize,
    pub description: String,
    pub total: i64,
    pub attach: Option<String>,
    /// `time_expire` as sent, if any.
    pub time_expire: Option<String>,
    /// When the order stops being payable (after raising/clamping `time_expire`; 7 days
    /// when none was sent). Simulator clock.
    pub expires_at: SystemTime,
    /// Simulator clock.
    pub created_at: SystemTime,
    /// When the current `code_url` was issued. Simulator clock.
    pub code_url_issued_at: SystemTime,
    /// First successful close. Simulator clock.
    pub closed_at: Option<SystemTime>,
    pub payment: Option<SimPayment>,
}

/// One call the simulator received.
#[derive(Debug, Clone)]
pub struct RequestLog {
    pub method: String,
    /// The request target as sent: path and query.
    pub path: String,
    /// `None` for unknown paths.
    pub endpoint: Option<Endpoint>,
    /// `None` when no answer was sent (`Timeout`, `Reset`, `LoseAnswer`, `HangAfterHandling`).
    pub status: Option<u16>,
    /// The `code` of a JSON error answer (also when it was computed but not sent).
    pub error_code: Option<String>,
    pub fault: Option<Fault>,
    /// Arrival, simulator clock.
    pub at: SystemTime,
    /// Arrival, monotonic.
    pub instant: Instant,
    /// All request headers, names lower-cased, in order.
    pub headers: Vec<(String, String)>,
    pub body: String,
    /// The answer's body (also when it was computed but not sent).
    pub response_body: String,
    pub request_id: String,
}

impl RequestLog {
    /// The first header of that name (case-insensitive).
    pub fn header(&self, name: &str) -> Option<&str> {
        header(&self.headers, name)
    }

    pub fn authorization(&self) -> Option<&str> {
        self.header("authorization")
    }

    pub fn wechatpay_serial(&self) -> Option<&str> {
        self.header("wechatpay-serial")
    }

    pub fn user_agent(&self) -> Option<&str> {
        self.header("user-agent")
    }

    /// Whether the call was answered with a 2xx.
    pub fn succeeded(&self) -> bool {
        matches!(self.status, Some(200..=299))
    }
}

/// A running simulator. Dropping it stops it and drops its connections.
pub struct Simulator {
    /// `http://127.0.0.1:<port>`, to use as wxprint's `api_base`.
    pub base_url: String,
    pub addr: SocketAddr,
    inner: Arc<Inner>,
    accept: JoinHandle<()>,
}

impl Drop for Simulator {
    fn drop(&mut self) {
        self.accept.abort();
    }
}

impl Simulator {
    /// Start on `127.0.0.1:<free port>`. Panics if a key cannot be parsed or binding fails.
    pub async fn start(config: SimConfig) -> Simulator {
        let merchant_key = rsa::PublicKey::from_public_key_pem(&config.merchant_public_key_pem)
            .expect("merchant public key (SPKI PEM)");
        let platform_key = rsa::PrivateKey::from_pkcs8_pem(&config.platform_private_key_pem)
            .expect("platform private key (PKCS#8 PEM)");
        let validity = cert_validity(&config.platform_cert_pem);
        let listener = TcpListener::bind("127.0.0.1:0")
            .await
            .expect("bind 127.0.0.1:0");
        let inner = Arc::new(Inner {
            config,
            merchant_key: VerifyingKey::new(merchant_key),
            platform_key: SigningKey::new(platform_key),
            cert_validity: validity,
            clock_offset: AtomicI64::new(0),
            state: Mutex::new(State::default()),
        });
        Self::listen(listener, inner)
    }

    /// A second host of the same service (like `api2.mch.weixin.qq.com`): another port
    /// sharing orders, nonces, faults, log and clock. Dropping either stops only its port.
    pub async fn second_host(&self) -> Simulator {
        let listener = TcpListener::bind("127.0.0.1:0")
            .await
            .expect("bind 127.0.0.1:0");
        Self::listen(listener, self.inner.clone())
    }

    fn listen(listener: TcpListener, inner: Arc<Inner>) -> Simulator {
        let addr = listener.local_addr().expect("local address");
        let accept = tokio::spawn(accept_loop(listener, inner.clone()));
        Simulator {
            base_url: format!("http://{addr}"),
            addr,
            inner,
            accept,
        }
    }

    pub fn config(&self) -> &SimConfig {
        &self.inner.config
    }

    /// The payer pays the order: NOTPAY/USERPAYING → SUCCESS. False if the order is unknown,
    /// not open, or past its `time_expire`.
    /// From now on, query answers spoiled by a signature fault claim the order is paid
    /// (SUCCESS) even when it is not: a forgery the client must not believe.
    pub fn forge_spoiled_answers_as_paid(&self, on: bool) {
        self.inner.lock().forge_paid = on;
    }

    pub fn pay(&self, out_trade_no: &str) -> bool {
        let now = self.inner.now();
        let mut state = self.inner.lock();
        match state.orders.get_mut(out_trade_no) {
            Some(order) => pay_order(order, now),
            None => false,
        }
    }

    /// The payer scans this QR content and pays: only an order's current `code_url`, less
    /// than 2 hours old, works. Returns the order number paid.
    pub fn pay_code_url(&self, code_url: &str) -> Option<String> {
        let now = self.inner.now();
        let mut state = self.inner.lock();
        let order = state.orders.values_mut().find(|o| o.code_url == code_url)?;
        let age = secs_between(order.code_url_issued_at, now);
        if age > CODE_URL_LIFETIME || !pay_order(order, now) {
            return None;
        }
        Some(order.out_trade_no.clone())
    }

    /// NOTPAY → USERPAYING (the payer is confirming). A later [`Simulator::pay`] → SUCCESS.
    pub fn set_user_paying(&self, out_trade_no: &str) -> bool {
        self.transition(out_trade_no, |o, _| {
            if o.state != TradeState::NotPay {
                return false;
            }
            o.state = TradeState::UserPaying;
            true
        })
    }

    /// The payer gave up or the payment failed: USERPAYING → NOTPAY (WeChat keeps a failed
    /// attempt NOTPAY).
    pub fn fail_payment(&self, out_trade_no: &str) -> bool {
        self.transition(out_trade_no, |o, _| {
            if !o.state.is_open() {
                return false;
            }
            o.state = TradeState::NotPay;
            true
        })
    }

    /// WeChat closes the order by itself (e.g. its 7-day auto-close).
    pub fn close_remotely(&self, out_trade_no: &str) -> bool {
        self.transition(out_trade_no, |o, now| {
            if !o.state.is_open() {
                return false;
            }
            o.state = TradeState::Closed;
            o.closed_at.get_or_insert(now);
            true
        })
    }

    /// A refund is initiated: SUCCESS → REFUND.
    pub fn refund(&self, out_trade_no: &str) -> bool {
        self.transition(out_trade_no, |o, _| {
            if o.state != TradeState::Success {
                return false;
            }
            o.state = TradeState::Refund;
            true
        })
    }

    /// Force any state (e.g. PAYERROR, REVOKED). False if the order is unknown.
    pub fn set_trade_state(&self, out_trade_no: &str, state: TradeState) -> bool {
        self.transition(out_trade_no, |o, _| {
            o.state = state;
            true
        })
    }

    pub fn order(&self, out_trade_no: &str) -> Option<SimOrder> {
        self.inner.lock().orders.get(out_trade_no).cloned()
    }

    /// All orders, oldest first.
    pub fn orders(&self) -> Vec<SimOrder> {
        let mut orders: Vec<SimOrder> = self.inner.lock().orders.values().cloned().collect();
        orders.sort_by_key(|o| o.created_at);
        orders
    }

    /// The next `times` calls to `endpoint` get `fault` (faults queue up in order).
    pub fn inject(&self, endpoint: Endpoint, fault: Fault, times: usize) {
        if times > 0 {
            self.inner.lock().faults.push(Injected {
                endpoint,
                fault,
                remaining: times,
            });
        }
    }

    /// Forget the faults not yet used.
    pub fn clear_faults(&self) {
        self.inner.lock().faults.clear();
    }

    /// Every call received so far, in arrival order.
    pub fn requests(&self) -> Vec<RequestLog> {
        self.inner.lock().log.clone()
    }

    /// The calls received for one endpoint.
    pub fn requests_to(&self, endpoint: Endpoint) -> Vec<RequestLog> {
        self.inner
            .lock()
            .log
            .iter()
            .filter(|r| endpoint == Endpoint::Any || r.endpoint == Some(endpoint))
            .cloned()
            .collect()
    }

    /// Shift the simulator's clock (answers' `Wechatpay-Timestamp`, the ±300 s request
    /// check, order times and expiry) by `secs` from the system clock.
    pub fn set_clock_offset(&self, secs: i64) {
        self.inner.clock_offset.store(secs, Ordering::SeqCst);
    }

    /// The simulator's "now".
    pub fn now(&self) -> SystemTime {
        self.inner.now()
    }

    fn transition(&self, no: &str, f: impl FnOnce(&mut SimOrder, SystemTime) -> bool) -> bool {
        let now = self.inner.now();
        let mut state = self.inner.lock();
        state.orders.get_mut(no).is_some_and(|o| f(o, now))
    }
}

fn pay_order(order: &mut SimOrder, now: SystemTime) -> bool {
    if !order.state.is_open() || now >= order.expires_at {
        return false;
    }
    let secs = unix(now);
    order.state = TradeState::Success;
    order.payment = Some(SimPayment {
        transaction_id: format!(
            "42000{}{}{}",
            digits(5),
            &rfc3339_beijing(secs)[..10].replace('-', ""),
            digits(10)
        ),
        success_time: rfc3339_beijing(secs),
        openid: format!("oUpF8u{}", random_alnum(22)),
        payer_total: order.total,
    });
    true
}

// ---------------------------------------------------------------------------------------
// Shared state

struct Inner {
    config: SimConfig,
    merchant_key: VerifyingKey<Sha256>,
    platform_key: SigningKey<Sha256>,
    /// Unix seconds `(not_before, not_after)` of the platform certificate.
    cert_validity: Option<(i64, i64)>,
    clock_offset: AtomicI64,
    state: Mutex<State>,
}

#[derive(Default)]
struct State {
    nonces: HashSet<String>,
    orders: HashMap<String, SimOrder>,
    /// Signature-spoiled query answers claim SUCCESS (a forgery a client must refuse).
    forge_paid: bool,
    faults: Vec<Injected>,
    log: Vec<RequestLog>,
}

struct Injected {
    endpoint: Endpoint,
    fault: Fault,
    remaining: usize,
}

impl Inner {
    fn lock(&self) -> MutexGuard<'_, State> {
        // A panicking test thread must not hide the state from the others.
        self.state.lock().unwrap_or_else(|e| e.into_inner())
    }

    fn now(&self) -> SystemTime {
        let offset = self.clock_offset.load(Ordering::SeqCst);
        let now = SystemTime::now();
        if offset >= 0 {
            now + Duration::from_secs(offset.unsigned_abs())
        } else {
            now - Duration::from_secs(offset.unsigned_abs())
        }
    }

    /// Take the fault for this call, if one is queued, and log the call's arrival.
    fn arrive(&self, req: &HttpRequest, endpoint: Option<Endpoint>) -> (Option<Fault>, usize) {
        let mut state = self.lock();
        let fault = state
            .faults
            .iter_mut()
            .find(|f| f.endpoint == Endpoint::Any || Some(f.endpoint) == endpoint)
            .map(|f| {
                f.remaining -= 1;
                f.fault.clone()
            });
        state.faults.retain(|f| f.remaining > 0);
        state.log.push(RequestLog {
            method: req.method.clone(),
            path: req.target.clone(),
            endpoint,
            status: None,
            error_code: None,
            fault: fault.clone(),
            at: self.now(),
            instant: Instant::now(),
            headers: req.headers.clone(),
            body: String::from_utf8_lossy(&req.body).into_owned(),
            response_body: String::new(),
            request_id: String::new(),
        });
        (fault, state.log.len() - 1)
    }

    /// Record the answer computed for a call; `sent` is false when the client never gets it.
    fn log_answer(&self, index: usize, reply: Option<&Reply>, sent: bool, request_id: &str) {
        let mut state = self.lock();
        let entry = &mut state.log[index];
        entry.request_id = request_id.to_owned();
        if let Some(reply) = reply {
            entry.status = sent.then_some(reply.status);
            entry.response_body = String::from_utf8_lossy(&reply.body).into_owned();
            entry.error_code = reply.error_code.clone();
        }
    }
}

// ---------------------------------------------------------------------------------------
// One call

/// A parsed HTTP/1.1 request.
struct HttpRequest {
    method: String,
    /// Path and query, exactly as sent.
    target: String,
    headers: Vec<(String, String)>,
    body: Vec<u8>,
    /// The client asked to close the connection after this exchange.
    close: bool,
}

/// An answer before it is framed.
#[derive(Clone)]
struct Reply {
    status: u16,
    content_type: &'static str,
    body: Vec<u8>,
    /// `code` of a JSON error body.
    error_code: Option<String>,
    /// Extra response headers (the `Wechatpay-*` ones once signed).
    headers: Vec<(String, String)>,
}

impl Reply {
    fn json(status: u16, body: &Value) -> Reply {
        Reply {
            status,
            content_type: "application/json; charset=utf-8",
            body: body.to_string().into_bytes(),
            error_code: None,
            headers: Vec::new(),
        }
    }

    fn empty(status: u16) -> Reply {
        Reply {
            status,
            content_type: "",
            body: Vec::new(),
            error_code: None,
            headers: Vec::new(),
        }
    }

    fn error(status: u16, code: &str, message: &str) -> Reply {
        Self::error_with(status, code, message, None)
    }

    fn error_with(status: u16, code: &str, message: &str, detail: Option<Value>) -> Reply {
        let mut body = json!({ "code": code, "message": message });
        if let Some(detail) = detail {
            body["detail"] = detail;
        }
        Reply {
            error_code: Some(code.to_owned()),
            ..Self::json(status, &body)
        }
    }

    /// 400 PARAM_ERROR about one body field, in WeChat's `detail` shape.
    fn param(field: &str, issue: &str) -> Reply {
        Self::error_with(
            400,
            "PARAM_ERROR",
            &format!("输入源“/body{field}”{issue}"),
            Some(json!({ "location": "body", "field": field, "issue": issue })),
        )
    }

    fn is_2xx(&self) -> bool {
        (200..300).contains(&self.status)
    }
}

/// What the connection does with a call.
enum Answer {
    Respond(Reply),
    Reset,
    Hang,
}

/// The route of a request.
enum Route {
    Native,
    Query { no: String, query: String },
    Close { no: String },
    Certificates,
    MethodNotAllowed,
    NotFound,
}

impl Route {
    fn of(method: &str, target: &str) -> Route {
        let (path, query) = target.split_once('?').unwrap_or((target, ""));
        const ORDER: &str = "/v3/pay/transactions/out-trade-no/";
        let expect = |m: &str, route: Route| {
            if method == m {
                route
            } else {
                Route::MethodNotAllowed
            }
        };
        if path == "/v3/pay/transactions/native" {
            expect("POST", Route::Native)
        } else if path == "/v3/certificates" {
            expect("GET", Route::Certificates)
        } else if let Some(rest) = path.strip_prefix(ORDER) {
            match rest.strip_suffix("/close") {
                Some(no) if !no.is_empty() && !no.contains('/') => expect(
                    "POST",
                    Route::Close {
                        no: percent_decode(no),
                    },
                ),
                None if !rest.is_empty() && !rest.contains('/') => expect(
                    "GET",
                    Route::Query {
                        no: percent_decode(rest),
                        query: query.to_owned(),
                    },
                ),
                _ => Route::NotFound,
            }
        } else {
            Route::NotFound
        }
    }

    fn endpoint(&self) -> Option<Endpoint> {
        match self {
            Route::Native => Some(Endpoint::Native),
            Route::Query { .. } => Some(Endpoint::Query),
            Route::Close { .. } => Some(Endpoint::Close),
            Route::Certificates => Some(Endpoint::Certificates),
            Route::MethodNotAllowed | Route::NotFound => None,
        }
    }
}

impl Inner {
    /// Everything the simulator does with one request.
    async fn dispatch(&self, req: &HttpRequest) -> (Answer, String) {
        let route = Route::of(&req.method, &req.target);
        let (fault, index) = self.arrive(req, route.endpoint());
        let request_id = request_id();
        let reply = match &fault {
            Some(Fault::Timeout) => {
                self.log_answer(index, None, false, &request_id);
                return (Answer::Hang, request_id);
            }
            Some(Fault::Reset) => {
                self.log_answer(index, None, false, &request_id);
                return (Answer::Reset, request_id);
            }
            Some(Fault::Status500) => Reply::error(500, "SYSTEM_ERROR", "系统错误"),
            Some(Fault::Status502) => Reply {
                content_type: "text/html",
                ..Reply::empty(502)
            }
            .with_body(
                b"<html>\r\n<head><title>502 Bad Gateway</title></head>\r\n<body>\r\n<center><h1>502 Bad Gateway</h1></center>\r\n<hr><center>stgw</center>\r\n</body>\r\n</html>\r\n",
            ),
            Some(Fault::Status202) => self.signed(Reply::empty(202), req, None),
            Some(Fault::Status429) => Reply::error(429, "FREQUENCY_LIMITED", "频率超限"),
            Some(Fault::Error {
                status,
                code,
                message,
            }) => {
                let reply = Reply::error(*status, code, message);
                if reply.is_2xx() {
                    self.signed(reply, req, None)
                } else {
                    reply
                }
            }
            other => {
                if let Some(Fault::Delay(d)) = other {
                    tokio::time::sleep(*d).await;
                }
                let dry_run = other.as_ref().is_some_and(Fault::spoils_signature);
                let reply = self.handle(req, &route, dry_run);
                if reply.is_2xx() {
                    self.signed(reply, req, other.as_ref())
                } else {
                    reply
                }
            }
        };
        let sent = !matches!(fault, Some(Fault::LoseAnswer | Fault::HangAfterHandling));
        self.log_answer(index, Some(&reply), sent, &request_id);
        let answer = match fault {
            Some(Fault::LoseAnswer) => Answer::Reset,
            Some(Fault::HangAfterHandling) => Answer::Hang,
            _ => Answer::Respond(reply),
        };
        (answer, request_id)
    }

    /// Check the request, then serve it (on a scratch copy of the orders if `dry_run`).
    fn handle(&self, req: &HttpRequest, route: &Route, dry_run: bool) -> Reply {
        match route {
            Route::NotFound => return Reply::error(404, "NOT_FOUND", "请求的资源不存在"),
            Route::MethodNotAllowed => {
                return Reply::error(405, "METHOD_NOT_ALLOWED", "请求方法不被允许");
            }
            _ => {}
        }
        if let Err(reply) = check_headers(req) {
            return reply;
        }
        let now = self.now();
        let mut state = self.lock();
        if let Err(reply) = self.authenticate(req, &mut state.nonces, now) {
            return reply;
        }
        let mut scratch;
        let orders = if dry_run {
            scratch = state.orders.clone();
            if let (true, Route::Query { no, .. }) = (state.forge_paid, route)
                && let Some(order) = scratch.get_mut(no.as_str())
            {
                pay_order(order, now);
            }
            &mut scratch
        } else {
            &mut state.orders
        };
        match route {
            Route::Native => self.native(req, orders, now),
            Route::Query { no, query } => self.query(no, query, orders),
            Route::Close { no } => self.close(no, req, orders, now),
            Route::Certificates => self.certificates(),
            Route::MethodNotAllowed | Route::NotFound => unreachable!("answered above"),
        }
    }

    /// Verify `Authorization`.
    fn authenticate(
        &self,
        req: &HttpRequest,
        nonces: &mut HashSet<String>,
        now: SystemTime,
    ) -> Result<(), Reply> {
        let sign_error = |message: &str| Reply::error(401, "SIGN_ERROR", message);
        let format_error =
            || sign_error("Http头Authorization值格式错误，请参考《微信支付商户REST API签名规则》");
        let value = header(&req.headers, "authorization").ok_or_else(format_error)?;
        let params = value
            .strip_prefix("WECHATPAY2-SHA256-RSA2048 ")
            .ok_or_else(format_error)?;
        let mut attrs: HashMap<&str, &str> = HashMap::new();
        for pair in params.split(',') {
            let (key, quoted) = pair.trim().split_once('=').ok_or_else(format_error)?;
            let value = quoted
                .strip_prefix('"')
                .and_then(|v| v.strip_suffix('"'))
                .ok_or_else(format_error)?;
            if attrs.insert(key, value).is_some() {
                return Err(format_error());
            }
        }
        let get = |key: &str| attrs.get(key).copied().ok_or_else(format_error);
        let (mchid, nonce, timestamp, serial, signature) = (
            get("mchid")?,
            get("nonce_str")?,
            get("timestamp")?,
            get("serial_no")?,
            get("signature")?,
        );
        if mchid != self.config.mchid {
            return Err(sign_error("商户号不存在或与证书不匹配"));
        }
        if serial != self.config.merchant_serial {
            return Err(sign_error(
                "商户证书序列号有误。请使用签名私钥匹配的证书序列号",
            ));
        }
        let ts: i64 = match timestamp.parse() {
            Ok(ts) if !timestamp.starts_with('+') => ts,
            _ => return Err(format_error()),
        };
        if (ts - unix(now)).abs() > MAX_SKEW {
            return Err(sign_error(
                "Http头Authorization中的timestamp与系统时间相差超过5分钟",
            ));
        }
        if nonce.is_empty() {
            return Err(format_error());
        }
        let mut message = format!("{}\n{}\n{ts}\n{nonce}\n", req.method, req.target).into_bytes();
        message.extend_from_slice(&req.body);
        message.push(b'\n');
        let verified = BASE64
            .decode(signature)
            .ok()
            .and_then(|bytes| Signature::try_from(bytes.as_slice()).ok())
            .is_some_and(|sig| self.merchant_key.verify(&message, &sig).is_ok());
        if !verified {
            let shown: String = String::from_utf8_lossy(&message)
                .chars()
                .take(128)
                .collect();
            return Err(Reply::error_with(
                401,
                "SIGN_ERROR",
                "签名错误，请检查后再试",
                Some(json!({
                    "detail": { "issue": "sign not match" },
                    "field": "signature",
                    "location": "authorization",
                    "sign_information": {
                        "method": req.method,
                        "sign_message_length": message.len(),
                        "truncated_sign_message": shown,
                        "url": req.target,
                    }
                })),
            ));
        }
        if !nonces.insert(nonce.to_owned()) {
            return Err(sign_error(
                "Http头Authorization中的nonce_str重复，请勿重放请求",
            ));
        }
        Ok(())
    }

    /// `POST /v3/pay/transactions/native`.
    fn native(
        &self,
        req: &HttpRequest,
        orders: &mut HashMap<String, SimOrder>,
        now: SystemTime,
    ) -> Reply {
        let form = match self.native_form(&req.body, now) {
            Ok(form) => form,
            Err(reply) => return reply,
        };
        let body = String::from_utf8_lossy(&req.body).into_owned();
        if let Some(order) = orders.get_mut(&form.out_trade_no) {
            if order.state.was_paid() {
                return Reply::error(400, "ORDERPAID", "该订单已支付");
            }
            if !order.state.is_open() {
                return Reply::error(400, "ORDER_CLOSED", "订单已关闭");
            }
            if order.body != body {
                return Reply::error(400, "INVALID_REQUEST", "请求重入时，参数与首次请求时不一致");
            }
            if now >= order.expires_at {
                return Reply::error(400, "INVALID_REQUEST", "订单已过期");
            }
            let fresh = new_code_url();
            let old = std::mem::replace(&mut order.code_url, fresh);
            order.dead_code_urls.push(old);
            order.code_url_issued_at = now;
            order.placed += 1;
            return Reply::json(200, &json!({ "code_url": order.code_url }));
        }
        let order = SimOrder {
            out_trade_no: form.out_trade_no.clone(),
            state: TradeState::NotPay,
            code_url: new_code_url(),
            dead_code_urls: Vec::new(),
            body,
            placed: 1,
            description: form.description,
            total: form.total,
            attach: form.attach,
            time_expire: form.time_expire,
            expires_at: form.expires_at,
            created_at: now,
            code_url_issued_at: now,
            closed_at: None,
            payment: None,
        };
        let reply = Reply::json(200, &json!({ "code_url": order.code_url }));
        orders.insert(form.out_trade_no, order);
        reply
    }

    /// Validate a Native place body the way WeChat Pay's gateway does.
    fn native_form(&self, raw: &[u8], now: SystemTime) -> Result<NativeForm, Reply> {
        let value: Value = serde_json::from_slice(raw)
            .map_err(|e| Reply::error(400, "PARAM_ERROR", &format!("请求体JSON格式错误: {e}")))?;
        let Value::Object(body) = value else {
            return Err(Reply::error(400, "PARAM_ERROR", "请求体必须是JSON对象"));
        };
        reject_nulls("", &Value::Object(body.clone()))?;
        const KNOWN: [&str; 13] = [
            "appid",
            "mchid",
            "description",
            "out_trade_no",
            "time_expire",
            "attach",
            "notify_url",
            "goods_tag",
            "support_fapiao",
            "amount",
            "detail",
            "scene_info",
            "settle_info",
        ];
        reject_unknown("", &body, &KNOWN)?;

        let appid = string_field(&body, "appid", true, 1, 32)?.unwrap_or_default();
        let mchid = string_field(&body, "mchid", true, 1, 32)?.unwrap_or_default();
        let description = string_field(&body, "description", true, 1, 127)?.unwrap_or_default();
        let out_trade_no = string_field(&body, "out_trade_no", true, 6, 32)?.unwrap_or_default();
        let time_expire = string_field(&body, "time_expire", false, 1, 64)?;
        let attach = string_field(&body, "attach", false, 1, 128)?;
        let notify_url = string_field(&body, "notify_url", true, 1, 255)?.unwrap_or_default();
        let _goods_tag = string_field(&body, "goods_tag", false, 1, 32)?;
        if body.get("support_fapiao").is_some_and(|v| !v.is_boolean()) {
            return Err(Reply::param("/support_fapiao", "类型错误，应为布尔值"));
        }
        for object in ["detail", "scene_info", "settle_info"] {
            if body.get(object).is_some_and(|v| !v.is_object()) {
                return Err(Reply::param(&format!("/{object}"), "类型错误，应为对象"));
            }
        }

        if !out_trade_no
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || "_-|*".contains(c))
        {
            return Err(Reply::param(
                "/out_trade_no",
                "格式错误，只能是数字、大小写字母_-|*",
            ));
        }
        if !notify_url.starts_with("https://")
            || notify_url.len() <= "https://".len()
            || notify_url.contains(['?', '#', ' '])
        {
            return Err(Reply::param(
                "/notify_url",
                "格式错误，须为https地址且不能携带参数",
            ));
        }
        let (total, _currency) = amount_field(&body)?;
        let expires_at = match &time_expire {
            Some(text) => {
                let at = parse_rfc3339(text).ok_or_else(|| {
                    Reply::param("/time_expire", "格式错误，应为yyyy-MM-DDTHH:mm:ss+TIMEZONE")
                })?;
                // WeChat silently raises a deadline under a minute away and lowers one past
                // 90 days.
                at.clamp(unix(now) + 60, unix(now) + 90 * 86_400)
            }
            None => unix(now) + 7 * 86_400,
        };

        if mchid != self.config.mchid {
            return Err(Reply::error_with(
                400,
                "PARAM_ERROR",
                "mchid不匹配",
                Some(json!({ "location": "body", "field": "/mchid" })),
            ));
        }
        if appid != self.config.appid {
            return Err(Reply::error(
                400,
                "APPID_MCHID_NOT_MATCH",
                "appid和mchid不匹配",
            ));
        }
        Ok(NativeForm {
            out_trade_no,
            description,
            total,
            attach,
            time_expire,
            expires_at: UNIX_EPOCH + Duration::from_secs(expires_at.max(0).unsigned_abs()),
        })
    }

    /// `GET /v3/pay/transactions/out-trade-no/{no}?mchid=…`.
    fn query(&self, no: &str, query: &str, orders: &HashMap<String, SimOrder>) -> Reply {
        let mchid = query.split('&').find_map(|kv| {
            let (k, v) = kv.split_once('=')?;
            (k == "mchid").then(|| percent_decode(v))
        });
        match mchid {
            None => {
                return Reply::error_with(
                    400,
                    "PARAM_ERROR",
                    "输入源“/query/mchid”映射到值字段“直连商户号”必填性规则校验失败，此字段为必填项",
                    Some(json!({ "location": "query", "field": "mchid" })),
                );
            }
            Some(m) if m != self.config.mchid => {
                return Reply::error(400, "PARAM_ERROR", "mchid不匹配");
            }
            Some(_) => {}
        }
        let Some(order) = orders.get(no) else {
            return Reply::error(404, "ORDER_NOT_EXIST", "订单不存在");
        };
        let mut body = json!({
            "appid": self.config.appid,
            "mchid": self.config.mchid,
            "out_trade_no": order.out_trade_no,
            "trade_state": order.state.as_str(),
            "trade_state_desc": order.state.desc(),
            "amount": { "total": order.total, "payer_currency": "CNY" },
            "promotion_detail": [],
            "scene_info": { "device_id": "" },
        });
        if let Some(payment) = &order.payment {
            let extra = json!({
                "trade_type": "NATIVE",
                "transaction_id": payment.transaction_id,
                "success_time": payment.success_time,
                "bank_type": "OTHERS",
                "payer": { "openid": payment.openid },
                "amount": {
                    "total": order.total,
                    "payer_total": payment.payer_total,
                    "currency": "CNY",
                    "payer_currency": "CNY",
                },
                "attach": order.attach.clone().unwrap_or_default(),
            });
            if let (Value::Object(body), Value::Object(extra)) = (&mut body, extra) {
                body.extend(extra);
            }
        }
        Reply::json(200, &body)
    }

    /// `POST /v3/pay/transactions/out-trade-no/{no}/close`.
    fn close(
        &self,
        no: &str,
        req: &HttpRequest,
        orders: &mut HashMap<String, SimOrder>,
        now: SystemTime,
    ) -> Reply {
        let body: Value = match serde_json::from_slice(&req.body) {
            Ok(Value::Object(map)) => Value::Object(map),
            _ => return Reply::error(400, "PARAM_ERROR", "请求体JSON格式错误"),
        };
        if let Err(reply) = reject_nulls("", &body) {
            return reply;
        }
        let Value::Object(map) = &body else {
            unreachable!("matched above")
        };
        if let Err(reply) = reject_unknown("", map, &["mchid"]) {
            return reply;
        }
        match map.get("mchid") {
            Some(Value::String(m)) if *m == self.config.mchid => {}
            Some(Value::String(_)) => return Reply::error(400, "PARAM_ERROR", "mchid不匹配"),
            _ => return Reply::param("/mchid", "必填性规则校验失败，此字段为必填项"),
        }
        let Some(order) = orders.get_mut(no) else {
            return Reply::error(404, "ORDER_NOT_EXIST", "订单不存在");
        };
        if order.state.was_paid() {
            return Reply::error(400, "ORDERPAID", "订单已支付");
        }
        order.state = match order.state {
            TradeState::Revoked => TradeState::Revoked,
            _ => TradeState::Closed,
        };
        order.closed_at.get_or_insert(now);
        Reply::empty(204)
    }

    /// `GET /v3/certificates`.
    fn certificates(&self) -> Reply {
        if self.config.trust == Trust::PublicKey {
            return Reply::error(
                404,
                "RESOURCE_NOT_EXISTS",
                "无可用的平台证书，请在商户平台-API安全申请使用微信支付公钥。可查看指引https://pay.weixin.qq.com/doc/v3/merchant/4012153196",
            );
        }
        let nonce = random_alnum(12);
        let aad = "certificate";
        let cipher = Aes256Gcm::new_from_slice(&self.config.apiv3_key)
            .expect("the APIv3 key must be 32 bytes");
        let nonce_array = Nonce::<Aes256Gcm>::try_from(nonce.as_bytes()).expect("12-byte nonce");
        let ciphertext = cipher
            .encrypt(
                &nonce_array,
                Payload {
                    msg: self.config.platform_cert_pem.as_bytes(),
                    aad: aad.as_bytes(),
                },
            )
            .expect("AES-256-GCM encryption");
        let now = unix(SystemTime::now());
        let (not_before, not_after) = self
            .cert_validity
            .unwrap_or((now - 86_400, now + 5 * 365 * 86_400));
        Reply::json(
            200,
            &json!({
                "data": [{
                    "serial_no": self.config.platform_serial,
                    "effective_time": rfc3339_beijing(not_before),
                    "expire_time": rfc3339_beijing(not_after),
                    "encrypt_certificate": {
                        "algorithm": "AEAD_AES_256_GCM",
                        "nonce": nonce,
                        "associated_data": aad,
                        "ciphertext": BASE64.encode(ciphertext),
                    }
                }]
            }),
        )
    }

    /// Add the `Wechatpay-*` headers to a 2xx answer, spoiled as `fault` says.
    fn signed(&self, mut reply: Reply, req: &HttpRequest, fault: Option<&Fault>) -> Reply {
        if fault == Some(&Fault::MalformedJson) {
            let cut = reply.body.len() / 2;
            let mut body = reply.body[..cut].to_vec();
            body.extend_from_slice(b"<!-- upstream truncated -->");
            reply.status = 200;
            reply.content_type = "application/json; charset=utf-8";
            reply.body = body;
        }
        let public_key = match self.config.trust {
            Trust::PublicKey => true,
            Trust::Certificate => false,
            Trust::Both => {
                header(&req.headers, "wechatpay-serial") == Some(self.config.public_key_id.as_str())
            }
        };
        let serial = match (public_key, fault == Some(&Fault::WrongSerial)) {
            (true, false) => self.config.public_key_id.clone(),
            (false, false) => self.config.platform_serial.clone(),
            (true, true) => "PUB_KEY_ID_0114232000000000000000000000009999".to_owned(),
            (false, true) => "5E8A1C0FFEE0D15EA5E0000000009999".to_owned(),
        };
        let mut ts = unix(self.now());
        if fault == Some(&Fault::StaleTimestamp) {
            ts -= STALE_BY;
        }
        let nonce = random_alnum(32);
        let mut message = format!("{ts}\n{nonce}\n").into_bytes();
        message.extend_from_slice(&reply.body);
        message.push(b'\n');
        if fault == Some(&Fault::BadSignature) {
            // A genuine signature, but of another message.
            message.extend_from_slice(b"tampered");
        }
        let mut signature = BASE64.encode(self.platform_key.sign(&message).to_bytes());
        if fault == Some(&Fault::SignTest) {
            signature = format!("{SIGNTEST_PREFIX}{signature}");
        }
        reply.headers.extend([
            ("Wechatpay-Nonce".to_owned(), nonce),
            ("Wechatpay-Signature".to_owned(), signature),
            ("Wechatpay-Timestamp".to_owned(), ts.to_string()),
            ("Wechatpay-Serial".to_owned(), serial),
            (
                "Wechatpay-Signature-Type".to_owned(),
                SIGNATURE_TYPE.to_owned(),
            ),
        ]);
        reply
    }
}

impl Reply {
    fn with_body(mut self, body: &[u8]) -> Reply {
        self.body = body.to_vec();
        self
    }
}

/// A validated Native place body.
struct NativeForm {
    out_trade_no: String,
    description: String,
    total: i64,
    attach: Option<String>,
    time_expire: Option<String>,
    expires_at: SystemTime,
}

/// `Accept`, `User-Agent` and (with a body) `Content-Type`.
fn check_headers(req: &HttpRequest) -> Result<(), Reply> {
    let invalid = |message: &str| Reply::error(400, "INVALID_REQUEST", message);
    if !header(&req.headers, "accept").is_some_and(|a| a.contains("application/json")) {
        return Err(invalid("Http头Accept错误，应为application/json"));
    }
    if header(&req.headers, "user-agent").is_none_or(|ua| ua.trim().is_empty()) {
        return Err(invalid("Http头缺少User-Agent"));
    }
    let json_body = header(&req.headers, "content-type").is_some_and(|ct| {
        ct.trim()
            .to_ascii_lowercase()
            .starts_with("application/json")
    });
    if req.method == "POST" && !json_body {
        return Err(invalid("Http头Content-Type错误，应为application/json"));
    }
    Ok(())
}

/// `null` anywhere → PARAM_ERROR.
fn reject_nulls(path: &str, value: &Value) -> Result<(), Reply> {
    match value {
        Value::Null => Err(Reply::param(path, "的值不能为null")),
        Value::Object(map) => map
            .iter()
            .try_for_each(|(k, v)| reject_nulls(&format!("{path}/{k}"), v)),
        Value::Array(items) => items
            .iter()
            .enumerate()
            .try_for_each(|(i, v)| reject_nulls(&format!("{path}/{i}"), v)),
        _ => Ok(()),
    }
}

/// Fields outside `known` → PARAM_ERROR "参数中含有非法的额外参数".
fn reject_unknown(path: &str, map: &Map<String, Value>, known: &[&str]) -> Result<(), Reply> {
    match map.keys().find(|k| !known.contains(&k.as_str())) {
        Some(extra) => Err(Reply::error_with(
            400,
            "PARAM_ERROR",
            "参数中含有非法的额外参数",
            Some(json!({ "location": "body", "field": format!("{path}/{extra}") })),
        )),
        None => Ok(()),
    }
}

/// A string field: presence, type, length in characters, no 4-byte UTF-8, no padding.
fn string_field(
    body: &Map<String, Value>,
    name: &str,
    required: bool,
    min: usize,
    max: usize,
) -> Result<Option<String>, Reply> {
    let field = format!("/{name}");
    let text = match body.get(name) {
        None if required => {
            return Err(Reply::param(&field, "必填性规则校验失败，此字段为必填项"));
        }
        None => return Ok(None),
        Some(Value::String(text)) => text,
        Some(_) => return Err(Reply::param(&field, "类型错误，应为字符串")),
    };
    let chars = text.chars().count();
    if chars < min || chars > max {
        return Err(Reply::param(
            &field,
            &format!("长度校验失败，应为{min}到{max}个字符"),
        ));
    }
    if text.chars().any(|c| u32::from(c) > 0xFFFF) {
        return Err(Reply::param(
            &field,
            "包含不支持的字符（仅支持UTF-8中1到3字节的字符）",
        ));
    }
    if text.trim() != text {
        return Err(Reply::param(&field, "首尾不能包含空白字符"));
    }
    Ok(Some(text.clone()))
}

/// `amount{total ≥ 1, currency "CNY"?}`.
fn amount_field(body: &Map<String, Value>) -> Result<(i64, String), Reply> {
    let Some(amount) = body.get("amount") else {
        return Err(Reply::param(
            "/amount",
            "必填性规则校验失败，此字段为必填项",
        ));
    };
    let Value::Object(amount) = amount else {
        return Err(Reply::param("/amount", "类型错误，应为对象"));
    };
    reject_unknown("/amount", amount, &["total", "currency"])?;
    let total = match amount.get("total") {
        None => {
            return Err(Reply::param(
                "/amount/total",
                "必填性规则校验失败，此字段为必填项",
            ));
        }
        Some(v) => v
            .as_i64()
            .ok_or_else(|| Reply::param("/amount/total", "类型错误，应为整数"))?,
    };
    if total < 1 {
        return Err(Reply::param(
            "/amount/total",
            "取值校验失败，订单金额必须大于0",
        ));
    }
    let currency = match amount.get("currency") {
        None => "CNY".to_owned(),
        Some(Value::String(c)) if c == "CNY" => c.clone(),
        Some(_) => return Err(Reply::param("/amount/currency", "取值校验失败，仅支持CNY")),
    };
    Ok((total, currency))
}

// ---------------------------------------------------------------------------------------
// HTTP/1.1 over loopback

async fn accept_loop(listener: TcpListener, inner: Arc<Inner>) {
    // Connections live in the set, so they are all dropped when this task is aborted.
    let mut connections = JoinSet::new();
    loop {
        tokio::select! {
            accepted = listener.accept() => {
                if let Ok((stream, _)) = accepted {
                    connections.spawn(serve_connection(stream, inner.clone()));
                }
            }
            Some(_) = connections.join_next(), if !connections.is_empty() => {}
        }
    }
}

async fn serve_connection(stream: TcpStream, inner: Arc<Inner>) {
    let _ = stream.set_nodelay(true);
    let mut conn = BufReader::new(stream);
    loop {
        let req = match read_request(&mut conn).await {
            Ok(Some(req)) => req,
            Ok(None) => return,
            Err(e) => {
                let reply = Reply::error(400, "INVALID_REQUEST", &format!("HTTP请求格式错误: {e}"));
                let _ = write_reply(&mut conn, &reply, &request_id(), true).await;
                return;
            }
        };
        let (answer, request_id) = inner.dispatch(&req).await;
        match answer {
            Answer::Respond(reply) => {
                if write_reply(&mut conn, &reply, &request_id, req.close)
                    .await
                    .is_err()
                    || req.close
                {
                    return;
                }
            }
            Answer::Reset => {
                // SO_LINGER 0: closing sends RST instead of FIN.
                let _ = conn.get_ref().set_zero_linger();
                return;
            }
            Answer::Hang => std::future::pending::<()>().await,
        }
    }
}

type Conn = BufReader<TcpStream>;

const MAX_HEAD: usize = 64 * 1024;
const MAX_BODY: usize = 1024 * 1024;

fn bad(message: impl Into<String>) -> std::io::Error {
    std::io::Error::new(std::io::ErrorKind::InvalidData, message.into())
}

/// One CRLF- (or LF-) terminated line, without its terminator.
async fn read_line(conn: &mut Conn, budget: &mut usize) -> std::io::Result<Option<String>> {
    let mut line = Vec::new();
    let n = (&mut *conn)
        .take(*budget as u64 + 1)
        .read_until(b'\n', &mut line)
        .await?;
    if n == 0 {
        return Ok(None);
    }
    if n > *budget || line.last() != Some(&b'\n') {
        return Err(bad("header too long or truncated"));
    }
    *budget -= n;
    line.pop();
    if line.last() == Some(&b'\r') {
        line.pop();
    }
    String::from_utf8(line)
        .map(Some)
        .map_err(|_| bad("non-UTF-8 header"))
}

/// Read one request; `None` on a clean end of the connection.
async fn read_request(conn: &mut Conn) -> std::io::Result<Option<HttpRequest>> {
    let mut budget = MAX_HEAD;
    let request_line = loop {
        match read_line(conn, &mut budget).await? {
            None => return Ok(None),
            Some(line) if line.is_empty() => continue, // tolerated before a request
            Some(line) => break line,
        }
    };
    let mut parts = request_line.split(' ');
    let (Some(method), Some(target), Some(version), None) =
        (parts.next(), parts.next(), parts.next(), parts.next())
    else {
        return Err(bad(format!("bad request line {request_line:?}")));
    };
    if !version.starts_with("HTTP/1.") || !target.starts_with('/') {
        return Err(bad(format!("bad request line {request_line:?}")));
    }
    let mut headers = Vec::new();
    loop {
        let line = read_line(conn, &mut budget)
            .await?
            .ok_or_else(|| bad("connection closed in headers"))?;
        if line.is_empty() {
            break;
        }
        let (name, value) = line
            .split_once(':')
            .ok_or_else(|| bad(format!("bad header line {line:?}")))?;
        headers.push((name.trim().to_ascii_lowercase(), value.trim().to_owned()));
    }
    let chunked = header(&headers, "transfer-encoding")
        .is_some_and(|te| te.to_ascii_lowercase().contains("chunked"));
    let body = if chunked {
        read_chunked(conn, &mut budget).await?
    } else {
        let length = match header(&headers, "content-length") {
            Some(len) => len.parse().map_err(|_| bad("bad Content-Length"))?,
            None => 0,
        };
        if length > MAX_BODY {
            return Err(bad("body too large"));
        }
        let mut body = vec![0; length];
        conn.read_exact(&mut body).await?;
        body
    };
    let connection = header(&headers, "connection").map(str::to_ascii_lowercase);
    let close = match version {
        "HTTP/1.0" => connection.as_deref() != Some("keep-alive"),
        _ => connection.as_deref() == Some("close"),
    };
    Ok(Some(HttpRequest {
        method: method.to_owned(),
        target: target.to_owned(),
        headers,
        body,
        close,
    }))
}

async fn read_chunked(conn: &mut Conn, budget: &mut usize) -> std::io::Result<Vec<u8>> {
    let mut body = Vec::new();
    loop {
        let line = read_line(conn, budget)
            .await?
            .ok_or_else(|| bad("connection closed in body"))?;
        let size_text = line.split(';').next().unwrap_or("").trim();
        let size = usize::from_str_radix(size_text, 16).map_err(|_| bad("bad chunk size"))?;
        if size == 0 {
            // Trailer section, up to the empty line.
            while !read_line(conn, budget)
                .await?
                .ok_or_else(|| bad("connection closed in trailer"))?
                .is_empty()
            {}
            return Ok(body);
        }
        if body.len() + size > MAX_BODY {
            return Err(bad("body too large"));
        }
        let start = body.len();
        body.resize(start + size, 0);
        conn.read_exact(&mut body[start..]).await?;
        let mut crlf = [0; 2];
        conn.read_exact(&mut crlf).await?;
        if &crlf != b"\r\n" {
            return Err(bad("chunk not followed by CRLF"));
        }
    }
}

async fn write_reply(
    conn: &mut Conn,
    reply: &Reply,
    request_id: &str,
    close: bool,
) -> std::io::Result<()> {
    let mut head = format!(
        "HTTP/1.1 {} {}\r\nServer: nginx\r\nRequest-ID: {request_id}\r\nConnection: {}\r\n",
        reply.status,
        reason(reply.status),
        if close { "close" } else { "keep-alive" }
    );
    for (name, value) in &reply.headers {
        head.push_str(&format!("{name}: {value}\r\n"));
    }
    if reply.status != 204 {
        if !reply.content_type.is_empty() {
            head.push_str(&format!("Content-Type: {}\r\n", reply.content_type));
        }
        head.push_str(&format!("Content-Length: {}\r\n", reply.body.len()));
    }
    head.push_str("\r\n");
    let stream = conn.get_mut();
    stream.write_all(head.as_bytes()).await?;
    if reply.status != 204 {
        stream.write_all(&reply.body).await?;
    }
    stream.flush().await
}

fn reason(status: u16) -> &'static str {
    match status {
        200 => "OK",
        202 => "Accepted",
        204 => "No Content",
        400 => "Bad Request",
        401 => "Unauthorized",
        403 => "Forbidden",
        404 => "Not Found",
        405 => "Method Not Allowed",
        429 => "Too Many Requests",
        500 => "Internal Server Error",
        502 => "Bad Gateway",
        503 => "Service Unavailable",
        _ => "Status",
    }
}

// ---------------------------------------------------------------------------------------
// Small helpers

fn header<'a>(headers: &'a [(String, String)], name: &str) -> Option<&'a str> {
    headers
        .iter()
        .find(|(n, _)| n.eq_ignore_ascii_case(name))
        .map(|(_, v)| v.as_str())
}

fn percent_decode(text: &str) -> String {
    let bytes = text.as_bytes();
    let mut out = Vec::with_capacity(bytes.len());
    let mut i = 0;
    while i < bytes.len() {
        let hex = |b: u8| (b as char).to_digit(16);
        if bytes[i] == b'%'
            && let (Some(h), Some(l)) = (
                bytes.get(i + 1).copied().and_then(hex),
                bytes.get(i + 2).copied().and_then(hex),
            )
        {
            out.push((h * 16 + l) as u8);
            i += 3;
            continue;
        }
        out.push(bytes[i]);
        i += 1;
    }
    String::from_utf8_lossy(&out).into_owned()
}

fn random_alnum(len: usize) -> String {
    std::iter::repeat_with(fastrand::alphanumeric)
        .take(len)
        .collect()
}

fn digits(len: usize) -> String {
    std::iter::repeat_with(|| fastrand::digit(10))
        .take(len)
        .collect()
}

fn new_code_url() -> String {
    format!("{CODE_URL_PREFIX}{}", random_alnum(7))
}

/// `08` + time + random hex, `-` + an internal code, like WeChat's `Request-ID`.
fn request_id() -> String {
    let hex: String = std::iter::repeat_with(|| fastrand::digit(16).to_ascii_uppercase())
        .take(30)
        .collect();
    format!(
        "08{:08X}06{hex}-{}",
        unix(SystemTime::now()) as u32,
        fastrand::u32(268_435_456..268_600_000)
    )
}

fn unix(t: SystemTime) -> i64 {
    match t.duration_since(UNIX_EPOCH) {
        Ok(d) => d.as_secs() as i64,
        Err(e) => -(e.duration().as_secs() as i64),
    }
}

fn secs_between(from: SystemTime, to: SystemTime) -> i64 {
    unix(to) - unix(from)
}

/// Days since 1970-01-01 of a proleptic Gregorian date (H. Hinnant's algorithm).
fn days_from_civil(y: i64, m: i64, d: i64) -> i64 {
    let y = if m <= 2 { y - 1 } else { y };
    let era = y.div_euclid(400);
    let yoe = y - era * 400;
    let doy = (153 * (m + if m > 2 { -3 } else { 9 }) + 2) / 5 + d - 1;
    let doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
    era * 146_097 + doe - 719_468
}

fn civil_from_days(z: i64) -> (i64, i64, i64) {
    let z = z + 719_468;
    let era = z.div_euclid(146_097);
    let doe = z - era * 146_097;
    let yoe = (doe - doe / 1460 + doe / 36_524 - doe / 146_096) / 365;
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    let mp = (5 * doy + 2) / 153;
    let d = doy - (153 * mp + 2) / 5 + 1;
    let m = if mp < 10 { mp + 3 } else { mp - 9 };
    (yoe + era * 400 + i64::from(m <= 2), m, d)
}

/// `2026-11-27T10:00:00+08:00`.
pub fn rfc3339_beijing(unix_secs: i64) -> String {
    let local = unix_secs + BEIJING;
    let (y, m, d) = civil_from_days(local.div_euclid(86_400));
    let s = local.rem_euclid(86_400);
    format!(
        "{y:04}-{m:02}-{d:02}T{:02}:{:02}:{:02}+08:00",
        s / 3600,
        s / 60 % 60,
        s % 60
    )
}

/// Strict RFC 3339 `YYYY-MM-DDTHH:MM:SS` + `Z` or `±HH:MM` → Unix seconds.
pub fn parse_rfc3339(text: &str) -> Option<i64> {
    let b = text.as_bytes();
    if b.len() < 20 || !text.is_ascii() {
        return None;
    }
    let num = |range: std::ops::Range<usize>| -> Option<i64> {
        let part = &text[range];
        part.bytes()
            .all(|c| c.is_ascii_digit())
            .then(|| part.parse().ok())
            .flatten()
    };
    if b[4] != b'-' || b[7] != b'-' || b[10] != b'T' || b[13] != b':' || b[16] != b':' {
        return None;
    }
    let (y, mo, d) = (num(0..4)?, num(5..7)?, num(8..10)?);
    let (h, mi, s) = (num(11..13)?, num(14..16)?, num(17..19)?);
    if !(1..=12).contains(&mo) || !(1..=31).contains(&d) || h > 23 || mi > 59 || s > 60 {
        return None;
    }
    let offset = match &text[19..] {
        "Z" => 0,
        zone if zone.len() == 6 && zone.as_bytes()[3] == b':' => {
            let sign = match zone.as_bytes()[0] {
                b'+' => 1,
                b'-' => -1,
                _ => return None,
            };
            let (oh, om) = (num(20..22)?, num(23..25)?);
            if oh > 23 || om > 59 {
                return None;
            }
            sign * (oh * 3600 + om * 60)
        }
        _ => return None,
    };
    // Reject dates like 02-31 by round-tripping the day.
    let days = days_from_civil(y, mo, d);
    if civil_from_days(days) != (y, mo, d) {
        return None;
    }
    Some(days * 86_400 + h * 3600 + mi * 60 + s - offset)
}

/// Unix seconds of a certificate's `notBefore`/`notAfter` (a minimal DER walk).
fn cert_validity(pem: &str) -> Option<(i64, i64)> {
    let b64: String = pem
        .lines()
        .skip_while(|l| !l.starts_with("-----BEGIN CERTIFICATE"))
        .skip(1)
        .take_while(|l| !l.starts_with("-----END"))
        .map(str::trim)
        .collect();
    let der = BASE64.decode(b64).ok()?;
    let (0x30, cert, _) = der_next(&der)? else {
        return None;
    };
    let (0x30, tbs, _) = der_next(cert)? else {
        return None;
    };
    let (tag, _, mut rest) = der_next(tbs)?;
    if tag == 0xA0 {
        rest = der_next(rest)?.2; // the version was first: skip the serial too
    }
    rest = der_next(rest)?.2; // signature algorithm
    rest = der_next(rest)?.2; // issuer
    let (0x30, validity, _) = der_next(rest)? else {
        return None;
    };
    let (tag1, t1, rest) = der_next(validity)?;
    let (tag2, t2, _) = der_next(rest)?;
    Some((asn1_time(tag1, t1)?, asn1_time(tag2, t2)?))
}

/// `(tag, content, rest)` of the next DER element.
fn der_next(buf: &[u8]) -> Option<(u8, &[u8], &[u8])> {
    let tag = *buf.first()?;
    let first = *buf.get(1)?;
    let (len, head) = if first < 0x80 {
        (usize::from(first), 2)
    } else {
        let n = usize::from(first & 0x7F);
        if n == 0 || n > 4 {
            return None;
        }
        let len = buf
            .get(2..2 + n)?
            .iter()
            .fold(0usize, |acc, &b| (acc << 8) | usize::from(b));
        (len, 2 + n)
    };
    let end = head.checked_add(len)?;
    Some((tag, buf.get(head..end)?, buf.get(end..)?))
}

/// UTCTime (`YYMMDDHHMMSSZ`) or GeneralizedTime (`YYYYMMDDHHMMSSZ`) → Unix seconds.
fn asn1_time(tag: u8, content: &[u8]) -> Option<i64> {
    let text = std::str::from_utf8(content).ok()?.strip_suffix('Z')?;
    let (year, rest) = match tag {
        0x17 if text.len() == 12 => {
            let yy: i64 = text[..2].parse().ok()?;
            (if yy >= 50 { 1900 + yy } else { 2000 + yy }, &text[2..])
        }
        0x18 if text.len() == 14 => (text[..4].parse().ok()?, &text[4..]),
        _ => return None,
    };
    let iso = format!(
        "{year:04}-{}-{}T{}:{}:{}Z",
        &rest[0..2],
        &rest[2..4],
        &rest[4..6],
        &rest[6..8],
        &rest[8..10]
    );
    parse_rfc3339(&iso)
}

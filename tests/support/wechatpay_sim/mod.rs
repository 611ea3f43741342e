//! A WeChat Pay API v3 simulator (Native payment) on loopback `http://127.0.0.1:<port>`, for
//! wxprint's integration tests. It is one merchant of one of the four kinds ([`Kind`]:
//! mainland direct, mainland partner, Global common, Global institutional), chosen with
//! [`SimConfig::with_kind`] (default: mainland direct).
//!
//! An independent implementation: it verifies with `rsa`/`sha2`/`base64`, signs with aws-lc
//! (`signer.rs`), encrypts with `aes-gcm` and never calls wxprint's own WeChat Pay code, so a
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
//! - **Kinds**: each kind calls only its own paths (`/v3/pay/transactions/…`,
//!   `/v3/pay/partner/transactions/…`, `/v3/global/transactions/…`; certificates at
//!   `/v3/certificates` or `/v3/global/certificates`), others → 400 `INVALID_REQUEST`. A
//!   sub-merchant kind is named by `sp_appid`/`sp_mchid`/`sub_mchid` (+ optional `sub_appid`)
//!   in place bodies, `?sp_mchid=&sub_mchid=` in queries, `{"sp_mchid","sub_mchid"}` in closes,
//!   and its answers carry those identities and `payer{sp_openid, sub_openid?}`; another mode's
//!   identity fields → `PARAM_ERROR`; a foreign `sub_mchid` → `INVALID_REQUEST` "受理关系不存在".
//! - **Global**: the body needs `trade_type` "NATIVE", the merchant's 4-digit
//!   `merchant_category_code` and `amount{total, currency}` in the merchant's settlement
//!   currency (total an integer in its minor unit; JPY, KRW, ISK have none); mainland-only
//!   fields (`support_fapiao`, `settle_info`) are unknown fields. Queries answer WeChat's
//!   number as `id` and `amount{total, currency, payer_total, payer_currency: "CNY",
//!   exchange_rate{type: "SETTLEMENT_RATE", rate}}`, `payer_total` being the CNY fen at the
//!   rate (×10^8), rounded half up. Closes of orders younger than `close_min_age` (5 minutes,
//!   from creation, simulator clock: fast-forward with [`Simulator::set_clock_offset`]) → 400
//!   `INVALID_REQUEST`. `code_url`s look like `weixin://wxpay/s/…`.
//! - **Certificates** (`GET /v3/certificates`): the platform certificate encrypted with
//!   AEAD_AES_256_GCM under the APIv3 key (12-character nonce, AAD `certificate`), its serial
//!   and validity read from the certificate itself; 404 `RESOURCE_NOT_EXISTS` for a merchant
//!   that only has a WeChat Pay public key. [`Simulator::rotate_certificate`] rotates to a
//!   new certificate (another key and serial): answers are signed by it and the list carries
//!   both, as during WeChat Pay's overlap.
//! - **Response signing**: every 2xx (204 and 202 included) carries `Wechatpay-Timestamp`,
//!   `-Nonce`, `-Signature` (over `TS\nNONCE\nBODY\n`, raw body bytes, so `TS\nNONCE\n\n`
//!   when empty), `-Serial` and `-Signature-Type`; in [`Trust::Both`] the answer is signed
//!   with the public key only when the request carried `Wechatpay-Serial: <public_key_id>`,
//!   as during WeChat's migration. Every answer carries a `Request-ID` and an HTTP `Date`
//!   (the simulator's clock, as a real server's `Date` is its own); error bodies
//!   `{code, message, detail?}` are not signed.
//! - **Order life**: `time_expire` below now + 1 min is silently raised to now + 1 min and
//!   above now + 90 days silently lowered (as WeChat does); an order past it can no longer be
//!   paid nor re-entered, but stays NOTPAY until closed; a `code_url` works for 2 hours.
//! - **Refunds** (`POST /v3/refund/domestic/refunds`, `GET …/{no}`; Global
//!   `POST /v3/global/refunds`, `GET …/out-refund-no/{no}`): each kind's body identity and
//!   query string, strict fields; only a paid order, `amount.total` the order's, at most what
//!   is left (else 400 `INVALID_REQUEST` "申请退款金额超过订单可退金额"), 50 per order, the same
//!   `out_refund_no` with the same body answers that refund (another body: 400
//!   `INVALID_REQUEST`), Global refunds of one order `refund_spacing` apart (a minute; else
//!   400 `INVALID_REQUEST`, a guess); PROCESSING for `refund_delay`, then SUCCESS, or as
//!   [`Simulator::end_refunds_as`] says; mainland `refund_id`/`CLOSED`, Global `id`/
//!   `REFUNDCLOSE`, and `REFUND.*` notifications ([`Simulator::refund_notification`]).
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
//! - Stricter for the kinds: Global requires `amount.currency` (WeChat may default it) and
//!   the MCC the merchant registered; a Global merchant is refused `/v3/certificates` (WeChat
//!   serves the same certificates there); the codes of a foreign currency, a bad MCC, an early
//!   close, a foreign `sub_mchid` and a path of another kind are not published (guesses above).
//! - Not modelled: `detail`/`scene_info`/`settle_info`/`limit_pay` contents (accepted
//!   unchecked), the `/id/{id}` paths, the Global unpaid answer's exact shape (here
//!   `amount{total, currency}`), the 7-day auto-close, rate limits (inject `Status429`),
//!   refunds by `transaction_id`, `funds_account`/`goods_detail` (accepted unchecked), and
//!   the `?algorithm_type=` filter of `/v3/certificates` (ignored).
//! - Codes whose exact value is not documented are best guesses: a body `mchid` different
//!   from the header's → 400 `PARAM_ERROR` "mchid不匹配"; re-entry after `time_expire` → 400
//!   `INVALID_REQUEST` "订单已过期"; an unknown header mchid → 401 `SIGN_ERROR`
//!   "商户号不存在或与证书不匹配" (naming the merchant id, as WeChat's does: show it, not guess).
//!
//! # Faults
//! [`Simulator::inject`] queues a [`Fault`] for the next `times` calls to an [`Endpoint`].
//! Transport and status faults (`Delay`, `Timeout`, `Reset`, `Status*`, `Error`) act before
//! the request is handled and leave the orders unchanged. Signature faults (`BadSignature`,
//! `StaleTimestamp`, `WrongSerial`, `MalformedJson`, `SignTest`) compute the genuine answer
//! on a scratch copy of the orders (so nothing changes) and then spoil it. `LoseAnswer` and
//! `HangAfterHandling` handle the call for real (an order *is* created or closed) and then
//! reset the connection, or never answer: the "outcome unknown" cases. `Rewrite` handles
//! the call for real and answers, validly signed, the genuine answer with some members
//! changed: an answer about another order, refund or merchant.
//!
//! # Layout
//! This folder keeps each side of the service apart; nothing in it uses wxprint.
//! - `mod.rs`: the merchant account ([`SimConfig`], [`Trust`]) and the [`Simulator`] handle
//!   (start, faults, the call log, the clock);
//! - `kind.rs`: the four kinds ([`Kind`], [`Region`]): paths, identity fields, body fields,
//!   currencies and the payer's CNY; `identity.rs`: identity values checked, and the errors;
//! - `orders.rs`: the orders as WeChat Pay keeps them, and the payer's side (pay, refund…);
//! - `faults.rs`: [`Endpoint`], [`Fault`] and the queue of injected faults;
//! - `log.rs`: [`RequestLog`], every call received and what was answered;
//! - `http.rs`: hand-written HTTP/1.1 over loopback (reading requests, framing answers);
//!   `arrival.rs`: when a request's first bytes reached the socket (the kernel's time, read
//!   by `../kernel_time.rs`), for the real-path bench's [`Simulator::placement_time`];
//! - `reply.rs`: an answer before it is framed, and WeChat's error-body shapes;
//! - `routes.rs`: one call from arrival to answer (route, fault, checks, handler);
//! - `place.rs`: the Native place call and its body validation; `fields.rs`: the shared
//!   field validators (`null`s, unknown fields, strings, `amount`);
//! - `trade.rs`: the query and close calls about one order;
//! - `signing.rs`: request authentication (`rsa`, `sha2`) and response signing with the keys
//!   of `signer.rs` (aws-lc);
//! - `certificates.rs`: `/v3/certificates` (AES-256-GCM) and the certificate's validity;
//!   `rotation.rs`: the certificate rotated to, and which certificate signs and is listed;
//! - `refunds.rs`: refunds as WeChat keeps them and the apply call with its rules;
//!   `refund_answers.rs`: the refund query and the refund objects per region;
//! - `notify.rs`: payment and refund notifications, signed and encrypted, POSTed and retried;
//! - `time.rs`: Unix seconds ↔ RFC 3339; `ids.rs`: random ids, `code_url`s, `Request-ID`s;
//! - `selftest.rs`, `selftest_refusals.rs` (tests only): the kinds' rules over HTTP, with the
//!   tiny signed client of `test_client.rs`.

// A test double with a whole API; its users (tests, the example, the benches) each compile
// it on their own and each uses a different part of it.
#![allow(
    dead_code,
    reason = "each user compiles the simulator on its own and uses a part"
)]

mod arrival;
mod certificates;
mod faults;
mod fields;
mod http;
mod identity;
mod ids;
#[allow(
    clippy::duplicate_mod,
    reason = "one source for both test doubles; a test using both compiles it twice"
)]
#[path = "../kernel_time.rs"]
mod kernel_time;
mod kind;
mod log;
mod notify;
mod orders;
mod place;
mod refund_answers;
mod refunds;
mod reply;
mod rotation;
mod routes;
// `cargo clippy --all-targets` compiles the bench with `cfg(test)` but no test harness, so
// the tests vanish and leave their imports unused there.
#[cfg(test)]
#[allow(
    unused_imports,
    reason = "unused in the bench, which has no test harness"
)]
mod selftest;
#[cfg(test)]
#[allow(
    unused_imports,
    reason = "unused in the bench, which has no test harness"
)]
mod selftest_refusals;
mod signer;
mod signing;
#[cfg(test)]
mod test_client;
mod time;
mod trade;

use std::collections::{HashMap, HashSet};
use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicI64, Ordering};
use std::sync::{Arc, Mutex, MutexGuard, OnceLock};
use std::time::{Duration, Instant, SystemTime};

use rsa::pkcs1v15::VerifyingKey;
use rsa::pkcs8::DecodePublicKey;
use sha2::Sha256;
use tokio::net::TcpListener;
use tokio::task::JoinHandle;

pub use faults::{Endpoint, Fault};
#[allow(
    unused_imports,
    reason = "tests/wechatpay names these, the example and the bench do not"
)]
pub use kind::{
    GLOBAL_CLOSE_MIN_AGE, GLOBAL_CODE_URL_PREFIX, GLOBAL_MCC, GLOBAL_REFUND_SPACING, HKD_RATE,
    JPY_RATE, Kind, Region, SUB_APPID, SUB_MCHID, cny_payer_total, minor_digits,
};
pub use log::RequestLog;
#[allow(unused_imports, reason = "only tests/notify sends notifications")]
pub use notify::{Notification, NotifyTarget, WECHAT_RETRY_SCHEDULE};
#[allow(
    unused_imports,
    reason = "the example names none of these, tests/wechatpay some"
)]
pub use orders::{SimOrder, SimPayment, TradeState};
#[allow(
    unused_imports,
    reason = "only tests/wechatpay and tests/notify refund"
)]
pub use refunds::{RefundStatus, SimRefund};
#[allow(unused_imports, reason = "only tests/wechatpay rotates certificates")]
pub use rotation::ROTATED_SERIAL;

use faults::Injected;

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
    /// Which API the merchant speaks; with [`SimConfig::sub_mchid`] it makes the [`Kind`].
    pub region: Region,
    /// Non-empty: a sub-merchant (mainland partner, Global institutional) of the provider
    /// whose `sp_mchid`/`sp_appid` are `mchid`/`appid`.
    pub sub_mchid: String,
    /// The sub-merchant's app; optional in requests, `""` for none.
    pub sub_appid: String,
    /// The settlement currency (ISO 4217): `amount.currency` must be it. Mainland: CNY.
    pub currency: String,
    /// Global: the 4-digit MCC the merchant is registered with; the body must carry it.
    pub merchant_category_code: String,
    /// Global: CNY per major unit of `currency`, ×10^8 (`exchange_rate.rate`).
    pub exchange_rate: i64,
    /// Closes of orders younger than this (simulator clock, from creation) are refused;
    /// `None`: no minimum (mainland).
    pub close_min_age: Option<Duration>,
    /// How long a refund stays PROCESSING before it ends (SUCCESS unless
    /// [`Simulator::end_refunds_as`] said otherwise). Simulator clock, from its creation.
    pub refund_delay: Duration,
    /// Two refunds of one order nearer than this are refused (400 `INVALID_REQUEST`);
    /// Global: a minute ([`GLOBAL_REFUND_SPACING`]); `None`: no rule.
    pub refund_spacing: Option<Duration>,
}

impl SimConfig {
    /// The test merchant (mainland direct; see [`SimConfig::with_kind`]), keys read from
    /// `tests/fixtures/wechatpay/` of this crate.
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
            region: Region::Mainland,
            sub_mchid: String::new(),
            sub_appid: String::new(),
            currency: "CNY".into(),
            merchant_category_code: String::new(),
            exchange_rate: 100_000_000,
            close_min_age: None,
            refund_delay: Duration::ZERO,
            refund_spacing: None,
        }
    }
}

/// `tests/fixtures/wechatpay` of the crate being tested.
pub fn default_fixture_dir() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/fixtures/wechatpay")
}

/// A running simulator. Dropping it stops it and drops its connections.
pub struct Simulator {
    /// `http://127.0.0.1:<port>`, to use as wxprint's `api_base`.
    pub base_url: String,
    /// The address it listens on.
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
        config.assert_coherent();
        let merchant_key = rsa::PublicKey::from_public_key_pem(&config.merchant_public_key_pem)
            .expect("merchant public key (SPKI PEM)");
        let platform_key = signer::Signer::from_pem(&config.platform_private_key_pem);
        let validity = certificates::cert_validity(&config.platform_cert_pem);
        let listener = TcpListener::bind("127.0.0.1:0")
            .await
            .expect("bind 127.0.0.1:0");
        let inner = Arc::new(Inner {
            config,
            merchant_key: VerifyingKey::new(merchant_key),
            platform_key,
            cert_validity: validity,
            rotated: OnceLock::new(),
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
        kernel_time::enable(&listener);
        let accept = tokio::spawn(http::accept_loop(listener, inner.clone()));
        Simulator {
            base_url: format!("http://{addr}"),
            addr,
            inner,
            accept,
        }
    }

    /// The merchant account it simulates.
    pub fn config(&self) -> &SimConfig {
        &self.inner.config
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

    /// How long the simulator held the placements (`Native` calls) that arrived in
    /// `from..=to`: from each one's first bytes received to its answer written, summed. What is left of
    /// a checkout's time on the real path is the daemon's own.
    pub fn placement_time(&self, from: Instant, to: Instant) -> Duration {
        let state = self.inner.lock();
        let calls = state.log.iter().rev().take_while(|c| c.instant >= from);
        calls
            .filter(|c| c.endpoint == Some(Endpoint::Native) && c.instant <= to)
            .filter_map(|c| Some(c.written?.duration_since(c.received)))
            .sum()
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
}

/// What every connection shares: the account, its keys, the clock and the [`State`].
struct Inner {
    config: SimConfig,
    merchant_key: VerifyingKey<Sha256>,
    platform_key: signer::Signer,
    /// Unix seconds `(not_before, not_after)` of the platform certificate.
    cert_validity: Option<(i64, i64)>,
    /// The certificate rotated to ([`Simulator::rotate_certificate`]), once rotated.
    rotated: OnceLock<rotation::Rotated>,
    clock_offset: AtomicI64,
    state: Mutex<State>,
}

/// What changes as calls arrive.
#[derive(Default)]
struct State {
    nonces: HashSet<String>,
    orders: HashMap<String, SimOrder>,
    refunds: HashMap<String, refunds::SimRefund>,
    /// How refunds created from now on end.
    refunds_end_as: refunds::RefundStatus,
    /// Signature-spoiled query answers claim SUCCESS (a forgery a client must refuse).
    forge_paid: bool,
    faults: Vec<Injected>,
    log: Vec<RequestLog>,
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
}

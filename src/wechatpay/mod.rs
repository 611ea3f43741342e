//! The WeChat Pay API v3 client: Native orders placed, queried and closed with signed
//! requests, and only *verified* answers believed.
//!
//! # Layout
//!
//! - this file: the [`WechatPay`] façade, the
//!   [`PaymentBackend`] implementation the jobs drive, and
//!   which answers are believed.
//! - `setup.rs`: the parts of [`WechatPay::from_settings`]: key files, signer, verifier, APIv3
//!   key, HTTP client; [`SetupError`].
//! - `http/`: one signed exchange, WeChat Pay's retry rules and backup host (`mod.rs`); the
//!   answer, the error answer (`ApiError`) and its classification into a [`PaymentError`]
//!   (`answer.rs`).
//! - `certificates.rs`: platform certificates (certificate mode): download and refresh policy.
//! - `region.rs`: the region (mainland / Global) and mode (direct / sub-merchant): paths,
//!   the merchant's identity fields and the field names that differ (`region::Api`);
//!   `identity.rs`: the one check that an answer, a notification or a pinned body is about
//!   this merchant's order and refund (`Api::check_identity`).
//! - `auth/`: the crypto, without HTTP: request signing ([`MerchantSigner`]), response
//!   verification ([`Verifier`], [`ResponseSignature`]), keys and AEAD_AES_256_GCM.
//! - `api/`: the models: error codes (`api/codes.rs`), Native order bodies and answers,
//!   refund bodies and answers (`api/refund.rs`), the online probe and its test order.
//!
//! # Trust
//!
//! Public-key mode (`PUB_KEY_ID_…`) or platform-certificate mode (downloaded from
//! `/v3/certificates` or `/v3/global/certificates`, AES-256-GCM with the APIv3 key), or both. A 2xx whose signature does
//! not verify is never believed: a placement is re-entered with the identical body (WeChat
//! Pay then answers the order's current `code_url`), a query is discarded. Configuration
//! errors (`SIGN_ERROR`, `MCH_NOT_EXISTS`, `PARAM_ERROR`…) are final and carry WeChat Pay's
//! code, message and `Request-ID` to the POS. The retry rules are in `http/`.
//!
//! The settings are read once, by [`WechatPay::from_settings`] and `setup.rs`; the rest of
//! `wechatpay/` does not know `crate::config` (except `auth/verify.rs`, for its
//! `PUB_KEY_ID_` prefix). When to place, poll, close or give up is the jobs' business: this
//! client does one call at a time, as it is told.

use std::time::Duration;

use tracing::info;

use crate::clock;
use crate::config::{Region, WechatPaySettings};
use crate::money::Money;
use crate::payment::{
    BoxFuture, CurrencyRule, PaymentBackend, PaymentError, PlaceOrder, Placed, RefundOrder,
    RefundProgress, TradeState,
};

mod api;
mod auth;
mod certificates;
mod http;
mod identity;
mod notification;
mod region;
mod setup;
#[cfg(test)]
mod testkit;

pub use api::{OrderProbeError, OrderProbeReport, ProbeClose, ProbeReport};
pub use auth::{
    MerchantSigner, ResponseSignature, SignError, Verifier, VerifyError, new_nonce,
    response_message,
};
pub use notification::NotificationError;
pub use setup::{SetupError, check_key_files};

use api::native::{self, Merchant};
use api::refund;
use certificates::Certificates;
use http::{Http, Reply, Request, Validator};
use identity::Object;
use region::Api;

/// The WeChat Pay API v3 backend.
pub struct WechatPay {
    http: Http,
    verifier: Verifier,
    /// Certificate mode: the APIv3 key and when the certificates were downloaded.
    certificates: Option<Certificates>,
    /// The APIv3 key, whatever the trust mode: it decrypts payment notifications.
    apiv3_key: Option<Vec<u8>>,
    /// The region and mode: paths and the merchant's identity fields.
    api: Api,
    /// The one currency orders are placed in.
    currency: CurrencyRule,
    notify_url: String,
    /// Global: the MCC sent with each order.
    merchant_category_code: String,
    /// How far apart two refunds of one order are asked for: `wechatpay.refund_spacing`,
    /// WeChat Pay's rule of a minute, mainland and Global alike (`docs/wechatpay.md` §13).
    refund_spacing: Duration,
}

impl std::fmt::Debug for WechatPay {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("WechatPay")
            .field("api_base", &self.http.api_base())
            .field("mchid", &self.http.mchid())
            .field("api", &self.api)
            .finish_non_exhaustive()
    }
}

impl WechatPay {
    /// Set up the client from the settings: read and check the key files.
    pub fn from_settings(s: &WechatPaySettings) -> Result<WechatPay, SetupError> {
        let signer = setup::load_signer(s)?;
        let (verifier, public_key_id) = setup::load_verifier(s)?;
        let apiv3_key = setup::load_apiv3_key(s)?;
        if public_key_id.is_none() && apiv3_key.is_none() {
            return Err(SetupError::NoTrust);
        }
        let api = Api::from_settings(s);
        let user_agent = setup::user_agent();
        let client = setup::http_client(s, &user_agent)?;
        Ok(WechatPay {
            http: Http::new(
                client,
                signer,
                &s.api_base,
                &s.backup_api_base,
                public_key_id,
                user_agent,
            ),
            verifier,
            certificates: apiv3_key
                .clone()
                .map(|key| Certificates::new(key, api.certificates())),
            apiv3_key,
            currency: CurrencyRule::new(s.currency.clone(), api.region() == Region::Global),
            api,
            notify_url: s.notify_url.clone(),
            merchant_category_code: s.merchant_category_code.clone(),
            refund_spacing: s.refund_spacing,
        })
    }

    /// Download and decrypt the platform certificates (certificate mode; `Ok(0)` in
    /// public-key mode).
    pub async fn refresh_certificates(&self) -> Result<usize, PaymentError> {
        match &self.certificates {
            Some(certificates) => certificates.refresh(&self.http, &self.verifier).await,
            None => Ok(0),
        }
    }

    /// `check-config --online`: one signed call (a query of an order that does not exist)
    /// that proves keys, serial, clock and trust mode end to end.
    pub async fn probe(&self) -> Result<ProbeReport, PaymentError> {
        api::probe(self).await
    }

    /// `check-config --online --order`: a real order of one minor unit in the configured
    /// currency, expiring in one minute, placed as a checkout's would be; its signed answer
    /// is verified with the configured trust (this proves a WeChat Pay public key), then the
    /// order is closed where WeChat Pay allows it (mainland). Its `code_url` is never
    /// returned.
    pub async fn probe_order(&self) -> Result<OrderProbeReport, OrderProbeError> {
        api::probe_order(self).await
    }

    /// The User-Agent sent with every request.
    pub fn user_agent(&self) -> &str {
        self.http.user_agent()
    }

    /// One call with WeChat Pay's retry rules, believing only verified answers.
    async fn call(&self, request: Request<'_>) -> Result<Reply, PaymentError> {
        self.http.call(&request, self).await
    }

    fn native_body(&self, order: &PlaceOrder) -> String {
        let merchant = Merchant {
            api: &self.api,
            notify_url: &self.notify_url,
            merchant_category_code: &self.merchant_category_code,
        };
        native::request_body(&merchant, order)
    }

    /// The path and body of `order`'s placement: the body stored with the job at checkout
    /// (byte-identical on every attempt), else prepared now. The one placement request,
    /// for the jobs and for `check-config --online --order`.
    fn placement(&self, order: &PlaceOrder) -> (String, String) {
        let body = order
            .request
            .clone()
            .unwrap_or_else(|| self.native_body(order));
        (self.api.native_order(), body)
    }

    async fn place_order(&self, order: &PlaceOrder) -> Result<Placed, PaymentError> {
        let (path, body) = self.placement(order);
        let answer = self.call(Request::post(&path, &body)).await?;
        native::read_placed(&answer)
    }

    async fn query_order(&self, no: &str) -> Result<TradeState, PaymentError> {
        let path = self.api.order_query(no);
        let answer = self.call(Request::get(&path)).await?;
        native::read_query(no, &self.api, self.currency.currency(), &answer)
    }

    fn refund_body(&self, r: &RefundOrder) -> String {
        refund::request_body(&self.api, &self.notify_url, r)
    }

    /// Apply for refund `r` with its pinned body (byte-identical on every attempt).
    async fn apply_refund(&self, r: &RefundOrder) -> Result<RefundProgress, PaymentError> {
        let body = r.request.clone().unwrap_or_else(|| self.refund_body(r));
        let path = self.api.refund_apply();
        let answer = self.call(Request::post(path, &body)).await?;
        let currency = self.currency.currency();
        refund::read_refund(
            &self.api,
            Object::RefundApplied,
            asked(r),
            currency,
            &answer,
        )
    }

    async fn refund_state(&self, r: &RefundOrder) -> Result<RefundProgress, PaymentError> {
        let path = self.api.refund_query(&r.out_refund_no);
        let answer = self.call(Request::get(&path)).await?;
        let currency = self.currency.currency();
        refund::read_refund(
            &self.api,
            Object::RefundQueried,
            asked(r),
            currency,
            &answer,
        )
    }

    async fn close_order(&self, no: &str) -> Result<(), PaymentError> {
        let body = native::close_body(&self.api);
        self.call(Request::post(&self.api.order_close(no), &body))
            .await
            .map(|_| ())
    }
}

impl WechatPay {
    /// The refund number a decrypted `REFUND.*` notification names: the jobs say which
    /// order that refund is of, before [`WechatPay::read_refund`] believes it.
    pub fn refund_number(&self, plaintext: &[u8]) -> Result<String, NotificationError> {
        refund::refund_number(plaintext).map_err(NotificationError::Foreign)
    }

    /// Where refund `out_refund_no` of order `out_trade_no` stands, from the decrypted
    /// object of a `REFUND.*` notification (`refund_status`), checked to be about that
    /// refund of that order of this merchant — every merchant field of this kind there and
    /// ours (`mchid`, or `sp_mchid` + `sub_mchid`), none of the other kind's
    /// (`identity.rs`).
    pub fn read_refund(
        &self,
        plaintext: &[u8],
        out_trade_no: &str,
        out_refund_no: &str,
    ) -> Result<RefundProgress, NotificationError> {
        let asked = refund::Asked {
            out_trade_no,
            out_refund_no,
        };
        refund::read_refund_object(&self.api, asked, self.currency.currency(), plaintext)
            .map_err(NotificationError::Foreign)
    }
}

/// The refund `r` names, as an answer must be about it.
fn asked(r: &RefundOrder) -> refund::Asked<'_> {
    refund::Asked {
        out_trade_no: &r.out_trade_no,
        out_refund_no: &r.out_refund_no,
    }
}

/// An answer is believed when its signature verifies. In certificate mode the certificates
/// are downloaded first when they are old, or at once when they do not include the answer's
/// serial (repeats of one unknown serial: once a minute; `certificates/fetch.rs`).
impl Validator for WechatPay {
    async fn validate(&self, reply: &Reply) -> Result<(), VerifyError> {
        if let Some(certificates) = &self.certificates {
            let serial = reply.signature.as_ref().ok().map(|s| s.serial.as_str());
            certificates
                .refresh_if_due(&self.http, &self.verifier, serial)
                .await;
        }
        let result = reply.verify(&self.verifier, clock::now_ms() / 1000);
        if let Err(VerifyError::SignTest) = &result {
            info!(
                "WeChat Pay sent a signature probe (WECHATPAY/SIGNTEST/); answer not trusted, as required"
            );
        }
        result
    }
}

impl PaymentBackend for WechatPay {
    fn name(&self) -> &'static str {
        "wechatpay"
    }

    /// Exactly the configured currency (mainland: CNY).
    fn accepts(&self, amount: &Money) -> Result<(), String> {
        self.currency.accepts(amount)
    }

    fn currency_rule(&self) -> CurrencyRule {
        self.currency.clone()
    }

    fn owns(&self, request: &str) -> Result<(), String> {
        native::owns(&self.api, request)
    }

    /// The placement's body, pinned with the job; its signature is started at once on
    /// another thread, so it is ready when the job has been written to disk.
    fn prepare(&self, order: &PlaceOrder) -> Option<String> {
        let body = self.native_body(order);
        self.http.sign_ahead(&self.api.native_order(), &body);
        Some(body)
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

    fn prepare_refund(&self, r: &RefundOrder) -> Option<String> {
        Some(self.refund_body(r))
    }

    fn refund<'a>(
        &'a self,
        r: &'a RefundOrder,
    ) -> BoxFuture<'a, Result<RefundProgress, PaymentError>> {
        Box::pin(self.apply_refund(r))
    }

    fn query_refund<'a>(
        &'a self,
        refund: &'a RefundOrder,
    ) -> BoxFuture<'a, Result<RefundProgress, PaymentError>> {
        Box::pin(self.refund_state(refund))
    }

    fn refund_spacing(&self) -> Duration {
        self.refund_spacing
    }
}

#[cfg(test)]
mod tests {
    use std::os::unix::fs::PermissionsExt;

    use super::*;
    use crate::config::{Backend, Settings};
    use crate::money::Currency;

    /// A backend set up from settings for `region` in `currency`, with the fixture keys.
    fn backend(dir: &std::path::Path, region: Region, currency: &str, sub: &str) -> WechatPay {
        let mut s = Settings::sandbox_defaults().wechatpay;
        for (name, text) in [
            ("key.pem", testkit::MERCHANT_KEY),
            ("pub.pem", testkit::PLATFORM_PUB),
        ] {
            let path = dir.join(name);
            std::fs::write(&path, text).unwrap();
            std::fs::set_permissions(&path, std::fs::Permissions::from_mode(0o600)).unwrap();
        }
        s.backend = Backend::WechatPay;
        s.region = region;
        s.currency = Currency::new(currency);
        s.appid = "wxsp".into();
        s.mchid = "1900000109".into();
        s.sub_mchid = sub.into();
        s.merchant_serial_no = testkit::MERCHANT_SERIAL.into();
        s.private_key_file = dir.join("key.pem");
        s.public_key_id = testkit::PUB_KEY_ID.into();
        s.public_key_file = dir.join("pub.pem");
        s.notify_url = "https://m.example/n".into();
        s.merchant_category_code = "5812".into();
        WechatPay::from_settings(&s).unwrap()
    }

    #[test]
    fn the_backend_follows_the_configured_region_mode_and_currency() {
        let dir = tempfile::tempdir().unwrap();
        let mainland = backend(dir.path(), Region::Mainland, "CNY", "");
        let usd = Money::new(100, Currency::new("USD"));
        assert_eq!(mainland.accepts(&Money::cny(1)), Ok(()));
        assert_eq!(mainland.accepts(&usd), crate::payment::cny_only(&usd));
        assert_eq!(mainland.api.native_order(), "/v3/pay/transactions/native");

        let global = backend(dir.path(), Region::Global, "JPY", "1900000209");
        assert_eq!(
            global.accepts(&Money::new(1200, Currency::new("JPY"))),
            Ok(())
        );
        let refusal = global.accepts(&Money::cny(1)).unwrap_err();
        assert!(refusal.contains("takes only \"JPY\""), "{refusal}");
        assert_eq!(
            global.api.order_query("T1"),
            "/v3/global/transactions/out-trade-no/T1?sub_mchid=1900000209&sp_mchid=1900000109"
        );
        let order = PlaceOrder {
            out_trade_no: "T1".into(),
            description: "Ramen".into(),
            amount: Money::new(1200, Currency::new("JPY")),
            attach: None,
            goods_tag: None,
            time_expire: "2026-01-01T10:00:00+08:00".into(),
            request: None,
        };
        let body = global.prepare(&order).unwrap();
        assert!(
            body.starts_with(
                r#"{"sp_appid":"wxsp","sp_mchid":"1900000109","sub_mchid":"1900000209","#
            ),
            "{body}"
        );
        assert!(body.ends_with(r#""trade_type":"NATIVE","merchant_category_code":"5812","amount":{"total":1200,"currency":"JPY"}}"#), "{body}");
    }
}

//! The four kinds of WeChat Pay merchant the simulator can be — mainland direct, mainland
//! service provider ("partner"), Global common, Global institutional — and what the kind
//! decides: the family of paths it may call, the fields that name it in bodies and queries,
//! the fields a Native body may have, its settlement currency (and that currency's minor
//! unit), and the CNY a Global payer is charged. The handlers (`place.rs`, `trade.rs`,
//! `routes.rs`) ask this file; it knows no HTTP and no orders.

use std::time::Duration;

use super::SimConfig;

/// The test service provider's sub-merchant (partner and institutional kinds).
pub const SUB_MCHID: &str = "1900000109";
/// The sub-merchant's own app (optional in the partner and institutional bodies).
pub const SUB_APPID: &str = "wx8888888888888888";
/// The MCC the Global kinds are registered with (restaurants).
pub const GLOBAL_MCC: &str = "5812";
/// The CNY price of one HKD ×10^8 (`exchange_rate.rate`, `SETTLEMENT_RATE`).
pub const HKD_RATE: i64 = 92_000_000;
/// The CNY price of one JPY ×10^8.
pub const JPY_RATE: i64 = 4_800_000;
/// How young a Global order cannot be closed ("最短调用时间间隔为5分钟").
pub const GLOBAL_CLOSE_MIN_AGE: Duration = Duration::from_secs(300);
/// How far apart two refunds of one Global order must be ("同一笔订单的两次退款间隔1分钟").
pub const GLOBAL_REFUND_SPACING: Duration = Duration::from_secs(60);
/// The prefix of a Global Native `code_url` (`weixin://wxpay/s/An4baqw` in WeChat's example).
pub const GLOBAL_CODE_URL_PREFIX: &str = "weixin://wxpay/s/";

/// The currencies WeChat Pay Global settles in (ISO 4217), as WeChat lists them.
const GLOBAL_CURRENCIES: [&str; 30] = [
    "CNY", "HKD", "GBP", "USD", "JPY", "CAD", "AUD", "EUR", "NZD", "KRW", "THB", "SGD", "RUB",
    "CHF", "SEK", "DKK", "NOK", "AED", "TRY", "MOP", "TWD", "CZK", "MYR", "PHP", "IDR", "MNT",
    "QAR", "HUF", "KHR", "ISK",
];

/// Where the merchant is registered: which WeChat Pay API it speaks.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Region {
    /// `api.mch.weixin.qq.com`, `/v3/pay/…`, CNY only.
    Mainland,
    /// WeChat Pay Global (`apihk`), `/v3/global/…`, the merchant's settlement currency.
    Global,
}

/// The four kinds of WeChat Pay merchant.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Kind {
    /// `appid` + `mchid`, `/v3/pay/transactions/…`.
    MainlandDirect,
    /// `sp_appid` + `sp_mchid` + `sub_mchid` (+ `sub_appid`), `/v3/pay/partner/transactions/…`.
    MainlandPartner,
    /// `appid` + `mchid`, `/v3/global/transactions/…`.
    GlobalCommon,
    /// `sp_appid` + `sp_mchid` + `sub_mchid` (+ `sub_appid`), `/v3/global/transactions/…`.
    GlobalInstitutional,
}

impl Kind {
    /// Every kind, for parameterised tests.
    pub const ALL: [Kind; 4] = [
        Kind::MainlandDirect,
        Kind::MainlandPartner,
        Kind::GlobalCommon,
        Kind::GlobalInstitutional,
    ];

    pub fn region(self) -> Region {
        match self {
            Kind::MainlandDirect | Kind::MainlandPartner => Region::Mainland,
            Kind::GlobalCommon | Kind::GlobalInstitutional => Region::Global,
        }
    }

    /// Partner or institutional: a provider (`sp_*`) acting for a sub-merchant.
    pub fn has_sub_merchant(self) -> bool {
        matches!(self, Kind::MainlandPartner | Kind::GlobalInstitutional)
    }

    /// The family of order paths this kind calls.
    pub(super) fn api(self) -> Api {
        match self {
            Kind::MainlandDirect => Api::Direct,
            Kind::MainlandPartner => Api::Partner,
            Kind::GlobalCommon | Kind::GlobalInstitutional => Api::Global,
        }
    }

    /// The body fields naming the merchant in a Native body, in the order WeChat checks
    /// their form, with whether each is required.
    pub(super) fn place_identity(self) -> &'static [(&'static str, bool)] {
        if self.has_sub_merchant() {
            &[
                ("sp_appid", true),
                ("sp_mchid", true),
                ("sub_appid", false),
                ("sub_mchid", true),
            ]
        } else {
            &[("appid", true), ("mchid", true)]
        }
    }

    /// The fields naming the merchant in a query string or a close body (all required).
    pub(super) fn trade_identity(self) -> &'static [&'static str] {
        if self.has_sub_merchant() {
            &["sp_mchid", "sub_mchid"]
        } else {
            &["mchid"]
        }
    }

    /// Every field a Native place body may have.
    pub(super) fn native_fields(self) -> Vec<&'static str> {
        let mut fields: Vec<&'static str> = self.place_identity().iter().map(|f| f.0).collect();
        fields.extend([
            "description",
            "out_trade_no",
            "time_expire",
            "attach",
            "notify_url",
            "goods_tag",
            "amount",
            "detail",
            "scene_info",
        ]);
        match self.region() {
            Region::Mainland => fields.extend(["support_fapiao", "settle_info"]),
            Region::Global => fields.extend([
                "trade_type",
                "merchant_category_code",
                "limit_pay",
                "time_start",
            ]),
        }
        fields
    }

    /// `(min out_trade_no, max attach, max notify_url)` lengths in characters.
    pub(super) fn limits(self) -> (usize, usize, usize) {
        match self.region() {
            Region::Mainland => (6, 128, 255),
            Region::Global => (1, 127, 256),
        }
    }

    /// The field of a paid query answer naming WeChat's order number.
    pub(super) fn transaction_id_field(self) -> &'static str {
        match self.region() {
            Region::Mainland => "transaction_id",
            Region::Global => "id",
        }
    }

    pub(super) fn code_url_prefix(self) -> &'static str {
        match self.region() {
            Region::Mainland => super::CODE_URL_PREFIX,
            Region::Global => GLOBAL_CODE_URL_PREFIX,
        }
    }
}

/// A family of order paths (and the certificates path of its region).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(super) enum Api {
    Direct,
    Partner,
    Global,
}

impl Api {
    pub(super) const ALL: [Api; 3] = [Api::Direct, Api::Partner, Api::Global];

    /// The prefix of its `native` and `out-trade-no/…` paths.
    pub(super) fn transactions(self) -> &'static str {
        match self {
            Api::Direct => "/v3/pay/transactions",
            Api::Partner => "/v3/pay/partner/transactions",
            Api::Global => "/v3/global/transactions",
        }
    }

    /// Why `kind` may not call this family, if it may not (a 400 `INVALID_REQUEST` message).
    pub(super) fn refusal(self, kind: Kind) -> Option<&'static str> {
        match (kind.api(), self) {
            (ours, called) if ours == called => None,
            (Api::Global, _) => Some("V3 API 暂不支持境外支付，境外商户请调用/v3/global/接口"),
            (_, Api::Global) => Some("商户未开通境外支付，境内商户请调用/v3/pay/接口"),
            (Api::Partner, _) => Some("服务商商户号请调用/v3/pay/partner/接口"),
            (_, _) => Some("直连商户号无权调用服务商接口"),
        }
    }
}

impl SimConfig {
    /// Which of the four kinds this account is: its region, and a sub-merchant or not.
    pub fn kind(&self) -> Kind {
        match (self.region, self.sub_mchid.is_empty()) {
            (Region::Mainland, true) => Kind::MainlandDirect,
            (Region::Mainland, false) => Kind::MainlandPartner,
            (Region::Global, true) => Kind::GlobalCommon,
            (Region::Global, false) => Kind::GlobalInstitutional,
        }
    }

    /// This account as `kind`: `mchid`/`appid` stay (they are the provider's `sp_mchid`/
    /// `sp_appid` for a sub-merchant kind, whose `sub_mchid`/`sub_appid` become
    /// [`SUB_MCHID`]/[`SUB_APPID`]); a Global kind settles in HKD at [`HKD_RATE`], has MCC
    /// [`GLOBAL_MCC`] and refuses closes younger than [`GLOBAL_CLOSE_MIN_AGE`]; a mainland
    /// kind is back to CNY, no MCC, no close minimum. Global refunds of one order must be
    /// [`GLOBAL_REFUND_SPACING`] apart.
    pub fn with_kind(mut self, kind: Kind) -> SimConfig {
        let sub = kind.has_sub_merchant();
        self.sub_mchid = if sub { SUB_MCHID.into() } else { String::new() };
        self.sub_appid = if sub { SUB_APPID.into() } else { String::new() };
        self.region = kind.region();
        match kind.region() {
            Region::Mainland => {
                self.currency = "CNY".into();
                self.merchant_category_code = String::new();
                self.exchange_rate = 100_000_000;
                self.close_min_age = None;
                self.refund_spacing = None;
            }
            Region::Global => {
                self.currency = "HKD".into();
                self.merchant_category_code = GLOBAL_MCC.into();
                self.exchange_rate = HKD_RATE;
                self.close_min_age = Some(GLOBAL_CLOSE_MIN_AGE);
                self.refund_spacing = Some(GLOBAL_REFUND_SPACING);
            }
        }
        self
    }

    /// Settle in `currency` (ISO 4217), one unit of which costs the payer `rate`/10^8 CNY.
    pub fn with_currency(mut self, currency: &str, rate: i64) -> SimConfig {
        self.currency = currency.into();
        self.exchange_rate = rate;
        self
    }

    /// Panics on an account WeChat Pay could not have (bad currency for the region, …).
    pub(super) fn assert_coherent(&self) {
        match self.region {
            Region::Mainland => assert_eq!(self.currency, "CNY", "mainland settles in CNY"),
            Region::Global => {
                assert!(
                    GLOBAL_CURRENCIES.contains(&self.currency.as_str()),
                    "{} is not a WeChat Pay Global currency",
                    self.currency
                );
                assert!(
                    is_mcc(&self.merchant_category_code),
                    "Global needs a 4-digit MCC"
                );
            }
        }
        assert!(self.exchange_rate > 0, "exchange_rate must be > 0");
        assert!(
            !self.sub_mchid.is_empty() || self.sub_appid.is_empty(),
            "sub_appid without sub_mchid"
        );
    }

    /// The expected value of an identity field (`mchid`, `sp_appid`, `sub_mchid`, …).
    pub(super) fn identity(&self, field: &str) -> &str {
        match field {
            "mchid" | "sp_mchid" => &self.mchid,
            "appid" | "sp_appid" => &self.appid,
            "sub_mchid" => &self.sub_mchid,
            "sub_appid" => &self.sub_appid,
            _ => "",
        }
    }
}

/// Four ASCII digits.
pub(super) fn is_mcc(code: &str) -> bool {
    code.len() == 4 && code.bytes().all(|b| b.is_ascii_digit())
}

/// A currency WeChat Pay Global settles in.
pub(super) fn is_global_currency(code: &str) -> bool {
    GLOBAL_CURRENCIES.contains(&code)
}

/// Decimal digits of the currency's minor unit (ISO 4217): 0 for JPY, KRW, ISK; else 2.
pub fn minor_digits(currency: &str) -> u32 {
    match currency {
        "JPY" | "KRW" | "ISK" => 0,
        _ => 2,
    }
}

/// What the payer pays in fen for `total` minor units of `currency` at `rate` (CNY per
/// major unit ×10^8), rounded half up.
pub fn cny_payer_total(total: i64, currency: &str, rate: i64) -> i64 {
    let numerator = i128::from(total) * i128::from(rate) * 100;
    let denominator = 10i128.pow(minor_digits(currency)) * 100_000_000;
    let fen = (numerator + denominator / 2) / denominator;
    i64::try_from(fen).unwrap_or(i64::MAX)
}

//! Which WeChat Pay this merchant talks to, and who it is there: the one place that turns
//! the region (mainland / Global) and the mode (direct / sub-merchant) into API paths, the
//! merchant-identity fields of bodies, queries and answers, and the few field names that
//! differ (`docs/wechatpay.md` §7).
//!
//! | region, mode | paths | identity |
//! |---|---|---|
//! | mainland, direct (直连商户) | `/v3/pay/transactions/…`, `/v3/certificates` | `appid`, `mchid` |
//! | mainland, service provider (服务商) | `/v3/pay/partner/transactions/…` | `sp_appid`, `sp_mchid`, `sub_appid`?, `sub_mchid` |
//! | Global, common | `/v3/global/transactions/…`, `/v3/global/certificates` | `appid`, `mchid` |
//! | Global, institutional | `/v3/global/transactions/…` | `sp_appid`, `sp_mchid`, `sub_appid`?, `sub_mchid` |
//!
//! Global also names WeChat's order number `id` in its query answer (mainland:
//! `transaction_id`) and takes `trade_type: "NATIVE"` in the order body.
//!
//! Refunds: mainland `/v3/refund/domestic/refunds` (body: a provider's `sub_mchid` only;
//! query `…/{out_refund_no}`, `?sub_mchid=` for a provider), Global `/v3/global/refunds`
//! (body: the order body's identity; query `…/out-refund-no/{no}?mchid=` or
//! `?sub_mchid=&sp_mchid=`); the answer's refund number is `refund_id` / `id`, a refund
//! closed unpaid is `CLOSED` / `REFUNDCLOSE`. The signing,
//! verification, HTTP and certificate code is shared by all four; the models (`api/`) ask
//! this file for every field that differs, so there is one copy of each call.
//!
//! The hosts are settings: `wechatpay.api_base` / `backup_api_base`, whose region defaults
//! (mainland `api` / `api2`, Global `apihk` with `api` as failover) are in the config key
//! table, where every default is (`config/keys.rs`). No other code in `wechatpay/` builds a
//! path. This file does not know HTTP or the body models' other fields.

use crate::config::{Region, WechatPaySettings};

/// Whether the merchant places orders for itself or for a sub-merchant.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Mode {
    /// Mainland direct merchant or Global common-mode merchant: `appid` + `mchid`.
    Direct,
    /// Mainland service provider (partner API) or Global institution: the settings'
    /// `appid`/`mchid` are `sp_appid`/`sp_mchid`, with `sub_mchid` (and `sub_appid`).
    SubMerchant,
}

/// A body or query field of the merchant's identity: `(name, value)`.
pub(crate) type Field<'a> = (&'static str, &'a str);

/// The merchant's API: its region, its mode and its identifiers.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct Api {
    region: Region,
    appid: String,
    mchid: String,
    sub_mchid: String,
    sub_appid: String,
}

impl Api {
    /// The API of the merchant `s` describes.
    pub(crate) fn from_settings(s: &WechatPaySettings) -> Api {
        Api::new(s.region, &s.appid, &s.mchid, &s.sub_mchid, &s.sub_appid)
    }

    /// A merchant of `region`; an empty `sub_mchid` is the direct mode.
    pub(crate) fn new(
        region: Region,
        appid: &str,
        mchid: &str,
        sub_mchid: &str,
        sub_appid: &str,
    ) -> Api {
        Api {
            region,
            appid: appid.to_owned(),
            mchid: mchid.to_owned(),
            sub_mchid: sub_mchid.to_owned(),
            sub_appid: sub_appid.to_owned(),
        }
    }

    pub(crate) fn region(&self) -> Region {
        self.region
    }

    pub(crate) fn mode(&self) -> Mode {
        if self.sub_mchid.is_empty() {
            Mode::Direct
        } else {
            Mode::SubMerchant
        }
    }

    /// The prefix of the transactions API.
    fn transactions(&self) -> &'static str {
        match (self.region, self.mode()) {
            (Region::Mainland, Mode::Direct) => "/v3/pay/transactions",
            (Region::Mainland, Mode::SubMerchant) => "/v3/pay/partner/transactions",
            (Region::Global, _) => "/v3/global/transactions",
        }
    }

    /// Where a Native order is placed (`POST`).
    pub(crate) fn native_order(&self) -> String {
        format!("{}/native", self.transactions())
    }

    /// Where order `out_trade_no` is queried (`GET`), with the merchant in the query string.
    pub(crate) fn order_query(&self, out_trade_no: &str) -> String {
        let query = match (self.region, self.mode()) {
            (_, Mode::Direct) => format!("mchid={}", self.mchid),
            (Region::Mainland, Mode::SubMerchant) => {
                format!("sp_mchid={}&sub_mchid={}", self.mchid, self.sub_mchid)
            }
            (Region::Global, Mode::SubMerchant) => {
                format!("sub_mchid={}&sp_mchid={}", self.sub_mchid, self.mchid)
            }
        };
        format!(
            "{}/out-trade-no/{out_trade_no}?{query}",
            self.transactions()
        )
    }

    /// Where order `out_trade_no` is closed (`POST`, [`Api::merchant_fields`] in the body).
    pub(crate) fn order_close(&self, out_trade_no: &str) -> String {
        format!("{}/out-trade-no/{out_trade_no}/close", self.transactions())
    }

    /// Where a refund is applied for (`POST`): mainland `/v3/refund/domestic/refunds` (both
    /// modes), Global `/v3/global/refunds`.
    pub(crate) fn refund_apply(&self) -> &'static str {
        match self.region {
            Region::Mainland => "/v3/refund/domestic/refunds",
            Region::Global => "/v3/global/refunds",
        }
    }

    /// Where refund `out_refund_no` is queried (`GET`): mainland `…/refunds/{no}` (a
    /// direct merchant sends no query string, a service provider `?sub_mchid=`), Global
    /// `…/refunds/out-refund-no/{no}` with the merchant as in an order query.
    pub(crate) fn refund_query(&self, out_refund_no: &str) -> String {
        let path = match self.region {
            Region::Mainland => format!("{}/{out_refund_no}", self.refund_apply()),
            Region::Global => format!("{}/out-refund-no/{out_refund_no}", self.refund_apply()),
        };
        let query = match (self.region, self.mode()) {
            (Region::Mainland, Mode::Direct) => return path,
            (Region::Mainland, Mode::SubMerchant) => format!("sub_mchid={}", self.sub_mchid),
            (Region::Global, Mode::Direct) => format!("mchid={}", self.mchid),
            (Region::Global, Mode::SubMerchant) => {
                format!("sub_mchid={}&sp_mchid={}", self.sub_mchid, self.mchid)
            }
        };
        format!("{path}?{query}")
    }

    /// Who asks for a refund, as the refund body names it: nobody on the mainland (the
    /// signature names the merchant) but a provider's `sub_mchid`; on Global the fields of
    /// an order body ([`Api::order_fields`]).
    pub(crate) fn refund_fields(&self) -> Vec<Field<'_>> {
        match (self.region, self.mode()) {
            (Region::Mainland, Mode::Direct) => Vec::new(),
            (Region::Mainland, Mode::SubMerchant) => vec![("sub_mchid", &self.sub_mchid)],
            (Region::Global, _) => self.order_fields(),
        }
    }

    /// The refund answer's name for WeChat Pay's refund number.
    pub(crate) fn refund_number_field(&self) -> &'static str {
        match self.region {
            Region::Mainland => "refund_id",
            Region::Global => "id",
        }
    }

    /// The refund `status` of a refund closed without paying back.
    pub(crate) fn refund_closed_status(&self) -> &'static str {
        match self.region {
            Region::Mainland => "CLOSED",
            Region::Global => "REFUNDCLOSE",
        }
    }

    /// The platform certificates (certificate mode).
    pub(crate) fn certificates(&self) -> &'static str {
        match self.region {
            Region::Mainland => "/v3/certificates",
            Region::Global => "/v3/global/certificates",
        }
    }

    /// Who places the order, as the Native order body names it: `appid`, `mchid`; or
    /// `sp_appid`, `sp_mchid`, `sub_appid` (when set), `sub_mchid`.
    pub(crate) fn order_fields(&self) -> Vec<Field<'_>> {
        match self.mode() {
            Mode::Direct => vec![("appid", &self.appid), ("mchid", &self.mchid)],
            Mode::SubMerchant => {
                let mut fields = vec![("sp_appid", &*self.appid), ("sp_mchid", &self.mchid)];
                if !self.sub_appid.is_empty() {
                    fields.push(("sub_appid", &self.sub_appid));
                }
                fields.push(("sub_mchid", &self.sub_mchid));
                fields
            }
        }
    }

    /// The merchant of a close body, and the merchant fields a query answer must carry
    /// unchanged to be about this merchant's order: `mchid`, or `sp_mchid` + `sub_mchid`.
    pub(crate) fn merchant_fields(&self) -> Vec<Field<'_>> {
        match self.mode() {
            Mode::Direct => vec![("mchid", &self.mchid)],
            Mode::SubMerchant => vec![("sp_mchid", &self.mchid), ("sub_mchid", &self.sub_mchid)],
        }
    }

    /// The identity fields of the other mode, which an answer about this merchant's order
    /// never carries.
    pub(crate) fn foreign_fields(&self) -> &'static [&'static str] {
        match self.mode() {
            Mode::Direct => &["sp_mchid", "sub_mchid"],
            Mode::SubMerchant => &["mchid"],
        }
    }

    /// The query answer's name for WeChat Pay's order number.
    pub(crate) fn order_number_field(&self) -> &'static str {
        match self.region {
            Region::Mainland => "transaction_id",
            Region::Global => "id",
        }
    }

    /// Whether the order body carries `merchant_category_code` (Global, where it is
    /// required; the mainland does not know it).
    pub(crate) fn takes_category_code(&self) -> bool {
        self.region == Region::Global
    }

    /// The order body's `trade_type`: required on Global, not sent on the mainland (whose
    /// path names the type).
    pub(crate) fn trade_type(&self) -> Option<&'static str> {
        match self.region {
            Region::Mainland => None,
            Region::Global => Some("NATIVE"),
        }
    }
}

/// The four kinds of merchant of the tests: appid `wxsp`, merchant (or provider)
/// `1900000109`, with `sub`: sub-merchant `1900000209`, `sub_appid` `wxsub`.
#[cfg(test)]
pub(crate) fn test_api(region: Region, sub: bool) -> Api {
    let (sub_mchid, sub_appid) = if sub {
        ("1900000209", "wxsub")
    } else {
        ("", "")
    };
    Api::new(region, "wxsp", "1900000109", sub_mchid, sub_appid)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn kind(region: Region, sub: bool) -> Api {
        test_api(region, sub)
    }

    #[test]
    fn paths_of_the_four_kinds() {
        let cases = [
            (
                kind(Region::Mainland, false),
                "/v3/pay/transactions",
                "?mchid=1900000109",
                "/v3/certificates",
            ),
            (
                kind(Region::Mainland, true),
                "/v3/pay/partner/transactions",
                "?sp_mchid=1900000109&sub_mchid=1900000209",
                "/v3/certificates",
            ),
            (
                kind(Region::Global, false),
                "/v3/global/transactions",
                "?mchid=1900000109",
                "/v3/global/certificates",
            ),
            (
                kind(Region::Global, true),
                "/v3/global/transactions",
                "?sub_mchid=1900000209&sp_mchid=1900000109",
                "/v3/global/certificates",
            ),
        ];
        for (api, prefix, query, certificates) in cases {
            assert_eq!(api.native_order(), format!("{prefix}/native"));
            assert_eq!(
                api.order_query("T1"),
                format!("{prefix}/out-trade-no/T1{query}")
            );
            assert_eq!(
                api.order_close("T1"),
                format!("{prefix}/out-trade-no/T1/close")
            );
            assert_eq!(api.certificates(), certificates);
        }
    }

    #[test]
    fn identity_fields_per_mode() {
        for region in [Region::Mainland, Region::Global] {
            let direct = kind(region, false);
            assert_eq!(direct.mode(), Mode::Direct);
            assert_eq!(
                direct.order_fields(),
                [("appid", "wxsp"), ("mchid", "1900000109")]
            );
            assert_eq!(direct.merchant_fields(), [("mchid", "1900000109")]);

            let sub = kind(region, true);
            assert_eq!(sub.mode(), Mode::SubMerchant);
            assert_eq!(
                sub.order_fields(),
                [
                    ("sp_appid", "wxsp"),
                    ("sp_mchid", "1900000109"),
                    ("sub_appid", "wxsub"),
                    ("sub_mchid", "1900000209")
                ]
            );
            assert_eq!(
                sub.merchant_fields(),
                [("sp_mchid", "1900000109"), ("sub_mchid", "1900000209")]
            );
        }
        // sub_appid is optional.
        let no_sub_appid = Api::new(Region::Mainland, "wxsp", "1", "2", "");
        assert_eq!(
            no_sub_appid.order_fields(),
            [("sp_appid", "wxsp"), ("sp_mchid", "1"), ("sub_mchid", "2")]
        );
    }

    #[test]
    fn refund_paths_and_fields_of_the_four_kinds() {
        let cases = [
            (
                kind(Region::Mainland, false),
                "/v3/refund/domestic/refunds",
                "/v3/refund/domestic/refunds/R1",
                vec![],
            ),
            (
                kind(Region::Mainland, true),
                "/v3/refund/domestic/refunds",
                "/v3/refund/domestic/refunds/R1?sub_mchid=1900000209",
                vec![("sub_mchid", "1900000209")],
            ),
            (
                kind(Region::Global, false),
                "/v3/global/refunds",
                "/v3/global/refunds/out-refund-no/R1?mchid=1900000109",
                vec![("appid", "wxsp"), ("mchid", "1900000109")],
            ),
            (
                kind(Region::Global, true),
                "/v3/global/refunds",
                "/v3/global/refunds/out-refund-no/R1?sub_mchid=1900000209&sp_mchid=1900000109",
                vec![
                    ("sp_appid", "wxsp"),
                    ("sp_mchid", "1900000109"),
                    ("sub_appid", "wxsub"),
                    ("sub_mchid", "1900000209"),
                ],
            ),
        ];
        for (api, apply, query, fields) in cases {
            assert_eq!(api.refund_apply(), apply);
            assert_eq!(api.refund_query("R1"), query);
            assert_eq!(api.refund_fields(), fields);
        }
        let (mainland, global) = (kind(Region::Mainland, true), kind(Region::Global, false));
        assert_eq!(mainland.refund_number_field(), "refund_id");
        assert_eq!(global.refund_number_field(), "id");
        assert_eq!(mainland.refund_closed_status(), "CLOSED");
        assert_eq!(global.refund_closed_status(), "REFUNDCLOSE");
    }

    #[test]
    fn field_names_that_differ_by_region() {
        let mainland = kind(Region::Mainland, false);
        let global = kind(Region::Global, true);
        assert_eq!(mainland.order_number_field(), "transaction_id");
        assert_eq!(global.order_number_field(), "id");
        assert_eq!(mainland.trade_type(), None);
        assert_eq!(global.trade_type(), Some("NATIVE"));
        assert!(!mainland.takes_category_code() && global.takes_category_code());
        assert_eq!(global.region(), Region::Global);
    }
}

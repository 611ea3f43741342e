//! The keys whose default depends on `wechatpay.region`: the API hosts. On the mainland
//! `api.mch` with `api2.mch` as backup; on WeChat Pay Global `apihk.mch` with `api.mch` as
//! failover (WeChat Pay's advice for servers outside the mainland, `docs/wechatpay.md` §7).
//!
//! The key table (`keys.rs`) gives these keys their mainland default for the documentation;
//! loading leaves them unset unless the file or the environment sets them, and validation
//! asks [`region_default`] for the rest. This file does not know how a URL is checked.

use super::settings::Region;

/// The mainland API host, the default `api_base` with region `mainland`.
pub(super) const MAINLAND_API: &str = "https://api.mch.weixin.qq.com";
/// The mainland backup host, the default `backup_api_base` with region `mainland`.
pub(super) const MAINLAND_BACKUP_API: &str = "https://api2.mch.weixin.qq.com";
/// WeChat Pay Global's host for servers outside the mainland, the default `api_base` with
/// region `global`; its failover is the mainland host (WeChat Pay's own advice).
const GLOBAL_API: &str = "https://apihk.mch.weixin.qq.com";

/// Keys whose default depends on `wechatpay.region`: the loader gives them no default
/// layer, so that validation can tell an explicit value (file or environment, even `""`)
/// from none and fill in [`region_default`]. Their `Key::production` is the mainland
/// default.
pub(super) const REGION_DEFAULTED: &[&str] = &["wechatpay.api_base", "wechatpay.backup_api_base"];

/// The default of a [`REGION_DEFAULTED`] key under `region`; `None` for other keys.
pub(super) fn region_default(dotted: &str, region: Region) -> Option<&'static str> {
    match (dotted, region) {
        ("wechatpay.api_base", Region::Mainland) => Some(MAINLAND_API),
        ("wechatpay.api_base", Region::Global) => Some(GLOBAL_API),
        ("wechatpay.backup_api_base", Region::Mainland) => Some(MAINLAND_BACKUP_API),
        ("wechatpay.backup_api_base", Region::Global) => Some(MAINLAND_API),
        _ => None,
    }
}

//! Where WeChat Pay's API is and what its paths look like: the one place that knows which
//! WeChat Pay this merchant talks to.
//!
//! Today that is **mainland China, direct merchant** (直连商户) only:
//!
//! - hosts: `https://api.mch.weixin.qq.com`, backup `https://api2.mch.weixin.qq.com` (the
//!   defaults of `wechatpay.api_base` and `wechatpay.backup_api_base`; tests point them at the
//!   simulator);
//! - paths: `/v3/pay/transactions/…` with the merchant's `mchid`, and `/v3/certificates`.
//!
//! **Where the next regions and modes go** (`docs/wechatpay.md` §7). Both share the
//! signing, verification, HTTP and certificate code; they differ only in hosts, paths and
//! models, so each becomes a choice made here (a `Region` and a `Mode` read from the settings)
//! plus its own model file in `api/`:
//!
//! - *WeChat Pay Global*: host `apihk.mch.weixin.qq.com` (api.mch as failover), paths
//!   `/v3/global/transactions/…` and `/v3/global/certificates`; its body adds `trade_type` and
//!   `merchant_category_code`, and its query answer names the WeChat order `id` instead of
//!   `transaction_id` (`api/global/native.rs`).
//! - *Service provider (partner / institutional) mode*: `/v3/pay/partner/transactions/…` on the
//!   mainland, with `sp_mchid` and `sub_mchid` in the query and body instead of `mchid`.
//!
//! No other code in `wechatpay/` builds a path or names a host: the rest asks this file.

/// Prefix of the transactions API of a mainland direct merchant.
const TRANSACTIONS: &str = "/v3/pay/transactions";

/// The platform certificates of the mainland API (certificate mode).
pub(crate) const CERTIFICATES: &str = "/v3/certificates";

/// Where a Native order is placed (`POST`).
pub(crate) fn native_order() -> String {
    format!("{TRANSACTIONS}/native")
}

/// Where order `out_trade_no` of merchant `mchid` is queried (`GET`).
pub(crate) fn order_query(out_trade_no: &str, mchid: &str) -> String {
    format!("{TRANSACTIONS}/out-trade-no/{out_trade_no}?mchid={mchid}")
}

/// Where order `out_trade_no` is closed (`POST`, the `mchid` goes in the body).
pub(crate) fn order_close(out_trade_no: &str) -> String {
    format!("{TRANSACTIONS}/out-trade-no/{out_trade_no}/close")
}

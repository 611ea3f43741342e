//! WeChat Pay's error codes that wxprint acts on, by name, and [`code_is`] to compare them.
//!
//! WeChat Pay spells some codes two ways: the API v3 tables write `ORDER_NOT_EXIST`, older
//! pages and some answers `ORDERNOTEXIST` (`docs/wechatpay.md` §3.2). Always compare with
//! [`code_is`], never with `==`, so both spellings match. Codes that are only shown to the
//! cashier (`SIGN_ERROR`, `MCH_NOT_EXISTS`, `PARAM_ERROR`…) are passed through, not named here.
//! HTTP 429 is a rate limit whatever its code (`FREQUENCY_LIMITED`, …); WeChat Pay Global's
//! rate-limit codes ([`RATE_LIMITED`], [`RATELIMIT_EXCEEDED`]) are one under any status.

/// 404: no order with this `out_trade_no` (also what the online probe expects).
pub const ORDER_NOT_EXIST: &str = "ORDER_NOT_EXIST";
/// Closing an order that has been paid: query it to learn the payment.
pub const ORDER_PAID: &str = "ORDER_PAID";
/// Placing again an order that WeChat Pay has closed: it can no longer be paid.
pub const ORDER_CLOSED: &str = "ORDER_CLOSED";
/// 500: WeChat Pay's own failure; the same request may be sent again.
pub const SYSTEM_ERROR: &str = "SYSTEM_ERROR";
/// 202/4xx while the customer confirms the payment: try again.
pub const USER_PAYING: &str = "USER_PAYING";
/// WeChat Pay Global's rate limit (the older English status-code page).
pub const RATE_LIMITED: &str = "RATE_LIMITED";
/// WeChat Pay Global's rate limit (the Chinese status-code page, 2025).
pub const RATELIMIT_EXCEEDED: &str = "RATELIMIT_EXCEEDED";
/// `/v3/certificates` for a merchant that has no platform certificates (public-key mode only).
pub const RESOURCE_NOT_EXISTS: &str = "RESOURCE_NOT_EXISTS";

/// Whether `code`, as WeChat Pay sent it, is the code `name`: equal once underscores are
/// dropped, so `code_is("ORDERCLOSED", ORDER_CLOSED)` holds.
pub fn code_is(code: &str, name: &str) -> bool {
    code.bytes()
        .filter(|&b| b != b'_')
        .eq(name.bytes().filter(|&b| b != b'_'))
}

/// Whether an error answer is a rate limit: HTTP 429 whatever the code, or one of WeChat
/// Pay Global's rate-limit codes whatever the status.
pub fn is_rate_limit(status: u16, code: &str) -> bool {
    status == 429 || code_is(code, RATE_LIMITED) || code_is(code, RATELIMIT_EXCEEDED)
}

//! WeChat Pay's error codes that wxprint acts on, by name, and [`code_is`] to compare them.
//!
//! WeChat Pay spells some codes two ways: the API v3 tables write `ORDER_NOT_EXIST`, older
//! pages and some answers `ORDERNOTEXIST` (`docs/wechatpay.md` §3.2). Always compare with
//! [`code_is`], never with `==`, so both spellings match. Codes that are only shown to the
//! cashier (`SIGN_ERROR`, `MCH_NOT_EXISTS`, `PARAM_ERROR`…) are passed through, not named here;
//! HTTP 429 is keyed on the status, not on its code (`FREQUENCY_LIMITED`, `RATELIMIT_EXCEEDED`).

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
/// `/v3/certificates` for a merchant that has no platform certificates (public-key mode only).
pub const RESOURCE_NOT_EXISTS: &str = "RESOURCE_NOT_EXISTS";

/// Whether `code`, as WeChat Pay sent it, is the code `name`: equal once underscores are
/// dropped, so `code_is("ORDERCLOSED", ORDER_CLOSED)` holds.
pub fn code_is(code: &str, name: &str) -> bool {
    code.bytes()
        .filter(|&b| b != b'_')
        .eq(name.bytes().filter(|&b| b != b'_'))
}

//! WeChat Pay's API as data: the error codes, the request bodies and answers of each API
//! family, mapped into the neutral [`payment`](crate::payment) types, and the online probe.
//!
//! - `codes.rs`: the named error codes and [`code_is`](codes::code_is) (both spellings).
//! - `native.rs`: Native orders of a mainland direct merchant (place, query, close).
//! - `probe.rs`: `check-config --online`.
//!
//! Models only: no signing, no HTTP, no retries (`http/`), and no hosts or paths
//! (`region.rs`). A new region or family gets its own file here rather than a branch inside
//! an existing model: WeChat Pay Global's Native order (`trade_type`,
//! `merchant_category_code`, answers with `id` instead of `transaction_id`) goes beside
//! `native.rs`, not into it, as wechatpay-go keeps `services/payments/native` apart from
//! `services/partnerpayments/native`.

pub mod codes;
pub(crate) mod native;
mod probe;

pub use probe::ProbeReport;
pub(crate) use probe::probe;

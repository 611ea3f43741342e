//! WeChat Pay's API as data: the error codes, the request bodies and answers of each API
//! family, mapped into the neutral [`payment`](crate::payment) types, and the online probe.
//!
//! - `codes.rs`: the named error codes, [`code_is`](codes::code_is) (both spellings) and
//!   what counts as a rate limit.
//! - `native.rs`: Native orders (place, query, close) of every region and mode.
//! - `refund.rs`: refunds (apply, query, the notification's object) of every region and
//!   mode.
//! - `probe.rs`: `check-config --online` (the query probe and the `--order` test order).
//!
//! Models only: no signing, no HTTP, no retries (`http/`), and no paths or region/mode
//! choices (`region.rs`): the four kinds of merchant (mainland direct or service provider,
//! Global common or institutional) share one Native model, which asks `region::Api` for the
//! identity fields, `trade_type` and the answer's name for WeChat's order number.

pub mod codes;
pub(crate) mod native;
mod probe;
#[cfg(test)]
mod properties;
pub(crate) mod refund;

pub use probe::{OrderProbeError, OrderProbeReport, ProbeClose, ProbeReport};
pub(crate) use probe::{probe, probe_order};

//! Socket protocol v1: the serde types shared by the daemon and the CLI client.
//!
//! The wire format is UTF-8 JSON, one object per line, at most [`MAX_LINE`] bytes a line
//! including the `\n`. A request is an object with a string `op` and an optional `id`
//! (echoed on every message the request causes). The contract POS integrators build
//! against is `docs/protocol.md`; `tests/docs.rs` checks its examples against these types.
//!
//! - `request.rs`: what a POS sends ([`Request`], [`Op`]) and how a line is parsed;
//! - `shape.rs`: the JSON kind of every request field, checked before serde reads it;
//! - `checkout.rs`: the `checkout` op's order and receipt, with the shape checks;
//! - `event.rs`: what the daemon sends ([`Message`], [`Event`]);
//! - `refund.rs`: the `refund` op's arguments, refund states and amounts (extension);
//! - `drawer.rs`: the `drawer` op's pin and the drawer sensor's word (extension);
//! - `slip.rs`: the `slip` event, a payment or refund slip at the printer (extension);
//! - `status.rs`: job, print and printer states carried by events;
//! - `error.rs`: error codes and the `error` object.
//!
//! This module knows nothing of sockets, jobs or payment backends: it is the wire, only.

#![warn(missing_docs)]

mod checkout;
mod drawer;
mod error;
mod event;
mod refund;
mod request;
mod shape;
mod slip;
mod status;

pub use checkout::{Checkout, Order, OrderAmount, ReceiptLine, ReceiptSpec, validate_out_trade_no};
pub use drawer::{DRAWER_PINS, DrawerState};
pub use error::{ErrorBody, ErrorCode, RequestError};
pub use event::{Event, ExchangeRate, Message, PaidAmount};
pub use refund::{
    MAX_REASON_BYTES, MAX_REFUND_NO_LEN, Refund, RefundAmount, RefundState, RefundStatus,
    validate_out_refund_no,
};
pub use request::{OPS, Op, Request, parse_request};
pub use slip::SlipEvent;
pub use status::{
    CloseReason, DelayReason, JobState, JobStatus, LastError, Paper, PrintState, PrinterStatus,
    StatusAmount,
};

/// Protocol version, reported by `pong`.
pub const PROTOCOL_VERSION: u32 = 1;
/// Longest accepted line, newline included.
pub const MAX_LINE: usize = 65_536;
/// WeChat Pay takes any positive i64 in fen; we refuse absurd amounts (¥100,000,000).
pub const MAX_AMOUNT: i64 = 10_000_000_000;
/// Longest request `id`.
pub const MAX_ID_LEN: usize = 64;

#[cfg(test)]
mod tests;

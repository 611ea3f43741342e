//! wxprint: WeChat Pay Native QR receipts on ESC/POS printers, for shop registers.
//!
//! POS software hands the daemon a checkout over a Unix socket ([`server`], [`protocol`]);
//! the job state machine ([`jobs`]) places the order with a payment backend ([`payment`],
//! [`wechatpay`]), prints the `code_url` as a QR code ([`receipt`] → [`escpos`] →
//! [`printer`]), polls until the order is paid, expires or is cancelled, and reports every
//! step. Each step is committed to the [`journal`] first.
//!
//! # Layout
//!
//! One module per concern, lower layers knowing nothing of the upper ones (the full map,
//! with what each must not know, is `docs/architecture.md`; the socket contract is
//! `docs/protocol.md`):
//!
//! - wire and service: [`protocol`] (the serde types of protocol v1), [`server`] (socket,
//!   framing, connections);
//! - the money: [`money`] (an amount in its currency's minor unit), [`jobs`] (pure
//!   transitions beside the tasks that place, print, poll and close), [`journal`] (SQLite,
//!   durable before every event), [`payment`] (the backend trait and the sandbox),
//!   [`wechatpay`] (the API v3 backend);
//! - the paper: [`receipt`] (what a receipt says), [`escpos`] (bytes), [`printer`]
//!   (transports on their own thread), [`preview`] (bytes back to a picture);
//! - the rest: [`config`] (settings, keys, validation), [`clock`], [`metrics`] (fleet
//!   metrics for Prometheus, off by default).
//!
//! The `wxprint` binary (`src/main.rs`, `src/cli/`) uses this library like any other client.

#![warn(missing_docs)]

pub mod clock;
pub mod config;
pub mod escpos;
pub mod jobs;
pub mod journal;
pub mod metrics;
pub mod money;
pub mod notify;
pub mod payment;
pub mod preview;
pub mod printer;
pub mod protocol;
pub mod receipt;
pub mod server;
pub mod wechatpay;

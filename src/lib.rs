//! wxprint: WeChat Pay Native QR receipts on ESC/POS printers, for shop registers.
//!
//! POS software hands the daemon a checkout over a Unix socket ([`server`], [`protocol`]);
//! the job state machine ([`jobs`]) places the order with a payment backend ([`payment`]),
//! prints the `code_url` as a QR code ([`receipt`] → [`printer`]), polls until the order is
//! paid, expires or is cancelled, and reports every step. Each step is committed to the
//! [`journal`] first. See `DESIGN.md` for the contracts and the README for usage.

pub mod clock;
pub mod config;
pub mod escpos;
pub mod jobs;
pub mod journal;
pub mod money;
pub mod payment;
pub mod preview;
pub mod printer;
pub mod protocol;
pub mod receipt;
pub mod server;
pub mod wechatpay;

//! Test support shared by the daemon tests (`tests/daemon/`, `tests/printers.rs`,
//! `tests/wechatpay/`): start the real daemon in-process on a temporary socket, and talk to
//! it over that socket exactly as a POS does (one JSON object per line).
//!
//! - `daemon.rs`: [`Daemon`] and its [`Options`] (backend, printer, timings);
//! - `client.rs`: [`Client`], a POS connection, and [`Client::checkout_printed`];
//! - `qr.rs`: [`decode_qr`], the one QR reader (also used by `tests/cli.rs`).
//!
//! The test doubles are separate and independent of wxprint: `wechatpay_sim/` (with
//! `merchant.rs`, wxprint's settings for it) and `virtual_printer/`; each test binary that
//! needs one declares it next to this module.

mod client;
mod daemon;
mod qr;

use std::time::Duration;

use serde_json::{Value, json};

use wxprint::config::PollSchedule;
use wxprint::escpos::Layout;
use wxprint::jobs::JobsConfig;

pub use client::Client;
pub use daemon::{Daemon, Options};
pub use qr::decode_qr;

/// How long a test waits for any one message before failing.
pub const TIMEOUT: Duration = Duration::from_secs(10);

/// A WeChat Pay nobody answers: nothing listens on port 1. (Not a port found free and let
/// go: another test's server, or one of the daemon's own outgoing connections, may take it.)
#[allow(dead_code, reason = "tests/daemon and tests/wechatpay only")]
pub const UNREACHABLE_API: &str = "http://127.0.0.1:1";

/// The state machine's settings, with timings shrunk so tests run in milliseconds.
pub fn fast_config() -> JobsConfig {
    JobsConfig {
        order_ttl: Duration::from_secs(600),
        close_min_age: Duration::ZERO,
        time_expire_min: Duration::from_secs(1),
        place_timeout: Duration::from_secs(30),
        poll: PollSchedule {
            fast: Duration::from_millis(50),
            fast_window: Duration::from_secs(60),
            paying: Duration::from_millis(20),
            slow: Duration::from_millis(100),
        },
        receipt_title: "Test Shop".into(),
        receipt_footer: "Thank you".into(),
        paid_slip: false,
        layout: Layout::MM80,
        profile: "80mm".into(),
        print_timeout: Duration::from_millis(300),
        query_rate: 100,
        keep_finished: Duration::from_secs(30 * 24 * 3600),
        drawer: wxprint::escpos::DrawerPulse::default(),
    }
}

/// A checkout request like a POS would send.
pub fn checkout(no: &str, total: i64) -> Value {
    json!({
        "op": "checkout",
        "id": format!("co-{no}"),
        "order": {"out_trade_no": no, "description": "Latte x2", "amount": {"total": total}},
        "receipt": {"lines": [{"name": "Latte", "quantity": 2, "amount": total}]}
    })
}

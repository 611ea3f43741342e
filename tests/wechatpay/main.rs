//! The daemon with the real WeChat Pay API v3 backend, against the simulator
//! (`tests/support/wechatpay_sim/`), in both trust modes and under every fault kind.
//! What must hold: a QR is printed only from a verified answer and is the order's live
//! `code_url`; one checkout is one order; payments are reported with WeChat Pay's
//! transaction id, time and amounts; expiry and cancel end closed; the pay/close race
//! ends paid; a restart resumes polling; refunds end refunded, spaced and never doubled;
//! and all of it for each of the four merchant kinds
//! (mainland direct and partner, Global common and institutional) in their currencies.
//!
//! One test binary (`cargo test --test wechatpay`), a module per topic; the setup shared by
//! them is here.

#[path = "../support/merchant.rs"]
mod merchant;
#[path = "../support/mod.rs"]
mod support;
#[path = "../support/wechatpay_sim/mod.rs"]
mod wechatpay_sim;

mod closing;
mod credentials;
mod kinds;
mod kinds_wire;
mod placement;
mod queries;
mod refund;
mod refund_identity;
mod refund_retry;
mod restart_ordering;
mod rotation;

use std::path::Path;
use std::sync::Arc;
use std::time::Duration;

use support::{Client, Daemon, Options, checkout, decode_qr, fast_config};
use wechatpay_sim::{SimConfig, Simulator, Trust};
use wxprint::config::Settings;
use wxprint::jobs::JobsConfig;
use wxprint::wechatpay::WechatPay;

/// Settings for the real backend pointed at `sim`, with key files copied to `dir` at 0600,
/// and a request timeout short enough for the fault tests.
fn settings(dir: &Path, sim: &Simulator, trust: Trust) -> Settings {
    let mut s = merchant::settings(dir, sim, trust);
    s.wechatpay.request_timeout = Duration::from_millis(1500);
    s
}

/// A daemon on the real backend and the simulator it talks to.
struct Setup {
    _dir: tempfile::TempDir,
    sim: Simulator,
    daemon: Daemon,
}

async fn start(trust: Trust) -> Setup {
    start_with(trust, fast_config(), |_| {}).await
}

async fn start_with(trust: Trust, config: JobsConfig, tweak: impl FnOnce(&mut Settings)) -> Setup {
    start_account(SimConfig::from_fixtures(trust), config, tweak).await
}

/// A daemon configured as the merchant `account` (its kind, currency and trust mode), and
/// the simulator playing WeChat Pay for that merchant.
async fn start_account(
    account: SimConfig,
    config: JobsConfig,
    tweak: impl FnOnce(&mut Settings),
) -> Setup {
    let dir = tempfile::tempdir().unwrap();
    let trust = account.trust;
    let sim = Simulator::start(account).await;
    let mut s = settings(dir.path(), &sim, trust);
    tweak(&mut s);
    let daemon = start_daemon(dir.path(), &s, config).await;
    Setup {
        _dir: dir,
        sim,
        daemon,
    }
}

/// A daemon in `dir` on the real backend configured by `s`.
async fn start_daemon(dir: &Path, s: &Settings, config: JobsConfig) -> Daemon {
    let backend = Arc::new(WechatPay::from_settings(&s.wechatpay).unwrap());
    Daemon::start_with(
        dir,
        Options {
            config,
            backend: Some(backend),
            printer: None,
        },
    )
    .await
}

/// Wait (up to 10 s) until `done` holds.
async fn until(what: &str, done: impl Fn() -> bool) {
    for _ in 0..1000 {
        if done() {
            return;
        }
        tokio::time::sleep(Duration::from_millis(10)).await;
    }
    panic!("{what} did not happen");
}

/// Run `cases` at once, each a task on this test's runtime, and wait for them all; a case
/// that panics fails the test with its panic. For a test made of independent cases, each on
/// its own daemon and simulator, that mostly wait (backoffs, timeouts, expiries): their
/// waits overlap instead of adding up.
async fn at_once<F: Future<Output = ()> + 'static>(cases: impl IntoIterator<Item = F>) {
    let local = tokio::task::LocalSet::new();
    let all = async {
        let tasks: Vec<_> = cases.into_iter().map(tokio::task::spawn_local).collect();
        for task in tasks {
            if let Err(e) = task.await {
                std::panic::resume_unwind(e.into_panic());
            }
        }
    };
    local.run_until(all).await;
}

/// Checkout until printed; returns the announced code_url after checking that it is the
/// order's live one and that every receipt printed carries exactly it.
async fn checkout_printed(setup: &Setup, pos: &mut Client, no: &str) -> String {
    checkout_printed_with(setup, pos, no, checkout(no, 3200)).await
}

/// [`checkout_printed`] with the checkout `request` for order `no` as given.
async fn checkout_printed_with(
    setup: &Setup,
    pos: &mut Client,
    no: &str,
    request: serde_json::Value,
) -> String {
    let code_url = pos.checkout_printed(request).await.code_url;
    let order = setup.sim.order(no).expect("the order exists at WeChat Pay");
    assert_eq!(
        order.code_url, code_url,
        "the printed QR is the live code_url"
    );
    let receipts = setup.daemon.receipts();
    let of_this_order = receipts.iter().filter(|r| r.to_string_lossy().contains(no));
    for receipt in of_this_order {
        let qrs = decode_qr(&std::fs::read(receipt).unwrap(), 576);
        assert_eq!(qrs, vec![code_url.clone()], "{}", receipt.display());
    }
    code_url
}

//! `wxprint loopback` with the real binary, through a daemon (`wxprint serve`) printing over
//! TCP to the virtual printer of `tests/support/virtual_printer/`: a printer that does not
//! confirm is a WARN with its own exit code, `--json` prints the daemon's messages, and a
//! failed test cancels its order so that its receipt never prints.

#[path = "support/bin.rs"]
mod bin;
#[allow(
    dead_code,
    reason = "this binary verifies with a wrong key: one writer of two"
)]
#[path = "support/sim_config.rs"]
mod sim_config;
#[path = "support/virtual_printer/mod.rs"]
mod virtual_printer;
#[path = "support/wechatpay_sim/mod.rs"]
mod wechatpay_sim;

use std::path::Path;
use std::process::Output;
use std::time::Duration;

use virtual_printer::{Link, Paper, PrinterState, VirtualPrinter};

use bin::{Daemon, sandbox_config};

/// `wxprint serve` in `dir` on the sandbox, printing to `vp` over TCP.
fn serve(dir: &Path, vp: &VirtualPrinter) -> Daemon {
    let printer = format!("transport = \"tcp\"\naddress = \"{}\"", vp.address());
    bin::serve(dir, &sandbox_config(dir, &printer))
}

/// `wxprint ARGS` against the daemon in `dir`.
fn wxprint(dir: &Path, args: &[&str]) -> Output {
    bin::wxprint(dir, &[&["--socket", "./wxprint.sock"], args].concat())
}

/// A printer that never answers (wrong baud rate, broken RX wire): the payment path works,
/// the receipt goes out unconfirmed, and the verdict is WARN, exit 2, with what to check.
#[test]
fn a_silent_printer_is_a_warning_not_a_pass() {
    let dir = tempfile::tempdir().unwrap();
    let silent = PrinterState {
        silent: true,
        ..PrinterState::default()
    };
    let vp = VirtualPrinter::start_with(Link::Tcp, silent);
    let _daemon = serve(dir.path(), &vp);
    let out = wxprint(dir.path(), &["loopback"]);
    let text = String::from_utf8_lossy(&out.stdout);
    assert_eq!(out.status.code(), Some(2), "{text}");
    assert!(!text.contains("PASS") && !text.contains("FAIL"), "{text}");
    let warn = text.lines().find(|l| l.starts_with("WARN:")).expect(&text);
    for hint in ["did not confirm", "baud_rate", "flow_control", "cable"] {
        assert!(warn.contains(hint), "{hint} missing: {warn}");
    }
    assert!(text.contains("paid (sandbox)"), "{text}");

    // --json: stdout is the daemon's messages, raw; the verdict on stderr.
    let out = wxprint(dir.path(), &["--json", "loopback"]);
    assert_eq!(out.status.code(), Some(2));
    let stdout = String::from_utf8_lossy(&out.stdout);
    let messages: Vec<serde_json::Value> = stdout
        .lines()
        .map(|l| serde_json::from_str(l).unwrap_or_else(|e| panic!("{e}: {l}")))
        .collect();
    let printed = messages
        .iter()
        .find(|m| m["event"] == "printed")
        .expect(&stdout);
    assert_eq!(printed["confirmed"], false, "{printed}");
    assert!(messages.iter().any(|m| m["event"] == "paid"), "{stdout}");
    assert!(String::from_utf8_lossy(&out.stderr).contains("WARN:"));
}

/// A printer that confirms: PASS, exit 0.
#[test]
fn a_confirming_printer_passes() {
    let dir = tempfile::tempdir().unwrap();
    let vp = VirtualPrinter::start(Link::Tcp);
    let _daemon = serve(dir.path(), &vp);
    let out = wxprint(dir.path(), &["loopback"]);
    let text = String::from_utf8_lossy(&out.stdout);
    assert!(out.status.success(), "{text}");
    assert!(
        text.contains("printer confirmed (GS r)") && text.contains("PASS"),
        "{text}"
    );
}

/// Paper out: FAIL, and the test order is cancelled — not payable, and its receipt does
/// not print when the paper is back.
#[test]
fn a_failed_loopback_cancels_its_order_and_its_receipt() {
    let dir = tempfile::tempdir().unwrap();
    let out_of_paper = PrinterState {
        paper: Paper::Out,
        ..PrinterState::default()
    };
    let vp = VirtualPrinter::start_with(Link::Tcp, out_of_paper);
    let _daemon = serve(dir.path(), &vp);
    let out = wxprint(dir.path(), &["loopback"]);
    let text = String::from_utf8_lossy(&out.stdout);
    assert_eq!(out.status.code(), Some(1), "{text}");
    let fail = text.lines().find(|l| l.starts_with("FAIL:")).expect(&text);
    assert!(fail.contains("paper out"), "{fail}");
    assert!(
        fail.contains("is cancelled; its receipt will not print"),
        "{fail}"
    );
    let no = fail
        .split_whitespace()
        .find(|w| w.starts_with("LOOP"))
        .expect(fail);

    vp.set_state(|s| s.paper = Paper::Ok);
    // The daemon retries a held receipt every 2 s: give it two chances to (wrongly) print.
    std::thread::sleep(Duration::from_secs(5));
    assert!(
        vp.receipts().is_empty(),
        "the cancelled test's receipt printed"
    );
    let status = wxprint(dir.path(), &["--json", "status", no]);
    let status: serde_json::Value = serde_json::from_str(
        String::from_utf8_lossy(&status.stdout)
            .lines()
            .next()
            .unwrap(),
    )
    .unwrap();
    assert!(
        status["state"] == "cancelling" || status["state"] == "closed",
        "{status}"
    );
    assert_eq!(status["print"], "pending", "{status}");
}

/// `loopback --live` with a wrong WeChat Pay public key: every answer fails verification.
/// The output says so — the `delayed` stage and the FAIL name the signature — instead of a
/// bare "no progress".
#[test]
fn a_live_loopback_says_why_wechat_pay_makes_no_progress() {
    let dir = tempfile::tempdir().unwrap();
    let runtime = tokio::runtime::Runtime::new().unwrap();
    let sim = runtime.block_on(wechatpay_sim::Simulator::start(
        wechatpay_sim::SimConfig::from_fixtures(wechatpay_sim::Trust::PublicKey),
    ));
    // The merchant's own public key is not WeChat Pay's: nothing verifies.
    let config = sim_config::write_verifying(
        dir.path(),
        &sim,
        "merchant_pub.pem",
        "request_timeout = \"1500ms\"\nplace_timeout = \"6s\"\n",
        &format!(
            "[printer]\ntransport = \"file\"\ndevice = \"{}/receipts\"\n",
            dir.path().display()
        ),
    );
    let _daemon = bin::serve(dir.path(), &config);
    let out = wxprint(dir.path(), &["loopback", "--live", "--wait", "5"]);
    let text = String::from_utf8_lossy(&out.stdout);
    assert_eq!(out.status.code(), Some(1), "{text}");
    let delayed = text
        .lines()
        .find(|l| l.starts_with("delayed: unverified_answer (attempt 1)"))
        .expect(&text);
    assert!(delayed.contains("signature does not match"), "{delayed}");
    let fail = text.lines().find(|l| l.starts_with("FAIL:")).expect(&text);
    for part in [
        "no verified answer from WeChat Pay",
        "signature does not match",
    ] {
        assert!(fail.contains(part), "{part}: {fail}");
    }
    drop(sim);
}

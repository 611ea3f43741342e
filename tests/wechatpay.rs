//! The daemon with the real WeChat Pay API v3 backend, against the simulator
//! (`tests/support/wechatpay_sim.rs`), in both trust modes and under every fault kind.
//! What must hold: a QR is printed only from a verified answer and is the order's live
//! `code_url`; one checkout is one order; payments are reported with WeChat Pay's
//! transaction id, time and amounts; expiry and cancel end closed; the pay/close race
//! ends paid; a restart resumes polling.

mod support;

use std::path::Path;
use std::sync::Arc;
use std::time::Duration;

use serde_json::json;
use support::wechatpay_sim::{Endpoint, Fault, SimConfig, Simulator, TradeState, Trust};
use support::{Client, Daemon, Options, checkout, decode_qr, fast_config};
use wxprint::config::{Backend, Settings};
use wxprint::wechatpay::WechatPay;

const FIXTURES: &str = concat!(env!("CARGO_MANIFEST_DIR"), "/tests/fixtures/wechatpay");

/// Settings for the real backend pointed at `sim`, with key files copied to `dir` at 0600.
fn settings(dir: &Path, sim: &Simulator, trust: Trust) -> Settings {
    use std::os::unix::fs::PermissionsExt;
    let keys = dir.join("keys");
    std::fs::create_dir_all(&keys).unwrap();
    for file in ["merchant_key.pem", "platform_pub.pem", "apiv3_key.txt"] {
        let to = keys.join(file);
        std::fs::copy(Path::new(FIXTURES).join(file), &to).unwrap();
        std::fs::set_permissions(&to, std::fs::Permissions::from_mode(0o600)).unwrap();
    }
    let mut s = Settings::sandbox_defaults();
    let w = &mut s.wechatpay;
    w.backend = Backend::WechatPay;
    w.api_base = sim.base_url.clone();
    w.backup_api_base = String::new();
    w.appid = "wxd678efh567hg6787".into();
    w.mchid = "1230000109".into();
    w.merchant_serial_no = "7D3A1F0E5C2B4A6978E1D0C3B2A1F0E9D8C7B6A5".into();
    w.private_key_file = keys.join("merchant_key.pem");
    w.notify_url = "https://merchant.example/wechatpay/notify".into();
    w.request_timeout = Duration::from_millis(1500);
    match trust {
        Trust::PublicKey => {
            w.public_key_id = "PUB_KEY_ID_0114232000000000000000000000000001".into();
            w.public_key_file = keys.join("platform_pub.pem");
        }
        Trust::Certificate => {
            w.public_key_id = String::new();
            w.apiv3_key_file = Some(keys.join("apiv3_key.txt"));
        }
        Trust::Both => {
            w.public_key_id = "PUB_KEY_ID_0114232000000000000000000000000001".into();
            w.public_key_file = keys.join("platform_pub.pem");
            w.apiv3_key_file = Some(keys.join("apiv3_key.txt"));
        }
    }
    s
}

struct Setup {
    _dir: tempfile::TempDir,
    sim: Simulator,
    daemon: Daemon,
}

async fn start(trust: Trust) -> Setup {
    start_with(trust, fast_config(), |_| {}).await
}

async fn start_with(
    trust: Trust,
    config: wxprint::jobs::JobsConfig,
    tweak: impl FnOnce(&mut Settings),
) -> Setup {
    let dir = tempfile::tempdir().unwrap();
    let sim = Simulator::start(SimConfig::from_fixtures(trust)).await;
    let mut s = settings(dir.path(), &sim, trust);
    tweak(&mut s);
    let backend = Arc::new(WechatPay::from_settings(&s.wechatpay).unwrap());
    let daemon = Daemon::start_with(
        dir.path(),
        Options {
            config,
            backend: Some(backend),
            printer: None,
        },
    )
    .await;
    Setup {
        _dir: dir,
        sim,
        daemon,
    }
}

/// Checkout until printed; returns the announced code_url after checking that it is the
/// order's live one and that every receipt printed carries exactly it.
async fn checkout_printed(setup: &Setup, pos: &mut Client, no: &str) -> String {
    pos.send(checkout(no, 3200)).await;
    pos.expect("accepted").await;
    let code_url = pos.expect("code_url").await["code_url"]
        .as_str()
        .unwrap()
        .to_owned();
    assert_eq!(pos.expect("printed").await["print"], "printed");
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

#[tokio::test]
async fn pays_in_every_trust_mode() {
    for trust in [Trust::PublicKey, Trust::Certificate, Trust::Both] {
        let setup = start(trust).await;
        let mut pos = setup.daemon.connect().await;
        checkout_printed(&setup, &mut pos, "T20261126001").await;
        assert!(setup.sim.pay("T20261126001"));
        let paid = pos.expect("paid").await;
        assert_eq!(paid["state"], "paid");
        let order = setup.sim.order("T20261126001").unwrap();
        assert_eq!(
            paid["transaction_id"],
            order.payment.unwrap().transaction_id.as_str()
        );
        assert!(paid["success_time"].as_str().unwrap().ends_with("+08:00"));
        assert_eq!(
            paid["amount"],
            json!({"total": 3200, "payer_total": 3200, "currency": "CNY"})
        );
        assert_eq!(order.placed, 1, "{trust:?}: one checkout, one order");
        assert_eq!(setup.daemon.receipts().len(), 1);
        // Every request carried our User-Agent, and in public-key mode the key id.
        for r in setup.sim.requests() {
            assert!(
                r.user_agent().unwrap_or("").starts_with("wxprint/"),
                "{r:?}"
            );
            if trust == Trust::PublicKey {
                assert_eq!(
                    r.wechatpay_serial(),
                    Some("PUB_KEY_ID_0114232000000000000000000000000001")
                );
            }
        }
        setup.daemon.shutdown().await;
    }
}

/// Faults on the Native call: whatever happens, the QR printed is the verified, live one,
/// and there is one receipt.
#[tokio::test]
async fn placement_faults_never_print_an_unverified_or_dead_qr() {
    let faults = [
        Fault::Status500,
        Fault::Status502,
        Fault::Status202,
        Fault::Status429,
        Fault::BadSignature,
        Fault::StaleTimestamp,
        Fault::WrongSerial,
        Fault::MalformedJson,
        Fault::SignTest,
        Fault::Reset,
        Fault::LoseAnswer,
        Fault::Timeout,
        Fault::Delay(Duration::from_millis(300)),
    ];
    for (i, fault) in faults.into_iter().enumerate() {
        let setup = start(Trust::PublicKey).await;
        setup.sim.inject(Endpoint::Native, fault.clone(), 2);
        let mut pos = setup.daemon.connect().await;
        let no = format!("T2026112610{i:02}");
        checkout_printed(&setup, &mut pos, &no).await;
        assert_eq!(setup.daemon.receipts().len(), 1, "{fault:?}");
        assert!(setup.sim.pay(&no));
        pos.expect("paid").await;
        setup.daemon.shutdown().await;
    }
}

/// Faults on queries: answers that do not verify are discarded — even when they claim the
/// order is paid — and the real payment is still reported.
#[tokio::test]
async fn query_faults_are_discarded_and_the_payment_still_reported() {
    let setup = start(Trust::PublicKey).await;
    let mut pos = setup.daemon.connect().await;
    checkout_printed(&setup, &mut pos, "T2026112620").await;
    // Spoiled answers now say SUCCESS although nobody paid: believing one would report a
    // payment that never happened.
    setup.sim.forge_spoiled_answers_as_paid(true);
    let forged = [
        Fault::BadSignature,
        Fault::StaleTimestamp,
        Fault::WrongSerial,
        Fault::SignTest,
        Fault::BadSignature,
        Fault::SignTest,
    ];
    for fault in forged.clone() {
        setup.sim.inject(Endpoint::Query, fault, 1);
    }
    for fault in [
        Fault::MalformedJson,
        Fault::Status500,
        Fault::Status429,
        Fault::Reset,
    ] {
        setup.sim.inject(Endpoint::Query, fault, 1);
    }
    // No `paid` may arrive while every fault is served.
    let served = || {
        setup
            .sim
            .requests_to(Endpoint::Query)
            .into_iter()
            .filter(|r| r.fault.is_some())
            .count()
    };
    for _ in 0..20 {
        if served() == forged.len() + 4 {
            break;
        }
        pos.silent_for(Duration::from_secs(1)).await;
    }
    assert_eq!(served(), forged.len() + 4, "every fault was served");
    pos.silent_for(Duration::from_millis(1500)).await;
    assert_eq!(
        setup.sim.order("T2026112620").unwrap().state,
        TradeState::NotPay
    );

    setup.sim.forge_spoiled_answers_as_paid(false);
    assert!(setup.sim.pay("T2026112620"));
    let paid = pos.expect("paid").await;
    assert_eq!(paid["amount"]["total"], 3200);
    setup.daemon.shutdown().await;
}

/// Configuration errors fail the job with WeChat Pay's code, message and Request-ID.
#[tokio::test]
async fn configuration_errors_fail_with_wechat_pay_code() {
    for (status, code) in [
        (401, "SIGN_ERROR"),
        (400, "MCH_NOT_EXISTS"),
        (400, "APPID_MCHID_NOT_MATCH"),
        (403, "NO_AUTH"),
        (400, "PARAM_ERROR"),
    ] {
        let setup = start(Trust::PublicKey).await;
        setup.sim.inject(
            Endpoint::Native,
            Fault::Error {
                status,
                code: code.into(),
                message: format!("{code} from the simulator"),
            },
            1,
        );
        let mut pos = setup.daemon.connect().await;
        pos.send(checkout("T2026112630", 100)).await;
        pos.expect("accepted").await;
        let failed = pos.expect("failed").await;
        assert_eq!(failed["error"]["code"], "wechatpay");
        assert_eq!(failed["error"]["wechatpay_code"], code);
        assert!(failed["error"]["message"].as_str().unwrap().contains(code));
        assert!(failed["error"]["request_id"].as_str().is_some(), "{failed}");
        assert!(setup.daemon.receipts().is_empty());
        setup.daemon.shutdown().await;
    }
}

/// The merchant key's real signature is what the simulator checks: a wrong merchant serial
/// gets SIGN_ERROR from "WeChat Pay" and fails the job.
#[tokio::test]
async fn wrong_merchant_serial_is_a_sign_error() {
    let setup = start_with(Trust::PublicKey, fast_config(), |s| {
        s.wechatpay.merchant_serial_no = "0000000000000000000000000000000000000000".into();
    })
    .await;
    let mut pos = setup.daemon.connect().await;
    pos.send(checkout("T2026112631", 100)).await;
    pos.expect("accepted").await;
    let failed = pos.expect("failed").await;
    assert_eq!(failed["error"]["wechatpay_code"], "SIGN_ERROR");
    setup.daemon.shutdown().await;
}

/// Cancel: closed only when the order is old enough, then `closed{cancelled}`; the
/// pay/close race ends `paid`.
#[tokio::test]
async fn cancel_closes_after_close_min_age_and_a_racing_payment_wins() {
    let mut config = fast_config();
    config.close_min_age = Duration::from_millis(800);
    let setup = start_with(Trust::PublicKey, config, |_| {}).await;
    let mut pos = setup.daemon.connect().await;
    checkout_printed(&setup, &mut pos, "T2026112640").await;
    let mut cashier = setup.daemon.connect().await;
    cashier
        .send(json!({"op": "cancel", "out_trade_no": "T2026112640"}))
        .await;
    cashier.expect("cancelling").await;
    assert_eq!(cashier.expect("closed").await["reason"], "cancelled");
    let order = setup.sim.order("T2026112640").unwrap();
    let age = order
        .closed_at
        .unwrap()
        .duration_since(order.created_at)
        .unwrap();
    assert!(
        age >= Duration::from_millis(800),
        "closed {age:?} after creation"
    );

    pos.expect("cancelling").await;
    pos.expect("closed").await;

    // The race: the customer pays while the close is on its way.
    checkout_printed(&setup, &mut pos, "T2026112641").await;
    setup
        .sim
        .inject(Endpoint::Close, Fault::Delay(Duration::from_millis(300)), 1);
    cashier
        .send(json!({"op": "cancel", "out_trade_no": "T2026112641"}))
        .await;
    cashier.expect("cancelling").await;
    tokio::time::sleep(Duration::from_millis(900)).await; // the close is in flight now
    assert!(setup.sim.pay("T2026112641"));
    assert_eq!(cashier.expect("paid").await["state"], "paid");
    let close = setup
        .sim
        .requests_to(Endpoint::Close)
        .into_iter()
        .rfind(|r| r.path.contains("T2026112641"))
        .expect("a close was sent");
    assert!(
        matches!(
            close.error_code.as_deref(),
            Some("ORDERPAID" | "ORDER_PAID")
        ),
        "the close lost the race: {:?}",
        close.error_code
    );
    setup.daemon.shutdown().await;
}

/// An unpaid order is closed at time_expire (closed loop).
#[tokio::test]
async fn expiry_closes_the_order_at_wechat_pay() {
    let mut config = fast_config();
    config.order_ttl = Duration::from_millis(1500);
    let setup = start_with(Trust::PublicKey, config, |_| {}).await;
    let mut pos = setup.daemon.connect().await;
    pos.send(checkout("T2026112650", 100)).await;
    pos.expect("accepted").await;
    pos.expect("code_url").await;
    pos.expect("printed").await;
    assert_eq!(pos.expect("closed").await["reason"], "expired");
    assert_eq!(
        setup.sim.order("T2026112650").unwrap().state,
        TradeState::Closed
    );
    setup.daemon.shutdown().await;
}

/// A restart resumes polling: a payment made while the daemon was down is reported.
#[tokio::test]
async fn restart_resumes_polling() {
    let dir = tempfile::tempdir().unwrap();
    let sim = Simulator::start(SimConfig::from_fixtures(Trust::PublicKey)).await;
    let s = settings(dir.path(), &sim, Trust::PublicKey);
    let start = || async {
        let backend = Arc::new(WechatPay::from_settings(&s.wechatpay).unwrap());
        Daemon::start_with(
            dir.path(),
            Options {
                config: fast_config(),
                backend: Some(backend),
                printer: None,
            },
        )
        .await
    };
    let daemon = start().await;
    let mut pos = daemon.connect().await;
    let mut request = checkout("T2026112660", 990);
    request["follow"] = json!(false);
    pos.send(request.clone()).await;
    pos.expect("accepted").await;
    let code_url = pos.expect("code_url").await["code_url"].clone();
    pos.expect("printed").await;
    daemon.shutdown().await;

    assert!(sim.pay("T2026112660"));
    let daemon = start().await;
    let mut pos = daemon.connect().await;
    request["follow"] = json!(true);
    pos.send(request).await;
    assert_eq!(pos.expect("accepted").await["resumed"], true);
    assert_eq!(pos.expect("code_url").await["code_url"], code_url);
    pos.expect("printed").await;
    assert_eq!(pos.expect("paid").await["amount"]["total"], 990);
    assert_eq!(
        sim.order("T2026112660").unwrap().placed,
        1,
        "not placed again"
    );
    daemon.shutdown().await;
}

/// A connection failure on the primary host goes to the backup host, freshly signed.
#[tokio::test]
async fn unreachable_primary_falls_back_to_the_backup_host() {
    let setup = start_with(Trust::PublicKey, fast_config(), |s| {
        let dead = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
        let port = dead.local_addr().unwrap().port();
        drop(dead); // nothing listens there now
        s.wechatpay.backup_api_base = s.wechatpay.api_base.clone();
        s.wechatpay.api_base = format!("http://127.0.0.1:{port}");
    })
    .await;
    let mut pos = setup.daemon.connect().await;
    checkout_printed(&setup, &mut pos, "T2026112670").await;
    setup.daemon.shutdown().await;
}

/// `check-config --online`'s probe proves the credentials; in public-key-only mode a
/// certificate download is refused with advice.
#[tokio::test]
async fn online_probe() {
    let dir = tempfile::tempdir().unwrap();
    let sim = Simulator::start(SimConfig::from_fixtures(Trust::PublicKey)).await;
    let s = settings(dir.path(), &sim, Trust::PublicKey);
    let backend = WechatPay::from_settings(&s.wechatpay).unwrap();
    let report = backend.probe().await.unwrap();
    assert!(report.request_id.is_some());

    let s = settings(dir.path(), &sim, Trust::Certificate);
    let backend = WechatPay::from_settings(&s.wechatpay).unwrap();
    let e = backend.probe().await.unwrap_err().to_string();
    assert!(e.contains("public-key mode"), "{e}");
}

/// Key files readable by others are refused, naming the file and the fix.
#[test]
fn key_files_must_be_private() {
    use std::os::unix::fs::PermissionsExt;
    let dir = tempfile::tempdir().unwrap();
    let mut s = Settings::sandbox_defaults();
    let key = dir.path().join("apiclient_key.pem");
    std::fs::copy(Path::new(FIXTURES).join("merchant_key.pem"), &key).unwrap();
    std::fs::set_permissions(&key, std::fs::Permissions::from_mode(0o644)).unwrap();
    s.wechatpay.private_key_file = key.clone();
    s.wechatpay.mchid = "1230000109".into();
    let e = WechatPay::from_settings(&s.wechatpay)
        .unwrap_err()
        .to_string();
    assert!(
        e.contains("chmod 600") && e.contains(key.to_str().unwrap()),
        "{e}"
    );
}

/// Faults on the close: the order still ends closed, and only after WeChat Pay closed it.
#[tokio::test]
async fn close_faults_still_end_closed() {
    let setup = start(Trust::PublicKey).await;
    let mut pos = setup.daemon.connect().await;
    checkout_printed(&setup, &mut pos, "T2026112680").await;
    for fault in [
        Fault::Status500,
        Fault::BadSignature,
        Fault::Reset,
        Fault::SignTest,
        Fault::Status429,
    ] {
        setup.sim.inject(Endpoint::Close, fault, 1);
    }
    pos.send(json!({"op": "cancel", "out_trade_no": "T2026112680"}))
        .await;
    pos.expect("cancelling").await;
    pos.expect("cancelling").await; // the checkout's own stream hears it too
    let closed = pos.expect("closed").await;
    assert_eq!(closed["reason"], "cancelled");
    let order = setup.sim.order("T2026112680").unwrap();
    assert_eq!(order.state, TradeState::Closed);
    setup.daemon.shutdown().await;
}

/// Certificate mode: a failed certificate download is retried, and an answer signed with
/// a serial we do not know yet makes us download again.
#[tokio::test]
async fn certificate_mode_recovers_from_download_faults() {
    let setup = start(Trust::Certificate).await;
    setup
        .sim
        .inject(Endpoint::Certificates, Fault::Status500, 1);
    let mut pos = setup.daemon.connect().await;
    checkout_printed(&setup, &mut pos, "T2026112690").await;
    assert!(setup.sim.pay("T2026112690"));
    pos.expect("paid").await;
    let downloads = setup.sim.requests_to(Endpoint::Certificates);
    assert!(downloads.len() >= 2, "retried: {}", downloads.len());
    setup.daemon.shutdown().await;
}

/// An order whose placement answer was lost, then the daemon restarted with another
/// notify_url: the retry resends the exact stored request, so WeChat Pay accepts it as the
/// same order (a rebuilt body would be refused: "参数与首次请求时不一致").
#[tokio::test]
async fn retried_placement_resends_the_stored_request_after_a_restart() {
    let tmp = tempfile::tempdir().unwrap();
    let dir = tmp.path();
    let sim = Simulator::start(SimConfig::from_fixtures(Trust::PublicKey)).await;
    let start = |notify_url: &'static str| {
        let mut s = settings(dir, &sim, Trust::PublicKey);
        s.wechatpay.notify_url = notify_url.into();
        async move {
            let backend = Arc::new(WechatPay::from_settings(&s.wechatpay).unwrap());
            Daemon::start_with(
                dir,
                Options {
                    config: fast_config(),
                    backend: Some(backend),
                    printer: None,
                },
            )
            .await
        }
    };
    sim.inject(Endpoint::Native, Fault::LoseAnswer, 1);
    let daemon = start("https://merchant.example/wechatpay/notify").await;
    let mut pos = daemon.connect().await;
    pos.send(checkout("T2026112695", 100)).await;
    pos.expect("accepted").await;
    // The order now exists at WeChat Pay, its answer lost; stop before the retry.
    for _ in 0..100 {
        if sim.order("T2026112695").is_some() {
            break;
        }
        tokio::time::sleep(Duration::from_millis(10)).await;
    }
    daemon.shutdown().await;
    assert!(daemon_receipts_empty(dir));

    let daemon = start("https://merchant.example/another/notify").await;
    let mut pos = daemon.connect().await;
    pos.send(checkout("T2026112695", 100)).await;
    assert_eq!(pos.expect("accepted").await["resumed"], true);
    let code_url = pos.expect("code_url").await["code_url"].clone();
    pos.expect("printed").await;
    let order = sim.order("T2026112695").unwrap();
    assert_eq!(order.code_url, code_url.as_str().unwrap());
    assert!(order.placed >= 2, "placed again, identically");
    daemon.shutdown().await;
}

fn daemon_receipts_empty(dir: &Path) -> bool {
    std::fs::read_dir(dir.join("receipts")).map_or(true, |mut d| d.next().is_none())
}

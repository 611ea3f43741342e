//! Placing the order: in every trust mode and under every fault on the Native call, the QR
//! printed is the verified, live `code_url` of one order; WeChat Pay's refusals fail the job
//! with its code; the backup host; a retried placement resends the stored request.

use std::path::Path;
use std::time::Duration;

use serde_json::json;

use crate::support::checkout;
use crate::wechatpay_sim::{Endpoint, Fault, SimConfig, Simulator, Trust};
use crate::{
    at_once, checkout_printed, fast_config, settings, start, start_daemon, start_with, until,
};

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
            json!({"total": 3200, "payer_total": 3200, "currency": "CNY", "payer_currency": "CNY"})
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
    // Each fault on its own daemon and simulator, all at once: each waits out the
    // client's backoff twice.
    at_once(faults.into_iter().enumerate().map(|(i, fault)| async move {
        let setup = start(Trust::PublicKey).await;
        setup.sim.inject(Endpoint::Native, fault.clone(), 2);
        let mut pos = setup.daemon.connect().await;
        let no = format!("T2026112610{i:02}");
        checkout_printed(&setup, &mut pos, &no).await;
        assert_eq!(setup.daemon.receipts().len(), 1, "{fault:?}");
        assert!(setup.sim.pay(&no));
        pos.expect("paid").await;
        setup.daemon.shutdown().await;
    }))
    .await;
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

/// A connection failure on the primary host goes to the backup host, freshly signed.
#[tokio::test]
async fn unreachable_primary_falls_back_to_the_backup_host() {
    let setup = start_with(Trust::PublicKey, fast_config(), |s| {
        s.wechatpay.backup_api_base = s.wechatpay.api_base.clone();
        s.wechatpay.api_base = crate::support::UNREACHABLE_API.into();
    })
    .await;
    let mut pos = setup.daemon.connect().await;
    checkout_printed(&setup, &mut pos, "T2026112670").await;
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
        async move { start_daemon(dir, &s, fast_config()).await }
    };
    sim.inject(Endpoint::Native, Fault::LoseAnswer, 1);
    let daemon = start("https://merchant.example/wechatpay/notify").await;
    let mut pos = daemon.connect().await;
    pos.send(checkout("T2026112695", 100)).await;
    pos.expect("accepted").await;
    // The order now exists at WeChat Pay, its answer lost; stop before the retry.
    until("the placement at WeChat Pay", || {
        sim.order("T2026112695").is_some()
    })
    .await;
    daemon.shutdown().await;
    assert!(daemon_receipts_empty(dir));

    let daemon = start("https://merchant.example/another/notify").await;
    let mut pos = daemon.connect().await;
    let resumed = pos.checkout_printed(checkout("T2026112695", 100)).await;
    assert_eq!(resumed.accepted["resumed"], true);
    let order = sim.order("T2026112695").unwrap();
    assert_eq!(order.code_url, resumed.code_url);
    assert!(order.placed >= 2, "placed again, identically");
    daemon.shutdown().await;
}

fn daemon_receipts_empty(dir: &Path) -> bool {
    std::fs::read_dir(dir.join("receipts")).map_or(true, |mut d| d.next().is_none())
}

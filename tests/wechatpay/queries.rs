//! Polling: query answers that do not verify are discarded (even forged "paid" ones) and
//! the real payment is still reported; a restart resumes polling.

use std::time::Duration;

use serde_json::json;

use crate::support::checkout;
use crate::wechatpay_sim::{Endpoint, Fault, SimConfig, Simulator, TradeState, Trust};
use crate::{checkout_printed, fast_config, settings, start, start_daemon};

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

/// A restart resumes polling: a payment made while the daemon was down is reported.
#[tokio::test]
async fn restart_resumes_polling() {
    let dir = tempfile::tempdir().unwrap();
    let sim = Simulator::start(SimConfig::from_fixtures(Trust::PublicKey)).await;
    let s = settings(dir.path(), &sim, Trust::PublicKey);
    let start = || start_daemon(dir.path(), &s, fast_config());
    let daemon = start().await;
    let mut pos = daemon.connect().await;
    let mut request = checkout("T2026112660", 990);
    request["follow"] = json!(false);
    let code_url = pos.checkout_printed(request.clone()).await.code_url;
    daemon.shutdown().await;

    assert!(sim.pay("T2026112660"));
    let daemon = start().await;
    let mut pos = daemon.connect().await;
    request["follow"] = json!(true);
    let resumed = pos.checkout_printed(request).await;
    assert_eq!(resumed.accepted["resumed"], true);
    assert_eq!(resumed.code_url, code_url);
    assert_eq!(pos.expect("paid").await["amount"]["total"], 990);
    assert_eq!(
        sim.order("T2026112660").unwrap().placed,
        1,
        "not placed again"
    );
    daemon.shutdown().await;
}

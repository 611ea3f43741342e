//! A job still `ordering` when the daemon stopped may have been placed: its placement
//! reached WeChat Pay, its answer did not come back. Resumed after a restart, with WeChat
//! Pay now refusing every placement, the checkout fails — and the order that exists at
//! WeChat Pay is queried and closed there, never assumed not to exist and left open.

use std::time::Duration;

use serde_json::json;

use super::{settings, start_daemon, until};
use crate::support::{checkout, fast_config};
use crate::wechatpay_sim::{Endpoint, Fault, SimConfig, Simulator, TradeState, Trust};

#[tokio::test]
async fn a_job_resumed_while_ordering_closes_its_order_when_the_placement_fails() {
    let tmp = tempfile::tempdir().unwrap();
    let dir = tmp.path();
    let sim = Simulator::start(SimConfig::from_fixtures(Trust::PublicKey)).await;
    let s = settings(dir, &sim, Trust::PublicKey);
    let no = "T2026120901";

    // Placed at WeChat Pay, the answer lost; the daemon stops before it asks again.
    sim.inject(Endpoint::Native, Fault::LoseAnswer, 1);
    let daemon = start_daemon(dir, &s, fast_config()).await;
    let mut pos = daemon.connect().await;
    pos.send(checkout(no, 100)).await;
    pos.expect("accepted").await;
    until("the placement", || sim.order(no).is_some()).await;
    daemon.shutdown().await;
    assert_eq!(sim.requests_to(Endpoint::Native).len(), 1);

    // After the restart WeChat Pay refuses the placement for good.
    sim.clear_faults();
    let refusal = Fault::error(403, "NO_AUTH", "商户无权限");
    sim.inject(Endpoint::Native, refusal, 1_000);
    let daemon = start_daemon(dir, &s, fast_config()).await;
    until("the close at WeChat Pay", || {
        sim.order(no).is_some_and(|o| o.state == TradeState::Closed)
    })
    .await;
    assert!(
        !sim.requests_to(Endpoint::Query).is_empty(),
        "queried before it was closed (a payment racing the close wins)"
    );
    assert_eq!(
        sim.requests_to(Endpoint::Native).len(),
        2,
        "placed again once"
    );

    // The query after the close settles it: closed, with the refusal that ended it.
    let mut pos = daemon.connect().await;
    let mut status = json!(null);
    for _ in 0..500 {
        status = pos
            .call(json!({"op": "status", "id": "s", "out_trade_no": no}))
            .await;
        if status["state"] != "cancelling" {
            break;
        }
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    assert_eq!(status["state"], "closed", "{status}");
    assert_eq!(status["error"]["wechatpay_code"], "NO_AUTH", "{status}");
    daemon.shutdown().await;
}

//! An unnamed refund that failed at WeChat Pay (closed: nothing went back) is not what a
//! POS's same request maps to: asked again, it is a new refund under the next number, and
//! ends refunded. (A refund that did not fail is that refund again: `tests/daemon/refund.rs`.)

use std::time::Duration;

use serde_json::json;

use super::refund::{paid, refund, start_refunds_with};
use crate::wechatpay_sim::{Kind, RefundStatus};

#[tokio::test]
async fn the_same_request_after_a_failed_unnamed_refund_is_a_new_refund() {
    let setup = start_refunds_with(Kind::MainlandDirect, Duration::from_millis(300)).await;
    let sim = &setup.sim;
    let no = "T2026121001";
    let mut pos = setup.daemon.connect().await;
    paid(&setup, &mut pos, no, 3200).await;

    sim.end_refunds_as(RefundStatus::Closed);
    pos.send(refund(no, 1000, None)).await;
    assert_eq!(
        pos.expect("refund_accepted").await["out_refund_no"],
        format!("{no}-R1")
    );
    let failed = pos.expect("refund_failed").await;
    assert_eq!(failed["state"], "failed", "{failed}");

    sim.end_refunds_as(RefundStatus::Success);
    pos.send(refund(no, 1000, None)).await;
    let again = pos.expect("refund_accepted").await;
    assert_eq!(
        (&again["out_refund_no"], &again["resumed"]),
        (&json!(format!("{no}-R2")), &json!(false)),
        "{again}"
    );
    let done = pos.expect("refunded").await;
    assert_eq!(done["out_refund_no"], format!("{no}-R2"));
    let at_wechat: Vec<_> = sim.refunds_of(no).iter().map(|r| r.status).collect();
    assert_eq!(at_wechat, [RefundStatus::Closed, RefundStatus::Success]);
    setup.daemon.shutdown().await;
}

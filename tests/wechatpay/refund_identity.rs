//! A refund answer is believed only about this refund of this order of this merchant: the
//! simulator answers an apply and a query, validly signed, with a refund that succeeded
//! for another order or another merchant (a genuine answer replayed in place of ours).
//! For each of the four kinds the refund is not marked refunded by them: the apply is
//! asked again byte for byte, the foreign query answer is dropped, and the refund ends
//! `refunded` only with WeChat Pay's genuine answer about it.

use std::time::Duration;

use serde_json::json;

use super::refund::{paid, refund, start_refunds_with};
use crate::Setup;
use crate::wechatpay_sim::{Endpoint, Fault, Kind, RefundStatus, SUB_MCHID};

/// Long enough that only `finish_refund` ends a refund at the simulator within a test.
const HOUR: Duration = Duration::from_secs(3600);

/// What a foreign answer says of itself: another refund, finished.
fn finished_elsewhere(field: &str, value: &str) -> Fault {
    Fault::rewrite(&[
        (field, json!(value)),
        ("status", json!("SUCCESS")),
        ("refund_id", json!("50FOREIGN")),
        ("id", json!("50FOREIGN")),
        ("success_time", json!("2026-12-01T10:00:00+08:00")),
    ])
}

/// Wait until the simulator has answered `n` calls to `endpoint`.
async fn answered(setup: &Setup, endpoint: Endpoint, n: usize) {
    for _ in 0..1000 {
        if setup.sim.requests_to(endpoint).len() >= n {
            return;
        }
        tokio::time::sleep(Duration::from_millis(10)).await;
    }
    panic!("{n} calls to {endpoint:?} did not come");
}

/// Refund `{no}-R1` of a `kind` merchant, its apply answered about `apply` and its first
/// query about `query` (`(field, value)`: another order's or merchant's).
async fn foreign_answers_are_not_believed(
    kind: Kind,
    no: &str,
    apply: (&str, &str),
    query: (&str, &str),
) {
    let setup = start_refunds_with(kind, HOUR).await;
    let sim = &setup.sim;
    let mut pos = setup.daemon.connect().await;
    paid(&setup, &mut pos, no, 3200).await;
    let r = format!("{no}-R1");
    sim.inject(Endpoint::Refund, finished_elsewhere(apply.0, apply.1), 1);
    sim.inject(
        Endpoint::RefundQuery,
        finished_elsewhere(query.0, query.1),
        1,
    );
    pos.send(refund(no, 1000, None)).await;
    assert_eq!(pos.expect("refund_accepted").await["out_refund_no"], r);

    // The foreign apply answer is not an answer: the same request goes again.
    answered(&setup, Endpoint::Refund, 2).await;
    let applies = sim.requests_to(Endpoint::Refund);
    assert_eq!(applies[0].body, applies[1].body, "{kind:?}: byte for byte");
    // WeChat Pay finishes the refund; the first query's answer is about another one.
    assert!(sim.finish_refund(&r, RefundStatus::Success), "{kind:?}");
    answered(&setup, Endpoint::RefundQuery, 1).await;

    let done = pos.expect("refunded").await;
    let genuine = sim.refund_of(&r).unwrap();
    assert_eq!(
        (&done["out_refund_no"], &done["refund_id"]),
        (&json!(r), &json!(genuine.refund_id)),
        "{kind:?}: refunded by the genuine answer only: {done}"
    );
    assert!(
        sim.requests_to(Endpoint::RefundQuery).len() >= 2,
        "{kind:?}: the foreign query answer was dropped and the refund asked again"
    );
    assert_eq!(sim.refunds_of(no).len(), 1, "{kind:?}: one refund");
    setup.daemon.shutdown().await;
}

#[tokio::test]
async fn refund_answers_about_another_order_or_merchant_are_never_believed() {
    let other_sub = "1900000999";
    assert_ne!(
        other_sub, SUB_MCHID,
        "another sub-merchant of the same provider"
    );
    tokio::join!(
        foreign_answers_are_not_believed(
            Kind::MainlandDirect,
            "T2026120801",
            ("out_trade_no", "T2026120899"),
            ("mchid", "1900000999"),
        ),
        foreign_answers_are_not_believed(
            Kind::MainlandPartner,
            "T2026120802",
            ("sub_mchid", other_sub),
            ("out_trade_no", "T2026120899"),
        ),
        foreign_answers_are_not_believed(
            Kind::GlobalCommon,
            "T2026120803",
            ("mchid", "1900000999"),
            ("out_trade_no", "T2026120899"),
        ),
        foreign_answers_are_not_believed(
            Kind::GlobalInstitutional,
            "T2026120804",
            ("out_trade_no", "T2026120899"),
            ("sp_mchid", "1900000999"),
        ),
    );
}

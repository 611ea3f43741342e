//! Refunds at WeChat Pay (the simulator, strict like WeChat) for the four merchant kinds,
//! over the socket: full and partial refunds end `refunded` with WeChat's refund number and
//! amounts (on Global the customer's CNY), on each kind's own paths and bodies; two refunds
//! of one order are spaced (Global refuses them nearer than a minute: the second is queued,
//! never failed); an unknown outcome is asked again byte for byte and stays one refund;
//! ABNORMAL is reported as needing the merchant platform; WeChat's refusals (an over-refund,
//! a number it already knows with another body) end `refund_failed` with WeChat's message,
//! and a conflicting `out_refund_no` is refused before any call.
//!
//! The minute is shrunk: the simulator's rule to [`SIM_SPACING`], wxprint's to [`SPACING`].

use std::sync::Arc;
use std::time::Duration;

use serde_json::{Value, json};
use wxprint::wechatpay::WechatPay;

use crate::support::{Client, Daemon, Options, checkout, fast_config};
use crate::wechatpay_sim::{
    Endpoint, Fault, HKD_RATE, Kind, MCHID, RefundStatus, SUB_MCHID, SimConfig, Simulator, Trust,
    cny_payer_total,
};
use crate::{Setup, at_once, settings};

/// The simulator's spacing between two refunds of one Global order (WeChat: a minute).
const SIM_SPACING: Duration = Duration::from_secs(1);
/// wxprint's spacing in these tests (WeChat's minute, shrunk; more than [`SIM_SPACING`]).
const SPACING: Duration = Duration::from_millis(1500);

/// A daemon on the real backend as a merchant of `kind` (public-key trust), refunds
/// PROCESSING for 300 ms at the simulator.
async fn start_refunds(kind: Kind) -> Setup {
    start_refunds_with(kind, Duration::from_millis(300)).await
}

/// [`start_refunds`] with refunds PROCESSING for `delay` at the simulator.
pub(super) async fn start_refunds_with(kind: Kind, delay: Duration) -> Setup {
    let mut account = SimConfig::from_fixtures(Trust::PublicKey).with_kind(kind);
    if account.refund_spacing.is_some() {
        account.refund_spacing = Some(SIM_SPACING);
    }
    account.refund_delay = delay;
    let dir = tempfile::tempdir().unwrap();
    let sim = Simulator::start(account).await;
    let mut s = settings(dir.path(), &sim, Trust::PublicKey);
    s.wechatpay.refund_spacing = SPACING;
    let backend = WechatPay::from_settings(&s.wechatpay).unwrap();
    let options = Options {
        config: fast_config(),
        backend: Some(Arc::new(backend)),
        printer: None,
    };
    let daemon = Daemon::start_with(dir.path(), options).await;
    Setup {
        _dir: dir,
        sim,
        daemon,
    }
}

/// Order `no` checked out for `total` (the merchant's currency), printed and paid.
pub(super) async fn paid(setup: &Setup, pos: &mut Client, no: &str, total: i64) {
    pos.checkout_printed(checkout(no, total)).await;
    assert!(setup.sim.pay(no), "{no} paid at WeChat Pay");
    pos.expect("paid").await;
}

pub(super) fn refund(no: &str, amount: i64, out_refund_no: Option<&str>) -> Value {
    let mut refund = json!({"amount": amount, "reason": "returned goods"});
    if let Some(r) = out_refund_no {
        refund["out_refund_no"] = r.into();
    }
    json!({"op": "refund", "id": "rf", "out_trade_no": no, "refund": refund})
}

/// Send a refund and read its events to the end: the final event.
async fn refunded(pos: &mut Client, request: Value) -> Value {
    pos.send(request).await;
    pos.expect("refund_accepted").await;
    pos.recv().await
}

/// The final event of refund `r` on `pos` (which follows the whole order).
async fn final_of(pos: &mut Client, r: &Value) -> Value {
    loop {
        let event = pos.recv().await;
        let last = matches!(event["event"].as_str(), Some("refunded" | "refund_failed"));
        if last && event["out_refund_no"] == *r {
            return event;
        }
    }
}

/// What each kind's refund calls look like: the apply path, the identity the body starts
/// with, and the query path of refund `R`.
fn wire(kind: Kind, r: &str) -> (&'static str, String, String) {
    let sp = format!(r#""sp_appid":"wxd678efh567hg6787","sp_mchid":"{MCHID}","#);
    match kind {
        Kind::MainlandDirect => (
            "/v3/refund/domestic/refunds",
            r#"{"out_trade_no":"#.into(),
            format!("/v3/refund/domestic/refunds/{r}"),
        ),
        Kind::MainlandPartner => (
            "/v3/refund/domestic/refunds",
            format!(r#"{{"sub_mchid":"{SUB_MCHID}","out_trade_no":"#),
            format!("/v3/refund/domestic/refunds/{r}?sub_mchid={SUB_MCHID}"),
        ),
        Kind::GlobalCommon => (
            "/v3/global/refunds",
            format!(r#"{{"appid":"wxd678efh567hg6787","mchid":"{MCHID}","out_trade_no":"#),
            format!("/v3/global/refunds/out-refund-no/{r}?mchid={MCHID}"),
        ),
        Kind::GlobalInstitutional => (
            "/v3/global/refunds",
            format!(
                r#"{{{sp}"sub_appid":"wx8888888888888888","sub_mchid":"{SUB_MCHID}","out_trade_no":"#
            ),
            format!("/v3/global/refunds/out-refund-no/{r}?sub_mchid={SUB_MCHID}&sp_mchid={MCHID}"),
        ),
    }
}

#[tokio::test]
async fn full_and_partial_refunds_end_refunded_for_every_kind() {
    let kinds = Kind::ALL.into_iter().enumerate();
    at_once(kinds.map(|(i, kind)| refund_kind(kind, format!("T20261201{i}0")))).await;
}

/// A partial refund, then the rest at once (spaced on Global), of one paid order.
async fn refund_kind(kind: Kind, no: String) {
    let no = no.as_str();
    let setup = start_refunds(kind).await;
    let global = setup.sim.config().region == crate::wechatpay_sim::Region::Global;
    let (total, currency) = if global { (1234, "HKD") } else { (3200, "CNY") };
    let mut pos = setup.daemon.connect().await;
    paid(&setup, &mut pos, no, total).await;

    // Both asked for at once, from two registers: the second waits for the spacing.
    let mut other = setup.daemon.connect().await;
    pos.send(refund(no, 1000, None)).await;
    let r1 = pos.expect("refund_accepted").await["out_refund_no"].clone();
    other.send(refund(no, total - 1000, None)).await;
    let r2 = other.expect("refund_accepted").await["out_refund_no"].clone();
    assert_eq!(
        (&r1, &r2),
        (&json!(format!("{no}-R1")), &json!(format!("{no}-R2")))
    );
    let first = final_of(&mut pos, &r1).await;
    let second = final_of(&mut other, &r2).await;
    for (done, amount) in [(&first, 1000), (&second, total - 1000)] {
        assert_eq!(done["event"], "refunded", "{kind:?}: {done}");
        let mut expected = json!({"refund": amount, "payer_refund": amount, "currency": currency});
        if global {
            expected["payer_refund"] = cny_payer_total(amount, "HKD", HKD_RATE).into();
            expected["payer_currency"] = "CNY".into();
        }
        assert_eq!(done["amount"], expected, "{kind:?}");
        let at_wechat = setup
            .sim
            .refund_of(done["out_refund_no"].as_str().unwrap())
            .expect("the refund exists at WeChat Pay");
        assert_eq!(done["refund_id"], at_wechat.refund_id, "{kind:?}");
        assert_eq!(
            (at_wechat.status, at_wechat.applied),
            (RefundStatus::Success, 1)
        );
    }
    assert_eq!(setup.sim.refunds_of(no).len(), 2, "{kind:?}: two refunds");

    // Each kind's own paths and identity; no call refused (Global's spacing was kept).
    let (apply, head, query) = wire(kind, &format!("{no}-R1"));
    let applies = setup.sim.requests_to(Endpoint::Refund);
    assert_eq!(applies.len(), 2, "{kind:?}");
    for call in &applies {
        assert_eq!(call.path, apply, "{kind:?}");
        assert!(call.body.starts_with(&head), "{kind:?}: {}", call.body);
        assert_eq!(call.status, Some(200), "{kind:?}: {}", call.response_body);
    }
    let queries = setup.sim.requests_to(Endpoint::RefundQuery);
    assert!(queries.iter().any(|q| q.path == query), "{kind:?}");
    assert!(queries.iter().all(|q| q.status == Some(200)), "{kind:?}");

    let status = pos.call(json!({"op": "status", "out_trade_no": no})).await;
    let states: Vec<&Value> = status["refunds"]
        .as_array()
        .unwrap()
        .iter()
        .map(|r| &r["state"])
        .collect();
    assert_eq!(states, [&json!("refunded"), &json!("refunded")], "{kind:?}");
    // Nothing is left to refund.
    let (code, _) = pos.call_error(refund(no, 1, None)).await;
    assert_eq!(code, "refund_too_large");
}

#[tokio::test]
async fn an_unknown_outcome_is_asked_again_byte_for_byte_and_abnormal_needs_the_platform() {
    let setup = start_refunds(Kind::MainlandPartner).await;
    let mut pos = setup.daemon.connect().await;
    paid(&setup, &mut pos, "T2026120201", 3200).await;

    // WeChat takes the refund but the answer is lost: asked again, the same bytes.
    setup.sim.inject(Endpoint::Refund, Fault::LoseAnswer, 1);
    let done = refunded(&mut pos, refund("T2026120201", 1200, None)).await;
    assert_eq!(done["event"], "refunded", "{done}");
    let applies = setup.sim.requests_to(Endpoint::Refund);
    assert_eq!(applies.len(), 2);
    assert_eq!(applies[0].body, applies[1].body, "byte-identical retry");
    let at_wechat = setup.sim.refund_of("T2026120201-R1").unwrap();
    assert_eq!(at_wechat.applied, 2);
    assert_eq!(setup.sim.refunds_of("T2026120201").len(), 1, "one refund");

    // The payout fails at WeChat: the POS is told to use the merchant platform.
    setup.sim.end_refunds_as(RefundStatus::Abnormal);
    let failed = refunded(&mut pos, refund("T2026120201", 500, None)).await;
    assert_eq!(
        (&failed["event"], &failed["state"]),
        (&json!("refund_failed"), &json!("abnormal")),
        "{failed}"
    );
    assert_eq!(failed["error"]["wechatpay_code"], "ABNORMAL");
    let message = failed["error"]["message"].as_str().unwrap();
    assert!(message.contains("merchant platform"), "{message}");
}

#[tokio::test]
async fn refusals_at_wechat_pay_end_refund_failed_with_its_message() {
    let setup = start_refunds(Kind::MainlandDirect).await;
    let mut pos = setup.daemon.connect().await;
    paid(&setup, &mut pos, "T2026120301", 3200).await;
    // Refunded on the merchant platform, under a number the POS then uses too.
    assert!(setup.sim.refund_outside("T2026120301", "RF-PLATFORM", 2500));

    let conflict = refunded(&mut pos, refund("T2026120301", 100, Some("RF-PLATFORM"))).await;
    assert_eq!(conflict["event"], "refund_failed", "{conflict}");
    assert_eq!(conflict["error"]["wechatpay_code"], "INVALID_REQUEST");
    let message = conflict["error"]["message"].as_str().unwrap();
    assert!(message.contains("不一致"), "WeChat's message: {message}");

    // The journal says 3,200 are left; WeChat knows only 700 are: WeChat's rule wins.
    let over = refunded(&mut pos, refund("T2026120301", 1000, None)).await;
    assert_eq!(
        (&over["event"], &over["state"]),
        (&json!("refund_failed"), &json!("failed")),
        "{over}"
    );
    let message = over["error"]["message"].as_str().unwrap();
    assert!(
        message.contains("申请退款金额超过订单可退金额"),
        "{message}"
    );
    assert_eq!(setup.sim.refund_of("RF-PLATFORM").unwrap().refund, 2500);
    assert_eq!(setup.sim.refunds_of("T2026120301").len(), 1);

    // The same number with other content is refused before any call.
    let calls = setup.sim.requests_to(Endpoint::Refund).len();
    let (code, refused) = pos
        .call_error(refund("T2026120301", 200, Some("RF-PLATFORM")))
        .await;
    assert_eq!(code, "duplicate_refund", "{refused}");
    assert_eq!(setup.sim.requests_to(Endpoint::Refund).len(), calls);
}

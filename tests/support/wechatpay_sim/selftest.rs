//! The simulator's own tests of the merchant kinds (run by `cargo test --test wechatpay
//! wechatpay_sim::selftest`): over HTTP with a signed client (`test_client.rs`), each kind
//! takes its own paths, identities and fields and refuses the others', Global converts the
//! payer's CNY at the rate and keeps the 5-minute close rule. Paths are written out here, not
//! taken from `kind.rs`, so a wrong table there fails.

use serde_json::{Value, json};

use super::kind::{
    GLOBAL_MCC, HKD_RATE, JPY_RATE, Kind, Region, SUB_APPID, SUB_MCHID, cny_payer_total,
};
use super::test_client::{Answer, call};
use super::{APPID, Endpoint, MCHID, SimConfig, Simulator, TradeState, Trust};

pub(super) async fn start(kind: Kind) -> Simulator {
    Simulator::start(SimConfig::from_fixtures(Trust::Certificate).with_kind(kind)).await
}

/// The order paths' prefix WeChat documents for the kind.
fn prefix(kind: Kind) -> &'static str {
    match kind {
        Kind::MainlandDirect => "/v3/pay/transactions",
        Kind::MainlandPartner => "/v3/pay/partner/transactions",
        Kind::GlobalCommon | Kind::GlobalInstitutional => "/v3/global/transactions",
    }
}

/// The query target for order `no`, with the kind's identity parameters.
pub(super) fn query_target(kind: Kind, no: &str) -> String {
    let ids = if kind.has_sub_merchant() {
        format!("sub_mchid={SUB_MCHID}&sp_mchid={MCHID}")
    } else {
        format!("mchid={MCHID}")
    };
    format!("{}/out-trade-no/{no}?{ids}", prefix(kind))
}

/// The kind's close body.
pub(super) fn close_body(kind: Kind) -> Value {
    if kind.has_sub_merchant() {
        json!({ "sp_mchid": MCHID, "sub_mchid": SUB_MCHID })
    } else {
        json!({ "mchid": MCHID })
    }
}

/// A valid Native body for the kind: `total` in the minor unit of `currency` (Global).
pub(super) fn native_body(kind: Kind, no: &str, total: i64, currency: &str) -> Value {
    let mut body = json!({
        "description": "Latte x2",
        "out_trade_no": no,
        "notify_url": "https://merchant.example/wechatpay/notify",
        "amount": { "total": total },
    });
    if kind.has_sub_merchant() {
        body["sp_appid"] = json!(APPID);
        body["sp_mchid"] = json!(MCHID);
        body["sub_mchid"] = json!(SUB_MCHID);
        body["sub_appid"] = json!(SUB_APPID);
    } else {
        body["appid"] = json!(APPID);
        body["mchid"] = json!(MCHID);
    }
    if kind.region() == Region::Global {
        body["trade_type"] = json!("NATIVE");
        body["merchant_category_code"] = json!(GLOBAL_MCC);
        body["amount"]["currency"] = json!(currency);
    }
    body
}

pub(super) async fn place(sim: &Simulator, kind: Kind, body: &Value) -> Answer {
    call(sim, "POST", &format!("{}/native", prefix(kind)), Some(body)).await
}

pub(super) fn assert_refused(answer: &Answer, status: u16, code: &str, what: &str) {
    assert_eq!(
        (answer.status, answer.code()),
        (status, code),
        "{what}: {}",
        answer.body
    );
    assert!(
        !answer.body["message"].as_str().unwrap_or("").is_empty(),
        "{what}: a message"
    );
}

pub(super) fn close_target(kind: Kind, no: &str) -> String {
    format!("{}/out-trade-no/{no}/close", prefix(kind))
}

/// Close order `no` the kind's way.
pub(super) async fn close(sim: &Simulator, kind: Kind, no: &str) -> Answer {
    call(
        sim,
        "POST",
        &close_target(kind, no),
        Some(&close_body(kind)),
    )
    .await
}

fn currency_of(kind: Kind) -> &'static str {
    match kind.region() {
        Region::Mainland => "CNY",
        Region::Global => "HKD",
    }
}

#[tokio::test]
async fn every_kind_places_queries_pays_and_closes_on_its_own_paths() {
    for kind in Kind::ALL {
        let sim = start(kind).await;
        let currency = currency_of(kind);
        let placed = place(&sim, kind, &native_body(kind, "A100001", 1234, currency)).await;
        assert_eq!(placed.status, 200, "{kind:?}: {}", placed.body);
        let unpaid = call(&sim, "GET", &query_target(kind, "A100001"), None).await;
        assert_eq!(unpaid.body["trade_state"], "NOTPAY", "{kind:?}");
        assert!(sim.pay("A100001"));
        let paid = call(&sim, "GET", &query_target(kind, "A100001"), None).await;
        let a = &paid.body;
        assert_eq!((paid.status, &a["trade_state"]), (200, &json!("SUCCESS")));
        assert_eq!(a["amount"]["currency"], currency, "{kind:?}");
        assert_eq!(a["amount"]["payer_currency"], "CNY", "{kind:?}");
        let query = &sim.requests_to(Endpoint::Query)[0];
        if kind.has_sub_merchant() {
            let ids = (
                &a["sp_mchid"],
                &a["sp_appid"],
                &a["sub_mchid"],
                &a["sub_appid"],
            );
            let want = (
                &json!(MCHID),
                &json!(APPID),
                &json!(SUB_MCHID),
                &json!(SUB_APPID),
            );
            assert_eq!(ids, want, "{kind:?}");
            assert!(a.get("mchid").is_none() && a["payer"]["sp_openid"].is_string());
            assert!(a["payer"]["sub_openid"].is_string(), "{kind:?}");
            assert_eq!(query.query_param("sp_mchid").as_deref(), Some(MCHID));
            assert_eq!(query.query_param("sub_mchid").as_deref(), Some(SUB_MCHID));
        } else {
            assert_eq!((&a["mchid"], &a["appid"]), (&json!(MCHID), &json!(APPID)));
            assert!(a.get("sp_mchid").is_none() && a["payer"]["openid"].is_string());
            assert_eq!(query.query_param("mchid").as_deref(), Some(MCHID));
        }
        assert_eq!(
            query.path_only(),
            format!("{}/out-trade-no/A100001", prefix(kind))
        );
        let closed = close(&sim, kind, "A100001").await;
        assert_refused(&closed, 400, "ORDERPAID", "closing a paid order");
        let placed = &sim.requests_to(Endpoint::Native)[0];
        assert_eq!(placed.json(), native_body(kind, "A100001", 1234, currency));
    }
}

#[tokio::test]
async fn global_answers_name_the_order_id_and_the_payers_cny_at_the_rate() {
    let cases = [
        (Kind::GlobalCommon, "HKD", HKD_RATE, 1234, 1135),
        (Kind::GlobalInstitutional, "JPY", JPY_RATE, 1200, 5760),
        (Kind::MainlandDirect, "CNY", 100_000_000, 3200, 3200),
        (Kind::MainlandPartner, "CNY", 100_000_000, 3200, 3200),
    ];
    for (kind, currency, rate, total, payer_total) in cases {
        let config = SimConfig::from_fixtures(Trust::PublicKey).with_kind(kind);
        let sim = Simulator::start(config.with_currency(currency, rate)).await;
        let placed = place(&sim, kind, &native_body(kind, "B200001", total, currency)).await;
        assert_eq!(placed.status, 200, "{kind:?} {currency}: {}", placed.body);
        let code_url = placed.body["code_url"].as_str().unwrap().to_owned();
        assert!(code_url.starts_with(kind.code_url_prefix()), "{code_url}");
        assert_eq!(sim.pay_code_url(&code_url).as_deref(), Some("B200001"));
        let a = call(&sim, "GET", &query_target(kind, "B200001"), None)
            .await
            .body;
        let amount = &a["amount"];
        assert_eq!(
            (&amount["total"], &amount["payer_total"]),
            (&json!(total), &json!(payer_total))
        );
        let id = sim
            .order("B200001")
            .unwrap()
            .payment
            .unwrap()
            .transaction_id;
        if kind.region() == Region::Global {
            assert_eq!((&a["id"], a.get("transaction_id")), (&json!(id), None));
            let expected = json!({ "type": "SETTLEMENT_RATE", "rate": rate });
            assert_eq!(amount["exchange_rate"], expected, "{kind:?}");
            assert!(code_url.starts_with("weixin://wxpay/s/"));
        } else {
            assert_eq!((&a["transaction_id"], a.get("id")), (&json!(id), None));
            assert!(amount.get("exchange_rate").is_none(), "{kind:?}");
        }
    }
}

#[test]
fn payer_total_is_the_cny_fen_at_the_rate_rounded_half_up() {
    assert_eq!(cny_payer_total(1234, "HKD", HKD_RATE), 1135); // 12.34 × 0.92 = 11.3528
    assert_eq!(cny_payer_total(1200, "JPY", JPY_RATE), 5760); // ¥1,200 × 0.048 = 57.60
    assert_eq!(cny_payer_total(1, "HKD", 50_000_000), 1); // 0.005 → 0.01
    assert_eq!(cny_payer_total(1, "HKD", 49_999_999), 0);
    assert_eq!(cny_payer_total(10_000, "KRW", 520_000), 5200); // ₩10,000 × 0.0052
    assert_eq!(cny_payer_total(3200, "CNY", 100_000_000), 3200);
}

#[tokio::test]
async fn global_refuses_closing_an_order_younger_than_five_minutes() {
    for kind in [Kind::GlobalCommon, Kind::GlobalInstitutional] {
        let sim = start(kind).await;
        let placed = place(&sim, kind, &native_body(kind, "C300001", 500, "HKD")).await;
        assert_eq!(placed.status, 200);
        let close = || close(&sim, kind, "C300001");
        assert_refused(&close().await, 400, "INVALID_REQUEST", "a close at once");
        sim.set_clock_offset(290);
        assert_refused(&close().await, 400, "INVALID_REQUEST", "a close at 4:50");
        assert_eq!(sim.order("C300001").unwrap().state, TradeState::NotPay);
        sim.set_clock_offset(301);
        assert_eq!(close().await.status, 204, "{kind:?}");
        assert_eq!(close().await.status, 204, "{kind:?}: re-entrant");
        assert_eq!(sim.order("C300001").unwrap().state, TradeState::Closed);
    }
    let mut config = SimConfig::from_fixtures(Trust::Certificate).with_kind(Kind::GlobalCommon);
    config.close_min_age = None;
    let sim = Simulator::start(config).await;
    place(
        &sim,
        Kind::GlobalCommon,
        &native_body(Kind::GlobalCommon, "C300002", 500, "HKD"),
    )
    .await;
    let closed = close(&sim, Kind::GlobalCommon, "C300002").await;
    assert_eq!(closed.status, 204, "no minimum configured");
    let sim = start(Kind::MainlandPartner).await;
    place(
        &sim,
        Kind::MainlandPartner,
        &native_body(Kind::MainlandPartner, "C300003", 500, "CNY"),
    )
    .await;
    let closed = close(&sim, Kind::MainlandPartner, "C300003").await;
    assert_eq!(closed.status, 204, "the mainland has no minimum");
}

#[tokio::test]
async fn each_kind_is_refused_the_other_kinds_paths() {
    for kind in Kind::ALL {
        let sim = start(kind).await;
        for other in Kind::ALL.into_iter().filter(|o| prefix(*o) != prefix(kind)) {
            let body = native_body(kind, "D400001", 100, currency_of(kind));
            let at = format!("{}/native", prefix(other));
            let answer = call(&sim, "POST", &at, Some(&body)).await;
            assert_refused(
                &answer,
                400,
                "INVALID_REQUEST",
                &format!("{kind:?} at {at}"),
            );
            let answer = call(&sim, "GET", &query_target(other, "D400001"), None).await;
            assert_refused(
                &answer,
                400,
                "INVALID_REQUEST",
                &format!("{kind:?} querying {other:?}"),
            );
        }
        let (ours, theirs) = match kind.region() {
            Region::Mainland => ("/v3/certificates", "/v3/global/certificates"),
            Region::Global => ("/v3/global/certificates", "/v3/certificates"),
        };
        assert_eq!(
            call(&sim, "GET", ours, None).await.status,
            200,
            "{kind:?} {ours}"
        );
        let answer = call(&sim, "GET", theirs, None).await;
        assert_refused(
            &answer,
            400,
            "INVALID_REQUEST",
            &format!("{kind:?} {theirs}"),
        );
        assert!(sim.orders().is_empty());
    }
}

/// The real-path bench subtracts the simulator's own time: only placements count, each
/// from its arrival to its answer written — inside the client's round trip.
#[tokio::test]
async fn the_simulator_times_its_placements_and_only_those() {
    let kind = Kind::MainlandDirect;
    let sim = start(kind).await;
    let from = std::time::Instant::now();
    let placed = place(&sim, kind, &native_body(kind, "A100001", 100, "CNY")).await;
    let round_trip = from.elapsed();
    assert_eq!(placed.status, 200, "{}", placed.body);
    let held = sim.placement_time(from, std::time::Instant::now());
    assert!(
        !held.is_zero() && held < round_trip,
        "{held:?} of {round_trip:?}"
    );
    // From the kernel's receive time of the request's first bytes, not from when the
    // simulator got around to reading them.
    let placement = &sim.requests_to(Endpoint::Native)[0];
    let (received, read) = (placement.received, placement.instant);
    assert!(
        from < received && received < read,
        "received {:?} after the request was sent, read whole {:?} later",
        received - from,
        read - received
    );
    let before_query = std::time::Instant::now();
    call(&sim, "GET", &query_target(kind, "A100001"), None).await;
    let later = sim.placement_time(before_query, std::time::Instant::now());
    assert!(later.is_zero(), "a query is not a placement: {later:?}");
    assert_eq!(sim.placement_time(from, std::time::Instant::now()), held);
}

//! The simulator's own tests of what each merchant kind's requests are refused for (run by
//! `cargo test --test wechatpay wechatpay_sim::selftest_refusals`): the wrong mode's fields,
//! Global's `trade_type`, MCC and currency, non-integer totals, foreign identities in bodies,
//! query strings and close bodies. No refused call creates an order.

use serde_json::{Value, json};

use super::kind::Kind;
use super::selftest::{
    assert_refused, close, close_body, close_target, native_body, place, query_target, start,
};
use super::test_client::call;
use super::{MCHID, SUB_MCHID};

/// `body` with `field` removed (`"amount/currency"` reaches into `amount`).
fn without(mut body: Value, field: &str) -> Value {
    match field.split_once('/') {
        Some((outer, inner)) => body[outer].as_object_mut().unwrap().remove(inner),
        None => body.as_object_mut().unwrap().remove(field),
    };
    body
}

/// `body` with `field` set to `value` (`"amount/total"` reaches into `amount`).
fn with(mut body: Value, field: &str, value: Value) -> Value {
    match field.split_once('/') {
        Some((outer, inner)) => body[outer][inner] = value,
        None => body[field] = value,
    }
    body
}

#[tokio::test]
async fn global_bodies_are_checked_as_strictly_as_wechat_does() {
    for kind in [Kind::GlobalCommon, Kind::GlobalInstitutional] {
        let sim = start(kind).await;
        let ok = native_body(kind, "E500001", 1234, "HKD");
        let cases = [
            (without(ok.clone(), "trade_type"), "no trade_type"),
            (
                with(ok.clone(), "trade_type", json!("JSAPI")),
                "trade_type JSAPI",
            ),
            (without(ok.clone(), "merchant_category_code"), "no MCC"),
            (
                with(ok.clone(), "merchant_category_code", json!("58a2")),
                "MCC not digits",
            ),
            (
                with(ok.clone(), "merchant_category_code", json!("58120")),
                "MCC of 5 digits",
            ),
            (
                with(ok.clone(), "merchant_category_code", json!("5411")),
                "another MCC",
            ),
            (without(ok.clone(), "amount/currency"), "no currency"),
            (
                with(ok.clone(), "amount/currency", json!("USD")),
                "not the merchant's",
            ),
            (
                with(ok.clone(), "amount/currency", json!("XYZ")),
                "not a currency",
            ),
            (
                with(ok.clone(), "amount/total", json!(12.34)),
                "a decimal total",
            ),
            (
                with(ok.clone(), "amount/total", json!(1234.0)),
                "a float total",
            ),
            (
                with(ok.clone(), "amount/total", json!("1234")),
                "a string total",
            ),
            (with(ok.clone(), "amount/total", json!(0)), "a zero total"),
            (
                with(ok.clone(), "support_fapiao", json!(true)),
                "mainland-only field",
            ),
            (
                with(ok.clone(), "settle_info", json!({})),
                "mainland-only object",
            ),
            (
                with(ok.clone(), "time_start", json!("2026-12-04 10:00")),
                "bad time_start",
            ),
        ];
        for (body, what) in cases {
            let answer = place(&sim, kind, &body).await;
            assert_refused(&answer, 400, "PARAM_ERROR", &format!("{kind:?}: {what}"));
        }
        assert!(sim.orders().is_empty(), "{kind:?}: nothing placed");
        let extras = with(ok.clone(), "time_start", json!("2026-12-04T10:00:00+08:00"));
        let extras = with(extras, "limit_pay", json!(["no_credit"]));
        assert_eq!(place(&sim, kind, &extras).await.status, 200, "{kind:?}");
    }
}

#[tokio::test]
async fn mainland_bodies_refuse_global_fields_and_other_currencies() {
    for kind in [Kind::MainlandDirect, Kind::MainlandPartner] {
        let sim = start(kind).await;
        let ok = native_body(kind, "F600001", 1234, "CNY");
        let cases = [
            (
                with(ok.clone(), "trade_type", json!("NATIVE")),
                "Global's trade_type",
            ),
            (
                with(ok.clone(), "merchant_category_code", json!("5812")),
                "Global's MCC",
            ),
            (with(ok.clone(), "amount/currency", json!("HKD")), "not CNY"),
            (
                with(ok.clone(), "amount/total", json!(12.5)),
                "a decimal total",
            ),
        ];
        for (body, what) in cases {
            let answer = place(&sim, kind, &body).await;
            assert_refused(&answer, 400, "PARAM_ERROR", &format!("{kind:?}: {what}"));
        }
        assert!(sim.orders().is_empty(), "{kind:?}: nothing placed");
    }
}

#[tokio::test]
async fn each_mode_takes_only_its_own_identity_fields() {
    for kind in Kind::ALL {
        let sim = start(kind).await;
        let currency = if kind.region() == super::Region::Global {
            "HKD"
        } else {
            "CNY"
        };
        let ok = native_body(kind, "G700001", 100, currency);
        let (foreign, value) = if kind.has_sub_merchant() {
            ("mchid", MCHID)
        } else {
            ("sub_mchid", SUB_MCHID)
        };
        let answer = place(&sim, kind, &with(ok.clone(), foreign, json!(value))).await;
        assert_refused(&answer, 400, "PARAM_ERROR", &format!("{kind:?}: {foreign}"));
        let (mchid_field, appid_field) = if kind.has_sub_merchant() {
            ("sp_mchid", "sp_appid")
        } else {
            ("mchid", "appid")
        };
        let cases = [
            (without(ok.clone(), mchid_field), "PARAM_ERROR"),
            (
                with(ok.clone(), mchid_field, json!("1230000110")),
                "PARAM_ERROR",
            ),
            (
                with(ok.clone(), appid_field, json!("wx0000000000000000")),
                "APPID_MCHID_NOT_MATCH",
            ),
        ];
        for (body, code) in cases {
            let answer = place(&sim, kind, &body).await;
            assert_refused(&answer, 400, code, &format!("{kind:?} {}", answer.body));
        }
        assert!(sim.orders().is_empty(), "{kind:?}: nothing placed");
    }
}

#[tokio::test]
async fn sub_merchants_are_named_by_provider_and_sub_mchid_everywhere() {
    for kind in [Kind::MainlandPartner, Kind::GlobalInstitutional] {
        let sim = start(kind).await;
        let currency = if kind == Kind::MainlandPartner {
            "CNY"
        } else {
            "HKD"
        };
        let ok = native_body(kind, "H800001", 100, currency);
        let stranger = with(ok.clone(), "sub_mchid", json!("1900000999"));
        assert_refused(
            &place(&sim, kind, &stranger).await,
            400,
            "INVALID_REQUEST",
            "a stranger",
        );
        let no_sub = without(ok.clone(), "sub_mchid");
        assert_refused(
            &place(&sim, kind, &no_sub).await,
            400,
            "PARAM_ERROR",
            "no sub_mchid",
        );
        let other_app = with(ok.clone(), "sub_appid", json!("wx0000000000000000"));
        let answer = place(&sim, kind, &other_app).await;
        assert_refused(&answer, 400, "APPID_MCHID_NOT_MATCH", "another sub_appid");
        let placed = place(&sim, kind, &without(ok, "sub_appid")).await;
        assert_eq!(placed.status, 200, "{kind:?}: sub_appid is optional");
        let base = query_target(kind, "H800001");
        let path = base.split_once('?').unwrap().0;
        let queries = [
            (format!("{path}?mchid={MCHID}"), "PARAM_ERROR"),
            (format!("{path}?sp_mchid={MCHID}"), "PARAM_ERROR"),
            (
                format!("{path}?sub_mchid={SUB_MCHID}&sp_mchid={MCHID}&mchid={MCHID}"),
                "PARAM_ERROR",
            ),
            (
                format!("{path}?sp_mchid={MCHID}&sub_mchid=1900000999"),
                "INVALID_REQUEST",
            ),
        ];
        for (target, code) in queries {
            let answer = call(&sim, "GET", &target, None).await;
            assert_refused(&answer, 400, code, &target);
        }
        assert_eq!(call(&sim, "GET", &base, None).await.status, 200);
        sim.set_clock_offset(301);
        let target = close_target(kind, "H800001");
        let closes = [
            (json!({ "mchid": MCHID }), "PARAM_ERROR"),
            (json!({ "sp_mchid": MCHID }), "PARAM_ERROR"),
            (
                json!({ "sp_mchid": MCHID, "sub_mchid": "1900000999" }),
                "INVALID_REQUEST",
            ),
        ];
        for (body, code) in closes {
            let answer = call(&sim, "POST", &target, Some(&body)).await;
            assert_refused(&answer, 400, code, &body.to_string());
        }
        assert_eq!(close(&sim, kind, "H800001").await.status, 204);
        assert_eq!(close_body(kind)["sub_mchid"], SUB_MCHID);
    }
}

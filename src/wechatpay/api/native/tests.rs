//! Known bodies and answers of the Native models for the four kinds of merchant: the exact
//! JSON of each order and close body, and the query answers of the mainland and Global.

use super::*;
use crate::config::Region;
use crate::wechatpay::auth::VerifyError;
use crate::wechatpay::region::test_api;

fn order(amount: Money, extras: bool) -> PlaceOrder {
    PlaceOrder {
        out_trade_no: "T1".into(),
        description: "Coffee".into(),
        amount,
        attach: extras.then(|| "a".into()),
        goods_tag: extras.then(|| "g".into()),
        time_expire: "2026-01-01T10:00:00+08:00".into(),
        request: None,
    }
}

fn body(region: Region, sub: bool, amount: Money, extras: bool) -> String {
    let api = test_api(region, sub);
    let merchant = Merchant {
        api: &api,
        notify_url: "https://m.example/n",
        merchant_category_code: "5812",
    };
    request_body(&merchant, &order(amount, extras))
}

/// The bytes a mainland direct merchant sent before regions existed (captured from the
/// previous model): stored requests of unfinished jobs must stay what they were.
#[test]
fn mainland_direct_body_is_unchanged() {
    assert_eq!(
        body(Region::Mainland, false, Money::cny(3200), true),
        r#"{"appid":"wxsp","mchid":"1900000109","description":"Coffee","out_trade_no":"T1","time_expire":"2026-01-01T10:00:00+08:00","attach":"a","notify_url":"https://m.example/n","goods_tag":"g","amount":{"total":3200,"currency":"CNY"}}"#
    );
    assert_eq!(
        body(Region::Mainland, false, Money::cny(3200), false),
        r#"{"appid":"wxsp","mchid":"1900000109","description":"Coffee","out_trade_no":"T1","time_expire":"2026-01-01T10:00:00+08:00","notify_url":"https://m.example/n","amount":{"total":3200,"currency":"CNY"}}"#
    );
}

#[test]
fn mainland_partner_body() {
    assert_eq!(
        body(Region::Mainland, true, Money::cny(3200), false),
        r#"{"sp_appid":"wxsp","sp_mchid":"1900000109","sub_appid":"wxsub","sub_mchid":"1900000209","description":"Coffee","out_trade_no":"T1","time_expire":"2026-01-01T10:00:00+08:00","notify_url":"https://m.example/n","amount":{"total":3200,"currency":"CNY"}}"#
    );
}

#[test]
fn global_common_body_in_hkd_and_jpy() {
    assert_eq!(
        body(
            Region::Global,
            false,
            Money::new(1234, Currency::new("HKD")),
            true
        ),
        r#"{"appid":"wxsp","mchid":"1900000109","description":"Coffee","out_trade_no":"T1","time_expire":"2026-01-01T10:00:00+08:00","attach":"a","notify_url":"https://m.example/n","goods_tag":"g","trade_type":"NATIVE","merchant_category_code":"5812","amount":{"total":1234,"currency":"HKD"}}"#
    );
    // JPY has no minor unit: 1200 is ¥1,200, sent as it is.
    assert_eq!(
        body(
            Region::Global,
            false,
            Money::new(1200, Currency::new("JPY")),
            false
        ),
        r#"{"appid":"wxsp","mchid":"1900000109","description":"Coffee","out_trade_no":"T1","time_expire":"2026-01-01T10:00:00+08:00","notify_url":"https://m.example/n","trade_type":"NATIVE","merchant_category_code":"5812","amount":{"total":1200,"currency":"JPY"}}"#
    );
}

#[test]
fn global_institutional_body() {
    assert_eq!(
        body(
            Region::Global,
            true,
            Money::new(1234, Currency::new("HKD")),
            false
        ),
        r#"{"sp_appid":"wxsp","sp_mchid":"1900000109","sub_appid":"wxsub","sub_mchid":"1900000209","description":"Coffee","out_trade_no":"T1","time_expire":"2026-01-01T10:00:00+08:00","notify_url":"https://m.example/n","trade_type":"NATIVE","merchant_category_code":"5812","amount":{"total":1234,"currency":"HKD"}}"#
    );
}

#[test]
fn close_bodies_of_the_four_kinds() {
    for region in [Region::Mainland, Region::Global] {
        assert_eq!(
            close_body(&test_api(region, false)),
            r#"{"mchid":"1900000109"}"#
        );
        assert_eq!(
            close_body(&test_api(region, true)),
            r#"{"sp_mchid":"1900000109","sub_mchid":"1900000209"}"#
        );
    }
}

fn reply(json: &str) -> Reply {
    Reply {
        status: 200,
        body: json.as_bytes().to_vec(),
        request_id: Some("rid".into()),
        signature: Err(VerifyError::MissingHeader("test")),
        clock_offset: None,
        received_at: 0,
    }
}

/// Only a `weixin://` URL of printable ASCII is a QR's data: a control byte in it would go
/// to the printer inside `GS ( k`, where some printers execute `DLE` commands.
#[test]
fn a_code_url_is_a_weixin_url_of_printable_ascii() {
    let placed =
        |url: &str| read_placed(&reply(&serde_json::json!({ "code_url": url }).to_string()));
    let good = "weixin://wxpay/bizpayurl?pr=Ab3dE9x";
    assert_eq!(placed(good).unwrap().code_url, good);
    for bad in [
        "https://example.com/pay",
        "weixin://wxpay/bizpayurl?pr=Ab\u{10}\u{14}\u{1}\u{0}\u{1}",
        "weixin://wxpay/bizpayurl?pr=Ab 3d",
        "weixin://wxpay/bizpayurl?pr=微信",
        "",
    ] {
        let e = placed(bad).unwrap_err();
        assert!(
            e.to_string().contains("unexpected code_url"),
            "{bad:?}: {e}"
        );
    }
}

fn paid(api: &Api, json: &str) -> Payment {
    match read_query("T1", api, &Currency::CNY, &reply(json)) {
        Ok(TradeState::Paid(payment)) => payment,
        other => panic!("not paid: {other:?}"),
    }
}

#[test]
fn mainland_answer_reads_transaction_id() {
    let payment = paid(
        &test_api(Region::Mainland, false),
        r#"{"mchid":"1900000109","out_trade_no":"T1","transaction_id":"4200001","id":"x",
            "trade_state":"SUCCESS","success_time":"2026-01-01T10:01:00+08:00",
            "amount":{"total":3200,"payer_total":3000,"currency":"CNY","payer_currency":"CNY"}}"#,
    );
    assert_eq!(
        payment,
        Payment {
            transaction_id: "4200001".into(),
            success_time: "2026-01-01T10:01:00+08:00".into(),
            total: Money::cny(3200),
            payer_total: Money::cny(3000),
            exchange_rate: None,
            discount: None,
        }
    );
}

#[test]
fn promotions_add_up_to_the_discount_and_an_unreadable_one_is_left_out() {
    let api = test_api(Region::Mainland, false);
    let answer = |promotions: &str| {
        format!(
            r#"{{"mchid":"1900000109","out_trade_no":"T1","transaction_id":"4200001",
                "trade_state":"SUCCESS","success_time":"2026-01-01T10:01:00+08:00",
                "amount":{{"total":3200,"payer_total":2700}},"promotion_detail":{promotions}}}"#
        )
    };
    let two = r#"[{"coupon_id":"1","amount":300},{"coupon_id":"2","amount":200}]"#;
    assert_eq!(paid(&api, &answer(two)).discount, Some(Money::cny(500)));
    assert_eq!(paid(&api, &answer("[]")).discount, None, "no promotion");
    let odd =
        r#"[{"amount":"3.00"},{"amount":100,"currency":"CNY"},{"amount":7,"currency":"HKD"}]"#;
    let payment = paid(&api, &answer(odd));
    assert_eq!(payment.discount, Some(Money::cny(100)));
    assert_eq!(
        payment.payer_total,
        Money::cny(2700),
        "the payment is read all the same"
    );
}

#[test]
fn global_answer_reads_id_payer_currency_and_rate() {
    for sub in [false, true] {
        let identity = if sub {
            r#""sp_mchid":"1900000109","sub_mchid":"1900000209","sp_appid":"wxsp""#
        } else {
            r#""mchid":"1900000109","appid":"wxsp""#
        };
        let json = format!(
            r#"{{{identity},"out_trade_no":"T1","id":"4200000000202601010001",
                "trade_type":"NATIVE","trade_state":"SUCCESS","success_time":"2026-01-01T10:01:00+08:00",
                "amount":{{"total":1234,"currency":"HKD","payer_total":1110,"payer_currency":"CNY",
                "exchange_rate":{{"type":"SETTLEMENT_RATE","rate":90000000}}}}}}"#
        );
        let payment = paid(&test_api(Region::Global, sub), &json);
        assert_eq!(
            payment,
            Payment {
                transaction_id: "4200000000202601010001".into(),
                success_time: "2026-01-01T10:01:00+08:00".into(),
                total: Money::new(1234, Currency::new("HKD")),
                payer_total: Money::cny(1110),
                exchange_rate: Some(ExchangeRate {
                    kind: "SETTLEMENT_RATE".into(),
                    rate: 90_000_000,
                }),
                discount: None,
            },
            "sub {sub}"
        );
    }
}

#[test]
fn unpaid_global_answer_without_amount_details() {
    let api = test_api(Region::Global, false);
    let json = r#"{"mchid":"1900000109","out_trade_no":"T1","id":"","trade_state":"NOTPAY","amount":{"total":1234,"currency":"HKD"}}"#;
    assert_eq!(
        read_query("T1", &api, &Currency::CNY, &reply(json)),
        Ok(TradeState::NotPay)
    );
}

#[test]
fn answers_about_another_order_or_merchant_are_discarded() {
    let sub = test_api(Region::Mainland, true);
    let ok = r#"{"sp_mchid":"1900000109","sub_mchid":"1900000209","out_trade_no":"T1","trade_state":"NOTPAY"}"#;
    assert_eq!(
        read_query("T1", &sub, &Currency::CNY, &reply(ok)),
        Ok(TradeState::NotPay)
    );
    for json in [
        r#"{"sp_mchid":"1900000109","sub_mchid":"1900000999","out_trade_no":"T1","trade_state":"NOTPAY"}"#,
        r#"{"sp_mchid":"1900000999","sub_mchid":"1900000209","out_trade_no":"T1","trade_state":"NOTPAY"}"#,
        r#"{"sp_mchid":"1900000109","sub_mchid":"1900000209","out_trade_no":"T2","trade_state":"NOTPAY"}"#,
    ] {
        let err = read_query("T1", &sub, &Currency::CNY, &reply(json)).unwrap_err();
        assert!(
            matches!(&err, PaymentError::Transient { message, .. } if message.contains("about order")),
            "{json}: {err:?}"
        );
    }
    let direct = test_api(Region::Global, false);
    let other = r#"{"mchid":"1900000999","out_trade_no":"T1","trade_state":"SUCCESS"}"#;
    assert!(read_query("T1", &direct, &Currency::CNY, &reply(other)).is_err());
}

#[test]
fn an_answer_must_name_this_merchant_in_this_mode() {
    let sub = test_api(Region::Mainland, true);
    let direct = test_api(Region::Mainland, false);
    let cases = [
        // A sub-merchant's answer without its sub_mchid, or in the direct shape.
        (
            &sub,
            r#"{"sp_mchid":"1900000109","out_trade_no":"T1","trade_state":"SUCCESS"}"#,
        ),
        (
            &sub,
            r#"{"mchid":"1900000109","out_trade_no":"T1","trade_state":"SUCCESS"}"#,
        ),
        (
            &sub,
            r#"{"mchid":"1900000109","sp_mchid":"1900000109","sub_mchid":"1900000209","out_trade_no":"T1","trade_state":"SUCCESS"}"#,
        ),
        // A direct merchant's answer without mchid, or in the sub-merchant shape.
        (&direct, r#"{"out_trade_no":"T1","trade_state":"SUCCESS"}"#),
        (
            &direct,
            r#"{"sp_mchid":"1900000109","sub_mchid":"1900000209","out_trade_no":"T1","trade_state":"SUCCESS"}"#,
        ),
        (
            &direct,
            r#"{"mchid":"1900000109","sub_mchid":"1900000209","out_trade_no":"T1","trade_state":"SUCCESS"}"#,
        ),
    ];
    for (api, json) in cases {
        let err = read_query("T1", api, &Currency::CNY, &reply(json)).unwrap_err();
        assert!(
            matches!(&err, PaymentError::Transient { message, .. } if message.contains("about order")),
            "{json}: {err:?}"
        );
    }
    let ours = r#"{"mchid":"1900000109","out_trade_no":"T1","trade_state":"NOTPAY"}"#;
    assert_eq!(
        read_query("T1", &direct, &Currency::CNY, &reply(ours)),
        Ok(TradeState::NotPay)
    );
}

#[test]
fn a_pinned_order_is_owned_only_by_the_merchant_it_was_made_for() {
    let kinds = [
        (Region::Mainland, false),
        (Region::Mainland, true),
        (Region::Global, false),
        (Region::Global, true),
    ];
    for (made_region, made_sub) in kinds {
        let pinned = body(made_region, made_sub, Money::cny(3200), false);
        for (region, sub) in kinds {
            let owned = owns(&test_api(region, sub), &pinned);
            let same = (made_region, made_sub) == (region, sub);
            assert_eq!(
                owned.is_ok(),
                same,
                "{made_region:?}/{made_sub} read as {region:?}/{sub}: {owned:?}"
            );
        }
    }
    let other_mchid =
        body(Region::Mainland, false, Money::cny(1), false).replace("1900000109", "1900000999");
    let why = owns(&test_api(Region::Mainland, false), &other_mchid).unwrap_err();
    assert!(why.contains("\"1900000999\""), "{why}");
}

#[test]
fn an_unreadable_exchange_rate_never_hides_the_payment() {
    for rate in [r#""rate":"0.9""#, r#""rate":0.9"#, r#""other":1"#] {
        let json = format!(
            r#"{{"mchid":"1900000109","out_trade_no":"T1","id":"4200","trade_state":"SUCCESS",
                "amount":{{"total":1234,"currency":"HKD","payer_total":1110,"payer_currency":"CNY",
                "exchange_rate":{{"type":"SETTLEMENT_RATE",{rate}}}}}}}"#
        );
        let payment = paid(&test_api(Region::Global, false), &json);
        assert_eq!(payment.payer_total, Money::cny(1110), "{rate}");
        assert_eq!(payment.exchange_rate, None, "{rate}");
    }
}

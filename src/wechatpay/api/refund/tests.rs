//! Known refund bodies of the four kinds of merchant, and the refund answers of the
//! mainland and Global mapped into [`RefundProgress`].

use super::*;
use crate::config::Region;
use crate::wechatpay::auth::VerifyError;
use crate::wechatpay::region::test_api;

fn refund(amount: Money, reason: bool) -> RefundOrder {
    RefundOrder {
        out_trade_no: "T1".into(),
        out_refund_no: "T1-R1".into(),
        total: amount.with_minor(3200),
        refund: amount,
        reason: reason.then(|| "returned".into()),
        request: None,
    }
}

fn body(region: Region, sub: bool, amount: Money, reason: bool) -> String {
    request_body(
        &test_api(region, sub),
        "https://m.example/n",
        &refund(amount, reason),
    )
}

const ASKED: Asked<'static> = Asked {
    out_trade_no: "T1",
    out_refund_no: "T1-R1",
};

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

#[test]
fn refund_bodies_of_the_four_kinds() {
    let tail = r#""out_trade_no":"T1","out_refund_no":"T1-R1","reason":"returned","notify_url":"https://m.example/n","amount":{"refund":1000,"total":3200,"currency":"#;
    let hkd = Money::new(1000, Currency::new("HKD"));
    let cases = [
        (Region::Mainland, false, Money::cny(1000), r#"{"#.to_owned(), "CNY"),
        (
            Region::Mainland,
            true,
            Money::cny(1000),
            r#"{"sub_mchid":"1900000209","#.to_owned(),
            "CNY",
        ),
        (
            Region::Global,
            false,
            hkd.clone(),
            r#"{"appid":"wxsp","mchid":"1900000109","#.to_owned(),
            "HKD",
        ),
        (
            Region::Global,
            true,
            hkd,
            r#"{"sp_appid":"wxsp","sp_mchid":"1900000109","sub_appid":"wxsub","sub_mchid":"1900000209","#
                .to_owned(),
            "HKD",
        ),
    ];
    for (region, sub, amount, head, currency) in cases {
        assert_eq!(
            body(region, sub, amount, true),
            format!("{head}{tail}\"{currency}\"}}}}")
        );
    }
    // No reason: not sent.
    assert_eq!(
        body(Region::Mainland, false, Money::cny(5), false),
        r#"{"out_trade_no":"T1","out_refund_no":"T1-R1","notify_url":"https://m.example/n","amount":{"refund":5,"total":3200,"currency":"CNY"}}"#
    );
}

#[test]
fn mainland_answers_map_to_progress() {
    let api = test_api(Region::Mainland, false);
    let read = |json: &str| {
        let object = Object::RefundQueried;
        read_refund(&api, object, ASKED, &Currency::CNY, &reply(json))
    };
    assert_eq!(
        read(
            r#"{"refund_id":"50000","out_refund_no":"T1-R1","out_trade_no":"T1","status":"PROCESSING"}"#
        ),
        Ok(RefundProgress::Processing {
            refund_id: Some("50000".into())
        })
    );
    assert_eq!(
        read(
            r#"{"refund_id":"50000","out_refund_no":"T1-R1","out_trade_no":"T1","status":"SUCCESS","success_time":"2026-01-01T10:00:00+08:00","amount":{"total":3200,"refund":1000,"payer_refund":900,"currency":"CNY"}}"#
        ),
        Ok(RefundProgress::Refunded(RefundDone {
            refund_id: "50000".into(),
            success_time: "2026-01-01T10:00:00+08:00".into(),
            refund: Money::cny(1000),
            payer_refund: Money::cny(900),
        }))
    );
    assert_eq!(
        read(r#"{"out_refund_no":"T1-R1","out_trade_no":"T1","status":"CLOSED"}"#),
        Ok(RefundProgress::Closed)
    );
    assert_eq!(
        read(r#"{"out_refund_no":"T1-R1","out_trade_no":"T1","status":"ABNORMAL"}"#),
        Ok(RefundProgress::Abnormal)
    );
    // Global's word for closed is not the mainland's: polled on, not taken as closed.
    assert_eq!(
        read(r#"{"out_refund_no":"T1-R1","out_trade_no":"T1","status":"REFUNDCLOSE"}"#),
        Ok(RefundProgress::Processing { refund_id: None })
    );
    // About another refund, order or merchant, or unreadable: not believed.
    for json in [
        r#"{"refund_id":"5","out_refund_no":"T1-R2","out_trade_no":"T1","status":"SUCCESS"}"#,
        r#"{"refund_id":"5","out_trade_no":"T1","status":"SUCCESS"}"#,
        r#"{"refund_id":"5","out_refund_no":"T1-R1","out_trade_no":"T2","status":"SUCCESS"}"#,
        r#"{"refund_id":"5","out_refund_no":"T1-R1","status":"SUCCESS"}"#,
        r#"{"refund_id":"5","mchid":"1900000999","out_refund_no":"T1-R1","out_trade_no":"T1","status":"SUCCESS"}"#,
        "not json",
    ] {
        assert!(
            matches!(read(json), Err(PaymentError::Transient { .. })),
            "{json}"
        );
    }
}

#[test]
fn global_answers_map_to_progress() {
    let api = test_api(Region::Global, true);
    let hkd = Currency::new("HKD");
    let read = |json: &str| read_refund(&api, Object::RefundQueried, ASKED, &hkd, &reply(json));
    // The apply answer has no status, and names no order.
    let applied =
        r#"{"id":"50300","out_refund_no":"T1-R1","amount":{"refund":1000,"currency":"HKD"}}"#;
    assert_eq!(
        read_refund(&api, Object::RefundApplied, ASKED, &hkd, &reply(applied)),
        Ok(RefundProgress::Processing {
            refund_id: Some("50300".into())
        })
    );
    assert_eq!(
        read(
            r#"{"id":"50300","out_refund_no":"T1-R1","out_trade_no":"T1","transaction_id":"42","status":"SUCCESS","success_time":"t","amount":{"refund":1000,"currency":"HKD","payer_refund":920,"payer_currency":"CNY"}}"#
        ),
        Ok(RefundProgress::Refunded(RefundDone {
            refund_id: "50300".into(),
            success_time: "t".into(),
            refund: Money::new(1000, hkd.clone()),
            payer_refund: Money::cny(920),
        }))
    );
    assert_eq!(
        read(r#"{"id":"1","out_refund_no":"T1-R1","out_trade_no":"T1","status":"REFUNDCLOSE"}"#),
        Ok(RefundProgress::Closed)
    );
}

#[test]
fn notification_objects_use_refund_status() {
    let api = test_api(Region::Mainland, false);
    let object = br#"{"mchid":"1900000109","out_trade_no":"T1","refund_id":"50000","out_refund_no":"T1-R1","refund_status":"SUCCESS","success_time":"t","amount":{"total":3200,"refund":1000,"payer_total":3200,"payer_refund":1000}}"#;
    assert_eq!(refund_number(object).as_deref(), Ok("T1-R1"));
    let progress = read_refund_object(&api, ASKED, &Currency::CNY, object).unwrap();
    assert_eq!(
        progress,
        RefundProgress::Refunded(RefundDone {
            refund_id: "50000".into(),
            success_time: "t".into(),
            refund: Money::cny(1000),
            payer_refund: Money::cny(1000),
        })
    );
    assert!(refund_number(br#"{"refund_status":"SUCCESS"}"#).is_err());
    assert!(refund_number(b"[1]").is_err());
    // About another order of this merchant: not believed, and the error says so.
    let other_order = br#"{"mchid":"1900000109","out_trade_no":"T2","out_refund_no":"T1-R1","refund_status":"SUCCESS"}"#;
    let why = read_refund_object(&api, ASKED, &Currency::CNY, other_order).unwrap_err();
    assert!(
        why.contains(r#"out_trade_no is "T2", expected "T1""#),
        "{why}"
    );
    let no_merchant = br#"{"out_trade_no":"T1","out_refund_no":"T1-R1","refund_status":"SUCCESS"}"#;
    assert!(read_refund_object(&api, ASKED, &Currency::CNY, no_merchant).is_err());
}

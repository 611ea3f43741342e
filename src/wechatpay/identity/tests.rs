//! The identity check for each of the four kinds of merchant and each kind of object:
//! what must be there, what is compared only when there, and what the error says.

use serde_json::{Value, json};

use super::*;
use crate::wechatpay::region::test_api;

const KINDS: [(Region, bool); 4] = [
    (Region::Mainland, false),
    (Region::Mainland, true),
    (Region::Global, false),
    (Region::Global, true),
];

const OBJECTS: [Object; 6] = [
    Object::OrderAnswer,
    Object::TransactionNotice,
    Object::RefundApplied,
    Object::RefundQueried,
    Object::RefundNotice,
    Object::PinnedOrder,
];

/// An object of this merchant about order `T1` and refund `T1-R1`, every identity field
/// there.
fn genuine(api: &Api) -> Value {
    let mut o = json!({"out_trade_no": "T1", "out_refund_no": "T1-R1"});
    for (name, value) in api.order_fields() {
        o[name] = json!(value);
    }
    o
}

fn without(o: &Value, field: &str) -> Value {
    let mut o = o.clone();
    o.as_object_mut().unwrap().remove(field);
    o
}

fn with(o: &Value, field: &str, value: &str) -> Value {
    let mut o = o.clone();
    o[field] = json!(value);
    o
}

const ABOUT: About<'static> = About {
    out_trade_no: Some("T1"),
    out_refund_no: Some("T1-R1"),
};

#[test]
fn every_kind_accepts_its_own_objects() {
    for (region, sub) in KINDS {
        let api = test_api(region, sub);
        for object in OBJECTS {
            assert_eq!(
                api.check_identity(object, &genuine(&api), ABOUT),
                Ok(()),
                "{region:?}/{sub} {object:?}"
            );
        }
    }
}

#[test]
fn another_merchant_is_refused_wherever_it_is_named() {
    for (region, sub) in KINDS {
        let api = test_api(region, sub);
        for (name, ours) in api.merchant_fields() {
            let other = with(&genuine(&api), name, "1900000999");
            for object in OBJECTS {
                let e = api.check_identity(object, &other, ABOUT).unwrap_err();
                assert_eq!(
                    e,
                    Foreign {
                        field: name,
                        found: Some("\"1900000999\"".into()),
                        expected: Some(ours.into()),
                    },
                    "{region:?}/{sub} {object:?}"
                );
            }
        }
    }
}

#[test]
fn the_other_modes_fields_are_refused_everywhere() {
    for (region, sub) in KINDS {
        let api = test_api(region, sub);
        let field = api.foreign_fields()[0];
        let shaped = with(&genuine(&api), field, "1900000109");
        for object in OBJECTS {
            let e = api.check_identity(object, &shaped, ABOUT).unwrap_err();
            assert_eq!((e.field, &e.expected), (field, &None), "{object:?}");
            assert!(e.to_string().contains("never has"), "{e}");
        }
    }
}

#[test]
fn refund_answers_need_no_merchant_but_notifications_and_queries_do() {
    for (region, sub) in KINDS {
        let api = test_api(region, sub);
        let mut anonymous = genuine(&api);
        for (name, _) in api.order_fields() {
            anonymous = without(&anonymous, name);
        }
        for object in OBJECTS {
            let result = api.check_identity(object, &anonymous, ABOUT);
            let answer = matches!(object, Object::RefundApplied | Object::RefundQueried);
            assert_eq!(result.is_ok(), answer, "{region:?}/{sub} {object:?}");
            if let Err(e) = result {
                assert_eq!(e.found, None, "missing: {e}");
                assert!(e.to_string().contains("is missing"), "{e}");
            }
        }
    }
}

#[test]
fn the_order_must_be_ours_and_is_required_but_in_globals_apply_answer() {
    for (region, sub) in KINDS {
        let api = test_api(region, sub);
        let checked = OBJECTS.into_iter().filter(|o| *o != Object::PinnedOrder);
        for object in checked {
            let other = with(&genuine(&api), "out_trade_no", "T2");
            let e = api.check_identity(object, &other, ABOUT).unwrap_err();
            assert_eq!(e.to_string(), r#"out_trade_no is "T2", expected "T1""#);
            let missing =
                api.check_identity(object, &without(&genuine(&api), "out_trade_no"), ABOUT);
            let optional = object == Object::RefundApplied && region == Region::Global;
            assert_eq!(missing.is_ok(), optional, "{region:?}/{sub} {object:?}");
        }
        // A pinned body is checked for its merchant only.
        let other = with(&genuine(&api), "out_trade_no", "T2");
        assert_eq!(
            api.check_identity(Object::PinnedOrder, &other, ABOUT),
            Ok(())
        );
    }
}

#[test]
fn the_refund_must_be_ours_in_every_refund_object() {
    for (region, sub) in KINDS {
        let api = test_api(region, sub);
        for object in [
            Object::RefundApplied,
            Object::RefundQueried,
            Object::RefundNotice,
        ] {
            let other = with(&genuine(&api), "out_refund_no", "T1-R2");
            let e = api.check_identity(object, &other, ABOUT).unwrap_err();
            assert_eq!(e.field, "out_refund_no", "{object:?}");
            let missing = without(&genuine(&api), "out_refund_no");
            assert!(api.check_identity(object, &missing, ABOUT).is_err());
        }
        // Not compared when the caller names no refund.
        let other = with(&genuine(&api), "out_refund_no", "T1-R2");
        let order_only = About::order("T1");
        assert_eq!(
            api.check_identity(Object::RefundNotice, &other, order_only),
            Ok(())
        );
    }
}

#[test]
fn only_a_transaction_notification_is_held_to_its_app() {
    for (region, sub) in KINDS {
        let api = test_api(region, sub);
        let (app, _) = api.order_fields()[0];
        let other_app = with(&genuine(&api), app, "wxother");
        for object in OBJECTS {
            let result = api.check_identity(object, &other_app, ABOUT);
            assert_eq!(
                result.is_err(),
                object == Object::TransactionNotice,
                "{region:?}/{sub} {object:?}: {result:?}"
            );
        }
        let e = api
            .check_identity(Object::TransactionNotice, &other_app, ABOUT)
            .unwrap_err();
        assert_eq!(
            e.to_string(),
            format!(r#"{app} is "wxother", expected "wxsp""#)
        );
    }
}

#[test]
fn a_value_that_is_not_a_string_is_shown_as_sent() {
    let api = test_api(Region::Mainland, false);
    let mut numeric = genuine(&api);
    numeric["mchid"] = json!(1_900_000_109);
    let e = api
        .check_identity(Object::OrderAnswer, &numeric, ABOUT)
        .unwrap_err();
    assert_eq!(
        e.to_string(),
        r#"mchid is 1900000109, expected "1900000109""#
    );
}

//! What WeChat Pay refuses in a Native order's fields, refused by the sandbox too, so that a
//! POS tried against the sandbox meets the same refusals as against WeChat Pay.
//!
//! The limits are WeChat Pay's `string(N)` of the Native order (`description` 127, `attach`
//! 128, `goods_tag` 32, `out_trade_no` 6–32 of `0-9 A-Z a-z _ - | *`) and no characters of
//! 4 bytes in UTF-8. `string(N)` counts characters, not bytes: the Native order's page says
//! of `description` "不能超过127个字符" (at most 127 characters; docs/wechatpay.md §3), and
//! WeChat Pay's own knowledge base glosses its `string(N)` as "≤N 个 UTF-8 字符" (N UTF-8
//! characters; github.com/wechatpay-apiv3/wechatpay-skills,
//! `wechatpay-product-coupon/references/1-品牌/接入指南/API接口清单.md`).
//!
//! Only the order's fields: this file knows nothing of the sandbox's store.

use crate::payment::{PaymentError, PlaceOrder};

/// WeChat Pay's refusal of `order`, if it would refuse it (`PARAM_ERROR`).
pub(super) fn refusal(order: &PlaceOrder) -> Option<PaymentError> {
    let no = &order.out_trade_no;
    let no_ok = (6..=32).contains(&no.len())
        && no
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || matches!(b, b'_' | b'-' | b'|' | b'*'));
    if !no_ok {
        return Some(param_error(format!(
            "out_trade_no {no:?} is not 6-32 of 0-9 A-Z a-z _ - | *"
        )));
    }
    let texts = [
        ("description", Some(order.description.as_str()), 127),
        ("attach", order.attach.as_deref(), 128),
        ("goods_tag", order.goods_tag.as_deref(), 32),
    ];
    for (field, text, max) in texts {
        let Some(text) = text else { continue };
        if field == "description" && text.is_empty() {
            return Some(param_error("description is empty".into()));
        }
        if text.chars().count() > max {
            return Some(param_error(format!(
                "{field} is longer than {max} characters"
            )));
        }
        if text.chars().any(|c| c.len_utf8() == 4) {
            return Some(param_error(format!(
                "{field} contains a character of 4 bytes in UTF-8"
            )));
        }
    }
    None
}

fn param_error(message: String) -> PaymentError {
    PaymentError::Rejected {
        code: "PARAM_ERROR".into(),
        message,
        request_id: None,
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::money::Money;

    fn order(description: &str, attach: Option<&str>, goods_tag: Option<&str>) -> PlaceOrder {
        PlaceOrder {
            out_trade_no: "T0000000061".into(),
            description: description.into(),
            amount: Money::cny(100),
            attach: attach.map(Into::into),
            goods_tag: goods_tag.map(Into::into),
            time_expire: "2026-11-26T12:10:00+08:00".into(),
            request: None,
        }
    }

    #[test]
    fn refuses_what_wechat_pay_refuses_and_counts_characters() {
        let at_limits = order(
            &"拿".repeat(127),
            Some(&"拿".repeat(128)),
            Some(&"拿".repeat(32)),
        );
        assert!(refusal(&at_limits).is_none(), "characters, not bytes");
        for over in [
            order(&"x".repeat(128), None, None),
            order("x", Some(&"x".repeat(129)), None),
            order("x", None, Some(&"x".repeat(33))),
            order("Latte 😀", None, None),
            order("", None, None),
        ] {
            let Some(PaymentError::Rejected { code, .. }) = refusal(&over) else {
                panic!("refused: {over:?}");
            };
            assert_eq!(code, "PARAM_ERROR");
        }
        let mut bad_no = order("x", None, None);
        bad_no.out_trade_no = "T 1".into();
        assert!(refusal(&bad_no).is_some());
    }
}

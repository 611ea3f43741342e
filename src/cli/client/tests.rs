//! How the CLI client words the daemon's events.

use super::*;
use wxprint::protocol::{ErrorBody, ErrorCode, ExchangeRate, JobState};

fn paid(amount: PaidAmount) -> Event {
    Event::Paid {
        out_trade_no: "T20261126002".into(),
        state: JobState::Paid,
        transaction_id: "4200071552950396617392818394".into(),
        success_time: "2026-11-27T10:15:09+08:00".into(),
        amount,
    }
}

#[test]
fn describe_paid_shows_the_payers_amount_only_when_converted() {
    let mainland = paid(PaidAmount {
        total: 3200,
        payer_total: 3000,
        currency: "CNY".into(),
        payer_currency: "CNY".into(),
        exchange_rate: None,
    });
    assert_eq!(
        describe(&mainland),
        "paid       ￥32.00 transaction 4200071552950396617392818394 at 2026-11-27T10:15:09+08:00"
    );
    let global = paid(PaidAmount {
        total: 1234,
        payer_total: 1135,
        currency: "HKD".into(),
        payer_currency: "CNY".into(),
        exchange_rate: Some(ExchangeRate {
            kind: "SETTLEMENT_RATE".into(),
            rate: 92_000_000,
        }),
    });
    assert_eq!(
        describe(&global),
        "paid       HKD 12.34 (payer ￥11.35) transaction 4200071552950396617392818394 at 2026-11-27T10:15:09+08:00"
    );
    let yen = paid(PaidAmount {
        total: 1200,
        payer_total: 1200,
        currency: "JPY".into(),
        payer_currency: "JPY".into(),
        exchange_rate: None,
    });
    assert!(describe(&yen).starts_with("paid       JPY 1,200 transaction"));
}

#[test]
fn the_currency_flag_is_sent_only_as_given() {
    let op = |currency: Option<&str>| {
        Op::from(DaemonOp::Checkout {
            out_trade_no: "T20261126002".into(),
            total: 1234,
            description: "Milk tea".into(),
            currency: currency.map(str::to_owned),
            no_follow: false,
            slip: false,
        })
    };
    let Op::Checkout(hkd) = op(Some("HKD")) else {
        panic!("a checkout");
    };
    assert_eq!(hkd.order.amount.currency.as_deref(), Some("HKD"));
    let Op::Checkout(plain) = op(None) else {
        panic!("a checkout");
    };
    assert_eq!(
        plain.order.amount.currency, None,
        "the daemon fills in the merchant's currency"
    );
}

#[test]
fn describe_names_the_error_code_as_on_the_wire() {
    let mut error = ErrorBody::new(ErrorCode::Wechatpay, "商户号不存在");
    error.wechatpay_code = Some("MCH_NOT_EXISTS".into());
    let failed = Event::Failed {
        out_trade_no: "T20261126005".into(),
        state: JobState::Failed,
        error,
    };
    let line = "failed     wechatpay MCH_NOT_EXISTS: 商户号不存在";
    assert_eq!(describe(&failed), line);
    let refused = Event::error(ErrorBody::new(ErrorCode::DuplicateOrder, "differs"));
    assert_eq!(describe(&refused), "error      duplicate_order: differs");
}

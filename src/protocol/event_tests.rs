//! Each event serialises with the `event` name it reports, and a converted payment with its
//! payer currency and rate.

use super::super::Paper;
use super::*;

fn delayed(error: ErrorBody) -> Event {
    Event::Delayed {
        out_trade_no: "T1234567".into(),
        state: JobState::Ordering,
        reason: DelayReason::UnverifiedAnswer,
        attempt: 1,
        retry_in_ms: 1000,
        error: Some(error),
    }
}

#[test]
fn event_names_are_the_serialised_event_field() {
    let status = PrinterStatus {
        online: None,
        paper: Paper::Ok,
        cover_open: None,
        error: None,
        transport: None,
        drawer: super::super::DrawerState::Unknown,
    };
    let error = ErrorBody::new(super::super::ErrorCode::Internal, "x");
    let no = || "T1234567".to_owned();
    let state = JobState::Paid;
    let events = [
        Event::Accepted {
            out_trade_no: no(),
            state,
            resumed: false,
        },
        Event::CodeUrl {
            out_trade_no: no(),
            state,
            code_url: "u".into(),
        },
        Event::Printed {
            out_trade_no: None,
            state: None,
            print: PrintState::Printed,
            location: None,
            confirmed: None,
        },
        Event::Cancelling {
            out_trade_no: no(),
            state,
        },
        Event::Paid {
            out_trade_no: no(),
            state,
            transaction_id: "t".into(),
            success_time: "s".into(),
            amount: PaidAmount {
                total: 1,
                payer_total: 1,
                currency: "CNY".into(),
                payer_currency: "CNY".into(),
                exchange_rate: None,
            },
        },
        Event::Closed {
            out_trade_no: no(),
            state,
            reason: CloseReason::Expired,
        },
        Event::Failed {
            out_trade_no: no(),
            state,
            error: error.clone(),
        },
        delayed(error.clone()),
        Event::Printer {
            out_trade_no: None,
            state: None,
            print: None,
            status,
        },
        Event::Pong {
            version: "v".into(),
            protocol: 1,
        },
        Event::error(error),
    ];
    for event in events {
        let wire = serde_json::to_value(&event).expect("plain data");
        assert_eq!(wire["event"].as_str(), Some(event.name()), "{event:?}");
    }
}

#[test]
fn refund_event_names_are_the_serialised_event_field() {
    let error = ErrorBody::new(super::super::ErrorCode::Internal, "x");
    let no = || "T1234567".to_owned();
    let events = [
        Event::RefundAccepted {
            out_trade_no: no(),
            out_refund_no: "R".into(),
            state: RefundState::Processing,
            amount: 1,
            currency: "CNY".into(),
            resumed: false,
        },
        Event::Refunded {
            out_trade_no: no(),
            out_refund_no: "R".into(),
            refund_id: "r".into(),
            success_time: "s".into(),
            amount: RefundAmount {
                refund: 1,
                payer_refund: 1,
                currency: "CNY".into(),
                payer_currency: None,
            },
        },
        Event::RefundFailed {
            out_trade_no: no(),
            out_refund_no: "R".into(),
            state: RefundState::Failed,
            error: error.clone(),
        },
    ];
    for event in events {
        let wire = serde_json::to_value(&event).expect("plain data");
        assert_eq!(wire["event"].as_str(), Some(event.name()), "{event:?}");
        assert_eq!(event.out_refund_no(), Some("R"));
    }
}

#[test]
fn a_converted_payment_carries_the_payer_currency_and_the_rate() {
    let mut amount = PaidAmount {
        total: 1234,
        payer_total: 1136,
        currency: "HKD".into(),
        payer_currency: "CNY".into(),
        exchange_rate: Some(ExchangeRate {
            kind: "SETTLEMENT_RATE".into(),
            rate: 92_000_000,
        }),
    };
    let wire = serde_json::to_value(&amount).expect("plain data");
    assert_eq!(
        wire,
        serde_json::json!({"total": 1234, "payer_total": 1136, "currency": "HKD",
            "payer_currency": "CNY",
            "exchange_rate": {"type": "SETTLEMENT_RATE", "rate": 92_000_000}})
    );
    amount.exchange_rate = None;
    let wire = serde_json::to_value(&amount).expect("plain data");
    assert!(wire.get("exchange_rate").is_none(), "absent, not null");
}

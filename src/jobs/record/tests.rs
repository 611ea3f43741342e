//! The stored request, replay and status of a job record: what a restarted daemon and a
//! retrying POS rely on.

use super::*;
use crate::jobs::fixtures::{CODE_URL, MINUTE, NO, T0, awaiting, cancelling, ordering, payment};
use crate::jobs::transitions;
use crate::printer::Printout;

/// A checkout as the POS sends it (`order` plus `extra` top-level fields).
/// A POS's checkout (no currency named) as the daemon takes it: in a mainland
/// merchant's CNY ([`in_currency`]).
fn checkout(order: &str, extra: &str) -> Checkout {
    let json = format!(
        r#"{{"order":{{"out_trade_no":"T0001","description":"Latte x2","amount":{{"total":3200}}{order}}}{extra}}}"#
    );
    in_currency(&serde_json::from_str(&json).unwrap(), &Currency::CNY)
}

#[test]
fn a_checkout_without_a_currency_is_in_the_merchants() {
    let json = r#"{"order":{"out_trade_no":"T0001","description":"x","amount":{"total":1234}}}"#;
    let pos: Checkout = serde_json::from_str(json).unwrap();
    let hkd = in_currency(&pos, &Currency::new("HKD"));
    assert_eq!(
        order_amount(&hkd.order.amount),
        Money::new(1234, Currency::new("HKD"))
    );
    let named = in_currency(&hkd, &Currency::CNY);
    assert_eq!(named, hkd, "a currency the POS names is kept");
}

fn names(events: &[Event]) -> Vec<&'static str> {
    events.iter().map(Event::name).collect()
}

#[test]
fn a_retry_is_identical_whatever_its_empty_receipt_or_follow_flag() {
    let plain = canonical_request(&checkout("", ""));
    assert_eq!(canonical_request(&checkout("", r#","receipt":{}"#)), plain);
    assert_eq!(
        canonical_request(&checkout("", r#","follow":false"#)),
        plain
    );
    let mut other_amount = checkout("", "");
    other_amount.order.amount.total = 3300;
    assert_ne!(canonical_request(&other_amount), plain);
    let titled = checkout("", r#","receipt":{"title":"Café"}"#);
    assert_ne!(canonical_request(&titled), plain);
}

#[test]
fn a_loopback_checkout_never_shares_a_real_orders_identity() {
    let real = canonical_request(&checkout("", ""));
    // Byte-identical to what journals of real jobs hold, so they still resume.
    let stored = r#"{"order":{"out_trade_no":"T0001","description":"Latte x2","amount":{"total":3200,"currency":"CNY"}}}"#;
    assert_eq!(real, stored);
    assert_eq!(
        canonical_request(&checkout("", r#","loopback":false"#)),
        real
    );
    let test_order = canonical_request(&checkout("", r#","loopback":true"#));
    assert_ne!(test_order, real);
    let make = |c: &Checkout| new_record(c, canonical_request(c), T0 + MINUTE, T0);
    let real_job = make(&checkout("", ""));
    let loopback_job = make(&checkout("", r#","loopback":true"#));
    for (job, other) in [(&real_job, &test_order), (&loopback_job, &real)] {
        let refused = transitions::resume(job, other).unwrap_err();
        assert_eq!(refused.error.code, ErrorCode::DuplicateOrder);
    }
    assert!(transitions::resume(&loopback_job, &test_order).is_ok());
    assert_eq!(receipt_spec(&loopback_job), ReceiptSpec::default());
}

#[test]
fn a_slip_is_part_of_the_checkout_and_read_back_from_the_stored_request() {
    let plain = checkout("", "");
    let with_slip = checkout("", r#","slip":true"#);
    // Without a slip the stored request is what it always was: old journals still resume.
    assert_eq!(
        canonical_request(&checkout("", r#","slip":false"#)),
        canonical_request(&plain)
    );
    let make = |c: &Checkout| new_record(c, canonical_request(c), T0 + MINUTE, T0);
    let (job, slip_job) = (make(&plain), make(&with_slip));
    assert!(slip_asked(&slip_job) && !slip_asked(&job));
    let refused = transitions::resume(&job, &canonical_request(&with_slip)).unwrap_err();
    assert_eq!(
        refused.error.code,
        ErrorCode::DuplicateOrder,
        "other content"
    );
    assert!(transitions::resume(&slip_job, &canonical_request(&with_slip)).is_ok());
}

#[test]
fn the_receipt_is_read_back_from_the_stored_request() {
    let titled = checkout("", r#","receipt":{"title":"Café","footer":"Merci"}"#);
    let record = new_record(&titled, canonical_request(&titled), T0 + MINUTE, T0);
    let spec = receipt_spec(&record);
    assert_eq!(spec.title.as_deref(), Some("Café"));
    assert_eq!(spec.footer.as_deref(), Some("Merci"));
    assert_eq!(receipt_spec(&ordering()), ReceiptSpec::default());
}

#[test]
fn time_expire_is_fixed_at_checkout() {
    let ttl = Duration::from_secs(600);
    let min = Duration::from_secs(60);
    assert_eq!(expire_ms(None, T0, ttl, min), Ok(T0 + 10 * MINUTE));
    // 2026-11-26T12:05:00+08:00 is five minutes after T0.
    let in_five = Some("2026-11-26T12:05:00+08:00");
    assert_eq!(expire_ms(in_five, T0, ttl, min), Ok(T0 + 5 * MINUTE));
    // Exactly a minute ahead is the shortest; a few seconds short (whole-second RFC 3339,
    // another clock) is raised to the minute, as WeChat Pay would.
    let minute = Some("2026-11-26T12:01:00+08:00");
    assert_eq!(expire_ms(minute, T0, ttl, min), Ok(T0 + MINUTE));
    let nearly = Some("2026-11-26T12:00:56+08:00");
    assert_eq!(expire_ms(nearly, T0, ttl, min), Ok(T0 + MINUTE));
    // Two hours ahead is the limit (a code_url lives 2 hours); a second more is refused.
    let two_hours = Some("2026-11-26T14:00:00+08:00");
    assert_eq!(expire_ms(two_hours, T0, ttl, min), Ok(T0 + 120 * MINUTE));
    for late in ["2026-11-26T14:00:01+08:00", "2026-11-26T15:00:00+08:00"] {
        let error = expire_ms(Some(late), T0, ttl, min).unwrap_err();
        assert_eq!(error.field.as_deref(), Some("order.time_expire"), "{late}");
        assert!(
            error.message.contains("at most 2 hours ahead"),
            "{}",
            error.message
        );
    }
    // Thirty seconds is not a minute: refused, saying how far ahead it must be.
    for soon in ["2026-11-26T12:00:30+08:00", "2026-11-26T12:00:54+08:00"] {
        let error = expire_ms(Some(soon), T0, ttl, min).unwrap_err();
        assert_eq!(error.field.as_deref(), Some("order.time_expire"), "{soon}");
        assert!(error.message.contains("at least 60 s"), "{}", error.message);
    }
    for past in ["2026-11-26T12:00:00+08:00", "yesterday"] {
        let error = expire_ms(Some(past), T0, ttl, min).unwrap_err();
        assert_eq!(error.code, ErrorCode::InvalidRequest, "{past}");
        assert_eq!(error.field.as_deref(), Some("order.time_expire"));
    }
}

#[test]
fn a_new_record_holds_the_order_and_nothing_else_yet() {
    let c = checkout(
        r#","attach":"table 4","goods_tag":"tag""#,
        r#","loopback":true"#,
    );
    let r = new_record(&c, canonical_request(&c), T0 + MINUTE, T0);
    assert_eq!(
        (r.state, r.print),
        (JobState::Ordering, PrintState::Pending)
    );
    assert_eq!(
        (r.out_trade_no.as_str(), &r.amount),
        (NO, &Money::cny(3200))
    );
    assert_eq!(r.attach.as_deref(), Some("table 4"));
    assert_eq!(r.goods_tag.as_deref(), Some("tag"));
    assert!(r.loopback);
    assert_eq!(r.time_expire, "2026-11-26T12:01:00+08:00");
    assert_eq!(
        (&r.code_url, r.placed_ms, &r.place_body),
        (&None, None, &None)
    );
    let order = place_order(&r);
    assert_eq!(
        (order.time_expire, order.amount),
        (r.time_expire, Money::cny(3200))
    );
}

#[test]
fn a_resumed_checkout_replays_what_the_job_reached() {
    assert!(replay(&ordering()).is_empty());
    assert_eq!(names(&replay(&awaiting())), ["code_url"]);
    let mut printed = awaiting();
    let printout = Printout {
        location: Some("file".into()),
        confirmed: None,
    };
    transitions::printed(&mut printed, printout);
    let mut paid = printed.clone();
    transitions::paid(&mut paid, payment(3200));
    assert_eq!(names(&replay(&paid)), ["code_url", "printed", "paid"]);
    assert_eq!(replay(&paid)[2], paid_event(&paid));
    let mut failed_print = awaiting();
    let paper_out = err(ErrorCode::Printer, "paper out");
    transitions::print_failed(&mut failed_print, paper_out);
    assert_eq!(names(&replay(&failed_print)), ["code_url", "error"]);
}

#[test]
fn a_code_url_never_announced_is_not_replayed() {
    let mut r = ordering();
    r.state = JobState::Cancelling;
    transitions::placed(&mut r, CODE_URL.into(), T0);
    assert_eq!(names(&replay(&r)), ["cancelling"]);
    transitions::closed(&mut r, None, T0);
    assert_eq!(names(&replay(&r)), ["closed"]);
    let mut printed = cancelling();
    transitions::printed(&mut printed, Printout::default());
    assert_eq!(
        names(&replay(&printed)),
        ["code_url", "printed", "cancelling"]
    );
}

#[test]
fn a_paid_event_reports_wechat_pays_amounts() {
    let mut r = awaiting();
    transitions::paid(&mut r, payment(3100));
    let Event::Paid { amount, .. } = paid_event(&r) else {
        panic!("not paid");
    };
    assert_eq!((amount.total, amount.payer_total), (3100, 3000));
    let status = status_of(&r);
    assert_eq!(
        (status.amount.total, status.payer_total),
        (3200, Some(3000))
    );
    assert_eq!(status.created_at, "2026-11-26T12:00:00+08:00");
}

#[test]
fn a_converted_payment_is_reported_with_the_payers_currency_and_the_rate() {
    let mut r = awaiting();
    transitions::paid(&mut r, payment(3100));
    let Event::Paid { amount, .. } = paid_event(&r) else {
        panic!("not paid");
    };
    assert_eq!(
        (amount.currency.as_str(), amount.payer_currency.as_str()),
        ("CNY", "CNY")
    );
    assert_eq!(amount.exchange_rate, None, "the mainland converts nothing");

    let hkd = |minor| Money::new(minor, Currency::new("HKD"));
    let mut r = awaiting();
    r.amount = hkd(1234);
    let global = crate::payment::Payment {
        total: hkd(1234),
        payer_total: Money::cny(1135),
        exchange_rate: Some(crate::payment::ExchangeRate {
            kind: "SETTLEMENT_RATE".into(),
            rate: 92_000_000,
        }),
        ..payment(1234)
    };
    transitions::paid(&mut r, global);
    let rate = Some(ExchangeRate {
        kind: "SETTLEMENT_RATE".into(),
        rate: 92_000_000,
    });
    let Event::Paid { amount, .. } = paid_event(&r) else {
        panic!("not paid");
    };
    let expected = PaidAmount {
        total: 1234,
        payer_total: 1135,
        currency: "HKD".into(),
        payer_currency: "CNY".into(),
        exchange_rate: rate.clone(),
    };
    assert_eq!(amount, expected);
    let status = status_of(&r);
    assert_eq!(status.payer_total, Some(1135));
    assert_eq!(
        status.amount,
        StatusAmount {
            total: 1234,
            currency: "HKD".into(),
            payer_currency: Some("CNY".into()),
            exchange_rate: rate,
        }
    );
    let unpaid = status_of(&awaiting()).amount;
    assert_eq!((unpaid.payer_currency, unpaid.exchange_rate), (None, None));
}

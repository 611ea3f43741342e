//! The sandbox's orders: shape, lifecycle, identity, persistence.

use super::*;

fn order(no: &str, total: i64) -> PlaceOrder {
    PlaceOrder {
        out_trade_no: no.into(),
        description: "Latte x2".into(),
        amount: Money::cny(total),
        attach: None,
        goods_tag: None,
        time_expire: "2026-11-26T12:10:00+08:00".into(),
        request: None,
    }
}

fn block<T>(f: BoxFuture<'_, T>) -> T {
    tokio::runtime::Builder::new_current_thread()
        .build()
        .unwrap()
        .block_on(f)
}

#[test]
fn code_url_has_the_native_shape() {
    let url = new_code_url();
    let pr = url.strip_prefix(CODE_URL_PREFIX).unwrap();
    assert_eq!(pr.len(), 7);
    assert!(pr.bytes().all(|b| b.is_ascii_alphanumeric()));
    assert_ne!(new_code_url(), url, "random");
}

#[test]
fn order_lifecycle() {
    let s = Sandbox::in_memory();
    let first = block(s.place(&order("T1000001", 3200))).unwrap();
    assert_eq!(block(s.query("T1000001")).unwrap(), TradeState::NotPay);
    // Identical re-entry: a new code_url replaces the old one.
    let again = block(s.place(&order("T1000001", 3200))).unwrap();
    assert_ne!(again, first);
    assert_eq!(s.current_code_url("T1000001").unwrap(), again.code_url);
    // Different content under the same number is refused.
    let e = block(s.place(&order("T1000001", 3300))).unwrap_err();
    assert!(matches!(e, PaymentError::Rejected { ref code, .. } if code == "INVALID_REQUEST"));

    let paid = s.pay("T1000001").unwrap();
    assert_eq!(paid.total, Money::cny(3200));
    assert!(paid.transaction_id.starts_with("42000") && paid.transaction_id.len() == 28);
    assert_eq!(block(s.query("T1000001")).unwrap(), TradeState::Paid(paid));
    assert_eq!(
        block(s.close("T1000001")).unwrap_err(),
        PaymentError::OrderPaid("T1000001".into())
    );
    assert!(matches!(
        s.pay("T1000001"),
        Err(SandboxError::NotPayable { .. })
    ));

    // Re-placing a paid order says so (the job then queries and reports the payment).
    assert_eq!(
        block(s.place(&order("T1000001", 3200))).unwrap_err(),
        PaymentError::OrderPaid("T1000001".into())
    );
}

#[test]
fn close_is_reentrant_and_final() {
    let s = Sandbox::in_memory();
    block(s.place(&order("T2000002", 1))).unwrap();
    block(s.close("T2000002")).unwrap();
    block(s.close("T2000002")).unwrap();
    assert_eq!(block(s.query("T2000002")).unwrap(), TradeState::Closed);
    assert_eq!(
        block(s.place(&order("T2000002", 1))).unwrap_err(),
        PaymentError::OrderClosed("T2000002".into()),
        "a closed order cannot be placed again"
    );
    assert!(matches!(
        s.pay("T2000002"),
        Err(SandboxError::NotPayable { .. })
    ));
    assert_eq!(
        block(s.query("T9999999")).unwrap_err(),
        PaymentError::OrderNotFound("T9999999".into())
    );
    assert_eq!(
        s.pay("T9999999"),
        Err(SandboxError::NotFound("T9999999".into()))
    );
}

#[test]
fn an_order_stored_by_an_older_wxprint_is_the_same_order() {
    let s = Sandbox::in_memory();
    let old = identity::legacy(&order("T4000004", 3200));
    s.conn()
        .execute(
            "INSERT INTO sandbox_orders (out_trade_no, request, code_url, trade_state, total, currency)
             VALUES ('T4000004', ?1, 'weixin://wxpay/bizpayurl?pr=0ld0ld0', 'NOTPAY', 3200, 'CNY')",
            [&old],
        )
        .unwrap();
    // The job resumed after the upgrade places its order again: the same order.
    let again = block(s.place(&order("T4000004", 3200))).unwrap();
    assert_eq!(s.current_code_url("T4000004"), Some(again.code_url));
    let e = block(s.place(&order("T4000004", 3300))).unwrap_err();
    assert!(matches!(e, PaymentError::Rejected { ref code, .. } if code == "INVALID_REQUEST"));
    assert_eq!(s.pay("T4000004").unwrap().total, Money::cny(3200));
}

#[test]
fn a_pinned_request_is_the_orders_identity() {
    let s = Sandbox::in_memory();
    let mut pinned = order("T5000005", 3200);
    pinned.request = s.prepare(&pinned);
    assert!(
        pinned
            .request
            .as_deref()
            .unwrap()
            .contains(r#""total":3200"#)
    );
    block(s.place(&pinned)).unwrap();
    let stored: String = s
        .conn()
        .query_row("SELECT request FROM sandbox_orders", [], |r| r.get(0))
        .unwrap();
    assert_eq!(
        Some(stored),
        pinned.request,
        "stored as pinned, not as Debug text"
    );
    // A job journaled before the sandbox pinned anything places the same order.
    block(s.place(&order("T5000005", 3200))).unwrap();
    let mut other = order("T5000005", 3200);
    other.request = Some(r#"{"other":true}"#.into());
    assert!(
        block(s.place(&other)).is_err(),
        "another request, another order"
    );
}

#[test]
fn orders_survive_a_restart() {
    let dir = tempfile::tempdir().unwrap();
    let url = {
        let s = Sandbox::open(dir.path()).unwrap();
        block(s.place(&order("T3000003", 500))).unwrap().code_url
    };
    let s = Sandbox::open(dir.path()).unwrap();
    assert_eq!(s.current_code_url("T3000003"), Some(url));
    s.pay("T3000003").unwrap();
}

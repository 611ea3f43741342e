//! The codec's tests: every record spelled in a row and read back, and unknown spellings refused.

use super::*;
use crate::journal::schema;

/// The spellings in every journal written so far. Never edit a line of these tables:
/// a journal on a register somewhere holds them. (Before the journal had this codec it
/// stored the protocol's spellings, so a renamed wire value would have failed here.)
const STATES: [(JobState, &str); 7] = [
    (JobState::Ordering, "ordering"),
    (JobState::AwaitingPayment, "awaiting_payment"),
    (JobState::UserPaying, "user_paying"),
    (JobState::Cancelling, "cancelling"),
    (JobState::Paid, "paid"),
    (JobState::Closed, "closed"),
    (JobState::Failed, "failed"),
];
const PRINTS: [(PrintState, &str); 3] = [
    (PrintState::Pending, "pending"),
    (PrintState::Printed, "printed"),
    (PrintState::Failed, "failed"),
];
const REASONS: [(CloseReason, &str); 3] = [
    (CloseReason::Cancelled, "cancelled"),
    (CloseReason::Expired, "expired"),
    (CloseReason::Remote, "remote"),
];
const CODES: [(ErrorCode, &str); 16] = [
    (ErrorCode::InvalidJson, "invalid_json"),
    (ErrorCode::InvalidRequest, "invalid_request"),
    (ErrorCode::LineTooLong, "line_too_long"),
    (ErrorCode::UnknownOp, "unknown_op"),
    (ErrorCode::DuplicateOrder, "duplicate_order"),
    (ErrorCode::OrderNotFound, "order_not_found"),
    (ErrorCode::Wechatpay, "wechatpay"),
    (ErrorCode::WechatpayUnavailable, "wechatpay_unavailable"),
    (ErrorCode::Printer, "printer"),
    (ErrorCode::ShuttingDown, "shutting_down"),
    (ErrorCode::NotPayable, "not_payable"),
    (ErrorCode::SandboxOnly, "sandbox_only"),
    (ErrorCode::Internal, "internal"),
    (ErrorCode::NotRefundable, "not_refundable"),
    (ErrorCode::RefundTooLarge, "refund_too_large"),
    (ErrorCode::DuplicateRefund, "duplicate_refund"),
];

/// An in-memory `jobs` table of the current schema.
fn table() -> Connection {
    let conn = Connection::open_in_memory().unwrap();
    schema::migrate(&conn, 0).unwrap();
    conn
}

fn record() -> JobRecord {
    JobRecord::new(
        "T0000001",
        r#"{"order":{}}"#,
        "Latte x2",
        Money::cny(3200),
        1_795_666_200_000,
        1_795_665_600_000,
    )
}

/// `r` written, then its `column` read back with plain SQL.
fn stored(conn: &Connection, r: &JobRecord, column: &str) -> Option<String> {
    write_row(conn, Write::Replace, r).unwrap();
    let sql = format!("SELECT {column} FROM jobs WHERE out_trade_no = ?1");
    conn.query_row(&sql, [&r.out_trade_no], |row| row.get(0))
        .unwrap()
}

#[test]
fn stored_spellings_are_pinned() {
    let conn = table();
    let mut r = record();
    for (state, text) in STATES {
        r.state = state;
        assert_eq!(stored(&conn, &r, "state").as_deref(), Some(text));
        assert_eq!(parse_state(text), Some(state));
    }
    for (print, text) in PRINTS {
        r.print = print;
        assert_eq!(stored(&conn, &r, "print").as_deref(), Some(text));
        assert_eq!(parse_print(text), Some(print));
    }
    for (reason, text) in REASONS {
        r.close_reason = Some(reason);
        assert_eq!(stored(&conn, &r, "close_reason").as_deref(), Some(text));
        assert_eq!(parse_reason(text), Some(reason));
    }
    for (code, text) in CODES {
        r.error = Some(ErrorBody::new(code, "m"));
        let json = format!(r#"{{"code":"{text}","message":"m"}}"#);
        assert_eq!(stored(&conn, &r, "error"), Some(json));
        assert_eq!(parse_code(text), Some(code));
    }
    r.error = Some(ErrorBody {
        code: ErrorCode::Wechatpay,
        message: "商户号不存在".into(),
        wechatpay_code: Some("MCH_NOT_EXISTS".into()),
        request_id: Some("08F8B1C2-0001".into()),
        field: Some("order".into()),
    });
    let json = r#"{"code":"wechatpay","message":"商户号不存在","wechatpay_code":"MCH_NOT_EXISTS","request_id":"08F8B1C2-0001","field":"order"}"#;
    assert_eq!(stored(&conn, &r, "error").as_deref(), Some(json));
    assert_eq!(stored(&conn, &r, "currency").as_deref(), Some("CNY"));
}

#[test]
fn a_row_written_by_an_older_wxprint_reads_back_unchanged() {
    let conn = Connection::open_in_memory().unwrap();
    schema::create_v1(&conn).unwrap();
    // A paid job and a failed one, as wxprint wrote them before this codec existed
    // (schema version 1), then the file migrated to the current schema.
    conn.execute_batch(
        r#"INSERT INTO jobs VALUES ('T0000001', '{"order":{}}', 'paid', 'printed',
            'Latte x2', 3200, 'CNY', 'till 2', NULL, '2026-11-26T12:10:00+08:00',
            1795666200000, '{"pinned":1}', 0, 'weixin://wxpay/bizpayurl?pr=abc',
            1795665601000, '4200000001', '2026-11-26T12:01:00+08:00', 3000, 3100,
            NULL, NULL, 1795665600000, 1795665660000);
           INSERT INTO jobs VALUES ('T0000002', '{"order":{}}', 'closed', 'failed',
            'Tea', 800, 'CNY', NULL, NULL, '2026-11-26T12:10:00+08:00',
            1795666200000, NULL, 1, NULL, NULL, NULL, NULL, NULL, NULL, 'cancelled',
            '{"code":"printer","message":"paper out"}', 1795665600000, 1795665600000);"#,
    )
    .unwrap();
    schema::migrate(&conn, 1).unwrap();
    let read = |no: &str| {
        let sql = "SELECT * FROM jobs WHERE out_trade_no = ?1";
        let row = conn.query_row(sql, [no], read_row).unwrap();
        row.expect("a valid record")
    };
    let paid = read("T0000001");
    assert_eq!(
        (paid.state, paid.print),
        (JobState::Paid, PrintState::Printed)
    );
    assert_eq!(paid.amount, Money::cny(3200));
    assert_eq!(
        (paid.paid_amount(), paid.payer_amount()),
        (Money::cny(3100), Money::cny(3000))
    );
    assert_eq!(paid.attach.as_deref(), Some("till 2"));
    assert_eq!((&paid.payer_currency, &paid.exchange_rate), (&None, &None));
    let closed = read("T0000002");
    assert_eq!(
        (closed.state, closed.print, closed.close_reason),
        (
            JobState::Closed,
            PrintState::Failed,
            Some(CloseReason::Cancelled)
        )
    );
    assert!(closed.loopback);
    assert_eq!(
        closed.error,
        Some(ErrorBody::new(ErrorCode::Printer, "paper out"))
    );
    // Written back, every column is as it was.
    let before = rows(&conn);
    for r in [&paid, &closed] {
        write_row(&conn, Write::Replace, r).unwrap();
    }
    assert_eq!(rows(&conn), before);
}

/// Every value of every row, as SQLite holds it.
fn rows(conn: &Connection) -> Vec<Vec<rusqlite::types::Value>> {
    let mut stmt = conn
        .prepare("SELECT * FROM jobs ORDER BY out_trade_no")
        .unwrap();
    let width = stmt.column_count();
    stmt.query_map([], |row| (0..width).map(|i| row.get(i)).collect())
        .unwrap()
        .collect::<Result<_, _>>()
        .unwrap()
}

#[test]
fn an_unknown_spelling_is_corrupt_not_guessed() {
    assert_eq!(parse_state("awaiting"), None);
    assert_eq!(parse_print("PRINTED"), None);
    assert!(decode_error(r#"{"code":"nope","message":"m"}"#).is_err());
    let conn = table();
    write_row(&conn, Write::Insert, &record()).unwrap();
    conn.execute("UPDATE jobs SET state = 'awaiting'", [])
        .unwrap();
    let row = conn.query_row("SELECT * FROM jobs", [], read_row).unwrap();
    let corrupt = row.expect_err("corrupt");
    assert_eq!(
        (corrupt.out_trade_no.as_str(), corrupt.what.as_str()),
        ("T0000001", r#"state "awaiting""#)
    );
}

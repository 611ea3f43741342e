//! How a [`JobRecord`] is spelled in the `jobs` table: the journal's own spellings of job
//! states, print states, close reasons and error bodies, and the row ↔ record mapping.
//!
//! These spellings are the disk format of every journal ever written, so they are fixed
//! here, once, and never borrowed from the protocol: the protocol may rename a wire value
//! (its serde spelling, its `as_str`) without a journal written before the rename becoming
//! unreadable. Today each spelling happens to equal the wire's; a test pins them.
//!
//! Knows the columns (`schema.rs` creates them) and the record; no business rules.

use std::sync::OnceLock;

use rusqlite::{Connection, Row, ToSql};
use serde::{Deserialize, Serialize};

use super::JobRecord;
use crate::money::{Currency, Money};
use crate::payment::ExchangeRate;
use crate::protocol::{CloseReason, ErrorBody, ErrorCode, JobState, PrintState};

/// `$name` spells a `$ty` for the journal and `$parse` reads it back; every variant must
/// be listed (the `match` is exhaustive), each spelling is written once.
macro_rules! spellings {
    ($(#[$doc:meta])* $name:ident, $parse:ident: $ty:ident { $($variant:ident => $text:literal,)+ }) => {
        $(#[$doc])*
        pub(super) fn $name(value: $ty) -> &'static str {
            match value {
                $($ty::$variant => $text,)+
            }
        }

        /// The value a stored spelling names (`None`: not a spelling of this journal).
        pub(super) fn $parse(text: &str) -> Option<$ty> {
            match text {
                $($text => Some($ty::$variant),)+
                _ => None,
            }
        }
    };
}

spellings! {
    /// A job's state, as stored in `state`.
    state_name, parse_state: JobState {
        Ordering => "ordering",
        AwaitingPayment => "awaiting_payment",
        UserPaying => "user_paying",
        Cancelling => "cancelling",
        Paid => "paid",
        Closed => "closed",
        Failed => "failed",
    }
}

spellings! {
    /// Where the receipt stands, as stored in `print`.
    print_name, parse_print: PrintState {
        Pending => "pending",
        Printed => "printed",
        Failed => "failed",
    }
}

spellings! {
    /// Why an order was closed, as stored in `close_reason`.
    reason_name, parse_reason: CloseReason {
        Cancelled => "cancelled",
        Expired => "expired",
        Remote => "remote",
    }
}

spellings! {
    /// An error's code, as stored in the `code` of the `error` column's JSON.
    code_name, parse_code: ErrorCode {
        InvalidJson => "invalid_json",
        InvalidRequest => "invalid_request",
        LineTooLong => "line_too_long",
        UnknownOp => "unknown_op",
        DuplicateOrder => "duplicate_order",
        OrderNotFound => "order_not_found",
        Wechatpay => "wechatpay",
        WechatpayUnavailable => "wechatpay_unavailable",
        Printer => "printer",
        ShuttingDown => "shutting_down",
        NotPayable => "not_payable",
        SandboxOnly => "sandbox_only",
        Internal => "internal",
        NotRefundable => "not_refundable",
        RefundTooLarge => "refund_too_large",
        DuplicateRefund => "duplicate_refund",
    }
}

/// The `error` column: one JSON object, keys in this order, absent ones left out.
#[derive(Serialize, Deserialize)]
struct StoredError {
    code: String,
    message: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    wechatpay_code: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    request_id: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    field: Option<String>,
}

/// An error body as the `error` column stores it.
pub(super) fn encode_error(e: &ErrorBody) -> String {
    let stored = StoredError {
        code: code_name(e.code).to_owned(),
        message: e.message.clone(),
        wechatpay_code: e.wechatpay_code.clone(),
        request_id: e.request_id.clone(),
        field: e.field.clone(),
    };
    serde_json::to_string(&stored).expect("plain data")
}

/// The error body an `error` column holds.
pub(super) fn decode_error(text: &str) -> Result<ErrorBody, String> {
    let s: StoredError = serde_json::from_str(text).map_err(|e| e.to_string())?;
    let code = parse_code(&s.code).ok_or_else(|| format!("unknown code {:?}", s.code))?;
    Ok(ErrorBody {
        code,
        message: s.message,
        wechatpay_code: s.wechatpay_code,
        request_id: s.request_id,
        field: s.field,
    })
}

/// How [`write_row`] writes.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(super) enum Write {
    /// A new row; an existing `out_trade_no` is an error.
    Insert,
    /// The row of `out_trade_no` changed in place, or inserted if there is none. In place,
    /// the key's index is left alone: the commit writes the row's page and, when the state
    /// changed, the state index's — not a delete and an insert of both (issue 12: the
    /// pages of the `code_url`'s commit, on every checkout's path).
    Replace,
}

/// Write `j` as one row. The columns are named with their values, so their order matters
/// nowhere.
pub(super) fn write_row(conn: &Connection, how: Write, j: &JobRecord) -> rusqlite::Result<()> {
    let error = j.error.as_ref().map(encode_error);
    let payer_currency = j.payer_currency.as_ref().map(Currency::code);
    let rate_type = j.exchange_rate.as_ref().map(|r| r.kind.as_str());
    let rate = j.exchange_rate.as_ref().map(|r| r.rate);
    let row: [(&str, &dyn ToSql); 27] = [
        (":out_trade_no", &j.out_trade_no),
        (":request", &j.request),
        (":state", &state_name(j.state)),
        (":print", &print_name(j.print)),
        (":description", &j.description),
        (":total", &j.amount.minor()),
        (":currency", &j.amount.currency().code()),
        (":attach", &j.attach),
        (":goods_tag", &j.goods_tag),
        (":time_expire", &j.time_expire),
        (":expire_ms", &j.expire_ms),
        (":place_body", &j.place_body),
        (":loopback", &j.loopback),
        (":code_url", &j.code_url),
        (":placed_ms", &j.placed_ms),
        (":transaction_id", &j.transaction_id),
        (":success_time", &j.success_time),
        (":payer_total", &j.payer_total),
        (":paid_total", &j.paid_total),
        (":payer_currency", &payer_currency),
        (":rate_type", &rate_type),
        (":rate", &rate),
        (":print_started_ms", &j.print_started_ms),
        (":close_reason", &j.close_reason.map(reason_name)),
        (":error", &error),
        (":created_ms", &j.created_ms),
        (":updated_ms", &j.updated_ms),
    ];
    static INSERT: OnceLock<String> = OnceLock::new();
    static UPDATE: OnceLock<String> = OnceLock::new();
    let names = || row.iter().map(|(name, _)| &name[1..]);
    if how == Write::Replace {
        let update = UPDATE.get_or_init(|| {
            let sets: Vec<String> = names().skip(1).map(|c| format!("{c} = :{c}")).collect();
            format!(
                "UPDATE jobs SET {} WHERE out_trade_no = :out_trade_no",
                sets.join(", ")
            )
        });
        if conn.prepare_cached(update)?.execute(&row[..])? == 1 {
            return Ok(());
        }
    }
    let insert = INSERT.get_or_init(|| {
        let columns: Vec<&str> = names().collect();
        let values: Vec<&str> = row.iter().map(|(name, _)| *name).collect();
        format!(
            "INSERT INTO jobs ({}) VALUES ({})",
            columns.join(", "),
            values.join(", ")
        )
    });
    conn.prepare_cached(insert)?.execute(&row[..])?;
    Ok(())
}

/// A stored row that is not a record: which one, and what is wrong with it.
#[derive(Debug)]
pub(super) struct Corrupt {
    pub(super) out_trade_no: String,
    pub(super) what: String,
}

/// The columns stored in the journal's own spellings, read back.
struct Spelled {
    state: JobState,
    print: PrintState,
    close_reason: Option<CloseReason>,
    error: Option<ErrorBody>,
}

impl Spelled {
    /// The spelled columns of row `r`; `Err` names the column that holds no spelling.
    fn read(r: &Row<'_>) -> rusqlite::Result<Result<Spelled, String>> {
        let state: String = r.get("state")?;
        let print: String = r.get("print")?;
        let close_reason: Option<String> = r.get("close_reason")?;
        let error: Option<String> = r.get("error")?;
        Ok(Spelled::parse(&state, &print, close_reason, error))
    }

    fn parse(
        state: &str,
        print: &str,
        close_reason: Option<String>,
        error: Option<String>,
    ) -> Result<Spelled, String> {
        Ok(Spelled {
            state: parse_state(state).ok_or_else(|| format!("state {state:?}"))?,
            print: parse_print(print).ok_or_else(|| format!("print {print:?}"))?,
            close_reason: match close_reason {
                None => None,
                Some(s) => Some(parse_reason(&s).ok_or_else(|| format!("close_reason {s:?}"))?),
            },
            error: match error {
                None => None,
                Some(s) => Some(decode_error(&s).map_err(|e| format!("error {e}"))?),
            },
        })
    }
}

/// The record in a row of `SELECT * FROM jobs` (its columns read by name), or why the row
/// is not one.
pub(super) fn read_row(r: &Row<'_>) -> rusqlite::Result<Result<JobRecord, Corrupt>> {
    let out_trade_no: String = r.get("out_trade_no")?;
    let spelled = match Spelled::read(r)? {
        Ok(spelled) => spelled,
        Err(what) => return Ok(Err(Corrupt { out_trade_no, what })),
    };
    let exchange_rate = match read_rate(r)? {
        Ok(rate) => rate,
        Err(what) => return Ok(Err(Corrupt { out_trade_no, what })),
    };
    let currency: String = r.get("currency")?;
    let payer_currency: Option<String> = r.get("payer_currency")?;
    Ok(Ok(JobRecord {
        out_trade_no,
        request: r.get("request")?,
        state: spelled.state,
        print: spelled.print,
        description: r.get("description")?,
        amount: Money::new(r.get("total")?, Currency::new(currency)),
        attach: r.get("attach")?,
        goods_tag: r.get("goods_tag")?,
        time_expire: r.get("time_expire")?,
        expire_ms: r.get("expire_ms")?,
        place_body: r.get("place_body")?,
        loopback: r.get("loopback")?,
        code_url: r.get("code_url")?,
        placed_ms: r.get("placed_ms")?,
        transaction_id: r.get("transaction_id")?,
        success_time: r.get("success_time")?,
        payer_total: r.get("payer_total")?,
        paid_total: r.get("paid_total")?,
        payer_currency: payer_currency.map(Currency::new),
        exchange_rate,
        print_started_ms: r.get("print_started_ms")?,
        close_reason: spelled.close_reason,
        error: spelled.error,
        created_ms: r.get("created_ms")?,
        updated_ms: r.get("updated_ms")?,
    }))
}

/// The `rate_type` and `rate` columns: both set (a conversion) or both NULL (none).
fn read_rate(r: &Row<'_>) -> rusqlite::Result<Result<Option<ExchangeRate>, String>> {
    let kind: Option<String> = r.get("rate_type")?;
    let rate: Option<i64> = r.get("rate")?;
    Ok(match (kind, rate) {
        (Some(kind), Some(rate)) => Ok(Some(ExchangeRate { kind, rate })),
        (None, None) => Ok(None),
        (kind, rate) => Err(format!("rate_type {kind:?} with rate {rate:?}")),
    })
}

#[cfg(test)]
#[path = "codec_tests.rs"]
mod tests;

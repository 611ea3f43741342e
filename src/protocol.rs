//! Socket protocol v1: the serde types shared by the daemon and the CLI client.
//!
//! The wire format is UTF-8 JSON, one object per line, at most [`MAX_LINE`] bytes a line
//! including the `\n`. A request is an object with a string `op` and an optional `id`
//! (echoed on every message the request causes). Parsing is done in three steps so that
//! every failure can be reported precisely:
//!
//! 1. the line must be JSON at all (`invalid_json`),
//! 2. it must be an object with a string `op` (`invalid_request`) naming a known op
//!    (`unknown_op`),
//! 3. the remaining fields are deserialised into the op's struct, refusing unknown fields
//!    and checking WeChat Pay's limits, and any problem names the field (`invalid_request`).
//!
//! This module knows nothing of sockets or jobs.

use serde::{Deserialize, Serialize};
use serde_json::{Map, Value};

/// Protocol version, reported by `pong`.
pub const PROTOCOL_VERSION: u32 = 1;
/// Longest accepted line, newline included.
pub const MAX_LINE: usize = 65_536;
/// WeChat Pay takes any positive i64 in fen; we refuse absurd amounts (¥100,000,000).
pub const MAX_AMOUNT: i64 = 10_000_000_000;
/// Longest request `id`.
pub const MAX_ID_LEN: usize = 64;

// ---------------------------------------------------------------------------------------
// Requests
// ---------------------------------------------------------------------------------------

/// A parsed request: its optional `id` and the operation.
#[derive(Debug, Clone, PartialEq)]
pub struct Request {
    pub id: Option<String>,
    pub op: Op,
}

/// Every operation of protocol v1.
#[derive(Debug, Clone, PartialEq)]
pub enum Op {
    Checkout(Box<Checkout>),
    Status { out_trade_no: String },
    Cancel { out_trade_no: String },
    Reprint { out_trade_no: String },
    Watch,
    Printer,
    TestPrint,
    Ping,
    SandboxPay { out_trade_no: String },
}

/// `checkout`: place an order and print its QR.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Checkout {
    pub order: Order,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub receipt: Option<ReceiptSpec>,
    /// Keep sending the job's events after `printed` (default true).
    #[serde(default = "yes", skip_serializing_if = "is_true")]
    pub follow: bool,
    /// A technician's test order (`wxprint loopback`): it goes through the socket, the
    /// journal and the printer like any other, but is placed on the daemon's built-in
    /// sandbox, never at WeChat Pay (extension).
    #[serde(default, skip_serializing_if = "std::ops::Not::not")]
    pub loopback: bool,
}

fn yes() -> bool {
    true
}

fn is_true(b: &bool) -> bool {
    *b
}

/// The order as WeChat Pay will see it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Order {
    pub out_trade_no: String,
    pub description: String,
    pub amount: OrderAmount,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub attach: Option<String>,
    /// RFC 3339 with offset; default now + `order_ttl`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub time_expire: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub goods_tag: Option<String>,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct OrderAmount {
    /// Fen.
    pub total: i64,
    #[serde(default = "cny")]
    pub currency: String,
}

fn cny() -> String {
    "CNY".to_owned()
}

/// What the receipt shows besides the QR; overrides the `[receipt]` config.
#[derive(Debug, Clone, PartialEq, Eq, Default, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ReceiptSpec {
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub title: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub lines: Option<Vec<ReceiptLine>>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub footer: Option<String>,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ReceiptLine {
    pub name: String,
    pub quantity: u32,
    /// Line total in fen.
    pub amount: i64,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct TradeNoArgs {
    out_trade_no: String,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct NoArgs {}

/// Why a line is not a valid request. Converts to the `error` message sent back.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum RequestError {
    #[error("not valid JSON: {0}")]
    InvalidJson(String),
    #[error("{field}: {message}")]
    InvalidRequest { field: String, message: String },
    #[error("unknown op {0:?}; expected one of {ops}", ops = OPS.join(", "))]
    UnknownOp(String),
}

/// The names of every op, in DESIGN.md's order.
pub const OPS: [&str; 9] = [
    "checkout",
    "status",
    "cancel",
    "reprint",
    "watch",
    "printer",
    "test_print",
    "ping",
    "sandbox_pay",
];

impl RequestError {
    fn invalid(field: impl Into<String>, message: impl Into<String>) -> Self {
        RequestError::InvalidRequest {
            field: field.into(),
            message: message.into(),
        }
    }

    /// The protocol error code.
    pub fn code(&self) -> ErrorCode {
        match self {
            RequestError::InvalidJson(_) => ErrorCode::InvalidJson,
            RequestError::InvalidRequest { .. } => ErrorCode::InvalidRequest,
            RequestError::UnknownOp(_) => ErrorCode::UnknownOp,
        }
    }
}

/// Parse one line (without its newline). On error the request's `id` is returned too when
/// it could be read, so that the error can echo it.
pub fn parse_request(line: &[u8]) -> Result<Request, (Option<String>, RequestError)> {
    let value: Value = serde_json::from_slice(line)
        .map_err(|e| (None, RequestError::InvalidJson(e.to_string())))?;
    let Value::Object(mut map) = value else {
        return Err((
            None,
            RequestError::invalid("op", "a request must be a JSON object with a string \"op\""),
        ));
    };
    let id = match map.remove("id") {
        None | Some(Value::Null) => None,
        Some(Value::String(s)) if s.chars().count() <= MAX_ID_LEN => Some(s),
        Some(Value::String(_)) => {
            return Err((
                None,
                RequestError::invalid("id", format!("must be at most {MAX_ID_LEN} characters")),
            ));
        }
        Some(_) => return Err((None, RequestError::invalid("id", "must be a string"))),
    };
    let op = match map.remove("op") {
        Some(Value::String(op)) => op,
        Some(_) => return Err((id, RequestError::invalid("op", "must be a string"))),
        None => {
            return Err((
                id,
                RequestError::invalid("op", "missing; every request needs an \"op\""),
            ));
        }
    };
    let rest = Value::Object(map);
    let op = parse_op(&op, rest).map_err(|e| (id.clone(), e))?;
    Ok(Request { id, op })
}

fn parse_op(op: &str, rest: Value) -> Result<Op, RequestError> {
    Ok(match op {
        "checkout" => {
            let checkout: Checkout = fields(rest)?;
            checkout.validate()?;
            Op::Checkout(Box::new(checkout))
        }
        "status" => Op::Status {
            out_trade_no: trade_no(rest)?,
        },
        "cancel" => Op::Cancel {
            out_trade_no: trade_no(rest)?,
        },
        "reprint" => Op::Reprint {
            out_trade_no: trade_no(rest)?,
        },
        "sandbox_pay" => Op::SandboxPay {
            out_trade_no: trade_no(rest)?,
        },
        "watch" | "printer" | "test_print" | "ping" => {
            let NoArgs {} = fields(rest)?;
            match op {
                "watch" => Op::Watch,
                "printer" => Op::Printer,
                "test_print" => Op::TestPrint,
                _ => Op::Ping,
            }
        }
        other => return Err(RequestError::UnknownOp(other.to_owned())),
    })
}

fn trade_no(rest: Value) -> Result<String, RequestError> {
    let TradeNoArgs { out_trade_no } = fields(rest)?;
    validate_out_trade_no("out_trade_no", &out_trade_no)?;
    Ok(out_trade_no)
}

/// Deserialise `rest` into `T`, turning serde's message into one that names the field by
/// its path (`order.amount.total`).
fn fields<T: serde::de::DeserializeOwned>(rest: Value) -> Result<T, RequestError> {
    serde_path_to_error::deserialize(rest).map_err(|e| {
        let path = e.path().to_string();
        let inner = e.into_inner().to_string();
        // serde names unknown and missing fields itself; put that name in the path.
        let field = if let Some(name) = quoted_after(&inner, "unknown field `") {
            join_path(&path, &name)
        } else if let Some(name) = quoted_after(&inner, "missing field `") {
            join_path(&path, &name)
        } else {
            path
        };
        let message = inner
            .split(", expected one of")
            .next()
            .unwrap_or(&inner)
            .to_owned();
        RequestError::invalid(
            if field == "." {
                "request".into()
            } else {
                field
            },
            message,
        )
    })
}

fn quoted_after(text: &str, prefix: &str) -> Option<String> {
    let start = text.find(prefix)? + prefix.len();
    let end = text[start..].find('`')?;
    Some(text[start..start + end].to_owned())
}

fn join_path(path: &str, name: &str) -> String {
    if path.is_empty() || path == "." {
        name.to_owned()
    } else if path == name || path.ends_with(&format!(".{name}")) {
        path.to_owned()
    } else {
        format!("{path}.{name}")
    }
}

/// `out_trade_no`: 6–32 characters of `[0-9A-Za-z_-|*]` (WeChat Pay's rule).
pub fn validate_out_trade_no(field: &str, no: &str) -> Result<(), RequestError> {
    let ok_chars = no
        .bytes()
        .all(|b| b.is_ascii_alphanumeric() || matches!(b, b'_' | b'-' | b'|' | b'*'));
    if !(6..=32).contains(&no.len()) || !ok_chars {
        return Err(RequestError::invalid(
            field,
            format!("{no:?} must be 6 to 32 characters of 0-9 A-Z a-z _ - | *"),
        ));
    }
    Ok(())
}

/// Text WeChat Pay accepts: at most `max` characters, none needing 4 bytes in UTF-8.
fn validate_text(field: &str, text: &str, max: usize, required: bool) -> Result<(), RequestError> {
    if required && text.trim().is_empty() {
        return Err(RequestError::invalid(field, "must not be empty"));
    }
    if text.chars().count() > max {
        return Err(RequestError::invalid(
            field,
            format!(
                "is {} characters long; WeChat Pay allows at most {max}",
                text.chars().count()
            ),
        ));
    }
    if let Some(c) = text.chars().find(|c| c.len_utf8() == 4) {
        return Err(RequestError::invalid(
            field,
            format!(
                "contains {c:?} (U+{:04X}), which WeChat Pay refuses (4-byte UTF-8, e.g. emoji)",
                c as u32
            ),
        ));
    }
    if text.chars().any(|c| c.is_control()) {
        return Err(RequestError::invalid(field, "contains control characters"));
    }
    Ok(())
}

fn validate_amount(field: &str, fen: i64) -> Result<(), RequestError> {
    if !(1..=MAX_AMOUNT).contains(&fen) {
        return Err(RequestError::invalid(
            field,
            format!(
                "{fen} is out of range; an amount is an integer number of fen from 1 to {MAX_AMOUNT}"
            ),
        ));
    }
    Ok(())
}

impl Checkout {
    /// WeChat Pay's limits, checked before anything is stored or sent.
    pub fn validate(&self) -> Result<(), RequestError> {
        let o = &self.order;
        validate_out_trade_no("order.out_trade_no", &o.out_trade_no)?;
        validate_text("order.description", &o.description, 127, true)?;
        validate_amount("order.amount.total", o.amount.total)?;
        if o.amount.currency != "CNY" {
            return Err(RequestError::invalid(
                "order.amount.currency",
                format!(
                    "{:?} is not supported; mainland WeChat Pay takes only \"CNY\"",
                    o.amount.currency
                ),
            ));
        }
        if let Some(attach) = &o.attach {
            validate_text("order.attach", attach, 128, false)?;
        }
        if let Some(tag) = &o.goods_tag {
            validate_text("order.goods_tag", tag, 32, false)?;
        }
        if let Some(t) = &o.time_expire {
            time::OffsetDateTime::parse(t, &time::format_description::well_known::Rfc3339)
                .map_err(|_| {
                    RequestError::invalid(
                        "order.time_expire",
                        format!("{t:?} is not an RFC 3339 time such as 2026-11-26T12:10:00+08:00"),
                    )
                })?;
        }
        if let Some(r) = &self.receipt {
            if let Some(title) = &r.title {
                validate_text("receipt.title", title, 64, false)?;
            }
            if let Some(footer) = &r.footer {
                validate_text("receipt.footer", footer, 256, false)?;
            }
            for (i, line) in r.lines.iter().flatten().enumerate() {
                validate_text(&format!("receipt.lines[{i}].name"), &line.name, 64, true)?;
                validate_amount(&format!("receipt.lines[{i}].amount"), line.amount)?;
                if line.quantity == 0 {
                    return Err(RequestError::invalid(
                        format!("receipt.lines[{i}].quantity"),
                        "must be at least 1",
                    ));
                }
            }
        }
        Ok(())
    }
}

impl Request {
    /// The request as one JSON line (no newline), as the CLI sends it.
    pub fn to_json(&self) -> String {
        let mut map = Map::new();
        let op = match &self.op {
            Op::Checkout(c) => {
                if let Value::Object(fields) = serde_json::to_value(c).expect("plain data") {
                    map.extend(fields);
                }
                "checkout"
            }
            Op::Status { out_trade_no } => trade_no_field(&mut map, out_trade_no, "status"),
            Op::Cancel { out_trade_no } => trade_no_field(&mut map, out_trade_no, "cancel"),
            Op::Reprint { out_trade_no } => trade_no_field(&mut map, out_trade_no, "reprint"),
            Op::SandboxPay { out_trade_no } => {
                trade_no_field(&mut map, out_trade_no, "sandbox_pay")
            }
            Op::Watch => "watch",
            Op::Printer => "printer",
            Op::TestPrint => "test_print",
            Op::Ping => "ping",
        };
        let mut out = Map::new();
        out.insert("op".into(), op.into());
        if let Some(id) = &self.id {
            out.insert("id".into(), id.clone().into());
        }
        out.extend(map);
        Value::Object(out).to_string()
    }
}

fn trade_no_field(map: &mut Map<String, Value>, no: &str, op: &'static str) -> &'static str {
    map.insert("out_trade_no".into(), no.into());
    op
}

// ---------------------------------------------------------------------------------------
// Messages from the daemon
// ---------------------------------------------------------------------------------------

/// One line from the daemon: the `id` of the request that caused it, and the event.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Message {
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub id: Option<String>,
    #[serde(flatten)]
    pub event: Event,
}

impl Message {
    pub fn new(id: Option<String>, event: Event) -> Self {
        Message { id, event }
    }

    /// The message as one JSON line, newline included.
    pub fn to_line(&self) -> String {
        let mut line = serde_json::to_string(self).expect("plain data");
        line.push('\n');
        line
    }
}

/// The state of a job (DESIGN.md "Job states").
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum JobState {
    Ordering,
    AwaitingPayment,
    UserPaying,
    Cancelling,
    Paid,
    Closed,
    Failed,
}

impl JobState {
    /// Paid, closed and failed are final: nothing changes afterwards.
    pub fn is_final(self) -> bool {
        matches!(self, JobState::Paid | JobState::Closed | JobState::Failed)
    }

    pub fn as_str(self) -> &'static str {
        match self {
            JobState::Ordering => "ordering",
            JobState::AwaitingPayment => "awaiting_payment",
            JobState::UserPaying => "user_paying",
            JobState::Cancelling => "cancelling",
            JobState::Paid => "paid",
            JobState::Closed => "closed",
            JobState::Failed => "failed",
        }
    }

    pub fn parse(s: &str) -> Option<JobState> {
        Some(match s {
            "ordering" => JobState::Ordering,
            "awaiting_payment" => JobState::AwaitingPayment,
            "user_paying" => JobState::UserPaying,
            "cancelling" => JobState::Cancelling,
            "paid" => JobState::Paid,
            "closed" => JobState::Closed,
            "failed" => JobState::Failed,
            _ => return None,
        })
    }
}

/// Printing is tracked beside the state: a printer fault must not lose a payable order.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum PrintState {
    Pending,
    Printed,
    Failed,
}

impl PrintState {
    pub fn as_str(self) -> &'static str {
        match self {
            PrintState::Pending => "pending",
            PrintState::Printed => "printed",
            PrintState::Failed => "failed",
        }
    }

    pub fn parse(s: &str) -> Option<PrintState> {
        Some(match s {
            "pending" => PrintState::Pending,
            "printed" => PrintState::Printed,
            "failed" => PrintState::Failed,
            _ => return None,
        })
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum CloseReason {
    Cancelled,
    Expired,
    /// WeChat Pay reported the order closed or revoked without us asking.
    Remote,
}

impl CloseReason {
    pub fn as_str(self) -> &'static str {
        match self {
            CloseReason::Cancelled => "cancelled",
            CloseReason::Expired => "expired",
            CloseReason::Remote => "remote",
        }
    }

    pub fn parse(s: &str) -> Option<CloseReason> {
        Some(match s {
            "cancelled" => CloseReason::Cancelled,
            "expired" => CloseReason::Expired,
            "remote" => CloseReason::Remote,
            _ => return None,
        })
    }
}

/// The amount of a paid order as WeChat Pay reports it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct PaidAmount {
    pub total: i64,
    pub payer_total: i64,
    pub currency: String,
}

/// The machine-readable error codes.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum ErrorCode {
    InvalidJson,
    InvalidRequest,
    LineTooLong,
    UnknownOp,
    DuplicateOrder,
    OrderNotFound,
    Wechatpay,
    Printer,
    ShuttingDown,
    /// `reprint` or `sandbox_pay` of an order that can no longer be paid.
    NotPayable,
    /// `sandbox_pay` while the daemon runs the real backend.
    SandboxOnly,
    /// The daemon could not do what was asked for a reason of its own (journal I/O…).
    Internal,
}

/// The `error` object of `error` and `failed` messages.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ErrorBody {
    pub code: ErrorCode,
    pub message: String,
    /// WeChat Pay's own code, with `code = wechatpay`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub wechatpay_code: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub request_id: Option<String>,
    /// The request field at fault, with `invalid_request`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub field: Option<String>,
}

impl ErrorBody {
    pub fn new(code: ErrorCode, message: impl Into<String>) -> Self {
        ErrorBody {
            code,
            message: message.into(),
            wechatpay_code: None,
            request_id: None,
            field: None,
        }
    }
}

impl From<RequestError> for ErrorBody {
    fn from(e: RequestError) -> Self {
        let mut body = ErrorBody::new(e.code(), e.to_string());
        if let RequestError::InvalidRequest { field, .. } = e {
            body.field = Some(field);
        }
        body
    }
}

/// A job's full record, as `status` reports it.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct JobStatus {
    pub out_trade_no: String,
    pub state: JobState,
    pub print: PrintState,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub code_url: Option<String>,
    pub description: String,
    pub amount: StatusAmount,
    pub created_at: String,
    pub updated_at: String,
    pub time_expire: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub transaction_id: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub success_time: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub payer_total: Option<i64>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub close_reason: Option<CloseReason>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub error: Option<ErrorBody>,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct StatusAmount {
    pub total: i64,
    pub currency: String,
}

/// Live printer state.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct PrinterStatus {
    /// `null` when the transport cannot tell (the file transport).
    pub online: Option<bool>,
    /// `ok`, `near_end`, `out`, or `unknown`.
    pub paper: String,
    pub cover_open: Option<bool>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub error: Option<String>,
    /// Transport and where it writes (extension).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub transport: Option<String>,
}

/// Every event the daemon sends. The `event` field names the variant.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(tag = "event", rename_all = "snake_case")]
pub enum Event {
    Accepted {
        out_trade_no: String,
        state: JobState,
        resumed: bool,
    },
    CodeUrl {
        out_trade_no: String,
        state: JobState,
        code_url: String,
    },
    Printed {
        #[serde(default, skip_serializing_if = "Option::is_none")]
        out_trade_no: Option<String>,
        #[serde(default, skip_serializing_if = "Option::is_none")]
        state: Option<JobState>,
        print: PrintState,
        /// Where the receipt went (the file transport's file name), when known.
        #[serde(default, skip_serializing_if = "Option::is_none")]
        location: Option<String>,
    },
    Cancelling {
        out_trade_no: String,
        state: JobState,
    },
    Paid {
        out_trade_no: String,
        state: JobState,
        transaction_id: String,
        success_time: String,
        amount: PaidAmount,
    },
    Closed {
        out_trade_no: String,
        state: JobState,
        reason: CloseReason,
    },
    Failed {
        out_trade_no: String,
        state: JobState,
        error: ErrorBody,
    },
    Status(Box<JobStatus>),
    /// The printer's state: the answer to `printer`, or news about a job whose receipt
    /// waits for the printer (then with the job's `out_trade_no`, `state` and `print`).
    Printer {
        #[serde(default, skip_serializing_if = "Option::is_none")]
        out_trade_no: Option<String>,
        #[serde(default, skip_serializing_if = "Option::is_none")]
        state: Option<JobState>,
        #[serde(default, skip_serializing_if = "Option::is_none")]
        print: Option<PrintState>,
        #[serde(flatten)]
        status: PrinterStatus,
    },
    Pong {
        version: String,
        protocol: u32,
    },
    Error {
        #[serde(default, skip_serializing_if = "Option::is_none")]
        out_trade_no: Option<String>,
        #[serde(default, skip_serializing_if = "Option::is_none")]
        state: Option<JobState>,
        #[serde(default, skip_serializing_if = "Option::is_none")]
        print: Option<PrintState>,
        error: ErrorBody,
    },
}

impl Event {
    /// A plain error, not about any job.
    pub fn error(body: ErrorBody) -> Event {
        Event::Error {
            out_trade_no: None,
            state: None,
            print: None,
            error: body,
        }
    }

    /// The job this event is about, if any.
    pub fn out_trade_no(&self) -> Option<&str> {
        match self {
            Event::Accepted { out_trade_no, .. }
            | Event::CodeUrl { out_trade_no, .. }
            | Event::Cancelling { out_trade_no, .. }
            | Event::Paid { out_trade_no, .. }
            | Event::Closed { out_trade_no, .. }
            | Event::Failed { out_trade_no, .. } => Some(out_trade_no),
            Event::Status(s) => Some(&s.out_trade_no),
            Event::Printed { out_trade_no, .. }
            | Event::Error { out_trade_no, .. }
            | Event::Printer { out_trade_no, .. } => out_trade_no.as_deref(),
            Event::Pong { .. } => None,
        }
    }

    /// `paid`, `closed` and `failed` end a job's event stream.
    pub fn is_final(&self) -> bool {
        matches!(
            self,
            Event::Paid { .. } | Event::Closed { .. } | Event::Failed { .. }
        )
    }

    /// The event's name on the wire.
    pub fn name(&self) -> &'static str {
        match self {
            Event::Accepted { .. } => "accepted",
            Event::CodeUrl { .. } => "code_url",
            Event::Printed { .. } => "printed",
            Event::Cancelling { .. } => "cancelling",
            Event::Paid { .. } => "paid",
            Event::Closed { .. } => "closed",
            Event::Failed { .. } => "failed",
            Event::Status(_) => "status",
            Event::Printer { .. } => "printer",
            Event::Pong { .. } => "pong",
            Event::Error { .. } => "error",
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn err(line: &str) -> (Option<String>, RequestError) {
        parse_request(line.as_bytes()).unwrap_err()
    }

    fn field_of(line: &str) -> String {
        match err(line).1 {
            RequestError::InvalidRequest { field, .. } => field,
            other => panic!("expected invalid_request, got {other:?}"),
        }
    }

    const GOOD: &str = r#"{"op":"checkout","id":"r1","order":{"out_trade_no":"T20261126001","description":"Latte x2","amount":{"total":3200}},"receipt":{"lines":[{"name":"Latte","quantity":2,"amount":3200}]}}"#;

    #[test]
    fn parses_a_checkout_with_defaults() {
        let req = parse_request(GOOD.as_bytes()).unwrap();
        assert_eq!(req.id.as_deref(), Some("r1"));
        let Op::Checkout(c) = req.op else { panic!() };
        assert_eq!(c.order.amount.currency, "CNY");
        assert!(c.follow);
        assert_eq!(c.receipt.unwrap().lines.unwrap()[0].quantity, 2);
    }

    #[test]
    fn request_round_trips_through_to_json() {
        let req = parse_request(GOOD.as_bytes()).unwrap();
        assert_eq!(parse_request(req.to_json().as_bytes()).unwrap(), req);
        let ping = Request {
            id: None,
            op: Op::Ping,
        };
        assert_eq!(ping.to_json(), r#"{"op":"ping"}"#);
    }

    #[test]
    fn classifies_malformed_lines() {
        assert!(matches!(err("{not json").1, RequestError::InvalidJson(_)));
        assert_eq!(field_of("[1,2]"), "op");
        assert_eq!(field_of(r#"{"id":"x"}"#), "op");
        assert_eq!(field_of(r#"{"op":7}"#), "op");
        assert_eq!(field_of(r#"{"op":"ping","id":5}"#), "id");
        let (id, e) = err(r#"{"op":"frobnicate","id":"q"}"#);
        assert_eq!(id.as_deref(), Some("q"));
        assert_eq!(e, RequestError::UnknownOp("frobnicate".into()));
    }

    #[test]
    fn names_the_field_at_fault() {
        let with = |order: &str| format!(r#"{{"op":"checkout","order":{order}}}"#);
        assert_eq!(
            field_of(&with(
                r#"{"out_trade_no":"T1234567","description":"x","amount":{"total":1},"colour":"red"}"#
            )),
            "order.colour"
        );
        assert_eq!(
            field_of(&with(
                r#"{"out_trade_no":"T1234567","description":"x","amount":{"total":"12"}}"#
            )),
            "order.amount.total"
        );
        assert_eq!(
            field_of(&with(
                r#"{"out_trade_no":"T1234567","description":"x","amount":{"total":12.5}}"#
            )),
            "order.amount.total"
        );
        assert_eq!(
            field_of(&with(r#"{"out_trade_no":"T1234567","description":"x"}"#)),
            "order.amount"
        );
        assert_eq!(field_of(r#"{"op":"ping","extra":1}"#), "extra");
        assert_eq!(field_of(r#"{"op":"status"}"#), "out_trade_no");
    }

    #[test]
    fn enforces_wechat_pay_limits() {
        let with = |no: &str, desc: &str, total: &str| {
            format!(
                r#"{{"op":"checkout","order":{{"out_trade_no":"{no}","description":"{desc}","amount":{{"total":{total}}}}}}}"#
            )
        };
        for total in ["0", "-5", "10000000001", "99999999999999999999"] {
            assert_eq!(
                field_of(&with("T1234567", "x", total)),
                "order.amount.total",
                "{total}"
            );
        }
        assert!(parse_request(with("T1234567", "x", "10000000000").as_bytes()).is_ok());
        for no in [
            "T123",
            "T1234567890123456789012345678901234",
            "T12 3456",
            "T123456#",
        ] {
            assert_eq!(field_of(&with(no, "x", "1")), "order.out_trade_no", "{no}");
        }
        assert!(parse_request(with("a_b-c|d*e", "x", "1").as_bytes()).is_ok());
        assert_eq!(
            field_of(&with("T1234567", &"x".repeat(128), "1")),
            "order.description"
        );
        assert!(parse_request(with("T1234567", &"拿".repeat(127), "1").as_bytes()).is_ok());
        assert_eq!(
            field_of(&with("T1234567", "coffee ☕🍰", "1")),
            "order.description"
        );
        assert_eq!(field_of(&with("T1234567", "", "1")), "order.description");
    }

    #[test]
    fn events_serialise_as_in_design() {
        let m = Message::new(
            Some("r1".into()),
            Event::Accepted {
                out_trade_no: "T1".into(),
                state: JobState::Ordering,
                resumed: false,
            },
        );
        assert_eq!(
            m.to_line(),
            "{\"id\":\"r1\",\"event\":\"accepted\",\"out_trade_no\":\"T1\",\"state\":\"ordering\",\"resumed\":false}\n"
        );
        let e = Message::new(
            None,
            Event::error(ErrorBody::new(ErrorCode::UnknownOp, "x")),
        );
        assert_eq!(
            e.to_line(),
            "{\"event\":\"error\",\"error\":{\"code\":\"unknown_op\",\"message\":\"x\"}}\n"
        );
        let back: Message = serde_json::from_str(&m.to_line()).unwrap();
        assert_eq!(back, m);
    }
}

//! What a POS sends: [`Request`] (an optional `id` and an [`Op`]) and [`parse_request`].
//!
//! Parsing is done in three steps so that every failure can be reported precisely:
//!
//! 1. the line must be JSON at all (`invalid_json`),
//! 2. it must be an object with a string `op` (`invalid_request`) naming a known op
//!    (`unknown_op`),
//! 3. the remaining fields must have the op's shape (`shape.rs`: objects are JSON objects,
//!    every field has its JSON kind, none unknown, none required missing), then they are
//!    deserialised into the op's struct and their values checked; any problem names the
//!    field by its path (`invalid_request`).
//!
//! [`Request::to_json`] is the inverse, used by the CLI; a test holds the two together.

use serde::Deserialize;
use serde_json::{Map, Value};

use super::MAX_ID_LEN;
use super::checkout::{Checkout, validate_out_trade_no};
use super::drawer::DrawerArgs;
use super::error::{RequestError, fields};
use super::refund::Refund;
use super::shape::{self, received};

/// A parsed request: its optional `id` and the operation.
#[derive(Debug, Clone, PartialEq)]
pub struct Request {
    /// Echoed on every message the request causes.
    pub id: Option<String>,
    /// What is asked.
    pub op: Op,
}

/// Every operation of protocol v1 (`docs/protocol.md` "Operations").
#[derive(Debug, Clone, PartialEq)]
pub enum Op {
    /// Place an order and print its QR.
    Checkout(Box<Checkout>),
    /// A job's full record.
    Status {
        /// The job.
        out_trade_no: String,
    },
    /// Close the order (when WeChat Pay allows it).
    Cancel {
        /// The job.
        out_trade_no: String,
    },
    /// Print the receipt again (only while payable).
    Reprint {
        /// The job.
        out_trade_no: String,
    },
    /// Every event of every job.
    Watch,
    /// Live printer state.
    Printer,
    /// A test page, no payment.
    TestPrint,
    /// Liveness and versions.
    Ping,
    /// Pay a sandbox order (sandbox backend only).
    SandboxPay {
        /// The job.
        out_trade_no: String,
    },
    /// Give back some or all of a paid order (extension).
    Refund {
        /// The paid order.
        out_trade_no: String,
        /// How much, under which number.
        refund: Refund,
    },
    /// Kick the cash drawer (extension).
    Drawer {
        /// The connector pin, 2 or 5; `None`: pin 2.
        pin: Option<u8>,
    },
}

/// The names of every op, in the order of `docs/protocol.md`.
pub const OPS: [&str; 11] = [
    "checkout",
    "status",
    "cancel",
    "reprint",
    "watch",
    "printer",
    "test_print",
    "ping",
    "sandbox_pay",
    "refund",
    "drawer",
];

impl Op {
    /// The op's name on the wire (one of [`OPS`]).
    pub fn name(&self) -> &'static str {
        match self {
            Op::Checkout(_) => "checkout",
            Op::Status { .. } => "status",
            Op::Cancel { .. } => "cancel",
            Op::Reprint { .. } => "reprint",
            Op::Watch => "watch",
            Op::Printer => "printer",
            Op::TestPrint => "test_print",
            Op::Ping => "ping",
            Op::SandboxPay { .. } => "sandbox_pay",
            Op::Refund { .. } => "refund",
            Op::Drawer { .. } => "drawer",
        }
    }

    /// The job an op names by its `out_trade_no` field, if any.
    fn trade_no(&self) -> Option<&str> {
        match self {
            Op::Status { out_trade_no }
            | Op::Cancel { out_trade_no }
            | Op::Reprint { out_trade_no }
            | Op::SandboxPay { out_trade_no }
            | Op::Refund { out_trade_no, .. } => Some(out_trade_no),
            _ => None,
        }
    }
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct TradeNoArgs {
    out_trade_no: String,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct NoArgs {}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct RefundArgs {
    out_trade_no: String,
    refund: Refund,
}

/// Parse one line (without its newline). On error the request's `id` is returned too when
/// it could be read, so that the error can echo it.
pub fn parse_request(line: &[u8]) -> Result<Request, (Option<String>, RequestError)> {
    let value: Value = serde_json::from_slice(line).map_err(|e| {
        (
            None,
            RequestError::InvalidJson(e.to_string().replace('`', "'")),
        )
    })?;
    let Value::Object(mut map) = value else {
        let message = format!(
            "a request must be a JSON object with a string \"op\", not {}",
            received(&value)
        );
        return Err((None, RequestError::invalid("op", message)));
    };
    let id = take_id(&mut map).map_err(|e| (None, e))?;
    let op = match map.remove("op") {
        Some(Value::String(op)) => op,
        Some(other) => {
            let message = format!(
                "must be a string naming the operation, not {}",
                received(&other)
            );
            return Err((id, RequestError::invalid("op", message)));
        }
        None => {
            return Err((
                id,
                RequestError::invalid("op", "missing; every request needs an \"op\""),
            ));
        }
    };
    let op = parse_op(&op, Value::Object(map)).map_err(|e| (id.clone(), e))?;
    Ok(Request { id, op })
}

fn take_id(map: &mut Map<String, Value>) -> Result<Option<String>, RequestError> {
    match map.remove("id") {
        None | Some(Value::Null) => Ok(None),
        Some(Value::String(s)) if s.chars().count() <= MAX_ID_LEN => Ok(Some(s)),
        Some(Value::String(s)) => Err(RequestError::invalid(
            "id",
            format!(
                "is {} characters long; an id is at most {MAX_ID_LEN} characters",
                s.chars().count()
            ),
        )),
        Some(other) => Err(RequestError::invalid(
            "id",
            format!("must be a string (or null), not {}", received(&other)),
        )),
    }
}

fn parse_op(op: &str, rest: Value) -> Result<Op, RequestError> {
    Ok(match op {
        "checkout" => {
            shape::check_request(&rest, op, shape::CHECKOUT)?;
            let checkout: Checkout = fields(rest)?;
            checkout.validate()?;
            Op::Checkout(Box::new(checkout))
        }
        "status" => Op::Status {
            out_trade_no: trade_no(op, rest)?,
        },
        "cancel" => Op::Cancel {
            out_trade_no: trade_no(op, rest)?,
        },
        "reprint" => Op::Reprint {
            out_trade_no: trade_no(op, rest)?,
        },
        "sandbox_pay" => Op::SandboxPay {
            out_trade_no: trade_no(op, rest)?,
        },
        "refund" => {
            shape::check_request(&rest, op, shape::REFUND)?;
            let RefundArgs {
                out_trade_no,
                refund,
            } = fields(rest)?;
            validate_out_trade_no("out_trade_no", &out_trade_no)?;
            refund.validate()?;
            Op::Refund {
                out_trade_no,
                refund,
            }
        }
        "drawer" => {
            shape::check_request(&rest, op, shape::DRAWER)?;
            let args: DrawerArgs = fields(rest)?;
            Op::Drawer { pin: args.pin()? }
        }
        "watch" | "printer" | "test_print" | "ping" => {
            shape::check_request(&rest, op, shape::NONE)?;
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

fn trade_no(op: &str, rest: Value) -> Result<String, RequestError> {
    shape::check_request(&rest, op, shape::TRADE_NO)?;
    let TradeNoArgs { out_trade_no } = fields(rest)?;
    validate_out_trade_no("out_trade_no", &out_trade_no)?;
    Ok(out_trade_no)
}

impl Request {
    /// The request as one JSON line (no newline), as the CLI sends it.
    pub fn to_json(&self) -> String {
        let mut out = Map::new();
        out.insert("op".into(), self.op.name().into());
        if let Some(id) = &self.id {
            out.insert("id".into(), id.clone().into());
        }
        if let Op::Checkout(c) = &self.op
            && let Value::Object(fields) = serde_json::to_value(c).expect("plain data")
        {
            out.extend(fields);
        }
        if let Some(no) = self.op.trade_no() {
            out.insert("out_trade_no".into(), no.into());
        }
        if let Op::Drawer { pin: Some(pin) } = &self.op {
            out.insert("pin".into(), (*pin).into());
        }
        if let Op::Refund { refund, .. } = &self.op {
            let refund = serde_json::to_value(refund).expect("plain data");
            out.insert("refund".into(), refund);
        }
        Value::Object(out).to_string()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_op_name_parses_to_itself_and_back() {
        for name in OPS {
            let line = match name {
                "checkout" => r#"{"op":"checkout","order":{"out_trade_no":"T1234567","description":"x","amount":{"total":1}}}"#.to_owned(),
                "refund" => r#"{"op":"refund","out_trade_no":"T1234567","refund":{"amount":100,"reason":"returned"}}"#.to_owned(),
                "drawer" => r#"{"op":"drawer","pin":5}"#.to_owned(),
                "status" | "cancel" | "reprint" | "sandbox_pay" => {
                    format!(r#"{{"op":"{name}","out_trade_no":"T1234567"}}"#)
                }
                _ => format!(r#"{{"op":"{name}"}}"#),
            };
            let req = parse_request(line.as_bytes()).expect(name);
            assert_eq!(req.op.name(), name);
            assert_eq!(parse_request(req.to_json().as_bytes()).expect(name), req);
        }
    }
}

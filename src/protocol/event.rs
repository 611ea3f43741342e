//! What the daemon sends: one [`Message`] a line, an optional `id` and an [`Event`] whose
//! `event` field names it. `docs/protocol.md` lists every event with every field; the
//! order of a checkout's events is `accepted → code_url → printed → paid | closed |
//! failed`.

use serde::{Deserialize, Serialize};

use super::error::ErrorBody;
use super::refund::{RefundAmount, RefundState};
use super::slip::SlipEvent;
use super::status::{CloseReason, DelayReason, JobState, JobStatus, PrintState, PrinterStatus};

/// One line from the daemon: the `id` of the request that caused it, and the event.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Message {
    /// The `id` of the request that caused this message.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub id: Option<String>,
    /// What happened.
    #[serde(flatten)]
    pub event: Event,
}

impl Message {
    /// A message answering the request `id`.
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

/// The amount of a paid order as WeChat Pay reports it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct PaidAmount {
    /// The order's amount, in the minor unit of `currency` (fen for CNY).
    pub total: i64,
    /// What the customer paid after promotions, in the minor unit of `payer_currency`.
    pub payer_total: i64,
    /// ISO 4217 code of `total`: the order's currency; `CNY` on mainland WeChat Pay.
    pub currency: String,
    /// ISO 4217 code of `payer_total`: the currency the customer paid in (extension) —
    /// `currency` on the mainland, usually `CNY` on WeChat Pay Global. Empty when read
    /// from a daemon older than the field (then it is `currency`), so a newer CLI still
    /// understands an older daemon's `paid`.
    #[serde(default)]
    pub payer_currency: String,
    /// The rate WeChat Pay converted at, when it converted (WeChat Pay Global; extension).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub exchange_rate: Option<ExchangeRate>,
}

/// A currency conversion as WeChat Pay Global reports it, spelled as WeChat Pay spells it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ExchangeRate {
    /// The kind of rate, e.g. `SETTLEMENT_RATE`.
    #[serde(rename = "type")]
    pub kind: String,
    /// Units of `payer_currency` per unit of `currency`, times 10^8 (6.5 is `650000000`).
    pub rate: i64,
}

/// Every event the daemon sends. The `event` field names the variant.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(tag = "event", rename_all = "snake_case")]
pub enum Event {
    /// The checkout is taken: the job exists and is journaled.
    Accepted {
        /// The job.
        out_trade_no: String,
        /// The job's state after this event.
        state: JobState,
        /// `true` when an identical checkout was already known (no second order).
        resumed: bool,
    },
    /// WeChat Pay placed the order; the QR encodes `code_url`.
    CodeUrl {
        /// The job.
        out_trade_no: String,
        /// The job's state after this event.
        state: JobState,
        /// What the QR code encodes: WeChat Pay's `weixin://wxpay/bizpayurl?pr=…`.
        code_url: String,
    },
    /// The receipt (or test page) was printed.
    Printed {
        /// The job, when the event is about one.
        #[serde(default, skip_serializing_if = "Option::is_none")]
        out_trade_no: Option<String>,
        /// The job's state, when the event is about a job.
        #[serde(default, skip_serializing_if = "Option::is_none")]
        state: Option<JobState>,
        /// Where the receipt stands.
        print: PrintState,
        /// Where the receipt went (the file transport's file name), when known.
        #[serde(default, skip_serializing_if = "Option::is_none")]
        location: Option<String>,
        /// Whether the printer confirmed it: `true` when it answered `GS r 1` sent after the
        /// receipt (it has processed it), `false` when it did not; absent when the transport
        /// cannot tell (the file transport) and on a replayed `printed` (extension).
        #[serde(default, skip_serializing_if = "Option::is_none")]
        confirmed: Option<bool>,
    },
    /// A cancel was taken; the order is closed once WeChat Pay allows it.
    Cancelling {
        /// The job.
        out_trade_no: String,
        /// The job's state after this event.
        state: JobState,
    },
    /// The customer paid (final).
    Paid {
        /// The job.
        out_trade_no: String,
        /// The job's state after this event.
        state: JobState,
        /// WeChat Pay's order number.
        transaction_id: String,
        /// When the customer paid (RFC 3339).
        success_time: String,
        /// What was paid.
        amount: PaidAmount,
    },
    /// The order was closed unpaid (final).
    Closed {
        /// The job.
        out_trade_no: String,
        /// The job's state after this event.
        state: JobState,
        /// Why the order was closed.
        reason: CloseReason,
    },
    /// The order could not be placed (final).
    Failed {
        /// The job.
        out_trade_no: String,
        /// The job's state after this event.
        state: JobState,
        /// What went wrong.
        error: ErrorBody,
    },
    /// Something is slow or failing and wxprint is still trying (extension): sent at the
    /// first failed attempt, then at most every few seconds while it goes on.
    Delayed {
        /// The job.
        out_trade_no: String,
        /// The job's state.
        state: JobState,
        /// What is failing.
        reason: DelayReason,
        /// How many attempts failed so far.
        attempt: u32,
        /// When wxprint tries again, milliseconds from now.
        retry_in_ms: u64,
        /// The latest failure, in words.
        #[serde(default, skip_serializing_if = "Option::is_none")]
        error: Option<ErrorBody>,
    },
    /// A refund is journaled and being asked for (extension).
    RefundAccepted {
        /// The paid order.
        out_trade_no: String,
        /// The refund's number (the daemon's `<out_trade_no>-R<n>` when the POS gave none).
        out_refund_no: String,
        /// Where the refund stands (`processing`, or its outcome when resumed).
        state: RefundState,
        /// The amount asked for, in the minor unit of `currency`.
        amount: i64,
        /// The order's currency (ISO 4217).
        currency: String,
        /// `true` when an identical refund was already known (no second refund).
        resumed: bool,
    },
    /// The money went back (final for the refund; extension).
    Refunded {
        /// The paid order.
        out_trade_no: String,
        /// The refund's number.
        out_refund_no: String,
        /// WeChat Pay's refund number.
        refund_id: String,
        /// When the money went back (RFC 3339).
        success_time: String,
        /// What went back.
        amount: RefundAmount,
    },
    /// The refund did not happen, or waits for the merchant platform (final for the
    /// refund; extension).
    RefundFailed {
        /// The paid order.
        out_trade_no: String,
        /// The refund's number.
        out_refund_no: String,
        /// `failed` or `abnormal`.
        state: RefundState,
        /// What went wrong and what to do.
        error: ErrorBody,
    },
    /// The answer to `status`: the job's full record.
    Status(Box<JobStatus>),
    /// A payment or refund slip printed, waiting for the printer, or failed (extension).
    Slip(Box<SlipEvent>),
    /// The printer's state: the answer to `printer`, or news about a job whose receipt
    /// waits for the printer (then with the job's `out_trade_no`, `state` and `print`).
    Printer {
        /// The job, when the event is about one.
        #[serde(default, skip_serializing_if = "Option::is_none")]
        out_trade_no: Option<String>,
        /// The job's state, when the event is about a job.
        #[serde(default, skip_serializing_if = "Option::is_none")]
        state: Option<JobState>,
        /// Where the job's receipt stands, when the event is about a job.
        #[serde(default, skip_serializing_if = "Option::is_none")]
        print: Option<PrintState>,
        /// The printer's live state (its fields sit beside the others).
        #[serde(flatten)]
        status: PrinterStatus,
    },
    /// The cash drawer was kicked: the answer to `drawer` (extension).
    Drawer {
        /// The connector pin driven (2 or 5).
        pin: u8,
        /// How long the pulse was on, in milliseconds.
        on_ms: u16,
        /// The pause after it, in milliseconds (at least 4 × `on_ms`).
        off_ms: u16,
        /// The bytes sent, as hex pairs: `1B 70 00 19 FA`.
        sent: String,
        /// Where the pulse went (the file transport's file name), when known.
        #[serde(default, skip_serializing_if = "Option::is_none")]
        location: Option<String>,
        /// Whether the printer confirmed it processed the pulse (as for `printed`).
        #[serde(default, skip_serializing_if = "Option::is_none")]
        confirmed: Option<bool>,
    },
    /// The answer to `ping`.
    Pong {
        /// wxprint's version.
        version: String,
        /// The protocol version (1).
        protocol: u32,
    },
    /// A request was refused, or a job hit a problem it reports without ending.
    Error {
        /// The job, when the event is about one.
        #[serde(default, skip_serializing_if = "Option::is_none")]
        out_trade_no: Option<String>,
        /// The job's state, when the event is about a job.
        #[serde(default, skip_serializing_if = "Option::is_none")]
        state: Option<JobState>,
        /// Where the job's receipt stands, when the event is about a job.
        #[serde(default, skip_serializing_if = "Option::is_none")]
        print: Option<PrintState>,
        /// What went wrong.
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
            | Event::Failed { out_trade_no, .. }
            | Event::Delayed { out_trade_no, .. }
            | Event::RefundAccepted { out_trade_no, .. }
            | Event::Refunded { out_trade_no, .. }
            | Event::RefundFailed { out_trade_no, .. } => Some(out_trade_no),
            Event::Status(s) => Some(&s.out_trade_no),
            Event::Slip(s) => Some(&s.out_trade_no),
            Event::Printed { out_trade_no, .. }
            | Event::Error { out_trade_no, .. }
            | Event::Printer { out_trade_no, .. } => out_trade_no.as_deref(),
            Event::Pong { .. } | Event::Drawer { .. } => None,
        }
    }

    /// The refund this event is about, if any.
    pub fn out_refund_no(&self) -> Option<&str> {
        match self {
            Event::RefundAccepted { out_refund_no, .. }
            | Event::Refunded { out_refund_no, .. }
            | Event::RefundFailed { out_refund_no, .. } => Some(out_refund_no),
            Event::Slip(s) => s.out_refund_no.as_deref(),
            _ => None,
        }
    }

    /// `refunded` and `refund_failed` end a refund's event stream (not the order's).
    pub fn is_refund_final(&self) -> bool {
        matches!(self, Event::Refunded { .. } | Event::RefundFailed { .. })
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
            Event::Delayed { .. } => "delayed",
            Event::RefundAccepted { .. } => "refund_accepted",
            Event::Refunded { .. } => "refunded",
            Event::RefundFailed { .. } => "refund_failed",
            Event::Status(_) => "status",
            Event::Slip(_) => "slip",
            Event::Printer { .. } => "printer",
            Event::Pong { .. } => "pong",
            Event::Drawer { .. } => "drawer",
            Event::Error { .. } => "error",
        }
    }
}

#[cfg(test)]
#[path = "event_tests.rs"]
mod tests;

//! Fleet metrics (`[metrics]`, off by default): the names, the label values and the one-line
//! record functions the rest of the daemon calls at its boundaries, and the exporter that
//! serves `GET /metrics` on a socket and/or writes node_exporter's textfile.
//!
//! - `mod.rs`: every metric name and label value (all from small fixed sets: never an order
//!   number, a transaction id, an amount or any other unbounded value), the histograms'
//!   explicit buckets, and the record functions;
//! - `exporter.rs`: the recorder (`metrics-exporter-prometheus`, rendering only), upkeep,
//!   the textfile ticker; `listener.rs`: the HTTP/1 server; `textfile.rs`: the atomic write.
//!
//! Recording goes through the `metrics` facade: while no recorder is installed (metrics
//! off, the tests of other modules) every record function is a no-op that costs a load and
//! a branch; nothing is spawned, bound or written, and nothing wakes up.
//!
//! Callers say what happened in their own words: `jobs` (checkouts, retries), `wechatpay`
//! (calls, retries: it knows its paths and answers), `printer` (its status). This module
//! knows the protocol's words (states, delay reasons, the printer status) and Prometheus;
//! not jobs, HTTP clients or devices.

mod exporter;
mod listener;
mod textfile;

use std::sync::atomic::{AtomicU8, Ordering};
use std::time::Duration;

use metrics::{counter, gauge, histogram};

use crate::protocol::{CloseReason, DelayReason, JobState, Paper, PrinterStatus};

pub use exporter::{Exporter, MetricsError, Refresh};

/// `wxprint_build_info{version}`: always 1.
pub const BUILD_INFO: &str = "wxprint_build_info";
/// `wxprint_checkouts_total{outcome}`: checkouts that reached an outcome ([`Outcome`]).
pub const CHECKOUTS: &str = "wxprint_checkouts_total";
/// `wxprint_checkout_printed_seconds`: from the checkout to its receipt printed.
pub const TIME_TO_PRINTED: &str = "wxprint_checkout_printed_seconds";
/// `wxprint_checkout_paid_seconds`: from the checkout to its payment seen.
pub const TIME_TO_PAID: &str = "wxprint_checkout_paid_seconds";
/// `wxprint_wechatpay_calls_total{endpoint, outcome}`: each HTTP exchange with WeChat Pay.
pub const WECHATPAY_CALLS: &str = "wxprint_wechatpay_calls_total";
/// `wxprint_wechatpay_retries_total{endpoint}`: exchanges repeated within one call (5xx,
/// 202, 429, an unverified answer, the backup host).
pub const WECHATPAY_RETRIES: &str = "wxprint_wechatpay_retries_total";
/// `wxprint_retries_total{reason}`: failed steps of a job that it tries again (the
/// `delayed` event's reasons).
pub const RETRIES: &str = "wxprint_retries_total";
/// `wxprint_printer_status{state}`: 1 for the printer's state as last seen, 0 for the others.
pub const PRINTER_STATUS: &str = "wxprint_printer_status";
/// `wxprint_journal_bytes`: the journal's size on disk (database and write-ahead log).
pub const JOURNAL_BYTES: &str = "wxprint_journal_bytes";
/// `wxprint_open_orders`: jobs whose outcome is still open.
pub const OPEN_ORDERS: &str = "wxprint_open_orders";

/// Buckets of [`TIME_TO_PRINTED`], seconds: placing and printing take a second or two; a
/// printer fault holds a receipt for minutes.
pub const PRINTED_BUCKETS: &[f64] = &[0.25, 0.5, 1.0, 2.0, 3.0, 5.0, 10.0, 30.0, 60.0, 300.0];
/// Buckets of [`TIME_TO_PAID`], seconds: a customer scans and pays within seconds to
/// minutes; an order lives `order_ttl` (10 min by default).
pub const PAID_BUCKETS: &[f64] = &[
    2.0, 4.0, 6.0, 10.0, 15.0, 20.0, 30.0, 45.0, 60.0, 90.0, 120.0, 180.0, 300.0, 600.0,
];

/// How a checkout ended: the `outcome` label of [`CHECKOUTS`].
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Outcome {
    Paid,
    /// Closed after the cashier cancelled it.
    Cancelled,
    /// Closed at `time_expire`.
    Expired,
    /// Closed at WeChat Pay by someone else.
    Closed,
    /// Refused by WeChat Pay, or no verified answer within `place_timeout`.
    Failed,
}

impl Outcome {
    pub(crate) const ALL: [Outcome; 5] = [
        Outcome::Paid,
        Outcome::Cancelled,
        Outcome::Expired,
        Outcome::Closed,
        Outcome::Failed,
    ];

    pub(crate) fn as_str(self) -> &'static str {
        match self {
            Outcome::Paid => "paid",
            Outcome::Cancelled => "cancelled",
            Outcome::Expired => "expired",
            Outcome::Closed => "closed",
            Outcome::Failed => "failed",
        }
    }

    /// The outcome of a job in a final `state`; `None` while it is open.
    pub(crate) fn of(state: JobState, reason: Option<CloseReason>) -> Option<Outcome> {
        Some(match state {
            JobState::Paid => Outcome::Paid,
            JobState::Failed => Outcome::Failed,
            JobState::Closed => match reason {
                Some(CloseReason::Cancelled) => Outcome::Cancelled,
                Some(CloseReason::Expired) => Outcome::Expired,
                _ => Outcome::Closed,
            },
            _ => return None,
        })
    }
}

/// The WeChat Pay APIs wxprint calls: the `endpoint` label.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Endpoint {
    Place,
    Query,
    Close,
    Refund,
    RefundQuery,
    Certificates,
    /// Anything else (no such call today).
    Other,
}

impl Endpoint {
    pub(crate) const ALL: [Endpoint; 7] = [
        Endpoint::Place,
        Endpoint::Query,
        Endpoint::Close,
        Endpoint::Refund,
        Endpoint::RefundQuery,
        Endpoint::Certificates,
        Endpoint::Other,
    ];

    pub(crate) fn as_str(self) -> &'static str {
        match self {
            Endpoint::Place => "place",
            Endpoint::Query => "query",
            Endpoint::Close => "close",
            Endpoint::Refund => "refund",
            Endpoint::RefundQuery => "refund_query",
            Endpoint::Certificates => "certificates",
            Endpoint::Other => "other",
        }
    }
}

/// What one exchange with WeChat Pay came to: the `outcome` label of [`WECHATPAY_CALLS`].
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum CallOutcome {
    /// A 2xx whose signature verified.
    Ok,
    /// 202: accepted, not processed (asked again).
    NotProcessed,
    /// A 2xx whose signature did not verify: not believed.
    Unverified,
    /// 429: slow down.
    RateLimited,
    /// Another 4xx.
    Http4xx,
    /// A 5xx.
    Http5xx,
    /// No connection (refused, DNS).
    Unreachable,
    /// Sent, no answer in `request_timeout`.
    Timeout,
    /// Sent, the connection broke before a complete answer.
    NoAnswer,
    /// Not sent: the request could not be signed.
    NotSigned,
}

impl CallOutcome {
    pub(crate) const ALL: [CallOutcome; 10] = [
        CallOutcome::Ok,
        CallOutcome::NotProcessed,
        CallOutcome::Unverified,
        CallOutcome::RateLimited,
        CallOutcome::Http4xx,
        CallOutcome::Http5xx,
        CallOutcome::Unreachable,
        CallOutcome::Timeout,
        CallOutcome::NoAnswer,
        CallOutcome::NotSigned,
    ];

    pub(crate) fn as_str(self) -> &'static str {
        match self {
            CallOutcome::Ok => "ok",
            CallOutcome::NotProcessed => "http_202",
            CallOutcome::Unverified => "unverified",
            CallOutcome::RateLimited => "http_429",
            CallOutcome::Http4xx => "http_4xx",
            CallOutcome::Http5xx => "http_5xx",
            CallOutcome::Unreachable => "unreachable",
            CallOutcome::Timeout => "timeout",
            CallOutcome::NoAnswer => "no_answer",
            CallOutcome::NotSigned => "not_signed",
        }
    }

    /// The outcome of an answer with HTTP `status` that was not (yet) believed or refused
    /// on its signature: 2xx other than 202 is [`CallOutcome::Ok`].
    pub(crate) fn of_status(status: u16) -> CallOutcome {
        match status {
            202 => CallOutcome::NotProcessed,
            429 => CallOutcome::RateLimited,
            200..=299 => CallOutcome::Ok,
            500.. => CallOutcome::Http5xx,
            _ => CallOutcome::Http4xx,
        }
    }
}

/// The printer's state as last seen: the `state` label of [`PRINTER_STATUS`].
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[repr(u8)]
pub(crate) enum PrinterState {
    /// Not seen since the daemon started.
    Unknown,
    /// Online with paper (or a transport that cannot tell otherwise, the file printer).
    Ready,
    /// Prints, but the roll is running low.
    PaperNearEnd,
    PaperOut,
    CoverOpen,
    /// Says it is offline for another reason (an error).
    Offline,
    /// Does not answer, or its device cannot be opened.
    Unreachable,
}

impl PrinterState {
    pub(crate) const ALL: [PrinterState; 7] = [
        PrinterState::Unknown,
        PrinterState::Ready,
        PrinterState::PaperNearEnd,
        PrinterState::PaperOut,
        PrinterState::CoverOpen,
        PrinterState::Offline,
        PrinterState::Unreachable,
    ];

    pub(crate) fn as_str(self) -> &'static str {
        match self {
            PrinterState::Unknown => "unknown",
            PrinterState::Ready => "ready",
            PrinterState::PaperNearEnd => "paper_near_end",
            PrinterState::PaperOut => "paper_out",
            PrinterState::CoverOpen => "cover_open",
            PrinterState::Offline => "offline",
            PrinterState::Unreachable => "unreachable",
        }
    }

    /// The state after a receipt printed: ready, unless the roll was running low (only a
    /// status request can tell that it was changed).
    pub(crate) fn after_printing(self) -> PrinterState {
        match self {
            PrinterState::PaperNearEnd => PrinterState::PaperNearEnd,
            _ => PrinterState::Ready,
        }
    }

    fn from_u8(n: u8) -> PrinterState {
        PrinterState::ALL
            .into_iter()
            .find(|s| *s as u8 == n)
            .unwrap_or(PrinterState::Unknown)
    }

    /// What a status says, the worst first: no paper, cover open, not answering, offline.
    pub(crate) fn of(status: &PrinterStatus) -> PrinterState {
        match (status.online, status.paper, status.cover_open) {
            (_, Paper::Out, _) => PrinterState::PaperOut,
            (_, _, Some(true)) => PrinterState::CoverOpen,
            (Some(false), Paper::Unknown, _) => PrinterState::Unreachable,
            (Some(false), _, _) => PrinterState::Offline,
            (_, Paper::NearEnd, _) => PrinterState::PaperNearEnd,
            _ => PrinterState::Ready,
        }
    }
}

/// The printer state last set, so that a printed receipt keeps `paper_near_end`.
static PRINTER_STATE: AtomicU8 = AtomicU8::new(PrinterState::Unknown as u8);

/// A checkout reached `outcome`.
pub(crate) fn checkout_finished(outcome: Outcome) {
    counter!(CHECKOUTS, "outcome" => outcome.as_str()).increment(1);
}

/// A checkout's receipt was printed `elapsed` after the checkout.
pub(crate) fn time_to_printed(elapsed: Duration) {
    histogram!(TIME_TO_PRINTED).record(elapsed.as_secs_f64());
}

/// A checkout's payment was seen `elapsed` after the checkout.
pub(crate) fn time_to_paid(elapsed: Duration) {
    histogram!(TIME_TO_PAID).record(elapsed.as_secs_f64());
}

/// One exchange with WeChat Pay's `endpoint` ended with `outcome`.
pub(crate) fn wechatpay_call(endpoint: Endpoint, outcome: CallOutcome) {
    let labels = [
        ("endpoint", endpoint.as_str()),
        ("outcome", outcome.as_str()),
    ];
    counter!(WECHATPAY_CALLS, &labels).increment(1);
}

/// A call to `endpoint` sends its request again.
pub(crate) fn wechatpay_retry(endpoint: Endpoint) {
    counter!(WECHATPAY_RETRIES, "endpoint" => endpoint.as_str()).increment(1);
}

/// A job's step failed for `reason`; the job tries again.
pub(crate) fn retry(reason: DelayReason) {
    counter!(RETRIES, "reason" => reason.as_str()).increment(1);
}

/// The printer reported `status` (asked, or refusing a receipt).
pub(crate) fn printer_status(status: &PrinterStatus) {
    set_printer_state(PrinterState::of(status));
}

/// The printer took a receipt: it is ready (still near its paper's end if it said so).
pub(crate) fn printer_printed() {
    let now = PrinterState::from_u8(PRINTER_STATE.load(Ordering::Relaxed));
    set_printer_state(now.after_printing());
}

/// The printer could not be opened or written to.
pub(crate) fn printer_unreachable() {
    set_printer_state(PrinterState::Unreachable);
}

fn set_printer_state(state: PrinterState) {
    PRINTER_STATE.store(state as u8, Ordering::Relaxed);
    for s in PrinterState::ALL {
        gauge!(PRINTER_STATUS, "state" => s.as_str()).set(f64::from(u8::from(s == state)));
    }
}

/// The journal's size on disk, and how many orders are open; set before each render.
pub fn journal(bytes: u64, open_orders: usize) {
    gauge!(JOURNAL_BYTES).set(bytes as f64);
    gauge!(OPEN_ORDERS).set(open_orders as f64);
}

/// Every label set at zero (and the build info), so that the first increment of each is
/// visible to `rate()` and `increase()`, and a dashboard finds every series from the start.
fn initialise() {
    describe();
    gauge!(BUILD_INFO, "version" => env!("CARGO_PKG_VERSION")).set(1.0);
    for outcome in Outcome::ALL {
        counter!(CHECKOUTS, "outcome" => outcome.as_str()).absolute(0);
    }
    for endpoint in Endpoint::ALL {
        counter!(WECHATPAY_RETRIES, "endpoint" => endpoint.as_str()).absolute(0);
        for outcome in CallOutcome::ALL {
            let labels = [
                ("endpoint", endpoint.as_str()),
                ("outcome", outcome.as_str()),
            ];
            counter!(WECHATPAY_CALLS, &labels).absolute(0);
        }
    }
    for reason in [
        DelayReason::WechatpayUnreachable,
        DelayReason::UnverifiedAnswer,
        DelayReason::RateLimited,
        DelayReason::Printer,
    ] {
        counter!(RETRIES, "reason" => reason.as_str()).absolute(0);
    }
    set_printer_state(PrinterState::from_u8(PRINTER_STATE.load(Ordering::Relaxed)));
}

/// The `# HELP` line of every metric.
fn describe() {
    use metrics::{describe_counter, describe_gauge, describe_histogram};
    describe_gauge!(BUILD_INFO, "Always 1; the wxprint version in its label.");
    describe_counter!(CHECKOUTS, "Checkouts that reached an outcome, by outcome.");
    describe_histogram!(
        TIME_TO_PRINTED,
        "Seconds from a checkout to its receipt printed."
    );
    describe_histogram!(TIME_TO_PAID, "Seconds from a checkout to its payment seen.");
    describe_counter!(
        WECHATPAY_CALLS,
        "HTTP exchanges with WeChat Pay, by endpoint and outcome."
    );
    describe_counter!(
        WECHATPAY_RETRIES,
        "WeChat Pay requests sent again within one call."
    );
    describe_counter!(
        RETRIES,
        "Failed steps of a checkout tried again, by delay reason."
    );
    describe_gauge!(
        PRINTER_STATUS,
        "1 for the printer's state as last seen, 0 for the others."
    );
    describe_gauge!(JOURNAL_BYTES, "The journal's size on disk, bytes.");
    describe_gauge!(OPEN_ORDERS, "Checkouts whose outcome is still open.");
}

#[cfg(test)]
mod tests;

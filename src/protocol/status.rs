//! The states carried by events: a job's [`JobState`], its [`PrintState`], why it was
//! closed ([`CloseReason`]), the full record `status` reports ([`JobStatus`]) and the
//! printer's live state ([`PrinterStatus`], its [`Paper`]). Wire spellings come from serde
//! (`snake_case`); `as_str` gives the same spelling for logs, the CLI and the test page.
//!
//! Knows the spellings only: how a printer's status bytes become these values is
//! `printer/`'s business.

use serde::{Deserialize, Serialize};

use super::drawer::DrawerState;
use super::error::ErrorBody;
use super::event::ExchangeRate;
use super::refund::RefundStatus;

/// The state of a job (`docs/protocol.md` "Job states").
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum JobState {
    /// The order is being placed at WeChat Pay.
    Ordering,
    /// The QR is out; nobody has paid yet.
    AwaitingPayment,
    /// The customer is paying (e.g. entering a password).
    UserPaying,
    /// Cancel asked; closed as soon as WeChat Pay allows it.
    Cancelling,
    /// Paid (final).
    Paid,
    /// Closed without payment (final).
    Closed,
    /// WeChat Pay refused the order (final).
    Failed,
}

impl JobState {
    /// Paid, closed and failed are final: nothing changes afterwards.
    pub fn is_final(self) -> bool {
        matches!(self, JobState::Paid | JobState::Closed | JobState::Failed)
    }

    /// The spelling on the wire.
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
}

/// Printing is tracked beside the state: a printer fault must not lose a payable order.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum PrintState {
    /// Not printed yet (waiting for the order or the printer).
    Pending,
    /// The printer took the receipt.
    Printed,
    /// The receipt could not be printed within `print_timeout`; the order stays payable.
    Failed,
}

impl PrintState {
    /// The spelling on the wire.
    pub fn as_str(self) -> &'static str {
        match self {
            PrintState::Pending => "pending",
            PrintState::Printed => "printed",
            PrintState::Failed => "failed",
        }
    }
}

/// Why an order was closed.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum CloseReason {
    /// The cashier cancelled.
    Cancelled,
    /// `time_expire` passed unpaid.
    Expired,
    /// WeChat Pay reported the order closed or revoked without us asking.
    Remote,
}

impl CloseReason {
    /// The spelling on the wire.
    pub fn as_str(self) -> &'static str {
        match self {
            CloseReason::Cancelled => "cancelled",
            CloseReason::Expired => "expired",
            CloseReason::Remote => "remote",
        }
    }
}

/// A job's full record, as `status` reports it.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct JobStatus {
    /// The merchant's order number: 6–32 of `0-9 A-Z a-z _ - | *`.
    pub out_trade_no: String,
    /// The job's state.
    pub state: JobState,
    /// Where the receipt stands.
    pub print: PrintState,
    /// What the QR encodes, once WeChat Pay has answered.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub code_url: Option<String>,
    /// What is sold, as the customer's WeChat shows it (≤ 127 characters).
    pub description: String,
    /// The order's amount.
    pub amount: StatusAmount,
    /// When the checkout arrived (RFC 3339).
    pub created_at: String,
    /// When the job last changed (RFC 3339).
    pub updated_at: String,
    /// When the order stops being payable (RFC 3339).
    pub time_expire: String,
    /// WeChat Pay's order number, once paid.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub transaction_id: Option<String>,
    /// When the customer paid, once paid.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub success_time: Option<String>,
    /// What the customer paid, once paid, in the minor unit of `amount.payer_currency`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub payer_total: Option<i64>,
    /// Why the order was closed, once closed.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub close_reason: Option<CloseReason>,
    /// Why the job failed, once failed.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub error: Option<ErrorBody>,
    /// While the job is open and its latest attempt at something failed: what failed, why,
    /// and when (extension); gone once that step succeeds.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub last_error: Option<LastError>,
    /// The order's refunds, oldest first (extension); absent while there are none.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub refunds: Vec<RefundStatus>,
}

/// Why a job is waiting longer than it should: the `reason` of `delayed` and of
/// `last_error`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum DelayReason {
    /// WeChat Pay did not answer (network, DNS, TLS, timeout) or answered with a server
    /// error: wxprint asks again.
    WechatpayUnreachable,
    /// WeChat Pay answered, but the answer's signature did not verify against the
    /// configured WeChat Pay public key or platform certificates: not believed, asked again.
    UnverifiedAnswer,
    /// WeChat Pay asked us to slow down (HTTP 429): asked again later.
    RateLimited,
    /// The printer cannot take the receipt yet (offline, paper out, cover open).
    Printer,
}

impl DelayReason {
    /// The spelling on the wire.
    pub fn as_str(self) -> &'static str {
        match self {
            DelayReason::WechatpayUnreachable => "wechatpay_unreachable",
            DelayReason::UnverifiedAnswer => "unverified_answer",
            DelayReason::RateLimited => "rate_limited",
            DelayReason::Printer => "printer",
        }
    }
}

/// The failure of a job's latest attempt, as `status` reports it while the job is open.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct LastError {
    /// What kind of failure.
    pub reason: DelayReason,
    /// When it happened (RFC 3339).
    pub at: String,
    /// What failed, in words (its `message` names the key or host to check).
    #[serde(flatten)]
    pub error: ErrorBody,
}

/// An order's amount as `status` reports it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct StatusAmount {
    /// The order's amount, in the minor unit of `currency` (fen for CNY).
    pub total: i64,
    /// ISO 4217 code; `CNY` on mainland WeChat Pay.
    pub currency: String,
    /// Once paid: the currency the customer paid in, that of the job's `payer_total`
    /// (extension).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub payer_currency: Option<String>,
    /// Once paid, when WeChat Pay converted: the rate (extension).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub exchange_rate: Option<ExchangeRate>,
}

/// The paper as the printer reports it (`PrinterStatus.paper`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Paper {
    /// Enough paper (also what the file transport, which has no printer to ask, reports).
    Ok,
    /// The near-end sensor says the roll is running low; receipts still print.
    NearEnd,
    /// Out of paper (or printing stopped by paper end): nothing prints.
    Out,
    /// The printer did not answer, or cannot be reached: never reported as `ok`.
    Unknown,
}

impl Paper {
    /// The spelling on the wire.
    pub fn as_str(self) -> &'static str {
        match self {
            Paper::Ok => "ok",
            Paper::NearEnd => "near_end",
            Paper::Out => "out",
            Paper::Unknown => "unknown",
        }
    }
}

/// Live printer state.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct PrinterStatus {
    /// `null` when the transport cannot tell (the file transport).
    pub online: Option<bool>,
    /// The paper sensor's word, `unknown` when the printer did not answer.
    pub paper: Paper,
    /// `null` when the printer cannot tell.
    pub cover_open: Option<bool>,
    /// Why the printer cannot be reached or used, when it cannot.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub error: Option<String>,
    /// Transport and where it writes (extension).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub transport: Option<String>,
    /// The cash drawer, as the printer's sensor reads it (extension).
    #[serde(default)]
    pub drawer: DrawerState,
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn paper_serialises_to_its_four_spellings() {
        for (paper, wire) in [
            (Paper::Ok, "ok"),
            (Paper::NearEnd, "near_end"),
            (Paper::Out, "out"),
            (Paper::Unknown, "unknown"),
        ] {
            let json = serde_json::to_value(paper).expect("plain data");
            assert_eq!(json, serde_json::json!(wire));
            assert_eq!(paper.as_str(), wire);
            let back: Paper = serde_json::from_value(json).expect("a known spelling");
            assert_eq!(back, paper);
        }
        assert!(serde_json::from_str::<Paper>("\"low\"").is_err());
    }
}

//! What a refund is, for a payment backend: [`RefundOrder`] (what is asked, with the pinned
//! request) and [`RefundProgress`] (what the backend says of it). The calls are
//! [`PaymentBackend::refund`](super::PaymentBackend::refund) and
//! [`PaymentBackend::query_refund`](super::PaymentBackend::query_refund).
//!
//! Whether a refund may be asked for at all (a paid order, the amount left) is the `jobs`
//! module's rule, checked against the journal before any call; a backend only says what
//! its service answered. Nothing here knows sockets or the journal.

use crate::money::Money;

/// One refund as a backend is asked for it. The job keeps it unchanged, so that every
/// attempt sends the same bytes (WeChat Pay: one `out_refund_no`, at most one refund).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RefundOrder {
    /// The paid order.
    pub out_trade_no: String,
    /// The refund's number.
    pub out_refund_no: String,
    /// How much goes back, in the order's currency.
    pub refund: Money,
    /// What was paid for the order (WeChat Pay's `amount.total`).
    pub total: Money,
    /// Shown to the customer; `None` when the POS gave none.
    pub reason: Option<String>,
    /// The backend's request as first prepared
    /// ([`PaymentBackend::prepare_refund`](super::PaymentBackend::prepare_refund)), stored
    /// with the refund before the first call: every attempt sends exactly these bytes.
    pub request: Option<String>,
}

/// What a backend says of a refund.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum RefundProgress {
    /// Taken, not finished (PROCESSING); WeChat Pay's refund number when it gave one.
    Processing {
        /// WeChat Pay's refund number (`refund_id`, `id` on Global), if known.
        refund_id: Option<String>,
    },
    /// The money went back (SUCCESS).
    Refunded(RefundDone),
    /// Closed without paying back (CLOSED, REFUNDCLOSE): a new refund needs a new number.
    Closed,
    /// The payout failed (ABNORMAL): the merchant finishes it on the merchant platform.
    Abnormal,
}

/// A finished refund.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RefundDone {
    /// WeChat Pay's refund number.
    pub refund_id: String,
    /// When the money went back, RFC 3339; empty if the answer lacked it.
    pub success_time: String,
    /// The amount refunded, in the order's currency.
    pub refund: Money,
    /// What the customer got back, in the currency they paid in.
    pub payer_refund: Money,
}

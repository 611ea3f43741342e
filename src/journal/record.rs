//! [`JobRecord`]: one job as the journal stores it — the order, where the job stands, and
//! what WeChat Pay answered. Plain data: the `jobs` module decides every change, the codec
//! (`codec.rs`) decides how it is spelled on disk.

use crate::clock;
use crate::money::{Currency, Money};
use crate::payment::ExchangeRate;
use crate::protocol::{CloseReason, ErrorBody, JobState, PrintState};

/// One job, as stored.
#[derive(Debug, Clone, PartialEq)]
pub struct JobRecord {
    /// The merchant's order number, the job's key.
    pub out_trade_no: String,
    /// Canonical JSON of the checkout's `order` and `receipt` (and `loopback` when set):
    /// what "identical content" means for an idempotent retry.
    pub request: String,
    /// Where the job stands: placing, awaiting payment, cancelling, or its outcome.
    pub state: JobState,
    /// Whether the receipt is printed, still to print, or given up on.
    pub print: PrintState,
    /// What is sold, as the customer's WeChat shows it.
    pub description: String,
    /// The order's amount (columns `total` and `currency`).
    pub amount: Money,
    /// Merchant data WeChat Pay returns with the order; `None` when the checkout gave none.
    pub attach: Option<String>,
    /// WeChat Pay's promotion tag; `None` when the checkout gave none.
    pub goods_tag: Option<String>,
    /// RFC 3339 `time_expire` sent to WeChat Pay (fixed at creation, so that a retried
    /// placement is identical).
    pub time_expire: String,
    /// The same instant as `time_expire`, in milliseconds since the Unix epoch.
    pub expire_ms: i64,
    /// The payment backend's exact placement request (see `PlaceOrder::request`).
    pub place_body: Option<String>,
    /// A technician's test order, placed on the built-in sandbox.
    pub loopback: bool,
    /// The QR content of the placed order; `None` until the order is placed.
    pub code_url: Option<String>,
    /// When the order was last placed successfully: WeChat Pay's order age (for the
    /// `close_min_age` rule) counts from here, not from the checkout.
    pub placed_ms: Option<i64>,
    /// WeChat Pay's number for the payment; `None` until paid.
    pub transaction_id: Option<String>,
    /// When the customer paid (RFC 3339, as WeChat Pay reported it); `None` until paid.
    pub success_time: Option<String>,
    /// What the customer paid, in the minor unit of `payer_currency`; read it as
    /// [`JobRecord::payer_amount`].
    pub payer_total: Option<i64>,
    /// The currency the customer paid in, when WeChat Pay named it (schema 2): `None`
    /// means the order's currency (every payment a version-1 journal holds).
    pub payer_currency: Option<Currency>,
    /// The rate WeChat Pay converted the payment at, when it converted (schema 2).
    pub exchange_rate: Option<ExchangeRate>,
    /// The amount WeChat Pay reports as paid (normally the order's), in the minor unit of
    /// the order's currency; read it as [`JobRecord::paid_amount`].
    pub paid_total: Option<i64>,
    /// When this receipt was first handed to the printer (schema 3), in milliseconds since
    /// the Unix epoch; `None` until then. Set while `print` is still `pending`: a record
    /// that has it and is still pending after a restart had its print cut off by a crash.
    pub print_started_ms: Option<i64>,
    /// Why the order was closed unpaid; `None` unless `state` is `closed`.
    pub close_reason: Option<CloseReason>,
    /// The last failure reported for the job: why the order was refused (`state` is
    /// `failed`) or why the receipt could not be printed (`print` is `failed`); `None`
    /// while nothing failed.
    pub error: Option<ErrorBody>,
    /// When the checkout arrived, in milliseconds since the Unix epoch.
    pub created_ms: i64,
    /// When the record last changed, in milliseconds since the Unix epoch.
    pub updated_ms: i64,
}

impl JobRecord {
    /// A job as a checkout creates it: `ordering`, nothing printed, placed or paid yet, with
    /// `time_expire` spelled from `expire_ms`. The order's optional parts (`attach`,
    /// `goods_tag`, `place_body`, `loopback`) start empty; set them with struct update:
    /// `JobRecord { attach, ..JobRecord::new(…) }`.
    pub fn new(
        out_trade_no: impl Into<String>,
        request: impl Into<String>,
        description: impl Into<String>,
        amount: Money,
        expire_ms: i64,
        created_ms: i64,
    ) -> JobRecord {
        JobRecord {
            out_trade_no: out_trade_no.into(),
            request: request.into(),
            state: JobState::Ordering,
            print: PrintState::Pending,
            description: description.into(),
            amount,
            attach: None,
            goods_tag: None,
            time_expire: clock::rfc3339(expire_ms),
            expire_ms,
            place_body: None,
            loopback: false,
            code_url: None,
            placed_ms: None,
            transaction_id: None,
            success_time: None,
            payer_total: None,
            payer_currency: None,
            exchange_rate: None,
            paid_total: None,
            print_started_ms: None,
            close_reason: None,
            error: None,
            created_ms,
            updated_ms: created_ms,
        }
    }

    /// What WeChat Pay reports as paid: `paid_total` once paid, else the order's amount.
    pub fn paid_amount(&self) -> Money {
        let minor = self.paid_total.unwrap_or(self.amount.minor());
        self.amount.with_minor(minor)
    }

    /// What the customer paid: `payer_total` in `payer_currency` (or the order's currency)
    /// once paid, else the order's amount.
    pub fn payer_amount(&self) -> Money {
        match (self.payer_total, &self.payer_currency) {
            (Some(minor), Some(currency)) => Money::new(minor, currency.clone()),
            (Some(minor), None) => self.amount.with_minor(minor),
            (None, _) => self.amount.clone(),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn paid_amounts_are_in_the_orders_currency() {
        let mut r = JobRecord::new("T0000001", "{}", "Latte", Money::cny(3200), 0, 0);
        assert_eq!(
            (r.paid_amount(), r.payer_amount()),
            (r.amount.clone(), r.amount.clone())
        );
        r.paid_total = Some(3100);
        r.payer_total = Some(3000);
        assert_eq!(
            (r.paid_amount(), r.payer_amount()),
            (Money::cny(3100), Money::cny(3000))
        );
    }

    #[test]
    fn a_converted_payment_is_read_in_the_payers_currency() {
        let hkd = Money::new(1234, Currency::new("HKD"));
        let mut r = JobRecord::new("T0000001", "{}", "Latte", hkd.clone(), 0, 0);
        r.paid_total = Some(1234);
        r.payer_total = Some(1135);
        r.payer_currency = Some(Currency::CNY);
        assert_eq!((r.paid_amount(), r.payer_amount()), (hkd, Money::cny(1135)));
    }
}

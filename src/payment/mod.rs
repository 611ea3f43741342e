//! The payment side: the [`PaymentBackend`] trait the job state machine drives, and the
//! offline [`sandbox`] backend. The WeChat Pay API v3 backend implements the same trait.
//!
//! A backend is told *what* to do (place / query / close one order); *when* to do it —
//! retries, polling cadence, expiry, the five-minute close rule — is the `jobs` module's
//! business, so that every backend gets the same, tested state machine.
//!
//! What is the backend's own stays behind the trait: which currencies it takes
//! ([`PaymentBackend::accepts`]) and what its error codes mean — a backend answers with a
//! [`PaymentError`] variant (`OrderClosed`, `OrderPaid`…), never with a code for the jobs to
//! read. Amounts are [`Money`]. Nothing here knows sockets, printers or the wire.

use std::future::Future;
use std::pin::Pin;
use std::time::Duration;

use crate::money::{Currency, Money};

mod refund;
pub mod sandbox;

pub use refund::{RefundDone, RefundOrder, RefundProgress};

/// A boxed future, so that backends can be used as `Arc<dyn PaymentBackend>`.
pub type BoxFuture<'a, T> = Pin<Box<dyn Future<Output = T> + Send + 'a>>;

/// What a Native order is placed with. The job keeps it unchanged for its whole life, so
/// that a retried placement is byte-identical (WeChat Pay's re-entry rule).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PlaceOrder {
    /// The merchant's order number, as the POS chose it.
    pub out_trade_no: String,
    /// What is sold, as the customer's WeChat shows it.
    pub description: String,
    /// What the order costs.
    pub amount: Money,
    /// Merchant data WeChat Pay returns with the order; `None` when the checkout gave none.
    pub attach: Option<String>,
    /// WeChat Pay's promotion tag; `None` when the checkout gave none.
    pub goods_tag: Option<String>,
    /// When the order stops being payable: RFC 3339 with `+08:00`.
    pub time_expire: String,
    /// The backend's request as first prepared ([`PaymentBackend::prepare`]), stored with
    /// the job: every placement of this order sends exactly these bytes, even after a
    /// restart with another configuration or a newer wxprint (WeChat Pay refuses a
    /// re-placement whose parameters differ).
    pub request: Option<String>,
}

/// A placed order: the QR content.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Placed {
    /// The `weixin://wxpay/bizpayurl?pr=…` URL the receipt prints as a QR code.
    pub code_url: String,
}

/// What a payment looks like once WeChat Pay reports it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Payment {
    /// WeChat Pay's number for the payment (the sandbox makes one up); empty if the answer
    /// lacked it.
    pub transaction_id: String,
    /// When the customer paid, RFC 3339; empty if the answer lacked it.
    pub success_time: String,
    /// The amount paid for the order (normally the order's amount).
    pub total: Money,
    /// What the customer paid, in the currency they paid in (less than `total` after a
    /// discount): the order's currency on the mainland, usually CNY on WeChat Pay Global.
    pub payer_total: Money,
    /// The rate WeChat Pay converted at, when the customer paid in another currency
    /// (WeChat Pay Global); `None` when nothing was converted.
    pub exchange_rate: Option<ExchangeRate>,
    /// The sum of the promotions WeChat Pay applied (`promotion_detail[].amount`), in the
    /// order's currency; `None` when the answer listed none. Printed on the payment slip.
    pub discount: Option<Money>,
}

/// A currency conversion as WeChat Pay Global reports it with a payment.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ExchangeRate {
    /// The kind of rate, e.g. `SETTLEMENT_RATE`.
    pub kind: String,
    /// Units of the payer's currency per unit of the order's, times 10^8 (WeChat's integer
    /// convention: a rate of 6.5 is `650000000`).
    pub rate: i64,
}

/// `trade_state` of a query.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum TradeState {
    /// NOTPAY: not paid yet (a failed attempt stays here too).
    NotPay,
    /// USERPAYING: the customer is confirming; poll faster.
    UserPaying,
    /// SUCCESS (or REFUND: it was paid).
    Paid(Payment),
    /// CLOSED, REVOKED or PAYERROR: final, unpaid.
    Closed,
}

/// Why a backend call did not succeed. The job decides what to do from the variant.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum PaymentError {
    /// Network trouble, 5xx, an unverifiable answer: try again later, same request.
    #[error("temporary payment backend failure: {message}")]
    Transient {
        /// What went wrong, for the log.
        message: String,
        /// WeChat Pay's `Request-ID` of the answer, to quote to its support; `None` when
        /// there was no answer or it carried none, and from the sandbox.
        request_id: Option<String>,
    },
    /// An answer came but its signature did not verify (wrong WeChat Pay public key or
    /// key id, an unknown platform certificate): not believed; try again later, same
    /// request. The order may exist at WeChat Pay.
    #[error("WeChat Pay's answer did not verify: {message}")]
    Unverified {
        /// What did not verify, for the log and the POS.
        message: String,
        /// WeChat Pay's `Request-ID` of the answer, to quote to its support.
        request_id: Option<String>,
    },
    /// HTTP 429: back off before the next call.
    #[error("payment backend rate limit reached")]
    RateLimited,
    /// The backend refused the request for good (configuration or parameter error).
    #[error("WeChat Pay refused the request: {code}: {message}")]
    Rejected {
        /// The backend's error code (`PARAM_ERROR`, `INVALID_REQUEST`…); `HTTP_<status>`
        /// when the answer carried none.
        code: String,
        /// The backend's explanation.
        message: String,
        /// WeChat Pay's `Request-ID` of the answer, to quote to its support; `None` when it
        /// carried none, and from the sandbox.
        request_id: Option<String>,
    },
    /// ORDER_NOT_EXIST.
    #[error("order {0} does not exist at the payment backend")]
    OrderNotFound(String),
    /// ORDER_PAID on close: query to learn the payment.
    #[error("order {0} is already paid")]
    OrderPaid(String),
    /// ORDER_CLOSED on placement: the order was closed (expired or closed by the merchant)
    /// and can no longer be paid.
    #[error("order {0} is closed")]
    OrderClosed(String),
}

/// Mainland WeChat Pay's currency rule, for the backends that are it or stand in for it:
/// only CNY.
pub fn cny_only(amount: &Money) -> Result<(), String> {
    if *amount.currency() == Currency::CNY {
        return Ok(());
    }
    Err(format!(
        "{:?} is not supported; mainland WeChat Pay takes only \"CNY\"",
        amount.currency().code()
    ))
}

/// WeChat Pay's currency rule for one merchant: orders only in the configured currency
/// (`wechatpay.currency`), which on the mainland is always CNY ([`cny_only`], whose
/// refusal it keeps word for word) and on WeChat Pay Global the merchant's settlement
/// currency. The POS sends amounts in that currency's minor unit.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CurrencyRule {
    currency: Currency,
    global: bool,
}

impl CurrencyRule {
    /// Orders in `currency`; `global` for a WeChat Pay Global merchant.
    pub fn new(currency: Currency, global: bool) -> CurrencyRule {
        CurrencyRule { currency, global }
    }

    /// Mainland WeChat Pay: CNY.
    pub fn mainland() -> CurrencyRule {
        CurrencyRule::new(Currency::CNY, false)
    }

    /// The one currency orders are placed in.
    pub fn currency(&self) -> &Currency {
        &self.currency
    }

    /// WeChat Pay Global: payments may be converted (the payer pays in CNY).
    pub fn is_global(&self) -> bool {
        self.global
    }

    /// Whether an order of `amount` can be placed: its currency is the configured one. The
    /// refusal names both and says what the POS must send.
    pub fn accepts(&self, amount: &Money) -> Result<(), String> {
        if !self.global && self.currency == Currency::CNY {
            return cny_only(amount);
        }
        if *amount.currency() == self.currency {
            return Ok(());
        }
        let code = self.currency.code();
        let region = if self.global {
            "WeChat Pay Global"
        } else {
            "WeChat Pay"
        };
        Err(format!(
            "{:?} is not supported; this {region} merchant takes only {code:?}: send the \
             amount in {code} (its minor unit) with currency {code:?}, or ask the \
             technician to check wechatpay.currency",
            amount.currency().code()
        ))
    }
}

/// The three calls the job state machine needs from a payment service, and the currencies
/// it takes.
pub trait PaymentBackend: Send + Sync + 'static {
    /// Short name for logs and `status`: `sandbox`, `wechatpay`.
    fn name(&self) -> &'static str;

    /// Whether an order of `amount` can be placed here (its currency): checked at checkout,
    /// before anything is stored or sent. The error is what the POS reads about the field
    /// `order.amount.currency`. WeChat Pay takes the configured currency ([`CurrencyRule`]:
    /// [`cny_only`] on the mainland).
    fn accepts(&self, amount: &Money) -> Result<(), String>;

    /// The merchant's currency rule: its one currency (what a checkout that names none is
    /// in) and whether it is a WeChat Pay Global merchant. Mainland CNY unless a backend
    /// says otherwise.
    fn currency_rule(&self) -> CurrencyRule {
        CurrencyRule::mainland()
    }

    /// Whether an order pinned with `request` (an earlier [`prepare`](Self::prepare), maybe
    /// under another configuration) belongs to the merchant this backend speaks for. An
    /// unfinished order of another merchant must not be resumed here: its queries would
    /// find nothing and a payment could go unreported. The error says why, for people.
    fn owns(&self, _request: &str) -> Result<(), String> {
        Ok(())
    }

    /// The exact request `place` will send for `order`, to be stored with the job before
    /// the first attempt. `None` when the backend has nothing to pin. Called just before
    /// the job is journaled: a backend may start the first attempt's work here (WeChat Pay
    /// signs the request ahead, while the journal waits for the disk).
    fn prepare(&self, _order: &PlaceOrder) -> Option<String> {
        None
    }

    /// Place a Native order and return its `code_url`. Re-placing the identical order is
    /// allowed and returns the current `code_url`.
    fn place<'a>(&'a self, order: &'a PlaceOrder) -> BoxFuture<'a, Result<Placed, PaymentError>>;

    /// The order's current trade state.
    fn query<'a>(
        &'a self,
        out_trade_no: &'a str,
    ) -> BoxFuture<'a, Result<TradeState, PaymentError>>;

    /// Close an unpaid order. Closing a closed order succeeds; a paid one fails with
    /// [`PaymentError::OrderPaid`].
    fn close<'a>(&'a self, out_trade_no: &'a str) -> BoxFuture<'a, Result<(), PaymentError>>;

    /// The exact request [`refund`](Self::refund) will send for `refund`, to be journaled
    /// before the first call. `None` when the backend has nothing to pin.
    fn prepare_refund(&self, _refund: &RefundOrder) -> Option<String> {
        None
    }

    /// Ask for a refund of a paid order. Asking again with the same number and the same
    /// request answers the refund's current progress, never a second refund. The sandbox
    /// and WeChat Pay implement it; the default (a backend without refunds, such as a test
    /// double) refuses with `REFUND_UNSUPPORTED`.
    fn refund<'a>(
        &'a self,
        refund: &'a RefundOrder,
    ) -> BoxFuture<'a, Result<RefundProgress, PaymentError>> {
        Box::pin(async move { Err(no_refunds(self.name(), &refund.out_refund_no)) })
    }

    /// Where `refund` stands (asked by its `out_refund_no`; an answer about another refund
    /// or order is not believed).
    fn query_refund<'a>(
        &'a self,
        refund: &'a RefundOrder,
    ) -> BoxFuture<'a, Result<RefundProgress, PaymentError>> {
        Box::pin(async move { Err(no_refunds(self.name(), &refund.out_refund_no)) })
    }

    /// How far apart two refunds of one order must be asked for (WeChat Pay: a minute);
    /// the jobs queue a second refund until then, never fail it. None by default.
    fn refund_spacing(&self) -> Duration {
        Duration::ZERO
    }

    /// The sandbox backend, for `sandbox_pay`; `None` for real backends.
    fn as_sandbox(&self) -> Option<&sandbox::Sandbox> {
        None
    }
}

/// A backend that does not implement refunds, asked for one.
fn no_refunds(backend: &str, out_refund_no: &str) -> PaymentError {
    PaymentError::Rejected {
        code: "REFUND_UNSUPPORTED".into(),
        message: format!(
            "the {backend:?} payment backend cannot refund; refund {out_refund_no} on the \
             merchant platform"
        ),
        request_id: None,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn mainland_backends_take_only_cny() {
        assert_eq!(cny_only(&Money::cny(3200)), Ok(()));
        let usd = Money::new(100, Currency::new("USD"));
        let refusal = cny_only(&usd).unwrap_err();
        assert_eq!(
            refusal,
            r#""USD" is not supported; mainland WeChat Pay takes only "CNY""#
        );
        assert!(cny_only(&Money::new(1, Currency::new("cny"))).is_err());
    }

    #[test]
    fn wechatpay_takes_exactly_the_configured_currency() {
        let usd = Money::new(100, Currency::new("USD"));
        let hkd = Money::new(1234, Currency::new("HKD"));

        let mainland = CurrencyRule::mainland();
        assert_eq!(mainland.accepts(&Money::cny(3200)), Ok(()));
        assert_eq!(mainland.accepts(&usd), cny_only(&usd));
        assert_eq!(mainland, CurrencyRule::new(Currency::CNY, false));

        let global = CurrencyRule::new(Currency::new("HKD"), true);
        assert_eq!(global.currency(), &Currency::new("HKD"));
        assert_eq!(global.accepts(&hkd), Ok(()));
        assert_eq!(
            global.accepts(&Money::cny(3200)).unwrap_err(),
            "\"CNY\" is not supported; this WeChat Pay Global merchant takes only \"HKD\": send \
             the amount in HKD (its minor unit) with currency \"HKD\", or ask the technician \
             to check wechatpay.currency"
        );
        assert!(
            global
                .accepts(&usd)
                .unwrap_err()
                .starts_with("\"USD\" is not supported")
        );

        // A Global merchant settling in CNY takes CNY only, with the Global wording.
        let global_cny = CurrencyRule::new(Currency::CNY, true);
        assert_eq!(global_cny.accepts(&Money::cny(1)), Ok(()));
        assert!(
            global_cny
                .accepts(&hkd)
                .unwrap_err()
                .contains("Global merchant takes only \"CNY\"")
        );
    }
}

//! The sandbox backend: an offline stand-in for WeChat Pay, for POS developers without
//! merchant keys and for tests.
//!
//! It behaves like the real service where a POS can tell: a `code_url` of the real shape
//! (`weixin://wxpay/bizpayurl?pr=` + 7 base62 characters), re-placing the identical order
//! returns a fresh `code_url`, a different order under a used number is refused, an order
//! is paid only when someone pays it (here: `sandbox_pay`), and close/query honour the
//! order's state. Its orders live in `sandbox.sqlite` beside the journal, so a daemon
//! restarted mid-payment finds them again, as it would find them at WeChat Pay.
//!
//! An order is known by its pinned request (`identity.rs`), as WeChat Pay knows a
//! re-placement by its body. Which WeChat Pay it stands in for — the currency it takes,
//! mainland or Global-shaped payments — is its [`SandboxMarket`] (`market.rs`). It refuses
//! the order fields WeChat Pay refuses (`limits.rs`). Its refunds are `refunds.rs`.

mod identity;
mod limits;
mod market;
mod refunds;

pub use market::{SETTLEMENT_RATE, SandboxMarket};

use std::path::Path;
use std::sync::Mutex;

use rusqlite::{Connection, OptionalExtension, params};

use super::{
    BoxFuture, CurrencyRule, PaymentBackend, PaymentError, PlaceOrder, Placed, RefundOrder,
    RefundProgress, TradeState,
};
use crate::clock;
use crate::money::{Currency, Money};
use crate::payment::Payment;

/// The prefix of every Native `code_url`.
pub const CODE_URL_PREFIX: &str = "weixin://wxpay/bizpayurl?pr=";

const BASE62: &[u8; 62] = b"0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz";

/// Why `sandbox_pay` was refused, or the sandbox's store could not be opened.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum SandboxError {
    /// No order with this `out_trade_no` (the one given) was ever placed on the sandbox.
    #[error("sandbox order {0} does not exist")]
    NotFound(String),
    /// The order is already paid or closed, so it cannot be paid (again).
    #[error("sandbox order {no} is {state}; only an unpaid (NOTPAY) order can be paid")]
    NotPayable {
        /// The order's `out_trade_no`.
        no: String,
        /// Its sandbox `trade_state`: `SUCCESS` or `CLOSED`.
        state: String,
    },
    /// `sandbox.sqlite` (or its directory) could not be created, read or written; the
    /// message is SQLite's or the operating system's.
    #[error("sandbox store: {0}")]
    Store(String),
}

/// The offline payment service.
pub struct Sandbox {
    db: Mutex<Connection>,
    market: SandboxMarket,
}

impl std::fmt::Debug for Sandbox {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("Sandbox")
    }
}

fn store_err(e: rusqlite::Error) -> SandboxError {
    SandboxError::Store(e.to_string())
}

impl Sandbox {
    /// Open (or create) the sandbox's order store in `dir`.
    pub fn open(dir: &Path) -> Result<Sandbox, SandboxError> {
        std::fs::create_dir_all(dir)
            .map_err(|e| SandboxError::Store(format!("cannot create {}: {e}", dir.display())))?;
        let conn = Connection::open(dir.join("sandbox.sqlite")).map_err(store_err)?;
        Self::with_connection(conn)
    }

    /// A sandbox that forgets everything when dropped.
    pub fn in_memory() -> Sandbox {
        Self::with_connection(Connection::open_in_memory().expect("in-memory SQLite"))
            .expect("in-memory schema")
    }

    fn with_connection(conn: Connection) -> Result<Sandbox, SandboxError> {
        conn.execute_batch(
            "PRAGMA journal_mode=WAL;
             CREATE TABLE IF NOT EXISTS sandbox_orders (
                 out_trade_no   TEXT PRIMARY KEY,
                 request        TEXT NOT NULL,
                 code_url       TEXT NOT NULL,
                 trade_state    TEXT NOT NULL,
                 total          INTEGER NOT NULL,
                 currency       TEXT NOT NULL,
                 transaction_id TEXT,
                 success_time   TEXT
             );",
        )
        .and_then(|()| conn.execute_batch(refunds::TABLE))
        .map_err(store_err)?;
        Ok(Sandbox {
            db: Mutex::new(conn),
            market: SandboxMarket::default(),
        })
    }

    /// The same sandbox standing in for `market`'s WeChat Pay (the default: mainland, CNY):
    /// it takes only the market's currency, and on Global reports payments in CNY with the
    /// rate they were converted at. `Sandbox::open(dir)?.with_market(market)`.
    pub fn with_market(self, market: SandboxMarket) -> Sandbox {
        Sandbox { market, ..self }
    }

    fn conn(&self) -> std::sync::MutexGuard<'_, Connection> {
        self.db.lock().unwrap_or_else(|p| p.into_inner())
    }

    /// Pay an unpaid order, as a customer scanning the QR would.
    pub fn pay(&self, out_trade_no: &str) -> Result<Payment, SandboxError> {
        let conn = self.conn();
        let row: Option<(String, i64, String)> = conn
            .query_row(
                "SELECT trade_state, total, currency FROM sandbox_orders WHERE out_trade_no = ?1",
                [out_trade_no],
                |r| Ok((r.get(0)?, r.get(1)?, r.get(2)?)),
            )
            .optional()
            .map_err(store_err)?;
        let Some((state, total, currency)) = row else {
            return Err(SandboxError::NotFound(out_trade_no.to_owned()));
        };
        if state != "NOTPAY" {
            return Err(SandboxError::NotPayable {
                no: out_trade_no.to_owned(),
                state,
            });
        }
        let now = clock::now_ms();
        // WeChat Pay's transaction ids are 28 digits starting with 42000.
        let digits: String = (0..23)
            .map(|_| char::from(b'0' + fastrand::u8(0..10)))
            .collect();
        let total = Money::new(total, Currency::new(currency));
        let payment = self
            .market
            .payment(format!("42000{digits}"), clock::rfc3339(now), total);
        conn.execute(
            "UPDATE sandbox_orders SET trade_state = 'SUCCESS', transaction_id = ?2, success_time = ?3
             WHERE out_trade_no = ?1",
            params![out_trade_no, payment.transaction_id, payment.success_time],
        )
        .map_err(store_err)?;
        Ok(payment)
    }

    fn place_now(&self, order: &PlaceOrder) -> Result<Placed, PaymentError> {
        if let Some(refusal) = limits::refusal(order) {
            return Err(refusal);
        }
        let request = identity::of(order);
        let code_url = new_code_url();
        let conn = self.conn();
        let existing: Option<(String, String)> = conn
            .query_row(
                "SELECT request, trade_state FROM sandbox_orders WHERE out_trade_no = ?1",
                [&order.out_trade_no],
                |r| Ok((r.get(0)?, r.get(1)?)),
            )
            .optional()
            .map_err(transient)?;
        match existing {
            None => {
                conn.execute(
                    "INSERT INTO sandbox_orders (out_trade_no, request, code_url, trade_state, total, currency)
                     VALUES (?1, ?2, ?3, 'NOTPAY', ?4, ?5)",
                    params![
                        order.out_trade_no,
                        request,
                        code_url,
                        order.amount.minor(),
                        order.amount.currency().code()
                    ],
                )
                .map_err(transient)?;
            }
            Some((stored, _)) if !identity::matches(&stored, order) => {
                return Err(PaymentError::Rejected {
                    code: "INVALID_REQUEST".into(),
                    message: "the parameters differ from the first request with this out_trade_no"
                        .into(),
                    request_id: None,
                });
            }
            Some((_, state)) if state == "CLOSED" => {
                return Err(PaymentError::OrderClosed(order.out_trade_no.clone()));
            }
            Some((_, state)) if state == "SUCCESS" => {
                return Err(PaymentError::OrderPaid(order.out_trade_no.clone()));
            }
            Some(_) => {
                // Identical re-entry: WeChat Pay answers the latest code_url, and the old
                // one stops working. The sandbox does the same.
                conn.execute(
                    "UPDATE sandbox_orders SET code_url = ?2 WHERE out_trade_no = ?1",
                    params![order.out_trade_no, code_url],
                )
                .map_err(transient)?;
            }
        }
        Ok(Placed { code_url })
    }

    fn query_now(&self, out_trade_no: &str) -> Result<TradeState, PaymentError> {
        type Row = (String, i64, String, Option<String>, Option<String>);
        let row: Option<Row> = self
            .conn()
            .query_row(
                "SELECT trade_state, total, currency, transaction_id, success_time
                 FROM sandbox_orders WHERE out_trade_no = ?1",
                [out_trade_no],
                |r| Ok((r.get(0)?, r.get(1)?, r.get(2)?, r.get(3)?, r.get(4)?)),
            )
            .optional()
            .map_err(transient)?;
        let Some((state, total, currency, transaction_id, success_time)) = row else {
            return Err(PaymentError::OrderNotFound(out_trade_no.to_owned()));
        };
        Ok(match state.as_str() {
            "SUCCESS" => {
                let total = Money::new(total, Currency::new(currency));
                TradeState::Paid(self.market.payment(
                    transaction_id.unwrap_or_default(),
                    success_time.unwrap_or_default(),
                    total,
                ))
            }
            "CLOSED" => TradeState::Closed,
            _ => TradeState::NotPay,
        })
    }

    fn close_now(&self, out_trade_no: &str) -> Result<(), PaymentError> {
        // One statement under the store's lock: a payment cannot slip in between a check
        // and the update (the pay/close race is decided here, as at WeChat Pay).
        let conn = self.conn();
        let changed = conn
            .execute(
                "UPDATE sandbox_orders SET trade_state = 'CLOSED'
                 WHERE out_trade_no = ?1 AND trade_state <> 'SUCCESS'",
                [out_trade_no],
            )
            .map_err(transient)?;
        if changed == 1 {
            return Ok(());
        }
        let exists: Option<String> = conn
            .query_row(
                "SELECT trade_state FROM sandbox_orders WHERE out_trade_no = ?1",
                [out_trade_no],
                |r| r.get(0),
            )
            .optional()
            .map_err(transient)?;
        Err(match exists {
            Some(_) => PaymentError::OrderPaid(out_trade_no.to_owned()),
            None => PaymentError::OrderNotFound(out_trade_no.to_owned()),
        })
    }

    /// The code_url WeChat Pay would currently accept for the order (tests check that the
    /// printed QR is the live one).
    pub fn current_code_url(&self, out_trade_no: &str) -> Option<String> {
        self.conn()
            .query_row(
                "SELECT code_url FROM sandbox_orders WHERE out_trade_no = ?1",
                [out_trade_no],
                |r| r.get(0),
            )
            .ok()
    }
}

fn transient(e: rusqlite::Error) -> PaymentError {
    PaymentError::Transient {
        message: format!("sandbox store: {e}"),
        request_id: None,
    }
}

fn new_code_url() -> String {
    let mut url = String::with_capacity(CODE_URL_PREFIX.len() + 7);
    url.push_str(CODE_URL_PREFIX);
    for _ in 0..7 {
        url.push(char::from(BASE62[fastrand::usize(..BASE62.len())]));
    }
    url
}

impl PaymentBackend for Sandbox {
    fn name(&self) -> &'static str {
        "sandbox"
    }

    /// Its market's rule: CNY only by default (mainland WeChat Pay), else exactly the
    /// market's currency.
    fn accepts(&self, amount: &Money) -> Result<(), String> {
        self.market.accepts(amount)
    }

    fn currency_rule(&self) -> CurrencyRule {
        self.market.rule()
    }

    /// The canonical JSON of the order's fields, pinned with the job: a re-placement is the
    /// same order when it carries the same request.
    fn prepare(&self, order: &PlaceOrder) -> Option<String> {
        identity::request(order)
    }

    fn place<'a>(&'a self, order: &'a PlaceOrder) -> BoxFuture<'a, Result<Placed, PaymentError>> {
        Box::pin(async move { self.place_now(order) })
    }

    fn query<'a>(
        &'a self,
        out_trade_no: &'a str,
    ) -> BoxFuture<'a, Result<TradeState, PaymentError>> {
        Box::pin(async move { self.query_now(out_trade_no) })
    }

    fn close<'a>(&'a self, out_trade_no: &'a str) -> BoxFuture<'a, Result<(), PaymentError>> {
        Box::pin(async move { self.close_now(out_trade_no) })
    }

    fn prepare_refund(&self, refund: &RefundOrder) -> Option<String> {
        Some(refunds::request(refund))
    }

    fn refund<'a>(
        &'a self,
        refund: &'a RefundOrder,
    ) -> BoxFuture<'a, Result<RefundProgress, PaymentError>> {
        Box::pin(async move { self.refund_now(refund) })
    }

    fn query_refund<'a>(
        &'a self,
        refund: &'a RefundOrder,
    ) -> BoxFuture<'a, Result<RefundProgress, PaymentError>> {
        Box::pin(async move { self.query_refund_now(&refund.out_refund_no) })
    }

    fn as_sandbox(&self) -> Option<&Sandbox> {
        Some(self)
    }
}

#[cfg(test)]
mod tests;

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
//! the order fields WeChat Pay refuses (`limits.rs`).

mod identity;
mod limits;
mod market;

pub use market::{SETTLEMENT_RATE, SandboxMarket};

use std::path::Path;
use std::sync::Mutex;

use rusqlite::{Connection, OptionalExtension, params};

use super::{
    BoxFuture, CurrencyRule, PaymentBackend, PaymentError, PlaceOrder, Placed, TradeState,
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

    fn as_sandbox(&self) -> Option<&Sandbox> {
        Some(self)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn order(no: &str, total: i64) -> PlaceOrder {
        PlaceOrder {
            out_trade_no: no.into(),
            description: "Latte x2".into(),
            amount: Money::cny(total),
            attach: None,
            goods_tag: None,
            time_expire: "2026-11-26T12:10:00+08:00".into(),
            request: None,
        }
    }

    fn block<T>(f: BoxFuture<'_, T>) -> T {
        tokio::runtime::Builder::new_current_thread()
            .build()
            .unwrap()
            .block_on(f)
    }

    #[test]
    fn code_url_has_the_native_shape() {
        let url = new_code_url();
        let pr = url.strip_prefix(CODE_URL_PREFIX).unwrap();
        assert_eq!(pr.len(), 7);
        assert!(pr.bytes().all(|b| b.is_ascii_alphanumeric()));
        assert_ne!(new_code_url(), url, "random");
    }

    #[test]
    fn order_lifecycle() {
        let s = Sandbox::in_memory();
        let first = block(s.place(&order("T1000001", 3200))).unwrap();
        assert_eq!(block(s.query("T1000001")).unwrap(), TradeState::NotPay);
        // Identical re-entry: a new code_url replaces the old one.
        let again = block(s.place(&order("T1000001", 3200))).unwrap();
        assert_ne!(again, first);
        assert_eq!(s.current_code_url("T1000001").unwrap(), again.code_url);
        // Different content under the same number is refused.
        let e = block(s.place(&order("T1000001", 3300))).unwrap_err();
        assert!(matches!(e, PaymentError::Rejected { ref code, .. } if code == "INVALID_REQUEST"));

        let paid = s.pay("T1000001").unwrap();
        assert_eq!(paid.total, Money::cny(3200));
        assert!(paid.transaction_id.starts_with("42000") && paid.transaction_id.len() == 28);
        assert_eq!(block(s.query("T1000001")).unwrap(), TradeState::Paid(paid));
        assert_eq!(
            block(s.close("T1000001")).unwrap_err(),
            PaymentError::OrderPaid("T1000001".into())
        );
        assert!(matches!(
            s.pay("T1000001"),
            Err(SandboxError::NotPayable { .. })
        ));

        // Re-placing a paid order says so (the job then queries and reports the payment).
        assert_eq!(
            block(s.place(&order("T1000001", 3200))).unwrap_err(),
            PaymentError::OrderPaid("T1000001".into())
        );
    }

    #[test]
    fn close_is_reentrant_and_final() {
        let s = Sandbox::in_memory();
        block(s.place(&order("T2000002", 1))).unwrap();
        block(s.close("T2000002")).unwrap();
        block(s.close("T2000002")).unwrap();
        assert_eq!(block(s.query("T2000002")).unwrap(), TradeState::Closed);
        assert_eq!(
            block(s.place(&order("T2000002", 1))).unwrap_err(),
            PaymentError::OrderClosed("T2000002".into()),
            "a closed order cannot be placed again"
        );
        assert!(matches!(
            s.pay("T2000002"),
            Err(SandboxError::NotPayable { .. })
        ));
        assert_eq!(
            block(s.query("T9999999")).unwrap_err(),
            PaymentError::OrderNotFound("T9999999".into())
        );
        assert_eq!(
            s.pay("T9999999"),
            Err(SandboxError::NotFound("T9999999".into()))
        );
    }

    #[test]
    fn an_order_stored_by_an_older_wxprint_is_the_same_order() {
        let s = Sandbox::in_memory();
        let old = identity::legacy(&order("T4000004", 3200));
        s.conn()
            .execute(
                "INSERT INTO sandbox_orders (out_trade_no, request, code_url, trade_state, total, currency)
                 VALUES ('T4000004', ?1, 'weixin://wxpay/bizpayurl?pr=0ld0ld0', 'NOTPAY', 3200, 'CNY')",
                [&old],
            )
            .unwrap();
        // The job resumed after the upgrade places its order again: the same order.
        let again = block(s.place(&order("T4000004", 3200))).unwrap();
        assert_eq!(s.current_code_url("T4000004"), Some(again.code_url));
        let e = block(s.place(&order("T4000004", 3300))).unwrap_err();
        assert!(matches!(e, PaymentError::Rejected { ref code, .. } if code == "INVALID_REQUEST"));
        assert_eq!(s.pay("T4000004").unwrap().total, Money::cny(3200));
    }

    #[test]
    fn a_pinned_request_is_the_orders_identity() {
        let s = Sandbox::in_memory();
        let mut pinned = order("T5000005", 3200);
        pinned.request = s.prepare(&pinned);
        assert!(
            pinned
                .request
                .as_deref()
                .unwrap()
                .contains(r#""total":3200"#)
        );
        block(s.place(&pinned)).unwrap();
        let stored: String = s
            .conn()
            .query_row("SELECT request FROM sandbox_orders", [], |r| r.get(0))
            .unwrap();
        assert_eq!(
            Some(stored),
            pinned.request,
            "stored as pinned, not as Debug text"
        );
        // A job journaled before the sandbox pinned anything places the same order.
        block(s.place(&order("T5000005", 3200))).unwrap();
        let mut other = order("T5000005", 3200);
        other.request = Some(r#"{"other":true}"#.into());
        assert!(
            block(s.place(&other)).is_err(),
            "another request, another order"
        );
    }

    #[test]
    fn orders_survive_a_restart() {
        let dir = tempfile::tempdir().unwrap();
        let url = {
            let s = Sandbox::open(dir.path()).unwrap();
            block(s.place(&order("T3000003", 500))).unwrap().code_url
        };
        let s = Sandbox::open(dir.path()).unwrap();
        assert_eq!(s.current_code_url("T3000003"), Some(url));
        s.pay("T3000003").unwrap();
    }
}

//! The sandbox's refunds, with WeChat Pay's rules where a POS can tell: only a paid order
//! is refunded, the refunds of an order never exceed what was paid, one `out_refund_no` is
//! at most one refund (asked again with the same request it answers the refund's progress,
//! with another request it is refused), and a refund is answered `PROCESSING` when asked
//! for and `SUCCESS` when queried. They live in `sandbox_refunds` beside the orders.
//!
//! Knows the sandbox's store and the [`RefundOrder`]; nothing of the jobs or the journal.

use rusqlite::{Connection, OptionalExtension, params};
use serde_json::json;

use super::{Sandbox, transient};
use crate::clock;
use crate::money::{Currency, Money};
use crate::payment::{PaymentError, RefundDone, RefundOrder, RefundProgress};

/// The refunds table, created with the orders'.
pub(super) const TABLE: &str = "CREATE TABLE IF NOT EXISTS sandbox_refunds (
    out_refund_no TEXT PRIMARY KEY,
    out_trade_no  TEXT NOT NULL,
    request       TEXT NOT NULL,
    refund        INTEGER NOT NULL,
    currency      TEXT NOT NULL,
    refund_id     TEXT NOT NULL,
    status        TEXT NOT NULL,
    success_time  TEXT
);";

/// The canonical request of a refund: what "the same refund" means.
pub(super) fn request(refund: &RefundOrder) -> String {
    json!({
        "out_trade_no": refund.out_trade_no,
        "out_refund_no": refund.out_refund_no,
        "reason": refund.reason,
        "amount": {"refund": refund.refund.minor(), "total": refund.total.minor(),
                   "currency": refund.refund.currency().code()},
    })
    .to_string()
}

fn invalid(message: String) -> PaymentError {
    PaymentError::Rejected {
        code: "INVALID_REQUEST".into(),
        message,
        request_id: None,
    }
}

impl Sandbox {
    /// Apply for a refund, or answer the progress of the identical one.
    pub(super) fn refund_now(&self, refund: &RefundOrder) -> Result<RefundProgress, PaymentError> {
        let body = refund.request.clone().unwrap_or_else(|| request(refund));
        let conn = self.conn();
        let known: Option<String> = conn
            .query_row(
                "SELECT request FROM sandbox_refunds WHERE out_refund_no = ?1",
                [&refund.out_refund_no],
                |r| r.get(0),
            )
            .optional()
            .map_err(transient)?;
        match known {
            Some(stored) if stored == body => {}
            Some(_) => {
                return Err(invalid(format!(
                    "refund {} was asked for with other parameters; use a new out_refund_no",
                    refund.out_refund_no
                )));
            }
            None => self.insert_refund(&conn, refund, &body)?,
        }
        let id = refund_id(&conn, &refund.out_refund_no)?;
        Ok(RefundProgress::Processing { refund_id: id })
    }

    fn insert_refund(
        &self,
        conn: &Connection,
        refund: &RefundOrder,
        body: &str,
    ) -> Result<(), PaymentError> {
        let no = &refund.out_trade_no;
        let order: Option<(String, i64)> = conn
            .query_row(
                "SELECT trade_state, total FROM sandbox_orders WHERE out_trade_no = ?1",
                [no],
                |r| Ok((r.get(0)?, r.get(1)?)),
            )
            .optional()
            .map_err(transient)?;
        let total = match order {
            Some((state, total)) if state == "SUCCESS" => total,
            _ => {
                return Err(PaymentError::Rejected {
                    code: "RESOURCE_NOT_EXISTS".into(),
                    message: format!("order {no} does not exist or is not paid"),
                    request_id: None,
                });
            }
        };
        let refunded: i64 = conn
            .query_row(
                "SELECT COALESCE(SUM(refund), 0) FROM sandbox_refunds
                 WHERE out_trade_no = ?1 AND status <> 'CLOSED'",
                [no],
                |r| r.get(0),
            )
            .map_err(transient)?;
        if refunded + refund.refund.minor() > total {
            return Err(invalid(format!(
                "refund of {} exceeds what is left of order {no} ({} of {total} refunded)",
                refund.refund.minor(),
                refunded
            )));
        }
        // WeChat Pay's refund ids are 29 digits starting with 50.
        let digits: String = (0..27)
            .map(|_| char::from(b'0' + fastrand::u8(0..10)))
            .collect();
        conn.execute(
            "INSERT INTO sandbox_refunds
             (out_refund_no, out_trade_no, request, refund, currency, refund_id, status)
             VALUES (?1, ?2, ?3, ?4, ?5, ?6, 'PROCESSING')",
            params![
                refund.out_refund_no,
                no,
                body,
                refund.refund.minor(),
                refund.refund.currency().code(),
                format!("50{digits}")
            ],
        )
        .map_err(transient)?;
        Ok(())
    }

    /// Where a refund stands; a processing one finishes when it is first queried.
    pub(super) fn query_refund_now(
        &self,
        out_refund_no: &str,
    ) -> Result<RefundProgress, PaymentError> {
        let conn = self.conn();
        let now = clock::rfc3339(clock::now_ms());
        conn.execute(
            "UPDATE sandbox_refunds SET status = 'SUCCESS', success_time = ?2
             WHERE out_refund_no = ?1 AND status = 'PROCESSING'",
            params![out_refund_no, now],
        )
        .map_err(transient)?;
        type Row = (i64, String, String, String, Option<String>);
        let row: Option<Row> = conn
            .query_row(
                "SELECT refund, currency, refund_id, status, success_time
                 FROM sandbox_refunds WHERE out_refund_no = ?1",
                [out_refund_no],
                |r| Ok((r.get(0)?, r.get(1)?, r.get(2)?, r.get(3)?, r.get(4)?)),
            )
            .optional()
            .map_err(transient)?;
        let Some((minor, currency, refund_id, status, success_time)) = row else {
            return Err(PaymentError::OrderNotFound(out_refund_no.to_owned()));
        };
        let refund = Money::new(minor, Currency::new(currency));
        Ok(match status.as_str() {
            "SUCCESS" => RefundProgress::Refunded(RefundDone {
                refund_id,
                success_time: success_time.unwrap_or_default(),
                payer_refund: self.payer_amount(&refund),
                refund,
            }),
            "CLOSED" => RefundProgress::Closed,
            _ => RefundProgress::Processing {
                refund_id: Some(refund_id),
            },
        })
    }

    /// What the customer gets back: the refund, converted to CNY on a Global market.
    fn payer_amount(&self, refund: &Money) -> Money {
        self.market
            .payment(String::new(), String::new(), refund.clone())
            .payer_total
    }
}

fn refund_id(conn: &Connection, out_refund_no: &str) -> Result<Option<String>, PaymentError> {
    conn.query_row(
        "SELECT refund_id FROM sandbox_refunds WHERE out_refund_no = ?1",
        [out_refund_no],
        |r| r.get(0),
    )
    .optional()
    .map_err(transient)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::payment::PaymentBackend;
    use crate::payment::PlaceOrder;

    fn refund(no: &str, amount: i64) -> RefundOrder {
        RefundOrder {
            out_trade_no: "T0000001".into(),
            out_refund_no: no.into(),
            refund: Money::cny(amount),
            total: Money::cny(3200),
            reason: None,
            request: None,
        }
    }

    fn paid_sandbox() -> Sandbox {
        let sandbox = Sandbox::in_memory();
        let order = PlaceOrder {
            out_trade_no: "T0000001".into(),
            description: "Latte".into(),
            amount: Money::cny(3200),
            attach: None,
            goods_tag: None,
            time_expire: "2026-11-26T12:10:00+08:00".into(),
            request: None,
        };
        sandbox.place_now(&order).unwrap();
        sandbox.pay("T0000001").unwrap();
        sandbox
    }

    #[test]
    fn refunds_follow_wechat_pays_rules() {
        let unpaid = Sandbox::in_memory();
        assert!(matches!(
            unpaid.refund_now(&refund("R1", 100)),
            Err(PaymentError::Rejected { code, .. }) if code == "RESOURCE_NOT_EXISTS"
        ));
        let s = paid_sandbox();
        let first = s.refund_now(&refund("R1", 3000)).unwrap();
        assert!(matches!(
            first,
            RefundProgress::Processing { refund_id: Some(_) }
        ));
        assert_eq!(
            s.refund_now(&refund("R1", 3000)).unwrap(),
            first,
            "same number, same refund"
        );
        assert!(
            s.refund_now(&refund("R1", 100)).is_err(),
            "same number, other amount"
        );
        assert!(
            s.refund_now(&refund("R2", 201)).is_err(),
            "more than is left"
        );
        let RefundProgress::Refunded(done) = s.query_refund_now("R1").unwrap() else {
            panic!("a queried refund finishes");
        };
        assert_eq!(
            (done.refund.minor(), done.payer_refund.minor()),
            (3000, 3000)
        );
        assert!(s.prepare_refund(&refund("R2", 200)).is_some());
        assert!(s.refund_now(&refund("R2", 200)).is_ok());
    }
}

//! [`RefundRecord`]: one refund of a paid order as the journal stores it (the `refunds`
//! table of schema 4), and the [`Journal`]'s calls for it: insert (durable before the first
//! call to the payment backend), update, get, an order's refunds, the unfinished ones.
//!
//! Plain data and its spelling on disk (the journal's own spellings of refund states,
//! fixed here like `codec.rs`'s); the rules — what may be refunded, when a refund changes —
//! are the `jobs` module's.

use rusqlite::{OptionalExtension, Row, params};

use super::codec::{decode_error, encode_error};
use super::{Journal, JournalError};
use crate::money::{Currency, Money};
use crate::protocol::{ErrorBody, RefundState};

/// One refund, as stored.
#[derive(Debug, Clone, PartialEq)]
pub struct RefundRecord {
    /// The refund's number, its key.
    pub out_refund_no: String,
    /// The paid order it refunds.
    pub out_trade_no: String,
    /// Its place among the order's refunds, from 1.
    pub seq: i64,
    /// Whether the POS named it (else the daemon numbered it `<out_trade_no>-R<n>`).
    pub named: bool,
    /// Canonical JSON of what the POS asked (amount and reason): "the same refund".
    pub request: String,
    /// How much goes back, in the order's currency.
    pub amount: Money,
    /// Shown to the customer; `None` when the POS gave none.
    pub reason: Option<String>,
    /// The payment backend's exact request, pinned before the first call.
    pub body: Option<String>,
    /// Where it stands.
    pub state: RefundState,
    /// WeChat Pay's refund number, once known.
    pub refund_id: Option<String>,
    /// When the money went back, once refunded.
    pub success_time: Option<String>,
    /// What the customer got back, once refunded (minor unit of `payer_currency`).
    pub payer_refund: Option<i64>,
    /// The currency of `payer_refund`, once refunded.
    pub payer_currency: Option<Currency>,
    /// Why it failed, once failed or abnormal.
    pub error: Option<ErrorBody>,
    /// When it was asked for, in milliseconds since the Unix epoch.
    pub created_ms: i64,
    /// When it last changed, in milliseconds since the Unix epoch.
    pub updated_ms: i64,
}

fn state_name(state: RefundState) -> &'static str {
    match state {
        RefundState::Processing => "processing",
        RefundState::Refunded => "refunded",
        RefundState::Failed => "failed",
        RefundState::Abnormal => "abnormal",
    }
}

fn parse_state(text: &str) -> Option<RefundState> {
    [
        RefundState::Processing,
        RefundState::Refunded,
        RefundState::Failed,
        RefundState::Abnormal,
    ]
    .into_iter()
    .find(|s| state_name(*s) == text)
}

type Read = Result<RefundRecord, (String, String)>;

fn read_row(r: &Row<'_>) -> rusqlite::Result<Read> {
    let no: String = r.get("out_refund_no")?;
    let state: String = r.get("state")?;
    let Some(state) = parse_state(&state) else {
        return Ok(Err((no, format!("refund state {state:?}"))));
    };
    let error = match r.get::<_, Option<String>>("error")? {
        None => None,
        Some(text) => match decode_error(&text) {
            Ok(e) => Some(e),
            Err(why) => return Ok(Err((no, format!("refund error {why}")))),
        },
    };
    let currency = Currency::new(r.get::<_, String>("currency")?);
    Ok(Ok(RefundRecord {
        out_refund_no: no,
        out_trade_no: r.get("out_trade_no")?,
        seq: r.get("seq")?,
        named: r.get("named")?,
        request: r.get("request")?,
        amount: Money::new(r.get("amount")?, currency),
        reason: r.get("reason")?,
        body: r.get("body")?,
        state,
        refund_id: r.get("refund_id")?,
        success_time: r.get("success_time")?,
        payer_refund: r.get("payer_refund")?,
        payer_currency: r
            .get::<_, Option<String>>("payer_currency")?
            .map(Currency::new),
        error,
        created_ms: r.get("created_ms")?,
        updated_ms: r.get("updated_ms")?,
    }))
}

impl Journal {
    /// Store a new refund, durable when this returns. Fails if the number is stored.
    pub fn insert_refund(&mut self, r: &RefundRecord) -> Result<(), JournalError> {
        self.write_refund("INSERT", r)
    }

    /// Replace a refund's record with `r`, durable when this returns.
    pub fn update_refund(&mut self, r: &RefundRecord) -> Result<(), JournalError> {
        self.write_refund("INSERT OR REPLACE", r)
    }

    fn write_refund(&mut self, verb: &str, r: &RefundRecord) -> Result<(), JournalError> {
        let sql = format!(
            "{verb} INTO refunds (out_refund_no, out_trade_no, seq, named, request, amount,
             currency, reason, body, state, refund_id, success_time, payer_refund,
             payer_currency, error, created_ms, updated_ms)
             VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10, ?11, ?12, ?13, ?14, ?15, ?16, ?17)"
        );
        let error = r.error.as_ref().map(encode_error);
        self.conn
            .execute(
                &sql,
                params![
                    r.out_refund_no,
                    r.out_trade_no,
                    r.seq,
                    r.named,
                    r.request,
                    r.amount.minor(),
                    r.amount.currency().code(),
                    r.reason,
                    r.body,
                    state_name(r.state),
                    r.refund_id,
                    r.success_time,
                    r.payer_refund,
                    r.payer_currency.as_ref().map(Currency::code),
                    error,
                    r.created_ms,
                    r.updated_ms
                ],
            )
            .map(drop)
            .map_err(|e| self.err(e))
    }

    /// The refund stored under `out_refund_no`.
    pub fn get_refund(&self, out_refund_no: &str) -> Result<Option<RefundRecord>, JournalError> {
        let row = self
            .conn
            .prepare_cached("SELECT * FROM refunds WHERE out_refund_no = ?1")
            .and_then(|mut s| s.query_row([out_refund_no], read_row).optional())
            .map_err(|e| self.err(e))?;
        row.map(|r| self.checked_refund(r)).transpose()
    }

    /// The refunds of order `out_trade_no`, oldest first.
    pub fn refunds_of(&self, out_trade_no: &str) -> Result<Vec<RefundRecord>, JournalError> {
        self.refunds_where("out_trade_no = ?1 ORDER BY seq", out_trade_no)
    }

    /// Every refund still processing, oldest first.
    pub fn unfinished_refunds(&self) -> Result<Vec<RefundRecord>, JournalError> {
        let processing = state_name(RefundState::Processing);
        self.refunds_where("state = ?1 ORDER BY created_ms", processing)
    }

    fn refunds_where(&self, filter: &str, arg: &str) -> Result<Vec<RefundRecord>, JournalError> {
        let rows = self
            .conn
            .prepare_cached(&format!("SELECT * FROM refunds WHERE {filter}"))
            .and_then(|mut s| s.query_map([arg], read_row)?.collect::<Result<Vec<_>, _>>())
            .map_err(|e| self.err(e))?;
        rows.into_iter().map(|r| self.checked_refund(r)).collect()
    }

    fn checked_refund(&self, row: Read) -> Result<RefundRecord, JournalError> {
        row.map_err(|(no, what)| JournalError::Corrupt {
            path: self.path.clone(),
            out_trade_no: no,
            what,
        })
    }
}

#[cfg(test)]
mod tests {
    use rusqlite::Connection;

    use super::super::{FILE_NAME, schema};
    use super::*;
    use crate::protocol::ErrorCode;

    fn refund(no: &str, seq: i64) -> RefundRecord {
        RefundRecord {
            out_refund_no: no.into(),
            out_trade_no: "T0000001".into(),
            seq,
            named: false,
            request: r#"{"amount":100}"#.into(),
            amount: Money::cny(100),
            reason: Some("退货".into()),
            body: Some("{}".into()),
            state: RefundState::Processing,
            refund_id: None,
            success_time: None,
            payer_refund: None,
            payer_currency: None,
            error: None,
            created_ms: seq,
            updated_ms: seq,
        }
    }

    #[test]
    fn a_version_2_journal_gains_refunds_and_keeps_its_jobs() {
        let dir = tempfile::tempdir().unwrap();
        {
            let conn = Connection::open(dir.path().join(FILE_NAME)).unwrap();
            schema::create_v2(&conn).unwrap();
        }
        let mut j = Journal::open(dir.path()).unwrap();
        assert_eq!(schema::version(&j.conn).unwrap(), schema::SCHEMA_VERSION);
        let (mut a, b) = (refund("T0000001-R1", 1), refund("T0000001-R2", 2));
        j.insert_refund(&b).unwrap();
        j.insert_refund(&a).unwrap();
        assert!(j.insert_refund(&a).is_err(), "a number is stored once");
        a.state = RefundState::Failed;
        a.error = Some(ErrorBody::new(ErrorCode::Wechatpay, "closed"));
        j.update_refund(&a).unwrap();
        drop(j);
        let j = Journal::open(dir.path()).unwrap();
        assert_eq!(j.refunds_of("T0000001").unwrap(), [a.clone(), b.clone()]);
        assert_eq!(j.unfinished_refunds().unwrap(), [b]);
        assert_eq!(j.get_refund("T0000001-R1").unwrap(), Some(a));
        assert_eq!(j.get_refund("nope").unwrap(), None);
    }
}

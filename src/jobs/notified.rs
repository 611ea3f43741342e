//! A verified transaction answer that arrived on its own — a WeChat Pay payment
//! notification — for job N: the same settle path as a query answer (`polling.rs`'s
//! [`finish_paid`]: journal first, then `paid` once), and the job's polling stops.
//!
//! Only the job's side: the notification's HTTP, signature and decryption are
//! `crate::notify`'s and `crate::wechatpay`'s. Money rules kept here: only an order this
//! daemon journaled counts (never a test order), a paid job never changes again, and a
//! repeated notification changes nothing.

use tracing::info;

use super::Jobs;
use super::polling::finish_paid;
use crate::payment::TradeState;
use crate::protocol::JobState;

/// What a notification did.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Notified {
    /// The job was open and is now paid (journaled, `paid` sent).
    Paid,
    /// Nothing changed: the job is already over (a repeat), or the answer settles nothing.
    Unchanged,
}

/// Why a notification cannot be taken.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum NotifiedError {
    /// No order of this register has that number (or it is a `loopback` test order).
    #[error(
        "order {0:?} is not one of this register's orders: check that wechatpay.notify_url \
         leads only to this register"
    )]
    Unknown(String),
    /// The journal could not be read or written: ask WeChat Pay to send it again.
    #[error("the journal failed ({0}); the notification is to be sent again")]
    Journal(String),
}

impl Jobs {
    /// A verified answer `answer` about order `no` arrived (a payment notification): a paid
    /// open job is settled as a query would settle it, journal first; its task wakes and
    /// stops polling. `Ok` only once the outcome is in the journal.
    pub fn notified(&self, no: &str, answer: TradeState) -> Result<Notified, NotifiedError> {
        let journal_failed =
            |e: crate::journal::JournalError| NotifiedError::Journal(e.to_string());
        let wake = {
            let state = self.shared.lock();
            match state.active.get(no) {
                Some(active) if !active.record.loopback => active.wake.clone(),
                Some(_) => return Err(NotifiedError::Unknown(no.to_owned())),
                None => {
                    return match state.journal.get(no).map_err(journal_failed)? {
                        Some(record) if !record.loopback => Ok(Notified::Unchanged),
                        _ => Err(NotifiedError::Unknown(no.to_owned())),
                    };
                }
            }
        };
        let TradeState::Paid(payment) = answer else {
            return Ok(Notified::Unchanged);
        };
        info!(out_trade_no = no, "payment notification");
        finish_paid(&self.shared, no, payment);
        wake.notify_one();
        let state = self.shared.lock();
        match state.journal.get(no).map_err(journal_failed)? {
            Some(record) if record.state == JobState::Paid => Ok(Notified::Paid),
            _ => Err(NotifiedError::Journal(format!(
                "order {no} is reported paid but its record was not written"
            ))),
        }
    }
}

//! Polling a placed order until it is paid or closed, and closing it on expiry or cancel —
//! never younger than `close_min_age`, and with a query on either side of the close, so
//! that a payment racing the close is reported as paid.
//!
//! [`Poller`]'s schedule, close timing, back-off and lane are the loop's arithmetic, and
//! `close.rs`'s [`outcome`] reads a query around a close; those are pure.
//! [`Poller::apply`] commits what a query said (through the journal), [`poll`] and
//! `close.rs`'s [`close`] do the rest of the I/O. Every query waits for its turn in the
//! shared query budget (`budget.rs`): a job knows its own lane, not the others.

mod close;
#[cfg(test)]
mod tests;

use std::time::Duration;

use tokio::sync::Notify;
use tokio::time::Instant;
use tracing::warn;

use super::budget::Lane;
use super::config::JobsConfig;
use super::config::PollSchedule;
use super::delays::{Delays, delay_error, last_error};
use super::printing::{Printing, print_attempt};
use super::state::Shared;
use super::task::backoff;
use super::transitions;
use crate::clock;
use crate::journal::JobRecord;
use crate::payment::{PaymentError, TradeState};
use crate::protocol::JobState;

use close::{Closing, close};
#[cfg(test)]
use close::{Outcome, outcome};
pub(crate) use close::{finish_closed, finish_paid};

/// The poll loop's arithmetic. Pure: the loop passes the time.
pub(crate) struct Poller {
    schedule: PollSchedule,
    close_min_age: i64,
    /// The latest placement attempt: the order may exist at WeChat Pay from then on.
    last_attempt_ms: i64,
    /// Rate-limit answers in a row (back off: WeChat Pay asks for it). Other failed queries
    /// keep the schedule: the client already retried them, and an answer that did not
    /// verify is simply asked again.
    rate_limited: u32,
    /// Failed closes in a row (back off).
    failed_closes: u32,
    /// Failed queries, and when the POS last heard of them.
    delays: Delays,
}

impl Poller {
    pub(crate) fn new(config: &JobsConfig, last_attempt_ms: i64) -> Poller {
        Poller {
            schedule: config.poll,
            close_min_age: clock::ms(config.close_min_age),
            last_attempt_ms,
            rate_limited: 0,
            failed_closes: 0,
            // Polling never gives up on a placed order: no deadline.
            delays: Delays::new(Instant::now(), Duration::MAX),
        }
    }

    /// When the order may be closed. WeChat Pay's rule: never close an order younger than
    /// `close_min_age`, counted from the latest moment it may have been created.
    pub(crate) fn close_at(&self, record: &JobRecord) -> i64 {
        // One millisecond more: both instants are whole milliseconds (truncated), so the
        // real age at `close_at` is then never below `close_min_age`.
        record
            .placed_ms
            .unwrap_or(self.last_attempt_ms)
            .max(self.last_attempt_ms)
            + self.close_min_age
            + 1
    }

    /// Whether the order is to be closed at `now_ms`: it is cancelled or expired.
    fn wants_close(record: &JobRecord, now_ms: i64) -> bool {
        record.state == JobState::Cancelling || now_ms >= record.expire_ms
    }

    /// Whether to close the order at `now_ms`: wanted, and old enough.
    pub(crate) fn close_now(&self, record: &JobRecord, now_ms: i64) -> bool {
        Self::wants_close(record, now_ms) && now_ms >= self.close_at(record)
    }

    /// The pause before the next query of a job in `state`, `elapsed` after polling began:
    /// `paying` while the customer confirms, `fast` in the fast window, then `slow`; longer
    /// while the backend rate-limits us.
    pub(crate) fn next_wait(&self, state: JobState, elapsed: Duration) -> Duration {
        let wait = if state == JobState::UserPaying {
            self.schedule.paying
        } else if elapsed < self.schedule.fast_window {
            self.schedule.fast
        } else {
            self.schedule.slow
        };
        if self.rate_limited > 0 {
            wait.max(backoff(self.rate_limited))
        } else {
            wait
        }
    }

    /// How long to sleep at `now_ms` before the next query due after `wait`: cut short at
    /// the deadline (the close falling due, else `time_expire`), which is then returned too.
    pub(crate) fn pause(
        &self,
        record: &JobRecord,
        now_ms: i64,
        wait: Duration,
    ) -> (Duration, Option<i64>) {
        let due = if Self::wants_close(record, now_ms) {
            self.close_at(record)
        } else {
            record.expire_ms
        };
        let until_due = Duration::from_millis(u64::try_from(due - now_ms).unwrap_or(0));
        if until_due <= wait {
            (until_due, Some(due))
        } else {
            (wait, None)
        }
    }

    /// How long ago the order may have been placed (the schedule's clock): from the
    /// latest placement, so that a job resumed after a restart is as old as its order.
    pub(crate) fn age(&self, record: &JobRecord, now_ms: i64) -> Duration {
        let placed = record.placed_ms.unwrap_or(self.last_attempt_ms);
        Duration::from_millis(u64::try_from(now_ms - placed).unwrap_or(0))
    }

    /// Which line of the query budget the job's next query waits in: urgent while a
    /// customer may be at the counter (the fast window), paying, or the order is being
    /// cancelled; in turn with the other old orders after that.
    pub(crate) fn lane(&self, record: &JobRecord, now_ms: i64) -> Lane {
        let urgent = matches!(record.state, JobState::UserPaying | JobState::Cancelling)
            || self.age(record, now_ms) < self.schedule.fast_window;
        if urgent {
            Lane::Urgent
        } else {
            Lane::Background
        }
    }

    /// The pause before the first query of a job whose polling begins at `age`: an order
    /// past its fast window was resumed after a restart, and so were all the others; its
    /// first query falls at `fraction` (in 0..1, random) of `wait`, so that they spread
    /// out instead of all asking at once.
    pub(crate) fn first_wait(&self, wait: Duration, age: Duration, fraction: f64) -> Duration {
        if age < self.schedule.fast_window {
            wait
        } else {
            wait.mul_f64(fraction.clamp(0.0, 1.0))
        }
    }

    /// A close did not settle the order: the pause before the next attempt.
    pub(crate) fn close_failed(&mut self) -> Duration {
        let pause = backoff(self.failed_closes);
        self.failed_closes += 1;
        pause
    }

    /// Act on the answer to a query of `record`'s order; `true` when the job is over.
    fn apply(
        &mut self,
        shared: &Shared,
        record: &JobRecord,
        answer: Result<TradeState, PaymentError>,
    ) -> bool {
        let no = record.out_trade_no.as_str();
        match answer {
            Ok(TradeState::Paid(payment)) => {
                finish_paid(shared, no, payment);
                return true;
            }
            Ok(TradeState::Closed) => {
                finish_closed(shared, no, None);
                return true;
            }
            Ok(TradeState::UserPaying) => {
                self.rate_limited = 0;
                shared.transition(no, transitions::user_paying);
            }
            Ok(TradeState::NotPay) => {
                self.rate_limited = 0;
                if record.state == JobState::UserPaying {
                    shared.transition(no, transitions::not_paying);
                }
            }
            Err(e) => {
                if e == PaymentError::RateLimited {
                    warn!(
                        out_trade_no = no,
                        "rate limited by the payment backend; slowing down"
                    );
                    self.rate_limited += 1;
                } else {
                    warn!(out_trade_no = no, error = %e, "query failed; will query again");
                }
                self.tell(shared, record, &e);
                return false;
            }
        }
        shared.recovered(no, false);
        false
    }

    /// A query failed: keep it for `status`, and tell the POS (at most every few seconds).
    fn tell(&mut self, shared: &Shared, record: &JobRecord, e: &PaymentError) {
        let retry_in = self.next_wait(record.state, Duration::ZERO);
        let job = (record.out_trade_no.as_str(), record.state);
        if let Some((reason, event)) = self.delays.failed(e, Instant::now(), retry_in, job) {
            let error = self.delays.latest.clone().unwrap_or_else(|| delay_error(e));
            shared.delayed(&record.out_trade_no, last_error(reason, error), event);
        }
    }
}

/// Poll until the order is paid or closed; close it on expiry or cancel, when allowed.
/// Each query waits for its turn in the shared query budget.
pub(crate) async fn poll(
    shared: &Shared,
    no: &str,
    wake: &Notify,
    last_attempt_ms: i64,
    printing: &mut Printing,
) -> Option<()> {
    let mut poller = Poller::new(&shared.config, last_attempt_ms);
    let mut first = true;
    loop {
        let record = shared.record(no)?;
        let now = clock::now_ms();
        if poller.close_now(&record, now) {
            match shared.or_stop(Box::pin(close(shared, &record))).await? {
                Closing::Settled => return Some(()),
                Closing::Retry => {
                    shared.sleep(poller.close_failed(), wake).await?;
                    continue;
                }
            }
        }

        // Sleep until the next query, or until the close becomes due.
        let age = poller.age(&record, now);
        let mut wait = poller.next_wait(record.state, age);
        if std::mem::take(&mut first) {
            wait = poller.first_wait(wait, age, fastrand::f64());
        }
        // A receipt waiting for the printer is tried again on its own schedule.
        if let Some(print_in) = printing.wait(&record) {
            if print_in.is_zero() {
                Box::pin(print_attempt(shared, no, printing)).await;
                continue;
            }
            wait = wait.min(print_in);
        }
        let (pause, deadline) = poller.pause(&record, now, wait);
        // Not held while asleep: a thousand pending jobs spend their life here, and a record
        // with its strings is about 1 KB. The record is read again when the job wakes.
        drop(record);
        shared.sleep(pause, wake).await?;
        let Some(record) = shared.record(no) else {
            return Some(()); // settled meanwhile (a payment notification): polling stops
        };
        if deadline.is_some_and(|due| clock::now_ms() >= due) {
            continue; // time to close: the top of the loop does it
        }
        if record.state == JobState::Ordering && record.code_url.is_none() {
            continue; // nothing placed: nothing to query
        }

        let lane = poller.lane(&record, clock::now_ms());
        // Boxed while it waits, and the record not held: a wait for the budget is short,
        // but a thousand orders in their first minute all wait in it at once.
        drop(record);
        let permit = shared.or_stop(Box::pin(shared.queries.take(lane))).await?;
        let Some(record) = shared.record(no) else {
            return Some(()); // settled while waiting for the query budget
        };
        let answer = shared.or_stop(shared.backend_of(&record).query(no)).await?;
        if answer == Err(PaymentError::RateLimited) {
            permit.rate_limited();
        } else {
            drop(permit);
        }
        if poller.apply(shared, &record, answer) {
            return Some(());
        }
    }
}

//! Never silent: what the POS hears while a job waits for something that fails — a
//! `delayed` event at the first failed attempt and then at most every [`DELAYED_EVERY`],
//! the job's `last_error` for `status`, and the `wechatpay_unavailable` error that ends a
//! checkout WeChat Pay did not answer (verifiably) within `place_timeout`.
//!
//! [`Delays`] is the arithmetic (which failure, how many, whether to tell now, whether the
//! order may exist at WeChat Pay); pure but for the instants it is given. Knows the
//! payment errors and the wire's words; knows nothing of the lock or the backends.

use std::time::Duration;

use tokio::time::Instant;

use super::refusals::err;
use crate::clock;
use crate::payment::PaymentError;
use crate::protocol::{DelayReason, ErrorBody, ErrorCode, Event, JobState, LastError};

/// The least time between two `delayed` events of one job.
pub(crate) const DELAYED_EVERY: Duration = Duration::from_secs(5);

/// Why a failed call to the payment backend delays the job; `None` when the error is an
/// answer (a refusal, an order paid or closed), not a delay.
pub(crate) fn reason_of(e: &PaymentError) -> Option<DelayReason> {
    match e {
        PaymentError::Transient { .. } => Some(DelayReason::WechatpayUnreachable),
        PaymentError::Unverified { .. } => Some(DelayReason::UnverifiedAnswer),
        PaymentError::RateLimited => Some(DelayReason::RateLimited),
        _ => None,
    }
}

/// A failed call to the payment backend in the POS's words.
pub(crate) fn delay_error(e: &PaymentError) -> ErrorBody {
    let message = match e {
        PaymentError::Transient { message, .. } => format!(
            "WeChat Pay did not answer: {message}; check the register's network, DNS and \
             wechatpay.api_base"
        ),
        PaymentError::RateLimited => {
            "WeChat Pay asked wxprint to slow down (HTTP 429); it asks again later".to_owned()
        }
        e => e.to_string(),
    };
    let mut error = err(ErrorCode::Wechatpay, message);
    error.request_id = match e {
        PaymentError::Transient { request_id, .. }
        | PaymentError::Unverified { request_id, .. } => request_id.clone(),
        _ => None,
    };
    error
}

/// The failure of a job's latest attempt, stamped now.
pub(crate) fn last_error(reason: DelayReason, error: ErrorBody) -> LastError {
    LastError {
        reason,
        at: clock::rfc3339(clock::now_ms()),
        error,
    }
}

/// The error that ends a checkout without a verified answer from WeChat Pay within
/// `limit`; `latest` is the last failure, `background`: whether the order may exist at
/// WeChat Pay and is being closed.
pub(crate) fn unavailable(
    limit: Duration,
    latest: Option<&ErrorBody>,
    background: bool,
) -> ErrorBody {
    let last = latest.map_or_else(
        || " (the attempt in flight had no answer yet)".to_owned(),
        |e| format!(" (last: {})", e.message),
    );
    let after = if background {
        "; the order may exist at WeChat Pay: wxprint closes it in the background, or reports \
         it paid if it was"
    } else {
        ""
    };
    let mut error = err(
        ErrorCode::WechatpayUnavailable,
        format!(
            "no verified answer from WeChat Pay within {}{last}: no QR code was printed and \
             the customer cannot pay this order; take the payment another way or try again \
             with a new out_trade_no, and have the register's network and WeChat Pay keys \
             checked (`wxprint loopback --live`){after}",
            humantime::format_duration(limit)
        ),
    );
    // The last answer's Request-ID, for WeChat Pay's support.
    error.request_id = latest.and_then(|e| e.request_id.clone());
    error
}

/// The failed attempts of one step (the placement) and what the POS was told of them.
pub(crate) struct Delays {
    started: Instant,
    limit: Duration,
    attempts: u32,
    last_sent: Option<Instant>,
    /// Whether an attempt may have created the order at WeChat Pay (no answer, a server
    /// error, an answer that did not verify, or an attempt before a restart: a job resumed
    /// while `ordering` starts with it set): then the job is closed, never just dropped.
    pub(crate) maybe_placed: bool,
    /// The latest failure.
    pub(crate) latest: Option<ErrorBody>,
}

impl Delays {
    /// Attempts starting at `started`, given up after `limit` without an answer.
    pub(crate) fn new(started: Instant, limit: Duration) -> Delays {
        Delays {
            started,
            limit,
            attempts: 0,
            last_sent: None,
            maybe_placed: false,
            latest: None,
        }
    }

    /// When to give up waiting for an answer.
    pub(crate) fn deadline(&self) -> Instant {
        self.started + self.limit
    }

    /// The limit, for the message.
    pub(crate) fn limit(&self) -> Duration {
        self.limit
    }

    /// An attempt failed at `now` with `e`; the next is `retry_in` away. Returns the
    /// `delayed` event to send, if it is time to tell the POS again.
    pub(crate) fn failed(
        &mut self,
        e: &PaymentError,
        now: Instant,
        retry_in: Duration,
        (no, state): (&str, JobState),
    ) -> Option<(DelayReason, Option<Event>)> {
        let reason = reason_of(e)?;
        self.attempts += 1;
        self.maybe_placed |= !matches!(reason, DelayReason::RateLimited);
        let error = delay_error(e);
        self.latest = Some(error.clone());
        let due = self
            .last_sent
            .is_none_or(|at| now.saturating_duration_since(at) >= DELAYED_EVERY);
        if !due {
            return Some((reason, None));
        }
        self.last_sent = Some(now);
        let event = Event::Delayed {
            out_trade_no: no.to_owned(),
            state,
            reason,
            attempt: self.attempts,
            retry_in_ms: u64::try_from(retry_in.as_millis()).unwrap_or(u64::MAX),
            error: Some(error),
        };
        Some((reason, Some(event)))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn transient() -> PaymentError {
        PaymentError::Transient {
            message: "connection refused".into(),
            request_id: None,
        }
    }

    const JOB: (&str, JobState) = ("T0001", JobState::Ordering);

    #[test]
    fn the_first_failure_is_told_at_once_then_at_most_every_five_seconds() {
        let t0 = Instant::now();
        let mut d = Delays::new(t0, Duration::from_secs(30));
        let s = Duration::from_secs(1);
        let told = |r: Option<(DelayReason, Option<Event>)>| r.unwrap().1.is_some();
        assert!(
            told(d.failed(&transient(), t0, s, JOB)),
            "the first at once"
        );
        assert!(!told(d.failed(&transient(), t0 + 2 * s, s, JOB)));
        assert!(!told(d.failed(&transient(), t0 + 4 * s, s, JOB)));
        let (reason, event) = d.failed(&transient(), t0 + 5 * s, 2 * s, JOB).unwrap();
        assert_eq!(reason, DelayReason::WechatpayUnreachable);
        let Some(Event::Delayed {
            attempt,
            retry_in_ms,
            error: Some(error),
            ..
        }) = event
        else {
            panic!("a delayed event");
        };
        assert_eq!((attempt, retry_in_ms), (4, 2000));
        assert!(error.message.contains("connection refused"), "{error:?}");
        assert_eq!(d.deadline(), t0 + 30 * s);
    }

    #[test]
    fn only_an_attempt_that_may_have_reached_wechat_pay_may_have_placed_the_order() {
        let t0 = Instant::now();
        let mut d = Delays::new(t0, Duration::from_secs(30));
        d.failed(&PaymentError::RateLimited, t0, Duration::ZERO, JOB);
        assert!(!d.maybe_placed, "a 429 is not processed");
        let unverified = PaymentError::Unverified {
            message: "signature does not match".into(),
            request_id: Some("rid".into()),
        };
        let (reason, _) = d.failed(&unverified, t0, Duration::ZERO, JOB).unwrap();
        assert_eq!(reason, DelayReason::UnverifiedAnswer);
        assert!(d.maybe_placed, "WeChat Pay answered: the order exists");
        assert_eq!(
            d.latest.as_ref().unwrap().request_id.as_deref(),
            Some("rid")
        );
        let refused = PaymentError::OrderClosed("T0001".into());
        assert!(
            d.failed(&refused, t0, Duration::ZERO, JOB).is_none(),
            "an answer"
        );
    }

    #[test]
    fn the_final_error_says_what_to_do() {
        let latest = err(ErrorCode::Wechatpay, "signature does not match");
        let e = unavailable(Duration::from_secs(30), Some(&latest), true);
        assert_eq!(e.code, ErrorCode::WechatpayUnavailable);
        for part in [
            "30s",
            "signature does not match",
            "another way",
            "background",
        ] {
            assert!(e.message.contains(part), "{part}: {}", e.message);
        }
        let plain = unavailable(Duration::from_secs(30), None, false);
        assert!(!plain.message.contains("background"), "{}", plain.message);
    }
}

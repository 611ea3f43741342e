//! When the platform certificates may be downloaded: the rate-limit rule, as a pure state
//! machine over the instants it is given (the caller does the downloading).
//!
//! - Every [`REFRESH_EVERY`] (6 h, inside the < 12 h WeChat Pay asks for), and at the first
//!   answer: a download before the answer is verified.
//! - An answer signed by a serial the verifier does not know: a download **at once**, however
//!   recent the last one — a rotated certificate is used by its first answer. Only repeats of
//!   the *same* unknown serial are held: after a download that still lacks it, that serial
//!   brings no other download for [`SAME_SERIAL_HOLD`]. At most [`MAX_HELD_SERIALS`] serials
//!   are held at a time; a further unknown serial waits until one is released, so a flood of
//!   made-up serials cannot become a flood of downloads.
//! - After a failed download, nothing for [`FAILURE_HOLD`]; after WeChat Pay said the
//!   merchant has no certificates, nothing for [`NO_CERTIFICATES_HOLD`].
//!
//! Knows nothing of HTTP, the verifier or the certificates themselves.

use std::time::{Duration, Instant};

/// How often the platform certificates are downloaded again.
pub(super) const REFRESH_EVERY: Duration = Duration::from_secs(6 * 3600);
/// How long an unknown serial that a download did not bring is not downloaded for again.
pub(super) const SAME_SERIAL_HOLD: Duration = Duration::from_secs(60);
/// How many unknown serials are held at most.
pub(super) const MAX_HELD_SERIALS: usize = 16;
/// No download for this long after a failed one.
pub(super) const FAILURE_HOLD: Duration = Duration::from_secs(2);
/// No download for this long after WeChat Pay said the merchant has no certificates.
pub(super) const NO_CERTIFICATES_HOLD: Duration = Duration::from_secs(3600);

/// How a download ended.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(super) enum Outcome {
    /// The certificates were downloaded, checked and handed to the verifier.
    Loaded,
    /// WeChat Pay said this merchant has no platform certificates.
    NoCertificates,
    /// Anything else: no answer, an error answer, an answer that did not check.
    Failed,
}

/// The download history of one merchant's platform certificates.
#[derive(Debug, Default)]
pub(super) struct FetchPolicy {
    /// The last download that loaded certificates.
    loaded: Option<Instant>,
    /// No download before this (after a failure).
    held_until: Option<Instant>,
    /// Unknown serials a download was made for and did not bring, and when.
    held_serials: Vec<(String, Instant)>,
    /// The unknown serial the download under way is made for.
    pending: Option<String>,
}

impl FetchPolicy {
    /// Whether a download is due before an answer is verified at `now`; `unknown`: the
    /// answer's serial when the verifier does not know it.
    pub(super) fn due(&self, now: Instant, unknown: Option<&str>) -> bool {
        if self.held_until.is_some_and(|until| now < until) {
            return false;
        }
        let stale = self
            .loaded
            .is_none_or(|at| now.saturating_duration_since(at) >= REFRESH_EVERY);
        stale || unknown.is_some_and(|serial| self.may_fetch_for(now, serial))
    }

    /// [`FetchPolicy::due`], and if so the download starts now: the caller downloads and
    /// then reports with [`FetchPolicy::finished`].
    pub(super) fn begin(&mut self, now: Instant, unknown: Option<&str>) -> bool {
        self.held_serials
            .retain(|(_, at)| now.saturating_duration_since(*at) < SAME_SERIAL_HOLD);
        let due = self.due(now, unknown);
        if due {
            self.started(unknown);
        }
        due
    }

    /// A download starts whatever the rule says (an explicit refresh), made for `unknown`.
    pub(super) fn started(&mut self, unknown: Option<&str>) {
        self.pending = unknown.map(str::to_ascii_uppercase);
    }

    /// The download started last ended at `now` with `outcome`; `still_unknown`: whether
    /// the serial it was made for is still unknown to the verifier.
    pub(super) fn finished(&mut self, now: Instant, outcome: Outcome, still_unknown: bool) {
        let pending = self.pending.take();
        match outcome {
            Outcome::Loaded => {
                self.loaded = Some(now);
                self.held_until = None;
                if let Some(serial) = pending.filter(|_| still_unknown) {
                    self.held_serials.push((serial, now));
                }
            }
            Outcome::NoCertificates => self.held_until = Some(now + NO_CERTIFICATES_HOLD),
            Outcome::Failed => self.held_until = Some(now + FAILURE_HOLD),
        }
    }

    /// Whether an answer signed by the unknown `serial` may bring a download.
    fn may_fetch_for(&self, now: Instant, serial: &str) -> bool {
        let mut held = self
            .held_serials
            .iter()
            .filter(|(_, at)| now.saturating_duration_since(*at) < SAME_SERIAL_HOLD);
        let count = held.clone().count();
        !held.any(|(s, _)| s.eq_ignore_ascii_case(serial)) && count < MAX_HELD_SERIALS
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const NEW: &str = "5E8A1C0FFEE0D15EA5E0000000000002";
    const BOGUS: &str = "5E8A1C0FFEE0D15EA5E0000000009999";

    fn secs(s: u64) -> Duration {
        Duration::from_secs(s)
    }

    /// A policy whose first download loaded at `t0`.
    fn loaded_at(t0: Instant) -> FetchPolicy {
        let mut policy = FetchPolicy::default();
        assert!(policy.begin(t0, None), "the first answer downloads");
        policy.finished(t0, Outcome::Loaded, false);
        policy
    }

    #[test]
    fn downloads_first_then_every_six_hours() {
        let t0 = Instant::now();
        let mut policy = loaded_at(t0);
        assert!(!policy.begin(t0 + secs(1), None));
        assert!(!policy.begin(t0 + REFRESH_EVERY - secs(1), None));
        assert!(policy.begin(t0 + REFRESH_EVERY, None));
        assert!(
            REFRESH_EVERY < secs(12 * 3600),
            "WeChat Pay asks for < 12 h"
        );
    }

    #[test]
    fn an_unknown_serial_downloads_at_once_after_a_success() {
        let t0 = Instant::now();
        let mut policy = loaded_at(t0);
        // One second after a download: a rotated serial is fetched at once.
        assert!(policy.begin(t0 + secs(1), Some(NEW)));
        policy.finished(t0 + secs(1), Outcome::Loaded, false);
        // It was brought: nothing is held, another new serial is fetched at once too.
        assert!(policy.begin(t0 + secs(2), Some(BOGUS)));
    }

    #[test]
    fn the_same_unknown_serial_is_held_a_minute_others_are_not() {
        let t0 = Instant::now();
        let mut policy = loaded_at(t0);
        assert!(policy.begin(t0, Some(BOGUS)));
        policy.finished(t0, Outcome::Loaded, true);
        for s in [1, 30, 59] {
            assert!(!policy.begin(t0 + secs(s), Some(BOGUS)), "{s} s later");
            assert!(!policy.begin(t0 + secs(s), Some(&BOGUS.to_lowercase())));
        }
        // Another unknown serial is not held by this one.
        assert!(policy.due(t0 + secs(1), Some(NEW)));
        // A minute later the same serial may bring one more download.
        assert!(policy.begin(t0 + SAME_SERIAL_HOLD, Some(BOGUS)));
    }

    #[test]
    fn a_failed_download_holds_everything_briefly_and_holds_no_serial() {
        let t0 = Instant::now();
        let mut policy = loaded_at(t0);
        assert!(policy.begin(t0, Some(NEW)));
        policy.finished(t0, Outcome::Failed, true);
        assert!(!policy.begin(t0 + secs(1), Some(NEW)));
        assert!(!policy.begin(t0 + secs(1), Some(BOGUS)));
        // The failed download did not look for the serial: it is tried again soon.
        assert!(policy.begin(t0 + FAILURE_HOLD, Some(NEW)));
        policy.finished(t0 + FAILURE_HOLD, Outcome::Loaded, false);
    }

    #[test]
    fn no_certificates_holds_an_hour() {
        let t0 = Instant::now();
        let mut policy = FetchPolicy::default();
        assert!(policy.begin(t0, Some(NEW)));
        policy.finished(t0, Outcome::NoCertificates, true);
        assert!(!policy.begin(t0 + secs(3599), Some(NEW)));
        assert!(policy.begin(t0 + NO_CERTIFICATES_HOLD, None));
    }

    #[test]
    fn a_flood_of_made_up_serials_is_bounded() {
        let t0 = Instant::now();
        let mut policy = loaded_at(t0);
        let serials: Vec<String> = (0..MAX_HELD_SERIALS + 5)
            .map(|i| format!("BAD{i:04}"))
            .collect();
        let downloads = serials
            .iter()
            .filter(|serial| {
                let due = policy.begin(t0, Some(serial));
                if due {
                    policy.finished(t0, Outcome::Loaded, true);
                }
                due
            })
            .count();
        assert_eq!(downloads, MAX_HELD_SERIALS);
        // Released after the hold.
        assert!(policy.begin(t0 + SAME_SERIAL_HOLD, Some("BAD9999")));
    }
}

//! Keeping the journal small: finished jobs older than `daemon.keep_finished` are pruned
//! at start and then every [`EVERY`] (the journal never prunes an unfinished job), and a
//! `status` of an unknown order says it may have been pruned. Knows the schedule and the
//! message, not how rows are deleted (`journal/prune.rs`).

use std::sync::Arc;
use std::time::Duration;

use tracing::{info, warn};

use super::config::JobsConfig;
use super::state::Shared;
use crate::clock;
use crate::protocol::{ErrorBody, ErrorCode};

/// How often finished jobs are pruned after the first time, at start.
pub(crate) const EVERY: Duration = Duration::from_secs(24 * 60 * 60);

/// Prune now, then every [`EVERY`], until the daemon stops.
pub(crate) async fn daily(shared: Arc<Shared>) {
    loop {
        let before = clock::now_ms() - clock::ms(shared.config.keep_finished);
        match shared.lock().journal.prune_finished(before) {
            Ok(0) => {}
            Ok(n) => info!(
                pruned = n,
                keep_finished = %humantime::format_duration(shared.config.keep_finished),
                "finished jobs pruned from the journal"
            ),
            Err(e) => warn!(error = %e, "pruning finished jobs failed; trying again tomorrow"),
        }
        if shared.or_stop(tokio::time::sleep(EVERY)).await.is_none() {
            return;
        }
    }
}

/// An `order_not_found` also says that the order may have finished long ago and been
/// pruned; any other error is left as it is.
pub(crate) fn maybe_pruned(config: &JobsConfig, mut e: ErrorBody) -> ErrorBody {
    if e.code == ErrorCode::OrderNotFound {
        e.message = format!(
            "{}: it was never checked out here, or it finished more than {} ago and was pruned \
             from the journal (daemon.keep_finished); look it up on the WeChat Pay merchant platform",
            e.message,
            humantime::format_duration(config.keep_finished)
        );
    }
    e
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::jobs::fixtures;
    use crate::jobs::refusals::{err, not_found};

    #[test]
    fn an_unknown_order_may_have_been_pruned() {
        let config = fixtures::config();
        let e = maybe_pruned(&config, not_found("T1"));
        assert!(e.message.contains("\"T1\""), "{}", e.message);
        assert!(e.message.contains("pruned"), "{}", e.message);
        assert!(e.message.contains("30days"), "{}", e.message);
        let other = maybe_pruned(&config, err(ErrorCode::Internal, String::from("disk")));
        assert_eq!(other.message, "disk");
    }
}

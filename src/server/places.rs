//! The cap on connections served at once, the same rule for the POS socket and for each
//! HTTP side door: a free place is taken *before* the next connection is accepted, so that
//! past the cap new connections wait in the kernel's listen backlog rather than being
//! accepted and left unserved (mini-redis's `MAX_CONNECTIONS`). A connection's task holds its
//! [`Place`] while it lasts.
//!
//! Knows semaphores and listeners' failures; not what a connection carries.

use std::future::Future;
use std::sync::Arc;
use std::time::Duration;

use tokio::sync::{OwnedSemaphorePermit, Semaphore};
use tracing::warn;

/// How long the accept loop pauses after a failed `accept` (out of file descriptors and
/// the like) before it tries again.
const AFTER_FAILED_ACCEPT: Duration = Duration::from_millis(100);

/// One connection's place, given back when dropped.
pub(crate) type Place = OwnedSemaphorePermit;

/// At most so many connections at once.
pub(crate) struct Places(Arc<Semaphore>);

impl Places {
    pub(crate) fn new(max: usize) -> Places {
        Places(Arc::new(Semaphore::new(max)))
    }

    /// Wait for a free place; `None` when `stop` completes first (it is polled first).
    pub(crate) async fn take(&self, stop: impl Future<Output = ()>) -> Option<Place> {
        tokio::select! {
            biased;
            () = stop => None,
            place = self.0.clone().acquire_owned() => Some(place.expect("never closed")),
        }
    }
}

/// A failed `accept` on the listener of `what`: say so, pause, and keep serving.
pub(crate) async fn accept_failed(what: &str, error: &std::io::Error) {
    warn!(%error, "{what} connection not accepted; trying again");
    tokio::time::sleep(AFTER_FAILED_ACCEPT).await;
}

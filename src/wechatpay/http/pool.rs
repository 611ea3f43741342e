//! The HTTP client's connections to WeChat Pay: a small, kept-alive pool and a bound on the
//! requests in flight, so that the daemon's sockets (and file descriptors) stay bounded
//! whatever the number of open orders or concurrent checkouts (issue 12 §3: 1,000 unpaid
//! orders once opened up to 1,013 descriptors, hundreds of fresh connections a second).
//!
//! The job manager's query budget keeps queries to 8 in flight, so the rest of
//! [`MAX_IN_FLIGHT`] is there for placements and closes: a checkout does not wait for a
//! connection behind polling. Knows nothing of what the requests are.

use std::time::Duration;

use tokio::sync::{Semaphore, SemaphorePermit};

/// Requests to WeChat Pay in flight at once, over every call of the daemon.
pub(crate) const MAX_IN_FLIGHT: usize = 16;

/// Idle connections kept per host, for the next request to reuse.
const IDLE_PER_HOST: usize = MAX_IN_FLIGHT;

/// How long an idle connection is kept: less than the 60 s after which common load
/// balancers drop an idle connection, so a reused one is still open.
const IDLE_TIMEOUT: Duration = Duration::from_secs(50);

/// TCP keep-alive probes on the pooled connections, so a dead peer is noticed.
const TCP_KEEPALIVE: Duration = Duration::from_secs(30);

/// `builder` with the pool's settings.
pub(crate) fn pooled(builder: reqwest::ClientBuilder) -> reqwest::ClientBuilder {
    builder
        .pool_max_idle_per_host(IDLE_PER_HOST)
        .pool_idle_timeout(IDLE_TIMEOUT)
        .tcp_keepalive(TCP_KEEPALIVE)
        .tcp_nodelay(true)
}

/// The bound on requests in flight: one permit per request, held until its answer is read.
pub(crate) struct InFlight(Semaphore);

impl InFlight {
    pub(crate) fn new() -> InFlight {
        InFlight(Semaphore::new(MAX_IN_FLIGHT))
    }

    /// Wait for a free slot.
    pub(crate) async fn acquire(&self) -> SemaphorePermit<'_> {
        // The semaphore is never closed.
        self.0
            .acquire()
            .await
            .unwrap_or_else(|_| unreachable!("the in-flight semaphore is never closed"))
    }
}

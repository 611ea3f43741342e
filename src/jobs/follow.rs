//! What a request that follows a job gets: the events so far ([`Follow`]) and a stream of
//! the later ones ([`Subscription`]), which unsubscribes itself when dropped. Knows the
//! subscriber list, not how events are made.

use std::sync::Weak;

use tokio::sync::mpsc;

use super::state::Shared;
use crate::protocol::Event;

/// The answer to a request that follows a job: what already happened, then what comes.
pub struct Follow {
    /// Events to send at once, in order.
    pub initial: Vec<Event>,
    /// Later events of the job; `None` when the job is already over.
    pub subscription: Option<Subscription>,
}

/// A stream of events; unsubscribes when dropped.
pub struct Subscription {
    id: u64,
    rx: mpsc::Receiver<Event>,
    shared: Weak<Shared>,
}

impl Subscription {
    pub(super) fn new(id: u64, rx: mpsc::Receiver<Event>, shared: Weak<Shared>) -> Subscription {
        Subscription { id, rx, shared }
    }

    /// The next event, or `None` once the daemon has stopped.
    pub async fn recv(&mut self) -> Option<Event> {
        self.rx.recv().await
    }
}

impl Drop for Subscription {
    fn drop(&mut self) {
        if let Some(shared) = self.shared.upgrade() {
            shared.lock().subscribers.remove(self.id);
        }
    }
}

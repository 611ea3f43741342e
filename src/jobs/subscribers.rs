//! Who hears which event: the connection that asked about an order (filtered on it) and
//! `watch`ers (everything).
//!
//! A plain list behind the job manager's one lock (see `state.rs`), so that a subscriber
//! gets a consistent snapshot and then every later event, none twice. Knows events and
//! channels; knows nothing of jobs, the journal or the backends.

use tokio::sync::mpsc;
use tracing::warn;

use crate::protocol::Event;

/// Events a subscriber may have waiting before it counts as stalled and is dropped (a
/// `watch` client that stopped reading must not grow the daemon's memory without limit).
const SUBSCRIBER_QUEUE: usize = 1024;

/// Everyone who follows events.
#[derive(Default)]
pub(crate) struct Subscribers {
    list: Vec<Subscriber>,
    next_id: u64,
}

struct Subscriber {
    id: u64,
    /// `Some(no)`: only that order's events; `None`: everything (`watch`).
    filter: Option<String>,
    tx: mpsc::Sender<Event>,
}

impl Subscribers {
    /// A new subscriber to order `filter` (or, with `None`, to everything): its id, for
    /// [`Subscribers::remove`], and its queue.
    pub(crate) fn add(&mut self, filter: Option<String>) -> (u64, mpsc::Receiver<Event>) {
        let (tx, rx) = mpsc::channel(SUBSCRIBER_QUEUE);
        self.next_id += 1;
        let id = self.next_id;
        self.list.push(Subscriber { id, filter, tx });
        (id, rx)
    }

    pub(crate) fn remove(&mut self, id: u64) {
        self.list.retain(|s| s.id != id);
    }

    /// Send `event` to the subscribers of its order and to the watchers.
    pub(crate) fn emit(&mut self, event: &Event) {
        self.deliver(event, false);
    }

    /// Send to `watch`ers only (an `accepted` concerns the requester and the watchers, not
    /// other connections following the same order).
    pub(crate) fn emit_to_watchers(&mut self, event: &Event) {
        self.deliver(event, true);
    }

    fn deliver(&mut self, event: &Event, watchers_only: bool) {
        let no = event.out_trade_no();
        self.list.retain(|s| {
            let wanted = match &s.filter {
                None => true,
                Some(filter) => !watchers_only && Some(filter.as_str()) == no,
            };
            if !wanted {
                return !s.tx.is_closed();
            }
            match s.tx.try_send(event.clone()) {
                Ok(()) => true,
                Err(mpsc::error::TrySendError::Full(_)) => {
                    warn!(
                        subscriber = s.id,
                        "event subscriber stopped reading; dropping it"
                    );
                    false
                }
                Err(mpsc::error::TrySendError::Closed(_)) => false,
            }
        });
    }
}

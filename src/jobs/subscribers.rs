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

#[cfg(test)]
mod tests {
    use super::*;
    use crate::protocol::JobState;

    fn cancelling(no: &str) -> Event {
        Event::Cancelling {
            out_trade_no: no.into(),
            state: JobState::Cancelling,
        }
    }

    fn received(rx: &mut mpsc::Receiver<Event>) -> Vec<Option<String>> {
        std::iter::from_fn(|| rx.try_recv().ok())
            .map(|e| e.out_trade_no().map(str::to_owned))
            .collect()
    }

    #[test]
    fn an_order_follower_hears_its_order_and_a_watcher_hears_everything() {
        let mut subscribers = Subscribers::default();
        let (_, mut follower) = subscribers.add(Some("A".into()));
        let (_, mut watcher) = subscribers.add(None);
        subscribers.emit(&cancelling("A"));
        subscribers.emit(&cancelling("B"));
        assert_eq!(received(&mut follower), [Some("A".to_owned())]);
        assert_eq!(received(&mut watcher), [Some("A".into()), Some("B".into())]);
    }

    #[test]
    fn watcher_only_events_skip_the_order_followers() {
        let mut subscribers = Subscribers::default();
        let (_, mut follower) = subscribers.add(Some("A".into()));
        let (_, mut watcher) = subscribers.add(None);
        subscribers.emit_to_watchers(&cancelling("A"));
        assert!(received(&mut follower).is_empty());
        assert_eq!(received(&mut watcher).len(), 1);
    }

    #[test]
    fn a_subscriber_that_stops_reading_or_leaves_is_dropped() {
        let mut subscribers = Subscribers::default();
        let (_, mut stalled) = subscribers.add(None);
        let (_, gone) = subscribers.add(Some("A".into()));
        let (id, _removed) = subscribers.add(None);
        subscribers.remove(id);
        drop(gone);
        for _ in 0..=SUBSCRIBER_QUEUE {
            subscribers.emit(&cancelling("B"));
        }
        assert!(
            subscribers.list.is_empty(),
            "{} left",
            subscribers.list.len()
        );
        assert_eq!(
            received(&mut stalled).len(),
            SUBSCRIBER_QUEUE,
            "none lost before"
        );
    }
}

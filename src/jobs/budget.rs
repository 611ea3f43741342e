//! The one query budget every job's payment queries share (issue 12 §3 "Scale"): at most
//! `wechatpay.query_rate` queries a second and [`IN_FLIGHT`] at once over all open orders,
//! handed out in turn — the [`Lane::Urgent`] lane (an order whose customer is at the counter,
//! one being paid or cancelled) before the [`Lane::Background`] one, first come first served
//! within a lane, so old orders are queried round-robin and a thousand of them never starve
//! a new one. A 429 from WeChat Pay halves the rate; every answer wins a little of it back.
//!
//! Placements and the closes of a cancelled order never take from the budget: a cashier's
//! new checkout never queues behind polling.
//!
//! [`Pacer`] is the arithmetic (tokens, queues, the rate), pure and tested with made-up
//! instants; [`QueryBudget`] makes it wait. Only the first in line can go, so only it is
//! woken when the budget changes: jobs in line cost nothing while they wait (waking them
//! all, as before, polled every one of a thousand jobs twice for each query — as it
//! started and as it ended — ten times a second, on the thread that takes new checkouts:
//! 2.7% of the daemon's CPU in a profile with about 1,500 in line). This file knows no
//! job, record or backend.

use std::collections::{HashMap, VecDeque};
use std::sync::{Arc, Mutex, MutexGuard};
use std::time::Duration;

use tokio::sync::Notify;
use tokio::time::Instant;

/// Queries in flight at once, over all orders: bounds the connections to WeChat Pay (and
/// so the daemon's file descriptors) whatever the number of open orders.
pub(crate) const IN_FLIGHT: usize = 8;

/// The slowest a run of 429 answers makes the budget: one query every `1 / FLOOR` s.
const FLOOR: f64 = 0.2;

/// Which line a query waits in.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Lane {
    /// A customer or a cashier is waiting on the answer: served first.
    Urgent,
    /// An older order: served in turn, after every urgent query.
    Background,
}

/// Tokens, queues and the rate; pure (the caller passes the time).
#[derive(Debug)]
pub(crate) struct Pacer {
    /// The configured rate (queries a second).
    configured: f64,
    /// The current rate: lower after 429 answers.
    rate: f64,
    /// Queries that may start now; at most one second's worth.
    tokens: f64,
    /// When `tokens` was last topped up.
    at: Instant,
    /// Tickets waiting, per lane, oldest first.
    urgent: VecDeque<u64>,
    background: VecDeque<u64>,
    next_ticket: u64,
    in_flight: usize,
}

/// What a waiting ticket is to do.
#[derive(Debug, PartialEq, Eq)]
pub(crate) enum Turn {
    /// Go: the query may start (it is counted in flight).
    Go,
    /// First in line: wait this long for a token (or until something changes).
    Wait(Duration),
    /// Others go first: wait until something changes.
    Queued,
}

impl Pacer {
    /// A budget of `rate` queries a second, full at `now`.
    pub(crate) fn new(rate: u32, now: Instant) -> Pacer {
        let rate = f64::from(rate.max(1));
        Pacer {
            configured: rate,
            rate,
            tokens: rate,
            at: now,
            urgent: VecDeque::new(),
            background: VecDeque::new(),
            next_ticket: 0,
            in_flight: 0,
        }
    }

    /// Join the end of `lane`'s line.
    pub(crate) fn enqueue(&mut self, lane: Lane) -> u64 {
        let ticket = self.next_ticket;
        self.next_ticket += 1;
        match lane {
            Lane::Urgent => self.urgent.push_back(ticket),
            Lane::Background => self.background.push_back(ticket),
        }
        ticket
    }

    /// Leave the line without a query (the job stopped waiting).
    pub(crate) fn cancel(&mut self, ticket: u64) {
        self.urgent.retain(|t| *t != ticket);
        self.background.retain(|t| *t != ticket);
    }

    /// The ticket first in line (urgent before background): the only one that can go.
    pub(crate) fn first(&self) -> Option<u64> {
        self.urgent.front().or(self.background.front()).copied()
    }

    /// Whether `ticket` may start its query at `now`.
    pub(crate) fn turn(&mut self, ticket: u64, now: Instant) -> Turn {
        if self.first() != Some(ticket) || self.in_flight >= IN_FLIGHT {
            return Turn::Queued;
        }
        let elapsed = now.saturating_duration_since(self.at).as_secs_f64();
        self.tokens = (self.tokens + elapsed * self.rate).min(self.rate.max(1.0));
        self.at = now;
        if self.tokens < 1.0 {
            return Turn::Wait(Duration::from_secs_f64((1.0 - self.tokens) / self.rate));
        }
        self.tokens -= 1.0;
        self.in_flight += 1;
        if self.urgent.front() == Some(&ticket) {
            self.urgent.pop_front();
        } else {
            self.background.pop_front();
        }
        Turn::Go
    }

    /// A query is over; `rate_limited` when WeChat Pay answered 429 (halve the rate),
    /// else win back a tenth of the configured rate.
    pub(crate) fn done(&mut self, rate_limited: bool) {
        self.in_flight = self.in_flight.saturating_sub(1);
        self.rate = if rate_limited {
            (self.rate / 2.0).max(FLOOR)
        } else {
            (self.rate + self.configured / 10.0).min(self.configured)
        };
        self.tokens = self.tokens.min(self.rate.max(1.0));
    }

    /// The current rate, queries a second.
    #[cfg(test)]
    pub(crate) fn rate(&self) -> f64 {
        self.rate
    }
}

/// The shared budget: [`QueryBudget::take`] waits for a turn.
pub(crate) struct QueryBudget {
    line: Mutex<Line>,
}

/// The pacer and how to wake each ticket in line.
struct Line {
    pacer: Pacer,
    wakes: HashMap<u64, Arc<Notify>>,
}

impl Line {
    /// Something changed (a query ended, a ticket left the line): the first in line looks
    /// again. A wake sent while it is not yet waiting is kept for it (`notify_one`).
    fn wake_first(&self) {
        if let Some(wake) = self.pacer.first().and_then(|t| self.wakes.get(&t)) {
            wake.notify_one();
        }
    }
}

/// A turn: the query may run while this lives; say how it went with [`Permit::done`].
pub(crate) struct Permit<'a> {
    budget: &'a QueryBudget,
    rate_limited: bool,
}

impl Permit<'_> {
    /// The query was answered 429 (rate limited): the budget slows down.
    pub(crate) fn rate_limited(mut self) {
        self.rate_limited = true;
    }
}

impl Drop for Permit<'_> {
    fn drop(&mut self) {
        let mut line = self.budget.lock();
        line.pacer.done(self.rate_limited);
        line.wake_first();
    }
}

/// A place in line; leaves it when dropped (its turn came, or a job stopped waiting).
struct Ticket<'a> {
    budget: &'a QueryBudget,
    id: u64,
    /// Still in the pacer's line (not yet let through).
    queued: bool,
}

impl Drop for Ticket<'_> {
    fn drop(&mut self) {
        let mut line = self.budget.lock();
        if self.queued {
            line.pacer.cancel(self.id);
        }
        line.wakes.remove(&self.id);
        // The next one may be first now.
        line.wake_first();
    }
}

impl QueryBudget {
    /// A budget of `rate` queries a second.
    pub(crate) fn new(rate: u32) -> QueryBudget {
        QueryBudget {
            line: Mutex::new(Line {
                pacer: Pacer::new(rate, Instant::now()),
                wakes: HashMap::new(),
            }),
        }
    }

    fn lock(&self) -> MutexGuard<'_, Line> {
        self.line.lock().unwrap_or_else(|p| p.into_inner())
    }

    /// Wait in `lane` for a turn to query.
    pub(crate) async fn take(&self, lane: Lane) -> Permit<'_> {
        let wake = Arc::new(Notify::new());
        let mut ticket = Ticket {
            budget: self,
            id: {
                let mut line = self.lock();
                let id = line.pacer.enqueue(lane);
                line.wakes.insert(id, wake.clone());
                id
            },
            queued: true,
        };
        loop {
            let turn = self.lock().pacer.turn(ticket.id, Instant::now());
            match turn {
                Turn::Go => break,
                Turn::Wait(d) => {
                    tokio::select! {
                        () = tokio::time::sleep(d) => {}
                        () = wake.notified() => {}
                    }
                }
                Turn::Queued => wake.notified().await,
            }
        }
        ticket.queued = false;
        drop(ticket);
        Permit {
            budget: self,
            rate_limited: false,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const MS: Duration = Duration::from_millis(1);

    #[test]
    fn urgent_queries_go_before_every_waiting_background_one() {
        let now = Instant::now();
        let mut p = Pacer::new(100, now);
        let old: Vec<u64> = (0..5).map(|_| p.enqueue(Lane::Background)).collect();
        let new = p.enqueue(Lane::Urgent);
        assert_eq!(p.turn(old[0], now), Turn::Queued, "the urgent one is first");
        assert_eq!(p.turn(new, now), Turn::Go);
        assert_eq!(p.turn(old[1], now), Turn::Queued, "in turn: oldest first");
        assert_eq!(p.turn(old[0], now), Turn::Go);
        assert_eq!(p.turn(old[1], now), Turn::Go);
    }

    #[test]
    fn waiting_jobs_are_served_round_robin() {
        let now = Instant::now();
        let mut p = Pacer::new(100, now);
        let mut served = Vec::new();
        let mut line: VecDeque<(u64, u64)> = (0..3)
            .map(|job| (job, p.enqueue(Lane::Background)))
            .collect();
        for _ in 0..6 {
            let (job, ticket) = line.pop_front().unwrap();
            assert_eq!(p.turn(ticket, now), Turn::Go);
            p.done(false);
            served.push(job);
            line.push_back((job, p.enqueue(Lane::Background))); // its next query
        }
        assert_eq!(served, [0, 1, 2, 0, 1, 2]);
    }

    #[test]
    fn the_rate_is_kept_after_the_first_seconds_worth() {
        let t0 = Instant::now();
        let mut p = Pacer::new(10, t0);
        for _ in 0..10 {
            let t = p.enqueue(Lane::Background);
            assert_eq!(p.turn(t, t0), Turn::Go, "a second's worth at once");
            p.done(false);
        }
        let t = p.enqueue(Lane::Background);
        assert_eq!(p.turn(t, t0), Turn::Wait(100 * MS), "then one every 100 ms");
        assert_eq!(p.turn(t, t0 + 50 * MS), Turn::Wait(50 * MS));
        assert_eq!(p.turn(t, t0 + 100 * MS), Turn::Go);
    }

    #[test]
    fn rate_limits_halve_the_rate_and_answers_win_it_back() {
        let mut p = Pacer::new(10, Instant::now());
        p.done(true);
        assert_eq!(p.rate(), 5.0);
        p.done(true);
        p.done(true);
        assert_eq!(p.rate(), 1.25);
        for _ in 0..5 {
            p.done(true);
        }
        assert_eq!(p.rate(), FLOOR, "never stops");
        for _ in 0..20 {
            p.done(false);
        }
        assert_eq!(p.rate(), 10.0, "never above the configured rate");
    }

    #[test]
    fn at_most_in_flight_queries_run_at_once() {
        let now = Instant::now();
        let mut p = Pacer::new(100, now);
        for _ in 0..IN_FLIGHT {
            let t = p.enqueue(Lane::Urgent);
            assert_eq!(p.turn(t, now), Turn::Go);
        }
        let t = p.enqueue(Lane::Urgent);
        assert_eq!(p.turn(t, now), Turn::Queued, "all in flight");
        p.done(false);
        assert_eq!(p.turn(t, now), Turn::Go);
    }

    #[test]
    fn a_job_that_stops_waiting_leaves_the_line() {
        let now = Instant::now();
        let mut p = Pacer::new(100, now);
        let first = p.enqueue(Lane::Background);
        let second = p.enqueue(Lane::Background);
        p.cancel(first);
        assert_eq!(p.turn(second, now), Turn::Go);
    }

    #[tokio::test(start_paused = true)]
    async fn waiters_get_their_turns_in_order_at_the_rate() {
        let budget = std::sync::Arc::new(QueryBudget::new(2));
        let t0 = Instant::now();
        let order = std::sync::Arc::new(Mutex::new(Vec::new()));
        let mut tasks = Vec::new();
        for (i, lane) in [
            Lane::Background,
            Lane::Background,
            Lane::Background,
            Lane::Urgent,
        ]
        .into_iter()
        .enumerate()
        {
            let (budget, order) = (budget.clone(), order.clone());
            tasks.push(tokio::spawn(async move {
                let permit = budget.take(lane).await;
                order.lock().unwrap().push((i, Instant::now() - t0));
                drop(permit);
            }));
            tokio::task::yield_now().await;
        }
        for t in tasks {
            t.await.unwrap();
        }
        let order = order.lock().unwrap().clone();
        let who: Vec<usize> = order.iter().map(|(i, _)| *i).collect();
        assert_eq!(who, [0, 1, 3, 2], "two at once, then the urgent one first");
        assert_eq!(order[2].1, Duration::from_millis(500));
        assert_eq!(order[3].1, Duration::from_secs(1));
    }
}

#[cfg(test)]
mod wake_tests {
    use std::future::Future;
    use std::pin::Pin;
    use std::sync::atomic::{AtomicUsize, Ordering::SeqCst};
    use std::task::{Context, Poll};

    use super::*;

    /// A future that counts how often it is polled (a woken task is polled).
    struct Counted<F> {
        inner: Pin<Box<F>>,
        polls: Arc<AtomicUsize>,
    }

    impl<F: Future> Future for Counted<F> {
        type Output = F::Output;
        fn poll(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<F::Output> {
            self.polls.fetch_add(1, SeqCst);
            self.inner.as_mut().poll(cx)
        }
    }

    async fn settle() {
        for _ in 0..20 {
            tokio::task::yield_now().await;
        }
    }

    /// A hundred jobs in line behind queries in flight: the end of one query lets the
    /// first through and wakes no other (all hundred were polled at every change before).
    #[tokio::test(start_paused = true)]
    async fn the_end_of_a_query_wakes_only_the_first_in_line() {
        let budget = Arc::new(QueryBudget::new(1000));
        let mut running = Vec::new();
        for _ in 0..IN_FLIGHT {
            running.push(budget.take(Lane::Background).await);
        }
        let (polls, through) = (Arc::new(AtomicUsize::new(0)), Arc::new(AtomicUsize::new(0)));
        for _ in 0..100 {
            let (budget, through) = (budget.clone(), through.clone());
            tokio::spawn(Counted {
                inner: Box::pin(async move {
                    let _permit = budget.take(Lane::Background).await;
                    through.fetch_add(1, SeqCst);
                    std::future::pending::<()>().await;
                }),
                polls: polls.clone(),
            });
        }
        settle().await;
        assert_eq!(through.load(SeqCst), 0, "all in line");
        let before = polls.load(SeqCst);
        drop(running.pop());
        settle().await;
        assert_eq!(through.load(SeqCst), 1, "one query ended, one went");
        let woken = polls.load(SeqCst) - before;
        assert!(woken <= 2, "{woken} jobs in line were woken for one turn");
    }
}

//! The kill -9 storm: rounds of checkouts against the real daemon ([`Rig`]), each round
//! ending with a SIGKILL at a point of a job's life ([`Phase`], each in turn) after a random delay
//! from a seeded RNG, then a restart. The POS side behaves as a real one: it retries a
//! checkout until it hears `accepted` (an identical retry resumes the job), follows it, and
//! the customer pays or the cashier cancels at random moments — also while the daemon is
//! down. [`Storm::settle`] brings every order to its end; the test then compares the
//! daemon's `status` with the simulator's orders.
//!
//! It knows the socket protocol and the simulator's API, never wxprint's insides (the
//! journal is only opened, to prove it opens).

use std::collections::BTreeMap;
use std::time::Duration;

use serde_json::{Value, json};
use tokio::task::JoinHandle;
use tokio::time::Instant;

use crate::crash_rig::{Heard, Rig, follow};
use crate::virtual_printer::VirtualPrinter;
use crate::wechatpay_sim::{Endpoint, Fault, Simulator};

/// Where in a job's life the daemon is killed.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
pub enum Phase {
    /// Just after `accepted`: the order is being placed (or not yet).
    BeforePlacing,
    /// Just after `code_url`: placed, the receipt not printed yet.
    PlacedNotPrinted,
    /// The printer drains slowly: the receipt is being printed.
    Printing,
    /// Printed; the job polls, and the customer may be paying.
    Polling,
    /// A cancel's close is on its way to WeChat Pay.
    Closing,
}

const PHASES: [Phase; 5] = [
    Phase::BeforePlacing,
    Phase::PlacedNotPrinted,
    Phase::Printing,
    Phase::Polling,
    Phase::Closing,
];

/// What the customer (or cashier) does with one order.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Plan {
    Pay,
    Cancel,
}

/// One checkout of the storm.
#[derive(Debug)]
pub struct Order {
    pub plan: Plan,
    /// The round it was created in.
    pub round: usize,
    /// Paid at the simulator (by the customer).
    pub paid: bool,
    /// A cancel was answered (`cancelling` or a final event).
    pub cancelled: bool,
}

/// The storm's state: the rig, its doubles, the orders and what was heard.
pub struct Storm<'a> {
    pub rig: Rig,
    pub sim: &'a Simulator,
    pub printer: &'a VirtualPrinter,
    pub rng: fastrand::Rng,
    pub seed: u64,
    pub orders: BTreeMap<String, Order>,
    pub heard: Heard,
    /// Kills per phase; a kill whose point was not reached within the round's deadline
    /// counts under the phase too and in `missed`.
    pub kills: BTreeMap<Phase, usize>,
    pub missed: usize,
}

/// How long a round waits for its kill point before killing anyway.
const TRIGGER_DEADLINE: Duration = Duration::from_secs(10);

impl Storm<'_> {
    /// The checkout request of order `no` (always the same content: a retry resumes it).
    pub fn checkout(no: &str) -> Value {
        json!({
            "op": "checkout",
            "id": no,
            "order": {"out_trade_no": no, "description": "Crash test", "amount": {"total": 101}},
            "receipt": {"lines": [{"name": "Tea", "quantity": 1, "amount": 101}]}
        })
    }

    /// Orders not yet known to be over, by what was heard.
    fn open_orders(&self) -> Vec<String> {
        self.orders
            .keys()
            .filter(|no| {
                !["paid", "closed", "failed"]
                    .iter()
                    .any(|e| self.heard.has(no, e))
            })
            .cloned()
            .collect()
    }

    /// Follow (resend) the checkout of every order in `nos`.
    fn follow_all(&self, nos: &[String]) -> Vec<JoinHandle<bool>> {
        nos.iter()
            .map(|no| {
                let request = Self::checkout(no);
                tokio::spawn(follow(
                    self.rig.socket.clone(),
                    no.clone(),
                    request,
                    self.heard.clone(),
                ))
            })
            .collect()
    }

    /// One round: start, resume the open orders, `new` new checkouts, the fates of older
    /// orders, a kill at a random phase, then the journal must open.
    pub async fn round(&mut self, r: usize, new: usize) {
        self.rig.start().await;
        // Every phase in turn, so that every run hits each of them; the delays are random.
        let phase = PHASES[r % PHASES.len()];
        let mut followers = self.follow_all(&self.open_orders());
        if phase == Phase::Printing {
            self.printer
                .set_state(|s| s.slow_reader_bytes_per_sec = Some(20_000));
        }
        let fresh: Vec<String> = (0..new).map(|i| format!("CRASH{r:04}{i:02}")).collect();
        for (i, no) in fresh.iter().enumerate() {
            let plan = if (phase == Phase::Closing && i == 0) || self.rng.bool() {
                Plan::Cancel
            } else {
                Plan::Pay
            };
            let order = Order {
                plan,
                round: r,
                paid: false,
                cancelled: false,
            };
            self.orders.insert(no.clone(), order);
        }
        followers.extend(self.follow_all(&fresh));
        self.fates(r, true).await;
        let reached = self.kill_point(phase, &fresh).await;
        self.rig.kill9();
        *self.kills.entry(phase).or_default() += 1;
        self.missed += usize::from(!reached);
        self.printer
            .set_state(|s| s.slow_reader_bytes_per_sec = None);
        for f in followers {
            f.await.unwrap();
        }
        let journal = wxprint::journal::Journal::open(&self.rig.state)
            .unwrap_or_else(|e| panic!("seed {}: the journal does not open: {e}", self.seed));
        journal
            .unfinished()
            .unwrap_or_else(|e| panic!("seed {}: the journal cannot be read: {e}", self.seed));
        drop(journal);
        self.fates(r, false).await;
    }

    /// Act on some older orders' plans: pay at the simulator (also while the daemon is
    /// down), or cancel through the socket (only while it is up).
    async fn fates(&mut self, r: usize, up: bool) {
        let nos: Vec<String> = self.orders.keys().cloned().collect();
        for no in nos {
            let o = &self.orders[&no];
            if o.round >= r || o.paid || o.cancelled || !self.rng.bool() {
                continue;
            }
            match o.plan {
                Plan::Pay => {
                    let paid = self.sim.pay(&no);
                    self.orders.get_mut(&no).unwrap().paid = paid;
                }
                Plan::Cancel if up => {
                    let cancelled = self.cancel(&no).await;
                    self.orders.get_mut(&no).unwrap().cancelled = cancelled;
                }
                Plan::Cancel => {}
            }
        }
    }

    /// `cancel` order `no`; whether the daemon answered it.
    async fn cancel(&self, no: &str) -> bool {
        let Some(mut pos) = self.rig.connect().await else {
            return false;
        };
        let answer = pos.call(json!({"op": "cancel", "out_trade_no": no})).await;
        answer.is_some_and(|a| a["event"] != "error")
    }

    /// Wait for `phase`'s point in the life of the fresh orders, then a random delay.
    /// Returns false if the point was not reached within [`TRIGGER_DEADLINE`].
    async fn kill_point(&mut self, phase: Phase, fresh: &[String]) -> bool {
        let first = &fresh[0];
        let reached = match phase {
            Phase::BeforePlacing => self.until(|s| s.heard.has(first, "accepted")).await,
            Phase::PlacedNotPrinted | Phase::Printing => {
                self.until(|s| s.heard.has(first, "code_url")).await
            }
            Phase::Polling => {
                let printed = self
                    .until(|s| fresh.iter().all(|no| s.heard.has(no, "printed")))
                    .await;
                self.pay_or_cancel(fresh).await;
                printed
            }
            Phase::Closing => {
                let printed = self.until(|s| s.heard.has(first, "printed")).await;
                self.sim
                    .inject(Endpoint::Close, Fault::Delay(Duration::from_millis(20)), 1);
                let cancelled = self.cancel(first).await;
                self.orders.get_mut(first).unwrap().cancelled = cancelled;
                let no = first.clone();
                let closing = self
                    .until(|s| {
                        s.sim
                            .requests_to(Endpoint::Close)
                            .iter()
                            .any(|c| c.path.contains(&no))
                    })
                    .await;
                printed && closing
            }
        };
        let max_ms = match phase {
            Phase::BeforePlacing | Phase::PlacedNotPrinted => 3,
            Phase::Printing => 40,
            Phase::Polling => 150,
            Phase::Closing => 25,
        };
        let delay = self.rng.u64(..max_ms);
        tokio::time::sleep(Duration::from_millis(delay)).await;
        reached
    }

    /// While polling: each fresh order's plan, at once or not at all this round.
    async fn pay_or_cancel(&mut self, fresh: &[String]) {
        for no in fresh {
            if !self.rng.bool() {
                continue;
            }
            match self.orders[no].plan {
                Plan::Pay => {
                    let paid = self.sim.pay(no);
                    self.orders.get_mut(no).unwrap().paid = paid;
                }
                Plan::Cancel => {
                    let cancelled = self.cancel(no).await;
                    self.orders.get_mut(no).unwrap().cancelled = cancelled;
                }
            }
        }
    }

    /// Wait (checking every millisecond) until `done` holds; false after the deadline.
    async fn until(&self, done: impl Fn(&Self) -> bool) -> bool {
        let deadline = Instant::now() + TRIGGER_DEADLINE;
        while !done(self) {
            if Instant::now() >= deadline {
                return false;
            }
            tokio::time::sleep(Duration::from_millis(1)).await;
        }
        true
    }

    /// The end: the daemon up for good, every order retried until accepted, paid or
    /// cancelled as planned, until every `status` is final. Returns the final statuses.
    pub async fn settle(&mut self, deadline: Duration) -> BTreeMap<String, Value> {
        self.rig.start().await;
        let until = Instant::now() + deadline;
        let mut finals = BTreeMap::new();
        let mut followers = Vec::new();
        while finals.len() < self.orders.len() {
            assert!(
                Instant::now() < until,
                "seed {}: not every order ended within {deadline:?}: open {:?}",
                self.seed,
                self.orders
                    .keys()
                    .filter(|no| !finals.contains_key(*no))
                    .collect::<Vec<_>>()
            );
            let nos: Vec<String> = self.orders.keys().cloned().collect();
            for no in nos {
                if finals.contains_key(&no) {
                    continue;
                }
                let Some(status) = self.rig.status(&no).await else {
                    continue;
                };
                if status["event"] == "error" {
                    // Never accepted before a kill: the POS sends it again.
                    followers.extend(self.follow_all(std::slice::from_ref(&no)));
                    continue;
                }
                if matches!(status["state"].as_str(), Some("paid" | "closed" | "failed")) {
                    finals.insert(no, status);
                    continue;
                }
                let order = &self.orders[&no];
                match order.plan {
                    Plan::Pay if !order.paid => {
                        let paid = self.sim.pay(&no);
                        self.orders.get_mut(&no).unwrap().paid = paid;
                    }
                    Plan::Cancel if !order.cancelled => {
                        let cancelled = self.cancel(&no).await;
                        self.orders.get_mut(&no).unwrap().cancelled = cancelled;
                    }
                    _ => {}
                }
            }
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
        for f in followers {
            f.abort();
        }
        finals
    }
}

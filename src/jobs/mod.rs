//! The job state machine: one checkout becomes one order, one receipt and one outcome.
//!
//! ```text
//!   checkout ──▶ ordering ──place──▶ awaiting_payment ⇄ user_paying ──query: SUCCESS──▶ paid
//!                   │                    │    (print the QR once)
//!                   │                    ├──time_expire──▶ close ──▶ closed{expired}
//!                   │                    └──cancel──▶ cancelling ──close when allowed──▶ closed{cancelled}
//!                   ├──refused by WeChat Pay──▶ failed
//!                   └──no verified answer within place_timeout──▶ failed (to the POS; an
//!                        order that may exist goes on as `cancelling`: closed, or paid)
//! ```
//!
//! Every job with an open outcome has one task (`task::drive`) that places the order,
//! prints the receipt and then polls the payment backend until the order is paid or
//! closed. The rules that protect money live here, not in the backends:
//!
//! - every state change is committed to the [`Journal`] *before* its event is sent, and
//!   unfinished jobs are resumed on start, so a paid order is reported even across a crash;
//! - a placement is retried only with the identical order, and only while nothing has been
//!   printed (WeChat Pay answers a re-placement with a new `code_url` and kills the old one);
//! - an order is never closed younger than `close_min_age`; a cancel inside that window
//!   keeps polling (the customer may be paying) and closes as soon as it is allowed;
//! - an order is queried before it is closed and once more after: a payment that raced
//!   the close wins.
//!
//! Events go to subscribers: the connection that asked (filtered on its order) and
//! `watch`ers (everything). The state and the subscriber list share one lock, so a
//! subscriber gets a consistent snapshot and then every later event, none twice.
//!
//! The files, as in zincati's update agent (a pure state machine beside its driver):
//!
//! - `transitions.rs`: every change of a record, pure — the rules above as unit tests;
//! - `state.rs`: the one lock (journal, active jobs, subscribers); commit, then emit;
//! - `subscribers.rs`: who hears which event;
//! - `task.rs` (placement) → `printing.rs` → `polling/` (queries; `close.rs`): the driver;
//! - `budget.rs`: the one query budget all jobs share (rate, lanes, in flight);
//! - `follow.rs`: [`Follow`] and [`Subscription`], what a following request gets;
//! - `record.rs`: a record made and read (canonical request, replay, status, order);
//! - `refusals.rs`: the errors a request gets; `config.rs`: [`JobsConfig`];
//! - `prune.rs`: finished jobs leave the journal after `keep_finished`;
//! - `delays.rs`: never silent — `delayed` events, `last_error`, `wechatpay_unavailable`;
//! - `refund.rs` (rules, the `refund` handle) → `refund_task.rs`: refunds of paid orders;
//! - `metered.rs`: what a change tells the fleet metrics (`crate::metrics`).
//! - `drawer.rs`: the `drawer` op, a cash drawer kick on request (never on a payment).
//! - `slips.rs`: payment and refund slips, noted with `paid` / `refunded`, printed after.
//!
//! This file is the [`Jobs`] handle: the requests the server forwards. It knows the lock
//! and the records, not how a job is driven.

mod budget;
mod config;
mod delays;
mod drawer;
#[cfg(test)]
mod fixtures;
mod follow;
mod metered;
pub mod notified;
mod polling;
mod printing;
mod prune;
mod record;
mod refund;
mod refund_task;
mod refusals;
mod slips;
mod state;
mod subscribers;
mod task;
#[cfg(test)]
mod tests;
mod transitions;

use std::sync::{Arc, Mutex};

use tokio::sync::Notify;
use tokio_util::sync::CancellationToken;
use tokio_util::task::TaskTracker;
use tracing::{debug, info, warn};

use crate::clock;
use crate::journal::{JobRecord, Journal, JournalError};
use crate::payment::PaymentBackend;
use crate::payment::sandbox::{Sandbox, SandboxMarket};
use crate::printer::PrinterHandle;
use crate::protocol::{Checkout, ErrorCode, Event, JobState, PrintState, PrinterStatus};
use crate::receipt;

pub use config::{JobsConfig, TIME_EXPIRE_MIN, encoding_override, layout_for};
pub use follow::{Follow, Subscription};
pub use refund_task::RefundNotifiedError;
pub use refusals::Refused;

use budget::QueryBudget;
use printing::print_receipt;
use record::{
    canonical_request, expire_ms, in_currency, new_record, order_amount, place_order, replay,
    status_of,
};
use refusals::{
    err, foreign_orders, journal_failed, not_payable, sandbox_only, shutting_down,
    unsupported_currency,
};
use state::{Active, Shared, State};
use task::Start;

/// Handle on the job manager; cheap to clone.
#[derive(Clone)]
pub struct Jobs {
    shared: Arc<Shared>,
}

/// Why the job manager could not start.
#[derive(Debug, thiserror::Error)]
pub enum JobsError {
    /// The journal could not be read for the unfinished jobs to resume.
    #[error(transparent)]
    Journal(#[from] JournalError),
    /// Unfinished orders were placed for another merchant (region, mode or ids changed since):
    /// resuming them here would query the wrong merchant and could leave a payment unreported.
    #[error(
        "unfinished orders were placed under another WeChat Pay merchant: {orders}; start wxprint \
         with the configuration they were placed with until they are paid or closed (`wxprint \
         status N`), then change wechatpay.region, mchid or sub_mchid"
    )]
    ForeignOrders {
        /// Each order and what differs.
        orders: String,
    },
}

impl Jobs {
    /// Start the manager and resume every unfinished job of `journal`.
    pub fn start(
        config: JobsConfig,
        backend: Arc<dyn PaymentBackend>,
        printer: PrinterHandle,
        journal: Journal,
    ) -> Result<Jobs, JobsError> {
        let unfinished = journal.unfinished()?;
        foreign_orders(&unfinished, backend.as_ref())?;
        // Test orders stay off WeChat Pay but look like the merchant's own: same currency,
        // same region.
        let market = SandboxMarket::from(&backend.currency_rule());
        let queries = QueryBudget::new(config.query_rate);
        let shared = Arc::new(Shared {
            queries,
            config,
            backend,
            loopback: Arc::new(Sandbox::in_memory().with_market(market)),
            printer,
            state: Mutex::new(State::new(journal)),
            stop: CancellationToken::new(),
            tasks: TaskTracker::new(),
            slips: Notify::new(),
        });
        let jobs = Jobs { shared };
        for record in unfinished {
            info!(
                out_trade_no = %record.out_trade_no,
                state = record.state.as_str(),
                "resuming unfinished job"
            );
            let mut state = jobs.shared.lock();
            jobs.activate(&mut state, record, Start::Resumed);
        }
        jobs.shared.tasks.spawn(prune::daily(jobs.shared.clone()));
        jobs.shared.tasks.spawn(slips::run(jobs.shared.clone()));
        jobs.resume_refunds()
            .map(|()| jobs)
            .map_err(JobsError::from)
    }

    /// How many jobs have an open outcome.
    pub fn active_count(&self) -> usize {
        self.shared.lock().active.len()
    }

    fn activate(&self, state: &mut State, record: JobRecord, start: Start) {
        let wake = Arc::new(Notify::new());
        let no = record.out_trade_no.clone();
        state.active.insert(
            no.clone(),
            Active {
                record: Box::new(record),
                durable: true,
                wake: wake.clone(),
                last_error: None,
            },
        );
        self.shared
            .tasks
            .spawn(task::drive(self.shared.clone(), no, wake, start));
    }

    /// Follow order `no` (or, with `None`, every job) from now on.
    fn subscribe(&self, state: &mut State, filter: Option<String>) -> Subscription {
        let (id, rx) = state.subscribers.add(filter);
        Subscription::new(id, rx, Arc::downgrade(&self.shared))
    }

    /// `checkout`: start a job, or resume the identical one. An amount the order's backend
    /// does not take is refused first, as a bad field.
    pub fn checkout(&self, checkout: &Checkout) -> Result<Follow, Refused> {
        let backend = self.shared.backend_for(checkout.loopback);
        let checkout = &in_currency(checkout, backend.currency_rule().currency());
        let amount = order_amount(&checkout.order.amount);
        backend
            .accepts(&amount)
            .map_err(|why| Refused::from(unsupported_currency(&why)))?;
        let request = canonical_request(checkout);
        let no = &checkout.order.out_trade_no;
        let mut state = self.shared.lock();
        if state.shutting_down {
            return Err(shutting_down().into());
        }
        let known = match state.active.get(no) {
            Some(a) => Some(JobRecord::clone(&a.record)),
            None => state.journal.get(no).map_err(|e| journal_failed(&e))?,
        };
        match known {
            Some(record) => self.resume(&mut state, &record, &request),
            None => self.create(&mut state, checkout, request),
        }
    }

    /// A checkout of a known order: resume it if the content is identical.
    fn resume(
        &self,
        state: &mut State,
        record: &JobRecord,
        request: &str,
    ) -> Result<Follow, Refused> {
        let accepted = transitions::resume(record, request)?;
        let no = &record.out_trade_no;
        debug!(out_trade_no = %no, "identical checkout: resuming the job");
        state.subscribers.emit_to_watchers(&accepted); // watchers see the retry too
        let mut initial = vec![accepted];
        initial.extend(replay(record));
        let subscription =
            (!record.state.is_final()).then(|| self.subscribe(state, Some(no.clone())));
        Ok(Follow {
            initial,
            subscription,
        })
    }

    /// A checkout of a new order: journal it, then start its task.
    fn create(
        &self,
        state: &mut State,
        checkout: &Checkout,
        request: String,
    ) -> Result<Follow, Refused> {
        let no = checkout.order.out_trade_no.clone();
        // Its time_expire is fixed now, so that every placement is identical.
        let now = clock::now_ms();
        let expire_ms = expire_ms(
            checkout.order.time_expire.as_deref(),
            now,
            self.shared.config.order_ttl,
            self.shared.config.time_expire_min,
        )?;
        let mut record = new_record(checkout, request, expire_ms, now);
        // Pin the exact request before the first attempt, in the same commit.
        record.place_body = self
            .shared
            .backend_of(&record)
            .prepare(&place_order(&record));
        state
            .journal
            .insert(&record)
            .map_err(|e| journal_failed(&e))?;
        // Its receipt follows WeChat Pay's answer: the printer opens its link and asks its
        // status meanwhile, so the QR goes out as soon as its code_url is on disk. Asked from
        // a task that yields first, so after the job's first send: waking the printer thread
        // (and its work on the same cores) is not in the way of the disk, the signature and
        // the placement (real path, 24 alternating runs: own time p50 −0.07 ms, p99 −0.35 ms).
        let printer = self.shared.printer.clone();
        self.shared.tasks.spawn(async move {
            tokio::task::yield_now().await;
            printer.prepare();
        });
        info!(out_trade_no = %no, total = %record.amount, "checkout accepted");
        let accepted = Event::Accepted {
            out_trade_no: no.clone(),
            state: JobState::Ordering,
            resumed: false,
        };
        state.subscribers.emit_to_watchers(&accepted);
        let subscription = self.subscribe(state, Some(no));
        self.activate(state, record, Start::New);
        Ok(Follow {
            initial: vec![accepted],
            subscription: Some(subscription),
        })
    }

    /// `status`: the job's full record.
    pub fn status(&self, no: &str) -> Result<Event, Refused> {
        let state = self.shared.lock();
        let (record, last_error) = match state.active.get(no) {
            Some(a) => (
                JobRecord::clone(&a.record),
                a.last_error.as_deref().cloned(),
            ),
            None => (
                state
                    .stored(no)
                    .map_err(|e| prune::maybe_pruned(&self.shared.config, e))?,
                None,
            ),
        };
        let mut status = status_of(&record);
        (status.last_error, status.refunds) = (last_error, refund::refunds_status(&state, no));
        Ok(Event::Status(Box::new(status)))
    }

    /// `cancel`: stop selling; the order is closed as soon as WeChat Pay allows.
    pub fn cancel(&self, no: &str) -> Result<Follow, Refused> {
        let mut guard = self.shared.lock();
        let state = &mut *guard;
        if state.shutting_down {
            return Err(shutting_down().into());
        }
        let Some(active) = state.active.get_mut(no) else {
            // Already over: answer with how it ended.
            let record = state.stored(no)?;
            return Ok(Follow {
                initial: replay(&record)
                    .into_iter()
                    .filter(Event::is_final)
                    .collect(),
                subscription: None,
            });
        };
        let cancelling = Event::Cancelling {
            out_trade_no: no.to_owned(),
            state: JobState::Cancelling,
        };
        if active.record.state != JobState::Cancelling {
            let mut record = JobRecord::clone(&active.record);
            record.state = JobState::Cancelling;
            record.updated_ms = clock::now_ms();
            state
                .journal
                .update(&record)
                .map_err(|e| err(ErrorCode::Internal, e.to_string()))?;
            *active.record = record;
            active.wake.notify_one();
            info!(out_trade_no = no, "cancel requested");
            // Watchers and the checkout's own connection hear of it too.
            state.subscribers.emit(&cancelling);
        }
        let subscription = self.subscribe(state, Some(no.to_owned()));
        Ok(Follow {
            initial: vec![cancelling],
            subscription: Some(subscription),
        })
    }

    /// `sandbox_pay`: pay the order at the sandbox backend, then let the job notice it.
    pub fn sandbox_pay(&self, no: &str) -> Result<Follow, Refused> {
        let daemon_backend = self.shared.backend.name();
        let (record, wake, subscription) = {
            let mut state = self.shared.lock();
            if state.shutting_down {
                return Err(shutting_down().into());
            }
            let Some(active) = state.active.get(no) else {
                let record = state.stored(no)?;
                let error = if self.shared.backend_of(&record).as_sandbox().is_none() {
                    sandbox_only(daemon_backend)
                } else {
                    not_payable(&record)
                };
                return Err(Refused::about(&record, error));
            };
            let (record, wake) = (JobRecord::clone(&active.record), active.wake.clone());
            let subscription = self.subscribe(&mut state, Some(no.to_owned()));
            (record, wake, subscription)
        };
        // Loopback orders are on the built-in sandbox whatever the daemon's backend.
        let Some(sandbox) = self.shared.backend_of(&record).as_sandbox() else {
            return Err(Refused::about(&record, sandbox_only(daemon_backend)));
        };
        sandbox
            .pay(no)
            .map_err(|e| Refused::about(&record, err(ErrorCode::NotPayable, e.to_string())))?;
        info!(out_trade_no = no, "sandbox order paid");
        wake.notify_one();
        Ok(Follow {
            initial: Vec::new(),
            subscription: Some(subscription),
        })
    }

    /// `watch`: every event of every job from now on.
    pub fn watch(&self) -> Subscription {
        let mut state = self.shared.lock();
        self.subscribe(&mut state, None)
    }

    /// `reprint`: print the receipt again with the same `code_url` (never a new order).
    pub async fn reprint(&self, no: &str) -> Result<Event, Refused> {
        let record = {
            let state = self.shared.lock();
            if state.shutting_down {
                return Err(shutting_down().into());
            }
            match state.active.get(no) {
                Some(a) => JobRecord::clone(&a.record),
                None => {
                    let record = state.stored(no)?;
                    return Err(Refused::about(&record, not_payable(&record)));
                }
            }
        };
        if !transitions::payable(&record, clock::now_ms()) {
            return Err(Refused::about(&record, not_payable(&record)));
        }
        let printout = print_receipt(&self.shared, &record)
            .await
            .map_err(|e| Refused::about(&record, err(ErrorCode::Printer, e.to_string())))?;
        let mut reply = None;
        self.shared.transition(no, |r| {
            let event = transitions::printed(r, printout);
            reply.clone_from(&event);
            event
        });
        // Paid or closed while printing: report the reprint all the same.
        Ok(reply.unwrap_or(Event::Printed {
            out_trade_no: Some(no.to_owned()),
            state: Some(record.state),
            print: PrintState::Printed,
            location: None,
            confirmed: None,
        }))
    }

    /// `printer`: the printer's live status.
    pub async fn printer_status(&self) -> PrinterStatus {
        self.shared.printer.status().await
    }

    /// `test_print`: a test page, no payment involved.
    pub async fn test_print(&self) -> Result<Event, Refused> {
        if self.shared.lock().shutting_down {
            return Err(shutting_down().into());
        }
        let config = &self.shared.config;
        let status = self.shared.printer.status().await;
        let printer = self.shared.printer.describe();
        let mut info = receipt::test_info(&config.profile, printer, &status, &config.layout);
        info.push(format!("payment backend: {}", self.shared.backend.name()));
        info.push(format!("time: {}", clock::receipt_time(clock::now_ms())));
        let bytes = receipt::test_page(&info, &config.layout);
        let printout = self
            .shared
            .printer
            .print("test-page", bytes)
            .await
            .map_err(|e| Refused::from(err(ErrorCode::Printer, e.to_string())))?;
        Ok(Event::Printed {
            out_trade_no: None,
            state: None,
            print: PrintState::Printed,
            location: printout.location,
            confirmed: printout.confirmed,
        })
    }

    /// Whether [`Jobs::shutdown`] has begun.
    pub fn is_shutting_down(&self) -> bool {
        self.shared.lock().shutting_down
    }

    /// Refuse new work, let every job reach a safe point (a receipt being written is
    /// finished), then fold the journal's WAL. Unfinished jobs resume on the next start.
    pub async fn shutdown(&self) {
        self.shared.lock().shutting_down = true;
        self.shared.stop.cancel();
        self.shared.tasks.close();
        self.shared.tasks.wait().await;
        let state = self.shared.lock();
        if let Err(e) = state.journal.checkpoint() {
            warn!(error = %e, "journal checkpoint failed (the WAL is kept and replayed on start)");
        }
        info!("jobs stopped; journal flushed");
    }
}

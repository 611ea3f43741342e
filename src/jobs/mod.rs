//! The job state machine: one checkout becomes one order, one receipt and one outcome.
//!
//! ```text
//!   checkout ──▶ ordering ──place──▶ awaiting_payment ⇄ user_paying ──query: SUCCESS──▶ paid
//!                   │                    │    (print the QR once)
//!                   │                    ├──time_expire──▶ close ──▶ closed{expired}
//!                   │                    └──cancel──▶ cancelling ──close when allowed──▶ closed{cancelled}
//!                   └──refused by WeChat Pay──▶ failed
//! ```
//!
//! Every job with an open outcome has one task ([`drive`]) that places the order, prints
//! the receipt and then polls the payment backend until the order is paid or closed. The
//! rules that protect money live here, not in the backends:
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

use std::collections::HashMap;
use std::future::Future;
use std::sync::{Arc, Mutex, MutexGuard, Weak};
use std::time::Duration;

use serde::{Deserialize, Serialize};
use tokio::sync::{Notify, mpsc};
use tokio::time::Instant;
use tokio_util::sync::CancellationToken;
use tokio_util::task::TaskTracker;
use tracing::{debug, error, info, warn};

use crate::clock;
use crate::config::PollSchedule;
use crate::journal::{JobRecord, Journal, JournalError};
use crate::payment::{Payment, PaymentBackend, PaymentError, PlaceOrder, TradeState};
use crate::printer::{PrinterError, PrinterHandle};
use crate::protocol::{
    Checkout, CloseReason, ErrorBody, ErrorCode, Event, JobState, JobStatus, Order, PaidAmount,
    PrintState, PrinterStatus, ReceiptSpec, StatusAmount,
};
use crate::receipt::{self, Layout};

/// What the state machine needs from the settings.
#[derive(Debug, Clone)]
pub struct JobsConfig {
    /// `time_expire = now + order_ttl` when the POS gives none.
    pub order_ttl: Duration,
    /// WeChat Pay's rule: never close a younger order.
    pub close_min_age: Duration,
    pub poll: PollSchedule,
    /// `[receipt]` defaults; a checkout's `receipt` overrides them.
    pub receipt_title: String,
    pub receipt_footer: String,
    pub layout: Layout,
    /// The printer profile's name, for the test page.
    pub profile: String,
    /// A receipt the printer cannot take (paper out, offline, unplugged) stays pending and
    /// is tried again; after this long it is `failed` (the order stays payable).
    pub print_timeout: Duration,
}

/// The longest pause between two attempts at a failing backend call.
const MAX_BACKOFF: Duration = Duration::from_secs(30);

/// Handle on the job manager; cheap to clone.
#[derive(Clone)]
pub struct Jobs {
    shared: Arc<Shared>,
}

struct Shared {
    config: JobsConfig,
    backend: Arc<dyn PaymentBackend>,
    /// Where loopback (technician test) orders are placed: never WeChat Pay.
    loopback: Arc<crate::payment::sandbox::Sandbox>,
    printer: PrinterHandle,
    state: Mutex<State>,
    /// Tells job tasks to stop at their next safe point (never mid-print).
    stop: CancellationToken,
    tasks: TaskTracker,
}

struct State {
    journal: Journal,
    /// Jobs whose outcome is open, each driven by a task.
    active: HashMap<String, Active>,
    subscribers: Vec<Subscriber>,
    next_subscriber: u64,
    shutting_down: bool,
}

struct Active {
    record: JobRecord,
    /// Whether `record` is what the journal holds (a write may have failed).
    durable: bool,
    /// Wakes the job's task early: a cancel, a sandbox payment.
    wake: Arc<Notify>,
}

struct Subscriber {
    id: u64,
    /// `Some(no)`: only that order's events; `None`: everything (`watch`).
    filter: Option<String>,
    tx: mpsc::Sender<Event>,
}

/// Events a subscriber may have waiting before it counts as stalled and is dropped (a
/// `watch` client that stopped reading must not grow the daemon's memory without limit).
const SUBSCRIBER_QUEUE: usize = 1024;

/// A stream of events; unsubscribes when dropped.
pub struct Subscription {
    id: u64,
    rx: mpsc::Receiver<Event>,
    shared: Weak<Shared>,
}

impl Subscription {
    /// The next event, or `None` once the daemon has stopped.
    pub async fn recv(&mut self) -> Option<Event> {
        self.rx.recv().await
    }
}

impl Drop for Subscription {
    fn drop(&mut self) {
        if let Some(shared) = self.shared.upgrade() {
            shared.lock().subscribers.retain(|s| s.id != self.id);
        }
    }
}

/// The answer to a request that follows a job: what already happened, then what comes.
pub struct Follow {
    /// Events to send at once, in order.
    pub initial: Vec<Event>,
    /// Later events of the job; `None` when the job is already over.
    pub subscription: Option<Subscription>,
}

/// A refused request: the error, and the state of the order it concerns, if it exists.
#[derive(Debug, Clone, PartialEq)]
pub struct Refused {
    pub error: ErrorBody,
    pub state: Option<JobState>,
}

impl From<ErrorBody> for Refused {
    fn from(error: ErrorBody) -> Self {
        Refused { error, state: None }
    }
}

impl Refused {
    fn about(record: &JobRecord, error: ErrorBody) -> Self {
        Refused {
            error,
            state: Some(record.state),
        }
    }
}

/// Why the job manager could not start.
#[derive(Debug, thiserror::Error)]
pub enum JobsError {
    #[error(transparent)]
    Journal(#[from] JournalError),
}

/// The checkout content that makes a retry "identical": `order` and `receipt`, canonical.
#[derive(Serialize, Deserialize)]
struct StoredRequest {
    order: Order,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    receipt: Option<ReceiptSpec>,
}

fn err(code: ErrorCode, message: impl Into<String>) -> ErrorBody {
    ErrorBody::new(code, message)
}

fn shutting_down() -> ErrorBody {
    err(
        ErrorCode::ShuttingDown,
        "wxprint is shutting down; retry once it is back (systemd restarts it)",
    )
}

fn not_found(no: &str) -> ErrorBody {
    err(
        ErrorCode::OrderNotFound,
        format!("no order {no:?} is known to this wxprint"),
    )
}

fn sandbox_only(shared: &Shared) -> ErrorBody {
    err(
        ErrorCode::SandboxOnly,
        format!(
            "sandbox_pay works only with the sandbox backend (or a loopback order); this daemon uses {:?}",
            shared.backend.name()
        ),
    )
}

/// Whether the customer can still pay with the printed QR: placed, not over, not expired.
fn payable(record: &JobRecord) -> bool {
    matches!(
        record.state,
        JobState::AwaitingPayment | JobState::UserPaying
    ) && record.code_url.is_some()
        && clock::now_ms() < record.expire_ms
}

fn not_payable(record: &JobRecord) -> ErrorBody {
    let why = if record.state.is_final() || record.state == JobState::Cancelling {
        record.state.as_str()
    } else if record.code_url.is_none() {
        "not placed yet"
    } else {
        "past its time_expire"
    };
    err(
        ErrorCode::NotPayable,
        format!(
            "order {:?} is {why}; only an order awaiting payment can be paid or reprinted",
            record.out_trade_no
        ),
    )
}

/// The checkout content that makes a retry "identical", as canonical JSON. An empty
/// `receipt` object is the same as none.
fn canonical_request(checkout: &Checkout) -> String {
    let receipt = checkout
        .receipt
        .clone()
        .filter(|r| r != &ReceiptSpec::default());
    let stored = StoredRequest {
        order: checkout.order.clone(),
        receipt,
    };
    serde_json::to_string(&stored).expect("plain data")
}

fn journal_failed(e: &JournalError) -> ErrorBody {
    err(
        ErrorCode::Internal,
        format!("the journal could not store the order, so nothing was placed: {e}"),
    )
}

impl Shared {
    fn lock(&self) -> MutexGuard<'_, State> {
        self.state.lock().unwrap_or_else(|p| p.into_inner())
    }

    /// The current record of an active job.
    fn record(&self, no: &str) -> Option<JobRecord> {
        self.lock().active.get(no).map(|a| a.record.clone())
    }

    /// Apply `change` to an active job, commit it, then send the event it returns. The
    /// journal write happens before anyone hears of the change.
    fn transition(
        &self,
        no: &str,
        change: impl FnOnce(&mut JobRecord) -> Option<Event>,
    ) -> Option<JobRecord> {
        let mut state = self.lock();
        let state = &mut *state;
        let active = state.active.get_mut(no)?;
        let mut record = active.record.clone();
        let event = change(&mut record);
        record.updated_ms = clock::now_ms();
        active.durable = match state.journal.update(&record) {
            Ok(()) => true,
            Err(e) => {
                // The event still goes out: a POS must hear of a payment even when the disk
                // is failing. Nothing is printed until the record is safe (see
                // `ensure_durable`), so a restart can never re-place a printed order.
                error!(out_trade_no = no, error = %e, "journal write failed");
                false
            }
        };
        active.record = record.clone();
        if record.state.is_final() {
            state.active.remove(no);
        }
        if let Some(event) = event {
            state.emit(&event);
        }
        Some(record)
    }

    /// Whether the job's current record is in the journal; writes it again if an earlier
    /// write failed.
    fn ensure_durable(&self, no: &str) -> bool {
        let mut guard = self.lock();
        let state = &mut *guard;
        let Some(active) = state.active.get_mut(no) else {
            return true;
        };
        if !active.durable {
            active.durable = state.journal.update(&active.record).is_ok();
        }
        active.durable
    }

    /// The backend a job's order lives on.
    fn backend_of(&self, record: &JobRecord) -> &dyn PaymentBackend {
        if record.loopback {
            self.loopback.as_ref()
        } else {
            self.backend.as_ref()
        }
    }

    /// Send an event about a job without changing it (nothing to journal).
    fn notify(&self, event: Event) {
        self.lock().emit(&event);
    }

    async fn or_stop<F: Future>(&self, f: F) -> Option<F::Output> {
        tokio::select! {
            biased;
            _ = self.stop.cancelled() => None,
            out = f => Some(out),
        }
    }

    async fn sleep(&self, d: Duration, wake: &Notify) -> Option<()> {
        tokio::select! {
            biased;
            _ = self.stop.cancelled() => None,
            _ = wake.notified() => Some(()),
            _ = tokio::time::sleep(d) => Some(()),
        }
    }
}

impl State {
    /// The stored record of a job that is not active (its outcome is known), or
    /// `order_not_found`.
    fn stored(&self, no: &str) -> Result<JobRecord, ErrorBody> {
        self.journal
            .get(no)
            .map_err(|e| err(ErrorCode::Internal, e.to_string()))?
            .ok_or_else(|| not_found(no))
    }

    /// Send `event` to the subscribers of its order and to the watchers.
    fn emit(&mut self, event: &Event) {
        self.deliver(event, false);
    }

    /// Send to `watch`ers only (an `accepted` concerns the requester and the watchers, not
    /// other connections following the same order).
    fn emit_to_watchers(&mut self, event: &Event) {
        self.deliver(event, true);
    }

    fn deliver(&mut self, event: &Event, watchers_only: bool) {
        let no = event.out_trade_no();
        self.subscribers.retain(|s| {
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

    fn subscribe(&mut self, filter: Option<String>, shared: &Arc<Shared>) -> Subscription {
        let (tx, rx) = mpsc::channel(SUBSCRIBER_QUEUE);
        self.next_subscriber += 1;
        let id = self.next_subscriber;
        self.subscribers.push(Subscriber { id, filter, tx });
        Subscription {
            id,
            rx,
            shared: Arc::downgrade(shared),
        }
    }
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
        let shared = Arc::new(Shared {
            config,
            backend,
            loopback: Arc::new(crate::payment::sandbox::Sandbox::in_memory()),
            printer,
            state: Mutex::new(State {
                journal,
                active: HashMap::new(),
                subscribers: Vec::new(),
                next_subscriber: 0,
                shutting_down: false,
            }),
            stop: CancellationToken::new(),
            tasks: TaskTracker::new(),
        });
        let jobs = Jobs { shared };
        for record in unfinished {
            info!(
                out_trade_no = %record.out_trade_no,
                state = record.state.as_str(),
                "resuming unfinished job"
            );
            let mut state = jobs.shared.lock();
            jobs.activate(&mut state, record);
        }
        Ok(jobs)
    }

    /// How many jobs have an open outcome.
    pub fn active_count(&self) -> usize {
        self.shared.lock().active.len()
    }

    fn activate(&self, state: &mut State, record: JobRecord) {
        let wake = Arc::new(Notify::new());
        let no = record.out_trade_no.clone();
        state.active.insert(
            no.clone(),
            Active {
                record,
                durable: true,
                wake: wake.clone(),
            },
        );
        self.shared
            .tasks
            .spawn(drive(self.shared.clone(), no, wake));
    }

    /// `checkout`: start a job, or resume the identical one.
    pub fn checkout(&self, checkout: &Checkout) -> Result<Follow, Refused> {
        let request = canonical_request(checkout);
        let loopback = checkout.loopback;
        let no = checkout.order.out_trade_no.clone();

        let mut state = self.shared.lock();
        if state.shutting_down {
            return Err(shutting_down().into());
        }
        let known = match state.active.get(&no) {
            Some(a) => Some(a.record.clone()),
            None => state.journal.get(&no).map_err(|e| journal_failed(&e))?,
        };
        if let Some(record) = known {
            if record.request != request {
                let error = err(
                    ErrorCode::DuplicateOrder,
                    format!(
                        "order {no:?} was already checked out with different content; \
                         use a new out_trade_no for a different order"
                    ),
                );
                return Err(Refused::about(&record, error));
            }
            debug!(out_trade_no = %no, "identical checkout: resuming the job");
            let accepted = Event::Accepted {
                out_trade_no: no.clone(),
                state: record.state,
                resumed: true,
            };
            state.emit_to_watchers(&accepted); // watchers see the retry too
            let mut initial = vec![accepted];
            initial.extend(replay(&record));
            let subscription =
                (!record.state.is_final()).then(|| state.subscribe(Some(no.clone()), &self.shared));
            return Ok(Follow {
                initial,
                subscription,
            });
        }

        // A new order. Its time_expire is fixed now, so that every placement is identical.
        let now = clock::now_ms();
        let expire_ms = match &checkout.order.time_expire {
            // WeChat Pay silently raises a time_expire less than a minute ahead to one
            // minute; do the same so that both agree on when the QR stops working.
            Some(t) => match clock::parse_rfc3339(t) {
                Some(ms) if ms > now => ms.max(now + 60_000),
                _ => {
                    let mut error = err(
                        ErrorCode::InvalidRequest,
                        format!("order.time_expire: {t:?} is already past"),
                    );
                    error.field = Some("order.time_expire".into());
                    return Err(error.into());
                }
            },
            None => now + clock::ms(self.shared.config.order_ttl),
        };
        let order = &checkout.order;
        let record = JobRecord {
            attach: order.attach.clone(),
            goods_tag: order.goods_tag.clone(),
            loopback,
            ..JobRecord::new(
                &no,
                request,
                &order.description,
                order.amount.total,
                &order.amount.currency,
                expire_ms,
                now,
            )
        };
        // Pin the exact request before the first attempt, in the same commit.
        let mut record = record;
        record.place_body = self
            .shared
            .backend_of(&record)
            .prepare(&place_order(&record));
        state
            .journal
            .insert(&record)
            .map_err(|e| journal_failed(&e))?;
        info!(out_trade_no = %no, total = record.total, "checkout accepted");
        let accepted = Event::Accepted {
            out_trade_no: no.clone(),
            state: JobState::Ordering,
            resumed: false,
        };
        state.emit_to_watchers(&accepted);
        let subscription = state.subscribe(Some(no), &self.shared);
        self.activate(&mut state, record);
        Ok(Follow {
            initial: vec![accepted],
            subscription: Some(subscription),
        })
    }

    /// `status`: the job's full record.
    pub fn status(&self, no: &str) -> Result<Event, Refused> {
        let state = self.shared.lock();
        let record = match state.active.get(no) {
            Some(a) => a.record.clone(),
            None => state.stored(no)?,
        };
        Ok(Event::Status(Box::new(status_of(&record))))
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
            let mut record = active.record.clone();
            record.state = JobState::Cancelling;
            record.updated_ms = clock::now_ms();
            state
                .journal
                .update(&record)
                .map_err(|e| err(ErrorCode::Internal, e.to_string()))?;
            active.record = record;
            active.wake.notify_one();
            info!(out_trade_no = no, "cancel requested");
            // Watchers and the checkout's own connection hear of it too.
            state.emit(&cancelling);
        }
        let subscription = state.subscribe(Some(no.to_owned()), &self.shared);
        Ok(Follow {
            initial: vec![cancelling],
            subscription: Some(subscription),
        })
    }

    /// `sandbox_pay`: pay the order at the sandbox backend, then let the job notice it.
    pub fn sandbox_pay(&self, no: &str) -> Result<Follow, Refused> {
        let (record, wake, subscription) = {
            let mut state = self.shared.lock();
            if state.shutting_down {
                return Err(shutting_down().into());
            }
            let Some(active) = state.active.get(no) else {
                let record = state.stored(no)?;
                let error = if self.shared.backend_of(&record).as_sandbox().is_none() {
                    sandbox_only(&self.shared)
                } else {
                    not_payable(&record)
                };
                return Err(Refused::about(&record, error));
            };
            let (record, wake) = (active.record.clone(), active.wake.clone());
            (
                record,
                wake,
                state.subscribe(Some(no.to_owned()), &self.shared),
            )
        };
        // Loopback orders are on the built-in sandbox whatever the daemon's backend.
        let Some(sandbox) = self.shared.backend_of(&record).as_sandbox() else {
            return Err(Refused::about(&record, sandbox_only(&self.shared)));
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
        self.shared.lock().subscribe(None, &self.shared)
    }

    /// `reprint`: print the receipt again with the same `code_url` (never a new order).
    pub async fn reprint(&self, no: &str) -> Result<Event, Refused> {
        let record = {
            let state = self.shared.lock();
            if state.shutting_down {
                return Err(shutting_down().into());
            }
            match state.active.get(no) {
                Some(a) => a.record.clone(),
                None => {
                    let record = state.stored(no)?;
                    return Err(Refused::about(&record, not_payable(&record)));
                }
            }
        };
        if !payable(&record) {
            return Err(Refused::about(&record, not_payable(&record)));
        }
        let location = print_receipt(&self.shared, &record)
            .await
            .map_err(|e| Refused::about(&record, err(ErrorCode::Printer, e.to_string())))?;
        let mut reply = None;
        self.shared.transition(no, |r| {
            r.print = PrintState::Printed;
            let event = Event::Printed {
                out_trade_no: Some(r.out_trade_no.clone()),
                state: Some(r.state),
                print: PrintState::Printed,
                location,
            };
            reply = Some(event.clone());
            Some(event)
        });
        // Paid or closed while printing: report the reprint all the same.
        Ok(reply.unwrap_or(Event::Printed {
            out_trade_no: Some(no.to_owned()),
            state: Some(record.state),
            print: PrintState::Printed,
            location: None,
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
        let info = vec![
            format!("wxprint {}", env!("CARGO_PKG_VERSION")),
            format!("profile: {}", config.profile),
            format!("printer: {}", self.shared.printer.describe()),
            format!(
                "status: online {}, paper {}, cover {}{}",
                status
                    .online
                    .map_or("unknown", |o| if o { "yes" } else { "no" }),
                status.paper,
                status
                    .cover_open
                    .map_or("unknown", |o| if o { "open" } else { "closed" }),
                status.error.map(|e| format!(" ({e})")).unwrap_or_default()
            ),
            format!(
                "paper: {} dots, {} columns, QR {:?}",
                config.layout.width_dots, config.layout.columns, config.layout.qr
            ),
            format!("payment backend: {}", self.shared.backend.name()),
            format!("time: {}", clock::receipt_time(clock::now_ms())),
        ];
        let bytes = receipt::test_page(&info, &config.layout);
        let location = self
            .shared
            .printer
            .print("test-page", bytes)
            .await
            .map_err(|e| Refused::from(err(ErrorCode::Printer, e.to_string())))?;
        Ok(Event::Printed {
            out_trade_no: None,
            state: None,
            print: PrintState::Printed,
            location,
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

/// The events a job has already reached, for a resumed checkout.
fn replay(record: &JobRecord) -> Vec<Event> {
    let no = || record.out_trade_no.clone();
    let mut events = Vec::new();
    // A code_url is announced when the job goes to awaiting_payment; one that arrived after
    // a cancel was never announced (nor printed) and must not be now.
    let announced = record.print != PrintState::Pending
        || matches!(
            record.state,
            JobState::AwaitingPayment | JobState::UserPaying
        );
    if let Some(code_url) = record.code_url.as_ref().filter(|_| announced) {
        events.push(Event::CodeUrl {
            out_trade_no: no(),
            state: record.state,
            code_url: code_url.clone(),
        });
    }
    match record.print {
        PrintState::Printed => events.push(Event::Printed {
            out_trade_no: Some(no()),
            state: Some(record.state),
            print: PrintState::Printed,
            location: None,
        }),
        PrintState::Failed => events.push(Event::Error {
            out_trade_no: Some(no()),
            state: Some(record.state),
            print: Some(PrintState::Failed),
            error: record
                .error
                .clone()
                .unwrap_or_else(|| err(ErrorCode::Printer, "the receipt could not be printed")),
        }),
        PrintState::Pending => {}
    }
    match record.state {
        JobState::Cancelling => events.push(Event::Cancelling {
            out_trade_no: no(),
            state: record.state,
        }),
        JobState::Paid => events.push(paid_event(record)),
        JobState::Closed => events.push(Event::Closed {
            out_trade_no: no(),
            state: record.state,
            reason: record.close_reason.unwrap_or(CloseReason::Remote),
        }),
        JobState::Failed => events.push(Event::Failed {
            out_trade_no: no(),
            state: record.state,
            error: record
                .error
                .clone()
                .unwrap_or_else(|| err(ErrorCode::Internal, "failed")),
        }),
        JobState::Ordering | JobState::AwaitingPayment | JobState::UserPaying => {}
    }
    events
}

fn paid_event(record: &JobRecord) -> Event {
    Event::Paid {
        out_trade_no: record.out_trade_no.clone(),
        state: JobState::Paid,
        transaction_id: record.transaction_id.clone().unwrap_or_default(),
        success_time: record.success_time.clone().unwrap_or_default(),
        amount: PaidAmount {
            total: record.paid_total.unwrap_or(record.total),
            payer_total: record.payer_total.unwrap_or(record.total),
            currency: record.currency.clone(),
        },
    }
}

fn status_of(r: &JobRecord) -> JobStatus {
    JobStatus {
        out_trade_no: r.out_trade_no.clone(),
        state: r.state,
        print: r.print,
        code_url: r.code_url.clone(),
        description: r.description.clone(),
        amount: StatusAmount {
            total: r.total,
            currency: r.currency.clone(),
        },
        created_at: clock::rfc3339(r.created_ms),
        updated_at: clock::rfc3339(r.updated_ms),
        time_expire: r.time_expire.clone(),
        transaction_id: r.transaction_id.clone(),
        success_time: r.success_time.clone(),
        payer_total: r.payer_total,
        close_reason: r.close_reason,
        error: r.error.clone(),
    }
}

fn place_order(r: &JobRecord) -> PlaceOrder {
    PlaceOrder {
        out_trade_no: r.out_trade_no.clone(),
        description: r.description.clone(),
        total: r.total,
        currency: r.currency.clone(),
        attach: r.attach.clone(),
        goods_tag: r.goods_tag.clone(),
        time_expire: r.time_expire.clone(),
        request: r.place_body.clone(),
    }
}

/// Exponential back-off with jitter: 1 s, 2 s, 4 s … up to [`MAX_BACKOFF`].
fn backoff(attempt: u32) -> Duration {
    let base = Duration::from_secs(1 << attempt.min(5)).min(MAX_BACKOFF);
    base + Duration::from_millis(fastrand::u64(0..250))
}

/// Build the receipt of `record` and write it to the printer.
async fn print_receipt(
    shared: &Shared,
    record: &JobRecord,
) -> Result<Option<String>, PrinterError> {
    let spec = serde_json::from_str::<StoredRequest>(&record.request)
        .ok()
        .and_then(|s| s.receipt)
        .unwrap_or_default();
    let config = &shared.config;
    let lines = match spec.lines {
        Some(lines) => lines
            .into_iter()
            .map(|l| receipt::Line {
                name: l.name,
                quantity: l.quantity,
                amount: l.amount,
            })
            .collect(),
        // No item lines: the order's description stands for the whole purchase.
        None => vec![receipt::Line {
            name: record.description.clone(),
            quantity: 1,
            amount: record.total,
        }],
    };
    let receipt = receipt::Receipt {
        title: spec.title.unwrap_or_else(|| config.receipt_title.clone()),
        lines,
        total: record.total,
        code_url: record.code_url.clone().unwrap_or_default(),
        footer: spec.footer.unwrap_or_else(|| config.receipt_footer.clone()),
        out_trade_no: record.out_trade_no.clone(),
        time: clock::receipt_time(record.created_ms),
        sandbox: shared.backend_of(record).as_sandbox().is_some(),
    };
    let bytes = receipt::encode(&receipt, &config.layout);
    shared.printer.print(&record.out_trade_no, bytes).await
}

/// The task of one job: place, print, poll, close. Returns when the job is final or the
/// daemon stops (the journal then holds where it was, and the next start resumes it).
async fn drive(shared: Arc<Shared>, no: String, wake: Arc<Notify>) {
    if run(&shared, &no, &wake).await.is_none() {
        debug!(out_trade_no = %no, "job paused for shutdown");
    }
}

async fn run(shared: &Shared, no: &str, wake: &Notify) -> Option<()> {
    // The order may exist at WeChat Pay from any attempt up to now (a placement whose
    // answer was lost, or one made before a restart): its age counts from the latest.
    let mut last_attempt_ms = clock::now_ms();
    place(shared, no, wake, &mut last_attempt_ms).await?;
    let mut printing = Printing::default();
    print_attempt(shared, no, &mut printing).await;
    poll(shared, no, wake, last_attempt_ms, &mut printing).await
}

/// Place the order, retrying the identical request while the outcome is unknown.
async fn place(shared: &Shared, no: &str, wake: &Notify, last_attempt_ms: &mut i64) -> Option<()> {
    let mut attempt = 0;
    loop {
        let record = shared.record(no)?;
        // Cancelled or expired before the order was known: the poll loop closes it
        // (closing an order that was never created is harmless).
        if record.state != JobState::Ordering || clock::now_ms() >= record.expire_ms {
            return Some(());
        }
        let order = place_order(&record);
        let answer = shared
            .or_stop(shared.backend_of(&record).place(&order))
            .await;
        // The order may have been created at any moment up to the answer (or the lack of
        // one): count its age from the latest, so a close is never early.
        *last_attempt_ms = clock::now_ms();
        match answer? {
            Ok(placed) => {
                info!(out_trade_no = no, code_url = %placed.code_url, "order placed");
                let placed_ms = *last_attempt_ms;
                shared.transition(no, |r| {
                    r.code_url = Some(placed.code_url.clone());
                    r.placed_ms = Some(placed_ms);
                    if r.state != JobState::Ordering {
                        return None; // cancelled meanwhile: no QR for this order
                    }
                    r.state = JobState::AwaitingPayment;
                    Some(Event::CodeUrl {
                        out_trade_no: r.out_trade_no.clone(),
                        state: r.state,
                        code_url: placed.code_url,
                    })
                });
                return Some(());
            }
            Err(PaymentError::Rejected { code, .. })
                if matches!(code.as_str(), "ORDER_CLOSED" | "ORDERCLOSED") =>
            {
                // Closed at WeChat Pay before we could place it again: it cannot be paid.
                finish_closed(shared, no, None);
                return Some(());
            }
            Err(PaymentError::Rejected {
                code,
                message,
                request_id,
            }) => {
                warn!(out_trade_no = no, %code, %message, ?request_id, "order refused");
                let error = ErrorBody {
                    code: ErrorCode::Wechatpay,
                    message,
                    wechatpay_code: Some(code),
                    request_id,
                    field: None,
                };
                shared.transition(no, |r| {
                    r.state = JobState::Failed;
                    r.error = Some(error.clone());
                    Some(Event::Failed {
                        out_trade_no: r.out_trade_no.clone(),
                        state: JobState::Failed,
                        error,
                    })
                });
                return Some(());
            }
            Err(PaymentError::OrderPaid(_)) => {
                // Placed and paid before we heard back: the poll loop reports it.
                shared.transition(no, |r| {
                    if r.state == JobState::Ordering {
                        r.state = JobState::AwaitingPayment;
                    }
                    None
                });
                return Some(());
            }
            Err(e) => {
                warn!(out_trade_no = no, error = %e, attempt, "placing the order failed; retrying the identical request");
                shared.sleep(backoff(attempt), wake).await?;
                attempt += 1;
            }
        }
    }
}

/// Where printing a job's receipt stands (in memory: after a restart the print timeout
/// starts again).
#[derive(Default)]
struct Printing {
    first_attempt: Option<Instant>,
    next_attempt: Option<Instant>,
    /// The last printer state told to the POS, so it hears of each change once.
    reported: Option<PrinterStatus>,
}

impl Printing {
    /// How long until the next attempt, if the receipt is still to be printed.
    fn wait(&self, record: &JobRecord) -> Option<Duration> {
        (record.print == PrintState::Pending && payable(record)).then(|| {
            self.next_attempt
                .map(|at| at.saturating_duration_since(Instant::now()))
                .unwrap_or_default()
        })
    }
}

/// Try to print the receipt, if the order is payable and it is not printed yet. A printer
/// that is not ready (paper out, cover open, offline, unplugged) leaves it pending, tells
/// the POS, and it is tried again; after `print_timeout` it is `failed` — the order stays
/// payable either way. Never interrupted by shutdown: a receipt being written is finished.
async fn print_attempt(shared: &Shared, no: &str, printing: &mut Printing) {
    let Some(record) = shared.record(no) else {
        return;
    };
    // Never print a QR the customer cannot pay any more (e.g. resumed after time_expire).
    if record.print != PrintState::Pending || !payable(&record) {
        return;
    }
    let timeout = shared.config.print_timeout;
    let retry = (timeout / 4).clamp(Duration::from_millis(10), Duration::from_secs(2));
    if !shared.ensure_durable(no) {
        // The code_url is not in the journal yet: a crash now would re-place the order
        // and kill a printed QR. Wait for the disk.
        printing.next_attempt = Some(Instant::now() + retry);
        return;
    }
    let first = *printing.first_attempt.get_or_insert_with(Instant::now);
    let result = print_receipt(shared, &record).await;
    match result {
        Ok(location) => {
            debug!(out_trade_no = no, ?location, "receipt printed");
            shared.transition(no, |r| {
                r.print = PrintState::Printed;
                Some(Event::Printed {
                    out_trade_no: Some(r.out_trade_no.clone()),
                    state: Some(r.state),
                    print: PrintState::Printed,
                    location,
                })
            });
        }
        Err(e) if first.elapsed() >= timeout || matches!(e, PrinterError::Stopped) => {
            warn!(out_trade_no = no, error = %e, "printing failed; the order stays payable");
            let error = err(
                ErrorCode::Printer,
                format!(
                    "the receipt could not be printed within {}: {e}",
                    humantime::format_duration(timeout)
                ),
            );
            shared.transition(no, |r| {
                r.print = PrintState::Failed;
                r.error = Some(error.clone());
                Some(Event::Error {
                    out_trade_no: Some(r.out_trade_no.clone()),
                    state: Some(r.state),
                    print: Some(PrintState::Failed),
                    error,
                })
            });
        }
        Err(e) => {
            printing.next_attempt = Some(Instant::now() + retry);
            let status = match e {
                PrinterError::NotReady(status) => status,
                other => PrinterStatus {
                    online: Some(false),
                    paper: "unknown".into(),
                    cover_open: None,
                    error: Some(other.to_string()),
                    transport: Some(shared.printer.describe().to_owned()),
                },
            };
            if printing.reported.as_ref() != Some(&status) {
                warn!(out_trade_no = no, error = ?status.error, "printer not ready; the receipt waits");
                printing.reported = Some(status.clone());
                shared.notify(Event::Printer {
                    out_trade_no: Some(no.to_owned()),
                    state: Some(record.state),
                    print: Some(PrintState::Pending),
                    status,
                });
            }
        }
    }
}

/// What a close attempt achieved.
enum Closing {
    /// The job is final (closed, or paid after all).
    Settled,
    /// Try again later.
    Retry,
}

/// Poll until the order is paid or closed; close it on expiry or cancel, when allowed.
async fn poll(
    shared: &Shared,
    no: &str,
    wake: &Notify,
    last_attempt_ms: i64,
    printing: &mut Printing,
) -> Option<()> {
    let schedule = shared.config.poll;
    let close_min_age = clock::ms(shared.config.close_min_age);
    let started = Instant::now();
    // Failed closes in a row (back off), and rate-limit answers in a row (back off: WeChat
    // Pay asks for it). Other failed queries keep the schedule: the client already retried
    // them, and an answer that did not verify is simply asked again.
    let mut failures = 0u32;
    let mut rate_limited = 0u32;
    loop {
        let record = shared.record(no)?;
        let now = clock::now_ms();
        let want_close = record.state == JobState::Cancelling || now >= record.expire_ms;
        // WeChat Pay's rule: never close an order younger than close_min_age, counted from
        // the latest moment it may have been created.
        let close_at = record
            .placed_ms
            .unwrap_or(last_attempt_ms)
            .max(last_attempt_ms)
            + close_min_age;
        if want_close && now >= close_at {
            match shared.or_stop(close(shared, &record)).await? {
                Closing::Settled => return Some(()),
                Closing::Retry => {
                    shared.sleep(backoff(failures), wake).await?;
                    failures += 1;
                    continue;
                }
            }
        }

        // Sleep until the next query, or until the close becomes due.
        let mut wait = if record.state == JobState::UserPaying {
            schedule.paying
        } else if started.elapsed() < schedule.fast_window {
            schedule.fast
        } else {
            schedule.slow
        };
        if rate_limited > 0 {
            wait = wait.max(backoff(rate_limited));
        }
        // A receipt waiting for the printer is tried again on its own schedule.
        if let Some(print_in) = printing.wait(&record) {
            if print_in.is_zero() {
                print_attempt(shared, no, printing).await;
                continue;
            }
            wait = wait.min(print_in);
        }
        let due = if want_close {
            close_at
        } else {
            record.expire_ms
        };
        let until_due = Duration::from_millis(u64::try_from(due - now).unwrap_or(0));
        let hit_deadline = until_due <= wait;
        shared.sleep(wait.min(until_due), wake).await?;
        if hit_deadline && clock::now_ms() >= due {
            continue; // time to close: the top of the loop does it
        }
        if record.state == JobState::Ordering && record.code_url.is_none() {
            continue; // nothing placed: nothing to query
        }

        match shared.or_stop(shared.backend_of(&record).query(no)).await? {
            Ok(TradeState::Paid(payment)) => {
                finish_paid(shared, no, payment);
                return Some(());
            }
            Ok(TradeState::Closed) => {
                finish_closed(shared, no, None);
                return Some(());
            }
            Ok(TradeState::UserPaying) => {
                rate_limited = 0;
                shared.transition(no, |r| {
                    if r.state == JobState::AwaitingPayment {
                        r.state = JobState::UserPaying;
                    }
                    None
                });
            }
            Ok(TradeState::NotPay) => {
                rate_limited = 0;
                if record.state == JobState::UserPaying {
                    shared.transition(no, |r| {
                        if r.state == JobState::UserPaying {
                            r.state = JobState::AwaitingPayment;
                        }
                        None
                    });
                }
            }
            Err(PaymentError::RateLimited) => {
                warn!(
                    out_trade_no = no,
                    "rate limited by the payment backend; slowing down"
                );
                rate_limited += 1;
            }
            Err(e) => {
                warn!(out_trade_no = no, error = %e, "query failed; will query again");
            }
        }
    }
}

/// Close the order: query first (it may be paid), close, then query once more — a payment
/// that raced the close wins.
async fn close(shared: &Shared, record: &JobRecord) -> Closing {
    let no = record.out_trade_no.as_str();
    let reason = if record.state == JobState::Cancelling {
        CloseReason::Cancelled
    } else {
        CloseReason::Expired
    };
    let backend = shared.backend_of(record);
    match backend.query(no).await {
        Ok(TradeState::Paid(payment)) => {
            finish_paid(shared, no, payment);
            return Closing::Settled;
        }
        Ok(TradeState::Closed) => {
            finish_closed(shared, no, Some(reason));
            return Closing::Settled;
        }
        _ => {}
    }
    let closed = match backend.close(no).await {
        Ok(()) => true,
        // Never created (cancelled or expired before placement went through).
        Err(PaymentError::OrderNotFound(_)) => true,
        Err(e) => {
            warn!(out_trade_no = no, error = %e, "close failed; querying the order");
            false
        }
    };
    match backend.query(no).await {
        Ok(TradeState::Paid(payment)) => {
            finish_paid(shared, no, payment);
            Closing::Settled
        }
        Ok(TradeState::Closed) => {
            finish_closed(shared, no, Some(reason));
            Closing::Settled
        }
        Err(PaymentError::OrderNotFound(_)) if closed => {
            finish_closed(shared, no, Some(reason));
            Closing::Settled
        }
        Ok(state) => {
            warn!(
                out_trade_no = no,
                ?state,
                closed,
                "order still open after close; retrying"
            );
            Closing::Retry
        }
        Err(e) => {
            warn!(out_trade_no = no, error = %e, "query after close failed; retrying");
            Closing::Retry
        }
    }
}

fn finish_paid(shared: &Shared, no: &str, payment: Payment) {
    info!(out_trade_no = no, transaction_id = %payment.transaction_id, "paid");
    shared.transition(no, |r| {
        if payment.total != r.total {
            error!(
                out_trade_no = no,
                ordered = r.total,
                paid = payment.total,
                "paid amount differs from the order; reporting what WeChat Pay says"
            );
        }
        r.state = JobState::Paid;
        r.transaction_id = Some(payment.transaction_id);
        r.success_time = Some(payment.success_time);
        r.payer_total = Some(payment.payer_total);
        r.paid_total = Some(payment.total);
        Some(paid_event(r))
    });
}

fn finish_closed(shared: &Shared, no: &str, reason: Option<CloseReason>) {
    shared.transition(no, |r| {
        let reason = reason.unwrap_or(match r.state {
            JobState::Cancelling => CloseReason::Cancelled,
            _ if clock::now_ms() >= r.expire_ms => CloseReason::Expired,
            _ => CloseReason::Remote,
        });
        info!(out_trade_no = no, reason = reason.as_str(), "closed");
        r.state = JobState::Closed;
        r.close_reason = Some(reason);
        Some(Event::Closed {
            out_trade_no: r.out_trade_no.clone(),
            state: JobState::Closed,
            reason,
        })
    });
}

impl JobsConfig {
    /// The state machine's part of the settings.
    pub fn from_settings(settings: &crate::config::Settings) -> JobsConfig {
        JobsConfig {
            order_ttl: settings.wechatpay.order_ttl,
            close_min_age: settings.wechatpay.close_min_age,
            poll: settings.wechatpay.poll,
            receipt_title: settings.receipt.title.clone(),
            receipt_footer: settings.receipt.footer.clone(),
            layout: layout_for(&settings.printer),
            profile: settings.printer.profile.clone(),
            print_timeout: settings.printer.print_timeout,
        }
    }
}

/// Paper geometry, text mode and QR style for the configured printer profile (an unknown
/// profile name is refused at start, see [`crate::printer::profile::find`]; here it falls
/// back to the generic 80 mm profile).
pub fn layout_for(printer: &crate::config::PrinterSettings) -> Layout {
    use crate::config::QrMode;
    use crate::printer::profile;
    let profile = profile::find(&printer.profile).unwrap_or(&profile::PROFILES[0]);
    let qr = match printer.qr {
        QrMode::Native => receipt::QrStyle::Native,
        QrMode::Raster => receipt::QrStyle::Raster,
        QrMode::Auto => profile.auto_qr(),
    };
    profile.layout(qr)
}

//! Test fixtures for the unit tests of `jobs/`: records at fixed times, payments, the
//! settings, and — for the few tests that drive real I/O — a [`Shared`] over a scripted
//! payment backend, a journal and a file printer in a temporary directory.

use std::collections::VecDeque;
use std::path::Path;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use tokio::sync::Notify;
use tokio_util::sync::CancellationToken;
use tokio_util::task::TaskTracker;

use super::Jobs;
use super::budget::QueryBudget;
use super::config::JobsConfig;
use super::state::{Active, Shared, State};
use super::transitions;
use crate::config::PollSchedule;
use crate::escpos::Layout;
use crate::journal::{JobRecord, Journal};
use crate::money::Money;
use crate::payment::sandbox::Sandbox;
use crate::payment::{
    BoxFuture, Payment, PaymentBackend, PaymentError, PlaceOrder, Placed, TradeState,
};
use crate::printer::{FilePrinter, PrinterHandle};

/// 2026-11-26T12:00:00+08:00: when the fixtures' job is checked out.
pub(crate) const T0: i64 = 1_795_665_600_000;
pub(crate) const SECOND: i64 = 1_000;
pub(crate) const MINUTE: i64 = 60 * SECOND;
/// The fixtures' order number.
pub(crate) const NO: &str = "T0001";
pub(crate) const CODE_URL: &str = "weixin://wxpay/bizpayurl?pr=abc";

/// A new job: `ordering`, its placement request pinned, accepted at [`T0`], expiring ten
/// minutes later.
pub(crate) fn ordering() -> JobRecord {
    new_job(T0)
}

/// The new job as if checked out just now (for tests that run on the wall clock).
pub(crate) fn ordering_now() -> JobRecord {
    new_job(crate::clock::now_ms())
}

fn new_job(created_ms: i64) -> JobRecord {
    let expire_ms = created_ms + 10 * MINUTE;
    JobRecord {
        place_body: Some(r#"{"pinned":"at checkout"}"#.into()),
        ..JobRecord::new(
            NO,
            r#"{"order":{}}"#,
            "Latte x2",
            Money::cny(3200),
            expire_ms,
            created_ms,
        )
    }
}

/// The same job, placed at [`T0`]: `awaiting_payment`, nothing printed yet.
pub(crate) fn awaiting() -> JobRecord {
    let mut r = ordering();
    transitions::placed(&mut r, CODE_URL.into(), T0);
    r
}

/// The same job, placed and then cancelled.
pub(crate) fn cancelling() -> JobRecord {
    JobRecord {
        state: crate::protocol::JobState::Cancelling,
        ..awaiting()
    }
}

/// A payment of `total` fen, as WeChat Pay reports it.
pub(crate) fn payment(total: i64) -> Payment {
    Payment {
        transaction_id: "4200000001".into(),
        success_time: "2026-11-26T12:01:00+08:00".into(),
        total: Money::cny(total),
        payer_total: Money::cny(total - 100),
        exchange_rate: None,
        discount: None,
    }
}

/// The production schedule and close age, with a short print timeout.
pub(crate) fn config() -> JobsConfig {
    JobsConfig {
        order_ttl: Duration::from_secs(600),
        close_min_age: Duration::from_secs(300),
        time_expire_min: Duration::from_secs(1),
        place_timeout: Duration::from_secs(30),
        poll: PollSchedule::default(),
        receipt_title: "Test Shop".into(),
        receipt_footer: "Thank you".into(),
        paid_slip: false,
        layout: Layout::MM80,
        profile: "80mm".into(),
        print_timeout: Duration::from_millis(300),
        query_rate: 10,
        keep_finished: Duration::from_secs(30 * 24 * 3600),
        drawer: crate::escpos::DrawerPulse::default(),
    }
}

/// A [`Shared`] over `backend`, with its journal and receipts in `dir`, and `record` active
/// (journaled, no task running). Returns the job's wake-up.
pub(crate) fn shared(
    backend: Arc<dyn PaymentBackend>,
    dir: &Path,
    record: JobRecord,
) -> (Shared, Arc<Notify>) {
    let mut journal = Journal::open(dir).expect("journal");
    journal.insert(&record).expect("insert");
    let mut state = State::new(journal);
    let wake = Arc::new(Notify::new());
    let active = Active {
        record: Box::new(record),
        durable: true,
        wake: wake.clone(),
        last_error: None,
    };
    state.active.insert(NO.into(), active);
    let shared = Shared {
        config: config(),
        backend,
        loopback: Arc::new(Sandbox::in_memory()),
        printer: PrinterHandle::spawn(Box::new(FilePrinter::new(dir.join("receipts")))),
        state: Mutex::new(state),
        stop: CancellationToken::new(),
        tasks: TaskTracker::new(),
        queries: QueryBudget::new(1000),
        slips: Notify::new(),
    };
    (shared, wake)
}

/// A started [`Jobs`] manager over `backend`, with its journal and receipts in `dir` and no
/// job yet.
pub(crate) fn jobs(backend: Arc<dyn PaymentBackend>, dir: &Path) -> Jobs {
    let journal = Journal::open(dir).expect("journal");
    let printer = PrinterHandle::spawn(Box::new(FilePrinter::new(dir.join("receipts"))));
    Jobs::start(config(), backend, printer, journal).expect("jobs")
}

/// The journal's record of the fixtures' job.
pub(crate) fn journaled(shared: &Shared) -> JobRecord {
    shared
        .lock()
        .journal
        .get(NO)
        .expect("read")
        .expect("stored")
}

/// A payment backend that answers from a script and notes every call. An exhausted
/// script answers `place` and `close` with a transient failure and `query` with NOTPAY.
#[derive(Default)]
pub(crate) struct Scripted {
    pub(crate) place: Mutex<VecDeque<Result<Placed, PaymentError>>>,
    pub(crate) query: Mutex<VecDeque<Result<TradeState, PaymentError>>>,
    pub(crate) close: Mutex<VecDeque<Result<(), PaymentError>>>,
    /// `place`, `query` and `close`, in the order they were called.
    pub(crate) calls: Mutex<Vec<&'static str>>,
    /// Every order `place` was asked to place.
    pub(crate) placed: Mutex<Vec<PlaceOrder>>,
    /// Takes any currency (default: CNY only, as mainland WeChat Pay).
    pub(crate) any_currency: bool,
}

fn next<T>(script: &Mutex<VecDeque<Result<T, PaymentError>>>) -> Result<T, PaymentError> {
    let exhausted = PaymentError::Transient {
        message: "script exhausted".into(),
        request_id: None,
    };
    script.lock().unwrap().pop_front().unwrap_or(Err(exhausted))
}

impl PaymentBackend for Scripted {
    fn name(&self) -> &'static str {
        "scripted"
    }

    fn accepts(&self, amount: &Money) -> Result<(), String> {
        if self.any_currency {
            return Ok(());
        }
        crate::payment::cny_only(amount)
    }

    fn place<'a>(&'a self, order: &'a PlaceOrder) -> BoxFuture<'a, Result<Placed, PaymentError>> {
        self.calls.lock().unwrap().push("place");
        self.placed.lock().unwrap().push(order.clone());
        Box::pin(async move { next(&self.place) })
    }

    fn query<'a>(&'a self, _: &'a str) -> BoxFuture<'a, Result<TradeState, PaymentError>> {
        self.calls.lock().unwrap().push("query");
        let answer = self.query.lock().unwrap().pop_front();
        Box::pin(async move { answer.unwrap_or(Ok(TradeState::NotPay)) })
    }

    fn close<'a>(&'a self, _: &'a str) -> BoxFuture<'a, Result<(), PaymentError>> {
        self.calls.lock().unwrap().push("close");
        Box::pin(async move { next(&self.close) })
    }
}

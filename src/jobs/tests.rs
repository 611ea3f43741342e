//! The [`Jobs`] handle against a scripted backend: the refusals a checkout gets before
//! anything is stored or placed.

use std::sync::Arc;

use serde_json::json;

use super::Jobs;
use super::fixtures::{self, Scripted};
use crate::protocol::{Checkout, ErrorCode};

/// A checkout of order `no` for 1 fen in `currency`, a loopback one if `loopback`.
fn checkout(no: &str, currency: &str, loopback: bool) -> Checkout {
    serde_json::from_value(json!({
        "order": {
            "out_trade_no": no,
            "description": "Latte x2",
            "amount": {"total": 1, "currency": currency},
        },
        "loopback": loopback,
    }))
    .unwrap()
}

/// Whether `jobs` knows order `no`.
fn known(jobs: &Jobs, no: &str) -> bool {
    jobs.status(no).is_ok()
}

#[tokio::test(start_paused = true)]
async fn a_currency_the_backend_does_not_take_is_refused_before_anything_is_stored() {
    let dir = tempfile::tempdir().unwrap();
    let backend = Arc::new(Scripted::default()); // CNY only, as mainland WeChat Pay
    let jobs = fixtures::jobs(backend.clone(), dir.path());
    for loopback in [false, true] {
        let refused = jobs
            .checkout(&checkout("T0000000011", "USD", loopback))
            .err()
            .expect("USD is refused");
        let error = refused.error;
        assert_eq!(error.code, ErrorCode::InvalidRequest, "loopback {loopback}");
        assert_eq!(error.field.as_deref(), Some("order.amount.currency"));
        assert_eq!(
            error.message,
            r#"order.amount.currency: "USD" is not supported; mainland WeChat Pay takes only "CNY""#
        );
        assert_eq!(refused.state, None);
        assert!(!known(&jobs, "T0000000011"), "nothing stored");
    }
    assert!(backend.calls.lock().unwrap().is_empty(), "nothing sent");
    jobs.checkout(&checkout("T0000000012", "CNY", false))
        .expect("CNY is taken");
    jobs.shutdown().await;
}

#[tokio::test(start_paused = true)]
async fn which_currencies_are_taken_is_the_backends_rule() {
    let dir = tempfile::tempdir().unwrap();
    let backend = Scripted {
        any_currency: true,
        ..Scripted::default()
    };
    let jobs = fixtures::jobs(Arc::new(backend), dir.path());
    jobs.checkout(&checkout("T0000000013", "USD", false))
        .expect("this backend takes USD");
    assert!(known(&jobs, "T0000000013"));
    // A loopback order is placed on the built-in sandbox, which takes CNY only.
    let refused = jobs
        .checkout(&checkout("T0000000014", "USD", true))
        .err()
        .expect("the sandbox refuses USD");
    assert_eq!(
        refused.error.field.as_deref(),
        Some("order.amount.currency")
    );
    jobs.shutdown().await;
}

#[tokio::test(start_paused = true)]
async fn a_loopback_checkout_and_a_real_one_never_share_an_order() {
    let dir = tempfile::tempdir().unwrap();
    let backend = Arc::new(Scripted::default());
    let jobs = fixtures::jobs(backend.clone(), dir.path());
    for (first, second) in [(false, true), (true, false)] {
        let no = if first { "LOOP000001" } else { "T0000000015" };
        jobs.checkout(&checkout(no, "CNY", first))
            .expect("a new order");
        let refused = jobs
            .checkout(&checkout(no, "CNY", second))
            .err()
            .expect("the other kind is another order");
        assert_eq!(refused.error.code, ErrorCode::DuplicateOrder, "{no}");
        jobs.checkout(&checkout(no, "CNY", first))
            .expect("the same kind resumes");
    }
    jobs.shutdown().await;
}

/// A backend that owns only orders pinned with `ours`.
struct Merchant {
    ours: &'static str,
}

impl crate::payment::PaymentBackend for Merchant {
    fn name(&self) -> &'static str {
        "merchant"
    }

    fn accepts(&self, _amount: &crate::money::Money) -> Result<(), String> {
        Ok(())
    }

    fn owns(&self, request: &str) -> Result<(), String> {
        if request == self.ours {
            return Ok(());
        }
        Err("placed for mchid \"1900000109\" (now \"1900000209\")".into())
    }

    fn place<'a>(
        &'a self,
        _order: &'a crate::payment::PlaceOrder,
    ) -> crate::payment::BoxFuture<'a, Result<crate::payment::Placed, crate::payment::PaymentError>>
    {
        Box::pin(std::future::pending())
    }

    fn query<'a>(
        &'a self,
        _no: &'a str,
    ) -> crate::payment::BoxFuture<
        'a,
        Result<crate::payment::TradeState, crate::payment::PaymentError>,
    > {
        Box::pin(std::future::pending())
    }

    fn close<'a>(
        &'a self,
        _no: &'a str,
    ) -> crate::payment::BoxFuture<'a, Result<(), crate::payment::PaymentError>> {
        Box::pin(std::future::pending())
    }
}

#[tokio::test]
async fn unfinished_orders_of_another_merchant_stop_the_start() {
    let dir = tempfile::tempdir().unwrap();
    let mut journal = crate::journal::Journal::open(dir.path()).unwrap();
    journal.insert(&fixtures::ordering()).unwrap(); // pinned {"pinned":"at checkout"}
    drop(journal);
    let start = |ours| {
        let journal = crate::journal::Journal::open(dir.path()).unwrap();
        let printer = crate::printer::PrinterHandle::spawn(Box::new(
            crate::printer::FilePrinter::new(dir.path().join("receipts")),
        ));
        Jobs::start(
            fixtures::config(),
            Arc::new(Merchant { ours }),
            printer,
            journal,
        )
    };
    let refused = start("{}").err().expect("refused");
    let message = refused.to_string();
    assert!(
        message.contains(fixtures::NO) && message.contains("1900000209"),
        "{message}"
    );
    let resumed = start(r#"{"pinned":"at checkout"}"#).expect("its own merchant");
    assert_eq!(resumed.active_count(), 1);
    resumed.shutdown().await;
}

/// The largest a pending job's task may be, in bytes (debug build; a release build's is
/// smaller). It was 2,072 B in release while the placement and print steps sat inline.
const MAX_TASK_BYTES: usize = 1000;

/// The largest a slot of the jobs map may be, in bytes. It was 680 B with the record inline.
const MAX_ACTIVE_BYTES: usize = 48;

#[tokio::test]
async fn a_pending_job_costs_little_memory_in_its_task_and_in_the_jobs_map() {
    // Issue 12 §3: RSS ≤ 15 MB with 1,000 pending jobs, each holding its task (which spends
    // its life in `poll`) and its slot in the jobs map (which grows by doubling).
    let dir = tempfile::tempdir().unwrap();
    let backend = Arc::new(Scripted::default());
    let (shared, wake) = fixtures::shared(backend, dir.path(), fixtures::awaiting());
    let start = super::task::Start::Resumed;
    let task = super::task::drive(Arc::new(shared), fixtures::NO.into(), wake, start);
    let task_bytes = std::mem::size_of_val(&task);
    let active_bytes = std::mem::size_of::<super::state::Active>();
    println!("task {task_bytes} B, jobs map slot {active_bytes} B");
    assert!(
        task_bytes <= MAX_TASK_BYTES,
        "a pending job's task is {task_bytes} B, more than {MAX_TASK_BYTES} B"
    );
    assert!(
        active_bytes <= MAX_ACTIVE_BYTES,
        "a slot of the jobs map is {active_bytes} B, more than {MAX_ACTIVE_BYTES} B"
    );
}

//! Proven across a power cut, not only a `kill -9` (which keeps the page cache): at every
//! moment the money depends on, what is already on disk — `fsync`ed, not merely written —
//! is enough (`docs/architecture.md`, "Durability points").
//!
//! The journal runs over an imaging VFS (`support/durable_vfs.rs`): each sync keeps a copy
//! of the file as it then was, so "the power went now" is a directory anyone can open. The
//! in-process daemon, with the sandbox as WeChat Pay and the file printer, is watched at
//! the three kinds of moment the rules name:
//! - an order reaches WeChat Pay: its job, with its pinned request, is on disk (a restart
//!   never places a second order);
//! - a receipt reaches the printer: its `code_url` is on disk, and it is the QR on the paper
//!   (a restart never re-places a printed order, which would kill that QR);
//! - the POS hears `accepted`, `code_url`, `paid` or `closed`: that fact is on disk (journal
//!   before event; `printed` alone rides the group commit, and a power cut may only print
//!   a receipt again).
//!
//! Then the power is cut for real: a daemon started on the image resumes every job the POS
//! heard of, reports what was paid, and takes payments of the rest.

#[path = "support/durable_vfs.rs"]
mod durable_vfs;
#[path = "support/mod.rs"]
mod support;

use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use serde_json::{Value, json};
use wxprint::journal::{JobRecord, Journal};
use wxprint::money::Money;
use wxprint::payment::sandbox::Sandbox;
use wxprint::payment::{
    BoxFuture, CurrencyRule, PaymentBackend, PaymentError, PlaceOrder, Placed, RefundOrder,
    RefundProgress, TradeState,
};
use wxprint::printer::{FilePrinter, Printer, PrinterError, Printout};
use wxprint::protocol::{JobState, PrinterStatus};

use support::{Client, Daemon, Options, checkout, decode_qr, fast_config};

/// Checks made at the moments above, and what each found wrong.
#[derive(Default)]
struct Findings {
    checked: usize,
    wrong: Vec<String>,
}

/// Where the daemon's journal lives, and what the checks found.
#[derive(Clone)]
struct Watch {
    state: PathBuf,
    findings: Arc<Mutex<Findings>>,
}

impl Watch {
    /// The job `no` as a power cut now would leave it (`None`: not on disk).
    fn on_disk(&self, no: &str) -> Option<JobRecord> {
        let cut = tempfile::tempdir().unwrap();
        durable_vfs::power_cut(&self.state, cut.path());
        if !cut.path().join("journal.sqlite").exists() {
            return None;
        }
        let journal = Journal::open(cut.path()).expect("the journal opens after a power cut");
        let record = journal.get(no).unwrap();
        drop(journal);
        durable_vfs::forget(cut.path());
        record
    }

    /// Nothing was found missing, in at least `moments` checks.
    fn assert_all_on_disk(&self, when: &str, moments: usize) {
        let findings = self.findings.lock().unwrap();
        assert!(
            findings.wrong.is_empty(),
            "{when}, not on disk in time: {:#?}",
            findings.wrong
        );
        assert!(
            findings.checked >= moments,
            "{when}: {} checks",
            findings.checked
        );
    }

    /// Record one check of `no` at `moment`: `wrong` says what is missing, if anything.
    fn check(&self, moment: &str, no: &str, wrong: Option<String>) {
        let mut findings = self.findings.lock().unwrap();
        findings.checked += 1;
        if let Some(w) = wrong {
            findings.wrong.push(format!("{moment} of {no}: {w}"));
        }
    }
}

/// The sandbox, checked each time an order is sent to it.
struct CheckedBackend {
    sandbox: Arc<Sandbox>,
    watch: Watch,
}

impl PaymentBackend for CheckedBackend {
    fn name(&self) -> &'static str {
        self.sandbox.name()
    }
    fn accepts(&self, amount: &Money) -> Result<(), String> {
        self.sandbox.accepts(amount)
    }
    fn currency_rule(&self) -> CurrencyRule {
        self.sandbox.currency_rule()
    }
    fn owns(&self, request: &str) -> Result<(), String> {
        self.sandbox.owns(request)
    }
    fn prepare(&self, order: &PlaceOrder) -> Option<String> {
        self.sandbox.prepare(order)
    }
    fn place<'a>(&'a self, order: &'a PlaceOrder) -> BoxFuture<'a, Result<Placed, PaymentError>> {
        let no = &order.out_trade_no;
        let wrong = match self.watch.on_disk(no) {
            None => Some("the job is not on disk".to_owned()),
            Some(r) if r.place_body != self.sandbox.prepare(order) => {
                Some(format!("the request on disk is {:?}", r.place_body))
            }
            Some(_) => None,
        };
        self.watch.check("placement", no, wrong);
        self.sandbox.place(order)
    }
    fn query<'a>(&'a self, no: &'a str) -> BoxFuture<'a, Result<TradeState, PaymentError>> {
        self.sandbox.query(no)
    }
    fn close<'a>(&'a self, no: &'a str) -> BoxFuture<'a, Result<(), PaymentError>> {
        self.sandbox.close(no)
    }
    fn prepare_refund(&self, refund: &RefundOrder) -> Option<String> {
        self.sandbox.prepare_refund(refund)
    }
    fn refund<'a>(
        &'a self,
        refund: &'a RefundOrder,
    ) -> BoxFuture<'a, Result<RefundProgress, PaymentError>> {
        self.sandbox.refund(refund)
    }
    fn query_refund<'a>(
        &'a self,
        refund: &'a RefundOrder,
    ) -> BoxFuture<'a, Result<RefundProgress, PaymentError>> {
        self.sandbox.query_refund(refund)
    }
    fn as_sandbox(&self) -> Option<&Sandbox> {
        Some(&self.sandbox)
    }
}

/// The file printer, checked each time a receipt is written to it.
struct CheckedPrinter {
    printer: FilePrinter,
    watch: Watch,
}

impl Printer for CheckedPrinter {
    fn describe(&self) -> String {
        self.printer.describe()
    }
    fn status(&mut self) -> PrinterStatus {
        self.printer.status()
    }
    fn write_job(&mut self, name: &str, bytes: &[u8]) -> Result<Printout, PrinterError> {
        let printed = decode_qr(bytes, 576);
        let wrong = match self.watch.on_disk(name) {
            None => Some("the job is not on disk".to_owned()),
            Some(r) if r.code_url.is_none() => Some("its code_url is not on disk".to_owned()),
            Some(r) if printed != [r.code_url.clone().unwrap()] => Some(format!(
                "the QR {printed:?} is not the code_url on disk {:?}",
                r.code_url
            )),
            Some(_) => None,
        };
        self.watch.check("printing", name, wrong);
        self.printer.write_job(name, bytes)
    }
}

/// A POS event about a job, checked against the disk: the fact it tells must be there.
fn check_event(watch: &Watch, event: &Value) {
    let (Some(name), Some(no)) = (event["event"].as_str(), event["out_trade_no"].as_str()) else {
        return;
    };
    let want = match name {
        "accepted" => None,
        "code_url" => Some(JobState::AwaitingPayment),
        "paid" => Some(JobState::Paid),
        "closed" => Some(JobState::Closed),
        _ => return,
    };
    let wrong = match (watch.on_disk(no), want) {
        (None, _) => Some("the job is not on disk".to_owned()),
        (Some(r), Some(JobState::AwaitingPayment))
            if r.code_url.as_deref() != event["code_url"].as_str() =>
        {
            Some(format!("the code_url on disk is {:?}", r.code_url))
        }
        (Some(r), Some(s)) if s.is_final() && r.state != s => {
            Some(format!("the state on disk is {}", r.state.as_str()))
        }
        _ => None,
    };
    watch.check(&format!("the POS hearing `{name}`"), no, wrong);
}

/// Start the daemon of `dir` with the checked sandbox and printer.
async fn start(dir: &Path, sandbox: &Arc<Sandbox>, watch: &Watch) -> Daemon {
    let backend = CheckedBackend {
        sandbox: sandbox.clone(),
        watch: watch.clone(),
    };
    let printer = CheckedPrinter {
        printer: FilePrinter::new(dir.join("receipts")),
        watch: watch.clone(),
    };
    let mut config = fast_config();
    config.poll.fast = Duration::from_millis(20);
    Daemon::start_with(
        dir,
        Options {
            config,
            backend: Some(Arc::new(backend)),
            printer: Some(Box::new(printer)),
        },
    )
    .await
}

/// Read the watcher's events until `done` says enough, checking each against the disk.
async fn watch_until(pos: &mut Client, watch: &Watch, mut done: impl FnMut(&Value) -> bool) {
    loop {
        let event = pos.recv().await;
        check_event(watch, &event);
        if done(&event) {
            return;
        }
    }
}

const CHECKOUTS: usize = 12;

fn number(i: usize) -> String {
    format!("T20261207{i:03}")
}

#[tokio::test]
async fn what_the_pos_heard_and_the_money_depends_on_is_on_disk_before_it_happens() {
    durable_vfs::install();
    let dir = tempfile::tempdir().unwrap();
    let sandbox = Arc::new(Sandbox::open(&dir.path().join("wechat-pay")).unwrap());
    let watch = Watch {
        state: dir.path().join("state"),
        findings: Arc::default(),
    };
    let daemon = start(dir.path(), &sandbox, &watch).await;
    let mut watcher = daemon.connect().await;
    watcher.send(json!({"op": "watch", "id": "w"})).await;
    // `watch` has no reply of its own: the `pong` after it proves it is registered.
    assert_eq!(watcher.call(json!({"op": "ping"})).await["event"], "pong");
    let mut pos = daemon.connect().await;
    // One at a time: no other job's sync may put a fact on disk by chance before its moment.
    for i in 0..CHECKOUTS {
        let mut request = checkout(&number(i), 100 + i as i64);
        request["follow"] = json!(false);
        pos.send(request).await;
        watch_until(&mut watcher, &watch, |e| e["event"] == "printed").await;
    }
    // A third paid, a third cancelled, a third left waiting for the customer.
    for i in 0..CHECKOUTS / 3 {
        sandbox.pay(&number(i)).unwrap();
        let cancel = json!({"op": "cancel", "id": "c", "out_trade_no": number(CHECKOUTS / 3 + i)});
        pos.send(cancel).await;
    }
    let mut finals = 0;
    watch_until(&mut watcher, &watch, |e| {
        finals += usize::from(e["event"] == "paid" || e["event"] == "closed");
        finals == 2 * (CHECKOUTS / 3)
    })
    .await;

    // The power goes now.
    let after = tempfile::tempdir().unwrap();
    durable_vfs::power_cut(&watch.state, &after.path().join("state"));
    daemon.shutdown().await;
    // Placed, printed, `accepted` and `code_url` heard, each checkout; `paid` or `closed`,
    // two thirds of them.
    let moments = 4 * CHECKOUTS + 2 * (CHECKOUTS / 3);
    watch.assert_all_on_disk("before the cut", moments);

    restart_after_the_cut(after.path(), &sandbox).await;
}

/// The register comes back on what the disk held: every job is there as the POS last heard
/// of it, and a customer paying now is reported.
async fn restart_after_the_cut(dir: &Path, sandbox: &Arc<Sandbox>) {
    let watch = Watch {
        state: dir.join("state"),
        findings: Arc::default(),
    };
    let daemon = start(dir, sandbox, &watch).await;
    let mut pos = daemon.connect().await;
    for i in 0..CHECKOUTS {
        let status = pos
            .call(json!({"op": "status", "id": "s", "out_trade_no": number(i)}))
            .await;
        let want = match i / (CHECKOUTS / 3) {
            0 => "paid",
            1 => "closed",
            _ => "awaiting_payment",
        };
        assert_eq!(status["state"], want, "{status}");
    }
    let last = number(CHECKOUTS - 1);
    let mut follow = daemon.connect().await;
    let mut request = checkout(&last, 100 + CHECKOUTS as i64 - 1);
    request["follow"] = json!(true);
    follow.send(request).await;
    assert_eq!(follow.expect("accepted").await["resumed"], true);
    sandbox.pay(&last).unwrap();
    watch_until(&mut follow, &watch, |e| e["event"] == "paid").await;
    daemon.shutdown().await;
    watch.assert_all_on_disk("after the cut", 1);
}

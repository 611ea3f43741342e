//! Proven across a power cut, not only a `kill -9` (which keeps the page cache): at every
//! moment the money depends on, what is already on disk — `fsync`ed, not merely written —
//! is enough (`docs/architecture.md`, "Durability points").
//!
//! The journal runs over an imaging VFS (`support/durable_vfs.rs`): each sync keeps a copy
//! of the file as it then was, so "the power went now" is a directory anyone can open. The
//! checks below are made on what was synced alone: nothing unsynced reached the disk, so a
//! fact found there was synced in time. Before each sync the power is also torn
//! (`power_cut/torn.rs`): part of what was written since the last sync reaches the disk,
//! and the journal must still open, whole commits only. The in-process daemon, with the
//! sandbox as WeChat Pay and the file printer, is watched at the three kinds of moment the
//! rules name:
//! - an order reaches WeChat Pay: its job, with its pinned request, is on disk (a restart
//!   never places a second order);
//! - a receipt reaches the printer: its `code_url` is on disk, and it is the QR on the paper
//!   (a restart never re-places a printed order, which would kill that QR);
//! - a refund is asked of WeChat Pay: it is on disk with its pinned request (a restart asks
//!   the same refund again, never a second one);
//! - the POS hears `accepted`, `code_url`, `paid`, `closed`, `refund_accepted` or `refunded`:
//!   that fact is on disk (journal before event; `printed` alone rides the group commit,
//!   and a power cut may only print a receipt again). The watcher reads `accepted` after the
//!   `code_url`'s commit, whose sync covers the insert too: the insert's own sync is what
//!   the placement check proves (and `refund_accepted`'s, the refund's first call).
//!
//! Each job is taken to its next moment alone, so no other job's sync can put a fact on disk
//! by chance. Then the power is cut for real: a daemon started on the image places no order
//! and asks no refund again (the printed QRs stay the live ones), resumes every job the POS
//! heard of, reports what was paid and refunded, and takes payments of the rest.

#[path = "support/durable_vfs.rs"]
mod durable_vfs;
#[path = "support/mod.rs"]
mod support;
#[path = "power_cut/torn.rs"]
mod torn;

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use serde_json::{Value, json};
use wxprint::journal::{JobRecord, Journal, RefundRecord};
use wxprint::money::Money;
use wxprint::payment::sandbox::Sandbox;
use wxprint::payment::{
    BoxFuture, CurrencyRule, PaymentBackend, PaymentError, PlaceOrder, Placed, RefundOrder,
    RefundProgress, TradeState,
};
use wxprint::printer::{FilePrinter, Printer, PrinterError, Printout};
use wxprint::protocol::{JobState, PrinterStatus, RefundState};

use durable_vfs::Cut;
use support::{Client, Daemon, Options, checkout, decode_qr, fast_config};

/// Checks made at the moments above, by kind of moment, and what each found wrong.
#[derive(Default)]
struct Findings {
    checked: BTreeMap<String, usize>,
    wrong: Vec<String>,
    /// The QR on each job's paper, as decoded.
    printed: BTreeMap<String, Vec<String>>,
    /// The jobs and refunds synced so far.
    seen: torn::Seen,
}

/// Where the daemon's journal lives, what the checks found, and whether a placement or a
/// refund is itself wrong (after the cut, every job of the image was placed already and
/// every refund ended).
#[derive(Clone)]
struct Watch {
    state: PathBuf,
    findings: Arc<Mutex<Findings>>,
    after_cut: bool,
}

impl Watch {
    /// What `read` finds in the journal a power cut now would leave (`None`: no journal).
    fn on_disk<T>(&self, read: impl FnOnce(&Journal) -> T) -> Option<T> {
        torn::after(&durable_vfs::snapshot(&self.state), Cut::Synced, read)
    }

    /// The torn cut (`power_cut/torn.rs`), run before each sync of the journal's files.
    fn check_torn(&self) {
        let numbers: Vec<_> = (0..CHECKOUTS).map(number).collect();
        let mut seen = std::mem::take(&mut self.findings().seen);
        // Run inside SQLite's sync, where a panic cannot unwind: one is a finding instead.
        let check = || torn::check(&self.state, &numbers, &mut seen);
        let verdict = std::panic::catch_unwind(std::panic::AssertUnwindSafe(check));
        let mut findings = self.findings();
        findings.seen = seen;
        match verdict {
            Ok(verdict) => {
                if let Some(kind) = verdict.kind {
                    *findings.checked.entry(format!("torn: {kind}")).or_default() += 1;
                }
                findings.wrong.extend(verdict.wrong);
            }
            Err(_) => {
                let wrong = "a torn cut's journal did not open or read (the panic above)";
                findings.wrong.push(wrong.to_owned());
            }
        }
    }

    /// The findings so far (also after a check panicked while holding them).
    fn findings(&self) -> std::sync::MutexGuard<'_, Findings> {
        self.findings
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
    }

    /// The job `no` as a power cut now would leave it (`None`: not on disk).
    fn job(&self, no: &str) -> Option<JobRecord> {
        self.on_disk(|j| j.get(no).unwrap()).flatten()
    }

    /// The refund `no` as a power cut now would leave it (`None`: not on disk).
    fn refund(&self, no: &str) -> Option<RefundRecord> {
        self.on_disk(|j| j.get_refund(no).unwrap()).flatten()
    }

    /// Nothing was found wrong, and each kind of moment in `moments` was checked at least so
    /// many times.
    fn assert_all_on_disk(&self, when: &str, moments: &[(&str, usize)]) {
        let findings = self.findings();
        assert!(
            findings.wrong.is_empty(),
            "{when}, not on disk in time: {:#?}",
            findings.wrong
        );
        for &(moment, times) in moments {
            let checked = findings.checked.get(moment).copied().unwrap_or(0);
            assert!(checked >= times, "{when}: {moment} checked {checked} times");
        }
    }

    /// Record one check of `no` at `moment`: `wrong` says what is missing, if anything.
    fn check(&self, moment: &str, no: &str, wrong: Option<String>) {
        let mut findings = self.findings();
        *findings.checked.entry(moment.to_owned()).or_default() += 1;
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
        let wrong = match self.watch.job(no) {
            _ if self.watch.after_cut => Some("placed again after the cut".to_owned()),
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
        let no = &refund.out_refund_no;
        let wrong = match self.watch.refund(no) {
            _ if self.watch.after_cut => Some("asked again after the cut".to_owned()),
            None => Some("the refund is not on disk".to_owned()),
            Some(r) if r.body != self.sandbox.prepare_refund(refund) => {
                Some(format!("the request on disk is {:?}", r.body))
            }
            Some(_) => None,
        };
        self.watch.check("refund", no, wrong);
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
        let wrong = match self.watch.job(name) {
            None => Some("the job is not on disk".to_owned()),
            Some(r) if r.code_url.is_none() => Some("its code_url is not on disk".to_owned()),
            Some(r) if printed != [r.code_url.clone().unwrap()] => Some(format!(
                "the QR {printed:?} is not the code_url on disk {:?}",
                r.code_url
            )),
            Some(_) => None,
        };
        self.watch.check("printing", name, wrong);
        let mut findings = self.watch.findings();
        findings.printed.insert(name.to_owned(), printed);
        drop(findings);
        self.printer.write_job(name, bytes)
    }
}

/// A POS event about a job or a refund, checked against the disk: the fact it tells must be
/// there.
fn check_event(watch: &Watch, event: &Value) {
    let (Some(name), Some(no)) = (event["event"].as_str(), event["out_trade_no"].as_str()) else {
        return;
    };
    let wrong = match name {
        "accepted" | "code_url" | "paid" | "closed" => job_wrong(watch.job(no), event),
        "refund_accepted" | "refunded" => {
            let refund_no = event["out_refund_no"].as_str().unwrap();
            let wrong = match watch.refund(refund_no) {
                None => Some("the refund is not on disk".to_owned()),
                Some(r) if name == "refunded" && r.state != RefundState::Refunded => {
                    Some(format!("the refund on disk is {:?}", r.state))
                }
                Some(_) => None,
            };
            watch.check(name, refund_no, wrong);
            return;
        }
        _ => return,
    };
    watch.check(name, no, wrong);
}

/// What the job on disk lacks of what `event` told the POS.
fn job_wrong(on_disk: Option<JobRecord>, event: &Value) -> Option<String> {
    let Some(r) = on_disk else {
        return Some("the job is not on disk".to_owned());
    };
    let final_state = match event["event"].as_str() {
        Some("code_url") if r.code_url.as_deref() != event["code_url"].as_str() => {
            return Some(format!("the code_url on disk is {:?}", r.code_url));
        }
        Some("paid") => JobState::Paid,
        Some("closed") => JobState::Closed,
        _ => return None,
    };
    (r.state != final_state).then(|| format!("the state on disk is {}", r.state.as_str()))
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
        after_cut: false,
    };
    std::fs::create_dir_all(&watch.state).unwrap();
    let torn = watch.clone();
    durable_vfs::before_sync(&watch.state, move || torn.check_torn());
    let daemon = start(dir.path(), &sandbox, &watch).await;
    let mut watcher = daemon.connect().await;
    watcher.send(json!({"op": "watch", "id": "w"})).await;
    // `watch` has no reply of its own: the `pong` after it proves it is registered.
    assert_eq!(watcher.call(json!({"op": "ping"})).await["event"], "pong");
    let mut pos = daemon.connect().await;
    for i in 0..CHECKOUTS {
        let mut request = checkout(&number(i), 100 + i as i64);
        request["follow"] = json!(false);
        pos.send(request).await;
        watch_until(&mut watcher, &watch, |e| e["event"] == "printed").await;
    }
    // The WAL folded in and started over, as at a shutdown: what follows is written over
    // the kept file from its start, the old frames behind it (`journal/wal.rs`).
    Journal::open(&watch.state).unwrap().checkpoint().unwrap();
    // A third cancelled, then a third paid, one at a time; a third left waiting.
    let third = CHECKOUTS / 3;
    for no in (third..2 * third).map(number) {
        pos.send(json!({"op": "cancel", "id": "c", "out_trade_no": no}))
            .await;
        watch_until(&mut watcher, &watch, |e| e["event"] == "closed").await;
    }
    for no in (0..third).map(number) {
        sandbox.pay(&no).unwrap();
        watch_until(&mut watcher, &watch, |e| e["event"] == "paid").await;
    }
    // Two of the paid refunded, one under the POS's own number.
    for (i, refund) in [
        json!({"amount": 50}),
        json!({"amount": 60, "out_refund_no": "RF1"}),
    ]
    .into_iter()
    .enumerate()
    {
        let ask = json!({"op": "refund", "id": "r", "out_trade_no": number(i), "refund": refund});
        pos.send(ask).await;
        watch_until(&mut watcher, &watch, |e| e["event"] == "refunded").await;
    }

    // The power goes now.
    let after = tempfile::tempdir().unwrap();
    durable_vfs::power_cut(&watch.state, &after.path().join("state"), Cut::torn());
    daemon.shutdown().await;
    let each = [
        ("placement", CHECKOUTS),
        ("printing", CHECKOUTS),
        ("accepted", CHECKOUTS),
        ("code_url", CHECKOUTS),
        ("closed", third),
        ("paid", third),
        ("refund", 2),
        ("refund_accepted", 2),
        ("refunded", 2),
        ("torn: cut off", 1),
        ("torn: through", 1),
        ("torn: partly", 1),
    ];
    watch.assert_all_on_disk("before the cut", &each);
    let printed = std::mem::take(&mut watch.findings().printed);
    restart_after_the_cut(after.path(), &sandbox, &printed).await;
}

/// The register comes back on what the disk held: no order is placed or refund asked again,
/// every job is there as the POS last heard of it, the QR on paper is its `code_url`, and a
/// customer paying now is reported.
async fn restart_after_the_cut(
    dir: &Path,
    sandbox: &Arc<Sandbox>,
    printed: &BTreeMap<String, Vec<String>>,
) {
    let watch = Watch {
        state: dir.join("state"),
        findings: Arc::default(),
        after_cut: true,
    };
    let daemon = start(dir, sandbox, &watch).await;
    let torn = watch.clone();
    durable_vfs::before_sync(&watch.state, move || torn.check_torn());
    let mut pos = daemon.connect().await;
    for (i, no) in (0..CHECKOUTS).map(|i| (i, number(i))) {
        let status = pos
            .call(json!({"op": "status", "id": "s", "out_trade_no": no}))
            .await;
        let want = ["paid", "closed", "awaiting_payment"][i / (CHECKOUTS / 3)];
        assert_eq!(status["state"], want, "{status}");
        let code_url = status["code_url"].as_str().unwrap().to_owned();
        assert_eq!(
            printed[&no],
            [code_url],
            "{no}: the QR on paper and its code_url"
        );
        if i < 2 {
            assert_eq!(status["refunds"][0]["state"], "refunded", "{status}");
        }
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
    watch.assert_all_on_disk("after the cut", &[("paid", 1), ("torn: cut off", 1)]);
}

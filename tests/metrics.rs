//! Fleet metrics through the real `wxprint serve`: a config with `[metrics]` on (a Unix
//! socket serving `GET /metrics` and a textfile for node_exporter), the WeChat Pay
//! simulator playing WeChat Pay, one checkout paid and one refused. The text is parsed as a
//! Prometheus server would (`prometheus-parse`), and what must hold is read from it: the
//! metric families and their types, the label values, the histograms' explicit buckets and
//! counts, and no order number or transaction id anywhere in a label. The textfile says the
//! same, is readable by all and is removed at a clean stop. With `[metrics]` off (the
//! default), nothing is listened on but the POS socket and nothing is written.

#[path = "support/bin.rs"]
mod bin;
#[path = "support/real_daemon.rs"]
mod real_daemon;
#[path = "support/sim_config.rs"]
mod sim_config;
#[path = "support/mod.rs"]
#[allow(
    dead_code,
    unused_imports,
    reason = "this binary drives the real daemon: it uses the POS client only"
)]
mod support;
#[path = "support/wechatpay_sim/mod.rs"]
mod wechatpay_sim;

use std::collections::BTreeSet;
use std::os::unix::fs::PermissionsExt;
use std::path::{Path, PathBuf};
use std::time::Duration;

use prometheus_parse::{LineInfo, Sample, Scrape, Value};
use tokio::io::{AsyncReadExt, AsyncWriteExt};

use bin::Daemon;
use real_daemon::{serve, wait_until};
use support::{Client, checkout};
use wechatpay_sim::{Endpoint, Fault, SimConfig, Simulator, Trust};

/// The buckets of `wxprint_checkout_paid_seconds`, as docs/operations.md lists them.
const PAID_BUCKETS: &[f64] = &[
    2.0, 4.0, 6.0, 10.0, 15.0, 20.0, 30.0, 45.0, 60.0, 90.0, 120.0, 180.0, 300.0, 600.0,
];
/// The buckets of `wxprint_checkout_printed_seconds`.
const PRINTED_BUCKETS: &[f64] = &[0.25, 0.5, 1.0, 2.0, 3.0, 5.0, 10.0, 30.0, 60.0, 300.0];

/// A config in `dir` for the real backend pointed at `sim` (public-key trust), a file
/// printer, fast polling, and `metrics` as the `[metrics]` section's lines.
fn config(dir: &Path, sim: &Simulator, metrics: &str) -> PathBuf {
    real_daemon::config(
        dir,
        sim,
        "poll_interval = \"100ms\"\npoll_interval_paying = \"100ms\"\n",
        &format!("[metrics]\n{metrics}\n"),
    )
}

/// `GET path` over the Unix socket: the status code and the body.
async fn get(socket: &Path, path: &str) -> (u16, String) {
    let mut stream = tokio::net::UnixStream::connect(socket).await.unwrap();
    let request = format!("GET {path} HTTP/1.1\r\nHost: localhost\r\nConnection: close\r\n\r\n");
    stream.write_all(request.as_bytes()).await.unwrap();
    let mut answer = String::new();
    tokio::time::timeout(support::TIMEOUT, stream.read_to_string(&mut answer))
        .await
        .expect("an answer within the timeout")
        .unwrap();
    let (head, body) = answer.split_once("\r\n\r\n").expect("an HTTP answer");
    let status = head.split(' ').nth(1).unwrap().parse().unwrap();
    if status == 200 {
        assert!(
            head.contains("content-type: text/plain; version=0.0.4"),
            "{head}"
        );
    }
    (status, body.to_owned())
}

/// `text` parsed as Prometheus would; every line must be a comment, a sample or empty.
fn parse(text: &str) -> Scrape {
    for line in text.lines() {
        assert_ne!(
            LineInfo::parse(line),
            LineInfo::Ignored,
            "not the text format: {line}"
        );
    }
    Scrape::parse(text.lines().map(|l| Ok(l.to_owned()))).unwrap()
}

/// The samples of `metric` whose labels include all of `labels`.
fn samples<'a>(s: &'a Scrape, metric: &str, labels: &[(&str, &str)]) -> Vec<&'a Sample> {
    s.samples
        .iter()
        .filter(|x| x.metric == metric && labels.iter().all(|(k, v)| x.labels.get(k) == Some(v)))
        .collect()
}

/// The value of the one counter or gauge `metric{labels}`.
fn value(s: &Scrape, metric: &str, labels: &[(&str, &str)]) -> f64 {
    match samples(s, metric, labels).as_slice() {
        [one] => match one.value {
            Value::Counter(v) | Value::Gauge(v) => v,
            ref other => panic!("{metric}{labels:?} is not a counter or gauge: {other:?}"),
        },
        other => panic!("{metric}{labels:?}: {} samples", other.len()),
    }
}

/// The histogram `metric`: its bucket bounds and the count of observations (+Inf).
fn histogram(s: &Scrape, metric: &str) -> (Vec<f64>, f64) {
    let [one] = samples(s, metric, &[])[..] else {
        panic!("{metric}: not one histogram");
    };
    let Value::Histogram(buckets) = &one.value else {
        panic!("{metric} is not a histogram: {:?}", one.value);
    };
    let bounds: Vec<f64> = buckets.iter().map(|b| b.less_than).collect();
    let inf = buckets.iter().find(|b| b.less_than.is_infinite());
    (bounds, inf.expect("a +Inf bucket").count)
}

/// Every label value of every sample.
fn label_values(s: &Scrape) -> BTreeSet<String> {
    s.samples
        .iter()
        .flat_map(|x| x.labels.values().cloned())
        .collect()
}

/// What both the socket and the textfile must say after one paid and one refused checkout.
fn assert_fleet_metrics(s: &Scrape, secrets: &[&str]) {
    let checkouts = |outcome| value(s, "wxprint_checkouts_total", &[("outcome", outcome)]);
    assert_eq!(checkouts("paid"), 1.0);
    assert_eq!(checkouts("failed"), 1.0);
    for outcome in ["cancelled", "expired", "closed"] {
        assert_eq!(
            checkouts(outcome),
            0.0,
            "{outcome}: there from the start, at zero"
        );
    }
    let (bounds, paid) = histogram(s, "wxprint_checkout_paid_seconds");
    assert_eq!(bounds[..bounds.len() - 1], *PAID_BUCKETS);
    assert_eq!(paid, 1.0, "one payment seen");
    let (bounds, printed) = histogram(s, "wxprint_checkout_printed_seconds");
    assert_eq!(bounds[..bounds.len() - 1], *PRINTED_BUCKETS);
    assert_eq!(printed, 1.0, "the refused checkout printed nothing");

    let calls = |endpoint, outcome| {
        let labels = [("endpoint", endpoint), ("outcome", outcome)];
        value(s, "wxprint_wechatpay_calls_total", &labels)
    };
    assert_eq!(calls("place", "ok"), 1.0);
    assert_eq!(calls("place", "http_4xx"), 1.0, "the refused placement");
    assert_eq!(calls("query", "http_5xx"), 1.0, "the injected server error");
    assert!(calls("query", "ok") >= 1.0);
    assert_eq!(calls("close", "ok"), 0.0);
    let retries = value(
        s,
        "wxprint_wechatpay_retries_total",
        &[("endpoint", "query")],
    );
    assert_eq!(retries, 1.0, "the query after the server error");
    let retried = value(s, "wxprint_retries_total", &[("reason", "printer")]);
    assert_eq!(retried, 0.0);

    assert_eq!(
        value(s, "wxprint_printer_status", &[("state", "ready")]),
        1.0
    );
    for state in [
        "unknown",
        "paper_out",
        "cover_open",
        "offline",
        "unreachable",
    ] {
        assert_eq!(value(s, "wxprint_printer_status", &[("state", state)]), 0.0);
    }
    assert!(value(s, "wxprint_journal_bytes", &[]) > 0.0);
    assert_eq!(value(s, "wxprint_open_orders", &[]), 0.0);
    let version = env!("CARGO_PKG_VERSION");
    assert_eq!(value(s, "wxprint_build_info", &[("version", version)]), 1.0);
    assert!(s.docs.contains_key("wxprint_checkouts_total"), "HELP lines");

    let values = label_values(s);
    for secret in secrets {
        assert!(
            values.iter().all(|v| !v.contains(secret)),
            "{secret} in a label: {values:?}"
        );
    }
}

#[tokio::test]
async fn serve_with_metrics_on_serves_and_writes_the_fleet_metrics() {
    let dir = tempfile::tempdir().unwrap();
    let d = dir.path();
    let sim = Simulator::start(SimConfig::from_fixtures(Trust::PublicKey)).await;
    std::fs::create_dir(d.join("textfile")).unwrap();
    let socket = d.join("metrics.sock");
    let textfile = d.join("textfile/wxprint.prom");
    let metrics = format!(
        "listen = \"unix:{}\"\ntextfile = \"{}\"\ninterval = \"1s\"",
        socket.display(),
        textfile.display()
    );
    let daemon = serve(d, &config(d, &sim, &metrics)).await;

    // One checkout paid (its first query answered 500, asked again), one refused.
    let mut pos = Client::connect(&d.join("wxprint.sock")).await;
    sim.inject(Endpoint::Query, Fault::Status500, 1);
    pos.checkout_printed(checkout("MT20261127001", 3200)).await;
    assert!(sim.pay("MT20261127001"));
    let paid = pos.expect("paid").await;
    let transaction = paid["transaction_id"].as_str().unwrap().to_owned();
    sim.inject(
        Endpoint::Native,
        Fault::error(400, "PARAM_ERROR", "refused"),
        1,
    );
    pos.send(checkout("MT20261127002", 100)).await;
    pos.expect("accepted").await;
    pos.expect("failed").await;
    let secrets = ["MT20261127001", "MT20261127002", transaction.as_str()];

    let (status, text) = get(&socket, "/metrics").await;
    assert_eq!(status, 200, "{text}");
    assert_fleet_metrics(&parse(&text), &secrets);
    assert_eq!(get(&socket, "/").await.0, 404);

    // The textfile says the same within an interval or two; whole, readable by all, and
    // alone in its directory (the temporary file renamed over it).
    let paid_line = "wxprint_checkouts_total{outcome=\"failed\"} 1";
    wait_until(d, "the textfile with both outcomes", || {
        std::fs::read_to_string(&textfile).is_ok_and(|t| t.contains(paid_line))
    })
    .await;
    let text = std::fs::read_to_string(&textfile).unwrap();
    assert_fleet_metrics(&parse(&text), &secrets);
    let mode = std::fs::metadata(&textfile).unwrap().permissions().mode();
    assert_eq!(mode & 0o777, 0o644);
    let names: Vec<_> = std::fs::read_dir(d.join("textfile"))
        .unwrap()
        .map(|e| e.unwrap().file_name())
        .collect();
    assert_eq!(names, ["wxprint.prom"]);
    let expected: BTreeSet<String> = [d.join("wxprint.sock"), socket.clone()]
        .iter()
        .map(|p| p.display().to_string())
        .collect();
    assert_eq!(listening(daemon.0.id()), expected);

    // A clean stop takes both away: a stopped daemon has no current metrics.
    stop(daemon);
    assert!(!textfile.exists(), "the textfile outlived the daemon");
    assert!(!socket.exists(), "the metrics socket outlived the daemon");
}

#[tokio::test]
async fn with_metrics_off_nothing_is_listened_on_or_written() {
    let dir = tempfile::tempdir().unwrap();
    let d = dir.path();
    let sim = Simulator::start(SimConfig::from_fixtures(Trust::PublicKey)).await;
    let daemon = serve(d, &config(d, &sim, "")).await;
    let mut pos = Client::connect(&d.join("wxprint.sock")).await;
    pos.checkout_printed(checkout("MT20261127003", 3200)).await;
    assert!(sim.pay("MT20261127003"));
    pos.expect("paid").await;

    let only_pos: BTreeSet<String> = [d.join("wxprint.sock").display().to_string()].into();
    assert_eq!(listening(daemon.0.id()), only_pos);
    let mut written = Vec::new();
    let mut dirs = vec![d.to_owned()];
    while let Some(dir) = dirs.pop() {
        for entry in std::fs::read_dir(dir).unwrap() {
            let path = entry.unwrap().path();
            if path.is_dir() {
                dirs.push(path);
            } else if path.extension().is_some_and(|e| e == "prom") {
                written.push(path);
            }
        }
    }
    assert_eq!(written, Vec::<PathBuf>::new());
    let log = std::fs::read_to_string(d.join("daemon.log")).unwrap();
    assert!(!log.contains("metrics"), "{log}");
    stop(daemon);
}

/// A socket that cannot be bound and a textfile that cannot be written are logged, naming
/// the key and what to do; the daemon takes payments as before.
#[tokio::test]
async fn a_metrics_problem_never_stops_payments() {
    let dir = tempfile::tempdir().unwrap();
    let d = dir.path();
    let sim = Simulator::start(SimConfig::from_fixtures(Trust::PublicKey)).await;
    let metrics = format!(
        "listen = \"unix:{d}/absent/metrics.sock\"\ntextfile = \"{d}/absent/wxprint.prom\"",
        d = d.display()
    );
    let daemon = serve(d, &config(d, &sim, &metrics)).await;
    let mut pos = Client::connect(&d.join("wxprint.sock")).await;
    pos.checkout_printed(checkout("MT20261127004", 3200)).await;
    assert!(sim.pay("MT20261127004"));
    pos.expect("paid").await;
    let log = std::fs::read_to_string(d.join("daemon.log")).unwrap();
    assert!(
        log.contains("ERROR")
            && log.contains("cannot serve metrics on unix:")
            && log.contains("change metrics.listen"),
        "{log}"
    );
    assert!(
        log.contains("WARN")
            && log.contains("metrics not written")
            && log.contains("metrics.textfile"),
        "{log}"
    );
    stop(daemon);
}

/// SIGTERM, as systemd stops the daemon, and wait for it to exit.
fn stop(mut daemon: Daemon) {
    let pid = i32::try_from(daemon.0.id()).unwrap();
    // SAFETY: plain kill(2) on our own child.
    assert_eq!(unsafe { libc::kill(pid, libc::SIGTERM) }, 0);
    let deadline = std::time::Instant::now() + Duration::from_secs(20);
    while daemon.0.try_wait().unwrap().is_none() {
        assert!(std::time::Instant::now() < deadline, "did not stop");
        std::thread::sleep(Duration::from_millis(20));
    }
}

/// What process `pid` listens on: the paths of its listening Unix sockets and
/// `tcp:ADDRESS` for its listening TCP sockets (from `/proc`).
fn listening(pid: u32) -> BTreeSet<String> {
    let inodes: BTreeSet<String> = std::fs::read_dir(format!("/proc/{pid}/fd"))
        .unwrap()
        .filter_map(|e| std::fs::read_link(e.ok()?.path()).ok())
        .filter_map(|l| {
            let l = l.to_string_lossy().into_owned();
            Some(l.strip_prefix("socket:[")?.strip_suffix(']')?.to_owned())
        })
        .collect();
    let table = |name: &str| std::fs::read_to_string(format!("/proc/{pid}/net/{name}")).unwrap();
    let mut found = BTreeSet::new();
    // Num RefCount Protocol Flags Type St Inode Path; flag 0x10000: listening.
    for line in table("unix").lines().skip(1) {
        let f: Vec<&str> = line.split_whitespace().collect();
        let flags = u32::from_str_radix(f[3], 16).unwrap();
        if flags & 0x10000 != 0 && inodes.contains(f[6]) {
            found.insert(f.get(7).unwrap_or(&"(unnamed)").to_string());
        }
    }
    // sl local rem st … inode (10th); st 0A: listening.
    for line in table("tcp").lines().chain(table("tcp6").lines()) {
        let f: Vec<&str> = line.split_whitespace().collect();
        if f.len() > 9 && f[3] == "0A" && inodes.contains(f[9]) {
            found.insert(format!("tcp:{}", f[1]));
        }
    }
    found
}

//! `cargo bench --bench notify`: payment notifications on the real path (issue 13).
//! Measured, not asserted: read the numbers.
//!
//! The real `wxprint serve` binary, the real WeChat Pay backend against the in-repo
//! simulator on loopback (public key + APIv3 key), `[notify] listen` on `127.0.0.1`, a file
//! printer. Two measurements:
//!
//! - **notification → `paid`**: for each order (checked out, printed), the simulator pays it
//!   and signs its `TRANSACTION.SUCCESS` notification; the clock starts when the POST
//!   starts and stops when the POS reads `paid` on the daemon's Unix socket (goal p50 ≤
//!   50 ms). `WXPRINT_BENCH_ORDERS` orders (default 300).
//! - **queries per order in the first minute**, with and without notifications, on a
//!   compressed schedule: every interval ÷ 10 (`poll_interval` 100 ms for 1 s,
//!   `poll_fast_window` 6 s for 60 s), two daemons side by side, 5 unpaid orders each,
//!   the simulator's log counted over each order's first 6 s.

#[allow(
    dead_code,
    reason = "shared with the real-path bench; this one needs less"
)]
#[path = "support/daemon.rs"]
mod daemon;
#[path = "../tests/support/sim_config.rs"]
mod sim_config;
#[path = "../tests/support/wechatpay_sim/mod.rs"]
mod wechatpay_sim;

use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

use daemon::{Daemon, Pos};
use wechatpay_sim::{Endpoint, NotifyTarget, SimConfig, Simulator, Trust};

const PATH: &str = "/wechatpay/notify";
/// The compression of the schedule for the query count: 1 s → 100 ms, 60 s → 6 s.
const COMPRESSION: u32 = 10;
const FIRST_MINUTE: Duration = Duration::from_secs(60 / COMPRESSION as u64);

fn main() {
    let orders: usize = std::env::var("WXPRINT_BENCH_ORDERS")
        .ok()
        .and_then(|n| n.parse().ok())
        .unwrap_or(300);
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
        .unwrap();
    let sim = runtime.block_on(Simulator::start(SimConfig::from_fixtures(Trust::PublicKey)));
    println!("notify: wxprint serve ↔ simulator (loopback), [notify] listen on 127.0.0.1");

    let latencies = notification_to_paid(&runtime, &sim, orders);
    println!(
        "  notification sent → paid at the POS, {} orders: {}  (goal p50 ≤ 50 ms)",
        latencies.len(),
        summary(&latencies)
    );

    let (without, with) = queries_in_first_minute(&sim);
    println!(
        "  queries per order in the first minute (schedule ÷ {COMPRESSION}: {:?} for 60 s): \
         {without:.1} without notifications, {with:.1} with ({:.0}% fewer)",
        FIRST_MINUTE,
        100.0 * (1.0 - with / without)
    );
}

/// The daemon with notifications on, the default schedule (with notifications: 3 s in the
/// first minute); `n` orders (after 20 to warm up) paid by notification, each timed.
fn notification_to_paid(
    runtime: &tokio::runtime::Runtime,
    sim: &Simulator,
    n: usize,
) -> Vec<Duration> {
    let dir = tempfile::tempdir().unwrap();
    let address = format!("127.0.0.1:{}", free_port());
    let config = write_config(dir.path(), sim, &address, "");
    let _daemon = serve(dir.path(), &config);
    wait_for_listener(&address);
    let target = NotifyTarget::Tcp(address, PATH.into());
    let mut times = Vec::with_capacity(n);
    for i in 0..n + 20 {
        let no = format!("BN{i:08}");
        let mut pos = Pos::connect(&dir.path().join("wxprint.sock"));
        pos.ask(&checkout(&no), "printed");
        assert!(sim.pay(&no), "{no} paid at WeChat Pay");
        let notification = sim.notification(&no).unwrap();
        let target = target.clone();
        let t0 = Instant::now();
        let posted = runtime.spawn(async move { notification.post(&target).await });
        pos.wait_for("paid");
        let elapsed = t0.elapsed();
        let status = runtime.block_on(posted).unwrap();
        assert_eq!(status, 204, "{no}: the notification was answered {status}");
        if i >= 20 {
            times.push(elapsed);
        }
    }
    times
}

/// Two daemons on the compressed schedule, notifications off and on (none is ever sent):
/// the mean number of queries per order in its compressed first minute, (without, with).
fn queries_in_first_minute(sim: &Simulator) -> (f64, f64) {
    const ORDERS: usize = 5;
    let fast = Duration::from_secs(1) / COMPRESSION;
    let schedule = format!(
        "poll_interval = \"{}ms\"\npoll_fast_window = \"{}ms\"\npoll_interval_paying = \"{}ms\"\n\
         poll_interval_slow = \"{}ms\"\nquery_rate = 100\n",
        fast.as_millis(),
        FIRST_MINUTE.as_millis(),
        fast.as_millis(),
        (Duration::from_secs(10) / COMPRESSION).as_millis(),
    );
    let (off_dir, on_dir) = (tempfile::tempdir().unwrap(), tempfile::tempdir().unwrap());
    let off_config = write_config(off_dir.path(), sim, "", &schedule);
    let address = format!("127.0.0.1:{}", free_port());
    let on_config = write_config(on_dir.path(), sim, &address, &schedule);
    let _off = serve(off_dir.path(), &off_config);
    let _on = serve(on_dir.path(), &on_config);
    let mut printed = Vec::new();
    for i in 0..ORDERS {
        for (dir, tag) in [(&off_dir, "Q0"), (&on_dir, "Q1")] {
            let no = format!("B{tag}{i:06}");
            Pos::connect(&dir.path().join("wxprint.sock")).ask(&checkout(&no), "printed");
            printed.push((no, Instant::now()));
        }
    }
    std::thread::sleep(FIRST_MINUTE + Duration::from_millis(200));
    let queries = sim.requests_to(Endpoint::Query);
    let mean = |tag: &str| {
        let counts = printed.iter().filter(|(no, _)| no.starts_with(tag));
        let total: usize = counts
            .map(|(no, at)| {
                queries
                    .iter()
                    .filter(|r| r.path_only().ends_with(&format!("/{no}")))
                    .filter(|r| r.instant <= *at + FIRST_MINUTE)
                    .count()
            })
            .sum();
        total as f64 / ORDERS as f64
    };
    (mean("BQ0"), mean("BQ1"))
}

/// A config in `dir` for the real backend against `sim` (public key and APIv3 key),
/// `[notify] listen = listen` (`""`: off), a file printer; `schedule`: extra
/// `[wechatpay]` lines (the poll keys), else the default schedule.
fn write_config(dir: &Path, sim: &Simulator, listen: &str, schedule: &str) -> PathBuf {
    let apiv3 = sim_config::key(dir, "apiv3_key.txt", "apiv3_key.txt");
    sim_config::write(
        dir,
        sim,
        &format!("apiv3_key_file = \"{}\"\n{schedule}", apiv3.display()),
        &format!(
            "[printer]\ntransport = \"file\"\ndevice = \"{d}/receipts\"\n\
             [notify]\nlisten = \"{listen}\"\npath = \"{PATH}\"\n",
            d = dir.display()
        ),
    )
}

fn serve(dir: &Path, config: &Path) -> Daemon {
    let daemon = Daemon::start(config);
    Pos::connect(&dir.join("wxprint.sock")).ask(r#"{"op":"ping","id":"p"}"#, "pong");
    daemon
}

/// A free TCP port on loopback (bound, then released for the daemon).
fn free_port() -> u16 {
    let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    listener.local_addr().unwrap().port()
}

/// Until the daemon's notification listener accepts connections (at most 20 s).
fn wait_for_listener(address: &str) {
    let start = Instant::now();
    while std::net::TcpStream::connect(address).is_err() {
        assert!(start.elapsed() < Duration::from_secs(20), "no listener");
        std::thread::sleep(Duration::from_millis(5));
    }
}

fn checkout(no: &str) -> String {
    format!(
        r#"{{"op":"checkout","id":"c-{no}","order":{{"out_trade_no":"{no}","description":"Latte x2","amount":{{"total":3200}}}},"receipt":{{"lines":[{{"name":"Latte","quantity":2,"amount":3200}}]}}}}"#
    )
}

fn summary(times: &[Duration]) -> String {
    let mut v = times.to_vec();
    v.sort();
    let at = |q: f64| v[((v.len() as f64 * q) as usize).min(v.len() - 1)];
    format!(
        "p50 {:>8.2?}  p99 {:>8.2?}  max {:>8.2?}",
        at(0.50),
        at(0.99),
        at(1.0)
    )
}

//! Payment notifications through the real `wxprint serve`: a config file with `[notify]
//! listen` (`127.0.0.1:<port>` and `unix:PATH`), the WeChat Pay simulator sending a signed,
//! encrypted notification like WeChat Pay, and the POS hearing `paid` on the daemon's socket
//! without any query. Also what a technician sees: `listen` without `apiv3_key_file` is
//! refused by `serve` and `check-config` alike, naming both keys; a public-key merchant with
//! an APIv3 key (no platform certificates) is told once, at info level, what that key is for.

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

use std::fs::File;
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::time::Duration;

use bin::{Daemon, WXPRINT};
use real_daemon::serve;
use support::{Client, checkout};
use wechatpay_sim::{Endpoint, NotifyTarget, SimConfig, Simulator, Trust};

const PATH: &str = "/wechatpay/notify";

/// A config in `dir` for the real backend pointed at `sim` (public-key trust), the APIv3
/// key file too when `apiv3`, `[notify] listen = listen`, a file printer, and polling so
/// slow that only a notification can report a payment within a test.
fn config(dir: &Path, sim: &Simulator, listen: &str, apiv3: bool) -> PathBuf {
    let apiv3_line = if apiv3 {
        let key = sim_config::key(dir, "apiv3_key.txt", "apiv3_key.txt");
        format!("apiv3_key_file = \"{}\"\n", key.display())
    } else {
        String::new()
    };
    real_daemon::config(
        dir,
        sim,
        &format!(
            "{apiv3_line}poll_interval = \"1h\"\npoll_interval_paying = \"1h\"\n\
             poll_interval_slow = \"1h\"\n"
        ),
        &format!("[notify]\nlisten = \"{listen}\"\npath = \"{PATH}\"\n"),
    )
}

/// A free TCP port on loopback (bound, then released for the daemon).
fn free_port() -> u16 {
    let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    listener.local_addr().unwrap().port()
}

/// WeChat Pay's retries, scaled down: the listener may still be starting when the first
/// delivery comes (the daemon's socket is bound before it).
fn retries() -> Vec<Duration> {
    vec![Duration::from_millis(100); 50]
}

/// Check out `no` on the daemon in `dir`, have the simulator pay it and notify `target`;
/// the POS hears `paid` with WeChat Pay's transaction, and no query was made.
async fn paid_by_notification(dir: &Path, sim: &Simulator, target: NotifyTarget, no: &str) {
    let mut pos = Client::connect(&dir.join("wxprint.sock")).await;
    pos.checkout_printed(checkout(no, 3200)).await;
    let delivery = sim
        .pay_and_notify(no, target, retries())
        .expect("paid at WeChat Pay");
    let paid = pos.expect("paid").await;
    let transaction = sim.transaction(no).unwrap();
    assert_eq!(
        paid["transaction_id"], transaction["transaction_id"],
        "{paid}"
    );
    assert_eq!(paid["amount"]["total"], 3200, "{paid}");
    let statuses = delivery.await.unwrap();
    assert_eq!(statuses.last(), Some(&204), "{statuses:?}");
    assert!(
        sim.requests_to(Endpoint::Query).is_empty(),
        "paid without a query"
    );
}

#[tokio::test]
async fn serve_with_notify_listen_on_tcp_reports_paid_from_a_notification() {
    let dir = tempfile::tempdir().unwrap();
    let sim = Simulator::start(SimConfig::from_fixtures(Trust::PublicKey)).await;
    let address = format!("127.0.0.1:{}", free_port());
    let config = config(dir.path(), &sim, &address, true);
    let _daemon = serve(dir.path(), &config).await;
    let target = NotifyTarget::Tcp(address, PATH.into());
    paid_by_notification(dir.path(), &sim, target, "NC1001").await;

    // A public-key merchant with an APIv3 key has no platform certificates (the download
    // is answered 404): told once, at info level, what the key is for; no warning.
    let log = std::fs::read_to_string(dir.path().join("daemon.log")).unwrap();
    let told: Vec<&str> = log
        .lines()
        .filter(|l| l.contains("no WeChat Pay platform certificates"))
        .collect();
    assert_eq!(told.len(), 1, "{log}");
    assert!(
        told[0].contains("INFO") && told[0].contains("only decrypts payment notifications"),
        "{log}"
    );
    assert!(!log.contains("WARN"), "{log}");
}

#[tokio::test]
async fn serve_with_notify_listen_on_a_unix_socket_reports_paid_from_a_notification() {
    let dir = tempfile::tempdir().unwrap();
    let sim = Simulator::start(SimConfig::from_fixtures(Trust::PublicKey)).await;
    let socket = dir.path().join("notify.sock");
    let listen = format!("unix:{}", socket.display());
    let config = config(dir.path(), &sim, &listen, true);
    let _daemon = serve(dir.path(), &config).await;
    let target = NotifyTarget::Unix(socket, PATH.into());
    paid_by_notification(dir.path(), &sim, target, "NC2001").await;
}

/// The daemon's open file descriptors.
fn open_fds(pid: u32) -> usize {
    std::fs::read_dir(format!("/proc/{pid}/fd"))
        .unwrap()
        .count()
}

/// A flood of idle connections to the notification listener (400 where the kernel allows
/// such a queue, each open without a byte sent) does not take the daemon's file
/// descriptors: it serves 64 at once and leaves the others waiting in its listen backlog
/// (1,024), none dropped. The POS is answered meanwhile, and once the flood is gone a
/// payment's notification is taken as ever.
#[tokio::test]
async fn a_flood_of_idle_connections_to_the_listener_starves_nothing() {
    // More than the 64 served at once and the 128 a listen queue held before, within what
    // the kernel allows a queue (`net.core.somaxconn`: 4,096 since Linux 5.4, 128 before).
    let somaxconn: usize = std::fs::read_to_string("/proc/sys/net/core/somaxconn")
        .map_or(128, |s| s.trim().parse().unwrap());
    let connections = 64 + somaxconn.min(336);
    let dir = tempfile::tempdir().unwrap();
    let sim = Simulator::start(SimConfig::from_fixtures(Trust::PublicKey)).await;
    let address = format!("127.0.0.1:{}", free_port());
    let config = config(dir.path(), &sim, &address, true);
    let daemon = serve(dir.path(), &config).await;
    let before = open_fds(daemon.0.id());
    // Past the 64 served at once, the rest wait in the listen queue: none is refused or left
    // unanswered (a SYN dropped is retried only a second later).
    let mut flood = Vec::new();
    for i in 0..connections {
        let connect = tokio::net::TcpStream::connect(&address);
        let waited = tokio::time::timeout(Duration::from_millis(500), connect).await;
        let short = || panic!("connection {i} of {connections} not queued: backlog too short");
        flood.push(waited.unwrap_or_else(|_| short()).unwrap());
    }
    tokio::time::sleep(Duration::from_millis(300)).await;
    let during = open_fds(daemon.0.id());
    assert!(during <= before + 64 + 4, "{before} → {during} descriptors");
    let mut pos = Client::connect(&dir.path().join("wxprint.sock")).await;
    let pong = pos.call(serde_json::json!({"op": "ping", "id": "p"})).await;
    assert_eq!(pong["event"], "pong", "{pong}");
    drop(flood);
    let target = NotifyTarget::Tcp(address, PATH.into());
    paid_by_notification(dir.path(), &sim, target, "NC3001").await;
}

/// `wxprint ARGS` in `dir`, expected to exit by itself: its stderr once it has failed. A
/// daemon that starts instead is stopped, and the test fails (rather than hangs).
fn refused(dir: &Path, args: &[&str]) -> String {
    let log = dir.join("refused.log");
    let mut child = Daemon(
        Command::new(WXPRINT)
            .args(args)
            .current_dir(dir)
            .env_remove("WXPRINT_CONFIG")
            .stdout(Stdio::null())
            .stderr(File::create(&log).unwrap())
            .spawn()
            .unwrap(),
    );
    let deadline = std::time::Instant::now() + Duration::from_secs(20);
    let status = loop {
        if let Some(status) = child.0.try_wait().unwrap() {
            break status;
        }
        assert!(
            std::time::Instant::now() < deadline,
            "{args:?} did not exit: the daemon started"
        );
        std::thread::sleep(Duration::from_millis(20));
    };
    let err = std::fs::read_to_string(&log).unwrap();
    assert!(!status.success(), "{args:?} succeeded: {err}");
    err
}

#[tokio::test]
async fn notify_listen_without_the_apiv3_key_is_refused_by_serve_and_check_config() {
    let dir = tempfile::tempdir().unwrap();
    let sim = Simulator::start(SimConfig::from_fixtures(Trust::PublicKey)).await;
    let config = config(dir.path(), &sim, "127.0.0.1:8088", false);
    let config = config.to_str().unwrap();
    for args in [
        ["serve", "--config", config],
        ["check-config", "--config", config],
    ] {
        let err = refused(dir.path(), &args);
        assert!(
            err.contains("notify.listen") && err.contains("wechatpay.apiv3_key_file"),
            "{args:?}: {err}"
        );
    }
    assert!(
        !dir.path().join("wxprint.sock").exists(),
        "the daemon did not start"
    );
}

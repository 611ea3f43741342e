//! The real `wxprint serve` on the real WeChat Pay backend, pointed at the in-repo
//! simulator: a config file in a test's directory (public-key trust, the simulator's
//! merchant, a file printer) and the daemon started from it, its log in `daemon.log`. For
//! the test binaries that check a whole feature through the binary (`metrics`,
//! `notify_cli`); each includes this file with `#[path]`, beside `bin.rs` and the simulator.

use std::fs::File;
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::time::Duration;

use crate::bin::{Daemon, WXPRINT};
use crate::sim_config;
use crate::wechatpay_sim::Simulator;

/// Write `dir/wxprint.toml` for the real backend at `sim` (`sim_config.rs`): `wechatpay` as
/// more lines of `[wechatpay]` (a poll schedule, an APIv3 key file), a file printer writing
/// to `dir/receipts`, and `sections` after it.
pub fn config(dir: &Path, sim: &Simulator, wechatpay: &str, sections: &str) -> PathBuf {
    let printer = format!(
        "[printer]\ntransport = \"file\"\ndevice = \"{}/receipts\"\n",
        dir.display()
    );
    sim_config::write(dir, sim, wechatpay, &format!("{printer}{sections}"))
}

/// The line the daemon logs once it serves (`cli/serve.rs`, `announce_ready`).
const READY: &str = concat!("wxprint ", env!("CARGO_PKG_VERSION"), " ready");

/// `wxprint serve --config CONFIG`, its log in `dir/daemon.log`, once it has said it is
/// ready (waiting without blocking the runtime, on which the simulator answers the daemon).
/// Its POS socket is bound first, the notification listener and the metrics exporter after:
/// only the "ready" line says every listener is there.
pub async fn serve(dir: &Path, config: &Path) -> Daemon {
    let log = File::create(dir.join("daemon.log")).unwrap();
    let daemon = Daemon(
        Command::new(WXPRINT)
            .args(["serve", "--config", config.to_str().unwrap()])
            .current_dir(dir)
            .env_remove("WXPRINT_CONFIG")
            .env("RUST_LOG", "info")
            .stdout(Stdio::null())
            .stderr(log)
            .spawn()
            .unwrap(),
    );
    let log = dir.join("daemon.log");
    wait_until(dir, "the daemon's \"ready\" line", || {
        std::fs::read_to_string(&log).is_ok_and(|l| l.contains(READY))
    })
    .await;
    daemon
}

/// Wait (at most 20 s) until `done`; the failure points at the daemon's log in `dir`.
pub async fn wait_until(dir: &Path, what: &str, mut done: impl FnMut() -> bool) {
    let deadline = tokio::time::Instant::now() + Duration::from_secs(20);
    while !done() {
        assert!(
            tokio::time::Instant::now() < deadline,
            "{what}: not within 20 s; see {}",
            dir.join("daemon.log").display()
        );
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
}

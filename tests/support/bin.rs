//! The real `wxprint` binary, for the test binaries that drive it as a user would
//! (`cli`, `cli_verdicts`, `loopback`, `check_config`): run a command, start a daemon that
//! is stopped even when an assertion fails, write a sandbox config. Each binary includes
//! this file with `#[path]` and uses a part of it.
#![allow(dead_code, reason = "each CLI test binary uses a part")]

use std::path::{Path, PathBuf};
use std::process::{Child, Command, Output, Stdio};
use std::time::{Duration, Instant};

/// The binary cargo built for these tests.
pub const WXPRINT: &str = env!("CARGO_BIN_EXE_wxprint");

/// `wxprint ARGS` in `dir`, not steered by the caller's `WXPRINT_CONFIG`.
pub fn wxprint(dir: &Path, args: &[&str]) -> Output {
    Command::new(WXPRINT)
        .args(args)
        .current_dir(dir)
        .env_remove("WXPRINT_CONFIG")
        .output()
        .expect("run wxprint")
}

/// A running daemon, stopped even when an assertion fails.
pub struct Daemon(pub Child);

impl Drop for Daemon {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

/// A sandbox config in `dir` (socket and state there too) whose `[printer]` section is
/// `printer`.
pub fn sandbox_config(dir: &Path, printer: &str) -> PathBuf {
    let path = dir.join("wxprint.toml");
    let text = format!(
        "[daemon]\nsocket = \"{d}/wxprint.sock\"\nstate_dir = \"{d}/state\"\n\
         [wechatpay]\nbackend = \"sandbox\"\n[printer]\n{printer}\n",
        d = dir.display()
    );
    std::fs::write(&path, text).unwrap();
    path
}

/// Wait (at most 20 s) until the daemon's `socket` takes a connection: its file appears at
/// `bind`, a moment before the daemon listens on it.
pub fn wait_listening(socket: &Path) {
    let start = Instant::now();
    while std::os::unix::net::UnixStream::connect(socket).is_err() {
        assert!(
            start.elapsed() < Duration::from_secs(20),
            "the daemon's socket {} took no connection within 20 s",
            socket.display()
        );
        std::thread::sleep(Duration::from_millis(20));
    }
}

/// `wxprint serve --config CONFIG` in `dir`, once its socket `dir/wxprint.sock` takes a
/// connection.
pub fn serve(dir: &Path, config: &Path) -> Daemon {
    let daemon = Daemon(
        Command::new(WXPRINT)
            .args(["serve", "--config", config.to_str().unwrap()])
            .current_dir(dir)
            .env_remove("WXPRINT_CONFIG")
            .stderr(Stdio::null())
            .spawn()
            .unwrap(),
    );
    wait_listening(&dir.join("wxprint.sock"));
    daemon
}

//! The real-path bench's tools: the daemon's config file, and reading figures (RSS, QR
//! bytes, percentiles). Knows no checkout.

use std::path::{Path, PathBuf};
use std::time::Duration;

use crate::sim_config;
use crate::wechatpay_sim::Simulator;

/// Write `dir/wxprint.toml`: socket and state in `dir`, the real WeChat Pay backend at
/// the simulator (public-key trust, the simulator's merchant), the default poll schedule and
/// query budget (every unpaid order is polled: 1 s in its first minute, within
/// `query_rate` 10/s), and `printer` as the `[printer]` section.
pub fn daemon_config(dir: &Path, sim: &Simulator, printer: &str) -> PathBuf {
    sim_config::write(dir, sim, "", &format!("[printer]\n{printer}\n"))
}

/// The resident set of process `pid` in KiB (`VmRSS`).
pub fn rss_kib(pid: u32) -> u64 {
    rss_kib_of(pid, "VmRSS:")
}

/// The `field` (e.g. `RssAnon:`) of `/proc/pid/status`, in KiB.
pub fn rss_kib_of(pid: u32, field: &str) -> u64 {
    let status = std::fs::read_to_string(format!("/proc/{pid}/status")).unwrap_or_default();
    status
        .lines()
        .find_map(|l| l.strip_prefix(field))
        .map_or(0, kib)
}

/// The CPU time process `pid` has used, all its threads (also those gone), user and
/// kernel: `/proc/pid/stat`'s `utime` + `stime`, in clock ticks of 10 ms.
pub fn cpu_time(pid: u32) -> Duration {
    let stat = std::fs::read_to_string(format!("/proc/{pid}/stat")).unwrap_or_default();
    // After the command name in parentheses: state is field 3, utime 14 and stime 15.
    let fields: Vec<&str> = stat
        .rsplit_once(')')
        .map_or(Vec::new(), |(_, rest)| rest.split_whitespace().collect());
    let ticks: u64 = [11, 12]
        .iter()
        .filter_map(|&i| fields.get(i).and_then(|f| f.parse::<u64>().ok()))
        .sum();
    Duration::from_millis(ticks * 10)
}

/// How many times the threads of process `pid` were switched out so far (voluntary and
/// not, every live thread): a thread that sleeps, waits or wakes adds at least one.
pub fn context_switches(pid: u32) -> u64 {
    let Ok(tasks) = std::fs::read_dir(format!("/proc/{pid}/task")) else {
        return 0;
    };
    let count = |status: String| -> u64 {
        status
            .lines()
            .filter(|l| l.contains("ctxt_switches:"))
            .filter_map(|l| l.split_whitespace().nth(1)?.parse::<u64>().ok())
            .sum()
    };
    tasks
        .flatten()
        .map(|task| count(std::fs::read_to_string(task.path().join("status")).unwrap_or_default()))
        .sum()
}

/// `  1234 kB` → 1234.
fn kib(value: &str) -> u64 {
    value
        .trim()
        .trim_end_matches("kB")
        .trim()
        .parse()
        .unwrap_or(0)
}

/// Print every mapping of process `pid` with more than 200 KiB resident.
pub fn print_mappings(pid: u32) {
    let smaps = std::fs::read_to_string(format!("/proc/{pid}/smaps")).unwrap_or_default();
    let mut mapping = "";
    for line in smaps.lines() {
        if line.starts_with(|c: char| c.is_ascii_hexdigit() && !c.is_ascii_uppercase()) {
            mapping = line;
        } else if let Some(rss) = line.strip_prefix("Rss:").map(kib)
            && rss > 200
        {
            println!("      {rss:>6} KiB  {mapping}");
        }
    }
}

/// How many file descriptors process `pid` has open.
pub fn open_fds(pid: u32) -> usize {
    std::fs::read_dir(format!("/proc/{pid}/fd")).map_or(0, Iterator::count)
}

/// Bytes of the QR commands in a receipt: native `GS ( k` blocks, or a `GS v 0` raster.
pub fn qr_bytes(receipt: &[u8]) -> usize {
    let mut total = 0;
    let mut i = 0;
    while i + 8 <= receipt.len() {
        let len = match &receipt[i..i + 3] {
            [0x1D, 0x28, 0x6B] => {
                5 + usize::from(receipt[i + 3]) + 256 * usize::from(receipt[i + 4])
            }
            [0x1D, 0x76, 0x30] => {
                let w = usize::from(receipt[i + 4]) + 256 * usize::from(receipt[i + 5]);
                let h = usize::from(receipt[i + 6]) + 256 * usize::from(receipt[i + 7]);
                8 + w * h
            }
            _ => {
                i += 1;
                continue;
            }
        };
        total += len;
        i += len;
    }
    total
}

/// `p50 … p99 … max …` of `times`.
pub fn summary(times: &[Duration]) -> String {
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

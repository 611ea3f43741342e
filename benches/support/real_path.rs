//! The real-path bench's tools: the timing proxy in front of the simulator, the daemon's
//! config file, and reading figures (RSS, QR bytes, percentiles). Knows no checkout.

use std::io::{Read, Write};
use std::net::{SocketAddr, TcpListener, TcpStream};
use std::os::unix::fs::PermissionsExt;
use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use crate::wechatpay_sim::{
    APPID, MCHID, MERCHANT_SERIAL, PUBLIC_KEY_ID, Simulator, default_fixture_dir,
};

/// A loopback TCP proxy in front of the simulator that records, for every placement
/// (`POST …/native`), when the request's last byte went to the simulator and when the
/// answer's first byte came back: the simulator's own time, subtracted from the daemon's.
/// Queries and closes of other orders pass through unrecorded (with orders pending they
/// run beside the measured checkout, and are not its time).
pub struct Proxy {
    port: u16,
    /// `(request sent, answer began)`, one per placement answer.
    spans: Spans,
}

/// The placements' `(sent, answered)` times.
type Spans = Arc<Mutex<Vec<(Instant, Instant)>>>;

/// One connection's request in flight: when its last byte went out, and whether it is a
/// placement.
#[derive(Default)]
struct InFlight {
    sent: Option<Instant>,
    placement: bool,
}

impl Proxy {
    /// Listen on 127.0.0.1 and forward every connection to `upstream`.
    pub fn start(upstream: SocketAddr) -> Proxy {
        let listener = TcpListener::bind("127.0.0.1:0").unwrap();
        let port = listener.local_addr().unwrap().port();
        let spans = Spans::default();
        let spans2 = spans.clone();
        std::thread::spawn(move || {
            for client in listener.incoming().flatten() {
                let server = TcpStream::connect(upstream).unwrap();
                forward(client, server, spans2.clone());
            }
        });
        Proxy { port, spans }
    }

    /// The proxy's port (the daemon's `api_base`).
    pub fn port(&self) -> u16 {
        self.port
    }

    /// How long the simulator held placements whose requests went out in `from..to`.
    pub fn simulator_time(&self, from: Instant, to: Instant) -> Duration {
        let spans = self.spans.lock().unwrap();
        spans
            .iter()
            .rev()
            .take_while(|(sent, _)| *sent >= from)
            .filter(|(sent, _)| *sent <= to)
            .map(|(sent, answered)| answered.duration_since(*sent))
            .sum()
    }
}

/// Copy both ways, one thread each; an answer's first chunk closes the open span.
fn forward(client: TcpStream, server: TcpStream, spans: Spans) {
    for s in [&client, &server] {
        s.set_nodelay(true).unwrap();
    }
    let flight: Arc<Mutex<InFlight>> = Arc::default();
    let (c2, s2, flight2) = (
        client.try_clone().unwrap(),
        server.try_clone().unwrap(),
        flight.clone(),
    );
    std::thread::spawn(move || {
        pump(c2, s2, |at, chunk| {
            let mut f = flight2.lock().unwrap();
            if chunk.starts_with(b"POST ") || chunk.starts_with(b"GET ") {
                f.placement = chunk.starts_with(b"POST ")
                    && chunk
                        .split(|&b| b == b'\r')
                        .next()
                        .is_some_and(|line| line.windows(7).any(|w| w == b"/native"));
            }
            f.sent = Some(at);
        })
    });
    std::thread::spawn(move || {
        pump(server, client, |at, _| {
            let mut f = flight.lock().unwrap();
            if let Some(from) = f.sent.take()
                && f.placement
            {
                spans.lock().unwrap().push((from, at));
            }
        })
    });
}

/// Copy `from` → `to` until either side closes; `seen(now, chunk)` after each chunk.
fn pump(mut from: TcpStream, mut to: TcpStream, mut seen: impl FnMut(Instant, &[u8])) {
    let mut buf = vec![0u8; 64 * 1024];
    while let Ok(n @ 1..) = from.read(&mut buf) {
        seen(Instant::now(), &buf[..n]);
        if to.write_all(&buf[..n]).is_err() {
            break;
        }
    }
    let _ = to.shutdown(std::net::Shutdown::Both);
}

/// Write `dir/wxprint.toml`: socket and state in `dir`, the real WeChat Pay backend at
/// the proxy (public-key trust, the simulator's merchant), the default poll schedule and
/// query budget (every unpaid order is polled: 1 s in its first minute, within
/// `query_rate` 10/s), and `printer` as the `[printer]` section.
pub fn daemon_config(dir: &Path, sim: &Simulator, proxy_port: u16, printer: &str) -> PathBuf {
    let keys = dir.join("keys");
    std::fs::create_dir_all(&keys).unwrap();
    for file in ["merchant_key.pem", "platform_pub.pem"] {
        let to = keys.join(file);
        std::fs::copy(default_fixture_dir().join(file), &to).unwrap();
        std::fs::set_permissions(&to, std::fs::Permissions::from_mode(0o600)).unwrap();
    }
    assert_eq!(sim.config().mchid, MCHID, "the fixtures' merchant");
    let d = dir.display();
    let text = format!(
        r#"[daemon]
socket = "{d}/wxprint.sock"
state_dir = "{d}/state"
[wechatpay]
backend = "wechatpay"
region = "mainland"
api_base = "http://127.0.0.1:{proxy_port}"
backup_api_base = ""
appid = "{APPID}"
mchid = "{MCHID}"
merchant_serial_no = "{MERCHANT_SERIAL}"
private_key_file = "{d}/keys/merchant_key.pem"
public_key_id = "{PUBLIC_KEY_ID}"
public_key_file = "{d}/keys/platform_pub.pem"
notify_url = "https://merchant.example/wechatpay/notify"
[printer]
{printer}
"#
    );
    let path = dir.join("wxprint.toml");
    std::fs::write(&path, text).unwrap();
    path
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

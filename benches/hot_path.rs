//! `cargo bench --bench hot_path`: the speed and memory targets, measured (not asserted —
//! the CI machine is shared and noisy; read the numbers).
//!
//! - receipt build: `receipt::encode` of a typical receipt (CPU only);
//! - checkout → last QR byte at the printer, through the real socket, journal and printer
//!   thread, with an instant payment backend (so WeChat Pay's own latency is excluded);
//!   target p50 ≤ 1 ms;
//! - bytes on the wire for the QR (target ≤ 1 KB) and the whole receipt;
//! - `serve --sandbox` start → socket ready (target ≤ 50 ms) and idle RSS (≤ 15 MB).

use std::path::Path;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use tokio::io::{AsyncBufReadExt, AsyncWriteExt, BufReader};
use tokio::net::UnixStream;
use wxprint::config::PollSchedule;
use wxprint::escpos::{self, Layout};
use wxprint::jobs::{Jobs, JobsConfig};
use wxprint::journal::Journal;
use wxprint::money::Money;
use wxprint::payment::{BoxFuture, PaymentBackend, PaymentError, PlaceOrder, Placed, TradeState};
use wxprint::printer::{Printer, PrinterError, PrinterHandle, Printout};
use wxprint::protocol::{Paper, PrinterStatus};
use wxprint::receipt::{self, Line, Receipt};
use wxprint::server;

const CODE_URL: &str = "weixin://wxpay/bizpayurl?pr=Ab3dE9x";

fn percentiles(mut v: Vec<Duration>) -> (Duration, Duration) {
    v.sort();
    (v[v.len() / 2], v[v.len() * 95 / 100])
}

fn sample_receipt() -> Receipt {
    Receipt {
        title: "Example Shop".into(),
        lines: vec![
            Line {
                name: "Latte".into(),
                quantity: 2,
                amount: 3200,
            },
            Line {
                name: "Croissant".into(),
                quantity: 1,
                amount: 1500,
            },
        ],
        total: Money::cny(4700),
        code_url: CODE_URL.into(),
        footer: "Thank you!".into(),
        out_trade_no: "T20261126001".into(),
        time: "2026-11-26 12:00:05".into(),
        sandbox: false,
        reprint: false,
    }
}

/// Answers at once: measures our path, not a payment service's.
struct Instant0;

impl PaymentBackend for Instant0 {
    fn name(&self) -> &'static str {
        "instant"
    }
    fn accepts(&self, amount: &Money) -> Result<(), String> {
        wxprint::payment::cny_only(amount)
    }
    fn place<'a>(&'a self, _: &'a PlaceOrder) -> BoxFuture<'a, Result<Placed, PaymentError>> {
        Box::pin(async {
            Ok(Placed {
                code_url: CODE_URL.into(),
            })
        })
    }
    fn query<'a>(&'a self, _: &'a str) -> BoxFuture<'a, Result<TradeState, PaymentError>> {
        Box::pin(async { Ok(TradeState::NotPay) })
    }
    fn close<'a>(&'a self, _: &'a str) -> BoxFuture<'a, Result<(), PaymentError>> {
        Box::pin(async { Ok(()) })
    }
}

/// Records when the last byte of each job was handed over.
struct Stamp(Arc<Mutex<Vec<Instant>>>);

impl Printer for Stamp {
    fn describe(&self) -> String {
        "bench".into()
    }
    fn write_job(&mut self, _: &str, bytes: &[u8]) -> Result<Printout, PrinterError> {
        std::hint::black_box(bytes);
        self.0.lock().unwrap().push(Instant::now());
        Ok(Printout::default())
    }
    fn status(&mut self) -> PrinterStatus {
        PrinterStatus {
            online: None,
            paper: Paper::Ok,
            cover_open: None,
            error: None,
            transport: None,
            drawer: wxprint::protocol::DrawerState::Unknown,
        }
    }
}

fn bench_encode() {
    let r = sample_receipt();
    let mut times = Vec::new();
    let mut len = 0;
    for _ in 0..2000 {
        let t = Instant::now();
        len = std::hint::black_box(receipt::encode(&r, &Layout::MM80)).len();
        times.push(t.elapsed());
    }
    let (p50, p95) = percentiles(times);
    let qr = escpos::qr_raster(CODE_URL, &Layout::MM80).len();
    let native = escpos::qr_native_block(CODE_URL, 6).len();
    println!(
        "receipt::encode          p50 {p50:>10.1?}  p95 {p95:>10.1?}  ({len} bytes; raster QR {qr} B, native QR {native} B; target QR ≤ 1000 B)"
    );
}

async fn bench_checkout(dir: &Path, durable: bool) {
    let stamps = Arc::new(Mutex::new(Vec::new()));
    let config = JobsConfig {
        order_ttl: Duration::from_secs(600),
        close_min_age: Duration::from_secs(300),
        time_expire_min: Duration::from_secs(60),
        place_timeout: Duration::from_secs(30),
        poll: PollSchedule {
            fast: Duration::from_secs(3600),
            fast_window: Duration::from_secs(60),
            paying: Duration::from_secs(3600),
            slow: Duration::from_secs(3600),
        },
        receipt_title: "Example Shop".into(),
        receipt_footer: "Thank you!".into(),
        paid_slip: false,
        layout: Layout::MM80,
        profile: "80mm".into(),
        print_timeout: Duration::from_secs(600),
        query_rate: 10,
        keep_finished: Duration::from_secs(30 * 24 * 3600),
        drawer: wxprint::escpos::DrawerPulse::default(),
    };
    let state = if durable {
        dir.join("state")
    } else {
        Path::new("/dev/shm").join(format!("wxprint-bench-{}", std::process::id()))
    };
    let journal = Journal::open(&state).unwrap();
    let jobs = Jobs::start(
        config,
        Arc::new(Instant0),
        PrinterHandle::spawn(Box::new(Stamp(stamps.clone()))),
        journal,
    )
    .unwrap();
    let socket = dir.join(if durable { "d.sock" } else { "m.sock" });
    let listener = server::bind(&socket).unwrap();
    let (stop, stopped) = tokio::sync::oneshot::channel::<()>();
    let daemon = tokio::spawn(server::run(listener, jobs, async {
        let _ = stopped.await;
    }));
    let stream = UnixStream::connect(&socket).await.unwrap();
    let (read, mut write) = stream.into_split();
    let mut lines = BufReader::new(read).lines();
    let mut times = Vec::new();
    for i in 0..300 {
        let line = format!(
            "{{\"op\":\"checkout\",\"order\":{{\"out_trade_no\":\"B{i:010}\",\"description\":\"Latte x2\",\"amount\":{{\"total\":3200}}}},\"follow\":false}}\n"
        );
        let t = Instant::now();
        write.write_all(line.as_bytes()).await.unwrap();
        loop {
            let m = lines.next_line().await.unwrap().unwrap();
            if m.contains("\"printed\"") {
                break;
            }
        }
        let last_byte = *stamps.lock().unwrap().last().unwrap();
        times.push(last_byte - t);
    }
    let (p50, p95) = percentiles(times);
    let what = if durable {
        "disk journal (fsync)"
    } else {
        "journal on tmpfs"
    };
    println!(
        "checkout → printer       p50 {p50:>10.1?}  p95 {p95:>10.1?}  ({what}; target p50 ≤ 1 ms)"
    );
    let _ = stop.send(());
    daemon.await.unwrap();
    if !durable {
        let _ = std::fs::remove_dir_all(&state);
    }
}

/// Bytes on the wire per profile and QR style, and what they cost at 9600 and 115200 baud
/// (8N1: 10 bits a byte).
fn bench_wire() {
    use wxprint::escpos::QrStyle;
    use wxprint::printer::profile::PROFILES;
    let r = sample_receipt();
    println!(
        "profile        QR       QR bytes  receipt bytes   @9600    @115200   (target QR ≤ 1000 B)"
    );
    for profile in PROFILES {
        let mut styles = vec![QrStyle::Raster];
        if profile.native_qr {
            styles.push(QrStyle::Native);
        }
        for qr in styles {
            let layout = profile.layout(qr);
            let qr_bytes = match qr {
                QrStyle::Raster => escpos::qr_raster(CODE_URL, &layout).len(),
                QrStyle::Native => {
                    escpos::qr_native_block(CODE_URL, escpos::NATIVE_QR_MODULE_DOTS).len()
                }
            };
            let total = receipt::encode(&r, &layout).len();
            let at = |baud: f64| total as f64 * 10.0 / baud;
            println!(
                "{:<14} {:<8} {:>8}  {:>13}  {:>6.2} s  {:>7.3} s",
                profile.name,
                format!("{qr:?}"),
                qr_bytes,
                total,
                at(9600.0),
                at(115_200.0)
            );
        }
    }
}

fn rss_kb(pid: u32) -> Option<u64> {
    let status = std::fs::read_to_string(format!("/proc/{pid}/status")).ok()?;
    let line = status.lines().find(|l| l.starts_with("VmRSS:"))?;
    line.split_whitespace().nth(1)?.parse().ok()
}

fn bench_start(dir: &Path) {
    let bin = env!("CARGO_BIN_EXE_wxprint");
    let mut starts = Vec::new();
    let mut rss = 0;
    for i in 0..20 {
        let cwd = dir.join(format!("start{i}"));
        std::fs::create_dir_all(&cwd).unwrap();
        let t = Instant::now();
        let mut child = std::process::Command::new(bin)
            .args(["serve", "--sandbox"])
            .current_dir(&cwd)
            .stderr(std::process::Stdio::null())
            .spawn()
            .unwrap();
        while std::os::unix::net::UnixStream::connect(cwd.join("wxprint.sock")).is_err() {
            std::thread::sleep(Duration::from_micros(200));
        }
        starts.push(t.elapsed());
        if i == 0 {
            std::thread::sleep(Duration::from_millis(500));
            rss = rss_kb(child.id()).unwrap_or(0);
        }
        let _ = std::process::Command::new("kill")
            .args(["-TERM", &child.id().to_string()])
            .status();
        let _ = child.wait();
    }
    let (p50, p95) = percentiles(starts);
    println!("serve --sandbox → ready  p50 {p50:>10.1?}  p95 {p95:>10.1?}  (target ≤ 50 ms)");
    println!(
        "idle RSS                 {:.1} MB (target ≤ 15 MB)",
        rss as f64 / 1024.0
    );
}

fn main() {
    // `cargo bench` passes `--bench`; `cargo test --benches` would pass nothing useful.
    let dir = tempfile::tempdir().unwrap();
    bench_encode();
    bench_wire();
    let rt = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .unwrap();
    rt.block_on(bench_checkout(dir.path(), true));
    if Path::new("/dev/shm").is_dir() {
        rt.block_on(bench_checkout(dir.path(), false));
    }
    bench_start(dir.path());
}

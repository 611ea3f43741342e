//! `cargo bench --bench wechatpay`: the WeChat Pay side, measured against the simulator.
//!
//! - request signing (SHA256withRSA-2048 of a Native request) and response verification;
//! - payment detection latency: the daemon, real backend, default polling schedule;
//!   customers pay at random moments after the receipt is printed; the time from the
//!   payment instant to the `paid` event (target p50 ≤ 1.0 s, p95 ≤ 2.0 s) and the query
//!   rate per order in the first minute (target ≤ 1 query/s).

#[path = "../tests/support/merchant.rs"]
mod merchant;
#[path = "../tests/support/wechatpay_sim/mod.rs"]
mod wechatpay_sim;

use std::path::Path;
use std::sync::Arc;
use std::time::{Duration, Instant};

use tokio::io::{AsyncBufReadExt, AsyncWriteExt, BufReader};
use tokio::net::UnixStream;
use wechatpay_sim::{Endpoint, SimConfig, Simulator, Trust};
use wxprint::config::PollSchedule;
use wxprint::escpos::Layout;
use wxprint::jobs::{Jobs, JobsConfig};
use wxprint::journal::Journal;
use wxprint::printer::{FilePrinter, PrinterHandle};
use wxprint::server;
use wxprint::wechatpay::{
    MerchantSigner, ResponseSignature, Verifier, new_nonce, response_message,
};

const FIXTURES: &str = concat!(env!("CARGO_MANIFEST_DIR"), "/tests/fixtures/wechatpay");

fn percentiles(mut v: Vec<Duration>) -> (Duration, Duration) {
    v.sort();
    (v[v.len() / 2], v[(v.len() * 95 / 100).min(v.len() - 1)])
}

fn bench_signing() {
    let key = std::fs::read_to_string(Path::new(FIXTURES).join("merchant_key.pem")).unwrap();
    let signer = MerchantSigner::from_pkcs8_pem(
        "1230000109",
        "7D3A1F0E5C2B4A6978E1D0C3B2A1F0E9D8C7B6A5",
        &key,
    )
    .unwrap();
    let body = r#"{"appid":"wxd678efh567hg6787","mchid":"1230000109","description":"Latte x2","out_trade_no":"T20261126001","time_expire":"2026-11-26T12:10:00+08:00","notify_url":"https://merchant.example/wechatpay/notify","amount":{"total":3200,"currency":"CNY"}}"#;
    let mut times = Vec::new();
    for _ in 0..500 {
        let t = Instant::now();
        let header = signer
            .authorization(
                "POST",
                "/v3/pay/transactions/native",
                1_795_665_605,
                &new_nonce(),
                body,
            )
            .unwrap();
        std::hint::black_box(header);
        times.push(t.elapsed());
    }
    let (p50, p95) = percentiles(times);
    println!("sign a Native request        p50 {p50:>10.1?}  p95 {p95:>10.1?}");

    // Verification of an answer signed by "WeChat Pay" (the platform key of the fixtures).
    let platform = std::fs::read_to_string(Path::new(FIXTURES).join("platform_key.pem")).unwrap();
    let platform = MerchantSigner::from_pkcs8_pem("1230000109", "01", &platform).unwrap();
    let public = std::fs::read_to_string(Path::new(FIXTURES).join("platform_pub.pem")).unwrap();
    let id = "PUB_KEY_ID_0114232000000000000000000000000001";
    let verifier = Verifier::new().with_public_key(id, &public).unwrap();
    let now = wxprint::clock::now_ms() / 1000;
    let answer = br#"{"code_url":"weixin://wxpay/bizpayurl?pr=Ab3dE9x"}"#;
    let signature = ResponseSignature {
        timestamp: now.to_string(),
        nonce: new_nonce(),
        signature: String::new(),
        serial: id.into(),
        signature_type: None,
    };
    let signature = ResponseSignature {
        signature: platform
            .sign(&response_message(
                &signature.timestamp,
                &signature.nonce,
                answer,
            ))
            .unwrap(),
        ..signature
    };
    let mut times = Vec::new();
    for _ in 0..500 {
        let t = Instant::now();
        verifier.verify(&signature, answer, now).unwrap();
        times.push(t.elapsed());
    }
    let (p50, p95) = percentiles(times);
    println!("verify an answer             p50 {p50:>10.1?}  p95 {p95:>10.1?}");
}

async fn bench_detection(dir: &Path) {
    let sim = Simulator::start(SimConfig::from_fixtures(Trust::PublicKey)).await;
    let s = merchant::settings(dir, &sim, Trust::PublicKey);
    let backend = Arc::new(wxprint::wechatpay::WechatPay::from_settings(&s.wechatpay).unwrap());
    let schedule = PollSchedule::default();
    let config = JobsConfig {
        order_ttl: Duration::from_secs(600),
        close_min_age: Duration::from_secs(300),
        time_expire_min: Duration::from_secs(60),
        place_timeout: Duration::from_secs(30),
        poll: schedule,
        receipt_title: "Bench".into(),
        receipt_footer: String::new(),
        paid_slip: false,
        layout: Layout::MM80,
        profile: "80mm".into(),
        print_timeout: Duration::from_secs(600),
        query_rate: 10,
        keep_finished: Duration::from_secs(30 * 24 * 3600),
        drawer: wxprint::escpos::DrawerPulse::default(),
    };
    let journal = Journal::open(&dir.join("state")).unwrap();
    let printer = PrinterHandle::spawn(Box::new(FilePrinter::new(dir.join("receipts"))));
    let jobs = Jobs::start(config, backend, printer, journal).unwrap();
    let socket = dir.join("bench.sock");
    let listener = server::bind(&socket).unwrap();
    let (stop, stopped) = tokio::sync::oneshot::channel::<()>();
    let daemon = tokio::spawn(server::run(listener, jobs, async {
        let _ = stopped.await;
    }));

    let sim = Arc::new(sim);
    let orders = 40;
    let mut tasks = Vec::new();
    for i in 0..orders {
        let sim = sim.clone();
        let socket = socket.clone();
        tasks.push(tokio::spawn(async move {
            let no = format!("BENCH{i:06}");
            let stream = UnixStream::connect(&socket).await.unwrap();
            let (read, mut write) = stream.into_split();
            let mut lines = BufReader::new(read).lines();
            let line = format!(
                "{{\"op\":\"checkout\",\"order\":{{\"out_trade_no\":\"{no}\",\"description\":\"Latte\",\"amount\":{{\"total\":100}}}}}}\n"
            );
            write.write_all(line.as_bytes()).await.unwrap();
            while !lines.next_line().await.unwrap().unwrap().contains("\"printed\"") {}
            let printed = Instant::now();
            // The customer scans and pays a few seconds later, at no particular phase of
            // the polling schedule.
            tokio::time::sleep(Duration::from_millis(2_000 + fastrand::u64(0..8_000))).await;
            assert!(sim.pay(&no));
            let paid_at = Instant::now();
            while !lines.next_line().await.unwrap().unwrap().contains("\"paid\"") {}
            let latency = paid_at.elapsed();
            let queries = sim
                .requests_to(Endpoint::Query)
                .iter()
                .filter(|r| r.path.contains(&no) && r.instant >= printed)
                .count();
            let rate = queries as f64 / (paid_at + latency - printed).as_secs_f64();
            (latency, rate)
        }));
    }
    let mut latencies = Vec::new();
    let mut max_rate: f64 = 0.0;
    for t in tasks {
        let (latency, rate) = t.await.unwrap();
        latencies.push(latency);
        max_rate = max_rate.max(rate);
    }
    let (p50, p95) = percentiles(latencies);
    println!(
        "payment → paid event         p50 {p50:>10.1?}  p95 {p95:>10.1?}  ({orders} orders; poll every {:?} for {:?}; target p50 ≤ 1 s, p95 ≤ 2 s)",
        schedule.fast, schedule.fast_window
    );
    println!("queries per order per second max {max_rate:.2} in the first minute (target ≤ 1)");
    let _ = stop.send(());
    daemon.await.unwrap();
}

fn main() {
    let dir = tempfile::tempdir().unwrap();
    bench_signing();
    let rt = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
        .unwrap();
    rt.block_on(bench_detection(dir.path()));
}

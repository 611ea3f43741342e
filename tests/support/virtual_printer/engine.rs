//! The printer's insides, shared by its threads: the receive buffer fed by the link, the
//! print engine that drains it (held while offline, cover open or paper out), replies sent
//! back through the current link, software flow control, and what was printed and cut.

use std::collections::VecDeque;
use std::fs::File;
use std::io::{self, Write};
use std::net::TcpStream;
use std::sync::{Arc, Condvar, Mutex, MutexGuard};
use std::time::{Duration, Instant};

use super::Link;
use super::scanner::{Item, Kind, Parser, Realtime};
use super::state::{Paper, PrinterState};

const XON: u8 = 0x11;
const XOFF: u8 = 0x13;
/// How often the I/O threads look at their stop flag.
pub(super) const TICK: Duration = Duration::from_millis(20);

/// Where replies go: the current pty master or TCP connection.
pub(super) enum Sink {
    Pty(Arc<File>),
    Tcp(TcpStream),
}

impl Sink {
    /// Best effort, never blocks for long (the master is non-blocking; the socket has a
    /// write timeout): a reply nobody reads is lost, as on a real line.
    fn send(&mut self, bytes: &[u8]) -> bool {
        match self {
            Sink::Pty(f) => (&**f).write_all(bytes).is_ok(),
            Sink::Tcp(s) => s.write_all(bytes).is_ok(),
        }
    }
}

/// Everything the printer's threads share, under [`Shared`]'s lock.
pub(super) struct Inner {
    pub(super) link: Link,
    pub(super) state: PrinterState,
    pub(super) parser: Parser,
    /// The receive buffer: classified bytes the engine has not processed yet.
    pub(super) queue: VecDeque<Item>,
    /// Everything accepted into the receive buffer.
    pub(super) raw: Vec<u8>,
    /// What the engine processed, status queries removed.
    pub(super) printed: Vec<u8>,
    /// Everything sent back.
    pub(super) replies: Vec<u8>,
    /// Complete receipts, as ranges of `printed`.
    pub(super) receipts: Vec<(usize, usize)>,
    /// When the last byte of each cut arrived from the link: the kernel's receive time on
    /// TCP, the time it was read on a pty (before the engine ran either way).
    pub(super) cut_arrivals: Vec<Instant>,
    pub(super) receipt_start: Option<usize>,
    /// End of the last cut.
    pub(super) last_boundary: usize,
    pub(super) status_queries: usize,
    pub(super) drawer_pulses: usize,
    /// Every `ESC p` the engine processed, its five bytes as received.
    pub(super) kicks: Vec<Vec<u8>>,
    pub(super) dropped: usize,
    pub(super) sink: Option<Sink>,
    pub(super) xoff_sent: bool,
    pub(super) shutdown: bool,
    /// Where the `noise` sequence stands.
    pub(super) noise_seed: u32,
}

impl Inner {
    /// Bytes in the receive buffer.
    pub(super) fn fill(&self) -> usize {
        self.queue.len() + self.parser.pending()
    }

    /// Answer a status request with `byte`, or as `silent` / `noise` say.
    fn answer(&mut self, byte: u8) {
        self.answer_bytes(&[byte]);
    }

    /// Answer a request with `bytes`, or as `silent` / `noise` say.
    fn answer_bytes(&mut self, bytes: &[u8]) {
        if self.state.silent {
            return;
        }
        if !self.state.noise {
            return self.reply(bytes);
        }
        let mut noise = [0; 2];
        for b in &mut noise {
            // xorshift32: the same noise in every run.
            let mut x = self.noise_seed;
            x ^= x << 13;
            x ^= x >> 17;
            x ^= x << 5;
            self.noise_seed = x;
            *b = (x >> 24) as u8;
        }
        self.reply(&noise);
    }

    fn reply(&mut self, bytes: &[u8]) {
        if let Some(sink) = &mut self.sink
            && sink.send(bytes)
        {
            self.replies.extend_from_slice(bytes);
        }
    }

    /// Bytes arrived from the link, `at` (the kernel's receive time where the link has
    /// one, else now).
    fn receive(&mut self, data: &[u8], dropping: bool, at: Instant) {
        let mut rt = Vec::new();
        for &b in data {
            if dropping && self.fill() >= self.state.rx_buffer {
                self.dropped += 1;
                continue;
            }
            self.raw.push(b);
            let queued = self.queue.len();
            self.parser
                .feed(b, self.state.realtime_in_data, &mut self.queue, &mut rt);
            if self.queue.range(queued..).any(|i| i.kind == Kind::CutEnd) {
                self.cut_arrivals.push(at);
            }
            for action in rt.drain(..) {
                match action {
                    Realtime::Status(n) => {
                        self.status_queries += 1;
                        if let Some(reply) = self.state.dle_eot_reply(n) {
                            self.answer(reply);
                        }
                    }
                    Realtime::GsRSeen => self.status_queries += 1,
                    Realtime::Pulse => self.drawer_pulses += 1,
                }
            }
        }
        self.flow_control();
    }

    /// The engine: process up to `budget` items unless held.
    fn process(&mut self, budget: usize) {
        for _ in 0..budget {
            if self.state.held() {
                break;
            }
            let Some(item) = self.queue.front().copied() else {
                break;
            };
            if item.kind != Kind::Query && !matches!(item.kind, Kind::GsR(_) | Kind::GsI(_)) {
                // The paper may run out before this byte.
                if self.state.paper_out_after_bytes == Some(0) {
                    self.state.paper_out_after_bytes = None;
                    self.state.paper = Paper::Out;
                    break;
                }
            }
            self.queue.pop_front();
            match item.kind {
                Kind::Query => {}
                Kind::GsR(n) => {
                    if let Some(reply) = self.state.gs_r_reply(n) {
                        self.answer(reply);
                    }
                }
                Kind::GsI(n) => {
                    if let Some(reply) = self.state.gs_i_reply(n) {
                        self.answer_bytes(&reply);
                    }
                }
                Kind::Print | Kind::Init | Kind::CutEnd | Kind::Pulse => {
                    if item.kind == Kind::Init && self.receipt_start.is_none() {
                        self.receipt_start = Some(self.printed.len());
                    }
                    self.printed.push(item.byte);
                    if let Some(left) = &mut self.state.paper_out_after_bytes {
                        *left = left.saturating_sub(1);
                        if *left == 0 {
                            self.state.paper_out_after_bytes = None;
                            self.state.paper = Paper::Out;
                        }
                    }
                    match item.kind {
                        Kind::Pulse => {
                            self.drawer_pulses += 1;
                            let from = self.printed.len().saturating_sub(5);
                            self.kicks.push(self.printed[from..].to_vec());
                        }
                        Kind::CutEnd => self.cut(),
                        _ => {}
                    }
                }
            }
        }
        self.flow_control();
    }

    /// A cut: close the receipt.
    fn cut(&mut self) {
        let start = self.receipt_start.take().unwrap_or(self.last_boundary);
        self.receipts.push((start, self.printed.len()));
        self.last_boundary = self.printed.len();
        if let Some(left) = &mut self.state.paper_out_after_cuts {
            *left = left.saturating_sub(1);
            if *left == 0 {
                self.state.paper_out_after_cuts = None;
                self.state.paper = Paper::Out;
            }
        }
    }

    /// Software flow control (pty only): XOFF when nearly full, XON when drained.
    fn flow_control(&mut self) {
        if self.link != Link::Pty {
            return;
        }
        let cap = self.state.rx_buffer.max(4);
        let fill = self.fill();
        if self.state.xon_xoff && !self.xoff_sent && fill >= cap * 3 / 4 {
            self.xoff_sent = true;
            self.reply(&[XOFF]);
        } else if self.xoff_sent && (fill <= cap / 4 || !self.state.xon_xoff) {
            self.xoff_sent = false;
            self.reply(&[XON]);
        }
    }

    /// How many bytes the link thread may read now, and whether overflow is dropped.
    fn allowance(&self, host_flow_control: bool) -> (usize, bool) {
        let dropping =
            self.link == Link::Pty && self.state.drop_without_flow_control && !host_flow_control;
        if dropping {
            (READ_CHUNK, true)
        } else {
            let free = self.state.rx_buffer.saturating_sub(self.fill());
            (free.min(READ_CHUNK), false)
        }
    }
}

/// The most a link thread reads at once.
pub(super) const READ_CHUNK: usize = 4096;

/// The printer's insides and the condition variable its threads wait on.
pub(super) struct Shared {
    pub(super) inner: Mutex<Inner>,
    /// Signalled whenever bytes arrive, are processed, or the state changes.
    pub(super) changed: Condvar,
}

impl Shared {
    /// A printer that has received nothing yet.
    pub(super) fn new(link: Link, state: PrinterState) -> Shared {
        Shared {
            inner: Mutex::new(Inner {
                link,
                state,
                parser: Parser::default(),
                queue: VecDeque::new(),
                raw: Vec::new(),
                printed: Vec::new(),
                replies: Vec::new(),
                noise_seed: 0x2545_F491,
                receipts: Vec::new(),
                cut_arrivals: Vec::new(),
                receipt_start: None,
                last_boundary: 0,
                status_queries: 0,
                drawer_pulses: 0,
                kicks: Vec::new(),
                dropped: 0,
                sink: None,
                xoff_sent: false,
                shutdown: false,
            }),
            changed: Condvar::new(),
        }
    }

    pub(super) fn lock(&self) -> MutexGuard<'_, Inner> {
        self.inner.lock().unwrap_or_else(|e| e.into_inner())
    }

    pub(super) fn wait<'a>(
        &self,
        guard: MutexGuard<'a, Inner>,
        d: Duration,
    ) -> MutexGuard<'a, Inner> {
        self.changed
            .wait_timeout(guard, d)
            .unwrap_or_else(|e| e.into_inner())
            .0
    }

    /// Read what the link thread may read, feed it in. `read` gets a buffer of the allowed
    /// size and returns `Ok((0, _))` at EOF, else how many bytes it read and, where the
    /// link can tell, when the kernel received them (a TCP socket; a pty cannot: they count
    /// as arrived once read); `Err(WouldBlock|TimedOut)` means "nothing yet". Returns
    /// `false` when the link is finished (EOF or error).
    pub(super) fn pump(
        &self,
        buf: &mut [u8],
        host_flow_control: bool,
        read: impl FnOnce(&mut [u8]) -> io::Result<(usize, Option<Instant>)>,
    ) -> bool {
        let (limit, dropping) = {
            let inner = self.lock();
            let (limit, dropping) = inner.allowance(host_flow_control);
            if limit == 0 {
                // Buffer full: wait for the engine (like holding CTS low).
                drop(self.wait(inner, TICK));
                return true;
            }
            (limit, dropping)
        };
        match read(&mut buf[..limit]) {
            Ok((0, _)) => false,
            Ok((n, at)) => {
                let at = at.unwrap_or_else(Instant::now);
                self.lock().receive(&buf[..n], dropping, at);
                self.changed.notify_all();
                true
            }
            Err(e)
                if matches!(
                    e.kind(),
                    io::ErrorKind::WouldBlock
                        | io::ErrorKind::TimedOut
                        | io::ErrorKind::Interrupted
                ) =>
            {
                true
            }
            Err(_) => false,
        }
    }
}

/// The print engine thread: drains the receive buffer while not held.
pub(super) fn engine(shared: Arc<Shared>) {
    let mut inner = shared.lock();
    let mut credit = 0.0f64;
    let mut last = Instant::now();
    loop {
        if inner.shutdown {
            return;
        }
        let now = Instant::now();
        let elapsed = now.duration_since(last).as_secs_f64();
        last = now;
        if inner.queue.is_empty() || inner.state.held() {
            credit = 0.0;
            inner.flow_control();
            inner = shared.wait(inner, TICK);
            continue;
        }
        let budget = match inner.state.slow_reader_bytes_per_sec {
            None => usize::MAX,
            Some(rate) => {
                let rate = f64::from(rate.max(1));
                // No bursts after a pause: at most 50 ms worth of credit.
                credit = (credit + elapsed * rate).min(rate * 0.05 + 1.0);
                let whole = credit.floor();
                credit -= whole;
                whole as usize
            }
        };
        if budget > 0 {
            inner.process(budget);
            shared.changed.notify_all();
        }
        if inner.state.slow_reader_bytes_per_sec.is_some() {
            inner = shared.wait(inner, Duration::from_millis(5));
        }
    }
}

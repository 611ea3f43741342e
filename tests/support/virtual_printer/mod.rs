//! A virtual ESC/POS receipt printer for integration tests: the daemon talks to it exactly
//! as to real hardware, through a pseudo-terminal (serial) or a TCP listener (port 9100).
//!
//! ```ignore
//! let printer = VirtualPrinter::start(Link::Pty);       // synchronous: spawns std threads
//! // configure the daemon with `printer.device_path()` (or `printer.address()` for TCP)
//! let receipts = printer.wait_receipts(1, TIMEOUT).await;
//! printer.set_state(|s| s.paper = Paper::Out);
//! ```
//!
//! # How it works
//!
//! Bytes arrive from the link into a *receive buffer* (`PrinterState::rx_buffer`, 4 KiB by
//! default, like a Star TSP or many 58 mm clones). As they arrive they are run through an
//! ESC/POS command parser that knows the length of every command in
//! `docs/escpos.md` §1–3 (and a few more), so bytes inside a command's parameters or
//! payload — raster images (`GS v 0`, `ESC *`, `GS ( L`, `GS 8 L`, `GS *`, `FS q`), `GS ( k`
//! QR data, barcodes, user-defined characters — are never taken for commands.
//!
//! * **Real-time commands** (`DLE EOT n`, `DLE ENQ n`, `DLE DC4 …`) act on arrival, whatever
//!   the printer's state (paper out, offline, cover open), as on real printers. `DLE EOT n`
//!   is answered at once with one byte:
//!
//!   | n | reply                                                              |
//!   |---|--------------------------------------------------------------------|
//!   | 1 | `0x12`, `| 0x08` offline (= not `online`, or cover open, or paper out), `| 0x04` drawer pin 3 high (`drawer_high`) |
//!   | 2 | `0x12`, `| 0x04` cover open, `| 0x20` paper out ("stopped by paper end") |
//!   | 3 | `0x12` (no errors are modelled)                                    |
//!   | 4 | `0x12`; near end `0x1E` (bits 2+3); out `0x7E` (bits 2+3 and 5+6)  |
//!
//!   So: all fine `12 12 12 12`; paper out `1A 32 12 7E`; cover open `1A 16 12 12`;
//!   offline `1A 12 12 12`; near end `12 12 12 1E`.
//! * **The print engine** takes bytes out of the receive buffer in order (at
//!   `slow_reader_bytes_per_sec` if set, else at once). It stops while the printer is
//!   offline, the cover is open or the paper is out, and goes on where it stopped when that
//!   clears. `GS r n` is answered when the engine reaches it, i.e. "everything before it was
//!   processed": `GS r 1`/`GS r 49` → paper sensor `0x00` ok, `0x03` near end, `0x0C` out
//!   (never sent in practice: the engine is stopped while out); `GS r 2`/`GS r 50` → drawer
//!   `0x01` when `drawer_high`, else `0x00`. `GS I 66` / `GS I 67` are answered likewise,
//!   in order, with `_` + `maker` / `model` + `NUL` when the test set them (else nothing).
//! * **Drawer kicks** ([`VirtualPrinter::drawer_kicks`]): every `ESC p` the engine
//!   processed, as its five bytes.
//! * `silent`: nothing is ever answered (a unidirectional or dumb printer, a broken RX
//!   wire). `noise`: every answer is two bytes of line noise instead (a fixed pseudo-random
//!   sequence: what a host at the wrong baud rate reads).
//! * **Print data** ([`VirtualPrinter::bytes`]) is what the engine processed, in order,
//!   *without* the status queries (`DLE EOT`, `DLE ENQ`, `DLE DC4`, `GS r`), which are not
//!   print data; [`VirtualPrinter::raw`] has every byte that entered the receive buffer,
//!   queries and held data included.
//! * **Receipts** ([`VirtualPrinter::receipts`]): a receipt starts at the first `ESC @` after
//!   the previous cut (or at the previous cut / the start of the stream when a job has no
//!   `ESC @`) and ends with the last byte of its cut (`GS V …`, or the legacy `ESC i` /
//!   `ESC m`). Only complete (cut) receipts are listed; a second `ESC @` inside a job does not
//!   split it.
//!
//! # Links
//!
//! * [`Link::Pty`]: a pseudo-terminal pair, raw mode (`cfmakeraw`: no echo, no CR/LF
//!   translation). The daemon opens the slave through a stable symlink in a temporary
//!   directory ([`VirtualPrinter::device_path`], like a udev `/dev/receipt-printer`); the
//!   printer keeps a slave fd of its own open, so the daemon may open and close the device as
//!   often as it likes without the master seeing a hang-up. Replies sent while the daemon has
//!   the device closed wait in the tty's input queue (as on a real line; flush input before
//!   querying).
//!   - [`VirtualPrinter::unplug`] closes the master (and the printer's slave fd) and removes
//!     the symlink: the daemon's open fd then fails with `EIO` on write (on real USB-serial
//!     or usblp hardware it would be `EIO`/`ENODEV`), and opening the path fails with
//!     `ENOENT`. [`VirtualPrinter::replug`] makes a new pair and points the symlink at the new
//!     slave. The printer itself stays powered: data already in its buffer and a half-received
//!     command stay (like a real printer whose USB-serial adapter was pulled).
//!   - **Flow control.** RTS/CTS lines cannot be emulated on a pty; their *effect* is: when
//!     the receive buffer is full the printer stops reading the master, the kernel's pty
//!     buffer (tens of KiB) fills and the daemon's `write` blocks — as if CTS dropped. The
//!     printer reads the slave's termios (the daemon's settings) through the master: with
//!     `drop_without_flow_control`, when the receive buffer is full, *further bytes are
//!     dropped* (a printer overrun; the rest of a QR prints as garbage) — unless the daemon
//!     set `CRTSCTS` (hardware flow control), or set `IXON` while the printer has `xon_xoff`.
//!     Drops only happen with a slow reader or a held engine: an idle engine drains at once.
//!     Caveat: a pty has no baud rate — one `write()` of 10 KiB lands in the kernel at once,
//!     so a daemon without flow control must pace its writes itself (as it must on a real
//!     line); the printer reads eagerly when dropping, so an unpaced burst overruns.
//!   - `xon_xoff` (software flow control, pty only): the printer sends `XOFF` (`0x13`) when
//!     its buffer is ≥ 75 % full and `XON` (`0x11`) when it has drained to ≤ 25 %. With
//!     `IXON` set on the slave the kernel then really stops the daemon's output; without it
//!     the daemon reads the `0x13`/`0x11` bytes as data. `XON`/`XOFF` appear in
//!     [`VirtualPrinter::replies`].
//! * [`Link::Tcp`]: a listener on `127.0.0.1:0` with port 9100 semantics: one connection at a
//!   time, accepted in order (others wait in the listen backlog, their writes buffered by the
//!   kernel), replies on the same socket. When the peer closes, replies still due (a `GS r`
//!   behind held data) are lost. TCP has its own flow control, so nothing is ever dropped;
//!   a slow or held printer just stops reading (the daemon's writes block / time out).
//!   [`VirtualPrinter::unplug`] stops listening and drops the connection (the peer sees a
//!   reset/EOF, new connects are refused); [`VirtualPrinter::replug`] listens on the same
//!   port again.
//!
//! # Faithful / simplified
//!
//! Faithful: real-time status answered on arrival in any state; `GS r` in order and not
//! while paper is out; held data resumes where it stopped; bytes inside command parameters
//! and payloads are not commands (`ESC 3 16` = `1B 33 10` does not start a `DLE`);
//! overrun drops bytes, which desynchronises the parser exactly like a real printer (so
//! [`VirtualPrinter::receipts`] then show garbage or merge jobs); `ESC @` resets `GS ( D`.
//!
//! Simplified:
//! * Default: real-time commands inside payloads are *ignored*. Real printers may obey
//!   `DLE EOT` / `DLE DC4` found inside image data (`docs/escpos.md` §2 "Hazard"). Set
//!   `realtime_in_data` to model that: then a `10 04 n` inside a payload is answered (it
//!   cannot be disabled: Epson's `GS ( D`, `1D 28 44 05 00 14 01 00 02 00`, only disables
//!   `DLE DC4` fn 1 and fn 2), and a `10 14 01 m t` inside a payload counts as a drawer pulse
//!   unless `GS ( D` disabled fn 1. Real-time commands inside command *parameters* (e.g.
//!   between `ESC 3` and its `n`) are never obeyed.
//! * Commands are parsed when they *arrive*, not when printed: `GS ( D` takes effect on
//!   arrival.
//! * No ASB (`GS a` is accepted and ignored), no `GS I` replies but 66 and 67, no fn 182 /
//!   `ESC v` replies, no
//!   errors (`DLE EOT 3` is always `0x12`), no page mode semantics. Unknown `ESC x`, `GS x`,
//!   `FS x` are taken as two-byte commands. Invalid `DLE EOT n` (n ∉ 1..=4) is print data.
//! * Receive-buffer accounting counts raw bytes, queries included; a held printer with a full
//!   buffer stops reading, so a `DLE EOT` sent *after* a full buffer waits too (with
//!   DTR/DSR that is what real printers do; some would still answer).
//! * No baud rate on a pty (see above); `slow_reader_bytes_per_sec` models the drain rate.
//!
//! Several printers may run in one test process; there is no global state. Dropping the
//! [`VirtualPrinter`] stops its threads, closes its fds and removes its temporary directory.
//! [`VirtualPrinter::wait_receipts`] is `async` (tests run the daemon on the same tokio
//! runtime; a blocking wait would starve it); [`VirtualPrinter::wait_receipts_blocking`] is
//! for tests without a runtime. Do not use either under paused tokio time.
//!
//! # Independent on purpose
//!
//! Nothing here uses wxprint: the printer scans ESC/POS with its own command-length table
//! (`commands.rs`), not the one of wxprint's renderer, so a mistake on one side shows up as
//! a failing test instead of cancelling out.
//!
//! # Layout
//! - `mod.rs`: the [`VirtualPrinter`] handle: start, links, plug and unplug, state;
//! - `inspect.rs`: what tests read back (print data, receipts, replies, counters, waits);
//! - `state.rs`: [`PrinterState`] and [`Paper`]: the condition, the faults, the status bytes;
//! - `commands.rs`: the command-length table; `scanner.rs`: the streaming scanner on it;
//! - `engine.rs`: the receive buffer, the print engine thread, replies and flow control;
//! - `pty.rs`: the serial (and usblp) link on a pseudo-terminal; `tcp.rs`: port 9100, with
//!   the kernel's receive time of what arrives (`../kernel_time.rs`).

// A test double with a whole API (waits, counters, raw bytes, XON/XOFF, replug…);
// tests/printers uses only part of it.
#![allow(dead_code, reason = "a whole test double; tests/printers uses a part")]

mod commands;
mod engine;
mod inspect;
#[allow(
    clippy::duplicate_mod,
    reason = "one source for both test doubles; a test using both compiles it twice"
)]
#[path = "../kernel_time.rs"]
mod kernel_time;
mod pty;
mod scanner;
mod state;
mod tcp;

use std::io;
use std::path::PathBuf;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::thread::JoinHandle;

pub use state::{Paper, PrinterState};

use engine::{Shared, engine};
use pty::plug_pty;
use tcp::plug_tcp;

/// How the daemon reaches the printer.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Link {
    /// Serial, through a pseudo-terminal pair; the daemon opens [`VirtualPrinter::device_path`].
    Pty,
    /// A raw TCP listener (port 9100 semantics) at [`VirtualPrinter::address`].
    Tcp,
}

/// A running link thread (one per plug-in).
struct Plug {
    stop: Arc<AtomicBool>,
    thread: JoinHandle<()>,
}

impl Plug {
    fn unplug(self) {
        self.stop.store(true, Ordering::SeqCst);
        let _ = self.thread.join();
    }
}

/// Where the daemon finds the printer: a pty behind a symlink, or a TCP port.
enum Transport {
    Pty {
        dir: PathBuf,
        link_path: PathBuf,
        tty: Mutex<PathBuf>,
    },
    Tcp {
        port: u16,
    },
}

/// A virtual ESC/POS printer on a pty or a TCP port. See the module docs.
pub struct VirtualPrinter {
    shared: Arc<Shared>,
    transport: Transport,
    plug: Mutex<Option<Plug>>,
    engine: Option<JoinHandle<()>>,
}

impl VirtualPrinter {
    /// Start a printer (synchronous: spawns std threads; fine inside a tokio runtime).
    /// Panics if the pty or the socket cannot be created.
    pub fn start(link: Link) -> VirtualPrinter {
        Self::start_with(link, PrinterState::default())
    }

    /// Start a printer in a given state.
    pub fn start_with(link: Link, state: PrinterState) -> VirtualPrinter {
        let shared = Arc::new(Shared::new(link, state));
        let engine = {
            let shared = shared.clone();
            std::thread::Builder::new()
                .name("vprinter-engine".into())
                .spawn(move || engine(shared))
                .expect("spawn the virtual printer's engine")
        };
        let (transport, plug) = match link {
            Link::Pty => {
                let dir = unique_temp_dir();
                let link_path = dir.join("printer");
                let (plug, tty) = plug_pty(&shared, &link_path).expect("open a pty pair");
                let tty = Mutex::new(tty);
                (
                    Transport::Pty {
                        dir,
                        link_path,
                        tty,
                    },
                    plug,
                )
            }
            Link::Tcp => {
                let (plug, port) = plug_tcp(&shared, 0).expect("listen on 127.0.0.1");
                (Transport::Tcp { port }, plug)
            }
        };
        VirtualPrinter {
            shared,
            transport,
            plug: Mutex::new(Some(plug)),
            engine: Some(engine),
        }
    }

    /// Pty: the stable symlink to the current slave (the daemon's `device`). Panics for TCP.
    pub fn device_path(&self) -> PathBuf {
        match &self.transport {
            Transport::Pty { link_path, .. } => link_path.clone(),
            Transport::Tcp { .. } => panic!("a TCP virtual printer has no device path"),
        }
    }

    /// Pty: the slave device the symlink points at now (`/dev/pts/N`). Panics for TCP.
    pub fn tty_path(&self) -> PathBuf {
        match &self.transport {
            Transport::Pty { tty, .. } => tty.lock().unwrap_or_else(|e| e.into_inner()).clone(),
            Transport::Tcp { .. } => panic!("a TCP virtual printer has no tty"),
        }
    }

    /// TCP: `127.0.0.1:PORT`. Panics for a pty.
    pub fn address(&self) -> String {
        match &self.transport {
            Transport::Tcp { port } => format!("127.0.0.1:{port}"),
            Transport::Pty { .. } => panic!("a pty virtual printer has no address"),
        }
    }

    /// Change the printer's condition (paper, cover, …); takes effect at once.
    pub fn set_state(&self, f: impl FnOnce(&mut PrinterState)) {
        f(&mut self.shared.lock().state);
        self.shared.changed.notify_all();
    }

    /// The printer's condition now (`paper_out_after_*` count down as it prints).
    pub fn state(&self) -> PrinterState {
        self.shared.lock().state.clone()
    }

    /// Pull the cable. Pty: the master closes (the daemon's fd fails with `EIO`) and the
    /// symlink disappears. TCP: stop listening, drop the connection. No-op if unplugged.
    pub fn unplug(&self) {
        let plug = self.plug.lock().unwrap_or_else(|e| e.into_inner()).take();
        let Some(plug) = plug else { return };
        if let Transport::Pty { link_path, .. } = &self.transport {
            let _ = std::fs::remove_file(link_path);
        }
        plug.unplug();
        let mut inner = self.shared.lock();
        inner.sink = None; // closes the pty master (its last reference)
        inner.xoff_sent = false;
    }

    /// Plug the cable back in. Pty: a new pair, the symlink re-pointed at the new slave.
    /// TCP: listen on the same port again. No-op if plugged in.
    pub fn replug(&self) {
        let mut slot = self.plug.lock().unwrap_or_else(|e| e.into_inner());
        if slot.is_some() {
            return;
        }
        let plug = match &self.transport {
            Transport::Pty { link_path, tty, .. } => {
                let (plug, path) = plug_pty(&self.shared, link_path).expect("open a pty pair");
                *tty.lock().unwrap_or_else(|e| e.into_inner()) = path;
                plug
            }
            Transport::Tcp { port } => {
                plug_tcp(&self.shared, *port)
                    .expect("listen again on the same port")
                    .0
            }
        };
        *slot = Some(plug);
    }
}

impl Drop for VirtualPrinter {
    fn drop(&mut self) {
        self.unplug();
        self.shared.lock().shutdown = true;
        self.shared.changed.notify_all();
        if let Some(engine) = self.engine.take() {
            let _ = engine.join();
        }
        if let Transport::Pty { dir, .. } = &self.transport {
            let _ = std::fs::remove_dir_all(dir);
        }
    }
}

/// A fresh private directory for the pty symlink.
fn unique_temp_dir() -> PathBuf {
    static COUNTER: AtomicU64 = AtomicU64::new(0);
    loop {
        let nanos = std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .map_or(0, |d| d.subsec_nanos());
        let dir = std::env::temp_dir().join(format!(
            "wxprint-vprinter-{}-{}-{nanos:08x}",
            std::process::id(),
            COUNTER.fetch_add(1, Ordering::Relaxed),
        ));
        match std::fs::create_dir(&dir) {
            Ok(()) => return dir,
            Err(e) if e.kind() == io::ErrorKind::AlreadyExists => continue,
            Err(e) => panic!("create {}: {e}", dir.display()),
        }
    }
}

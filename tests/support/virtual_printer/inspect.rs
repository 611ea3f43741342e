//! What tests read back from a [`VirtualPrinter`]: the print data, the receipts, the replies,
//! the counters, and waits for receipts to arrive.

use std::time::{Duration, Instant};

use super::VirtualPrinter;
use super::engine::TICK;

impl VirtualPrinter {
    /// The print data processed so far, in order, without status queries (`DLE EOT`,
    /// `DLE ENQ`, `DLE DC4`, `GS r`). Held (unprinted) data is not included.
    pub fn bytes(&self) -> Vec<u8> {
        self.shared.lock().printed.clone()
    }

    /// Every byte accepted into the receive buffer, in order: queries and held data
    /// included, dropped bytes not.
    pub fn raw(&self) -> Vec<u8> {
        self.shared.lock().raw.clone()
    }

    /// Every byte the printer sent back (status replies, XON/XOFF), in order.
    pub fn replies(&self) -> Vec<u8> {
        self.shared.lock().replies.clone()
    }

    /// The complete (cut) receipts printed so far, each from its `ESC @` to the end of its
    /// cut command.
    pub fn receipts(&self) -> Vec<Vec<u8>> {
        let inner = self.shared.lock();
        inner
            .receipts
            .iter()
            .map(|&(s, e)| inner.printed[s..e].to_vec())
            .collect()
    }

    /// When the last byte of each cut arrived from the link, in order: the end of a
    /// receipt's journey over the wire (benches measure up to here).
    pub fn cut_arrivals(&self) -> Vec<Instant> {
        self.shared.lock().cut_arrivals.clone()
    }

    /// Wait until at least `n` receipts are printed; returns all of them. Panics after
    /// `timeout` (with what did arrive), so a test fails with a useful message.
    pub async fn wait_receipts(&self, n: usize, timeout: Duration) -> Vec<Vec<u8>> {
        let deadline = Instant::now() + timeout;
        loop {
            let receipts = self.receipts();
            if receipts.len() >= n {
                return receipts;
            }
            if Instant::now() >= deadline {
                self.timeout_panic(n, receipts.len(), timeout);
            }
            tokio::time::sleep(Duration::from_millis(5)).await;
        }
    }

    /// [`VirtualPrinter::wait_receipts`] for tests without a tokio runtime. Never call it
    /// on the runtime that drives the daemon.
    pub fn wait_receipts_blocking(&self, n: usize, timeout: Duration) -> Vec<Vec<u8>> {
        let deadline = Instant::now() + timeout;
        let mut inner = self.shared.lock();
        while inner.receipts.len() < n {
            let now = Instant::now();
            if now >= deadline {
                let got = inner.receipts.len();
                drop(inner);
                self.timeout_panic(n, got, timeout);
            }
            inner = self.shared.wait(inner, (deadline - now).min(TICK));
        }
        drop(inner);
        self.receipts()
    }

    /// Wait until `condition(self)` holds; `false` after `timeout`.
    pub async fn wait_until(
        &self,
        timeout: Duration,
        condition: impl Fn(&VirtualPrinter) -> bool,
    ) -> bool {
        let deadline = Instant::now() + timeout;
        loop {
            if condition(self) {
                return true;
            }
            if Instant::now() >= deadline {
                return false;
            }
            tokio::time::sleep(Duration::from_millis(5)).await;
        }
    }

    fn timeout_panic(&self, want: usize, got: usize, timeout: Duration) -> ! {
        let message = {
            let inner = self.shared.lock();
            let tail = &inner.printed[inner.printed.len().saturating_sub(64)..];
            format!(
                "virtual printer: {got} of {want} receipts after {timeout:?}; state {:?}; \
                 {} bytes printed, {} held, {} dropped, {} status queries; \
                 last printed bytes {tail:02X?}",
                inner.state,
                inner.printed.len(),
                inner.fill(),
                inner.dropped,
                inner.status_queries,
            )
        };
        panic!("{message}");
    }

    /// Status queries received: `DLE EOT n` (including those obeyed inside data) and
    /// `GS r n`, answered or not.
    pub fn status_queries(&self) -> usize {
        self.shared.lock().status_queries
    }

    /// Drawer pulses: `ESC p` when printed, `DLE DC4 1` on arrival (unless disabled).
    pub fn drawer_pulses(&self) -> usize {
        self.shared.lock().drawer_pulses
    }

    /// Every `ESC p` (drawer kick) the engine processed, in order, as its five bytes
    /// `1B 70 m t1 t2` were received.
    pub fn drawer_kicks(&self) -> Vec<Vec<u8>> {
        self.shared.lock().kicks.clone()
    }

    /// Bytes lost to receive-buffer overruns.
    pub fn dropped_bytes(&self) -> usize {
        self.shared.lock().dropped
    }

    /// Bytes in the receive buffer, not yet printed (held or draining).
    pub fn held_bytes(&self) -> usize {
        self.shared.lock().fill()
    }
}

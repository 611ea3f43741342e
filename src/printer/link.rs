//! The byte-stream transports — serial, USB printer class (usblp) and TCP 9100 — and the
//! ESC/POS status protocol they share.
//!
//! Every receipt goes the same way, whatever the wire (receiptio's technique, see
//! `reference/escpos.md` §4):
//!
//! 1. ask the printer's real-time status, `DLE EOT 1` (printer), `2` (offline cause) and
//!    `4` (paper sensor), each a separate write; a valid reply byte matches
//!    `b & 0x93 == 0x12`. Offline, cover open or paper out: the receipt is *not* sent —
//!    the job keeps it pending and tries again when the printer is back;
//! 2. write the receipt;
//! 3. send `GS r 1` and wait for its one-byte reply: the printer answers it only after it
//!    has processed everything before it, so the reply means "printed up to here".
//!
//! No reply is "unknown", never "ok": a printer that answers nothing (a unidirectional
//! usblp device, a silent clone) still gets its receipts, reported as unconfirmed.
//!
//! A link that fails (USB-serial adapter unplugged, usblp `ENODEV`, TCP reset) is dropped
//! and opened again, by path, for the next job.

use std::io::{self, Read, Write};
use std::net::{TcpStream, ToSocketAddrs};
use std::os::fd::AsRawFd;
use std::path::PathBuf;
use std::sync::mpsc;
use std::time::{Duration, Instant};

use tracing::{debug, warn};

use super::{Printer, PrinterError};
use crate::config::FlowControl;
use crate::protocol::PrinterStatus;

/// `DLE EOT n`: real-time status requests.
pub const DLE_EOT_PRINTER: [u8; 3] = [0x10, 0x04, 0x01];
pub const DLE_EOT_OFFLINE: [u8; 3] = [0x10, 0x04, 0x02];
pub const DLE_EOT_PAPER: [u8; 3] = [0x10, 0x04, 0x04];
/// `GS r 1`: transmit paper sensor status, answered in order with the print data.
pub const GS_R_PAPER: [u8; 3] = [0x1D, 0x72, 0x01];

/// How long one status reply may take.
const STATUS_TIMEOUT: Duration = Duration::from_millis(500);

/// A real-time status reply byte has bits 0 and 7 clear, 1 and 4 set.
pub fn valid_realtime(b: u8) -> bool {
    b & 0x93 == 0x12
}

/// The printer's state as its `DLE EOT` replies tell it; `None` where it did not answer.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct Realtime {
    pub printer: Option<u8>,
    pub offline_cause: Option<u8>,
    pub paper: Option<u8>,
}

impl Realtime {
    /// Whether the printer answered at all.
    pub fn answered(&self) -> bool {
        self.printer.is_some() || self.offline_cause.is_some() || self.paper.is_some()
    }

    pub fn offline(&self) -> Option<bool> {
        self.printer.map(|b| b & 0x08 != 0)
    }

    pub fn cover_open(&self) -> Option<bool> {
        self.offline_cause.map(|b| b & 0x04 != 0)
    }

    /// `ok`, `near_end`, `out` or `unknown`.
    pub fn paper(&self) -> &'static str {
        let stopped = self.offline_cause.is_some_and(|b| b & 0x20 != 0);
        match self.paper {
            Some(b) if b & 0x60 == 0x60 => "out",
            _ if stopped => "out",
            Some(b) if b & 0x0C == 0x0C => "near_end",
            Some(_) => "ok",
            None => "unknown",
        }
    }

    /// Why the printer cannot take a receipt now, if it says so.
    pub fn not_ready(&self) -> Option<&'static str> {
        if self.paper() == "out" {
            Some("paper out")
        } else if self.cover_open() == Some(true) {
            Some("cover open")
        } else if self.offline() == Some(true) {
            Some("offline")
        } else if self.offline_cause.is_some_and(|b| b & 0x40 != 0) {
            Some("printer error")
        } else {
            None
        }
    }

    /// As the protocol's `printer` event reports it.
    pub fn to_protocol(&self, transport: &str) -> PrinterStatus {
        let error = match (self.answered(), self.not_ready()) {
            (false, _) => {
                Some("the printer did not answer the status request (status unknown)".into())
            }
            (true, Some(why)) => Some(why.into()),
            (true, None) => None,
        };
        PrinterStatus {
            online: self.offline().map(|off| !off),
            paper: self.paper().into(),
            cover_open: self.cover_open(),
            error,
            transport: Some(transport.to_owned()),
        }
    }
}

/// A bidirectional byte link to a printer.
pub trait Link: Send {
    /// Send all of `bytes` (paced or flow-controlled as the link requires) and wait until
    /// they have left the host.
    fn send(&mut self, bytes: &[u8]) -> io::Result<()>;
    /// One byte from the printer within `timeout`; `Ok(None)` when none came, or when the
    /// link cannot read back at all.
    fn recv(&mut self, timeout: Duration) -> io::Result<Option<u8>>;
}

/// Forget bytes the printer sent earlier (a late status reply, automatic status).
fn drain(link: &mut dyn Link) -> io::Result<()> {
    while link.recv(Duration::from_millis(1))?.is_some() {}
    Ok(())
}

/// Ask `DLE EOT 1`, `2` and `4`, each as its own write.
pub fn query(link: &mut dyn Link) -> io::Result<Realtime> {
    drain(link)?;
    let mut ask = |request: &[u8]| -> io::Result<Option<u8>> {
        link.send(request)?;
        let deadline = Instant::now() + STATUS_TIMEOUT;
        while let Some(left) = deadline.checked_duration_since(Instant::now()) {
            match link.recv(left)? {
                Some(b) if valid_realtime(b) => return Ok(Some(b)),
                Some(other) => debug!(byte = other, "ignoring a non-status byte"),
                None => return Ok(None),
            }
        }
        Ok(None)
    };
    let printer = ask(&DLE_EOT_PRINTER)?;
    if printer.is_none() {
        // Silent printer: do not wait for the other two.
        return Ok(Realtime::default());
    }
    Ok(Realtime {
        printer,
        offline_cause: ask(&DLE_EOT_OFFLINE)?,
        paper: ask(&DLE_EOT_PAPER)?,
    })
}

/// Write a receipt and wait for `GS r 1`'s reply: `Ok(true)` when the printer confirmed.
pub fn print_confirmed(link: &mut dyn Link, bytes: &[u8], confirm: Duration) -> io::Result<bool> {
    link.send(bytes)?;
    link.send(&GS_R_PAPER)?;
    let deadline = Instant::now() + confirm;
    while let Some(left) = deadline.checked_duration_since(Instant::now()) {
        match link.recv(left)? {
            // `GS r` replies have bits 4 and 7 clear; DLE EOT-shaped bytes are late status.
            Some(b) if b & 0x90 == 0 => return Ok(true),
            Some(_) => continue,
            None => return Ok(false),
        }
    }
    Ok(false)
}

/// How a transport opens its link.
pub trait Connector: Send + 'static {
    fn describe(&self) -> String;
    fn open(&mut self) -> io::Result<Box<dyn Link>>;
    /// Close the link after every job (TCP printers serve one connection at a time).
    fn per_job(&self) -> bool {
        false
    }
    /// How long the printer may take to process `len` bytes before `GS r` must answer.
    fn confirm_timeout(&self, len: usize) -> Duration {
        Duration::from_secs(5) + Duration::from_millis(len as u64 / 10)
    }
}

/// A printer on a byte link: serial, usblp or TCP.
pub struct LinkPrinter<C: Connector> {
    connector: C,
    link: Option<Box<dyn Link>>,
}

impl<C: Connector> LinkPrinter<C> {
    pub fn new(connector: C) -> Self {
        LinkPrinter {
            connector,
            link: None,
        }
    }

    fn io_err(&self, e: &io::Error) -> PrinterError {
        PrinterError::Io {
            target: self.connector.describe(),
            message: e.to_string(),
        }
    }

    fn link(&mut self) -> io::Result<&mut Box<dyn Link>> {
        if self.link.is_none() {
            self.link = Some(self.connector.open()?);
        }
        Ok(self.link.as_mut().expect("just opened"))
    }

    /// Status through the current link, opening it again once if it has gone bad.
    fn realtime(&mut self) -> io::Result<Realtime> {
        match self.link().and_then(|l| query(l.as_mut())) {
            Ok(r) => Ok(r),
            Err(e) => {
                debug!(error = %e, "status on the open link failed; reopening");
                self.link = None;
                self.link().and_then(|l| query(l.as_mut()))
            }
        }
    }
}

impl<C: Connector> Printer for LinkPrinter<C> {
    fn describe(&self) -> String {
        self.connector.describe()
    }

    fn write_job(&mut self, name: &str, bytes: &[u8]) -> Result<Option<String>, PrinterError> {
        let realtime = match self.realtime() {
            Ok(r) => r,
            Err(e) => {
                self.link = None;
                return Err(self.io_err(&e));
            }
        };
        let description = self.connector.describe();
        if realtime.not_ready().is_some() {
            if self.connector.per_job() {
                self.link = None;
            }
            return Err(PrinterError::NotReady(realtime.to_protocol(&description)));
        }
        let confirm = self.connector.confirm_timeout(bytes.len());
        let result = self
            .link()
            .and_then(|l| print_confirmed(l.as_mut(), bytes, confirm));
        if self.connector.per_job() || result.is_err() {
            self.link = None;
        }
        match result {
            Ok(true) => Ok(Some(format!("{description} (confirmed by the printer)"))),
            Ok(false) => {
                if realtime.answered() {
                    warn!(
                        job = name,
                        "the printer took the receipt but did not confirm it (no GS r reply)"
                    );
                }
                Ok(Some(format!(
                    "{description} (sent; the printer did not confirm)"
                )))
            }
            Err(e) => Err(self.io_err(&e)),
        }
    }

    fn status(&mut self) -> PrinterStatus {
        let description = self.connector.describe();
        let status = match self.realtime() {
            Ok(r) => r.to_protocol(&description),
            Err(e) => {
                self.link = None;
                PrinterStatus {
                    online: Some(false),
                    paper: "unknown".into(),
                    cover_open: None,
                    error: Some(format!("cannot reach the printer: {e}")),
                    transport: Some(description),
                }
            }
        };
        if self.connector.per_job() {
            self.link = None;
        }
        status
    }
}

// ---------------------------------------------------------------------------------------
// Serial
// ---------------------------------------------------------------------------------------

/// RS-232 or USB-serial, 8N1, with the configured flow control.
pub struct Serial {
    pub device: PathBuf,
    pub baud_rate: u32,
    pub flow_control: FlowControl,
}

impl Connector for Serial {
    fn describe(&self) -> String {
        let flow = match self.flow_control {
            FlowControl::Hardware => "RTS/CTS",
            FlowControl::Software => "XON/XOFF",
            FlowControl::None => "no flow control",
        };
        format!(
            "serial {} {} 8N1 {flow}",
            self.device.display(),
            self.baud_rate
        )
    }

    fn open(&mut self) -> io::Result<Box<dyn Link>> {
        let flow = match self.flow_control {
            FlowControl::Hardware => serialport::FlowControl::Hardware,
            FlowControl::Software => serialport::FlowControl::Software,
            FlowControl::None => serialport::FlowControl::None,
        };
        let port = serialport::new(self.device.to_string_lossy(), self.baud_rate)
            .data_bits(serialport::DataBits::Eight)
            .parity(serialport::Parity::None)
            .stop_bits(serialport::StopBits::One)
            .flow_control(flow)
            .timeout(Duration::from_secs(10))
            .open_native()
            .map_err(io::Error::from)?;
        Ok(Box::new(SerialLink {
            port,
            pace: (self.flow_control == FlowControl::None).then_some(self.baud_rate),
        }))
    }

    fn confirm_timeout(&self, len: usize) -> Duration {
        // The bytes still take their time on the wire: 10 bits each.
        let wire = Duration::from_secs_f64(len as f64 * 10.0 / f64::from(self.baud_rate.max(1)));
        Duration::from_secs(5) + wire
    }
}

struct SerialLink {
    port: serialport::TTYPort,
    /// Without flow control the printer cannot say "wait": never send faster than the
    /// line rate (the baud rate given here), chunk by chunk, or it drops bytes. `tcdrain`
    /// alone is not enough: USB-serial adapters (and ptys) report "drained" early.
    pace: Option<u32>,
}

impl Link for SerialLink {
    fn send(&mut self, bytes: &[u8]) -> io::Result<()> {
        if let Some(baud) = self.pace {
            let start = Instant::now();
            let mut sent = 0usize;
            for chunk in bytes.chunks(64) {
                self.port.write_all(chunk)?;
                self.port.flush()?; // tcdrain: the chunk has left the UART
                sent += chunk.len();
                // 10 bits a byte (8N1): where the line would be now at `baud`.
                let due = Duration::from_secs_f64(sent as f64 * 10.0 / f64::from(baud.max(1)));
                if let Some(wait) = due.checked_sub(start.elapsed()) {
                    std::thread::sleep(wait);
                }
            }
        } else {
            self.port.write_all(bytes)?;
            self.port.flush()?;
        }
        Ok(())
    }

    fn recv(&mut self, timeout: Duration) -> io::Result<Option<u8>> {
        use serialport::SerialPort as _;
        self.port
            .set_timeout(timeout.max(Duration::from_millis(1)))?;
        let mut byte = [0u8];
        match self.port.read(&mut byte) {
            Ok(1) => Ok(Some(byte[0])),
            Ok(_) => Ok(None),
            Err(e) if e.kind() == io::ErrorKind::TimedOut => Ok(None),
            Err(e) => Err(e),
        }
    }
}

// ---------------------------------------------------------------------------------------
// USB printer class (usblp)
// ---------------------------------------------------------------------------------------

/// The kernel usblp device, `/dev/usb/lpN` or its udev symlink.
pub struct Usb {
    pub device: PathBuf,
    /// A stuck write (paper out on some printers) is abandoned after this.
    pub write_timeout: Duration,
}

impl Connector for Usb {
    fn describe(&self) -> String {
        format!("usb {}", self.device.display())
    }

    fn open(&mut self) -> io::Result<Box<dyn Link>> {
        let file = std::fs::OpenOptions::new()
            .read(true)
            .write(true)
            .open(&self.device)?;
        Ok(Box::new(UsbLink {
            file: std::sync::Arc::new(file),
            write_timeout: self.write_timeout,
            readable: true,
        }))
    }
}

struct UsbLink {
    file: std::sync::Arc<std::fs::File>,
    write_timeout: Duration,
    /// usblp answers reads with EINVAL when the printer is not bidirectional.
    readable: bool,
}

impl Link for UsbLink {
    fn send(&mut self, bytes: &[u8]) -> io::Result<()> {
        // usblp writes block with no timeout of their own: write on a helper thread and
        // give up waiting after `write_timeout`, so a stuck printer cannot hold the queue
        // for ever. (The helper ends when the kernel returns, ENODEV on unplug at worst.)
        let file = self.file.clone();
        let data = bytes.to_vec();
        let (done, result) = mpsc::channel();
        std::thread::Builder::new()
            .name("wxprint-usb-write".into())
            .spawn(move || {
                let _ = done.send((&*file).write_all(&data));
            })?;
        match result.recv_timeout(self.write_timeout) {
            Ok(r) => r,
            Err(_) => Err(io::Error::new(
                io::ErrorKind::TimedOut,
                format!("the write did not complete within {:?}", self.write_timeout),
            )),
        }
    }

    fn recv(&mut self, timeout: Duration) -> io::Result<Option<u8>> {
        if !self.readable {
            return Ok(None);
        }
        let mut pollfd = libc::pollfd {
            fd: self.file.as_raw_fd(),
            events: libc::POLLIN,
            revents: 0,
        };
        let millis = i32::try_from(timeout.as_millis()).unwrap_or(i32::MAX);
        // SAFETY: one valid pollfd for the duration of the call.
        let ready = unsafe { libc::poll(&mut pollfd, 1, millis) };
        if ready < 0 {
            return Err(io::Error::last_os_error());
        }
        if ready == 0 {
            return Ok(None);
        }
        if pollfd.revents & (libc::POLLERR | libc::POLLHUP | libc::POLLNVAL) != 0
            && pollfd.revents & libc::POLLIN == 0
        {
            return Err(io::Error::new(
                io::ErrorKind::BrokenPipe,
                "the printer device went away",
            ));
        }
        let mut byte = [0u8];
        match (&*self.file).read(&mut byte) {
            Ok(1) => Ok(Some(byte[0])),
            Ok(_) => Ok(None),
            Err(e) if e.raw_os_error() == Some(libc::EINVAL) => {
                self.readable = false; // unidirectional printer: no status, ever
                Ok(None)
            }
            Err(e) if e.kind() == io::ErrorKind::WouldBlock => Ok(None),
            Err(e) => Err(e),
        }
    }
}

// ---------------------------------------------------------------------------------------
// TCP 9100
// ---------------------------------------------------------------------------------------

/// A network printer's raw port, one connection per job.
pub struct Tcp {
    pub address: String,
    pub timeout: Duration,
}

impl Connector for Tcp {
    fn describe(&self) -> String {
        format!("tcp {}", self.address)
    }

    fn open(&mut self) -> io::Result<Box<dyn Link>> {
        let mut last = io::Error::new(
            io::ErrorKind::NotFound,
            format!("{} resolves to no address", self.address),
        );
        for addr in self.address.to_socket_addrs()? {
            match TcpStream::connect_timeout(&addr, self.timeout) {
                Ok(stream) => {
                    stream.set_write_timeout(Some(self.timeout))?;
                    stream.set_nodelay(true)?;
                    return Ok(Box::new(TcpLink { stream }));
                }
                Err(e) => last = e,
            }
        }
        Err(last)
    }

    fn per_job(&self) -> bool {
        true
    }
}

struct TcpLink {
    stream: TcpStream,
}

impl Link for TcpLink {
    fn send(&mut self, bytes: &[u8]) -> io::Result<()> {
        self.stream.write_all(bytes)?;
        self.stream.flush()
    }

    fn recv(&mut self, timeout: Duration) -> io::Result<Option<u8>> {
        self.stream
            .set_read_timeout(Some(timeout.max(Duration::from_millis(1))))?;
        let mut byte = [0u8];
        match self.stream.read(&mut byte) {
            Ok(1) => Ok(Some(byte[0])),
            Ok(_) => Err(io::Error::new(
                io::ErrorKind::UnexpectedEof,
                "the printer closed the connection",
            )),
            Err(e)
                if matches!(
                    e.kind(),
                    io::ErrorKind::WouldBlock | io::ErrorKind::TimedOut
                ) =>
            {
                Ok(None)
            }
            Err(e) => Err(e),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn decodes_realtime_status() {
        assert!(
            valid_realtime(0x12)
                && valid_realtime(0x16)
                && !valid_realtime(0x00)
                && !valid_realtime(0x13)
        );
        let ready = Realtime {
            printer: Some(0x12),
            offline_cause: Some(0x12),
            paper: Some(0x12),
        };
        assert_eq!(ready.not_ready(), None);
        assert_eq!(ready.paper(), "ok");
        let out = Realtime {
            paper: Some(0x72),
            ..ready
        };
        assert_eq!(out.paper(), "out");
        assert_eq!(out.not_ready(), Some("paper out"));
        let near = Realtime {
            paper: Some(0x1E),
            ..ready
        };
        assert_eq!(near.paper(), "near_end");
        assert_eq!(near.not_ready(), None, "near end still prints");
        let cover = Realtime {
            printer: Some(0x1A),
            offline_cause: Some(0x16),
            ..ready
        };
        assert_eq!(cover.cover_open(), Some(true));
        assert_eq!(cover.not_ready(), Some("cover open"));
        let silent = Realtime::default();
        let status = silent.to_protocol("tcp x");
        assert_eq!(status.online, None);
        assert_eq!(status.paper, "unknown");
        assert!(status.error.unwrap().contains("unknown"));
    }

    /// A scripted link: replies queued per request.
    struct Script {
        sent: Vec<u8>,
        replies: std::collections::VecDeque<Option<u8>>,
    }

    impl Link for Script {
        fn send(&mut self, bytes: &[u8]) -> io::Result<()> {
            self.sent.extend_from_slice(bytes);
            Ok(())
        }
        fn recv(&mut self, _: Duration) -> io::Result<Option<u8>> {
            Ok(self.replies.pop_front().flatten())
        }
    }

    #[test]
    fn status_then_receipt_then_marker() {
        let mut link = Script {
            sent: Vec::new(),
            // drain → nothing; DLE EOT 1, 2, 4 replies; GS r reply
            replies: [None, Some(0x12), Some(0x12), Some(0x12), Some(0x00)].into(),
        };
        let status = query(&mut link).unwrap();
        assert_eq!(status.not_ready(), None);
        assert!(print_confirmed(&mut link, b"\x1b@hello", Duration::from_secs(1)).unwrap());
        assert_eq!(
            link.sent,
            [
                &DLE_EOT_PRINTER[..],
                &DLE_EOT_OFFLINE,
                &DLE_EOT_PAPER,
                b"\x1b@hello",
                &GS_R_PAPER
            ]
            .concat()
        );
        // A silent printer: unknown, and the receipt goes unconfirmed.
        let mut silent = Script {
            sent: Vec::new(),
            replies: [].into(),
        };
        assert!(!query(&mut silent).unwrap().answered());
        assert!(!print_confirmed(&mut silent, b"x", Duration::from_millis(10)).unwrap());
    }
}

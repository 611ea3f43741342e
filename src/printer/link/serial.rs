//! RS-232 and USB-serial printers: 8N1 at the configured baud rate and flow control.
//!
//! Owns the one timing rule of this wire: without flow control, bytes are paced at the line
//! rate. Knows nothing of ESC/POS; the exchange is in `link/mod.rs`.

use std::io::{self, Read, Write};
use std::path::PathBuf;
use std::time::{Duration, Instant};

use super::{Connector, Link};
use crate::config::FlowControl;

/// RS-232 or USB-serial, 8N1, with the configured flow control.
pub struct Serial {
    /// `/dev/ttyUSB0`, `/dev/ttyS0`, or a udev symlink.
    pub device: PathBuf,
    /// Line speed in bit/s (`printer.baud_rate`); it must match the printer's own setting.
    pub baud_rate: u32,
    /// RTS/CTS, XON/XOFF or none (`printer.flow_control`); without it, writes are paced at
    /// the line rate.
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
        Duration::from_secs(5) + wire_time(len, self.baud_rate)
    }
}

/// How long `bytes` take on the line at `baud`: 10 bits a byte (8N1).
fn wire_time(bytes: usize, baud: u32) -> Duration {
    Duration::from_secs_f64(bytes as f64 * 10.0 / f64::from(baud.max(1)))
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
                // Where the line would be now at `baud`.
                let due = wire_time(sent, baud);
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

    fn pending(&mut self) -> io::Result<Option<u8>> {
        use serialport::SerialPort as _;
        // What the tty already holds (FIONREAD): reading that much never waits.
        if self.port.bytes_to_read().map_err(io::Error::from)? == 0 {
            return Ok(None);
        }
        self.recv(Duration::from_millis(1))
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

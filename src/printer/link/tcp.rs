//! Network printers on their raw port (TCP 9100), one connection per job.
//!
//! Owns connecting (every resolved address, with a timeout) and reading one byte with a
//! timeout or without waiting (`MSG_DONTWAIT`: the kernel's 1 ms read-timeout floor is a
//! scheduler tick, 4–10 ms); a closed connection is an error, so the job reopens. Knows nothing of ESC/POS.

use std::io::{self, Read, Write};
use std::net::{TcpStream, ToSocketAddrs};
use std::os::fd::AsRawFd;
use std::time::Duration;

use super::{Connector, Link};

/// A network printer's raw port, one connection per job.
pub struct Tcp {
    /// `host:port`, usually port 9100.
    pub address: String,
    /// For connecting and for each write.
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

/// The printer hung up: the job reopens.
fn closed() -> io::Error {
    io::Error::new(
        io::ErrorKind::UnexpectedEof,
        "the printer closed the connection",
    )
}

struct TcpLink {
    stream: TcpStream,
}

impl Link for TcpLink {
    fn send(&mut self, bytes: &[u8]) -> io::Result<()> {
        self.stream.write_all(bytes)?;
        self.stream.flush()
    }

    fn pending(&mut self) -> io::Result<Option<u8>> {
        let mut byte = [0u8];
        // SAFETY: a one-byte buffer we own, on the stream's open socket.
        let n = unsafe {
            libc::recv(
                self.stream.as_raw_fd(),
                byte.as_mut_ptr().cast(),
                1,
                libc::MSG_DONTWAIT,
            )
        };
        match n {
            1 => Ok(Some(byte[0])),
            0 => Err(closed()),
            _ => match io::Error::last_os_error() {
                e if e.kind() == io::ErrorKind::WouldBlock => Ok(None),
                e if e.kind() == io::ErrorKind::Interrupted => self.pending(),
                e => Err(e),
            },
        }
    }

    fn recv(&mut self, timeout: Duration) -> io::Result<Option<u8>> {
        self.stream
            .set_read_timeout(Some(timeout.max(Duration::from_millis(1))))?;
        let mut byte = [0u8];
        match self.stream.read(&mut byte) {
            Ok(1) => Ok(Some(byte[0])),
            Ok(_) => Err(closed()),
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

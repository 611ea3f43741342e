//! When a request reached the simulator: the kernel's receive time of its first bytes
//! (`SO_TIMESTAMPNS`), read with a peek before the request itself is read. The real-path
//! bench counts the simulator's time from there, so the simulator's own wake-up — a
//! server's time, not its client's — is not charged to the daemon under test. The
//! kernel's side is `kernel_time.rs`, shared with the virtual printer.

use std::io;
use std::time::Instant;

use tokio::io::Interest;
use tokio::net::TcpStream;

use super::kernel_time;

/// When the first unread bytes of `stream` arrived, waiting for some if there are none;
/// `None` at the end of the stream or when the kernel gave no time.
pub(super) async fn next(stream: &TcpStream) -> Option<Instant> {
    loop {
        stream.readable().await.ok()?;
        match stream.try_io(Interest::READABLE, || peek_time(stream)) {
            Ok(at) => return at,
            Err(e) if e.kind() == io::ErrorKind::WouldBlock => continue,
            Err(_) => return None,
        }
    }
}

/// Peek one byte of `stream` and the receive time the kernel attached to it.
fn peek_time(stream: &TcpStream) -> io::Result<Option<Instant>> {
    let mut byte = [0u8; 1];
    let (_, at) = kernel_time::recv(stream, &mut byte, libc::MSG_PEEK | libc::MSG_DONTWAIT)?;
    Ok(at)
}

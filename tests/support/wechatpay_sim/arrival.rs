//! When a request reached the simulator: the kernel's receive time of its first bytes
//! (`SO_TIMESTAMPNS`), read with a peek before the request itself is read. The real-path
//! bench counts the simulator's time from there, so the simulator's own wake-up — a
//! server's time, not its client's — is not charged to the daemon under test.

use std::io;
use std::os::fd::AsRawFd;
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

use tokio::io::Interest;
use tokio::net::TcpStream;

/// Ask the kernel to timestamp what `socket` receives: on the listening socket, so that
/// the connections it accepts have it from their first byte (set on an accepted one, the
/// bytes that came before would have no time).
pub(super) fn enable(socket: &impl AsRawFd) {
    let on: libc::c_int = 1;
    // SAFETY: a valid socket, an option of the size given.
    unsafe {
        libc::setsockopt(
            socket.as_raw_fd(),
            libc::SOL_SOCKET,
            libc::SO_TIMESTAMPNS,
            (&raw const on).cast(),
            size_of::<libc::c_int>() as libc::socklen_t,
        );
    }
}

/// When the first unread bytes of `stream` arrived, waiting for some if there are none;
/// `None` at the end of the stream or when the kernel gave no time.
pub(super) async fn next(stream: &TcpStream) -> Option<Instant> {
    loop {
        stream.readable().await.ok()?;
        match stream.try_io(Interest::READABLE, || peek_time(stream.as_raw_fd())) {
            Ok(at) => return at,
            Err(e) if e.kind() == io::ErrorKind::WouldBlock => continue,
            Err(_) => return None,
        }
    }
}

/// Peek one byte of `fd` and the receive time the kernel attached to it.
fn peek_time(fd: i32) -> io::Result<Option<Instant>> {
    let mut byte = [0u8; 1];
    let mut iov = libc::iovec {
        iov_base: byte.as_mut_ptr().cast(),
        iov_len: 1,
    };
    let mut control = [0u64; 16];
    // SAFETY: a zeroed msghdr is valid; the buffers outlive the call.
    let mut msg: libc::msghdr = unsafe { std::mem::zeroed() };
    msg.msg_iov = &raw mut iov;
    msg.msg_iovlen = 1;
    msg.msg_control = control.as_mut_ptr().cast();
    msg.msg_controllen = size_of_val(&control) as _;
    // SAFETY: as above.
    let n = unsafe { libc::recvmsg(fd, &raw mut msg, libc::MSG_PEEK | libc::MSG_DONTWAIT) };
    if n < 0 {
        return Err(io::Error::last_os_error());
    }
    if n == 0 {
        return Ok(None);
    }
    // SAFETY: walking the control messages the kernel wrote into `control`.
    unsafe {
        let mut cmsg = libc::CMSG_FIRSTHDR(&raw const msg);
        while !cmsg.is_null() {
            if (*cmsg).cmsg_level == libc::SOL_SOCKET && (*cmsg).cmsg_type == libc::SCM_TIMESTAMPNS
            {
                let ts: libc::timespec = std::ptr::read_unaligned(libc::CMSG_DATA(cmsg).cast());
                return Ok(Some(instant_of(&ts)));
            }
            cmsg = libc::CMSG_NXTHDR(&raw const msg, cmsg);
        }
    }
    Ok(None)
}

/// The monotonic instant of a wall-clock time a moment ago.
fn instant_of(ts: &libc::timespec) -> Instant {
    let at = UNIX_EPOCH + Duration::new(ts.tv_sec as u64, ts.tv_nsec as u32);
    let (now, wall) = (Instant::now(), SystemTime::now());
    match wall.duration_since(at) {
        Ok(ago) => now.checked_sub(ago).unwrap_or(now),
        Err(_) => now,
    }
}

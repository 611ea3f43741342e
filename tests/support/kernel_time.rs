//! When bytes reached a socket: the kernel's receive time (`SO_TIMESTAMPNS`), read with the
//! bytes themselves. The real-path bench times a server's part from there, so a test
//! double's own wake-up — the simulator's before it reads a request, the virtual printer's
//! before it reads a receipt — is the double's time, not the daemon's under test.
//!
//! Shared by the WeChat Pay simulator and the virtual printer (each includes this file as
//! its own module). Knows sockets only.

use std::io;
use std::os::fd::AsRawFd;
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

/// Ask the kernel to timestamp what `socket` receives: on a listening socket, so that the
/// connections it accepts have it from their first byte (set on an accepted one, the
/// bytes that came before would have no time).
pub(crate) fn enable(socket: &impl AsRawFd) {
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

/// `recvmsg(fd, buf, flags)`: the bytes received and the kernel's receive time of the last
/// segment they came in (TCP reports the newest of those read), `None` when the socket
/// was not asked to keep times. `Ok((0, None))` is the end of the stream.
pub(crate) fn recv(
    fd: &impl AsRawFd,
    buf: &mut [u8],
    flags: libc::c_int,
) -> io::Result<(usize, Option<Instant>)> {
    let mut iov = libc::iovec {
        iov_base: buf.as_mut_ptr().cast(),
        iov_len: buf.len(),
    };
    let mut control = [0u64; 16];
    // SAFETY: a zeroed msghdr is valid; the buffers outlive the call.
    let mut msg: libc::msghdr = unsafe { std::mem::zeroed() };
    msg.msg_iov = &raw mut iov;
    msg.msg_iovlen = 1;
    msg.msg_control = control.as_mut_ptr().cast();
    msg.msg_controllen = size_of_val(&control) as _;
    // SAFETY: as above.
    let n = unsafe { libc::recvmsg(fd.as_raw_fd(), &raw mut msg, flags) };
    if n < 0 {
        return Err(io::Error::last_os_error());
    }
    if n == 0 {
        return Ok((0, None));
    }
    // SAFETY: walking the control messages the kernel wrote into `control`.
    unsafe {
        let mut cmsg = libc::CMSG_FIRSTHDR(&raw const msg);
        while !cmsg.is_null() {
            if (*cmsg).cmsg_level == libc::SOL_SOCKET && (*cmsg).cmsg_type == libc::SCM_TIMESTAMPNS
            {
                let ts: libc::timespec = std::ptr::read_unaligned(libc::CMSG_DATA(cmsg).cast());
                return Ok((n as usize, Some(instant_of(&ts))));
            }
            cmsg = libc::CMSG_NXTHDR(&raw const msg, cmsg);
        }
    }
    Ok((n as usize, None))
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

//! The serial link: a pseudo-terminal pair in raw mode, the daemon on the slave (through a
//! stable symlink), the printer on the master. The same pty also stands in for the usblp
//! device (`/dev/usb/lp0`). Flow control is read from the slave's termios.

use std::ffi::CStr;
use std::fs::File;
use std::io::{self, Read};
use std::os::fd::{AsRawFd, FromRawFd, OwnedFd};
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::Duration;

use super::Plug;
use super::engine::{READ_CHUNK, Shared, Sink, TICK};

/// A pty pair: the master (non-blocking), the printer's own slave fd, the slave's path.
fn open_pty() -> io::Result<(File, File, PathBuf)> {
    // SAFETY: plain libc calls on fds we own; buffers are sized and NUL-terminated.
    unsafe {
        let master = libc::posix_openpt(libc::O_RDWR | libc::O_NOCTTY | libc::O_CLOEXEC);
        if master < 0 {
            return Err(io::Error::last_os_error());
        }
        let master = OwnedFd::from_raw_fd(master);
        if libc::grantpt(master.as_raw_fd()) != 0 || libc::unlockpt(master.as_raw_fd()) != 0 {
            return Err(io::Error::last_os_error());
        }
        let mut name = [0 as libc::c_char; 128];
        let rc = libc::ptsname_r(master.as_raw_fd(), name.as_mut_ptr(), name.len());
        if rc != 0 {
            return Err(io::Error::from_raw_os_error(rc));
        }
        let name = CStr::from_ptr(name.as_ptr());
        let slave = libc::open(
            name.as_ptr(),
            libc::O_RDWR | libc::O_NOCTTY | libc::O_CLOEXEC,
        );
        if slave < 0 {
            return Err(io::Error::last_os_error());
        }
        let slave = OwnedFd::from_raw_fd(slave);
        // Raw mode: no echo, no CR/LF translation, 8 bits, no flow control.
        let mut tio: libc::termios = std::mem::zeroed();
        if libc::tcgetattr(slave.as_raw_fd(), &mut tio) != 0 {
            return Err(io::Error::last_os_error());
        }
        libc::cfmakeraw(&mut tio);
        if libc::tcsetattr(slave.as_raw_fd(), libc::TCSANOW, &tio) != 0 {
            return Err(io::Error::last_os_error());
        }
        // Non-blocking master: a reply nobody reads must not block the printer.
        let flags = libc::fcntl(master.as_raw_fd(), libc::F_GETFL);
        if flags < 0 || libc::fcntl(master.as_raw_fd(), libc::F_SETFL, flags | libc::O_NONBLOCK) < 0
        {
            return Err(io::Error::last_os_error());
        }
        let path = PathBuf::from(name.to_string_lossy().into_owned());
        Ok((File::from(master), File::from(slave), path))
    }
}

/// Whether the host's termios (read through the master) asks for flow control the printer
/// honours: `CRTSCTS`, or `IXON` when the printer does XON/XOFF.
fn host_flow_control(master: &File, printer_xon_xoff: bool) -> bool {
    // SAFETY: tcgetattr into a zeroed termios on an fd we own.
    unsafe {
        let mut tio: libc::termios = std::mem::zeroed();
        if libc::tcgetattr(master.as_raw_fd(), &mut tio) != 0 {
            return false;
        }
        tio.c_cflag & libc::CRTSCTS != 0 || (printer_xon_xoff && tio.c_iflag & libc::IXON != 0)
    }
}

/// Wait until `fd` is readable, at most `timeout`.
pub(super) fn poll_readable(fd: &impl AsRawFd, timeout: Duration) -> bool {
    let mut pfd = libc::pollfd {
        fd: fd.as_raw_fd(),
        events: libc::POLLIN,
        revents: 0,
    };
    // SAFETY: one valid pollfd.
    let rc = unsafe { libc::poll(&mut pfd, 1, timeout.as_millis() as libc::c_int) };
    rc > 0 && pfd.revents & libc::POLLIN != 0
}

/// Plug in a new pty, point `link_path` at its slave.
pub(super) fn plug_pty(shared: &Arc<Shared>, link_path: &Path) -> io::Result<(Plug, PathBuf)> {
    let (master, slave, tty) = open_pty()?;
    // Re-point the symlink atomically.
    let tmp = link_path.with_extension("new");
    let _ = std::fs::remove_file(&tmp);
    std::os::unix::fs::symlink(&tty, &tmp)?;
    std::fs::rename(&tmp, link_path)?;

    let master = Arc::new(master);
    shared.lock().sink = Some(Sink::Pty(master.clone()));
    let stop = Arc::new(AtomicBool::new(false));
    let thread = {
        let (shared, stop) = (shared.clone(), stop.clone());
        std::thread::Builder::new()
            .name("vprinter-pty".into())
            .spawn(move || {
                let _slave = slave; // held open: the master never sees a hang-up
                let mut buf = vec![0u8; READ_CHUNK];
                while !stop.load(Ordering::SeqCst) {
                    let xon_xoff = shared.lock().state.xon_xoff;
                    let flow = host_flow_control(&master, xon_xoff);
                    let alive = shared.pump(&mut buf, flow, |buf| {
                        if poll_readable(&*master, TICK) {
                            (&*master).read(buf).map(|n| (n, None))
                        } else {
                            Err(io::ErrorKind::WouldBlock.into())
                        }
                    });
                    if !alive {
                        std::thread::sleep(TICK);
                    }
                }
            })?
    };
    Ok((Plug { stop, thread }, tty))
}

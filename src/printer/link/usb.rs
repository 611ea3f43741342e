//! USB printer class printers through the kernel usblp driver (`/dev/usb/lpN`).
//!
//! Owns this wire's quirks: usblp writes have no timeout of their own (a helper thread gives
//! up after `write_timeout`), and reads answer `EINVAL` on a unidirectional printer (after
//! which the link stops reading). Knows nothing of ESC/POS.

use std::io::{self, Read, Write};
use std::os::fd::AsRawFd;
use std::path::PathBuf;
use std::sync::{Arc, mpsc};
use std::time::Duration;

use super::{Connector, Link};

/// The kernel usblp device, `/dev/usb/lpN` or its udev symlink.
pub struct Usb {
    /// `/dev/usb/lp0` or a udev symlink.
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
            file: Arc::new(file),
            write_timeout: self.write_timeout,
            readable: true,
        }))
    }
}

struct UsbLink {
    file: Arc<std::fs::File>,
    write_timeout: Duration,
    /// usblp answers reads with EINVAL when the printer is not bidirectional.
    readable: bool,
}

impl UsbLink {
    /// Wait up to `timeout` for a byte to read: `Ok(false)` when none came.
    fn poll_readable(&self, timeout: Duration) -> io::Result<bool> {
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
            return Ok(false);
        }
        if pollfd.revents & (libc::POLLERR | libc::POLLHUP | libc::POLLNVAL) != 0
            && pollfd.revents & libc::POLLIN == 0
        {
            return Err(io::Error::new(
                io::ErrorKind::BrokenPipe,
                "the printer device went away",
            ));
        }
        Ok(true)
    }
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
        if !self.readable || !self.poll_readable(timeout)? {
            return Ok(None);
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

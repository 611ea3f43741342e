//! The network link: a listener on `127.0.0.1` with port 9100 semantics, one connection at
//! a time, replies on the same socket. TCP has its own flow control: nothing is dropped.
//! What arrives carries the kernel's receive time (`kernel_time.rs`): a cut has arrived
//! when its last byte reached the printer's socket, however late this thread wakes.

use std::io;
use std::net::{Shutdown, TcpListener, TcpStream};
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::Duration;

use super::Plug;
use super::engine::{READ_CHUNK, Shared, Sink, TICK};
use super::pty::poll_readable;

/// Listen on `port` (0: any) on 127.0.0.1 and serve connections one at a time.
pub(super) fn plug_tcp(shared: &Arc<Shared>, port: u16) -> io::Result<(Plug, u16)> {
    // The port was ours a moment ago; retry briefly if the kernel still holds it.
    let mut tries = 0;
    let listener = loop {
        match TcpListener::bind(("127.0.0.1", port)) {
            Ok(l) => break l,
            Err(_) if tries < 50 && port != 0 => {
                tries += 1;
                std::thread::sleep(TICK);
            }
            Err(e) => return Err(e),
        }
    };
    let port = listener.local_addr()?.port();
    listener.set_nonblocking(true)?;
    super::kernel_time::enable(&listener);
    let stop = Arc::new(AtomicBool::new(false));
    let thread = {
        let (shared, stop) = (shared.clone(), stop.clone());
        std::thread::Builder::new()
            .name("vprinter-tcp".into())
            .spawn(move || {
                while !stop.load(Ordering::SeqCst) {
                    // Accept as soon as a connection is waiting (a printer answers at once),
                    // looking at `stop` every tick.
                    if !poll_readable(&listener, TICK) {
                        continue;
                    }
                    match listener.accept() {
                        Ok((stream, _)) => serve_tcp(&shared, stream, &stop),
                        Err(_) => std::thread::sleep(TICK),
                    }
                }
            })?
    };
    Ok((Plug { stop, thread }, port))
}

/// One TCP connection, until EOF, error or unplug.
fn serve_tcp(shared: &Arc<Shared>, stream: TcpStream, stop: &AtomicBool) {
    let setup = (|| -> io::Result<TcpStream> {
        stream.set_nonblocking(false)?;
        stream.set_nodelay(true)?;
        stream.set_read_timeout(Some(TICK))?;
        stream.set_write_timeout(Some(Duration::from_millis(500)))?;
        stream.try_clone()
    })();
    let Ok(reply_side) = setup else { return };
    shared.lock().sink = Some(Sink::Tcp(reply_side));
    let mut buf = vec![0u8; READ_CHUNK];
    while !stop.load(Ordering::SeqCst) {
        if !shared.pump(&mut buf, false, |buf| {
            super::kernel_time::recv(&stream, buf, 0)
        }) {
            break;
        }
    }
    shared.lock().sink = None;
    let _ = stream.shutdown(Shutdown::Both);
}

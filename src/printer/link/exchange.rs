//! The print-with-status exchange on one open link, and when its answers are believed
//! (`docs/escpos.md` §4): `DLE EOT 1`, `2`, `4` before a receipt, `GS r 1` after it.
//!
//! A printer answers each request with exactly one byte with the request's fixed bits. An
//! answer counts only when the line was quiet when the request went out, it is the first
//! byte after the request, has those bits, and nothing follows it; the `DLE EOT 1` answer
//! is asked again last and must be the same. A wrong baud rate or a bad RX wire gives bytes
//! too, but not like that: such a connection's status is unknown ([`Realtime::garbled`])
//! and its receipts unconfirmed, never "ok".
//!
//! Nothing here waits except for an answer itself: "nothing follows" and "the line was
//! quiet" look only at what the kernel already holds ([`Link::pending`]). A short timed
//! wait would cost a scheduler tick (4–10 ms) per request; noise that arrives later is
//! still caught, as bytes before the next request or as a second `DLE EOT 1` that differs.

use std::io;
use std::time::Duration;

use super::Link;
use crate::printer::status::{
    self, DLE_EOT_OFFLINE, DLE_EOT_PAPER, DLE_EOT_PRINTER, GS_R_PAPER, Realtime,
};

/// How long one status reply may take.
pub(super) const STATUS_TIMEOUT: Duration = Duration::from_millis(500);
/// At most this many stale bytes are forgotten at once (a line that never stops talking is
/// noise, not late replies).
const DRAIN_MAX: usize = 4096;

/// What one request got back.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Answer {
    /// One byte with the request's fixed bits, and nothing after it.
    Byte(u8),
    /// Nothing within the timeout.
    Silent,
    /// Bytes that are no answer: wrong fixed bits, or more than one.
    Garbled,
}

/// Forget the bytes the printer sent earlier and the kernel still holds (a late status
/// reply), without waiting for more; how many there were.
pub(super) fn drain(link: &mut dyn Link) -> io::Result<usize> {
    let mut forgotten = 0;
    while forgotten < DRAIN_MAX && link.pending()?.is_some() {
        forgotten += 1;
    }
    Ok(forgotten)
}

/// Send `request` and read its one-byte answer within `timeout`, checked by `valid`.
fn ask(
    link: &mut dyn Link,
    request: &[u8],
    valid: fn(u8) -> bool,
    timeout: Duration,
) -> io::Result<Answer> {
    // Bytes nobody asked for (the tail of earlier noise): whatever comes next is no answer.
    let unasked = drain(link)? > 0;
    link.send(request)?;
    let answer = match link.recv(timeout)? {
        None if unasked => return Ok(Answer::Garbled),
        None => return Ok(Answer::Silent),
        Some(b) if valid(b) && !unasked => Answer::Byte(b),
        Some(_) => Answer::Garbled,
    };
    if drain(link)? > 0 {
        return Ok(Answer::Garbled);
    }
    Ok(answer)
}

/// Ask `DLE EOT 1`, `2`, `4` and `1` again, each as its own write.
pub(super) fn query(link: &mut dyn Link) -> io::Result<Realtime> {
    drain(link)?;
    let mut ask = |request: &[u8]| ask(link, request, status::valid_realtime, STATUS_TIMEOUT);
    let printer = match ask(&DLE_EOT_PRINTER)? {
        // Silent printer: do not wait for the others.
        Answer::Silent => return Ok(Realtime::default()),
        Answer::Garbled => return Ok(Realtime::garbled()),
        Answer::Byte(b) => b,
    };
    let offline_cause = ask(&DLE_EOT_OFFLINE)?;
    let paper = ask(&DLE_EOT_PAPER)?;
    let again = ask(&DLE_EOT_PRINTER)?;
    let byte = |a: Answer| match a {
        Answer::Byte(b) => Ok(Some(b)),
        // A printer may lack a sensor's command; it still answers the others.
        Answer::Silent => Ok(None),
        Answer::Garbled => Err(()),
    };
    match (byte(offline_cause), byte(paper)) {
        (Ok(offline_cause), Ok(paper)) if again == Answer::Byte(printer) => {
            Ok(Realtime::from_replies(Some(printer), offline_cause, paper))
        }
        _ => Ok(Realtime::garbled()),
    }
}

/// Write a receipt and wait for `GS r 1`'s answer: `Ok(true)` when the printer confirmed
/// (one valid byte, the first after the receipt, and nothing after it).
pub(super) fn print_confirmed(
    link: &mut dyn Link,
    bytes: &[u8],
    confirm: Duration,
) -> io::Result<bool> {
    link.send(bytes)?;
    let answer = ask(link, &GS_R_PAPER, status::valid_gs_r, confirm)?;
    Ok(matches!(answer, Answer::Byte(_)))
}

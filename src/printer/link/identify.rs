//! `GS I n` on one open link: ask the printer's maker (`n` = 66) or model (`n` = 67) and
//! read its "printer information B" reply, `_` (0x5F) + printable ASCII + `NUL`
//! (business reference §2.1), then [`identify`]: status first, then both names.
//!
//! Every wait is bounded: the first byte within [`ID_TIMEOUT`], the whole reply within the
//! same again, at most [`ID_MAX`] bytes. A reply of any other shape is no answer (a clone
//! that answers something else, line noise), so nothing unknown is taken for a name. `GS I`
//! is asked only of a printer that answered `DLE EOT` and is ready: it is processed in
//! order from the receive buffer, so a printer held by paper out would answer later, into
//! the next job's status exchange.

use std::io;
use std::time::{Duration, Instant};

use super::exchange::{drain, query};
use super::{Connector, Link, LinkPrinter};
use crate::printer::identify::Identity;

/// How long the printer may take to start its reply, and then to finish it.
pub(super) const ID_TIMEOUT: Duration = Duration::from_millis(500);
/// The longest reply believed (Epson's names are a few bytes; Bixolon's at most 15).
const ID_MAX: usize = 64;
/// `GS I 66`: the maker.
pub(super) const MAKER: u8 = 66;
/// `GS I 67`: the model name.
pub(super) const MODEL: u8 = 67;

/// Ask `GS I n` and read its text; `None` when the printer gave no reply of that shape.
pub(super) fn ask_id(link: &mut dyn Link, n: u8) -> io::Result<Option<String>> {
    drain(link)?;
    link.send(&[0x1D, b'I', n])?;
    if link.recv(ID_TIMEOUT)? != Some(b'_') {
        drain(link)?;
        return Ok(None);
    }
    let deadline = Instant::now() + ID_TIMEOUT;
    let mut text = Vec::new();
    loop {
        let left = deadline.saturating_duration_since(Instant::now());
        match link.recv(left)? {
            Some(0) => break,
            Some(b) if text.len() < ID_MAX => text.push(b),
            // Too long, or cut short: not a reply.
            _ => {
                drain(link)?;
                return Ok(None);
            }
        }
    }
    let printable = !text.is_empty() && text.iter().all(|b| (0x20..=0x7E).contains(b));
    Ok(printable.then(|| String::from_utf8_lossy(&text).trim().to_owned()))
}

impl<C: Connector> LinkPrinter<C> {
    /// Status, then (from a ready printer that answered it) maker and model.
    pub(super) fn identify_now(&mut self) -> Identity {
        let transport = self.connector.describe();
        let realtime = match self.link().and_then(|l| query(l.as_mut())) {
            Ok(r) => r,
            Err(e) => {
                self.link = None;
                let status = crate::printer::status::unreachable(
                    format!("cannot reach the printer: {e}"),
                    Some(transport.clone()),
                );
                return Identity::not_asked(transport, status, false, "it cannot be reached");
            }
        };
        let status = realtime.to_protocol(&transport, self.drawer_open);
        let why = if realtime.garbled {
            Some("its status answers were line noise".to_owned())
        } else if !realtime.answered() {
            Some("it did not answer DLE EOT".to_owned())
        } else {
            realtime
                .not_ready()
                .map(|n| format!("it is not ready ({}): ask again when it is", n.as_str()))
        };
        let identity = match why {
            Some(why) => {
                let answered = realtime.answered() && !realtime.garbled;
                Identity::not_asked(transport, status, answered, &why)
            }
            None => {
                let mut ask = |n| self.link().and_then(|l| ask_id(l.as_mut(), n));
                let (maker, model) = (ask(MAKER), ask(MODEL));
                if maker.is_err() || model.is_err() {
                    self.link = None;
                }
                Identity {
                    transport,
                    status,
                    answered: true,
                    not_asked: None,
                    maker: maker.ok().flatten(),
                    model: model.ok().flatten(),
                }
            }
        };
        if self.connector.per_job() {
            self.link = None;
        }
        identity
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::collections::VecDeque;

    /// Answers each `GS I n` with the bytes queued for it.
    struct Answering {
        replies: VecDeque<Vec<u8>>,
        line: VecDeque<u8>,
        sent: Vec<u8>,
    }

    impl Link for Answering {
        fn send(&mut self, bytes: &[u8]) -> io::Result<()> {
            self.sent.extend_from_slice(bytes);
            if let Some(reply) = self.replies.pop_front() {
                self.line.extend(reply);
            }
            Ok(())
        }
        fn recv(&mut self, _: Duration) -> io::Result<Option<u8>> {
            Ok(self.line.pop_front())
        }
    }

    fn asked(reply: &[u8]) -> Option<String> {
        let mut link = Answering {
            replies: VecDeque::from([reply.to_vec()]),
            line: VecDeque::new(),
            sent: Vec::new(),
        };
        let answer = ask_id(&mut link, MAKER).unwrap();
        assert_eq!(link.sent, [0x1D, 0x49, 66]);
        answer
    }

    #[test]
    fn only_an_information_b_reply_is_a_name() {
        assert_eq!(asked(b"_EPSON\0").as_deref(), Some("EPSON"));
        assert_eq!(asked(b"_TM-T88V \0").as_deref(), Some("TM-T88V"));
        // Silent, another reply's shape, cut short, empty, unprintable, too long.
        for noise in [
            &b""[..],
            b"\x12",
            b"=\x01\0",
            b"_EPS",
            b"_\0",
            b"_\x90\x91\0",
        ] {
            assert_eq!(asked(noise), None, "{noise:02x?}");
        }
        let long = [&b"_"[..], &[b'A'; 100], b"\0"].concat();
        assert_eq!(asked(&long), None);
    }
}

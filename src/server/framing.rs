//! Framing: the socket carries one request per `\n`-terminated line, at most
//! [`MAX_LINE`] bytes (64 KiB) including the newline.
//!
//! Bytes in, lines out: this file does not parse JSON or know what a request means.

use tokio::io::{AsyncBufRead, AsyncBufReadExt};

use crate::protocol::MAX_LINE;

/// Why a line could not be read.
pub(super) enum LineError {
    /// Longer than [`MAX_LINE`]: the connection is closed after saying so.
    TooLong,
    Io(std::io::Error),
}

/// Read one `\n`-terminated line into `buf` (without the newline), refusing lines longer
/// than [`MAX_LINE`] bytes including the newline. `Ok(false)` at end of stream.
pub(super) async fn read_line<R: AsyncBufRead + Unpin>(
    reader: &mut R,
    buf: &mut Vec<u8>,
) -> Result<bool, LineError> {
    buf.clear();
    loop {
        let available = reader.fill_buf().await.map_err(LineError::Io)?;
        if available.is_empty() {
            // End of stream; a last line without its newline still counts.
            return Ok(!buf.is_empty());
        }
        if let Some(pos) = available.iter().position(|&b| b == b'\n') {
            if buf.len() + pos + 1 > MAX_LINE {
                return Err(LineError::TooLong);
            }
            buf.extend_from_slice(&available[..pos]);
            reader.consume(pos + 1);
            if buf.last() == Some(&b'\r') {
                buf.pop();
            }
            return Ok(true);
        }
        let n = available.len();
        if buf.len() + n + 1 > MAX_LINE {
            return Err(LineError::TooLong);
        }
        buf.extend_from_slice(available);
        reader.consume(n);
    }
}

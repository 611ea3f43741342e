//! The random identifiers WeChat Pay hands out: `code_url`s, `Request-ID`s, digits for
//! transaction ids, nonces.

use std::time::SystemTime;

use super::time::unix;

/// `len` random ASCII letters and digits (nonces, `code_url` suffixes, openids).
pub(super) fn random_alnum(len: usize) -> String {
    std::iter::repeat_with(fastrand::alphanumeric)
        .take(len)
        .collect()
}

/// `len` random decimal digits.
pub(super) fn digits(len: usize) -> String {
    std::iter::repeat_with(|| fastrand::digit(10))
        .take(len)
        .collect()
}

/// A fresh Native `code_url` (`prefix`: the region's).
pub(super) fn new_code_url(prefix: &str) -> String {
    format!("{prefix}{}", random_alnum(7))
}

/// `08` + time + random hex, `-` + an internal code, like WeChat's `Request-ID`.
pub(super) fn request_id() -> String {
    let hex: String = std::iter::repeat_with(|| fastrand::digit(16).to_ascii_uppercase())
        .take(30)
        .collect();
    format!(
        "08{:08X}06{hex}-{}",
        unix(SystemTime::now()) as u32,
        fastrand::u32(268_435_456..268_600_000)
    )
}

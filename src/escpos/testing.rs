//! Test helpers for byte-level assertions, shared by the `escpos` and `receipt` tests (and
//! `printer::profile`'s): hex dumps, byte searches and a one-command builder.

use super::EscPos;

/// `bytes` as upper-case hex pairs separated by spaces, e.g. `"1B 40"`.
pub(crate) fn hex(bytes: &[u8]) -> String {
    bytes
        .iter()
        .map(|b| format!("{b:02X}"))
        .collect::<Vec<_>>()
        .join(" ")
}

/// The bytes of whitespace-separated hex pairs (the inverse of [`hex`]).
pub(crate) fn unhex(s: &str) -> Vec<u8> {
    s.split_whitespace()
        .map(|h| u8::from_str_radix(h, 16).unwrap())
        .collect()
}

/// What `f` appends to a fresh (Chinese-mode) builder.
pub(crate) fn bytes(f: impl FnOnce(&mut EscPos) -> &mut EscPos) -> Vec<u8> {
    let mut e = EscPos::new();
    f(&mut e);
    e.into_bytes()
}

/// Where `needle` first occurs in `haystack`.
pub(crate) fn find(haystack: &[u8], needle: &[u8]) -> Option<usize> {
    haystack.windows(needle.len()).position(|w| w == needle)
}

/// How often `needle` occurs in `haystack` (overlaps counted).
pub(crate) fn count(haystack: &[u8], needle: &[u8]) -> usize {
    haystack
        .windows(needle.len())
        .filter(|w| *w == needle)
        .count()
}

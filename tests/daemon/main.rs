//! The daemon driven over its socket like a POS: checkout → events → the printed QR is the
//! code_url → payment; idempotency, cancel, expiry, restart, shutdown, and every error code.
//!
//! One test binary (`cargo test --test daemon`), a module per topic; the in-process daemon
//! and the POS client are in `tests/support/`.

#[path = "../support/mod.rs"]
mod support;

mod backends;
mod cancel;
mod checkout;
mod errors;
mod expiry;
mod printing;
mod restart;
mod shutdown;
mod watch;

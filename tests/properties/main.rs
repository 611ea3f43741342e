//! Property tests (proptest) for wxprint's parsers of hostile input, in-process: the socket
//! protocol parser (`protocol.rs`) and the ESC/POS receipt renderer (`receipt.rs`). The
//! socket-level counterpart is `tests/daemon/hostile.rs` (10⁵ mutated requests to the real
//! daemon).
//!
//! The default run is small and deterministic (a fixed seed), so `cargo test` stays fast and
//! a failure replays. A longer or different run: `PROPTEST_CASES=20000` (cases per property)
//! and `PROPTEST_RNG_SEED=<u64>` (another seed).
//!
//! This binary knows the public library API and the tests' QR reader only; it starts no
//! daemon, printer or simulator.

mod protocol;
#[path = "../support/qr.rs"]
mod qr;
mod receipt;

use proptest::test_runner::{Config, RngSeed};

/// The seed of the default run; `PROPTEST_RNG_SEED` picks another.
const SEED: u64 = 0x5752_5052_494e_5421;

/// `cases` cases per property and the fixed [`SEED`], unless `PROPTEST_CASES` /
/// `PROPTEST_RNG_SEED` say otherwise; no regression files are written (a case a property
/// finds becomes a regular test).
pub fn config(cases: u32) -> Config {
    let mut config = Config::default();
    if std::env::var_os("PROPTEST_CASES").is_none() {
        config.cases = cases;
    }
    if std::env::var_os("PROPTEST_RNG_SEED").is_none() {
        config.rng_seed = RngSeed::Fixed(SEED);
    }
    config.failure_persistence = None;
    config
}

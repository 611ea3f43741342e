//! The `wxprint` command: the daemon (`serve`) and the technician's and POS developer's
//! tools, which speak the same socket protocol as a POS.
//!
//! This file only parses the command line and reports a failure as `wxprint: …` with exit
//! code 1. The commands live in `src/cli/` ([`cli`]), a module of this binary that uses the
//! `wxprint` library like any other client of it; the library does not contain the CLI.

mod cli;

use std::process::ExitCode;

use clap::Parser;

fn main() -> ExitCode {
    let cli = cli::Cli::parse();
    match cli::run(cli) {
        Ok(code) => code,
        Err(e) => {
            eprintln!("wxprint: {e:#}");
            ExitCode::FAILURE
        }
    }
}

//! The `wxprint` command: the daemon (`serve`) and the technician's and POS developer's
//! tools, which speak the same socket protocol as a POS.

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

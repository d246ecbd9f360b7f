use std::process::ExitCode;

use clap::Parser;

fn main() -> ExitCode {
    stagehand::alloc::tune();
    let cli = stagehand::cli::Cli::parse();
    match stagehand::run(cli) {
        Ok(code) => code,
        Err(e) => {
            eprintln!("stagehand: {e:#}");
            ExitCode::from(2)
        }
    }
}

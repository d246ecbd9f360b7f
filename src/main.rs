use std::process::ExitCode;

use clap::Parser;

fn main() -> ExitCode {
    stagehand::alloc::tune();
    let cli = stagehand::cli::Cli::parse();
    match stagehand::run(cli) {
        Ok(code) => code,
        Err(e) => {
            // The message can quote Graph, Entra or file text: no escape sequence reaches the terminal.
            let text = format!("{e:#}");
            eprintln!("stagehand: {}", stagehand::text::escape_lines(&text));
            ExitCode::from(2)
        }
    }
}

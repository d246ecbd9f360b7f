//! Logs go to a daily-rotated file in the data dir, never to the terminal while the console runs.

use std::path::Path;

use tracing_appender::non_blocking::WorkerGuard;
use tracing_appender::rolling::{Builder, Rotation};
use tracing_subscriber::EnvFilter;

/// Starts file logging; keep the guard alive until exit so the last lines are flushed.
/// `RUST_LOG` wins over `-v` (0 info, 1 debug, 2+ trace).
pub fn init(data_dir: &Path, verbose: u8) -> anyhow::Result<WorkerGuard> {
    let dir = data_dir.join("logs");
    crate::private::data_dir(&dir)?;
    let appender = Builder::new()
        .rotation(Rotation::DAILY)
        .filename_prefix("stagehand")
        .filename_suffix("log")
        .max_log_files(14)
        .build(&dir)?;
    let (writer, guard) = tracing_appender::non_blocking(appender);
    let default = match verbose {
        0 => "stagehand=info",
        1 => "stagehand=debug",
        _ => "stagehand=trace",
    };
    let filter = EnvFilter::try_from_default_env().unwrap_or_else(|_| EnvFilter::new(default));
    let subscriber = tracing_subscriber::fmt()
        .with_env_filter(filter)
        // Outside text in a field cannot forge a log line or carry an escape sequence.
        .with_writer(move || crate::text::EscapingWriter(writer.clone()))
        .with_ansi(false)
        .finish();
    // A second init in one process (tests) keeps the first subscriber.
    let _ = tracing::subscriber::set_global_default(subscriber);
    Ok(guard)
}

//! `stagehand prep`: offline CSV batch preparation. No network, no sign-in.
//!
//! Reads what procurement sends (any of the encodings, delimiters and layouts in `decode`/`sniff`),
//! validates every row with [`crate::serial`], and writes exactly what Intune accepts.
//! Exit codes: 0 clean, 1 rows rejected, 2 usage error or unreadable input/output.

pub(crate) mod damage;
pub(crate) mod decode;
pub(crate) mod dedupe;
mod hashes;
mod pipeline;
pub(crate) mod reader;
mod records;
pub(crate) mod report;
pub(crate) mod row;
pub mod sniff;
pub(crate) mod split;
pub(crate) mod utf16;
pub(crate) mod writer;

use std::io::IsTerminal;
use std::path::{Path, PathBuf};

use clap::Args;

pub use decode::TextEncoding;
pub use reader::{InputFile, ReadOptions, read_rows};
pub use report::{InputError, RowError, Severity, Summary};
pub use row::{PrepRow, RowRef};
pub use writer::{Defaults, Format};

use crate::config::{Config, Platform};

#[derive(Debug, Clone, Args)]
pub struct PrepArgs {
    /// Input files (CSV, TSV, Excel "Unicode text", plain serial lists, Autopilot hash CSVs).
    #[arg(required = true, value_name = "INPUT")]
    pub inputs: Vec<PathBuf>,
    /// Output file; split outputs are named OUT-1.csv, OUT-2.csv, ….
    #[arg(short = 'o', long = "output", value_name = "OUT")]
    pub output: PathBuf,
    #[arg(long, value_enum, default_value_t = Format::CorporateIdentifiers)]
    pub format: Format,
    /// Platform (default: the profile's, else windows).
    #[arg(long, value_enum)]
    pub platform: Option<PlatformArg>,
    /// Manufacturer for rows without one (Windows identifiers).
    #[arg(long)]
    pub manufacturer: Option<String>,
    /// Model for rows without one (Windows identifiers).
    #[arg(long)]
    pub model: Option<String>,
    /// Staging profile from the config: default manufacturer, model, platform and details.
    #[arg(long)]
    pub profile: Option<String>,
    /// Write nothing when any row is rejected.
    #[arg(long)]
    pub strict: bool,
    /// Field delimiter (default: detected per file).
    #[arg(long, value_enum)]
    pub delimiter: Option<DelimiterArg>,
    /// Input encoding (default: detected per file).
    #[arg(long, value_enum)]
    pub encoding: Option<TextEncoding>,
    /// The column holding the serial: its header name or its number (from 1). Needed when the
    /// header row names no serial column.
    #[arg(long, value_name = "NAME|N")]
    pub serial_column: Option<sniff::SerialColumn>,
    /// Group tag for every row of an Autopilot file (else each row's own `Group Tag`).
    #[arg(long, value_name = "T")]
    pub group_tag: Option<String>,
    /// User to pre-assign in an Autopilot file (else each row's own `Assigned User`).
    #[arg(long, value_name = "UPN")]
    pub assigned_user: Option<String>,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, clap::ValueEnum)]
pub enum PlatformArg {
    Windows,
    Ios,
    Android,
}

impl From<PlatformArg> for Platform {
    fn from(p: PlatformArg) -> Self {
        match p {
            PlatformArg::Windows => Platform::Windows,
            PlatformArg::Ios => Platform::Ios,
            PlatformArg::Android => Platform::Android,
        }
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, clap::ValueEnum)]
pub enum DelimiterArg {
    Comma,
    Semicolon,
    Tab,
}

impl DelimiterArg {
    pub fn byte(self) -> u8 {
        match self {
            DelimiterArg::Comma => b',',
            DelimiterArg::Semicolon => b';',
            DelimiterArg::Tab => b'\t',
        }
    }
}

/// What a run produced, for callers that want more than the exit code.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Outcome {
    pub exit_code: i32,
    /// Why the run stopped (usage error, unreadable input, output failure), for exit code 2.
    pub error: Option<String>,
    pub summary: Summary,
    pub problems: Vec<RowError>,
}

/// Runs prep with the built-in config (profiles Standard, Executive, Mobile); prints problems and
/// the summary to stderr and returns the exit code.
pub fn run(args: &PrepArgs) -> i32 {
    run_with_config(args, &Config::default())
}

/// As [`run`], with profiles from a loaded config.
pub fn run_with_config(args: &PrepArgs, cfg: &Config) -> i32 {
    let out = execute(args, cfg, std::io::stderr().is_terminal());
    let mut text = String::new();
    for p in &out.problems {
        // A problem quotes CSV cells: one escaped line each.
        text.push_str(&crate::text::escape(&p.to_string()));
        text.push('\n');
    }
    if let Some(e) = &out.error {
        text.push_str(&format!("stagehand prep: {}\n", crate::text::Escaped(e)));
    } else {
        text.push_str(&out.summary.render());
    }
    eprint!("{}", crate::text::escape_lines(&text));
    out.exit_code
}

/// Usage problems found before reading anything.
fn usage(msg: impl std::fmt::Display) -> Outcome {
    Outcome {
        exit_code: 2,
        error: Some(msg.to_string()),
        summary: Summary::default(),
        problems: Vec::new(),
    }
}

/// Resolves flags and profile into the per-row defaults.
pub fn resolve_defaults(args: &PrepArgs, cfg: &Config) -> Result<Defaults, String> {
    let profile = match &args.profile {
        Some(name) => Some(cfg.profiles.get(name).ok_or_else(|| {
            let names: Vec<&str> = cfg.profiles.keys().map(String::as_str).collect();
            format!(
                "--profile {name:?}: no such profile (profiles: {})",
                names.join(", ")
            )
        })?),
        None => None,
    };
    let nonempty = |s: &str| (!s.trim().is_empty()).then(|| s.trim().to_string());
    let label =
        |flag: &Option<String>, field: &'static str, from_profile: Option<String>| match flag {
            Some(v) => crate::serial::check_label(field, v)
                .map(|v| Some(v.to_string()))
                .map_err(|e| format!("--{field}: {e}")),
            None => Ok(from_profile),
        };
    Ok(Defaults {
        platform: args
            .platform
            .map(Platform::from)
            .or(profile.map(|p| p.platform))
            .unwrap_or(Platform::Windows),
        manufacturer: label(
            &args.manufacturer,
            "manufacturer",
            profile.and_then(|p| nonempty(&p.manufacturer)),
        )?,
        model: label(
            &args.model,
            "model",
            profile.and_then(|p| nonempty(&p.model)),
        )?,
        details: profile.and_then(|p| nonempty(&p.description)),
        profile: args.profile.clone(),
    })
}

/// Canonical form of a path that may not exist yet (its parent must).
fn canonical(p: &Path) -> Option<PathBuf> {
    if let Ok(c) = p.canonicalize() {
        return Some(c);
    }
    let parent = match p.parent() {
        Some(d) if !d.as_os_str().is_empty() => d.canonicalize().ok()?,
        _ => std::env::current_dir().ok()?,
    };
    Some(parent.join(p.file_name()?))
}

/// Does the work without printing problems; `progress` draws a bar on stderr for big files.
pub fn execute(args: &PrepArgs, cfg: &Config, progress: bool) -> Outcome {
    let defaults = match resolve_defaults(args, cfg) {
        Ok(d) => d,
        Err(e) => return usage(e),
    };
    let inputs: Vec<PathBuf> = args.inputs.iter().filter_map(|p| canonical(p)).collect();
    let is_input = |p: &Path| canonical(p).is_some_and(|c| inputs.contains(&c));
    if is_input(&args.output) {
        return usage(format!(
            "{}: the output is one of the inputs; refusing to overwrite it",
            args.output.display()
        ));
    }
    if canonical(&args.output).is_none() {
        return usage(format!(
            "{}: the output's folder does not exist",
            args.output.display()
        ));
    }
    // Hardware hash files (Get-WindowsAutopilotInfo output) are decoded, not read as rows.
    let hash_files = args
        .inputs
        .iter()
        .filter(|p| crate::autopilot::file::is_hash_file(p))
        .count();
    if hash_files > 0 {
        if hash_files < args.inputs.len() {
            return usage(
                "some inputs are hardware hash files and some are not: prepare them in separate runs",
            );
        }
        return hashes::run(args, &defaults, is_input);
    }
    let opts = ReadOptions {
        delimiter: args.delimiter.map(DelimiterArg::byte),
        encoding: args.encoding,
        serial_column: args.serial_column.clone(),
    };
    let mut files = Vec::new();
    for p in &args.inputs {
        match InputFile::open(p, &opts) {
            Ok(f) => files.push(f),
            Err(e) => return usage(e),
        }
    }
    pipeline::pipeline(args, &defaults, files, is_input, progress)
}

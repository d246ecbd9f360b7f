//! Typed errors shared across layers.

use std::fmt;
use std::path::PathBuf;

/// A configuration problem, always naming where it is.
#[derive(Debug, Clone, thiserror::Error, PartialEq, Eq)]
pub enum ConfigError {
    #[error("{}: cannot read the config file: {reason}", file.display())]
    Read { file: PathBuf, reason: String },
    #[error("{}:{line}:{column}: {message}", file.display())]
    Parse {
        file: PathBuf,
        line: usize,
        column: usize,
        message: String,
    },
    #[error("{}{key}: {reason}", Where(file))]
    Invalid {
        file: Option<PathBuf>,
        key: String,
        reason: String,
    },
}

struct Where<'a>(&'a Option<PathBuf>);

impl fmt::Display for Where<'_> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self.0 {
            Some(p) => write!(f, "{}: ", p.display()),
            None => Ok(()),
        }
    }
}

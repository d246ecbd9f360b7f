//! One scan to one queue entry: the validation every path shares (the console's scan input,
//! `stagehand intake add`, `stagehand intake import`).

use chrono::{DateTime, Utc};

use crate::config::Config;
use crate::serial;
use crate::serial::SerialKey;
use crate::store::{EntryState, QueueEntry};

/// Why a scan was not queued; `Display` is written for the technician.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum Refusal {
    #[error("{0}")]
    Invalid(String),
    #[error("duplicate: already in the queue")]
    Duplicate,
    #[error("no staging profile named {0:?}")]
    NoProfile(String),
}

/// A scan that passed: the entry to queue and a notice to show (periods removed).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Accepted {
    pub entry: QueueEntry,
    pub notice: Option<String>,
}

/// What a scan is made of besides the serial.
#[derive(Debug, Clone, Copy)]
pub struct ScanContext<'a> {
    pub config: &'a Config,
    pub profile: &'a str,
    /// Overrides of the profile's manufacturer and model.
    pub manufacturer: Option<&'a str>,
    pub model: Option<&'a str>,
    pub bench: &'a str,
    pub now: DateTime<Utc>,
}

/// Strips the scanner's affixes, validates, checks for a duplicate (`exists` gets the serial key),
/// and builds the entry.
pub fn accept(
    raw: &str,
    ctx: &ScanContext<'_>,
    exists: impl Fn(&SerialKey) -> bool,
) -> Result<Accepted, Refusal> {
    let cfg = &ctx.config.intake;
    let profile = ctx
        .config
        .profiles
        .get(ctx.profile)
        .ok_or_else(|| Refusal::NoProfile(ctx.profile.to_string()))?;
    let stripped = serial::strip_affixes(raw, &cfg.strip_prefix, &cfg.strip_suffix);
    if let Some(value) = serial::rules::denied(stripped, &profile.serials) {
        let e = serial::rules::RuleError::Denied {
            value: value.to_string(),
        };
        return Err(Refusal::Invalid(e.to_string()));
    }
    let clean = serial::clean(stripped).map_err(|e| Refusal::Invalid(e.to_string()))?;
    serial::rules::check(&clean.value, &profile.serials)
        .map_err(|e| Refusal::Invalid(e.to_string()))?;
    if exists(&SerialKey::new(&clean.value)) {
        return Err(Refusal::Duplicate);
    }
    let manufacturer = ctx.manufacturer.unwrap_or(&profile.manufacturer);
    let model = ctx.model.unwrap_or(&profile.model);
    if profile.platform == crate::config::Platform::Windows {
        serial::check_label("manufacturer", manufacturer)
            .map_err(|e| Refusal::Invalid(e.to_string()))?;
        serial::check_label("model", model).map_err(|e| Refusal::Invalid(e.to_string()))?;
    }
    Ok(Accepted {
        notice: clean.notice(),
        entry: QueueEntry {
            serial: clean.value.into_owned(),
            manufacturer: manufacturer.trim().to_string(),
            model: model.trim().to_string(),
            profile: ctx.profile.to_string(),
            platform: profile.platform,
            identifier_type: profile.identifier_type,
            scanned_at: ctx.now,
            bench: ctx.bench.to_string(),
            state: EntryState::Queued,
            message: None,
            note: None,
            imported_id: None,
            attempts: 0,
        },
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn ctx(cfg: &Config) -> ScanContext<'_> {
        ScanContext {
            config: cfg,
            profile: "Standard",
            manufacturer: None,
            model: None,
            bench: "b1",
            now: Utc::now(),
        }
    }

    #[test]
    fn overrides_are_checked_for_commas() {
        let cfg = Config::default();
        let c = ScanContext {
            model: Some("Surface, 5"),
            ..ctx(&cfg)
        };
        let err = accept("AB123", &c, |_| false).unwrap_err();
        assert!(
            err.to_string().contains("model must not contain a comma"),
            "{err}"
        );
        let c = ScanContext {
            manufacturer: Some("Microsoft"),
            model: Some("Surface 5"),
            ..ctx(&cfg)
        };
        let ok = accept("AB123", &c, |_| false).unwrap();
        assert_eq!(
            (
                ok.entry.manufacturer.as_str(),
                ok.entry.model.as_str(),
                ok.entry.bench.as_str()
            ),
            ("Microsoft", "Surface 5", "b1")
        );
    }

    #[test]
    fn unknown_profile_is_refused() {
        let cfg = Config::default();
        let c = ScanContext {
            profile: "Nope",
            ..ctx(&cfg)
        };
        assert_eq!(
            accept("AB123", &c, |_| false),
            Err(Refusal::NoProfile("Nope".into()))
        );
    }

    #[test]
    fn junk_is_refused_naming_the_rule() {
        let cfg = Config::default();
        for (raw, rule) in [
            ("0", "serials.deny"),
            ("Default string", "serials.deny"),
            ("To be filled by O.E.M.", "serials.deny"),
            ("AB", "serials.min_length"),
            ("PF3 SPACE", "serials.allow_spaces"),
            ("0f8fad5b-d9cb-469f-a165-70867728950e", "serials.deny_guids"),
        ] {
            let err = accept(raw, &ctx(&cfg), |_| false).unwrap_err();
            assert!(err.to_string().contains(rule), "{raw}: {err}");
        }
    }

    #[test]
    fn mobile_profile_needs_no_manufacturer() {
        let cfg = Config::default();
        let c = ScanContext {
            profile: "Mobile",
            ..ctx(&cfg)
        };
        let ok = accept("F2LXK0ABCD", &c, |_| false).unwrap();
        assert_eq!(ok.entry.platform, crate::config::Platform::Ios);
    }
}

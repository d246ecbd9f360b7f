//! Configuration: `stagehand.toml`, strict (unknown keys are errors), with the precedence
//! flag > environment > file > default. Paths come from `directories`.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

use serde::Deserialize;
use url::Url;

use crate::error::ConfigError;

/// The example file shipped in `assets/`; it documents every key and parses in a test.
pub const EXAMPLE_TOML: &str = include_str!("../assets/stagehand.example.toml");

pub const DEFAULT_GRAPH_URL: &str = "https://graph.microsoft.com";
pub const DEFAULT_LOGIN_URL: &str = "https://login.microsoftonline.com";

/// Microsoft Graph's hosts: the global service, US Government L4 and L5 (DoD), and China operated
/// by 21Vianet (docs/security.md has the source).
pub const GRAPH_CLOUD_HOSTS: [&str; 4] = [
    "graph.microsoft.com",
    "graph.microsoft.us",
    "dod-graph.microsoft.us",
    "microsoftgraph.chinacloudapi.cn",
];

#[derive(Debug, Clone, Deserialize, PartialEq)]
#[serde(deny_unknown_fields, default)]
pub struct Config {
    pub tenant: TenantConfig,
    pub staging: StagingConfig,
    pub intake: IntakeConfig,
    pub status: StatusConfig,
    pub review: ReviewConfig,
    pub roles: RolesConfig,
    /// Staging profiles by name (`[profiles.Standard]`).
    pub profiles: BTreeMap<String, Profile>,
    /// Follow-up when a device fails (`[notify]`).
    pub notify: crate::notify::NotifyConfig,
}

#[derive(Debug, Clone, Deserialize, PartialEq)]
#[serde(deny_unknown_fields, default)]
pub struct TenantConfig {
    /// Tenant id (GUID) or primary domain.
    pub id: Option<String>,
    /// Application (client) id of the app registration.
    pub client_id: Option<String>,
    pub graph_url: String,
    pub login_url: String,
    /// Certificate (PEM) and private key (PEM) for app-only sign-in with a client assertion.
    pub certificate_path: Option<PathBuf>,
    pub private_key_path: Option<PathBuf>,
}

impl Default for TenantConfig {
    fn default() -> Self {
        Self {
            id: None,
            client_id: None,
            graph_url: DEFAULT_GRAPH_URL.into(),
            login_url: DEFAULT_LOGIN_URL.into(),
            certificate_path: None,
            private_key_path: None,
        }
    }
}

#[derive(Debug, Clone, Default, Deserialize, PartialEq)]
#[serde(deny_unknown_fields, default)]
pub struct StagingConfig {
    /// Staging account UPNs (device enrollment manager or not). Matched case-insensitively.
    pub accounts: Vec<String>,
}

impl StagingConfig {
    pub fn is_staging(&self, upn: &str) -> bool {
        self.accounts.iter().any(|a| a.eq_ignore_ascii_case(upn))
    }
}

/// What ends a scanned serial.
#[derive(Debug, Clone, Copy, Deserialize, PartialEq, Eq)]
#[serde(rename_all = "lowercase")]
pub enum Terminator {
    Enter,
    Tab,
}

#[derive(Debug, Clone, Deserialize, PartialEq)]
#[serde(deny_unknown_fields, default)]
pub struct IntakeConfig {
    pub terminators: Vec<Terminator>,
    /// Text a scanner adds before every serial, removed before validation.
    pub strip_prefix: String,
    /// Text a scanner adds after every serial, removed before validation.
    pub strip_suffix: String,
    /// Ring the terminal bell when a scan is rejected.
    pub bell_on_error: bool,
    /// The profile active when the console starts.
    pub default_profile: String,
    /// Identities per `importDeviceIdentityList` call.
    #[serde(deserialize_with = "ranged::batch_size")]
    pub batch_size: usize,
    /// Seconds a scan waits in the queue before it is uploaded, so a mistaken scan can be taken
    /// back (`d`) before anything reaches Intune; 0 uploads at once.
    pub hold_secs: u64,
    /// Printable keys arriving at most this many milliseconds apart, ended by a terminator, are a
    /// scanner burst: a scan wherever focus is (a person types far slower).
    pub burst_gap_ms: u64,
}

impl Default for IntakeConfig {
    fn default() -> Self {
        Self {
            terminators: vec![Terminator::Enter, Terminator::Tab],
            strip_prefix: String::new(),
            strip_suffix: String::new(),
            bell_on_error: true,
            default_profile: "Standard".into(),
            batch_size: 100,
            hold_secs: 10,
            burst_gap_ms: 30,
        }
    }
}

#[derive(Debug, Clone, Deserialize, PartialEq)]
#[serde(deny_unknown_fields, default)]
pub struct StatusConfig {
    /// How far back "enrolled by a staging account" looks when all benches are shown.
    #[serde(deserialize_with = "ranged::window_hours")]
    pub window_hours: u32,
    /// Poll interval while devices are moving.
    #[serde(deserialize_with = "ranged::poll_fast_secs")]
    pub poll_fast_secs: u64,
    /// Poll interval when every device is settled.
    #[serde(deserialize_with = "ranged::poll_slow_secs")]
    pub poll_slow_secs: u64,
}

impl Default for StatusConfig {
    fn default() -> Self {
        Self {
            window_hours: 72,
            poll_fast_secs: 15,
            poll_slow_secs: 120,
        }
    }
}

#[derive(Debug, Clone, Deserialize, PartialEq)]
#[serde(deny_unknown_fields, default)]
pub struct ReviewConfig {
    /// Another real user signing in this long before the most recent one makes a row ambiguous.
    #[serde(deserialize_with = "ranged::ambiguity_window_hours")]
    pub ambiguity_window_hours: u32,
    /// Service plan names that count as an Intune licence.
    pub intune_service_plans: Vec<String>,
}

impl Default for ReviewConfig {
    fn default() -> Self {
        Self {
            ambiguity_window_hours: 24,
            intune_service_plans: vec!["INTUNE_A".into()],
        }
    }
}

#[derive(Debug, Clone, Default, Deserialize, PartialEq)]
#[serde(deny_unknown_fields, default)]
pub struct RolesConfig {
    /// Intune RBAC role definition ids that may retire or wipe (checked through Graph at the time
    /// of the action, besides the Entra Intune Administrator role).
    pub destructive_rbac_roles: Vec<String>,
}

#[derive(Debug, Clone, Copy, Deserialize, PartialEq, Eq, serde::Serialize)]
#[serde(rename_all = "lowercase")]
pub enum Platform {
    Windows,
    Ios,
    Android,
}

#[derive(Debug, Clone, Copy, Deserialize, PartialEq, Eq, serde::Serialize)]
#[serde(rename_all = "camelCase")]
pub enum IdentifierType {
    ManufacturerModelSerial,
    SerialNumber,
    Imei,
}

#[derive(Debug, Clone, Deserialize, PartialEq)]
#[serde(deny_unknown_fields)]
pub struct Profile {
    pub platform: Platform,
    #[serde(default)]
    pub manufacturer: String,
    #[serde(default)]
    pub model: String,
    pub identifier_type: IdentifierType,
    /// Written to the corporate identifier's description (not supported by Intune for Windows).
    #[serde(default)]
    pub description: String,
    /// Minutes in provisioning after which a device is flagged stuck.
    #[serde(
        default = "default_stuck_minutes",
        deserialize_with = "ranged::stuck_minutes"
    )]
    pub stuck_minutes: u32,
    /// What a serial of this profile must look like (`[profiles.NAME.serials]`).
    #[serde(default)]
    pub serials: SerialRules,
}

/// Per-profile serial rules, checked on every scan, paste and `intake add`/`import`, so junk
/// (firmware placeholders, a spreadsheet header, a stray key) never reaches Intune.
#[derive(Debug, Clone, Deserialize, PartialEq)]
#[serde(deny_unknown_fields, default)]
pub struct SerialRules {
    /// Fewest characters (after removing periods).
    pub min_length: usize,
    /// Most characters (at most 64, Intune's limit).
    pub max_length: usize,
    /// A regular expression the whole serial must match (`^…$` implied), if set.
    pub pattern: Option<String>,
    /// Values refused outright (compared ignoring case, periods and repeated spaces): the
    /// placeholders firmware reports when no serial was burned in.
    pub deny: Vec<String>,
    /// Refuse anything shaped like a GUID (an object or device id scanned by mistake).
    pub deny_guids: bool,
    /// Accept a space inside a serial (off: a space is almost always a scanner sending key names).
    pub allow_spaces: bool,
}

/// Firmware placeholders seen in place of a real serial (SMBIOS defaults).
pub const DEFAULT_DENY: [&str; 8] = [
    "0",
    "None",
    "Default string",
    "To be filled by O.E.M.",
    "System Serial Number",
    "SMBIOS_STRING_INDEX_0",
    "Not Specified",
    "123456789",
];

impl Default for SerialRules {
    fn default() -> Self {
        Self {
            min_length: 4,
            max_length: crate::serial::MAX_LEN,
            pattern: None,
            deny: DEFAULT_DENY.iter().map(|s| s.to_string()).collect(),
            deny_guids: true,
            allow_spaces: false,
        }
    }
}

fn default_stuck_minutes() -> u32 {
    30
}

/// Numbers that become durations or sizes are held to a range when the file is read, so a value
/// like `4294967295` is an error naming its file, line and key instead of an overflow later. The
/// ranges are listed in docs/security.md.
mod ranged {
    use serde::Deserialize;
    use serde::de::{Deserializer, Error as _};

    fn within<'de, D, T>(d: D, key: &str, lo: T, hi: T, unit: &str) -> Result<T, D::Error>
    where
        D: Deserializer<'de>,
        T: Deserialize<'de> + PartialOrd + std::fmt::Display + Copy,
    {
        let v = T::deserialize(d)?;
        if v < lo || v > hi {
            return Err(D::Error::custom(format!(
                "{key} = {v} is out of range: {lo} to {hi} {unit}"
            )));
        }
        Ok(v)
    }

    /// Hours the status pane looks back: up to a year.
    pub const WINDOW_HOURS: (u32, u32) = (1, 8_760);
    /// Hours of the review's ambiguity window: up to a year.
    pub const AMBIGUITY_HOURS: (u32, u32) = (1, 8_760);
    /// Poll intervals: one second to a day.
    pub const POLL_SECS: (u64, u64) = (1, 86_400);
    /// Identities per import call.
    pub const BATCH: (usize, usize) = (1, 1_000);
    /// Minutes before a device counts as stuck: up to a week.
    pub const STUCK_MINUTES: (u32, u32) = (1, 10_080);

    pub fn window_hours<'de, D: Deserializer<'de>>(d: D) -> Result<u32, D::Error> {
        within(
            d,
            "status.window_hours",
            WINDOW_HOURS.0,
            WINDOW_HOURS.1,
            "hours",
        )
    }
    pub fn ambiguity_window_hours<'de, D: Deserializer<'de>>(d: D) -> Result<u32, D::Error> {
        within(
            d,
            "review.ambiguity_window_hours",
            AMBIGUITY_HOURS.0,
            AMBIGUITY_HOURS.1,
            "hours",
        )
    }
    pub fn poll_fast_secs<'de, D: Deserializer<'de>>(d: D) -> Result<u64, D::Error> {
        within(
            d,
            "status.poll_fast_secs",
            POLL_SECS.0,
            POLL_SECS.1,
            "seconds",
        )
    }
    pub fn poll_slow_secs<'de, D: Deserializer<'de>>(d: D) -> Result<u64, D::Error> {
        within(
            d,
            "status.poll_slow_secs",
            POLL_SECS.0,
            POLL_SECS.1,
            "seconds",
        )
    }
    pub fn batch_size<'de, D: Deserializer<'de>>(d: D) -> Result<usize, D::Error> {
        within(d, "intake.batch_size", BATCH.0, BATCH.1, "identities")
    }
    pub fn stuck_minutes<'de, D: Deserializer<'de>>(d: D) -> Result<u32, D::Error> {
        within(
            d,
            "profiles.*.stuck_minutes",
            STUCK_MINUTES.0,
            STUCK_MINUTES.1,
            "minutes",
        )
    }
}

impl Default for Config {
    /// The built-in defaults; a test holds them equal to assets/stagehand.example.toml.
    fn default() -> Self {
        let windows = |model: &str, description: &str, stuck_minutes| Profile {
            platform: Platform::Windows,
            manufacturer: "Contoso".into(),
            model: model.into(),
            identifier_type: IdentifierType::ManufacturerModelSerial,
            description: description.into(),
            stuck_minutes,
            serials: SerialRules::default(),
        };
        let profiles = BTreeMap::from([
            (
                "Standard".to_string(),
                windows("Laptop 7", "Standard staff laptop", 30),
            ),
            (
                "Executive".to_string(),
                windows("Laptop 7 Pro", "Executive laptop", 45),
            ),
            (
                "Mobile".to_string(),
                Profile {
                    platform: Platform::Ios,
                    manufacturer: String::new(),
                    model: String::new(),
                    identifier_type: IdentifierType::SerialNumber,
                    description: "Corporate phone".into(),
                    stuck_minutes: 30,
                    serials: SerialRules::default(),
                },
            ),
        ]);
        Self {
            tenant: TenantConfig::default(),
            staging: StagingConfig::default(),
            intake: IntakeConfig::default(),
            status: StatusConfig::default(),
            review: ReviewConfig::default(),
            roles: RolesConfig::default(),
            profiles,
            notify: crate::notify::NotifyConfig::default(),
        }
    }
}

/// Values given on the command line; `None` means "not given".
#[derive(Debug, Clone, Default)]
pub struct Overrides {
    pub config_path: Option<PathBuf>,
    pub tenant: Option<String>,
    pub client_id: Option<String>,
    pub graph_url: Option<String>,
    pub login_url: Option<String>,
}

/// Where the config file is looked for when no path is given.
pub fn default_config_path() -> Option<PathBuf> {
    project_dirs().map(|d| d.config_dir().join("stagehand.toml"))
}

/// The data dir (the store database, audit log, logs) when none is given.
pub fn default_data_dir() -> Option<PathBuf> {
    project_dirs().map(|d| d.data_dir().to_path_buf())
}

fn project_dirs() -> Option<directories::ProjectDirs> {
    directories::ProjectDirs::from("", "", "stagehand")
}

impl Config {
    /// Parses a config file's text; errors name the file, line and key.
    pub fn parse(text: &str, file: &Path) -> Result<Config, ConfigError> {
        let cfg: Config = toml::from_str(text).map_err(|e| {
            let (line, column) = e.span().map(|s| line_col(text, s.start)).unwrap_or((0, 0));
            ConfigError::Parse {
                file: file.to_path_buf(),
                line,
                column,
                message: e.message().trim().to_string(),
            }
        })?;
        cfg.validate(Some(file))?;
        Ok(cfg)
    }

    /// Loads with precedence flag > environment > file > default. `env` is a lookup so tests do not
    /// touch the process environment.
    pub fn load(
        ov: &Overrides,
        env: &dyn Fn(&str) -> Option<String>,
    ) -> Result<(Config, Option<PathBuf>), ConfigError> {
        let explicit = ov
            .config_path
            .clone()
            .or_else(|| env("STAGEHAND_CONFIG").map(PathBuf::from));
        let (mut cfg, used) = match explicit {
            Some(path) => {
                let text = std::fs::read_to_string(&path).map_err(|e| ConfigError::Read {
                    file: path.clone(),
                    reason: e.to_string(),
                })?;
                (Config::parse(&text, &path)?, Some(path))
            }
            None => match default_config_path() {
                Some(path) if path.exists() => {
                    let text = std::fs::read_to_string(&path).map_err(|e| ConfigError::Read {
                        file: path.clone(),
                        reason: e.to_string(),
                    })?;
                    (Config::parse(&text, &path)?, Some(path))
                }
                _ => (Config::default(), None),
            },
        };
        let pick = |flag: &Option<String>, var: &str| flag.clone().or_else(|| env(var));
        if let Some(v) = pick(&ov.tenant, "STAGEHAND_TENANT") {
            cfg.tenant.id = Some(v);
        }
        if let Some(v) = pick(&ov.client_id, "STAGEHAND_CLIENT_ID") {
            cfg.tenant.client_id = Some(v);
        }
        if let Some(v) = pick(&ov.graph_url, "STAGEHAND_GRAPH_URL") {
            cfg.tenant.graph_url = v;
        }
        if let Some(v) = pick(&ov.login_url, "STAGEHAND_LOGIN_URL") {
            cfg.tenant.login_url = v;
        }
        cfg.validate(None)?;
        Ok((cfg, used))
    }

    /// Checks what serde cannot: URLs, profile references.
    pub fn validate(&self, file: Option<&Path>) -> Result<(), ConfigError> {
        if let Some(id) = &self.tenant.id
            && !crate::auth::endpoint::is_valid_tenant(id)
        {
            return Err(ConfigError::Invalid {
                file: file.map(Path::to_path_buf),
                key: "tenant.id".into(),
                reason: format!(
                    "{:?} is neither a tenant GUID nor a domain name (contoso.onmicrosoft.com, organizations)",
                    crate::text::escape(id)
                ),
            });
        }
        check_url(&self.tenant.graph_url, "tenant.graph_url", file)?;
        check_url(&self.tenant.login_url, "tenant.login_url", file)?;
        self.notify.validate(file)?;
        if !self.profiles.is_empty() && !self.profiles.contains_key(&self.intake.default_profile) {
            return Err(ConfigError::Invalid {
                file: file.map(Path::to_path_buf),
                key: "intake.default_profile".into(),
                reason: format!(
                    "no profile named {:?} (profiles: {})",
                    self.intake.default_profile,
                    self.profiles.keys().cloned().collect::<Vec<_>>().join(", ")
                ),
            });
        }
        for (name, p) in &self.profiles {
            for (field, value) in [("manufacturer", &p.manufacturer), ("model", &p.model)] {
                if value.contains(',') {
                    return Err(ConfigError::Invalid {
                        file: file.map(Path::to_path_buf),
                        key: format!("profiles.{name}.{field}"),
                        reason: "must not contain a comma (Intune's Windows identifier is manufacturer,model,serial)".into(),
                    });
                }
            }
        }
        for (name, p) in &self.profiles {
            let invalid = |field: &str, reason: String| ConfigError::Invalid {
                file: file.map(Path::to_path_buf),
                key: format!("profiles.{name}.serials.{field}"),
                reason,
            };
            let r = &p.serials;
            if r.max_length == 0 || r.max_length > crate::serial::MAX_LEN {
                return Err(invalid(
                    "max_length",
                    format!("must be 1 to {} (Intune's limit)", crate::serial::MAX_LEN),
                ));
            }
            if r.min_length == 0 || r.min_length > r.max_length {
                return Err(invalid(
                    "min_length",
                    format!("must be 1 to max_length ({})", r.max_length),
                ));
            }
            if let Some(pattern) = &r.pattern {
                crate::serial::rules::compile(pattern).map_err(|e| {
                    invalid(
                        "pattern",
                        format!("{pattern:?} is not a valid regular expression: {e}"),
                    )
                })?;
            }
        }
        if self.intake.hold_secs > 3600 {
            return Err(ConfigError::Invalid {
                file: file.map(Path::to_path_buf),
                key: "intake.hold_secs".into(),
                reason: "must be 0 to 3600 seconds".into(),
            });
        }
        if !(5..=500).contains(&self.intake.burst_gap_ms) {
            return Err(ConfigError::Invalid {
                file: file.map(Path::to_path_buf),
                key: "intake.burst_gap_ms".into(),
                reason: "must be 5 to 500 milliseconds".into(),
            });
        }
        if self.intake.terminators.is_empty() {
            return Err(ConfigError::Invalid {
                file: file.map(Path::to_path_buf),
                key: "intake.terminators".into(),
                reason: "at least one of \"enter\" or \"tab\" must end a scan".into(),
            });
        }
        Ok(())
    }

    /// A warning when `graph_url`'s host is neither a Microsoft Graph cloud nor loopback: the
    /// bearer token goes to that host, so a typo or a planted config is worth saying out loud.
    pub fn graph_url_warning(&self) -> Option<String> {
        let url = Url::parse(&self.tenant.graph_url).ok()?;
        let host = url.host_str()?.to_ascii_lowercase();
        if is_loopback(&url) || GRAPH_CLOUD_HOSTS.contains(&host.as_str()) {
            return None;
        }
        Some(format!(
            "graph_url host {:?} is not a Microsoft Graph cloud ({}) nor loopback: access tokens will be sent there",
            crate::text::escape(&host),
            GRAPH_CLOUD_HOSTS.join(", ")
        ))
    }

    pub fn graph_url(&self) -> Url {
        Url::parse(&self.tenant.graph_url).expect("validated")
    }

    pub fn login_url(&self) -> Url {
        Url::parse(&self.tenant.login_url).expect("validated")
    }
}

/// `https://` anywhere, `http://` only on loopback.
pub fn check_url(value: &str, key: &str, file: Option<&Path>) -> Result<Url, ConfigError> {
    let invalid = |reason: String| ConfigError::Invalid {
        file: file.map(Path::to_path_buf),
        key: key.into(),
        reason,
    };
    let url = Url::parse(value).map_err(|e| invalid(format!("{value:?} is not a URL: {e}")))?;
    match url.scheme() {
        "https" => Ok(url),
        "http" if is_loopback(&url) => Ok(url),
        "http" => Err(invalid(format!(
            "{value:?} uses http:// on a host that is not loopback; use https://"
        ))),
        other => Err(invalid(format!("{value:?}: unsupported scheme {other:?}"))),
    }
}

pub fn is_loopback(url: &Url) -> bool {
    match url.host() {
        Some(url::Host::Ipv4(ip)) => ip.is_loopback(),
        Some(url::Host::Ipv6(ip)) => ip.is_loopback(),
        Some(url::Host::Domain(d)) => d.eq_ignore_ascii_case("localhost"),
        None => false,
    }
}

fn line_col(text: &str, offset: usize) -> (usize, usize) {
    let before = &text[..offset.min(text.len())];
    let line = before.matches('\n').count() + 1;
    let column = before.rsplit('\n').next().map_or(0, |l| l.chars().count()) + 1;
    (line, column)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn no_env(_: &str) -> Option<String> {
        None
    }

    #[test]
    fn example_file_parses_and_is_the_default() {
        let cfg = Config::parse(EXAMPLE_TOML, Path::new("stagehand.example.toml")).unwrap();
        assert_eq!(cfg, Config::default());
        assert_eq!(cfg.tenant.graph_url, DEFAULT_GRAPH_URL);
        assert!(cfg.profiles.contains_key("Standard"));
        assert!(cfg.profiles.contains_key("Mobile"));
        assert!(cfg.profiles.contains_key("Executive"));
    }

    #[test]
    fn unknown_key_names_file_line_and_key() {
        let text = "[tenant]\nid = \"x\"\ngraph_ulr = \"https://a\"\n";
        let err = Config::parse(text, Path::new("/etc/s.toml"))
            .unwrap_err()
            .to_string();
        assert!(err.contains("/etc/s.toml:3:"), "{err}");
        assert!(err.contains("graph_ulr"), "{err}");
    }

    #[test]
    fn wrong_type_names_the_line() {
        let text = "[staging]\naccounts = \"a@b.c\"\n";
        let err = Config::parse(text, Path::new("s.toml"))
            .unwrap_err()
            .to_string();
        assert!(err.contains("s.toml:2:"), "{err}");
    }

    #[test]
    fn http_refused_unless_loopback() {
        for ok in [
            "http://127.0.0.1:8080",
            "http://localhost:1",
            "http://[::1]:9",
            "https://graph.microsoft.com",
        ] {
            assert!(check_url(ok, "k", None).is_ok(), "{ok}");
        }
        let err = check_url("http://graph.example.com", "tenant.graph_url", None).unwrap_err();
        assert!(err.to_string().contains("tenant.graph_url"), "{err}");
        assert!(check_url("http://127.0.0.1.evil.com", "k", None).is_err());
    }

    #[test]
    fn precedence_flag_over_env_over_file_over_default() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("s.toml");
        std::fs::write(
            &path,
            "[tenant]\nid = \"from-file\"\nclient_id = \"file-client\"\n",
        )
        .unwrap();
        let env = |k: &str| match k {
            "STAGEHAND_TENANT" => Some("from-env".to_string()),
            "STAGEHAND_GRAPH_URL" => Some("http://127.0.0.1:9".to_string()),
            _ => None,
        };
        let ov = Overrides {
            config_path: Some(path.clone()),
            tenant: Some("from-flag".into()),
            ..Default::default()
        };
        let (cfg, used) = Config::load(&ov, &env).unwrap();
        assert_eq!(used.as_deref(), Some(path.as_path()));
        assert_eq!(cfg.tenant.id.as_deref(), Some("from-flag"));
        assert_eq!(cfg.tenant.client_id.as_deref(), Some("file-client"));
        assert_eq!(cfg.tenant.graph_url, "http://127.0.0.1:9");
        assert_eq!(cfg.tenant.login_url, DEFAULT_LOGIN_URL);
        let ov = Overrides {
            config_path: Some(path),
            ..Default::default()
        };
        assert_eq!(
            Config::load(&ov, &env).unwrap().0.tenant.id.as_deref(),
            Some("from-env")
        );
        let (cfg, _) = Config::load(&ov, &no_env).unwrap();
        assert_eq!(cfg.tenant.id.as_deref(), Some("from-file"));
    }

    #[test]
    fn env_url_is_checked_too() {
        let env =
            |k: &str| (k == "STAGEHAND_LOGIN_URL").then(|| "http://login.example".to_string());
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("s.toml");
        std::fs::write(&path, "").unwrap();
        let ov = Overrides {
            config_path: Some(path),
            ..Default::default()
        };
        let err = Config::load(&ov, &env).unwrap_err().to_string();
        assert!(err.contains("tenant.login_url"), "{err}");
    }

    #[test]
    fn comma_in_profile_model_is_refused() {
        let text = "[profiles.X]\nplatform = \"windows\"\nidentifier_type = \"manufacturerModelSerial\"\nmodel = \"Surface, 5\"\n[intake]\ndefault_profile = \"X\"\n";
        let err = Config::parse(text, Path::new("s.toml"))
            .unwrap_err()
            .to_string();
        assert!(err.contains("profiles.X.model"), "{err}");
    }

    #[test]
    fn missing_default_profile_is_refused() {
        let text = "[profiles.X]\nplatform = \"windows\"\nidentifier_type = \"manufacturerModelSerial\"\n[intake]\ndefault_profile = \"Nope\"\n";
        let err = Config::parse(text, Path::new("s.toml"))
            .unwrap_err()
            .to_string();
        assert!(
            err.contains("intake.default_profile") && err.contains("Nope"),
            "{err}"
        );
    }

    #[test]
    fn numbers_out_of_range_name_file_line_and_key() {
        for (text, key, line) in [
            (
                "[status]\nwindow_hours = 4294967295\n",
                "status.window_hours",
                2,
            ),
            (
                "[staging]\naccounts = []\n[review]\nambiguity_window_hours = 4294967295\n",
                "review.ambiguity_window_hours",
                4,
            ),
            ("[status]\npoll_fast_secs = 0\n", "status.poll_fast_secs", 2),
            (
                "[status]\npoll_slow_secs = 9999999\n",
                "status.poll_slow_secs",
                2,
            ),
            ("[intake]\nbatch_size = 0\n", "intake.batch_size", 2),
            (
                "[profiles.X]\nplatform = \"windows\"\nidentifier_type = \"serialNumber\"\nstuck_minutes = 4294967295\n[intake]\ndefault_profile = \"X\"\n",
                "stuck_minutes",
                4,
            ),
        ] {
            let err = Config::parse(text, Path::new("/etc/s.toml"))
                .unwrap_err()
                .to_string();
            assert!(err.contains(&format!("/etc/s.toml:{line}:")), "{err}");
            assert!(err.contains(key) && err.contains("out of range"), "{err}");
        }
        let ok = Config::parse(
            "[status]\nwindow_hours = 8760\n[review]\nambiguity_window_hours = 1\n",
            Path::new("s.toml"),
        )
        .unwrap();
        assert_eq!(ok.status.window_hours, 8760);
    }

    #[test]
    fn a_tenant_that_is_not_a_guid_or_a_domain_is_refused_from_any_source() {
        let err = Config::parse(
            "[tenant]\nid = \"http:evil.example\"\n",
            Path::new("s.toml"),
        )
        .unwrap_err()
        .to_string();
        assert!(err.contains("s.toml") && err.contains("tenant.id"), "{err}");
        let env = |k: &str| (k == "STAGEHAND_TENANT").then(|| "\\\\evil.example".to_string());
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("s.toml");
        std::fs::write(&path, "").unwrap();
        let ov = Overrides {
            config_path: Some(path),
            ..Default::default()
        };
        let err = Config::load(&ov, &env).unwrap_err().to_string();
        assert!(err.contains("tenant.id"), "{err}");
    }

    #[test]
    fn an_unknown_graph_host_gets_a_warning() {
        let with = |url: &str| {
            let mut c = Config::default();
            c.tenant.graph_url = url.into();
            c.graph_url_warning()
        };
        for quiet in [
            "https://graph.microsoft.com",
            "https://GRAPH.microsoft.us/",
            "https://dod-graph.microsoft.us",
            "https://microsoftgraph.chinacloudapi.cn",
            "http://127.0.0.1:8080",
            "http://[::1]:9",
            "http://localhost:1",
        ] {
            assert_eq!(with(quiet), None, "{quiet}");
        }
        for loud in [
            "https://graph.microsoft.com.evil.example",
            "https://graph.example.com",
            "https://evil.example/graph.microsoft.com",
        ] {
            let w = with(loud).unwrap_or_else(|| panic!("{loud}: no warning"));
            assert!(w.contains("not a Microsoft Graph cloud"), "{w}");
        }
    }

    #[test]
    fn staging_match_is_case_insensitive() {
        let s = StagingConfig {
            accounts: vec!["Stage.One@Contoso.com".into()],
        };
        assert!(s.is_staging("stage.one@contoso.COM"));
        assert!(!s.is_staging("stage.two@contoso.com"));
    }
}

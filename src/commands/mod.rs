//! Headless subcommands: the console's twins for scripts and schedulers.

pub mod autopilot;
pub mod connect;
pub mod devices;
pub mod doctor;
pub mod intake;
pub mod review;
pub mod status;

/// `status`, `review` and `reassign` track devices by their staging accounts: with none
/// configured they would print an empty answer that looks like "nothing to do". Refuse instead,
/// naming the setting and the file to put it in (the caller exits 2).
pub fn require_staging_accounts(
    config: &crate::config::Config,
    config_path: Option<&std::path::Path>,
) -> anyhow::Result<()> {
    if config.staging.accounts.iter().any(|a| !a.trim().is_empty()) {
        return Ok(());
    }
    let file = config_path.map_or_else(
        || "stagehand.toml in the config directory (or --config PATH)".to_string(),
        |p| p.display().to_string(),
    );
    anyhow::bail!(
        "[staging] accounts is empty: list the staging account UPNs in {file}, e.g. \
         [staging] accounts = [\"staging01@contoso.com\"]; devices are tracked by the account \
         that enrolled them"
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn an_empty_staging_list_is_refused_naming_the_setting_and_file() {
        let mut c = crate::config::Config::default();
        let e = require_staging_accounts(&c, Some(std::path::Path::new("/etc/sh.toml")))
            .unwrap_err()
            .to_string();
        assert!(
            e.contains("[staging] accounts") && e.contains("/etc/sh.toml"),
            "{e}"
        );
        c.staging.accounts = vec!["  ".into()];
        assert!(require_staging_accounts(&c, None).is_err());
        c.staging.accounts = vec!["s@contoso.com".into()];
        assert!(require_staging_accounts(&c, None).is_ok());
    }
}

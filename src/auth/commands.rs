//! `stagehand login | logout | whoami`, and [`resolve`]: the session every other command uses
//! (`STAGEHAND_CLIENT_SECRET` + tenant + client id ⇒ app-only with no login step; else the
//! account recorded in the data dir with its secret from the OS credential store).

use std::io::Write;
use std::path::Path;
use std::process::ExitCode;
use std::time::Duration;

use super::client_credentials::{AppCredential, CertificateCredential};
use super::device_code;
use super::endpoint::TokenEndpoint;
use super::pkce;
use super::roles::{Role, app_scope_param};
use super::session::Session;
use super::store::{AccountRecord, CredentialCache, SecretKind, key};
use super::{AuthError, TokenProvider};
use crate::cli::{LoginArgs, WhoamiArgs};
use crate::config::Config;
use crate::secret::Secret;

/// The environment variable that makes every command run as the app.
pub const CLIENT_SECRET_ENV: &str = "STAGEHAND_CLIENT_SECRET";

/// The token endpoint of the configured tenant and client, declaring the client capabilities
/// named in `STAGEHAND_CLIENT_CAPABILITIES` (`cp1`).
pub fn endpoint(config: &Config) -> Result<TokenEndpoint, AuthError> {
    let tenant = config.tenant.id.as_deref().ok_or_else(|| {
        AuthError::Config("no tenant: set [tenant] id in the config or pass --tenant".into())
    })?;
    let client = config.tenant.client_id.as_deref().ok_or_else(|| {
        AuthError::Config("no client id: set [tenant] client_id or pass --client-id".into())
    })?;
    let caps = std::env::var(super::claims::CAPABILITIES_ENV).unwrap_or_default();
    Ok(TokenEndpoint::new(&config.login_url(), tenant, client)?
        .with_capabilities(super::claims::parse_capabilities(&caps)))
}

fn certificate(config: &Config) -> Option<Result<CertificateCredential, AuthError>> {
    let c = config.tenant.certificate_path.as_deref()?;
    let k = config.tenant.private_key_path.as_deref()?;
    Some(CertificateCredential::from_files(c, k))
}

async fn platform_store() -> Result<CredentialCache, AuthError> {
    tokio::task::spawn_blocking(CredentialCache::platform)
        .await
        .map_err(|e| AuthError::Store(format!("store task: {e}")))?
}

async fn blocking<T: Send + 'static>(
    f: impl FnOnce() -> Result<T, AuthError> + Send + 'static,
) -> Result<T, AuthError> {
    tokio::task::spawn_blocking(f)
        .await
        .map_err(|e| AuthError::Store(format!("store task: {e}")))?
}

/// The session for this process: env app secret, else the recorded account, else a configured
/// certificate (as the app), else `NotSignedIn`.
pub async fn resolve(
    config: &Config,
    data_dir: &Path,
    env: &(dyn Fn(&str) -> Option<String> + Sync),
) -> Result<(Session, Option<AccountRecord>), AuthError> {
    if let Some(secret) = env(CLIENT_SECRET_ENV).filter(|s| !s.is_empty()) {
        let ep = endpoint(config)?;
        return Ok((
            Session::app(ep, AppCredential::Secret(Secret::new(secret))),
            None,
        ));
    }
    let Some(record) = AccountRecord::read(data_dir)? else {
        // A configured certificate runs as the app with no login step, as the secret does.
        if let Some(cert) = certificate(config) {
            let ep = endpoint(config)?;
            return Ok((
                Session::app(ep, AppCredential::Certificate(Box::new(cert?))),
                None,
            ));
        }
        return Err(AuthError::NotSignedIn);
    };
    let ep = endpoint(config)?;
    if ep.tenant() != record.tenant || ep.client_id() != record.client_id {
        return Err(AuthError::Config(format!(
            "signed in to tenant {} with client {}, but the config names tenant {} and client {}: \
             run `stagehand logout` then `stagehand login`",
            record.tenant,
            record.client_id,
            ep.tenant(),
            ep.client_id()
        )));
    }
    let session = match record.kind {
        SecretKind::Certificate => match certificate(config) {
            Some(c) => Session::app(ep, AppCredential::Certificate(Box::new(c?))),
            None => {
                return Err(AuthError::Config(
                    "certificate_path/private_key_path are not set".into(),
                ));
            }
        },
        kind => {
            let store = platform_store().await?;
            let k = record.secret_key();
            let s2 = store.clone();
            let secret = blocking(move || s2.load(&k))
                .await?
                .ok_or(AuthError::NotSignedIn)?;
            if kind == SecretKind::ClientSecret {
                Session::app(ep, AppCredential::Secret(secret))
            } else {
                let role: Role = record
                    .role
                    .as_deref()
                    .unwrap_or("technician")
                    .parse()
                    .map_err(AuthError::Config)?;
                let persist = Some((store, record.secret_key()));
                Session::delegated(
                    ep,
                    role.scope_param(),
                    record.account.clone(),
                    secret,
                    None,
                    persist,
                )
            }
        }
    };
    Ok((session, Some(record)))
}

/// `stagehand login`.
pub async fn login(
    config: &Config,
    data_dir: &Path,
    args: &LoginArgs,
    out: &mut dyn Write,
) -> anyhow::Result<ExitCode> {
    let ep = endpoint(config)?;
    if args.flow.app {
        return login_app(config, data_dir, ep, out).await;
    }
    let scope = args.role.scope_param();
    let tokens = if args.flow.browser {
        pkce::sign_in(&ep, &scope, Duration::from_secs(300), |url| {
            let opened = pkce::open_browser(url);
            eprintln!(
                "{}\n  {url}",
                if opened {
                    "Opened the browser to sign in. If it did not open, visit:"
                } else {
                    "Open this URL to sign in:"
                }
            );
        })
        .await?
    } else {
        let prompt = device_code::start(&ep, &scope).await?;
        // Entra's text: escaped before it reaches the terminal.
        eprintln!("{}", crate::text::escape(&prompt.instructions()));
        device_code::poll(&ep, &prompt, &device_code::tokio_sleep).await?
    };
    let account = super::account::name(&tokens, &config.graph_url()).await?;
    let refresh = tokens.refresh_token.clone().ok_or_else(|| {
        AuthError::Protocol("no refresh token in the answer (was offline_access granted?)".into())
    })?;
    let record = AccountRecord {
        tenant: ep.tenant().into(),
        client_id: ep.client_id().into(),
        account: account.clone(),
        kind: SecretKind::RefreshToken,
        role: Some(args.role.to_string()),
        scopes: tokens.scopes.clone(),
    };
    persist(data_dir, &record, Some(refresh)).await?;
    writeln!(
        out,
        "Signed in as {account} ({} role) to tenant {}.",
        args.role,
        ep.tenant()
    )?;
    Ok(ExitCode::SUCCESS)
}

async fn login_app(
    config: &Config,
    data_dir: &Path,
    ep: TokenEndpoint,
    out: &mut dyn Write,
) -> anyhow::Result<ExitCode> {
    let (cred, kind) = match certificate(config) {
        Some(c) => (
            AppCredential::Certificate(Box::new(c?)),
            SecretKind::Certificate,
        ),
        None => {
            // Typed at a terminal, the secret is not echoed; piped, it is read as a line.
            let secret = tokio::task::spawn_blocking(|| {
                crate::secret::read_secret_line("Client secret (not shown): ")
            })
            .await??;
            if secret.is_empty() {
                return Err(AuthError::Config(
                    "no client secret on stdin (pipe it in: `... | stagehand login --app`)".into(),
                )
                .into());
            }
            (AppCredential::Secret(secret), SecretKind::ClientSecret)
        }
    };
    // Prove the credential works before keeping it.
    let tokens = super::client_credentials::acquire(&ep, &cred).await?;
    let record = AccountRecord {
        tenant: ep.tenant().into(),
        client_id: ep.client_id().into(),
        account: format!("app:{}", ep.client_id()),
        kind,
        role: None,
        scopes: vec![app_scope_param()],
    };
    let secret = match cred {
        AppCredential::Secret(s) => Some(s),
        AppCredential::Certificate(_) => None,
    };
    persist(data_dir, &record, secret).await?;
    writeln!(
        out,
        "Signed in as app {} to tenant {} (token valid {} s).",
        ep.client_id(),
        ep.tenant(),
        tokens.expires_in.as_secs()
    )?;
    Ok(ExitCode::SUCCESS)
}

/// Where [`keep`] put a signed-in account's secret.
pub struct Kept {
    /// The credential store holding the secret (`None`: memory only).
    pub store: Option<CredentialCache>,
    /// What to tell the user (no credential store: sign in again next time).
    pub note: Option<String>,
}

/// Secret to the OS store, then the record. No store: keep nothing, write no record, and say so in
/// [`Kept::note`] (the caller shows it: stderr for the CLI, the sign-in modal in the console).
/// `store`: the credential store to use (`None`: the platform's).
pub async fn keep(
    data_dir: &Path,
    record: &AccountRecord,
    secret: Option<Secret>,
    given: Option<CredentialCache>,
) -> Result<Kept, AuthError> {
    let mut store = None;
    if let Some(secret) = secret {
        let found = match given {
            Some(s) => Ok(s),
            None => platform_store().await,
        };
        let saved = match found {
            Ok(s) => {
                let k = record.secret_key();
                let s2 = s.clone();
                blocking(move || s2.save(&k, &secret)).await.map(|()| s)
            }
            Err(e) => Err(e),
        };
        match saved {
            Ok(s) => store = Some(s),
            Err(e @ AuthError::NoCredentialStore(_)) => {
                return Ok(Kept {
                    store: None,
                    note: Some(format!(
                        "{e}. Sign-in worked, but you will have to sign in again next time."
                    )),
                });
            }
            Err(e) => return Err(e),
        }
    }
    // Switching account: the previous account's secret leaves the credential store with its
    // record, so a machine never keeps a refresh token nobody is signed in with.
    let previous = AccountRecord::read(data_dir).ok().flatten();
    record.write(data_dir)?;
    if let (Some(old), Some(s)) = (previous, &store)
        && old.secret_key() != record.secret_key()
    {
        let (k, s2) = (old.secret_key(), s.clone());
        if let Err(e) = blocking(move || s2.remove(&k)).await {
            tracing::warn!(account = %old.account, error = %e,
                "could not remove the previous account's secret");
        }
    }
    Ok(Kept { store, note: None })
}

async fn persist(
    data_dir: &Path,
    record: &AccountRecord,
    secret: Option<Secret>,
) -> Result<(), AuthError> {
    if let Some(note) = keep(data_dir, record, secret, None).await?.note {
        eprintln!("stagehand: {}", crate::text::escape(&note));
    }
    Ok(())
}

/// `stagehand logout`: every stored secret of the recorded account, then the record.
pub async fn logout(data_dir: &Path, out: &mut dyn Write) -> anyhow::Result<ExitCode> {
    let Some(record) = AccountRecord::read(data_dir)? else {
        writeln!(out, "Not signed in; nothing to remove.")?;
        return Ok(ExitCode::SUCCESS);
    };
    match platform_store().await {
        Ok(store) => {
            let r = record.clone();
            blocking(move || {
                for kind in [SecretKind::RefreshToken, SecretKind::ClientSecret] {
                    store.remove(&key(&r.tenant, &r.client_id, &r.account, kind))?;
                }
                Ok(())
            })
            .await?;
        }
        Err(e @ AuthError::NoCredentialStore(_)) => eprintln!("stagehand: {e}"),
        Err(e) => return Err(e.into()),
    }
    AccountRecord::remove(data_dir)?;
    writeln!(
        out,
        "Signed out {} from tenant {}.",
        record.account, record.tenant
    )?;
    Ok(ExitCode::SUCCESS)
}

/// `stagehand whoami`: tenant, account or app, role, scopes, token expiry. Never a token.
pub async fn whoami(
    config: &Config,
    data_dir: &Path,
    args: &WhoamiArgs,
    env: &(dyn Fn(&str) -> Option<String> + Sync),
    out: &mut dyn Write,
) -> anyhow::Result<ExitCode> {
    let (session, record) = match resolve(config, data_dir, env).await {
        Ok(s) => s,
        Err(AuthError::NotSignedIn) => {
            if args.json {
                writeln!(out, "{}", serde_json::json!({"signed_in": false}))?;
            } else {
                writeln!(out, "signed out")?;
            }
            return Ok(ExitCode::from(1));
        }
        Err(e) => return Err(e.into()),
    };
    let token = session.access_token(None).await;
    let (tenant, kind, role, scopes) = match &record {
        Some(r) => (
            r.tenant.clone(),
            if r.kind == SecretKind::RefreshToken {
                "user"
            } else {
                "app"
            },
            r.role.clone(),
            r.scopes.clone(),
        ),
        None => (
            session.endpoint().tenant().to_string(),
            if env(CLIENT_SECRET_ENV).is_some_and(|s| !s.is_empty()) {
                "app (STAGEHAND_CLIENT_SECRET)"
            } else {
                "app (certificate)"
            },
            None,
            vec![app_scope_param()],
        ),
    };
    let expiry = session.expiry().await.map(|(at, _)| {
        at.saturating_duration_since(tokio::time::Instant::now())
            .as_secs()
    });
    let error = token.as_ref().err().map(ToString::to_string);
    if args.json {
        let v = serde_json::json!({
            "signed_in": error.is_none(), "tenant": tenant, "account": session.account(),
            "kind": kind, "role": role, "scopes": scopes, "token_expires_in_s": expiry, "error": error,
        });
        writeln!(out, "{v}")?;
    } else {
        writeln!(
            out,
            "tenant:   {tenant}\naccount:  {}\nkind:     {kind}",
            session.account()
        )?;
        if let Some(r) = &role {
            writeln!(out, "role:     {r}")?;
        }
        writeln!(out, "scopes:   {}", scopes.join(" "))?;
        match (&error, expiry) {
            (None, Some(s)) => writeln!(out, "token:    valid, expires in {s} s")?,
            (Some(e), _) => writeln!(out, "token:    unavailable: {e}")?,
            _ => {}
        }
    }
    Ok(if error.is_none() {
        ExitCode::SUCCESS
    } else {
        ExitCode::from(1)
    })
}

//! Refresh tokens and client secrets in the OS credential store (keyring: Secret Service,
//! Keychain, Credential Manager), keyed by tenant + client + account + kind. Values over
//! [`CHUNK`] characters are split (`key#0..n`, header `key` = `chunks=n` written last) to stay
//! under Windows' 2,560-byte blob. When no store is available this says so; there is no
//! plaintext fallback. Also the small, secret-free account file that names who is signed in.

use std::path::{Path, PathBuf};
use std::sync::Arc;

use keyring_core::Error as KError;
use keyring_core::api::CredentialStore;
use serde::{Deserialize, Serialize};

use super::AuthError;
use crate::secret::Secret;

/// Characters per stored piece (UTF-16 on Windows: 2,400 bytes < 2,560).
pub const CHUNK: usize = 1200;
const SERVICE: &str = "stagehand";

/// What a stored secret is.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum SecretKind {
    RefreshToken,
    ClientSecret,
    /// An app signing with a certificate from files: nothing stored in the keyring.
    Certificate,
}

impl SecretKind {
    fn as_str(self) -> &'static str {
        match self {
            SecretKind::RefreshToken => "refresh_token",
            SecretKind::ClientSecret => "client_secret",
            SecretKind::Certificate => "certificate",
        }
    }
}

/// The OS credential store, or a given one (the mock store in tests).
#[derive(Clone)]
pub struct CredentialCache {
    store: Arc<CredentialStore>,
}

impl std::fmt::Debug for CredentialCache {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("CredentialCache")
            .field("vendor", &self.store.vendor())
            .finish()
    }
}

/// Maps a keyring error without ever formatting its payload (`BadEncoding`/`BadDataFormat`
/// carry the stored bytes).
fn map_err(e: KError) -> AuthError {
    match e {
        KError::NoDefaultStore => {
            AuthError::NoCredentialStore("no default credential store".into())
        }
        KError::NoStorageAccess(p) => AuthError::NoCredentialStore(p.to_string()),
        KError::PlatformFailure(p) => AuthError::NoCredentialStore(p.to_string()),
        KError::BadEncoding(_) | KError::BadDataFormat(..) => {
            AuthError::Store("a stored value is not in the expected format".into())
        }
        KError::TooLong(name, limit) => AuthError::Store(format!(
            "{name} is longer than the store's limit of {limit}"
        )),
        KError::Invalid(attr, why) => AuthError::Store(format!("{attr} is invalid: {why}")),
        KError::Ambiguous(v) => AuthError::Store(format!("{} credentials match one key", v.len())),
        KError::NoEntry => AuthError::NotSignedIn,
        other => AuthError::Store(format!("{}", StoreOnlyDisplay(&other))),
    }
}

/// Display of the remaining variants (`BadStoreFormat`, `NotSupportedByStore`): no payload bytes.
struct StoreOnlyDisplay<'a>(&'a KError);
impl std::fmt::Display for StoreOnlyDisplay<'_> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self.0 {
            KError::BadStoreFormat(r) => write!(f, "the store is malformed: {r}"),
            KError::NotSupportedByStore(r) => write!(f, "not supported by the store: {r}"),
            _ => f.write_str("credential store error"),
        }
    }
}

/// The key of one secret: `tenant/client/account/kind`.
pub fn key(tenant: &str, client: &str, account: &str, kind: SecretKind) -> String {
    format!("{tenant}/{client}/{account}/{}", kind.as_str())
}

impl CredentialCache {
    pub fn with_store(store: Arc<CredentialStore>) -> Self {
        Self { store }
    }

    /// The platform store (blocking: call from `spawn_blocking`). `NoCredentialStore` when the
    /// platform has none (e.g. no D-Bus session or Secret Service on a headless Linux box).
    pub fn platform() -> Result<Self, AuthError> {
        if let Err(e) = keyring::Entry::store_status() {
            return Err(AuthError::NoCredentialStore(match e {
                KError::NoDefaultStore => "no default credential store".to_string(),
                KError::PlatformFailure(p) | KError::NoStorageAccess(p) => p.to_string(),
                _ => "the platform credential store could not start".to_string(),
            }));
        }
        let store = keyring_core::get_default_store()
            .ok_or_else(|| AuthError::NoCredentialStore("no default credential store".into()))?;
        Ok(Self { store })
    }

    fn entry(&self, user: &str) -> Result<keyring_core::Entry, AuthError> {
        self.store.build(SERVICE, user, None).map_err(map_err)
    }

    fn get(&self, user: &str) -> Result<Option<String>, AuthError> {
        match self.entry(user)?.get_password() {
            Ok(v) => Ok(Some(v)),
            Err(KError::NoEntry) => Ok(None),
            Err(e) => Err(map_err(e)),
        }
    }

    fn delete(&self, user: &str) -> Result<(), AuthError> {
        match self.entry(user)?.delete_credential() {
            Ok(()) | Err(KError::NoEntry) => Ok(()),
            Err(e) => Err(map_err(e)),
        }
    }

    fn chunk_count(&self, key: &str) -> Result<Option<usize>, AuthError> {
        match self.get(key)? {
            None => Ok(None),
            Some(h) => h
                .strip_prefix("chunks=")
                .and_then(|n| n.parse().ok())
                .map(Some)
                .ok_or_else(|| AuthError::Store(format!("entry {key}: unreadable header"))),
        }
    }

    /// Stores `value` under `key`: pieces first, header last, stale pieces swept.
    pub fn save(&self, key: &str, value: &Secret) -> Result<(), AuthError> {
        let old = self.chunk_count(key).unwrap_or(None).unwrap_or(0);
        let chars: Vec<char> = value.expose().chars().collect();
        let pieces: Vec<String> = chars.chunks(CHUNK).map(|c| c.iter().collect()).collect();
        for (i, p) in pieces.iter().enumerate() {
            self.entry(&format!("{key}#{i}"))?
                .set_password(p)
                .map_err(map_err)?;
        }
        self.entry(key)?
            .set_password(&format!("chunks={}", pieces.len()))
            .map_err(map_err)?;
        for i in pieces.len()..old {
            self.delete(&format!("{key}#{i}"))?;
        }
        Ok(())
    }

    /// The value under `key`, or None when nothing is stored.
    pub fn load(&self, key: &str) -> Result<Option<Secret>, AuthError> {
        let Some(n) = self.chunk_count(key)? else {
            return Ok(None);
        };
        let mut out = String::new();
        for i in 0..n {
            match self.get(&format!("{key}#{i}"))? {
                Some(p) => out.push_str(&p),
                None => {
                    return Err(AuthError::Store(format!(
                        "entry {key}: piece {i} of {n} is missing"
                    )));
                }
            }
        }
        Ok(Some(Secret::new(out)))
    }

    /// Removes `key` and all its pieces. Removing nothing is fine.
    pub fn remove(&self, key: &str) -> Result<(), AuthError> {
        let n = self.chunk_count(key).unwrap_or(None).unwrap_or(0);
        self.delete(key)?;
        for i in 0..n {
            self.delete(&format!("{key}#{i}"))?;
        }
        Ok(())
    }
}

/// Who is signed in, in the data dir. No secret: tenant, client, account, kind, role, scopes.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct AccountRecord {
    pub tenant: String,
    pub client_id: String,
    /// The user's UPN, or `app:{client_id}`.
    pub account: String,
    pub kind: SecretKind,
    /// The delegated role asked for; None for an app.
    pub role: Option<String>,
    pub scopes: Vec<String>,
}

impl AccountRecord {
    pub fn path(data_dir: &Path) -> PathBuf {
        data_dir.join("account.json")
    }

    pub fn secret_key(&self) -> String {
        key(&self.tenant, &self.client_id, &self.account, self.kind)
    }

    /// Reads the record; None when nobody is signed in. Errors name the file.
    pub fn read(data_dir: &Path) -> Result<Option<Self>, AuthError> {
        let path = Self::path(data_dir);
        match std::fs::read_to_string(&path) {
            Ok(text) => serde_json::from_str(&text).map(Some).map_err(|e| {
                AuthError::Store(format!(
                    "{}: line {}, column {}: {e}",
                    path.display(),
                    e.line(),
                    e.column()
                ))
            }),
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => Ok(None),
            Err(e) => Err(AuthError::Store(format!("{}: {e}", path.display()))),
        }
    }

    /// Atomic replace: temp file in the same dir, fsync, rename, fsync the dir (Unix).
    pub fn write(&self, data_dir: &Path) -> Result<(), AuthError> {
        use std::io::Write as _;
        let path = Self::path(data_dir);
        let tmp = data_dir.join("account.json.tmp");
        let io = |e: std::io::Error| AuthError::Store(format!("{}: {e}", path.display()));
        let text = serde_json::to_string_pretty(self).expect("plain data serializes");
        let mut f = crate::private::create_temp(&tmp).map_err(io)?;
        f.write_all(text.as_bytes()).map_err(io)?;
        f.sync_all().map_err(io)?;
        drop(f);
        std::fs::rename(&tmp, &path).map_err(io)?;
        #[cfg(unix)]
        std::fs::File::open(data_dir)
            .and_then(|d| d.sync_all())
            .map_err(io)?;
        Ok(())
    }

    pub fn remove(data_dir: &Path) -> Result<(), AuthError> {
        let path = Self::path(data_dir);
        match std::fs::remove_file(&path) {
            Ok(()) => Ok(()),
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => Ok(()),
            Err(e) => Err(AuthError::Store(format!("{}: {e}", path.display()))),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use keyring_core::api::CredentialStoreApi;
    use keyring_core::mock;

    fn cache() -> (CredentialCache, Arc<mock::Store>) {
        let store = mock::Store::new().unwrap();
        (CredentialCache::with_store(store.clone()), store)
    }

    #[test]
    fn short_and_long_values_round_trip_in_pieces_under_the_windows_cap() {
        let (c, store) = cache();
        let k = key("t", "c", "a@b", SecretKind::RefreshToken);
        let long: String = (0..5000)
            .map(|i| char::from(b'a' + (i % 26) as u8))
            .collect();
        c.save(&k, &Secret::new(long.clone())).unwrap();
        assert_eq!(c.load(&k).unwrap().unwrap().expose(), long);
        // Every piece fits Windows' 2,560-byte blob as UTF-16.
        for i in 0..5 {
            let p = store
                .build(SERVICE, &format!("{k}#{i}"), None)
                .unwrap()
                .get_password()
                .unwrap();
            assert!(p.encode_utf16().count() * 2 <= 2560);
        }
        // Shrinking sweeps the stale pieces.
        c.save(&k, &Secret::new("short")).unwrap();
        assert_eq!(c.load(&k).unwrap().unwrap().expose(), "short");
        let stale = store
            .build(SERVICE, &format!("{k}#1"), None)
            .unwrap()
            .get_password();
        assert!(matches!(stale, Err(KError::NoEntry)));
    }

    #[test]
    fn remove_deletes_everything_and_missing_is_none() {
        let (c, store) = cache();
        let k = key("t", "c", "a@b", SecretKind::ClientSecret);
        assert!(c.load(&k).unwrap().is_none());
        c.save(&k, &Secret::new("x".repeat(2500))).unwrap();
        c.remove(&k).unwrap();
        assert!(c.load(&k).unwrap().is_none());
        for u in [k.clone(), format!("{k}#0"), format!("{k}#2")] {
            assert!(matches!(
                store.build(SERVICE, &u, None).unwrap().get_password(),
                Err(KError::NoEntry)
            ));
        }
        c.remove(&k).unwrap();
    }

    #[test]
    fn keys_separate_tenant_client_account_and_kind() {
        let (c, _) = cache();
        let a = key("t1", "c", "u", SecretKind::RefreshToken);
        let b = key("t2", "c", "u", SecretKind::RefreshToken);
        c.save(&a, &Secret::new("one")).unwrap();
        assert!(c.load(&b).unwrap().is_none());
        assert_ne!(a, key("t1", "c", "u", SecretKind::ClientSecret));
    }

    #[test]
    fn store_failures_map_without_payload() {
        let (c, store) = cache();
        let k = key("t", "c", "a", SecretKind::RefreshToken);
        c.save(&k, &Secret::new("tok-SECRET-1")).unwrap();
        let header = store.build(SERVICE, &k, None).unwrap();
        let cred: &mock::Cred = header.as_any().downcast_ref().unwrap();
        cred.set_error(KError::BadEncoding(b"tok-SECRET-1".to_vec()));
        let e = c.load(&k).unwrap_err();
        assert!(!format!("{e} {e:?}").contains("SECRET"), "{e:?}");
        cred.set_error(KError::NoStorageAccess("locked".into()));
        assert!(matches!(c.load(&k), Err(AuthError::NoCredentialStore(r)) if r.contains("locked")));
    }

    #[test]
    fn account_record_round_trips_and_bad_files_are_named() {
        let dir = tempfile::tempdir().unwrap();
        assert_eq!(AccountRecord::read(dir.path()).unwrap(), None);
        let r = AccountRecord {
            tenant: "t".into(),
            client_id: "c".into(),
            account: "tech@contoso.com".into(),
            kind: SecretKind::RefreshToken,
            role: Some("lead".into()),
            scopes: vec!["offline_access".into()],
        };
        r.write(dir.path()).unwrap();
        assert_eq!(AccountRecord::read(dir.path()).unwrap(), Some(r));
        std::fs::write(AccountRecord::path(dir.path()), "{\n \"tenant\": 3 }").unwrap();
        let e = AccountRecord::read(dir.path()).unwrap_err().to_string();
        assert!(e.contains("account.json") && e.contains("line 2"), "{e}");
        AccountRecord::remove(dir.path()).unwrap();
        AccountRecord::remove(dir.path()).unwrap();
    }
}

//! `--redact`: user names and emails become stable pseudonyms in every file of a bundle, text
//! files and the text entries of archives alike. A pseudonym is a keyed hash of the lower-cased
//! address (the key lives in the data dir), so the same person gets the same pseudonym in every
//! file and every bundle from this data dir, and nobody can reverse it by hashing a guess.

use std::collections::BTreeMap;
use std::io::{Read, Write};
use std::path::Path;

use serde_json::Value;
use sha2::{Digest, Sha256};

pub const KEY_FILE: &str = "evidence-redaction.key";
const PSEUDONYM_DOMAIN: &str = "redacted.invalid";

#[derive(Clone)]
pub struct Redactor {
    key: [u8; 32],
    /// Display names seen in the collected data → pseudonym, longest first when applied.
    names: BTreeMap<String, String>,
}

impl std::fmt::Debug for Redactor {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Redactor")
            .field("names", &self.names.len())
            .finish_non_exhaustive()
    }
}

impl Redactor {
    pub fn with_key(key: [u8; 32]) -> Self {
        Self {
            key,
            names: BTreeMap::new(),
        }
    }

    /// The data dir's key, created (owner-only) on first use.
    pub fn load_or_create(data_dir: &Path) -> anyhow::Result<Self> {
        let path = data_dir.join(KEY_FILE);
        match std::fs::read(&path) {
            Ok(b) if b.len() == 32 => {
                let mut key = [0u8; 32];
                key.copy_from_slice(&b);
                return Ok(Self::with_key(key));
            }
            Ok(_) => anyhow::bail!(
                "{}: not a redaction key (expected 32 bytes); move it away to start a new one",
                path.display()
            ),
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => {}
            Err(e) => anyhow::bail!("cannot read {}: {e}", path.display()),
        }
        let mut key = [0u8; 32];
        key[..16].copy_from_slice(uuid::Uuid::new_v4().as_bytes());
        key[16..].copy_from_slice(uuid::Uuid::new_v4().as_bytes());
        let mut opts = std::fs::OpenOptions::new();
        opts.write(true).create_new(true);
        #[cfg(unix)]
        {
            use std::os::unix::fs::OpenOptionsExt;
            opts.mode(0o600);
        }
        let mut f = opts
            .open(&path)
            .map_err(|e| anyhow::anyhow!("cannot create {}: {e}", path.display()))?;
        f.write_all(&key)?;
        f.sync_all()?;
        Ok(Self::with_key(key))
    }

    fn tag(&self, what: &str) -> String {
        let mut h = Sha256::new();
        h.update(self.key);
        h.update(what.to_lowercase().as_bytes());
        h.finalize()[..5]
            .iter()
            .map(|b| format!("{b:02x}"))
            .collect()
    }

    /// `user-<tag>@redacted.invalid` for an address.
    pub fn pseudonym(&self, email: &str) -> String {
        format!("user-{}@{PSEUDONYM_DOMAIN}", self.tag(email))
    }

    /// Learns the display names of people in `v` (`userDisplayName`, `*UserDisplayName`, and
    /// `displayName` of an object that also carries a `userPrincipalName`).
    pub fn learn(&mut self, v: &Value) {
        match v {
            Value::Object(o) => {
                let is_user = o.contains_key("userPrincipalName");
                for (k, x) in o {
                    let person = k == "userDisplayName"
                        || k.ends_with("UserDisplayName")
                        || (is_user && k == "displayName");
                    if person
                        && let Some(name) = x.as_str()
                        && name.trim().len() > 2
                    {
                        let p = format!("Person {}", self.tag(name.trim()));
                        self.names.insert(name.trim().to_string(), p);
                    }
                    self.learn(x);
                }
            }
            Value::Array(a) => a.iter().for_each(|x| self.learn(x)),
            _ => {}
        }
    }

    /// Every address and learned name in `s` replaced.
    pub fn text(&self, s: &str) -> String {
        let mut out = replace_emails(s, |e| self.pseudonym(e));
        let mut names: Vec<(&String, &String)> = self.names.iter().collect();
        names.sort_by_key(|(n, _)| std::cmp::Reverse(n.len()));
        for (name, p) in names {
            out = out.replace(name.as_str(), p);
        }
        out
    }

    /// A file's bytes redacted: UTF-8 text directly, a zip entry by entry (text entries
    /// redacted, others kept). Anything else is returned unchanged with `false`.
    pub fn bytes(&self, b: &[u8]) -> (Vec<u8>, bool) {
        if b.starts_with(b"PK\x03\x04") {
            return match self.zip(b) {
                Ok(z) => (z, true),
                Err(_) => (b.to_vec(), false),
            };
        }
        match std::str::from_utf8(b) {
            Ok(s) => (self.text(s).into_bytes(), true),
            Err(_) => (b.to_vec(), false),
        }
    }

    fn zip(&self, b: &[u8]) -> anyhow::Result<Vec<u8>> {
        let mut src = zip::ZipArchive::new(std::io::Cursor::new(b))?;
        let mut dst = zip::ZipWriter::new(std::io::Cursor::new(Vec::new()));
        let opts = zip::write::SimpleFileOptions::default();
        for i in 0..src.len() {
            let f = src.by_index(i)?;
            let name = self.text(f.name());
            if f.is_dir() {
                dst.add_directory(name, opts)?;
                continue;
            }
            let mut buf = Vec::new();
            f.take(512 << 20).read_to_end(&mut buf)?;
            let (out, _) = self.bytes(&buf);
            dst.start_file(name, opts)?;
            dst.write_all(&out)?;
        }
        Ok(dst.finish()?.into_inner())
    }
}

fn local_char(c: u8) -> bool {
    c.is_ascii_alphanumeric() || b"._%+-'".contains(&c)
}
fn domain_char(c: u8) -> bool {
    c.is_ascii_alphanumeric() || c == b'.' || c == b'-'
}

/// Replaces every `local@domain.tld` in `s` with `f(address)`.
pub fn replace_emails(s: &str, f: impl Fn(&str) -> String) -> String {
    let b = s.as_bytes();
    let mut out = String::with_capacity(s.len());
    let mut copied = 0;
    let mut i = 0;
    while i < b.len() {
        if b[i] != b'@' {
            i += 1;
            continue;
        }
        let mut start = i;
        while start > copied && local_char(b[start - 1]) {
            start -= 1;
        }
        // An address does not start with punctuation (`'name@x` inside quotes).
        while start < i && !b[start].is_ascii_alphanumeric() {
            start += 1;
        }
        let mut end = i + 1;
        while end < b.len() && domain_char(b[end]) {
            end += 1;
        }
        while end > i + 1 && !b[end - 1].is_ascii_alphanumeric() {
            end -= 1;
        }
        let domain = &s[i + 1..end];
        let tld_ok = domain.rsplit_once('.').is_some_and(|(h, t)| {
            !h.is_empty() && t.len() >= 2 && t.bytes().all(|c| c.is_ascii_alphabetic())
        });
        if start < i && tld_ok {
            out.push_str(&s[copied..start]);
            out.push_str(&f(&s[start..end]));
            copied = end;
            i = end;
        } else {
            i += 1;
        }
    }
    out.push_str(&s[copied..]);
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn addresses_become_stable_pseudonyms() {
        let r = Redactor::with_key([7; 32]);
        let s = "by o'neil.staging@contoso.example and JANE.DOE@Contoso.Example, \"jane.doe@contoso.example\"; not @home or a@b";
        let t = r.text(s);
        assert!(!t.to_lowercase().contains("contoso.example"), "{t}");
        assert!(t.contains("not @home or a@b"), "{t}");
        let jane = r.pseudonym("jane.doe@contoso.example");
        assert_eq!(
            t.matches(&jane).count(),
            2,
            "same person, same pseudonym: {t}"
        );
        assert_ne!(
            jane,
            Redactor::with_key([8; 32]).pseudonym("jane.doe@contoso.example")
        );
    }

    #[test]
    fn display_names_and_zip_entries_are_redacted() {
        let mut r = Redactor::with_key([1; 32]);
        r.learn(&serde_json::json!({"userDisplayName": "Jane Doe", "x": [{"userPrincipalName": "a@b.cd", "displayName": "Ann Bee"}]}));
        assert!(!r.text("Jane Doe met Ann Bee").contains("Doe"));
        let mut z = zip::ZipWriter::new(std::io::Cursor::new(Vec::new()));
        z.start_file("log.txt", zip::write::SimpleFileOptions::default())
            .unwrap();
        z.write_all(b"user jane@contoso.example").unwrap();
        let zipped = z.finish().unwrap().into_inner();
        let (out, done) = r.bytes(&zipped);
        assert!(done);
        let mut a = zip::ZipArchive::new(std::io::Cursor::new(out)).unwrap();
        let mut s = String::new();
        a.by_index(0).unwrap().read_to_string(&mut s).unwrap();
        assert!(s.starts_with("user user-") && !s.contains("contoso"), "{s}");
    }
}

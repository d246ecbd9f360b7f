//! `manifest.json`: every file of a bundle with its SHA-256 and where it came from, and every
//! item that could not be collected with the reason. [`verify`] checks a folder or zip against
//! the manifests it holds.

use std::collections::BTreeMap;
use std::io::Read;
use std::path::{Path, PathBuf};

use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};
use sha2::{Digest, Sha256};

pub const MANIFEST: &str = "manifest.json";
pub const FORMAT: &str = "stagehand-evidence/1";

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Manifest {
    pub format: String,
    pub serial: String,
    pub tenant: String,
    /// Who collected it (the signed-in account or the app).
    pub collector: String,
    pub collected_at: DateTime<Utc>,
    pub stagehand_version: String,
    /// User names and emails were replaced by pseudonyms.
    pub redacted: bool,
    pub files: Vec<FileEntry>,
    pub not_collected: Vec<Missing>,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct FileEntry {
    /// Relative to the folder holding the manifest, `/`-separated.
    pub path: String,
    /// What the file is (`managed device`, `audit records`, …).
    pub item: String,
    pub sha256: String,
    pub bytes: u64,
    /// The Graph request it came from, or `stagehand` for local records.
    pub source: String,
}

/// An item the tenant could not provide, and why. Never silently absent.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Missing {
    pub item: String,
    /// The request that was tried, when one was.
    pub source: Option<String>,
    pub why: String,
}

pub fn sha256_hex(bytes: &[u8]) -> String {
    let d = Sha256::digest(bytes);
    d.iter().map(|b| format!("{b:02x}")).collect()
}

/// The outcome of [`verify`]: bundles checked and every problem found.
#[derive(Debug, Default, Clone, PartialEq, Eq)]
pub struct Verified {
    /// (folder, serial, files checked)
    pub bundles: Vec<(String, String, usize)>,
    pub problems: Vec<String>,
}

impl Verified {
    pub fn ok(&self) -> bool {
        self.problems.is_empty() && !self.bundles.is_empty()
    }
}

/// Checks a bundle folder, a folder of bundles, or a zip of either. Every listed file must be
/// present with its hash; a file beside a manifest that it does not list is a problem too.
pub fn verify(path: &Path) -> anyhow::Result<Verified> {
    let files = if path.is_dir() {
        read_dir_files(path)?
    } else {
        read_zip_files(path)?
    };
    Ok(verify_files(&files))
}

/// `files`: relative `/`-separated path → bytes.
pub fn verify_files(files: &BTreeMap<String, Vec<u8>>) -> Verified {
    let mut out = Verified::default();
    let manifests: Vec<&String> = files
        .keys()
        .filter(|p| *p == MANIFEST || p.ends_with(&format!("/{MANIFEST}")))
        .collect();
    if manifests.is_empty() {
        out.problems
            .push(format!("no {MANIFEST} found: not an evidence bundle"));
        return out;
    }
    let mut covered = std::collections::BTreeSet::new();
    for mpath in &manifests {
        let folder = mpath.strip_suffix(MANIFEST).unwrap_or("").to_string();
        covered.insert((*mpath).clone());
        let m: Manifest = match serde_json::from_slice(&files[*mpath]) {
            Ok(m) => m,
            Err(e) => {
                out.problems
                    .push(format!("{mpath}: not a valid manifest: {e}"));
                continue;
            }
        };
        if m.format != FORMAT {
            out.problems.push(format!(
                "{mpath}: format {:?}, expected {FORMAT:?}",
                m.format
            ));
        }
        for f in &m.files {
            if f.path.split('/').any(|s| s == ".." || s.is_empty()) {
                out.problems
                    .push(format!("{mpath}: file path {:?} is not allowed", f.path));
                continue;
            }
            let full = format!("{folder}{}", f.path);
            covered.insert(full.clone());
            match files.get(&full) {
                None => out
                    .problems
                    .push(format!("{full}: listed in {mpath}, missing")),
                Some(b) => {
                    let got = sha256_hex(b);
                    if got != f.sha256 {
                        out.problems.push(format!(
                            "{full}: SHA-256 {got} does not match the manifest's {}",
                            f.sha256
                        ));
                    } else if b.len() as u64 != f.bytes {
                        out.problems.push(format!(
                            "{full}: {} bytes, the manifest says {}",
                            b.len(),
                            f.bytes
                        ));
                    }
                }
            }
        }
        out.bundles.push((folder, m.serial.clone(), m.files.len()));
    }
    for p in files.keys() {
        let in_bundle = manifests.iter().any(|m| {
            let folder = m.strip_suffix(MANIFEST).unwrap_or("");
            p.starts_with(folder)
        });
        if in_bundle && !covered.contains(p) {
            out.problems
                .push(format!("{p}: present but not listed in any manifest"));
        }
    }
    out
}

fn read_dir_files(root: &Path) -> anyhow::Result<BTreeMap<String, Vec<u8>>> {
    let mut out = BTreeMap::new();
    let mut stack: Vec<PathBuf> = vec![root.to_path_buf()];
    while let Some(dir) = stack.pop() {
        for e in std::fs::read_dir(&dir)
            .map_err(|e| anyhow::anyhow!("cannot read {}: {e}", dir.display()))?
        {
            let e = e?;
            let p = e.path();
            let ft = e.file_type()?;
            if ft.is_dir() {
                stack.push(p);
            } else if ft.is_file() {
                let rel = p
                    .strip_prefix(root)
                    .unwrap_or(&p)
                    .components()
                    .map(|c| c.as_os_str().to_string_lossy().into_owned())
                    .collect::<Vec<_>>()
                    .join("/");
                let bytes = std::fs::read(&p)
                    .map_err(|e| anyhow::anyhow!("cannot read {}: {e}", p.display()))?;
                out.insert(rel, bytes);
            }
        }
    }
    Ok(out)
}

fn read_zip_files(path: &Path) -> anyhow::Result<BTreeMap<String, Vec<u8>>> {
    let file = std::fs::File::open(path)
        .map_err(|e| anyhow::anyhow!("cannot open {}: {e}", path.display()))?;
    let mut zip = zip::ZipArchive::new(file)
        .map_err(|e| anyhow::anyhow!("{}: not a zip archive: {e}", path.display()))?;
    let mut out = BTreeMap::new();
    for i in 0..zip.len() {
        let mut f = zip.by_index(i)?;
        if f.is_dir() {
            continue;
        }
        let name = f.name().to_string();
        let mut buf = Vec::with_capacity(f.size().min(64 << 20) as usize);
        f.read_to_end(&mut buf)?;
        out.insert(name, buf);
    }
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn bundle() -> BTreeMap<String, Vec<u8>> {
        let body = b"{\"a\":1}".to_vec();
        let m = Manifest {
            format: FORMAT.into(),
            serial: "PF1".into(),
            tenant: "t".into(),
            collector: "c".into(),
            collected_at: Utc::now(),
            stagehand_version: "0".into(),
            redacted: false,
            files: vec![FileEntry {
                path: "graph/a.json".into(),
                item: "a".into(),
                sha256: sha256_hex(&body),
                bytes: body.len() as u64,
                source: "GET /beta/a".into(),
            }],
            not_collected: vec![],
        };
        let mut files = BTreeMap::new();
        files.insert("PF1/graph/a.json".to_string(), body);
        files.insert(
            "PF1/manifest.json".to_string(),
            serde_json::to_vec(&m).unwrap(),
        );
        files
    }

    #[test]
    fn a_changed_missing_or_extra_file_fails() {
        let good = bundle();
        assert!(verify_files(&good).ok(), "{:?}", verify_files(&good));
        let mut changed = good.clone();
        changed.get_mut("PF1/graph/a.json").unwrap()[2] ^= 1;
        let v = verify_files(&changed);
        assert!(!v.ok() && v.problems[0].contains("SHA-256"), "{v:?}");
        let mut missing = good.clone();
        missing.remove("PF1/graph/a.json");
        assert!(verify_files(&missing).problems[0].contains("missing"));
        let mut extra = good.clone();
        extra.insert("PF1/graph/b.json".into(), b"x".to_vec());
        assert!(verify_files(&extra).problems[0].contains("not listed"));
        assert!(!verify_files(&BTreeMap::new()).ok());
    }
}

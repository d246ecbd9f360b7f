//! Evidence bundles: one folder (or zip) per device with the Graph exports a troubleshooting
//! runbook asks for, stagehand's own timeline and audit records, optionally the device's
//! diagnostics, and a `manifest.json` that lets anyone check nothing was changed since.

pub mod collect;
pub mod command;
pub(crate) mod esp;
pub(crate) mod manifest;
pub(crate) mod redact;

use std::io::Write;
use std::path::{Path, PathBuf};

pub use collect::{Bundle, Collector, Local, Options, collect};
pub use manifest::{MANIFEST, Manifest, Verified, verify};
pub use redact::Redactor;

/// The folder name of a bundle: the serial (only letters, digits, `-`, `_`) and the time.
pub fn folder_name(b: &Bundle) -> String {
    let serial: String = b
        .manifest
        .serial
        .chars()
        .map(|c| {
            if c.is_ascii_alphanumeric() || c == '-' || c == '_' {
                c
            } else {
                '_'
            }
        })
        .collect();
    format!(
        "{serial}-{}",
        b.manifest.collected_at.format("%Y%m%dT%H%M%SZ")
    )
}

/// Writes each bundle to `root/<serial>-<time>/`, through a temporary folder renamed into
/// place, so a folder that exists is complete. Returns the folders.
pub fn write_dirs(root: &Path, bundles: &[Bundle]) -> anyhow::Result<Vec<PathBuf>> {
    std::fs::create_dir_all(root)
        .map_err(|e| anyhow::anyhow!("cannot create {}: {e}", root.display()))?;
    let mut out = Vec::new();
    for b in bundles {
        let name = folder_name(b);
        let dest = root.join(&name);
        anyhow::ensure!(
            !dest.exists(),
            "{} already exists: nothing overwritten",
            dest.display()
        );
        let tmp = root.join(format!(".partial-{name}"));
        let _ = std::fs::remove_dir_all(&tmp);
        for (rel, bytes) in b.all_files() {
            let p = tmp.join(&rel);
            if let Some(parent) = p.parent() {
                std::fs::create_dir_all(parent)?;
            }
            let mut f = std::fs::File::create(&p)
                .map_err(|e| anyhow::anyhow!("cannot write {}: {e}", p.display()))?;
            f.write_all(&bytes)?;
            f.sync_all()?;
        }
        std::fs::rename(&tmp, &dest)
            .map_err(|e| anyhow::anyhow!("cannot move {} into place: {e}", dest.display()))?;
        out.push(dest);
    }
    Ok(out)
}

/// One zip of the bundles: a single bundle at the root, several each in its folder.
pub fn zip_bytes(bundles: &[Bundle]) -> anyhow::Result<Vec<u8>> {
    let mut z = zip::ZipWriter::new(std::io::Cursor::new(Vec::new()));
    let opts = zip::write::SimpleFileOptions::default()
        .compression_method(zip::CompressionMethod::Deflated);
    let nested = bundles.len() > 1;
    for b in bundles {
        let prefix = if nested {
            format!("{}/", folder_name(b))
        } else {
            String::new()
        };
        for (rel, bytes) in b.all_files() {
            z.start_file(format!("{prefix}{rel}"), opts)?;
            z.write_all(&bytes)?;
        }
    }
    Ok(z.finish()?.into_inner())
}

/// Writes [`zip_bytes`] to `path` (through a temporary file renamed into place).
pub fn write_zip(path: &Path, bundles: &[Bundle]) -> anyhow::Result<()> {
    let bytes = zip_bytes(bundles)?;
    let tmp = path.with_extension("zip.partial");
    {
        let mut f = std::fs::File::create(&tmp)
            .map_err(|e| anyhow::anyhow!("cannot write {}: {e}", tmp.display()))?;
        f.write_all(&bytes)?;
        f.sync_all()?;
    }
    std::fs::rename(&tmp, path)
        .map_err(|e| anyhow::anyhow!("cannot move {} into place: {e}", path.display()))?;
    Ok(())
}

/// Every bundle folder under `root` (one level), newest first per serial: (serial, folder).
pub fn find_bundles(root: &Path) -> Vec<(String, PathBuf)> {
    let Ok(rd) = std::fs::read_dir(root) else {
        return vec![];
    };
    let mut out: Vec<(String, PathBuf)> = rd
        .filter_map(Result::ok)
        .filter(|e| e.path().join(MANIFEST).is_file())
        .filter_map(|e| {
            let m: Manifest =
                serde_json::from_slice(&std::fs::read(e.path().join(MANIFEST)).ok()?).ok()?;
            Some((m.serial, e.path()))
        })
        .collect();
    out.sort_by(|a, b| a.0.cmp(&b.0).then(b.1.cmp(&a.1)));
    out
}

/// Text from outside (Graph, a server) made safe for a terminal: `crate::text::escape`, owned.
pub fn printable(s: &str) -> String {
    crate::text::escape(s).into_owned()
}

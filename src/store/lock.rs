//! The data-dir lock: an exclusive OS lock on `stagehand.lock`, held as long as the value lives.
//!
//! `File::try_lock` (std, Rust 1.89) takes `flock` on Unix and `LockFileEx` on Windows; both belong to
//! the open file, so a second opener in the same process conflicts too, and the OS releases the lock
//! when the process dies (kill -9 included), so no stale-lock cleanup is needed. The holder writes its
//! pid into the file only so the refusal can name it.

use std::fs::{File, TryLockError};
use std::io::{Read, Seek, SeekFrom, Write};
use std::path::{Path, PathBuf};

use super::{StoreError, sync_dir};

pub const LOCK_FILE: &str = "stagehand.lock";

/// Proof that this process owns the data dir. Dropping it releases the lock.
#[derive(Debug)]
pub struct DataDirLock {
    _file: File,
    path: PathBuf,
}

impl DataDirLock {
    /// Takes the lock on `dir` (created if missing) or fails with [`StoreError::Locked`] naming the
    /// holder's pid.
    pub fn acquire(dir: &Path) -> Result<Self, StoreError> {
        if !dir.is_dir() {
            crate::private::data_dir(dir)
                .map_err(|e| StoreError::io(dir, "create the data dir", e))?;
            // Make the new directory's own entry durable too.
            let parent = dir.parent().filter(|p| !p.as_os_str().is_empty());
            sync_dir(parent.unwrap_or(Path::new(".")))?;
        }
        let path = dir.join(LOCK_FILE);
        // No truncate on open: the holder's pid must survive our failed attempt.
        let mut file = crate::private::options()
            .read(true)
            .write(true)
            .create(true)
            .truncate(false)
            .open(&path)
            .map_err(|e| StoreError::io(&path, "open the lock file", e))?;
        match file.try_lock() {
            Ok(()) => {}
            Err(TryLockError::WouldBlock) => {
                let mut text = String::new();
                let pid = file
                    .read_to_string(&mut text)
                    .ok()
                    .and_then(|_| text.trim().parse().ok());
                return Err(StoreError::Locked {
                    dir: dir.to_path_buf(),
                    pid,
                });
            }
            Err(TryLockError::Error(e)) => return Err(StoreError::io(&path, "lock", e)),
        }
        let write_pid = |f: &mut File| -> std::io::Result<()> {
            f.set_len(0)?;
            f.seek(SeekFrom::Start(0))?;
            writeln!(f, "{}", std::process::id())?;
            f.flush()
        };
        write_pid(&mut file).map_err(|e| StoreError::io(&path, "write the pid", e))?;
        Ok(Self { _file: file, path })
    }

    pub fn path(&self) -> &Path {
        &self.path
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn creates_a_missing_data_dir_and_records_the_holder_pid() {
        let base = tempfile::tempdir().unwrap();
        let dir = base.path().join("new").join("data");
        let lock = DataDirLock::acquire(&dir).unwrap();
        assert_eq!(lock.path(), dir.join(LOCK_FILE));
        let pid = std::fs::read_to_string(lock.path()).unwrap();
        assert_eq!(pid.trim(), std::process::id().to_string());
    }

    #[test]
    fn a_second_holder_is_refused_with_our_pid_until_the_first_drops() {
        let dir = tempfile::tempdir().unwrap();
        let first = DataDirLock::acquire(dir.path()).unwrap();
        let err = DataDirLock::acquire(dir.path()).unwrap_err();
        match &err {
            StoreError::Locked { dir: d, pid } => {
                assert_eq!(d, dir.path());
                assert_eq!(*pid, Some(std::process::id()));
            }
            other => panic!("expected Locked, got {other:?}"),
        }
        let msg = err.to_string();
        assert!(msg.contains("another stagehand"), "{msg}");
        assert!(msg.contains(&std::process::id().to_string()), "{msg}");
        drop(first);
        DataDirLock::acquire(dir.path()).unwrap();
    }
}

//! The data dir and the files in it are private to the user who runs stagehand, whatever the
//! umask, on a bench other people also use.
//!
//! One rule, one place: [`data_dir`] creates the directory 0700 (and tightens an existing one),
//! refusing a directory another user owns; [`options`] opens files that are created 0600;
//! [`create_temp`] makes a temporary file with `create_new` (a planted file or symlink is never
//! followed) to be renamed into place. The store and every writer of the data dir call these.

use std::fs::{File, OpenOptions};
use std::io;
use std::path::Path;

/// Mode of the data dir and every directory stagehand creates in it.
pub const DIR_MODE: u32 = 0o700;
/// Mode of every file stagehand creates in the data dir.
pub const FILE_MODE: u32 = 0o600;

/// Creates `dir` (and missing parents) 0700, or checks an existing one: it must be a directory
/// owned by this user; group and other permissions are removed.
pub fn data_dir(dir: &Path) -> io::Result<()> {
    if !dir.exists() {
        let mut b = std::fs::DirBuilder::new();
        b.recursive(true);
        #[cfg(unix)]
        {
            use std::os::unix::fs::DirBuilderExt;
            b.mode(DIR_MODE);
        }
        b.create(dir)?;
    }
    let meta = std::fs::metadata(dir)?;
    if !meta.is_dir() {
        return Err(io::Error::new(
            io::ErrorKind::AlreadyExists,
            format!("{} exists and is not a directory", dir.display()),
        ));
    }
    #[cfg(unix)]
    {
        use std::os::unix::fs::{MetadataExt, PermissionsExt};
        let me = current_uid();
        if meta.uid() != me {
            return Err(io::Error::new(
                io::ErrorKind::PermissionDenied,
                format!(
                    "the data dir {} belongs to user id {}, not to you ({me}): refusing to use it",
                    dir.display(),
                    meta.uid()
                ),
            ));
        }
        if meta.mode() & 0o077 != 0 {
            std::fs::set_permissions(dir, std::fs::Permissions::from_mode(DIR_MODE))?;
        }
    }
    Ok(())
}

/// `OpenOptions` whose created file is 0600 on Unix (set the access flags as usual).
pub fn options() -> OpenOptions {
    #[allow(unused_mut)]
    let mut o = OpenOptions::new();
    #[cfg(unix)]
    {
        use std::os::unix::fs::OpenOptionsExt;
        o.mode(FILE_MODE);
    }
    o
}

/// Removes group and other permissions from an open file created before this rule existed.
pub fn tighten(file: &File) -> io::Result<()> {
    #[cfg(unix)]
    {
        use std::os::unix::fs::PermissionsExt;
        let mode = file.metadata()?.permissions().mode();
        if mode & 0o077 != 0 {
            file.set_permissions(std::fs::Permissions::from_mode(FILE_MODE))?;
        }
    }
    #[cfg(not(unix))]
    let _ = file;
    Ok(())
}

/// A new temporary file at `path`, 0600, created with `create_new`: a stale file of ours is
/// removed first, and a file or symlink planted between that and the create makes it fail
/// instead of being followed. Write it, `sync_all`, then rename it into place.
pub fn create_temp(path: &Path) -> io::Result<File> {
    match std::fs::remove_file(path) {
        Ok(()) => {}
        Err(e) if e.kind() == io::ErrorKind::NotFound => {}
        Err(e) => return Err(e),
    }
    options().write(true).create_new(true).open(path)
}

#[cfg(unix)]
fn current_uid() -> u32 {
    // SAFETY: geteuid has no preconditions and cannot fail.
    unsafe { libc::geteuid() }
}

#[cfg(all(test, unix))]
mod tests {
    use super::*;
    use std::os::unix::fs::PermissionsExt;

    fn mode(p: &Path) -> u32 {
        std::fs::symlink_metadata(p).unwrap().permissions().mode() & 0o777
    }

    #[test]
    fn a_planted_symlink_is_not_followed_by_a_temp_file() {
        let dir = tempfile::tempdir().unwrap();
        let target = dir.path().join("victim");
        std::fs::write(&target, "keep").unwrap();
        let tmp = dir.path().join("x.tmp");
        std::os::unix::fs::symlink(&target, &tmp).unwrap();
        // The stale symlink is removed, not written through.
        let mut f = create_temp(&tmp).unwrap();
        std::io::Write::write_all(&mut f, b"new").unwrap();
        assert_eq!(std::fs::read_to_string(&target).unwrap(), "keep");
        assert_eq!(mode(&tmp), FILE_MODE);
    }

    #[test]
    fn an_existing_wide_data_dir_is_tightened() {
        let dir = tempfile::tempdir().unwrap();
        let d = dir.path().join("data");
        std::fs::create_dir(&d).unwrap();
        std::fs::set_permissions(&d, std::fs::Permissions::from_mode(0o777)).unwrap();
        data_dir(&d).unwrap();
        assert_eq!(mode(&d), DIR_MODE);
        let f = d.join("f");
        std::fs::write(&f, "").unwrap();
        std::fs::set_permissions(&f, std::fs::Permissions::from_mode(0o644)).unwrap();
        tighten(&File::open(&f).unwrap()).unwrap();
        assert_eq!(mode(&f), FILE_MODE);
    }

    #[test]
    fn a_data_dir_owned_by_someone_else_is_refused() {
        let dir = tempfile::tempdir().unwrap();
        let (d, owner) = if current_uid() == 0 {
            // As root: hand a directory to another user.
            let d = dir.path().join("theirs");
            std::fs::create_dir(&d).unwrap();
            std::os::unix::fs::chown(&d, Some(4242), Some(4242)).unwrap();
            (d, 4242)
        } else {
            (Path::new("/").to_path_buf(), 0)
        };
        let err = data_dir(&d).unwrap_err().to_string();
        assert!(
            err.contains(&format!("belongs to user id {owner}")),
            "{err}"
        );
    }
}

//! Atomic, split output files: temporary files next to the target, renamed into place on commit.

use std::fs::File;
use std::io::{self, BufWriter, Write};
use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex, mpsc};
use std::thread::JoinHandle;

/// Writes rows into temporary files next to the target, starting a new part when a limit would be
/// passed, and renames them into place only on [`SplitWriter::commit`]. Dropped without commit,
/// it removes its temporary files.
pub struct SplitWriter {
    target: PathBuf,
    header: Vec<u8>,
    max_rows: Option<usize>,
    max_bytes: Option<u64>,
    parts: Vec<PathBuf>,
    current: Option<BufWriter<File>>,
    rows: usize,
    bytes: u64,
    total_rows: u64,
    /// Finished parts are fsync'd on helper threads while the next part is written.
    syncer: Option<Syncer>,
}

/// Finished parts are fsync'd by a few helper threads. Concurrent fsyncs share the file system's
/// journal commits: on an ext4 VM disk 200 parts took 1.7 s synced one after another and under
/// 0.1 s synced 16 at a time.
struct Syncer {
    tx: mpsc::Sender<File>,
    rx: Arc<Mutex<mpsc::Receiver<File>>>,
    workers: Vec<JoinHandle<io::Result<()>>>,
}

/// Most fsyncs in flight at once.
const SYNC_THREADS: usize = 16;

impl Syncer {
    fn new() -> Self {
        let (tx, rx) = mpsc::channel::<File>();
        Self {
            tx,
            rx: Arc::new(Mutex::new(rx)),
            workers: Vec::new(),
        }
    }

    /// Hands a finished part over (adding a helper while fewer than [`SYNC_THREADS`] run), or
    /// syncs it here when no helper can be started.
    fn submit(&mut self, file: File) -> io::Result<()> {
        if self.workers.len() < SYNC_THREADS {
            let rx = self.rx.clone();
            let spawned = std::thread::Builder::new()
                .name("prep-fsync".into())
                .spawn(move || worker(&rx));
            if let Ok(h) = spawned {
                self.workers.push(h);
            }
        }
        if self.workers.is_empty() {
            return file.sync_all();
        }
        match self.tx.send(file) {
            Ok(()) => Ok(()),
            Err(mpsc::SendError(file)) => file.sync_all(),
        }
    }

    /// Waits until every file handed over is synced; the first failure wins.
    fn finish(self) -> io::Result<()> {
        drop(self.tx);
        let mut first = Ok(());
        for h in self.workers {
            let r = h
                .join()
                .unwrap_or_else(|_| Err(io::Error::other("an fsync thread panicked")));
            first = first.and(r);
        }
        first
    }
}

/// Syncs files until the channel closes. Keeps going after a failure so every file is closed;
/// reports the first error.
fn worker(rx: &Mutex<mpsc::Receiver<File>>) -> io::Result<()> {
    let mut first = Ok(());
    loop {
        // The lock is held only while taking the next file, never while syncing.
        let next = match rx.lock() {
            Ok(rx) => rx.recv(),
            Err(_) => return Err(io::Error::other("an fsync thread panicked")),
        };
        let Ok(file) = next else { return first };
        if let Err(e) = file.sync_all() {
            first = first.and(Err(e));
        }
    }
}

impl SplitWriter {
    /// Renames the parts into place unless one of their final names is an input of this run.
    /// Returns the names written, or the message to report (nothing is written then).
    pub fn commit_unless_input(
        self,
        is_input: &impl Fn(&Path) -> bool,
        output: &Path,
    ) -> Result<Vec<String>, String> {
        if let Some(clash) = self.final_names().into_iter().find(|n| is_input(n)) {
            return Err(format!(
                "{}: would overwrite an input; nothing written",
                clash.display()
            ));
        }
        match self.commit() {
            Ok(names) => Ok(names.iter().map(|n| n.display().to_string()).collect()),
            Err(e) => Err(format!("{}: cannot write: {e}", output.display())),
        }
    }

    /// `header` is written (with its line ending) at the top of every part.
    pub fn new(
        target: &Path,
        header: &[u8],
        max_rows: Option<usize>,
        max_bytes: Option<u64>,
    ) -> Self {
        Self {
            target: target.to_path_buf(),
            header: header.to_vec(),
            max_rows,
            max_bytes,
            parts: Vec::new(),
            current: None,
            rows: 0,
            bytes: 0,
            total_rows: 0,
            syncer: None,
        }
    }

    pub fn rows_written(&self) -> u64 {
        self.total_rows
    }

    /// Writes one complete line (including its line ending): one copy into the part's buffer.
    pub fn write_line(&mut self, line: &[u8]) -> io::Result<()> {
        let len = line.len() as u64;
        self.part_for(len)?.write_all(line)?;
        self.count(len);
        Ok(())
    }

    /// Writes one complete line, line ending included, given in pieces; the pieces go into the
    /// same part.
    pub fn write_parts(&mut self, parts: &[&[u8]]) -> io::Result<()> {
        let len: u64 = parts.iter().map(|p| p.len() as u64).sum();
        let w = self.part_for(len)?;
        for p in parts {
            w.write_all(p)?;
        }
        self.count(len);
        Ok(())
    }

    /// The part a line of `len` bytes goes into: a new one when none is open or a limit would be
    /// passed.
    #[inline]
    fn part_for(&mut self, len: u64) -> io::Result<&mut BufWriter<File>> {
        let full = self.current.is_some()
            && (self.max_rows.is_some_and(|m| self.rows >= m)
                || self.max_bytes.is_some_and(|m| self.bytes + len > m));
        if self.current.is_none() || full {
            self.start_part()?;
        }
        Ok(self.current.as_mut().expect("part started"))
    }

    #[inline]
    fn count(&mut self, len: u64) {
        self.rows += 1;
        self.bytes += len;
        self.total_rows += 1;
    }

    /// Appends bytes to the current part without counting a row (JSON framing).
    pub fn write_raw(&mut self, bytes: &[u8]) -> io::Result<()> {
        if self.current.is_none() {
            self.start_part()?;
        }
        self.current
            .as_mut()
            .expect("part started")
            .write_all(bytes)
    }

    fn start_part(&mut self) -> io::Result<()> {
        self.close_current()?;
        let dir = parent_dir(&self.target);
        let name = self
            .target
            .file_name()
            .unwrap_or_default()
            .to_string_lossy();
        let tmp = dir.join(format!(
            ".{name}.{}.{}.tmp",
            std::process::id(),
            self.parts.len() + 1
        ));
        let mut w = BufWriter::with_capacity(256 * 1024, File::create(&tmp)?);
        self.parts.push(tmp);
        w.write_all(&self.header)?;
        self.rows = 0;
        self.bytes = self.header.len() as u64;
        self.current = Some(w);
        Ok(())
    }

    fn close_current(&mut self) -> io::Result<()> {
        if let Some(w) = self.current.take() {
            let file = w.into_inner().map_err(|e| e.into_error())?;
            self.syncer.get_or_insert_with(Syncer::new).submit(file)?;
        }
        Ok(())
    }

    /// The names the parts will get: the target itself for one part, else `stem-01.ext` … .
    pub fn final_names(&self) -> Vec<PathBuf> {
        part_names(&self.target, self.parts.len())
    }

    /// Flushes, syncs and renames every part into place; returns the final names.
    pub fn commit(mut self) -> io::Result<Vec<PathBuf>> {
        self.close_current()?;
        if let Some(syncer) = self.syncer.take() {
            // A failed fsync means the data may not be on disk: do not rename, fail the run.
            syncer.finish()?;
        }
        let names = self.final_names();
        for (tmp, name) in self.parts.iter().zip(&names) {
            std::fs::rename(tmp, name)?;
        }
        self.parts.clear();
        sync_dir(&parent_dir(&self.target));
        Ok(names)
    }
}

impl Drop for SplitWriter {
    fn drop(&mut self) {
        self.current.take();
        if let Some(syncer) = self.syncer.take() {
            let _ = syncer.finish();
        }
        for p in &self.parts {
            let _ = std::fs::remove_file(p);
        }
    }
}

fn parent_dir(p: &Path) -> PathBuf {
    match p.parent() {
        Some(d) if !d.as_os_str().is_empty() => d.to_path_buf(),
        _ => PathBuf::from("."),
    }
}

/// `out.csv` for one part; `out-1.csv`… (zero-padded to the count's width) for several.
pub fn part_names(target: &Path, n: usize) -> Vec<PathBuf> {
    if n <= 1 {
        return vec![target.to_path_buf(); n];
    }
    let stem = target.file_stem().unwrap_or_default().to_string_lossy();
    let ext = target
        .extension()
        .map(|e| format!(".{}", e.to_string_lossy()))
        .unwrap_or_default();
    let width = n.to_string().len();
    (1..=n)
        .map(|i| target.with_file_name(format!("{stem}-{i:0width$}{ext}")))
        .collect()
}

#[cfg(unix)]
fn sync_dir(dir: &Path) {
    // Makes the renames durable; a failure here leaves the files in place, so it is not fatal.
    if let Ok(d) = File::open(dir) {
        let _ = d.sync_all();
    }
}

#[cfg(not(unix))]
fn sync_dir(_dir: &Path) {}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn split_writer_splits_renames_and_cleans_up() {
        let dir = tempfile::tempdir().unwrap();
        let target = dir.path().join("out.csv");
        let mut w = SplitWriter::new(&target, b"H\r\n", Some(2), None);
        for i in 0..5 {
            w.write_line(format!("r{i}\r\n").as_bytes()).unwrap();
        }
        let names = w.commit().unwrap();
        let want: Vec<PathBuf> = (1..=3)
            .map(|i| dir.path().join(format!("out-{i}.csv")))
            .collect();
        assert_eq!(names, want);
        assert_eq!(std::fs::read_to_string(&want[2]).unwrap(), "H\r\nr4\r\n");
        assert_eq!(std::fs::read_dir(dir.path()).unwrap().count(), 3);
        // Byte limit (header included) and abandoning: no file is left behind.
        let mut w = SplitWriter::new(&target, b"", None, Some(8));
        w.write_line(b"1234\n").unwrap();
        w.write_line(b"5678\n").unwrap();
        assert_eq!(w.final_names().len(), 2);
        drop(w);
        assert_eq!(std::fs::read_dir(dir.path()).unwrap().count(), 3);
        assert_eq!(part_names(&target, 12)[0], dir.path().join("out-01.csv"));
        // A line in pieces counts once, with all its bytes, and never straddles two parts.
        let mut w = SplitWriter::new(&target, b"", Some(10), Some(9));
        w.write_parts(&[b"ab", b"cd", b"\n"]).unwrap();
        w.write_parts(&[b"ef", b"gh", b"\n"]).unwrap();
        assert_eq!(w.rows_written(), 2);
        let names = w.commit().unwrap();
        assert_eq!(names.len(), 2);
        assert_eq!(std::fs::read(&names[1]).unwrap(), b"efgh\n");
    }
}

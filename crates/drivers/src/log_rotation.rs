//! A task's log files, rotated as Nomad's logmon rotates them: `<task>.<stream>.<N>` in
//! the allocation's `alloc/logs`, the index rising by one each time the current file
//! reaches `max_file_size`, and only the newest `max_files` kept.
//!
//! [`RotatingLog`] is a plain [`Write`]: the executor copies a task's pipes into one per
//! stream ([`copy_into`]), and a driver that gets a task's output some other way (a
//! container runtime's log stream) can write it the same way.

use std::fs::{File, OpenOptions};
use std::io::{self, Read, Write};
use std::os::unix::fs::OpenOptionsExt;
use std::path::{Path, PathBuf};

use serde::{Deserialize, Serialize};

/// Nomad's defaults: 10 files of 10 MB.
pub const DEFAULT_MAX_FILES: u32 = 10;
/// Nomad's default `max_file_size`, in bytes (10 MB; Nomad's MB is 2^20 bytes).
pub const DEFAULT_MAX_FILE_SIZE: u64 = 10 * MEGABYTE;
/// The unit of `logs { max_file_size }`.
pub const MEGABYTE: u64 = 1024 * 1024;

/// Where a task's output goes and how it is rotated (the task's `logs` block).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(default)]
pub struct TaskLogs {
    /// The allocation's `alloc/logs` directory.
    pub dir: PathBuf,
    /// The task's name: files are `<task>.stdout.<N>` and `<task>.stderr.<N>`.
    pub task: String,
    /// How many files of each stream are kept.
    pub max_files: u32,
    /// The size at which the next file is started, in bytes.
    pub max_file_size: u64,
    /// `logs { disabled = true }`: output goes to `/dev/null`, no file is written.
    pub disabled: bool,
}

impl Default for TaskLogs {
    fn default() -> Self {
        TaskLogs {
            dir: PathBuf::new(),
            task: String::new(),
            max_files: DEFAULT_MAX_FILES,
            max_file_size: DEFAULT_MAX_FILE_SIZE,
            disabled: false,
        }
    }
}

impl TaskLogs {
    /// Opens the rotating writer of one stream (`stdout` or `stderr`).
    pub fn open(&self, stream: &str) -> io::Result<RotatingLog> {
        RotatingLog::open(
            &self.dir,
            &self.task,
            stream,
            self.max_files,
            self.max_file_size,
        )
    }
}

/// The name of a log file: `<task>.<stream>.<index>`.
pub fn log_file_name(task: &str, stream: &str, index: u64) -> String {
    format!("{task}.{stream}.{index}")
}

/// The indexes of a stream's log files in `dir`, lowest first.
pub fn log_indexes(dir: &Path, task: &str, stream: &str) -> io::Result<Vec<u64>> {
    let prefix = format!("{task}.{stream}.");
    let mut indexes: Vec<u64> = std::fs::read_dir(dir)?
        .filter_map(Result::ok)
        .filter_map(|entry| {
            let name = entry.file_name();
            let digits = name.to_str()?.strip_prefix(&prefix)?;
            // Only what this module writes: plain decimal, no sign, no leading zero.
            if digits.is_empty()
                || !digits.bytes().all(|b| b.is_ascii_digit())
                || (digits.len() > 1 && digits.starts_with('0'))
            {
                return None;
            }
            digits.parse().ok()
        })
        .collect();
    indexes.sort_unstable();
    Ok(indexes)
}

/// One stream of a task's output, written into `<task>.<stream>.<N>` files of at most
/// `max_file_size` bytes each (a write that does not fit is split, as Nomad's), keeping
/// the newest `max_files`. It starts at the highest index that exists, so a restarted
/// task (or executor) continues where the last one stopped.
#[derive(Debug)]
pub struct RotatingLog {
    dir: PathBuf,
    task: String,
    stream: String,
    max_files: u64,
    max_file_size: u64,
    index: u64,
    file: File,
    /// The current file's size.
    size: u64,
}

impl RotatingLog {
    /// Opens the stream's current file (the highest index, or 0), creating it, and
    /// deletes files beyond the newest `max_files`. `max_files` and `max_file_size`
    /// below 1 count as 1.
    pub fn open(
        dir: &Path,
        task: &str,
        stream: &str,
        max_files: u32,
        max_file_size: u64,
    ) -> io::Result<RotatingLog> {
        let index = log_indexes(dir, task, stream)?.last().copied().unwrap_or(0);
        let mut log = RotatingLog {
            dir: dir.to_path_buf(),
            task: task.to_string(),
            stream: stream.to_string(),
            max_files: u64::from(max_files.max(1)),
            max_file_size: max_file_size.max(1),
            index,
            file: open_append(&dir.join(log_file_name(task, stream, index)))?,
            size: 0,
        };
        log.size = log.file.metadata()?.len();
        log.purge()?;
        Ok(log)
    }

    /// The index of the file written now.
    pub fn index(&self) -> u64 {
        self.index
    }

    /// The file written now.
    pub fn path(&self) -> PathBuf {
        self.dir
            .join(log_file_name(&self.task, &self.stream, self.index))
    }

    /// Starts the next file and deletes the oldest beyond `max_files`.
    fn rotate(&mut self) -> io::Result<()> {
        self.index += 1;
        self.file = open_append(&self.path())?;
        self.size = self.file.metadata()?.len();
        self.purge()
    }

    /// Deletes the files older than the newest `max_files`.
    fn purge(&self) -> io::Result<()> {
        let oldest_kept = (self.index + 1).saturating_sub(self.max_files);
        for index in log_indexes(&self.dir, &self.task, &self.stream)? {
            if index >= oldest_kept {
                break;
            }
            let path = self
                .dir
                .join(log_file_name(&self.task, &self.stream, index));
            match std::fs::remove_file(&path) {
                Err(error) if error.kind() != io::ErrorKind::NotFound => return Err(error),
                _ => {}
            }
        }
        Ok(())
    }
}

/// Opens a log file for appending, never through a symlink: whoever can write the
/// logs directory (the task) must not make the executor write elsewhere.
fn open_append(path: &Path) -> io::Result<File> {
    OpenOptions::new()
        .create(true)
        .append(true)
        .custom_flags(libc::O_NOFOLLOW)
        .open(path)
}

impl Write for RotatingLog {
    fn write(&mut self, buf: &[u8]) -> io::Result<usize> {
        if buf.is_empty() {
            return Ok(0);
        }
        if self.size >= self.max_file_size {
            self.rotate()?;
        }
        let room = usize::try_from(self.max_file_size - self.size).unwrap_or(usize::MAX);
        let written = self.file.write(&buf[..buf.len().min(room)])?;
        self.size += written as u64;
        Ok(written)
    }

    fn flush(&mut self) -> io::Result<()> {
        self.file.flush()
    }
}

/// Copies `reader` (a task's pipe) into `log` until end of file. A write that fails (a
/// full disk) drops that piece but keeps reading: the task must never block on its
/// output. Returns the first write error, once the reader is done.
pub fn copy_into(mut reader: impl Read, log: &mut impl Write) -> io::Result<()> {
    let mut buf = vec![0u8; 64 * 1024];
    let mut first_error = None;
    loop {
        let read = match reader.read(&mut buf) {
            Ok(0) => break,
            Ok(read) => read,
            Err(error) if error.kind() == io::ErrorKind::Interrupted => continue,
            Err(error) => {
                first_error.get_or_insert(error);
                break;
            }
        };
        if let Err(error) = log.write_all(&buf[..read]) {
            first_error.get_or_insert(error);
        }
    }
    let _ = log.flush();
    first_error.map_or(Ok(()), Err)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn files(dir: &Path, stream: &str) -> Vec<(u64, u64)> {
        log_indexes(dir, "web", stream)
            .unwrap()
            .into_iter()
            .map(|index| {
                let size = std::fs::metadata(dir.join(log_file_name("web", stream, index)))
                    .unwrap()
                    .len();
                (index, size)
            })
            .collect()
    }

    /// (max_files, max_file_size, bytes written in writes of `chunk`, chunk, the
    /// (index, size) of the files left).
    type RotationCase = (u32, u64, usize, usize, &'static [(u64, u64)]);

    #[test]
    fn writes_rotate_at_the_size_and_keep_the_newest_files() {
        let cases: &[RotationCase] = &[
            (3, 10, 5, 5, &[(0, 5)]),
            (3, 10, 10, 10, &[(0, 10)]),
            (3, 10, 11, 11, &[(0, 10), (1, 1)]),
            (3, 10, 25, 4, &[(0, 10), (1, 10), (2, 5)]),
            (3, 10, 45, 7, &[(2, 10), (3, 10), (4, 5)]),
            (1, 10, 45, 45, &[(4, 5)]),
            (2, 1, 3, 3, &[(1, 1), (2, 1)]),
            // Below 1 counts as 1.
            (0, 0, 2, 2, &[(1, 1)]),
        ];
        for &(max_files, max_size, total, chunk, want) in cases {
            let dir = tempfile::tempdir().unwrap();
            let mut log =
                RotatingLog::open(dir.path(), "web", "stdout", max_files, max_size).unwrap();
            let data = vec![b'x'; total];
            for piece in data.chunks(chunk) {
                log.write_all(piece).unwrap();
            }
            assert_eq!(
                files(dir.path(), "stdout"),
                want,
                "max_files {max_files}, max_file_size {max_size}, {total} bytes in writes of {chunk}"
            );
            assert_eq!(log.index(), want.last().unwrap().0);
        }
    }

    #[test]
    fn bytes_keep_their_order_across_files() {
        let dir = tempfile::tempdir().unwrap();
        let mut log = RotatingLog::open(dir.path(), "web", "stdout", 10, 7).unwrap();
        let text: String = (0..20).map(|n| format!("{n}\n")).collect();
        log.write_all(text.as_bytes()).unwrap();
        let joined: String = log_indexes(dir.path(), "web", "stdout")
            .unwrap()
            .into_iter()
            .map(|i| {
                std::fs::read_to_string(dir.path().join(log_file_name("web", "stdout", i))).unwrap()
            })
            .collect();
        assert_eq!(joined, text);
    }

    #[test]
    fn reopening_resumes_at_the_highest_index() {
        let dir = tempfile::tempdir().unwrap();
        for (name, content) in [
            ("web.stdout.3", "abc"),
            ("web.stdout.4", "de"),
            ("web.stderr.9", "e"),
            ("web.stdout.x", "?"),
            ("web.stdout.05", "?"),
        ] {
            std::fs::write(dir.path().join(name), content).unwrap();
        }
        let mut log = RotatingLog::open(dir.path(), "web", "stdout", 3, 4).unwrap();
        assert_eq!(log.index(), 4);
        log.write_all(b"fgh").unwrap();
        assert_eq!(files(dir.path(), "stdout"), [(3, 3), (4, 4), (5, 1)]);
        assert_eq!(
            std::fs::read_to_string(dir.path().join("web.stdout.4")).unwrap(),
            "defg"
        );
        // Other streams and names that are not ours are left alone.
        assert!(dir.path().join("web.stderr.9").exists());
        assert!(dir.path().join("web.stdout.x").exists());
    }

    #[test]
    fn opening_deletes_what_max_files_no_longer_keeps() {
        let dir = tempfile::tempdir().unwrap();
        for index in 0..6 {
            std::fs::write(dir.path().join(format!("web.stdout.{index}")), "x").unwrap();
        }
        let log = RotatingLog::open(dir.path(), "web", "stdout", 2, 10).unwrap();
        assert_eq!(log.index(), 5);
        assert_eq!(files(dir.path(), "stdout"), [(4, 1), (5, 1)]);
    }

    #[test]
    fn a_full_current_file_rotates_on_the_next_write_only() {
        let dir = tempfile::tempdir().unwrap();
        std::fs::write(dir.path().join("web.stdout.0"), "12345").unwrap();
        let mut log = RotatingLog::open(dir.path(), "web", "stdout", 5, 5).unwrap();
        assert_eq!(files(dir.path(), "stdout"), [(0, 5)]);
        log.write_all(b"6").unwrap();
        assert_eq!(files(dir.path(), "stdout"), [(0, 5), (1, 1)]);
    }

    #[test]
    fn a_symlink_is_never_followed() {
        let dir = tempfile::tempdir().unwrap();
        let target = dir.path().join("elsewhere");
        std::fs::write(&target, "").unwrap();
        std::os::unix::fs::symlink(&target, dir.path().join("web.stdout.0")).unwrap();
        assert!(RotatingLog::open(dir.path(), "web", "stdout", 2, 10).is_err());
        assert_eq!(std::fs::read_to_string(&target).unwrap(), "");
    }

    #[test]
    fn copy_into_reads_to_the_end() {
        let dir = tempfile::tempdir().unwrap();
        let mut log = RotatingLog::open(dir.path(), "web", "stderr", 3, 1000).unwrap();
        let data = vec![b'y'; 2500];
        copy_into(&data[..], &mut log).unwrap();
        assert_eq!(
            files(dir.path(), "stderr"),
            [(0, 1000), (1, 1000), (2, 500)]
        );
    }
}

//! The agent's log file with Nomad's rotation: the active file keeps its name
//! (`nomad.log` unless `log_file` names one) and is appended to across restarts; past
//! `log_rotate_bytes` or `log_rotate_duration` it is renamed to
//! `<name>-<unix nanoseconds>.log` and a new one started, and only the newest
//! `log_rotate_max_files` rotated files are kept.

use std::fs::{File, OpenOptions};
use std::io::Write;
use std::os::unix::fs::OpenOptionsExt;
use std::path::{Path, PathBuf};
use std::time::{Duration, SystemTime};

/// When to rotate and how much to keep.
#[derive(Debug, Clone, PartialEq)]
pub struct RotationPolicy {
    /// Rotate once the file holds this many bytes (`log_rotate_bytes`); 0: never by
    /// size.
    pub max_bytes: u64,
    /// Rotate once the file is this old (`log_rotate_duration`).
    pub max_age: Duration,
    /// Rotated files kept; 0 keeps all.
    pub max_files: usize,
}

impl Default for RotationPolicy {
    /// Nomad's defaults: daily, no size limit, every file kept.
    fn default() -> Self {
        RotationPolicy {
            max_bytes: 0,
            max_age: Duration::from_secs(24 * 3600),
            max_files: 0,
        }
    }
}

/// The open log file and what rotation needs to know of it.
#[derive(Debug)]
pub struct RotatingFile {
    dir: PathBuf,
    name: String,
    policy: RotationPolicy,
    file: File,
    written: u64,
    created: SystemTime,
}

/// The name of the active file: `log_file`'s file name, `nomad.log` for a directory.
fn split_log_path(log_file: &str) -> (PathBuf, String) {
    let path = Path::new(log_file);
    if log_file.ends_with('/') || path.is_dir() {
        return (path.to_path_buf(), "nomad.log".into());
    }
    let dir = path
        .parent()
        .filter(|p| !p.as_os_str().is_empty())
        .unwrap_or(Path::new("."));
    let name = path
        .file_name()
        .map(|n| n.to_string_lossy().into_owned())
        .unwrap_or_else(|| "nomad.log".into());
    (dir.to_path_buf(), name)
}

impl RotatingFile {
    /// Opens (creating it and its directory) the file `log_file` names.
    pub fn open(log_file: &str, policy: RotationPolicy) -> Result<RotatingFile, String> {
        let (dir, name) = split_log_path(log_file);
        std::fs::create_dir_all(&dir)
            .map_err(|e| format!("log_file: cannot create {}: {e}", dir.display()))?;
        let (file, written, created) = open_active(&dir.join(&name))?;
        Ok(RotatingFile {
            dir,
            name,
            policy,
            file,
            written,
            created,
        })
    }

    /// The active file's path.
    pub fn path(&self) -> PathBuf {
        self.dir.join(&self.name)
    }

    /// `<stem>-%s<ext>`, the rotated files' pattern, as a prefix and a suffix.
    fn rotated_name_parts(&self) -> (String, String) {
        let path = Path::new(&self.name);
        let ext = path
            .extension()
            .map(|e| format!(".{}", e.to_string_lossy()))
            .unwrap_or_else(|| ".log".into());
        let stem = self
            .name
            .strip_suffix(&ext)
            .unwrap_or(&self.name)
            .to_string();
        (format!("{stem}-"), ext)
    }

    fn due(&self) -> bool {
        let by_size = self.policy.max_bytes > 0 && self.written >= self.policy.max_bytes;
        let by_age = self
            .created
            .elapsed()
            .is_ok_and(|age| age >= self.policy.max_age);
        by_size || by_age
    }

    fn rotate(&mut self) -> std::io::Result<()> {
        let nanos = SystemTime::now()
            .duration_since(SystemTime::UNIX_EPOCH)
            .map(|d| d.as_nanos())
            .unwrap_or_default();
        let (prefix, ext) = self.rotated_name_parts();
        std::fs::rename(self.path(), self.dir.join(format!("{prefix}{nanos}{ext}")))?;
        self.prune(&prefix, &ext)?;
        let (file, written, created) = open_active(&self.path()).map_err(std::io::Error::other)?;
        self.file = file;
        self.written = written;
        self.created = created;
        Ok(())
    }

    /// Removes the oldest rotated files past `max_files`.
    fn prune(&self, prefix: &str, ext: &str) -> std::io::Result<()> {
        if self.policy.max_files == 0 {
            return Ok(());
        }
        let mut rotated: Vec<PathBuf> = std::fs::read_dir(&self.dir)?
            .filter_map(Result::ok)
            .map(|entry| entry.path())
            .filter(|path| {
                path.file_name()
                    .map(|n| n.to_string_lossy())
                    .and_then(|n| {
                        n.strip_prefix(prefix)
                            .and_then(|rest| rest.strip_suffix(ext))
                            .map(|stamp| {
                                !stamp.is_empty() && stamp.bytes().all(|b| b.is_ascii_digit())
                            })
                    })
                    .unwrap_or(false)
            })
            .collect();
        rotated.sort();
        let stale = rotated.len().saturating_sub(self.policy.max_files);
        for path in &rotated[..stale] {
            std::fs::remove_file(path)?;
        }
        Ok(())
    }

    /// Appends one line (rotating first when due).
    pub fn write_line(&mut self, line: &str) -> std::io::Result<()> {
        if self.due() {
            self.rotate()?;
        }
        self.file.write_all(line.as_bytes())?;
        self.file.write_all(b"\n")?;
        self.written += line.len() as u64 + 1;
        Ok(())
    }
}

fn open_active(path: &Path) -> Result<(File, u64, SystemTime), String> {
    let file = OpenOptions::new()
        .create(true)
        .append(true)
        .mode(0o640)
        .open(path)
        .map_err(|e| format!("log_file: cannot open {}: {e}", path.display()))?;
    let meta = file
        .metadata()
        .map_err(|e| format!("log_file: cannot read {}: {e}", path.display()))?;
    // A file appended to across a restart keeps its age, as Nomad's does.
    let created = meta
        .created()
        .or_else(|_| meta.modified())
        .unwrap_or_else(|_| SystemTime::now());
    Ok((file, meta.len(), created))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn names(dir: &Path) -> Vec<String> {
        let mut names: Vec<String> = std::fs::read_dir(dir)
            .unwrap()
            .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
            .collect();
        names.sort();
        names
    }

    #[test]
    fn a_directory_gets_nomad_log_and_rotated_files_are_timestamped() {
        let dir = tempfile::tempdir().unwrap();
        let policy = RotationPolicy {
            max_bytes: 10,
            max_files: 2,
            ..RotationPolicy::default()
        };
        let mut file = RotatingFile::open(&format!("{}/", dir.path().display()), policy).unwrap();
        assert_eq!(file.path(), dir.path().join("nomad.log"));
        for n in 0..5 {
            file.write_line(&format!("line number {n}")).unwrap();
        }
        let names = names(dir.path());
        assert_eq!(names.len(), 3, "{names:?}");
        assert_eq!(names.last().unwrap(), "nomad.log");
        for rotated in &names[..2] {
            let stamp = rotated
                .strip_prefix("nomad-")
                .and_then(|r| r.strip_suffix(".log"))
                .unwrap();
            assert!(stamp.parse::<u128>().is_ok(), "{rotated}");
        }
        assert_eq!(
            std::fs::read_to_string(dir.path().join("nomad.log")).unwrap(),
            "line number 4\n"
        );
    }

    #[test]
    fn a_file_older_than_the_duration_is_rotated_before_the_next_line() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("nomad.log");
        std::fs::write(&path, "from an earlier run\n").unwrap();
        let policy = RotationPolicy {
            max_age: Duration::ZERO,
            ..RotationPolicy::default()
        };
        let mut file = RotatingFile::open(path.to_str().unwrap(), policy).unwrap();
        file.write_line("now").unwrap();
        let names = names(dir.path());
        assert_eq!(names.len(), 2, "{names:?}");
        assert_eq!(
            std::fs::read_to_string(dir.path().join(&names[0])).unwrap(),
            "from an earlier run\n"
        );
        assert_eq!(std::fs::read_to_string(&path).unwrap(), "now\n");
    }

    #[test]
    fn a_named_file_keeps_its_name_and_extension() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("agent.txt");
        let policy = RotationPolicy {
            max_bytes: 1,
            ..RotationPolicy::default()
        };
        let mut file = RotatingFile::open(path.to_str().unwrap(), policy).unwrap();
        file.write_line("one").unwrap();
        file.write_line("two").unwrap();
        let names = names(dir.path());
        assert_eq!(names.len(), 2);
        assert!(names[0].starts_with("agent-") && names[0].ends_with(".txt"));
        assert_eq!(names[1], "agent.txt");
    }
}

//! The allocation directory, laid out as Nomad's:
//!
//! ```text
//! <data_dir>/alloc/<alloc_id>/
//!   alloc/{data,logs,tmp}     shared by the tasks (NOMAD_ALLOC_DIR)
//!   <task>/{local,secrets,tmp,private}
//! ```
//!
//! and the file access behind `caravan fs`, which never leaves that directory.

use std::path::{Path, PathBuf};
use std::time::UNIX_EPOCH;

use caravan_api_types::AllocFileInfo;
use caravan_drivers::host_path::{HostPathError, join_beneath, join_name};

/// Paths of one allocation's directory. Every path under it that a job names (a task's
/// directory, its log files) goes through [`caravan_drivers::host_path`].
#[derive(Debug, Clone)]
pub struct AllocDir {
    pub root: PathBuf,
}

impl AllocDir {
    /// The allocation's ID: the directory is named for it.
    pub fn alloc_id(&self) -> String {
        self.root
            .file_name()
            .map(|name| name.to_string_lossy().into_owned())
            .unwrap_or_default()
    }

    /// The directory of `alloc_id` under the client's `alloc` root.
    pub fn new(alloc_root: &Path, alloc_id: &str) -> Result<AllocDir, HostPathError> {
        Ok(AllocDir {
            root: join_name(alloc_root, "allocation ID", alloc_id)?,
        })
    }

    /// The shared `alloc/` directory.
    pub fn shared(&self) -> PathBuf {
        self.root.join("alloc")
    }

    /// `alloc/logs/`.
    pub fn logs(&self) -> PathBuf {
        self.shared().join("logs")
    }

    /// A task's own directory.
    pub fn task(&self, task: &str) -> Result<PathBuf, HostPathError> {
        join_name(&self.root, "task", task)
    }

    /// `alloc/logs/<task>.<stream>.<index>`, Nomad's log file of a task's stream.
    pub fn log_file(&self, task: &str, stream: &str, index: u64) -> Result<PathBuf, HostPathError> {
        join_name(
            &self.logs(),
            "log file",
            &format!("{task}.{stream}.{index}"),
        )
    }

    /// Creates the shared directories.
    pub fn build(&self) -> std::io::Result<()> {
        for dir in ["data", "logs", "tmp"] {
            std::fs::create_dir_all(self.shared().join(dir))?;
        }
        set_mode(&self.shared().join("tmp"), 0o1777)
    }

    /// Creates a task's directories.
    pub fn build_task(&self, task: &str) -> std::io::Result<()> {
        let dir = self.task(task).map_err(std::io::Error::other)?;
        for sub in ["local", "secrets", "tmp", "private"] {
            std::fs::create_dir_all(dir.join(sub))?;
        }
        set_mode(&dir.join("tmp"), 0o1777)?;
        set_mode(&dir.join("secrets"), 0o700)
    }

    /// Resolves a user-supplied path inside the allocation directory. `..` and symlinks
    /// that lead outside are refused.
    pub fn resolve(&self, relative: &str) -> Result<PathBuf, FsError> {
        let escape = || FsError::Escape(relative.to_string());
        // `..` above the root is refused here, not folded: `alloc/../../x` is an escape.
        if Path::new(relative)
            .components()
            .any(|c| c == std::path::Component::ParentDir)
        {
            return Err(escape());
        }
        let path = join_beneath(&self.root, relative).map_err(|_| escape())?;
        let root = self
            .root
            .canonicalize()
            .map_err(|_| FsError::NotFound(String::new()))?;
        let real = path
            .canonicalize()
            .map_err(|_| FsError::NotFound(relative.to_string()))?;
        if real.starts_with(&root) {
            Ok(real)
        } else {
            Err(escape())
        }
    }
}

fn set_mode(path: &Path, mode: u32) -> std::io::Result<()> {
    use std::os::unix::fs::PermissionsExt;
    std::fs::set_permissions(path, std::fs::Permissions::from_mode(mode))
}

/// Why a file request was refused.
#[derive(Debug, thiserror::Error)]
pub enum FsError {
    /// `..` or a symlink pointing outside the allocation directory.
    #[error("path \"{0}\" is outside the allocation directory")]
    Escape(String),
    /// Nothing at that path.
    #[error("file \"{0}\" not found")]
    NotFound(String),
    /// Reading failed.
    #[error("{0}")]
    Io(#[from] std::io::Error),
}

/// Describes one file or directory.
pub fn stat(path: &Path) -> Result<AllocFileInfo, FsError> {
    let meta = std::fs::metadata(path)?;
    let name = path
        .file_name()
        .map(|n| n.to_string_lossy().into_owned())
        .unwrap_or_else(|| "/".into());
    let modified = meta
        .modified()
        .ok()
        .and_then(|t| t.duration_since(UNIX_EPOCH).ok())
        .map(|d| d.as_nanos() as i64)
        .unwrap_or(0);
    Ok(AllocFileInfo {
        name,
        is_dir: meta.is_dir(),
        size: i64::try_from(meta.len()).unwrap_or(i64::MAX),
        file_mode: file_mode_string(&meta),
        mod_time: caravan_structs::time::rfc3339(modified).into(),
        content_type: if meta.is_dir() {
            String::new()
        } else {
            "text/plain; charset=utf-8".into()
        },
    })
}

/// Lists a directory, sorted by name.
pub fn list(path: &Path) -> Result<Vec<AllocFileInfo>, FsError> {
    let mut entries = Vec::new();
    for entry in std::fs::read_dir(path)? {
        let entry = entry?;
        // A fifo or a dangling link still gets a line, like Nomad's.
        match stat(&entry.path()) {
            Ok(info) => entries.push(info),
            Err(_) => continue,
        }
    }
    entries.sort_by(|a, b| a.name.cmp(&b.name));
    Ok(entries)
}

/// Go's `os.FileMode.String()`: `drwxrwxrwx`, `-rw-r--r--`.
fn file_mode_string(meta: &std::fs::Metadata) -> String {
    use std::os::unix::fs::PermissionsExt;
    let mode = meta.permissions().mode();
    let mut text = String::with_capacity(10);
    text.push(if meta.is_dir() { 'd' } else { '-' });
    for (bit, ch) in [
        (0o400, 'r'),
        (0o200, 'w'),
        (0o100, 'x'),
        (0o040, 'r'),
        (0o020, 'w'),
        (0o010, 'x'),
        (0o004, 'r'),
        (0o002, 'w'),
        (0o001, 'x'),
    ] {
        text.push(if mode & bit != 0 { ch } else { '-' });
    }
    text
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn paths_outside_the_alloc_dir_are_refused() {
        let root = tempfile::tempdir().unwrap();
        let dir = AllocDir::new(root.path(), "a1").unwrap();
        dir.build().unwrap();
        dir.build_task("echo").unwrap();
        std::fs::write(dir.logs().join("echo.stdout.0"), "hi\n").unwrap();
        std::os::unix::fs::symlink("/etc", dir.shared().join("tmp/out")).unwrap();
        assert!(dir.resolve("alloc/logs/echo.stdout.0").is_ok());
        assert!(dir.resolve("/alloc/logs/").is_ok());
        for bad in [
            "../../etc/passwd",
            "alloc/../../x",
            "alloc/tmp/out/passwd",
            "alloc/tmp/out",
        ] {
            assert!(
                matches!(dir.resolve(bad), Err(FsError::Escape(_))),
                "{bad} was not refused"
            );
        }
        assert!(matches!(
            dir.resolve("alloc/nothing"),
            Err(FsError::NotFound(_))
        ));
    }
}

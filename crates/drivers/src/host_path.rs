//! The one way a host path is built from job data: allocation IDs, task names, log file
//! names, cgroup names, template and artifact destinations. Each join stays under the
//! root it is given, whatever the data says: a name is exactly one path component
//! (never `/x`, `..`, a NUL), a relative path cannot climb above its root, and a symlink
//! already on the way cannot lead out of it.
//!
//! Names were checked at submit already ([`caravan_structs::names`]); this is the
//! client's own check, because a client must not trust that every writer of the state
//! did.

use std::path::{Component, Path, PathBuf};

use caravan_structs::names::path_component_problem;

/// Why a path built from job data was refused.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum HostPathError {
    /// A name that is not exactly one plain path component.
    #[error("{what} {} {problem}", caravan_structs::names::quoted(name))]
    BadName {
        what: &'static str,
        name: String,
        problem: &'static str,
    },
    /// A relative path that climbs above its root (`../..`) or holds a NUL.
    #[error("path {} leaves {}", caravan_structs::names::quoted(path), root.display())]
    Escapes { path: String, root: PathBuf },
    /// A symlink on the way leads outside the root.
    #[error("path {} leads outside {} through the symlink {}", caravan_structs::names::quoted(path), root.display(), link.display())]
    SymlinkEscape {
        path: String,
        root: PathBuf,
        link: PathBuf,
    },
}

/// `root/<name>`, where `name` (`what` says what it is, for the error) must be one plain
/// component, and `root/<name>` must not be a symlink.
///
/// ```
/// use std::path::Path;
/// use caravan_drivers::host_path::join_name;
/// assert_eq!(join_name(Path::new("/data/alloc"), "task", "web").unwrap(), Path::new("/data/alloc/web"));
/// assert!(join_name(Path::new("/data/alloc"), "task", "/etc").is_err());
/// assert!(join_name(Path::new("/data/alloc"), "task", "..").is_err());
/// ```
pub fn join_name(root: &Path, what: &'static str, name: &str) -> Result<PathBuf, HostPathError> {
    if let Some(problem) = path_component_problem(name) {
        return Err(HostPathError::BadName {
            what,
            name: name.to_string(),
            problem,
        });
    }
    let path = root.join(name);
    if std::fs::symlink_metadata(&path).is_ok_and(|m| m.file_type().is_symlink()) {
        return Err(HostPathError::SymlinkEscape {
            path: name.to_string(),
            root: root.to_path_buf(),
            link: path,
        });
    }
    Ok(path)
}

/// `root/<relative>` for a path of several components written in a job (a template's or
/// artifact's destination): a leading `/` means `root`, `.` is skipped, `..` goes up but
/// never above `root`, and every part that already exists must stay inside `root` once
/// symlinks are followed. What does not exist yet is created by the caller, through
/// directories this check has seen.
///
/// ```
/// use std::path::Path;
/// use caravan_drivers::host_path::join_beneath;
/// let root = Path::new("/nonexistent/alloc");
/// assert_eq!(join_beneath(root, "web/local/../local/x").unwrap(), root.join("web/local/x"));
/// assert!(join_beneath(root, "web/../../etc/passwd").is_err());
/// ```
pub fn join_beneath(root: &Path, relative: &str) -> Result<PathBuf, HostPathError> {
    let escapes = || HostPathError::Escapes {
        path: relative.to_string(),
        root: root.to_path_buf(),
    };
    if relative.contains('\0') {
        return Err(escapes());
    }
    let mut parts: Vec<&std::ffi::OsStr> = Vec::new();
    for component in Path::new(relative).components() {
        match component {
            Component::Normal(part) => parts.push(part),
            Component::ParentDir => {
                parts.pop().ok_or_else(escapes)?;
            }
            Component::CurDir | Component::RootDir | Component::Prefix(_) => {}
        }
    }
    let mut path = root.to_path_buf();
    path.extend(&parts);
    check_symlinks(root, &parts, relative)?;
    Ok(path)
}

/// Walks `root/parts...` and fails when an existing part is a symlink whose target is
/// outside `root` (a symlink inside is fine: the task may link its own files).
fn check_symlinks(
    root: &Path,
    parts: &[&std::ffi::OsStr],
    relative: &str,
) -> Result<(), HostPathError> {
    // A root that does not exist yet has nothing under it to follow.
    let Ok(real_root) = root.canonicalize() else {
        return Ok(());
    };
    let mut path = root.to_path_buf();
    for part in parts {
        path.push(part);
        match std::fs::symlink_metadata(&path) {
            Err(_) => return Ok(()),
            Ok(meta) if meta.file_type().is_symlink() => {
                let inside = path
                    .canonicalize()
                    .is_ok_and(|real| real.starts_with(&real_root));
                if !inside {
                    return Err(HostPathError::SymlinkEscape {
                        path: relative.to_string(),
                        root: root.to_path_buf(),
                        link: path,
                    });
                }
            }
            Ok(_) => {}
        }
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A small deterministic generator (xorshift), so a failure names its case.
    struct Rng(u64);

    impl Rng {
        fn next(&mut self) -> u64 {
            self.0 ^= self.0 << 13;
            self.0 ^= self.0 >> 7;
            self.0 ^= self.0 << 17;
            self.0
        }
    }

    /// Names built from the pieces attacks are made of.
    fn hostile(rng: &mut Rng) -> String {
        const PIECES: &[&str] = &[
            "/", "..", ".", "\\", "\0", "\n", "etc", "a", "-", " ", "~", "..\\", "%2e", "日",
            "\u{202e}", "//", "tmp", "x.y",
        ];
        let len = (rng.next() % 8) as usize;
        (0..len)
            .map(|_| PIECES[(rng.next() % PIECES.len() as u64) as usize])
            .collect()
    }

    #[test]
    fn hostile_names_never_leave_the_root() {
        let dir = tempfile::tempdir().unwrap();
        let root = dir.path().join("alloc");
        std::fs::create_dir_all(root.join("web/local")).unwrap();
        std::os::unix::fs::symlink("/etc", root.join("web/out")).unwrap();
        std::os::unix::fs::symlink("local", root.join("web/in")).unwrap();
        let real_root = root.canonicalize().unwrap();
        let mut rng = Rng(0x9e37_79b9_7f4a_7c15);
        for _ in 0..50_000 {
            let name = hostile(&mut rng);
            if let Ok(path) = join_name(&root, "task", &name) {
                assert_eq!(path.parent(), Some(root.as_path()), "{name:?}");
                assert_eq!(path.file_name().unwrap().to_str(), Some(name.as_str()));
            }
            let relative = format!("web/{name}");
            if let Ok(path) = join_beneath(&root, &relative) {
                assert!(path.starts_with(&root), "{relative:?} gave {path:?}");
                assert!(
                    !path.components().any(|c| c == Component::ParentDir),
                    "{relative:?} gave {path:?}"
                );
                // Whatever exists of it resolves inside the root.
                let mut existing = path.as_path();
                while !existing.exists() {
                    existing = existing.parent().unwrap();
                }
                let real = existing.canonicalize().unwrap();
                assert!(
                    real.starts_with(&real_root),
                    "{relative:?} resolves to {real:?}"
                );
            }
        }
    }

    #[test]
    fn names_are_one_plain_component() {
        let root = Path::new("/data/alloc");
        for bad in [
            "", ".", "..", "/tmp/x", "../../..", "a/b", "a\\b", "a\0", "a\nb",
        ] {
            assert!(join_name(root, "task", bad).is_err(), "{bad:?}");
        }
        let error = join_name(root, "task", "/etc").unwrap_err();
        assert_eq!(error.to_string(), "task \"/etc\" cannot include slashes");
        assert_eq!(
            join_name(root, "task", "web.1").unwrap(),
            Path::new("/data/alloc/web.1")
        );
    }

    #[test]
    fn relative_paths_stay_beneath_and_symlinks_out_are_refused() {
        let dir = tempfile::tempdir().unwrap();
        let root = dir.path();
        std::fs::create_dir_all(root.join("web/local")).unwrap();
        std::os::unix::fs::symlink("/etc", root.join("web/local/out")).unwrap();
        std::os::unix::fs::symlink("../local", root.join("web/local/back")).unwrap();
        let ok = [
            ("web/local/x", "web/local/x"),
            ("/web/local/x", "web/local/x"),
            ("web/./local/../local/x", "web/local/x"),
            ("web/local/back/x", "web/local/back/x"),
            ("web/local/new/deeper/x", "web/local/new/deeper/x"),
        ];
        for (relative, want) in ok {
            assert_eq!(
                join_beneath(root, relative).unwrap(),
                root.join(want),
                "{relative}"
            );
        }
        for bad in [
            "..",
            "web/../../x",
            "../etc/passwd",
            "web/local/out/passwd",
            "a\0b",
        ] {
            assert!(join_beneath(root, bad).is_err(), "{bad:?}");
        }
    }
}

//! What a name from a job may be. Task names become directories, log files and cgroups
//! on a client, and IDs travel in URL paths, so a name that could be read as a path (a
//! slash, `.` or `..`), a NUL or a control character is refused at submit, and lengths
//! are bounded. The client joins names onto host paths only through a checked join
//! (`caravan_drivers::host_path`) that applies [`path_component_problem`] again.

/// The longest job ID a user may submit, in bytes. Nomad sets no limit; Caravan does so
/// that every ID fits a URL and every derived name fits a file name (255 bytes).
pub const MAX_JOB_ID_BYTES: usize = 128;

/// The longest group or task name, in bytes: `<alloc id>.<task>` must stay a valid
/// cgroup and file name (255 bytes), with room for `.stdout.<n>` suffixes.
pub const MAX_NAME_BYTES: usize = 128;

/// Why `name` cannot be one component of a host path, or `None` when it can. The
/// sentence completes "<what> ...", as in `Task name cannot include slashes`.
///
/// ```
/// use caravan_structs::names::path_component_problem;
/// assert_eq!(path_component_problem("web"), None);
/// assert_eq!(path_component_problem("../etc"), Some("cannot include slashes"));
/// assert_eq!(path_component_problem(".."), Some("cannot be \".\" or \"..\""));
/// ```
pub fn path_component_problem(name: &str) -> Option<&'static str> {
    if name.is_empty() {
        return Some("is empty");
    }
    if name == "." || name == ".." {
        return Some("cannot be \".\" or \"..\"");
    }
    // Nomad: "Task name cannot include slashes" (either kind, for Windows clients).
    if name.contains(['/', '\\']) {
        return Some("cannot include slashes");
    }
    if name.contains('\0') {
        return Some("cannot include null characters");
    }
    if name.chars().any(char::is_control) {
        return Some("cannot include control characters");
    }
    None
}

/// A name as it appears inside an error message: quoted, control characters escaped,
/// and cut short when very long, so a hostile name cannot forge or flood the message.
pub fn quoted(name: &str) -> String {
    const SHOWN: usize = 64;
    let mut shown: String = name.chars().take(SHOWN).collect();
    if shown.len() < name.len() {
        shown.push('…');
    }
    format!("\"{}\"", shown.escape_debug())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_that_could_be_read_as_paths_are_refused() {
        let cases: &[(&str, Option<&str>)] = &[
            ("web", None),
            ("web-1.v2_x", None),
            ("日本語", None),
            ("...", None),
            ("", Some("is empty")),
            (".", Some("cannot be \".\" or \"..\"")),
            ("..", Some("cannot be \".\" or \"..\"")),
            ("/tmp/x", Some("cannot include slashes")),
            ("../../etc", Some("cannot include slashes")),
            ("a\\b", Some("cannot include slashes")),
            ("a\0b", Some("cannot include null characters")),
            ("a\nb", Some("cannot include control characters")),
            ("a\u{7f}", Some("cannot include control characters")),
        ];
        for (name, want) in cases {
            assert_eq!(path_component_problem(name), *want, "{name:?}");
        }
    }

    #[test]
    fn quoted_names_are_escaped_and_bounded() {
        assert_eq!(quoted("web"), "\"web\"");
        assert_eq!(quoted("a\nb"), "\"a\\nb\"");
        let long = "x".repeat(100_000);
        assert!(quoted(&long).chars().count() < 80);
    }
}

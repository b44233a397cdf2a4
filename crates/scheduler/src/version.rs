//! Version constraints: hashicorp/go-version (`version`) and Semver 2.0 (`semver`).
//!
//! A constraint is a comma-separated list of `op version` terms that must all hold; ops are
//! `=`, `!=`, `>`, `<`, `>=`, `<=` and `~>` (pessimistic: `~> 1.2` means `>= 1.2, < 2.0`).

use std::cmp::Ordering;

/// A parsed version: numeric segments plus an optional pre-release.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Version {
    pub segments: Vec<u64>,
    /// Number of segments as written (`~>` needs it).
    pub written: usize,
    pub prerelease: String,
}

/// Parses `v1.2.3-beta+meta`, `5.15.0-67-generic`, `3.19`.
pub fn parse(text: &str) -> Option<Version> {
    let text = text.trim();
    let text = text.strip_prefix('v').unwrap_or(text);
    let text = text.split('+').next().unwrap_or("");
    let (core, prerelease) = match text.split_once('-') {
        Some((core, pre)) if !pre.is_empty() => (core, pre.to_string()),
        Some(_) => return None,
        None => (text, String::new()),
    };
    let mut segments = Vec::new();
    for part in core.split('.') {
        segments.push(part.parse::<u64>().ok()?);
    }
    if segments.is_empty() {
        return None;
    }
    let written = segments.len();
    Some(Version {
        segments,
        written,
        prerelease,
    })
}

fn compare(a: &Version, b: &Version, semver: bool) -> Ordering {
    let len = a.segments.len().max(b.segments.len());
    for i in 0..len {
        let x = a.segments.get(i).copied().unwrap_or(0);
        let y = b.segments.get(i).copied().unwrap_or(0);
        if x != y {
            return x.cmp(&y);
        }
    }
    match (a.prerelease.is_empty(), b.prerelease.is_empty()) {
        (true, true) => Ordering::Equal,
        (true, false) => Ordering::Greater,
        (false, true) => Ordering::Less,
        (false, false) if semver => compare_prerelease(&a.prerelease, &b.prerelease),
        (false, false) => a.prerelease.cmp(&b.prerelease),
    }
}

fn compare_prerelease(a: &str, b: &str) -> Ordering {
    let mut left = a.split('.');
    let mut right = b.split('.');
    loop {
        match (left.next(), right.next()) {
            (None, None) => return Ordering::Equal,
            (None, Some(_)) => return Ordering::Less,
            (Some(_), None) => return Ordering::Greater,
            (Some(x), Some(y)) => {
                let order = match (x.parse::<u64>(), y.parse::<u64>()) {
                    (Ok(x), Ok(y)) => x.cmp(&y),
                    (Ok(_), Err(_)) => Ordering::Less,
                    (Err(_), Ok(_)) => Ordering::Greater,
                    (Err(_), Err(_)) => x.cmp(y),
                };
                if order != Ordering::Equal {
                    return order;
                }
            }
        }
    }
}

/// Whether `version` satisfies every term of `constraint`. Unparsable input never matches.
///
/// go-version's rule is kept: a term without a pre-release never matches a pre-release
/// version (so `5.15.0-67-generic` fails `> 3.19`), unless `semver` is set.
pub fn matches(version: &str, constraint: &str, semver: bool) -> bool {
    let Some(version) = parse(version) else {
        return false;
    };
    constraint.split(',').all(|term| {
        let term = term.trim();
        let (op, rest) = split_operator(term);
        let Some(wanted) = parse(rest) else {
            return false;
        };
        if !semver && !version.prerelease.is_empty() {
            if wanted.prerelease.is_empty() {
                return false;
            }
            let same_core = compare(
                &Version {
                    prerelease: String::new(),
                    ..version.clone()
                },
                &Version {
                    prerelease: String::new(),
                    ..wanted.clone()
                },
                false,
            );
            if same_core != Ordering::Equal {
                return false;
            }
        }
        let order = compare(&version, &wanted, semver);
        match op {
            "=" | "" => order == Ordering::Equal,
            "!=" => order != Ordering::Equal,
            ">" => order == Ordering::Greater,
            "<" => order == Ordering::Less,
            ">=" => order != Ordering::Less,
            "<=" => order != Ordering::Greater,
            "~>" => {
                if order == Ordering::Less {
                    return false;
                }
                // `~> 1.2.3` allows 1.2.x; `~> 1.2` allows 1.x.
                let keep = wanted.written.saturating_sub(1).max(1);
                version
                    .segments
                    .iter()
                    .take(keep)
                    .eq(wanted.segments.iter().take(keep))
            }
            _ => false,
        }
    })
}

/// Checks that `constraint` is a well-formed constraint list (what go-version's
/// `NewConstraint` and Nomad's semver `NewConstraint` accept): comma-separated terms, each
/// an optional operator and a version. `Err` names the first bad term.
pub fn parse_constraint(constraint: &str) -> Result<(), String> {
    for term in constraint.split(',') {
        let term = term.trim();
        let (_, rest) = split_operator(term);
        if term.is_empty() || parse(rest).is_none() || rest.starts_with(['<', '>', '=', '!', '~']) {
            return Err(format!("malformed constraint term \"{term}\""));
        }
    }
    Ok(())
}

fn split_operator(term: &str) -> (&str, &str) {
    for op in ["~>", ">=", "<=", "!=", ">", "<", "="] {
        if let Some(rest) = term.strip_prefix(op) {
            return (op, rest.trim());
        }
    }
    ("", term)
}

#[cfg(test)]
mod tests {
    use super::{matches, parse_constraint};

    #[test]
    fn constraint_syntax() {
        for good in [
            "> 3.19",
            ">= 1.2, < 2.0",
            "~> 1.2",
            "= 1.0.0-beta1",
            "1.2",
            "!= 2",
        ] {
            assert_eq!(parse_constraint(good), Ok(()), "{good}");
        }
        for bad in ["", ">> 3.19", ">= 1.2,", "~>", "abc", "> 1.x"] {
            assert!(parse_constraint(bad).is_err(), "{bad}");
        }
    }

    #[test]
    fn version_constraints() {
        let cases = [
            ("4.19.0", "> 3.19", false, true),
            ("3.19", "> 3.19", false, false),
            ("3.19", ">= 3.19", false, true),
            ("1.2.5", "~> 1.2.3", false, true),
            ("1.3.0", "~> 1.2.3", false, false),
            ("1.9", "~> 1.2", false, true),
            ("2.0", "~> 1.2", false, false),
            ("1.5.0", ">= 1.0, < 2.0", false, true),
            ("2.5.0", ">= 1.0, < 2.0", false, false),
            ("5.15.0-67-generic", "> 3.19", false, false),
            ("1.3.0-beta1", ">= 0.6.1", true, true),
            ("1.0.0-alpha", "< 1.0.0", true, true),
            ("22.04", ">= 14.04", false, true),
            ("not-a-version", "> 1", false, false),
        ];
        for (version, constraint, semver, want) in cases {
            assert_eq!(
                matches(version, constraint, semver),
                want,
                "{version} {constraint} semver={semver}"
            );
        }
    }
}

//! Version constraints: hashicorp/go-version (`version`) and Semver 2.0 (`semver`), one
//! parser for the submit-time checks and the scheduler.
//!
//! A constraint is a comma-separated list of `op version` terms that must all hold; ops are
//! `=`, `!=`, `>`, `<`, `>=`, `<=` and `~>` (pessimistic: `~> 1.2` means `>= 1.2, < 2.0`).

use std::cmp::Ordering;

/// The most numeric segments a version in a constraint may have (`1.2.3.4`).
const MAX_CONSTRAINT_SEGMENTS: usize = 4;

/// A parsed version: numeric segments plus an optional pre-release.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Version {
    pub segments: Vec<u64>,
    /// Number of segments as written (`~>` needs it).
    pub written: usize,
    pub prerelease: String,
}

/// Parses `v1.2.3-beta+meta`, `5.15.0-67-generic`, `3.19`: a node's version, any number
/// of segments.
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

/// A term's operator.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Op {
    Equal,
    NotEqual,
    Greater,
    Less,
    GreaterOrEqual,
    LessOrEqual,
    /// `~>`.
    Pessimistic,
}

/// The operators a term may start with, longest first.
const OPERATORS: [(&str, Op); 7] = [
    ("~>", Op::Pessimistic),
    (">=", Op::GreaterOrEqual),
    ("<=", Op::LessOrEqual),
    ("!=", Op::NotEqual),
    (">", Op::Greater),
    ("<", Op::Less),
    ("=", Op::Equal),
];

/// A parsed constraint: every term must hold.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct VersionConstraint {
    terms: Vec<(Op, Version)>,
    semver: bool,
}

impl VersionConstraint {
    /// Parses a constraint list as go-version's `NewConstraint` (or, with `semver`, Nomad's
    /// semver constraint) reads it: comma-separated terms, each an optional operator and a
    /// version of 1 to 4 numeric segments with an optional `-prerelease` and `+metadata`.
    /// The error names the first bad term: `Malformed constraint: >> 3.19`.
    ///
    /// ```
    /// use caravan_structs::version::VersionConstraint;
    /// let c = VersionConstraint::parse(">= 1.2, < 2.0", false).unwrap();
    /// assert!(c.matches("1.9.3") && !c.matches("2.0"));
    /// assert_eq!(VersionConstraint::parse("> 1.x", false).unwrap_err(), "Malformed constraint: > 1.x");
    /// ```
    pub fn parse(text: &str, semver: bool) -> Result<VersionConstraint, String> {
        let terms = text
            .split(',')
            .map(|term| {
                let term = term.trim();
                parse_term(term).ok_or_else(|| format!("Malformed constraint: {term}"))
            })
            .collect::<Result<Vec<_>, String>>()?;
        Ok(VersionConstraint { terms, semver })
    }

    /// Whether `version` satisfies every term. An unparsable version never matches.
    ///
    /// go-version's rule is kept: a term without a pre-release never matches a
    /// pre-release version (so `5.15.0-67-generic` fails `> 3.19`), unless `semver` is set.
    pub fn matches(&self, version: &str) -> bool {
        let Some(version) = parse(version) else {
            return false;
        };
        self.terms
            .iter()
            .all(|(op, wanted)| term_holds(&version, *op, wanted, self.semver))
    }
}

/// `op version`, the operator optional; `None` when malformed.
fn parse_term(term: &str) -> Option<(Op, Version)> {
    let (op, rest) = OPERATORS
        .iter()
        .find_map(|(text, op)| term.strip_prefix(text).map(|rest| (*op, rest.trim())))
        .unwrap_or((Op::Equal, term));
    let unprefixed = rest.strip_prefix('v').unwrap_or(rest);
    let core = unprefixed.split(['-', '+']).next().unwrap_or("");
    let well_formed = !core.is_empty()
        && core.split('.').count() <= MAX_CONSTRAINT_SEGMENTS
        && core
            .split('.')
            .all(|p| !p.is_empty() && p.bytes().all(|b| b.is_ascii_digit()));
    if !well_formed {
        return None;
    }
    Some((op, parse(rest)?))
}

fn term_holds(version: &Version, op: Op, wanted: &Version, semver: bool) -> bool {
    let without_prerelease = |v: &Version| Version {
        prerelease: String::new(),
        ..v.clone()
    };
    if !semver && !version.prerelease.is_empty() {
        if wanted.prerelease.is_empty() {
            return false;
        }
        let same_core = compare(
            &without_prerelease(version),
            &without_prerelease(wanted),
            false,
        );
        if same_core != Ordering::Equal {
            return false;
        }
    }
    let order = compare(version, wanted, semver);
    match op {
        Op::Equal => order == Ordering::Equal,
        Op::NotEqual => order != Ordering::Equal,
        Op::Greater => order == Ordering::Greater,
        Op::Less => order == Ordering::Less,
        Op::GreaterOrEqual => order != Ordering::Less,
        Op::LessOrEqual => order != Ordering::Greater,
        Op::Pessimistic => {
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
    }
}

#[cfg(test)]
mod tests {
    use super::VersionConstraint;

    #[test]
    fn constraint_syntax() {
        for good in [
            "> 3.19",
            ">= 1.2, < 2.0",
            "~> 1.2",
            "= 1.0.0-beta1",
            "1.2",
            "!= 2",
            "v1.2.3+build",
        ] {
            assert!(VersionConstraint::parse(good, false).is_ok(), "{good}");
        }
        for bad in [
            "",
            ">> 3.19",
            ">= 1.2,",
            "~>",
            "abc",
            "> 1.x",
            "1.2.3.4.5",
            "1.2-",
        ] {
            assert!(VersionConstraint::parse(bad, false).is_err(), "{bad}");
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
            let parsed = VersionConstraint::parse(constraint, semver).unwrap();
            assert_eq!(
                parsed.matches(version),
                want,
                "{version} {constraint} semver={semver}"
            );
        }
    }
}

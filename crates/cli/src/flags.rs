//! A flag parser that behaves like Go's `flag` package, which Nomad's CLI uses.
//!
//! Rules (Go's `FlagSet.parseOne`): `-name` and `--name` are the same; `-name=value`
//! always works; a non-bool flag takes the next argument as its value even when it
//! starts with `-`; bool flags only take a value with `=`; parsing stops at the first
//! non-flag argument (including a lone `-`) or after `--`. Errors read exactly like
//! Go's: `flag provided but not defined: -foo`.

use std::collections::HashMap;
use std::fmt;

/// What kind of value a flag carries.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum FlagKind {
    /// `-detach`, `-detach=false`.
    Bool,
    /// `-address=http://...`, `-address http://...`; the last one given wins.
    String,
    /// An integer (`-n 5`), checked while parsing like Go's `IntVar`.
    Int,
    /// A repeatable string (`-var a=1 -var b=2`); every value is kept, in order.
    List,
}

/// Why the arguments could not be parsed. `Display` matches Go's messages.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum FlagError {
    /// `-h`, `-help` or `--help` was given and is not a defined flag.
    Help,
    /// An unknown flag, e.g. `-foo`.
    NotDefined(String),
    /// A non-bool flag at the end of the arguments without a value.
    NeedsArgument(String),
    /// A bool flag given a value that is not a Go boolean.
    InvalidBool {
        /// Flag name, without dashes.
        name: String,
        /// The rejected value.
        value: String,
    },
    /// An int flag given a value that is not an integer.
    InvalidValue {
        /// Flag name, without dashes.
        name: String,
        /// The rejected value.
        value: String,
    },
    /// `---x`, `-=x` and the like.
    BadSyntax(String),
}

impl fmt::Display for FlagError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            FlagError::Help => write!(f, "flag: help requested"),
            FlagError::NotDefined(name) => write!(f, "flag provided but not defined: -{name}"),
            FlagError::NeedsArgument(name) => write!(f, "flag needs an argument: -{name}"),
            FlagError::InvalidBool { name, value } => {
                write!(
                    f,
                    "invalid boolean value {value:?} for -{name}: parse error"
                )
            }
            FlagError::InvalidValue { name, value } => {
                write!(f, "invalid value {value:?} for flag -{name}: parse error")
            }
            FlagError::BadSyntax(arg) => write!(f, "bad flag syntax: {arg}"),
        }
    }
}

impl std::error::Error for FlagError {}

/// The flags one command accepts.
#[derive(Debug, Clone, Default)]
pub struct FlagSet {
    defs: HashMap<String, FlagKind>,
}

impl FlagSet {
    /// An empty set.
    pub fn new() -> FlagSet {
        FlagSet::default()
    }

    /// Adds a flag; builder style.
    pub fn flag(mut self, name: &str, kind: FlagKind) -> FlagSet {
        self.defs.insert(name.to_string(), kind);
        self
    }

    /// Adds several bool flags.
    pub fn bools(mut self, names: &[&str]) -> FlagSet {
        for name in names {
            self.defs.insert((*name).to_string(), FlagKind::Bool);
        }
        self
    }

    /// Adds several string flags.
    pub fn strings(mut self, names: &[&str]) -> FlagSet {
        for name in names {
            self.defs.insert((*name).to_string(), FlagKind::String);
        }
        self
    }

    /// Parses `args` (without the command words). See the module docs for the rules.
    ///
    /// ```
    /// use caravan_cli::flags::{FlagKind, FlagSet};
    /// let set = FlagSet::new().flag("detach", FlagKind::Bool);
    /// let parsed = set.parse(&["-detach".into(), "job.nomad".into()]).unwrap();
    /// assert!(parsed.bool("detach"));
    /// assert_eq!(parsed.args, vec!["job.nomad".to_string()]);
    /// ```
    pub fn parse(&self, args: &[String]) -> Result<Parsed, FlagError> {
        let mut parsed = Parsed::default();
        let mut i = 0;
        while i < args.len() {
            let arg = &args[i];
            if arg.len() < 2 || !arg.starts_with('-') {
                break;
            }
            let mut name = &arg[1..];
            if let Some(rest) = name.strip_prefix('-') {
                if rest.is_empty() {
                    // `--` ends the flags and is itself dropped.
                    i += 1;
                    break;
                }
                name = rest;
            }
            if name.is_empty() || name.starts_with('-') || name.starts_with('=') {
                return Err(FlagError::BadSyntax(arg.clone()));
            }
            i += 1;
            let (name, inline_value) = match name.find('=') {
                Some(eq) => (&name[..eq], Some(&name[eq + 1..])),
                None => (name, None),
            };
            let Some(kind) = self.defs.get(name).copied() else {
                if name == "h" || name == "help" {
                    return Err(FlagError::Help);
                }
                return Err(FlagError::NotDefined(name.to_string()));
            };
            let value = match kind {
                FlagKind::Bool => {
                    let raw = inline_value.unwrap_or("true");
                    match parse_go_bool(raw) {
                        Some(b) => b.to_string(),
                        None => {
                            return Err(FlagError::InvalidBool {
                                name: name.to_string(),
                                value: raw.to_string(),
                            });
                        }
                    }
                }
                _ => match inline_value {
                    Some(v) => v.to_string(),
                    None if i < args.len() => {
                        i += 1;
                        args[i - 1].clone()
                    }
                    None => return Err(FlagError::NeedsArgument(name.to_string())),
                },
            };
            if kind == FlagKind::Int && parse_go_int(&value).is_none() {
                return Err(FlagError::InvalidValue {
                    name: name.to_string(),
                    value,
                });
            }
            parsed
                .values
                .entry(name.to_string())
                .or_default()
                .push(value);
        }
        parsed.args = args[i..].to_vec();
        Ok(parsed)
    }
}

/// Go's `strconv.ParseBool`.
fn parse_go_bool(s: &str) -> Option<bool> {
    match s {
        "1" | "t" | "T" | "TRUE" | "true" | "True" => Some(true),
        "0" | "f" | "F" | "FALSE" | "false" | "False" => Some(false),
        _ => None,
    }
}

/// Go's `strconv.ParseInt(s, 0, 64)`: decimal, `0x`, `0o`/`0`, `0b`, optional sign.
fn parse_go_int(s: &str) -> Option<i64> {
    let (negative, digits) = match s.strip_prefix('-') {
        Some(rest) => (true, rest),
        None => (false, s.strip_prefix('+').unwrap_or(s)),
    };
    let lower = digits.to_ascii_lowercase();
    let magnitude = if let Some(hex) = lower.strip_prefix("0x") {
        i64::from_str_radix(hex, 16).ok()?
    } else if let Some(bin) = lower.strip_prefix("0b") {
        i64::from_str_radix(bin, 2).ok()?
    } else if let Some(oct) = lower.strip_prefix("0o") {
        i64::from_str_radix(oct, 8).ok()?
    } else if lower.len() > 1 && lower.starts_with('0') {
        i64::from_str_radix(&lower[1..], 8).ok()?
    } else {
        if lower.is_empty() || !lower.bytes().all(|b| b.is_ascii_digit()) {
            return None;
        }
        lower.parse::<i64>().ok()?
    };
    Some(if negative { -magnitude } else { magnitude })
}

/// The result of [`FlagSet::parse`]: flag values and the remaining arguments.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Parsed {
    values: HashMap<String, Vec<String>>,
    /// Arguments after the flags.
    pub args: Vec<String>,
}

impl Parsed {
    /// A bool flag's value (false when not given; the last one given wins).
    pub fn bool(&self, name: &str) -> bool {
        self.string(name).is_some_and(|v| v == "true")
    }

    /// A string flag's last value, if given.
    pub fn string(&self, name: &str) -> Option<&str> {
        self.values
            .get(name)
            .and_then(|v| v.last())
            .map(String::as_str)
    }

    /// Whether the flag was given at all.
    pub fn is_set(&self, name: &str) -> bool {
        self.values.contains_key(name)
    }

    /// An int flag's last value, if given (validated while parsing).
    pub fn int(&self, name: &str) -> Option<i64> {
        self.string(name).and_then(parse_go_int)
    }

    /// Every value of a repeatable flag, in the order given.
    pub fn list(&self, name: &str) -> Vec<String> {
        self.values.get(name).cloned().unwrap_or_default()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn set() -> FlagSet {
        FlagSet::new()
            .bools(&["detach", "verbose"])
            .strings(&["address"])
            .flag("var", FlagKind::List)
            .flag("n", FlagKind::Int)
    }

    fn args(s: &[&str]) -> Vec<String> {
        s.iter().map(|a| a.to_string()).collect()
    }

    #[test]
    fn table() {
        struct Case {
            name: &'static str,
            input: &'static [&'static str],
            check: fn(Result<Parsed, FlagError>),
        }
        let cases = [
            Case {
                name: "bool_single_dash",
                input: &["-detach", "a"],
                check: |r| {
                    let p = r.unwrap();
                    assert!(p.bool("detach"));
                    assert_eq!(p.args, vec!["a"]);
                },
            },
            Case {
                name: "bool_double_dash",
                input: &["--verbose"],
                check: |r| assert!(r.unwrap().bool("verbose")),
            },
            Case {
                name: "bool_explicit_false",
                input: &["-detach=false", "x"],
                check: |r| {
                    let p = r.unwrap();
                    assert!(!p.bool("detach"));
                    assert!(p.is_set("detach"));
                },
            },
            Case {
                name: "bool_go_spellings",
                input: &["-detach=T", "-verbose=0"],
                check: |r| {
                    let p = r.unwrap();
                    assert!(p.bool("detach"));
                    assert!(!p.bool("verbose"));
                },
            },
            Case {
                name: "bool_does_not_take_next_arg",
                input: &["-detach", "false"],
                check: |r| {
                    let p = r.unwrap();
                    assert!(p.bool("detach"));
                    assert_eq!(p.args, vec!["false"]);
                },
            },
            Case {
                name: "bool_bad_value",
                input: &["-detach=yes"],
                check: |r| {
                    assert_eq!(
                        r.unwrap_err().to_string(),
                        r#"invalid boolean value "yes" for -detach: parse error"#
                    )
                },
            },
            Case {
                name: "string_equals",
                input: &["-address=http://x:1"],
                check: |r| assert_eq!(r.unwrap().string("address"), Some("http://x:1")),
            },
            Case {
                name: "string_next_arg_even_with_dash",
                input: &["-address", "-weird", "job"],
                check: |r| {
                    let p = r.unwrap();
                    assert_eq!(p.string("address"), Some("-weird"));
                    assert_eq!(p.args, vec!["job"]);
                },
            },
            Case {
                name: "string_last_wins",
                input: &["-address=a", "--address", "b"],
                check: |r| assert_eq!(r.unwrap().string("address"), Some("b")),
            },
            Case {
                name: "string_empty_value",
                input: &["-address="],
                check: |r| assert_eq!(r.unwrap().string("address"), Some("")),
            },
            Case {
                name: "string_missing_value",
                input: &["-address"],
                check: |r| {
                    assert_eq!(
                        r.unwrap_err().to_string(),
                        "flag needs an argument: -address"
                    )
                },
            },
            Case {
                name: "repeated_list",
                input: &["-var", "a=1", "-var=b=2", "file"],
                check: |r| {
                    let p = r.unwrap();
                    assert_eq!(p.list("var"), vec!["a=1", "b=2"]);
                    assert_eq!(p.args, vec!["file"]);
                },
            },
            Case {
                name: "int_ok_and_hex",
                input: &["-n", "0x10"],
                check: |r| assert_eq!(r.unwrap().int("n"), Some(16)),
            },
            Case {
                name: "int_negative",
                input: &["-n=-1"],
                check: |r| assert_eq!(r.unwrap().int("n"), Some(-1)),
            },
            Case {
                name: "int_bad",
                input: &["-n", "ten"],
                check: |r| {
                    assert_eq!(
                        r.unwrap_err().to_string(),
                        r#"invalid value "ten" for flag -n: parse error"#
                    )
                },
            },
            Case {
                name: "unknown_flag",
                input: &["-foo"],
                check: |r| {
                    assert_eq!(
                        r.unwrap_err().to_string(),
                        "flag provided but not defined: -foo"
                    )
                },
            },
            Case {
                name: "unknown_flag_with_value_reports_name_only",
                input: &["--foo=bar"],
                check: |r| assert_eq!(r.unwrap_err(), FlagError::NotDefined("foo".into())),
            },
            Case {
                name: "stops_at_first_non_flag",
                input: &["job", "-detach"],
                check: |r| {
                    let p = r.unwrap();
                    assert!(!p.bool("detach"));
                    assert_eq!(p.args, vec!["job", "-detach"]);
                },
            },
            Case {
                name: "double_dash_terminates",
                input: &["-detach", "--", "-verbose"],
                check: |r| {
                    let p = r.unwrap();
                    assert!(!p.bool("verbose"));
                    assert_eq!(p.args, vec!["-verbose"]);
                },
            },
            Case {
                name: "lone_dash_is_an_argument",
                input: &["-", "x"],
                check: |r| assert_eq!(r.unwrap().args, vec!["-", "x"]),
            },
            Case {
                name: "triple_dash_is_bad_syntax",
                input: &["---x"],
                check: |r| assert_eq!(r.unwrap_err().to_string(), "bad flag syntax: ---x"),
            },
            Case {
                name: "dash_equals_is_bad_syntax",
                input: &["-=x"],
                check: |r| assert_eq!(r.unwrap_err().to_string(), "bad flag syntax: -=x"),
            },
            Case {
                name: "help_is_special",
                input: &["-help"],
                check: |r| assert_eq!(r.unwrap_err(), FlagError::Help),
            },
            Case {
                name: "short_help_is_special",
                input: &["-h"],
                check: |r| assert_eq!(r.unwrap_err(), FlagError::Help),
            },
        ];
        for case in cases {
            eprintln!("case {}", case.name);
            (case.check)(set().parse(&args(case.input)));
        }
    }
}

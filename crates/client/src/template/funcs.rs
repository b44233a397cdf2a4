//! consul-template's functions that need no Consul, Vault or Nomad API, offered to the
//! template engine (which has Go's built-ins) as [`TaskFunctions`]. Those that do need
//! one are refused by name when the template is parsed, so a task fails at once instead
//! of waiting (Nomad blocks the task until the data exists).

use std::collections::BTreeMap;
use std::path::Path;

use base64::Engine;
use base64::engine::general_purpose::{STANDARD, URL_SAFE};
use caravan_gotemplate::{Functions, Value, check_arity};
use sha2::Digest;

/// consul-template functions that read Consul.
const CONSUL: &[&str] = &[
    "key",
    "keyExists",
    "keyOrDefault",
    "ls",
    "safeLs",
    "tree",
    "safeTree",
    "service",
    "services",
    "connect",
    "caRoots",
    "caLeaf",
    "node",
    "nodes",
    "datacenters",
    "checks",
    "partitions",
    "peerings",
    "exportedServices",
    "byKey",
    "byTag",
    "byMeta",
];
/// consul-template functions that read Vault.
const VAULT: &[&str] = &["secret", "secrets", "pkiCert"];
/// Nomad's default `template { function_denylist }`.
const DENIED: &[&str] = &["plugin", "writeToFile"];

/// consul-template's functions Caravan implements (Go's built-ins are the engine's).
const IMPLEMENTED: &[&str] = &[
    "env",
    "envOrDefault",
    "file",
    "toUpper",
    "toLower",
    "toTitle",
    "trimSpace",
    "trimPrefix",
    "trimSuffix",
    "replaceAll",
    "regexReplaceAll",
    "regexMatch",
    "split",
    "join",
    "contains",
    "in",
    "base64Encode",
    "base64Decode",
    "base64URLEncode",
    "base64URLDecode",
    "parseInt",
    "parseFloat",
    "parseBool",
    "parseJSON",
    "toJSON",
    "toJSONPretty",
    "sha256Hex",
    "indent",
    "loop",
    "add",
    "subtract",
    "multiply",
    "divide",
    "modulo",
    "minimum",
    "maximum",
    "nomadService",
    "nomadServices",
    "nomadVar",
    "nomadVarExists",
    "nomadVarList",
    "nomadVarListSafe",
];

/// What consul-template's functions may see: the task's environment and directories.
pub(super) struct TaskFunctions<'a> {
    pub(super) env: &'a BTreeMap<String, String>,
    /// `file` reads relative paths from here and refuses paths outside the task's
    /// directory and the allocation's shared directory.
    pub(super) task_dir: &'a Path,
    pub(super) alloc_dir: &'a Path,
    /// What `nomadService` reads (and records the services it asks for in).
    pub(super) services: &'a super::services::CatalogData,
}

impl Functions for TaskFunctions<'_> {
    fn lookup(&self, name: &str) -> Option<Result<(), String>> {
        check(name)
    }

    fn call(&self, name: &str, args: Vec<Value>) -> Result<Value, String> {
        call(name, args, self)
    }
}

/// Whether a template may name `name`: `None` when consul-template has no such
/// function, an error message when Caravan refuses it.
fn check(name: &str) -> Option<Result<(), String>> {
    if IMPLEMENTED.contains(&name) {
        return Some(Ok(()));
    }
    let needs = if CONSUL.contains(&name) {
        "Consul"
    } else if VAULT.contains(&name) {
        "Vault"
    } else if DENIED.contains(&name) {
        return Some(Err(format!(
            "function {name:?} is disabled by the client's function_denylist"
        )));
    } else {
        return None;
    };
    Some(Err(format!(
        "function {name:?} needs {needs}, which Caravan does not support"
    )))
}

/// Calls a function with its evaluated arguments (a piped value last).
fn call(name: &str, args: Vec<Value>, ctx: &TaskFunctions) -> Result<Value, String> {
    let s = |i: usize| args[i].as_str().map(str::to_string);
    let text = |v: String| Ok(Value::Str(v));
    match name {
        "nomadService" => ctx.services.call(&args),
        "nomadServices" => ctx.services.call_all(&args),
        "nomadVar" => ctx.services.variable(&args),
        "nomadVarExists" => ctx.services.variable_exists(&args),
        "nomadVarList" | "nomadVarListSafe" => ctx.services.variable_list(name, &args),
        "env" => {
            check_arity(name, &args, 1)?;
            text(ctx.env.get(&s(0)?).cloned().unwrap_or_default())
        }
        "envOrDefault" => {
            check_arity(name, &args, 2)?;
            let value = ctx.env.get(&s(0)?).filter(|v| !v.is_empty()).cloned();
            text(value.unwrap_or(s(1)?))
        }
        "file" => {
            check_arity(name, &args, 1)?;
            text(read_file(&s(0)?, ctx)?)
        }
        "toUpper" => {
            check_arity(name, &args, 1)?;
            text(s(0)?.to_uppercase())
        }
        "toLower" => {
            check_arity(name, &args, 1)?;
            text(s(0)?.to_lowercase())
        }
        "toTitle" => {
            // Go's strings.Title: the first letter of each word upper-cased.
            check_arity(name, &args, 1)?;
            let mut out = String::new();
            let mut word_start = true;
            for c in s(0)?.chars() {
                if word_start {
                    out.extend(c.to_uppercase());
                } else {
                    out.push(c);
                }
                word_start = !c.is_alphanumeric() && c != '_' && c != '\'';
            }
            text(out)
        }
        "trimSpace" => {
            check_arity(name, &args, 1)?;
            text(s(0)?.trim().to_string())
        }
        "trimPrefix" => {
            check_arity(name, &args, 2)?;
            let (prefix, value) = (s(0)?, s(1)?);
            text(
                value
                    .strip_prefix(prefix.as_str())
                    .unwrap_or(&value)
                    .to_string(),
            )
        }
        "trimSuffix" => {
            check_arity(name, &args, 2)?;
            let (suffix, value) = (s(0)?, s(1)?);
            text(
                value
                    .strip_suffix(suffix.as_str())
                    .unwrap_or(&value)
                    .to_string(),
            )
        }
        "replaceAll" => {
            check_arity(name, &args, 3)?;
            text(s(2)?.replace(&s(0)?, &s(1)?))
        }
        "regexReplaceAll" => {
            check_arity(name, &args, 3)?;
            let re = regex::Regex::new(&s(0)?).map_err(|e| e.to_string())?;
            // Go's `$1` expansion is the regex crate's too.
            text(re.replace_all(&s(2)?, s(1)?.as_str()).into_owned())
        }
        "regexMatch" => {
            check_arity(name, &args, 2)?;
            let re = regex::Regex::new(&s(0)?).map_err(|e| e.to_string())?;
            Ok(Value::Bool(re.is_match(&s(1)?)))
        }
        "split" => {
            check_arity(name, &args, 2)?;
            let (sep, value) = (s(0)?, s(1)?);
            if value.is_empty() {
                return Ok(Value::List(Vec::new()));
            }
            Ok(Value::List(
                value
                    .split(sep.as_str())
                    .map(|p| Value::Str(p.to_string()))
                    .collect(),
            ))
        }
        "join" => {
            check_arity(name, &args, 2)?;
            let sep = s(0)?;
            match &args[1] {
                Value::List(items) => {
                    let parts: Vec<String> = items.iter().map(Value::to_go_string).collect();
                    text(parts.join(&sep))
                }
                other => Err(format!("expected a list; found {}", other.to_go_string())),
            }
        }
        "contains" | "in" => {
            check_arity(name, &args, 2)?;
            // `contains needle haystack` (piped: `haystack | contains needle`),
            // `in haystack needle`.
            let (needle, haystack) = if name == "contains" {
                (&args[0], &args[1])
            } else {
                (&args[1], &args[0])
            };
            match haystack {
                Value::List(items) => Ok(Value::Bool(items.contains(needle))),
                Value::Str(h) => Ok(Value::Bool(h.contains(needle.as_str()?))),
                Value::Map(m) => Ok(Value::Bool(m.contains_key(needle.as_str()?))),
                Value::Nil => Ok(Value::Bool(false)),
                other => Err(format!("cannot search in {}", other.type_name())),
            }
        }
        "base64Encode" | "base64URLEncode" => {
            check_arity(name, &args, 1)?;
            let engine = if name == "base64Encode" {
                &STANDARD
            } else {
                &URL_SAFE
            };
            text(engine.encode(s(0)?))
        }
        "base64Decode" | "base64URLDecode" => {
            check_arity(name, &args, 1)?;
            let engine = if name == "base64Decode" {
                &STANDARD
            } else {
                &URL_SAFE
            };
            let bytes = engine.decode(s(0)?).map_err(|e| format!("decoding: {e}"))?;
            text(String::from_utf8_lossy(&bytes).into_owned())
        }
        "parseInt" => {
            check_arity(name, &args, 1)?;
            Ok(Value::Int(
                s(0)?.trim().parse().map_err(|e| format!("{e}"))?,
            ))
        }
        "parseFloat" => {
            check_arity(name, &args, 1)?;
            Ok(Value::Float(
                s(0)?.trim().parse().map_err(|e| format!("{e}"))?,
            ))
        }
        "parseBool" => {
            check_arity(name, &args, 1)?;
            // Go's strconv.ParseBool.
            match s(0)?.as_str() {
                "1" | "t" | "T" | "true" | "TRUE" | "True" => Ok(Value::Bool(true)),
                "0" | "f" | "F" | "false" | "FALSE" | "False" => Ok(Value::Bool(false)),
                other => Err(format!("parsing {other:?}: invalid syntax")),
            }
        }
        "parseJSON" => {
            check_arity(name, &args, 1)?;
            let json: serde_json::Value =
                serde_json::from_str(&s(0)?).map_err(|e| e.to_string())?;
            Ok(from_json(json))
        }
        "toJSON" | "toJSONPretty" => {
            check_arity(name, &args, 1)?;
            let json = to_json(&args[0]);
            let rendered = if name == "toJSON" {
                serde_json::to_string(&json)
            } else {
                serde_json::to_string_pretty(&json)
            };
            text(rendered.map_err(|e| e.to_string())?)
        }
        "sha256Hex" => {
            check_arity(name, &args, 1)?;
            let digest = sha2::Sha256::digest(s(0)?.as_bytes());
            text(digest.iter().map(|b| format!("{b:02x}")).collect())
        }
        "indent" => {
            check_arity(name, &args, 2)?;
            let spaces = args[0].to_int()?;
            if spaces < 0 {
                return Err("indent value must be a positive integer".into());
            }
            let pad = " ".repeat(spaces as usize);
            let lines: Vec<String> = s(1)?.split('\n').map(|l| format!("{pad}{l}")).collect();
            text(lines.join("\n"))
        }
        "loop" => {
            let (start, stop) = match args.as_slice() {
                [stop] => (0, stop.to_int()?),
                [start, stop] => (start.to_int()?, stop.to_int()?),
                _ => {
                    return Err(format!(
                        "wrong number of args for loop: want 1 or 2 got {}",
                        args.len()
                    ));
                }
            };
            Ok(Value::List((start..stop).map(Value::Int).collect()))
        }
        "add" | "subtract" | "multiply" | "divide" | "modulo" | "minimum" | "maximum" => {
            check_arity(name, &args, 2)?;
            // consul-template: `{{ 5 | subtract 2 }}` is 5 - 2: the piped value is `a`.
            arithmetic(name, &args[1], &args[0])
        }
        other => Err(format!("function {other:?} not defined")),
    }
}

fn arithmetic(name: &str, a: &Value, b: &Value) -> Result<Value, String> {
    if let (Value::Int(a), Value::Int(b)) = (a, b) {
        let (a, b) = (*a, *b);
        return Ok(Value::Int(match name {
            "add" => a.wrapping_add(b),
            "subtract" => a.wrapping_sub(b),
            "multiply" => a.wrapping_mul(b),
            "divide" | "modulo" if b == 0 => return Err("division by zero".into()),
            "divide" => a / b,
            "modulo" => a % b,
            "minimum" => a.min(b),
            _ => a.max(b),
        }));
    }
    let float = |v: &Value| match v {
        Value::Int(n) => Ok(*n as f64),
        Value::Float(f) => Ok(*f),
        other => Err(format!("expected a number; found {}", other.to_go_string())),
    };
    let (a, b) = (float(a)?, float(b)?);
    Ok(Value::Float(match name {
        "add" => a + b,
        "subtract" => a - b,
        "multiply" => a * b,
        "divide" | "modulo" if b == 0.0 => return Err("division by zero".into()),
        "divide" => a / b,
        "modulo" => a % b,
        "minimum" => a.min(b),
        _ => a.max(b),
    }))
}

fn read_file(path: &str, ctx: &TaskFunctions) -> Result<String, String> {
    let path = ctx.task_dir.join(path);
    let real = path
        .canonicalize()
        .map_err(|e| format!("reading {}: {e}", path.display()))?;
    let inside = |dir: &std::path::Path| dir.canonicalize().is_ok_and(|d| real.starts_with(d));
    if !inside(ctx.task_dir) && !inside(ctx.alloc_dir) {
        return Err(format!(
            "{:?} is outside the task and allocation directories",
            path.display().to_string()
        ));
    }
    std::fs::read_to_string(&real).map_err(|e| format!("reading {}: {e}", path.display()))
}

fn from_json(json: serde_json::Value) -> Value {
    match json {
        serde_json::Value::Null => Value::Nil,
        serde_json::Value::Bool(b) => Value::Bool(b),
        serde_json::Value::Number(n) => match n.as_i64() {
            Some(i) => Value::Int(i),
            None => Value::Float(n.as_f64().unwrap_or(0.0)),
        },
        serde_json::Value::String(s) => Value::Str(s),
        serde_json::Value::Array(items) => Value::List(items.into_iter().map(from_json).collect()),
        serde_json::Value::Object(map) => Value::Map(
            map.into_iter()
                .map(|(k, v)| (k, from_json(v)))
                .collect::<BTreeMap<_, _>>(),
        ),
    }
}

fn to_json(value: &Value) -> serde_json::Value {
    match value {
        Value::Nil => serde_json::Value::Null,
        Value::Bool(b) => (*b).into(),
        Value::Int(n) => (*n).into(),
        Value::Float(f) => (*f).into(),
        Value::Str(s) => s.clone().into(),
        Value::List(items) => items.iter().map(to_json).collect(),
        Value::Map(map) => {
            serde_json::Value::Object(map.iter().map(|(k, v)| (k.clone(), to_json(v))).collect())
        }
    }
}

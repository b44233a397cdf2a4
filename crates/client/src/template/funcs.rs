//! The functions a template may call: Go's built-ins and consul-template's functions that
//! need no Consul, Vault or Nomad API. Those that do are refused by name when the
//! template is parsed, so a task fails at once instead of waiting (Nomad blocks the task
//! until the data exists).

use std::collections::BTreeMap;

use base64::Engine;
use base64::engine::general_purpose::{STANDARD, URL_SAFE};
use sha2::Digest;

use super::exec::{Context, Value};
use super::printf::sprintf;

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
/// Nomad's own template functions, which read its service catalog and variables.
const NOMAD: &[&str] = &[
    "nomadService",
    "nomadServices",
    "nomadVar",
    "nomadVarList",
    "nomadVarListSafe",
    "nomadVarExists",
];
/// Nomad's default `template { function_denylist }`.
const DENIED: &[&str] = &["plugin", "writeToFile"];

const IMPLEMENTED: &[&str] = &[
    // Go's built-ins.
    "and",
    "or",
    "not",
    "eq",
    "ne",
    "lt",
    "le",
    "gt",
    "ge",
    "len",
    "index",
    "print",
    "printf",
    "println", // consul-template's.
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
];

/// Whether a template may name `name`: an error message if not.
pub fn check(name: &str) -> Result<(), String> {
    if IMPLEMENTED.contains(&name) {
        return Ok(());
    }
    let needs = if CONSUL.contains(&name) {
        "Consul"
    } else if VAULT.contains(&name) {
        "Vault"
    } else if NOMAD.contains(&name) {
        "Nomad's service catalog and variables"
    } else if DENIED.contains(&name) {
        return Err(format!(
            "function {name:?} is disabled by the client's function_denylist"
        ));
    } else {
        return Err(format!("function {name:?} not defined"));
    };
    Err(format!(
        "function {name:?} needs {needs}, which Caravan does not support"
    ))
}

fn want(name: &str, args: &[Value], count: usize) -> Result<(), String> {
    if args.len() != count {
        return Err(format!(
            "wrong number of args for {name}: want {count} got {}",
            args.len()
        ));
    }
    Ok(())
}

fn string(value: &Value) -> Result<&str, String> {
    match value {
        Value::Str(s) => Ok(s),
        other => Err(format!("expected string; found {}", other.to_go_string())),
    }
}

fn int(value: &Value) -> Result<i64, String> {
    match value {
        Value::Int(n) => Ok(*n),
        Value::Float(f) if f.fract() == 0.0 => Ok(*f as i64),
        Value::Str(s) => s
            .trim()
            .parse()
            .map_err(|_| format!("cannot convert {s:?} to a number")),
        other => Err(format!("expected integer; found {}", other.to_go_string())),
    }
}

/// Calls a function with its evaluated arguments (a piped value last).
pub fn call(name: &str, args: Vec<Value>, ctx: &Context) -> Result<Value, String> {
    let s = |i: usize| string(&args[i]).map(str::to_string);
    let text = |v: String| Ok(Value::Str(v));
    match name {
        "not" => {
            want(name, &args, 1)?;
            Ok(Value::Bool(!args[0].truth()))
        }
        "eq" => {
            if args.len() < 2 {
                return Err("missing argument for comparison".into());
            }
            for other in &args[1..] {
                if compare(&args[0], other)? == Some(std::cmp::Ordering::Equal) {
                    return Ok(Value::Bool(true));
                }
            }
            Ok(Value::Bool(false))
        }
        "ne" | "lt" | "le" | "gt" | "ge" => {
            want(name, &args, 2)?;
            let ordering = compare(&args[0], &args[1])?;
            if name == "ne" {
                return Ok(Value::Bool(ordering != Some(std::cmp::Ordering::Equal)));
            }
            let ordering = ordering.ok_or_else(|| "invalid type for comparison".to_string())?;
            Ok(Value::Bool(match name {
                "lt" => ordering.is_lt(),
                "le" => ordering.is_le(),
                "gt" => ordering.is_gt(),
                _ => ordering.is_ge(),
            }))
        }
        "len" => {
            want(name, &args, 1)?;
            match &args[0] {
                Value::Str(s) => Ok(Value::Int(s.len() as i64)),
                Value::List(l) => Ok(Value::Int(l.len() as i64)),
                Value::Map(m) => Ok(Value::Int(m.len() as i64)),
                other => Err(format!("len of type {}", other.type_name())),
            }
        }
        "index" => {
            let Some((first, keys)) = args.split_first() else {
                return Err("wrong number of args for index: want at least 1 got 0".into());
            };
            let mut value = first.clone();
            for key in keys {
                value = match (value, key) {
                    (Value::List(list), key) => {
                        let i = int(key)?;
                        list.get(i as usize)
                            .filter(|_| i >= 0)
                            .cloned()
                            .ok_or_else(|| format!("index out of range: {i}"))?
                    }
                    (Value::Map(map), Value::Str(k)) => map.get(k).cloned().unwrap_or(Value::Nil),
                    (Value::Str(s), key) => {
                        let i = int(key)?;
                        s.as_bytes()
                            .get(i as usize)
                            .map(|b| Value::Int(*b as i64))
                            .ok_or_else(|| format!("index out of range: {i}"))?
                    }
                    (Value::Nil, _) => return Err("index of untyped nil".into()),
                    (other, _) => {
                        return Err(format!("can't index item of type {}", other.type_name()));
                    }
                };
            }
            Ok(value)
        }
        "print" => {
            // fmt.Sprint: a space between operands when neither is a string.
            let mut out = String::new();
            for (i, arg) in args.iter().enumerate() {
                let is_str = |v: &Value| matches!(v, Value::Str(_));
                if i > 0 && !is_str(arg) && !is_str(&args[i - 1]) {
                    out.push(' ');
                }
                out.push_str(&arg.to_go_string());
            }
            text(out)
        }
        "println" => {
            let parts: Vec<String> = args.iter().map(Value::to_go_string).collect();
            text(format!("{}\n", parts.join(" ")))
        }
        "printf" => {
            let Some((format, rest)) = args.split_first() else {
                return Err("wrong number of args for printf: want at least 1 got 0".into());
            };
            text(sprintf(string(format)?, rest))
        }
        "env" => {
            want(name, &args, 1)?;
            text(ctx.env.get(&s(0)?).cloned().unwrap_or_default())
        }
        "envOrDefault" => {
            want(name, &args, 2)?;
            let value = ctx.env.get(&s(0)?).filter(|v| !v.is_empty()).cloned();
            text(value.unwrap_or(s(1)?))
        }
        "file" => {
            want(name, &args, 1)?;
            text(read_file(&s(0)?, ctx)?)
        }
        "toUpper" => {
            want(name, &args, 1)?;
            text(s(0)?.to_uppercase())
        }
        "toLower" => {
            want(name, &args, 1)?;
            text(s(0)?.to_lowercase())
        }
        "toTitle" => {
            // Go's strings.Title: the first letter of each word upper-cased.
            want(name, &args, 1)?;
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
            want(name, &args, 1)?;
            text(s(0)?.trim().to_string())
        }
        "trimPrefix" => {
            want(name, &args, 2)?;
            let (prefix, value) = (s(0)?, s(1)?);
            text(
                value
                    .strip_prefix(prefix.as_str())
                    .unwrap_or(&value)
                    .to_string(),
            )
        }
        "trimSuffix" => {
            want(name, &args, 2)?;
            let (suffix, value) = (s(0)?, s(1)?);
            text(
                value
                    .strip_suffix(suffix.as_str())
                    .unwrap_or(&value)
                    .to_string(),
            )
        }
        "replaceAll" => {
            want(name, &args, 3)?;
            text(s(2)?.replace(&s(0)?, &s(1)?))
        }
        "regexReplaceAll" => {
            want(name, &args, 3)?;
            let re = regex::Regex::new(&s(0)?).map_err(|e| e.to_string())?;
            // Go's `$1` expansion is the regex crate's too.
            text(re.replace_all(&s(2)?, s(1)?.as_str()).into_owned())
        }
        "regexMatch" => {
            want(name, &args, 2)?;
            let re = regex::Regex::new(&s(0)?).map_err(|e| e.to_string())?;
            Ok(Value::Bool(re.is_match(&s(1)?)))
        }
        "split" => {
            want(name, &args, 2)?;
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
            want(name, &args, 2)?;
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
            want(name, &args, 2)?;
            // `contains needle haystack` (piped: `haystack | contains needle`),
            // `in haystack needle`.
            let (needle, haystack) = if name == "contains" {
                (&args[0], &args[1])
            } else {
                (&args[1], &args[0])
            };
            match haystack {
                Value::List(items) => Ok(Value::Bool(items.contains(needle))),
                Value::Str(h) => Ok(Value::Bool(h.contains(string(needle)?))),
                Value::Map(m) => Ok(Value::Bool(m.contains_key(string(needle)?))),
                Value::Nil => Ok(Value::Bool(false)),
                other => Err(format!("cannot search in {}", other.type_name())),
            }
        }
        "base64Encode" | "base64URLEncode" => {
            want(name, &args, 1)?;
            let engine = if name == "base64Encode" {
                &STANDARD
            } else {
                &URL_SAFE
            };
            text(engine.encode(s(0)?))
        }
        "base64Decode" | "base64URLDecode" => {
            want(name, &args, 1)?;
            let engine = if name == "base64Decode" {
                &STANDARD
            } else {
                &URL_SAFE
            };
            let bytes = engine.decode(s(0)?).map_err(|e| format!("decoding: {e}"))?;
            text(String::from_utf8_lossy(&bytes).into_owned())
        }
        "parseInt" => {
            want(name, &args, 1)?;
            Ok(Value::Int(
                s(0)?.trim().parse().map_err(|e| format!("{e}"))?,
            ))
        }
        "parseFloat" => {
            want(name, &args, 1)?;
            Ok(Value::Float(
                s(0)?.trim().parse().map_err(|e| format!("{e}"))?,
            ))
        }
        "parseBool" => {
            want(name, &args, 1)?;
            // Go's strconv.ParseBool.
            match s(0)?.as_str() {
                "1" | "t" | "T" | "true" | "TRUE" | "True" => Ok(Value::Bool(true)),
                "0" | "f" | "F" | "false" | "FALSE" | "False" => Ok(Value::Bool(false)),
                other => Err(format!("parsing {other:?}: invalid syntax")),
            }
        }
        "parseJSON" => {
            want(name, &args, 1)?;
            let json: serde_json::Value =
                serde_json::from_str(&s(0)?).map_err(|e| e.to_string())?;
            Ok(from_json(json))
        }
        "toJSON" | "toJSONPretty" => {
            want(name, &args, 1)?;
            let json = to_json(&args[0]);
            let rendered = if name == "toJSON" {
                serde_json::to_string(&json)
            } else {
                serde_json::to_string_pretty(&json)
            };
            text(rendered.map_err(|e| e.to_string())?)
        }
        "sha256Hex" => {
            want(name, &args, 1)?;
            let digest = sha2::Sha256::digest(s(0)?.as_bytes());
            text(digest.iter().map(|b| format!("{b:02x}")).collect())
        }
        "indent" => {
            want(name, &args, 2)?;
            let spaces = int(&args[0])?;
            if spaces < 0 {
                return Err("indent value must be a positive integer".into());
            }
            let pad = " ".repeat(spaces as usize);
            let lines: Vec<String> = s(1)?.split('\n').map(|l| format!("{pad}{l}")).collect();
            text(lines.join("\n"))
        }
        "loop" => {
            let (start, stop) = match args.as_slice() {
                [stop] => (0, int(stop)?),
                [start, stop] => (int(start)?, int(stop)?),
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
            want(name, &args, 2)?;
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

/// Orders two basic values; `None` when they are equal-comparable only.
fn compare(a: &Value, b: &Value) -> Result<Option<std::cmp::Ordering>, String> {
    use Value::*;
    Ok(match (a, b) {
        (Int(x), Int(y)) => Some(x.cmp(y)),
        (Int(_) | Float(_), Int(_) | Float(_)) => {
            let f = |v: &Value| match v {
                Int(n) => *n as f64,
                Float(f) => *f,
                _ => 0.0,
            };
            f(a).partial_cmp(&f(b))
        }
        (Str(x), Str(y)) => Some(x.cmp(y)),
        (Bool(x), Bool(y)) => (x == y).then_some(std::cmp::Ordering::Equal),
        (Nil, Nil) => Some(std::cmp::Ordering::Equal),
        (Nil, _) | (_, Nil) => None,
        _ => {
            return Err(format!(
                "incompatible types for comparison: {} and {}",
                a.type_name(),
                b.type_name()
            ));
        }
    })
}

fn read_file(path: &str, ctx: &Context) -> Result<String, String> {
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

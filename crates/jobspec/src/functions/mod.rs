//! The HCL2 functions Nomad job files use (Nomad's `jobspec2` set: go-cty's stdlib plus
//! a few), registered on the `hcl-rs` evaluation context.
//!
//! `hcl-rs` takes plain `fn` pointers, so `file()` cannot capture the caller's file reader;
//! the reader is lent to this thread for the duration of one parse ([`FileScope`]). The
//! parser stays pure: without a reader, `file()` is an error.

use std::cell::RefCell;
use std::path::{Path, PathBuf};
use std::sync::Arc;

use hcl::Value;
use hcl::eval::{Context, FuncArgs, FuncDef, ParamType};

use crate::eval_budget::{MAX_VALUE_BYTES, reserve, size_at_most};

mod format;
use format::format;

/// Reads a file named by `file()` in a job file: the path is already joined to the job
/// file's directory. Returns the contents or a message saying why not.
pub type FileReader = Arc<dyn Fn(&Path) -> Result<String, String> + Send + Sync>;

thread_local! {
    static FILES: RefCell<Option<(PathBuf, FileReader)>> = const { RefCell::new(None) };
}

/// Lends a file reader to `file()` for as long as the scope lives.
pub(crate) struct FileScope {
    previous: Option<(PathBuf, FileReader)>,
}

impl FileScope {
    /// `base` is the job file's directory; `reader` may be `None` (no file access).
    pub(crate) fn enter(base: PathBuf, reader: Option<FileReader>) -> FileScope {
        let previous = FILES.with(|f| f.replace(reader.map(|r| (base, r))));
        FileScope { previous }
    }
}

impl Drop for FileScope {
    fn drop(&mut self) {
        let previous = self.previous.take();
        FILES.with(|f| *f.borrow_mut() = previous);
    }
}

fn read_file(path: &str) -> Result<String, String> {
    FILES.with(|f| match &*f.borrow() {
        None => Err(format!(
            "file({path:?}): reading files is not allowed here (the job is parsed without access to the file system)"
        )),
        Some((base, reader)) => {
            let full = base.join(path);
            reader(&full).map_err(|e| format!("file({path:?}): {e}"))
        }
    })
}

/// Every function's name, for documentation and error messages.
pub const FUNCTION_NAMES: &[&str] = &[
    "abs",
    "ceil",
    "chomp",
    "coalesce",
    "compact",
    "concat",
    "contains",
    "distinct",
    "element",
    "file",
    "fileexists",
    "flatten",
    "floor",
    "format",
    "index",
    "join",
    "jsondecode",
    "jsonencode",
    "keys",
    "length",
    "lookup",
    "lower",
    "max",
    "merge",
    "min",
    "range",
    "regex_replace",
    "replace",
    "reverse",
    "slice",
    "sort",
    "split",
    "strrev",
    "substr",
    "title",
    "tobool",
    "tolist",
    "tonumber",
    "toset",
    "tostring",
    "trim",
    "trimprefix",
    "trimspace",
    "trimsuffix",
    "upper",
    "values",
    "zipmap",
];

/// Wraps a function so that every call is charged to the parse's work budget and its
/// result is bounded ([`crate::eval_budget`]). `hcl-rs` takes plain `fn` pointers, so
/// the wrapper is a `fn` item around a closure that captures nothing.
macro_rules! guarded {
    ($f:expr) => {{
        fn guarded(args: FuncArgs) -> Result<Value, String> {
            let inner: hcl::eval::Func = $f;
            crate::eval_budget::checked("function", inner(args))
        }
        guarded as hcl::eval::Func
    }};
}

/// A function of fixed parameters.
macro_rules! fixed {
    ($params:expr, $f:expr $(,)?) => {
        FuncDef::new(guarded!($f), $params)
    };
}

/// A function whose last parameter repeats.
macro_rules! variadic {
    ($params:expr, $rest:expr, $f:expr $(,)?) => {
        FuncDef::builder()
            .params($params)
            .variadic_param($rest)
            .build(guarded!($f))
    };
}

/// Declares every function on `ctx`.
pub(crate) fn declare(ctx: &mut Context<'_>) {
    use ParamType::{Any, Number, String as Str};
    let list = || ParamType::array_of(Any);
    let defs: Vec<(&str, FuncDef)> = vec![
        (
            "upper",
            fixed!(vec![Str], |a| {
                Ok(Value::from(string(&a[0])?.to_uppercase()))
            }),
        ),
        (
            "lower",
            fixed!(vec![Str], |a| {
                Ok(Value::from(string(&a[0])?.to_lowercase()))
            }),
        ),
        ("title", fixed!(vec![Str], title)),
        (
            "trimspace",
            fixed!(vec![Str], |a| Ok(Value::from(string(&a[0])?.trim()))),
        ),
        (
            "chomp",
            fixed!(vec![Str], |a| {
                Ok(Value::from(string(&a[0])?.trim_end_matches(['\n', '\r'])))
            }),
        ),
        (
            "trim",
            fixed!(vec![Str, Str], |a| {
                let chars: Vec<char> = string(&a[1])?.chars().collect();
                Ok(Value::from(
                    string(&a[0])?.trim_matches(|c| chars.contains(&c)),
                ))
            }),
        ),
        (
            "trimprefix",
            fixed!(vec![Str, Str], |a| {
                let s = string(&a[0])?;
                Ok(Value::from(s.strip_prefix(string(&a[1])?).unwrap_or(s)))
            }),
        ),
        (
            "trimsuffix",
            fixed!(vec![Str, Str], |a| {
                let s = string(&a[0])?;
                Ok(Value::from(s.strip_suffix(string(&a[1])?).unwrap_or(s)))
            }),
        ),
        (
            "strrev",
            fixed!(vec![Str], |a| {
                Ok(Value::from(
                    string(&a[0])?.chars().rev().collect::<String>(),
                ))
            }),
        ),
        ("substr", fixed!(vec![Str, Number, Number], substr)),
        ("format", variadic!(vec![Str], Any, format)),
        ("join", variadic!(vec![Str], list(), join)),
        (
            "split",
            fixed!(vec![Str, Str], |a| {
                let sep = string(&a[0])?;
                let s = string(&a[1])?;
                Ok(Value::Array(if s.is_empty() {
                    vec![Value::from("")]
                } else {
                    s.split(sep).map(Value::from).collect()
                }))
            }),
        ),
        ("replace", fixed!(vec![Str, Str, Str], replace)),
        (
            "regex_replace",
            fixed!(vec![Str, Str, Str], |a| {
                regex_replace(string(&a[0])?, string(&a[1])?, string(&a[2])?)
            }),
        ),
        (
            "concat",
            variadic!(vec![], list(), |a| {
                let size = a.iter().fold(0usize, |total, l| {
                    total.saturating_add(size_at_most(l, MAX_VALUE_BYTES + 1))
                });
                reserve("concat", size)?;
                Ok(Value::Array(
                    a.iter()
                        .flat_map(|l| array(l).unwrap_or_default())
                        .collect(),
                ))
            }),
        ),
        (
            "length",
            fixed!(vec![Any], |a| {
                let n = match &a[0] {
                    Value::String(s) => s.chars().count(),
                    Value::Array(l) => l.len(),
                    Value::Object(m) => m.len(),
                    other => {
                        return Err(format!("length: cannot take the length of {}", kind(other)));
                    }
                };
                Ok(Value::from(n as u64))
            }),
        ),
        (
            "lookup",
            variadic!(vec![ParamType::object_of(Any), Str], Any, |a| {
                let map = object(&a[0])?;
                match (map.get(string(&a[1])?), a.get(2)) {
                    (Some(v), _) => Ok(v.clone()),
                    (None, Some(default)) => Ok(default.clone()),
                    (None, None) => Err(format!(
                        "lookup: key {:?} not found and no default given",
                        string(&a[1])?
                    )),
                }
            }),
        ),
        (
            "merge",
            variadic!(vec![], Any, |a| {
                let mut out = hcl::Map::new();
                for v in a.iter() {
                    match v {
                        Value::Null => {}
                        Value::Object(m) => out.extend(m.clone()),
                        other => {
                            return Err(format!(
                                "merge: arguments must be maps, got {}",
                                kind(other)
                            ));
                        }
                    }
                }
                Ok(Value::Object(out))
            }),
        ),
        (
            "keys",
            fixed!(vec![ParamType::object_of(Any)], |a| {
                let mut keys: Vec<&String> = object(&a[0])?.keys().collect();
                keys.sort();
                Ok(Value::Array(
                    keys.into_iter().map(|k| Value::from(k.as_str())).collect(),
                ))
            }),
        ),
        (
            "values",
            fixed!(vec![ParamType::object_of(Any)], |a| {
                let map = object(&a[0])?;
                let mut keys: Vec<&String> = map.keys().collect();
                keys.sort();
                Ok(Value::Array(
                    keys.into_iter().map(|k| map[k].clone()).collect(),
                ))
            }),
        ),
        (
            "zipmap",
            fixed!(vec![list(), list()], |a| {
                let keys = array(&a[0])?;
                let values = array(&a[1])?;
                if keys.len() != values.len() {
                    return Err(
                        "zipmap: the lists of keys and values must have the same length".into(),
                    );
                }
                let mut out = hcl::Map::new();
                for (k, v) in keys.iter().zip(values) {
                    out.insert(string(k)?.to_string(), v);
                }
                Ok(Value::Object(out))
            }),
        ),
        (
            "element",
            fixed!(vec![list(), Number], |a| {
                let items = array(&a[0])?;
                if items.is_empty() {
                    return Err("element: cannot use element function with an empty list".into());
                }
                let i = int(&a[1])?;
                if i < 0 {
                    return Err("element: cannot use a negative index".into());
                }
                Ok(items[i as usize % items.len()].clone())
            }),
        ),
        (
            "index",
            fixed!(vec![list(), Any], |a| {
                array(&a[0])?
                    .iter()
                    .position(|v| *v == a[1])
                    .map(|i| Value::from(i as u64))
                    .ok_or_else(|| "index: item not found".to_string())
            }),
        ),
        (
            "contains",
            fixed!(vec![list(), Any], |a| {
                Ok(Value::Bool(array(&a[0])?.contains(&a[1])))
            }),
        ),
        (
            "slice",
            fixed!(vec![list(), Number, Number], |a| {
                let items = array(&a[0])?;
                let (from, to) = (int(&a[1])?, int(&a[2])?);
                if from < 0 || to < from || to as usize > items.len() {
                    return Err(format!(
                        "slice: invalid range {from}..{to} of a list of {}",
                        items.len()
                    ));
                }
                Ok(Value::Array(items[from as usize..to as usize].to_vec()))
            }),
        ),
        (
            "reverse",
            fixed!(vec![list()], |a| {
                Ok(Value::Array(array(&a[0])?.into_iter().rev().collect()))
            }),
        ),
        (
            "distinct",
            fixed!(vec![list()], |a| {
                let mut out: Vec<Value> = Vec::new();
                for v in array(&a[0])? {
                    if !out.contains(&v) {
                        out.push(v);
                    }
                }
                Ok(Value::Array(out))
            }),
        ),
        (
            "toset",
            fixed!(vec![list()], |a| {
                let mut out: Vec<Value> = Vec::new();
                for v in array(&a[0])? {
                    if !out.contains(&v) {
                        out.push(v);
                    }
                }
                Ok(Value::Array(out))
            }),
        ),
        ("tolist", fixed!(vec![list()], |a| Ok(a[0].clone()))),
        (
            "flatten",
            fixed!(vec![list()], |a| {
                fn flat(items: Vec<Value>, out: &mut Vec<Value>) {
                    for v in items {
                        match v {
                            Value::Array(inner) => flat(inner, out),
                            other => out.push(other),
                        }
                    }
                }
                let mut out = Vec::new();
                flat(array(&a[0])?, &mut out);
                Ok(Value::Array(out))
            }),
        ),
        (
            "sort",
            fixed!(vec![list()], |a| {
                let mut items: Vec<String> =
                    array(&a[0])?.iter().map(text).collect::<Result<_, _>>()?;
                items.sort();
                Ok(Value::Array(items.into_iter().map(Value::from).collect()))
            }),
        ),
        (
            "compact",
            fixed!(vec![list()], |a| {
                Ok(Value::Array(
                    array(&a[0])?
                        .into_iter()
                        .filter(|v| !matches!(v, Value::Null) && v.as_str() != Some(""))
                        .collect(),
                ))
            }),
        ),
        (
            "coalesce",
            variadic!(vec![], Any, |a| {
                a.iter()
                    .find(|v| !matches!(v, Value::Null) && v.as_str() != Some(""))
                    .cloned()
                    .ok_or_else(|| "coalesce: no non-null, non-empty argument".to_string())
            }),
        ),
        (
            "jsonencode",
            fixed!(vec![Any], |a| {
                serde_json::to_string(&a[0])
                    .map(Value::from)
                    .map_err(|e| format!("jsonencode: {e}"))
            }),
        ),
        (
            "jsondecode",
            fixed!(vec![Str], |a| {
                serde_json::from_str::<Value>(string(&a[0])?)
                    .map_err(|e| format!("jsondecode: {e}"))
            }),
        ),
        (
            "tostring",
            fixed!(vec![Any], |a| match &a[0] {
                Value::Null => Ok(Value::Null),
                v => text(v).map(Value::from),
            }),
        ),
        (
            "tonumber",
            fixed!(vec![Any], |a| match &a[0] {
                Value::Null => Ok(Value::Null),
                Value::Number(n) => Ok(Value::Number(*n)),
                Value::String(s) => {
                    parse_number(s).ok_or_else(|| format!("tonumber: {s:?} is not a number"))
                }
                other => Err(format!(
                    "tonumber: cannot convert {} to a number",
                    kind(other)
                )),
            }),
        ),
        (
            "tobool",
            fixed!(vec![Any], |a| match &a[0] {
                Value::Null => Ok(Value::Null),
                Value::Bool(b) => Ok(Value::Bool(*b)),
                Value::String(s) if s == "true" => Ok(Value::Bool(true)),
                Value::String(s) if s == "false" => Ok(Value::Bool(false)),
                other => Err(format!("tobool: cannot convert {} to a bool", kind(other))),
            }),
        ),
        (
            "min",
            variadic!(vec![], Number, |a| fold_numbers(&a, f64::min, "min")),
        ),
        (
            "max",
            variadic!(vec![], Number, |a| fold_numbers(&a, f64::max, "max")),
        ),
        (
            "abs",
            fixed!(vec![Number], |a| number_value(float(&a[0])?.abs())),
        ),
        (
            "ceil",
            fixed!(vec![Number], |a| number_value(float(&a[0])?.ceil())),
        ),
        (
            "floor",
            fixed!(vec![Number], |a| number_value(float(&a[0])?.floor())),
        ),
        ("range", variadic!(vec![], Number, range)),
        (
            "file",
            fixed!(vec![Str], |a| read_file(string(&a[0])?).map(Value::from)),
        ),
        (
            "fileexists",
            fixed!(vec![Str], |a| {
                Ok(Value::Bool(read_file(string(&a[0])?).is_ok()))
            }),
        ),
    ];
    for (name, def) in defs {
        ctx.declare_func(name, def);
    }
}

fn kind(value: &Value) -> &'static str {
    match value {
        Value::Null => "null",
        Value::Bool(_) => "a bool",
        Value::Number(_) => "a number",
        Value::String(_) => "a string",
        Value::Array(_) => "a list",
        Value::Object(_) => "a map",
    }
}

fn string(value: &Value) -> Result<&str, String> {
    value
        .as_str()
        .ok_or_else(|| format!("expected a string, got {}", kind(value)))
}

/// A primitive as text, the way HCL converts it to a string.
fn text(value: &Value) -> Result<String, String> {
    match value {
        Value::String(s) => Ok(s.clone()),
        Value::Number(n) => Ok(n.to_string()),
        Value::Bool(b) => Ok(b.to_string()),
        other => Err(format!("cannot convert {} to a string", kind(other))),
    }
}

fn array(value: &Value) -> Result<Vec<Value>, String> {
    match value {
        Value::Array(items) => Ok(items.clone()),
        other => Err(format!("expected a list, got {}", kind(other))),
    }
}

fn object(value: &Value) -> Result<&hcl::Map<String, Value>, String> {
    match value {
        Value::Object(map) => Ok(map),
        other => Err(format!("expected a map, got {}", kind(other))),
    }
}

fn float(value: &Value) -> Result<f64, String> {
    match value {
        Value::Number(n) => n.as_f64().ok_or_else(|| "not a finite number".to_string()),
        other => Err(format!("expected a number, got {}", kind(other))),
    }
}

fn int(value: &Value) -> Result<i64, String> {
    let f = float(value)?;
    if f.fract() != 0.0 {
        return Err(format!("expected a whole number, got {f}"));
    }
    Ok(f as i64)
}

/// A number value, whole numbers as integers.
fn number_value(f: f64) -> Result<Value, String> {
    if f.fract() == 0.0 && f.abs() < 9.0e15 {
        return Ok(Value::from(f as i64));
    }
    hcl::Number::from_f64(f)
        .map(Value::Number)
        .ok_or_else(|| format!("{f} is not a finite number"))
}

fn parse_number(s: &str) -> Option<Value> {
    let s = s.trim();
    if let Ok(i) = s.parse::<i64>() {
        return Some(Value::from(i));
    }
    s.parse::<f64>().ok().and_then(|f| number_value(f).ok())
}

fn fold_numbers(args: &FuncArgs, f: fn(f64, f64) -> f64, name: &str) -> Result<Value, String> {
    let mut numbers = args.iter().map(float);
    let first = numbers
        .next()
        .ok_or_else(|| format!("{name}: needs at least one number"))??;
    let result = numbers.try_fold(first, |acc, n| n.map(|n| f(acc, n)))?;
    number_value(result)
}

fn title(args: FuncArgs) -> Result<Value, String> {
    let mut out = String::new();
    let mut at_word_start = true;
    for c in string(&args[0])?.chars() {
        if at_word_start {
            out.extend(c.to_uppercase());
        } else {
            out.push(c);
        }
        at_word_start = c.is_whitespace();
    }
    Ok(Value::from(out))
}

fn substr(args: FuncArgs) -> Result<Value, String> {
    let chars: Vec<char> = string(&args[0])?.chars().collect();
    let len = chars.len() as i64;
    let mut offset = int(&args[1])?;
    let length = int(&args[2])?;
    if offset < 0 {
        offset += len;
    }
    let offset = offset.clamp(0, len);
    let end = if length < 0 {
        len
    } else {
        (offset + length).min(len)
    };
    Ok(Value::from(
        chars[offset as usize..end as usize]
            .iter()
            .collect::<String>(),
    ))
}

fn join(args: FuncArgs) -> Result<Value, String> {
    let sep = string(&args[0])?;
    let mut parts = Vec::new();
    let mut size = 0usize;
    for list in args.iter().skip(1) {
        for item in array(list)? {
            let part = text(&item)?;
            size = size.saturating_add(part.len() + sep.len());
            reserve("join", size)?;
            parts.push(part);
        }
    }
    Ok(Value::from(parts.join(sep)))
}

/// go-cty `replace`: a `/regexp/` substring is a regular expression.
fn replace(args: FuncArgs) -> Result<Value, String> {
    let s = string(&args[0])?;
    let from = string(&args[1])?;
    let to = string(&args[2])?;
    if from.len() > 1 && from.starts_with('/') && from.ends_with('/') {
        return regex_replace(s, &from[1..from.len() - 1], to);
    }
    if !from.is_empty() {
        let grows = to.len().saturating_sub(from.len());
        reserve(
            "replace",
            s.len()
                .saturating_add(s.matches(from).count().saturating_mul(grows)),
        )?;
    } else {
        reserve("replace", s.len().saturating_mul(to.len() + 1))?;
    }
    Ok(Value::from(s.replace(from, to)))
}

fn regex_replace(s: &str, pattern: &str, to: &str) -> Result<Value, String> {
    let re = regex::Regex::new(pattern).map_err(|e| format!("invalid regular expression: {e}"))?;
    // Each match becomes `to`, whose `$n` references can repeat the match itself.
    let references = to.matches('$').count();
    let mut size = s.len();
    for found in re.find_iter(s) {
        size = size.saturating_add(
            to.len()
                .saturating_add(references.saturating_mul(found.len())),
        );
        reserve("regex_replace", size)?;
    }
    Ok(Value::from(re.replace_all(s, to).into_owned()))
}

fn range(args: FuncArgs) -> Result<Value, String> {
    let numbers: Vec<f64> = args.iter().map(float).collect::<Result<_, _>>()?;
    let (start, limit, step) = match numbers.as_slice() {
        [limit] => (0.0, *limit, 1.0),
        [start, limit] => (*start, *limit, if start <= limit { 1.0 } else { -1.0 }),
        [start, limit, step] => (*start, *limit, *step),
        _ => return Err("range: takes 1 to 3 numbers".to_string()),
    };
    if step == 0.0 {
        return Err("range: step must not be zero".to_string());
    }
    let mut out = Vec::new();
    let mut n = start;
    while (step > 0.0 && n < limit) || (step < 0.0 && n > limit) {
        if out.len() >= 1024 {
            return Err("range: more than 1024 elements".to_string());
        }
        out.push(number_value(n)?);
        n += step;
    }
    Ok(Value::Array(out))
}

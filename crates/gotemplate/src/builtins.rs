//! Go's built-in template functions: `and or not eq ne lt le gt ge len index print printf
//! println`. `and` and `or` are evaluated by the executor, which stops at the operand
//! that decides.

use std::cmp::Ordering;

use crate::Functions;
use crate::printf::sprintf;
use crate::value::Value;

/// The names of Go's built-ins that templates may call.
const BUILTINS: &[&str] = &[
    "and", "or", "not", "eq", "ne", "lt", "le", "gt", "ge", "len", "index", "print", "printf",
    "println",
];

/// Whether `name` is one of Go's built-ins.
pub(crate) fn is_builtin(name: &str) -> bool {
    BUILTINS.contains(&name)
}

/// Whether a template may name `name`: a built-in or one of the caller's functions. The
/// error is the caller's refusal, or Go's "not defined".
pub(crate) fn check(name: &str, funcs: &dyn Functions) -> Result<(), String> {
    if is_builtin(name) {
        return Ok(());
    }
    funcs
        .lookup(name)
        .unwrap_or_else(|| Err(format!("function {name:?} not defined")))
}

/// Go's arity check for a function's arguments: `wrong number of args for toUpper: want 1
/// got 0`.
pub fn check_arity(name: &str, args: &[Value], count: usize) -> Result<(), String> {
    if args.len() != count {
        return Err(format!(
            "wrong number of args for {name}: want {count} got {}",
            args.len()
        ));
    }
    Ok(())
}

/// Calls built-in `name` with its evaluated arguments (a piped value last).
pub(crate) fn call(name: &str, args: Vec<Value>) -> Result<Value, String> {
    match name {
        "not" => {
            check_arity(name, &args, 1)?;
            Ok(Value::Bool(!args[0].truth()))
        }
        "eq" => {
            if args.len() < 2 {
                return Err("missing argument for comparison".into());
            }
            for other in &args[1..] {
                if compare(&args[0], other)? == Some(Ordering::Equal) {
                    return Ok(Value::Bool(true));
                }
            }
            Ok(Value::Bool(false))
        }
        "ne" | "lt" | "le" | "gt" | "ge" => {
            check_arity(name, &args, 2)?;
            let ordering = compare(&args[0], &args[1])?;
            if name == "ne" {
                return Ok(Value::Bool(ordering != Some(Ordering::Equal)));
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
            check_arity(name, &args, 1)?;
            match &args[0] {
                Value::Str(s) => Ok(Value::Int(s.len() as i64)),
                Value::List(l) => Ok(Value::Int(l.len() as i64)),
                Value::Map(m) => Ok(Value::Int(m.len() as i64)),
                other => Err(format!("len of type {}", other.type_name())),
            }
        }
        "index" => index(args),
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
            Ok(Value::Str(out))
        }
        "println" => {
            let parts: Vec<String> = args.iter().map(Value::to_go_string).collect();
            Ok(Value::Str(format!("{}\n", parts.join(" "))))
        }
        "printf" => {
            let Some((format, rest)) = args.split_first() else {
                return Err("wrong number of args for printf: want at least 1 got 0".into());
            };
            Ok(Value::Str(sprintf(format.as_str()?, rest)))
        }
        other => Err(format!("function {other:?} not defined")),
    }
}

/// `index x 1 2`: `x[1][2]`.
fn index(args: Vec<Value>) -> Result<Value, String> {
    let Some((first, keys)) = args.split_first() else {
        return Err("wrong number of args for index: want at least 1 got 0".into());
    };
    let mut value = first.clone();
    for key in keys {
        value = match (value, key) {
            (Value::List(list), key) => {
                let i = key.to_int()?;
                list.get(i as usize)
                    .filter(|_| i >= 0)
                    .cloned()
                    .ok_or_else(|| format!("index out of range: {i}"))?
            }
            (Value::Map(map), Value::Str(k)) => map.get(k).cloned().unwrap_or(Value::Nil),
            (Value::Str(s), key) => {
                let i = key.to_int()?;
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

/// Orders two basic values; `None` when they are equal-comparable only.
fn compare(a: &Value, b: &Value) -> Result<Option<Ordering>, String> {
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
        (Bool(x), Bool(y)) => (x == y).then_some(Ordering::Equal),
        (Nil, Nil) => Some(Ordering::Equal),
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

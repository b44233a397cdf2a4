//! Go's `fmt.Sprintf`, as far as templates use it.

use super::exec::{Value, format_float};

/// Go's `fmt.Sprintf` for the verbs templates use: `%v %s %q %d %f %e %g %x %X %t %c %%`,
/// with flags (`-`, `0`, `+`, ` `), width and precision.
pub fn sprintf(format: &str, args: &[Value]) -> String {
    let mut out = String::new();
    let mut next = 0;
    let mut chars = format.chars().peekable();
    while let Some(c) = chars.next() {
        if c != '%' {
            out.push(c);
            continue;
        }
        let (mut minus, mut zero, mut plus, mut space) = (false, false, false, false);
        while let Some(&flag) = chars.peek() {
            match flag {
                '-' => minus = true,
                '0' => zero = true,
                '+' => plus = true,
                ' ' => space = true,
                '#' => {}
                _ => break,
            }
            chars.next();
        }
        let mut width = String::new();
        while let Some(&d) = chars.peek().filter(|d| d.is_ascii_digit()) {
            width.push(d);
            chars.next();
        }
        let mut precision: Option<usize> = None;
        if chars.peek() == Some(&'.') {
            chars.next();
            let mut digits = String::new();
            while let Some(&d) = chars.peek().filter(|d| d.is_ascii_digit()) {
                digits.push(d);
                chars.next();
            }
            precision = Some(digits.parse().unwrap_or(0));
        }
        let Some(verb) = chars.next() else {
            out.push_str("%!(NOVERB)");
            break;
        };
        if verb == '%' {
            out.push('%');
            continue;
        }
        let Some(arg) = args.get(next) else {
            out.push_str(&format!("%!{verb}(MISSING)"));
            continue;
        };
        next += 1;
        let bad = || format!("%!{verb}({}={})", arg.type_name(), arg.to_go_string());
        let numeric = matches!(arg, Value::Int(_) | Value::Float(_));
        let mut body = match (verb, arg) {
            ('v' | 's', Value::Str(s)) => match precision {
                Some(p) => s.chars().take(p).collect(),
                None => s.clone(),
            },
            ('v', other) => other.to_go_string(),
            ('s', Value::Nil) => "%!s(<nil>)".to_string(),
            ('s', other) if !numeric => other.to_go_string(),
            ('q', Value::Str(s)) => format!("{s:?}"),
            ('d', Value::Int(n)) => signed(n.to_string(), *n >= 0, plus, space),
            ('f' | 'F', Value::Float(_) | Value::Int(_)) => {
                let f = as_f64(arg);
                signed(
                    format!("{:.*}", precision.unwrap_or(6), f),
                    f >= 0.0,
                    plus,
                    space,
                )
            }
            ('e', Value::Float(_) | Value::Int(_)) => {
                let f = as_f64(arg);
                signed(
                    go_exponent(format!("{:.*e}", precision.unwrap_or(6), f)),
                    f >= 0.0,
                    plus,
                    space,
                )
            }
            ('g', Value::Float(_) | Value::Int(_)) => {
                let f = as_f64(arg);
                signed(format_float(f), f >= 0.0, plus, space)
            }
            ('x', Value::Int(n)) => format!("{n:x}"),
            ('X', Value::Int(n)) => format!("{n:X}"),
            ('x', Value::Str(s)) => s.bytes().map(|b| format!("{b:02x}")).collect(),
            ('X', Value::Str(s)) => s.bytes().map(|b| format!("{b:02X}")).collect(),
            ('t', Value::Bool(b)) => b.to_string(),
            ('c', Value::Int(n)) => char::from_u32(*n as u32)
                .map(String::from)
                .unwrap_or_default(),
            _ => bad(),
        };
        if let Ok(width) = width.parse::<usize>() {
            let len = body.chars().count();
            if len < width {
                let pad = width - len;
                if minus {
                    body.push_str(&" ".repeat(pad));
                } else if zero && numeric {
                    let sign = body.starts_with(['-', '+', ' ']);
                    let at = usize::from(sign);
                    body.insert_str(at, &"0".repeat(pad));
                } else {
                    body.insert_str(0, &" ".repeat(pad));
                }
            }
        }
        out.push_str(&body);
    }
    if next < args.len() {
        let extra: Vec<String> = args[next..]
            .iter()
            .map(|a| format!("{}={}", a.type_name(), a.to_go_string()))
            .collect();
        out.push_str(&format!("%!(EXTRA {})", extra.join(", ")));
    }
    out
}

fn as_f64(value: &Value) -> f64 {
    match value {
        Value::Int(n) => *n as f64,
        Value::Float(f) => *f,
        _ => 0.0,
    }
}

fn signed(body: String, non_negative: bool, plus: bool, space: bool) -> String {
    match (non_negative, plus, space) {
        (true, true, _) => format!("+{body}"),
        (true, false, true) => format!(" {body}"),
        _ => body,
    }
}

/// Rust writes `1.5e3`; Go writes `1.5e+03`.
fn go_exponent(rust: String) -> String {
    match rust.split_once('e') {
        Some((mantissa, exp)) => {
            let (sign, digits) = match exp.strip_prefix('-') {
                Some(d) => ('-', d),
                None => ('+', exp),
            };
            format!("{mantissa}e{sign}{digits:0>2}")
        }
        None => rust,
    }
}

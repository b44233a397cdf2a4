//! `format`: Go's `fmt.Sprintf` as go-cty's `format` does it, bounded.

use hcl::Value;
use hcl::eval::FuncArgs;

use super::{float, int, kind, string, text};
use crate::eval_budget::reserve;

/// The widest `format` width or precision (Go has no limit; Rust's formatter panics past
/// 65,535, and nothing real needs more than a few dozen).
const MAX_FORMAT_WIDTH: usize = 10_000;

/// Go's `fmt.Sprintf`, as go-cty's `format` does it: `%s %d %v %q %f %t %x %X %o %b %e %%`
/// with flags, width and precision.
pub(super) fn format(args: FuncArgs) -> Result<Value, String> {
    let spec = string(&args[0])?;
    let mut values = args.iter().skip(1);
    let mut out = String::new();
    let mut chars = spec.chars().peekable();
    while let Some(c) = chars.next() {
        if c != '%' {
            out.push(c);
            continue;
        }
        let mut flags = String::new();
        while let Some(&f) = chars.peek() {
            if "-+ 0#".contains(f) {
                flags.push(f);
                chars.next();
            } else {
                break;
            }
        }
        let mut width = String::new();
        while let Some(&d) = chars.peek().filter(|d| d.is_ascii_digit()) {
            width.push(d);
            chars.next();
        }
        let mut precision: Option<usize> = None;
        if chars.peek() == Some(&'.') {
            chars.next();
            let mut p = String::new();
            while let Some(&d) = chars.peek().filter(|d| d.is_ascii_digit()) {
                p.push(d);
                chars.next();
            }
            // An unparsable (huge) precision is refused, like a huge width.
            let precision_value: usize = if p.is_empty() {
                0
            } else {
                p.parse().unwrap_or(usize::MAX)
            };
            if precision_value > MAX_FORMAT_WIDTH {
                return Err(format!(
                    "format: precision {p} is over the limit of {MAX_FORMAT_WIDTH}"
                ));
            }
            precision = Some(precision_value);
        }
        let Some(verb) = chars.next() else {
            return Err("format: unterminated % verb at the end".to_string());
        };
        if verb == '%' {
            out.push('%');
            continue;
        }
        let value = values
            .next()
            .ok_or_else(|| format!("format: not enough arguments for %{verb}"))?;
        let body = match verb {
            's' => text(value)?,
            'v' => match value {
                Value::Array(_) | Value::Object(_) => {
                    serde_json::to_string(value).map_err(|e| e.to_string())?
                }
                Value::Null => "null".to_string(),
                other => text(other)?,
            },
            'q' => serde_json::to_string(&text(value)?).map_err(|e| e.to_string())?,
            't' => match value {
                Value::Bool(b) => b.to_string(),
                other => return Err(format!("format: %t needs a bool, got {}", kind(other))),
            },
            'd' => {
                let n = int(value)?;
                if flags.contains('+') && n >= 0 {
                    format!("+{n}")
                } else {
                    n.to_string()
                }
            }
            'x' => format!("{:x}", int(value)?),
            'X' => format!("{:X}", int(value)?),
            'o' => format!("{:o}", int(value)?),
            'b' => format!("{:b}", int(value)?),
            'f' | 'F' => format!("{:.*}", precision.unwrap_or(6), float(value)?),
            'e' => format!("{:.*e}", precision.unwrap_or(6), float(value)?),
            'g' => float(value)?.to_string(),
            other => return Err(format!("format: unsupported verb %{other}")),
        };
        let body = match (verb, precision) {
            ('s' | 'v' | 'q', Some(p)) => body.chars().take(p).collect(),
            _ => body,
        };
        // No digits is no width; too many to parse is too wide.
        let width_text = width;
        let width: usize = if width_text.is_empty() {
            0
        } else {
            width_text.parse().unwrap_or(usize::MAX)
        };
        if width > MAX_FORMAT_WIDTH {
            return Err(format!(
                "format: width {width_text} is over the limit of {MAX_FORMAT_WIDTH}"
            ));
        }
        reserve(
            "format",
            out.len().saturating_add(width).saturating_add(body.len()),
        )?;
        let pad = width.saturating_sub(body.chars().count());
        if flags.contains('-') {
            out.push_str(&body);
            out.extend(std::iter::repeat_n(' ', pad));
        } else if flags.contains('0')
            && matches!(verb, 'd' | 'f' | 'F' | 'x' | 'X' | 'o' | 'b' | 'e')
        {
            let (sign, digits) = match body.strip_prefix(['-', '+']) {
                Some(rest) => (&body[..1], rest),
                None => ("", body.as_str()),
            };
            out.push_str(sign);
            out.extend(std::iter::repeat_n('0', pad));
            out.push_str(digits);
        } else {
            out.extend(std::iter::repeat_n(' ', pad));
            out.push_str(&body);
        }
    }
    if values.next().is_some() {
        return Err("format: too many arguments".to_string());
    }
    Ok(Value::from(out))
}

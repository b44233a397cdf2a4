//! `format`: Go's `fmt.Sprintf` as go-cty's `format` does it, bounded. The directives,
//! padding and number formatting are Go's printf (`caravan_gotemplate::printf`), shared
//! with the client's templates; what a value prints as, the errors and the bounds are
//! HCL's.

use caravan_gotemplate::printf::{Piece, floating, integer, pieces};
use hcl::Value;
use hcl::eval::FuncArgs;

use super::{float, int, kind, string, text};
use crate::eval_budget::reserve;

/// The widest `format` width or precision (Go has no limit; Rust's formatter panics past
/// 65,535, and nothing real needs more than a few dozen).
const MAX_FORMAT_WIDTH: usize = 10_000;

/// Go's `fmt.Sprintf`, as go-cty's `format` does it: `%s %d %v %q %f %t %x %X %o %b %e %g
/// %%` with flags, width and precision. A directive without its argument, an argument
/// without a directive and an unknown verb are errors.
pub(super) fn format(args: FuncArgs) -> Result<Value, String> {
    let spec = string(&args[0])?;
    let mut values = args.iter().skip(1);
    let mut out = String::new();
    for piece in pieces(spec) {
        let directive = match piece {
            Piece::Text(text) => {
                out.push_str(text);
                continue;
            }
            Piece::Directive(directive) => directive,
        };
        // An unparsable (huge) precision is refused, like a huge width.
        let precision = match directive.precision {
            None => None,
            Some("") => Some(0),
            Some(p) => {
                let value = p.parse::<usize>().unwrap_or(usize::MAX);
                if value > MAX_FORMAT_WIDTH {
                    return Err(format!(
                        "format: precision {p} is over the limit of {MAX_FORMAT_WIDTH}"
                    ));
                }
                Some(value)
            }
        };
        let Some(verb) = directive.verb else {
            return Err("format: unterminated % verb at the end".to_string());
        };
        if verb == '%' {
            out.push('%');
            continue;
        }
        let value = values
            .next()
            .ok_or_else(|| format!("format: not enough arguments for %{verb}"))?;
        let number = |f: f64, body: String| directive.signed(body, f >= 0.0);
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
                directive.signed(n.to_string(), n >= 0)
            }
            'x' | 'X' | 'o' | 'b' => integer(int(value)?, verb).unwrap_or_default(),
            'f' | 'F' | 'e' | 'g' => {
                let f = float(value)?;
                number(f, floating(f, verb, precision).unwrap_or_default())
            }
            other => return Err(format!("format: unsupported verb %{other}")),
        };
        let body = match (verb, precision) {
            ('s' | 'v' | 'q', Some(p)) => body.chars().take(p).collect(),
            _ => body,
        };
        // No digits is no width; too many to parse is too wide.
        let width: usize = if directive.width.is_empty() {
            0
        } else {
            directive.width.parse().unwrap_or(usize::MAX)
        };
        if width > MAX_FORMAT_WIDTH {
            return Err(format!(
                "format: width {} is over the limit of {MAX_FORMAT_WIDTH}",
                directive.width
            ));
        }
        reserve(
            "format",
            out.len().saturating_add(width).saturating_add(body.len()),
        )?;
        let zeros = matches!(verb, 'd' | 'f' | 'F' | 'x' | 'X' | 'o' | 'b' | 'e');
        out.push_str(&directive.pad(body, width, zeros));
    }
    if values.next().is_some() {
        return Err("format: too many arguments".to_string());
    }
    Ok(Value::from(out))
}

//! Go's `fmt.Sprintf`: the directive syntax, padding and number formatting that every
//! printf-like function shares, and [`sprintf`] over template values.
//!
//! Other printf-like functions (HCL2's `format` in the job file reader) read the same
//! directives with [`pieces`] and format numbers with the same helpers, and decide for
//! themselves what a value prints as and what a bad directive is.

use crate::value::{Value, format_float};

/// One `%` directive: `%[flags][width][.precision]verb`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Directive<'a> {
    /// `-`: pad on the right.
    pub minus: bool,
    /// `+`: a sign before non-negative numbers.
    pub plus: bool,
    /// ` `: a space before non-negative numbers (`+` wins).
    pub space: bool,
    /// `0`: pad numbers with zeros after the sign (`-` wins).
    pub zero: bool,
    /// The width's digits as written, empty when there is none.
    pub width: &'a str,
    /// The precision's digits as written when there is a `.` (possibly empty).
    pub precision: Option<&'a str>,
    /// The verb; `None` when the format ends inside the directive.
    pub verb: Option<char>,
}

impl Directive<'_> {
    /// Go's sign flags on a formatted number: `+` or ` ` before a non-negative one.
    pub fn signed(&self, body: String, non_negative: bool) -> String {
        match (non_negative, self.plus, self.space) {
            (true, true, _) => format!("+{body}"),
            (true, false, true) => format!(" {body}"),
            _ => body,
        }
    }

    /// Pads `body` to `width` characters: on the right with `-`, with zeros after the
    /// sign with `0` when `zeros` allows it (numbers), else on the left with spaces.
    pub fn pad(&self, mut body: String, width: usize, zeros: bool) -> String {
        let len = body.chars().count();
        if len >= width {
            return body;
        }
        let pad = width - len;
        if self.minus {
            body.extend(std::iter::repeat_n(' ', pad));
        } else if self.zero && zeros {
            let at = usize::from(body.starts_with(['-', '+', ' ']));
            body.insert_str(at, &"0".repeat(pad));
        } else {
            body.insert_str(0, &" ".repeat(pad));
        }
        body
    }
}

/// A piece of a format string: text to copy, or a directive.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Piece<'a> {
    /// Text without directives.
    Text(&'a str),
    /// A `%` directive (`%%` is one whose verb is `%`).
    Directive(Directive<'a>),
}

/// The pieces of `format`, in order.
///
/// ```
/// use caravan_gotemplate::printf::{Piece, pieces};
/// let found: Vec<Piece> = pieces("a%-5.2fb").collect();
/// assert_eq!(found.len(), 3);
/// let Piece::Directive(d) = found[1] else { panic!() };
/// assert!(d.minus);
/// assert_eq!((d.width, d.precision, d.verb), ("5", Some("2"), Some('f')));
/// ```
pub fn pieces(format: &str) -> Pieces<'_> {
    Pieces { rest: format }
}

/// The iterator [`pieces`] returns.
#[derive(Debug, Clone)]
pub struct Pieces<'a> {
    rest: &'a str,
}

impl<'a> Iterator for Pieces<'a> {
    type Item = Piece<'a>;

    fn next(&mut self) -> Option<Piece<'a>> {
        if self.rest.is_empty() {
            return None;
        }
        let Some(after) = self.rest.strip_prefix('%') else {
            let end = self.rest.find('%').unwrap_or(self.rest.len());
            let (text, rest) = self.rest.split_at(end);
            self.rest = rest;
            return Some(Piece::Text(text));
        };
        let mut directive = Directive {
            minus: false,
            plus: false,
            space: false,
            zero: false,
            width: "",
            precision: None,
            verb: None,
        };
        let flags = after
            .find(|c: char| !matches!(c, '-' | '+' | ' ' | '0' | '#'))
            .unwrap_or(after.len());
        for flag in after[..flags].chars() {
            match flag {
                '-' => directive.minus = true,
                '+' => directive.plus = true,
                ' ' => directive.space = true,
                '0' => directive.zero = true,
                // `#` (Go's alternate forms) is read and ignored.
                _ => {}
            }
        }
        let mut rest = &after[flags..];
        let digits = |s: &'a str| s.find(|c: char| !c.is_ascii_digit()).unwrap_or(s.len());
        let width = digits(rest);
        (directive.width, rest) = rest.split_at(width);
        if let Some(after_dot) = rest.strip_prefix('.') {
            let precision = digits(after_dot);
            let (value, after) = after_dot.split_at(precision);
            directive.precision = Some(value);
            rest = after;
        }
        let mut chars = rest.chars();
        directive.verb = chars.next();
        self.rest = chars.as_str();
        Some(Piece::Directive(directive))
    }
}

/// Go's floating-point verbs, unsigned and unpadded: `%f`/`%F` and `%e` with a precision
/// (6 when none is given), `%g` as Go's shortest form. `None` for another verb.
pub fn floating(f: f64, verb: char, precision: Option<usize>) -> Option<String> {
    Some(match verb {
        'f' | 'F' => fixed(f, precision),
        'e' => exponent(f, precision),
        'g' => format_float(f),
        _ => return None,
    })
}

/// Go's integer verbs: `%d`, `%x`, `%X`, `%o`, `%b`. A negative number is its sign and
/// its magnitude in every base, as Go prints it (`%x` of -10 is `-a`, not a two's
/// complement). `None` for another verb.
pub fn integer(n: i64, verb: char) -> Option<String> {
    let sign = if n < 0 { "-" } else { "" };
    let magnitude = n.unsigned_abs();
    Some(match verb {
        'd' => n.to_string(),
        'x' => format!("{sign}{magnitude:x}"),
        'X' => format!("{sign}{magnitude:X}"),
        'o' => format!("{sign}{magnitude:o}"),
        'b' => format!("{sign}{magnitude:b}"),
        _ => return None,
    })
}

/// Go's `%f` with a precision (6 when none is given).
pub fn fixed(f: f64, precision: Option<usize>) -> String {
    format!("{:.*}", precision.unwrap_or(6), f)
}

/// Go's `%e` with a precision (6 when none is given): `1.500000e+03`, where Rust
/// writes `1.5e3`.
pub fn exponent(f: f64, precision: Option<usize>) -> String {
    let rust = format!("{:.*e}", precision.unwrap_or(6), f);
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

/// The largest width or precision Go's `fmt` takes (its `tooLarge`).
pub const MAX_WIDTH: usize = 1_000_000;

/// Go's `fmt.Sprintf` for the verbs templates use: `%v %s %q %d %f %e %g %x %X %o %b %t
/// %c %%`, with flags (`-`, `0`, `+`, ` `), width and precision. A bad directive prints
/// as Go prints it (`%!d(string=x)`, `%!s(MISSING)`, `%!(EXTRA int=1)`).
///
/// ```
/// use caravan_gotemplate::{Value, printf::sprintf};
/// let out = sprintf("%s:%05d|%-4s|", &[Value::Str("h".into()), Value::Int(42), Value::Str("ab".into())]);
/// assert_eq!(out, "h:00042|ab  |");
/// ```
pub fn sprintf(format: &str, args: &[Value]) -> String {
    let mut out = String::new();
    let mut next = 0;
    for piece in pieces(format) {
        let directive = match piece {
            Piece::Text(text) => {
                out.push_str(text);
                continue;
            }
            Piece::Directive(directive) => directive,
        };
        let Some(verb) = directive.verb else {
            out.push_str("%!(NOVERB)");
            break;
        };
        // Go's fmt gives up on a width or precision past a million (`tooLarge`): it
        // reads the rest of the format as the number and prints `%!(NOVERB)`.
        let too_large =
            |digits: &str| digits.len() > 7 || digits.parse::<usize>().is_ok_and(|n| n > MAX_WIDTH);
        if too_large(directive.width) || directive.precision.is_some_and(too_large) {
            out.push_str("%!(NOVERB)");
            break;
        }
        if out.len() > crate::exec::MAX_OUTPUT_BYTES {
            // Past what any caller keeps: the caller's own limit reports it.
            break;
        }
        if verb == '%' {
            out.push('%');
            continue;
        }
        let Some(arg) = args.get(next) else {
            out.push_str(&format!("%!{verb}(MISSING)"));
            continue;
        };
        next += 1;
        let precision = directive.precision.map(|p| p.parse().unwrap_or(0));
        let numeric = matches!(arg, Value::Int(_) | Value::Float(_));
        let body = format_value(&directive, verb, precision, arg);
        // Too many digits to be a width is no width.
        let body = match directive.width.parse::<usize>() {
            Ok(width) => directive.pad(body, width, numeric),
            Err(_) => body,
        };
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

/// One template value through one verb, unpadded.
fn format_value(
    directive: &Directive,
    verb: char,
    precision: Option<usize>,
    arg: &Value,
) -> String {
    let numeric = matches!(arg, Value::Int(_) | Value::Float(_));
    let float = |f: f64, text: String| directive.signed(text, f >= 0.0);
    match (verb, arg) {
        ('v' | 's', Value::Str(s)) => match precision {
            Some(p) => s.chars().take(p).collect(),
            None => s.clone(),
        },
        ('v', other) => other.to_go_string(),
        ('s', Value::Nil) => "%!s(<nil>)".to_string(),
        ('s', other) if !numeric => other.to_go_string(),
        ('q', Value::Str(s)) => format!("{s:?}"),
        ('d', Value::Int(n)) => directive.signed(n.to_string(), *n >= 0),
        ('x' | 'X' | 'o' | 'b', Value::Int(n)) => integer(*n, verb).unwrap_or_default(),
        ('f' | 'F' | 'e' | 'g', Value::Float(_) | Value::Int(_)) => {
            let f = as_f64(arg);
            float(f, floating(f, verb, precision).unwrap_or_default())
        }
        ('x', Value::Str(s)) => s.bytes().map(|b| format!("{b:02x}")).collect(),
        ('X', Value::Str(s)) => s.bytes().map(|b| format!("{b:02X}")).collect(),
        ('t', Value::Bool(b)) => b.to_string(),
        ('c', Value::Int(n)) => char::from_u32(*n as u32)
            .map(String::from)
            .unwrap_or_default(),
        _ => format!("%!{verb}({}={})", arg.type_name(), arg.to_go_string()),
    }
}

fn as_f64(value: &Value) -> f64 {
    match value {
        Value::Int(n) => *n as f64,
        Value::Float(f) => *f,
        _ => 0.0,
    }
}

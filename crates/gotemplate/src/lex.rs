//! Lexing: a template's text cut into plain text and the tokens of each action, with
//! Go's delimiters, trim markers (`{{- `, ` -}}`), comments and literals.

use crate::parse::{ParseError, error};
use crate::value::Value;

/// One token inside an action.
#[derive(Debug, Clone, PartialEq)]
pub(crate) enum Token {
    /// A function name or a keyword.
    Ident(String),
    /// `.` (empty) or `.A.B`.
    Field(Vec<String>),
    /// `$` (empty name) or `$x`, with a field chain.
    Var(String, Vec<String>),
    Lit(Value),
    Declare,
    Assign,
    Pipe,
    LParen,
    RParen,
    Comma,
}

/// The template between delimiters, lexed.
pub(crate) enum Item {
    Text(String),
    Action { tokens: Vec<Token>, line: usize },
}

fn line_at(src: &str, offset: usize) -> usize {
    1 + src[..offset].bytes().filter(|b| *b == b'\n').count()
}

fn is_space(c: char) -> bool {
    matches!(c, ' ' | '\t' | '\r' | '\n')
}

/// Cuts `src` into text and actions between `left` and `right`.
pub(crate) fn lex(src: &str, left: &str, right: &str) -> Result<Vec<Item>, ParseError> {
    let mut items = Vec::new();
    let mut pos = 0;
    while let Some(found) = src[pos..].find(left) {
        let start = pos + found;
        let mut text = &src[pos..start];
        let mut p = start + left.len();
        let line = line_at(src, start);
        // `{{- ` trims the whitespace before the action (Go wants a space after the dash).
        if src[p..].starts_with('-') && src[p + 1..].starts_with(is_space) {
            text = text.trim_end_matches(is_space);
            p += 1;
        }
        if !text.is_empty() {
            items.push(Item::Text(text.to_string()));
        }
        let (tokens, end, trim) = lex_action(src, p, right, line)?;
        if let Some(tokens) = tokens {
            items.push(Item::Action { tokens, line });
        }
        pos = end;
        if trim {
            pos = src.len() - src[pos..].trim_start_matches(is_space).len();
        }
    }
    if pos < src.len() {
        items.push(Item::Text(src[pos..].to_string()));
    }
    Ok(items)
}

/// Lexes one action from `p` (just after the left delimiter and trim marker). Answers
/// its tokens (`None` for a comment), where it ends and whether it trims what follows.
#[allow(clippy::type_complexity)]
fn lex_action(
    src: &str,
    mut p: usize,
    right: &str,
    line: usize,
) -> Result<(Option<Vec<Token>>, usize, bool), ParseError> {
    let close = |p: usize| -> Option<(usize, bool)> {
        let rest = &src[p..];
        if rest.starts_with(right) {
            return Some((p + right.len(), false));
        }
        let after_space = p > 0 && src[..p].ends_with(is_space);
        if after_space && rest.starts_with('-') && rest[1..].starts_with(right) {
            return Some((p + 1 + right.len(), true));
        }
        None
    };
    let skip_space = |p: usize| src.len() - src[p..].trim_start_matches(is_space).len();
    let unclosed = || error(line, "unclosed action");
    p = skip_space(p);
    if src[p..].starts_with("/*") {
        let end = src[p..]
            .find("*/")
            .ok_or_else(|| error(line, "unclosed comment"))?;
        let after = skip_space(p + end + 2);
        let (end, trim) =
            close(after).ok_or_else(|| error(line, "comment ends before closing delimiter"))?;
        return Ok((None, end, trim));
    }
    let mut tokens = Vec::new();
    loop {
        p = skip_space(p);
        if let Some((end, trim)) = close(p) {
            return Ok((Some(tokens), end, trim));
        }
        let rest = &src[p..];
        let mut chars = rest.chars();
        let Some(c) = chars.next() else {
            return Err(unclosed());
        };
        let next = chars.next();
        let (token, len) = match c {
            '"' => lex_quoted(rest, line)?,
            '`' => {
                let end = rest[1..]
                    .find('`')
                    .ok_or_else(|| error(line, "unterminated raw quoted string"))?;
                (
                    Token::Lit(Value::Str(rest[1..1 + end].to_string())),
                    end + 2,
                )
            }
            '\'' => lex_char(rest, line)?,
            '0'..='9' => lex_number(rest, line)?,
            '-' | '+' if next.is_some_and(|n| n.is_ascii_digit()) => lex_number(rest, line)?,
            '.' if next.is_some_and(|n| n.is_ascii_digit()) => lex_number(rest, line)?,
            '.' => {
                let (fields, len) = lex_fields(rest);
                (Token::Field(fields), len)
            }
            '$' => {
                let name_len = ident_len(&rest[1..]);
                let name = rest[1..1 + name_len].to_string();
                let (fields, len) = lex_fields(&rest[1 + name_len..]);
                (Token::Var(name, fields), 1 + name_len + len)
            }
            ':' if next == Some('=') => (Token::Declare, 2),
            '=' => (Token::Assign, 1),
            '|' => (Token::Pipe, 1),
            '(' => (Token::LParen, 1),
            ')' => (Token::RParen, 1),
            ',' => (Token::Comma, 1),
            c if c.is_alphabetic() || c == '_' => {
                let len = ident_len(rest);
                let word = &rest[..len];
                let token = match word {
                    "true" => Token::Lit(Value::Bool(true)),
                    "false" => Token::Lit(Value::Bool(false)),
                    "nil" => Token::Lit(Value::Nil),
                    _ => Token::Ident(word.to_string()),
                };
                (token, len)
            }
            other => {
                return Err(error(line, format!("unexpected {other:?} in action")));
            }
        };
        tokens.push(token);
        p += len;
    }
}

fn ident_len(s: &str) -> usize {
    s.find(|c: char| !(c.is_alphanumeric() || c == '_'))
        .unwrap_or(s.len())
}

/// `.A.B` (or `.` alone): the field names and the length.
fn lex_fields(s: &str) -> (Vec<String>, usize) {
    let mut fields = Vec::new();
    let mut len = 0;
    while s[len..].starts_with('.') {
        let name = ident_len(&s[len + 1..]);
        if name == 0 {
            if fields.is_empty() {
                len += 1;
            }
            break;
        }
        fields.push(s[len + 1..len + 1 + name].to_string());
        len += 1 + name;
    }
    (fields, len)
}

fn lex_quoted(s: &str, line: usize) -> Result<(Token, usize), ParseError> {
    let mut out = String::new();
    let mut chars = s.char_indices().skip(1);
    let unterminated = || error(line, "unterminated quoted string");
    while let Some((i, c)) = chars.next() {
        match c {
            '"' => return Ok((Token::Lit(Value::Str(out)), i + 1)),
            '\n' => return Err(unterminated()),
            '\\' => {
                let (_, e) = chars.next().ok_or_else(unterminated)?;
                match e {
                    'n' => out.push('\n'),
                    't' => out.push('\t'),
                    'r' => out.push('\r'),
                    'a' => out.push('\x07'),
                    'b' => out.push('\x08'),
                    'f' => out.push('\x0c'),
                    'v' => out.push('\x0b'),
                    '0' => out.push('\0'),
                    '\\' | '"' | '\'' => out.push(e),
                    'x' | 'u' | 'U' => {
                        let digits = match e {
                            'x' => 2,
                            'u' => 4,
                            _ => 8,
                        };
                        let hex: String = (0..digits)
                            .filter_map(|_| chars.next().map(|(_, c)| c))
                            .collect();
                        let code = u32::from_str_radix(&hex, 16)
                            .ok()
                            .and_then(char::from_u32)
                            .ok_or_else(|| error(line, format!("bad escape \\{e}{hex}")))?;
                        out.push(code);
                    }
                    other => return Err(error(line, format!("unknown escape sequence \\{other}"))),
                }
            }
            c => out.push(c),
        }
    }
    Err(unterminated())
}

fn lex_char(s: &str, line: usize) -> Result<(Token, usize), ParseError> {
    let mut chars = s.char_indices().skip(1);
    let bad = || error(line, "bad character constant");
    let (_, c) = chars.next().ok_or_else(bad)?;
    let value = if c == '\\' {
        match chars.next().ok_or_else(bad)?.1 {
            'n' => '\n',
            't' => '\t',
            'r' => '\r',
            '0' => '\0',
            other => other,
        }
    } else {
        c
    };
    match chars.next() {
        Some((i, '\'')) => Ok((Token::Lit(Value::Int(value as i64)), i + 1)),
        _ => Err(bad()),
    }
}

fn lex_number(s: &str, line: usize) -> Result<(Token, usize), ParseError> {
    let bytes = s.as_bytes();
    let mut len = 0;
    while len < bytes.len() {
        let b = bytes[len];
        let exponent_sign = len > 0
            && matches!(b, b'+' | b'-')
            && matches!(bytes[len - 1], b'e' | b'E')
            && !s.starts_with("0x");
        if b.is_ascii_alphanumeric()
            || b == b'_'
            || b == b'.'
            || exponent_sign
            || (len == 0 && matches!(b, b'+' | b'-'))
        {
            len += 1;
        } else {
            break;
        }
    }
    let text = s[..len].replace('_', "");
    let (sign, digits) = match text.strip_prefix('-') {
        Some(rest) => (-1, rest.to_string()),
        None => (1, text.trim_start_matches('+').to_string()),
    };
    let parsed = if let Some(hex) = digits
        .strip_prefix("0x")
        .or_else(|| digits.strip_prefix("0X"))
    {
        i64::from_str_radix(hex, 16)
            .ok()
            .map(|n| Value::Int(sign * n))
    } else if let Ok(n) = digits.parse::<i64>() {
        Some(Value::Int(sign * n))
    } else {
        digits
            .parse::<f64>()
            .ok()
            .map(|f| Value::Float(sign as f64 * f))
    };
    match parsed {
        Some(value) => Ok((Token::Lit(value), len)),
        None => Err(error(line, format!("bad number syntax: {:?}", &s[..len]))),
    }
}

//! Go's `text/template` syntax, the subset Caravan renders: text, `{{/* comments */}}`,
//! trim markers (`{{-`, `-}}`), pipelines of functions, variables (`$x := ...`), field
//! chains (`.Key.Sub`), and the `if`/`else if`/`range`/`with`/`break`/`continue`/`end`
//! actions, with any delimiters.

use super::exec::Value;
use super::funcs;

/// A parse error: the line it was found on and what is wrong.
#[derive(Debug, Clone, PartialEq)]
pub struct ParseError {
    pub line: usize,
    pub message: String,
}

/// One token inside an action.
#[derive(Debug, Clone, PartialEq)]
enum Token {
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
enum Item {
    Text(String),
    Action { tokens: Vec<Token>, line: usize },
}

/// A parsed template node.
#[derive(Debug, Clone)]
pub enum Node {
    Text(String),
    /// `{{ pipeline }}`: prints its value unless it declares a variable.
    Output(Pipeline),
    If {
        pipe: Pipeline,
        then: Vec<Node>,
        otherwise: Vec<Node>,
    },
    With {
        pipe: Pipeline,
        then: Vec<Node>,
        otherwise: Vec<Node>,
    },
    Range {
        pipe: Pipeline,
        then: Vec<Node>,
        otherwise: Vec<Node>,
    },
    Break,
    Continue,
}

/// `$a, $b := cmd | cmd arg`.
#[derive(Debug, Clone)]
pub struct Pipeline {
    pub line: usize,
    /// Variables declared (`:=`) or assigned (`=`) by the pipeline.
    pub vars: Vec<String>,
    pub assign: bool,
    pub commands: Vec<Vec<Arg>>,
}

/// One operand of a command.
#[derive(Debug, Clone)]
pub enum Arg {
    Func(String),
    Field(Vec<String>),
    Var(String, Vec<String>),
    Lit(Value),
    Pipe(Box<Pipeline>),
}

/// Parses `src` with the given delimiters (`{{`/`}}` when empty).
pub fn parse(src: &str, left: &str, right: &str) -> Result<Vec<Node>, ParseError> {
    let left = if left.is_empty() { "{{" } else { left };
    let right = if right.is_empty() { "}}" } else { right };
    let items = lex(src, left, right)?;
    let mut parser = Parser {
        items: items.into_iter(),
        range_depth: 0,
    };
    let (nodes, stop) = parser.list()?;
    match stop {
        Stop::Eof => Ok(nodes),
        Stop::End(line) => Err(error(line, "unexpected {{end}}")),
        Stop::Else(_, line) => Err(error(line, "unexpected {{else}}")),
    }
}

fn error(line: usize, message: impl Into<String>) -> ParseError {
    ParseError {
        line,
        message: message.into(),
    }
}

fn line_at(src: &str, offset: usize) -> usize {
    1 + src[..offset].bytes().filter(|b| *b == b'\n').count()
}

fn is_space(c: char) -> bool {
    matches!(c, ' ' | '\t' | '\r' | '\n')
}

fn lex(src: &str, left: &str, right: &str) -> Result<Vec<Item>, ParseError> {
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

/// Why a list of nodes ended.
enum Stop {
    Eof,
    End(usize),
    Else(Vec<Token>, usize),
}

struct Parser {
    items: std::vec::IntoIter<Item>,
    range_depth: usize,
}

impl Parser {
    fn list(&mut self) -> Result<(Vec<Node>, Stop), ParseError> {
        let mut nodes = Vec::new();
        loop {
            let Some(item) = self.items.next() else {
                return Ok((nodes, Stop::Eof));
            };
            let (tokens, line) = match item {
                Item::Text(text) => {
                    nodes.push(Node::Text(text));
                    continue;
                }
                Item::Action { tokens, line } => (tokens, line),
            };
            let keyword = match tokens.first() {
                Some(Token::Ident(word)) => word.as_str(),
                _ => "",
            };
            match keyword {
                "end" => {
                    if tokens.len() > 1 {
                        return Err(error(line, "unexpected tokens in {{end}}"));
                    }
                    return Ok((nodes, Stop::End(line)));
                }
                "else" => return Ok((nodes, Stop::Else(tokens[1..].to_vec(), line))),
                "if" | "with" | "range" => {
                    let node = self.control(keyword, &tokens[1..], line)?;
                    nodes.push(node);
                }
                "break" | "continue" => {
                    if self.range_depth == 0 {
                        return Err(error(
                            line,
                            format!("{{{{{keyword}}}}} outside {{{{range}}}}"),
                        ));
                    }
                    if tokens.len() > 1 {
                        return Err(error(
                            line,
                            format!("unexpected tokens in {{{{{keyword}}}}}"),
                        ));
                    }
                    nodes.push(if keyword == "break" {
                        Node::Break
                    } else {
                        Node::Continue
                    });
                }
                "define" | "template" | "block" => {
                    return Err(error(
                        line,
                        format!("{{{{{keyword}}}}} is not supported by Caravan's templates"),
                    ));
                }
                _ => nodes.push(Node::Output(pipeline(&tokens, line, 1)?)),
            }
        }
    }

    /// `if`, `with` or `range` up to its `{{end}}`, with `{{else}}` and `{{else if}}`.
    fn control(
        &mut self,
        keyword: &str,
        tokens: &[Token],
        line: usize,
    ) -> Result<Node, ParseError> {
        let max_vars = if keyword == "range" { 2 } else { 1 };
        let pipe = pipeline(tokens, line, max_vars)?;
        if pipe.commands.is_empty() {
            return Err(error(line, format!("missing value for {keyword}")));
        }
        if keyword == "range" {
            self.range_depth += 1;
        }
        let body = self.list();
        if keyword == "range" {
            self.range_depth -= 1;
        }
        let (then, stop) = body?;
        let otherwise = match stop {
            Stop::End(_) => Vec::new(),
            Stop::Eof => {
                return Err(error(
                    line,
                    format!("{{{{{keyword}}}}} has no matching {{{{end}}}}"),
                ));
            }
            Stop::Else(rest, else_line) => match rest.first() {
                None => {
                    let (otherwise, stop) = self.list()?;
                    match stop {
                        Stop::End(_) => otherwise,
                        Stop::Else(_, l) => {
                            return Err(error(l, "unexpected {{else}} after {{else}}"));
                        }
                        Stop::Eof => {
                            return Err(error(
                                line,
                                format!("{{{{{keyword}}}}} has no matching {{{{end}}}}"),
                            ));
                        }
                    }
                }
                // `{{else if ...}}` is an `if` nested in the else branch, sharing its `end`.
                Some(Token::Ident(word))
                    if (word == "if" || word == "with") && keyword != "range" =>
                {
                    vec![self.control(&word.clone(), &rest[1..], else_line)?]
                }
                Some(_) => return Err(error(else_line, "unexpected tokens in {{else}}")),
            },
        };
        Ok(match keyword {
            "if" => Node::If {
                pipe,
                then,
                otherwise,
            },
            "with" => Node::With {
                pipe,
                then,
                otherwise,
            },
            _ => Node::Range {
                pipe,
                then,
                otherwise,
            },
        })
    }
}

/// Parses a pipeline, with up to `max_vars` declared variables.
fn pipeline(tokens: &[Token], line: usize, max_vars: usize) -> Result<Pipeline, ParseError> {
    let mut vars = Vec::new();
    let mut assign = false;
    let mut rest = tokens;
    // `$x :=`, `$x =`, `$i, $e :=`.
    let declaration = |t: &[Token]| -> Option<(Vec<String>, bool, usize)> {
        match t {
            [Token::Var(a, fa), Token::Declare | Token::Assign, ..] if fa.is_empty() => {
                Some((vec![a.clone()], t[1] == Token::Assign, 2))
            }
            [
                Token::Var(a, fa),
                Token::Comma,
                Token::Var(b, fb),
                Token::Declare | Token::Assign,
                ..,
            ] if fa.is_empty() && fb.is_empty() => {
                Some((vec![a.clone(), b.clone()], t[3] == Token::Assign, 4))
            }
            _ => None,
        }
    };
    if let Some((names, is_assign, len)) = declaration(tokens) {
        if names.len() > max_vars {
            return Err(error(line, "too many declarations in command"));
        }
        vars = names;
        assign = is_assign;
        rest = &tokens[len..];
        if rest.is_empty() {
            return Err(error(line, "missing value for declaration"));
        }
    }
    let mut commands = Vec::new();
    let mut depth = 0usize;
    let mut start = 0;
    for (i, token) in rest.iter().enumerate() {
        match token {
            Token::LParen => depth += 1,
            Token::RParen => {
                depth = depth
                    .checked_sub(1)
                    .ok_or_else(|| error(line, "unexpected right paren"))?;
            }
            Token::Pipe if depth == 0 => {
                commands.push(command(&rest[start..i], line)?);
                start = i + 1;
            }
            _ => {}
        }
    }
    if depth != 0 {
        return Err(error(line, "unclosed left paren"));
    }
    if !rest.is_empty() {
        commands.push(command(&rest[start..], line)?);
    }
    for (i, cmd) in commands.iter().enumerate().skip(1) {
        if !matches!(cmd.first(), Some(Arg::Func(_))) {
            return Err(error(
                line,
                format!("non executable command in pipeline stage {}", i + 1),
            ));
        }
    }
    Ok(Pipeline {
        line,
        vars,
        assign,
        commands,
    })
}

fn command(tokens: &[Token], line: usize) -> Result<Vec<Arg>, ParseError> {
    if tokens.is_empty() {
        return Err(error(line, "missing command"));
    }
    let mut args = Vec::new();
    let mut i = 0;
    while i < tokens.len() {
        let arg = match &tokens[i] {
            Token::Ident(name) => {
                funcs::check(name).map_err(|message| error(line, message))?;
                Arg::Func(name.clone())
            }
            Token::Field(fields) => Arg::Field(fields.clone()),
            Token::Var(name, fields) => Arg::Var(name.clone(), fields.clone()),
            Token::Lit(value) => Arg::Lit(value.clone()),
            Token::LParen => {
                let mut depth = 0;
                let mut end = i;
                for (j, t) in tokens.iter().enumerate().skip(i) {
                    match t {
                        Token::LParen => depth += 1,
                        Token::RParen => {
                            depth -= 1;
                            if depth == 0 {
                                end = j;
                                break;
                            }
                        }
                        _ => {}
                    }
                }
                let inner = pipeline(&tokens[i + 1..end], line, 1)?;
                if inner.commands.is_empty() {
                    return Err(error(line, "missing value in parentheses"));
                }
                i = end;
                Arg::Pipe(Box::new(inner))
            }
            Token::Declare | Token::Assign => return Err(error(line, "unexpected declaration")),
            Token::Comma => return Err(error(line, "unexpected \",\"")),
            Token::Pipe | Token::RParen => return Err(error(line, "unexpected token")),
        };
        args.push(arg);
        i += 1;
    }
    Ok(args)
}

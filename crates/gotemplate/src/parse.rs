//! Go's `text/template` syntax, the subset Caravan renders: text, `{{/* comments */}}`,
//! trim markers (`{{-`, `-}}`), pipelines of functions, variables (`$x := ...`), field
//! chains (`.Key.Sub`), and the `if`/`else if`/`range`/`with`/`break`/`continue`/`end`
//! actions, with any delimiters.

use crate::Functions;
use crate::builtins;
use crate::lex::{Item, Token, lex};
use crate::value::Value;

/// A parse error: the line it was found on and what is wrong.
#[derive(Debug, Clone, PartialEq, thiserror::Error)]
#[error("line {line}: {message}")]
pub struct ParseError {
    /// The line of the action, from 1.
    pub line: usize,
    /// What is wrong, as Go's parser words it where it can.
    pub message: String,
}

/// A parsed template node.
#[derive(Debug, Clone)]
pub(crate) enum Node {
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
pub(crate) struct Pipeline {
    pub line: usize,
    /// Variables declared (`:=`) or assigned (`=`) by the pipeline.
    pub vars: Vec<String>,
    pub assign: bool,
    pub commands: Vec<Vec<Arg>>,
}

/// One operand of a command.
#[derive(Debug, Clone)]
pub(crate) enum Arg {
    Func(String),
    Field(Vec<String>),
    Var(String, Vec<String>),
    Lit(Value),
    Pipe(Box<Pipeline>),
}

/// Parses `src` with the given delimiters (`{{`/`}}` when empty); every function it
/// names must be a built-in or one of `funcs`.
pub(crate) fn parse(
    src: &str,
    left: &str,
    right: &str,
    funcs: &dyn Functions,
) -> Result<Vec<Node>, ParseError> {
    let left = if left.is_empty() { "{{" } else { left };
    let right = if right.is_empty() { "}}" } else { right };
    let items = lex(src, left, right)?;
    let mut parser = Parser {
        items: items.into_iter(),
        range_depth: 0,
        funcs,
    };
    let (nodes, stop) = parser.list()?;
    match stop {
        Stop::Eof => Ok(nodes),
        Stop::End(line) => Err(error(line, "unexpected {{end}}")),
        Stop::Else(_, line) => Err(error(line, "unexpected {{else}}")),
    }
}

pub(crate) fn error(line: usize, message: impl Into<String>) -> ParseError {
    ParseError {
        line,
        message: message.into(),
    }
}

/// Why a list of nodes ended.
enum Stop {
    Eof,
    End(usize),
    Else(Vec<Token>, usize),
}

struct Parser<'f> {
    items: std::vec::IntoIter<Item>,
    range_depth: usize,
    funcs: &'f dyn Functions,
}

impl Parser<'_> {
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
                _ => nodes.push(Node::Output(pipeline(&tokens, line, 1, self.funcs)?)),
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
        let pipe = pipeline(tokens, line, max_vars, self.funcs)?;
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
fn pipeline(
    tokens: &[Token],
    line: usize,
    max_vars: usize,
    funcs: &dyn Functions,
) -> Result<Pipeline, ParseError> {
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
                commands.push(command(&rest[start..i], line, funcs)?);
                start = i + 1;
            }
            _ => {}
        }
    }
    if depth != 0 {
        return Err(error(line, "unclosed left paren"));
    }
    if !rest.is_empty() {
        commands.push(command(&rest[start..], line, funcs)?);
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

fn command(tokens: &[Token], line: usize, funcs: &dyn Functions) -> Result<Vec<Arg>, ParseError> {
    if tokens.is_empty() {
        return Err(error(line, "missing command"));
    }
    let mut args = Vec::new();
    let mut i = 0;
    while i < tokens.len() {
        let arg = match &tokens[i] {
            Token::Ident(name) => {
                builtins::check(name, funcs).map_err(|message| error(line, message))?;
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
                let inner = pipeline(&tokens[i + 1..end], line, 1, funcs)?;
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

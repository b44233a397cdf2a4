//! HCL1 grammar over the tokens: a body is a sequence of items; an item is a key, optional
//! labels, then `= value` or `{ body }`. Commas between items are optional.

use std::sync::Arc;

use super::lexer::{Token, TokenKind, tokenize};
use crate::ast::{Body, Item, Value, ValueKind};
use crate::error::{ParseError, Pos};

/// Deeper nesting than this is refused instead of risking the stack.
const MAX_DEPTH: usize = 100;

/// Parses HCL1 `source` into a [`Body`]. `file_name` is only used in error messages.
///
/// ```
/// let body = caravan_jobspec::hcl1::parse("agent.hcl", "server { bootstrap_expect = 1 }")?;
/// let server = body.block("server")?.expect("present");
/// assert_eq!(server.int("bootstrap_expect")?, Some(1));
/// # Ok::<(), caravan_jobspec::ParseError>(())
/// ```
pub fn parse(file_name: &str, source: &str) -> Result<Body, ParseError> {
    // A UTF-8 byte order mark some editors write is not part of the text.
    let source = source.strip_prefix('\u{feff}').unwrap_or(source);
    let tokens = tokenize(file_name, source)?;
    let mut parser = Parser {
        file: Arc::from(file_name),
        tokens,
        at: 0,
        depth: 0,
    };
    parser.body(None)
}

/// What an open `{` belongs to, for the "never closed" message.
struct Opened {
    what: String,
    pos: Pos,
}

struct Parser {
    file: Arc<str>,
    tokens: Vec<Token>,
    at: usize,
    depth: usize,
}

impl Parser {
    fn peek(&self) -> &Token {
        // The token list always ends with Eof and `bump` never moves past it.
        &self.tokens[self.at.min(self.tokens.len() - 1)]
    }

    fn bump(&mut self) -> Token {
        let token = self.peek().clone();
        if token.kind != TokenKind::Eof {
            self.at += 1;
        }
        token
    }

    fn error(&self, pos: Pos, message: impl Into<String>) -> ParseError {
        ParseError::new(&self.file, pos, message)
    }

    fn enter(&mut self, pos: Pos) -> Result<(), ParseError> {
        self.depth += 1;
        if self.depth > MAX_DEPTH {
            return Err(self.error(pos, format!("nesting deeper than {MAX_DEPTH} levels")));
        }
        Ok(())
    }

    /// Items up to the end of file (top level) or the `}` closing `opened`.
    fn body(&mut self, opened: Option<Opened>) -> Result<Body, ParseError> {
        let mut items = Vec::new();
        loop {
            let token = self.peek().clone();
            match &token.kind {
                TokenKind::Eof => {
                    if let Some(opened) = opened {
                        return Err(self.error(
                            token.pos,
                            format!(
                                "expected \"}}\" to close {} opened at {}, found end of file",
                                opened.what, opened.pos
                            ),
                        ));
                    }
                    break;
                }
                TokenKind::RBrace => {
                    if opened.is_none() {
                        return Err(self.error(
                            token.pos,
                            "unexpected \"}\": there is no open block to close",
                        ));
                    }
                    self.bump();
                    break;
                }
                TokenKind::Comma => {
                    self.bump();
                }
                TokenKind::Ident(key) | TokenKind::Str(key) => {
                    self.bump();
                    items.push(self.item(key.clone(), token.pos)?);
                }
                other => {
                    return Err(self.error(
                        token.pos,
                        format!("expected a key, found {}", other.describe()),
                    ));
                }
            }
        }
        Ok(Body::with_items(self.file.clone(), items))
    }

    /// The rest of an item whose key (at `pos`) was just read.
    fn item(&mut self, key: String, pos: Pos) -> Result<Item, ParseError> {
        let mut labels = Vec::new();
        loop {
            let token = self.bump();
            match token.kind {
                TokenKind::Ident(s) | TokenKind::Str(s) => labels.push(s),
                TokenKind::LBrace => {
                    let what = format!("block \"{key}\"");
                    // "opened at" points at the block's key, where a reader looks for it.
                    let value = self.object(token.pos, Opened { what, pos })?;
                    return Ok(Item {
                        key,
                        labels,
                        value,
                        is_block: true,
                        pos,
                    });
                }
                TokenKind::Equals => {
                    let value = self.value(&key)?;
                    if !labels.is_empty() && !matches!(value.kind, ValueKind::Object(_)) {
                        return Err(self.error(
                            pos,
                            format!("\"{key}\" has labels, so it must be a block: write {key} \"{}\" {{ ... }}", labels[0]),
                        ));
                    }
                    return Ok(Item {
                        key,
                        labels,
                        value,
                        is_block: false,
                        pos,
                    });
                }
                other => {
                    return Err(self.error(
                        token.pos,
                        format!(
                            "expected \"=\" or \"{{\" after \"{key}\", found {}",
                            other.describe()
                        ),
                    ));
                }
            }
        }
    }

    /// The body after a `{` at `open`, up to its `}`.
    fn object(&mut self, open: Pos, opened: Opened) -> Result<Value, ParseError> {
        self.enter(open)?;
        let body = self.body(Some(opened))?;
        self.depth -= 1;
        Ok(Value::new(ValueKind::Object(body), open))
    }

    fn value(&mut self, key: &str) -> Result<Value, ParseError> {
        let token = self.bump();
        let kind = match token.kind {
            TokenKind::Str(s) => ValueKind::String(s),
            TokenKind::Int(n) => ValueKind::Int(n),
            TokenKind::Float(f) => ValueKind::Float(f),
            TokenKind::Ident(s) if s == "true" => ValueKind::Bool(true),
            TokenKind::Ident(s) if s == "false" => ValueKind::Bool(false),
            TokenKind::Ident(s) => {
                return Err(self.error(
                    token.pos,
                    format!("value of \"{key}\" is the bare word \"{s}\": strings must be quoted, write \"{s}\""),
                ));
            }
            TokenKind::LBrace => {
                let what = format!("object \"{key}\"");
                return self.object(
                    token.pos,
                    Opened {
                        what,
                        pos: token.pos,
                    },
                );
            }
            TokenKind::LBracket => return self.list(key, token.pos),
            other => {
                return Err(self.error(
                    token.pos,
                    format!("expected a value for \"{key}\", found {}", other.describe()),
                ));
            }
        };
        Ok(Value::new(kind, token.pos))
    }

    fn list(&mut self, key: &str, open: Pos) -> Result<Value, ParseError> {
        self.enter(open)?;
        let mut items = Vec::new();
        loop {
            if self.peek().kind == TokenKind::RBracket {
                self.bump();
                break;
            }
            if self.peek().kind == TokenKind::Eof {
                return Err(self.error(
                    self.peek().pos,
                    format!(
                        "expected \"]\" to close list \"{key}\" opened at {open}, found end of file"
                    ),
                ));
            }
            items.push(self.value(key)?);
            let token = self.bump();
            match token.kind {
                TokenKind::Comma => {}
                TokenKind::RBracket => break,
                other => {
                    return Err(self.error(
                        token.pos,
                        format!(
                            "expected \",\" or \"]\" in list \"{key}\" opened at {open}, found {}",
                            other.describe()
                        ),
                    ));
                }
            }
        }
        self.depth -= 1;
        Ok(Value::new(ValueKind::List(items), open))
    }
}

//! HCL1 tokens: identifiers, strings (with `${...}` kept verbatim), heredocs, numbers,
//! punctuation. Comments and whitespace (newlines included) are skipped.

use crate::error::{ParseError, Pos};

/// One token and where it starts.
#[derive(Debug, Clone, PartialEq)]
pub(crate) struct Token {
    pub kind: TokenKind,
    pub pos: Pos,
}

#[derive(Debug, Clone, PartialEq)]
pub(crate) enum TokenKind {
    Ident(String),
    /// A quoted string or heredoc, escapes resolved.
    Str(String),
    Int(i64),
    Float(f64),
    LBrace,
    RBrace,
    LBracket,
    RBracket,
    Comma,
    Equals,
    Eof,
}

impl TokenKind {
    /// How the token reads in an error message: `"}"`, `string "x"`, `end of file`.
    pub fn describe(&self) -> String {
        match self {
            TokenKind::Ident(s) => format!("identifier \"{s}\""),
            TokenKind::Str(s) => {
                let short: String = s.chars().take(40).collect();
                format!("string \"{short}\"")
            }
            TokenKind::Int(n) => format!("number {n}"),
            TokenKind::Float(f) => format!("number {f}"),
            TokenKind::LBrace => "\"{\"".into(),
            TokenKind::RBrace => "\"}\"".into(),
            TokenKind::LBracket => "\"[\"".into(),
            TokenKind::RBracket => "\"]\"".into(),
            TokenKind::Comma => "\",\"".into(),
            TokenKind::Equals => "\"=\"".into(),
            TokenKind::Eof => "end of file".into(),
        }
    }
}

/// Splits `source` into tokens, ending with [`TokenKind::Eof`].
pub(crate) fn tokenize(file: &str, source: &str) -> Result<Vec<Token>, ParseError> {
    let mut lexer = Lexer {
        file,
        chars: source.chars().collect(),
        at: 0,
        line: 1,
        col: 1,
    };
    let mut tokens = Vec::new();
    loop {
        let token = lexer.next_token()?;
        let end = token.kind == TokenKind::Eof;
        tokens.push(token);
        if end {
            return Ok(tokens);
        }
    }
}

struct Lexer<'a> {
    file: &'a str,
    chars: Vec<char>,
    at: usize,
    line: usize,
    col: usize,
}

impl Lexer<'_> {
    fn pos(&self) -> Pos {
        Pos::new(self.line, self.col)
    }

    fn peek(&self) -> Option<char> {
        self.chars.get(self.at).copied()
    }

    fn peek_at(&self, ahead: usize) -> Option<char> {
        self.chars.get(self.at + ahead).copied()
    }

    fn bump(&mut self) -> Option<char> {
        let ch = self.peek()?;
        self.at += 1;
        if ch == '\n' {
            self.line += 1;
            self.col = 1;
        } else {
            self.col += 1;
        }
        Some(ch)
    }

    fn error(&self, pos: Pos, message: impl Into<String>) -> ParseError {
        ParseError::new(self.file, pos, message)
    }

    fn skip_trivia(&mut self) -> Result<(), ParseError> {
        loop {
            match (self.peek(), self.peek_at(1)) {
                (Some(c), _) if c.is_whitespace() => {
                    self.bump();
                }
                (Some('#'), _) | (Some('/'), Some('/')) => {
                    while self.peek().is_some_and(|c| c != '\n') {
                        self.bump();
                    }
                }
                (Some('/'), Some('*')) => {
                    let start = self.pos();
                    self.bump();
                    self.bump();
                    loop {
                        match self.bump() {
                            None => {
                                return Err(
                                    self.error(start, "comment \"/*\" is never closed: add \"*/\"")
                                );
                            }
                            Some('*') if self.peek() == Some('/') => {
                                self.bump();
                                break;
                            }
                            Some(_) => {}
                        }
                    }
                }
                _ => return Ok(()),
            }
        }
    }

    fn next_token(&mut self) -> Result<Token, ParseError> {
        self.skip_trivia()?;
        let pos = self.pos();
        let Some(ch) = self.peek() else {
            return Ok(Token {
                kind: TokenKind::Eof,
                pos,
            });
        };
        let punct = match ch {
            '{' => Some(TokenKind::LBrace),
            '}' => Some(TokenKind::RBrace),
            '[' => Some(TokenKind::LBracket),
            ']' => Some(TokenKind::RBracket),
            ',' => Some(TokenKind::Comma),
            '=' => Some(TokenKind::Equals),
            _ => None,
        };
        let kind = if let Some(kind) = punct {
            self.bump();
            kind
        } else if ch == '"' {
            TokenKind::Str(self.string(pos)?)
        } else if ch == '<' && self.peek_at(1) == Some('<') {
            TokenKind::Str(self.heredoc(pos)?)
        } else if ch.is_ascii_digit()
            || ((ch == '-' || ch == '+')
                && self
                    .peek_at(1)
                    .is_some_and(|c| c.is_ascii_digit() || c == '.'))
            || (ch == '.' && self.peek_at(1).is_some_and(|c| c.is_ascii_digit()))
        {
            self.number(pos)?
        } else if ch.is_alphabetic() || ch == '_' {
            let mut ident = String::new();
            while let Some(c) = self
                .peek()
                .filter(|c| c.is_alphanumeric() || matches!(c, '_' | '-' | '.' | ':'))
            {
                ident.push(c);
                self.bump();
            }
            TokenKind::Ident(ident)
        } else {
            return Err(self.error(pos, format!("unexpected character {ch:?}")));
        };
        Ok(Token { kind, pos })
    }

    fn number(&mut self, pos: Pos) -> Result<TokenKind, ParseError> {
        let mut text = String::new();
        if let Some(sign) = self.peek().filter(|c| *c == '-' || *c == '+') {
            text.push(sign);
            self.bump();
        }
        if self.peek() == Some('0') && matches!(self.peek_at(1), Some('x' | 'X')) {
            self.bump();
            self.bump();
            let mut hex = String::new();
            while let Some(c) = self.peek().filter(char::is_ascii_hexdigit) {
                hex.push(c);
                self.bump();
            }
            let magnitude = i64::from_str_radix(&hex, 16)
                .map_err(|_| self.error(pos, format!("invalid hexadecimal number \"0x{hex}\"")))?;
            return Ok(TokenKind::Int(if text == "-" {
                -magnitude
            } else {
                magnitude
            }));
        }
        let mut is_float = false;
        while let Some(c) = self.peek() {
            let exponent_sign = matches!(c, '+' | '-') && text.ends_with(['e', 'E']);
            if c.is_ascii_digit() || exponent_sign {
                text.push(c);
            } else if (c == '.' && !is_float && self.peek_at(1).is_some_and(|d| d.is_ascii_digit()))
                || (matches!(c, 'e' | 'E') && !text.contains(['e', 'E']))
            {
                is_float = true;
                text.push(c);
            } else {
                break;
            }
            self.bump();
        }
        if self.peek().is_some_and(|c| c.is_alphanumeric() || c == '_') {
            return Err(self.error(
                pos,
                format!(
                    "invalid number \"{text}{}\": quote it if it is a string (e.g. \"5s\")",
                    self.peek().unwrap_or_default()
                ),
            ));
        }
        if is_float {
            text.parse()
                .map(TokenKind::Float)
                .map_err(|_| self.error(pos, format!("invalid number \"{text}\"")))
        } else {
            text.parse()
                .map(TokenKind::Int)
                .map_err(|_| self.error(pos, format!("number \"{text}\" does not fit in 64 bits")))
        }
    }

    /// A double-quoted string. `${...}` is copied verbatim, nested braces and quotes
    /// included, because it is resolved later (scheduler or client), not here.
    fn string(&mut self, start: Pos) -> Result<String, ParseError> {
        self.bump();
        let mut out = String::new();
        let unterminated = |lexer: &Self| {
            lexer.error(start, "string is not closed on the line it starts: add the closing '\"' (use a heredoc <<EOF for multi-line text)")
        };
        loop {
            match self.peek() {
                None | Some('\n') => return Err(unterminated(self)),
                Some('"') => {
                    self.bump();
                    return Ok(out);
                }
                Some('\\') => {
                    let escape_pos = self.pos();
                    self.bump();
                    out.push(self.escape(escape_pos)?);
                }
                Some('$') if self.peek_at(1) == Some('{') => {
                    self.interpolation(&mut out, start)?;
                }
                Some(c) => {
                    out.push(c);
                    self.bump();
                }
            }
        }
    }

    fn escape(&mut self, pos: Pos) -> Result<char, ParseError> {
        let Some(c) = self.bump() else {
            return Err(self.error(pos, "string ends inside an escape sequence"));
        };
        let simple = match c {
            'n' => Some('\n'),
            't' => Some('\t'),
            'r' => Some('\r'),
            '"' => Some('"'),
            '\\' => Some('\\'),
            'a' => Some('\u{7}'),
            'b' => Some('\u{8}'),
            'f' => Some('\u{c}'),
            'v' => Some('\u{b}'),
            _ => None,
        };
        if let Some(ch) = simple {
            return Ok(ch);
        }
        let digits = match c {
            'u' => 4,
            'U' => 8,
            _ => {
                return Err(self.error(
                    pos,
                    format!("unknown escape sequence \"\\{c}\": write \"\\\\\" for a backslash"),
                ));
            }
        };
        let mut hex = String::new();
        for _ in 0..digits {
            match self.peek().filter(char::is_ascii_hexdigit) {
                Some(h) => {
                    hex.push(h);
                    self.bump();
                }
                None => break,
            }
        }
        u32::from_str_radix(&hex, 16)
            .ok()
            .filter(|_| hex.len() == digits)
            .and_then(char::from_u32)
            .ok_or_else(|| self.error(pos, format!("invalid unicode escape \"\\{c}{hex}\"")))
    }

    /// Copies `${ ... }` verbatim, tracking nested braces and quoted strings.
    fn interpolation(&mut self, out: &mut String, start: Pos) -> Result<(), ParseError> {
        let open = self.pos();
        let mut depth = 0usize;
        let mut in_string = false;
        loop {
            let Some(c) = self.peek() else {
                return Err(self.error(open, "\"${\" is never closed: add \"}\""));
            };
            if c == '\n' {
                return Err(self.error(start, "string is not closed on the line it starts: add the closing '\"' and check the \"${...}\" braces"));
            }
            out.push(c);
            self.bump();
            if in_string {
                match c {
                    '\\' => {
                        if let Some(next) = self.peek().filter(|n| *n != '\n') {
                            out.push(next);
                            self.bump();
                        }
                    }
                    '"' => in_string = false,
                    _ => {}
                }
                continue;
            }
            match c {
                '{' => depth += 1,
                '}' => {
                    depth -= 1;
                    if depth == 0 {
                        return Ok(());
                    }
                }
                '"' => in_string = true,
                _ => {}
            }
        }
    }

    /// `<<EOF` ... `EOF` and `<<-EOF` (closing marker may be indented; lines lose that
    /// indentation, as HCL1 did). The text keeps its final newline.
    fn heredoc(&mut self, start: Pos) -> Result<String, ParseError> {
        self.bump();
        self.bump();
        let indented = self.peek() == Some('-');
        if indented {
            self.bump();
        }
        let mut marker = String::new();
        while let Some(c) = self.peek().filter(|c| c.is_alphanumeric() || *c == '_') {
            marker.push(c);
            self.bump();
        }
        if marker.is_empty() {
            return Err(self.error(
                start,
                "heredoc needs a marker: write <<EOF, the text, then EOF on its own line",
            ));
        }
        while self
            .peek()
            .is_some_and(|c| c == ' ' || c == '\t' || c == '\r')
        {
            self.bump();
        }
        if self.bump() != Some('\n') {
            return Err(self.error(
                start,
                format!("heredoc marker \"{marker}\" must end its line"),
            ));
        }
        let mut lines: Vec<String> = Vec::new();
        loop {
            if self.peek().is_none() {
                return Err(self.error(
                    start,
                    format!("heredoc is never closed: add a line with only \"{marker}\""),
                ));
            }
            let mut line = String::new();
            while let Some(c) = self.peek().filter(|c| *c != '\n') {
                line.push(c);
                self.bump();
            }
            let trimmed = line.trim_end_matches('\r');
            let closes = if indented {
                trimmed.trim_start() == marker
            } else {
                trimmed == marker
            };
            if closes {
                let indent: String = trimmed.chars().take_while(|c| c.is_whitespace()).collect();
                return Ok(join_heredoc(&lines, if indented { &indent } else { "" }));
            }
            self.bump();
            lines.push(line);
        }
    }
}

/// The heredoc's text: its lines, each with `indent` removed when every line has it.
fn join_heredoc(lines: &[String], indent: &str) -> String {
    let all_indented = lines.iter().all(|l| l.is_empty() || l.starts_with(indent));
    let mut text = String::new();
    for line in lines {
        let line = if all_indented {
            line.strip_prefix(indent).unwrap_or(line)
        } else {
            line
        };
        text.push_str(line);
        text.push('\n');
    }
    text
}

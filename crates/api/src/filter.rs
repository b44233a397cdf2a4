//! `?filter=`: the subset of go-bexpr Nomad's list endpoints take, over an object's JSON.
//!
//! ```text
//! Type == "client" and "dev" in Policies
//! Name contains "ci" or not (Global == true)
//! ExpirationTime is empty
//! ```
//! Selectors are field names joined by `.`; values are quoted strings, numbers or
//! booleans, compared with the field's JSON text.

use serde_json::Value;

/// A parsed filter expression.
#[derive(Debug, Clone, PartialEq)]
pub enum Filter {
    And(Box<Filter>, Box<Filter>),
    Or(Box<Filter>, Box<Filter>),
    Not(Box<Filter>),
    Compare {
        selector: Vec<String>,
        op: Op,
        value: String,
    },
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Op {
    Equal,
    NotEqual,
    /// `"v" in Field`, `Field contains "v"`.
    Contains,
    NotContains,
    IsEmpty,
    IsNotEmpty,
}

#[derive(Debug, Clone, PartialEq)]
enum Token {
    Word(String),
    Text(String),
    Open,
    Close,
    Equal,
    NotEqual,
}

fn tokens(input: &str) -> Result<Vec<Token>, String> {
    let mut out = Vec::new();
    let mut chars = input.chars().peekable();
    while let Some(&c) = chars.peek() {
        match c {
            c if c.is_whitespace() => {
                chars.next();
            }
            '(' => {
                chars.next();
                out.push(Token::Open);
            }
            ')' => {
                chars.next();
                out.push(Token::Close);
            }
            '=' | '!' => {
                chars.next();
                if chars.next() != Some('=') {
                    return Err(format!("filter: expected '{c}=' in {input:?}"));
                }
                out.push(if c == '=' {
                    Token::Equal
                } else {
                    Token::NotEqual
                });
            }
            '"' | '`' => {
                chars.next();
                let mut text = String::new();
                loop {
                    match chars.next() {
                        None => return Err(format!("filter: unterminated string in {input:?}")),
                        Some('\\') if c == '"' => text.extend(chars.next()),
                        Some(end) if end == c => break,
                        Some(other) => text.push(other),
                    }
                }
                out.push(Token::Text(text));
            }
            _ => {
                let mut word = String::new();
                while let Some(&c) = chars.peek() {
                    if c.is_whitespace() || matches!(c, '(' | ')' | '=' | '!' | '"') {
                        break;
                    }
                    word.push(c);
                    chars.next();
                }
                out.push(Token::Word(word));
            }
        }
    }
    Ok(out)
}

struct Parser {
    tokens: Vec<Token>,
    at: usize,
}

impl Parser {
    fn peek(&self) -> Option<&Token> {
        self.tokens.get(self.at)
    }
    fn next(&mut self) -> Option<Token> {
        let token = self.tokens.get(self.at).cloned();
        self.at += 1;
        token
    }
    fn keyword(&mut self, word: &str) -> bool {
        if matches!(self.peek(), Some(Token::Word(w)) if w == word) {
            self.at += 1;
            true
        } else {
            false
        }
    }

    fn or(&mut self) -> Result<Filter, String> {
        let mut left = self.and()?;
        while self.keyword("or") {
            left = Filter::Or(Box::new(left), Box::new(self.and()?));
        }
        Ok(left)
    }

    fn and(&mut self) -> Result<Filter, String> {
        let mut left = self.unary()?;
        while self.keyword("and") {
            left = Filter::And(Box::new(left), Box::new(self.unary()?));
        }
        Ok(left)
    }

    fn unary(&mut self) -> Result<Filter, String> {
        if self.keyword("not") {
            return Ok(Filter::Not(Box::new(self.unary()?)));
        }
        if self.peek() == Some(&Token::Open) {
            self.at += 1;
            let inner = self.or()?;
            if self.next() != Some(Token::Close) {
                return Err("filter: missing ')'".to_string());
            }
            return Ok(inner);
        }
        self.comparison()
    }

    fn value(&mut self) -> Result<String, String> {
        match self.next() {
            Some(Token::Text(text) | Token::Word(text)) => Ok(text),
            other => Err(format!("filter: expected a value, got {other:?}")),
        }
    }

    fn comparison(&mut self) -> Result<Filter, String> {
        // `"v" in Field` / `"v" not in Field`
        if let Some(Token::Text(value)) = self.peek().cloned() {
            self.at += 1;
            let op = if self.keyword("not") {
                Op::NotContains
            } else {
                Op::Contains
            };
            if !self.keyword("in") {
                return Err(format!("filter: expected 'in' after {value:?}"));
            }
            let selector = self.selector()?;
            return Ok(Filter::Compare {
                selector,
                op,
                value,
            });
        }
        let selector = self.selector()?;
        let op = match self.next() {
            Some(Token::Equal) => Op::Equal,
            Some(Token::NotEqual) => Op::NotEqual,
            Some(Token::Word(w)) if w == "contains" => Op::Contains,
            Some(Token::Word(w)) if w == "not" && self.keyword("contains") => Op::NotContains,
            Some(Token::Word(w)) if w == "is" => {
                let negated = self.keyword("not");
                if !self.keyword("empty") {
                    return Err("filter: expected 'empty' after 'is'".to_string());
                }
                let op = if negated { Op::IsNotEmpty } else { Op::IsEmpty };
                return Ok(Filter::Compare {
                    selector,
                    op,
                    value: String::new(),
                });
            }
            other => return Err(format!("filter: expected an operator, got {other:?}")),
        };
        let value = self.value()?;
        Ok(Filter::Compare {
            selector,
            op,
            value,
        })
    }

    fn selector(&mut self) -> Result<Vec<String>, String> {
        match self.next() {
            Some(Token::Word(word)) if !word.is_empty() => {
                Ok(word.split('.').map(str::to_string).collect())
            }
            other => Err(format!("filter: expected a field name, got {other:?}")),
        }
    }
}

/// A JSON value's text as bexpr compares it.
fn text(value: &Value) -> String {
    match value {
        Value::String(s) => s.clone(),
        other => other.to_string(),
    }
}

impl Filter {
    /// Reads an expression; the error says where it went wrong.
    pub fn parse(input: &str) -> Result<Filter, String> {
        let mut parser = Parser {
            tokens: tokens(input)?,
            at: 0,
        };
        let filter = parser.or()?;
        if parser.at < parser.tokens.len() {
            return Err(format!(
                "filter: unexpected {:?} in {input:?}",
                parser.tokens[parser.at]
            ));
        }
        Ok(filter)
    }

    /// Whether the object passes; an unknown field is an error, as in Nomad.
    pub fn matches(&self, object: &Value) -> Result<bool, String> {
        Ok(match self {
            Filter::And(a, b) => a.matches(object)? && b.matches(object)?,
            Filter::Or(a, b) => a.matches(object)? || b.matches(object)?,
            Filter::Not(inner) => !inner.matches(object)?,
            Filter::Compare {
                selector,
                op,
                value,
            } => {
                let mut field = object;
                for name in selector {
                    field = field.get(name).ok_or_else(|| {
                        format!(
                            "filter: error finding value in datum: {}",
                            selector.join(".")
                        )
                    })?;
                }
                let contains = || match field {
                    Value::Array(items) => items.iter().any(|i| text(i) == *value),
                    Value::Object(map) => map.contains_key(value),
                    Value::String(s) => s.contains(value.as_str()),
                    _ => false,
                };
                let empty = match field {
                    Value::Null => true,
                    Value::Array(items) => items.is_empty(),
                    Value::Object(map) => map.is_empty(),
                    Value::String(s) => s.is_empty(),
                    _ => false,
                };
                match op {
                    Op::Equal => text(field) == *value,
                    Op::NotEqual => text(field) != *value,
                    Op::Contains => contains(),
                    Op::NotContains => !contains(),
                    Op::IsEmpty => empty,
                    Op::IsNotEmpty => !empty,
                }
            }
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn expressions_over_json() {
        let token = serde_json::json!({
            "Name": "ci-runner", "Type": "client", "Global": false,
            "Policies": ["dev", "ops"], "ExpirationTime": null,
        });
        for (expression, want) in [
            (r#"Type == "client""#, true),
            (r#"Type != "client""#, false),
            (r#""dev" in Policies"#, true),
            (r#""prod" not in Policies"#, true),
            (r#"Name contains "ci""#, true),
            (r#"Global == false and "ops" in Policies"#, true),
            (r#"Type == "management" or Name contains "runner""#, true),
            (r#"not (Type == "client")"#, false),
            ("ExpirationTime is empty", true),
            ("Policies is not empty", true),
        ] {
            let filter = Filter::parse(expression).unwrap();
            assert_eq!(filter.matches(&token).unwrap(), want, "{expression}");
        }
    }

    #[test]
    fn errors_say_what_is_wrong() {
        assert!(Filter::parse(r#"Type = "x""#).unwrap_err().contains("'=='"));
        assert!(
            Filter::parse(r#"Type == "x"#)
                .unwrap_err()
                .contains("unterminated")
        );
        assert!(Filter::parse("(Type == x").unwrap_err().contains("')'"));
        let unknown = Filter::parse(r#"Nope == "x""#).unwrap();
        assert!(
            unknown
                .matches(&serde_json::json!({}))
                .unwrap_err()
                .contains("Nope")
        );
    }
}

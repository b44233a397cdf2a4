//! The generic document tree both job file syntaxes are read into: an ordered list of
//! items (`key "label" { ... }` or `key = value`), every node with its position.

use std::sync::Arc;

use crate::error::Pos;

/// An ordered list of items: a whole file, the inside of a block, or an object value.
///
/// Repeated keys (several `group`, `constraint` or `target` blocks) are kept, in order.
#[derive(Debug, Clone, PartialEq)]
pub struct Body {
    pub(crate) file: Arc<str>,
    /// The items in source order.
    pub items: Vec<Item>,
}

/// One `key = value`, `key { ... }` or `key "label" ... { ... }`.
#[derive(Debug, Clone, PartialEq)]
pub struct Item {
    /// The key, unquoted (`"driver.raw_exec.enable"` becomes `driver.raw_exec.enable`).
    pub key: String,
    /// Block labels, unquoted: `["example"]` for `group "example" { }`.
    pub labels: Vec<String>,
    /// The value; an [`ValueKind::Object`] for blocks.
    pub value: Value,
    /// Whether it was written as a block (`key { }`) rather than an attribute (`key = v`).
    pub is_block: bool,
    /// Where the key starts.
    pub pos: Pos,
}

/// A value with its position.
#[derive(Debug, Clone, PartialEq)]
pub struct Value {
    /// What the value is.
    pub kind: ValueKind,
    /// Where the value starts.
    pub pos: Pos,
}

/// The kinds of values HCL1 knows.
#[derive(Debug, Clone, PartialEq)]
pub enum ValueKind {
    /// A string; `${...}` interpolations are kept as written.
    String(String),
    /// A whole number.
    Int(i64),
    /// A number with a fraction or an exponent.
    Float(f64),
    /// `true` or `false`.
    Bool(bool),
    /// `[a, b, c]`.
    List(Vec<Value>),
    /// A block body or an object value `{ a = "b" }`.
    Object(Body),
}

impl ValueKind {
    /// The kind's name as error messages say it: `string`, `number`, `bool`, `list`, `object`.
    pub fn type_name(&self) -> &'static str {
        match self {
            ValueKind::String(_) => "string",
            ValueKind::Int(_) | ValueKind::Float(_) => "number",
            ValueKind::Bool(_) => "bool",
            ValueKind::List(_) => "list",
            ValueKind::Object(_) => "object",
        }
    }
}

impl Value {
    /// A value of `kind` at `pos`.
    pub fn new(kind: ValueKind, pos: Pos) -> Value {
        Value { kind, pos }
    }

    /// The value as JSON. Objects become JSON objects in which repeated blocks become
    /// lists and labelled blocks nest by label (`port "http" { }` is `{"port": {"http": {}}}`).
    pub fn to_json(&self) -> serde_json::Value {
        match &self.kind {
            ValueKind::String(s) => serde_json::Value::String(s.clone()),
            ValueKind::Int(n) => serde_json::Value::from(*n),
            ValueKind::Float(f) => serde_json::Number::from_f64(*f)
                .map_or(serde_json::Value::Null, serde_json::Value::Number),
            ValueKind::Bool(b) => serde_json::Value::Bool(*b),
            ValueKind::List(items) => items.iter().map(Value::to_json).collect(),
            ValueKind::Object(body) => serde_json::Value::Object(body.to_json_map()),
        }
    }
}

impl Body {
    /// An empty body of `file`.
    pub fn new(file: &str) -> Body {
        Body {
            file: Arc::from(file),
            items: Vec::new(),
        }
    }

    pub(crate) fn with_items(file: Arc<str>, items: Vec<Item>) -> Body {
        Body { file, items }
    }

    /// The name of the file this body was read from, as given to the parser.
    pub fn file(&self) -> &str {
        &self.file
    }

    /// The items in source order.
    pub fn iter(&self) -> std::slice::Iter<'_, Item> {
        self.items.iter()
    }

    /// The last item named `key` (later attributes override earlier ones, as in HCL1).
    pub fn get(&self, key: &str) -> Option<&Item> {
        self.items.iter().rev().find(|item| item.key == key)
    }

    /// Every item named `key`, in order: the repeated blocks `group`, `constraint`, ...
    pub fn all<'a, 'k>(&'a self, key: &'k str) -> impl Iterator<Item = &'a Item> + use<'a, 'k> {
        self.items.iter().filter(move |item| item.key == key)
    }

    /// The body as a JSON object; see [`Value::to_json`].
    pub fn to_json_map(&self) -> serde_json::Map<String, serde_json::Value> {
        let mut map = serde_json::Map::new();
        for item in &self.items {
            let mut value = item.value.to_json();
            for label in item.labels.iter().rev() {
                let mut nested = serde_json::Map::new();
                nested.insert(label.clone(), value);
                value = serde_json::Value::Object(nested);
            }
            if !item.is_block {
                map.insert(item.key.clone(), value);
                continue;
            }
            match map.get_mut(&item.key) {
                None => {
                    map.insert(item.key.clone(), value);
                }
                Some(serde_json::Value::Array(list)) if item.labels.is_empty() => {
                    list.push(value);
                }
                Some(existing) => {
                    let first = std::mem::take(existing);
                    if let (serde_json::Value::Object(a), serde_json::Value::Object(b), false) =
                        (&first, &value, item.labels.is_empty())
                    {
                        // Labelled blocks merge by label: `port "a" {}` `port "b" {}`.
                        let mut merged = a.clone();
                        merged.extend(b.clone());
                        *existing = serde_json::Value::Object(merged);
                    } else {
                        *existing = serde_json::Value::Array(vec![first, value]);
                    }
                }
            }
        }
        map
    }
}

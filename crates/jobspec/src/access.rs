//! Typed reading of a [`Body`]: the helpers job decoding and the agent-config reader use.
//!
//! Readers are lenient the way HCL1's decoder (and `mapstructure`'s weak typing) was:
//! a number may be given as a numeric string, a string as a number, a bool as `"true"`.
//! Everything else is an error naming the key and the types, at the value's position:
//! `agent.hcl:3:22: "bootstrap_expect" must be a number, got string`.

use std::collections::BTreeMap;

use crate::ast::{Body, Item, Value, ValueKind};
use crate::error::{ParseError, Pos};
use caravan_structs::duration::parse_duration;

impl Body {
    /// An error in this body's file at `pos`.
    pub fn error_at(&self, pos: Pos, message: impl Into<String>) -> ParseError {
        ParseError::new(&self.file, pos, message)
    }

    /// The string value of `key`, if present.
    pub fn string(&self, key: &str) -> Result<Option<String>, ParseError> {
        self.get(key)
            .map(|item| self.value_string(key, &item.value))
            .transpose()
    }

    /// The integer value of `key`, if present.
    pub fn int(&self, key: &str) -> Result<Option<i64>, ParseError> {
        self.get(key)
            .map(|item| self.value_int(key, &item.value))
            .transpose()
    }

    /// The numeric value of `key` as a float, if present.
    pub fn float(&self, key: &str) -> Result<Option<f64>, ParseError> {
        self.get(key)
            .map(|item| self.value_float(key, &item.value))
            .transpose()
    }

    /// The boolean value of `key`, if present.
    pub fn bool(&self, key: &str) -> Result<Option<bool>, ParseError> {
        self.get(key)
            .map(|item| self.value_bool(key, &item.value))
            .transpose()
    }

    /// A Go duration string (`"30s"`) of `key` in nanoseconds, if present. A bare number
    /// is taken as nanoseconds, as Go's decoders did.
    pub fn duration(&self, key: &str) -> Result<Option<i64>, ParseError> {
        self.get(key)
            .map(|item| self.value_duration(key, &item.value))
            .transpose()
    }

    /// The list of strings of `key`, if present. A single string counts as a one-item list.
    pub fn strings(&self, key: &str) -> Result<Option<Vec<String>>, ParseError> {
        self.get(key)
            .map(|item| self.value_strings(key, &item.value))
            .transpose()
    }

    /// The string map of `key` (`meta { a = "b" }` or `meta = { a = "b" }`), if present.
    /// Repeated blocks are merged, later keys winning.
    pub fn string_map(&self, key: &str) -> Result<Option<BTreeMap<String, String>>, ParseError> {
        let mut found = None;
        for item in self.all(key) {
            let map: &mut BTreeMap<String, String> = found.get_or_insert_with(BTreeMap::new);
            map.extend(self.value_string_map(key, &item.value)?);
        }
        Ok(found)
    }

    /// The single block (or object) `key`, if present; an error when it is repeated or not
    /// an object.
    pub fn block(&self, key: &str) -> Result<Option<&Body>, ParseError> {
        let mut items = self.all(key);
        let Some(first) = items.next() else {
            return Ok(None);
        };
        if let Some(second) = items.next() {
            return Err(self.error_at(
                second.pos,
                format!(
                    "only one \"{key}\" block is allowed here; the first is at {}",
                    first.pos
                ),
            ));
        }
        self.value_object(key, &first.value).map(Some)
    }

    /// Checks that every item's key is in `known` or `ignored`. The error names the first
    /// unknown key and lists the known ones: `unknown block "grop" in job "hello"; expected
    /// one of: group, constraint, ...`. `context` says where we are (`job "hello"`).
    pub fn check_keys(
        &self,
        context: &str,
        known: &[&str],
        ignored: &[&str],
    ) -> Result<(), ParseError> {
        for item in &self.items {
            let key = item.key.as_str();
            if known.contains(&key) || ignored.contains(&key) {
                continue;
            }
            let what = if item.is_block { "block" } else { "key" };
            let mut expected = known.to_vec();
            expected.extend_from_slice(ignored);
            let hint = suggestion(key, &expected)
                .map(|s| format!(" (did you mean \"{s}\"?)"))
                .unwrap_or_default();
            return Err(self.error_at(
                item.pos,
                format!(
                    "unknown {what} \"{key}\" in {context}{hint}; expected one of: {}",
                    expected.join(", ")
                ),
            ));
        }
        Ok(())
    }

    /// The one label of a block item, or an error saying how to write it
    /// (`group "name" { ... }`).
    pub fn single_label<'a>(&self, item: &'a Item) -> Result<&'a str, ParseError> {
        match item.labels.as_slice() {
            [label] => Ok(label),
            [] => Err(self.error_at(
                item.pos,
                format!(
                    "\"{0}\" needs a name: write {0} \"name\" {{ ... }}",
                    item.key
                ),
            )),
            [_, extra, ..] => Err(self.error_at(
                item.pos,
                format!(
                    "\"{}\" takes one name, got a second one \"{extra}\"",
                    item.key
                ),
            )),
        }
    }

    /// Fails unless `item` has no labels.
    pub fn no_labels(&self, item: &Item) -> Result<(), ParseError> {
        match item.labels.first() {
            None => Ok(()),
            Some(label) => Err(self.error_at(
                item.pos,
                format!("\"{}\" takes no name, got \"{label}\"", item.key),
            )),
        }
    }

    fn type_error(&self, key: &str, want: &str, value: &Value) -> ParseError {
        self.error_at(
            value.pos,
            format!("\"{key}\" must be {want}, got {}", value.kind.type_name()),
        )
    }

    /// `value` as a string (numbers and bools are turned into their text).
    pub fn value_string(&self, key: &str, value: &Value) -> Result<String, ParseError> {
        match &value.kind {
            ValueKind::String(s) => Ok(s.clone()),
            ValueKind::Int(n) => Ok(n.to_string()),
            ValueKind::Float(f) => Ok(f.to_string()),
            ValueKind::Bool(b) => Ok(b.to_string()),
            _ => Err(self.type_error(key, "a string", value)),
        }
    }

    /// `value` as an integer (a numeric string is accepted).
    pub fn value_int(&self, key: &str, value: &Value) -> Result<i64, ParseError> {
        match &value.kind {
            ValueKind::Int(n) => Ok(*n),
            ValueKind::Float(f) if f.fract() == 0.0 && f.abs() < 9.0e15 => Ok(*f as i64),
            ValueKind::Float(f) => Err(self.error_at(
                value.pos,
                format!("\"{key}\" must be a whole number, got {f}"),
            )),
            ValueKind::String(s) => s
                .trim()
                .parse()
                .map_err(|_| self.type_error(key, "a number", value)),
            _ => Err(self.type_error(key, "a number", value)),
        }
    }

    /// `value` as a float (a numeric string is accepted).
    pub fn value_float(&self, key: &str, value: &Value) -> Result<f64, ParseError> {
        match &value.kind {
            ValueKind::Int(n) => Ok(*n as f64),
            ValueKind::Float(f) => Ok(*f),
            ValueKind::String(s) => s
                .trim()
                .parse()
                .map_err(|_| self.type_error(key, "a number", value)),
            _ => Err(self.type_error(key, "a number", value)),
        }
    }

    /// `value` as a bool (`"true"`/`"false"` strings are accepted).
    pub fn value_bool(&self, key: &str, value: &Value) -> Result<bool, ParseError> {
        match &value.kind {
            ValueKind::Bool(b) => Ok(*b),
            ValueKind::String(s) if s == "true" => Ok(true),
            ValueKind::String(s) if s == "false" => Ok(false),
            _ => Err(self.type_error(key, "true or false", value)),
        }
    }

    /// `value` as a duration in nanoseconds.
    pub fn value_duration(&self, key: &str, value: &Value) -> Result<i64, ParseError> {
        match &value.kind {
            ValueKind::String(s) => {
                parse_duration(s).map_err(|e| self.error_at(value.pos, format!("\"{key}\": {e}")))
            }
            ValueKind::Int(n) => Ok(*n),
            _ => Err(self.type_error(key, "a duration string like \"30s\"", value)),
        }
    }

    /// `value` as a list of strings.
    pub fn value_strings(&self, key: &str, value: &Value) -> Result<Vec<String>, ParseError> {
        match &value.kind {
            ValueKind::List(items) => items.iter().map(|v| self.value_string(key, v)).collect(),
            ValueKind::String(s) => Ok(vec![s.clone()]),
            _ => Err(self.type_error(key, "a list of strings", value)),
        }
    }

    /// `value` as a map of strings.
    pub fn value_string_map(
        &self,
        key: &str,
        value: &Value,
    ) -> Result<BTreeMap<String, String>, ParseError> {
        let body = self.value_object(key, value)?;
        let mut map = BTreeMap::new();
        for item in &body.items {
            let entry_key = format!("{key}.{}", item.key);
            if !item.labels.is_empty() || item.is_block {
                return Err(self.error_at(
                    item.pos,
                    format!("\"{entry_key}\" must be a string, got a block"),
                ));
            }
            map.insert(
                item.key.clone(),
                self.value_string(&entry_key, &item.value)?,
            );
        }
        Ok(map)
    }

    /// `value` as an object body.
    pub fn value_object<'a>(&self, key: &str, value: &'a Value) -> Result<&'a Body, ParseError> {
        match &value.kind {
            ValueKind::Object(body) => Ok(body),
            _ => Err(self.type_error(key, "a block", value)),
        }
    }
}

/// The known key closest to a misspelt one, when it is close enough to be a likely typo.
fn suggestion<'a>(key: &str, known: &[&'a str]) -> Option<&'a str> {
    known
        .iter()
        .map(|k| (edit_distance(key, k), *k))
        .filter(|(d, k)| *d <= 2.max(k.len() / 4) && *d < k.len())
        .min_by_key(|(d, _)| *d)
        .map(|(_, k)| k)
}

fn edit_distance(a: &str, b: &str) -> usize {
    let b: Vec<char> = b.chars().collect();
    let mut previous: Vec<usize> = (0..=b.len()).collect();
    for (i, ca) in a.chars().enumerate() {
        let mut current = vec![i + 1];
        for (j, cb) in b.iter().enumerate() {
            let cost = usize::from(ca != *cb);
            let best = (previous[j] + cost)
                .min(previous[j + 1] + 1)
                .min(current[j] + 1);
            current.push(best);
        }
        previous = current;
    }
    previous[b.len()]
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn suggests_close_keys_only() {
        assert_eq!(suggestion("grop", &["group", "task"]), Some("group"));
        assert_eq!(suggestion("comand", &["command", "args"]), Some("command"));
        assert_eq!(suggestion("zzzzzz", &["group", "task"]), None);
    }
}

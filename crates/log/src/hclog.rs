//! One log event and its two renderings, hclog's text line and hclog's JSON object.

use std::collections::BTreeMap;
use std::fmt::Write as _;

use tracing::Level;

/// A field's value, kept typed so that JSON shows numbers as numbers.
#[derive(Debug, Clone, PartialEq)]
pub enum FieldValue {
    /// Text, and anything recorded with `%` or `?` (its Display or Debug form).
    Str(String),
    /// A signed integer.
    I64(i64),
    /// An unsigned integer.
    U64(u64),
    /// A float.
    F64(f64),
    /// A boolean.
    Bool(bool),
}

/// One event, as every sink renders it.
#[derive(Debug, Clone, PartialEq)]
pub struct LogRecord {
    /// When it happened (written in UTC).
    pub time: jiff::Timestamp,
    /// Its severity.
    pub level: Level,
    /// The subsystem (hclog's logger name): `client.alloc_runner.task_runner`.
    pub module: String,
    /// The event's message, without its fields.
    pub message: String,
    /// In the order the call site gave them.
    pub fields: Vec<(String, FieldValue)>,
    /// The source file and line of the call site (hclog's `IncludeLocation`).
    pub location: Option<(&'static str, u32)>,
}

/// hclog's level names: five characters inside the brackets' column.
fn level_tag(level: &Level) -> &'static str {
    match *level {
        Level::TRACE => "[TRACE]",
        Level::DEBUG => "[DEBUG]",
        Level::INFO => "[INFO] ",
        Level::WARN => "[WARN] ",
        Level::ERROR => "[ERROR]",
    }
}

/// hclog's colours, one per level, over the whole line.
fn level_colour(level: &Level) -> &'static str {
    match *level {
        Level::TRACE => "\x1b[32m",
        Level::DEBUG => "\x1b[97m",
        Level::INFO => "\x1b[94m",
        Level::WARN => "\x1b[93m",
        Level::ERROR => "\x1b[91m",
    }
}

/// hclog quotes a value with spaces, quotes or unprintable characters, and writes an
/// empty one as `""`.
fn text_value(value: &FieldValue) -> String {
    match value {
        FieldValue::Str(text) if text.is_empty() => "\"\"".into(),
        FieldValue::Str(text)
            if text
                .chars()
                .any(|c| c.is_whitespace() || c.is_control() || c == '"') =>
        {
            // Go's strconv.Quote and JSON agree on these escapes.
            serde_json::Value::String(text.clone()).to_string()
        }
        FieldValue::Str(text) => text.clone(),
        FieldValue::I64(n) => n.to_string(),
        FieldValue::U64(n) => n.to_string(),
        FieldValue::F64(n) => n.to_string(),
        FieldValue::Bool(b) => b.to_string(),
    }
}

fn json_value(value: &FieldValue) -> serde_json::Value {
    match value {
        FieldValue::Str(text) => serde_json::Value::String(text.clone()),
        FieldValue::I64(n) => (*n).into(),
        FieldValue::U64(n) => (*n).into(),
        FieldValue::F64(n) => serde_json::Number::from_f64(*n)
            .map(serde_json::Value::Number)
            .unwrap_or_else(|| serde_json::Value::String(n.to_string())),
        FieldValue::Bool(b) => (*b).into(),
    }
}

impl LogRecord {
    /// `file:line` of the call site, when known.
    fn caller(&self) -> Option<String> {
        self.location.map(|(file, line)| format!("{file}:{line}"))
    }

    /// hclog's text line, without the newline:
    /// `2024-05-01T12:00:00.123Z [INFO]  agent: message: key=value`, the whole line in
    /// the level's colour with `colour`; with `location`, the call site before the
    /// module (`[INFO]  crates/client/src/lib.rs:742: client: ...`).
    pub fn to_text(&self, colour: bool, location: bool) -> String {
        let mut line = String::with_capacity(96 + self.message.len());
        if colour {
            line.push_str(level_colour(&self.level));
        }
        let time = self.time.strftime("%Y-%m-%dT%H:%M:%S%.3fZ");
        let _ = write!(line, "{time} {} ", level_tag(&self.level));
        if location && let Some(caller) = self.caller() {
            let _ = write!(line, "{caller}: ");
        }
        let _ = write!(line, "{}: {}", self.module, self.message);
        if !self.fields.is_empty() {
            line.push(':');
            for (key, value) in &self.fields {
                let _ = write!(line, " {key}={}", text_value(value));
            }
        }
        if colour {
            line.push_str("\x1b[0m");
        }
        line
    }

    /// hclog's JSON object, keys sorted as Go's encoder writes a map:
    /// `{"@level":"info","@message":"...","@module":"agent","@timestamp":"...",...}`,
    /// with `@caller` when `location` asks for it.
    pub fn to_json(&self, location: bool) -> String {
        let mut object: BTreeMap<&str, serde_json::Value> = BTreeMap::new();
        for (key, value) in &self.fields {
            object.insert(key.as_str(), json_value(value));
        }
        if location && let Some(caller) = self.caller() {
            object.insert("@caller", caller.into());
        }
        object.insert("@level", self.level.as_str().to_ascii_lowercase().into());
        object.insert("@message", self.message.clone().into());
        object.insert("@module", self.module.clone().into());
        object.insert(
            "@timestamp",
            self.time
                .strftime("%Y-%m-%dT%H:%M:%S%.6fZ")
                .to_string()
                .into(),
        );
        serde_json::to_string(&object).unwrap_or_default()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn record(level: Level, fields: Vec<(&str, FieldValue)>) -> LogRecord {
        LogRecord {
            time: "2024-05-01T12:00:00.123456789Z".parse().unwrap(),
            level,
            module: "client.alloc_runner.task_runner".into(),
            message: "Task event".into(),
            fields: fields
                .into_iter()
                .map(|(k, v)| (k.to_string(), v))
                .collect(),
            location: Some(("crates/client/src/task_status.rs", 42)),
        }
    }

    #[test]
    fn text_lines_are_hclogs_layout() {
        let started = record(
            Level::INFO,
            vec![
                ("alloc_id", FieldValue::Str("5b2b".into())),
                ("type", FieldValue::Str("Started".into())),
                ("msg", FieldValue::Str("Task started by client".into())),
                ("failed", FieldValue::Bool(false)),
                ("node_id", FieldValue::Str(String::new())),
            ],
        );
        assert_eq!(
            started.to_text(false, false),
            "2024-05-01T12:00:00.123Z [INFO]  client.alloc_runner.task_runner: Task event: alloc_id=5b2b type=Started msg=\"Task started by client\" failed=false node_id=\"\""
        );
        let bare = LogRecord {
            message: "node registration complete".into(),
            module: "client".into(),
            ..record(Level::DEBUG, vec![])
        };
        assert_eq!(
            bare.to_text(false, false),
            "2024-05-01T12:00:00.123Z [DEBUG] client: node registration complete"
        );
        assert_eq!(
            bare.to_text(true, false),
            "\x1b[97m2024-05-01T12:00:00.123Z [DEBUG] client: node registration complete\x1b[0m"
        );
        assert!(
            record(Level::WARN, vec![])
                .to_text(false, false)
                .contains(" [WARN]  client")
        );
    }

    #[test]
    fn the_location_goes_before_the_module_or_into_caller() {
        let line = record(Level::INFO, vec![]);
        assert_eq!(
            line.to_text(false, true),
            "2024-05-01T12:00:00.123Z [INFO]  crates/client/src/task_status.rs:42: client.alloc_runner.task_runner: Task event"
        );
        assert!(
            line.to_json(true)
                .contains(r#""@caller":"crates/client/src/task_status.rs:42""#)
        );
    }

    #[test]
    fn json_objects_are_hclogs_with_typed_fields() {
        let line = record(
            Level::WARN,
            vec![
                ("attempt", FieldValue::U64(3)),
                ("why", FieldValue::Str("no leader".into())),
            ],
        )
        .to_json(false);
        assert_eq!(
            line,
            r#"{"@level":"warn","@message":"Task event","@module":"client.alloc_runner.task_runner","@timestamp":"2024-05-01T12:00:00.123456Z","attempt":3,"why":"no leader"}"#
        );
    }
}

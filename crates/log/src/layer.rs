//! The one `tracing` layer of the agent: events to hclog lines on stdout, the log file
//! and the live monitors.

use std::io::Write;
use std::sync::{Arc, Mutex};

use tracing::field::{Field, Visit};
use tracing::subscriber::Interest;
use tracing::{Event, Metadata, Subscriber};
use tracing_subscriber::Layer;
use tracing_subscriber::layer::Context;

use crate::file::RotatingFile;
use crate::hclog::{FieldValue, LogRecord};
use crate::level::{self, LogLevel};
use crate::monitor::Monitors;
use crate::subsystem::subsystem;

/// How the agent's own output (stdout and the log file) renders lines.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum OutputFormat {
    /// hclog's text; colour only applies to stdout.
    Text { colour: bool, location: bool },
    /// hclog's JSON objects (`log_json`).
    Json { location: bool },
}

/// Holds the agent's stdout lines until the agent has printed its banner, so that the
/// log streams in below it as Nomad's does ("Log data will stream in below"). A warning
/// or an error opens it at once: an agent stuck before its banner (a client whose
/// servers do not answer) must say why.
#[derive(Clone, Default)]
pub struct OutputGate {
    held: Arc<Mutex<Option<Vec<String>>>>,
}

impl OutputGate {
    fn closed() -> OutputGate {
        OutputGate {
            held: Arc::new(Mutex::new(Some(Vec::new()))),
        }
    }

    /// Prints what was held and lets every later line through.
    pub fn open(&self) {
        let held = self.held.lock().unwrap_or_else(|p| p.into_inner()).take();
        let mut stdout = std::io::stdout().lock();
        for line in held.unwrap_or_default() {
            let _ = stdout.write_all(line.as_bytes());
        }
    }

    fn write(&self, line: String, urgent: bool) {
        let mut held = self.held.lock().unwrap_or_else(|p| p.into_inner());
        match held.as_mut() {
            Some(lines) if urgent => {
                lines.push(line);
                let mut stdout = std::io::stdout().lock();
                for line in held.take().unwrap_or_default() {
                    let _ = stdout.write_all(line.as_bytes());
                }
            }
            Some(lines) => lines.push(line),
            // A closed stdout (the agent's reader went away) must not stop the agent.
            None => {
                let _ = std::io::stdout().lock().write_all(line.as_bytes());
            }
        }
    }
}

/// The agent's log: its level, its output and its monitors.
pub struct AgentLog {
    level: LogLevel,
    format: OutputFormat,
    file: Option<Mutex<RotatingFile>>,
    monitors: Monitors,
    gate: OutputGate,
}

impl AgentLog {
    /// Lines at `level` and more severe go to stdout in `format`.
    pub fn new(level: LogLevel, format: OutputFormat) -> AgentLog {
        AgentLog {
            level,
            format,
            file: None,
            monitors: Monitors::default(),
            gate: OutputGate::closed(),
        }
    }

    /// The gate that holds stdout lines until the agent opens it.
    pub fn gate(&self) -> OutputGate {
        self.gate.clone()
    }

    /// Also writes the agent's lines (never coloured) to `file`.
    pub fn with_file(mut self, file: RotatingFile) -> AgentLog {
        self.file = Some(Mutex::new(file));
        self
    }

    /// The live subscribers this log feeds, for `/v1/agent/monitor`.
    pub fn monitors(&self) -> Monitors {
        self.monitors.clone()
    }

    fn write_output(&self, record: &LogRecord) {
        let (stdout_line, file_line) = match self.format {
            // Nomad's agent writes its log under the banner, indented as the CLI's
            // informational output is; the file has the bare lines.
            OutputFormat::Text { colour, location } => (
                format!("    {}\n", record.to_text(colour, location)),
                record.to_text(false, location),
            ),
            OutputFormat::Json { location } => {
                let json = record.to_json(location);
                (format!("{json}\n"), json)
            }
        };
        self.gate
            .write(stdout_line, record.level <= tracing::Level::WARN);
        if let Some(file) = &self.file {
            let mut file = file.lock().unwrap_or_else(|p| p.into_inner());
            if let Err(error) = file.write_line(&file_line) {
                let _ = writeln!(
                    std::io::stderr(),
                    "==> Error writing the log file {}: {error}",
                    file.path().display()
                );
            }
        }
    }
}

impl<S: Subscriber> Layer<S> for AgentLog {
    fn register_callsite(&self, metadata: &'static Metadata<'static>) -> Interest {
        if level::may_ever_log(metadata.target(), metadata.level()) {
            // Decided per event: a monitor may lower the level at any time.
            Interest::sometimes()
        } else {
            Interest::never()
        }
    }

    fn enabled(&self, metadata: &Metadata<'_>, _: Context<'_, S>) -> bool {
        let threshold = self.level.max(self.monitors.finest());
        level::passes(metadata.target(), metadata.level(), threshold)
    }

    fn on_event(&self, event: &Event<'_>, _: Context<'_, S>) {
        let metadata = event.metadata();
        let target = metadata.target();
        let to_output = level::passes(target, metadata.level(), self.level);
        let to_monitors = level::passes(target, metadata.level(), self.monitors.finest());
        if !to_output && !to_monitors {
            return;
        }
        let mut fields = FieldCollector::default();
        event.record(&mut fields);
        let record = LogRecord {
            time: jiff::Timestamp::now(),
            level: *metadata.level(),
            module: subsystem(target).to_string(),
            message: fields.message,
            fields: fields.fields,
            location: metadata.file().zip(metadata.line()),
        };
        if to_output {
            self.write_output(&record);
        }
        if to_monitors {
            self.monitors.publish(target, &Arc::new(record));
        }
    }
}

/// An event's message and its other fields, typed.
#[derive(Default)]
struct FieldCollector {
    message: String,
    fields: Vec<(String, FieldValue)>,
}

impl FieldCollector {
    fn push(&mut self, field: &Field, value: FieldValue) {
        // The `log` crate's bridge adds where a record came from; hclog has no such
        // fields by default.
        if field.name().starts_with("log.") {
            return;
        }
        self.fields.push((field.name().to_string(), value));
    }
}

impl Visit for FieldCollector {
    fn record_str(&mut self, field: &Field, value: &str) {
        if field.name() == "message" {
            self.message = value.to_string();
        } else {
            self.push(field, FieldValue::Str(value.to_string()));
        }
    }

    fn record_i64(&mut self, field: &Field, value: i64) {
        self.push(field, FieldValue::I64(value));
    }

    fn record_u64(&mut self, field: &Field, value: u64) {
        self.push(field, FieldValue::U64(value));
    }

    fn record_f64(&mut self, field: &Field, value: f64) {
        self.push(field, FieldValue::F64(value));
    }

    fn record_bool(&mut self, field: &Field, value: bool) {
        self.push(field, FieldValue::Bool(value));
    }

    fn record_debug(&mut self, field: &Field, value: &dyn std::fmt::Debug) {
        let text = format!("{value:?}");
        if field.name() == "message" {
            self.message = text;
        } else {
            self.push(field, FieldValue::Str(text));
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use tracing::level_filters::LevelFilter;
    use tracing_subscriber::layer::SubscriberExt;

    #[tokio::test]
    async fn a_monitor_gets_debug_events_while_the_output_is_at_info() {
        let log = AgentLog::new(
            LevelFilter::INFO,
            OutputFormat::Text {
                colour: false,
                location: false,
            },
        );
        let monitors = log.monitors();
        let mut stream = monitors.subscribe(LevelFilter::DEBUG);
        let subscriber = tracing_subscriber::registry().with(log);
        tracing::subscriber::with_default(subscriber, || {
            tracing::debug!(eval_id = "e1", attempt = 2, "dequeued evaluation");
        });
        let record = stream.next().await.unwrap();
        assert_eq!(record.module, "caravan_log");
        assert_eq!(record.message, "dequeued evaluation");
        assert_eq!(
            record.fields,
            vec![
                ("eval_id".to_string(), FieldValue::Str("e1".into())),
                ("attempt".to_string(), FieldValue::I64(2)),
            ]
        );
    }
}

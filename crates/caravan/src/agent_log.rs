//! The agent's log settings (`log_level`, `log_json`, `log_file`, `log_rotate_*` and
//! their flags) made into the process's one `tracing` subscriber.

use std::io::IsTerminal;
use std::time::Duration;

use caravan_jobspec::agent_config::AgentConfig;
use caravan_log::{AgentLog, Monitors, OutputFormat, OutputGate, RotatingFile, RotationPolicy};
use tracing_subscriber::layer::SubscriberExt;
use tracing_subscriber::util::SubscriberInitExt;

/// The agent's log level as the banner shows it (`INFO` unless set).
pub fn level_name(config: &AgentConfig) -> String {
    config
        .log_level
        .clone()
        .unwrap_or_else(|| "INFO".into())
        .to_uppercase()
}

fn rotation(config: &AgentConfig) -> Result<RotationPolicy, String> {
    let mut policy = RotationPolicy::default();
    if let Some(bytes) = config.log_rotate_bytes {
        policy.max_bytes = u64::try_from(bytes)
            .map_err(|_| format!("log_rotate_bytes must be 0 or more, got {bytes}"))?;
    }
    if let Some(nanos) = config.log_rotate_duration {
        if nanos <= 0 {
            return Err(format!(
                "log_rotate_duration must be positive, e.g. \"24h\", got {nanos}ns"
            ));
        }
        policy.max_age = Duration::from_nanos(nanos.unsigned_abs());
    }
    if let Some(files) = config.log_rotate_max_files {
        policy.max_files = usize::try_from(files)
            .map_err(|_| format!("log_rotate_max_files must be 0 or more, got {files}"))?;
    }
    Ok(policy)
}

/// The installed log: its live monitors and the gate that holds its stdout lines until
/// the banner is out.
pub struct InstalledLog {
    /// What `/v1/agent/monitor` subscribes to.
    pub monitors: Monitors,
    /// Opened once the banner is out.
    pub gate: OutputGate,
}

/// Installs the agent's log. Errors name the setting.
pub fn install(config: &AgentConfig) -> Result<InstalledLog, String> {
    let level = caravan_log::parse_log_level(config.log_level.as_deref().unwrap_or("INFO"))?;
    let location = config.log_include_location == Some(true);
    let format = if config.log_json == Some(true) {
        OutputFormat::Json { location }
    } else {
        OutputFormat::Text {
            colour: std::io::stdout().is_terminal(),
            location,
        }
    };
    let mut log = AgentLog::new(level, format);
    if let Some(path) = config.log_file.as_deref().filter(|p| !p.is_empty()) {
        log = log.with_file(RotatingFile::open(path, rotation(config)?)?);
    }
    let installed = InstalledLog {
        monitors: log.monitors(),
        gate: log.gate(),
    };
    // A second agent in one process (tests) keeps the first one's subscriber.
    let _ = tracing_subscriber::registry().with(log).try_init();
    Ok(installed)
}

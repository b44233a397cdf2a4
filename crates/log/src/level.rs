//! Log levels as Nomad names them, and which targets may log at which level.

use tracing::Level;
use tracing::level_filters::LevelFilter;

/// A threshold: events at this level and more severe pass. `OFF` passes none.
pub type LogLevel = LevelFilter;

/// The levels `log_level`, `-log-level` and `?log_level=` accept, in Nomad's words.
const VALID: &str = "[TRACE DEBUG INFO WARN ERROR OFF]";

/// Parses `TRACE`, `DEBUG`, `INFO`, `WARN`, `ERROR` or `OFF`, in any case.
pub fn parse_log_level(text: &str) -> Result<LogLevel, String> {
    match text.trim().to_ascii_uppercase().as_str() {
        "TRACE" => Ok(LevelFilter::TRACE),
        "DEBUG" => Ok(LevelFilter::DEBUG),
        "INFO" => Ok(LevelFilter::INFO),
        "WARN" | "WARNING" => Ok(LevelFilter::WARN),
        "ERROR" => Ok(LevelFilter::ERROR),
        "OFF" => Ok(LevelFilter::OFF),
        _ => Err(format!(
            "Invalid log level: {text:?}. Valid log levels are: {VALID}"
        )),
    }
}

/// The finest level a target may ever log at: the agent's crates at any, other
/// crates only their warnings (their debug output is not the agent's story), and
/// openraft only its errors (it warns of every stale vote in a normal election).
fn finest_for(target: &str) -> LevelFilter {
    if target.starts_with("caravan") {
        LevelFilter::TRACE
    } else if target.starts_with("openraft") {
        LevelFilter::ERROR
    } else {
        LevelFilter::WARN
    }
}

/// Whether an event of `target` at `level` passes `threshold`.
pub fn passes(target: &str, level: &Level, threshold: LevelFilter) -> bool {
    threshold.min(finest_for(target)) >= *level
}

/// Whether an event of `target` at `level` could pass any threshold at all.
pub fn may_ever_log(target: &str, level: &Level) -> bool {
    passes(target, level, LevelFilter::TRACE)
}

/// A level as a small number, for an atomic: 0 is `OFF`, 5 is `TRACE`.
pub(crate) fn to_rank(level: LevelFilter) -> u8 {
    match level.into_level() {
        None => 0,
        Some(Level::ERROR) => 1,
        Some(Level::WARN) => 2,
        Some(Level::INFO) => 3,
        Some(Level::DEBUG) => 4,
        Some(Level::TRACE) => 5,
    }
}

/// The inverse of [`to_rank`].
pub(crate) fn from_rank(rank: u8) -> LevelFilter {
    match rank {
        0 => LevelFilter::OFF,
        1 => LevelFilter::ERROR,
        2 => LevelFilter::WARN,
        3 => LevelFilter::INFO,
        4 => LevelFilter::DEBUG,
        _ => LevelFilter::TRACE,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn levels_parse_in_any_case_and_unknown_ones_are_named() {
        assert_eq!(parse_log_level("debug"), Ok(LevelFilter::DEBUG));
        assert_eq!(parse_log_level("OFF"), Ok(LevelFilter::OFF));
        assert_eq!(
            parse_log_level("loud"),
            Err("Invalid log level: \"loud\". Valid log levels are: [TRACE DEBUG INFO WARN ERROR OFF]".into())
        );
    }

    #[test]
    fn other_crates_pass_only_their_warnings_and_openraft_only_errors() {
        let rows = [
            (
                "caravan_client::task_runner",
                Level::DEBUG,
                LevelFilter::DEBUG,
                true,
            ),
            (
                "caravan_client::task_runner",
                Level::DEBUG,
                LevelFilter::INFO,
                false,
            ),
            ("hyper::proto", Level::DEBUG, LevelFilter::TRACE, false),
            ("hyper::proto", Level::WARN, LevelFilter::DEBUG, true),
            ("openraft::engine", Level::WARN, LevelFilter::TRACE, false),
            ("openraft::engine", Level::ERROR, LevelFilter::INFO, true),
            (
                "caravan_server::worker",
                Level::ERROR,
                LevelFilter::OFF,
                false,
            ),
        ];
        for (target, level, threshold, expected) in rows {
            assert_eq!(
                passes(target, &level, threshold),
                expected,
                "{target} {level} at {threshold}"
            );
        }
    }

    #[test]
    fn ranks_round_trip() {
        for level in [
            LevelFilter::OFF,
            LevelFilter::ERROR,
            LevelFilter::WARN,
            LevelFilter::INFO,
            LevelFilter::DEBUG,
            LevelFilter::TRACE,
        ] {
            assert_eq!(from_rank(to_rank(level)), level);
        }
    }
}

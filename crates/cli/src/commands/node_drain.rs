//! `caravan node drain` (Nomad's `command/node_drain.go`).

use std::collections::BTreeMap;
use std::io::{BufRead, Write};
use std::sync::Arc;

use caravan_api_types::{DrainSpec, NodeUpdateDrainRequest};

use crate::commands::lookup;
use crate::drain_monitor::{DrainMessage, Level, monitor_drain};
use crate::flags::{FlagKind, FlagSet, Parsed};
use crate::meta;
use crate::time_format::{format_time, now_nanos};

const HELP: &str = "Usage: caravan node drain [options] <node>

  Toggles node draining on a specified node. It is required that either
  -enable or -disable is specified, but not both.  The -self flag is useful to
  drain the local node.

Node Drain Options:

  -disable
    Disable draining for the specified node.

  -enable
    Enable draining for the specified node.

  -deadline <duration>
    Set the deadline by which all allocations must be moved off the node.
    Remaining allocations after the deadline are forced removed from the node.
    If unspecified, a default deadline of one hour is applied.

  -detach
    Return immediately instead of entering monitor mode.

  -monitor
    Enter monitor mode directly without modifying the drain status.

  -force
    Force remove allocations off the node immediately.

  -no-deadline
    No deadline allows the allocations to drain off the node without being force
    stopped after a certain deadline.

  -ignore-system
    Ignore system allows the drain to complete without stopping system job
    allocations. By default system jobs are stopped last.

  -keep-ineligible
    Keep ineligible will maintain the node's scheduling ineligibility even if
    the drain is being disabled. This is useful when an existing drain is being
    cancelled but additional scheduling on the node is not desired.

  -m
    Message for the drain update operation. Registered in drain metadata as
    \"message\" during drain enable and \"cancel_message\" during drain disable.

  -meta <key>=<value>
    Custom metadata to store on the drain operation, can be used multiple times.

  -self
    Set the drain status of the local node.

  -yes
    Automatic yes to prompts.
";

/// Nomad's `defaultDrainDuration`: one hour, in nanoseconds.
pub const DEFAULT_DRAIN_DEADLINE: i64 = 3600 * 1_000_000_000;

/// What the flags ask for.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum DrainAction {
    /// `-enable`: start a drain with this deadline (nanoseconds).
    Enable {
        /// `DrainSpec.Deadline`.
        deadline: i64,
    },
    /// `-disable`: end the drain.
    Disable,
    /// `-monitor`: only watch a drain that is already going on.
    Monitor,
}

/// The validated flags of one `node drain`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct DrainOptions {
    /// What to do.
    pub action: DrainAction,
    /// `-ignore-system`.
    pub ignore_system: bool,
    /// `-keep-ineligible`.
    pub keep_ineligible: bool,
    /// `-detach`.
    pub detach: bool,
    /// `-yes`.
    pub yes: bool,
    /// `-self`.
    pub use_self: bool,
    /// `-m`.
    pub message: String,
    /// `-meta k=v`, in order.
    pub meta: Vec<String>,
}

/// A rejected combination of flags: the message, and whether Nomad adds the
/// `For additional help try ...` line.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct UsageError {
    /// What Nomad prints.
    pub message: String,
    /// Whether the help hint follows.
    pub hint: bool,
}

fn usage(message: &str) -> UsageError {
    UsageError {
        message: message.to_string(),
        hint: true,
    }
}

/// Checks the flags the way Nomad does, in Nomad's order.
pub fn drain_options(parsed: &Parsed) -> Result<DrainOptions, UsageError> {
    let enable = parsed.bool("enable");
    let disable = parsed.bool("disable");
    let monitor = parsed.bool("monitor");
    let force = parsed.bool("force");
    let no_deadline = parsed.bool("no-deadline");
    let ignore_system = parsed.bool("ignore-system");
    let use_self = parsed.bool("self");
    let deadline = parsed.string("deadline").unwrap_or_default();
    if monitor && (enable || disable) {
        return Err(usage(
            "The -monitor flag cannot be used with the '-enable' or '-disable' flags",
        ));
    }
    if (enable && disable) || (!monitor && !enable && !disable) {
        return Err(usage(
            "Either the '-enable' or '-disable' flag must be set, unless using '-monitor'",
        ));
    }
    let count = parsed.args.len();
    if (use_self && count != 0) || (!use_self && count != 1) {
        return Err(usage("Node ID must be specified if -self isn't being used"));
    }
    if disable && (!deadline.is_empty() || force || no_deadline || ignore_system) {
        return Err(usage(
            "-disable can't be combined with flags configuring drain strategy",
        ));
    }
    if !deadline.is_empty() && (force || no_deadline) {
        return Err(usage(
            "-deadline can't be combined with -force or -no-deadline",
        ));
    }
    if force && no_deadline {
        return Err(usage("-force and -no-deadline are mutually exclusive"));
    }
    let nanos = if force {
        -1_000_000_000
    } else if no_deadline {
        0
    } else if !deadline.is_empty() {
        let nanos = caravan_jobspec::parse_duration(deadline).map_err(|e| UsageError {
            message: format!(
                "Failed to parse deadline {deadline:?}: {}",
                go_duration_error(deadline, &e)
            ),
            hint: false,
        })?;
        if nanos <= 0 {
            return Err(UsageError {
                message: "A positive drain duration must be given".to_string(),
                hint: false,
            });
        }
        nanos
    } else {
        DEFAULT_DRAIN_DEADLINE
    };
    let action = if monitor {
        DrainAction::Monitor
    } else if enable {
        DrainAction::Enable { deadline: nanos }
    } else {
        DrainAction::Disable
    };
    Ok(DrainOptions {
        action,
        ignore_system,
        keep_ineligible: parsed.bool("keep-ineligible"),
        detach: parsed.bool("detach"),
        yes: parsed.bool("yes"),
        use_self,
        message: parsed.string("m").unwrap_or_default().to_string(),
        meta: parsed.list("meta"),
    })
}

/// Go's `time.ParseDuration` error for `text`, from the reason Caravan's parser gave.
fn go_duration_error(text: &str, reason: &str) -> String {
    if reason.starts_with("missing unit") {
        return format!("time: missing unit in duration {text:?}");
    }
    if let Some(rest) = reason.strip_prefix("unknown unit ") {
        // `unknown unit "d" in duration "5d": ...`: the unit is the first quoted word.
        if let Some(unit) = rest.split('"').nth(1) {
            return format!("time: unknown unit {unit:?} in duration {text:?}");
        }
    }
    format!("time: invalid duration {text:?}")
}

impl DrainOptions {
    /// The request body for `node_id` (not used with `-monitor`).
    pub fn request(&self, node_id: &str) -> NodeUpdateDrainRequest {
        let drain_spec = match self.action {
            DrainAction::Enable { deadline } => Some(DrainSpec {
                deadline,
                ignore_system_jobs: self.ignore_system,
            }),
            DrainAction::Disable | DrainAction::Monitor => None,
        };
        let mut meta = BTreeMap::new();
        if !self.message.is_empty() {
            let key = if drain_spec.is_some() {
                "message"
            } else {
                "cancel_message"
            };
            meta.insert(key.to_string(), self.message.clone());
        }
        for pair in self.meta.iter().filter(|m| !m.is_empty()) {
            let (key, value) = pair.split_once('=').unwrap_or((pair, ""));
            meta.insert(key.to_string(), value.to_string());
        }
        NodeUpdateDrainRequest {
            node_id: node_id.into(),
            drain_spec,
            mark_eligible: !self.keep_ineligible,
            meta,
        }
    }
}

/// What the user answered to `Are you sure you want to enable drain mode for node
/// "x"? [y/N]`: `Ok(())` to go on, `Err((message, exit code))` to stop.
pub fn confirmation(answer: &str) -> Result<(), (&'static str, i32)> {
    let lower = answer.to_lowercase();
    if answer.is_empty() || lower.starts_with('n') {
        Err(("Canceling drain toggle", 0))
    } else if lower.starts_with('y') && answer.len() > 1 {
        Err(("For confirmation, an exact ‘y’ is required.", 0))
    } else if answer != "y" {
        Err((
            "No confirmation detected. For confirmation, an exact 'y' is required.",
            1,
        ))
    } else {
        Ok(())
    }
}

/// The question asked before changing a node found by prefix.
pub fn question(node_id: &str, enable: bool) -> String {
    let verb = if enable { "enable" } else { "disable" };
    format!("Are you sure you want to {verb} drain mode for node {node_id:?}? [y/N]")
}

/// What Nomad prints right after the update (`-disable`, or `-enable -detach`).
pub fn render_update(node_id: &str, enable: bool) -> String {
    if enable {
        format!("Node {node_id:?} drain strategy set")
    } else {
        format!("Node {node_id:?} drain strategy unset")
    }
}

/// `<time>: <text>`, the monitor's line format.
pub fn stamped(time: &str, text: &str) -> String {
    format!("{time}: {text}")
}

fn print_monitor_message(message: &DrainMessage) {
    let line = stamped(&format_time(now_nanos()), &message.text);
    match message.level {
        Level::Normal | Level::Info => meta::out(&line),
        Level::Warn | Level::Error => meta::err(&line),
    }
}

/// Nomad's `Ui.Ask`: the question, a space, one line from stdin (an error without one).
fn ask(question: &str) -> Result<String, String> {
    print!("{question} ");
    std::io::stdout().flush().ok();
    let mut answer = String::new();
    match std::io::stdin().lock().read_line(&mut answer) {
        Ok(_) if answer.ends_with('\n') => Ok(answer.trim_end().to_string()),
        Ok(_) => Err("EOF".to_string()),
        Err(e) => Err(e.to_string()),
    }
}

/// The flags `node drain` takes besides the client flags.
fn flag_set() -> FlagSet {
    FlagSet::new()
        .bools(&[
            "enable",
            "disable",
            "detach",
            "force",
            "no-deadline",
            "ignore-system",
            "keep-ineligible",
            "self",
            "yes",
            "monitor",
        ])
        .strings(&["deadline", "m"])
        .flag("meta", FlagKind::List)
}

/// `caravan node drain`.
pub fn run(args: &[String]) -> i32 {
    let parsed = match meta::parse(flag_set(), args, HELP) {
        Ok(p) => p,
        Err(code) => return code,
    };
    let options = match drain_options(&parsed) {
        Ok(o) => o,
        Err(e) => {
            meta::err(&e.message);
            if e.hint {
                meta::err(&meta::help_hint("node drain"));
            }
            return 1;
        }
    };
    let client = match meta::client(&parsed) {
        Ok(c) => c,
        Err(code) => return code,
    };
    let node_id = if options.use_self {
        match lookup::local_node_id(&client) {
            Ok(id) => id,
            Err(e) => {
                meta::err(&e);
                return 1;
            }
        }
    } else {
        parsed.args[0].clone()
    };
    let words = lookup::NodeLookup {
        error_prefix: "Error toggling drain mode",
        not_found: "prefix or id",
        verbose: true,
    };
    let found = match lookup::find_node(&client, &node_id, words) {
        Ok(found) => found,
        Err(code) => return code,
    };
    let node = &found.node.value;
    let client = Arc::new(client);
    if options.action == DrainAction::Monitor {
        if !node.drain {
            meta::err("No drain strategy set");
            return 0;
        }
        let now = format_time(now_nanos());
        let text = format!("Monitoring node {:?}: Ctrl-C to detach monitoring", node.id);
        meta::out(&stamped(&now, &text));
        monitor_drain(
            client,
            &node.id,
            found.node.index,
            options.ignore_system,
            print_monitor_message,
        );
        return 0;
    }
    let enable = matches!(options.action, DrainAction::Enable { .. });
    // Nomad asks only when the node was given by a prefix.
    if found.prefix != node.id && !options.yes {
        let answer = match ask(&question(&node.id, enable)) {
            Ok(a) => a,
            Err(e) => {
                meta::err(&format!("Failed to parse answer: {e}"));
                return 1;
            }
        };
        if let Err((message, code)) = confirmation(&answer) {
            meta::out(message);
            return code;
        }
    }
    let request = options.request(&node.id);
    let response = match client.run(|api| api.update_drain(&node.id, &request)) {
        Ok(r) => r,
        Err(e) => {
            meta::err(&format!("Error updating drain specification: {e}"));
            return 1;
        }
    };
    if !enable || options.detach {
        meta::out(&render_update(&node.id, enable));
        return 0;
    }
    let now = format_time(now_nanos());
    meta::out(&stamped(
        &now,
        "Ctrl-C to stop monitoring: will not cancel the node drain",
    ));
    meta::out(&stamped(&now, &render_update(&node.id, true)));
    let index = if response.index != 0 {
        response.index
    } else {
        response.node_modify_index
    };
    monitor_drain(
        client,
        &node.id,
        index,
        options.ignore_system,
        print_monitor_message,
    );
    0
}

#[cfg(test)]
#[path = "node_drain_tests.rs"]
mod tests;

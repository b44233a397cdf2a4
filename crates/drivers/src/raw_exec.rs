//! `raw_exec`: runs a host command with no isolation, as the agent's user.

use std::fs::OpenOptions;
use std::path::{Path, PathBuf};
use std::process::Stdio;

use caravan_structs::Task;
use tokio::process::Command;

use crate::{DriverError, TaskLaunch, TaskProcess};

/// The `raw_exec` driver. Off unless the agent enables it (`plugin "raw_exec" { config {
/// enabled = true } }`, or `-dev`).
#[derive(Debug, Clone, Default)]
pub struct RawExecDriver;

/// Reads `command`, `args` and `work_dir` from a task's `config` block.
pub fn launch_from_config(
    task: &Task,
) -> Result<(String, Vec<String>, Option<String>), DriverError> {
    let command = match task.config.get("command") {
        Some(serde_json::Value::String(command)) if !command.is_empty() => command.clone(),
        Some(_) => {
            return Err(DriverError::InvalidConfig(
                "\"command\" must be a non-empty string".into(),
            ));
        }
        None => {
            return Err(DriverError::InvalidConfig(
                "missing required field \"command\"".into(),
            ));
        }
    };
    let args = match task.config.get("args") {
        None => Vec::new(),
        Some(serde_json::Value::Array(items)) => items
            .iter()
            .map(|item| match item {
                serde_json::Value::String(s) => Ok(s.clone()),
                serde_json::Value::Number(n) => Ok(n.to_string()),
                serde_json::Value::Bool(b) => Ok(b.to_string()),
                other => Err(DriverError::InvalidConfig(format!(
                    "\"args\" must be a list of strings, got {other}"
                ))),
            })
            .collect::<Result<_, _>>()?,
        Some(other) => {
            return Err(DriverError::InvalidConfig(format!(
                "\"args\" must be a list of strings, got {other}"
            )));
        }
    };
    let work_dir = match task.config.get("work_dir") {
        None => None,
        Some(serde_json::Value::String(dir)) => Some(dir.clone()),
        Some(other) => {
            return Err(DriverError::InvalidConfig(format!(
                "\"work_dir\" must be a string, got {other}"
            )));
        }
    };
    Ok((command, args, work_dir))
}

/// Finds the program like Nomad's executor: an absolute path as is, else the task's
/// `local/` and task directory, else `PATH`.
fn resolve_command(
    command: &str,
    task_dir: &Path,
    path_var: Option<&str>,
) -> Result<PathBuf, DriverError> {
    let not_found = |reason: &str| DriverError::CommandNotFound {
        command: command.to_string(),
        reason: reason.into(),
    };
    let candidate = Path::new(command);
    if candidate.is_absolute() {
        return if candidate.exists() {
            Ok(candidate.to_path_buf())
        } else {
            Err(not_found("no such file"))
        };
    }
    for dir in [task_dir.join("local"), task_dir.to_path_buf()] {
        let path = dir.join(command);
        if path.is_file() {
            return Ok(path);
        }
    }
    if command.contains('/') {
        return Err(not_found("no such file in the task directory"));
    }
    for dir in path_var
        .unwrap_or("/usr/local/bin:/usr/bin:/bin")
        .split(':')
    {
        let path = Path::new(dir).join(command);
        if path.is_file() {
            return Ok(path);
        }
    }
    Err(not_found("not in the task directory or PATH"))
}

impl RawExecDriver {
    /// Starts the task as the leader of a new process group.
    pub fn start(&self, launch: &TaskLaunch) -> Result<TaskProcess, DriverError> {
        let program = resolve_command(
            &launch.command,
            &launch.task_dir,
            launch.env.get("PATH").map(String::as_str),
        )?;
        let open = |path: &Path| {
            OpenOptions::new()
                .create(true)
                .append(true)
                .open(path)
                .map_err(|source| DriverError::LogFile {
                    path: path.display().to_string(),
                    source,
                })
        };
        let stdout = open(&launch.stdout_path)?;
        let stderr = open(&launch.stderr_path)?;
        let mut command = Command::new(&program);
        command
            .args(&launch.args)
            .env_clear()
            .envs(&launch.env)
            .current_dir(launch.work_dir.as_deref().unwrap_or(&launch.task_dir))
            .stdin(Stdio::null())
            .stdout(stdout)
            .stderr(stderr)
            .process_group(0)
            .kill_on_drop(false);
        let child = command.spawn().map_err(|source| DriverError::Spawn {
            command: program.display().to_string(),
            source,
        })?;
        TaskProcess::new(child).ok_or_else(|| DriverError::Spawn {
            command: program.display().to_string(),
            source: std::io::Error::other("process exited before its PID was read"),
        })
    }
}

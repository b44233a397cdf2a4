//! `caravan var lock` (Nomad's `command/var_lock.go`): holds a lock in a variable while
//! a child command runs. The lock is taken (waiting for it unless `-early-return`),
//! renewed every half TTL while the child runs, and released when it ends; a lock lost
//! meanwhile kills the child.

use std::process::{Command, ExitStatus};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, mpsc};
use std::time::Duration;

use caravan_api_client::{LockOperation, VariableWrite};
use caravan_structs::{Variable, VariableLock};

use crate::api_client::ApiClient;
use crate::commands::var::{namespace, read_spec};
use crate::commands::var_format::WILDCARD_NAMESPACE;
use crate::flags::{FlagKind, FlagSet};
use crate::meta;

const HELP: &str = "Usage:
caravan var lock [options] <lock spec file reference> child...
caravan var lock [options] <path to store variable> [<variable spec file reference>] child...

  The lock command provides a mechanism for simple distributed locking. A lock
  is created in the given variable, and only when held, is a child process invoked.

  Caravan lock launches its children in a shell. By default, it will use the
  shell defined in the environment variable SHELL. If SHELL is not defined,
  it will default to /bin/sh. Run without a shell by setting -shell=false.

  If ACLs are enabled, this command requires the 'variables:write' capability
  for the destination namespace and path.

Var lock Options:
  -verbose
    Provides additional information via standard error.
  -ttl
    Optional, TTL for the lock, time the variable will be locked. Defaults to 15s.
  -delay
    Optional, time the variable is blocked from locking when a lease is not renewed.
    Defaults to 15s.
  -max-retry
    Optional, max-retry up to this number of times if Nomad returns a 500 error
    while monitoring the lock. Defaults to 5. Set to 0 to disable.
  -early-return
    Optional, return if the lock is not acquired instead of waiting on stand by
    to try again. Defaults to false.
  -backoff
    Optional, by default the lease algorithm waits for 1.1 times the lock TTL,
    using the backoff flag, this backoff period can be modified.
  -shell
    Optional, use a shell to run the command (can set a custom shell via
    the SHELL environment variable). The default value is true.
";

/// Nomad's `api.DefaultLockTTL` and `DefaultLockDelay`.
const DEFAULT_TTL: &str = "15s";
const DEFAULT_DELAY: &str = "15s";

fn duration(text: &str) -> Result<Duration, String> {
    caravan_structs::duration::parse_duration(text).map(|n| Duration::from_nanos(n.max(0) as u64))
}

/// Runs `var lock <args>`.
pub fn run(args: &[String]) -> i32 {
    let set = FlagSet::new()
        .bools(&["verbose", "shell", "early-return"])
        .strings(&["ttl", "delay", "backoff", "out"])
        .flag("max-retry", FlagKind::Int);
    let parsed = match meta::parse(set, args, HELP) {
        Ok(p) => p,
        Err(code) => return code,
    };
    let verbose = parsed.bool("verbose");
    let say = |msg: &str| {
        if verbose {
            meta::err(msg);
        }
    };
    let namespace = namespace(&parsed);
    if namespace == "*" {
        meta::err(WILDCARD_NAMESPACE);
        return 1;
    }
    let positional = parsed.args.clone();
    if positional.len() < 2 {
        meta::err(&format!(
            "Not enough arguments (expected >2, got {})",
            positional.len()
        ));
        return 1;
    }
    let mut variable = match lock_variable(&positional, &namespace) {
        Ok(v) => v,
        Err(e) => {
            meta::err(&e);
            return 1;
        }
    };
    let child: Vec<String> = positional[variable.1..].to_vec();
    let mut lock = variable.0.lock.take().unwrap_or(VariableLock {
        id: String::new(),
        ttl: DEFAULT_TTL.to_string(),
        lock_delay: DEFAULT_DELAY.to_string(),
    });
    if let Some(ttl) = parsed.string("ttl").filter(|t| !t.is_empty()) {
        if let Err(e) = duration(ttl) {
            meta::err(&format!("Invalid TTL: {e}"));
            return 1;
        }
        lock.ttl = ttl.to_string();
    }
    if let Some(delay) = parsed.string("delay").filter(|d| !d.is_empty()) {
        if let Err(e) = duration(delay) {
            meta::err(&format!("Invalid Lock Delay: {e}"));
            return 1;
        }
        lock.lock_delay = delay.to_string();
    }
    let ttl = match duration(&lock.ttl) {
        Ok(ttl) => ttl,
        Err(e) => {
            meta::err(&format!("Invalid TTL: {e}"));
            return 1;
        }
    };
    let backoff = match parsed.string("backoff").map(duration).transpose() {
        Ok(b) => b.unwrap_or(ttl.mul_f64(1.1)),
        Err(e) => {
            meta::err(&format!("invalid value for flag -backoff: {e}"));
            return 1;
        }
    };
    let mut variable = variable.0;
    variable.lock = Some(lock);
    let Ok(client) = meta::client(&parsed) else {
        return 1;
    };
    let max_retry = parsed.int("max-retry").unwrap_or(5).max(0) as u32;

    say("Attempting to acquire lock");
    let held = loop {
        match with_retries(max_retry, || {
            client.run(|api| api.variable_lock(LockOperation::Acquire, &variable))
        }) {
            Ok(VariableWrite::Written(held)) => break held,
            Ok(VariableWrite::Conflict(_)) if parsed.bool("early-return") => {
                meta::err("Lock error:lock already held by another holder");
                return 1;
            }
            Ok(VariableWrite::Conflict(_)) => std::thread::sleep(backoff),
            Err(e) => {
                meta::err(&format!("Lock error:{e}"));
                return 1;
            }
        }
    };
    say(&format!(
        "Variable locked, ready to execute: {}",
        child.join(" ")
    ));
    let shell = !parsed.is_set("shell") || parsed.bool("shell");
    let outcome = run_holding(&client, &held, ttl, max_retry, &child, shell);
    say("Releasing the lock");
    // A lock already lost is not ours to release.
    let _ = client.run(|api| api.variable_lock(LockOperation::Release, &held));
    match outcome {
        Ok(status) if status.success() => 0,
        Ok(status) => {
            let code = status.code().map_or_else(
                || "signal: killed".to_string(),
                |c| format!("exit status {c}"),
            );
            meta::err(&format!("Lock error:{code}"));
            1
        }
        Err(e) => {
            meta::err(&format!("Lock error:{e}"));
            1
        }
    }
}

/// The variable to lock (from a path or a spec file) and where the child's arguments
/// start.
fn lock_variable(positional: &[String], namespace: &str) -> Result<(Variable, usize), String> {
    let read = |file: &str| -> Result<Variable, String> {
        let format = match std::path::Path::new(file)
            .extension()
            .and_then(|e| e.to_str())
        {
            Some("hcl") => "hcl",
            Some("json") => "json",
            _ => {
                return Err(format!(
                    "Unable to determine format of {file}; Use the -in flag to specify it."
                ));
            }
        };
        let text =
            std::fs::read_to_string(file).map_err(|e| format!("Error reading {file:?}: {e}"))?;
        read_spec(&text, format).map_err(|e| format!("Failed to parse variable data: {e}"))
    };
    let (mut variable, mut next) = match positional[0].strip_prefix('@') {
        Some(file) => (read(file)?, 1),
        None => (
            Variable {
                path: positional[0].trim().trim_matches('/').to_string(),
                ..Variable::default()
            },
            1,
        ),
    };
    if let Some(file) = positional.get(1).and_then(|a| a.strip_prefix('@')) {
        let spec = read(file)?;
        variable.items = spec.items;
        variable.lock = spec.lock;
        next = 2;
    }
    if !namespace.is_empty() {
        variable.namespace = namespace.to_string();
    }
    if next >= positional.len() {
        return Err("Not enough arguments: the command to run under the lock is missing".into());
    }
    Ok((variable, next))
}

/// Retries a call that failed for the server's sake (a 5xx or no answer).
fn with_retries<T>(
    max_retry: u32,
    mut call: impl FnMut() -> Result<T, caravan_api_client::Error>,
) -> Result<T, caravan_api_client::Error> {
    let mut attempt = 0;
    loop {
        match call() {
            Err(caravan_api_client::Error::Status { code, .. })
                if code >= 500 && attempt < max_retry =>
            {
                attempt += 1;
                std::thread::sleep(Duration::from_secs(1));
            }
            Err(caravan_api_client::Error::Transport { .. }) if attempt < max_retry => {
                attempt += 1;
                std::thread::sleep(Duration::from_secs(1));
            }
            other => return other,
        }
    }
}

/// Runs the child while a thread renews the lock every half TTL; a renewal the server
/// refuses (the lock lapsed or was taken) kills the child.
fn run_holding(
    client: &ApiClient,
    held: &Variable,
    ttl: Duration,
    max_retry: u32,
    child: &[String],
    shell: bool,
) -> Result<ExitStatus, String> {
    let mut command = if shell {
        let shell = meta::env_var("SHELL").unwrap_or_else(|| "/bin/sh".to_string());
        let mut command = Command::new(shell);
        command.arg("-c").arg(child.join(" "));
        command
    } else {
        let mut command = Command::new(&child[0]);
        command.args(&child[1..]);
        command
    };
    let mut process = command
        .spawn()
        .map_err(|e| format!("starting {:?}: {e}", child.join(" ")))?;
    let (stop, stopped) = mpsc::channel::<()>();
    let lost = Arc::new(AtomicBool::new(false));
    let renewer = {
        let client = client.clone();
        let held = held.clone();
        let lost = lost.clone();
        std::thread::spawn(move || {
            while let Err(mpsc::RecvTimeoutError::Timeout) = stopped.recv_timeout(ttl / 2) {
                let renewed = with_retries(max_retry, || {
                    client.run(|api| api.variable_lock(LockOperation::Renew, &held))
                });
                if !matches!(renewed, Ok(VariableWrite::Written(_))) {
                    lost.store(true, Ordering::SeqCst);
                    return;
                }
            }
        })
    };
    // The child is only killed here, by its owner, while it is not yet reaped: its
    // PID cannot have been reused.
    let status = loop {
        match process.try_wait() {
            Ok(Some(status)) => break Ok(status),
            Ok(None) if lost.load(Ordering::SeqCst) => {
                let _ = process.kill();
                let _ = process.wait();
                break Err("lock lost: the server no longer holds it for this command".to_string());
            }
            Ok(None) => std::thread::sleep(Duration::from_millis(100)),
            Err(e) => break Err(e.to_string()),
        }
    };
    let _ = stop.send(());
    let _ = renewer.join();
    status
}

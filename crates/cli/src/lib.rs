//! Caravan's command line: Nomad's verbs, flags, output strings and exit codes over the
//! `/v1` HTTP API.
//!
//! The binary calls [`run`] for every subcommand except `agent`. Each command lives in
//! [`commands`]; its rendering functions are pure (structs in, `String` out) so they can
//! be tested without an agent, and its HTTP calls go through [`api_client`].
//!
//! Code map:
//! - [`flags`]: a Go-`flag`-compatible parser;
//! - [`meta`]: client flags, address lookup, output styling shared by all commands;
//! - [`api_client`]: `caravan-api-client` run on the command's own runtime, Nomad-style errors;
//! - [`columnize`], [`time_format`], [`byte_size`]: Nomad's formatting primitives;
//! - [`alloc_metrics`], [`monitor`]: placement-failure lines and the evaluation monitor;
//! - [`deployment_format`], [`deployment_monitor`]: how deployments print, and the
//!   deployment monitor that follows `job run`'s evaluation;
//! - [`plan_diff`], [`colorstring`]: `job plan`'s job diff and Nomad's color markup;
//! - [`drain_monitor`]: the node drain monitor of `node drain`;
//! - [`job_file`]: job files for `job run`/`plan`/`validate` (formats, HCL2 variables
//!   from `-var`, `-var-file` and `NOMAD_VAR_*`, `file()`);
//! - [`cron`]: a periodic job's next launch; [`resource_usage`]: `alloc status` live usage;
//! - [`commands`]: one module per command.

pub mod alloc_metrics;
pub mod api_client;
pub mod byte_size;
pub mod cli_tls;
pub mod colorstring;
pub mod columnize;
pub mod commands;
pub mod completion;
pub mod deployment_format;
pub mod deployment_monitor;
pub mod drain_monitor;
pub mod flags;
pub mod job_file;
pub mod meta;
pub mod monitor;
pub mod plan_diff;
pub mod resource_usage;
pub mod time_format;

use commands::{
    acl, agent_info, agent_monitor, alloc_checks, alloc_exec, alloc_fs, alloc_logs, alloc_restart,
    alloc_signal, alloc_status, alloc_stop, deployment, eval_delete, eval_list, eval_status,
    job_deployments, job_dispatch, job_eval, job_history, job_init, job_inspect, job_periodic,
    job_plan, job_restart_run, job_revert, job_run, job_scale, job_scaling_events, job_status,
    job_stop, job_validate, namespace, node_drain, node_eligibility, node_status, operator_api,
    operator_keyring, operator_raft, operator_scheduler, operator_snapshot, scaling_policy,
    server_force_leave, server_join, server_members, service, system_gc, tls_create, ui, var,
};

/// The version line `caravan version` prints.
pub const VERSION_LINE: &str = concat!("Caravan v", env!("CARGO_PKG_VERSION"));

/// Top-level usage, Nomad's layout with the commands Caravan has.
pub const USAGE: &str =
    "Usage: caravan [-version] [-help] [-autocomplete-(un)install] <command> [args]

Common commands:
    run         Run a new job or update an existing job
    stop        Stop a running job
    status      Display the status output for a resource
    alloc       Interact with allocations
    job         Interact with jobs
    node        Interact with nodes
    agent       Runs a Caravan agent

Other commands:
    acl         Interact with ACL policies and tokens
    agent-info  Display status information about the local agent
    deployment  Interact with deployments
    eval        Interact with evaluations
    fs          Inspect the contents of an allocation directory
    init        Create an example job file
    logs        Streams the logs of a task.
    monitor     Stream logs from a Caravan agent
    namespace   Interact with namespaces
    operator    Provides cluster-level tools for Caravan operators
    plan        Dry-run a job update to determine its effects
    scaling     Interact with the Caravan scaling endpoint
    server      Interact with servers
    service     Interact with registered services
    system      Interact with the system API
    tls         Generate Self Signed TLS Certificates for Caravan
    ui          Open the Caravan Web UI
    validate    Checks if a given job specification is valid
    var         Interact with variables
    version     Prints the Caravan version";

const JOB_USAGE: &str = "Usage: caravan job <subcommand> [options] [args]

  This command groups subcommands for interacting with jobs.

Subcommands:
    allocs        List allocations for a job
    deployments   List deployments for a job
    dispatch      Dispatch an instance of a parameterized job
    eval          Force an evaluation for the job
    history       Display all tracked versions of a job
    init          Create an example job file
    inspect       Inspect the contents of a submitted job
    periodic      Interact with periodic jobs
    plan          Dry-run a job update to determine its effects
    promote       Promote a job's canaries
    restart       Restart or reschedule allocations for a job
    revert        Revert to a prior version of the job
    run           Run a new job or update an existing job
    scale         Change the count of a Caravan job group
    scaling-events
                  Display the most recent scaling events for a job
    status        Display status information about a job
    stop          Stop a running job
    validate      Checks if a given job specification is valid";

const ALLOC_USAGE: &str = "Usage: caravan alloc <subcommand> [options] [args]

  This command groups subcommands for interacting with allocations.

Subcommands:
    checks    Outputs service health check status information
    exec      Execute commands in task
    fs        Inspect the contents of an allocation directory
    logs      Streams the logs of a task.
    restart   Restart a running allocation
    signal    Signal a running allocation
    status    Display allocation status information and metadata
    stop      Stop and reschedule a running allocation";

const NODE_USAGE: &str = "Usage: caravan node <subcommand> [options] [args]

  This command groups subcommands for interacting with nodes.

Subcommands:
    drain          Toggle drain mode on a given node
    eligibility    Toggle scheduling eligibility for a given node
    status         Display status information about nodes";

const EVAL_USAGE: &str = "Usage: caravan eval <subcommand> [options] [args]

  This command groups subcommands for interacting with evaluations.

Subcommands:
    delete    Delete evaluations
    list      List the set of evaluations processed by Caravan
    status    Display evaluation status and placement failure reasons";

/// Runs one CLI invocation. `args` excludes the program name. Returns the exit code.
///
/// Exit codes follow Nomad: 0 success, 1 errors (and no command given), 2 placement
/// failures after `job run`, 127 an unknown command; `job plan` has its own (0 no
/// change, 1 allocations created or destroyed, 255 errors).
pub fn run(args: Vec<String>) -> i32 {
    // The shell asking for completions (see `completion`).
    if let Some(code) = completion::answer_from_env() {
        return code;
    }
    if let Some(code) = root_flags(&args) {
        return code;
    }
    let words: Vec<&str> = args.iter().map(String::as_str).collect();
    let rest = |n: usize| args[n.min(args.len())..].to_vec();
    match words.as_slice() {
        [] => {
            meta::err(USAGE);
            1
        }
        ["-h" | "-help" | "--help" | "help", ..] => {
            meta::out(USAGE);
            0
        }
        ["version" | "-v" | "-version" | "--version", ..] => {
            meta::out(&version_text());
            0
        }
        ["agent-info", ..] => agent_info::run(&rest(1)),
        ["monitor", ..] => agent_monitor::run(&rest(1)),
        ["ui", ..] => ui::run(&rest(1)),
        ["run", ..] | ["job", "run", ..] => job_run::run(&rest(skip(&words))),
        ["plan", ..] | ["job", "plan", ..] => job_plan::run(&rest(skip(&words))),
        ["status", ..] => job_status::run_generic_status(&rest(1)),
        ["job", "status", ..] => job_status::run(&rest(2)),
        ["stop", ..] | ["job", "stop", ..] => job_stop::run(&rest(skip(&words))),
        ["inspect", ..] | ["job", "inspect", ..] => job_inspect::run_inspect(&rest(skip(&words))),
        ["job", "allocs", ..] => job_inspect::run_allocs(&rest(2)),
        ["job", "deployments", ..] => job_deployments::run_deployments(&rest(2)),
        ["job", "promote", ..] => job_deployments::run_promote(&rest(2)),
        ["deployment", "list", ..] => deployment::run_list(&rest(2)),
        ["deployment", "status", ..] => deployment::run_status(&rest(2)),
        ["deployment", "promote", ..] => deployment::run_promote(&rest(2)),
        ["deployment", "fail", ..] => deployment::run_fail(&rest(2)),
        ["deployment", "pause", ..] => deployment::run_pause(&rest(2)),
        ["deployment", "resume", ..] => deployment::run_resume(&rest(2)),
        ["deployment", "unblock", ..] => deployment::run_unblock(&rest(2)),
        ["deployment", ..] => group_usage(deployment::DEPLOYMENT_USAGE, &words),
        ["init", ..] | ["job", "init", ..] => job_init::run(&rest(skip(&words))),
        ["validate", ..] | ["job", "validate", ..] => job_validate::run(&rest(skip(&words))),
        ["job", "history", ..] => job_history::run(&rest(2)),
        ["job", "revert", ..] => job_revert::run(&rest(2)),
        ["job", "scale", ..] => job_scale::run(&rest(2)),
        ["job", "eval", ..] => job_eval::run(&rest(2)),
        ["job", "restart", ..] => job_restart_run::run(&rest(2)),
        ["job", "scaling-events", ..] => job_scaling_events::run(&rest(2)),
        ["job", "dispatch", ..] => job_dispatch::run(&rest(2)),
        ["job", "periodic", "force", ..] => job_periodic::run_force(&rest(3)),
        ["job", "periodic", ..] => group_usage(job_periodic::PERIODIC_USAGE, &words[1..]),
        ["alloc-status", ..] => alloc_status::run(&rest(1)),
        ["alloc", "status", ..] => alloc_status::run(&rest(2)),
        ["alloc", "restart", ..] => alloc_restart::run(&rest(2)),
        ["alloc", "stop", ..] => alloc_stop::run(&rest(2)),
        ["alloc", "signal", ..] => alloc_signal::run(&rest(2)),
        ["alloc", "exec", ..] => alloc_exec::run(&rest(2)),
        ["alloc", "checks", ..] => alloc_checks::run(&rest(2)),
        ["logs", ..] => alloc_logs::run(&rest(1)),
        ["alloc", "logs", ..] => alloc_logs::run(&rest(2)),
        ["fs", ..] => alloc_fs::run(&rest(1)),
        ["alloc", "fs", ..] => alloc_fs::run(&rest(2)),
        ["node-status", ..] => node_status::run(&rest(1)),
        ["node", "status", ..] => node_status::run(&rest(2)),
        ["node-drain", ..] => node_drain::run(&rest(1)),
        ["node", "drain", ..] => node_drain::run(&rest(2)),
        ["node", "eligibility", ..] => node_eligibility::run(&rest(2)),
        ["eval-status", ..] => eval_status::run(&rest(1)),
        ["eval", "status", ..] => eval_status::run(&rest(2)),
        ["eval", "list", ..] => eval_list::run(&rest(2)),
        ["eval", "delete", ..] => eval_delete::run(&rest(2)),
        ["job", ..] => group_usage(JOB_USAGE, &words),
        ["alloc", ..] => group_usage(ALLOC_USAGE, &words),
        ["node", ..] => group_usage(NODE_USAGE, &words),
        ["eval", ..] => group_usage(EVAL_USAGE, &words),
        ["server", "members", ..] => server_members::run(&rest(2)),
        ["server-members", ..] => server_members::run(&rest(1)),
        ["server", "join", ..] => server_join::run(&rest(2)),
        ["server-join", ..] => server_join::run(&rest(1)),
        ["server", "force-leave", ..] => server_force_leave::run(&rest(2)),
        ["server-force-leave", ..] => server_force_leave::run(&rest(1)),
        ["server", ..] => group_usage(server_members::SERVER_USAGE, &words),
        ["operator", "api", ..] => operator_api::run(&rest(2)),
        ["operator", "raft", "list-peers", ..] => operator_raft::run_list_peers(&rest(3)),
        ["operator", "raft", "remove-peer", ..] => operator_raft::run_remove_peer(&rest(3)),
        ["operator", "raft", ..] => group_usage(operator_raft::RAFT_USAGE, &words[1..]),
        ["operator", "snapshot", "save", ..] => operator_snapshot::run_save(&rest(3)),
        ["operator", "snapshot", "restore", ..] => operator_snapshot::run_restore(&rest(3)),
        ["operator", "snapshot", "inspect", ..] => operator_snapshot::run_inspect(&rest(3)),
        ["operator", "snapshot", ..] => group_usage(operator_snapshot::SNAPSHOT_USAGE, &words[1..]),
        ["operator", "scheduler", "get-config", ..] => operator_scheduler::run_get(&rest(3)),
        ["operator", "scheduler", "set-config", ..] => operator_scheduler::run_set(&rest(3)),
        ["operator", "scheduler", ..] => {
            group_usage(operator_scheduler::SCHEDULER_USAGE, &words[1..])
        }
        ["operator", "root", "keyring", ..] => operator_keyring::run(&rest(3)),
        ["operator", "root", ..] => group_usage(operator_keyring::KEYRING_USAGE, &words[1..]),
        ["operator", ..] => group_usage(operator_raft::OPERATOR_USAGE, &words),
        ["scaling", "policy", "list", ..] => scaling_policy::run_list(&rest(3)),
        ["scaling", "policy", "info", ..] => scaling_policy::run_info(&rest(3)),
        ["scaling", "policy", ..] => group_usage(scaling_policy::POLICY_USAGE, &words[1..]),
        ["scaling", ..] => group_usage(scaling_policy::SCALING_USAGE, &words),
        ["acl", ..] => acl::run(&rest(1)),
        ["namespace", ..] => namespace::run(&rest(1)),
        ["service", ..] => service::run(&rest(1)),
        ["var", ..] => var::run(&rest(1)),
        ["system", "gc", ..] => system_gc::run(&rest(2)),
        ["system", "reconcile", "summaries", ..] => system_gc::run_reconcile_summaries(&rest(3)),
        ["system", ..] => group_usage(system_gc::SYSTEM_USAGE, &words),
        ["tls", "ca", "create", ..] => tls_create::run_ca_create(&rest(3)),
        ["tls", "cert", "create", ..] => tls_create::run_cert_create(&rest(3)),
        ["tls", ..] => group_usage(tls_create::TLS_USAGE, &words),
        [_, ..] => {
            // Nomad (mitchellh/cli): an unknown command prints the usage, exit 127.
            meta::err(USAGE);
            127
        }
    }
}

/// Flags before the command, as Nomad's CLI (mitchellh/cli) treats them:
/// `-autocomplete-(un)install` act, anything else but help and version is refused with
/// the command's help. `None`: no such flags, run the command.
fn root_flags(args: &[String]) -> Option<i32> {
    let leading: Vec<&str> = args
        .iter()
        .map(String::as_str)
        .take_while(|a| a.starts_with('-'))
        .collect();
    let autocomplete = |flag: &str| leading.contains(&flag);
    if autocomplete("-autocomplete-install") || autocomplete("-autocomplete-uninstall") {
        let result = if autocomplete("-autocomplete-install") {
            completion::install()
        } else {
            completion::uninstall()
        };
        return Some(match result {
            Ok(()) => 0,
            Err(message) => {
                meta::err(&format!("Error executing CLI: {message}"));
                1
            }
        });
    }
    let top_flags = leading.iter().any(|flag| {
        !matches!(
            *flag,
            "-h" | "-help" | "--help" | "-v" | "-version" | "--version"
        )
    });
    let rest = &args[leading.len()..];
    if !top_flags || rest.is_empty() {
        return None;
    }
    let mut command = rest[..completion::command_length(rest).max(1)].to_vec();
    meta::err(
        "Invalid flags before the subcommand. If these flags are for\nthe subcommand, please put them after the subcommand.\n",
    );
    // The command's own help, as Nomad's CLI prints after the message, on stderr too.
    meta::send_output_to_stderr();
    command.push("-help".into());
    let _ = run(command);
    Some(1)
}

/// How many words name the command: `job run` is two, `run` one.
fn skip(words: &[&str]) -> usize {
    if words.first() == Some(&"job") { 2 } else { 1 }
}

/// A command group (`job`, `alloc`...) without a known subcommand: its help; 0 with `-h`, else 1.
fn group_usage(usage: &str, words: &[&str]) -> i32 {
    match words.get(1) {
        Some(&("-h" | "-help" | "--help")) => {
            meta::out(usage);
            0
        }
        _ => {
            meta::err(usage);
            1
        }
    }
}

/// What `caravan version` prints.
pub fn version_text() -> String {
    format!(
        "{VERSION_LINE}\nSpeaks Nomad's HTTP API (/v1) and CLI: use it wherever a Nomad tutorial says `nomad`."
    )
}

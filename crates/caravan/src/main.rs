//! The `caravan` binary: `agent` runs an agent, every other command is the CLI.

mod agent;
mod agent_limits;
mod agent_log;
mod agent_settings;
mod agent_tls;
mod allocator;

fn main() {
    let args: Vec<String> = std::env::args().skip(1).collect();
    let code = match args.first().map(String::as_str) {
        Some("agent") => agent::run(&args[1..]),
        // Hidden: the per-task supervisor the agent spawns (caravan_drivers::executor).
        Some("executor") => caravan_client::task_runner::run_executor(&args[1..]),
        // Hidden: one `/v1/jobs/parse` evaluation, in a process the agent limits.
        Some("jobspec-parse") => caravan_api::parse::run_parse_process(),
        _ => caravan_cli::run(args),
    };
    std::process::exit(code);
}

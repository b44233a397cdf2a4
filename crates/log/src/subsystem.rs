//! Nomad's subsystem names (hclog's logger names) for the agent's modules, so a line
//! reads `client.alloc_runner.task_runner: Task event: ...` as it does in Nomad.

/// Module path prefixes and the subsystem they log as; the longest prefix wins, so
/// more specific rows come first.
const SUBSYSTEMS: &[(&str, &str)] = &[
    (
        "caravan_client::task_runner",
        "client.alloc_runner.task_runner",
    ),
    (
        "caravan_client::task_status",
        "client.alloc_runner.task_runner",
    ),
    ("caravan_client::hooks", "client.alloc_runner.task_runner"),
    (
        "caravan_client::template",
        "client.alloc_runner.task_runner.task_hook.template",
    ),
    ("caravan_client::alloc_runner", "client.alloc_runner"),
    ("caravan_client::alloc_health", "client.alloc_runner"),
    (
        "caravan_client::services",
        "client.alloc_runner.runner_hook.group_services",
    ),
    (
        "caravan_client::checks",
        "client.alloc_runner.runner_hook.checks_hook",
    ),
    ("caravan_client::gc", "client.gc"),
    ("caravan_client::fingerprint", "client.fingerprint_mgr"),
    ("caravan_client", "client"),
    ("caravan_drivers::raw_exec", "client.driver_mgr.raw_exec"),
    ("caravan_drivers::exec", "client.driver_mgr.exec"),
    ("caravan_drivers", "client.driver_mgr"),
    ("caravan_server::worker", "worker"),
    (
        "caravan_server::leader::deployment_watcher",
        "nomad.deployments_watcher",
    ),
    ("caravan_server::leader::drainer", "nomad.drain"),
    ("caravan_server::periodic", "nomad.periodic"),
    ("caravan_server::gc", "core.sched"),
    ("caravan_server::endpoints::node", "nomad.heartbeat"),
    ("caravan_server", "nomad"),
    ("caravan_raft", "nomad.raft"),
    ("caravan_api::rpc", "client.rpc"),
    ("caravan_api", "http"),
    ("caravan_tls", "agent.tls"),
    ("caravan::agent_tls", "agent.tls"),
    ("caravan", "agent"),
];

/// The subsystem an event of `target` (a module path) logs as: Nomad's name for the
/// agent's own modules, the crate's name for anything else.
pub fn subsystem(target: &str) -> &str {
    SUBSYSTEMS
        .iter()
        .find(|(prefix, _)| {
            target
                .strip_prefix(prefix)
                .is_some_and(|rest| rest.is_empty() || rest.starts_with("::"))
        })
        .map(|(_, name)| *name)
        .unwrap_or_else(|| target.split("::").next().unwrap_or(target))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn module_paths_log_as_nomads_subsystems() {
        let rows = [
            (
                "caravan_client::task_runner",
                "client.alloc_runner.task_runner",
            ),
            ("caravan_client::lib", "client"),
            ("caravan_client", "client"),
            ("caravan_server::worker", "worker"),
            ("caravan_server::endpoints::eval", "nomad"),
            ("caravan_raft::join", "nomad.raft"),
            ("caravan_api::layers", "http"),
            ("caravan::agent", "agent"),
            ("caravan_cli::x", "caravan_cli"),
            ("openraft::engine::x", "openraft"),
        ];
        for (target, expected) in rows {
            assert_eq!(subsystem(target), expected, "{target}");
        }
    }
}

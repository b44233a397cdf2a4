//! Namespaces through the CLI, as Nomad's namespace tutorial runs them: create one, run
//! a job whose file names it, find the job with `-namespace` and `NOMAD_NAMESPACE`, and
//! delete the namespace once it holds nothing.

mod common;

use std::process::{Command, Output};

use common::*;

fn cli_in(agent: &Agent, namespace: &str, args: &[&str], cwd: &std::path::Path) -> Output {
    Command::new(CARAVAN)
        .args(args)
        .current_dir(cwd)
        .env("CARAVAN_ADDR", agent.addr())
        .env("NOMAD_NAMESPACE", namespace)
        .env_remove("NOMAD_ADDR")
        .output()
        .expect("run caravan")
}

#[test]
fn a_job_lives_in_the_namespace_its_file_names() {
    let agent = Agent::start();
    let dir = tempfile::tempdir().unwrap();
    let cwd = dir.path();

    let applied = succeeded(&agent.cli(
        &["namespace", "apply", "-description", "Web team", "web-qa"],
        cwd,
    ));
    assert_eq!(applied.trim(), "Successfully applied namespace \"web-qa\"!");
    let list = succeeded(&agent.cli(&["namespace", "list"], cwd));
    assert_eq!(
        list.trim(),
        "Name     Description\ndefault  Default shared namespace\nweb-qa   Web team"
    );
    let status = succeeded(&agent.cli(&["namespace", "status", "web-qa"], cwd));
    assert_eq!(
        status.trim(),
        "Name        = web-qa\nDescription = Web team\nQuota       = <none>"
    );
    let bad = agent.cli(&["namespace", "apply", "web qa"], cwd);
    assert!(!bad.status.success());
    assert!(
        stderr(&bad).contains("invalid name \"web qa\""),
        "{}",
        stderr(&bad)
    );

    let job = job_hcl(
        "qa-web",
        "  namespace = \"web-qa\"\n  update {\n    min_healthy_time = \"1s\"\n  }\n",
        "    task \"t\" {\n      driver = \"raw_exec\"\n      config {\n        command = \"/bin/sleep\"\n        args = [\"300\"]\n      }\n    }",
    );
    write(cwd, "qa.nomad", &job);
    succeeded(&agent.cli(&["job", "run", "qa.nomad"], cwd));

    // Not in the default namespace; found with -namespace and NOMAD_NAMESPACE.
    let missing = agent.cli(&["job", "status", "qa-web"], cwd);
    assert!(!missing.status.success());
    let text = format!("{}{}", stdout(&missing), stderr(&missing));
    assert!(
        text.contains("No job(s) with prefix or ID \"qa-web\" found"),
        "{text}"
    );
    let found = succeeded(&agent.cli(&["job", "status", "-namespace=web-qa", "qa-web"], cwd));
    assert!(found.contains("Namespace     = web-qa"), "{found}");
    succeeded(&cli_in(&agent, "web-qa", &["job", "status", "qa-web"], cwd));
    let all = succeeded(&agent.cli(&["job", "status", "-namespace=*"], cwd));
    assert!(all.contains("qa-web"), "{all}");

    // A namespace with a job in it stays; once the job is gone it can be deleted.
    let refused = agent.cli(&["namespace", "delete", "web-qa"], cwd);
    assert!(!refused.status.success());
    assert!(
        stderr(&refused).contains("non-terminal jobs"),
        "{}",
        stderr(&refused)
    );
    succeeded(&cli_in(
        &agent,
        "web-qa",
        &["job", "stop", "-purge", "qa-web"],
        cwd,
    ));
    let deleted = succeeded(&agent.cli(&["namespace", "delete", "web-qa"], cwd));
    assert_eq!(deleted.trim(), "Successfully deleted namespace \"web-qa\"!");
    let default = agent.cli(&["namespace", "delete", "default"], cwd);
    assert!(stderr(&default).contains("default namespace can not be deleted"));
}

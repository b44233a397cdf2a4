//! The ACL commands as Nomad's ACL tutorial runs them, against a `-dev -acl-enabled`
//! agent: bootstrap, a policy from a file, a token for it, the token used through
//! `NOMAD_TOKEN` and `-token`, the anonymous policy, and cleaning up.

mod common;

use std::path::Path;
use std::process::{Command, Output};

use common::*;

/// Runs the CLI against `agent` with `NOMAD_TOKEN` set to `token` (or unset).
fn cli(agent: &Agent, token: Option<&str>, args: &[&str], cwd: &Path) -> Output {
    let mut command = Command::new(CARAVAN);
    command
        .args(args)
        .current_dir(cwd)
        .env("CARAVAN_ADDR", agent.addr())
        .env_remove("NOMAD_ADDR")
        .env_remove("NOMAD_TOKEN");
    if let Some(token) = token {
        command.env("NOMAD_TOKEN", token);
    }
    command.output().expect("run caravan")
}

/// The value of `key` in `Key = value` output.
fn field(text: &str, key: &str) -> String {
    text.lines()
        .find_map(|line| {
            let (k, v) = line.split_once('=')?;
            (k.trim() == key).then(|| v.trim().to_string())
        })
        .unwrap_or_else(|| panic!("no {key} in:\n{text}"))
}

#[test]
fn the_acl_commands_bootstrap_write_policies_and_issue_tokens() {
    let agent = Agent::with_config(&["-dev", "-acl-enabled"], "");
    let dir = tempfile::tempdir().unwrap();
    let cwd = dir.path();
    let mut boot = String::new();
    agent.eventually("the bootstrap", std::time::Duration::from_secs(20), || {
        let out = cli(&agent, None, &["acl", "bootstrap"], cwd);
        boot = stdout(&out);
        out.status.success()
    });
    assert_eq!(field(&boot, "Name"), "Bootstrap Token");
    assert_eq!(field(&boot, "Type"), "management");
    assert_eq!(field(&boot, "Policies"), "n/a");
    let management = field(&boot, "Secret ID");
    let again = cli(&agent, None, &["acl", "bootstrap"], cwd);
    assert!(!again.status.success());
    assert!(
        stderr(&again).contains("ACL bootstrap already done (reset index: "),
        "{}",
        stderr(&again)
    );

    write(
        cwd,
        "readonly.hcl",
        "namespace \"default\" {\n  policy = \"read\"\n}\nnode {\n  policy = \"read\"\n}\n",
    );
    let applied = succeeded(&cli(
        &agent,
        Some(&management),
        &[
            "acl",
            "policy",
            "apply",
            "-description",
            "Read only",
            "readonly",
            "readonly.hcl",
        ],
        cwd,
    ));
    assert_eq!(
        applied.trim(),
        "Successfully wrote \"readonly\" ACL policy!"
    );
    write(
        cwd,
        "bad.hcl",
        "namespace \"default\" {\n  policy = \"reed\"\n}\n",
    );
    let bad = cli(
        &agent,
        Some(&management),
        &["acl", "policy", "apply", "bad", "bad.hcl"],
        cwd,
    );
    assert!(!bad.status.success());
    assert!(
        stderr(&bad).contains("invalid namespace policy \"reed\""),
        "{}",
        stderr(&bad)
    );
    let list = succeeded(&cli(
        &agent,
        Some(&management),
        &["acl", "policy", "list"],
        cwd,
    ));
    assert_eq!(list.trim(), "Name      Description\nreadonly  Read only");
    let info = succeeded(&cli(
        &agent,
        Some(&management),
        &["acl", "policy", "info", "readonly"],
        cwd,
    ));
    assert!(info.contains("Description = Read only"), "{info}");
    assert!(info.contains("namespace \"default\" {"), "{info}");

    let created = succeeded(&cli(
        &agent,
        Some(&management),
        &[
            "acl", "token", "create", "-name", "reader", "-policy", "readonly", "-ttl", "1h",
        ],
        cwd,
    ));
    assert_eq!(field(&created, "Type"), "client");
    assert_eq!(field(&created, "Policies"), "[readonly]");
    assert_ne!(field(&created, "Expiry Time"), "<none>");
    let reader = field(&created, "Secret ID");
    let accessor = field(&created, "Accessor ID");

    // The token works through NOMAD_TOKEN and -token, within its policy.
    let me = succeeded(&cli(&agent, Some(&reader), &["acl", "token", "self"], cwd));
    assert_eq!(field(&me, "Name"), "reader");
    succeeded(&cli(
        &agent,
        None,
        &["node", "status", &format!("-token={reader}")],
        cwd,
    ));
    let refused = cli(&agent, Some(&reader), &["system", "gc"], cwd);
    assert!(!refused.status.success());
    assert!(
        stderr(&refused).contains("Permission denied"),
        "{}",
        stderr(&refused)
    );
    let anonymous = cli(&agent, None, &["job", "status"], cwd);
    assert!(
        stderr(&anonymous).contains("Permission denied"),
        "{}",
        stderr(&anonymous)
    );

    // The anonymous policy opens what it grants to callers without a token.
    write(
        cwd,
        "anonymous.hcl",
        "namespace \"default\" {\n  policy = \"read\"\n}\n",
    );
    succeeded(&cli(
        &agent,
        Some(&management),
        &["acl", "policy", "apply", "anonymous", "anonymous.hcl"],
        cwd,
    ));
    let listed = succeeded(&cli(&agent, None, &["job", "status"], cwd));
    assert!(listed.contains("No running jobs"), "{listed}");

    let tokens = succeeded(&cli(
        &agent,
        Some(&management),
        &["acl", "token", "list"],
        cwd,
    ));
    assert!(tokens.starts_with("Name"), "{tokens}");
    assert!(
        tokens.contains("reader") && tokens.contains(&accessor),
        "{tokens}"
    );
    let updated = succeeded(&cli(
        &agent,
        Some(&management),
        &["acl", "token", "update", "-name", "renamed", &accessor],
        cwd,
    ));
    assert_eq!(field(&updated, "Name"), "renamed");
    let deleted = succeeded(&cli(
        &agent,
        Some(&management),
        &["acl", "token", "delete", &accessor],
        cwd,
    ));
    assert_eq!(
        deleted.trim(),
        format!("Token {accessor} successfully deleted")
    );
    let gone = cli(&agent, Some(&reader), &["acl", "token", "self"], cwd);
    assert!(
        stderr(&gone).contains("ACL token not found"),
        "{}",
        stderr(&gone)
    );
    let removed = succeeded(&cli(
        &agent,
        Some(&management),
        &["acl", "policy", "delete", "readonly"],
        cwd,
    ));
    assert_eq!(
        removed.trim(),
        "Successfully deleted \"readonly\" ACL policy!"
    );
}

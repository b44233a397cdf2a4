//! Nomad Variables end to end: the API (check-and-set conflicts answered 409 with the
//! variable, Nomad's refusals), items that never reach the data dir in clear, the
//! keyring routes, locks, ACL rules by path, and the `var` and `operator root keyring`
//! commands as Nomad prints them.

mod common;

use std::path::Path;
use std::time::Duration;

use caravan_api_client::{Client, Config, Method};
use common::*;
use serde_json::{Value, json};

fn call(agent: &Agent, method: Method, path: &str, body: Option<Value>) -> (u16, Value, String) {
    let body = body.map(|b| b.to_string());
    let answer = agent
        .run(|api| api.send_raw(method, path, body.as_deref().map(str::as_bytes)))
        .expect("the agent answers");
    let json = serde_json::from_str(&answer.body).unwrap_or(Value::Null);
    (answer.status, json, answer.body)
}

/// Every file under `dir`, read whole.
fn files_under(dir: &Path) -> Vec<(std::path::PathBuf, Vec<u8>)> {
    let mut found = Vec::new();
    let Ok(entries) = std::fs::read_dir(dir) else {
        return found;
    };
    for entry in entries.flatten() {
        let path = entry.path();
        if path.is_dir() {
            found.extend(files_under(&path));
        } else if let Ok(bytes) = std::fs::read(&path) {
            found.push((path, bytes));
        }
    }
    found
}

fn holds(bytes: &[u8], needle: &str) -> bool {
    bytes.windows(needle.len()).any(|w| w == needle.as_bytes())
}

#[test]
fn the_api_stores_checks_and_locks_variables_and_keeps_items_sealed_at_rest() {
    let agent = Agent::start();
    let secret = "cleartext-that-must-never-reach-the-disk-5f1d";

    // Create, read, list.
    let (status, created, text) = call(
        &agent,
        Method::Put,
        "/v1/var/app/db",
        Some(json!({"Items": {"password": secret, "user": "admin"}})),
    );
    assert_eq!(status, 200, "{text}");
    assert_eq!(created["Path"], "app/db");
    assert_eq!(created["Namespace"], "default");
    assert_eq!(created["Items"]["password"], secret);
    let index = created["ModifyIndex"].as_u64().expect("ModifyIndex");
    assert_eq!(created["CreateIndex"], created["ModifyIndex"]);
    assert!(created["CreateTime"].as_i64().unwrap_or(0) > 0);
    let read = agent.get_json("/v1/var/app/db").expect("read");
    assert_eq!(read["Items"]["user"], "admin");
    assert_eq!(
        call(&agent, Method::Get, "/v1/var/app/none", None).2.trim(),
        "variable not found"
    );
    call(
        &agent,
        Method::Put,
        "/v1/var/other/x",
        Some(json!({"Items": {"k": "v"}})),
    );
    let listed = agent.get_json("/v1/vars?prefix=app/").expect("list");
    assert_eq!(listed.as_array().map(Vec::len), Some(1), "{listed}");
    assert!(listed[0].get("Items").is_none(), "a list holds no items");
    assert_eq!(listed[0]["ModifyIndex"], index);
    let everywhere = agent.get_json("/v1/vars?namespace=*").expect("list");
    assert_eq!(everywhere.as_array().map(Vec::len), Some(2));

    // Check-and-set: a stale index, and 0 on a variable that exists, are 409s with
    // the variable as it stands.
    for cas in [0, index + 100] {
        let (status, conflict, _) = call(
            &agent,
            Method::Put,
            &format!("/v1/var/app/db?cas={cas}"),
            Some(json!({"Items": {"password": "other"}})),
        );
        assert_eq!(status, 409, "cas={cas}");
        assert_eq!(conflict["ModifyIndex"], index);
        assert_eq!(conflict["Items"]["password"], secret);
    }
    let (status, updated, _) = call(
        &agent,
        Method::Put,
        &format!("/v1/var/app/db?cas={index}"),
        Some(json!({"Items": {"password": secret, "user": "root"}})),
    );
    assert_eq!(status, 200);
    let updated_index = updated["ModifyIndex"].as_u64().expect("index");
    assert!(updated_index > index);
    assert_eq!(updated["CreateIndex"], index);
    let (status, _, _) = call(
        &agent,
        Method::Delete,
        &format!("/v1/var/other/x?cas={}", index + 100),
        None,
    );
    assert_eq!(status, 409);

    // Bodies read the Go way: `null`s are absent, unknown fields ignored.
    let (status, _, text) = call(
        &agent,
        Method::Put,
        "/v1/var/app/go-body",
        Some(json!({"Items": {"k": "v"}, "Lock": null, "Namespace": null, "Extra": 1})),
    );
    assert_eq!(status, 200, "{text}");
    call(&agent, Method::Delete, "/v1/var/app/go-body", None);

    // Nomad's refusals.
    let (status, _, text) = call(
        &agent,
        Method::Put,
        "/v1/var/empty",
        Some(json!({"Items": {}})),
    );
    assert_eq!(
        (status, text.trim()),
        (400, "variable missing required Items object")
    );
    let (status, _, text) = call(
        &agent,
        Method::Put,
        "/v1/var/bad%20path",
        Some(json!({"Items": {"k": "v"}})),
    );
    assert_eq!(status, 400, "{text}");
    assert!(text.contains("invalid path"), "{text}");

    // Sealed at rest: the path is in the data dir, the item never is.
    let files = files_under(&agent.data_dir());
    assert!(
        files.iter().any(|(_, bytes)| holds(bytes, "app/db")),
        "the scan must see the state at all"
    );
    for (path, bytes) in &files {
        assert!(
            !holds(bytes, secret),
            "{} holds the cleartext",
            path.display()
        );
    }

    // The keyring: one active key; a rotation makes another; -full seals every
    // variable with it, so the old one can go; the active key cannot.
    let keys = agent.get_json("/v1/operator/keyring/keys").expect("keys");
    assert_eq!(keys.as_array().map(Vec::len), Some(1), "{keys}");
    assert_eq!(keys[0]["State"], "active");
    assert_eq!(keys[0]["Algorithm"], "aes256-gcm");
    let first = keys[0]["KeyID"].as_str().expect("KeyID").to_string();
    let (status, _, text) = call(
        &agent,
        Method::Delete,
        &format!("/v1/operator/keyring/key/{first}"),
        None,
    );
    assert_eq!(status, 400, "{text}");
    assert!(text.contains("active root key cannot be deleted"), "{text}");
    let (status, rotated, _) = call(
        &agent,
        Method::Put,
        "/v1/operator/keyring/rotate?full=true",
        None,
    );
    assert_eq!(status, 200);
    assert_eq!(rotated["Key"]["State"], "active");
    let (status, _, text) = call(
        &agent,
        Method::Delete,
        &format!("/v1/operator/keyring/key/{first}"),
        None,
    );
    assert_eq!(status, 200, "{text}");
    let read = agent.get_json("/v1/var/app/db").expect("read after rekey");
    assert_eq!(read["Items"]["password"], secret);

    // Locks: the holder writes, others get a 409, the release frees it.
    let (status, locked, text) = call(
        &agent,
        Method::Put,
        "/v1/var/locks/leader?lock-acquire",
        Some(json!({"Items": {"holder": "a"}, "Lock": {"TTL": "15s", "LockDelay": "15s"}})),
    );
    assert_eq!(status, 200, "{text}");
    let lock_id = locked["Lock"]["ID"].as_str().expect("Lock.ID").to_string();
    assert_eq!(locked["Lock"]["TTL"], "15s");
    let (status, _, _) = call(
        &agent,
        Method::Put,
        "/v1/var/locks/leader?lock-acquire",
        Some(json!({"Lock": {"TTL": "15s"}})),
    );
    assert_eq!(status, 409);
    let (status, _, _) = call(
        &agent,
        Method::Put,
        "/v1/var/locks/leader",
        Some(json!({"Items": {"holder": "b"}})),
    );
    assert_eq!(status, 409, "a write without the lock's ID");
    let (status, _, _) = call(
        &agent,
        Method::Put,
        "/v1/var/locks/leader",
        Some(json!({"Items": {"holder": "a2"}, "Lock": {"ID": lock_id}})),
    );
    assert_eq!(status, 200, "the holder writes");
    let (status, released, _) = call(
        &agent,
        Method::Put,
        "/v1/var/locks/leader?lock-release",
        Some(json!({"Lock": {"ID": lock_id}})),
    );
    assert_eq!(status, 200);
    assert!(released.get("Lock").is_none(), "{released}");
    let (status, _, _) = call(&agent, Method::Delete, "/v1/var/locks/leader", None);
    assert_eq!(status, 204);
}

fn client(agent: &Agent, token: &str) -> Client {
    Client::new(Config {
        token: Some(token.to_string()),
        ..Config::address(agent.addr())
    })
    .expect("client")
}

fn status_of(api: &Client, method: Method, path: &str, body: Option<&Value>) -> u16 {
    let body = body.map(|b| b.to_string());
    block_on(api.send_raw(method, path, body.as_deref().map(str::as_bytes)))
        .map(|a| a.status)
        .unwrap_or(0)
}

#[test]
fn variables_rules_grant_by_path_inside_a_namespace() {
    let agent = Agent::with_config(&["-dev", "-acl-enabled"], "");
    let anonymous = client(&agent, "");
    let mut management = String::new();
    agent.eventually("the bootstrap", Duration::from_secs(20), || {
        let Ok(answer) = block_on(anonymous.send_raw(Method::Post, "/v1/acl/bootstrap", None))
        else {
            return false;
        };
        if answer.status != 200 {
            return false;
        }
        let token: Value = serde_json::from_str(&answer.body).unwrap_or(Value::Null);
        management = token["SecretID"].as_str().unwrap_or("").to_string();
        true
    });
    let admin = client(&agent, &management);
    let rules = r#"
namespace "default" {
  variables {
    path "app/*" { capabilities = ["write", "read"] }
    path "app/secret" { capabilities = ["deny"] }
    path "shared/*" { capabilities = ["list"] }
  }
}
"#;
    let policy = json!({"Name": "vars", "Rules": rules});
    assert_eq!(
        status_of(&admin, Method::Post, "/v1/acl/policy/vars", Some(&policy)),
        200
    );
    let token = json!({"Name": "vars", "Type": "client", "Policies": ["vars"]});
    let answer = block_on(admin.send_raw(
        Method::Post,
        "/v1/acl/token",
        Some(token.to_string().as_bytes()),
    ))
    .expect("token");
    let secret: Value = serde_json::from_str(&answer.body).expect("token JSON");
    let user = client(&agent, secret["SecretID"].as_str().expect("SecretID"));

    let item = json!({"Items": {"k": "v"}});
    for path in ["app/secret", "shared/a", "elsewhere/b"] {
        assert_eq!(
            status_of(&admin, Method::Put, &format!("/v1/var/{path}"), Some(&item)),
            200
        );
    }
    // (method, path, expected status for the path-limited token)
    let cases = [
        (Method::Put, "/v1/var/app/x", 200),
        (Method::Get, "/v1/var/app/x", 200),
        (Method::Delete, "/v1/var/app/x", 403),
        (Method::Get, "/v1/var/app/secret", 403),
        (Method::Put, "/v1/var/app/secret", 403),
        (Method::Get, "/v1/var/shared/a", 403),
        (Method::Get, "/v1/var/elsewhere/b", 403),
        (Method::Put, "/v1/var/elsewhere/b", 403),
        (Method::Get, "/v1/vars?namespace=other", 403),
    ];
    for (method, path, want) in cases {
        let body = (method == Method::Put).then_some(&item);
        assert_eq!(
            status_of(&user, method, path, body),
            want,
            "{method:?} {path}"
        );
    }
    // The list keeps what the token may list: app/* (read implies list) and shared/*.
    let listed = block_on(user.send_raw(Method::Get, "/v1/vars", None)).expect("list");
    let listed: Value = serde_json::from_str(&listed.body).expect("list JSON");
    let mut paths: Vec<&str> = listed
        .as_array()
        .expect("a list")
        .iter()
        .filter_map(|v| v["Path"].as_str())
        .collect();
    paths.sort();
    assert_eq!(paths, ["app/x", "shared/a"]);
    // The keyring is the management token's.
    assert_eq!(
        status_of(&user, Method::Get, "/v1/operator/keyring/keys", None),
        403
    );
}

fn var_cli(agent: &Agent, args: &[&str], cwd: &Path) -> std::process::Output {
    agent.cli(args, cwd)
}

#[test]
fn the_var_commands_print_what_nomad_prints() {
    let agent = Agent::start();
    let dir = tempfile::tempdir().expect("tempdir");
    let cwd = dir.path();

    let out = var_cli(
        &agent,
        &[
            "var",
            "put",
            "-out=none",
            "web/config",
            "port=8080",
            "host=db",
        ],
        cwd,
    );
    let text = succeeded(&out);
    let index = agent.get_json("/v1/var/web/config").expect("read")["ModifyIndex"]
        .as_u64()
        .expect("index");
    assert_eq!(
        text.trim_end(),
        format!("Created variable \"web/config\" with modify index {index}")
    );

    // Without -force an existing variable is a check-and-set conflict at index 0.
    let out = var_cli(&agent, &["var", "put", "web/config", "port=9090"], cwd);
    assert!(!out.status.success());
    let err = stderr(&out);
    assert!(
        err.starts_with(&format!(
            "\nCheck-and-Set conflict\n\n    Your provided check-index (0) does not match the server-side index ({index})."
        )),
        "{err:?}"
    );
    assert!(
        err.contains("The\n    server-side item was last updated on "),
        "{err:?}"
    );
    assert!(err.contains(&format!("-check-index={index}")), "{err}");

    // -check-index with the right index, JSON out (stdout is not a terminal).
    let out = var_cli(
        &agent,
        &[
            "var",
            "put",
            &format!("-check-index={index}"),
            "web/config",
            "port=9090",
        ],
        cwd,
    );
    let json: Value = serde_json::from_str(&succeeded(&out)).expect("JSON out");
    assert_eq!(json["Items"]["port"], "9090");
    assert_eq!(json["Items"].as_object().map(|o| o.len()), Some(1));
    let out = var_cli(
        &agent,
        &[
            "var",
            "put",
            "-force",
            "-out=table",
            "web/config",
            "host=db",
            "port=1",
        ],
        cwd,
    );
    let table = succeeded(&out);
    assert!(
        table.starts_with("Namespace   = default\nPath        = web/config\nCreate Time = "),
        "{table}"
    );
    assert!(table.contains("\nCheck Index = "), "{table}");
    assert!(table.ends_with("\nItems\nhost = db\nport = 1\n"), "{table}");

    // get: an item alone (no newline), HCL, a missing variable.
    let out = var_cli(&agent, &["var", "get", "-item=host", "web/config"], cwd);
    assert_eq!(succeeded(&out), "db");
    let out = var_cli(&agent, &["var", "get", "-out=hcl", "web/config"], cwd);
    let hcl = succeeded(&out);
    assert!(
        hcl.starts_with("\nnamespace    = \"default\"\npath         = \"web/config\"\n"),
        "{hcl}"
    );
    assert!(
        hcl.contains("items = {\n  host = \"db\"\n  port = \"1\"\n}\n"),
        "{hcl}"
    );
    let out = var_cli(&agent, &["var", "get", "web/missing"], cwd);
    assert!(!out.status.success());
    assert_eq!(stderr(&out).trim_end(), "Variable not found");

    // list: Nomad's table, and -q.
    let out = var_cli(&agent, &["var", "list"], cwd);
    let list = succeeded(&out);
    let mut lines = list.lines();
    assert_eq!(
        lines
            .next()
            .map(str::split_whitespace)
            .map(Iterator::collect::<Vec<_>>),
        Some(vec!["Namespace", "Path", "Last", "Updated"])
    );
    assert!(
        lines
            .next()
            .is_some_and(|l| l.starts_with("default    web/config  ")),
        "{list}"
    );
    let out = var_cli(&agent, &["var", "list", "-q", "web/"], cwd);
    assert_eq!(succeeded(&out), "web/config\n");
    let out = var_cli(&agent, &["var", "list", "nothing-here"], cwd);
    assert_eq!(succeeded(&out), "No matching variables found\n");

    // lock: the child runs while the lock is held, and the lock is gone after.
    let out = var_cli(
        &agent,
        &[
            "var",
            "lock",
            "locks/job",
            "sh",
            "-c",
            "'echo running-under-lock'",
        ],
        cwd,
    );
    assert_eq!(succeeded(&out), "running-under-lock\n");
    let after = agent
        .get_json("/v1/var/locks/job")
        .expect("the lock's variable");
    assert!(after.get("Lock").is_none(), "released: {after}");
    let out = var_cli(&agent, &["var", "lock", "locks/job", "exit 3"], cwd);
    assert!(!out.status.success());
    assert_eq!(stderr(&out).trim_end(), "Lock error:exit status 3");

    // purge: a stale -check-index is refused, then the purge.
    let out = var_cli(
        &agent,
        &["var", "purge", "-check-index=1", "web/config"],
        cwd,
    );
    assert!(!out.status.success());
    assert!(stderr(&out).contains("Check-and-Set conflict"));
    let out = var_cli(&agent, &["var", "purge", "web/config"], cwd);
    assert_eq!(
        succeeded(&out),
        "Successfully purged variable \"web/config\"!\n"
    );

    // The keyring commands.
    let out = var_cli(&agent, &["operator", "root", "keyring", "list"], cwd);
    let keys = succeeded(&out);
    assert!(
        keys.starts_with("Key       State   Create Time\n"),
        "{keys}"
    );
    assert!(
        keys.lines()
            .nth(1)
            .is_some_and(|l| l.contains("  active  ")),
        "{keys}"
    );
    let out = var_cli(
        &agent,
        &["operator", "root", "keyring", "rotate", "-verbose"],
        cwd,
    );
    let rotated = succeeded(&out);
    let new_key = rotated
        .lines()
        .nth(1)
        .and_then(|l| l.split_whitespace().next())
        .expect("the new key")
        .to_string();
    assert_eq!(new_key.len(), 36, "{rotated}");
    let out = var_cli(
        &agent,
        &["operator", "root", "keyring", "remove", &new_key],
        cwd,
    );
    assert!(!out.status.success());
    assert!(
        stderr(&out).contains("active root key cannot be deleted"),
        "{}",
        stderr(&out)
    );
}

/// A job whose task renders `template` into `local/out.txt` (never restarted for it).
fn template_job(name: &str, template: &str) -> String {
    format!(
        r#"job "{name}" {{
  datacenters = ["dc1"]
  type = "batch"
  group "g" {{
    restart {{
      attempts = 0
      mode     = "fail"
    }}
    task "t" {{
      driver = "raw_exec"
      config {{
        command = "/bin/sleep"
        args    = ["600"]
      }}
      template {{
        data        = "{template}"
        destination = "local/out.txt"
        change_mode = "noop"
      }}
      resources {{
        cpu    = 20
        memory = 32
      }}
    }}
  }}
}}
"#
    )
}

#[test]
fn a_template_reads_its_jobs_variable_and_follows_its_changes() {
    let agent = Agent::start();
    let dir = tempfile::tempdir().expect("tempdir");
    let cwd = dir.path();
    let put = |value: &str| {
        let (status, _, text) = call(
            &agent,
            Method::Put,
            "/v1/var/nomad/jobs/reader",
            Some(json!({"Items": {"password": value}})),
        );
        assert_eq!(status, 200, "{text}");
    };
    put("first-secret");
    write(
        cwd,
        "reader.nomad",
        &template_job(
            "reader",
            r#"{{ with nomadVar \"nomad/jobs/reader\" }}{{ .password }}{{ end }}"#,
        ),
    );
    succeeded(&agent.cli(&["job", "run", "-detach", "reader.nomad"], cwd));
    let alloc = agent.wait_for_alloc_status("reader", &["running"], "run", Duration::from_secs(60));
    let alloc_id = alloc["ID"].as_str().expect("alloc ID").to_string();
    let rendered = || stdout(&agent.cli(&["alloc", "fs", &alloc_id, "t/local/out.txt"], cwd));
    assert_eq!(rendered(), "first-secret");

    put("second-secret");
    agent.eventually(
        "the template to follow the variable",
        Duration::from_secs(60),
        || rendered() == "second-secret",
    );

    // Another job's variable is not this job's to read: its task fails.
    write(
        cwd,
        "snoop.nomad",
        &template_job(
            "snoop",
            r#"{{ with nomadVar \"nomad/jobs/reader\" }}{{ .password }}{{ end }}"#,
        ),
    );
    succeeded(&agent.cli(&["job", "run", "-detach", "snoop.nomad"], cwd));
    let failed = agent.wait_for_alloc_status("snoop", &["failed"], "fail", Duration::from_secs(60));
    let events = failed["TaskStates"]["t"]["Events"].to_string();
    assert!(events.contains("Permission denied"), "{events}");

    agent.stop_job("reader", cwd);
}

/// A client agent apart from its server reads its task's variable on the server's RPC
/// port, and a missing one reads as empty.
#[test]
fn a_client_agents_template_reads_variables_through_its_server() {
    let cluster = Cluster::start(SERVER_CONFIG, 1, |server, n| {
        workshop_client_config(server.rpc_port, n, true)
    });
    cluster.wait_for_raw_exec(1, Duration::from_secs(60));
    let server = &cluster.server;
    let dir = tempfile::tempdir().expect("tempdir");
    let cwd = dir.path();
    let (status, _, text) = call(
        server,
        Method::Put,
        "/v1/var/nomad/jobs/remote/g/t",
        Some(json!({"Items": {"token": "remote-secret"}})),
    );
    assert_eq!(status, 200, "{text}");
    write(
        cwd,
        "remote.nomad",
        &template_job(
            "remote",
            r#"{{ with nomadVar \"nomad/jobs/remote/g/t\" }}{{ .token }}{{ end }}|{{ nomadVarExists \"nomad/jobs/remote\" }}|{{ range nomadVarList \"nomad/\" }}{{ .Path }}{{ end }}"#,
        ),
    );
    succeeded(&server.cli(&["job", "run", "-detach", "remote.nomad"], cwd));
    let alloc =
        server.wait_for_alloc_status("remote", &["running"], "run", Duration::from_secs(60));
    let alloc_id = alloc["ID"].as_str().expect("alloc ID");
    let rendered = stdout(&server.cli(&["alloc", "fs", alloc_id, "t/local/out.txt"], cwd));
    assert_eq!(rendered, "remote-secret|false|nomad/jobs/remote/g/t");
    server.stop_job("remote", cwd);
}

//! HCL1 job files to `Job`: fixtures in, expected structs out; bad files in, messages out.

use caravan_jobspec::{JobFormat, parse_job, parse_job_hcl1};
use caravan_structs::{
    Affinity, Constraint, Job, JobType, LogConfig, Resources, RestartPolicy, SECOND_NS, Spread,
    SpreadTarget,
};
use serde_json::json;

fn fixture(name: &str) -> String {
    let path = format!("{}/tests/fixtures/{name}", env!("CARGO_MANIFEST_DIR"));
    std::fs::read_to_string(&path).unwrap_or_else(|e| panic!("{path}: {e}"))
}

fn parse(source: &str) -> Job {
    parse_job_hcl1("test.nomad", source).unwrap_or_else(|e| panic!("should parse: {e}"))
}

fn error(source: &str) -> String {
    match parse_job_hcl1("exec.nomad", source) {
        Ok(job) => panic!("should fail, got {job:?}"),
        Err(e) => e.to_string(),
    }
}

fn constraint(l: &str, op: &str, r: &str) -> Constraint {
    Constraint {
        l_target: l.into(),
        operand: op.into(),
        r_target: r.into(),
    }
}

#[test]
fn workshop_exec_batch_parses_exactly() {
    let job = parse(&fixture("hello-exec-batch.nomad"));
    assert_eq!(job.id, "hello-exec-batch");
    assert_eq!(job.name, "hello-exec-batch");
    assert_eq!(job.r#type, Some(JobType::Batch));
    assert_eq!(job.datacenters, ["dc1"]);
    // Not canonicalized: region, priority, namespace are left to `Job::canonicalize`.
    assert_eq!(job.region, "");
    assert_eq!(job.priority, 0);
    assert_eq!(job.task_groups.len(), 1);
    let group = &job.task_groups[0];
    assert_eq!(group.name, "example");
    assert_eq!(group.count, 10);
    assert_eq!(
        group.spreads,
        [Spread {
            attribute: "${meta.Name}".into(),
            weight: 50,
            spread_target: vec![
                SpreadTarget {
                    value: "client-1".into(),
                    percent: 50
                },
                SpreadTarget {
                    value: "client-2".into(),
                    percent: 0
                },
                SpreadTarget {
                    value: "client-3".into(),
                    percent: 50
                },
            ],
        }]
    );
    assert_eq!(
        group.constraints,
        [constraint("${attr.os.name}", "=", "windows")]
    );
    assert_eq!(group.restart_policy, None);
    let task = &group.tasks[0];
    assert_eq!(task.name, "echo");
    assert_eq!(task.driver, "raw_exec");
    assert_eq!(
        serde_json::Value::Object(task.config.clone()),
        json!({"command": "/bin/echo", "args": ["Hi Nomad Exec Driver"]})
    );
    assert_eq!(
        task.resources,
        Resources {
            cpu: 500,
            memory_mb: 300,
            ..Resources::default()
        }
    );
    assert_eq!(task.kill_timeout, 5 * SECOND_NS);
    assert_eq!(task.log_config, LogConfig::default());
}

#[test]
fn canonicalize_after_parse_fills_nomad_defaults() {
    let mut job = parse(&fixture("hello-exec-batch.nomad"));
    job.canonicalize();
    assert_eq!(job.region, "global");
    assert_eq!(job.priority, 50);
    assert_eq!(
        job.task_groups[0].restart_policy,
        Some(RestartPolicy::default_for(JobType::Batch))
    );
}

#[test]
fn affinities_everywhere_with_default_weight() {
    let job = parse(&fixture("affinity.nomad"));
    assert_eq!(
        job.affinities,
        [Affinity {
            l_target: "${attr.kernel.version}".into(),
            operand: "version".into(),
            r_target: "> 3.19".into(),
            weight: 50,
        }]
    );
    let group = &job.task_groups[0];
    assert_eq!(group.affinities[0].weight, -30);
    assert_eq!(group.affinities[0].operand, "=");
    assert_eq!(group.affinities[0].l_target, "${node.datacenter}");
    let task = &group.tasks[0];
    assert_eq!(
        task.affinities,
        [Affinity {
            l_target: "${meta.rack}".into(),
            operand: "=".into(),
            r_target: "r1".into(),
            weight: 50
        }]
    );
}

#[test]
fn full_job_maps_every_supported_key() {
    let job = parse(&fixture("full.nomad"));
    assert_eq!(job.region, "europe");
    assert_eq!(job.namespace, "apps");
    assert_eq!(job.r#type, Some(JobType::Service));
    assert_eq!(job.priority, 70);
    assert!(job.all_at_once);
    assert_eq!(job.datacenters, ["dc1", "dc2"]);
    assert_eq!(job.node_pool, "gpu");
    assert_eq!(job.meta["team.name"], "platform");
    assert_eq!(job.meta["owner"], "ops");
    assert_eq!(
        job.constraints,
        [
            constraint("", "distinct_hosts", ""),
            constraint("${attr.kernel.name}", "regexp", "linux|darwin"),
            constraint("${attr.nomad.version}", "version", ">= 1.6"),
        ],
        "distinct_hosts = false is dropped, as Nomad does"
    );
    assert_eq!(
        job.spreads[0].spread_target,
        [
            SpreadTarget {
                value: "dc1".into(),
                percent: 70
            },
            SpreadTarget {
                value: "dc2".into(),
                percent: 30
            },
        ]
    );
    assert_eq!(job.spreads[0].weight, 80);

    let api = job.group("api").unwrap();
    assert_eq!(api.count, 3);
    let group_restart = RestartPolicy {
        attempts: 5,
        delay: 10 * SECOND_NS,
        ..RestartPolicy::default_for(JobType::Service)
    };
    assert_eq!(api.restart_policy, Some(group_restart.clone()));
    assert_eq!(api.ephemeral_disk.size_mb, 500);
    assert!(api.ephemeral_disk.sticky);
    assert_eq!(api.meta["version"], "1.2.3");
    assert_eq!(api.meta["build"], "42");

    let server = &api.tasks[0];
    assert_eq!(server.user, "nobody");
    assert!(server.leader);
    assert_eq!(server.kill_timeout, 90 * SECOND_NS);
    assert_eq!(server.kill_signal, "SIGINT");
    assert_eq!(
        serde_json::Value::Object(server.config.clone()),
        json!({
            "command": "/usr/local/bin/api",
            "args": ["-port", "${NOMAD_PORT_http}", "-dir", "${NOMAD_ALLOC_DIR}/data"],
            "mount": [{"source": "/a"}, {"source": "/b"}],
        })
    );
    assert_eq!(server.env["LOG_LEVEL"], "debug");
    assert_eq!(server.env["APP.MODE"], "prod");
    assert_eq!(server.env["WORKERS"], "4");
    // The task's restart block overrides only `mode` of the group's policy.
    assert_eq!(
        server.restart_policy,
        Some(RestartPolicy {
            mode: "delay".into(),
            ..group_restart
        })
    );
    assert_eq!(
        server.resources,
        Resources {
            cpu: 250,
            memory_mb: 128,
            memory_max_mb: 256,
            cores: 0,
            // Deprecated `disk` is kept, as Nomad's API shape does.
            disk_mb: 10,
            networks: vec![caravan_structs::NetworkResource {
                mbits: Some(10),
                ..Default::default()
            }],
            devices: Vec::new(),
        }
    );
    assert_eq!(
        server.log_config,
        LogConfig {
            max_files: 3,
            max_file_size_mb: 5,
            disabled: false
        }
    );

    assert_eq!(api.tasks[1].name, "sidecar");
    assert_eq!(api.tasks[1].resources, Resources::default());
    let worker = job.group("worker").unwrap();
    assert_eq!(worker.count, 1);
    assert!(worker.tasks.is_empty());
}

#[test]
fn parse_job_dispatches_on_format() {
    let source = fixture("hello-exec-batch.nomad");
    let via_format = parse_job("x.nomad", &source, JobFormat::Hcl1).unwrap();
    assert_eq!(via_format, parse(&source));
}

#[test]
fn small_forms_table() {
    type Check = fn(&Job);
    let rows: &[(&str, &str, Check)] = &[
        (
            "name overrides the label",
            r#"job "a" { name = "b" }"#,
            |j| assert_eq!((j.id.as_str(), j.name.as_str()), ("a", "b")),
        ),
        (
            "meta as an object value",
            r#"job "a" { meta = { x = "y" } }"#,
            |j| assert_eq!(j.meta["x"], "y"),
        ),
        (
            "repeated meta blocks merge",
            r#"job "a" { meta { x = "1" } meta { y = "2" } }"#,
            |j| assert_eq!(j.meta.len(), 2),
        ),
        (
            "numeric string count",
            r#"job "a" { group "g" { count = "4" } }"#,
            |j| assert_eq!(j.task_groups[0].count, 4),
        ),
        (
            "count zero is kept",
            r#"job "a" { group "g" { count = 0 } }"#,
            |j| assert_eq!(j.task_groups[0].count, 0),
        ),
        (
            "spread without weight weighs 50",
            r#"job "a" { spread { attribute = "${node.unique.name}" } }"#,
            |j| assert_eq!(j.spreads[0].weight, 50),
        ),
        (
            "spread weight 0 is kept",
            r#"job "a" { spread { attribute = "x" weight = 0 } }"#,
            |j| assert_eq!(j.spreads[0].weight, 0),
        ),
        (
            "semver shorthand",
            r#"job "a" { constraint { attribute = "${attr.x}" semver = ">= 1.0" } }"#,
            |j| assert_eq!(j.constraints[0].operand, "semver"),
        ),
        (
            "distinct_property",
            r#"job "a" { constraint { distinct_property = "${meta.rack}" value = "2" } }"#,
            |j| {
                assert_eq!(
                    j.constraints[0],
                    constraint("${meta.rack}", "distinct_property", "2")
                )
            },
        ),
        (
            "set_contains shorthand",
            r#"job "a" { constraint { attribute = "${meta.tags}" set_contains = "a,b" } }"#,
            |j| {
                assert_eq!(
                    j.constraints[0],
                    constraint("${meta.tags}", "set_contains", "a,b")
                )
            },
        ),
        (
            "kill_timeout as a bare number is nanoseconds",
            r#"job "a" { group "g" { task "t" { kill_timeout = 1000 } } }"#,
            |j| assert_eq!(j.task_groups[0].tasks[0].kill_timeout, 1000),
        ),
        (
            "heredoc in a config value",
            "job \"a\" { group \"g\" { task \"t\" { config { script = <<EOF\necho hi\nEOF\n } } } }",
            |j| assert_eq!(j.task_groups[0].tasks[0].config["script"], "echo hi\n"),
        ),
        (
            "batch restart defaults under an explicit restart block",
            r#"job "a" { type = "batch" group "g" { restart { attempts = 1 } } }"#,
            |j| {
                let policy = j.task_groups[0].restart_policy.clone().unwrap();
                assert_eq!(
                    (policy.attempts, policy.interval),
                    (1, 24 * 3600 * SECOND_NS)
                )
            },
        ),
        (
            "logs enabled = false disables",
            r#"job "a" { group "g" { task "t" { logs { enabled = false } } } }"#,
            |j| assert!(j.task_groups[0].tasks[0].log_config.disabled),
        ),
        (
            "config = { } object form",
            r#"job "a" { group "g" { task "t" { config = { command = "x" } } } }"#,
            |j| assert_eq!(j.task_groups[0].tasks[0].config["command"], "x"),
        ),
        (
            "config contents are not checked",
            r#"job "a" { group "g" { task "t" { config { comand = "typo" } } } }"#,
            |j| assert_eq!(j.task_groups[0].tasks[0].config["comand"], "typo"),
        ),
        (
            "groups keep their order",
            r#"job "a" { group "z" {} group "a" {} group "m" {} }"#,
            |j| {
                let names: Vec<&str> = j.task_groups.iter().map(|g| g.name.as_str()).collect();
                assert_eq!(names, ["z", "a", "m"])
            },
        ),
        (
            "minimal forms of every group and task block are accepted",
            concat!(
                r#"job "a" { update {} periodic { cron = "@daily" } group "g" { network {} service {} update {} reschedule {} volume "v" {} scaling { max = 3 } migrate {}"#,
                r#" task "t" { artifact { source = "x" } template {} service {} lifecycle {} volume_mount {} identity {} resources { disk = 1 network {} } } } }"#
            ),
            |j| assert_eq!(j.task_groups[0].tasks.len(), 1),
        ),
    ];
    for (name, source, check) in rows {
        let job = parse_job_hcl1("t.nomad", source).unwrap_or_else(|e| panic!("{name}: {e}"));
        check(&job);
    }
}

#[test]
fn errors_table() {
    let rows: &[(&str, &str, &str)] = &[
        (
            "misspelt group block",
            "job \"hello\" {\n  datacenters = [\"dc1\"]\n  grop \"g\" {\n  }\n}\n",
            "exec.nomad:3:3: unknown block \"grop\" in job \"hello\" (did you mean \"group\"?); expected one of: region,",
        ),
        (
            "count of the wrong type",
            "job \"hello\" {\n  group \"g\" {\n    count = \"ten\"\n  }\n}\n",
            "exec.nomad:3:13: \"count\" must be a number, got string",
        ),
        (
            "unclosed group",
            "job \"hello\" {\n  group \"g\" {\n    count = 1\n",
            "exec.nomad:4:1: expected \"}\" to close block \"group\" opened at 2:3, found end of file",
        ),
        (
            "missing job label",
            "job {\n}\n",
            "exec.nomad:1:1: \"job\" needs a name: write job \"name\" { ... }",
        ),
        (
            "no job at all",
            "# nothing\n",
            "exec.nomad:1:1: no job found",
        ),
        (
            "two jobs",
            "job \"a\" {}\njob \"b\" {}\n",
            "exec.nomad:2:1: a file holds exactly one job; the first is at 1:1",
        ),
        (
            "unknown top-level key",
            "jobs \"a\" {}\n",
            "exec.nomad:1:1: unknown block \"jobs\" in the job file (did you mean \"job\"?)",
        ),
        (
            "task at job level",
            "job \"a\" {\n  task \"t\" {}\n}\n",
            "exec.nomad:2:3: task blocks must be inside a group",
        ),
        (
            "group without label",
            "job \"a\" {\n  group {}\n}\n",
            "exec.nomad:2:3: \"group\" needs a name",
        ),
        (
            "task with two labels",
            "job \"a\" { group \"g\" { task \"t\" \"u\" {} } }",
            "exec.nomad:1:23: \"task\" takes one name, got a second one \"u\"",
        ),
        (
            "unknown task key",
            "job \"a\" {\n  group \"g\" {\n    task \"t\" {\n      comand = \"x\"\n    }\n  }\n}\n",
            "exec.nomad:4:7: unknown key \"comand\" in task \"t\"",
        ),
        (
            "unknown constraint key",
            "job \"a\" { constraint { atribute = \"x\" } }",
            "exec.nomad:1:24: unknown key \"atribute\" in constraint (did you mean \"attribute\"?)",
        ),
        (
            "bad duration",
            "job \"a\" { group \"g\" { task \"t\" { kill_timeout = \"5\" } } }",
            "exec.nomad:1:49: \"kill_timeout\": missing unit in duration \"5\"",
        ),
        (
            "restart interval not a duration",
            "job \"a\" { group \"g\" { restart { interval = \"soon\" } } }",
            "exec.nomad:1:44: \"interval\": invalid duration \"soon\"",
        ),
        (
            "two resources blocks",
            "job \"a\" { group \"g\" { task \"t\" { resources {} resources {} } } }",
            "exec.nomad:1:47: only one \"resources\" block is allowed here; the first is at 1:34",
        ),
        (
            "datacenters not a list",
            "job \"a\" { datacenters = 1 }",
            "exec.nomad:1:25: \"datacenters\" must be a list of strings, got number",
        ),
        (
            "group is an attribute",
            "job \"a\" { group = 1 }",
            "exec.nomad:1:11: \"group\" needs a name",
        ),
        (
            "constraint is a string",
            "job \"a\" { constraint = \"x\" }",
            "exec.nomad:1:24: \"constraint\" must be a block, got string",
        ),
        (
            "spread target without value",
            "job \"a\" { spread { target { percent = 5 } } }",
            "exec.nomad:1:20: spread target needs a value",
        ),
        (
            "meta value is a list",
            "job \"a\" { meta { a = [1] } }",
            "exec.nomad:1:22: \"meta.a\" must be a string, got list",
        ),
        (
            "resources cpu typo",
            "job \"a\" { group \"g\" { task \"t\" { resources { cpus = 1 } } } }",
            "exec.nomad:1:46: unknown key \"cpus\" in resources (did you mean \"cpu\"?)",
        ),
        (
            "labelled constraint",
            "job \"a\" { constraint \"c\" { } }",
            "exec.nomad:1:11: \"constraint\" takes no name, got \"c\"",
        ),
    ];
    for (name, source, want) in rows {
        let got = error(source);
        assert!(got.starts_with(want), "{name}:\n got: {got}\nwant: {want}");
    }
}

#[test]
fn error_position_is_exposed() {
    let err = parse_job_hcl1("exec.nomad", "job \"a\" {\n  grop \"g\" {}\n}").unwrap_err();
    assert_eq!(err.pos(), Some(caravan_jobspec::Pos::new(2, 3)));
    assert!(err.message().starts_with("unknown block \"grop\""));
}

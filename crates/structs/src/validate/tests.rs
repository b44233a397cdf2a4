use super::*;
use crate::{Task, TaskGroup};

fn job() -> Job {
    let mut job = Job {
        id: "web".into(),
        task_groups: vec![TaskGroup {
            name: "api".into(),
            tasks: vec![Task {
                name: "t".into(),
                driver: "raw_exec".into(),
                config: serde_json::json!({"command": "/bin/true"})
                    .as_object()
                    .cloned()
                    .unwrap_or_default(),
                ..Task::default()
            }],
            ..TaskGroup::default()
        }],
        ..Job::default()
    };
    job.canonicalize();
    job
}

#[test]
fn valid_job_passes() {
    assert_eq!(validate_job(&job()), Ok(()));
}

#[test]
fn negative_count_names_group() {
    let mut j = job();
    j.task_groups[0].count = -1;
    let errors = validate_job(&j).unwrap_err();
    assert_eq!(
        errors,
        vec!["job \"web\": group \"api\": count must be >= 0, got -1"]
    );
}

#[test]
fn names_that_could_be_paths_name_the_field() {
    let cases: &[(&str, &str, &str)] = &[
        (
            "task",
            "/etc",
            "job \"web\": group \"api\": task \"/etc\": Task name cannot include slashes",
        ),
        (
            "task",
            "..",
            "job \"web\": group \"api\": task \"..\": Task name cannot be \".\" or \"..\"",
        ),
        (
            "task",
            "a\nb",
            "job \"web\": group \"api\": task \"a\\nb\": Task name cannot include control characters",
        ),
        (
            "group",
            "a/b",
            "job \"web\": group \"a/b\": Group name cannot include slashes",
        ),
    ];
    for (field, name, want) in cases {
        let mut j = job();
        match *field {
            "task" => j.task_groups[0].tasks[0].name = name.to_string(),
            _ => j.task_groups[0].name = name.to_string(),
        }
        let errors = validate_job(&j).unwrap_err();
        assert!(errors.iter().any(|e| e == want), "{name:?}: {errors:?}");
    }
    let mut j = job();
    j.task_groups[0].count = i64::MAX;
    assert!(
        validate_job(&j).is_ok(),
        "Nomad sets no upper bound on a count"
    );
    assert!(check_submitted_job_id("team/web").is_err());
    assert!(check_submitted_job_id(&"x".repeat(129)).is_err());
    assert!(check_submitted_job_id("web-1").is_ok());
}

#[test]
fn missing_driver_names_task() {
    let mut j = job();
    j.task_groups[0].tasks[0].driver.clear();
    let errors = validate_job(&j).unwrap_err();
    assert_eq!(
        errors,
        vec!["job \"web\": group \"api\": task \"t\": Missing task driver"]
    );
}

#[test]
fn unknown_type_rejected() {
    // An unknown type no longer reaches validation: the job's reader refuses it, with
    // the same sentence. A job without a type (never canonicalized) still fails here.
    let mut value = serde_json::to_value(job()).unwrap();
    value["Type"] = "cron".into();
    let err = crate::json::from_value_lenient::<Job>(&mut value).unwrap_err();
    assert!(err.contains("type must be one of"), "{err}");
    let mut j = job();
    j.r#type = None;
    assert!(validate_job(&j).unwrap_err()[0].contains("type must be one of"));
}

#[test]
fn services_name_ports_and_tasks_that_exist() {
    use crate::{Service, ServiceCheck};
    let check = |name: &str, kind: &str, port: &str, task: &str| ServiceCheck {
        name: name.into(),
        r#type: kind.into(),
        port_label: port.into(),
        task_name: task.into(),
        command: "/bin/true".into(),
        path: "/".into(),
        interval: crate::SECOND_NS,
        timeout: crate::SECOND_NS,
        ..ServiceCheck::default()
    };
    let with_service = |port: &str, checks: Vec<ServiceCheck>| {
        let mut j = job();
        let group = &mut j.task_groups[0];
        group.networks = vec![crate::NetworkResource {
            dynamic_ports: vec![crate::Port {
                label: "http".into(),
                ..crate::Port::default()
            }],
            ..crate::NetworkResource::default()
        }];
        group.services = vec![Service {
            name: "web".into(),
            provider: "nomad".into(),
            port_label: port.into(),
            checks,
            ..Service::default()
        }];
        validate_job(&j).err().unwrap_or_default()
    };
    assert_eq!(
        with_service("http", vec![check("a", "http", "", "")]),
        Vec::<String>::new()
    );
    assert_eq!(
        with_service("nope", vec![]),
        [
            "job \"web\": group \"api\": port label \"nope\" referenced by services web does not exist"
        ]
    );
    assert_eq!(
        with_service("http", vec![check("a", "tcp", "admin", "")]),
        [
            "job \"web\": group \"api\": port label \"admin\" referenced by services web does not exist"
        ]
    );
    assert_eq!(
        with_service("http", vec![check("g", "grpc", "", "")]),
        [
            "job \"web\": group \"api\": service \"web\": check \"g\": invalid check type (\"grpc\"), must be one of http, tcp, script for the nomad provider"
        ]
    );
    assert_eq!(
        with_service("http", vec![check("s", "script", "", "other")]),
        [
            "job \"web\": group \"api\": service \"web\": check \"s\": task \"other\" does not exist in the group"
        ]
    );
    assert_eq!(
        with_service("http", vec![check("s", "script", "", "")]),
        Vec::<String>::new()
    );
}

#[test]
fn logs_are_checked_as_nomad_checks_them() {
    let at = "job \"web\": group \"api\": task \"t\"";
    // (max_files, max_file_size MB, ephemeral disk MB, the errors)
    let cases: &[(i64, i64, i64, &[&str])] = &[
        (10, 10, 300, &[]),
        (3, 1, 10, &[]),
        (0, 10, 300, &["logs: minimum number of files is 1; got 0"]),
        (10, 0, 300, &["logs: minimum file size is 1MB; got 0"]),
        (
            10,
            30,
            300,
            &["log storage (300 MB) must be less than requested disk capacity (300 MB)"],
        ),
        (
            5,
            20,
            50,
            &["log storage (100 MB) must be less than requested disk capacity (50 MB)"],
        ),
    ];
    for &(max_files, max_size, disk, want) in cases {
        let mut j = job();
        j.task_groups[0].ephemeral_disk.size_mb = disk;
        let config = &mut j.task_groups[0].tasks[0].log_config;
        config.max_files = max_files;
        config.max_file_size_mb = max_size;
        let got = validate_job(&j).err().unwrap_or_default();
        let want: Vec<String> = want.iter().map(|e| format!("{at}: {e}")).collect();
        assert_eq!(got, want, "{max_files} x {max_size} MB on {disk} MB");
    }
}

#[test]
fn a_lifecycle_hook_must_be_one_of_nomads_three() {
    let at = "job \"web\": group \"api\": task \"t\": lifecycle:";
    let cases = [
        ("prestart", true, None),
        ("poststop", false, None),
        (
            "prestop",
            false,
            Some(format!(
                "{at} invalid hook: prestop; use prestart, poststart or poststop"
            )),
        ),
        (
            "",
            true,
            Some(format!(
                "{at} no lifecycle hook provided; set hook to prestart, poststart or poststop"
            )),
        ),
    ];
    for (hook, sidecar, want) in cases {
        let mut j = job();
        j.task_groups[0].tasks[0].lifecycle = Some(crate::TaskLifecycle {
            hook: hook.into(),
            sidecar,
        });
        j.canonicalize();
        let got = validate_job(&j).err();
        assert_eq!(got, want.map(|w| vec![w]), "{hook:?}");
    }
}

#[test]
fn volumes_and_volume_mounts_are_checked_as_nomad_does() {
    type Edit = fn(&mut TaskGroup);
    let host = |source: &str| crate::VolumeRequest {
        r#type: "host".into(),
        source: source.into(),
        ..crate::VolumeRequest::default()
    };
    let mount = |volume: &str, mode: &str| crate::VolumeMount {
        volume: Some(volume.into()),
        destination: Some("/data".into()),
        propagation_mode: Some(mode.into()),
        ..crate::VolumeMount::default()
    };
    let cases: &[(Edit, &str)] = &[
        (
            |g| {
                g.volumes.insert(
                    "data".into(),
                    crate::VolumeRequest {
                        r#type: "host".into(),
                        ..Default::default()
                    },
                );
            },
            "job \"web\": group \"api\": volume \"data\" has an empty source",
        ),
        (
            |g| {
                g.volumes.insert(
                    "data".into(),
                    crate::VolumeRequest {
                        r#type: "nfs".into(),
                        source: "x".into(),
                        ..Default::default()
                    },
                );
            },
            "volume \"data\" has unrecognised type \"nfs\"",
        ),
        (
            |g| {
                g.volumes.insert(
                    "data".into(),
                    crate::VolumeRequest {
                        r#type: "host".into(),
                        source: "x".into(),
                        access_mode: "single-node-writer".into(),
                        ..Default::default()
                    },
                );
            },
            "volume \"data\": host volumes cannot have an access mode",
        ),
        (
            |g| {
                g.tasks[0].volume_mounts.push(crate::VolumeMount {
                    volume: Some("nope".into()),
                    destination: Some("/data".into()),
                    ..Default::default()
                });
            },
            "task \"t\": volume_mount 1 references undefined volume \"nope\"",
        ),
        (
            |g| {
                g.tasks[0].volume_mounts.push(crate::VolumeMount {
                    destination: Some("/data".into()),
                    ..Default::default()
                });
            },
            "task \"t\": volume_mount 1 references an empty volume",
        ),
        (
            |g| {
                g.volumes.insert(
                    "data".into(),
                    crate::VolumeRequest {
                        r#type: "host".into(),
                        source: "x".into(),
                        ..Default::default()
                    },
                );
                g.tasks[0].volume_mounts.push(crate::VolumeMount {
                    volume: Some("data".into()),
                    destination: Some("/data".into()),
                    propagation_mode: Some("sideways".into()),
                    ..Default::default()
                });
            },
            "volume_mount 1 has an invalid propagation mode: \"sideways\"",
        ),
    ];
    for (edit, want) in cases {
        let mut j = job();
        edit(&mut j.task_groups[0]);
        let errors = validate_job(&j).unwrap_err();
        assert!(
            errors.iter().any(|e| e.contains(want)),
            "{want}: {errors:?}"
        );
    }
    let mut j = job();
    j.task_groups[0].volumes.insert("data".into(), host("data"));
    j.task_groups[0].tasks[0]
        .volume_mounts
        .push(mount("data", "private"));
    assert_eq!(validate_job(&j), Ok(()));
}

//! The corpus: Nomad job files in `tests/corpus/`, each parsed, canonicalized, validated and
//! compared with its expected JSON (`<name>.json`, the canonicalized job as the API shows
//! it). A job with an HCL1 form (`<name>.hcl1.nomad`) must give exactly the same JSON.
//! Invalid files in `tests/corpus/invalid/` must each fail with one precise, positioned
//! error.
//!
//! `UPDATE_SNAPSHOTS=1 cargo test -p caravan-jobspec --test corpus` rewrites the JSON
//! files; review the diff like code: the snapshots are the spec of what Nomad would build.

use std::path::{Path, PathBuf};
use std::sync::Arc;

use caravan_jobspec::{Hcl2Options, parse_job_hcl1, parse_job_hcl2_with_options, parse_var_file};
use caravan_structs::Job;

fn corpus_dir() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/corpus")
}

/// The HCL2 files of a directory (`*.nomad` but not `*.hcl1.nomad`), sorted.
fn hcl2_files(dir: &Path) -> Vec<PathBuf> {
    let mut files: Vec<PathBuf> = std::fs::read_dir(dir)
        .unwrap()
        .map(|e| e.unwrap().path())
        .filter(|p| {
            let name = p.file_name().unwrap().to_string_lossy().into_owned();
            name.ends_with(".nomad") && !name.ends_with(".hcl1.nomad")
        })
        .collect();
    files.sort();
    files
}

/// Reads `file()` paths relative to the corpus directory (the parser gives paths joined
/// to the job file's directory, which is the relative name's parent: empty here).
fn options_for(stem: &str) -> Hcl2Options {
    let dir = corpus_dir();
    let var_file = dir.join(format!("{stem}.vars.hcl"));
    let var_file_values = match std::fs::read_to_string(&var_file) {
        Ok(text) => parse_var_file(&format!("{stem}.vars.hcl"), &text).unwrap(),
        Err(_) => Vec::new(),
    };
    Hcl2Options {
        var_file_values,
        vars: Vec::new(),
        read_file: Some(Arc::new(move |path: &Path| {
            std::fs::read_to_string(dir.join(path)).map_err(|e| e.to_string())
        })),
    }
}

fn canonical_json(mut job: Job) -> String {
    job.canonicalize();
    if let Err(errors) = caravan_structs::validate::validate_job(&job) {
        panic!(
            "{}: canonicalized job does not validate: {errors:#?}",
            job.id
        );
    }
    serde_json::to_string_pretty(&job).unwrap() + "\n"
}

#[test]
fn corpus_matches_snapshots_and_hcl1_equals_hcl2() {
    let dir = corpus_dir();
    let update = std::env::var_os("UPDATE_SNAPSHOTS").is_some();
    let files = hcl2_files(&dir);
    let mut with_hcl1 = 0;
    let mut failures = Vec::new();
    for path in &files {
        let name = path.file_name().unwrap().to_string_lossy().into_owned();
        let stem = name.trim_end_matches(".nomad").to_string();
        let source = std::fs::read_to_string(path).unwrap();
        let job = parse_job_hcl2_with_options(&name, &source, &options_for(&stem))
            .unwrap_or_else(|e| panic!("{e}"));
        let json = canonical_json(job);
        let hcl1_path = dir.join(format!("{stem}.hcl1.nomad"));
        if let Ok(hcl1) = std::fs::read_to_string(&hcl1_path) {
            with_hcl1 += 1;
            let job = parse_job_hcl1(&format!("{stem}.hcl1.nomad"), &hcl1)
                .unwrap_or_else(|e| panic!("{e}"));
            let hcl1_json = canonical_json(job);
            if hcl1_json != json {
                failures.push(format!("{stem}: HCL1 and HCL2 forms differ"));
            }
        }
        let snapshot = dir.join(format!("{stem}.json"));
        if update {
            std::fs::write(&snapshot, &json).unwrap();
            continue;
        }
        match std::fs::read_to_string(&snapshot) {
            Ok(expected) if expected == json => {}
            Ok(_) => failures.push(format!(
                "{stem}: differs from {stem}.json (rerun with UPDATE_SNAPSHOTS=1 and review the diff)"
            )),
            Err(_) => failures.push(format!("{stem}: no {stem}.json snapshot")),
        }
    }
    assert!(failures.is_empty(), "{failures:#?}");
    assert!(files.len() >= 60, "the corpus holds {} jobs", files.len());
    assert!(with_hcl1 >= 60, "{with_hcl1} jobs have an HCL1 form");
}

/// Snapshot spot checks of Nomad's documented defaults, so a wrong snapshot cannot be
/// blessed unnoticed.
#[test]
fn snapshots_hold_nomads_defaults() {
    let read = |stem: &str| -> serde_json::Value {
        let text = std::fs::read_to_string(corpus_dir().join(format!("{stem}.json"))).unwrap();
        serde_json::from_str(&text).unwrap()
    };
    let service = read("minimal-service");
    let group = &service["TaskGroups"][0];
    assert_eq!(service["Update"]["MaxParallel"], 1);
    assert_eq!(service["Update"]["Stagger"], 30_000_000_000_i64);
    assert_eq!(group["Update"]["HealthCheck"], "checks");
    assert_eq!(group["Update"]["MinHealthyTime"], 10_000_000_000_i64);
    assert_eq!(group["Update"]["HealthyDeadline"], 300_000_000_000_i64);
    assert_eq!(group["Update"]["ProgressDeadline"], 600_000_000_000_i64);
    assert_eq!(group["ReschedulePolicy"]["Unlimited"], true);
    assert_eq!(group["ReschedulePolicy"]["Delay"], 30_000_000_000_i64);
    assert_eq!(group["ReschedulePolicy"]["DelayFunction"], "exponential");
    assert_eq!(group["ReschedulePolicy"]["MaxDelay"], 3_600_000_000_000_i64);
    assert_eq!(group["Migrate"]["MaxParallel"], 1);
    assert_eq!(group["EphemeralDisk"]["SizeMB"], 300);
    assert_eq!(group["Tasks"][0]["LogConfig"]["MaxFiles"], 10);
    assert_eq!(group["Tasks"][0]["LogConfig"]["MaxFileSizeMB"], 10);
    assert_eq!(group["Tasks"][0]["KillTimeout"], 5_000_000_000_i64);
    let batch = read("minimal-batch");
    let policy = &batch["TaskGroups"][0]["ReschedulePolicy"];
    assert_eq!(policy["Attempts"], 1);
    assert_eq!(policy["Interval"], 86_400_000_000_000_i64);
    assert_eq!(policy["Delay"], 5_000_000_000_i64);
    assert_eq!(policy["DelayFunction"], "constant");
    assert!(batch["Update"].is_null());
    assert!(batch["TaskGroups"][0]["Migrate"].is_null());
    let system = read("system-job");
    assert!(system["TaskGroups"][0]["ReschedulePolicy"].is_null());
}

/// One row per invalid file: the file and the start of its one error.
const INVALID: &[(&str, &str)] = &[
    (
        "artifact-without-source.nomad",
        "artifact-without-source.nomad:6:9: artifact needs a \"source\"",
    ),
    (
        "bad-check-type.nomad",
        "bad-check-type.nomad:5:16: \"type\" must be one of http, tcp, grpc, script; got \"icmp\"",
    ),
    (
        "bad-cron-range.hcl1.nomad",
        "bad-cron-range.hcl1.nomad:4:12: invalid cron spec \"0 25 * * *\": hour field \"25\": 25 is out of range 0-23",
    ),
    (
        "bad-cron.nomad",
        "bad-cron.nomad:4:12: invalid cron spec \"*/5 * * *\": a cron expression has 5, 6 or 7 fields, got 4 in \"*/5 * * ",
    ),
    (
        "bad-delay-function.nomad",
        "bad-delay-function.nomad:3:22: \"delay_function\" must be one of constant, exponential, fibonacci; got \"linear\"",
    ),
    (
        "bad-duration-missing-unit.nomad",
        "bad-duration-missing-unit.nomad:5:22: \"kill_timeout\": missing unit in duration \"5\": write e.g. \"5s\"",
    ),
    (
        "bad-duration-unit.hcl1.nomad",
        "bad-duration-unit.hcl1.nomad:5:22: \"kill_timeout\": unknown unit \" minutes\" in duration \"5 minutes\": use ns, us",
    ),
    (
        "bad-job-type.nomad",
        "bad-job-type.nomad:2:10: \"type\" must be one of service, batch, system, sysbatch; got \"cron\"",
    ),
    (
        "bad-lifecycle-hook.hcl1.nomad",
        "bad-lifecycle-hook.hcl1.nomad:6:16: \"hook\" must be one of prestart, poststart, poststop; got \"prerun\"",
    ),
    (
        "bad-payload.nomad",
        "bad-payload.nomad:4:15: \"payload\" must be one of optional, required, forbidden; got \"sometimes\"",
    ),
    (
        "bad-regexp-constraint.nomad",
        "bad-regexp-constraint.nomad:4:17: Regular expression failed to compile: regex parse error:",
    ),
    (
        "bad-restart-mode.nomad",
        "bad-restart-mode.nomad:4:14: \"mode\" must be one of fail, delay; got \"retry\"",
    ),
    (
        "bad-update-health-check.hcl1.nomad",
        "bad-update-health-check.hcl1.nomad:3:20: \"health_check\" must be one of checks, task_states, manual; got \"http\"",
    ),
    (
        "bad-version-constraint.hcl1.nomad",
        "bad-version-constraint.hcl1.nomad:4:17: Version constraint is invalid: Malformed constraint: >= one.two",
    ),
    (
        "bad-volume-type.hcl1.nomad",
        "bad-volume-type.hcl1.nomad:4:14: \"type\" must be one of host, csi; got \"nfs\"",
    ),
    (
        "connect-refused.nomad",
        "connect-refused.nomad:5:7: \"connect\" in service is not supported by Caravan yet; remove it to run this job",
    ),
    (
        "consul-refused.hcl1.nomad",
        "consul-refused.hcl1.nomad:3:5: \"consul\" in group \"web\" is not supported by Caravan yet; remove it to run this ",
    ),
    (
        "csi-plugin-refused.nomad",
        "csi-plugin-refused.nomad:5:7: \"csi_plugin\" in task \"app\" is not supported by Caravan yet; remove it to run thi",
    ),
    (
        "duplicate-group.nomad",
        "duplicate-group.nomad:3:3: group \"web\" is defined more than once; the first is at 2:3",
    ),
    (
        "duplicate-port-label.nomad",
        "duplicate-port-label.nomad:5:7: port label \"http\" is already in use in this group",
    ),
    (
        "duplicate-task.hcl1.nomad",
        "duplicate-task.hcl1.nomad:4:5: task \"t\" is defined more than once; the first is at 3:5",
    ),
    (
        "duplicate-volume.nomad",
        "duplicate-volume.nomad:7:5: volume \"data\" is defined more than once; the first is at 3:5",
    ),
    (
        "hcl2-dynamic-bad-for-each.nomad",
        "hcl2-dynamic-bad-for-each.nomad:4:18: for_each must be a list or a map, got a string",
    ),
    (
        "hcl2-file-without-reader.nomad",
        "hcl2-file-without-reader.nomad:3:12: error calling function `file`: file(\"motd.txt\"): reading files is not all",
    ),
    (
        "hcl2-function-error.nomad",
        "hcl2-function-error.nomad:3:9: error calling function `element`: element: cannot use element function with an ",
    ),
    (
        "hcl2-undefined-variable.nomad",
        "hcl2-undefined-variable.nomad:2:18: undefined variable \"dc\": declare it with variable \"dc\" { default = ... }",
    ),
    (
        "hcl2-unknown-function.nomad",
        "hcl2-unknown-function.nomad:2:18: undefined function `shout` in expression `shout(\"dc1\")`",
    ),
    (
        "meta-required-and-optional.nomad",
        "meta-required-and-optional.nomad:5:21: meta key \"x\" is both required and optional",
    ),
    (
        "multiregion-refused.nomad",
        "multiregion-refused.nomad:2:3: \"multiregion\" in job \"a\" is not supported by Caravan yet; remove it to run this",
    ),
    (
        "negative-count.nomad",
        "negative-count.nomad:3:13: \"count\" must be >= 0, got -1",
    ),
    (
        "negative-duration.nomad",
        "negative-duration.nomad:3:22: \"shutdown_delay\" must not be negative",
    ),
    (
        "port-out-of-range.nomad",
        "port-out-of-range.nomad:5:18: port \"http\": static port must be between 0 and 65535, got 70000",
    ),
    (
        "port-to-out-of-range.hcl1.nomad",
        "port-to-out-of-range.hcl1.nomad:5:14: port \"http\" cannot be mapped to -2: \"to\" must be between -1 and 65535",
    ),
    (
        "priority-out-of-range.hcl1.nomad",
        "priority-out-of-range.hcl1.nomad:2:14: \"priority\" must be between 1 and 100, got 101",
    ),
    (
        "scaling-min-over-max.hcl1.nomad",
        "scaling-min-over-max.hcl1.nomad:4:13: scaling \"min\" (5) must not be greater than \"max\" (2)",
    ),
    (
        "scaling-without-max.nomad",
        "scaling-without-max.nomad:4:7: scaling needs \"max\": write scaling { max = 10 }",
    ),
    (
        "syntax-missing-equals.hcl1.nomad",
        "syntax-missing-equals.hcl1.nomad:3:1: expected \"=\" or \"{\" after \"type\", found \"}\"",
    ),
    (
        "syntax-unclosed-brace.hcl1.nomad",
        "syntax-unclosed-brace.hcl1.nomad:4:1: expected \"}\" to close block \"group\" opened at 2:3, found end of file",
    ),
    (
        "syntax-unclosed-brace.nomad",
        "syntax-unclosed-brace.nomad:3:15: invalid block body; expected `}`, newline or identifier",
    ),
    (
        "task-outside-group.hcl1.nomad",
        "task-outside-group.hcl1.nomad:2:3: task blocks must be inside a group: wrap it in group \"name\" { ... } in job ",
    ),
    (
        "task-scaling-refused.hcl1.nomad",
        "task-scaling-refused.hcl1.nomad:5:7: \"scaling\" in task \"app\" is not supported by Caravan yet; remove it to run",
    ),
    (
        "template-script-without-change-script.nomad",
        "template-script-without-change-script.nomad:8:23: change_mode \"script\" needs a change_script { command = ... }",
    ),
    (
        "two-jobs.nomad",
        "two-jobs.nomad:2:1: a file holds exactly one job; the first is at 1:1",
    ),
    (
        "unknown-group-key.hcl1.nomad",
        "unknown-group-key.hcl1.nomad:3:5: unknown key \"cout\" in group \"web\" (did you mean \"count\"?); expected one of: ",
    ),
    (
        "unknown-job-key.nomad",
        "unknown-job-key.nomad:2:3: unknown key \"datacenter\" in job \"a\" (did you mean \"datacenters\"?); expected one of:",
    ),
    (
        "unknown-operator.nomad",
        "unknown-operator.nomad:4:17: constraint operator \"like\" is unknown; use one of =, ==, is, !=, not, <, <=, >, >",
    ),
    (
        "unknown-task-key.nomad",
        "unknown-task-key.nomad:5:7: unknown key \"comand\" in task \"app\"; expected one of: driver, user, config, env, me",
    ),
    (
        "vault-refused.nomad",
        "vault-refused.nomad:5:7: \"vault\" in task \"app\" is not supported by Caravan yet; remove it to run this job",
    ),
    (
        "wrong-type-block.nomad",
        "wrong-type-block.nomad:2:12: \"update\" must be a block, got string",
    ),
    (
        "wrong-type-count.nomad",
        "wrong-type-count.nomad:3:13: \"count\" must be a number, got string",
    ),
];

#[test]
fn invalid_files_fail_with_one_positioned_error() {
    let dir = corpus_dir().join("invalid");
    let mut seen = Vec::new();
    for entry in std::fs::read_dir(&dir).unwrap() {
        let path = entry.unwrap().path();
        let name = path.file_name().unwrap().to_string_lossy().into_owned();
        let source = std::fs::read_to_string(&path).unwrap();
        let result = if name.ends_with(".hcl1.nomad") {
            parse_job_hcl1(&name, &source)
        } else {
            parse_job_hcl2_with_options(&name, &source, &Hcl2Options::default())
        };
        let message = match result {
            Ok(_) => panic!("{name} should fail"),
            Err(e) => e.to_string(),
        };
        if std::env::var_os("PRINT_ERRORS").is_some() {
            println!("(\"{name}\", {message:?}),");
        }
        seen.push((name, message));
    }
    seen.sort();
    if std::env::var_os("PRINT_ERRORS").is_some() {
        return;
    }
    let mut failures = Vec::new();
    for (name, message) in &seen {
        match INVALID.iter().find(|(file, _)| file == name) {
            None => failures.push(format!(
                "{name}: no row in INVALID; it fails with {message:?}"
            )),
            Some((_, want)) if !message.starts_with(want) => {
                failures.push(format!("{name}: want {want:?}, got {message:?}"))
            }
            Some(_) => {}
        }
    }
    for (file, _) in INVALID {
        if !seen.iter().any(|(name, _)| name == file) {
            failures.push(format!("{file}: listed in INVALID but missing"));
        }
    }
    assert!(failures.is_empty(), "{failures:#?}");
    assert!(seen.len() >= 30, "{} invalid files", seen.len());
}

//! JSON job files: bare or wrapped, lenient about nulls, errors with file and position.

use caravan_jobspec::{JobFormat, parse_job, parse_job_json};

#[test]
fn bare_and_wrapped_jobs_read_the_same() {
    let bare = r#"{"ID": "web", "Name": "web", "Type": "service",
        "TaskGroups": [{"Name": "g", "Count": 2, "Tasks": [{"Name": "t", "Driver": "raw_exec",
        "Config": {"command": "/bin/true"}, "KillTimeout": 1000000000}]}]}"#;
    let wrapped = format!(r#"{{"Job": {bare}}}"#);
    let a = parse_job_json(bare).unwrap();
    let b = parse_job_json(&wrapped).unwrap();
    assert_eq!(a, b);
    assert_eq!(a.id, "web");
    assert_eq!(a.task_groups[0].count, 2);
    assert_eq!(a.task_groups[0].tasks[0].config["command"], "/bin/true");
    assert_eq!(a.task_groups[0].tasks[0].kill_timeout, 1_000_000_000);
}

#[test]
fn nulls_take_defaults() {
    let job = parse_job_json(r#"{"Job": {"ID": "x", "Constraints": null, "TaskGroups": [{"Name": "g", "Count": null}]}}"#).unwrap();
    assert_eq!(job.task_groups[0].count, 1);
}

#[test]
fn errors_name_file_and_place() {
    let rows: &[(&str, &str)] = &[
        ("{\n  \"ID\": \n", "j.json:3:1: invalid JSON: "),
        ("[1, 2]", "j.json: a JSON job must be an object"),
        (
            r#"{"ID": "x", "TaskGroups": [{"Count": "many"}]}"#,
            "j.json: TaskGroups[0].Count: invalid type",
        ),
    ];
    for (source, want) in rows {
        let got = parse_job("j.json", source, JobFormat::Json)
            .unwrap_err()
            .to_string();
        assert!(
            got.starts_with(want),
            "{source}:\n got: {got}\nwant: {want}"
        );
    }
}

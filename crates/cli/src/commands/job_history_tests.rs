//! `job history` rendering: versions and diffs in, Nomad's text out.

use caravan_structs::diff::{FieldDiff, TaskGroupDiff};

use super::*;

const S: i64 = 1_000_000_000;
/// 2026-11-25T12:00:00Z
const T0: i64 = 1_795_608_000 * S;

fn version(v: u64, stable: bool, submit: i64) -> Job {
    Job {
        id: "example".into(),
        name: "example".into(),
        version: v,
        stable,
        submit_time: submit,
        ..Job::default()
    }
}

fn count_diff(old: &str, new: &str) -> JobDiff {
    JobDiff {
        r#type: "Edited".into(),
        id: "example".into(),
        task_groups: vec![TaskGroupDiff {
            r#type: "Edited".into(),
            name: "cache".into(),
            fields: vec![FieldDiff {
                r#type: "Edited".into(),
                name: "Count".into(),
                old: old.into(),
                new: new.into(),
                annotations: Vec::new(),
            }],
            ..TaskGroupDiff::default()
        }],
        ..JobDiff::default()
    }
}

fn time() -> TimeContext {
    TimeContext::fixed_utc(T0 + 3600 * S)
}

#[test]
fn versions_with_diffs() {
    let response = JobVersionsResponse {
        versions: vec![
            version(2, false, T0 + 120 * S),
            version(1, true, T0 + 60 * S),
            version(0, true, T0),
        ],
        diffs: Some(vec![Some(count_diff("2", "3")), Some(count_diff("1", "2"))]),
    };
    let out = format_job_versions(&response, false, Ui::plain(), &time()).unwrap();
    assert_eq!(
        out,
        "Version     = 2
Stable      = false
Submit Date = 2026-11-25T12:02:00Z
Diff        = 
+/- Job: \"example\"
+/- Task Group: \"cache\"
  +/- Count: \"2\" => \"3\"

Version     = 1
Stable      = true
Submit Date = 2026-11-25T12:01:00Z
Diff        = 
+/- Job: \"example\"
+/- Task Group: \"cache\"
  +/- Count: \"1\" => \"2\"

Version     = 0
Stable      = true
Submit Date = 2026-11-25T12:00:00Z"
    );
}

#[test]
fn versions_without_diffs() {
    let response = JobVersionsResponse {
        versions: vec![version(1, false, T0 + 60 * S), version(0, true, T0)],
        diffs: None,
    };
    assert_eq!(
        format_job_versions(&response, false, Ui::plain(), &time()).unwrap(),
        "Version     = 1
Stable      = false
Submit Date = 2026-11-25T12:01:00Z

Version     = 0
Stable      = true
Submit Date = 2026-11-25T12:00:00Z"
    );
}

#[test]
fn null_diff_shows_no_diff_row() {
    let response: JobVersionsResponse = caravan_structs::json::from_slice_lenient(
        br#"{"Versions": [{"ID": "a", "Version": 1}, {"ID": "a", "Version": 0}], "Diffs": [null]}"#,
    )
    .unwrap();
    let out = format_job_versions(&response, false, Ui::plain(), &time()).unwrap();
    assert!(!out.contains("Diff"), "{out}");
    let response: JobVersionsResponse =
        caravan_structs::json::from_slice_lenient(br#"{"Versions": [{"ID": "a"}], "Diffs": null}"#)
            .unwrap();
    assert_eq!(response.versions.len(), 1);
    assert!(response.diffs.is_none(), "{:?}", response.diffs);
}

#[test]
fn mismatched_diffs_are_an_error() {
    let response = JobVersionsResponse {
        versions: vec![version(1, false, T0)],
        diffs: Some(vec![None, None]),
    };
    assert_eq!(
        format_job_versions(&response, false, Ui::plain(), &time()).unwrap_err(),
        "Number of job versions 1 doesn't match number of diffs 2"
    );
}

#[test]
fn full_appends_the_json_job() {
    let out = format_job_version(&version(0, true, T0), None, true, Ui::plain(), &time());
    assert!(
        out.starts_with(
            "Version     = 0\nStable      = true\nSubmit Date = 2026-11-25T12:00:00Z\nFull        = JSON Job:\n{\n    \""
        ),
        "{out}"
    );
    assert!(out.contains("\n    \"ID\": \"example\",\n"), "{out}");
    assert!(out.ends_with('}'), "{out}");
}

#[test]
fn single_version_lookup() {
    let response = JobVersionsResponse {
        versions: vec![version(1, false, T0 + 60 * S), version(0, true, T0)],
        diffs: Some(vec![Some(count_diff("1", "2"))]),
    };
    let (job, diff) = find_version(&response, 1).unwrap();
    assert_eq!(job.version, 1);
    assert!(diff.is_some());
    let (job, diff) = find_version(&response, 0).unwrap();
    assert_eq!(job.version, 0);
    assert!(diff.is_none());
    assert!(find_version(&response, 7).is_none());
}

#[test]
fn version_flag_parsing() {
    assert_eq!(parse_version("3"), Ok(3));
    assert_eq!(
        parse_version("x").unwrap_err(),
        "Error parsing version value \"x\": strconv.ParseUint: parsing \"x\": invalid syntax"
    );
}

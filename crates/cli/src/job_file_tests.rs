//! Job file loading: formats, variable precedence, `file()`, error messages.

use super::*;

const JOB: &str = r#"
variable "image" {
  default = "default-image"
}

variable count {
  type    = number
  default = 1
}

job "web" {
  group "g" {
    count = var.count
    task "t" {
      driver = "raw_exec"
      config {
        command = "/bin/echo"
        args    = [var.image]
      }
    }
  }
}
"#;

fn getter(vars: &[&str]) -> JobGetter {
    JobGetter {
        vars: vars.iter().map(|v| v.to_string()).collect(),
        ..JobGetter::default()
    }
}

fn env(pairs: &[(&str, &str)]) -> Vec<(String, String)> {
    pairs
        .iter()
        .map(|(k, v)| (k.to_string(), v.to_string()))
        .collect()
}

fn image(job: &Job) -> String {
    job.task_groups[0].tasks[0].config["args"][0]
        .as_str()
        .unwrap()
        .to_string()
}

#[test]
fn format_selection() {
    assert_eq!(job_format("a.nomad", false, false), JobFormat::Hcl2);
    assert_eq!(job_format("a.nomad", false, true), JobFormat::Hcl1);
    assert_eq!(job_format("a.json", false, true), JobFormat::Json);
    assert_eq!(job_format("a.hcl", true, false), JobFormat::Json);
}

#[test]
fn declared_variable_names() {
    assert_eq!(declared_variables(JOB), vec!["image", "count"]);
    assert!(declared_variables("variables {\n  a = 1\n}\n").is_empty());
    assert!(declared_variables("# variable \"x\"\nvariable_x = 1\n").is_empty());
}

#[test]
fn variable_precedence() {
    struct Case {
        name: &'static str,
        env: &'static [(&'static str, &'static str)],
        var_file: &'static [(&'static str, &'static str)],
        vars: &'static [&'static str],
        want: &'static str,
    }
    let cases = [
        Case {
            name: "default_when_nothing_set",
            env: &[],
            var_file: &[],
            vars: &[],
            want: "default-image",
        },
        Case {
            name: "env_beats_default",
            env: &[("NOMAD_VAR_image", "from-env")],
            var_file: &[],
            vars: &[],
            want: "from-env",
        },
        Case {
            name: "var_file_beats_env",
            env: &[("NOMAD_VAR_image", "from-env")],
            var_file: &[("image", "from-file")],
            vars: &[],
            want: "from-file",
        },
        Case {
            name: "flag_beats_var_file_and_env",
            env: &[("NOMAD_VAR_image", "from-env")],
            var_file: &[("image", "from-file")],
            vars: &["image=from-flag"],
            want: "from-flag",
        },
        Case {
            name: "last_flag_wins",
            env: &[],
            var_file: &[],
            vars: &["image=a", "image=b"],
            want: "b",
        },
        Case {
            name: "undeclared_env_is_ignored",
            env: &[("NOMAD_VAR_other", "x"), ("NOMAD_ADDR", "http://h:1")],
            var_file: &[],
            vars: &[],
            want: "default-image",
        },
    ];
    for case in cases {
        let file_values: Vec<(String, serde_json::Value)> = case
            .var_file
            .iter()
            .map(|(k, v)| (k.to_string(), serde_json::json!(v)))
            .collect();
        let job = getter(case.vars)
            .parse("web.nomad", JOB, &file_values, &env(case.env), None)
            .unwrap_or_else(|e| panic!("{}: {e}", case.name));
        assert_eq!(image(&job), case.want, "{}", case.name);
    }
}

#[test]
fn env_value_is_converted_to_the_declared_type() {
    let job = getter(&[])
        .parse(
            "web.nomad",
            JOB,
            &[],
            &env(&[("NOMAD_VAR_count", "3")]),
            None,
        )
        .unwrap();
    assert_eq!(job.task_groups[0].count, 3);
}

#[test]
fn undeclared_flag_var_is_an_error() {
    let err = getter(&["nope=1"])
        .parse("web.nomad", JOB, &[], &[], None)
        .unwrap_err();
    assert!(
        err.starts_with("Error getting job struct: Error parsing job file from web.nomad:\n"),
        "{err}"
    );
    assert!(err.contains("nope"), "{err}");
}

#[test]
fn bad_var_flag() {
    let err = getter(&["novalue"])
        .parse("web.nomad", JOB, &[], &[], None)
        .unwrap_err();
    assert_eq!(
        err,
        "Error getting job struct: Invalid -var option: The given -var option \"novalue\" is not correctly specified. Must be a variable name and value separated by an equals sign, like -var=\"key=value\"."
    );
}

#[test]
fn var_files_hcl_and_json_in_order() {
    let getter = JobGetter {
        var_files: vec!["a.hcl".into(), "b.json".into()],
        ..JobGetter::default()
    };
    let read = |file: &str| -> std::io::Result<String> {
        match file {
            "a.hcl" => Ok("image = \"from-hcl\"\ncount = 2\n".into()),
            "b.json" => Ok(r#"{"image": "from-json"}"#.into()),
            _ => Err(std::io::Error::from(std::io::ErrorKind::NotFound)),
        }
    };
    let values = getter.read_var_files("web.nomad", &read).unwrap();
    let job = getter.parse("web.nomad", JOB, &values, &[], None).unwrap();
    assert_eq!(image(&job), "from-json");
    assert_eq!(job.task_groups[0].count, 2);

    let missing = JobGetter {
        var_files: vec!["gone.hcl".into()],
        ..JobGetter::default()
    };
    assert_eq!(
        missing.read_var_files("web.nomad", &read).unwrap_err(),
        "Error getting job struct: Error parsing job file from web.nomad:\nError reading var file \"gone.hcl\": open gone.hcl: no such file or directory"
    );
}

#[test]
fn var_file_syntax_error_has_position() {
    let getter = JobGetter {
        var_files: vec!["bad.hcl".into()],
        ..JobGetter::default()
    };
    let read = |_: &str| -> std::io::Result<String> { Ok("image = \n".into()) };
    let err = getter.read_var_files("web.nomad", &read).unwrap_err();
    assert!(
        err.starts_with(
            "Error getting job struct: Error parsing job file from web.nomad:\nbad.hcl:"
        ),
        "{err}"
    );
}

#[test]
fn file_function_reads_relative_to_the_job_file() {
    let dir = std::env::temp_dir().join(format!("caravan-cli-jobfile-{}", std::process::id()));
    std::fs::create_dir_all(dir.join("jobs")).unwrap();
    std::fs::write(dir.join("jobs/motd.txt"), "hello").unwrap();
    let job_path = dir.join("jobs/web.nomad");
    std::fs::write(
        &job_path,
        "job \"web\" {\n  meta = { motd = file(\"motd.txt\") }\n  group \"g\" {\n    task \"t\" {\n      driver = \"raw_exec\"\n      config { command = \"/bin/true\" }\n    }\n  }\n}\n",
    )
    .unwrap();
    let job = JobGetter::default()
        .get(&job_path.to_string_lossy())
        .unwrap();
    assert_eq!(job.meta["motd"], "hello");
    std::fs::remove_dir_all(&dir).ok();
}

#[test]
fn hcl1_and_json_ignore_vars() {
    let hcl1 = JobGetter {
        hcl1: true,
        vars: vec!["x=1".into()],
        ..JobGetter::default()
    };
    let job = hcl1
        .parse(
            "a.nomad",
            "job \"a\" {\n  group \"g\" {\n    task \"t\" {\n      driver = \"raw_exec\"\n    }\n  }\n}\n",
            &[],
            &env(&[("NOMAD_VAR_x", "2")]),
            None,
        )
        .unwrap();
    assert_eq!(job.id, "a");
}

#[test]
fn missing_file_message() {
    let err = JobGetter {
        hcl1: true,
        ..JobGetter::default()
    }
    .get("/nonexistent/exec.nomad")
    .unwrap_err();
    assert_eq!(
        err,
        "Error getting job struct: Error getting jobfile from \"/nonexistent/exec.nomad\": open /nonexistent/exec.nomad: no such file or directory"
    );
}

#[test]
fn parse_error_message_shape() {
    let err = JobGetter::default()
        .parse("dir/bad.json", "{\n  \"Job\": [\n", &[], &[], None)
        .unwrap_err();
    assert!(
        err.starts_with(
            "Error getting job struct: Error parsing job file from dir/bad.json:\ndir/bad.json:"
        ),
        "{err}"
    );
}

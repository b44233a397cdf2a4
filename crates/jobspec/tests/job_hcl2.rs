//! HCL2 job files to `Job`: the same decoding as HCL1, with variables, locals and runtime
//! interpolations kept as text.

use caravan_jobspec::{
    JobFormat, parse_job, parse_job_hcl1, parse_job_hcl2, parse_job_hcl2_with_vars,
};
use caravan_structs::{Constraint, Job, JobType, SECOND_NS};
use serde_json::json;

fn fixture(name: &str) -> String {
    let path = format!("{}/tests/fixtures/{name}", env!("CARGO_MANIFEST_DIR"));
    std::fs::read_to_string(&path).unwrap_or_else(|e| panic!("{path}: {e}"))
}

fn parse(source: &str) -> Job {
    parse_job_hcl2("test.nomad.hcl", source).unwrap_or_else(|e| panic!("should parse: {e}"))
}

#[test]
fn workshop_file_reads_the_same_in_hcl1_and_hcl2() {
    let source = fixture("hello-exec-batch.nomad");
    let hcl1 = parse_job_hcl1("x.nomad", &source).unwrap();
    let hcl2 = parse(&source);
    assert_eq!(hcl1, hcl2);
    assert_eq!(hcl2.task_groups[0].spreads[0].attribute, "${meta.Name}");
    assert_eq!(
        hcl2.task_groups[0].constraints[0].l_target,
        "${attr.os.name}"
    );
    assert_eq!(
        parse_job("x.nomad", &source, JobFormat::Hcl2).unwrap(),
        hcl2
    );
}

#[test]
fn variables_locals_and_runtime_references() {
    let job = parse(&fixture("variables.nomad.hcl"));
    assert_eq!(job.datacenters, ["dc1", "dc2"]);
    assert_eq!(job.meta["build.tag"], "1.0");
    assert_eq!(job.meta["owner"], "ops");
    assert_eq!(
        job.constraints,
        [
            Constraint {
                l_target: "${node.datacenter}".into(),
                operand: "=".into(),
                r_target: "dc1".into()
            },
            Constraint {
                l_target: "${attr.kernel.name}".into(),
                operand: "=".into(),
                r_target: "linux".into()
            },
        ]
    );
    assert_eq!(job.spreads[0].spread_target[0].value, "client-1");
    let group = &job.task_groups[0];
    assert_eq!(group.count, 2);
    let task = &group.tasks[0];
    assert_eq!(
        serde_json::Value::Object(task.config.clone()),
        json!({
            "command": "/bin/sh",
            "args": ["-c", "echo app-web ${NOMAD_ALLOC_DIR} ${LITERAL}"],
            "script": "cd ${NOMAD_TASK_DIR}\nexec ./run --name app-web\n",
        })
    );
    assert_eq!(task.env["NAME"], "app-web");
    assert_eq!(task.env["ALLOC_DIR"], "${NOMAD_ALLOC_DIR}/data");
    assert_eq!(task.env["HOME_DIR"], "${env.HOME}");
    assert_eq!(task.resources.cpu, 200);
    assert_eq!(task.kill_timeout, 30 * SECOND_NS);
}

#[test]
fn given_variables_override_defaults_with_their_type() {
    let vars = [
        ("count".to_string(), "5".to_string()),
        ("datacenters".to_string(), r#"["x"]"#.to_string()),
    ];
    let job = parse_job_hcl2_with_vars("v.hcl", &fixture("variables.nomad.hcl"), &vars).unwrap();
    assert_eq!(job.task_groups[0].count, 5);
    assert_eq!(job.task_groups[0].tasks[0].resources.cpu, 500);
    assert_eq!(job.datacenters, ["x"]);
}

#[test]
fn small_forms_table() {
    type Check = fn(&Job);
    let rows: &[(&str, &str, Check)] = &[
        (
            "variables block",
            "variables { dc = \"dc9\" }\njob \"a\" { datacenters = [var.dc] }",
            |j| assert_eq!(j.datacenters, ["dc9"]),
        ),
        (
            "interpolation inside interpolation text",
            "job \"a\" { meta = { x = \"${attr.unique.hostname}-${NOMAD_ALLOC_INDEX}\" } }",
            |j| assert_eq!(j.meta["x"], "${attr.unique.hostname}-${NOMAD_ALLOC_INDEX}"),
        ),
        (
            "indexed runtime reference",
            r#"job "a" { meta = { x = "${meta["a.b"]}" } }"#,
            |j| assert_eq!(j.meta["x"], "${meta[\"a.b\"]}"),
        ),
        (
            "null attribute is unset",
            "job \"a\" { region = null }",
            |j| assert_eq!(j.region, ""),
        ),
        (
            "arithmetic on variables",
            "variable \"n\" { default = 3 }\njob \"a\" { priority = var.n * 10 }",
            |j| assert_eq!(j.priority, 30),
        ),
        (
            "conditional on variables",
            "variable \"prod\" { default = true }\njob \"a\" { type = var.prod ? \"service\" : \"batch\" }",
            |j| assert_eq!(j.r#type, Some(JobType::Service)),
        ),
        (
            "for expression over a variable",
            "variable \"dcs\" { default = [\"a\", \"b\"] }\njob \"a\" { datacenters = [for d in var.dcs : \"${d}1\"] }",
            |j| assert_eq!(j.datacenters, ["a1", "b1"]),
        ),
        (
            "template directive",
            "variable \"on\" { default = true }\njob \"a\" { meta = { x = \"%{ if var.on }yes%{ else }no%{ endif }\" } }",
            |j| assert_eq!(j.meta["x"], "yes"),
        ),
        (
            "repeated config blocks become a list",
            "job \"a\" {\n group \"g\" {\n task \"t\" {\n config {\n mount { s = 1 }\n mount { s = 2 }\n }\n }\n }\n }",
            |j| {
                assert_eq!(
                    j.task_groups[0].tasks[0].config["mount"],
                    json!([{"s": 1}, {"s": 2}])
                )
            },
        ),
    ];
    for (name, source, check) in rows {
        let job = parse_job_hcl2("t.hcl", source).unwrap_or_else(|e| panic!("{name}: {e}"));
        check(&job);
    }
}

#[test]
fn errors_table() {
    let rows: &[(&str, &str, &str)] = &[
        (
            "syntax error has a position",
            "job \"a\" {\n  count = \n}\n",
            "t.hcl:2:",
        ),
        (
            "unclosed block",
            "job \"a\" {\n  group \"g\" {\n",
            "t.hcl:2:15: invalid block body",
        ),
        (
            "unknown block",
            "job \"a\" {\n  grop \"g\" {}\n}\n",
            "t.hcl:2:3: unknown block \"grop\" in job \"a\" (did you mean \"group\"?)",
        ),
        (
            "wrong type",
            "job \"a\" {\n  group \"g\" {\n    count = \"ten\"\n  }\n}\n",
            "t.hcl:3:13: \"count\" must be a number, got string",
        ),
        (
            "undefined var",
            "job \"a\" {\n  region = var.nope\n}\n",
            "t.hcl:2:12: undefined variable \"nope\": declare it with variable \"nope\" { default = ... }",
        ),
        (
            "variable without value",
            "variable \"x\" {}\njob \"a\" {}\n",
            "t.hcl:1:1: variable \"x\" has no value",
        ),
        (
            "dynamic block without for_each",
            "job \"a\" {\n  dynamic \"group\" {}\n}\n",
            "t.hcl:2:3: dynamic \"group\" needs for_each = <list or map>",
        ),
        (
            "no job",
            "variable \"x\" { default = 1 }\n",
            "t.hcl:1:1: no job found",
        ),
        (
            "cyclic locals",
            "locals {\n  a = local.b\n  b = local.a\n}\njob \"x\" {}\n",
            "t.hcl:2:7: undefined local \"b\"",
        ),
    ];
    for (name, source, want) in rows {
        match parse_job_hcl2("t.hcl", source) {
            Ok(job) => panic!("{name}: should fail, got {job:?}"),
            Err(e) => {
                let got = e.to_string();
                assert!(got.starts_with(want), "{name}:\n got: {got}\nwant: {want}");
            }
        }
    }
}

#[test]
fn undeclared_given_variable_is_an_error() {
    let vars = [("nope".to_string(), "1".to_string())];
    let err = parse_job_hcl2_with_vars("t.hcl", "job \"a\" {}", &vars).unwrap_err();
    assert!(
        err.to_string().contains("undefined variable \"nope\""),
        "{err}"
    );
}

#[test]
fn remainder_by_zero_is_an_error_not_a_panic() {
    let source = "locals {\n  x = 5 % 0\n}\njob \"j\" {\n  group \"g\" {\n    count = local.x\n    task \"t\" {\n      driver = \"raw_exec\"\n      config {\n        command = \"/bin/true\"\n      }\n    }\n  }\n}\n";
    let error = caravan_jobspec::parse_job_hcl2("zero.nomad", source)
        .unwrap_err()
        .to_string();
    assert!(error.starts_with("zero.nomad:2:"), "{error}");
}

/// Small files that would make the evaluator build gigabytes are refused at the call
/// that would, with a message naming the limit.
#[test]
fn expensive_expressions_are_refused() {
    let with = |locals: &str, expr: &str| {
        format!(
            "locals {{\n  a = \"aaaaaaaaaaaaaaaa\"\n  l0 = [1, 2, 3, 4, 5, 6, 7, 8]\n{locals}}}\njob \"bomb\" {{\n  meta {{\n    x = {expr}\n  }}\n  group \"g\" {{\n    task \"t\" {{\n      driver = \"raw_exec\"\n      config {{ command = \"true\" }}\n    }}\n  }}\n}}\n"
        )
    };
    let nested_replace = (0..12).fold("local.a".to_string(), |inner, _| {
        format!("replace({inner}, \"a\", \"aaaa\")")
    });
    // Each local doubles the one before: 8 * 2^30 elements from a few hundred bytes.
    let doubling: String = (1..=30)
        .map(|i| format!("  l{i} = concat(local.l{0}, local.l{0})\n", i - 1))
        .collect();
    let cases = [
        ("format width", "", "format(\"%999999999d\", 1)".to_string()),
        (
            "format precision",
            "",
            "format(\"%.999999999f\", 1.5)".to_string(),
        ),
        (
            "format overflow",
            "",
            "format(\"%99999999999999999999999d\", 1)".to_string(),
        ),
        ("nested replace", "", nested_replace),
        (
            "doubling concat",
            doubling.as_str(),
            "length(local.l30)".to_string(),
        ),
        (
            "regex_replace",
            "",
            "regex_replace(format(\"%1000d\", 1), \" \", format(\"%2000d\", 2))".to_string(),
        ),
    ];
    for (name, locals, expr) in cases {
        let source = with(locals, &expr);
        assert!(source.len() < 2000, "{name}: the file itself stays small");
        let error = parse_job_hcl2("bomb.hcl", &source)
            .map(|_| ())
            .expect_err(name)
            .to_string();
        assert!(
            error.contains("larger than")
                || error.contains("too much work")
                || error.contains("over the limit"),
            "{name}: {error}"
        );
        assert!(error.starts_with("bomb.hcl:"), "{name}: {error}");
        assert!(error.len() < 1000, "{name}: the message stays readable");
    }
    // Ordinary widths still work.
    let job = parse_job_hcl2("ok.hcl", &with("", "format(\"%05d|%-4s|\", 42, \"ab\")")).unwrap();
    assert_eq!(job.meta["x"], "00042|ab  |");
}

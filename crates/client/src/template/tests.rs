use std::collections::BTreeMap;
use std::path::Path;

use caravan_structs::Template;

use super::*;

fn env() -> BTreeMap<String, String> {
    [
        ("NOMAD_ALLOC_ID", "a1b2"),
        ("NAME", "  Web Server "),
        ("LIST", "a,b,c"),
        ("EMPTY", ""),
        ("PORT", "8080"),
        (
            "JSON",
            r#"{"db":{"host":"10.0.0.1","port":5432},"tags":["x","y"]}"#,
        ),
    ]
    .into_iter()
    .map(|(k, v)| (k.to_string(), v.to_string()))
    .collect()
}

fn run(text: &str) -> Result<String, String> {
    let dir = Path::new("/nonexistent");
    render(text, "", "", &env(), dir, dir, false)
}

#[test]
fn renders_consul_template_functions() {
    let cases: &[(&str, &str, &str)] = &[
        ("env", "id={{ env \"NOMAD_ALLOC_ID\" }}", "id=a1b2"),
        ("missing_env_is_empty", "[{{ env \"NOPE\" }}]", "[]"),
        (
            "pipeline",
            "{{ env \"NAME\" | trimSpace | toUpper }}",
            "WEB SERVER",
        ),
        ("to_lower", "{{ \"ABC\" | toLower }}", "abc"),
        (
            "to_title",
            "{{ \"hello big world\" | toTitle }}",
            "Hello Big World",
        ),
        (
            "replace_all",
            "{{ env \"LIST\" | replaceAll \",\" \";\" }}",
            "a;b;c",
        ),
        (
            "range_split",
            "{{ range split \",\" (env \"LIST\") }}[{{ . }}]{{ end }}",
            "[a][b][c]",
        ),
        (
            "range_vars",
            "{{ range $i, $e := split \",\" \"x,y\" }}{{ $i }}={{ $e }};{{ end }}",
            "0=x;1=y;",
        ),
        (
            "range_else",
            "{{ range split \",\" \"\" }}x{{ else }}empty{{ end }}",
            "empty",
        ),
        (
            "range_break_continue",
            "{{ range loop 5 }}{{ if eq . 1 }}{{ continue }}{{ end }}{{ if eq . 3 }}{{ break }}{{ end }}{{ . }}{{ end }}",
            "02",
        ),
        (
            "base64",
            "{{ \"hello\" | base64Encode }} {{ \"aGVsbG8=\" | base64Decode }}",
            "aGVsbG8= hello",
        ),
        (
            "parse_json",
            "{{ with parseJSON (env \"JSON\") }}{{ .db.host }}:{{ .db.port }} {{ index .tags 1 }}{{ end }}",
            "10.0.0.1:5432 y",
        ),
        (
            "missing_key_no_value",
            "{{ with parseJSON (env \"JSON\") }}{{ .nope }}{{ end }}",
            "<no value>",
        ),
        (
            "join_len",
            "{{ $l := split \",\" (env \"LIST\") }}{{ join \"-\" $l }} {{ len $l }}",
            "a-b-c 3",
        ),
        (
            "contains_in",
            "{{ split \",\" (env \"LIST\") | contains \"b\" }} {{ in \"abc\" \"z\" }}",
            "true false",
        ),
        (
            "math",
            "{{ 5 | subtract 2 }} {{ add 1 2 }} {{ 7 | divide 2 }} {{ 10 | modulo 3 }}",
            "3 3 3 1",
        ),
        ("parse_int", "{{ env \"PORT\" | parseInt | add 1 }}", "8081"),
        (
            "env_or_default",
            "{{ envOrDefault \"NOPE\" \"dflt\" }}",
            "dflt",
        ),
        (
            "regex",
            "{{ \"a1b22\" | regexReplaceAll \"[0-9]+\" \"#\" }} {{ regexMatch \"^a\" \"abc\" }}",
            "a#b# true",
        ),
        (
            "sha256",
            "{{ \"\" | sha256Hex }}",
            "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855",
        ),
        ("indent", "{{ \"a\\nb\" | indent 2 }}", "  a\n  b"),
        (
            "to_json",
            "{{ split \",\" \"a,b\" | toJSON }}",
            "[\"a\",\"b\"]",
        ),
    ];
    caravan_testkit::table::each_answers(cases, run);
}

#[test]
fn errors_name_the_line_and_the_problem() {
    let cases: &[(&str, &str, &str)] = &[
        (
            "consul_function",
            "a\n{{ key \"x\" }}",
            "parse: line 2: function \"key\" needs Consul, which Caravan does not support",
        ),
        (
            "vault_function",
            "{{ with secret \"kv/x\" }}{{ end }}",
            "function \"secret\" needs Vault, which Caravan does not support",
        ),
        (
            "nomad_var_without_a_path",
            "{{ nomadVar }}",
            "nomadVar: wrong number of args for nomadVar: want 1 got 0",
        ),
        (
            "denied_function",
            "{{ plugin \"x\" }}",
            "function \"plugin\" is disabled by the client's function_denylist",
        ),
        (
            "unknown_function",
            "\n\n{{ frobnicate }}",
            "parse: line 3: function \"frobnicate\" not defined",
        ),
        (
            "wrong_arity",
            "{{ toUpper }}",
            "toUpper: wrong number of args for toUpper: want 1 got 0",
        ),
        (
            "index_out_of_range",
            "{{ index (split \",\" \"a\") 3 }}",
            "index out of range: 3",
        ),
    ];
    caravan_testkit::table::each_fails_with(cases, run);
}

#[test]
fn missing_key_is_an_error_when_asked() {
    let dir = Path::new("/nonexistent");
    let text = "{{ with parseJSON (env \"JSON\") }}{{ .nope }}{{ end }}";
    let error = render(text, "", "", &env(), dir, dir, true).unwrap_err();
    assert!(
        error.contains("map has no entry for key \"nope\""),
        "{error}"
    );
}

fn template(dest: &str, data: &str) -> Template {
    let mut template = Template {
        dest_path: Some(dest.to_string()),
        embedded_tmpl: Some(data.to_string()),
        ..Template::default()
    };
    template.canonicalize();
    template
}

struct Alloc {
    _root: tempfile::TempDir,
    task: std::path::PathBuf,
    shared: std::path::PathBuf,
}

fn alloc() -> Alloc {
    let root = tempfile::tempdir().unwrap();
    let task = root.path().join("web");
    let shared = root.path().join("alloc");
    for dir in [
        task.join("local"),
        task.join("secrets"),
        shared.join("data"),
    ] {
        std::fs::create_dir_all(dir).unwrap();
    }
    Alloc {
        _root: root,
        task,
        shared,
    }
}

#[test]
fn renders_files_with_perms_and_env_vars() {
    use std::os::unix::fs::PermissionsExt;
    let a = alloc();
    let dirs = TaskDirs {
        task_dir: &a.task,
        alloc_dir: &a.shared,
    };
    let mut env = env();
    env.insert(
        "NOMAD_TASK_DIR".into(),
        a.task.join("local").display().to_string(),
    );
    let mut secret = template("secrets/token", "t={{ env \"NOMAD_ALLOC_ID\" }}\n");
    secret.perms = Some("0600".into());
    let mut env_file = template(
        "local/app.env",
        "# comment\nexport A=1\nB=\"two words\\n\"\nC='lit $x'\nD=x # trailing\n",
    );
    env_file.envvars = Some(true);
    let templates = vec![
        template("local/app.conf", "port={{ env \"PORT\" }}\n"),
        template("${NOMAD_TASK_DIR}/by-var.txt", "v"),
        template("alloc/data/shared.txt", "s"),
        secret,
        env_file,
    ];
    let vars = render_all(&templates, &env, &dirs).unwrap();
    assert_eq!(
        std::fs::read_to_string(a.task.join("local/app.conf")).unwrap(),
        "port=8080\n"
    );
    assert_eq!(
        std::fs::read_to_string(a.task.join("local/by-var.txt")).unwrap(),
        "v"
    );
    assert_eq!(
        std::fs::read_to_string(a.shared.join("data/shared.txt")).unwrap(),
        "s"
    );
    let mode = |p: &Path| std::fs::metadata(p).unwrap().permissions().mode() & 0o7777;
    assert_eq!(mode(&a.task.join("secrets/token")), 0o600);
    assert_eq!(mode(&a.task.join("local/app.conf")), 0o644);
    let want: BTreeMap<String, String> = [
        ("A", "1"),
        ("B", "two words\n"),
        ("C", "lit $x"),
        ("D", "x"),
    ]
    .into_iter()
    .map(|(k, v)| (k.to_string(), v.to_string()))
    .collect();
    assert_eq!(vars, want);
}

#[test]
fn source_and_file_read_from_the_task_dir() {
    let a = alloc();
    let dirs = TaskDirs {
        task_dir: &a.task,
        alloc_dir: &a.shared,
    };
    std::fs::write(
        a.task.join("local/in.tpl"),
        "from source {{ file \"local/data.txt\" }}",
    )
    .unwrap();
    std::fs::write(a.task.join("local/data.txt"), "and file").unwrap();
    let mut from_source = template("local/out.txt", "");
    from_source.source_path = Some("local/in.tpl".into());
    render_all(&[from_source], &env(), &dirs).unwrap();
    assert_eq!(
        std::fs::read_to_string(a.task.join("local/out.txt")).unwrap(),
        "from source and file"
    );
}

#[test]
fn paths_outside_the_allocation_are_refused() {
    let a = alloc();
    let dirs = TaskDirs {
        task_dir: &a.task,
        alloc_dir: &a.shared,
    };
    let escape = render_all(&[template("../../etc/x", "x")], &env(), &dirs).unwrap_err();
    assert_eq!(escape.template, "../../etc/x");
    assert!(
        escape.message.contains("escapes the allocation directory"),
        "{escape}"
    );
    // An absolute path outside lands inside the task directory, as in Nomad.
    render_all(&[template("/tmp/caravan-x.txt", "x")], &env(), &dirs).unwrap();
    assert!(a.task.join("tmp/caravan-x.txt").exists());
    let mut source = template("local/out", "");
    source.source_path = Some("/etc/passwd".into());
    let error = render_all(&[source], &env(), &dirs).unwrap_err();
    assert!(error.message.contains("source path escapes"), "{error}");
    let file = render_all(
        &[template("local/f", "{{ file \"/etc/hostname\" }}")],
        &env(),
        &dirs,
    )
    .unwrap_err();
    assert!(
        file.message
            .contains("outside the task and allocation directories"),
        "{file}"
    );
    // A symlink out of the task directory is not followed.
    std::os::unix::fs::symlink("/tmp", a.task.join("local/out")).unwrap();
    let link = render_all(&[template("local/out/x", "x")], &env(), &dirs).unwrap_err();
    assert!(link.message.contains("escapes"), "{link}");
}

#[test]
fn a_render_error_names_the_template_and_line() {
    let a = alloc();
    let dirs = TaskDirs {
        task_dir: &a.task,
        alloc_dir: &a.shared,
    };
    let error = render_all(
        &[template("local/app.conf", "ok\n{{ key \"db\" }}")],
        &env(),
        &dirs,
    )
    .unwrap_err();
    assert_eq!(
        error.to_string(),
        "template \"local/app.conf\": parse: line 2: function \"key\" needs Consul, which Caravan does not support"
    );
    let mut bad_env = template("local/e.env", "not a pair\n");
    bad_env.envvars = Some(true);
    let error = render_all(&[bad_env], &env(), &dirs).unwrap_err();
    assert!(
        error
            .message
            .contains("error parsing env template: line 1: missing \"=\""),
        "{error}"
    );
    let mut bad_perms = template("local/p", "x");
    bad_perms.perms = Some("rw".into());
    let error = render_all(&[bad_perms], &env(), &dirs).unwrap_err();
    assert!(
        error.message.contains("failed to parse \"rw\" as octal"),
        "{error}"
    );
}

/// A template's `left_delimiter`/`right_delimiter` reach the engine: braces are text.
#[test]
fn custom_delimiters_leave_braces_alone() {
    let dir = Path::new("/nonexistent");
    let out = render(
        "{{ not a template }} [[ env \"PORT\" ]] [[- /* c */ -]] x",
        "[[",
        "]]",
        &env(),
        dir,
        dir,
        false,
    );
    assert_eq!(out.unwrap(), "{{ not a template }} 8080x");
}

#[test]
fn nomad_service_lists_instances_by_name_and_tag_and_records_what_it_read() {
    let instance = |id: &str, port: i64, tags: &[&str]| caravan_structs::ServiceRegistration {
        id: id.into(),
        service_name: "web".into(),
        address: "127.0.0.1".into(),
        port,
        tags: tags.iter().map(|t| t.to_string()).collect(),
        ..Default::default()
    };
    let data = CatalogData::new(BTreeMap::from([
        (
            CatalogQuery::Instances("web".to_string()),
            CatalogAnswer::Instances(vec![
                instance("a", 8001, &["blue"]),
                instance("b", 8002, &[]),
            ]),
        ),
        (
            CatalogQuery::All,
            CatalogAnswer::All(vec![caravan_structs::ServiceRegistrationListStub {
                namespace: "default".into(),
                services: vec![caravan_structs::ServiceRegistrationStub {
                    service_name: "web".into(),
                    tags: vec!["blue".into()],
                }],
            }]),
        ),
    ]));
    let funcs = funcs::TaskFunctions {
        env: &env(),
        task_dir: Path::new("/nonexistent"),
        alloc_dir: Path::new("/nonexistent"),
        services: &data,
    };
    let render = |text: &str| execute(&funcs, text, "", "", false);
    assert_eq!(
        render("{{ range nomadService \"web\" }}{{ .Address }}:{{ .Port }} {{ end }}").unwrap(),
        "127.0.0.1:8001 127.0.0.1:8002 "
    );
    assert_eq!(
        render("{{ range nomadService \"blue.web\" }}{{ .Port }}{{ end }}").unwrap(),
        "8001"
    );
    assert_eq!(
        render("{{ len (nomadService 1 \"key\" \"web\") }}").unwrap(),
        "1"
    );
    assert_eq!(
        render("{{ range nomadService \"db\" }}x{{ end }}").unwrap(),
        "",
        "a service not fetched yet renders as none"
    );
    assert_eq!(
        render("{{ range nomadServices }}{{ .Name }}:{{ join \",\" .Tags }}{{ end }}").unwrap(),
        "web:blue"
    );
    assert_eq!(
        data.missing().into_iter().collect::<Vec<_>>(),
        [CatalogQuery::Instances("db".into())],
        "the render asked for db, which the data lacks"
    );
}

#[test]
fn nomad_var_reads_items_lists_paths_and_records_what_it_read() {
    let variable = caravan_structs::Variable {
        namespace: "default".into(),
        path: "nomad/jobs/web".into(),
        modify_index: 7,
        items: BTreeMap::from([
            ("user".to_string(), "admin".to_string()),
            ("password".to_string(), "s3cret".to_string()),
        ]),
        ..Default::default()
    };
    let meta = caravan_structs::VariableMetadata {
        namespace: "default".into(),
        path: "nomad/jobs/web".into(),
        modify_index: 7,
        ..Default::default()
    };
    let data = CatalogData::new(BTreeMap::from([
        (
            CatalogQuery::Variable("nomad/jobs/web".into()),
            CatalogAnswer::Variable(Some(variable)),
        ),
        (
            CatalogQuery::Variable("nomad/jobs/web/g".into()),
            CatalogAnswer::Variable(None),
        ),
        (
            CatalogQuery::Variables("nomad/jobs".into()),
            CatalogAnswer::Variables(vec![meta]),
        ),
    ]));
    let funcs = funcs::TaskFunctions {
        env: &env(),
        task_dir: Path::new("/nonexistent"),
        alloc_dir: Path::new("/nonexistent"),
        services: &data,
    };
    let render = |text: &str| execute(&funcs, text, "", "", false);
    assert_eq!(
        render("{{ with nomadVar \"nomad/jobs/web\" }}{{ .user }}:{{ .password }}{{ end }}")
            .unwrap(),
        "admin:s3cret"
    );
    assert_eq!(
        render("{{ range $k, $v := nomadVar \"nomad/jobs/web\" }}{{ $k }}={{ $v }};{{ end }}")
            .unwrap(),
        "password=s3cret;user=admin;"
    );
    assert_eq!(
        render("{{ nomadVarExists \"nomad/jobs/web\" }} {{ nomadVarExists \"nomad/jobs/web/g\" }}")
            .unwrap(),
        "true false"
    );
    assert_eq!(
        render("{{ range nomadVarList \"nomad/jobs\" }}{{ .Path }}@{{ .ModifyIndex }}{{ end }}")
            .unwrap(),
        "nomad/jobs/web@7"
    );
    assert_eq!(
        render("{{ with nomadVar \"nomad/jobs/web/g/t\" }}{{ .x }}{{ end }}").unwrap(),
        "",
        "a variable not fetched yet reads as empty"
    );
    assert_eq!(
        data.missing().into_iter().collect::<Vec<_>>(),
        [CatalogQuery::Variable("nomad/jobs/web/g/t".into())]
    );
    assert!(render("{{ nomadVar }}").is_err(), "a path is needed");
}

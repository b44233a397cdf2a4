//! Table tests of the HCL1 parser: syntax in, tree (or error) out.

use super::*;

fn parse_ok(source: &str) -> Body {
    match parse("t.hcl", source) {
        Ok(body) => body,
        Err(e) => panic!("{source:?} should parse: {e}"),
    }
}

fn string_of(body: &Body, key: &str) -> String {
    body.string(key)
        .unwrap()
        .unwrap_or_else(|| panic!("no {key}"))
}

#[test]
fn strings_keep_interpolations_verbatim() {
    let rows: &[(&str, &str)] = &[
        (r#"a = "${meta.Name}""#, "${meta.Name}"),
        (r#"a = "${attr.os.name}""#, "${attr.os.name}"),
        (
            r#"a = "${NOMAD_ALLOC_DIR}/data""#,
            "${NOMAD_ALLOC_DIR}/data",
        ),
        (
            r#"a = "x${lookup(m, "k", "}")}y""#,
            r#"x${lookup(m, "k", "}")}y"#,
        ),
        (r#"a = "${ {a = 1}.a }""#, "${ {a = 1}.a }"),
        (r#"a = "say \"hi\"\n\tok\\""#, "say \"hi\"\n\tok\\"),
        (r#"a = "\u00e9""#, "é"),
        (r#"a = "$notinterp {}""#, "$notinterp {}"),
        (r#"a = """#, ""),
    ];
    for (source, want) in rows {
        assert_eq!(string_of(&parse_ok(source), "a"), *want, "{source}");
    }
}

#[test]
fn values_of_every_kind() {
    let body = parse_ok(
        "i = 42\nn = -7\nf = 1.5\ne = 1e3\nh = 0x1F\nt = true\nff = false\nl = [\"a\", \"b\",]\nempty = []\n",
    );
    assert_eq!(body.int("i").unwrap(), Some(42));
    assert_eq!(body.int("n").unwrap(), Some(-7));
    assert_eq!(body.float("f").unwrap(), Some(1.5));
    assert_eq!(body.float("e").unwrap(), Some(1000.0));
    assert_eq!(body.int("h").unwrap(), Some(31));
    assert_eq!(body.bool("t").unwrap(), Some(true));
    assert_eq!(body.bool("ff").unwrap(), Some(false));
    assert_eq!(
        body.strings("l").unwrap(),
        Some(vec!["a".to_string(), "b".to_string()])
    );
    assert_eq!(body.strings("empty").unwrap(), Some(vec![]));
}

#[test]
fn blocks_labels_and_repeats_keep_order() {
    let body = parse_ok(
        r#"
        job "a" "b" { x = 1 }
        target "client-1" { percent = 50 }
        target client-2 { percent = 0 }
        group { }
        "quoted key" = "v"
        meta = { a = "b", "c.d" = "e" }
        "#,
    );
    let keys: Vec<&str> = body.iter().map(|i| i.key.as_str()).collect();
    assert_eq!(
        keys,
        ["job", "target", "target", "group", "quoted key", "meta"]
    );
    assert_eq!(body.items[0].labels, ["a", "b"]);
    let targets: Vec<&str> = body.all("target").map(|t| t.labels[0].as_str()).collect();
    assert_eq!(targets, ["client-1", "client-2"]);
    assert!(body.items[3].is_block);
    assert!(!body.items[5].is_block);
    let meta = body.string_map("meta").unwrap().unwrap();
    assert_eq!(meta["c.d"], "e");
    assert_eq!(string_of(&body, "quoted key"), "v");
}

#[test]
fn comments_of_all_three_kinds() {
    let body =
        parse_ok("# hash\n// slashes\n/* block\n comment */ a = 1 # trailing\nb = /* inline */ 2");
    assert_eq!(body.int("a").unwrap(), Some(1));
    assert_eq!(body.int("b").unwrap(), Some(2));
}

#[test]
fn commas_between_items_are_optional() {
    let body = parse_ok("ports { http = 4646  rpc = 4647, serf = 4648 }");
    let ports = body.block("ports").unwrap().unwrap();
    assert_eq!(ports.int("serf").unwrap(), Some(4648));
    assert_eq!(ports.items.len(), 3);
}

#[test]
fn multi_line_lists_and_nested_objects() {
    let body = parse_ok("l = [\n  \"a\",\n  [1, 2],\n  { x = \"y\" },\n]\n");
    let Some(Item { value, .. }) = body.get("l") else {
        panic!("no l")
    };
    let ValueKind::List(items) = &value.kind else {
        panic!("not a list")
    };
    assert_eq!(items.len(), 3);
    assert_eq!(items[2].to_json(), serde_json::json!({"x": "y"}));
}

#[test]
fn heredocs_plain_and_indented() {
    let body =
        parse_ok("a = <<EOF\nline 1\n  line 2\nEOF\nb = <<-EOT\n    x\n      y\n    EOT\nc = 1");
    assert_eq!(string_of(&body, "a"), "line 1\n  line 2\n");
    assert_eq!(string_of(&body, "b"), "x\n  y\n");
    assert_eq!(body.int("c").unwrap(), Some(1));
}

#[test]
fn positions_are_one_based_line_and_column() {
    let body = parse_ok("job \"x\" {\n  count = 3\n}\n");
    let job = &body.items[0];
    assert_eq!(job.pos, Pos::new(1, 1));
    let inner = body.block("job").unwrap().unwrap();
    assert_eq!(inner.items[0].pos, Pos::new(2, 3));
    assert_eq!(inner.items[0].value.pos, Pos::new(2, 11));
}

#[test]
fn syntax_errors_say_where_and_what() {
    let rows: &[(&str, &str)] = &[
        (
            "job \"x\" {\n  group \"g\" {\n",
            "t.hcl:3:1: expected \"}\" to close block \"group\" opened at 2:3, found end of file",
        ),
        ("a = \"open\n", "t.hcl:1:5: string is not closed"),
        (
            "a = [1, 2",
            "t.hcl:1:10: expected \",\" or \"]\" in list \"a\" opened at 1:5",
        ),
        (
            "a = [1,",
            "t.hcl:1:8: expected \"]\" to close list \"a\" opened at 1:5, found end of file",
        ),
        (
            "a = bare",
            "t.hcl:1:5: value of \"a\" is the bare word \"bare\"",
        ),
        ("}", "t.hcl:1:1: unexpected \"}\""),
        (
            "a b",
            "t.hcl:1:4: expected \"=\" or \"{\" after \"a\", found end of file",
        ),
        ("a = 5s", "t.hcl:1:5: invalid number \"5s\""),
        ("/* never", "t.hcl:1:1: comment \"/*\" is never closed"),
        ("a = <<EOF\nno end\n", "t.hcl:1:5: heredoc is never closed"),
        ("a = \"\\q\"", "t.hcl:1:6: unknown escape sequence"),
        ("a = \"${x\"", "t.hcl:1:6: \"${\" is never closed"),
        ("= 1", "t.hcl:1:1: expected a key, found \"=\""),
        (
            "a \"l\" = 1",
            "t.hcl:1:1: \"a\" has labels, so it must be a block",
        ),
        ("a = @", "t.hcl:1:5: unexpected character '@'"),
        ("a = 99999999999999999999", "does not fit in 64 bits"),
    ];
    for (source, want) in rows {
        let err = parse("t.hcl", source).expect_err(source).to_string();
        assert!(err.contains(want), "{source:?}: got {err:?}, want {want:?}");
    }
}

#[test]
fn type_errors_name_key_and_types() {
    let body = parse_ok("server {\n  bootstrap_expect = \"many\"\n  enabled = 1\n  servers = 3\n}");
    let server = body.block("server").unwrap().unwrap();
    assert_eq!(
        server.int("bootstrap_expect").unwrap_err().to_string(),
        "t.hcl:2:22: \"bootstrap_expect\" must be a number, got string"
    );
    assert_eq!(
        server.bool("enabled").unwrap_err().to_string(),
        "t.hcl:3:13: \"enabled\" must be true or false, got number"
    );
    assert!(
        server
            .strings("servers")
            .unwrap_err()
            .to_string()
            .contains("must be a list of strings, got number")
    );
    assert_eq!(server.int("missing").unwrap(), None);
}

#[test]
fn lenient_scalars_like_hcl1_decoding() {
    let body = parse_ok("a = \"3\"\nb = 4\nc = \"true\"\nd = \"90s\"\ne = 7");
    assert_eq!(body.int("a").unwrap(), Some(3));
    assert_eq!(body.string("b").unwrap().as_deref(), Some("4"));
    assert_eq!(body.bool("c").unwrap(), Some(true));
    assert_eq!(body.duration("d").unwrap(), Some(90_000_000_000));
    assert_eq!(body.duration("e").unwrap(), Some(7));
}

#[test]
fn agent_config_shapes() {
    let body = parse_ok(
        r#"
        client {
          meta { "Name" = "client-1" }
          options { "driver.raw_exec.enable" = "1" }
          chroot_env { "/bin" = "/bin" }
          host_volume "data" { path = "/srv/data" read_only = false }
        }
        plugin "raw_exec" { config { enabled = true } }
        "#,
    );
    let client = body.block("client").unwrap().unwrap();
    assert_eq!(
        client.string_map("meta").unwrap().unwrap()["Name"],
        "client-1"
    );
    assert_eq!(
        client.string_map("options").unwrap().unwrap()["driver.raw_exec.enable"],
        "1"
    );
    assert_eq!(
        client.string_map("chroot_env").unwrap().unwrap()["/bin"],
        "/bin"
    );
    let volume = client.get("host_volume").unwrap();
    assert_eq!(volume.labels, ["data"]);
    let plugin = body.get("plugin").unwrap();
    assert_eq!(
        plugin.value.to_json(),
        serde_json::json!({"config": {"enabled": true}})
    );
}

#[test]
fn block_helper_rejects_repeats_and_non_objects() {
    let body = parse_ok("a { }\na { }\nb = 1");
    assert!(
        body.block("a")
            .unwrap_err()
            .to_string()
            .starts_with("t.hcl:2:1: only one \"a\" block")
    );
    assert_eq!(
        body.block("b").unwrap_err().to_string(),
        "t.hcl:3:5: \"b\" must be a block, got number"
    );
}

#[test]
fn check_keys_suggests_the_likely_key() {
    let body = parse_ok("grop \"x\" { }");
    let err = body
        .check_keys("job \"hello\"", &["group", "constraint"], &["update"])
        .unwrap_err();
    assert_eq!(
        err.to_string(),
        "t.hcl:1:1: unknown block \"grop\" in job \"hello\" (did you mean \"group\"?); expected one of: group, constraint, update"
    );
}

#[test]
fn config_json_turns_repeated_blocks_into_lists() {
    let body = parse_ok(
        r#"
        command = "/bin/echo"
        args = ["a"]
        mount { source = "a" }
        mount { source = "b" }
        mount { source = "c" }
        port "http" { to = 80 }
        port "rpc" { to = 81 }
        single { x = 1.5 }
        "#,
    );
    assert_eq!(
        serde_json::Value::Object(body.to_json_map()),
        serde_json::json!({
            "command": "/bin/echo",
            "args": ["a"],
            "mount": [{"source": "a"}, {"source": "b"}, {"source": "c"}],
            "port": {"http": {"to": 80}, "rpc": {"to": 81}},
            "single": {"x": 1.5},
        })
    );
}

#[test]
fn deep_nesting_is_an_error_not_a_crash() {
    let source = format!("a = {}", "[".repeat(10_000));
    let err = parse("t.hcl", &source).unwrap_err();
    assert!(err.message.contains("nesting deeper than"), "{err}");
    let blocks = "a { ".repeat(10_000);
    assert!(parse("t.hcl", &blocks).is_err());
}

#[test]
fn empty_and_whitespace_files_are_empty_bodies() {
    for source in ["", "  \n\t\n", "# only a comment"] {
        assert!(parse_ok(source).items.is_empty());
    }
}

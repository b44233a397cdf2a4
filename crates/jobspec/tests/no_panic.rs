//! No input makes the readers panic: every prefix of valid files (cut at each character),
//! and some byte soup, must come back as `Ok` or `Err`.

use caravan_jobspec::{JobFormat, hcl1, parse_job};

fn fixtures() -> Vec<String> {
    let dir = format!("{}/tests/fixtures", env!("CARGO_MANIFEST_DIR"));
    let mut files: Vec<_> = std::fs::read_dir(&dir)
        .unwrap()
        .map(|entry| std::fs::read_to_string(entry.unwrap().path()).unwrap())
        .collect();
    files.sort();
    files
}

fn prefixes(source: &str) -> impl Iterator<Item = &str> {
    source
        .char_indices()
        .map(|(i, _)| &source[..i])
        .chain([source])
}

#[test]
fn truncated_files_never_panic() {
    for source in fixtures() {
        for prefix in prefixes(&source) {
            for format in [JobFormat::Hcl1, JobFormat::Hcl2, JobFormat::Json] {
                let _ = parse_job("cut.nomad", prefix, format);
            }
            let _ = hcl1::parse("cut.hcl", prefix);
        }
    }
}

#[test]
fn truncated_files_fail_with_a_position() {
    let source = &fixtures()[0];
    for prefix in prefixes(source).filter(|p| p.contains('{')).take(200) {
        if let Err(e) = parse_job("cut.nomad", prefix, JobFormat::Hcl1) {
            assert!(e.pos().is_some(), "{prefix:?}: {e}");
        }
    }
}

#[test]
fn odd_inputs_never_panic() {
    let odd = [
        "\u{0}",
        "\"",
        "\\",
        "${",
        "\"${",
        "\"${\"",
        "<<",
        "<<-",
        "<<EOF",
        "<<EOF\n",
        "-",
        "-.",
        ".5",
        "0x",
        "0xZZ",
        "1e",
        "1e+",
        "a = 1e999",
        "a = -",
        "é = \"ü\"",
        "a = \"\\u12\"",
        "a = \"\\U0011FFFF\"",
        "job \"\" {}",
        "job \"a\" { group \"\" { task \"\" {} } }",
        "[[[[",
        "{{{{",
        "}}}}",
        "a = [,]",
        "a = {",
        "a = [",
        "\u{feff}job \"a\" {}",
        "job \"a\" { count = 1.5 }",
        "a = 9223372036854775808",
        "a = -9223372036854775808",
        "job \"a\" { priority = 1e300 }",
        "job \"a\" { group \"g\" { count = 1e300 } }",
        "{\"Job\": null}",
        "{\"Job\": []}",
        "null",
        "",
    ];
    for source in odd {
        for format in [JobFormat::Hcl1, JobFormat::Hcl2, JobFormat::Json] {
            let _ = parse_job("odd", source, format);
        }
    }
}

#[test]
fn deep_nesting_is_refused_by_every_reader() {
    for depth in [1_000, 50_000] {
        let lists = format!("job \"a\" {{ meta = {} }}", "[".repeat(depth));
        let objects = format!("job \"a\" {{ meta = {} }}", "{ a = ".repeat(depth));
        let blocks = format!("job \"a\" {{ {} }}", "a {\n".repeat(depth));
        let json = format!("{{\"ID\": {}", "[".repeat(depth));
        for source in [&lists, &objects, &blocks, &json] {
            for format in [JobFormat::Hcl1, JobFormat::Hcl2, JobFormat::Json] {
                assert!(parse_job("deep", source, format).is_err());
            }
        }
    }
}

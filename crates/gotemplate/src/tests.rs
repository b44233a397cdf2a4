//! The engine's table tests: syntax, Go's built-ins, printf and errors. consul-template's
//! functions are the client's and tested there.

use std::collections::BTreeMap;

use super::*;

/// `env` alone, the way the client offers it: enough to feed the engine strings.
struct Env(BTreeMap<String, String>);

impl Functions for Env {
    fn lookup(&self, name: &str) -> Option<Result<(), String>> {
        match name {
            "env" => Some(Ok(())),
            "key" => Some(Err("function \"key\" needs Consul".into())),
            _ => None,
        }
    }

    fn call(&self, _: &str, args: Vec<Value>) -> Result<Value, String> {
        let name = args
            .first()
            .ok_or("wrong number of args for env")?
            .as_str()?;
        Ok(Value::Str(self.0.get(name).cloned().unwrap_or_default()))
    }
}

fn env() -> Env {
    Env([("EMPTY", ""), ("PORT", "8080")]
        .into_iter()
        .map(|(k, v)| (k.to_string(), v.to_string()))
        .collect())
}

/// Renders like the client does: `parse: ...` and `execute: ...` errors.
fn render(text: &str, left: &str, right: &str) -> Result<String, String> {
    let env = env();
    Template::new(&env)
        .delims(left, right)
        .parse(text)
        .map_err(|e| format!("parse: {e}"))?
        .execute()
        .map_err(|e| format!("execute: {e}"))
}

fn run(text: &str) -> Result<String, String> {
    render(text, "", "")
}

#[test]
fn renders_go_template_subset() {
    let cases: &[(&str, &str, &str)] = &[
        ("literal_text", "plain text\n", "plain text\n"),
        ("comment", "a{{/* hidden */}}b", "ab"),
        ("trim_markers", "a  \n {{- \"x\" -}} \n  b", "axb"),
        ("trimmed_comment", "a \n{{- /* c */ -}}\n b", "ab"),
        (
            "printf",
            "{{ printf \"%s:%d %5.2f|%-4s|%03d\" \"h\" 80 3.14159 \"ab\" 7 }}",
            "h:80  3.14|ab  |007",
        ),
        (
            "printf_v_and_q",
            "{{ printf \"%v %q %t\" 1.5 \"x\" true }}",
            "1.5 \"x\" true",
        ),
        (
            "printf_missing",
            "{{ printf \"%s %s\" \"a\" }}",
            "a %!s(MISSING)",
        ),
        (
            "if_else",
            "{{ if env \"EMPTY\" }}yes{{ else }}no{{ end }}",
            "no",
        ),
        (
            "if_eq",
            "{{ if eq (env \"PORT\") \"8080\" }}http{{ end }}",
            "http",
        ),
        (
            "if_ne",
            "{{ if ne (env \"PORT\") \"80\" }}other{{ end }}",
            "other",
        ),
        (
            "else_if",
            "{{ if eq 1 2 }}a{{ else if eq 2 2 }}b{{ else }}c{{ end }}",
            "b",
        ),
        ("eq_many", "{{ if eq \"b\" \"a\" \"b\" }}in{{ end }}", "in"),
        (
            "and_or_not",
            "{{ and 1 \"x\" }} {{ or \"\" \"y\" }} {{ not true }}",
            "x y false",
        ),
        (
            "lt_gt",
            "{{ lt 1 2 }} {{ gt 1.5 2 }} {{ le \"a\" \"b\" }}",
            "true false true",
        ),
        (
            "with",
            "{{ with env \"PORT\" }}port {{ . }}{{ end }}",
            "port 8080",
        ),
        (
            "with_else",
            "{{ with env \"EMPTY\" }}set{{ else }}unset{{ end }}",
            "unset",
        ),
        (
            "variables",
            "{{ $p := env \"PORT\" }}{{ $p }}{{ $p = \"1\" }}/{{ $p }}",
            "8080/1",
        ),
        (
            "print",
            "{{ print 1 2 \"x\" }}|{{ println \"a\" 1 }}",
            "1 2x|a 1\n",
        ),
        ("raw_string", "{{ `a\\n\"b\"` }}", "a\\n\"b\""),
        (
            "number_literals",
            "{{ -3 }} {{ 0x10 }} {{ 1e3 }}",
            "-3 16 1000",
        ),
        ("dot_is_nil", "{{ . }}", "<no value>"),
        ("range_int", "{{ range $i := 3 }}{{ $i }}{{ end }}", "012"),
        (
            "len_index",
            "{{ len \"abc\" }} {{ index \"abc\" 1 }}",
            "3 98",
        ),
    ];
    caravan_testkit::table::each_answers(cases, run);
}

#[test]
fn custom_delimiters_leave_braces_alone() {
    let out = render(
        "{{ not a template }} [[ env \"PORT\" ]] [[- /* c */ -]] x",
        "[[",
        "]]",
    );
    assert_eq!(out.unwrap(), "{{ not a template }} 8080x");
}

#[test]
fn errors_name_the_line_and_the_problem() {
    let cases: &[(&str, &str, &str)] = &[
        (
            "refused_by_the_caller",
            "a\n{{ key \"x\" }}",
            "parse: line 2: function \"key\" needs Consul",
        ),
        (
            "unknown_function",
            "\n\n{{ frobnicate }}",
            "parse: line 3: function \"frobnicate\" not defined",
        ),
        ("unclosed_action", "{{ env \"X\"", "unclosed action"),
        (
            "unclosed_if",
            "{{ if true }}x",
            "{{if}} has no matching {{end}}",
        ),
        ("stray_end", "x{{ end }}", "unexpected {{end}}"),
        (
            "break_outside_range",
            "{{ break }}",
            "{{break}} outside {{range}}",
        ),
        (
            "define_unsupported",
            "{{ define \"x\" }}{{ end }}",
            "{{define}} is not supported",
        ),
        (
            "unterminated_string",
            "{{ \"abc }}",
            "unterminated quoted string",
        ),
        (
            "bad_comparison",
            "{{ if eq 1 \"1\" }}{{ end }}",
            "execute: line 1: eq: incompatible types for comparison: int and string",
        ),
        ("undefined_variable", "{{ $x }}", "undefined variable: $x"),
        (
            "field_on_string",
            "{{ with \"s\" }}{{ .Name }}{{ end }}",
            "can't evaluate field Name in type string",
        ),
        (
            "range_over_string",
            "{{ range \"abc\" }}{{ end }}",
            "range can't iterate over abc",
        ),
    ];
    caravan_testkit::table::each_fails_with(cases, run);
}

#[test]
fn missing_key_is_an_error_when_asked() {
    let text = "{{ .nope }}";
    let lenient = Template::new(&NoFunctions).parse(text).unwrap();
    assert_eq!(lenient.execute().unwrap(), "<no value>");
    let strict = Template::new(&NoFunctions)
        .missing_key_error(true)
        .parse(text)
        .unwrap();
    assert_eq!(
        strict.execute().unwrap_err().to_string(),
        "line 1: nil data; no entry for key \"nope\""
    );
}

#[test]
fn printf_follows_go() {
    let cases: &[(&str, &[Value], &str)] = &[
        (
            "%5.1f|%-6d|%+d",
            &[Value::Float(1.25), Value::Int(42), Value::Int(7)],
            "  1.2|42    |+7",
        ),
        (
            "% d|%05d|%x|%X",
            &[
                Value::Int(5),
                Value::Int(-42),
                Value::Int(255),
                Value::Str("hi".into()),
            ],
            " 5|-0042|ff|6869",
        ),
        (
            "%e|%.2e",
            &[Value::Float(1500.0), Value::Int(-3)],
            "1.500000e+03|-3.00e+00",
        ),
        (
            "%o|%b|%c",
            &[Value::Int(8), Value::Int(5), Value::Int(65)],
            "10|101|A",
        ),
        (
            "%d|%t",
            &[Value::Str("x".into()), Value::Int(1)],
            "%!d(string=x)|%!t(int=1)",
        ),
        (
            "%.2s|%q",
            &[Value::Str("abc".into()), Value::Str("a\"b".into())],
            "ab|\"a\\\"b\"",
        ),
        (
            "%d",
            &[Value::Int(1), Value::Bool(true)],
            "1%!(EXTRA bool=true)",
        ),
        ("100%% %", &[], "100% %!(NOVERB)"),
    ];
    for (format, args, want) in cases {
        assert_eq!(printf::sprintf(format, args), *want, "{format}");
    }
}

/// A template is the job submitter's text, rendered by every client that runs the job:
/// loops and padding that would take the agent's memory or time end in an error.
#[test]
fn templates_that_would_exhaust_the_agent_end_in_an_error() {
    let cases = [
        ("{{ range 1000000000000 }}{{ end }}", "steps"),
        (
            "{{ range 100000 }}{{ range 100000 }}{{ end }}{{ end }}",
            "steps",
        ),
        (
            "{{ range 100 }}{{ printf \"%999999d\" 1 }}{{ end }}",
            "bytes",
        ),
    ];
    let wide = format!("{{{{ range 20000 }}}}{}{{{{ end }}}}", "x".repeat(1000));
    let cases = cases.into_iter().chain([(wide.as_str(), "bytes")]);
    for (text, want) in cases {
        let template = Template::new(&NoFunctions).parse(text).unwrap();
        let error = template.execute().unwrap_err().to_string();
        assert!(error.contains(want), "{text}: {error}");
    }
    let huge = Template::new(&NoFunctions)
        .parse("{{ printf \"%99999999999d|\" 1 }}")
        .unwrap();
    assert_eq!(huge.execute().unwrap(), "%!(NOVERB)%!(EXTRA int=1)");
}

/// Go prints a negative number in another base as its sign and magnitude.
#[test]
fn negative_numbers_in_other_bases_read_as_go_prints_them() {
    use crate::printf::sprintf;
    for (format, want) in [
        ("%x", "-a"),
        ("%X", "-A"),
        ("%o", "-12"),
        ("%b", "-1010"),
        ("%05x", "-000a"),
    ] {
        assert_eq!(sprintf(format, &[Value::Int(-10)]), want, "{format}");
    }
    assert_eq!(sprintf("%x", &[Value::Int(i64::MIN)]), "-8000000000000000");
}

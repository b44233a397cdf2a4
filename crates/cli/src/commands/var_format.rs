//! How Nomad's `var` commands print variables (`command/var.go`): the table, HCL and
//! JSON renderings, the list table, and the check-and-set conflict message.

use caravan_structs::{Variable, VariableMetadata};

use crate::columnize::{format_kv, format_list};
use crate::meta::Ui;
use crate::time_format::format_time;

/// Nomad's `errInvalidOutFormat`.
pub const INVALID_OUT_FORMAT: &str =
    "Invalid value for \"-out\"; valid values are [hcl, json, none, table]";
/// Nomad's `errWildcardNamespaceNotAllowed`.
pub const WILDCARD_NAMESPACE: &str =
    "The wildcard namespace (\"*\") is not valid for this command.";
/// Nomad's `msgVariableNotFound` of `var list`.
pub const NO_MATCHING_VARIABLES: &str = "No matching variables found";

/// `Variable.AsPrettyJSON`: two-space indented JSON.
pub fn render_json(variable: &Variable) -> String {
    let mut buf = Vec::new();
    let formatter = serde_json::ser::PrettyFormatter::with_indent(b"  ");
    let mut ser = serde_json::Serializer::with_formatter(&mut buf, formatter);
    match serde::Serialize::serialize(variable, &mut ser) {
        Ok(()) => String::from_utf8_lossy(&buf).into_owned(),
        Err(e) => format!("{{\"error\": {:?}}}", e.to_string()),
    }
}

/// Go's `%q` for the strings a variable holds: quotes, backslashes and control
/// characters escaped, printable text as it is.
pub fn go_quote(text: &str) -> String {
    let mut out = String::with_capacity(text.len() + 2);
    out.push('"');
    for c in text.chars() {
        match c {
            '"' => out.push_str("\\\""),
            '\\' => out.push_str("\\\\"),
            '\n' => out.push_str("\\n"),
            '\t' => out.push_str("\\t"),
            '\r' => out.push_str("\\r"),
            c if (c as u32) < 0x20 || c as u32 == 0x7f => {
                out.push_str(&format!("\\x{:02x}", c as u32));
            }
            c => out.push(c),
        }
    }
    out.push('"');
    out
}

/// `renderAsHCL`: a variable specification `var put` reads back. Item keys are
/// right-aligned to the longest, as Nomad's `%<pad>s` does.
pub fn render_hcl(variable: &Variable) -> String {
    let pad = variable.items.keys().map(|k| k.len()).max().unwrap_or(0);
    let items: String = variable
        .items
        .iter()
        .map(|(k, v)| format!("  {k:>pad$} = {}\n", go_quote(v)))
        .collect();
    format!(
        "\nnamespace    = {}\npath         = {}\ncreate_index = {}  # Set by server\nmodify_index = {}  # Set by server; consulted for check-and-set\ncreate_time  = {}   # Set by server\nmodify_time  = {}   # Set by server\n\nitems = {{\n{items}}}\n",
        go_quote(&variable.namespace),
        go_quote(&variable.path),
        variable.create_index,
        variable.modify_index,
        variable.create_time,
        variable.modify_time,
    )
}

/// Go's `time.Time.String()` of Unix nanoseconds in the local zone:
/// `2026-12-06 00:20:01.123456789 +0000 UTC`, trailing zeros of the fraction dropped.
pub fn go_time_string(unix_nanos: i64) -> String {
    let Ok(ts) = jiff::Timestamp::from_nanosecond(unix_nanos as i128) else {
        return String::new();
    };
    let zoned = ts.to_zoned_datetime(jiff::tz::TimeZone::system());
    let fraction = match zoned.subsec_nanosecond() {
        0 => String::new(),
        n => format!(".{n:09}").trim_end_matches('0').to_string(),
    };
    let zone = zoned
        .time_zone()
        .to_offset_info(ts)
        .abbreviation()
        .to_string();
    format!(
        "{}{fraction} {} {zone}",
        zoned.strftime("%Y-%m-%d %H:%M:%S"),
        zoned.strftime("%z")
    )
}

/// `renderSVAsUiTable`: the metadata, then the items. Nomad prints the modify time as
/// `Create Time` (sic) and adds `Modify Time` only for a variable changed since.
pub fn render_table(variable: &Variable, ui: &Ui) -> String {
    let mut meta = vec![
        format!("Namespace|{}", variable.namespace),
        format!("Path|{}", variable.path),
        format!("Create Time|{}", format_time(variable.modify_time)),
    ];
    if variable.create_time != variable.modify_time {
        meta.push(format!(
            "Modify Time|{}",
            go_time_string(variable.modify_time)
        ));
    }
    meta.push(format!("Check Index|{}", variable.modify_index));
    let items: Vec<String> = variable
        .items
        .iter()
        .map(|(k, v)| format!("{k}|{v}"))
        .collect();
    format!(
        "{}\n{}\n{}",
        format_kv(&meta),
        ui.section("Items"),
        format_kv(&items)
    )
}

/// `formatVarStubs`: namespace, path and last update of each variable, sorted by
/// namespace then path.
pub fn render_list(variables: &[VariableMetadata]) -> String {
    if variables.is_empty() {
        return NO_MATCHING_VARIABLES.to_string();
    }
    let mut sorted: Vec<&VariableMetadata> = variables.iter().collect();
    sorted.sort_by(|a, b| (&a.namespace, &a.path).cmp(&(&b.namespace, &b.path)));
    let mut rows = vec!["Namespace|Path|Last Updated".to_string()];
    rows.extend(
        sorted
            .iter()
            .map(|v| format!("{}|{}|{}", v.namespace, v.path, format_time(v.modify_time))),
    );
    format_list(&rows)
}

/// `var list -q`: paths alone, or `namespace|path` rows across namespaces.
pub fn render_quiet_list(variables: &[VariableMetadata], namespace: &str) -> String {
    let rows: Vec<String> = variables
        .iter()
        .map(|v| {
            if namespace == "*" {
                format!("{}|{}", v.namespace, v.path)
            } else {
                v.path.clone()
            }
        })
        .collect();
    format_list(&rows)
}

/// `mitchellh/go-wordwrap`'s `WrapString`: breaks at spaces so lines stay within
/// `limit` where a word allows, keeping runs of spaces inside a line.
pub fn word_wrap(text: &str, limit: usize) -> String {
    let mut out = String::new();
    let (mut line_len, mut spaces, mut word) = (0usize, String::new(), String::new());
    for c in text.chars() {
        if c == '\n' {
            // Spaces that would overflow the line are dropped; a word is kept.
            if !word.is_empty() || line_len + spaces.chars().count() <= limit {
                out.push_str(&spaces);
                out.push_str(&word);
            }
            spaces.clear();
            word.clear();
            out.push('\n');
            line_len = 0;
        } else if c == ' ' {
            if spaces.is_empty() || !word.is_empty() {
                line_len += spaces.chars().count() + word.chars().count();
                out.push_str(&spaces);
                out.push_str(&word);
                spaces.clear();
                word.clear();
            }
            spaces.push(c);
        } else {
            word.push(c);
            let word_len = word.chars().count();
            if line_len + spaces.chars().count() + word_len > limit && word_len < limit {
                out.push('\n');
                line_len = 0;
                spaces.clear();
            }
        }
    }
    if word.is_empty() {
        if line_len + spaces.chars().count() <= limit {
            out.push_str(&spaces);
        }
    } else {
        out.push_str(&spaces);
        out.push_str(&word);
    }
    out
}

/// `handleCASError`: what a check-and-set conflict prints on stderr. `check_index` is
/// the index the command sent; `conflict` the variable the server holds.
pub fn render_cas_conflict(check_index: u64, conflict: &Variable) -> String {
    let last_update = if conflict.modify_index > 0 {
        format!(
            "The server-side item was last updated on {}.",
            format_time(conflict.modify_time)
        )
    } else {
        String::new()
    };
    let message = format!(
        "Your provided check-index ({check_index}) does not match the server-side index ({}). {last_update} If you are sure you want to perform this operation, add the -force or -check-index={} flag before the positional arguments.",
        conflict.modify_index, conflict.modify_index
    );
    let prefix = "    ";
    let wrapped: Vec<String> = word_wrap(&message, 80 - prefix.len())
        .lines()
        .map(|line| format!("{prefix}{line}"))
        .collect();
    format!("\nCheck-and-Set conflict\n\n{}\n", wrapped.join("\n"))
}

#[cfg(test)]
mod tests {
    use std::collections::BTreeMap;

    use super::*;

    fn variable() -> Variable {
        Variable {
            namespace: "default".into(),
            path: "app/db".into(),
            create_index: 10,
            modify_index: 12,
            create_time: 0,
            modify_time: 0,
            items: BTreeMap::from([
                ("user".to_string(), "admin".to_string()),
                ("password".to_string(), "s3\"cr3t".to_string()),
            ]),
            lock: None,
        }
    }

    #[test]
    fn hcl_right_aligns_item_keys_as_nomad_does() {
        assert_eq!(
            render_hcl(&variable()),
            "\nnamespace    = \"default\"\npath         = \"app/db\"\ncreate_index = 10  # Set by server\nmodify_index = 12  # Set by server; consulted for check-and-set\ncreate_time  = 0   # Set by server\nmodify_time  = 0   # Set by server\n\nitems = {\n  password = \"s3\\\"cr3t\"\n      user = \"admin\"\n}\n"
        );
    }

    #[test]
    fn json_is_two_space_indented_in_nomads_field_order() {
        let json = render_json(&variable());
        assert!(
            json.starts_with(
                "{\n  \"Namespace\": \"default\",\n  \"Path\": \"app/db\",\n  \"CreateIndex\": 10,"
            ),
            "{json}"
        );
        assert!(!json.contains("Lock"), "no lock, no Lock field: {json}");
    }

    #[test]
    fn table_shows_metadata_then_items() {
        assert_eq!(
            render_table(&variable(), &Ui::plain()),
            "Namespace   = default\nPath        = app/db\nCreate Time = <none>\nCheck Index = 12\n\nItems\npassword = s3\"cr3t\nuser     = admin"
        );
    }

    #[test]
    fn an_empty_list_says_so() {
        assert_eq!(render_list(&[]), "No matching variables found");
        let stub = |ns: &str, path: &str| VariableMetadata {
            namespace: ns.into(),
            path: path.into(),
            ..VariableMetadata::default()
        };
        assert_eq!(
            render_list(&[stub("web", "b"), stub("default", "z"), stub("default", "a")]),
            "Namespace  Path  Last Updated\ndefault    a     <none>\ndefault    z     <none>\nweb        b     <none>"
        );
        assert_eq!(render_quiet_list(&[stub("web", "b")], "*"), "web  b");
    }

    #[test]
    fn conflict_message_wraps_at_80_columns_with_an_indent() {
        let mut conflict = variable();
        conflict.modify_index = 0;
        assert_eq!(
            render_cas_conflict(0, &conflict),
            "\nCheck-and-Set conflict\n\n    Your provided check-index (0) does not match the server-side index (0).  If\n    you are sure you want to perform this operation, add the -force or\n    -check-index=0 flag before the positional arguments.\n"
        );
    }
}

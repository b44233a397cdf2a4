//! Tables and key/value blocks the way Nomad prints them (ryanuber/columnize).
//!
//! Input rows are `|`-delimited strings. Each cell is trimmed, an empty cell becomes
//! `<none>`, every column but a row's last is padded to the widest cell of that column,
//! and columns are joined by the glue (`"  "` for tables, `" = "` for key/values). The
//! last cell of a row is never padded, so no line ends in spaces.

/// Nomad's `formatList`: columns separated by two spaces.
///
/// ```
/// let out = caravan_cli::columnize::format_list(&["ID|Status".into(), "abc|running".into()]);
/// assert_eq!(out, "ID   Status\nabc  running");
/// ```
pub fn format_list(rows: &[String]) -> String {
    columnize(rows, "  ")
}

/// Nomad's `formatKV`: `Key = value` lines with the `=` aligned.
///
/// ```
/// let out = caravan_cli::columnize::format_kv(&["ID|x".into(), "Status|".into()]);
/// assert_eq!(out, "ID     = x\nStatus = <none>");
/// ```
pub fn format_kv(rows: &[String]) -> String {
    columnize(rows, " = ")
}

/// Nomad's `formatListWithSpaces`: like [`format_list`] but empty cells stay empty
/// (so a row may end in spaces), as `alloc status` prints its `Task Resources` table.
///
/// ```
/// let out = caravan_cli::columnize::format_list_with_spaces(&["CPU|Memory".into(), "|1 MiB".into()]);
/// assert_eq!(out, "CPU  Memory\n     1 MiB");
/// ```
pub fn format_list_with_spaces(rows: &[String]) -> String {
    columnize_with(rows, "  ", "")
}

fn columnize(rows: &[String], glue: &str) -> String {
    columnize_with(rows, glue, "<none>")
}

fn columnize_with(rows: &[String], glue: &str, empty: &str) -> String {
    let cells: Vec<Vec<&str>> = rows
        .iter()
        .map(|row| {
            row.split('|')
                .map(|cell| match cell.trim() {
                    "" => empty,
                    trimmed => trimmed,
                })
                .collect()
        })
        .collect();
    let mut widths: Vec<usize> = Vec::new();
    for row in &cells {
        for (i, cell) in row.iter().enumerate() {
            let width = cell.chars().count();
            if i >= widths.len() {
                widths.push(width);
            } else if width > widths[i] {
                widths[i] = width;
            }
        }
    }
    let mut out = String::new();
    for (r, row) in cells.iter().enumerate() {
        if r > 0 {
            out.push('\n');
        }
        for (i, cell) in row.iter().enumerate() {
            out.push_str(cell);
            if i + 1 < row.len() {
                let pad = widths[i] - cell.chars().count();
                out.extend(std::iter::repeat_n(' ', pad));
                out.push_str(glue);
            }
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    fn rows(r: &[&str]) -> Vec<String> {
        r.iter().map(|s| s.to_string()).collect()
    }

    #[test]
    fn table() {
        let cases: &[(&str, &[&str], &str)] = &[
            ("empty_input", &[], ""),
            ("single_cell", &["ID"], "ID"),
            (
                "pads_all_but_last",
                &["ID|Type|Priority", "example|service|50"],
                "ID       Type     Priority\nexample  service  50",
            ),
            ("empty_cell_is_none", &["a||c"], "a  <none>  c"),
            ("trailing_empty_cell_is_none", &["a|"], "a  <none>"),
            ("cells_are_trimmed", &["  a | b "], "a  b"),
            (
                "short_rows_not_padded",
                &["long-header|x|y", "a|b"],
                "long-header  x  y\na            b",
            ),
            ("unicode_counts_chars", &["é|x", "ab|y"], "é   x\nab  y"),
        ];
        for (name, input, want) in cases {
            assert_eq!(format_list(&rows(input)), *want, "case {name}");
        }
    }

    #[test]
    fn kv_aligns_equals() {
        let out = format_kv(&rows(&[
            "ID|example",
            "Submit Date|2026-08-21T10:00:00Z",
            "Parameterized|false",
        ]));
        assert_eq!(
            out,
            "ID            = example\nSubmit Date   = 2026-08-21T10:00:00Z\nParameterized = false"
        );
    }

    #[test]
    fn seed_allocation_table() {
        let out = format_list(&rows(&[
            "ID|Node ID|Task Group|Version|Desired|Status|Created|Modified",
            "7de7f1d3|4b635091|example|3|run|complete|6s ago|3s ago",
            "c7a2f6c2|4b635091|example|1|run|complete|2h55m ago|44m44s ago",
            "12f3a5ec|8f5984b6|example|2|run|complete|42m38s ago|42m36s ago",
        ]));
        assert_eq!(
            out,
            "ID        Node ID   Task Group  Version  Desired  Status    Created     Modified\n\
             7de7f1d3  4b635091  example     3        run      complete  6s ago      3s ago\n\
             c7a2f6c2  4b635091  example     1        run      complete  2h55m ago   44m44s ago\n\
             12f3a5ec  8f5984b6  example     2        run      complete  42m38s ago  42m36s ago"
        );
    }
}

//! The job diff `job plan` prints (Nomad's `formatJobDiff` and friends in
//! `command/job_plan.go`), in colorstring markup: pass the result through
//! [`crate::colorstring::color`].
//!
//! ```text
//! +/- Job: "example"
//! +/- Task Group: "cache" (1 create/destroy update)
//!   +/- Task: "redis" (forces create/destroy update)
//!     +/- Config {
//!       +/- image:           "redis:2.8" => "redis:7"
//!           port_map[0][db]: "6379"
//!         }
//! ```
//!
//! Layout rules, all Nomad's: a marker (`+ `, `- `, `+/- `, or nothing for unchanged) is
//! followed by padding up to the longest marker among its siblings, field values are
//! aligned on the longest sibling name, and each level indents two spaces. Nomad's
//! server never sends unchanged fields of a job, group or task (only unchanged fields
//! inside an edited object, for context); Caravan's server sends them all, typed `None`,
//! so at those three levels they are shown only with `-verbose`.

use caravan_structs::diff::{FieldDiff, JobDiff, ObjectDiff, TaskDiff, TaskGroupDiff};

const ADDED: &str = "Added";
const DELETED: &str = "Deleted";
const EDITED: &str = "Edited";
const NONE: &str = "None";

/// Nomad's `formatJobDiff`: the whole diff, one line per change, ending in a newline
/// (the caller trims it, as Nomad does). With `verbose`, added and deleted groups and
/// tasks are expanded and unchanged fields are listed.
pub fn format_job_diff(job: &JobDiff, verbose: bool) -> String {
    let (marker, _) = diff_marker(&job.r#type);
    let mut out = format!("{marker}[bold]Job: {}\n", go_quote(&job.id));

    let fields = visible_fields(&job.fields, verbose);
    let objects = visible_objects(&job.objects, verbose);
    let (longest_field, mut longest_marker) = longest_prefixes(&fields, &objects);
    for group in &job.task_groups {
        longest_marker = longest_marker.max(diff_marker(&group.r#type).1);
    }

    // Nomad: the job's own fields only when it is edited (or with -verbose).
    if job.r#type == EDITED || verbose {
        let block = aligned_fields_and_objects(&fields, &objects, 0, longest_field, longest_marker);
        if !block.is_empty() {
            out.push_str(&block);
            out.push('\n');
        }
    }

    for group in &job.task_groups {
        let prefix = longest_marker - diff_marker(&group.r#type).1;
        out.push_str(&format_task_group_diff(group, prefix, verbose));
        out.push('\n');
    }
    out
}

/// Nomad's `formatTaskGroupDiff`: `tg_prefix` spaces go between the marker and the name
/// so sibling groups line up.
pub fn format_task_group_diff(group: &TaskGroupDiff, tg_prefix: usize, verbose: bool) -> String {
    let (marker, _) = diff_marker(&group.r#type);
    let mut out = format!(
        "{marker}{}[bold]Task Group: {}[reset]",
        spaces(tg_prefix),
        go_quote(&group.name)
    );

    if group.updates.is_empty() {
        out.push_str("[reset]\n");
    } else {
        // Nomad sorts the update kinds by name; the map is already ordered.
        let updates: Vec<String> = group
            .updates
            .iter()
            .map(|(kind, count)| format!("[reset]{}{count} {kind}", update_color(kind)))
            .collect();
        out.push_str(&format!(" ({}[reset])\n", updates.join(", ")));
    }

    let fields = visible_fields(&group.fields, verbose);
    let objects = visible_objects(&group.objects, verbose);
    let (longest_field, mut longest_marker) = longest_prefixes(&fields, &objects);
    for task in &group.tasks {
        longest_marker = longest_marker.max(diff_marker(&task.r#type).1);
    }

    let sub_start = tg_prefix + 2;
    if group.r#type == EDITED || verbose {
        let block =
            aligned_fields_and_objects(&fields, &objects, sub_start, longest_field, longest_marker);
        if !block.is_empty() {
            out.push_str(&block);
            out.push('\n');
        }
    }

    for task in &group.tasks {
        let prefix = longest_marker - diff_marker(&task.r#type).1;
        out.push_str(&format_task_diff(task, sub_start, prefix, verbose));
        out.push('\n');
    }
    out
}

/// Nomad's `formatTaskDiff`: `start` spaces before the marker, `task_prefix` after it.
/// An unchanged task is one line; an added or deleted one too unless `verbose`.
pub fn format_task_diff(
    task: &TaskDiff,
    start: usize,
    task_prefix: usize,
    verbose: bool,
) -> String {
    let (marker, _) = diff_marker(&task.r#type);
    let mut out = format!(
        "{}{marker}{}[bold]Task: {}",
        spaces(start),
        spaces(task_prefix),
        go_quote(&task.name)
    );
    if !task.annotations.is_empty() {
        out.push_str(&format!(
            " [reset]({})",
            color_annotations(&task.annotations)
        ));
    }

    if task.r#type == NONE || ((task.r#type == DELETED || task.r#type == ADDED) && !verbose) {
        return out;
    }
    out.push('\n');

    let fields = visible_fields(&task.fields, verbose);
    let objects = visible_objects(&task.objects, verbose);
    let (longest_field, longest_marker) = longest_prefixes(&fields, &objects);
    out.push_str(&aligned_fields_and_objects(
        &fields,
        &objects,
        start + 2,
        longest_field,
        longest_marker,
    ));
    out
}

/// Nomad's `formatObjectDiff`: `Name {`, the object's fields and objects two spaces
/// deeper, and `}` under the first letter of the name. Every field inside is shown,
/// unchanged ones included: that is Nomad's contextual diff.
pub fn format_object_diff(object: &ObjectDiff, start: usize, key_prefix: usize) -> String {
    let (marker, marker_len) = diff_marker(&object.r#type);
    let mut out = format!(
        "{}{marker}{}{} {{\n",
        spaces(start),
        spaces(key_prefix),
        object.name
    );
    let fields: Vec<&FieldDiff> = object.fields.iter().collect();
    let objects: Vec<&ObjectDiff> = object.objects.iter().collect();
    let (longest_field, longest_marker) = longest_prefixes(&fields, &objects);
    out.push_str(&aligned_fields_and_objects(
        &fields,
        &objects,
        start + key_prefix + 2,
        longest_field,
        longest_marker,
    ));
    format!("{out}\n{}}}", spaces(start + marker_len + key_prefix))
}

/// Nomad's `formatFieldDiff`: `name: value`, `name: "old" => "new"` for edits, with
/// `value_prefix` spaces after the colon so sibling values line up.
pub fn format_field_diff(
    field: &FieldDiff,
    start: usize,
    key_prefix: usize,
    value_prefix: usize,
) -> String {
    let (marker, _) = diff_marker(&field.r#type);
    let mut out = format!(
        "{}{marker}{}{}: {}",
        spaces(start),
        spaces(key_prefix),
        field.name,
        spaces(value_prefix)
    );
    match field.r#type.as_str() {
        ADDED => out.push_str(&go_quote(&field.new)),
        DELETED => out.push_str(&go_quote(&field.old)),
        EDITED => out.push_str(&format!(
            "{} => {}",
            go_quote(&field.old),
            go_quote(&field.new)
        )),
        _ => out.push_str(&go_quote(&field.new)),
    }
    if !field.annotations.is_empty() {
        out.push_str(&format!(" ({})", color_annotations(&field.annotations)));
    }
    out
}

/// Nomad's `alignedFieldAndObjects`: fields, then objects, one per line, no trailing
/// newline.
fn aligned_fields_and_objects(
    fields: &[&FieldDiff],
    objects: &[&ObjectDiff],
    start: usize,
    longest_field: usize,
    longest_marker: usize,
) -> String {
    let mut out = String::new();
    for (i, field) in fields.iter().enumerate() {
        let key_prefix = longest_marker - diff_marker(&field.r#type).1;
        // Nomad pads by byte length (Go's len).
        let value_prefix = longest_field - field.name.len();
        out.push_str(&format_field_diff(field, start, key_prefix, value_prefix));
        if i + 1 != fields.len() || !objects.is_empty() {
            out.push('\n');
        }
    }
    for (i, object) in objects.iter().enumerate() {
        let key_prefix = longest_marker - diff_marker(&object.r#type).1;
        out.push_str(&format_object_diff(object, start, key_prefix));
        if i + 1 != objects.len() {
            out.push('\n');
        }
    }
    out
}

/// Nomad's `getLongestPrefixes`: the longest field name and the longest marker.
fn longest_prefixes(fields: &[&FieldDiff], objects: &[&ObjectDiff]) -> (usize, usize) {
    let longest_field = fields.iter().map(|f| f.name.len()).max().unwrap_or(0);
    let longest_marker = fields
        .iter()
        .map(|f| diff_marker(&f.r#type).1)
        .chain(objects.iter().map(|o| diff_marker(&o.r#type).1))
        .max()
        .unwrap_or(0);
    (longest_field, longest_marker)
}

/// Nomad's `getDiffString`: the colored marker and its printed width.
pub fn diff_marker(diff_type: &str) -> (&'static str, usize) {
    match diff_type {
        ADDED => ("[green]+[reset] ", 2),
        DELETED => ("[red]-[reset] ", 2),
        EDITED => ("[light_yellow]+/-[reset] ", 4),
        _ => ("", 0),
    }
}

/// Nomad's `colorAnnotations`.
fn color_annotations(annotations: &[String]) -> String {
    annotations
        .iter()
        .map(|a| match a.as_str() {
            "forces create" => format!("[green]{a}[reset]"),
            "forces destroy" => format!("[red]{a}[reset]"),
            "forces in-place update" => format!("[cyan]{a}[reset]"),
            "forces create/destroy update" => format!("[yellow]{a}[reset]"),
            _ => a.clone(),
        })
        .collect::<Vec<_>>()
        .join(", ")
}

/// The color of one update kind in a task group's `(1 create, 2 ignore)`.
fn update_color(kind: &str) -> &'static str {
    match kind {
        "create" => "[green]",
        "destroy" => "[red]",
        "migrate" => "[blue]",
        "in-place update" => "[cyan]",
        "create/destroy update" => "[yellow]",
        "canary" => "[light_yellow]",
        _ => "",
    }
}

/// The fields of a job, group or task worth printing: unchanged ones only with
/// `verbose` (see the module docs).
fn visible_fields(fields: &[FieldDiff], verbose: bool) -> Vec<&FieldDiff> {
    fields
        .iter()
        .filter(|f| verbose || f.r#type != NONE)
        .collect()
}

/// As [`visible_fields`], for objects.
fn visible_objects(objects: &[ObjectDiff], verbose: bool) -> Vec<&ObjectDiff> {
    objects
        .iter()
        .filter(|o| verbose || o.r#type != NONE)
        .collect()
}

fn spaces(n: usize) -> String {
    " ".repeat(n)
}

/// Go's `%q` of a string (`strconv.Quote`): double quotes, `\n`-style escapes for
/// control characters, `\x`/`\u` for other unprintable ones, printable Unicode as is.
///
/// ```
/// use caravan_cli::plan_diff::go_quote;
/// assert_eq!(go_quote("a\"b\n"), r#""a\"b\n""#);
/// ```
pub fn go_quote(text: &str) -> String {
    let mut out = String::with_capacity(text.len() + 2);
    out.push('"');
    for c in text.chars() {
        match c {
            '"' => out.push_str("\\\""),
            '\\' => out.push_str("\\\\"),
            '\x07' => out.push_str("\\a"),
            '\x08' => out.push_str("\\b"),
            '\x0c' => out.push_str("\\f"),
            '\n' => out.push_str("\\n"),
            '\r' => out.push_str("\\r"),
            '\t' => out.push_str("\\t"),
            '\x0b' => out.push_str("\\v"),
            c if (c as u32) < 0x20 || c == '\x7f' => {
                out.push_str(&format!("\\x{:02x}", c as u32));
            }
            c if !go_printable(c) => {
                let cp = c as u32;
                if cp > 0xffff {
                    out.push_str(&format!("\\U{cp:08x}"));
                } else {
                    out.push_str(&format!("\\u{cp:04x}"));
                }
            }
            c => out.push(c),
        }
    }
    out.push('"');
    out
}

/// An approximation of Go's `strconv.IsPrint` for non-ASCII: control characters, the
/// common format characters and non-ASCII spaces are not printable.
fn go_printable(c: char) -> bool {
    let cp = c as u32;
    !(c.is_control()
        || matches!(
            cp,
            0x00a0
                | 0x00ad
                | 0x1680
                | 0x2000..=0x200f
                | 0x2028..=0x202f
                | 0x205f..=0x2064
                | 0x3000
                | 0xfeff
        ))
}

#[cfg(test)]
#[path = "plan_diff_tests.rs"]
mod tests;

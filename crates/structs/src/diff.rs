//! Job diffs as Nomad's `job plan` shows them: what changed between the registered job
//! and a new version, field by field.

use serde::{Deserialize, Serialize};
use serde_json::Value;

use crate::{Job, JobId};

/// `Added`, `Deleted`, `Edited` or `None`.
pub type DiffType = String;

/// A changed scalar (`FieldDiff`).
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "PascalCase", default)]
pub struct FieldDiff {
    pub r#type: DiffType,
    pub name: String,
    pub old: String,
    pub new: String,
    pub annotations: Vec<String>,
}

/// A changed nested object (`ObjectDiff`).
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "PascalCase", default)]
pub struct ObjectDiff {
    pub r#type: DiffType,
    pub name: String,
    pub fields: Vec<FieldDiff>,
    pub objects: Vec<ObjectDiff>,
}

/// A task's diff (`TaskDiff`).
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "PascalCase", default)]
pub struct TaskDiff {
    pub r#type: DiffType,
    pub name: String,
    pub fields: Vec<FieldDiff>,
    pub objects: Vec<ObjectDiff>,
    /// `forces create`, `forces destroy`, `forces create/destroy update`, `forces in-place update`.
    pub annotations: Vec<String>,
}

/// A task group's diff (`TaskGroupDiff`); `Updates` counts the scheduler's planned changes.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "PascalCase", default)]
pub struct TaskGroupDiff {
    pub r#type: DiffType,
    pub name: String,
    pub fields: Vec<FieldDiff>,
    pub objects: Vec<ObjectDiff>,
    pub tasks: Vec<TaskDiff>,
    pub updates: std::collections::BTreeMap<String, u64>,
}

/// A job's diff (`JobDiff`).
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "PascalCase", default)]
pub struct JobDiff {
    pub r#type: DiffType,
    #[serde(rename = "ID")]
    pub id: JobId,
    pub fields: Vec<FieldDiff>,
    pub objects: Vec<ObjectDiff>,
    pub task_groups: Vec<TaskGroupDiff>,
}

/// Fields that are bookkeeping, not the user's spec: never shown in a diff.
const IGNORED: &[&str] = &[
    "Status",
    "StatusDescription",
    "Stable",
    "Version",
    "SubmitTime",
    "CreateIndex",
    "ModifyIndex",
    "JobModifyIndex",
    "TaskGroups",
    "Tasks",
    "Stop",
];

fn kind(old: bool, new: bool, changed: bool) -> DiffType {
    match (old, new) {
        (false, true) => "Added",
        (true, false) => "Deleted",
        _ if changed => "Edited",
        _ => "None",
    }
    .to_string()
}

fn scalar(value: &Value) -> String {
    match value {
        Value::String(s) => s.clone(),
        Value::Null => String::new(),
        other => other.to_string(),
    }
}

/// Diffs two JSON objects into fields (scalars, flattened lists of scalars) and objects.
fn diff_objects(old: &Value, new: &Value) -> (Vec<FieldDiff>, Vec<ObjectDiff>) {
    let empty = serde_json::Map::new();
    let old_map = old.as_object().unwrap_or(&empty);
    let new_map = new.as_object().unwrap_or(&empty);
    let mut names: Vec<&String> = old_map.keys().chain(new_map.keys()).collect();
    names.sort();
    names.dedup();
    let mut fields = Vec::new();
    let mut objects = Vec::new();
    for name in names {
        if IGNORED.contains(&name.as_str()) {
            continue;
        }
        let (o, n) = (old_map.get(name), new_map.get(name));
        let is_object = |v: Option<&Value>| {
            v.is_some_and(|v| {
                v.is_object() || v.as_array().is_some_and(|a| a.iter().any(Value::is_object))
            })
        };
        if is_object(o) || is_object(n) {
            let as_object = |v: Option<&Value>| match v {
                Some(Value::Array(items)) => Value::Object(
                    items
                        .iter()
                        .enumerate()
                        .map(|(i, v)| (i.to_string(), v.clone()))
                        .collect(),
                ),
                Some(v) => v.clone(),
                None => Value::Null,
            };
            let (o_obj, n_obj) = (as_object(o), as_object(n));
            let present = |v: &Value| v.as_object().is_some_and(|m| !m.is_empty());
            let (inner_fields, inner_objects) = diff_objects(&o_obj, &n_obj);
            let changed = inner_fields.iter().any(|f| f.r#type != "None")
                || inner_objects.iter().any(|o| o.r#type != "None");
            if changed || present(&o_obj) != present(&n_obj) {
                objects.push(ObjectDiff {
                    r#type: kind(present(&o_obj), present(&n_obj), changed),
                    name: name.clone(),
                    fields: inner_fields,
                    objects: inner_objects,
                });
            }
            continue;
        }
        let render = |v: Option<&Value>| match v {
            Some(Value::Array(items)) => items.iter().map(scalar).collect::<Vec<_>>().join(", "),
            Some(v) => scalar(v),
            None => String::new(),
        };
        let (old_text, new_text) = (render(o), render(n));
        let present = |v: Option<&Value>| {
            v.is_some_and(|v| {
                let empty_list = v.as_array().is_some_and(Vec::is_empty);
                let empty_text = v.as_str().is_some_and(str::is_empty);
                !v.is_null() && !empty_list && !empty_text
            })
        };
        fields.push(FieldDiff {
            r#type: kind(present(o), present(n), old_text != new_text),
            name: name.clone(),
            old: old_text,
            new: new_text,
            annotations: Vec::new(),
        });
    }
    (fields, objects)
}

fn to_value<T: Serialize>(item: Option<&T>) -> Value {
    item.and_then(|i| serde_json::to_value(i).ok())
        .unwrap_or(Value::Null)
}

/// Compares the registered job (if any) with a new version. Unchanged fields are kept,
/// typed `None`, so a renderer can show them for context as `job plan -verbose` does.
pub fn job_diff(old: Option<&Job>, new: &Job) -> JobDiff {
    let (fields, objects) = diff_objects(&to_value(old), &to_value(Some(new)));
    let mut groups = Vec::new();
    let mut names: Vec<&str> = new.task_groups.iter().map(|g| g.name.as_str()).collect();
    if let Some(old) = old {
        names.extend(old.task_groups.iter().map(|g| g.name.as_str()));
    }
    names.sort();
    names.dedup();
    for name in names {
        let old_group = old.and_then(|j| j.group(name));
        let new_group = new.group(name);
        let (fields, objects) = diff_objects(&to_value(old_group), &to_value(new_group));
        let mut task_names: Vec<&str> = new_group
            .iter()
            .flat_map(|g| g.tasks.iter().map(|t| t.name.as_str()))
            .collect();
        task_names.extend(
            old_group
                .iter()
                .flat_map(|g| g.tasks.iter().map(|t| t.name.as_str())),
        );
        task_names.sort();
        task_names.dedup();
        let mut tasks = Vec::new();
        for task_name in task_names {
            let old_task = old_group.and_then(|g| g.tasks.iter().find(|t| t.name == task_name));
            let new_task = new_group.and_then(|g| g.tasks.iter().find(|t| t.name == task_name));
            let (fields, objects) = diff_objects(&to_value(old_task), &to_value(new_task));
            let changed = fields.iter().any(|f| f.r#type != "None")
                || objects.iter().any(|o| o.r#type != "None");
            tasks.push(TaskDiff {
                r#type: kind(old_task.is_some(), new_task.is_some(), changed),
                name: task_name.to_string(),
                fields,
                objects,
                annotations: Vec::new(),
            });
        }
        let changed = fields.iter().any(|f| f.r#type != "None")
            || objects.iter().any(|o| o.r#type != "None")
            || tasks.iter().any(|t| t.r#type != "None");
        groups.push(TaskGroupDiff {
            r#type: kind(old_group.is_some(), new_group.is_some(), changed),
            name: name.to_string(),
            fields,
            objects,
            tasks,
            updates: Default::default(),
        });
    }
    let changed = fields.iter().any(|f| f.r#type != "None")
        || objects.iter().any(|o| o.r#type != "None")
        || groups.iter().any(|g| g.r#type != "None");
    JobDiff {
        r#type: kind(old.is_some(), true, changed),
        id: new.id.clone(),
        fields,
        objects,
        task_groups: groups,
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::{Task, TaskGroup};

    fn job(count: i64, command: &str) -> Job {
        let mut config = serde_json::Map::new();
        config.insert("command".into(), Value::String(command.into()));
        Job {
            id: "web".into(),
            task_groups: vec![TaskGroup {
                name: "g".into(),
                count,
                tasks: vec![Task {
                    name: "t".into(),
                    driver: "raw_exec".into(),
                    config,
                    ..Task::default()
                }],
                ..TaskGroup::default()
            }],
            ..Job::default()
        }
    }

    #[test]
    fn new_job_is_added() {
        let diff = job_diff(None, &job(1, "/bin/true"));
        assert_eq!(diff.r#type, "Added");
        assert_eq!(diff.task_groups[0].r#type, "Added");
        assert_eq!(diff.task_groups[0].tasks[0].r#type, "Added");
    }

    #[test]
    fn same_job_is_none() {
        let diff = job_diff(Some(&job(1, "/bin/true")), &job(1, "/bin/true"));
        assert_eq!(diff.r#type, "None");
        assert_eq!(diff.task_groups[0].r#type, "None");
    }

    #[test]
    fn edits_name_the_field() {
        let diff = job_diff(Some(&job(1, "/bin/true")), &job(3, "/bin/false"));
        let group = &diff.task_groups[0];
        assert_eq!(group.r#type, "Edited");
        let count = group.fields.iter().find(|f| f.name == "Count").unwrap();
        assert_eq!(
            (
                count.r#type.as_str(),
                count.old.as_str(),
                count.new.as_str()
            ),
            ("Edited", "1", "3")
        );
        let config = group.tasks[0]
            .objects
            .iter()
            .find(|o| o.name == "Config")
            .unwrap();
        let command = config.fields.iter().find(|f| f.name == "command").unwrap();
        assert_eq!(
            (command.old.as_str(), command.new.as_str()),
            ("/bin/true", "/bin/false")
        );
    }
}

//! Reading JSON the way Nomad's Go API does.
//!
//! Go clients send `null` for empty slices, maps and pointers. Our types use serde
//! defaults for absent fields, so the lenient reader drops `null` object members first and
//! lets the defaults apply.

use serde::de::DeserializeOwned;
use serde_json::Value;

/// Parses `body` as `T`, treating `null` members as absent. The error names the field
/// path, e.g. `TaskGroups[0].Count: invalid type: string "x", expected i64`.
pub fn from_slice_lenient<T: DeserializeOwned>(body: &[u8]) -> Result<T, String> {
    // Most bodies have no `null` where a value is required: read them straight into
    // `T`, without first building (and then walking) a tree of the whole document; a
    // client's allocations with their jobs, decoded that way, spent most of their time
    // in the allocator. A body that fails is read again the lenient way, which either
    // takes it or names what is wrong. The two ways agree on every body either takes:
    // a `null` member that does not fail is one of an `Option` (absent: `None` too), of
    // a field that reads `null` as its default, or inside a kept JSON value, whose
    // field drops its `null` members itself ([`without_nulls`]).
    if let Ok(parsed) = serde_json::from_slice(body) {
        return Ok(parsed);
    }
    let mut value: Value = serde_json::from_slice(body).map_err(|e| syntax_error(&e))?;
    from_value_lenient(&mut value)
}

/// How deep serde_json nests before it stops (its default recursion limit, which every
/// JSON read in Caravan keeps): the walks over a [`Value`] here recurse no deeper.
pub const MAX_JSON_DEPTH: usize = 128;

/// A JSON syntax error as a user reads it; nesting past the limit says what the limit is.
fn syntax_error(error: &serde_json::Error) -> String {
    let text = error.to_string();
    if text.starts_with("recursion limit exceeded") {
        return format!(
            "JSON nested more than {MAX_JSON_DEPTH} levels deep (at line {}, column {}); flatten the document",
            error.line(),
            error.column()
        );
    }
    text
}

/// Parses an already-read JSON value as `T`, treating `null` members as absent. The
/// error names the path of the member that did not fit.
pub fn from_value_lenient<T: DeserializeOwned>(value: &mut Value) -> Result<T, String> {
    drop_nulls(value);
    serde_path_to_error::deserialize(&*value).map_err(|e| {
        let path = e.path().to_string();
        if path == "." {
            e.inner().to_string()
        } else {
            format!("{path}: {}", e.inner())
        }
    })
}

/// For a field that keeps JSON as written (a driver's `config`, a policy): reads it
/// with its `null` members dropped, and `null` itself as the field's default, as the
/// lenient reader does with every member it is given; so a body reads the same whether
/// it came straight or through [`from_slice_lenient`]'s lenient way.
/// `#[serde(default, deserialize_with = "caravan_structs::json::without_nulls")]`.
pub fn without_nulls<'de, D, T>(deserializer: D) -> Result<T, D::Error>
where
    D: serde::Deserializer<'de>,
    T: DeserializeOwned + Default,
{
    use serde::Deserialize;
    let mut value = Value::deserialize(deserializer)?;
    if value.is_null() {
        return Ok(T::default());
    }
    drop_nulls(&mut value);
    T::deserialize(value).map_err(serde::de::Error::custom)
}

fn drop_nulls(value: &mut Value) {
    match value {
        Value::Object(map) => {
            map.retain(|_, v| !v.is_null());
            map.values_mut().for_each(drop_nulls);
        }
        Value::Array(items) => items.iter_mut().for_each(drop_nulls),
        _ => {}
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::Job;

    #[test]
    fn nesting_past_the_limit_is_an_error_that_says_so() {
        for body in [
            "[".repeat(100_000),
            format!("{{\"ID\":{}", "{\"a\":".repeat(100_000)),
        ] {
            let error = from_slice_lenient::<Job>(body.as_bytes()).unwrap_err();
            assert!(
                error.contains("nested more than 128 levels deep"),
                "{error}"
            );
        }
    }

    #[test]
    fn null_members_take_defaults() {
        let job: Job = from_slice_lenient(
            br#"{"ID":"x","Constraints":null,"TaskGroups":[{"Name":"g","Count":null,"Tasks":null}]}"#,
        )
        .unwrap();
        assert_eq!(job.id, "x");
        assert_eq!(job.task_groups[0].count, 1);
        assert!(job.task_groups[0].tasks.is_empty());
    }

    #[test]
    fn wrong_type_names_the_field() {
        let err = from_slice_lenient::<Job>(br#"{"ID":"x","TaskGroups":[{"Count":"many"}]}"#)
            .unwrap_err();
        assert!(err.starts_with("TaskGroups[0].Count:"), "{err}");
    }

    #[test]
    fn an_unknown_word_names_the_field_and_the_words_allowed() {
        let err = from_slice_lenient::<Job>(br#"{"ID":"x","Type":"cron"}"#).unwrap_err();
        assert_eq!(
            err,
            "Type: type must be one of service, batch, system, sysbatch; got \"cron\""
        );
        let err =
            from_slice_lenient::<crate::Allocation>(br#"{"ClientStatus":"gone"}"#).unwrap_err();
        assert!(
            err.starts_with("ClientStatus: allocation client status must be one of pending,"),
            "{err}"
        );
        // Unset stays unset: Nomad's empty string, or Go's null.
        let job: Job = from_slice_lenient(br#"{"ID":"x","Type":"","Status":null}"#).unwrap();
        assert_eq!((job.r#type, job.status), (None, None));
        // A registering node may leave its status and eligibility to the servers.
        let node: crate::Node =
            from_slice_lenient(br#"{"ID":"n1","Status":"","SchedulingEligibility":""}"#).unwrap();
        assert_eq!(
            (node.status, node.scheduling_eligibility),
            (
                crate::NodeStatus::Initializing,
                crate::NodeEligibility::Eligible
            )
        );
    }

    #[test]
    fn a_kept_json_value_reads_the_same_with_or_without_other_nulls() {
        // The first body has no other null and is read straight; the second has a null
        // where a number is required and is read the lenient way.
        let task = r#"{"Name":"t","Config":{"command":"sh","args":null,"mount":[{"source":null,"target":"/a"}]}}"#;
        let straight = format!(r#"{{"ID":"x","TaskGroups":[{{"Name":"g","Tasks":[{task}]}}]}}"#);
        let lenient =
            format!(r#"{{"ID":"x","TaskGroups":[{{"Name":"g","Count":null,"Tasks":[{task}]}}]}}"#);
        for body in [straight, lenient] {
            let job: Job = from_slice_lenient(body.as_bytes()).unwrap();
            assert_eq!(
                serde_json::Value::Object(job.task_groups[0].tasks[0].config.clone()),
                serde_json::json!({"command": "sh", "mount": [{"target": "/a"}]}),
                "{body}"
            );
        }
        let job: Job =
            from_slice_lenient(br#"{"ID":"x","TaskGroups":[{"Tasks":[{"Config":null}]}]}"#)
                .unwrap();
        assert!(job.task_groups[0].tasks[0].config.is_empty());
    }

    #[test]
    fn broken_json_is_an_error() {
        assert!(from_slice_lenient::<Job>(br#"{"ID": "#).is_err());
    }
}

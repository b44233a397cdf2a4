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
    fn broken_json_is_an_error() {
        assert!(from_slice_lenient::<Job>(br#"{"ID": "#).is_err());
    }
}

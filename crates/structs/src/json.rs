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
    let mut value: Value = serde_json::from_slice(body).map_err(|e| e.to_string())?;
    from_value_lenient(&mut value)
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

//! `job dispatch`: launch a child of a parameterized job with its own payload and meta.

use std::collections::BTreeMap;

use base64::Engine;
use caravan_api_types::JobDispatchResponse;
use caravan_structs::ids::AsId;
use caravan_structs::{Job, JobId, ParameterizedJobConfig};

use crate::{Server, ServerError};

/// The largest payload a dispatch may carry (Nomad's `DispatchPayloadSizeLimit`).
pub const DISPATCH_PAYLOAD_SIZE_LIMIT: usize = 16 * 1024;

impl Server {
    /// Registers a child of the parameterized job `job_id` (Nomad's `Job.Dispatch`): ID
    /// `<parent>/dispatch-<unix seconds>-<8 hex>` (`<parent>/dispatch-<prefix>-...` with an
    /// ID prefix template), the parent's spec with `meta` merged in and `payload` stored,
    /// and an evaluation.
    pub async fn dispatch_job(
        &self,
        namespace: &str,
        job_id: &(impl AsId<JobId> + ?Sized),
        payload: &[u8],
        meta: BTreeMap<String, String>,
        id_prefix_template: &str,
    ) -> Result<JobDispatchResponse, ServerError> {
        let snapshot = self.snapshot();
        let job_id = job_id.as_id_str();
        let parent = snapshot.job(namespace, job_id).ok_or_else(|| {
            ServerError::Missing(format!("parameterized job {job_id:?} not found"))
        })?;
        let config = match &parent.parameterized_job {
            Some(config) if parent.is_parameterized() => config,
            _ => {
                return Err(ServerError::Invalid(vec![format!(
                    "Specified job {job_id:?} is not a parameterized job; add a parameterized block to dispatch it"
                )]));
            }
        };
        if parent.stop {
            return Err(ServerError::Invalid(vec![format!(
                "Specified job {job_id:?} is stopped; run it again before dispatching"
            )]));
        }
        check_dispatch(config, payload, &meta)?;

        let now = self.now();
        let mut child = Job::clone(&parent);
        child.id = dispatched_id(
            parent.id.as_str(),
            id_prefix_template,
            now / 1_000_000_000,
            &self.id(),
        )
        .into();
        child.parent_id = parent.id.clone();
        child.name = child.id.to_string();
        child.dispatched = true;
        child.parameterized_job = None;
        child.status = None;
        child.status_description = String::new();
        child.meta.extend(meta);
        child.payload = (!payload.is_empty())
            .then(|| base64::engine::general_purpose::STANDARD.encode(payload));
        crate::validate(&child, &self.config.driver_schemas)?;
        let registered = self.commit_job(child.clone(), None).await?;
        Ok(JobDispatchResponse {
            dispatched_job_id: child.id,
            eval_id: registered.eval_id,
            eval_create_index: registered.eval_create_index,
            job_create_index: registered.index,
            index: registered.index,
        })
    }
}

/// Nomad's `DispatchedID`.
fn dispatched_id(parent: &str, prefix: &str, unix_seconds: i64, fresh_id: &str) -> String {
    let suffix = fresh_id.get(..8).unwrap_or(fresh_id);
    if prefix.is_empty() {
        format!("{parent}/dispatch-{unix_seconds}-{suffix}")
    } else {
        format!("{parent}/dispatch-{prefix}-{unix_seconds}-{suffix}")
    }
}

/// Nomad's `validateDispatchRequest`: the payload rule, its size, and the meta keys.
fn check_dispatch(
    config: &ParameterizedJobConfig,
    payload: &[u8],
    meta: &BTreeMap<String, String>,
) -> Result<(), ServerError> {
    let refuse = |message: String| Err(ServerError::Invalid(vec![message]));
    match config.payload.as_str() {
        "required" if payload.is_empty() => {
            return refuse("Payload is not provided but required by parameterized job".into());
        }
        "forbidden" if !payload.is_empty() => {
            return refuse("Payload provided but forbidden by parameterized job".into());
        }
        _ => {}
    }
    if payload.len() > DISPATCH_PAYLOAD_SIZE_LIMIT {
        return refuse(format!(
            "Payload exceeds maximum size; {} > {DISPATCH_PAYLOAD_SIZE_LIMIT}",
            payload.len()
        ));
    }
    let unpermitted: Vec<&str> = meta
        .keys()
        .filter(|k| !config.meta_required.contains(k) && !config.meta_optional.contains(k))
        .map(String::as_str)
        .collect();
    if !unpermitted.is_empty() {
        return refuse(format!(
            "Dispatch request included unpermitted metadata keys: [{}]",
            unpermitted.join(" ")
        ));
    }
    let mut missing: Vec<&str> = config
        .meta_required
        .iter()
        .filter(|k| !meta.contains_key(*k))
        .map(String::as_str)
        .collect();
    missing.sort_unstable();
    if !missing.is_empty() {
        return refuse(format!(
            "Dispatch did not provide required meta keys: [{}]",
            missing.join(" ")
        ));
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn config(payload: &str, required: &[&str], optional: &[&str]) -> ParameterizedJobConfig {
        ParameterizedJobConfig {
            payload: payload.to_string(),
            meta_required: required.iter().map(|s| s.to_string()).collect(),
            meta_optional: optional.iter().map(|s| s.to_string()).collect(),
        }
    }

    fn meta(keys: &[&str]) -> BTreeMap<String, String> {
        keys.iter()
            .map(|k| (k.to_string(), "v".to_string()))
            .collect()
    }

    #[test]
    fn dispatch_rules() {
        let big = vec![b'x'; DISPATCH_PAYLOAD_SIZE_LIMIT + 1];
        for (name, config, payload, keys, want) in [
            (
                "optional, none",
                config("optional", &[], &[]),
                &b""[..],
                &[][..],
                None,
            ),
            (
                "optional, some",
                config("optional", &[], &[]),
                b"hi",
                &[],
                None,
            ),
            (
                "required, none",
                config("required", &[], &[]),
                b"",
                &[],
                Some("Payload is not provided but required by parameterized job"),
            ),
            (
                "forbidden, some",
                config("forbidden", &[], &[]),
                b"hi",
                &[],
                Some("Payload provided but forbidden by parameterized job"),
            ),
            (
                "too big",
                config("optional", &[], &[]),
                &big[..],
                &[],
                Some("Payload exceeds maximum size; 16385 > 16384"),
            ),
            (
                "unknown keys",
                config("optional", &["a"], &["b"]),
                b"",
                &["a", "x", "y"],
                Some("Dispatch request included unpermitted metadata keys: [x y]"),
            ),
            (
                "missing required",
                config("optional", &["z", "a"], &["b"]),
                b"",
                &["b"],
                Some("Dispatch did not provide required meta keys: [a z]"),
            ),
            (
                "required and optional given",
                config("optional", &["a"], &["b"]),
                b"",
                &["a", "b"],
                None,
            ),
        ] {
            let got = check_dispatch(&config, payload, &meta(keys))
                .err()
                .map(|e| e.to_string());
            match want {
                None => assert_eq!(got, None, "{name}"),
                Some(want) => assert!(
                    got.as_deref().is_some_and(|g| g.contains(want)),
                    "{name}: {got:?}"
                ),
            }
        }
    }

    #[test]
    fn dispatched_ids_follow_nomad() {
        let id = dispatched_id("report", "", 1_700_000_000, &crate::new_id());
        let suffix = id.strip_prefix("report/dispatch-1700000000-").unwrap();
        assert_eq!(suffix.len(), 8);
        assert!(suffix.bytes().all(|b| b.is_ascii_hexdigit()));
        assert!(
            dispatched_id("report", "nightly", 5, &crate::new_id())
                .starts_with("report/dispatch-nightly-5-")
        );
    }
}

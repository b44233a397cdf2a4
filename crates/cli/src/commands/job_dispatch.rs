//! `caravan job dispatch` (Nomad's `command/job_dispatch.go`): creates an instance of a
//! parameterized job with an optional payload and metadata, then monitors its
//! evaluation.

use std::collections::BTreeMap;
use std::io::Read;

use base64::Engine;
use caravan_api_types::{JobDispatchRequest, JobDispatchResponse};

use crate::columnize::format_kv;
use crate::commands::lookup;
use crate::flags::{FlagKind, FlagSet};
use crate::meta::{self, limit};
use crate::monitor::monitor_http;

const HELP: &str = "Usage: caravan job dispatch [options] <parameterized job> [input source]

  Dispatch creates an instance of a parameterized job. A data payload to the
  dispatched instance can be provided via stdin by using \"-\" or by specifying a
  path to a file. Metadata can be supplied by using the meta flag one or more
  times.

  An optional idempotency token can be used to prevent more than one instance
  of the job to be dispatched. If an instance with the same token already
  exists, the command returns without any action.

  Upon successful creation, the dispatched job ID will be printed and the
  triggered evaluation will be monitored. This can be disabled by supplying the
  detach flag.

Dispatch Options:

  -meta <key>=<value>
    Meta takes a key/value pair separated by \"=\". The metadata key will be
    merged into the job's metadata. The job may define a default value for the
    key which is overridden when dispatching. The flag can be provided more than
    once to inject multiple metadata key/value pairs. Arbitrary keys are not
    allowed. The parameterized job must allow the key to be merged.

  -detach
    Return immediately instead of entering monitor mode. After job dispatch,
    the evaluation ID will be printed to the screen, which can be used to
    examine the evaluation using the eval-status command.

  -idempotency-token
    Optional identifier used to prevent more than one instance of the job from
    being dispatched.

  -id-prefix-template
    Optional prefix template for dispatched job IDs.

  -verbose
    Display full information.
";

/// Builds the request body; `Err` is Nomad's message for a `-meta` without `=`.
pub fn dispatch_request(
    job_id: &str,
    payload: Option<&[u8]>,
    meta: &[String],
    id_prefix_template: &str,
) -> Result<JobDispatchRequest, String> {
    let mut values = BTreeMap::new();
    for entry in meta {
        let Some((key, value)) = entry.split_once('=') else {
            return Err(format!("Error parsing meta value: {entry}"));
        };
        values.insert(key.to_string(), value.to_string());
    }
    Ok(JobDispatchRequest {
        job_id: job_id.into(),
        payload: payload.map(|bytes| base64::engine::general_purpose::STANDARD.encode(bytes)),
        meta: Some(values),
        id_prefix_template: id_prefix_template.to_string(),
    })
}

/// Nomad's summary: `Dispatched Job ID = ...` and, when an evaluation was created,
/// `Evaluation ID = <id>` (shortened unless `length` is 36).
pub fn render_dispatch(response: &JobDispatchResponse, length: usize) -> String {
    let mut rows = vec![format!("Dispatched Job ID|{}", response.dispatched_job_id)];
    if !response.eval_id.is_empty() {
        rows.push(format!(
            "Evaluation ID|{}",
            limit(&response.eval_id, length)
        ));
    }
    format_kv(&rows)
}

/// The payload from the input argument: a file, or stdin for `-`.
fn read_input(source: &str) -> Result<Vec<u8>, String> {
    let result = if source == "-" {
        let mut bytes = Vec::new();
        std::io::stdin().read_to_end(&mut bytes).map(|_| bytes)
    } else {
        std::fs::read(source)
    };
    result.map_err(|e| {
        let reason = match e.kind() {
            std::io::ErrorKind::NotFound => "no such file or directory".to_string(),
            _ => e.to_string(),
        };
        if source == "-" {
            format!("Error reading input data: {reason}")
        } else {
            format!("Error reading input data: open {source}: {reason}")
        }
    })
}

/// `caravan job dispatch`.
pub fn run(args: &[String]) -> i32 {
    let set = FlagSet::new()
        .bools(&["detach", "verbose"])
        .strings(&["idempotency-token", "id-prefix-template"])
        .flag("meta", FlagKind::List);
    let parsed = match meta::parse(set, args, HELP) {
        Ok(p) => p,
        Err(code) => return code,
    };
    let length = meta::id_length(parsed.bool("verbose"));
    if !(1..=2).contains(&parsed.args.len()) {
        meta::err("This command takes one or two argument: <parameterized job> [input source]");
        meta::err(&meta::help_hint("job dispatch"));
        return 1;
    }
    let payload = match parsed.args.get(1) {
        Some(source) => match read_input(source) {
            Ok(bytes) => Some(bytes),
            Err(message) => {
                meta::err(&message);
                return 1;
            }
        },
        None => None,
    };
    let client = match meta::client(&parsed) {
        Ok(c) => c,
        Err(code) => return code,
    };
    let job_id =
        match lookup::job_id_by_prefix(&client, parsed.args[0].trim(), &|j| j.parameterized_job) {
            Ok(id) => id,
            Err(message) => {
                meta::err(&message);
                return 1;
            }
        };
    let request = match dispatch_request(
        &job_id,
        payload.as_deref(),
        &parsed.list("meta"),
        parsed.string("id-prefix-template").unwrap_or_default(),
    ) {
        Ok(r) => r,
        Err(message) => {
            meta::err(&message);
            return 1;
        }
    };
    let token = parsed.string("idempotency-token").unwrap_or_default();
    let response = match client.run(|api| api.dispatch_job(&job_id, &request, token)) {
        Ok(r) => r,
        Err(e) => {
            meta::err(&format!("Failed to dispatch job: {e}"));
            return 1;
        }
    };
    meta::out(&render_dispatch(&response, length));
    if parsed.bool("detach") || response.eval_id.is_empty() {
        return 0;
    }
    meta::out("");
    monitor_http(&client, &response.eval_id, length)
}

#[cfg(test)]
mod tests {
    use super::*;

    /// name, payload, -meta flags, -id-prefix-template, expected body.
    type BodyCase<'a> = (
        &'a str,
        Option<&'a [u8]>,
        &'a [&'a str],
        &'a str,
        serde_json::Value,
    );

    #[test]
    fn request_bodies() {
        let cases: &[BodyCase] = &[
            (
                "no_input_is_null",
                None,
                &[],
                "",
                serde_json::json!({"JobID": "render", "Payload": null, "Meta": {}, "IdPrefixTemplate": ""}),
            ),
            (
                "payload_base64_and_meta",
                Some(b"hello\n"),
                &["a=1", "b=x=y"],
                "nightly",
                serde_json::json!({
                    "JobID": "render",
                    "Payload": "aGVsbG8K",
                    "Meta": {"a": "1", "b": "x=y"},
                    "IdPrefixTemplate": "nightly"
                }),
            ),
            (
                "empty_input_is_empty_string",
                Some(b""),
                &[],
                "",
                serde_json::json!({"JobID": "render", "Payload": "", "Meta": {}, "IdPrefixTemplate": ""}),
            ),
        ];
        for (name, payload, meta, prefix, want) in cases {
            let meta: Vec<String> = meta.iter().map(|m| m.to_string()).collect();
            let body = dispatch_request("render", *payload, &meta, prefix).unwrap();
            assert_eq!(serde_json::to_value(body).unwrap(), *want, "{name}");
        }
        assert_eq!(
            dispatch_request("render", None, &["novalue".into()], "").unwrap_err(),
            "Error parsing meta value: novalue"
        );
    }

    #[test]
    fn summary() {
        let response = JobDispatchResponse {
            dispatched_job_id: "render/dispatch-1700000000-3b2c1a0f".into(),
            eval_id: "0c6e1b2a-1111-2222-3333-444444444444".into(),
            ..JobDispatchResponse::default()
        };
        assert_eq!(
            render_dispatch(&response, 8),
            "Dispatched Job ID = render/dispatch-1700000000-3b2c1a0f\nEvaluation ID     = 0c6e1b2a"
        );
        assert_eq!(
            render_dispatch(&response, 36),
            "Dispatched Job ID = render/dispatch-1700000000-3b2c1a0f\nEvaluation ID     = 0c6e1b2a-1111-2222-3333-444444444444"
        );
        let no_eval = JobDispatchResponse {
            dispatched_job_id: "p/dispatch-1-a".into(),
            ..JobDispatchResponse::default()
        };
        assert_eq!(
            render_dispatch(&no_eval, 8),
            "Dispatched Job ID = p/dispatch-1-a"
        );
    }

    #[test]
    fn response_shape() {
        let r: JobDispatchResponse = caravan_structs::json::from_slice_lenient(
            br#"{"DispatchedJobID": "p/dispatch-1-a", "EvalID": "e", "EvalCreateIndex": 3, "JobCreateIndex": 4, "Index": 5}"#,
        )
        .unwrap();
        assert_eq!(r.dispatched_job_id, "p/dispatch-1-a");
        assert_eq!(
            (r.eval_create_index, r.job_create_index, r.index),
            (3, 4, 5)
        );
    }

    #[test]
    fn missing_input_file() {
        assert_eq!(
            read_input("/nonexistent/input.txt").unwrap_err(),
            "Error reading input data: open /nonexistent/input.txt: no such file or directory"
        );
    }
}

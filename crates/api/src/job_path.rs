//! Job IDs with slashes in the path. Children of periodic and parameterized jobs have
//! IDs such as `report/dispatch-1700000000-0a1b2c3d`; Nomad's Go client escapes the
//! slash (`%2F`), but Nomad's router also takes them unescaped, reading the action from
//! the end of the path (`/v1/job/report/periodic-1700000000/summary`). Before routing,
//! [`escape_job_id`] rewrites such a path to the escaped form, so that the one router's
//! `/v1/job/{id}/...` routes match and `Path` decodes the ID.

use axum::extract::Request;
use axum::http::Uri;
use axum::http::uri::PathAndQuery;

/// What may follow a job ID in `/v1/job/<id>/<action>`; the longest first where one
/// ends another.
const ACTIONS: &[&str] = &[
    "/periodic/force",
    "/allocations",
    "/evaluations",
    "/summary",
    "/versions",
    "/services",
    "/plan",
    "/revert",
    "/dispatch",
    "/deployments",
    "/deployment",
    "/stable",
    "/evaluate",
    "/scale",
];

const JOB_PREFIX: &str = "/v1/job/";

/// The escaped form of `/v1/job/<id with slashes>[<action>]`, or `None` when the path
/// is something else (then it is routed as it came).
pub fn escaped_path(path: &str) -> Option<String> {
    let rest = path.strip_prefix(JOB_PREFIX)?;
    if rest.ends_with('/') {
        return None;
    }
    let (id, action) = ACTIONS
        .iter()
        .find_map(|action| rest.strip_suffix(action).map(|id| (id, *action)))
        .unwrap_or((rest, ""));
    if !id.contains('/') {
        return None;
    }
    Some(format!("{JOB_PREFIX}{}{action}", id.replace('/', "%2F")))
}

/// Rewrites the request's URI to the escaped form of its job ID, keeping the query.
pub fn escape_job_id(mut request: Request) -> Request {
    let Some(path) = escaped_path(request.uri().path()) else {
        return request;
    };
    let path_and_query = match request.uri().query() {
        Some(query) => format!("{path}?{query}"),
        None => path,
    };
    let mut parts = request.uri().clone().into_parts();
    // The new path is the old one with `/` replaced by `%2F`: still a valid URI.
    if let Ok(path_and_query) = PathAndQuery::try_from(path_and_query) {
        parts.path_and_query = Some(path_and_query);
        if let Ok(uri) = Uri::from_parts(parts) {
            *request.uri_mut() = uri;
        }
    }
    request
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn slashes_in_job_ids_are_escaped() {
        for (path, escaped) in [
            // Plain IDs and what is not a job path are routed as they came.
            ("/v1/job/web", None),
            ("/v1/job/web/summary", None),
            ("/v1/job/web/periodic/force", None),
            ("/v1/jobs", None),
            ("/v1/job/a%2Fb/summary", None),
            ("/v1/job/a/b/", None),
            // Children: the action is read from the end.
            (
                "/v1/job/report/dispatch-1700000000-0a1b2c3d",
                Some("/v1/job/report%2Fdispatch-1700000000-0a1b2c3d"),
            ),
            (
                "/v1/job/report/periodic-1700000000/summary",
                Some("/v1/job/report%2Fperiodic-1700000000/summary"),
            ),
            (
                "/v1/job/report/periodic-1700000000/periodic/force",
                Some("/v1/job/report%2Fperiodic-1700000000/periodic/force"),
            ),
            ("/v1/job/a/b/dispatch", Some("/v1/job/a%2Fb/dispatch")),
            ("/v1/job/a/b/scale", Some("/v1/job/a%2Fb/scale")),
            // No known action: all of it is the ID.
            ("/v1/job/web/periodic", Some("/v1/job/web%2Fperiodic")),
            ("/v1/job/a/b/c", Some("/v1/job/a%2Fb%2Fc")),
        ] {
            assert_eq!(escaped_path(path).as_deref(), escaped, "{path}");
        }
    }

    #[test]
    fn the_query_is_kept() {
        let request = Request::builder()
            .uri("/v1/job/report/periodic-1/allocations?all=true&namespace=x")
            .body(axum::body::Body::empty())
            .unwrap();
        let request = escape_job_id(request);
        assert_eq!(
            request.uri(),
            "/v1/job/report%2Fperiodic-1/allocations?all=true&namespace=x"
        );
    }
}

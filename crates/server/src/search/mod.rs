//! `/v1/search` and `/v1/search/fuzzy` (Nomad's `Search.PrefixSearch` and
//! `Search.FuzzySearch`): pure functions of a snapshot, the caller's ACL, a namespace
//! and the search, table-tested.
//!
//! Prefix search answers, per context, up to 20 IDs that start with the prefix; for the
//! contexts whose IDs are UUIDs an odd-length prefix is cut to even length (hyphens not
//! counted), and a prefix that is not hex leaves the context out, as Nomad's UUID index
//! does. Fuzzy search looks for the text anywhere in names, case-insensitively, and
//! ranks matches by where it is found, then by length, then alphabetically.

mod fuzzy;
#[cfg(test)]
mod tests;

use std::collections::BTreeMap;

use caravan_acl::Acl;
use caravan_state::Snapshot;
use serde::Serialize;

pub use fuzzy::{FuzzyMatch, FuzzyResults, fuzzy_search};

/// Nomad's `truncateLimit`: prefix search answers at most this many IDs per context.
pub const PREFIX_LIMIT: usize = 20;

/// The agent's `server { search { ... } }` block, with Nomad's defaults.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct SearchConfig {
    /// Whether `/v1/search/fuzzy` answers at all.
    pub fuzzy_enabled: bool,
    /// How many objects of each context a fuzzy search looks at.
    pub limit_query: usize,
    /// How many matches of each context a fuzzy search answers.
    pub limit_results: usize,
    /// The shortest text a fuzzy search takes.
    pub min_term_length: usize,
}

impl Default for SearchConfig {
    fn default() -> SearchConfig {
        SearchConfig {
            fuzzy_enabled: true,
            limit_query: 20,
            limit_results: 100,
            min_term_length: 2,
        }
    }
}

/// What a search looks through: Nomad's context names.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
pub enum SearchContext {
    Allocs,
    Deployments,
    Evals,
    Jobs,
    Nodes,
    Namespaces,
    ScalingPolicies,
    Plugins,
    Variables,
    Volumes,
    All,
}

/// Every context but `all`, in the order `all` searches them.
const EVERY_CONTEXT: [SearchContext; 10] = [
    SearchContext::Allocs,
    SearchContext::Jobs,
    SearchContext::Nodes,
    SearchContext::Evals,
    SearchContext::Deployments,
    SearchContext::Plugins,
    SearchContext::Volumes,
    SearchContext::ScalingPolicies,
    SearchContext::Variables,
    SearchContext::Namespaces,
];

impl SearchContext {
    /// Nomad's name, in requests and as the key of answers.
    pub fn name(self) -> &'static str {
        match self {
            SearchContext::Allocs => "allocs",
            SearchContext::Deployments => "deployment",
            SearchContext::Evals => "evals",
            SearchContext::Jobs => "jobs",
            SearchContext::Nodes => "nodes",
            SearchContext::Namespaces => "namespaces",
            SearchContext::ScalingPolicies => "scaling_policy",
            SearchContext::Plugins => "plugins",
            SearchContext::Variables => "vars",
            SearchContext::Volumes => "volumes",
            SearchContext::All => "all",
        }
    }

    /// The context named `name`, or the 400 that lists the names.
    pub fn parse(name: &str) -> Result<SearchContext, SearchError> {
        EVERY_CONTEXT
            .iter()
            .chain([&SearchContext::All])
            .find(|c| c.name() == name)
            .copied()
            .ok_or_else(|| {
                let names: Vec<&str> = EVERY_CONTEXT.iter().map(|c| c.name()).collect();
                SearchError::BadRequest(format!(
                    "invalid context {name:?}: Context must be all or one of {}",
                    names.join(", ")
                ))
            })
    }

    fn expand(self) -> Vec<SearchContext> {
        match self {
            SearchContext::All => EVERY_CONTEXT.to_vec(),
            one => vec![one],
        }
    }

    /// Whether its IDs are UUIDs (searched by an even-length hex prefix).
    fn uuid_ids(self) -> bool {
        matches!(
            self,
            SearchContext::Allocs
                | SearchContext::Deployments
                | SearchContext::Evals
                | SearchContext::Nodes
                | SearchContext::ScalingPolicies
        )
    }

    /// Whether the caller may search it in `namespace` at all (Nomad's
    /// `sufficientSearchPerms`). In every namespace (`*`) each object is checked instead.
    fn permitted(self, acl: &Acl, namespace: &str) -> bool {
        let every_namespace = namespace == "*";
        match self {
            SearchContext::Allocs
            | SearchContext::Deployments
            | SearchContext::Evals
            | SearchContext::Jobs
            | SearchContext::ScalingPolicies
            | SearchContext::Volumes
                if every_namespace =>
            {
                true
            }
            SearchContext::Nodes => acl.allow_node_read(),
            SearchContext::Namespaces | SearchContext::Variables => acl.allow_namespace(namespace),
            SearchContext::Allocs
            | SearchContext::Deployments
            | SearchContext::Evals
            | SearchContext::Jobs => acl.allow_namespace_operation(namespace, "read-job"),
            SearchContext::ScalingPolicies => {
                acl.allow_namespace_operation(namespace, "read-job")
                    || acl.allow_namespace_operation(namespace, "list-scaling-policies")
            }
            SearchContext::Volumes => [
                "csi-list-volume",
                "csi-read-volume",
                "list-jobs",
                "read-job",
            ]
            .iter()
            .any(|c| acl.allow_namespace_operation(namespace, c)),
            SearchContext::Plugins => acl.allow_plugin_list(),
            SearchContext::All => true,
        }
    }
}

/// Why a search is refused.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum SearchError {
    /// A 400: the message says what to fix.
    #[error("{0}")]
    BadRequest(String),
    /// A 403: the caller may not search the context it named.
    #[error("Permission denied")]
    PermissionDenied,
}

/// What a prefix search answers, by context name.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize)]
#[serde(rename_all = "PascalCase")]
pub struct PrefixResults {
    pub matches: BTreeMap<&'static str, Vec<String>>,
    pub truncations: BTreeMap<&'static str, bool>,
}

/// The contexts of `context` the caller may search in `namespace`; a context named
/// alone that it may not is a 403, as in Nomad (`all` only leaves such contexts out).
fn permitted_contexts(
    acl: &Acl,
    namespace: &str,
    context: SearchContext,
) -> Result<Vec<SearchContext>, SearchError> {
    if !acl.is_management() && !context.permitted(acl, namespace) {
        return Err(SearchError::PermissionDenied);
    }
    Ok(context
        .expand()
        .into_iter()
        .filter(|c| acl.is_management() || c.permitted(acl, namespace))
        .collect())
}

/// `POST /v1/search`.
pub fn prefix_search(
    snapshot: &Snapshot,
    acl: &Acl,
    namespace: &str,
    prefix: &str,
    context: SearchContext,
) -> Result<PrefixResults, SearchError> {
    let contexts = permitted_contexts(acl, namespace, context)?;
    Ok(prefix_matches(snapshot, acl, namespace, prefix, &contexts))
}

/// Up to [`PREFIX_LIMIT`] IDs per context, and whether there were more.
fn prefix_matches(
    snapshot: &Snapshot,
    acl: &Acl,
    namespace: &str,
    prefix: &str,
    contexts: &[SearchContext],
) -> PrefixResults {
    let mut results = PrefixResults::default();
    for &context in contexts {
        let prefix = if context.uuid_ids() {
            match uuid_prefix(prefix) {
                Some(prefix) => prefix,
                // Nomad's UUID index refuses it; the context is left out.
                None => continue,
            }
        } else {
            prefix
        };
        let ids = ids_with_prefix(snapshot, acl, namespace, prefix, context);
        let truncated = ids.len() > PREFIX_LIMIT;
        results
            .matches
            .insert(context.name(), ids.into_iter().take(PREFIX_LIMIT).collect());
        results.truncations.insert(context.name(), truncated);
    }
    results
}

/// In the namespace searched (`*`: every one), and readable by the caller.
fn visible(acl: &Acl, namespace: &str, object_namespace: &str) -> bool {
    (namespace == "*" || namespace == object_namespace)
        && acl.allow_namespace_operation(object_namespace, "read-job")
}

/// The IDs of `context` that start with `prefix`, in ID order, one more than the limit
/// at most (to tell a truncation).
fn ids_with_prefix(
    snapshot: &Snapshot,
    acl: &Acl,
    namespace: &str,
    prefix: &str,
    context: SearchContext,
) -> Vec<String> {
    let enough = PREFIX_LIMIT + 1;
    match context {
        SearchContext::Jobs => snapshot
            .all_jobs()
            .filter(|j| j.id.as_str().starts_with(prefix) && visible(acl, namespace, &j.namespace))
            .map(|j| j.id.as_str().to_string())
            .take(enough)
            .collect(),
        SearchContext::Allocs => snapshot
            .allocs_by_prefix(prefix)
            .iter()
            .filter(|a| visible(acl, namespace, &a.namespace))
            .map(|a| a.id.as_str().to_string())
            .take(enough)
            .collect(),
        SearchContext::Evals => snapshot
            .evals_by_prefix(prefix)
            .iter()
            .filter(|e| visible(acl, namespace, &e.namespace))
            .map(|e| e.id.as_str().to_string())
            .take(enough)
            .collect(),
        SearchContext::Deployments => snapshot
            .deployments_by_prefix(prefix)
            .iter()
            .filter(|d| visible(acl, namespace, &d.namespace))
            .map(|d| d.id.as_str().to_string())
            .take(enough)
            .collect(),
        SearchContext::Nodes => snapshot
            .nodes_by_prefix(prefix)
            .iter()
            .map(|n| n.id.as_str().to_string())
            .take(enough)
            .collect(),
        SearchContext::Namespaces => snapshot
            .namespaces()
            .iter()
            .filter(|n| n.name.starts_with(prefix) && acl.allow_namespace(&n.name))
            .map(|n| n.name.clone())
            .take(enough)
            .collect(),
        SearchContext::ScalingPolicies => snapshot
            .scaling_policies_by_prefix(prefix)
            .iter()
            .filter(|p| visible(acl, namespace, &p.namespace))
            .map(|p| p.id.clone())
            .take(enough)
            .collect(),
        SearchContext::Variables => variable_paths_with_prefix(snapshot, acl, namespace, prefix)
            .into_iter()
            .take(enough)
            .collect(),
        // Caravan has no CSI plugins or volumes: nothing to find, truly.
        SearchContext::Plugins | SearchContext::Volumes | SearchContext::All => Vec::new(),
    }
}

/// The paths of the variables in `namespace` (`*`: every one) that start with `prefix`
/// and that the caller may list, as Nomad's search answers them.
pub(crate) fn variable_paths_with_prefix(
    snapshot: &Snapshot,
    acl: &Acl,
    namespace: &str,
    prefix: &str,
) -> Vec<String> {
    snapshot
        .variables_by_prefix(namespace, prefix)
        .iter()
        .filter(|v| acl.allow_variable_operation(&v.namespace, &v.path, "list"))
        .map(|v| v.path.clone())
        .collect()
}

/// A UUID prefix as Nomad's index takes it: cut to an even number of hex digits
/// (hyphens not counted); `None` when it is not hex.
fn uuid_prefix(prefix: &str) -> Option<&str> {
    if !prefix.chars().all(|c| c.is_ascii_hexdigit() || c == '-') {
        return None;
    }
    let digits = prefix.chars().filter(|c| *c != '-').count();
    if digits % 2 == 0 {
        Some(prefix)
    } else {
        Some(&prefix[..prefix.len() - 1])
    }
}

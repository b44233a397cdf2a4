//! Fuzzy search: the text anywhere in a name, ignoring case. A job is searched through
//! its name and its groups', tasks', services' names and its tasks' commands and images;
//! each match says where it is (`Scope`: the namespace, then the job, group and task).

use std::collections::BTreeMap;

use caravan_acl::Acl;
use caravan_state::Snapshot;
use caravan_structs::Job;
use serde::Serialize;

use super::{
    SearchConfig, SearchContext, SearchError, permitted_contexts, prefix_matches, visible,
};

/// One match: the name found, and the IDs of what holds it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct FuzzyMatch {
    #[serde(rename = "ID")]
    pub id: String,
    /// `None` (JSON `null`) where Nomad has no scope: namespaces, UUID prefix matches.
    #[serde(rename = "Scope")]
    pub scope: Option<Vec<String>>,
}

/// What a fuzzy search answers, by context name (`jobs`, `groups`, `tasks`,
/// `services`, `commands`, `images`, `nodes`, `allocs`, ...).
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize)]
#[serde(rename_all = "PascalCase")]
pub struct FuzzyResults {
    pub matches: BTreeMap<&'static str, Vec<FuzzyMatch>>,
    pub truncations: BTreeMap<&'static str, bool>,
}

/// A match with its rank: where the text was found.
#[derive(Clone)]
struct Ranked {
    position: usize,
    found: FuzzyMatch,
}

/// `POST /v1/search/fuzzy`. `prefix` (the request's `?prefix=`) is what the contexts
/// searched by UUID prefix (evaluations, deployments, scaling policies, volumes) are
/// searched with, as in Nomad.
pub fn fuzzy_search(
    snapshot: &Snapshot,
    acl: &Acl,
    config: &SearchConfig,
    namespace: &str,
    text: &str,
    prefix: &str,
    context: SearchContext,
) -> Result<FuzzyResults, SearchError> {
    // Nomad: with namespace `*` each object is checked instead of the context.
    let contexts = if namespace == "*" {
        context.expand()
    } else {
        permitted_contexts(acl, namespace, context)?
    };
    if !config.fuzzy_enabled {
        return Err(SearchError::BadRequest(
            "fuzzy search is not enabled: set server { search { fuzzy_enabled = true } }".into(),
        ));
    }
    if text.len() < config.min_term_length {
        return Err(SearchError::BadRequest(format!(
            "fuzzy search query must be at least {} characters, got {}",
            config.min_term_length,
            text.len()
        )));
    }
    let text = text.to_lowercase();
    let by_prefix: Vec<SearchContext> = contexts
        .iter()
        .copied()
        .filter(|c| {
            matches!(
                c,
                SearchContext::Evals
                    | SearchContext::Deployments
                    | SearchContext::ScalingPolicies
                    | SearchContext::Volumes
            )
        })
        .collect();
    let prefixed = prefix_matches(snapshot, acl, namespace, prefix, &by_prefix);
    let mut results = FuzzyResults {
        truncations: prefixed.truncations,
        ..FuzzyResults::default()
    };
    for (context, ids) in prefixed.matches {
        let found = ids
            .into_iter()
            .map(|id| FuzzyMatch { id, scope: None })
            .collect();
        results.matches.insert(context, found);
    }
    let mut accumulator = Accumulator::new(config);
    for context in contexts {
        match context {
            SearchContext::Jobs => {
                let jobs = snapshot
                    .all_jobs()
                    .filter(|j| visible(acl, namespace, &j.namespace));
                accumulator.scan(jobs, |job| job_matches(job, &text));
            }
            SearchContext::Allocs => {
                let allocs = snapshot
                    .all_allocs()
                    .filter(|a| visible(acl, namespace, &a.namespace));
                accumulator.scan(allocs, |alloc| {
                    single(
                        "allocs",
                        &alloc.name,
                        &text,
                        Some(vec![alloc.namespace.clone(), alloc.id.as_str().to_string()]),
                    )
                });
            }
            SearchContext::Nodes if acl.allow_node_read() => {
                accumulator.scan(snapshot.all_nodes(), |node| {
                    single(
                        "nodes",
                        &node.name,
                        &text,
                        Some(vec![node.id.as_str().to_string()]),
                    )
                });
            }
            SearchContext::Namespaces => {
                let namespaces = snapshot.namespaces();
                let visible = namespaces.iter().filter(|n| acl.allow_namespace(&n.name));
                accumulator.scan(visible, |n| single("namespaces", &n.name, &text, None));
            }
            SearchContext::Variables => {
                accumulator.scan(
                    variable_matches(snapshot, acl, namespace, &text).iter(),
                    |m| vec![("vars", Ranked::clone(m))],
                );
            }
            // No CSI plugins in Caravan; the rest are searched by prefix above.
            _ => {}
        }
    }
    let (matches, truncations) = accumulator.finish();
    for (context, found) in matches {
        results.truncations.entry(context).or_insert(false);
        results.matches.insert(context, found);
    }
    results.truncations.extend(truncations);
    Ok(results)
}

/// The variables of `namespace` (`*`: every one) the caller may list whose path holds
/// `text`, scoped by namespace and path as Nomad scopes them.
fn variable_matches(snapshot: &Snapshot, acl: &Acl, namespace: &str, text: &str) -> Vec<Ranked> {
    snapshot
        .variables_by_prefix(namespace, "")
        .iter()
        .filter(|v| acl.allow_variable_operation(&v.namespace, &v.path, "list"))
        .filter_map(|v| {
            v.path.to_lowercase().find(text).map(|position| Ranked {
                position,
                found: FuzzyMatch {
                    id: v.path.clone(),
                    scope: Some(vec![v.namespace.clone(), v.path.clone()]),
                },
            })
        })
        .collect()
}

/// A match of `name` in `context`, if `text` is in it.
fn single(
    context: &'static str,
    name: &str,
    text: &str,
    scope: Option<Vec<String>>,
) -> Vec<(&'static str, Ranked)> {
    name.to_lowercase()
        .find(text)
        .map(|position| {
            (
                context,
                Ranked {
                    position,
                    found: FuzzyMatch {
                        id: name.to_string(),
                        scope,
                    },
                },
            )
        })
        .into_iter()
        .collect()
}

/// Everything in a job that matches: its name, groups, tasks, services, and its tasks'
/// commands (exec, raw_exec), images (docker) and classes (java).
fn job_matches(job: &Job, text: &str) -> Vec<(&'static str, Ranked)> {
    let scope = |more: &[&str]| {
        let mut scope = vec![job.namespace.clone(), job.id.as_str().to_string()];
        scope.extend(more.iter().map(|s| s.to_string()));
        Some(scope)
    };
    let mut found = single("jobs", &job.name, text, scope(&[]));
    for group in &job.task_groups {
        found.extend(single("groups", &group.name, text, scope(&[])));
        for service in &group.services {
            found.extend(single(
                "services",
                &service.name,
                text,
                scope(&[&group.name]),
            ));
        }
        for task in &group.tasks {
            found.extend(single("tasks", &task.name, text, scope(&[&group.name])));
            let in_task = scope(&[&group.name, &task.name]);
            for service in &task.services {
                found.extend(single("services", &service.name, text, in_task.clone()));
            }
            let (context, key) = match task.driver.as_str() {
                "docker" => ("images", "image"),
                "exec" | "raw_exec" => ("commands", "command"),
                "java" => ("classes", "class"),
                _ => continue,
            };
            if let Some(value) = task.config.get(key).and_then(|v| v.as_str()) {
                found.extend(single(context, value, text, in_task));
            }
        }
    }
    found
}

/// Matches per context, within Nomad's limits: at most `limit_query` objects of a
/// context are looked at and `limit_results` matches kept; either limit reached with
/// more left marks the context truncated.
struct Accumulator {
    limit_query: usize,
    limit_results: usize,
    found: BTreeMap<&'static str, Vec<Ranked>>,
    truncated: BTreeMap<&'static str, bool>,
}

impl Accumulator {
    fn new(config: &SearchConfig) -> Accumulator {
        Accumulator {
            limit_query: config.limit_query,
            limit_results: config.limit_results,
            found: BTreeMap::new(),
            truncated: BTreeMap::new(),
        }
    }

    fn scan<T>(
        &mut self,
        objects: impl Iterator<Item = T>,
        matches_of: impl Fn(&T) -> Vec<(&'static str, Ranked)>,
    ) {
        let mut objects = objects.peekable();
        let mut looked_at = 0;
        while let Some(object) = objects.next() {
            looked_at += 1;
            let more_left = looked_at == self.limit_query && objects.peek().is_some();
            for (context, ranked) in matches_of(&object) {
                let kept = self.found.entry(context).or_default();
                if kept.len() >= self.limit_results || more_left {
                    self.truncated.insert(context, true);
                }
                if kept.len() < self.limit_results {
                    kept.push(ranked);
                }
            }
            if looked_at >= self.limit_query {
                break;
            }
        }
    }

    /// Best first: where the text was found, then the shorter name, then by name.
    fn finish(
        self,
    ) -> (
        BTreeMap<&'static str, Vec<FuzzyMatch>>,
        BTreeMap<&'static str, bool>,
    ) {
        let matches = self
            .found
            .into_iter()
            .map(|(context, mut ranked)| {
                ranked.sort_by(|a, b| {
                    (a.position, a.found.id.len(), &a.found.id).cmp(&(
                        b.position,
                        b.found.id.len(),
                        &b.found.id,
                    ))
                });
                (context, ranked.into_iter().map(|r| r.found).collect())
            })
            .collect();
        (matches, self.truncated)
    }
}

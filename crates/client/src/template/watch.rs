//! Templates that read Nomad's service catalogue or its variables: their first render
//! fetches what they ask for, and while the task runs a watcher keeps a blocking query
//! open on each service and variable they read. When one changes, every template renders again; a template whose
//! output changed is written and its `change_mode` applied (consul-template's runner,
//! for the one data source Caravan has).

use std::collections::{BTreeMap, BTreeSet};
use std::path::PathBuf;
use std::sync::Arc;
use std::time::Duration;

use caravan_structs::Template;
use tokio::sync::mpsc;
use tokio::task::JoinSet;

use super::services::{CatalogAnswer, CatalogQuery};
use super::{CatalogData, Rendered, TaskDirs, TemplateError, env_vars, render_templates};
use crate::Workload;
use crate::checks::{TaskAction, TaskActionKind};
use crate::services::ServiceCatalog;

/// How many times a render may discover services it had not fetched (a template that
/// asks for a service only once another one's data is there).
const MAX_FETCH_ROUNDS: usize = 8;

/// What a task's templates need to render and be watched.
#[derive(Clone)]
pub struct TemplateContext {
    pub templates: Vec<Template>,
    pub env: BTreeMap<String, String>,
    pub task_dir: PathBuf,
    pub alloc_dir: PathBuf,
    /// The allocation's namespace: `nomadService` reads services there.
    pub namespace: String,
    /// The task, as the servers check its variable reads.
    pub workload: Workload,
    pub catalog: Option<Arc<dyn ServiceCatalog>>,
}

/// The catalogue's answers a render read, with the index each was read at.
pub type Fetched = BTreeMap<CatalogQuery, (CatalogAnswer, u64)>;

impl TemplateContext {
    /// Renders every template in a blocking thread with `fetched`, answering the output
    /// and the services the templates asked for.
    async fn render(
        &self,
        fetched: &Fetched,
    ) -> Result<(Vec<Rendered>, BTreeSet<CatalogQuery>), TemplateError> {
        let context = self.clone();
        let known = fetched
            .iter()
            .map(|(query, (answer, _))| (query.clone(), answer.clone()))
            .collect();
        tokio::task::spawn_blocking(move || {
            let data = CatalogData::new(known);
            let dirs = TaskDirs {
                task_dir: &context.task_dir,
                alloc_dir: &context.alloc_dir,
            };
            let rendered = render_templates(&context.templates, &context.env, &dirs, &data)?;
            Ok((rendered, data.wanted()))
        })
        .await
        .unwrap_or_else(|error| {
            Err(TemplateError {
                template: "(all)".into(),
                message: error.to_string(),
            })
        })
    }

    /// Renders with every service the templates ask for fetched, fetching more as
    /// they ask.
    async fn render_fetching(
        &self,
        fetched: &mut Fetched,
    ) -> Result<(Vec<Rendered>, BTreeSet<CatalogQuery>), TemplateError> {
        for _ in 0..MAX_FETCH_ROUNDS {
            let (rendered, wanted) = self.render(fetched).await?;
            let missing: Vec<CatalogQuery> = wanted
                .iter()
                .filter(|query| !fetched.contains_key(*query))
                .cloned()
                .collect();
            if missing.is_empty() {
                return Ok((rendered, wanted));
            }
            let Some(catalog) = &self.catalog else {
                return Ok((rendered, wanted));
            };
            for query in missing {
                let answer = ask(catalog.as_ref(), &self.namespace, &self.workload, &query, 0)
                    .await
                    .map_err(|error| query_error(&query, error))?;
                fetched.insert(query, answer);
            }
        }
        self.render(fetched).await
    }

    /// The first render: files written, the `env = true` variables answered, and what
    /// the watcher starts from.
    pub async fn first_render(
        &self,
    ) -> Result<(BTreeMap<String, String>, Option<Watch>), TemplateError> {
        let mut fetched = Fetched::new();
        let (rendered, wanted) = self.render_fetching(&mut fetched).await?;
        self.write(rendered.clone()).await?;
        let vars = env_vars(&rendered)?;
        let watch = (!wanted.is_empty() && self.catalog.is_some()).then(|| Watch {
            context: self.clone(),
            fetched,
            last: rendered.into_iter().map(|r| r.contents).collect(),
        });
        Ok((vars, watch))
    }

    async fn write(&self, rendered: Vec<Rendered>) -> Result<(), TemplateError> {
        let (task_dir, alloc_dir) = (self.task_dir.clone(), self.alloc_dir.clone());
        tokio::task::spawn_blocking(move || {
            let dirs = TaskDirs {
                task_dir: &task_dir,
                alloc_dir: &alloc_dir,
            };
            rendered.iter().try_for_each(|r| r.write(&dirs))
        })
        .await
        .unwrap_or_else(|error| {
            Err(TemplateError {
                template: "(all)".into(),
                message: error.to_string(),
            })
        })
    }
}

/// A task's templates being watched.
pub struct Watch {
    context: TemplateContext,
    fetched: Fetched,
    /// Each template's last output, in order.
    last: Vec<String>,
}

impl Watch {
    /// Watches until aborted: re-renders on every change of a service the templates
    /// read, writes what changed and asks for the task's restart or signal.
    pub async fn run(mut self, task: String, actions: mpsc::UnboundedSender<TaskAction>) {
        let Some(catalog) = self.context.catalog.clone() else {
            return;
        };
        let (changes, mut changed) = mpsc::unbounded_channel();
        // Owned here: aborting the watcher stops its queries.
        let mut queries = JoinSet::new();
        let mut watched = BTreeSet::new();
        loop {
            for (query, (answer, index)) in &self.fetched {
                if watched.insert(query.clone()) {
                    queries.spawn(watch_query(
                        catalog.clone(),
                        (
                            self.context.namespace.clone(),
                            self.context.workload.clone(),
                        ),
                        query.clone(),
                        answer.clone(),
                        *index,
                        changes.clone(),
                    ));
                }
            }
            let Some((query, update)) = changed.recv().await else {
                return;
            };
            self.fetched.insert(query, update);
            // `wait { min max }`: let a burst of changes settle before rendering.
            let settle = quiescence(&self.context.templates);
            if let Some((min, max)) = settle {
                let started = tokio::time::Instant::now();
                loop {
                    tokio::time::sleep(min).await;
                    let mut more = false;
                    while let Ok((name, update)) = changed.try_recv() {
                        self.fetched.insert(name, update);
                        more = true;
                    }
                    if !more || started.elapsed() >= max {
                        break;
                    }
                }
            }
            let rendered = match self.context.render_fetching(&mut self.fetched).await {
                Ok((rendered, _)) => rendered,
                Err(error) => {
                    tracing::warn!(%task, %error, "template re-render failed");
                    continue;
                }
            };
            let mut changed_templates: Vec<(Rendered, Template)> = Vec::new();
            let templates = self.context.templates.iter();
            for (i, (rendered, template)) in rendered.into_iter().zip(templates).enumerate() {
                if self.last.get(i) == Some(&rendered.contents) {
                    continue;
                }
                if let Some(slot) = self.last.get_mut(i) {
                    *slot = rendered.contents.clone();
                }
                changed_templates.push((rendered, template.clone()));
            }
            if changed_templates.is_empty() {
                continue;
            }
            let written: Vec<Rendered> = changed_templates.iter().map(|(r, _)| r.clone()).collect();
            if let Err(error) = self.context.write(written).await {
                tracing::warn!(%task, %error, "writing a re-rendered template failed");
                continue;
            }
            apply_change_modes(&task, &changed_templates, &actions).await;
        }
    }
}

/// The longest `wait { min max }` among the templates, if any sets one.
fn quiescence(templates: &[Template]) -> Option<(Duration, Duration)> {
    let nanos = |n: Option<i64>| Duration::from_nanos(n.unwrap_or(0).max(0) as u64);
    templates
        .iter()
        .filter_map(|t| t.wait.as_ref())
        .map(|w| {
            let min = nanos(w.min);
            (min, nanos(w.max).max(min))
        })
        .filter(|(min, _)| !min.is_zero())
        .max()
}

/// Nomad's template manager: a restart wins over signals; either waits a random part of
/// the largest `splay` first. `noop` templates are only written.
async fn apply_change_modes(
    task: &str,
    changed: &[(Rendered, Template)],
    actions: &mpsc::UnboundedSender<TaskAction>,
) {
    let mode = |t: &Template| t.change_mode.clone().unwrap_or_else(|| "restart".into());
    let restart = changed.iter().any(|(_, t)| mode(t) == "restart");
    let signals: BTreeSet<String> = changed
        .iter()
        .filter(|(_, t)| mode(t) == "signal")
        .filter_map(|(_, t)| t.change_signal.clone().filter(|s| !s.is_empty()))
        .collect();
    if !restart && signals.is_empty() {
        return;
    }
    let splay = changed
        .iter()
        .filter_map(|(_, t)| t.splay)
        .max()
        .unwrap_or(0)
        .max(0);
    if splay > 0 {
        let delay = (splay as f64 * crate::random_fraction()) as u64;
        tokio::time::sleep(Duration::from_nanos(delay)).await;
    }
    if restart {
        let reason = "Template with change_mode restart re-rendered";
        let mut event = crate::task_runner::event("Restart Signaled", reason);
        event.restart_reason = reason.to_string();
        let _ = actions.send(TaskAction {
            task: task.to_string(),
            kind: TaskActionKind::Restart(event),
        });
        return;
    }
    for signal in signals {
        let Some(parsed) = caravan_drivers::process::parse_signal(&signal) else {
            tracing::warn!(%task, %signal, "template change_signal is not a signal");
            continue;
        };
        // Nomad's `Signaling` event, with the signal's number.
        let mut event = crate::task_runner::event("Signaling", "Template re-rendered");
        event.signal = parsed as i64;
        let _ = actions.send(TaskAction {
            task: task.to_string(),
            kind: TaskActionKind::Signal(parsed, event),
        });
    }
}

/// Why a first render could not read what a template asks for.
fn query_error(query: &CatalogQuery, error: crate::RpcError) -> TemplateError {
    let (template, what) = match query {
        CatalogQuery::Instances(_) | CatalogQuery::All => {
            ("(nomadService)", "the service catalogue".to_string())
        }
        CatalogQuery::Variable(path) => ("(nomadVar)", format!("variable {path:?}")),
        CatalogQuery::Variables(prefix) => {
            ("(nomadVarList)", format!("the variables under {prefix:?}"))
        }
    };
    TemplateError {
        template: template.into(),
        message: format!("failed to read {what}: {error}"),
    }
}

/// Asks the servers one query, once its index passes `min_index`.
async fn ask(
    catalog: &dyn ServiceCatalog,
    namespace: &str,
    workload: &Workload,
    query: &CatalogQuery,
    min_index: u64,
) -> Result<(CatalogAnswer, u64), crate::RpcError> {
    match query {
        CatalogQuery::Variable(path) => catalog
            .variable(workload, path, min_index)
            .await
            .map(|(variable, index)| (CatalogAnswer::Variable(variable), index)),
        CatalogQuery::Variables(prefix) => catalog
            .variables(workload, prefix, min_index)
            .await
            .map(|(listed, index)| (CatalogAnswer::Variables(listed), index)),
        CatalogQuery::Instances(name) => catalog
            .registrations(namespace, name, min_index)
            .await
            .map(|(services, index)| (CatalogAnswer::Instances(services), index)),
        CatalogQuery::All => catalog
            .list(namespace, min_index)
            .await
            .map(|(services, index)| (CatalogAnswer::All(services), index)),
    }
}

/// Keeps a blocking query open on one query of the catalogue and reports each change
/// of its answer.
async fn watch_query(
    catalog: Arc<dyn ServiceCatalog>,
    (namespace, workload): (String, Workload),
    query: CatalogQuery,
    mut last: CatalogAnswer,
    mut index: u64,
    changes: mpsc::UnboundedSender<(CatalogQuery, (CatalogAnswer, u64))>,
) {
    let mut backoff = Duration::from_millis(250);
    loop {
        match ask(
            catalog.as_ref(),
            &namespace,
            &workload,
            &query,
            index.max(1),
        )
        .await
        {
            Ok((answer, new_index)) => {
                backoff = Duration::from_millis(250);
                if new_index <= index {
                    continue;
                }
                index = new_index;
                if answer != last {
                    last = answer.clone();
                    if changes.send((query.clone(), (answer, index))).is_err() {
                        return;
                    }
                }
            }
            Err(error) => {
                tracing::debug!(?query, %error, "template service query failed, retrying");
                tokio::time::sleep(backoff).await;
                backoff = (backoff * 2).min(Duration::from_secs(10));
            }
        }
    }
}

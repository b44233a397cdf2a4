//! What templates read from the servers: Nomad's own service catalogue (`nomadService`,
//! `nomadServices`) and variables (`nomadVar`..., in `variables.rs`). Rendering is pure,
//! so the data is fetched beforehand: a render records every query it made
//! ([`CatalogData::wanted`]); the caller fetches what it did not have and renders
//! again, and watches those queries afterwards.

use std::collections::{BTreeMap, BTreeSet};
use std::sync::Mutex;

use caravan_gotemplate::Value;
use caravan_structs::{
    ServiceRegistration, ServiceRegistrationListStub, Variable, VariableMetadata,
};
use sha2::Digest;

/// What a template asks of the servers, in the task's namespace.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord)]
pub enum CatalogQuery {
    /// One service's instances (`nomadService`).
    Instances(String),
    /// Every service with its tags (`nomadServices`).
    All,
    /// The variable at a path (`nomadVar`, `nomadVarExists`).
    Variable(String),
    /// The variables under a prefix (`nomadVarList`).
    Variables(String),
}

/// What the servers answered to a [`CatalogQuery`].
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum CatalogAnswer {
    Instances(Vec<ServiceRegistration>),
    All(Vec<ServiceRegistrationListStub>),
    Variable(Option<Variable>),
    Variables(Vec<VariableMetadata>),
}

/// The answers a template may read.
#[derive(Debug, Default)]
pub struct CatalogData {
    known: BTreeMap<CatalogQuery, CatalogAnswer>,
    /// Every query a render made.
    wanted: Mutex<BTreeSet<CatalogQuery>>,
}

impl CatalogData {
    /// Data holding these answers.
    pub fn new(known: BTreeMap<CatalogQuery, CatalogAnswer>) -> CatalogData {
        CatalogData {
            known,
            wanted: Mutex::default(),
        }
    }

    /// The queries renders made.
    pub fn wanted(&self) -> BTreeSet<CatalogQuery> {
        self.wanted
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .clone()
    }

    /// The queries made that this data holds no answer to.
    pub fn missing(&self) -> BTreeSet<CatalogQuery> {
        self.wanted()
            .into_iter()
            .filter(|query| !self.known.contains_key(query))
            .collect()
    }

    pub(super) fn ask(&self, query: CatalogQuery) -> Option<&CatalogAnswer> {
        let answer = self.known.get(&query);
        self.wanted
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .insert(query);
        answer
    }

    /// `nomadServices`: every service of the namespace, `{Name, Tags}` each, by name.
    pub fn call_all(&self, args: &[Value]) -> Result<Value, String> {
        if !args.is_empty() {
            return Err(format!(
                "nomadServices: wrong number of args; expected 0, got {}",
                args.len()
            ));
        }
        let services = match self.ask(CatalogQuery::All) {
            Some(CatalogAnswer::All(namespaces)) => namespaces
                .iter()
                .flat_map(|ns| &ns.services)
                .map(|service| {
                    Value::Map(BTreeMap::from([
                        ("Name".to_string(), Value::Str(service.service_name.clone())),
                        (
                            "Tags".to_string(),
                            Value::List(
                                service.tags.iter().map(|t| Value::Str(t.clone())).collect(),
                            ),
                        ),
                    ]))
                })
                .collect(),
            _ => Vec::new(),
        };
        Ok(Value::List(services))
    }

    /// `nomadService` with its arguments: `"name"`, `"tag.name"` (instances with that
    /// tag), each optionally `@region` (ignored: one region), or `count "key" "name"`
    /// (consul-template's rendezvous choice of `count` instances for `key`).
    pub fn call(&self, args: &[Value]) -> Result<Value, String> {
        let (choose, query) = match args {
            [query] => (None, query.as_str()?),
            [count, key, query] => (Some((count.to_int()?, key.as_str()?)), query.as_str()?),
            _ => {
                return Err(format!(
                    "nomadService: wrong number of args; expected 1 or 3, got {}",
                    args.len()
                ));
            }
        };
        let query = query.split('@').next().unwrap_or_default();
        let (tag, name) = match query.rsplit_once('.') {
            Some((tag, name)) => (Some(tag), name),
            None => (None, query),
        };
        if name.is_empty() {
            return Err(format!("nomadService: invalid service query {query:?}"));
        }
        let known = match self.ask(CatalogQuery::Instances(name.to_string())) {
            Some(CatalogAnswer::Instances(instances)) => instances.as_slice(),
            _ => &[],
        };
        let mut instances: Vec<&ServiceRegistration> = known
            .iter()
            .filter(|s| tag.is_none_or(|tag| s.tags.iter().any(|t| t == tag)))
            .collect();
        if let Some((count, key)) = choose {
            let rank = |s: &ServiceRegistration| {
                let mut hasher = sha2::Sha256::new();
                hasher.update(key.as_bytes());
                hasher.update(s.id.as_bytes());
                hasher.finalize().to_vec()
            };
            instances.sort_by_cached_key(|s| rank(s));
            instances.truncate(count.max(0) as usize);
        }
        Ok(Value::List(
            instances.into_iter().map(service_value).collect(),
        ))
    }
}

/// A registration as consul-template's `NomadService` shows it to templates.
fn service_value(service: &ServiceRegistration) -> Value {
    let text = |s: &str| Value::Str(s.to_string());
    Value::Map(BTreeMap::from([
        ("ID".to_string(), text(&service.id)),
        ("Name".to_string(), text(&service.service_name)),
        ("Namespace".to_string(), text(&service.namespace)),
        ("Node".to_string(), text(service.node_id.as_str())),
        ("Datacenter".to_string(), text(&service.datacenter)),
        ("JobID".to_string(), text(&service.job_id)),
        ("AllocID".to_string(), text(service.alloc_id.as_str())),
        (
            "Tags".to_string(),
            Value::List(service.tags.iter().map(|t| text(t)).collect()),
        ),
        ("Address".to_string(), text(&service.address)),
        ("Port".to_string(), Value::Int(service.port)),
    ]))
}

//! `nomadService`: the registrations of a service in Nomad's own catalogue, as a
//! template reads them. Rendering is pure, so the data is fetched beforehand: a render
//! records every service it asked for ([`ServiceData::wanted`]); the caller fetches
//! those it did not have and renders again, and watches them afterwards.

use std::collections::{BTreeMap, BTreeSet};
use std::sync::Mutex;

use caravan_gotemplate::Value;
use caravan_structs::ServiceRegistration;
use sha2::Digest;

/// The registrations a template may read, by service name, in the task's namespace.
#[derive(Debug, Default)]
pub struct ServiceData {
    known: BTreeMap<String, Vec<ServiceRegistration>>,
    /// Every service name a render asked for.
    wanted: Mutex<BTreeSet<String>>,
}

impl ServiceData {
    /// Data holding these services' registrations.
    pub fn new(known: BTreeMap<String, Vec<ServiceRegistration>>) -> ServiceData {
        ServiceData {
            known,
            wanted: Mutex::default(),
        }
    }

    /// The services renders asked for.
    pub fn wanted(&self) -> BTreeSet<String> {
        self.wanted
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .clone()
    }

    /// The names asked for that this data does not hold.
    pub fn missing(&self) -> BTreeSet<String> {
        self.wanted()
            .into_iter()
            .filter(|name| !self.known.contains_key(name))
            .collect()
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
        self.wanted
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .insert(name.to_string());
        let mut instances: Vec<&ServiceRegistration> = self
            .known
            .get(name)
            .into_iter()
            .flatten()
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

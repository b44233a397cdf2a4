//! Which events a subscriber asked for: `?topic=Topic:key` (repeatable; `Topic` alone or
//! `Topic:*` for all its events, `*` for every topic) and `?namespace=` (`*` for all).
//! ACLs are the API's to apply; this is only what the query says.

use std::collections::{BTreeMap, BTreeSet};

use super::EventRef;

const ALL: &str = "*";

/// A `?topic=` that is not `Topic` or `Topic:key`.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error(
    "Invalid topic format: {0:?}: a topic is Topic or Topic:key, e.g. Job:example, Node:* or *"
)]
pub struct TopicParseError(pub String);

/// A subscription's topics and namespace.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct EventFilter {
    /// Topic name (`*` for any) to the keys asked for (`*` for any).
    topics: BTreeMap<String, BTreeSet<String>>,
    namespace: String,
}

impl EventFilter {
    /// The filter of these `topic` values (none: every topic, as Nomad's default) in
    /// `namespace` (`*`: all).
    pub fn parse<'a>(
        topics: impl IntoIterator<Item = &'a str>,
        namespace: &str,
    ) -> Result<EventFilter, TopicParseError> {
        let mut parsed: BTreeMap<String, BTreeSet<String>> = BTreeMap::new();
        for raw in topics {
            let (topic, key) = raw.split_once(':').unwrap_or((raw, ALL));
            if topic.is_empty() || key.is_empty() {
                return Err(TopicParseError(raw.to_string()));
            }
            parsed
                .entry(topic.to_string())
                .or_default()
                .insert(key.to_string());
        }
        if parsed.is_empty() {
            parsed.insert(ALL.to_string(), BTreeSet::from([ALL.to_string()]));
        }
        Ok(EventFilter {
            topics: parsed,
            namespace: namespace.to_string(),
        })
    }

    /// The topic names asked for (`*` for every topic).
    pub fn topics(&self) -> impl Iterator<Item = &str> {
        self.topics.keys().map(String::as_str)
    }

    /// The namespace asked for (`*` for every one).
    pub fn namespace(&self) -> &str {
        &self.namespace
    }

    /// Whether `event` is one the subscriber asked for.
    pub fn matches(&self, event: &EventRef<'_>) -> bool {
        let topic = event.topic();
        if topic.namespaced() && self.namespace != ALL && event.namespace() != self.namespace {
            return false;
        }
        [topic.as_str(), ALL]
            .iter()
            .filter_map(|name| self.topics.get(*name))
            .any(|keys| {
                keys.contains(ALL)
                    || keys.contains(event.key())
                    || event.filter_keys().any(|k| keys.contains(k))
            })
    }
}

#[cfg(test)]
mod tests {
    use std::sync::Arc;

    use caravan_structs::{Job, Node};

    use super::super::{Event, EventBatch, Payload, Topic};
    use super::*;

    fn job_event(id: &str, namespace: &str) -> Event {
        Event {
            topic: Topic::Job,
            event_type: "JobRegistered",
            key: id.into(),
            namespace: namespace.into(),
            filter_keys: Vec::new(),
            index: 7,
            payload: Payload::Job(Arc::new(Job::default())),
        }
    }

    fn alloc_event(id: &str, job: &str) -> Event {
        Event {
            topic: Topic::Allocation,
            filter_keys: vec![job.into()],
            ..job_event(id, "default")
        }
    }

    fn node_event() -> Event {
        Event {
            topic: Topic::Node,
            namespace: String::new(),
            payload: Payload::Node(Arc::new(Node::default())),
            ..job_event("node-1", "")
        }
    }

    #[test]
    fn topic_filter_table() {
        let rows: Vec<(&str, Vec<&str>, &str, Event, bool)> = vec![
            (
                "no topic is every topic",
                vec![],
                "default",
                job_event("web", "default"),
                true,
            ),
            (
                "star is every topic",
                vec!["*"],
                "default",
                node_event(),
                true,
            ),
            (
                "a topic alone is all its keys",
                vec!["Job"],
                "default",
                job_event("web", "default"),
                true,
            ),
            (
                "topic star is all its keys",
                vec!["Job:*"],
                "default",
                job_event("web", "default"),
                true,
            ),
            (
                "a key matches its object",
                vec!["Job:web"],
                "default",
                job_event("web", "default"),
                true,
            ),
            (
                "another key does not",
                vec!["Job:api"],
                "default",
                job_event("web", "default"),
                false,
            ),
            (
                "keys of one topic add up",
                vec!["Job:api", "Job:web"],
                "default",
                job_event("web", "default"),
                true,
            ),
            (
                "another topic does not match",
                vec!["Node"],
                "default",
                job_event("web", "default"),
                false,
            ),
            (
                "a filter key matches",
                vec!["Allocation:web"],
                "default",
                alloc_event("a1", "web"),
                true,
            ),
            (
                "other namespaces are left out",
                vec!["Job"],
                "default",
                job_event("web", "prod"),
                false,
            ),
            (
                "namespace star takes all",
                vec!["Job"],
                "*",
                job_event("web", "prod"),
                true,
            ),
            (
                "nodes have no namespace",
                vec!["Node"],
                "prod",
                node_event(),
                true,
            ),
        ];
        for (name, topics, namespace, event, expected) in rows {
            let filter = EventFilter::parse(topics, namespace).expect(name);
            let batch = EventBatch::pack(7, vec![event]);
            let packed = batch.events().next().expect("one event");
            assert_eq!(filter.matches(&packed), expected, "{name}");
        }
    }

    #[test]
    fn malformed_topics_are_refused() {
        for raw in ["", ":web", "Job:"] {
            assert_eq!(
                EventFilter::parse([raw], "default"),
                Err(TopicParseError(raw.to_string())),
                "{raw:?}"
            );
        }
    }
}

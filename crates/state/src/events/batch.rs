//! A write's events as the buffer keeps them: as derived until a stream reads them,
//! then packed into a few allocations per write.
//!
//! Unread, a batch holds its events' objects (`Arc<Job>`, `Arc<Allocation>`, ...),
//! mostly the very versions the state holds, until it falls out of the buffer. Read,
//! it is packed once and lets go of them: a stream that lags keeps text, not every
//! piece of a collected job scattered over the heap. A packed batch holds its events'
//! JSON in one string and the text its filters compare (keys, namespaces, filter keys)
//! in another.

use std::ops::Range;
use std::sync::{Arc, Mutex, OnceLock, PoisonError};

use super::{Event, Payload, Topic};

/// A write's events as the buffer first holds them: derived under the write, packed
/// by the first reader ([`EventBatch::pack`] writes every object as JSON: a third of a
/// large write's time, wasted when nobody subscribes). Readers after it share the pack.
#[derive(Debug)]
pub(crate) struct PendingBatch {
    index: u64,
    /// Until packed: the events, holding the objects they carry.
    events: Mutex<Vec<Event>>,
    packed: OnceLock<Arc<EventBatch>>,
}

impl PendingBatch {
    pub(crate) fn new(index: u64, events: Vec<Event>) -> PendingBatch {
        PendingBatch {
            index,
            events: Mutex::new(events),
            packed: OnceLock::new(),
        }
    }

    pub(crate) fn index(&self) -> u64 {
        self.index
    }

    /// The batch packed, packing it now if nobody has yet (once: others wait for it).
    pub(crate) fn packed(&self) -> Arc<EventBatch> {
        self.packed
            .get_or_init(|| {
                let events = std::mem::take(
                    &mut *self.events.lock().unwrap_or_else(PoisonError::into_inner),
                );
                Arc::new(EventBatch::pack(self.index, events))
            })
            .clone()
    }
}

/// The events of one write, packed.
#[derive(Debug, Clone)]
pub struct EventBatch {
    pub index: u64,
    /// Each event's JSON object, one after another.
    json: Box<str>,
    /// Keys, namespaces and filter keys, one after another.
    text: Box<str>,
    /// Where each filter key is in `text`.
    filter_keys: Box<[Range<u32>]>,
    events: Box<[Packed]>,
}

#[derive(Debug, Clone)]
struct Packed {
    topic: Topic,
    event_type: &'static str,
    json: Range<u32>,
    key: Range<u32>,
    namespace: Range<u32>,
    /// Which of the batch's `filter_keys` are this event's.
    filter_keys: Range<u32>,
}

/// One event of a batch, as the stream filters and sends it.
#[derive(Debug, Clone, Copy)]
pub struct EventRef<'a> {
    batch: &'a EventBatch,
    packed: &'a Packed,
}

fn span<'a>(text: &'a str, range: &Range<u32>) -> &'a str {
    text.get(range.start as usize..range.end as usize)
        .unwrap_or_default()
}

/// Appends `value` to `buffer` and answers where it is.
fn push_text(buffer: &mut String, value: &str) -> Range<u32> {
    let start = buffer.len() as u32;
    buffer.push_str(value);
    start..buffer.len() as u32
}

impl EventBatch {
    /// Packs the events of the write at `index`. An event that cannot be written as
    /// JSON (none can: they are plain data) is left out.
    pub fn pack(index: u64, events: Vec<Event>) -> EventBatch {
        let mut json = String::new();
        let mut text = String::new();
        let mut filter_keys = Vec::new();
        let mut packed = Vec::with_capacity(events.len());
        for mut event in events {
            // Nomad leaves an allocation's job out of its events. Dropped here, when a
            // stream first reads the event, not in the write: the event shares the
            // state's allocation until then.
            if let Payload::Allocation(alloc) = &mut event.payload
                && alloc.job.is_some()
            {
                Arc::make_mut(alloc).job = None;
            }
            let Ok(object) = serde_json::to_string(&event) else {
                continue;
            };
            let first_key = filter_keys.len() as u32;
            for key in &event.filter_keys {
                filter_keys.push(push_text(&mut text, key));
            }
            packed.push(Packed {
                topic: event.topic,
                event_type: event.event_type,
                json: push_text(&mut json, &object),
                key: push_text(&mut text, &event.key),
                namespace: push_text(&mut text, &event.namespace),
                filter_keys: first_key..filter_keys.len() as u32,
            });
        }
        EventBatch {
            index,
            json: json.into_boxed_str(),
            text: text.into_boxed_str(),
            filter_keys: filter_keys.into_boxed_slice(),
            events: packed.into_boxed_slice(),
        }
    }

    /// Its events, in the order the write made them.
    pub fn events(&self) -> impl Iterator<Item = EventRef<'_>> {
        self.events.iter().map(move |packed| EventRef {
            batch: self,
            packed,
        })
    }

    pub fn is_empty(&self) -> bool {
        self.events.is_empty()
    }

    /// The stream's line of `events` (some of this batch's):
    /// `{"Index":N,"Events":[...]}` and a newline.
    pub fn write_line<'a>(
        &self,
        events: impl IntoIterator<Item = EventRef<'a>>,
        out: &mut Vec<u8>,
    ) {
        out.extend_from_slice(format!("{{\"Index\":{},\"Events\":[", self.index).as_bytes());
        for (i, event) in events.into_iter().enumerate() {
            if i > 0 {
                out.push(b',');
            }
            out.extend_from_slice(event.json().as_bytes());
        }
        out.extend_from_slice(b"]}\n");
    }
}

impl<'a> EventRef<'a> {
    pub fn topic(&self) -> Topic {
        self.packed.topic
    }

    pub fn event_type(&self) -> &'static str {
        self.packed.event_type
    }

    pub fn key(&self) -> &'a str {
        span(&self.batch.text, &self.packed.key)
    }

    pub fn namespace(&self) -> &'a str {
        span(&self.batch.text, &self.packed.namespace)
    }

    pub fn filter_keys(&self) -> impl Iterator<Item = &'a str> + use<'a> {
        let batch = self.batch;
        let range = self.packed.filter_keys.start as usize..self.packed.filter_keys.end as usize;
        batch
            .filter_keys
            .get(range)
            .unwrap_or_default()
            .iter()
            .map(move |r| span(&batch.text, r))
    }

    /// The event as the stream sends it: one JSON object.
    pub fn json(&self) -> &'a str {
        span(&self.batch.json, &self.packed.json)
    }
}

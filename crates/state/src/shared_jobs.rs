//! One `Job` in memory per job version: allocations hold their job as an `Arc`, and
//! every allocation of a version (and the version table) points at the same one.
//!
//! Allocations arrive with a decoded copy of the job: a plan from the replicated log
//! carries its job once for all its allocations (`Command::plan_apply`), a snapshot
//! once per job copy the state held (`serialize_allocs`), and older log entries and
//! snapshots once per allocation. Without re-linking, memory would grow with
//! allocation count times job size (issue 16's million allocations).
//!
//! A version is identified by `(namespace, job ID, version, create index)`: the create
//! index tells a purged and re-registered job's version 0 from the old job's. The
//! stored version may differ from an allocation's copy in bookkeeping fields (`Status`,
//! `Stable`, `ModifyIndex`), which change after the plan was made; Nomad's allocations
//! also carry the job as the plan found it, so either copy is right to show. A plan
//! takes the stored copy (the same on every server replaying the log); a decoded
//! snapshot shares only equal copies, so that it equals the state that was encoded.

use std::collections::HashMap;
use std::fmt;
use std::sync::Arc;

use caravan_structs::{AllocId, Allocation, Job};
use imbl::OrdMap;
use serde::de::{self, DeserializeSeed, MapAccess, SeqAccess, Visitor};
use serde::ser::SerializeSeq;
use serde::{Deserializer, Serialize, Serializer};

use crate::snapshot::{JobKey, Snapshot};

/// A job version's identity within one job.
type VersionKey = (u64, u64);

fn version_key(job: &Job) -> VersionKey {
    (job.version, job.create_index)
}

impl Snapshot {
    /// The stored `Arc` of `job`'s version, if the state holds that version: the
    /// version table's, else the job's current one, else the one `existing` (the
    /// allocation being replaced) already shares. Otherwise `job` itself.
    pub(crate) fn shared_job(
        &self,
        key: &JobKey,
        job: Arc<Job>,
        existing: Option<&Allocation>,
    ) -> Arc<Job> {
        let wanted = version_key(&job);
        let stored = self
            .job_versions
            .get(key)
            .and_then(|versions| versions.iter().find(|v| version_key(v) == wanted))
            .or_else(|| self.jobs.get(key).filter(|j| version_key(j) == wanted))
            .or_else(|| {
                existing
                    .and_then(|a| a.job.as_ref())
                    .filter(|j| version_key(j) == wanted)
            });
        match stored {
            Some(stored) => Arc::clone(stored),
            None => job,
        }
    }

    /// After the whole state was decoded (a snapshot installed or restored): the job
    /// table shares the version table's `Arc`s where they are equal, and allocations
    /// share one `Arc` per job version.
    pub(crate) fn share_job_versions(&mut self) {
        let jobs = std::mem::take(&mut self.jobs);
        self.jobs = jobs
            .into_iter()
            .map(|(key, job)| {
                let same = self
                    .job_versions
                    .get(&key)
                    .and_then(|versions| versions.iter().find(|v| ***v == *job).cloned());
                (key, same.unwrap_or(job))
            })
            .collect();
        // Decoded state must equal the state encoded: an allocation shares only a job
        // equal to its own copy (one applied before a version's status changed keeps
        // that version's older copy, shared with its plan's other allocations).
        let mut decoded = DecodedJobs::default();
        let allocs = std::mem::take(&mut self.allocs);
        self.allocs = allocs
            .into_iter()
            .map(|(id, mut alloc)| {
                if let Some(job) = alloc.job.clone() {
                    let key = (alloc.namespace.clone(), alloc.job_id.clone());
                    let stored = self.shared_job(&key, Arc::clone(&job), None);
                    let shared = if *stored == *job {
                        stored
                    } else {
                        decoded.share(key, job)
                    };
                    Arc::make_mut(&mut alloc).job = Some(shared);
                }
                (id, alloc)
            })
            .collect();
    }
}

/// Encodes the allocation table with each job copy once: `[jobs, rows]`, where a row is
/// `[position of the allocation's job in jobs, the allocation without its job]`.
/// Allocations that share an `Arc` in memory share one copy, so a snapshot of a
/// million allocations of a thousand job versions holds a thousand jobs (issue 16).
pub(crate) fn serialize_allocs<S>(
    allocs: &OrdMap<AllocId, Arc<Allocation>>,
    serializer: S,
) -> Result<S::Ok, S::Error>
where
    S: Serializer,
{
    let mut positions: HashMap<*const Job, u32> = HashMap::new();
    let mut jobs: Vec<&Job> = Vec::new();
    for job in allocs.values().filter_map(|a| a.job.as_ref()) {
        positions.entry(Arc::as_ptr(job)).or_insert_with(|| {
            jobs.push(job);
            (jobs.len() - 1) as u32
        });
    }
    let rows = AllocRows {
        allocs,
        positions: &positions,
    };
    (jobs, rows).serialize(serializer)
}

struct AllocRows<'a> {
    allocs: &'a OrdMap<AllocId, Arc<Allocation>>,
    positions: &'a HashMap<*const Job, u32>,
}

impl Serialize for AllocRows<'_> {
    fn serialize<S: Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        let mut rows = serializer.serialize_seq(Some(self.allocs.len()))?;
        for alloc in self.allocs.values() {
            let position = alloc
                .job
                .as_ref()
                .and_then(|job| self.positions.get(&Arc::as_ptr(job)));
            // One allocation copied at a time, without its job; never the table.
            let bare = Allocation {
                job: None,
                ..Allocation::clone(alloc)
            };
            rows.serialize_element(&(position, bare))?;
        }
        rows.end()
    }
}

/// Decodes the allocation table. The encoding [`serialize_allocs`] writes gives each
/// allocation the one decoded copy of its job; a table written before it (a map of
/// allocations, each with its own copy) shares copies as they are read, since holding
/// them all until the table is complete would need the memory sharing saves.
pub(crate) fn deserialize_allocs<'de, D>(
    deserializer: D,
) -> Result<OrdMap<AllocId, Arc<Allocation>>, D::Error>
where
    D: Deserializer<'de>,
{
    deserializer.deserialize_any(AllocTable)
}

struct AllocTable;

impl<'de> Visitor<'de> for AllocTable {
    type Value = OrdMap<AllocId, Arc<Allocation>>;

    fn expecting(&self, formatter: &mut fmt::Formatter) -> fmt::Result {
        formatter.write_str("the allocation table: [jobs, allocations], or a map of allocations")
    }

    fn visit_seq<A: SeqAccess<'de>>(self, mut table: A) -> Result<Self::Value, A::Error> {
        let jobs: Vec<Job> = table
            .next_element()?
            .ok_or_else(|| de::Error::invalid_length(0, &self))?;
        let jobs: Vec<Arc<Job>> = jobs.into_iter().map(Arc::new).collect();
        table
            .next_element_seed(AllocRowsSeed(&jobs))?
            .ok_or_else(|| de::Error::invalid_length(1, &self))
    }

    fn visit_map<A: MapAccess<'de>>(self, mut entries: A) -> Result<Self::Value, A::Error> {
        let mut decoded = DecodedJobs::default();
        let mut table = OrdMap::new();
        while let Some((id, mut alloc)) = entries.next_entry::<AllocId, Allocation>()? {
            if let Some(job) = alloc.job.take() {
                let key = (alloc.namespace.clone(), alloc.job_id.clone());
                alloc.job = Some(decoded.share(key, job));
            }
            table.insert(id, Arc::new(alloc));
        }
        Ok(table)
    }
}

/// The rows of the allocation table, decoded straight into it.
struct AllocRowsSeed<'a>(&'a [Arc<Job>]);

impl<'de> DeserializeSeed<'de> for AllocRowsSeed<'_> {
    type Value = OrdMap<AllocId, Arc<Allocation>>;

    fn deserialize<D: Deserializer<'de>>(self, deserializer: D) -> Result<Self::Value, D::Error> {
        deserializer.deserialize_seq(self)
    }
}

impl<'de> Visitor<'de> for AllocRowsSeed<'_> {
    type Value = OrdMap<AllocId, Arc<Allocation>>;

    fn expecting(&self, formatter: &mut fmt::Formatter) -> fmt::Result {
        formatter.write_str("a list of [job position, allocation]")
    }

    fn visit_seq<A: SeqAccess<'de>>(self, mut rows: A) -> Result<Self::Value, A::Error> {
        let mut table = OrdMap::new();
        while let Some((position, mut alloc)) = rows.next_element::<(Option<u32>, Allocation)>()? {
            if let Some(position) = position {
                let job = self.0.get(position as usize).ok_or_else(|| {
                    de::Error::custom(format!(
                        "allocation {} names job {position} of {}",
                        alloc.id,
                        self.0.len()
                    ))
                })?;
                alloc.job = Some(Arc::clone(job));
            }
            table.insert(alloc.id.clone(), Arc::new(alloc));
        }
        Ok(table)
    }
}

/// The distinct copies of each job version met while decoding.
#[derive(Default)]
struct DecodedJobs(HashMap<(JobKey, VersionKey), Vec<Arc<Job>>>);

impl DecodedJobs {
    /// An earlier copy equal to `job`, or `job`, remembered for those that follow.
    fn share(&mut self, key: JobKey, job: Arc<Job>) -> Arc<Job> {
        let copies = self.0.entry((key, version_key(&job))).or_default();
        if let Some(same) = copies.iter().find(|c| ***c == *job) {
            return Arc::clone(same);
        }
        copies.push(Arc::clone(&job));
        job
    }
}

//! One `Job` in memory per job version: allocations hold their job as an `Arc`, and
//! every allocation of a version (and the version table) points at the same one.
//!
//! Allocations arrive with their own copy of the job: a plan decoded from the
//! replicated log, a snapshot read back from disk. Without re-linking, memory would
//! grow with allocation count times job size (issue 16's million allocations).
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
use serde::Deserializer;
use serde::de::{MapAccess, Visitor};

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

/// Decodes the allocation table so that allocations of one job version share one `Arc`
/// as they are read: a snapshot holds a copy of the job per allocation, and holding
/// them all until the table is complete would need the memory sharing saves.
pub(crate) fn deserialize_allocs<'de, D>(
    deserializer: D,
) -> Result<OrdMap<AllocId, Arc<Allocation>>, D::Error>
where
    D: Deserializer<'de>,
{
    deserializer.deserialize_map(AllocTable)
}

struct AllocTable;

impl<'de> Visitor<'de> for AllocTable {
    type Value = OrdMap<AllocId, Arc<Allocation>>;

    fn expecting(&self, formatter: &mut fmt::Formatter) -> fmt::Result {
        formatter.write_str("a map of allocation IDs to allocations")
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

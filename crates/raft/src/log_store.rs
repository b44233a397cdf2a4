//! The Raft log and its metadata in one redb file (`<data_dir>/server/raft/raft.db`):
//! table `log` (index → entry, MessagePack, LZ4-compressed when large: `entry_codec`),
//! table `meta` (`vote`, `committed`, `last_purged`). Every write is one redb
//! transaction committed with fsync before openraft is told it is durable.

use std::fmt::Debug;
use std::ops::{Bound, RangeBounds};
use std::path::Path;
use std::sync::Arc;

use openraft::storage::{LogFlushed, RaftLogStorage};
use openraft::{LogState, RaftLogId, RaftLogReader, StorageIOError};
use redb::{Database, ReadableDatabase, ReadableTable, ReadableTableMetadata, TableDefinition};
use serde::Serialize;
use serde::de::DeserializeOwned;

use crate::entry_codec;
use crate::types::{Entry, LogId, StorageError, TypeConfig, Vote, any_error};

const LOG: TableDefinition<u64, &[u8]> = TableDefinition::new("log");
const META: TableDefinition<&str, &[u8]> = TableDefinition::new("meta");

/// redb's page cache for the log.
const LOG_CACHE_BYTES: usize = 1024 * 1024;

/// Why the log could not be opened.
#[derive(Debug, thiserror::Error)]
pub enum OpenError {
    #[error(
        "the raft store {path} is damaged ({why}); restore a snapshot into a new server or move the directory away to start one"
    )]
    Damaged { path: String, why: String },
    #[error("the raft store {path} could not be opened: {why}")]
    Io { path: String, why: String },
    #[error(
        "the raft store {path} is in use by another process: is another agent running with this data_dir?"
    )]
    InUse { path: String },
}

/// How many of the newest entries the log keeps decoded beside the file.
const RECENT_ENTRIES: usize = 16;

/// The log, shared by openraft's writer and its readers.
#[derive(Clone)]
pub struct LogStore {
    db: Arc<Database>,
    /// Where the state machine keeps its snapshot files: the log is never purged past
    /// the newest one (see [`RaftLogStorage::purge`] below).
    snapshots: Option<Arc<std::path::PathBuf>>,
    /// The newest entries written, in order and without a gap. openraft reads each
    /// entry back right after writing it, to apply it and to send it to followers;
    /// decoding a plan of a thousand allocations from the file again cost more than
    /// writing it.
    recent: Arc<std::sync::Mutex<RecentEntries>>,
}

/// The newest entries of the log, as written (see [`LogStore::recent`]).
#[derive(Default)]
struct RecentEntries {
    entries: std::collections::VecDeque<Entry>,
}

impl RecentEntries {
    fn first_index(&self) -> Option<u64> {
        self.entries.front().map(|e| e.log_id.index)
    }

    /// Keeps `written`, which follow what is kept (anything else is dropped first), and
    /// forgets the oldest beyond [`RECENT_ENTRIES`].
    fn written(&mut self, written: Vec<Entry>) {
        let Some(first) = written.first() else {
            return;
        };
        let follows = self
            .entries
            .back()
            .is_some_and(|last| last.log_id.index + 1 == first.log_id.index);
        if !follows {
            self.entries.clear();
        }
        self.entries.extend(written);
        while self.entries.len() > RECENT_ENTRIES {
            self.entries.pop_front();
        }
    }

    /// Copies of entries `start..=end` when all of them are kept.
    fn get(&self, start: u64, end: u64) -> Option<Vec<Entry>> {
        let first = self.first_index()?;
        let last = self.entries.back()?.log_id.index;
        if start < first || end > last {
            return None;
        }
        let skip = usize::try_from(start - first).ok()?;
        let take = usize::try_from(end - start + 1).ok()?;
        Some(self.entries.iter().skip(skip).take(take).cloned().collect())
    }

    /// Forgets entries from `index` on (a truncated log).
    fn truncate_from(&mut self, index: u64) {
        self.entries.retain(|e| e.log_id.index < index);
    }

    /// Forgets entries up to `index` (a purged log).
    fn purge_upto(&mut self, index: u64) {
        self.entries.retain(|e| e.log_id.index > index);
    }
}

impl LogStore {
    /// Opens (or creates) the log at `path`. A file left by a crash is repaired by redb
    /// (its last commit is the last one fsynced, which is all this server ever
    /// acknowledged); one redb cannot read, or whose log no longer holds what it
    /// recorded as committed, is refused, never replaced.
    pub fn open(path: &Path) -> Result<LogStore, OpenError> {
        let shown = path.display().to_string();
        // redb caches up to 1 GiB by default; the log is written once and read back
        // only by a follower catching up, so a small cache keeps the agent small.
        let db = Database::builder()
            .set_cache_size(LOG_CACHE_BYTES)
            .create(path)
            .map_err(|e| match e {
                // redb's lock on the file: another agent has it open, which is not damage
                // (and moving the directory away would pull it from under that agent).
                redb::DatabaseError::DatabaseAlreadyOpen
                | redb::DatabaseError::LockProtocolMismatch => OpenError::InUse {
                    path: shown.clone(),
                },
                // redb reports a file that is not a database ("magic number mismatch")
                // or ends early as an I/O error: damaged contents, not a failing disk.
                redb::DatabaseError::Storage(redb::StorageError::Io(io))
                    if !matches!(
                        io.kind(),
                        std::io::ErrorKind::InvalidData | std::io::ErrorKind::UnexpectedEof
                    ) =>
                {
                    OpenError::Io {
                        path: shown.clone(),
                        why: io.to_string(),
                    }
                }
                other => OpenError::Damaged {
                    path: shown.clone(),
                    why: other.to_string(),
                },
            })?;
        let write = db.begin_write().map_err(|e| OpenError::Io {
            path: shown.clone(),
            why: e.to_string(),
        })?;
        let tables = write
            .open_table(LOG)
            .map(drop)
            .and(write.open_table(META).map(drop));
        tables.map_err(|e| OpenError::Damaged {
            path: shown.clone(),
            why: e.to_string(),
        })?;
        write.commit().map_err(|e| OpenError::Io {
            path: shown,
            why: e.to_string(),
        })?;
        let store = LogStore {
            db: Arc::new(db),
            snapshots: None,
            recent: Arc::default(),
        };
        store.check_complete().map_err(|why| OpenError::Damaged {
            path: path.display().to_string(),
            why,
        })?;
        Ok(store)
    }

    /// The log runs without a gap from the last purged entry to the last one, and
    /// reaches the last entry it recorded as committed.
    fn check_complete(&self) -> Result<(), String> {
        let text = |e: StorageError| e.to_string();
        let last_purged: Option<LogId> = self.read_meta("last_purged").map_err(text)?;
        let committed: Option<LogId> = self
            .read_meta::<Option<LogId>>("committed")
            .map_err(text)?
            .flatten();
        let read = self.db.begin_read().map_err(|e| e.to_string())?;
        let log = read.open_table(LOG).map_err(|e| e.to_string())?;
        let first = log
            .first()
            .map_err(|e| e.to_string())?
            .map(|(k, _)| k.value());
        let last = log
            .last()
            .map_err(|e| e.to_string())?
            .map(|(k, _)| k.value());
        let count = log.len().map_err(|e| e.to_string())?;
        if let (Some(first), Some(last)) = (first, last)
            && last - first + 1 != count
        {
            return Err(format!(
                "its log has gaps: {count} entries between {first} and {last}"
            ));
        }
        let end = last.or(last_purged.map(|l| l.index));
        if let Some(committed) = committed
            && end.is_none_or(|end| end < committed.index)
        {
            return Err(format!(
                "entry {} was committed but the log ends at {}",
                committed.index,
                end.map_or("nothing".to_string(), |e| e.to_string())
            ));
        }
        Ok(())
    }

    /// Never purges past the newest snapshot file in `directory`.
    pub fn with_snapshots_in(mut self, directory: &Path) -> LogStore {
        self.snapshots = Some(Arc::new(directory.to_path_buf()));
        self
    }

    /// Whether the log holds anything (a vote or an entry): a server that has been
    /// part of a cluster.
    pub fn has_state(&self) -> Result<bool, StorageError> {
        let read = self.db.begin_read().map_err(read_error)?;
        let log = read.open_table(LOG).map_err(read_error)?;
        let meta = read.open_table(META).map_err(read_error)?;
        Ok(log.first().map_err(read_error)?.is_some()
            || meta.get("vote").map_err(read_error)?.is_some()
            || meta.get("last_purged").map_err(read_error)?.is_some())
    }

    fn recent(&self) -> std::sync::MutexGuard<'_, RecentEntries> {
        lock_recent(&self.recent)
    }

    fn read_meta<T: DeserializeOwned>(&self, key: &str) -> Result<Option<T>, StorageError> {
        let read = self.db.begin_read().map_err(read_error)?;
        let meta = read.open_table(META).map_err(read_error)?;
        let Some(value) = meta.get(key).map_err(read_error)? else {
            return Ok(None);
        };
        rmp_serde::from_slice(value.value())
            .map(Some)
            .map_err(read_error)
    }

    /// Writes one metadata value; `durable` fsyncs it before answering, otherwise it
    /// reaches the disk with the next durable write.
    async fn write_meta<T: Serialize>(
        &self,
        key: &'static str,
        value: &T,
        durable: bool,
    ) -> Result<(), StorageError> {
        let bytes = rmp_serde::to_vec_named(value).map_err(write_error)?;
        let db = self.db.clone();
        blocking(move || {
            let mut write = db.begin_write().map_err(write_error)?;
            if !durable {
                write
                    .set_durability(redb::Durability::None)
                    .map_err(write_error)?;
            }
            {
                let mut meta = write.open_table(META).map_err(write_error)?;
                meta.insert(key, bytes.as_slice()).map_err(write_error)?;
            }
            write.commit().map_err(write_error)
        })
        .await
    }

    fn last_entry_id(&self) -> Result<Option<LogId>, StorageError> {
        let read = self.db.begin_read().map_err(read_error)?;
        let log = read.open_table(LOG).map_err(read_error)?;
        let Some((_, value)) = log.last().map_err(read_error)? else {
            return Ok(None);
        };
        let entry = entry_codec::decode(value.value()).map_err(read_error)?;
        Ok(Some(*entry.get_log_id()))
    }
}

/// Every entry kept is one the file holds, whatever a panic under the lock left
/// behind, so a poisoned lock is still read.
fn lock_recent(
    recent: &std::sync::Mutex<RecentEntries>,
) -> std::sync::MutexGuard<'_, RecentEntries> {
    recent
        .lock()
        .unwrap_or_else(std::sync::PoisonError::into_inner)
}

fn read_error<E: std::error::Error + 'static>(error: E) -> StorageError {
    StorageIOError::read_logs(any_error(error)).into()
}

fn write_error<E: std::error::Error + 'static>(error: E) -> StorageError {
    StorageIOError::write_logs(any_error(error)).into()
}

/// redb commits fsync: off the runtime's threads.
async fn blocking<T: Send + 'static>(
    work: impl FnOnce() -> Result<T, StorageError> + Send + 'static,
) -> Result<T, StorageError> {
    tokio::task::spawn_blocking(work)
        .await
        .map_err(write_error)?
}

fn bounds(range: &impl RangeBounds<u64>) -> (u64, u64) {
    let start = match range.start_bound() {
        Bound::Included(&n) => n,
        Bound::Excluded(&n) => n.saturating_add(1),
        Bound::Unbounded => 0,
    };
    let end = match range.end_bound() {
        Bound::Included(&n) => n,
        Bound::Excluded(&n) => n.saturating_sub(1),
        Bound::Unbounded => u64::MAX,
    };
    (start, end)
}

impl RaftLogReader<TypeConfig> for LogStore {
    async fn try_get_log_entries<RB: RangeBounds<u64> + Clone + Debug + Send>(
        &mut self,
        range: RB,
    ) -> Result<Vec<Entry>, StorageError> {
        let (start, end) = bounds(&range);
        if start > end {
            return Ok(Vec::new());
        }
        if let Some(entries) = self.recent().get(start, end) {
            return Ok(entries);
        }
        let db = self.db.clone();
        blocking(move || {
            let read = db.begin_read().map_err(read_error)?;
            let log = read.open_table(LOG).map_err(read_error)?;
            let mut entries = Vec::new();
            for item in log.range(start..=end).map_err(read_error)? {
                let (_, value) = item.map_err(read_error)?;
                entries.push(entry_codec::decode(value.value()).map_err(read_error)?);
            }
            Ok(entries)
        })
        .await
    }
}

impl RaftLogStorage<TypeConfig> for LogStore {
    type LogReader = LogStore;

    async fn get_log_state(&mut self) -> Result<LogState<TypeConfig>, StorageError> {
        let last_purged: Option<LogId> = self.read_meta("last_purged")?;
        let last = self.last_entry_id()?.or(last_purged);
        Ok(LogState {
            last_purged_log_id: last_purged,
            last_log_id: last,
        })
    }

    async fn get_log_reader(&mut self) -> LogStore {
        self.clone()
    }

    async fn save_vote(&mut self, vote: &Vote) -> Result<(), StorageError> {
        self.write_meta("vote", vote, true)
            .await
            .map_err(|e| StorageIOError::write_vote(any_error(e)).into())
    }

    async fn read_vote(&mut self) -> Result<Option<Vote>, StorageError> {
        self.read_meta("vote")
    }

    async fn save_committed(&mut self, committed: Option<LogId>) -> Result<(), StorageError> {
        // openraft finds the commit point again from a quorum if the last one is lost;
        // it is kept only so that a restart replays what it knew was committed at once.
        // Not worth a second fsync per write.
        self.write_meta("committed", &committed, false).await
    }

    async fn read_committed(&mut self) -> Result<Option<LogId>, StorageError> {
        Ok(self.read_meta::<Option<LogId>>("committed")?.flatten())
    }

    async fn append<I>(
        &mut self,
        entries: I,
        callback: LogFlushed<TypeConfig>,
    ) -> Result<(), StorageError>
    where
        I: IntoIterator<Item = Entry> + Send,
        I::IntoIter: Send,
    {
        let entries: Vec<Entry> = entries.into_iter().collect();
        let db = self.db.clone();
        let recent = self.recent.clone();
        // Encoding (an entry may hold thousands of allocations) and the fsync'd
        // commit: off the runtime.
        let result = blocking(move || {
            let mut encoded = Vec::with_capacity(entries.len());
            for entry in &entries {
                let bytes = entry_codec::encode(entry).map_err(write_error)?;
                encoded.push((entry.get_log_id().index, bytes));
            }
            let write = db.begin_write().map_err(write_error)?;
            {
                let mut log = write.open_table(LOG).map_err(write_error)?;
                for (index, bytes) in &encoded {
                    log.insert(*index, bytes.as_slice()).map_err(write_error)?;
                }
            }
            write.commit().map_err(write_error)?;
            lock_recent(&recent).written(entries);
            Ok(())
        })
        .await;
        match result {
            Ok(()) => {
                callback.log_io_completed(Ok(()));
                Ok(())
            }
            Err(error) => {
                callback.log_io_completed(Err(std::io::Error::other(error.to_string())));
                Err(error)
            }
        }
    }

    async fn truncate(&mut self, log_id: LogId) -> Result<(), StorageError> {
        // Forgotten first: a reader must not see an entry the file no longer has.
        self.recent().truncate_from(log_id.index);
        let db = self.db.clone();
        blocking(move || {
            let write = db.begin_write().map_err(write_error)?;
            {
                let mut log = write.open_table(LOG).map_err(write_error)?;
                log.retain_in(log_id.index.., |_, _| false)
                    .map_err(write_error)?;
            }
            write.commit().map_err(write_error)
        })
        .await
    }

    /// openraft asks for a purge as soon as it has handed an installed snapshot to the
    /// state machine, which may not have written its file yet: a crash in between would
    /// leave a log that starts after the newest snapshot on disk, and a server that
    /// cannot start. So the purge stops at the newest snapshot file's index (the rest
    /// goes at the next purge).
    async fn purge(&mut self, log_id: LogId) -> Result<(), StorageError> {
        self.recent().purge_upto(log_id.index);
        let db = self.db.clone();
        let snapshots = self.snapshots.clone();
        blocking(move || {
            let upto = match &snapshots {
                None => log_id,
                Some(directory) => {
                    let saved = crate::state_machine::newest_snapshot_index(directory)
                        .map_err(write_error)?;
                    match saved {
                        Some(index) if index >= log_id.index => log_id,
                        Some(index) => {
                            let read = db.begin_read().map_err(read_error)?;
                            let log = read.open_table(LOG).map_err(read_error)?;
                            let Some(entry) = log.get(index).map_err(read_error)? else {
                                return Ok(());
                            };
                            let entry = entry_codec::decode(entry.value()).map_err(read_error)?;
                            *entry.get_log_id()
                        }
                        None => return Ok(()),
                    }
                }
            };
            let bytes = rmp_serde::to_vec_named(&upto).map_err(write_error)?;
            let write = db.begin_write().map_err(write_error)?;
            {
                let mut meta = write.open_table(META).map_err(write_error)?;
                meta.insert("last_purged", bytes.as_slice())
                    .map_err(write_error)?;
                let mut log = write.open_table(LOG).map_err(write_error)?;
                log.retain_in(..=upto.index, |_, _| false)
                    .map_err(write_error)?;
            }
            write.commit().map_err(write_error)
        })
        .await
    }
}

#[cfg(test)]
mod tests {
    use openraft::{CommittedLeaderId, EntryPayload, LogId};

    use super::*;

    fn entry(index: u64) -> Entry {
        Entry {
            log_id: LogId::new(CommittedLeaderId::new(1, 1), index),
            payload: EntryPayload::Blank,
        }
    }

    fn indexes(entries: Option<Vec<Entry>>) -> Option<Vec<u64>> {
        entries.map(|e| e.iter().map(|e| e.log_id.index).collect())
    }

    #[test]
    fn recent_entries_answer_only_ranges_they_hold_whole() {
        let mut recent = RecentEntries::default();
        recent.written((1..=3).map(entry).collect());
        assert_eq!(indexes(recent.get(2, 3)), Some(vec![2, 3]));
        // Past either end: the file answers.
        assert_eq!(indexes(recent.get(0, 2)), None);
        assert_eq!(indexes(recent.get(3, 4)), None);
        // A gap drops what was kept; only the newest RECENT_ENTRIES stay.
        recent.written(vec![entry(10)]);
        assert_eq!(indexes(recent.get(3, 3)), None);
        recent.written((11..=10 + RECENT_ENTRIES as u64 + 1).map(entry).collect());
        assert_eq!(indexes(recent.get(10, 11)), None);
        assert_eq!(indexes(recent.get(12, 12)), Some(vec![12]));
        // A truncated log's tail and a purged log's head are forgotten.
        recent.truncate_from(20);
        assert_eq!(indexes(recent.get(19, 20)), None);
        assert_eq!(indexes(recent.get(19, 19)), Some(vec![19]));
        recent.purge_upto(15);
        assert_eq!(indexes(recent.get(15, 16)), None);
        assert_eq!(indexes(recent.get(16, 19)), Some(vec![16, 17, 18, 19]));
    }
}

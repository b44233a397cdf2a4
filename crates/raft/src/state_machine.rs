//! The state machine: entries applied, in log order, into the state store the server
//! reads (one writer; readers hold snapshots and never block), and snapshots of it kept
//! as files in `<data_dir>/server/raft/snapshots/`.
//!
//! A snapshot file is the whole state store plus the Raft position it stands for
//! (MessagePack); its bytes are also what a leader sends a server that is too far
//! behind. The state machine itself is not persisted: on start it loads the newest
//! snapshot and openraft replays the committed entries after it.

use std::io::Cursor;
use std::path::{Path, PathBuf};
use std::sync::Arc;

use caravan_state::{Snapshot, StateStore};
use openraft::storage::RaftStateMachine;
use openraft::{EntryPayload, RaftSnapshotBuilder, StorageIOError, StoredMembership};
use serde::{Deserialize, Serialize};

use crate::types::{Entry, EntryApplied, LogId, SnapshotMeta, StorageError, TypeConfig, any_error};

/// One snapshot file: what the state was at `meta.last_log_id`.
#[derive(Serialize, Deserialize)]
pub(crate) struct SnapshotFile {
    pub(crate) meta: SnapshotMeta,
    pub(crate) state: Snapshot,
}

/// A snapshot file's metadata alone (its state is skipped while reading).
#[derive(Deserialize)]
struct SnapshotHeader {
    meta: SnapshotMeta,
}

impl SnapshotFile {
    pub(crate) fn decode(bytes: &[u8]) -> Result<SnapshotFile, rmp_serde::decode::Error> {
        rmp_serde::from_slice(bytes)
    }
}

/// Why the snapshots could not be read at start.
#[derive(Debug, thiserror::Error)]
#[error(
    "the raft snapshot {path} is damaged ({why}); move it away only if the log still holds everything after it"
)]
pub struct SnapshotError {
    pub path: String,
    pub why: String,
}

/// The state machine openraft drives.
pub struct StateMachine {
    store: Arc<StateStore>,
    last_applied: Option<LogId>,
    membership: StoredMembership<u64, crate::ServerNode>,
    directory: PathBuf,
}

/// How many snapshot files to keep (Nomad's `raft.SnapshotRetain`: 2).
const SNAPSHOTS_RETAINED: usize = 2;

impl StateMachine {
    /// Opens the snapshots in `directory` and loads the newest into `store`.
    pub fn open(directory: &Path, store: Arc<StateStore>) -> Result<StateMachine, SnapshotError> {
        let io = |e: std::io::Error| SnapshotError {
            path: directory.display().to_string(),
            why: e.to_string(),
        };
        std::fs::create_dir_all(directory).map_err(io)?;
        let mut machine = StateMachine {
            store,
            last_applied: None,
            membership: StoredMembership::default(),
            directory: directory.to_path_buf(),
        };
        if let Some(path) = newest_snapshot(directory).map_err(io)? {
            let bytes = std::fs::read(&path).map_err(|e| SnapshotError {
                path: path.display().to_string(),
                why: e.to_string(),
            })?;
            let file = SnapshotFile::decode(&bytes).map_err(|e| SnapshotError {
                path: path.display().to_string(),
                why: e.to_string(),
            })?;
            machine.last_applied = file.meta.last_log_id;
            machine.membership = file.meta.last_membership.clone();
            machine.store.restore(file.state);
        }
        Ok(machine)
    }
}

/// Writes a snapshot file atomically (a temporary file, fsync, rename) and drops all
/// but the newest [`SNAPSHOTS_RETAINED`].
fn write_snapshot_file(
    directory: &Path,
    meta: &SnapshotMeta,
    bytes: &[u8],
) -> Result<PathBuf, std::io::Error> {
    write_snapshot_file_with(directory, meta, |file| {
        std::io::Write::write_all(file, bytes)
    })
}

/// [`write_snapshot_file`] with the contents written by `write`, straight into the
/// file: a state of a million allocations is not first gathered in memory.
fn write_snapshot_file_with(
    directory: &Path,
    meta: &SnapshotMeta,
    write: impl FnOnce(&mut std::io::BufWriter<std::fs::File>) -> Result<(), std::io::Error>,
) -> Result<PathBuf, std::io::Error> {
    // The ID comes from the leader that sent the snapshot: it names a file here only
    // in the form this server writes, `<term>-<index>-<millis>`.
    let well_formed = meta.snapshot_id.split('-').count() == 3
        && meta
            .snapshot_id
            .split('-')
            .all(|part| !part.is_empty() && part.bytes().all(|b| b.is_ascii_digit()));
    if !well_formed {
        return Err(std::io::Error::new(
            std::io::ErrorKind::InvalidInput,
            format!(
                "snapshot ID {:?} is not <term>-<index>-<millis>",
                meta.snapshot_id
            ),
        ));
    }
    let name = format!("{}.snap", meta.snapshot_id);
    let path = directory.join(&name);
    let temporary = directory.join(format!("{name}.tmp"));
    {
        use std::io::Write;
        let mut file = std::io::BufWriter::new(std::fs::File::create(&temporary)?);
        write(&mut file)?;
        file.flush()?;
        file.get_ref().sync_all()?;
    }
    std::fs::rename(&temporary, &path)?;
    if let Ok(dir) = std::fs::File::open(directory) {
        let _ = dir.sync_all();
    }
    let mut files = snapshot_files(directory)?;
    files.sort_by_key(|(order, _)| *order);
    let excess = files.len().saturating_sub(SNAPSHOTS_RETAINED);
    for (_, old) in files.into_iter().take(excess) {
        if old != path {
            let _ = std::fs::remove_file(old);
        }
    }
    Ok(path)
}

/// Snapshot files are named `<term>-<index>-<millis>.snap`: ordered by index, then time.
/// A snapshot file's place in the order: (index, millis).
type SnapshotOrder = (u64, u64);

fn snapshot_files(directory: &Path) -> Result<Vec<(SnapshotOrder, PathBuf)>, std::io::Error> {
    let mut files = Vec::new();
    for entry in std::fs::read_dir(directory)? {
        let path = entry?.path();
        let Some(name) = path.file_name().and_then(|n| n.to_str()) else {
            continue;
        };
        let Some(stem) = name.strip_suffix(".snap") else {
            continue;
        };
        let parts: Vec<u64> = stem.split('-').filter_map(|p| p.parse().ok()).collect();
        if let [_, index, millis] = parts[..] {
            files.push(((index, millis), path));
        }
    }
    Ok(files)
}

/// The log index the newest snapshot file stands for.
pub(crate) fn newest_snapshot_index(directory: &Path) -> Result<Option<u64>, std::io::Error> {
    Ok(snapshot_files(directory)?
        .into_iter()
        .map(|((index, _), _)| index)
        .max())
}

fn newest_snapshot(directory: &Path) -> Result<Option<PathBuf>, std::io::Error> {
    Ok(snapshot_files(directory)?
        .into_iter()
        .max_by_key(|(order, _)| *order)
        .map(|(_, path)| path))
}

fn sm_read_error<E: std::error::Error + 'static>(error: E) -> StorageError {
    StorageIOError::read_state_machine(any_error(error)).into()
}

fn sm_write_error<E: std::error::Error + 'static>(error: E) -> StorageError {
    StorageIOError::write_state_machine(any_error(error)).into()
}

fn snapshot_error<E: std::error::Error + 'static>(error: E) -> StorageError {
    StorageIOError::write_snapshot(None, any_error(error)).into()
}

/// Builds a snapshot of the state as it is now (an O(1) clone of the store's snapshot),
/// serialized and written off the runtime.
pub struct SnapshotBuilder {
    state: Arc<Snapshot>,
    last_applied: Option<LogId>,
    membership: StoredMembership<u64, crate::ServerNode>,
    directory: PathBuf,
}

impl RaftSnapshotBuilder<TypeConfig> for SnapshotBuilder {
    async fn build_snapshot(&mut self) -> Result<openraft::Snapshot<TypeConfig>, StorageError> {
        let millis = std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .map(|d| d.as_millis())
            .unwrap_or_default();
        let (term, index) = self
            .last_applied
            .map(|id| (id.leader_id.term, id.index))
            .unwrap_or_default();
        let meta = SnapshotMeta {
            last_log_id: self.last_applied,
            last_membership: self.membership.clone(),
            snapshot_id: format!("{term}-{index}-{millis}"),
        };
        let state = self.state.clone();
        let file_meta = meta.clone();
        let directory = self.directory.clone();
        let path = tokio::task::spawn_blocking(move || {
            let file = SnapshotFileRef {
                meta: &file_meta,
                state: &state,
            };
            write_snapshot_file_with(&directory, &file_meta, |out| {
                file.serialize(&mut rmp_serde::Serializer::new(out).with_struct_map())
                    .map_err(std::io::Error::other)
            })
            .map_err(snapshot_error)
        })
        .await
        .map_err(snapshot_error)??;
        let bytes = std::fs::metadata(&path).map_or(0, |m| m.len());
        tracing::info!(snapshot = %meta.snapshot_id, bytes, "raft snapshot taken");
        // openraft keeps only the metadata of what it asked to build; the file is read
        // back when a follower needs it (`get_current_snapshot`).
        Ok(openraft::Snapshot {
            meta,
            snapshot: Box::new(Cursor::new(Vec::new())),
        })
    }
}

/// [`SnapshotFile`] by reference, to serialize without copying the state.
#[derive(Serialize)]
struct SnapshotFileRef<'a> {
    meta: &'a SnapshotMeta,
    state: &'a Snapshot,
}

impl RaftStateMachine<TypeConfig> for StateMachine {
    type SnapshotBuilder = SnapshotBuilder;

    async fn applied_state(
        &mut self,
    ) -> Result<(Option<LogId>, StoredMembership<u64, crate::ServerNode>), StorageError> {
        Ok((self.last_applied, self.membership.clone()))
    }

    async fn apply<I>(&mut self, entries: I) -> Result<Vec<EntryApplied>, StorageError>
    where
        I: IntoIterator<Item = Entry> + Send,
        I::IntoIter: Send,
    {
        let entries: Vec<Entry> = entries.into_iter().collect();
        let Some(last) = entries.last().map(|e| e.log_id) else {
            return Ok(Vec::new());
        };
        let mut membership = None;
        let mut commands = Vec::new();
        for entry in entries {
            match entry.payload {
                EntryPayload::Blank => commands.push((entry.log_id.index, None)),
                EntryPayload::Normal(command) => {
                    commands.push((entry.log_id.index, Some(command)));
                }
                EntryPayload::Membership(config) => {
                    membership = Some(StoredMembership::new(Some(entry.log_id), config));
                    commands.push((entry.log_id.index, None));
                }
            }
        }
        let store = self.store.clone();
        // One writer into the store, and a plan of thousands of allocations takes a
        // while: off the runtime.
        let answers = tokio::task::spawn_blocking(move || {
            commands
                .into_iter()
                .map(|(index, command)| match command {
                    None => EntryApplied {
                        index: store.snapshot().index,
                        refused: None,
                    },
                    Some(command) => match store.try_apply_at(command, index) {
                        Ok(index) => EntryApplied {
                            index,
                            refused: None,
                        },
                        Err(refused) => EntryApplied {
                            index: store.snapshot().index,
                            refused: Some(refused.0),
                        },
                    },
                })
                .collect::<Vec<_>>()
        })
        .await
        .map_err(sm_write_error)?;
        self.last_applied = Some(last);
        if let Some(membership) = membership {
            self.membership = membership;
        }
        Ok(answers)
    }

    async fn get_snapshot_builder(&mut self) -> SnapshotBuilder {
        SnapshotBuilder {
            state: self.store.snapshot(),
            last_applied: self.last_applied,
            membership: self.membership.clone(),
            directory: self.directory.clone(),
        }
    }

    async fn begin_receiving_snapshot(&mut self) -> Result<Box<Cursor<Vec<u8>>>, StorageError> {
        Ok(Box::new(Cursor::new(Vec::new())))
    }

    async fn install_snapshot(
        &mut self,
        meta: &SnapshotMeta,
        snapshot: Box<Cursor<Vec<u8>>>,
    ) -> Result<(), StorageError> {
        let bytes = snapshot.into_inner();
        let directory = self.directory.clone();
        let store = self.store.clone();
        let file_meta = meta.clone();
        // Decoding a whole state, its fsync and the restore: off the runtime.
        tokio::task::spawn_blocking(move || {
            let file = SnapshotFile::decode(&bytes).map_err(sm_read_error)?;
            write_snapshot_file(&directory, &file_meta, &bytes).map_err(snapshot_error)?;
            store.restore(file.state);
            Ok::<_, StorageError>(())
        })
        .await
        .map_err(sm_write_error)??;
        tracing::info!(snapshot = %meta.snapshot_id, "raft snapshot installed");
        self.last_applied = meta.last_log_id;
        self.membership = meta.last_membership.clone();
        Ok(())
    }

    async fn get_current_snapshot(
        &mut self,
    ) -> Result<Option<openraft::Snapshot<TypeConfig>>, StorageError> {
        let Some(path) = newest_snapshot(&self.directory).map_err(sm_read_error)? else {
            return Ok(None);
        };
        // Only the metadata is read here (the state is skipped, not built), off the
        // runtime: openraft asks at every start and for every snapshot it sends.
        let (meta, bytes) = tokio::task::spawn_blocking(move || {
            let bytes = std::fs::read(&path).map_err(sm_read_error)?;
            let header: SnapshotHeader = rmp_serde::from_slice(&bytes).map_err(sm_read_error)?;
            Ok::<_, StorageError>((header.meta, bytes))
        })
        .await
        .map_err(sm_read_error)??;
        Ok(Some(openraft::Snapshot {
            meta,
            snapshot: Box::new(Cursor::new(bytes)),
        }))
    }
}

/// The state as an operator's snapshot holds it (`state.bin` of `operator snapshot
/// save`): MessagePack, self-describing, so newer servers read older files.
pub fn encode_state(state: &Snapshot) -> Result<Vec<u8>, String> {
    rmp_serde::to_vec_named(state).map_err(|e| format!("encoding the state: {e}"))
}

/// Reads what [`encode_state`] wrote.
pub fn decode_state(bytes: &[u8]) -> Result<Snapshot, String> {
    rmp_serde::from_slice(bytes).map_err(|e| format!("the snapshot's state is unreadable: {e}"))
}

//! The client's state DB: what a restarted client needs to find its allocations again
//! and re-attach to their tasks (Nomad's `client/state`, BoltDB there, JSON files here).
//!
//! ```text
//! <data_dir>/client/allocs/<alloc_id>/alloc.json              the Allocation as received
//!                                    /tasks/<task>/state.json  TaskState + handle flag
//!                                    /tasks/<task>/executor/   the executor's records
//! ```
//!
//! Every file is written atomically (temporary file, then rename): a client killed at
//! any moment leaves either the previous record or the new one. The methods here block;
//! the runners call them through [`blocking`].

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

use caravan_drivers::executor::{read_json, write_json_atomic};
use caravan_drivers::host_path::{HostPathError, join_name};
use caravan_structs::{Allocation, TaskState};
use serde::{Deserialize, Serialize};

const ALLOC_FILE: &str = "alloc.json";
const TASK_STATE_FILE: &str = "state.json";

/// The allocations this client runs, on disk.
#[derive(Debug, Clone)]
pub struct StateDb {
    root: PathBuf,
}

/// One task's persisted state.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct PersistedTask {
    /// The task state as last reported.
    pub state: TaskState,
    /// A start is in flight or the task runs: its executor's records describe it. False
    /// once the runner has processed the task's exit (in the same write as the
    /// `Terminated` event), so an exit is never acted on twice.
    pub handle: bool,
}

/// An allocation found in the state DB.
#[derive(Debug, Clone)]
pub struct PersistedAlloc {
    pub alloc: Allocation,
    /// Tasks with a recorded state; a task missing here never got one.
    pub tasks: BTreeMap<String, PersistedTask>,
}

/// Where one task's state and executor records live.
#[derive(Debug, Clone)]
pub struct TaskStore {
    dir: PathBuf,
}

/// Creates `dir` and its missing parents readable by the agent's user only: the state
/// holds whole jobs, their environments included.
pub(crate) fn create_private_dir(dir: &Path) -> std::io::Result<()> {
    use std::os::unix::fs::DirBuilderExt;
    std::fs::DirBuilder::new()
        .recursive(true)
        .mode(0o700)
        .create(dir)
}

/// Runs a state DB operation off the async runtime: the DB is files, and a write waits
/// for the disk.
pub async fn blocking<T: Send + 'static>(
    operation: impl FnOnce() -> std::io::Result<T> + Send + 'static,
) -> std::io::Result<T> {
    tokio::task::spawn_blocking(operation)
        .await
        .unwrap_or_else(|error| Err(std::io::Error::other(error)))
}

impl StateDb {
    /// The state DB of the client whose data directory is `data_dir`.
    pub fn new(data_dir: &Path) -> StateDb {
        StateDb {
            root: data_dir.join("client").join("allocs"),
        }
    }

    fn alloc_path(&self, alloc_id: &str) -> Result<PathBuf, HostPathError> {
        join_name(&self.root, "allocation ID", alloc_id)
    }

    /// Records an allocation the client starts running.
    pub fn put_allocation(&self, alloc: &Allocation) -> std::io::Result<()> {
        let dir = self.alloc_path(&alloc.id).map_err(std::io::Error::other)?;
        create_private_dir(&dir)?;
        write_json_atomic(&dir.join(ALLOC_FILE), alloc)
    }

    /// Where a task of an allocation keeps its state.
    pub fn task(&self, alloc_id: &str, task: &str) -> Result<TaskStore, HostPathError> {
        let tasks = self.alloc_path(alloc_id)?.join("tasks");
        Ok(TaskStore {
            dir: join_name(&tasks, "task", task)?,
        })
    }

    /// Every allocation recorded, with its tasks' states. Unreadable entries are skipped
    /// with a warning: a torn or foreign directory must not stop the client.
    pub fn allocations(&self) -> Vec<PersistedAlloc> {
        let Ok(entries) = std::fs::read_dir(&self.root) else {
            return Vec::new();
        };
        let mut allocs = Vec::new();
        for entry in entries.flatten() {
            let dir = entry.path();
            let Some(alloc) = read_json::<Allocation>(&dir.join(ALLOC_FILE)) else {
                tracing::warn!(dir = %dir.display(), "state DB: no readable alloc.json; skipping");
                continue;
            };
            let mut tasks = BTreeMap::new();
            if let Ok(task_dirs) = std::fs::read_dir(dir.join("tasks")) {
                for task_dir in task_dirs.flatten() {
                    let name = task_dir.file_name().to_string_lossy().into_owned();
                    if let Some(task) = read_json(&task_dir.path().join(TASK_STATE_FILE)) {
                        tasks.insert(name, task);
                    }
                }
            }
            allocs.push(PersistedAlloc { alloc, tasks });
        }
        allocs.sort_by(|a, b| a.alloc.id.cmp(&b.alloc.id));
        allocs
    }

    /// Forgets every allocation.
    pub fn clear(&self) -> std::io::Result<()> {
        match std::fs::remove_dir_all(&self.root) {
            Err(error) if error.kind() == std::io::ErrorKind::NotFound => Ok(()),
            other => other,
        }
    }

    /// Forgets an allocation (its logs in `<data_dir>/alloc/<id>` stay until GC).
    pub fn remove_allocation(&self, alloc_id: &str) -> std::io::Result<()> {
        let Ok(dir) = self.alloc_path(alloc_id) else {
            return Ok(());
        };
        match std::fs::remove_dir_all(dir) {
            Err(error) if error.kind() == std::io::ErrorKind::NotFound => Ok(()),
            other => other,
        }
    }
}

impl TaskStore {
    /// The task's executor state directory (`task.json`, `exit.json`).
    pub fn executor_dir(&self) -> PathBuf {
        self.dir.join("executor")
    }

    /// Empties the executor directory before a new start, so no record of an earlier
    /// run can be taken for the new one.
    pub fn reset_executor_dir(&self) -> std::io::Result<()> {
        let dir = self.executor_dir();
        match std::fs::remove_dir_all(&dir) {
            Err(error) if error.kind() != std::io::ErrorKind::NotFound => return Err(error),
            _ => {}
        }
        std::fs::create_dir_all(dir)
    }

    /// The task's persisted state, if any.
    pub fn load(&self) -> Option<PersistedTask> {
        read_json(&self.dir.join(TASK_STATE_FILE))
    }

    /// Persists the task's state.
    pub fn save(&self, task: &PersistedTask) -> std::io::Result<()> {
        create_private_dir(&self.dir)?;
        write_json_atomic(&self.dir.join(TASK_STATE_FILE), task)
    }
}

#[cfg(test)]
mod tests {
    //! The state DB, and whole clients restarted on the same `data_dir` against a fake
    //! in-memory server ([`crate::fake_server`]). Executors are this test binary
    //! (`executor_entry`).

    use std::time::Duration;

    use caravan_drivers::executor::{TASK_FILE, TaskRecord, process_alive};
    use caravan_structs::{AllocClientStatus, TaskStateKind};
    use nix::sys::signal::{Signal, killpg};
    use nix::unistd::Pid;

    use super::*;
    use crate::fake_server::{FakeServer, allocation, eventually, runtime, start_client};

    /// Not a test: the executor's `main` when this binary runs as one.
    #[test]
    fn executor_entry() {
        caravan_drivers::executor::test_entry();
    }

    /// Kills a process group when the test ends, passed or not.
    struct GroupGuard(i32);

    impl Drop for GroupGuard {
        fn drop(&mut self) {
            let _ = killpg(Pid::from_raw(self.0), Signal::SIGKILL);
        }
    }

    /// Process groups of the processes whose environment has `NOMAD_ALLOC_ID=<id>`.
    fn task_groups_of(alloc_id: &str) -> Vec<i32> {
        let needle = format!("NOMAD_ALLOC_ID={alloc_id}");
        let mut groups = Vec::new();
        for entry in std::fs::read_dir("/proc").unwrap().flatten() {
            let Ok(pid) = entry.file_name().to_string_lossy().parse::<i32>() else {
                continue;
            };
            let Ok(environ) = std::fs::read(entry.path().join("environ")) else {
                continue;
            };
            let found = environ
                .split(|b| *b == 0)
                .any(|var| var == needle.as_bytes());
            if found
                && process_alive(pid)
                && let Ok(pgid) = nix::unistd::getpgid(Some(Pid::from_raw(pid)))
            {
                groups.push(pgid.as_raw());
            }
        }
        groups.sort();
        groups.dedup();
        groups
    }

    /// Waits until task `main` of the allocation runs, and answers its executor record
    /// and a guard that kills its process group when the test ends.
    fn task_running(
        server: &FakeServer,
        data_dir: &Path,
        alloc_id: &str,
    ) -> (TaskRecord, GroupGuard) {
        eventually("the task to run", || {
            server
                .alloc(alloc_id)
                .task_states
                .get("main")
                .is_some_and(|s| s.state == TaskStateKind::Running)
        });
        let record = task_record(data_dir, alloc_id);
        let guard = GroupGuard(record.pid);
        (record, guard)
    }

    fn task_record(data_dir: &Path, alloc_id: &str) -> TaskRecord {
        let dir = StateDb::new(data_dir)
            .task(alloc_id, "main")
            .unwrap()
            .executor_dir();
        read_json(&dir.join(TASK_FILE)).unwrap()
    }

    #[test]
    fn a_client_killed_mid_task_reattaches_and_records_the_exit() {
        let data = tempfile::tempdir().unwrap();
        let alloc = allocation("batch", "sleep 3; exit 7");
        let server = FakeServer::new(vec![alloc.clone()]);

        let first = runtime();
        let client = start_client(&first, data.path(), &server);
        let (record, _guard) = task_running(&server, data.path(), &alloc.id);
        // kill -9, as far as the client can tell: its runtime and every task on it are
        // gone at once, with no shutdown code run.
        drop(client);
        drop(first);
        assert!(
            process_alive(record.pid),
            "the task must survive its client"
        );

        let second = runtime();
        let client = start_client(&second, data.path(), &server);
        std::thread::sleep(Duration::from_millis(200));
        assert_eq!(task_record(data.path(), &alloc.id).pid, record.pid);
        let mut seen_running = false;
        eventually("the task's exit to be reported", || {
            let groups = task_groups_of(&alloc.id);
            assert!(
                groups.iter().all(|g| *g == record.pid),
                "a second copy of the task runs: groups {groups:?}, first {}",
                record.pid
            );
            seen_running |= !groups.is_empty();
            server.alloc(&alloc.id).client_status == AllocClientStatus::Failed
        });
        assert!(seen_running, "the task should still have been running");

        let reported = server.alloc(&alloc.id);
        let state = &reported.task_states["main"];
        assert_eq!(state.state, TaskStateKind::Dead);
        assert!(state.failed);
        let types: Vec<&str> = state.events.iter().map(|e| e.r#type.as_str()).collect();
        assert_eq!(
            types.iter().filter(|t| **t == "Started").count(),
            1,
            "{types:?}"
        );
        let terminated = state
            .events
            .iter()
            .find(|e| e.r#type == "Terminated")
            .unwrap();
        assert_eq!(terminated.display_message, "Exit Code: 7");
        assert_eq!(terminated.exit_code, 7);
        assert_eq!(types.last(), Some(&"Not Restarting"));
        // Once the servers have the final state, the client forgets the allocation; its
        // logs stay in <data_dir>/alloc/<id> until GC.
        eventually("the allocation's state to be removed", || {
            !data
                .path()
                .join("client/allocs")
                .join(alloc.id.as_str())
                .exists()
        });
        assert!(data.path().join("alloc").join(alloc.id.as_str()).exists());
        drop(client);
        drop(second);
    }

    #[test]
    fn after_a_graceful_shutdown_the_next_client_reattaches_and_can_stop_the_task() {
        let data = tempfile::tempdir().unwrap();
        let alloc = allocation("service", "sleep 30");
        let server = FakeServer::new(vec![alloc.clone()]);

        let first = runtime();
        let client = start_client(&first, data.path(), &server);
        let (record, _guard) = task_running(&server, data.path(), &alloc.id);
        first.block_on(client.shutdown());
        drop(client);
        drop(first);
        assert!(
            process_alive(record.pid),
            "shutdown must leave the task running"
        );

        let second = runtime();
        let client = start_client(&second, data.path(), &server);
        // Let the restored runner settle; it must not start another copy.
        std::thread::sleep(Duration::from_millis(300));
        assert_eq!(task_groups_of(&alloc.id), vec![record.pid]);

        server.stop(&alloc.id);
        eventually("the stopped allocation to complete", || {
            server.alloc(&alloc.id).client_status == AllocClientStatus::Complete
        });
        eventually("the task to be gone", || !process_alive(record.pid));
        let state = &server.alloc(&alloc.id).task_states["main"];
        let types: Vec<&str> = state.events.iter().map(|e| e.r#type.as_str()).collect();
        assert_eq!(
            &types[types.len() - 3..],
            ["Killing", "Terminated", "Killed"]
        );
        drop(client);
        drop(second);
    }

    #[test]
    fn task_states_round_trip_and_allocations_are_listed() {
        let data = tempfile::tempdir().unwrap();
        let db = StateDb::new(data.path());
        let alloc = allocation("batch", "true");
        db.put_allocation(&alloc).unwrap();
        let task = PersistedTask {
            state: TaskState {
                state: TaskStateKind::Running,
                restarts: 2,
                ..TaskState::default()
            },
            handle: true,
        };
        db.task(&alloc.id, "main").unwrap().save(&task).unwrap();
        assert_eq!(
            db.task(&alloc.id, "main").unwrap().load(),
            Some(task.clone())
        );
        let listed = db.allocations();
        assert_eq!(listed.len(), 1);
        assert_eq!(listed[0].alloc, alloc);
        assert_eq!(listed[0].tasks["main"], task);
        db.remove_allocation(&alloc.id).unwrap();
        assert!(db.allocations().is_empty());
        assert!(
            db.put_allocation(&Allocation {
                id: "../escape".into(),
                ..Allocation::default()
            })
            .is_err()
        );
    }
}

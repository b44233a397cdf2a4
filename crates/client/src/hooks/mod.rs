//! The steps around a task's and an allocation's life, as hooks in Nomad's taskrunner
//! style: the runners run their lists of hooks at fixed points and know nothing of
//! what each one does.
//!
//! Task hooks ([`TaskHook`]), in the order a task runner runs them:
//!
//! | hook | prestart | pre-kill |
//! |---|---|---|
//! | [`volumes::TaskDirHook`] | builds the task directory | |
//! | [`validate::ValidateHook`] | the client's user rules | |
//! | [`dispatch_payload::DispatchPayloadHook`] | writes the dispatch payload | |
//! | [`artifact::ArtifactHook`] | fetches artifacts | |
//! | [`template::TemplateHook`] | renders templates, watches those that read services (again when re-attached: `restored`) | |
//! | [`logs::LogsHook`] | the task's log files | |
//! | [`lifecycle::ShutdownDelayHook`] | | waits out `shutdown_delay` |
//!
//! Allocation hooks ([`AllocHook`]): [`volumes::AllocDirHook`] builds the allocation
//! directory before any task runs; [`lifecycle::LifecycleHook`] decides which task
//! deaths stop the rest of the group (a failed task, the leader).

pub mod artifact;
pub mod dispatch_payload;
pub mod lifecycle;
pub mod logs;
pub mod template;
pub mod validate;
pub mod volumes;

use std::future::Future;
use std::path::Path;
use std::pin::Pin;

use caravan_drivers::{DriverCapabilities, ExitResult, TaskProcess};
use caravan_structs::{Allocation, Task, TaskEvent, TaskGroup, TaskState};
use std::sync::Arc;

use tokio::sync::{mpsc, watch};

use crate::checks::TaskAction;
use crate::services::ServiceCatalog;

use crate::alloc_dir::AllocDir;
use crate::task_env::TaskEnv;
use crate::task_runner::KillReason;
use crate::task_status::TaskStatus;
use crate::user_rules::UserRules;

/// A boxed future a hook answers with (hooks are kept as trait objects).
pub type HookFuture<'a, T> = Pin<Box<dyn Future<Output = T> + Send + 'a>>;

/// Why a prestart hook did not let the task start.
#[derive(Debug)]
pub enum HookError {
    /// The task cannot run: these events are recorded and the task is dead, failed.
    Fatal(Vec<TaskEvent>),
    /// It may work next time (Nomad's recoverable errors, such as a failed download):
    /// the event is recorded and the restart policy decides.
    Recoverable(TaskEvent),
    /// The task was told to stop while the hook ran.
    Killed,
}

/// The task's log files and their rotation, as the logs hook set them up.
pub use caravan_drivers::TaskLogs as LogFiles;

/// What a prestart hook sees of its task, and may change before it starts.
pub struct TaskPrestart<'a> {
    pub task: &'a Task,
    pub alloc_dir: &'a AllocDir,
    /// The task's own directory (checked when the runner was made).
    pub task_dir: &'a Path,
    /// The task's environment; templates add their `env = true` variables.
    pub env: &'a mut TaskEnv,
    /// What the task's driver supports (the default for a driver this client lacks).
    pub capabilities: DriverCapabilities,
    /// The task's state: hooks record and publish their events there.
    pub status: &'a mut TaskStatus,
    /// Becomes `Some` when the task must stop: long hooks give up then.
    pub kill: &'a mut watch::Receiver<Option<KillReason>>,
    /// Where the task's output goes, once the logs hook has run.
    pub log_files: &'a mut Option<LogFiles>,
}

/// What a pre-kill hook sees: the running task, about to be sent its kill signal.
pub struct TaskPreKill<'a> {
    pub status: &'a mut TaskStatus,
    pub process: &'a mut TaskProcess,
}

/// A step of a task's life (Nomad's `TaskHook` and its prestart and pre-kill
/// interfaces). Every method has a default that does nothing.
pub trait TaskHook: Send + Sync {
    /// The hook's name, as errors and logs mention it.
    fn name(&self) -> &'static str;

    /// Runs before every start of the task (a hook with nothing left to do returns at
    /// once: artifacts are fetched once per runner, say).
    fn prestart<'a>(
        &'a mut self,
        _ctx: &'a mut TaskPrestart<'_>,
    ) -> HookFuture<'a, Result<(), HookError>> {
        Box::pin(async { Ok(()) })
    }

    /// Runs when the runner re-attached to a task an earlier client started (whose
    /// prestart hooks ran then): a hook that watches something while the task runs
    /// starts watching again.
    fn restored<'a>(&'a mut self, _ctx: &'a mut TaskPrestart<'_>) -> HookFuture<'a, ()> {
        Box::pin(async {})
    }

    /// Runs when the task is to be killed, before its kill signal. Answers the task's
    /// exit if it ended meanwhile (then no signal is sent).
    fn pre_kill<'a>(
        &'a mut self,
        _ctx: &'a mut TaskPreKill<'_>,
    ) -> HookFuture<'a, Option<ExitResult>> {
        Box::pin(async { None })
    }
}

/// A step of an allocation's life (Nomad's `RunnerHook` and its prerun interface), and
/// the rules that tie its tasks together. Every method has a default that does nothing.
pub trait AllocHook: Send + Sync {
    /// The hook's name, as errors and logs mention it.
    fn name(&self) -> &'static str;

    /// Runs once before any task of a new or restored allocation runs. An error fails
    /// every task with a `Setup Failure` event carrying its message.
    fn prerun(&mut self) -> HookFuture<'_, Result<(), String>> {
        Box::pin(async { Ok(()) })
    }

    /// A task's state changed (or was found so after a client restart): answers whether
    /// the group's other tasks must be stopped, and why.
    fn task_state_updated(&mut self, _task: &str, _state: &TaskState) -> Option<KillReason> {
        None
    }
}

/// Everything the standard task hooks are made from.
pub struct TaskHookSetup<'a> {
    pub alloc: &'a Allocation,
    pub group: &'a TaskGroup,
    pub task: &'a Task,
    pub user_rules: &'a UserRules,
    /// The task comes from the state DB after a client restart.
    pub restored: bool,
    /// The servers' service catalogue, which templates read (`nomadService`).
    pub catalog: Arc<dyn ServiceCatalog>,
    /// Where template changes ask for the task's restart or signal.
    pub actions: mpsc::UnboundedSender<TaskAction>,
}

/// The task hooks every task runs, in order.
pub fn task_hooks(setup: TaskHookSetup<'_>) -> Vec<Box<dyn TaskHook>> {
    let payload = setup.alloc.job.as_ref().and_then(|job| job.payload.clone());
    vec![
        Box::new(volumes::TaskDirHook::new(setup.restored)),
        Box::new(validate::ValidateHook::new(setup.user_rules.clone())),
        Box::new(dispatch_payload::DispatchPayloadHook::new(payload)),
        Box::new(artifact::ArtifactHook::default()),
        Box::new(template::TemplateHook::new(
            setup.alloc.namespace.clone(),
            setup.alloc.id.clone(),
            setup.catalog,
            setup.actions,
        )),
        Box::new(logs::LogsHook),
        Box::new(lifecycle::ShutdownDelayHook::new(setup.group, setup.task)),
    ]
}

/// The allocation hooks every allocation runs, in order.
pub fn alloc_hooks(dir: &AllocDir, group: &TaskGroup) -> Vec<Box<dyn AllocHook>> {
    vec![
        Box::new(volumes::AllocDirHook::new(dir.clone(), group)),
        Box::new(lifecycle::LifecycleHook::new(group)),
    ]
}

/// Runs blocking file work off the async runtime; a panic in it is an error.
pub(crate) async fn blocking<T: Send + 'static>(
    work: impl FnOnce() -> Result<T, String> + Send + 'static,
) -> Result<T, String> {
    tokio::task::spawn_blocking(work)
        .await
        .unwrap_or_else(|error| Err(error.to_string()))
}

#[cfg(test)]
pub(crate) mod test_support {
    //! A task's prestart context over a temporary allocation directory.

    use std::path::PathBuf;

    use caravan_structs::{Allocation, Node, TaskState};
    use tokio::sync::{mpsc, watch};

    use super::*;
    use crate::state_db::{PersistedTask, StateDb};

    /// One task of an allocation in a temporary directory, and its hook context.
    pub struct Harness {
        _root: tempfile::TempDir,
        pub task: Task,
        pub dir: AllocDir,
        pub task_dir: PathBuf,
        pub env: TaskEnv,
        pub capabilities: DriverCapabilities,
        pub status: TaskStatus,
        pub kill_tx: watch::Sender<Option<KillReason>>,
        kill: watch::Receiver<Option<KillReason>>,
        pub log_files: Option<LogFiles>,
        _updates: mpsc::UnboundedReceiver<(String, TaskState)>,
    }

    impl Harness {
        /// Task `name` with its allocation's shared directory built, not its own.
        pub fn new(name: &str) -> Harness {
            let root = tempfile::tempdir().unwrap();
            let dir = AllocDir::new(&root.path().join("alloc"), "a1").unwrap();
            std::fs::create_dir_all(&dir.root).unwrap();
            dir.build().unwrap();
            let task = Task {
                name: name.into(),
                driver: "raw_exec".into(),
                ..Task::default()
            };
            let task_dir = dir.task(name).unwrap();
            let env = TaskEnv::build(
                &Allocation::default(),
                &TaskGroup::default(),
                &task,
                &Node::default(),
                "global",
                &dir,
                &task_dir,
                std::iter::empty(),
            );
            let store = StateDb::new(root.path()).task("a1", name).unwrap();
            let (updates, receiver) = mpsc::unbounded_channel();
            let status = TaskStatus::new(name.into(), PersistedTask::default(), store, updates);
            let (kill_tx, kill) = watch::channel(None);
            Harness {
                _root: root,
                task,
                dir,
                task_dir,
                env,
                capabilities: DriverCapabilities::default(),
                status,
                kill_tx,
                kill,
                log_files: None,
                _updates: receiver,
            }
        }

        /// [`Harness::new`], with the task's directory built.
        pub fn built(name: &str) -> Harness {
            let harness = Harness::new(name);
            harness.dir.build_task(name).unwrap();
            harness
        }

        /// Runs `hook`'s prestart on this task.
        pub async fn prestart(&mut self, hook: &mut dyn TaskHook) -> Result<(), HookError> {
            let mut ctx = TaskPrestart {
                task: &self.task,
                alloc_dir: &self.dir,
                task_dir: &self.task_dir,
                env: &mut self.env,
                capabilities: self.capabilities,
                status: &mut self.status,
                kill: &mut self.kill,
                log_files: &mut self.log_files,
            };
            hook.prestart(&mut ctx).await
        }

        /// The types of the events recorded so far.
        pub fn event_types(&self) -> Vec<String> {
            let events = &self.status.state().events;
            events.iter().map(|e| e.r#type.clone()).collect()
        }
    }
}

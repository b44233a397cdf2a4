//! Allocations and evaluations of a job.

use caravan_structs::{
    AllocClientStatus, AllocDesiredStatus, AllocatedResources, AllocatedSharedResources,
    AllocatedTaskResources, Allocation, CpuResources, EvalStatus, EvalTrigger, Evaluation, Job,
    MemoryResources,
};

/// An allocation `id` of `job`'s first group on `node`, wanted running and running,
/// carrying the job.
pub fn alloc(id: &str, job: &Job, node: &str) -> AllocBuilder {
    AllocBuilder {
        alloc: Allocation {
            id: id.into(),
            namespace: job.namespace.clone(),
            job_id: job.id.clone(),
            task_group: job
                .task_groups
                .first()
                .map(|group| group.name.clone())
                .unwrap_or_default(),
            node_id: node.into(),
            desired_status: AllocDesiredStatus::Run,
            client_status: AllocClientStatus::Running,
            job: Some(std::sync::Arc::new(job.clone())),
            ..Allocation::default()
        },
    }
}

/// What an allocation of one task `task` was given: `cpu` MHz, `memory_mb` and a shared
/// disk of `disk_mb`.
pub fn allocated(task: &str, cpu: i64, memory_mb: i64, disk_mb: i64) -> AllocatedResources {
    AllocatedResources {
        tasks: [(
            task.to_string(),
            AllocatedTaskResources {
                cpu: CpuResources { cpu_shares: cpu },
                memory: MemoryResources {
                    memory_mb,
                    memory_max_mb: 0,
                },
            },
        )]
        .into(),
        shared: AllocatedSharedResources {
            disk_mb,
            ..AllocatedSharedResources::default()
        },
    }
}

/// An allocation being built.
#[derive(Debug, Clone)]
#[must_use]
pub struct AllocBuilder {
    alloc: Allocation,
}

impl AllocBuilder {
    setters! { alloc;
        /// What the server wants of it (run, stop, evict).
        desired: AllocDesiredStatus => desired_status;
        /// What the client reports (pending, running, complete, failed, lost).
        client: AllocClientStatus => client_status;
    }
}

builder_end!(AllocBuilder, alloc: Allocation);

/// A pending `job-register` evaluation `id` of `job`, with the job's namespace,
/// priority and type.
pub fn eval(id: &str, job: &Job) -> EvalBuilder {
    EvalBuilder {
        eval: Evaluation {
            id: id.into(),
            namespace: job.namespace.clone(),
            priority: job.priority,
            r#type: job.job_type(),
            triggered_by: EvalTrigger::JobRegister,
            job_id: job.id.clone(),
            status: EvalStatus::Pending,
            ..Evaluation::default()
        },
    }
}

/// An evaluation being built.
#[derive(Debug, Clone)]
#[must_use]
pub struct EvalBuilder {
    eval: Evaluation,
}

impl EvalBuilder {
    setters! { eval;
        /// The evaluation's status.
        status: EvalStatus => status;
    }

    /// Created and last modified at `nanos` (Unix nanoseconds).
    pub fn at(mut self, nanos: i64) -> Self {
        self.eval.create_time = nanos;
        self.eval.modify_time = nanos;
        self
    }
}

builder_end!(EvalBuilder, eval: Evaluation);

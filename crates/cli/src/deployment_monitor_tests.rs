//! Deployment monitor tests: scripted answers in, exact lines out.

use std::collections::VecDeque;

use caravan_structs::DeploymentState;

use super::*;

const S: i64 = 1_000_000_000;
const ID: &str = "1b2c3d4e-0000-0000-0000-000000000000";
const ROLLBACK_ID: &str = "9f8e7d6c-0000-0000-0000-000000000000";

/// Answers each deployment's polls in order (the last one repeats).
struct Script {
    polls: Vec<Deployment>,
    rollback: Option<Deployment>,
    rollback_waits: usize,
}

impl Script {
    fn new(polls: Vec<Deployment>) -> Script {
        Script {
            polls,
            rollback: None,
            rollback_waits: 0,
        }
    }
}

impl DeploymentSource for Script {
    fn deployment(
        &mut self,
        id: &str,
        index: u64,
        _wait: Duration,
    ) -> Result<(Deployment, u64), ApiError> {
        if let Some(rollback) = self.rollback.as_ref().filter(|r| r.id == id) {
            return Ok((rollback.clone(), index + 1));
        }
        let mut queue: VecDeque<Deployment> = self.polls.drain(..).collect();
        let next = if queue.len() > 1 {
            queue.pop_front().expect("len checked")
        } else {
            queue.front().cloned().ok_or(ApiError::Status {
                code: 404,
                body: "deployment not found".into(),
                kind: None,
            })?
        };
        self.polls = queue.into();
        Ok((next, index + 1))
    }

    fn allocations(&mut self, _id: &str) -> Result<Vec<AllocationListStub>, ApiError> {
        Ok(Vec::new())
    }

    fn latest_deployment(&mut self, _job_id: &str) -> Result<Option<Deployment>, ApiError> {
        Ok(self.rollback.clone())
    }

    fn wait_for_rollback(&mut self) {
        self.rollback_waits += 1;
    }

    fn time(&mut self) -> TimeContext {
        // 2026-08-21T10:00:00Z
        TimeContext::fixed_utc(1_787_306_400 * S)
    }
}

fn deployment(id: &str, status: &str, description: &str, healthy: i64) -> Deployment {
    Deployment {
        id: id.into(),
        job_id: "example".into(),
        status: status.into(),
        status_description: description.into(),
        task_groups: [(
            "cache".to_string(),
            DeploymentState {
                desired_total: 2,
                placed_allocs: 2,
                healthy_allocs: healthy,
                ..DeploymentState::default()
            },
        )]
        .into(),
        ..Deployment::default()
    }
}

fn options(prefixed: bool, tty: bool) -> WatchOptions {
    WatchOptions {
        length: 8,
        verbose: false,
        prefixed,
        tty,
        wait: Duration::from_secs(1),
        ui: Ui::plain(),
    }
}

fn run(script: &mut Script, options: WatchOptions) -> (Option<String>, String) {
    let mut lines = Vec::new();
    let status = watch(script, ID, 0, options, &mut |l| lines.push(l.to_string()));
    (status, lines.join("\n"))
}

#[test]
fn non_tty_prints_a_block_per_update_until_successful() {
    let mut script = Script::new(vec![
        deployment(ID, "running", "Deployment is running", 1),
        deployment(ID, "successful", "Deployment completed successfully", 2),
    ]);
    let (status, out) = run(&mut script, options(true, false));
    assert_eq!(status.as_deref(), Some("successful"));
    assert_eq!(
        out,
        "    \n2026-08-21T10:00:00Z
ID          = 1b2c3d4e
Job ID      = example
Job Version = 0
Status      = running
Description = Deployment is running

Deployed
Task Group  Desired  Placed  Healthy  Unhealthy
cache       2        2       1        0
    \n2026-08-21T10:00:00Z
ID          = 1b2c3d4e
Job ID      = example
Job Version = 0
Status      = successful
Description = Deployment completed successfully

Deployed
Task Group  Desired  Placed  Healthy  Unhealthy
cache       2        2       2        0"
    );
}

#[test]
fn unprefixed_blocks_start_with_an_empty_line() {
    let mut script = Script::new(vec![deployment(
        ID,
        "failed",
        "Deployment marked as failed",
        0,
    )]);
    let (status, out) = run(&mut script, options(false, false));
    assert_eq!(status.as_deref(), Some("failed"));
    assert!(out.starts_with("\n2026-08-21T10:00:00Z\nID "), "{out:?}");
}

#[test]
fn tty_shows_the_end_mark_and_the_last_block_indented() {
    let mut script = Script::new(vec![
        deployment(ID, "running", "Deployment is running", 1),
        deployment(ID, "successful", "Deployment completed successfully", 2),
    ]);
    let (_, out) = run(&mut script, options(true, true));
    assert_eq!(
        out,
        "  Deployment \"1b2c3d4e\" in progress...
\x1b[1A\x1b[2K  ✓ Deployment \"1b2c3d4e\" successful

    2026-08-21T10:00:00Z
    ID          = 1b2c3d4e
    Job ID      = example
    Job Version = 0
    Status      = successful
    Description = Deployment completed successfully

    Deployed
    Task Group  Desired  Placed  Healthy  Unhealthy
    cache       2        2       2        0
"
    );
    let mut failed = Script::new(vec![deployment(
        ID,
        "cancelled",
        "Cancelled due to newer version of job",
        0,
    )]);
    let (_, out) = run(&mut failed, options(true, true));
    assert!(
        out.contains("  ! Deployment \"1b2c3d4e\" cancelled"),
        "{out}"
    );
}

#[test]
fn auto_revert_follows_the_rollback_deployment() {
    let mut failed = deployment(
        ID,
        "failed",
        "Failed due to unhealthy allocations - rolling back to job version 0",
        0,
    );
    failed
        .task_groups
        .values_mut()
        .for_each(|g| g.auto_revert = true);
    let mut script = Script::new(vec![failed]);
    script.rollback = Some(deployment(
        ROLLBACK_ID,
        "successful",
        "Deployment completed successfully",
        2,
    ));
    let (status, out) = run(&mut script, options(true, false));
    // The failed deployment is what the command reports.
    assert_eq!(status.as_deref(), Some("failed"));
    assert_eq!(script.rollback_waits, 1);
    assert!(out.contains("Status      = failed"), "{out}");
    assert!(out.contains("ID          = 9f8e7d6c"), "{out}");
    assert!(out.contains("Status      = successful"), "{out}");
}

#[test]
fn unreadable_deployment_is_an_error() {
    let mut script = Script::new(Vec::new());
    let (status, out) = run(&mut script, options(true, false));
    assert_eq!(status, None);
    assert_eq!(
        out,
        "==> 2026-08-21T10:00:00Z: Error fetching deployment: Unexpected response code: 404 (deployment not found)"
    );
}

//! Every job setting that Caravan once decoded and then dropped, in one table: each is
//! now either carried out (the test named in its row shows it working end to end),
//! refused at submit with a message that names it, or, where the job runs as written
//! without the setting's effect, answered with Nomad's `Warnings`. Nothing is accepted
//! silently. (The agent's `client { max_kill_timeout }`, the one agent setting of the
//! list, is shown by `task_settings::max_kill_timeout_caps_a_tasks_kill_timeout`.)

mod common;

use common::*;

/// What submitting a job with the setting does.
enum Verdict {
    /// `job run` succeeds without warnings; the named test shows the effect.
    Carried(&'static str),
    /// `job run` fails with this message.
    Refused(&'static str),
    /// `job run` succeeds and prints this warning.
    Warned(&'static str),
}

/// A job file `id` with `job_body` at job level (its `type` and other job blocks, each
/// line indented and ended), `group` inside group `g`, and one raw_exec task `t` whose
/// body is `task` (its driver config included).
fn job(id: &str, job_body: &str, group: &str, task: &str) -> String {
    job_hcl(
        id,
        job_body,
        &format!(
            "    {group}\n    task \"t\" {{\n      driver = \"raw_exec\"\n      {task}\n    }}"
        ),
    )
}

/// The job-level `type` line of `kind`.
fn kind(kind: &str) -> String {
    format!("  type = \"{kind}\"\n")
}

const TRUE: &str = r#"config {
        command = "/bin/true"
      }"#;

#[test]
fn each_setting_that_was_dropped_is_carried_out_refused_or_warned_about() {
    use Verdict::*;
    let rows: Vec<(&str, String, Verdict)> = vec![
        (
            "type = \"system\"",
            job("sys", &kind("system"), "", TRUE),
            Carried("server tests/system_jobs.rs: one allocation per eligible node"),
        ),
        (
            "type = \"sysbatch\"",
            job("sysb", &kind("sysbatch"), "", TRUE),
            Carried("scheduler tests/system.rs: sysbatch work is not run again"),
        ),
        (
            "leader",
            job(
                "lead",
                &kind("batch"),
                "",
                &format!("leader = true\n      {TRUE}"),
            ),
            Carried("task_settings::when_the_leader_task_ends_the_others_are_stopped"),
        ),
        (
            "dispatch_payload",
            job(
                "disp",
                &format!(
                    "{}  parameterized {{\n    payload = \"optional\"\n  }}\n",
                    kind("batch")
                ),
                "",
                &format!(
                    "dispatch_payload {{\n        file = \"input.txt\"\n      }}\n      {TRUE}"
                ),
            ),
            Carried("task_settings::a_dispatch_payload_is_written_to_the_task_directory"),
        ),
        (
            "shutdown_delay (group and task)",
            job(
                "delay",
                &kind("batch"),
                "shutdown_delay = \"1s\"",
                &format!("shutdown_delay = \"1s\"\n      {TRUE}"),
            ),
            Carried("task_settings::shutdown_delay_lets_the_task_run_on_before_its_kill_signal"),
        ),
        (
            "config: oom_score_adj, denied_envvars",
            job(
                "drv",
                &kind("batch"),
                "",
                r#"config {
        command = "/bin/true"
        oom_score_adj = 500
        denied_envvars = ["SECRET"]
      }"#,
            ),
            Carried(
                "task_settings::driver_settings_denied_envvars_and_oom_score_adj_reach_the_task",
            ),
        ),
        (
            "lifecycle",
            job(
                "life",
                &kind("batch"),
                "",
                &format!("lifecycle {{\n        hook = \"prestart\"\n      }}\n      {TRUE}"),
            ),
            Carried("lifecycle::a_prestart_task_prepares_what_the_main_task_reads"),
        ),
        (
            "volume (host) and volume_mount",
            job(
                "vol",
                &kind("batch"),
                "volume \"data\" {\n      type = \"host\"\n      source = \"data\"\n    }",
                &format!(
                    "volume_mount {{\n        volume = \"data\"\n        destination = \"/data\"\n      }}\n      {TRUE}"
                ),
            ),
            // Carried out for isolated drivers (host_volumes::an_exec_task_reads_its_host_
            // volume_and_cannot_write_a_read_only_one); raw_exec mounts nothing, as Nomad's.
            Warned("Task \"t\": volume_mount of \"data\" at \"/data\" has no effect with raw_exec"),
        ),
        (
            "volume (csi)",
            job(
                "csi",
                &kind("batch"),
                "volume \"data\" {\n      type = \"csi\"\n      source = \"data\"\n    }",
                TRUE,
            ),
            Refused("volume \"data\": CSI volumes are not supported by Caravan"),
        ),
        (
            "config: cgroup_v1_override",
            job(
                "cg1",
                &kind("batch"),
                "",
                "config {\n        command = \"/bin/true\"\n        cgroup_v1_override = { pids = \"x\" }\n      }",
            ),
            Refused("config: cgroup_v1_override is not supported by Caravan"),
        ),
        (
            "config: cgroup_v2_override",
            job(
                "cg2",
                &kind("batch"),
                "",
                "config {\n        command = \"/bin/true\"\n        cgroup_v2_override = \"x\"\n      }",
            ),
            Refused("config: cgroup_v2_override is not supported by Caravan"),
        ),
        (
            "update (group)",
            job(
                "upd",
                &kind("service"),
                "update {\n      max_parallel = 1\n    }",
                TRUE,
            ),
            Carried("deployments.rs"),
        ),
        (
            "update (job, copied to its groups)",
            job(
                "rolling",
                "  update {\n    max_parallel = 1\n  }\n",
                "",
                TRUE,
            ),
            Carried("deployments.rs"),
        ),
        (
            "update max_parallel above the count",
            job(
                "wide",
                &kind("service"),
                "update {\n      max_parallel = 2\n    }",
                TRUE,
            ),
            Warned(
                "Job Warnings:\n1 warning(s):\n\n* Group \"g\" has warnings: Update max parallel count is greater than task group count (2 > 1). A destructive change would result in the simultaneous replacement of all allocations.",
            ),
        ),
    ];
    let agent = DevAgent::start();
    let dir = tempfile::tempdir().unwrap();
    for (setting, hcl, verdict) in rows {
        let file = write(dir.path(), "job.nomad", &hcl);
        let out = agent.cli(
            &["job", "run", "-detach", file.to_str().unwrap()],
            dir.path(),
        );
        let (text, errors) = (stdout(&out), stderr(&out));
        match verdict {
            Carried(shown_by) => assert!(
                out.status.success() && !text.contains("Warnings"),
                "{setting} (shown by {shown_by}) was not taken as it is:\n{text}{errors}"
            ),
            Refused(message) => assert!(
                !out.status.success() && errors.contains(message),
                "{setting} was not refused with {message:?}:\n{text}{errors}"
            ),
            Warned(warning) => assert!(
                out.status.success() && text.contains(warning),
                "{setting} was not warned about with {warning:?}:\n{text}{errors}"
            ),
        }
    }
}

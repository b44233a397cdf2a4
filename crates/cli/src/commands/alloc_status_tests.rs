//! `alloc status` rendering: structs in, exact text out.

use caravan_structs::{AllocClientStatus, AllocDesiredStatus, Job, TaskStateKind};

use super::*;
use caravan_api_types::AllocResourceUsage;

const S: i64 = 1_000_000_000;
/// 2026-11-25T12:00:00Z
const T0: i64 = 1_795_608_000 * S;

fn event(kind: &str, at: i64, display: &str) -> TaskEvent {
    TaskEvent {
        r#type: kind.into(),
        time: at,
        display_message: display.into(),
        ..TaskEvent::default()
    }
}

fn alloc() -> Allocation {
    let mut alloc = Allocation {
        id: "48154342-aaaa-bbbb-cccc-dddddddddddd".into(),
        eval_id: "b5edcaa7-0000-0000-0000-000000000000".into(),
        name: "hello-exec-batch.example[0]".into(),
        node_id: "6477d9ed-0000-0000-0000-000000000000".into(),
        node_name: "client-1".into(),
        job_id: "hello-exec-batch".into(),
        job: Some(std::sync::Arc::new(Job {
            version: 3,
            ..Job::default()
        })),
        task_group: "example".into(),
        desired_status: AllocDesiredStatus::Run,
        client_status: AllocClientStatus::Complete,
        client_description: "All tasks have completed".into(),
        create_time: T0,
        modify_time: T0 + 2 * S,
        ..Allocation::default()
    };
    alloc.allocated_resources = caravan_testkit::allocated("echo", 500, 300, 300);
    alloc.task_states.insert(
        "echo".into(),
        TaskState {
            state: TaskStateKind::Dead,
            started_at: "2026-11-25T12:00:01Z".into(),
            finished_at: "2026-11-25T12:00:02Z".into(),
            last_restart: "0001-01-01T00:00:00Z".into(),
            events: vec![
                event("Received", T0, "Task received by client"),
                event("Task Setup", T0, "Building Task Directory"),
                event("Started", T0 + S, ""),
                TaskEvent {
                    exit_code: 0,
                    ..event("Terminated", T0 + 2 * S, "")
                },
            ],
            ..TaskState::default()
        },
    );
    alloc
}

#[test]
fn full_layout() {
    let time = TimeContext::fixed_utc(T0 + 60 * S);
    let out = render_alloc_status(&alloc(), AllocStatusOptions::default(), Ui::plain(), &time);
    assert_eq!(
        out,
        r#"ID                  = 48154342-aaaa-bbbb-cccc-dddddddddddd
Eval ID             = b5edcaa7
Name                = hello-exec-batch.example[0]
Node ID             = 6477d9ed
Node Name           = client-1
Job ID              = hello-exec-batch
Job Version         = 3
Client Status       = complete
Client Description  = All tasks have completed
Desired Status      = run
Desired Description = <none>
Created             = 1m0s ago
Modified            = 58s ago

Task "echo" is "dead"
Task Resources:
CPU      Memory   Disk     Addresses
500 MHz  300 MiB  300 MiB  <none>

Task Events:
Started At     = 2026-11-25T12:00:01Z
Finished At    = 2026-11-25T12:00:02Z
Total Restarts = 0
Last Restart   = N/A

Recent Events:
Time                  Type        Description
2026-11-25T12:00:02Z  Terminated  Exit Code: 0
2026-11-25T12:00:01Z  Started     Task started by client
2026-11-25T12:00:00Z  Task Setup  Building Task Directory
2026-11-25T12:00:00Z  Received    Task received by client"#
    );
}

#[test]
fn short_layout() {
    let time = TimeContext::fixed_utc(T0 + 60 * S);
    let opts = AllocStatusOptions {
        short: true,
        ..AllocStatusOptions::default()
    };
    assert_eq!(
        render_alloc_status(&alloc(), opts, Ui::plain(), &time),
        "ID       = 48154342-aaaa-bbbb-cccc-dddddddddddd
Name     = hello-exec-batch.example[0]
Created  = 1m0s ago
Modified = 58s ago

Tasks
Name  State  Last Event  Time                  Lifecycle
echo  dead   Terminated  2026-11-25T12:00:02Z  main"
    );
}

#[test]
fn verbose_has_full_ids_metrics_and_absolute_times() {
    let time = TimeContext::fixed_utc(T0 + 60 * S);
    let opts = AllocStatusOptions {
        verbose: true,
        ..AllocStatusOptions::default()
    };
    let out = render_alloc_status(&alloc(), opts, Ui::plain(), &time);
    assert!(
        out.contains("Eval ID             = b5edcaa7-0000-0000-0000-000000000000\n"),
        "{out}"
    );
    assert!(
        out.contains("Created             = 2026-11-25T12:00:00Z\n"),
        "{out}"
    );
    assert!(out.contains("Allocation Time     = 0s\n"), "{out}");
    assert!(
        out.ends_with("\n\nPlacement Metrics\n  * No nodes were eligible for evaluation"),
        "{out}"
    );
}

#[test]
fn display_messages() {
    let cases: &[(TaskEvent, &str)] = &[
        (
            TaskEvent {
                exit_code: 1,
                signal: 9,
                ..event("Terminated", 0, "")
            },
            "Exit Code: 1, Signal: 9",
        ),
        (
            TaskEvent {
                start_delay: 16_500_000_000,
                restart_reason: "Restart within policy".into(),
                ..event("Restarting", 0, "")
            },
            "Task restarting in 16.5s",
        ),
        (
            TaskEvent {
                kill_timeout: 5 * S,
                ..event("Killing", 0, "")
            },
            "Sent interrupt. Waiting 5s before force killing",
        ),
        (event("Killed", 0, ""), "Task successfully killed"),
        (
            TaskEvent {
                driver_error: "boom".into(),
                ..event("Driver Failure", 0, "")
            },
            "boom",
        ),
    ];
    for (e, want) in cases {
        assert_eq!(display_message(e), *want, "{}", e.r#type);
    }
}

fn live_usage() -> AllocResourceUsage {
    let body = br#"{
        "ResourceUsage": {"MemoryStats": {"RSS": 1677722, "Measured": ["RSS", "Swap"]}, "CpuStats": {"TotalTicks": 12.7, "Measured": ["Percent"]}},
        "Tasks": {"echo": {"ResourceUsage": {
            "MemoryStats": {"RSS": 1677722, "Swap": 0, "Measured": ["RSS", "Swap"]},
            "CpuStats": {"TotalTicks": 12.7, "Percent": 0.633, "ThrottledPeriods": 0, "ThrottledTime": 0, "Measured": ["Throttled Periods", "Percent", "Throttled Time"]}
        }, "Timestamp": 1, "Pids": null}},
        "Timestamp": 1
    }"#;
    caravan_structs::json::from_slice_lenient(body).unwrap()
}

fn running_alloc() -> Allocation {
    let mut alloc = alloc();
    alloc
        .allocated_resources
        .tasks
        .get_mut("echo")
        .unwrap()
        .cpu
        .cpu_shares = 100;
    alloc
}

#[test]
fn live_usage_in_task_resources() {
    let time = TimeContext::fixed_utc(T0 + 60 * S);
    let usage = live_usage();
    let out = render_alloc_status_with_stats(
        &running_alloc(),
        Some(&usage),
        AllocStatusOptions::default(),
        Ui::plain(),
        &time,
    );
    assert!(
        out.contains(
            "Task Resources:\nCPU         Memory           Disk     Addresses\n12/100 MHz  1.6 MiB/300 MiB  300 MiB  <none>\n\nTask Events:"
        ),
        "{out}"
    );
    assert!(!out.contains("Memory Stats"), "{out}");
}

#[test]
fn stats_flag_adds_verbose_tables() {
    let time = TimeContext::fixed_utc(T0 + 60 * S);
    let usage = live_usage();
    let opts = AllocStatusOptions {
        stats: true,
        ..AllocStatusOptions::default()
    };
    let out =
        render_alloc_status_with_stats(&running_alloc(), Some(&usage), opts, Ui::plain(), &time);
    assert!(
        out.contains(
            "12/100 MHz  1.6 MiB/300 MiB  300 MiB  <none>

Memory Stats
RSS      Swap
1.6 MiB  0 B

CPU Stats
Percent  Throttled Periods  Throttled Time
0.63%    0                  0

Task Events:"
        ),
        "{out}"
    );
}

#[test]
fn no_usage_for_a_task_falls_back_to_reservations() {
    let time = TimeContext::fixed_utc(T0 + 60 * S);
    let empty = AllocResourceUsage::default();
    let opts = AllocStatusOptions {
        stats: true,
        ..AllocStatusOptions::default()
    };
    assert_eq!(
        render_alloc_status_with_stats(&alloc(), Some(&empty), opts, Ui::plain(), &time),
        render_alloc_status(&alloc(), AllocStatusOptions::default(), Ui::plain(), &time)
    );
}

#[test]
fn memory_max_row() {
    let time = TimeContext::fixed_utc(T0 + 60 * S);
    let mut alloc = alloc();
    alloc
        .allocated_resources
        .tasks
        .get_mut("echo")
        .unwrap()
        .memory
        .memory_max_mb = 512;
    let out = render_alloc_status(&alloc, AllocStatusOptions::default(), Ui::plain(), &time);
    assert!(
        out.contains(
            "CPU      Memory        Disk     Addresses\n500 MHz  300 MiB       300 MiB  <none>\n         Max: 512 MiB           \n"
        ),
        "{out}"
    );
}

#[test]
fn deployment_lines_after_modified() {
    let time = TimeContext::fixed_utc(T0 + 60 * S);
    let mut alloc = alloc();
    alloc.deployment_id = "1b2c3d4e-0000-0000-0000-000000000000".into();
    let render = |alloc: &Allocation| {
        render_alloc_status(alloc, AllocStatusOptions::default(), Ui::plain(), &time)
    };
    assert!(
        render(&alloc).contains(
            "Modified            = 58s ago\nDeployment ID       = 1b2c3d4e\nDeployment Health   = unset\n\n"
        ),
        "{}",
        render(&alloc)
    );
    alloc.deployment_status = Some(caravan_structs::AllocDeploymentStatus {
        healthy: Some(true),
        canary: true,
        ..caravan_structs::AllocDeploymentStatus::default()
    });
    assert!(render(&alloc).contains("Deployment Health   = healthy\nCanary              = true\n"));
    alloc.deployment_status = Some(caravan_structs::AllocDeploymentStatus {
        healthy: Some(false),
        ..caravan_structs::AllocDeploymentStatus::default()
    });
    let out = render(&alloc);
    assert!(out.contains("Deployment Health   = unhealthy\n"), "{out}");
    assert!(!out.contains("Canary"), "{out}");
}

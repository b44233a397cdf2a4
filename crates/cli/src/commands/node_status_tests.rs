//! `node status` rendering: structs in, exact text out.

use caravan_structs::{AllocClientStatus, AllocDesiredStatus, DriverInfo, NodeEligibility};

use super::*;

const S: i64 = 1_000_000_000;
/// 2026-11-25T12:00:00Z
const T0: i64 = 1_795_608_000 * S;

fn node() -> Node {
    let mut node = caravan_testkit::node("6477d9ed-0000-0000-0000-000000000000")
        .secret("")
        .name("client-1")
        .node_pool("default")
        .ready()
        .memory(8192)
        .disk(10240)
        .build();
    node.drivers.insert(
        "raw_exec".into(),
        DriverInfo {
            detected: true,
            healthy: true,
            health_description: "Healthy".into(),
            update_time: "2026-11-25T12:00:00Z".into(),
            ..DriverInfo::default()
        },
    );
    node.drivers.insert(
        "exec".into(),
        DriverInfo {
            detected: true,
            healthy: false,
            ..DriverInfo::default()
        },
    );
    node.drivers.insert("docker".into(), DriverInfo::default());
    node.events.push(NodeEvent {
        message: "Node registered".into(),
        subsystem: "Cluster".into(),
        timestamp: "2026-11-25T12:00:00Z".into(),
        ..NodeEvent::default()
    });
    node.attributes.insert("os.name".into(), "debian".into());
    node.attributes.insert("kernel.name".into(), "linux".into());
    node.meta.insert("Name".into(), "client-1".into());
    node
}

fn running_alloc() -> Allocation {
    Allocation {
        id: "48154342-aaaa-bbbb-cccc-dddddddddddd".into(),
        node_id: "6477d9ed-0000-0000-0000-000000000000".into(),
        task_group: "example".into(),
        desired_status: AllocDesiredStatus::Run,
        client_status: AllocClientStatus::Running,
        create_time: T0,
        modify_time: T0 + S,
        allocated_resources: caravan_testkit::allocated("echo", 500, 300, 300),
        ..Allocation::default()
    }
}

#[test]
fn single_node_layout() {
    let view = NodeView {
        node: node(),
        allocs: vec![running_alloc()],
        ..NodeView::default()
    };
    let time = TimeContext::fixed_utc(T0 + 10 * S);
    assert_eq!(
        render_node(&view, false, false, Ui::plain(), &time),
        "ID              = 6477d9ed-0000-0000-0000-000000000000
Name            = client-1
Node Pool       = default
Class           = <none>
DC              = dc1
Drain           = false
Eligibility     = eligible
Status          = ready
CSI Controllers = <none>
CSI Drivers     = <none>
Host Volumes    = <none>
Host Networks   = <none>
CSI Volumes     = <none>
Driver Status   = exec (unhealthy),raw_exec

Node Events
Time                  Subsystem  Message
2026-11-25T12:00:00Z  Cluster    Node registered

Allocated Resources
CPU           Memory           Disk
500/4000 MHz  300 MiB/8.0 GiB  300 MiB/10 GiB

Allocations
ID        Node ID   Task Group  Version  Desired  Status   Created  Modified
48154342  6477d9ed  example     0        run      running  10s ago  9s ago"
    );
}

#[test]
fn verbose_adds_drivers_attributes_meta() {
    let view = NodeView {
        node: node(),
        allocs: vec![],
        ..NodeView::default()
    };
    let time = TimeContext::fixed_utc(T0 + 10 * S);
    let out = render_node(&view, true, false, Ui::plain(), &time);
    assert!(!out.contains("Driver Status"), "{out}");
    assert!(
        out.contains("\n\nHost Volumes\nName  ReadOnly  Source\n\nDrivers"),
        "{out}"
    );
    assert!(
        out.contains(
            "\n\nDrivers
Driver    Detected  Healthy  Message  Time
docker    false     false    <none>   <none>
exec      true      false    <none>   <none>
raw_exec  true      true     Healthy  2026-11-25T12:00:00Z\n"
        ),
        "{out}"
    );
    assert!(
        out.ends_with(
            "\n\nAttributes
kernel.name = linux
os.name     = debian

Meta
Name = client-1"
        ),
        "{out}"
    );
}

#[test]
fn host_volumes_are_listed_by_name_and_in_verbose_detail() {
    let mut node = node();
    for (name, path, read_only) in [("data", "/srv/data", false), ("certs", "/etc/ssl", true)] {
        node.host_volumes.insert(
            name.into(),
            caravan_structs::ClientHostVolumeConfig {
                name: name.into(),
                path: path.into(),
                read_only,
            },
        );
    }
    let view = NodeView {
        node,
        ..NodeView::default()
    };
    let time = TimeContext::fixed_utc(T0 + 10 * S);
    let out = render_node(&view, false, false, Ui::plain(), &time);
    assert!(out.contains("Host Volumes    = certs,data\n"), "{out}");
    let out = render_node(&view, true, false, Ui::plain(), &time);
    assert!(
        out.contains(
            "\n\nHost Volumes
Name   ReadOnly  Source
certs  true      /etc/ssl
data   false     /srv/data\n\nDrivers"
        ),
        "{out}"
    );
}

#[test]
fn node_list_table() {
    let stub = NodeListStub::new(&node());
    assert_eq!(
        render_node_list(std::slice::from_ref(&stub), false, false, None),
        "ID        Node Pool  DC   Name      Class   Drain  Eligibility  Status
6477d9ed  default    dc1  client-1  <none>  false  eligible     ready"
    );
    assert_eq!(
        render_node_list(std::slice::from_ref(&stub), false, false, Some(&[3])),
        "ID        Node Pool  DC   Name      Class   Drain  Eligibility  Status  Running Allocs
6477d9ed  default    dc1  client-1  <none>  false  eligible     ready   3"
    );
    let with_os = NodeListStub::with_fields(
        &node(),
        caravan_api_types::NodeStubFields {
            os: true,
            resources: false,
        },
    );
    assert_eq!(
        render_node_list(&[with_os], false, true, None),
        "ID        Node Pool  DC   Name      Class   OS      Drain  Eligibility  Status
6477d9ed  default    dc1  client-1  <none>  debian  false  eligible     ready"
    );
}

#[test]
fn node_list_shows_draining_nodes() {
    let mut draining = node();
    draining.drain = true;
    draining.scheduling_eligibility = NodeEligibility::Ineligible;
    let stub = NodeListStub::new(&draining);
    assert_eq!(
        render_node_list(&[stub], false, false, None),
        "ID        Node Pool  DC   Name      Class   Drain  Eligibility  Status
6477d9ed  default    dc1  client-1  <none>  true   ineligible   ready"
    );
}

#[test]
fn prefix_match_table_and_quiet_ids() {
    let mut other = node();
    other.id = "6477aaaa-0000-0000-0000-000000000000".into();
    other.name = "client-2".into();
    other.drain = true;
    let stubs = [NodeListStub::new(&node()), NodeListStub::new(&other)];
    let cases = [
        (
            "short_ids",
            render_node_stub_list(&stubs, false),
            "ID        DC   Name      Class   Drain  Eligibility  Status
6477d9ed  dc1  client-1  <none>  false  eligible     ready
6477aaaa  dc1  client-2  <none>  true   eligible     ready",
        ),
        (
            "full_ids",
            render_node_stub_list(&stubs[..1], true),
            "ID                                    DC   Name      Class   Drain  Eligibility  Status
6477d9ed-0000-0000-0000-000000000000  dc1  client-1  <none>  false  eligible     ready",
        ),
        (
            "quiet",
            render_node_ids(&stubs),
            "6477d9ed-0000-0000-0000-000000000000
6477aaaa-0000-0000-0000-000000000000",
        ),
    ];
    for (name, got, want) in cases {
        assert_eq!(got, want, "case {name}");
    }
}

#[test]
fn node_events_newest_first_with_driver_subsystem() {
    let mut n = node();
    n.drain = true;
    n.events.push(NodeEvent {
        message: "Node drain strategy set".into(),
        subsystem: "Drain".into(),
        timestamp: "2026-11-25T12:00:05Z".into(),
        ..NodeEvent::default()
    });
    n.events.push(NodeEvent {
        message: "Driver is unhealthy".into(),
        subsystem: "Driver".into(),
        details: [("driver".to_string(), "exec".to_string())].into(),
        timestamp: "2026-11-25T12:00:07Z".into(),
        ..NodeEvent::default()
    });
    let view = NodeView {
        node: n,
        allocs: vec![],
        ..NodeView::default()
    };
    let time = TimeContext::fixed_utc(T0 + 10 * S);
    let out = render_node(&view, false, false, Ui::plain(), &time);
    assert!(out.contains("Drain           = true\n"), "{out}");
    assert!(
        out.contains(
            "\n\nNode Events
Time                  Subsystem     Message
2026-11-25T12:00:07Z  Driver: exec  Driver is unhealthy
2026-11-25T12:00:05Z  Drain         Node drain strategy set
2026-11-25T12:00:00Z  Cluster       Node registered\n"
        ),
        "{out}"
    );
    let verbose = render_node(&view, true, false, Ui::plain(), &time);
    assert!(
        verbose.contains(
            "Time                  Subsystem     Message                  Details
2026-11-25T12:00:07Z  Driver: exec  Driver is unhealthy      driver: exec
2026-11-25T12:00:05Z  Drain         Node drain strategy set  <none>\n"
        ),
        "{verbose}"
    );
}

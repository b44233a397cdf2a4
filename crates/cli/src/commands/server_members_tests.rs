//! `server members` rendering and leader matching: structs in, exact text out.

use caravan_api_types::AgentMember;

use super::*;

fn member(name: &str, addr: &str, region: &str, dc: &str, status: &str) -> AgentMember {
    let tags = [
        ("build", "1.9.3"),
        ("dc", dc),
        ("port", "4647"),
        ("raft_vsn", "3"),
        ("region", region),
        ("role", "nomad"),
    ];
    AgentMember {
        name: name.into(),
        addr: addr.into(),
        port: 4648,
        tags: tags
            .iter()
            .map(|(k, v)| (k.to_string(), v.to_string()))
            .collect(),
        status: status.into(),
        protocol_cur: 2,
        ..AgentMember::default()
    }
}

fn cluster() -> Vec<AgentMember> {
    vec![
        member("server-3.global", "10.0.0.10", "global", "dc1", "alive"),
        member("server-1.global", "10.0.0.8", "global", "dc1", "alive"),
        member("server-2.global", "10.0.0.9", "global", "dc1", "failed"),
    ]
}

fn leaders(pairs: &[(&str, &str)]) -> RegionLeaders {
    pairs
        .iter()
        .map(|(r, l)| (r.to_string(), l.to_string()))
        .collect()
}

#[test]
fn default_table_is_nomads() {
    let mut members = cluster();
    sort_members(&mut members);
    assert_eq!(
        render_members(&members, &leaders(&[("global", "10.0.0.8:4647")])),
        "\
Name             Address    Port  Status  Leader  Raft Version  Build  Datacenter  Region
server-1.global  10.0.0.8   4648  alive   true    3             1.9.3  dc1         global
server-2.global  10.0.0.9   4648  failed  false   3             1.9.3  dc1         global
server-3.global  10.0.0.10  4648  alive   false   3             1.9.3  dc1         global"
    );
}

#[test]
fn verbose_table_adds_protocol_and_sorted_tags() {
    let members = vec![member(
        "server-1.global",
        "10.0.0.8",
        "global",
        "dc1",
        "alive",
    )];
    assert_eq!(
        render_members_verbose(&members, &RegionLeaders::new()),
        "\
Name             Address   Port  Status  Leader  Protocol  Raft Version  Build  Datacenter  Region  Tags
server-1.global  10.0.0.8  4648  alive   false   2         3             1.9.3  dc1         global  build=1.9.3,dc=dc1,port=4647,raft_vsn=3,region=global,role=nomad"
    );
}

#[test]
fn missing_tags_leave_cells_empty() {
    // Caravan's single-server agents answered without raft_vsn or build tags.
    let bare = AgentMember {
        name: "a.global".into(),
        addr: "127.0.0.1".into(),
        port: 4647,
        status: "alive".into(),
        ..AgentMember::default()
    };
    assert_eq!(
        render_members(&[bare], &RegionLeaders::new()),
        "\
Name      Address    Port  Status  Leader  Raft Version  Build  Datacenter  Region
a.global  127.0.0.1  4647  alive   false                                    "
    );
}

#[test]
fn leader_is_the_member_at_the_regions_leader_address() {
    let ipv6 = member("server-6.global", "fd00::6", "global", "dc1", "alive");
    let cases = [
        (
            "rpc_port_matches",
            member("s.global", "10.0.0.8", "global", "dc1", "alive"),
            leaders(&[("global", "10.0.0.8:4647")]),
            true,
        ),
        (
            "serf_port_is_not_the_rpc_port",
            member("s.global", "10.0.0.8", "global", "dc1", "alive"),
            leaders(&[("global", "10.0.0.8:4648")]),
            false,
        ),
        (
            "another_regions_leader",
            member("s.europe", "10.0.0.8", "europe", "dc1", "alive"),
            leaders(&[("global", "10.0.0.8:4647")]),
            false,
        ),
        (
            "ipv6_is_bracketed",
            ipv6.clone(),
            leaders(&[("global", "[fd00::6]:4647")]),
            true,
        ),
        ("no_leader_known", ipv6, RegionLeaders::new(), false),
    ];
    for (name, member, leaders, want) in cases {
        assert_eq!(is_leader(&member, &leaders), want, "case {name}");
    }
}

#[test]
fn members_sort_by_region_then_dc_then_name() {
    let mut members = vec![
        member("b.global", "10.0.0.2", "global", "dc2", "alive"),
        member("z.asia", "10.0.1.1", "asia", "dc9", "alive"),
        member("c.global", "10.0.0.3", "global", "dc1", "alive"),
        member("a.global", "10.0.0.1", "global", "dc2", "alive"),
    ];
    sort_members(&mut members);
    let names: Vec<&str> = members.iter().map(|m| m.name.as_str()).collect();
    assert_eq!(names, ["z.asia", "c.global", "a.global", "b.global"]);
}

#[test]
fn regions_of_members_that_have_not_left() {
    let members = vec![
        member("a.global", "10.0.0.1", "global", "dc1", "alive"),
        member("b.europe", "10.0.0.2", "europe", "dc1", "left"),
        member("c.asia", "10.0.0.3", "asia", "dc1", "failed"),
    ];
    let regions: Vec<String> = leader_regions(&members).into_iter().collect();
    assert_eq!(regions, ["asia", "global"]);
}

#[test]
fn json_members_carry_a_leader_tag() {
    let members = members_with_leader_tag(&cluster(), &leaders(&[("global", "10.0.0.8:4647")]));
    let tags: Vec<&str> = members.iter().map(|m| m.tag("Leader")).collect();
    assert_eq!(tags, ["false", "true", "false"]);
}

#[test]
fn leader_errors_read_like_go_multierror() {
    assert_eq!(
        leader_errors_text(&["Region \"asia\": no path to region".into()]),
        "1 error occurred:\n\t* Region \"asia\": no path to region\n\n"
    );
    assert_eq!(
        leader_errors_text(&["Region \"a\": x".into(), "Region \"b\": y".into()]),
        "2 errors occurred:\n\t* Region \"a\": x\n\t* Region \"b\": y\n\n"
    );
}

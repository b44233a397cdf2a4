use super::*;

const WORKSHOP_CLIENT: &str = r#"
data_dir  = "/tmp/nomad-workshop/local-cluster-data-1"

bind_addr = "0.0.0.0"

client {
  enabled = true
  servers = ["127.0.0.1:4647"]
  meta {
"Name" = "client-1"
  }
}

advertise {
  http = "127.0.0.1"
  rpc  = "127.0.0.1"
  serf = "127.0.0.1"
}

ports {
  http = 5641
  rpc  = 5642
  serf = 5643
}

plugin "raw_exec" {
  config {
enabled = true
  }
}

telemetry {
  publish_allocation_metrics = true
  publish_node_metrics       = true
  prometheus_metrics         = true
}
"#;

#[test]
fn workshop_client_config_reads() {
    let config = parse_agent_config_hcl("client-1.hcl", WORKSHOP_CLIENT).unwrap();
    assert_eq!(config.client.enabled, Some(true));
    assert_eq!(
        config.client.servers,
        Some(vec!["127.0.0.1:4647".to_string()])
    );
    assert_eq!(
        config.client.meta.get("Name").map(String::as_str),
        Some("client-1")
    );
    assert_eq!(config.ports.http, Some(5641));
    assert_eq!(config.advertise.rpc.as_deref(), Some("127.0.0.1"));
    assert!(config.raw_exec_enabled());
    assert_eq!(config.telemetry.prometheus_metrics, Some(true));
}

#[test]
fn bad_configs_name_key_and_position() {
    let cases = [
        (
            "datacentre = \"dc1\"\n",
            "x.hcl:1:1: unknown key \"datacentre\"",
        ),
        (
            "server {\n  bootstrap_expect = \"one\"\n}\n",
            "x.hcl:2:22: \"bootstrap_expect\" must be a number",
        ),
        (
            "ports {\n  http = 99999\n}\n",
            "x.hcl:2:10: \"http\" must be a port",
        ),
        (
            "tls {\n  http = true\n}\n",
            "x.hcl:1:1: \"tls\" is not supported",
        ),
        ("client {\n  enabled = true\n", "x.hcl:"),
    ];
    for (source, want) in cases {
        let error = parse_agent_config_hcl("x.hcl", source)
            .unwrap_err()
            .to_string();
        assert!(error.starts_with(want), "{source:?}: got {error}");
    }
}

#[test]
fn later_files_win_and_maps_merge() {
    let first =
        parse_agent_config_hcl("a.hcl", "region = \"a\"\nclient { meta { x = \"1\" } }\n").unwrap();
    let second =
        parse_agent_config_hcl("b.hcl", "region = \"b\"\nclient { meta { y = \"2\" } }\n").unwrap();
    let merged = first.merge(second);
    assert_eq!(merged.region.as_deref(), Some("b"));
    assert_eq!(merged.client.meta.len(), 2);
}

#[test]
fn json_config_reads() {
    let config = parse_agent_config_json(
        "a.json",
        r#"{"datacenter":"dc2","client":{"enabled":true},"plugin":{"raw_exec":{"config":{"enabled":true}}}}"#,
    )
    .unwrap();
    assert_eq!(config.datacenter.as_deref(), Some("dc2"));
    assert!(config.raw_exec_enabled());
}

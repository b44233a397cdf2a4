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
            "vault {\n  enabled = true\n}\n",
            "x.hcl:1:1: \"vault\" is not supported",
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
fn the_docker_plugin_block_names_a_wrong_key() {
    let good = "plugin \"docker\" {\n  config {\n    endpoint = \"unix:///var/run/docker.sock\"\n    allow_privileged = true\n    volumes {\n      enabled = true\n    }\n    gc {\n      image       = false\n      image_delay = \"1m\"\n      container   = true\n    }\n  }\n}\n";
    let config = parse_agent_config_hcl("x.hcl", good).unwrap();
    assert_eq!(
        config.plugins["docker"]["endpoint"],
        "unix:///var/run/docker.sock"
    );
    let cases = [
        (
            "plugin \"docker\" {\n  config {\n    endpont = \"x\"\n  }\n}\n",
            "unknown key \"endpont\" in plugin \"docker\" config",
        ),
        (
            "plugin \"docker\" {\n  config {\n    gc {\n      images = true\n    }\n  }\n}\n",
            "unknown key \"images\" in plugin \"docker\" config gc",
        ),
        (
            "plugin \"docker\" {\n  config {\n    volumes {\n      enabled = \"sure\"\n    }\n  }\n}\n",
            "\"enabled\" must be",
        ),
    ];
    for (source, want) in cases {
        let error = parse_agent_config_hcl("x.hcl", source)
            .unwrap_err()
            .to_string();
        assert!(error.contains(want), "{source:?}: got {error}");
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

const RAFT_SERVER: &str = r#"
server {
  enabled                 = true
  bootstrap_expect        = 3
  raft_protocol           = 3
  raft_multiplier         = 5
  raft_snapshot_threshold = 8192
  raft_trailing_logs      = 10240
  server_join {
    retry_join     = ["10.0.0.1", "10.0.0.2:4648"]
    retry_interval = "15s"
    retry_max      = 3
  }
}
"#;

const RAFT_SERVER_JSON: &str = r#"{
  "server": {
    "enabled": true,
    "bootstrap_expect": 3,
    "raft_protocol": 3,
    "raft_multiplier": 5,
    "raft_snapshot_threshold": 8192,
    "raft_trailing_logs": 10240,
    "server_join": {
      "retry_join": ["10.0.0.1", "10.0.0.2:4648"],
      "retry_interval": "15s",
      "retry_max": 3
    }
  }
}"#;

fn strings(items: &[&str]) -> Option<Vec<String>> {
    Some(items.iter().map(|s| s.to_string()).collect())
}

#[test]
fn raft_tuning_and_server_join_read_from_hcl_and_json() {
    let want = ServerBlock {
        enabled: Some(true),
        bootstrap_expect: Some(3),
        raft_protocol: Some(3),
        raft_multiplier: Some(5),
        raft_snapshot_threshold: Some(8192),
        raft_trailing_logs: Some(10240),
        server_join: ServerJoin {
            retry_join: strings(&["10.0.0.1", "10.0.0.2:4648"]),
            retry_interval: Some(15_000_000_000),
            retry_max: Some(3),
            start_join: None,
        },
        ..ServerBlock::default()
    };
    let hcl = parse_agent_config_hcl("server.hcl", RAFT_SERVER).unwrap();
    assert_eq!(hcl.server, want);
    let json = parse_agent_config_json("server.json", RAFT_SERVER_JSON).unwrap();
    assert_eq!(json.server, want);
}

#[test]
fn server_join_fields_from_each_spelling() {
    let cases: &[(&str, &str, ServerJoin)] = &[
        (
            "deprecated_keys_fill_server_join",
            "server {\n  retry_join = [\"a\"]\n  retry_interval = \"5s\"\n  retry_max = 2\n}\n",
            ServerJoin {
                retry_join: strings(&["a"]),
                retry_interval: Some(5_000_000_000),
                retry_max: Some(2),
                start_join: None,
            },
        ),
        (
            "deprecated_start_join",
            "server {\n  start_join = [\"a\", \"b\"]\n}\n",
            ServerJoin {
                start_join: strings(&["a", "b"]),
                ..ServerJoin::default()
            },
        ),
        (
            "a_single_address_is_a_list",
            "server {\n  server_join {\n    retry_join = \"a\"\n  }\n}\n",
            ServerJoin {
                retry_join: strings(&["a"]),
                ..ServerJoin::default()
            },
        ),
        (
            "block_wins_over_deprecated_key_it_also_sets",
            "server {\n  retry_max = 5\n  server_join {\n    retry_max = 3\n  }\n}\n",
            ServerJoin {
                retry_max: Some(3),
                ..ServerJoin::default()
            },
        ),
        (
            "deprecated_key_fills_what_the_block_leaves_unset",
            "server {\n  start_join = [\"a\"]\n  server_join {\n    retry_interval = \"1m\"\n  }\n}\n",
            ServerJoin {
                start_join: strings(&["a"]),
                retry_interval: Some(60_000_000_000),
                ..ServerJoin::default()
            },
        ),
        (
            "client_server_join_is_still_ignored",
            "client {\n  server_join {\n    retry_join = [\"a\"]\n  }\n}\n",
            ServerJoin::default(),
        ),
    ];
    for (name, source, want) in cases {
        let config =
            parse_agent_config_hcl("x.hcl", source).unwrap_or_else(|e| panic!("{name}: {e}"));
        assert_eq!(&config.server.server_join, want, "{name}");
    }
}

#[test]
fn zero_raft_protocol_and_multiplier_mean_the_default() {
    // Nomad: 0 defers to the default (protocol 3, multiplier 1).
    let config = parse_agent_config_hcl(
        "x.hcl",
        "server {\n  raft_protocol = 0\n  raft_multiplier = 0\n}\n",
    )
    .unwrap();
    assert_eq!(config.server.raft_protocol, None);
    assert_eq!(config.server.raft_multiplier, None);
}

#[test]
fn bad_raft_and_join_settings_name_the_field() {
    let cases = [
        (
            "multiplier_above_ten",
            "server {\n  raft_multiplier = 11\n}\n",
            "x.hcl:2:21: \"raft_multiplier\" must be between 1 and 10, got 11",
        ),
        (
            "negative_multiplier",
            "server {\n  raft_multiplier = -1\n}\n",
            "x.hcl:2:21: \"raft_multiplier\" must be between 1 and 10, got -1",
        ),
        (
            "multiplier_not_a_number",
            "server {\n  raft_multiplier = \"fast\"\n}\n",
            "x.hcl:2:21: \"raft_multiplier\" must be a number",
        ),
        (
            "protocol_two",
            "server {\n  raft_protocol = 2\n}\n",
            "x.hcl:2:19: \"raft_protocol\" must be 3, the only Raft protocol of Nomad 1.4 and later, got 2",
        ),
        (
            "trailing_logs_zero",
            "server {\n  raft_trailing_logs = 0\n}\n",
            "x.hcl:2:24: \"raft_trailing_logs\" must be at least 1, got 0",
        ),
        (
            "snapshot_threshold_negative",
            "server {\n  raft_snapshot_threshold = -5\n}\n",
            "x.hcl:2:29: \"raft_snapshot_threshold\" must be at least 1, got -5",
        ),
        (
            "retry_max_negative",
            "server {\n  server_join {\n    retry_max = -1\n  }\n}\n",
            "x.hcl:3:17: \"retry_max\" must be >= 0 (0 retries forever), got -1",
        ),
        (
            "retry_interval_not_a_duration",
            "server {\n  retry_interval = \"soon\"\n}\n",
            "x.hcl:2:20: \"retry_interval\": ",
        ),
        (
            "unknown_server_join_key",
            "server {\n  server_join {\n    retry_joins = [\"a\"]\n  }\n}\n",
            "x.hcl:3:5: unknown key \"retry_joins\" in server_join (did you mean \"retry_join\"?)",
        ),
        (
            "deprecated_key_beside_server_join_retry_join",
            "server {\n  retry_max = 2\n  server_join {\n    retry_join = [\"a\"]\n  }\n}\n",
            "x.hcl:2:3: server_join and retry_max cannot both be defined; prefer setting the server_join block",
        ),
        (
            "start_join_in_both_places",
            "server {\n  start_join = [\"a\"]\n  server_join {\n    start_join = [\"b\"]\n  }\n}\n",
            "x.hcl:2:3: server_join and start_join cannot both be defined; prefer setting the server_join block",
        ),
        (
            "retry_join_and_start_join_in_server_join",
            "server {\n  server_join {\n    retry_join = [\"a\"]\n    start_join = [\"b\"]\n  }\n}\n",
            "x.hcl:4:5: retry_join and start_join cannot both be defined",
        ),
    ];
    for (name, source, want) in cases {
        let error = parse_agent_config_hcl("x.hcl", source)
            .unwrap_err()
            .to_string();
        assert!(error.starts_with(want), "{name}: got {error}");
    }
}

#[test]
fn bad_raft_settings_in_json_name_the_field() {
    let error = parse_agent_config_json("a.json", r#"{"server":{"raft_multiplier":20}}"#)
        .unwrap_err()
        .to_string();
    assert_eq!(
        error,
        "a.json:1:1: \"raft_multiplier\" must be between 1 and 10, got 20"
    );
}

#[test]
fn later_files_override_raft_and_join_settings_field_by_field() {
    let first = parse_agent_config_hcl("a.hcl", RAFT_SERVER).unwrap();
    let second = parse_agent_config_hcl(
        "b.hcl",
        "server {\n  raft_multiplier = 2\n  server_join {\n    retry_max = 9\n  }\n}\n",
    )
    .unwrap();
    let merged = first.merge(second).server;
    assert_eq!(merged.raft_multiplier, Some(2));
    assert_eq!(merged.raft_trailing_logs, Some(10240));
    assert_eq!(merged.server_join.retry_max, Some(9));
    assert_eq!(
        merged.server_join.retry_join,
        strings(&["10.0.0.1", "10.0.0.2:4648"])
    );
    assert_eq!(merged.server_join.retry_interval, Some(15_000_000_000));
}

#[test]
fn tls_block_reads_from_hcl_and_json() {
    let hcl = r#"
tls {
  http = true
  rpc  = true
  ca_file   = "nomad-agent-ca.pem"
  cert_file = "global-server-nomad.pem"
  key_file  = "global-server-nomad-key.pem"
  verify_server_hostname = true
  verify_https_client    = false
  rpc_upgrade_mode       = false
  tls_min_version        = "tls13"
  tls_prefer_server_cipher_suites = true
}
"#;
    let config = parse_agent_config_hcl("a.hcl", hcl).unwrap();
    let want = TlsBlock {
        http: Some(true),
        rpc: Some(true),
        ca_file: Some("nomad-agent-ca.pem".into()),
        cert_file: Some("global-server-nomad.pem".into()),
        key_file: Some("global-server-nomad-key.pem".into()),
        verify_server_hostname: Some(true),
        verify_https_client: Some(false),
        rpc_upgrade_mode: Some(false),
        tls_min_version: Some("tls13".into()),
    };
    assert_eq!(config.tls, want);
    assert!(config.tls.enabled());
    let json = r#"{"tls": {"http": true, "rpc": true, "ca_file": "nomad-agent-ca.pem",
        "cert_file": "global-server-nomad.pem", "key_file": "global-server-nomad-key.pem",
        "verify_server_hostname": true, "verify_https_client": false,
        "rpc_upgrade_mode": false, "tls_min_version": "tls13"}}"#;
    assert_eq!(parse_agent_config_json("a.json", json).unwrap().tls, want);
}

#[test]
fn later_files_override_tls_settings_key_by_key() {
    let first = parse_agent_config_hcl("a.hcl", "tls {\n  http = true\n  ca_file = \"a.pem\"\n}\n")
        .unwrap();
    let second = parse_agent_config_hcl("b.hcl", "tls {\n  ca_file = \"b.pem\"\n}\n").unwrap();
    let merged = first.merge(second);
    assert_eq!(merged.tls.http, Some(true));
    assert_eq!(merged.tls.ca_file.as_deref(), Some("b.pem"));
    assert!(!AgentConfig::default().tls.enabled());
}

#[test]
fn bad_tls_settings_name_the_field() {
    let cases = [
        (
            "tls {\n  http = \"yes\"\n}\n",
            "x.hcl:2:10: \"http\" must be true or false",
        ),
        (
            "tls {\n  rpc = 1\n}\n",
            "x.hcl:2:9: \"rpc\" must be true or false",
        ),
        (
            "tls {\n  verify_server_hostname = \"maybe\"\n}\n",
            "x.hcl:2:28: \"verify_server_hostname\" must be true or false",
        ),
        (
            "tls {\n  ca_file = [\"a.pem\"]\n}\n",
            "x.hcl:2:13: \"ca_file\" must be a string",
        ),
        (
            "tls {\n  cert = \"a.pem\"\n}\n",
            "x.hcl:2:3: unknown key \"cert\" in tls",
        ),
        (
            "tls {\n  tls_min_version = \"tls10\"\n}\n",
            "x.hcl:2:21: \"tls_min_version\" \"tls10\" is not supported",
        ),
        (
            "tls {\n  tls_min_version = \"ssl3\"\n}\n",
            "x.hcl:2:21: \"tls_min_version\" must be \"tls12\" or \"tls13\"",
        ),
        (
            "tls {\n  tls_cipher_suites = \"TLS_RSA_WITH_RC4_128_SHA\"\n}\n",
            "x.hcl:2:23: \"tls_cipher_suites\" is not supported",
        ),
    ];
    for (source, want) in cases {
        let error = parse_agent_config_hcl("x.hcl", source)
            .unwrap_err()
            .to_string();
        assert!(error.starts_with(want), "{source:?}: got {error}");
    }
}

#[test]
fn the_acl_block_reads_its_ttls_and_token() {
    let config = parse_agent_config_hcl(
        "acl.hcl",
        "acl {\n  enabled = true\n  token_ttl = \"10s\"\n  policy_ttl = \"1m\"\n  token_min_expiration_ttl = \"1s\"\n  token_max_expiration_ttl = \"2h\"\n  token = \"s3cr3t\"\n  role_ttl = \"30s\"\n}\n",
    )
    .unwrap();
    assert_eq!(config.acl_enabled, Some(true));
    assert_eq!(config.acl.token_ttl, Some(10_000_000_000));
    assert_eq!(config.acl.policy_ttl, Some(60_000_000_000));
    assert_eq!(config.acl.token_min_expiration_ttl, Some(1_000_000_000));
    assert_eq!(config.acl.token_max_expiration_ttl, Some(7_200_000_000_000));
    assert_eq!(config.acl.token.as_deref(), Some("s3cr3t"));
    assert!(
        !format!("{config:?}").contains("s3cr3t"),
        "Debug shows the token"
    );
    for (source, want) in [
        (
            "acl {\n  token_min_expiration_ttl = \"2h\"\n  token_max_expiration_ttl = \"1h\"\n}\n",
            "x.hcl:2:30: \"token_min_expiration_ttl\" must not be longer than",
        ),
        ("acl {\n  token_ttl = \"soon\"\n}\n", "x.hcl:2:15:"),
        (
            "acl {\n  enable = true\n}\n",
            "unknown key \"enable\" in acl",
        ),
    ] {
        let error = parse_agent_config_hcl("x.hcl", source)
            .unwrap_err()
            .to_string();
        assert!(error.contains(want), "{source}: {error}");
    }
}

#[test]
fn event_broker_and_search_settings_read_from_hcl_and_json() {
    let hcl = parse_agent_config_hcl(
        "a.hcl",
        "server {\n  enable_event_broker = false\n  event_buffer_size = 250\n  search {\n    fuzzy_enabled = false\n    limit_query = 50\n    limit_results = 200\n    min_term_length = 3\n  }\n}\n",
    )
    .unwrap();
    let json = parse_agent_config_json(
        "a.json",
        r#"{"server":{"enable_event_broker":false,"event_buffer_size":250,"search":{"fuzzy_enabled":false,"limit_query":50,"limit_results":200,"min_term_length":3}}}"#,
    )
    .unwrap();
    for server in [hcl.server, json.server] {
        assert_eq!(server.enable_event_broker, Some(false));
        assert_eq!(server.event_buffer_size, Some(250));
        assert_eq!(
            server.search,
            SearchBlock {
                fuzzy_enabled: Some(false),
                limit_query: Some(50),
                limit_results: Some(200),
                min_term_length: Some(3),
            }
        );
    }
}

#[test]
fn bad_event_broker_and_search_settings_name_the_field() {
    let cases = [
        (
            "server {\n  event_buffer_size = -1\n}\n",
            "x.hcl:2:23: \"event_buffer_size\" must be non-negative, got -1",
        ),
        (
            "server {\n  search {\n    min_term_length = 0\n  }\n}\n",
            "x.hcl:3:23: \"min_term_length\" must be at least 1, got 0",
        ),
        (
            "server {\n  search {\n    limit = 5\n  }\n}\n",
            "x.hcl:3:5: unknown key \"limit\" in search",
        ),
    ];
    for (source, want) in cases {
        let error = parse_agent_config_hcl("x.hcl", source)
            .unwrap_err()
            .to_string();
        assert!(error.starts_with(want), "got {error}");
    }
}

#[test]
fn host_volumes_read_from_hcl_and_json_and_merge_by_name() {
    let hcl = parse_agent_config_hcl(
        "client.hcl",
        r#"
        client {
          host_volume "data" { path = "/srv/data" }
          host_volume "certs" {
            path      = "/etc/ssl/certs"
            read_only = true
          }
        }
        "#,
    )
    .unwrap();
    let volumes = &hcl.client.host_volumes;
    assert_eq!(
        volumes["data"],
        caravan_structs::ClientHostVolumeConfig {
            name: "data".into(),
            path: "/srv/data".into(),
            read_only: false
        }
    );
    assert!(volumes["certs"].read_only);
    for json in [
        r#"{"client": {"host_volume": {"data": {"path": "/mnt/data", "read_only": true}}}}"#,
        r#"{"client": {"host_volume": [{"data": {"path": "/mnt/data", "read_only": true}}]}}"#,
    ] {
        let later = parse_agent_config_json("client.json", json).unwrap();
        let merged = hcl.clone().merge(later);
        let data = &merged.client.host_volumes["data"];
        assert_eq!(
            (data.path.as_str(), data.read_only),
            ("/mnt/data", true),
            "{json}"
        );
        assert!(merged.client.host_volumes.contains_key("certs"), "{json}");
    }
    for (bad, want) in [
        (
            r#"client { host_volume "data" { } }"#,
            "host_volume \"data\": \"path\" is required",
        ),
        (
            r#"client { host_volume "data" { path = "/x" mode = "rw" } }"#,
            "unknown key \"mode\" in host_volume \"data\"",
        ),
        (r#"client { host_volume { path = "/x" } }"#, "host_volume"),
    ] {
        let error = parse_agent_config_hcl("client.hcl", bad).unwrap_err();
        assert!(error.to_string().contains(want), "{bad}: {error}");
    }
}

#[test]
fn scheduler_worker_and_eval_broker_settings() {
    let config = parse_agent_config_hcl(
        "x.hcl",
        "server {\n  num_schedulers = 2\n  eval_nack_timeout = \"30s\"\n  eval_delivery_limit = 5\n  enabled_schedulers = [\"service\"]\n}\n",
    )
    .unwrap();
    assert_eq!(config.server.num_schedulers, Some(2));
    assert_eq!(config.server.eval_nack_timeout, Some(30_000_000_000));
    assert_eq!(config.server.eval_delivery_limit, Some(5));
    for (hcl, error) in [
        (
            "server {\n  eval_delivery_limit = 0\n}\n",
            "x.hcl:2:25: \"eval_delivery_limit\" must be at least 1, got 0",
        ),
        (
            "server {\n  num_schedulers = -1\n}\n",
            "x.hcl:2:20: \"num_schedulers\" must be non-negative, got -1",
        ),
        (
            "server {\n  eval_nack_timeout = \"0s\"\n}\n",
            "x.hcl:2:23: \"eval_nack_timeout\" must be a duration above zero, such as \"60s\"",
        ),
    ] {
        let got = parse_agent_config_hcl("x.hcl", hcl)
            .unwrap_err()
            .to_string();
        assert!(got.starts_with(error), "{hcl}: {got}");
    }
}

#[test]
fn client_resource_totals_read_merge_and_refuse_negatives() {
    let first = parse_agent_config_hcl(
        "a.hcl",
        "client {\n  cpu_total_compute = 8000\n  memory_total_mb = 2048\n  disk_total_mb = 100000\n}\n",
    )
    .unwrap();
    let second = parse_agent_config_json("b.json", r#"{"client":{"disk_free_mb":50000}}"#).unwrap();
    let client = first.merge(second).client;
    assert_eq!(client.cpu_total_compute, Some(8000));
    assert_eq!(client.memory_total_mb, Some(2048));
    assert_eq!(client.disk_total_mb, Some(100_000));
    assert_eq!(client.disk_free_mb, Some(50_000));

    let error = parse_agent_config_hcl("x.hcl", "client {\n  disk_free_mb = -5\n}\n")
        .unwrap_err()
        .to_string();
    assert!(
        error.starts_with(
            "x.hcl:2:18: \"disk_free_mb\" must be non-negative (0 keeps what the client detects), got -5"
        ),
        "got {error}"
    );
}

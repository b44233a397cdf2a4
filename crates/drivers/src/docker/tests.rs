use std::path::PathBuf;

use serde_json::json;

use super::config::{DockerPluginConfig, DockerTaskConfig, SCHEMA};
use super::image::{always_pulled, repository_and_tag};
use super::logs::split_timestamp;
use super::spec::{self, PRIVILEGED_REFUSED, container_body, memory_limits};
use crate::task_config::decode;
use crate::{TaskLaunch, TaskMount};

fn config(value: serde_json::Value) -> serde_json::Map<String, serde_json::Value> {
    value.as_object().cloned().unwrap_or_default()
}

fn launch() -> TaskLaunch {
    let mut launch = TaskLaunch {
        task_dir: PathBuf::from("/allocs/a1/web"),
        alloc_dir: PathBuf::from("/allocs/a1/alloc"),
        alloc_id: "a1".into(),
        task_name: "web".into(),
        ..TaskLaunch::default()
    };
    launch.resources.cpu = 500;
    launch.resources.memory_mb = 256;
    for (key, value) in [
        ("NOMAD_JOB_NAME", "example"),
        ("NOMAD_HOST_PORT_http", "23456"),
        ("NOMAD_PORT_http", "8080"),
        ("NOMAD_HOST_IP_http", "127.0.0.1"),
        ("NOMAD_HOST_PORT_db", "23457"),
    ] {
        launch.env.insert(key.into(), value.into());
    }
    launch
}

fn plugin(volumes: bool, privileged: bool) -> DockerPluginConfig {
    let mut plugin = DockerPluginConfig::default();
    plugin.volumes.enabled = volumes;
    plugin.allow_privileged = privileged;
    plugin
}

#[test]
fn task_config_decoding_table() {
    let cases: &[(serde_json::Value, Result<&str, &str>)] = &[
        (json!({"image": "redis:7"}), Ok("redis:7")),
        (
            json!({"image": "redis", "force_pull": "true", "privileged": false}),
            Ok("redis"),
        ),
        (
            json!({"image": "redis", "mount": {"type": "tmpfs", "target": "/t"}}),
            Ok("redis"),
        ),
        (
            json!({"image": "redis", "auth": [{"username": "u", "password": "p"}]}),
            Ok("redis"),
        ),
        (
            json!({"image": "redis", "labels": [{"a": "b"}], "port_map": [{"http": 8080}]}),
            Ok("redis"),
        ),
        (
            json!({"image": "redis", "imagee": "x"}),
            Err("unknown field `imagee`"),
        ),
        (
            json!({"image": "redis", "privileged": "yes"}),
            Err("\"privileged\" must be true or false, got \"yes\""),
        ),
        (
            json!({"image": "redis", "mount": "x"}),
            Err("\"mount\" must be a block, got \"x\""),
        ),
        (
            json!({"image": "redis", "mount": {"target": "/t", "readonly": true, "mode": "x"}}),
            Err("unknown field `mode`"),
        ),
    ];
    for (value, want) in cases {
        let decoded: Result<DockerTaskConfig, _> = decode(&config(value.clone()));
        match (decoded, want) {
            (Ok(decoded), Ok(image)) => assert_eq!(decoded.image().unwrap(), *image, "{value}"),
            (Err(error), Err(message)) => {
                assert!(error.to_string().contains(message), "{value}: {error}")
            }
            (got, want) => panic!("{value}: got {got:?}, want {want:?}"),
        }
    }
}

#[test]
fn the_schema_and_the_typed_config_name_the_same_keys() {
    let mut all = serde_json::Map::new();
    for key in SCHEMA.keys {
        let value = match key.kind {
            caravan_structs::driver_schema::ConfigKind::String => json!("x"),
            caravan_structs::driver_schema::ConfigKind::StringList => json!(["x"]),
            caravan_structs::driver_schema::ConfigKind::Number => json!(5),
            caravan_structs::driver_schema::ConfigKind::Map => json!({}),
            caravan_structs::driver_schema::ConfigKind::Bool => json!(true),
            caravan_structs::driver_schema::ConfigKind::Blocks => json!([{}]),
        };
        all.insert(key.name.to_string(), value);
    }
    let decoded: DockerTaskConfig = decode(&all).unwrap();
    assert!(decoded.privileged && decoded.force_pull);
    assert_eq!(decoded.memory_hard_limit, 5);
    assert!(SCHEMA.check("docker", &all).is_empty());
    assert_eq!(
        SCHEMA.check("docker", &config(json!({"command": "x"}))),
        ["config: missing required key \"image\" for driver \"docker\""]
    );
}

#[test]
fn plugin_config_decoding_table() {
    let default = DockerPluginConfig::from_plugin_config(None).unwrap();
    assert_eq!(default.socket_path(), "/var/run/docker.sock");
    assert!(default.gc.image && default.gc.container && !default.volumes.enabled);
    assert_eq!(default.gc.image_delay.as_secs(), 180);

    let set = DockerPluginConfig::from_plugin_config(Some(&json!({
        "endpoint": "unix:///run/other.sock",
        "allow_privileged": true,
        "volumes": [{"enabled": true}],
        "gc": {"image": false, "image_delay": "10s", "container": false},
    })))
    .unwrap();
    assert_eq!(set.socket_path(), "/run/other.sock");
    assert!(set.allow_privileged && set.volumes.enabled);
    assert!(!set.gc.image && !set.gc.container);
    assert_eq!(set.gc.image_delay.as_secs(), 10);

    for (bad, message) in [
        (json!({"endpont": "x"}), "unknown field `endpont`"),
        (
            json!({"endpoint": "tcp://127.0.0.1:2375"}),
            "only unix sockets are supported",
        ),
        (
            json!({"gc": {"image_delay": "soon"}}),
            "gc: image_delay: must be a duration",
        ),
        (
            json!({"volumes": {"enable": true}}),
            "unknown field `enable`",
        ),
    ] {
        let error = DockerPluginConfig::from_plugin_config(Some(&bad)).unwrap_err();
        assert!(error.contains(message), "{bad}: {error}");
        assert!(error.starts_with("plugin \"docker\" config: "), "{error}");
    }
}

#[test]
fn the_container_carries_the_tasks_identity_dirs_ports_and_limits() {
    let launch = launch();
    let task: DockerTaskConfig = decode(&config(json!({
        "image": "redis:7",
        "command": "redis-server",
        "args": ["--port", 6379],
        "ports": ["http"],
        "port_map": {"db": 6379},
        "labels": {"team": "a"},
    })))
    .unwrap();
    let body = container_body(&launch, &task, &plugin(false, false), "redis:7").unwrap();
    assert_eq!(spec::container_name(&launch), "web-a1");
    assert_eq!(body.cmd.unwrap(), ["redis-server", "--port", "6379"]);
    let labels = body.labels.unwrap();
    assert_eq!(labels["com.hashicorp.nomad.alloc_id"], "a1");
    assert_eq!(labels["com.hashicorp.nomad.job_name"], "example");
    assert_eq!(labels["team"], "a");
    let host = body.host_config.unwrap();
    assert_eq!(
        host.binds.unwrap(),
        [
            "/allocs/a1/alloc:/alloc",
            "/allocs/a1/web/local:/local",
            "/allocs/a1/web/secrets:/secrets",
        ]
    );
    let ports = host.port_bindings.unwrap();
    let http = ports["8080/tcp"].as_ref().unwrap();
    assert_eq!(http[0].host_port.as_deref(), Some("23456"));
    assert_eq!(http[0].host_ip.as_deref(), Some("127.0.0.1"));
    assert_eq!(
        ports["6379/udp"].as_ref().unwrap()[0].host_port.as_deref(),
        Some("23457")
    );
    assert_eq!(host.network_mode.as_deref(), Some("bridge"));
    assert_eq!(
        (host.memory, host.memory_swap),
        (Some(256 << 20), Some(256 << 20))
    );
    assert_eq!(host.memory_reservation, None);
    assert_eq!(host.cpu_shares, Some(500));
}

#[test]
fn refusals_name_what_to_change() {
    let launch = launch();
    let cases: &[(serde_json::Value, bool, bool, &str)] = &[
        (
            json!({"privileged": true}),
            false,
            false,
            PRIVILEGED_REFUSED,
        ),
        (
            json!({"volumes": ["/etc:/host-etc:ro"]}),
            false,
            false,
            "volumes are not enabled",
        ),
        (
            json!({"mount": {"type": "bind", "source": "/etc", "target": "/e"}}),
            false,
            false,
            "volumes are not enabled",
        ),
        (
            json!({"volumes": ["nocolon"]}),
            true,
            false,
            "volumes: \"nocolon\"",
        ),
        (
            json!({"ports": ["grpc"]}),
            false,
            false,
            "port \"grpc\" is not a port",
        ),
        (
            json!({"network_mode": "weird"}),
            false,
            false,
            "network_mode must be",
        ),
        (
            json!({"mount": {"type": "nfs", "target": "/n"}}),
            false,
            false,
            "mount: type must be",
        ),
    ];
    for (extra, volumes, privileged, message) in cases {
        let mut value = extra.clone();
        value["image"] = json!("redis");
        let task: DockerTaskConfig = decode(&config(value)).unwrap();
        let error =
            container_body(&launch, &task, &plugin(*volumes, *privileged), "redis").unwrap_err();
        assert!(error.contains(message), "{extra}: {error}");
    }
    // Allowed where the plugin allows them; a relative host path is the task's own.
    let task: DockerTaskConfig = decode(&config(json!({
        "image": "redis",
        "privileged": true,
        "volumes": ["/srv/data:/data:ro", "local/conf:/etc/app"],
    })))
    .unwrap();
    let body = container_body(&launch, &task, &plugin(true, true), "redis").unwrap();
    let host = body.host_config.unwrap();
    let binds = host.binds.unwrap();
    assert!(
        binds.contains(&"/srv/data:/data:ro".to_string()),
        "{binds:?}"
    );
    assert!(
        binds.contains(&"/allocs/a1/web/local/conf:/etc/app".to_string()),
        "{binds:?}"
    );
    assert_eq!(host.privileged, Some(true));
}

#[test]
fn client_mounts_are_bound_at_their_task_paths() {
    let mut launch = launch();
    launch.mounts = vec![TaskMount {
        host_path: PathBuf::from("/srv/shared"),
        task_path: "shared".into(),
        read_only: true,
    }];
    let task: DockerTaskConfig = decode(&config(json!({"image": "redis"}))).unwrap();
    let body = container_body(&launch, &task, &plugin(false, false), "redis").unwrap();
    let binds = body.host_config.unwrap().binds.unwrap();
    assert!(
        binds.contains(&"/srv/shared:/shared:ro".to_string()),
        "{binds:?}"
    );
}

#[test]
fn memory_max_makes_memory_the_soft_limit() {
    let mut launch = launch();
    let task = DockerTaskConfig::default();
    assert_eq!(memory_limits(&launch, &task), (256 << 20, None));
    launch.resources.memory_max_mb = 512;
    assert_eq!(memory_limits(&launch, &task), (512 << 20, Some(256 << 20)));
    launch.resources.memory_max_mb = 0;
    let hard = DockerTaskConfig {
        memory_hard_limit: 1024,
        ..DockerTaskConfig::default()
    };
    assert_eq!(memory_limits(&launch, &hard), (1024 << 20, Some(256 << 20)));
}

#[test]
fn images_split_into_repository_and_tag() {
    for (image, want) in [
        ("redis", ("redis", "latest")),
        ("redis:7", ("redis", "7")),
        (
            "registry.local:5000/team/app",
            ("registry.local:5000/team/app", "latest"),
        ),
        (
            "registry.local:5000/team/app:v2",
            ("registry.local:5000/team/app", "v2"),
        ),
        ("app@sha256:abc", ("app", "sha256:abc")),
    ] {
        assert_eq!(repository_and_tag(image), want, "{image}");
    }
}

#[test]
fn latest_and_force_pull_always_pull() {
    for (image, force_pull, want) in [
        ("redis", false, true),
        ("redis:latest", false, true),
        ("redis:7", false, false),
        ("redis:7", true, true),
        ("app@sha256:abc", false, false),
    ] {
        assert_eq!(
            always_pulled(image, force_pull),
            want,
            "{image} {force_pull}"
        );
    }
}

#[test]
fn log_lines_lose_the_daemons_timestamp() {
    let (nanos, text) = split_timestamp(b"2026-01-02T03:04:05.5Z hello world\n").unwrap();
    assert_eq!(text, b"hello world\n");
    let (later, _) = split_timestamp(b"2026-01-02T03:04:05.500000001Z x\n").unwrap();
    assert_eq!(later - nanos, 1);
    assert!(split_timestamp(b"no timestamp here").is_none());
}

#[test]
fn the_fingerprint_reports_the_daemon_or_why_it_cannot() {
    let healthy = super::fingerprint_from(Ok("20.10.24".into()));
    assert!(healthy.detected && healthy.healthy);
    assert_eq!(healthy.attributes["driver.docker.version"], "20.10.24");
    let down = super::fingerprint_from(Err("no such socket".into()));
    assert!(!down.detected && !down.healthy);
    assert_eq!(
        down.health_description,
        "Failed to connect to docker daemon: no such socket"
    );
}

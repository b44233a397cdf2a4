//! ACLs end to end, on a `-dev -acl-enabled` agent: every route of the matrix tried by
//! five callers (anonymous, a read token, a token that writes only in another
//! namespace, a write token, the management token) against the answer written in the
//! table; tokens that survive a `kill -9`; an expired token refused; a node that cannot
//! register without `node:write`.

mod common;

use std::time::{Duration, Instant};

use caravan_api_client::{Client, Config, Method};
use common::*;
use serde_json::{Value, json};

/// One caller's view of the agent.
struct Caller {
    api: Client,
}

impl Caller {
    fn new(addr: &str, token: Option<&str>) -> Caller {
        let config = Config {
            token: token.map(str::to_string),
            ..Config::address(addr)
        };
        Caller {
            api: Client::new(config).expect("client"),
        }
    }

    fn call(&self, method: Method, path: &str, body: Option<&Value>) -> (u16, String) {
        let body = body.map(|b| b.to_string());
        match block_on(
            self.api
                .send_raw(method, path, body.as_deref().map(str::as_bytes)),
        ) {
            Ok(answer) => (answer.status, answer.body),
            Err(error) => (0, error.to_string()),
        }
    }

    fn json(&self, method: Method, path: &str, body: Option<&Value>) -> Value {
        let (status, text) = self.call(method, path, body);
        assert!(status < 300, "{method:?} {path}: {status} {text}");
        serde_json::from_str(&text).unwrap_or(Value::Null)
    }
}

const READ_POLICY: &str = r#"
namespace "default" { policy = "read" }
node { policy = "read" }
agent { policy = "read" }
operator { policy = "read" }
"#;

const OTHER_NAMESPACE_POLICY: &str = r#"
namespace "other" { policy = "write" }
"#;

const WRITE_POLICY: &str = r#"
namespace "default" { policy = "write" }
node { policy = "write" }
agent { policy = "write" }
operator { policy = "write" }
"#;

/// A bootstrapped `-dev -acl-enabled` agent with a long-running allocation.
struct Setup {
    agent: Agent,
    management: String,
    read: String,
    other: String,
    write: String,
    alloc: String,
    eval: String,
    node: String,
}

fn create_token(admin: &Caller, name: &str, policy: &str, rules: &str) -> String {
    admin.json(
        Method::Post,
        &format!("/v1/acl/policy/{policy}"),
        Some(&json!({"Name": policy, "Rules": rules})),
    );
    let token = admin.json(
        Method::Post,
        "/v1/acl/token",
        Some(&json!({"Name": name, "Type": "client", "Policies": [policy]})),
    );
    token["SecretID"].as_str().expect("secret").to_string()
}

fn wait_for(what: &str, agent: &Agent, mut check: impl FnMut() -> bool) {
    let deadline = Instant::now() + Duration::from_secs(30);
    while Instant::now() < deadline {
        if check() {
            return;
        }
        std::thread::sleep(Duration::from_millis(50));
    }
    panic!("{what} did not happen; log:\n{}", agent.log());
}

/// Bootstraps the ACL system as soon as the agent answers; the management secret.
fn bootstrap(agent: &Agent) -> String {
    let anonymous = Caller::new(&agent.addr(), None);
    let mut answer = (0, String::new());
    wait_for("the bootstrap", agent, || {
        answer = anonymous.call(Method::Post, "/v1/acl/bootstrap", None);
        answer.0 == 200
    });
    let token: Value = serde_json::from_str(&answer.1).expect("bootstrap token");
    token["SecretID"].as_str().expect("secret").to_string()
}

fn setup() -> Setup {
    let agent = Agent::with_config(
        &["-dev", "-acl-enabled"],
        "acl {\n  token_min_expiration_ttl = \"1s\"\n}\n",
    );
    let management = bootstrap(&agent);
    let admin = Caller::new(&agent.addr(), Some(&management));
    admin.json(
        Method::Post,
        "/v1/namespace/other",
        Some(&json!({"Name": "other"})),
    );
    let read = create_token(&admin, "reader", "readonly", READ_POLICY);
    let other = create_token(
        &admin,
        "other-writer",
        "other-write",
        OTHER_NAMESPACE_POLICY,
    );
    let write = create_token(&admin, "writer", "default-write", WRITE_POLICY);

    let mut node = String::new();
    wait_for("a ready node", &agent, || {
        let nodes = admin.json(Method::Get, "/v1/nodes", None);
        node = nodes[0]["ID"].as_str().unwrap_or("").to_string();
        nodes[0]["Status"] == "ready"
    });
    let job = json!({"Job": {
        "ID": "acl-web", "Type": "service", "Datacenters": ["dc1"],
        "TaskGroups": [{"Name": "g", "Count": 1, "Tasks": [{
            "Name": "t", "Driver": "raw_exec",
            "Config": {"command": "/bin/sh", "args": ["-c", "echo hello-acl; exec sleep 300"]},
            "Resources": {"CPU": 20, "MemoryMB": 16},
        }]}],
    }});
    let registered = admin.json(Method::Post, "/v1/jobs", Some(&job));
    let eval = registered["EvalID"].as_str().expect("eval").to_string();
    let mut alloc = String::new();
    wait_for("a running allocation", &agent, || {
        let allocs = admin.json(Method::Get, "/v1/job/acl-web/allocations", None);
        alloc = allocs[0]["ID"].as_str().unwrap_or("").to_string();
        allocs[0]["ClientStatus"] == "running"
    });
    Setup {
        agent,
        management,
        read,
        other,
        write,
        alloc,
        eval,
        node,
    }
}

/// What a caller gets: let through (any answer but a 403), or refused with a 403.
#[derive(Debug, Clone, Copy, PartialEq)]
enum Answer {
    Allowed,
    Denied,
    /// Refused because no token was sent where one is needed.
    NoToken,
}
use Answer::*;

/// The matrix: method, path, body, and the answer of (anonymous, read, other-namespace
/// write, write, management).
fn matrix(s: &Setup) -> Vec<(Method, String, Option<Value>, [Answer; 5])> {
    let a = &s.alloc;
    let job = json!({"Job": {"ID": "acl-probe", "Type": "batch", "Datacenters": ["nowhere"],
        "TaskGroups": [{"Name": "g", "Tasks": [{"Name": "t", "Driver": "raw_exec",
        "Config": {"command": "/bin/true"}}]}]}});
    let plan = json!({"Job": job["Job"].clone()});
    let hcl = json!({"JobHCL": "job \"p\" {\n  group \"g\" {\n    task \"t\" {\n      driver = \"raw_exec\"\n      config { command = \"/bin/true\" }\n    }\n  }\n}\n"});
    let read_only = [Denied, Allowed, Denied, Allowed, Allowed];
    let write_only = [Denied, Denied, Denied, Allowed, Allowed];
    let management_only = [Denied, Denied, Denied, Denied, Allowed];
    let anyone = [Allowed; 5];
    vec![
        (Method::Get, "/v1/jobs".into(), None, read_only),
        (
            Method::Post,
            "/v1/jobs".into(),
            Some(job.clone()),
            write_only,
        ),
        (Method::Get, "/v1/job/acl-web".into(), None, read_only),
        (
            Method::Get,
            "/v1/job/acl-web/allocations".into(),
            None,
            read_only,
        ),
        (
            Method::Get,
            "/v1/job/acl-web/evaluations".into(),
            None,
            read_only,
        ),
        (
            Method::Post,
            "/v1/job/acl-web/evaluate".into(),
            None,
            read_only,
        ),
        (Method::Get, "/v1/deployments".into(), None, read_only),
        (
            Method::Get,
            "/v1/job/acl-web/deployments".into(),
            None,
            read_only,
        ),
        (
            Method::Post,
            "/v1/deployment/promote/00000000-0000-0000-0000-000000000000".into(),
            Some(json!({"All": true})),
            write_only,
        ),
        (
            Method::Get,
            "/v1/job/acl-web/summary".into(),
            None,
            read_only,
        ),
        (
            Method::Get,
            "/v1/job/acl-web/versions".into(),
            None,
            read_only,
        ),
        (Method::Get, "/v1/job/acl-web/scale".into(), None, read_only),
        // An event without a count: nothing else changes.
        (
            Method::Post,
            "/v1/job/acl-web/scale".into(),
            Some(json!({"Count": null, "Target": {"Group": "g"}, "Message": "acl probe"})),
            write_only,
        ),
        (Method::Get, "/v1/scaling/policies".into(), None, read_only),
        (
            Method::Get,
            "/v1/scaling/policy/no-such-policy".into(),
            None,
            read_only,
        ),
        (
            Method::Post,
            "/v1/job/acl-probe/plan".into(),
            Some(plan),
            write_only,
        ),
        (
            Method::Delete,
            "/v1/job/no-such-job".into(),
            None,
            write_only,
        ),
        (Method::Post, "/v1/jobs/parse".into(), Some(hcl), read_only),
        (
            Method::Post,
            "/v1/validate/job".into(),
            Some(job),
            read_only,
        ),
        (
            Method::Post,
            "/v1/search".into(),
            Some(json!({"Prefix": "", "Context": "jobs"})),
            read_only,
        ),
        (
            Method::Post,
            "/v1/search/fuzzy".into(),
            Some(json!({"Text": "acl", "Context": "jobs"})),
            read_only,
        ),
        (Method::Get, "/v1/evaluations".into(), None, read_only),
        // Management only; the management token then meets the running eval broker.
        (
            Method::Delete,
            "/v1/evaluations".into(),
            Some(json!({"EvalIDs": [s.eval]})),
            management_only,
        ),
        (
            Method::Get,
            format!("/v1/evaluation/{}", s.eval),
            None,
            read_only,
        ),
        (Method::Get, "/v1/allocations".into(), None, read_only),
        (Method::Get, format!("/v1/allocation/{a}"), None, read_only),
        (Method::Get, "/v1/nodes".into(), None, read_only),
        (Method::Get, format!("/v1/node/{}", s.node), None, read_only),
        (
            Method::Get,
            format!("/v1/node/{}/allocations", s.node),
            None,
            read_only,
        ),
        (
            Method::Post,
            format!("/v1/node/{}/eligibility", s.node),
            Some(json!({"NodeID": s.node, "Eligibility": "eligible"})),
            write_only,
        ),
        (Method::Get, "/v1/agent/self".into(), None, read_only),
        // A level the agent refuses: the answer (400) ends instead of streaming the log,
        // and the ACL check comes first.
        (
            Method::Get,
            "/v1/agent/monitor?log_level=bogus".into(),
            None,
            read_only,
        ),
        (Method::Get, "/v1/agent/members".into(), None, read_only),
        (Method::Get, "/v1/agent/servers".into(), None, read_only),
        (
            Method::Get,
            "/v1/operator/raft/configuration".into(),
            None,
            read_only,
        ),
        (
            Method::Get,
            "/v1/operator/scheduler/configuration".into(),
            None,
            read_only,
        ),
        (Method::Put, "/v1/system/gc".into(), None, management_only),
        (
            Method::Get,
            format!("/v1/client/fs/ls/{a}?path=/"),
            None,
            write_only,
        ),
        (
            Method::Get,
            format!("/v1/client/fs/stat/{a}?path=/"),
            None,
            write_only,
        ),
        (
            Method::Get,
            format!("/v1/client/fs/cat/{a}?path=alloc/logs/t.stdout.0"),
            None,
            write_only,
        ),
        (
            Method::Get,
            format!("/v1/client/fs/logs/{a}?task=t&type=stdout&plain=true"),
            None,
            write_only,
        ),
        (
            Method::Get,
            format!("/v1/client/allocation/{a}/stats"),
            None,
            read_only,
        ),
        (
            Method::Get,
            format!("/v1/client/allocation/{a}/checks"),
            None,
            read_only,
        ),
        (Method::Get, "/v1/client/stats".into(), None, read_only),
        (Method::Get, "/v1/client/gc".into(), None, write_only),
        // The allocation runs, so a permitted caller gets the 404 of Nomad's client.
        (
            Method::Get,
            format!("/v1/client/allocation/{a}/gc"),
            None,
            write_only,
        ),
        // The service catalogue: reading needs read-job, deleting submit-job (a write
        // token gets the 404 of a registration that is not there).
        (Method::Get, "/v1/services".into(), None, read_only),
        (
            Method::Get,
            "/v1/job/acl-web/services".into(),
            None,
            read_only,
        ),
        (Method::Get, "/v1/service/acl-web".into(), None, read_only),
        (
            Method::Delete,
            "/v1/service/acl-web/no-such-registration".into(),
            None,
            write_only,
        ),
        // Variables: a namespace's read policy reads and lists them, its write policy
        // writes and destroys them (Nomad's implicit `path "*"` rule).
        (Method::Get, "/v1/vars".into(), None, read_only),
        (
            Method::Get,
            "/v1/vars?namespace=other".into(),
            None,
            [Denied, Denied, Allowed, Denied, Allowed],
        ),
        (Method::Get, "/v1/var/acl/probe".into(), None, read_only),
        (
            Method::Put,
            "/v1/var/acl/probe".into(),
            Some(json!({"Items": {"k": "v"}})),
            write_only,
        ),
        (Method::Delete, "/v1/var/acl/probe".into(), None, write_only),
        // The keyring is the management token's.
        (
            Method::Get,
            "/v1/operator/keyring/keys".into(),
            None,
            management_only,
        ),
        (
            Method::Put,
            "/v1/operator/keyring/rotate".into(),
            None,
            management_only,
        ),
        (
            Method::Delete,
            "/v1/operator/keyring/key/no-such-key".into(),
            None,
            management_only,
        ),
        (Method::Get, "/v1/status/leader".into(), None, anyone),
        (Method::Get, "/v1/status/peers".into(), None, anyone),
        (Method::Get, "/v1/metrics".into(), None, anyone),
        (Method::Get, "/v1/acl/policies".into(), None, anyone),
        (Method::Get, "/v1/acl/tokens".into(), None, management_only),
        (
            Method::Get,
            "/v1/acl/token/self".into(),
            None,
            [NoToken, Allowed, Allowed, Allowed, Allowed],
        ),
        (
            Method::Post,
            "/v1/acl/policy/probe".into(),
            Some(json!({"Name": "probe", "Rules": "node { policy = \"read\" }"})),
            management_only,
        ),
        (Method::Get, "/v1/namespaces".into(), None, anyone),
        (
            Method::Post,
            "/v1/namespace/probe".into(),
            Some(json!({"Name": "probe"})),
            management_only,
        ),
        (
            Method::Get,
            "/v1/jobs?namespace=other".into(),
            None,
            [Denied, Denied, Allowed, Denied, Allowed],
        ),
        // Without an upgrade the handler answers 400; the layer's verdict (alloc-exec)
        // is what counts here (alloc_exec.rs tries real sessions, and raw_exec's extra
        // alloc-node-exec).
        (
            Method::Get,
            format!("/v1/client/allocation/{a}/exec?task=t&command=%5B%22true%22%5D"),
            None,
            write_only,
        ),
        (
            Method::Post,
            format!("/v1/client/allocation/{a}/signal"),
            Some(json!({"Task": "t", "Signal": "SIGWINCH"})),
            write_only,
        ),
        (
            Method::Post,
            format!("/v1/client/allocation/{a}/restart"),
            Some(json!({})),
            write_only,
        ),
        // The RPC port: registering a node needs node:write (this one is in a
        // datacenter no job uses, so what it is offered cannot matter).
        (
            Method::Post,
            format!("{RPC}/v1/internal/node/register"),
            Some(json!({
                "ID": "11111111-2222-3333-4444-555555555555",
                "SecretID": "66666666-7777-8888-9999-000000000000",
                "Name": "probe", "Datacenter": "dc-of-the-probe", "Status": "ready",
            })),
            write_only,
        ),
    ]
}

/// A matrix path that starts with this goes to the agent's RPC port.
const RPC: &str = "rpc:";

#[test]
fn every_route_answers_each_caller_as_the_matrix_says() {
    let setup = setup();
    let addr = setup.agent.addr();
    let callers = [
        ("anonymous", Caller::new(&addr, None)),
        ("read", Caller::new(&addr, Some(&setup.read))),
        (
            "other-namespace write",
            Caller::new(&addr, Some(&setup.other)),
        ),
        ("write", Caller::new(&addr, Some(&setup.write))),
        ("management", Caller::new(&addr, Some(&setup.management))),
    ];
    let rpc = format!("http://127.0.0.1:{}", setup.agent.rpc_port);
    let rpc_callers = [
        Caller::new(&rpc, None),
        Caller::new(&rpc, Some(&setup.read)),
        Caller::new(&rpc, Some(&setup.other)),
        Caller::new(&rpc, Some(&setup.write)),
        Caller::new(&rpc, Some(&setup.management)),
    ];
    let mut wrong = Vec::new();
    let rows = matrix(&setup);
    for (method, path, body, expected) in &rows {
        for (((who, caller), want), at_rpc) in callers.iter().zip(expected).zip(&rpc_callers) {
            let (caller, path) = match path.strip_prefix(RPC) {
                Some(rpc_path) => (at_rpc, rpc_path),
                None => (caller, path.as_str()),
            };
            let (status, text) = caller.call(*method, path, body.as_ref());
            let got = match (status, text.trim()) {
                (403, "Permission denied") => Denied,
                (403, "ACL token not found") => NoToken,
                (403, other) => panic!("{method:?} {path} as {who}: 403 {other:?}"),
                (0, error) => panic!("{method:?} {path} as {who}: {error}"),
                _ => Allowed,
            };
            if got != *want {
                wrong.push(format!(
                    "{method:?} {path} as {who}: want {want:?}, got {status} {text:?}"
                ));
            }
        }
    }
    assert!(
        wrong.is_empty(),
        "{} of {} answers differ from the matrix:\n{}",
        wrong.len(),
        rows.len() * callers.len(),
        wrong.join("\n")
    );
    // An unknown token is refused everywhere a token is read, with Nomad's words.
    let stranger = Caller::new(&addr, Some("00000000-0000-0000-0000-000000000000"));
    for path in [
        "/v1/jobs",
        "/v1/nodes",
        "/v1/agent/self",
        "/v1/acl/token/self",
    ] {
        let (status, text) = stranger.call(Method::Get, path, None);
        assert_eq!(
            (status, text.trim()),
            (403, "ACL token not found"),
            "{path}"
        );
    }
    // The token is read from `Authorization: Bearer` as well.
    let port = setup.agent.port;
    let bearer = format!("Authorization: Bearer {}", setup.read);
    assert_eq!(raw_status(port, "/v1/jobs", &bearer), 200);
    assert_eq!(raw_status(port, "/v1/system/gc", &bearer), 405);
    // The secret never reaches the log.
    assert!(!setup.agent.log().contains(&setup.management));
}

/// The status of a `GET` sent by hand with one extra header line.
fn raw_status(port: u16, path: &str, header: &str) -> u16 {
    use std::io::{Read, Write};
    let mut stream = std::net::TcpStream::connect(("127.0.0.1", port)).expect("connect");
    write!(
        stream,
        "GET {path} HTTP/1.1\r\nHost: 127.0.0.1\r\n{header}\r\nConnection: close\r\n\r\n"
    )
    .expect("send");
    let mut answer = String::new();
    let _ = stream.read_to_string(&mut answer);
    answer
        .split_whitespace()
        .nth(1)
        .and_then(|code| code.parse().ok())
        .unwrap_or(0)
}

#[test]
fn a_list_across_namespaces_shows_only_what_the_caller_may_see() {
    let setup = setup();
    let admin = Caller::new(&setup.agent.addr(), Some(&setup.management));
    let mut job = true_batch_job("in-other", NO_CLIENTS);
    job["Job"]["Namespace"] = json!("other");
    admin.json(Method::Post, "/v1/jobs", Some(&job));
    let ids = |caller: &Caller| -> Vec<String> {
        let jobs = caller.json(Method::Get, "/v1/jobs?namespace=*", None);
        let mut ids: Vec<String> = jobs
            .as_array()
            .expect("a list")
            .iter()
            .map(|j| {
                format!(
                    "{}/{}",
                    j["Namespace"].as_str().unwrap(),
                    j["ID"].as_str().unwrap()
                )
            })
            .collect();
        ids.sort();
        ids
    };
    assert_eq!(ids(&admin), ["default/acl-web", "other/in-other"]);
    let reader = Caller::new(&setup.agent.addr(), Some(&setup.read));
    assert_eq!(ids(&reader), ["default/acl-web"]);
    let other = Caller::new(&setup.agent.addr(), Some(&setup.other));
    assert_eq!(ids(&other), ["other/in-other"]);
    // A job in a namespace that does not exist is refused, naming it.
    let mut nowhere = true_batch_job("lost", NO_CLIENTS);
    nowhere["Job"]["Namespace"] = json!("nope");
    let (status, text) = admin.call(Method::Post, "/v1/jobs", Some(&nowhere));
    assert_eq!(status, 400, "{text}");
    assert!(text.contains("nonexistent namespace \"nope\""), "{text}");
}

#[test]
fn an_expired_token_is_refused_and_bootstrap_happens_once() {
    let setup = setup();
    let admin = Caller::new(&setup.agent.addr(), Some(&setup.management));
    let token = admin.json(
        Method::Post,
        "/v1/acl/token",
        Some(&json!({"Name": "brief", "Type": "client", "Policies": ["readonly"], "ExpirationTTL": "1s"})),
    );
    let brief = Caller::new(&setup.agent.addr(), token["SecretID"].as_str());
    assert_eq!(brief.call(Method::Get, "/v1/jobs", None).0, 200);
    std::thread::sleep(Duration::from_millis(1300));
    let (status, text) = brief.call(Method::Get, "/v1/jobs", None);
    assert_eq!((status, text.trim()), (403, "ACL token expired"));
    // A TTL under the agent's minimum is refused, naming it.
    let (status, text) = admin.call(
        Method::Post,
        "/v1/acl/token",
        Some(&json!({"Type": "client", "Policies": ["readonly"], "ExpirationTTL": "10ms"})),
    );
    assert_eq!(status, 400);
    assert!(
        text.contains("expiration time cannot be less than 1s"),
        "{text}"
    );

    let anonymous = Caller::new(&setup.agent.addr(), None);
    let (status, text) = anonymous.call(Method::Post, "/v1/acl/bootstrap", None);
    assert_eq!(status, 400);
    assert!(
        text.contains("ACL bootstrap already done (reset index: "),
        "{text}"
    );
    // The operator's reset file, with the index from that error, allows one more.
    let index: String = text
        .split("reset index: ")
        .nth(1)
        .unwrap()
        .chars()
        .take_while(char::is_ascii_digit)
        .collect();
    let server_dir = setup.agent.data_dir().join("server");
    std::fs::create_dir_all(&server_dir).unwrap();
    std::fs::write(server_dir.join("acl-bootstrap-reset"), &index).unwrap();
    let (status, text) = anonymous.call(Method::Post, "/v1/acl/bootstrap", None);
    assert_eq!(status, 200, "{text}");
}

#[test]
fn a_node_without_node_write_cannot_register() {
    let setup = setup();
    let rpc = format!("http://127.0.0.1:{}", setup.agent.rpc_port);
    let fake = json!({
        "ID": "11111111-2222-3333-4444-555555555555",
        "SecretID": "66666666-7777-8888-9999-000000000000",
        "Name": "fake", "Datacenter": "dc1", "Status": "ready",
        "NodeResources": {"Cpu": {"CpuShares": 1000000}, "Memory": {"MemoryMB": 1000000}},
    });
    for token in [None, Some(setup.read.as_str()), Some(setup.other.as_str())] {
        let caller = Caller::new(&rpc, token);
        let (status, text) = caller.call(Method::Post, "/v1/internal/node/register", Some(&fake));
        assert_eq!(status, 403, "{token:?}: {text}");
    }
    let admin = Caller::new(&setup.agent.addr(), Some(&setup.management));
    let nodes = admin.json(Method::Get, "/v1/nodes", None);
    assert_eq!(nodes.as_array().map(Vec::len), Some(1), "{nodes}");
    // A token with node:write may.
    let writer = Caller::new(&rpc, Some(&setup.write));
    let (status, text) = writer.call(
        Method::Post,
        "/v1/internal/node/register",
        Some(&{
            let mut other_dc = fake.clone();
            other_dc["Datacenter"] = json!("dc-of-the-fake");
            other_dc
        }),
    );
    assert_eq!(status, 200, "{text}");
}

/// Three servers with ACLs: the token and policy written through one of them work on
/// every server after all three are killed with `kill -9` and started again (the
/// tables live in the replicated, durable state), and the bootstrap stays done.
#[test]
fn tokens_and_policies_survive_a_kill_9_of_every_server() {
    let mut cluster = ServerCluster::start_with(3, "", |_| "acl {\n  enabled = true\n}\n".into());
    // The harness finds leaders through routes ACLs now guard: a bootstrap through a
    // follower, forwarded to the leader, is the sign that there is one.
    let management = bootstrap(&cluster.servers[0]);
    let addrs: Vec<String> = cluster.servers.iter().map(Agent::addr).collect();
    let at = |i: usize, token: Option<&str>| Caller::new(&addrs[i], token);
    let read = create_token(&at(1, Some(&management)), "reader", "readonly", READ_POLICY);

    for i in 0..3 {
        cluster.kill9(i);
    }
    for i in 0..3 {
        cluster.restart(i);
    }
    for i in 0..3 {
        let reader = at(i, Some(&read));
        wait_for(
            "a restarted server to take the token",
            &cluster.servers[i],
            || reader.call(Method::Get, "/v1/jobs", None).0 == 200,
        );
        assert_eq!(
            reader.call(Method::Put, "/v1/system/gc", None).0,
            403,
            "server {i}"
        );
        let (status, text) = at(i, None).call(Method::Post, "/v1/acl/bootstrap", None);
        assert_eq!(status, 400, "server {i}: {text}");
    }
    let policy = at(0, Some(&management)).json(Method::Get, "/v1/acl/policy/readonly", None);
    assert!(
        policy["Rules"]
            .as_str()
            .unwrap()
            .contains("namespace \"default\"")
    );
}

/// A client-only agent answers its own routes (a task's logs) after asking its server
/// who the caller is, and registers its node only with a `node:write` token.
#[test]
fn a_client_agent_checks_the_tokens_it_resolves_through_its_server() {
    let server = Agent::with_config(
        &[],
        &format!("{SERVER_CONFIG}acl {{\n  enabled = true\n}}\n"),
    );
    let management = bootstrap(&server);
    let admin = Caller::new(&server.addr(), Some(&management));
    let node_token = create_token(&admin, "node", "node-write", "node { policy = \"write\" }");
    let read = create_token(&admin, "reader", "readonly", READ_POLICY);
    let write = create_token(&admin, "writer", "default-write", WRITE_POLICY);

    let raw_exec = "plugin \"raw_exec\" {\n  config {\n    enabled = true\n  }\n}\n";
    let client = Agent::with_config(
        &[],
        &client_config(
            server.rpc_port,
            "",
            &format!("{raw_exec}acl {{\n  enabled = true\n  token = \"{node_token}\"\n}}\n"),
        ),
    );
    // A client without a token is turned away: its node never appears.
    let stranger = Agent::with_config(
        &[],
        &client_config(server.rpc_port, "", "acl {\n  enabled = true\n}\n"),
    );
    wait_for("the client's node", &server, || {
        let nodes = admin.json(Method::Get, "/v1/nodes", None);
        nodes
            .as_array()
            .is_some_and(|n| n.len() == 1 && n[0]["Status"] == "ready")
    });
    wait_for("the refused registration in the log", &stranger, || {
        stranger.log().contains("Permission denied")
    });
    assert_eq!(
        admin
            .json(Method::Get, "/v1/nodes", None)
            .as_array()
            .map(Vec::len),
        Some(1)
    );

    let job = json!({"Job": {
        "ID": "logs", "Type": "service", "Datacenters": ["dc1"],
        "TaskGroups": [{"Name": "g", "Tasks": [{
            "Name": "t", "Driver": "raw_exec",
            "Config": {"command": "/bin/sh", "args": ["-c", "echo through-the-client; exec sleep 300"]},
            "Resources": {"CPU": 20, "MemoryMB": 16},
        }]}],
    }});
    admin.json(Method::Post, "/v1/jobs", Some(&job));
    let mut alloc = String::new();
    wait_for("a running allocation", &server, || {
        let allocs = admin.json(Method::Get, "/v1/job/logs/allocations", None);
        alloc = allocs[0]["ID"].as_str().unwrap_or("").to_string();
        allocs[0]["ClientStatus"] == "running"
    });
    let logs = format!("/v1/client/fs/logs/{alloc}?task=t&type=stdout&plain=true");
    let at_client =
        |token: Option<&str>| Caller::new(&client.addr(), token).call(Method::Get, &logs, None);
    let (status, text) = at_client(Some(&read));
    assert_eq!((status, text.trim()), (403, "Permission denied"));
    let (status, text) = at_client(None);
    assert_eq!((status, text.trim()), (403, "Permission denied"));
    let (status, text) = at_client(Some("00000000-0000-0000-0000-000000000000"));
    assert_eq!((status, text.trim()), (403, "ACL token not found"));
    let mut text = String::new();
    wait_for("the task's output", &client, || {
        let answer = at_client(Some(&write));
        text = answer.1;
        answer.0 == 200 && text.contains("through-the-client")
    });
    // A server route asked of the client agent is forwarded with the caller's token,
    // and the server checks it.
    let via_client = |token: Option<&str>| {
        Caller::new(&client.addr(), token).call(Method::Get, "/v1/jobs", None)
    };
    assert_eq!(via_client(Some(&read)).0, 200);
    assert_eq!(via_client(None).0, 403);
    // The same through the server, which forwards to the client.
    let via_server = Caller::new(&server.addr(), Some(&read)).call(Method::Get, &logs, None);
    assert_eq!(via_server.0, 403);
}

//! What ACLs cost a read (issue 12): `GET /v1/jobs` on one kept-alive connection, 3,000
//! times, against a dev agent without ACLs and against a `-dev -acl-enabled` one with a
//! client token whose policy grants `read` in `default` (resolved from the state and
//! the compiled-ACL cache on every request). Prints the median and the 99th percentile.
//!
//! Run with `cargo bench -p caravan --bench acl` (the release build), or against the
//! debug build with `cargo bench --profile dev -p caravan --bench acl`. It asserts
//! nothing.

use std::time::{Duration, Instant};

use caravan_api_client::{Client, Config, Method};
use caravan_testkit::harness::{Agent, block_on};
use serde_json::{Value, json};

const READS: usize = 3000;

fn client(agent: &Agent, token: Option<&str>) -> Client {
    let config = Config {
        token: token.map(str::to_string),
        ..Config::address(agent.addr())
    };
    Client::new(config).expect("a client")
}

/// Status and body; status 0 while the agent does not accept connections yet.
fn call(api: &Client, method: Method, path: &str, body: Option<&Value>) -> (u16, String) {
    let body = body.map(|b| b.to_string());
    match block_on(api.send_raw(method, path, body.as_deref().map(str::as_bytes))) {
        Ok(answer) => (answer.status, answer.body),
        Err(error) => (0, error.to_string()),
    }
}

/// Median and 99th percentile of `READS` reads of `/v1/jobs`, in microseconds.
fn reads(api: &Client) -> (f64, f64) {
    let mut micros: Vec<f64> = (0..READS)
        .map(|_| {
            let start = Instant::now();
            let (status, _) = call(api, Method::Get, "/v1/jobs", None);
            assert_eq!(status, 200);
            start.elapsed().as_secs_f64() * 1e6
        })
        .collect();
    micros.sort_by(f64::total_cmp);
    (micros[READS / 2], micros[READS * 99 / 100])
}

fn main() {
    let open = Agent::start();
    let (median, p99) = reads(&client(&open, None));
    println!("ACLs off:                 GET /v1/jobs median {median:.0} µs, p99 {p99:.0} µs");
    drop(open);

    let agent = Agent::with_config(&["-dev", "-acl-enabled"], "");
    let anonymous = client(&agent, None);
    let deadline = Instant::now() + Duration::from_secs(20);
    let management = loop {
        let (status, body) = call(&anonymous, Method::Post, "/v1/acl/bootstrap", None);
        if status == 200 {
            let token: Value = serde_json::from_str(&body).expect("a token");
            break token["SecretID"].as_str().expect("a secret").to_string();
        }
        assert!(Instant::now() < deadline, "no bootstrap: {status} {body}");
        std::thread::sleep(Duration::from_millis(50));
    };
    let admin = client(&agent, Some(&management));
    let rules = "namespace \"default\" { policy = \"read\" }";
    call(
        &admin,
        Method::Post,
        "/v1/acl/policy/ro",
        Some(&json!({"Name": "ro", "Rules": rules})),
    );
    let (_, body) = call(
        &admin,
        Method::Post,
        "/v1/acl/token",
        Some(&json!({"Type": "client", "Policies": ["ro"]})),
    );
    let token: Value = serde_json::from_str(&body).expect("a token");
    let reader = client(&agent, token["SecretID"].as_str());
    let (median, p99) = reads(&reader);
    println!("ACLs on, a client token: GET /v1/jobs median {median:.0} µs, p99 {p99:.0} µs");
}

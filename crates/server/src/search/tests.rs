//! Prefix and fuzzy search over a small state, one row per rule.

use caravan_acl::{Acl, parse_rules};
use caravan_state::{Command, SecurityCommand, Snapshot, StateStore, VariableCommand};
use caravan_structs::acl::Namespace;
use caravan_structs::{EncryptedData, Job, RootKey, Service, VariableEncrypted};

use super::*;

const ALLOC: &str = "aa11b2c3-0000-4000-8000-000000000001";
const EVAL: &str = "ab22b2c3-0000-4000-8000-000000000002";

fn job(id: &str, namespace: &str) -> Job {
    let mut job = caravan_testkit::job(id)
        .group_name("cache")
        .task_name("redis")
        .command("/bin/redis-server")
        .canonical();
    job.namespace = namespace.to_string();
    job.task_groups[0].services.push(Service {
        name: "redis-cache".into(),
        ..Service::default()
    });
    job
}

fn state(job_ids: &[&str]) -> Snapshot {
    let store = StateStore::new();
    store.apply(Command::Security(SecurityCommand::NamespacesUpsert {
        namespaces: vec![Namespace {
            name: "prod".into(),
            ..Namespace::default()
        }],
    }));
    let mut jobs: Vec<Job> = job_ids.iter().map(|id| job(id, "default")).collect();
    jobs.push(job("secret-job", "prod"));
    for job in &jobs {
        store.apply(Command::JobRegister {
            job: job.clone(),
            eval: None,
            now: 1,
            enforce_index: None,
        });
    }
    let example = &jobs[0];
    let alloc = caravan_testkit::alloc(ALLOC, example, "cd34b2c3-0000-4000-8000-000000000003")
        .with(|a| a.name = format!("{}.cache[0]", example.id.as_str()))
        .build();
    store.apply(Command::PlanApply {
        job: None,
        stopped: Vec::new(),
        allocs: vec![alloc],
        evals: vec![caravan_testkit::eval(EVAL, example).build()],
        now: 1,
        deployment: None,
        deployment_updates: Vec::new(),
    });
    let node = caravan_testkit::node("cd34b2c3-0000-4000-8000-000000000003")
        .with(|n| n.name = "worker-1".into())
        .build();
    store.apply(Command::NodeRegister {
        node,
        now: 1,
        evals: Vec::new(),
    });
    store.apply(Command::Variables(VariableCommand::KeyUpsert {
        key: RootKey {
            key_id: "k1".into(),
            active: true,
            material: vec![7; 32],
            ..RootKey::default()
        },
        first: true,
    }));
    for (namespace, path) in [("default", "nomad/jobs/example"), ("prod", "app/secret")] {
        store.apply(Command::Variables(VariableCommand::Upsert {
            variable: VariableEncrypted {
                namespace: namespace.into(),
                path: path.into(),
                data: EncryptedData {
                    ciphertext: vec![1, 2, 3],
                    key_id: "k1".into(),
                },
                ..VariableEncrypted::default()
            },
            cas: None,
            lock_id: None,
            now: 1,
        }));
    }
    Snapshot::clone(&store.snapshot())
}

fn reader_of_default() -> Acl {
    let rules = parse_rules("r", "namespace \"default\" { policy = \"read\" }").unwrap();
    Acl::from_policies(&[rules])
}

fn prefix(
    snapshot: &Snapshot,
    acl: &Acl,
    namespace: &str,
    text: &str,
    context: &str,
) -> PrefixResults {
    prefix_search(
        snapshot,
        acl,
        namespace,
        text,
        SearchContext::parse(context).unwrap(),
    )
    .unwrap()
}

#[test]
fn prefix_search_table() {
    let snapshot = state(&["example", "example-api", "web"]);
    let all = Acl::management();
    // (what the row shows, context, namespace, prefix, the IDs found; None: no answer)
    type Row<'a> = (&'a str, &'a str, &'a str, &'a str, Option<Vec<&'a str>>);
    let rows: Vec<Row> = vec![
        (
            "jobs by ID prefix",
            "jobs",
            "default",
            "ex",
            Some(vec!["example", "example-api"]),
        ),
        (
            "other namespaces are left out",
            "jobs",
            "default",
            "secret",
            Some(vec![]),
        ),
        (
            "namespace star searches all",
            "jobs",
            "*",
            "secret",
            Some(vec!["secret-job"]),
        ),
        (
            "variables by path prefix",
            "vars",
            "default",
            "nomad/",
            Some(vec!["nomad/jobs/example"]),
        ),
        (
            "variables of every namespace with star",
            "vars",
            "*",
            "app",
            Some(vec!["app/secret"]),
        ),
        (
            "an odd UUID prefix is cut to even",
            "allocs",
            "default",
            "aa1",
            Some(vec![ALLOC]),
        ),
        (
            "hyphens are not counted",
            "evals",
            "default",
            "ab22b2c3-0",
            Some(vec![EVAL]),
        ),
        (
            "a prefix that is not hex leaves a UUID context out",
            "allocs",
            "default",
            "ex",
            None,
        ),
        (
            "nodes by ID",
            "nodes",
            "default",
            "cd",
            Some(vec!["cd34b2c3-0000-4000-8000-000000000003"]),
        ),
        (
            "namespaces by name",
            "namespaces",
            "default",
            "pr",
            Some(vec!["prod"]),
        ),
        (
            "no plugins in Caravan",
            "plugins",
            "default",
            "",
            Some(vec![]),
        ),
        (
            "every variable of the namespace for an empty prefix",
            "vars",
            "default",
            "",
            Some(vec!["nomad/jobs/example"]),
        ),
    ];
    for (name, context, namespace, text, expected) in rows {
        let results = prefix(&snapshot, &all, namespace, text, context);
        let key = SearchContext::parse(context).unwrap().name();
        let found: Option<Vec<&str>> = results
            .matches
            .get(key)
            .map(|ids| ids.iter().map(String::as_str).collect());
        assert_eq!(found, expected, "{name}");
    }
}

#[test]
fn all_contexts_answer_each_with_its_truncation() {
    let ids: Vec<String> = (0..25).map(|i| format!("job-{i:02}")).collect();
    let ids: Vec<&str> = ids.iter().map(String::as_str).collect();
    let snapshot = state(&ids);
    let results = prefix(&snapshot, &Acl::management(), "default", "job", "all");
    assert_eq!(results.matches["jobs"].len(), PREFIX_LIMIT);
    assert!(results.truncations["jobs"]);
    assert!(!results.truncations["namespaces"]);
    // "job" is not hex: the UUID contexts are left out, the others answer empty.
    assert!(!results.matches.contains_key("allocs"));
    for context in ["plugins", "volumes", "vars", "namespaces"] {
        assert_eq!(results.matches[context], Vec::<String>::new(), "{context}");
    }
}

#[test]
fn search_keeps_to_what_the_token_may_read() {
    let snapshot = state(&["example"]);
    let reader = reader_of_default();
    let results = prefix(&snapshot, &reader, "*", "", "jobs");
    assert_eq!(results.matches["jobs"], vec!["example".to_string()]);
    // Nodes need node:read: named alone, a 403; in `all`, left out.
    assert_eq!(
        prefix_search(&snapshot, &reader, "default", "", SearchContext::Nodes),
        Err(SearchError::PermissionDenied)
    );
    let all = prefix(&snapshot, &reader, "default", "", "all");
    assert!(!all.matches.contains_key("nodes"));
    assert!(all.matches.contains_key("jobs"));
    assert_eq!(
        prefix_search(&snapshot, &reader, "prod", "", SearchContext::Jobs),
        Err(SearchError::PermissionDenied)
    );
}

#[test]
fn an_unknown_context_is_refused_with_the_known_ones() {
    let Err(SearchError::BadRequest(message)) = SearchContext::parse("job") else {
        panic!("job is not a context");
    };
    assert!(message.contains("invalid context \"job\""), "{message}");
    assert!(message.contains("jobs"), "{message}");
}

fn fuzzy(snapshot: &Snapshot, config: &SearchConfig, text: &str) -> FuzzyResults {
    fuzzy_search(
        snapshot,
        &Acl::management(),
        config,
        "default",
        text,
        "",
        SearchContext::All,
    )
    .unwrap()
}

fn found(results: &FuzzyResults, context: &str) -> Vec<(String, Vec<String>)> {
    results
        .matches
        .get(context)
        .into_iter()
        .flatten()
        .map(|m| (m.id.clone(), m.scope.clone().unwrap_or_default()))
        .collect()
}

fn owned(rows: &[(&str, &[&str])]) -> Vec<(String, Vec<String>)> {
    rows.iter()
        .map(|(id, scope)| {
            (
                id.to_string(),
                scope.iter().map(|s| s.to_string()).collect(),
            )
        })
        .collect()
}

#[test]
fn fuzzy_search_table() {
    let snapshot = state(&["example", "example-api", "api-gateway"]);
    let config = SearchConfig::default();
    type Row<'a> = (&'a str, &'a str, &'a str, Vec<(&'a str, &'a [&'a str])>);
    let rows: Vec<Row> = vec![
        (
            "a job by name, shorter first",
            "exa",
            "jobs",
            vec![
                ("example", &["default", "example"]),
                ("example-api", &["default", "example-api"]),
            ],
        ),
        (
            "a variable by a part of its path",
            "jobs/exa",
            "vars",
            vec![("nomad/jobs/example", &["default", "nomad/jobs/example"])],
        ),
        (
            "ignoring case",
            "EXAMPLE-A",
            "jobs",
            vec![("example-api", &["default", "example-api"])],
        ),
        (
            "earlier in the name ranks first",
            "api",
            "jobs",
            vec![
                ("api-gateway", &["default", "api-gateway"]),
                ("example-api", &["default", "example-api"]),
            ],
        ),
        (
            "a group, scoped by its job",
            "cach",
            "groups",
            vec![
                ("cache", &["default", "api-gateway"]),
                ("cache", &["default", "example"]),
                ("cache", &["default", "example-api"]),
            ],
        ),
        (
            "a task, scoped by its group",
            "redi",
            "tasks",
            vec![
                ("redis", &["default", "api-gateway", "cache"]),
                ("redis", &["default", "example", "cache"]),
                ("redis", &["default", "example-api", "cache"]),
            ],
        ),
        (
            "a command, scoped by its task",
            "server",
            "commands",
            vec![
                (
                    "/bin/redis-server",
                    &["default", "api-gateway", "cache", "redis"],
                ),
                (
                    "/bin/redis-server",
                    &["default", "example", "cache", "redis"],
                ),
                (
                    "/bin/redis-server",
                    &["default", "example-api", "cache", "redis"],
                ),
            ],
        ),
        (
            "an allocation by name",
            "example.cache",
            "allocs",
            vec![("example.cache[0]", &["default", ALLOC])],
        ),
        (
            "a node by name",
            "worker",
            "nodes",
            vec![("worker-1", &["cd34b2c3-0000-4000-8000-000000000003"])],
        ),
        (
            "another namespace's job is not found",
            "secret",
            "jobs",
            vec![],
        ),
    ];
    for (name, text, context, expected) in rows {
        let results = fuzzy(&snapshot, &config, text);
        assert_eq!(found(&results, context), owned(&expected), "{name}");
    }
    let services = fuzzy(&snapshot, &config, "redis-cache");
    assert_eq!(services.matches["services"].len(), 3);
    assert!(!services.truncations["services"]);
}

#[test]
fn fuzzy_search_limits_and_refusals() {
    let snapshot = state(&["alpha-1", "alpha-2", "alpha-3"]);
    let limited = SearchConfig {
        limit_query: 2,
        ..SearchConfig::default()
    };
    let results = fuzzy(&snapshot, &limited, "alpha");
    assert_eq!(results.matches["jobs"].len(), 2);
    assert!(results.truncations["jobs"]);
    let few = SearchConfig {
        limit_results: 1,
        ..SearchConfig::default()
    };
    let results = fuzzy(&snapshot, &few, "alpha");
    assert_eq!(results.matches["jobs"].len(), 1);
    assert!(results.truncations["jobs"]);
    let short = fuzzy_search(
        &snapshot,
        &Acl::management(),
        &SearchConfig::default(),
        "default",
        "a",
        "",
        SearchContext::All,
    );
    assert_eq!(
        short,
        Err(SearchError::BadRequest(
            "fuzzy search query must be at least 2 characters, got 1".into()
        ))
    );
    let disabled = SearchConfig {
        fuzzy_enabled: false,
        ..SearchConfig::default()
    };
    let refused = fuzzy_search(
        &snapshot,
        &Acl::management(),
        &disabled,
        "default",
        "alpha",
        "",
        SearchContext::All,
    );
    assert!(matches!(refused, Err(SearchError::BadRequest(m)) if m.contains("not enabled")));
}

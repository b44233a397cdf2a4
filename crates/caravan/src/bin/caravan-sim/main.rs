//! `caravan-sim`: registers simulated nodes over the real client RPC, submits jobs and
//! measures how the server keeps up. One `key=value` line per figure on stdout; progress
//! on stderr. See the README's "Scale" section.

mod agent;
mod flags;
mod jobs;
mod measure;
mod nodes;

use std::process::ExitCode;
use std::sync::Arc;
use std::sync::atomic::Ordering;
use std::time::{Duration, Instant};

use caravan_api_client::RpcClient;
use caravan_drivers::proc_stat::ProcStat;
use tokio::sync::Semaphore;
use tokio::task::JoinSet;

use agent::ServerAgent;
use flags::{Flags, USAGE};
use measure::{Api, LeaderProbe, percentile};
use nodes::Counters;

/// The same allocator as the server's (see `caravan`'s `allocator`), with its defaults:
/// the simulator is measured for speed, not for what it hands back.
#[global_allocator]
static ALLOCATOR: tikv_jemallocator::Jemalloc = tikv_jemallocator::Jemalloc;

/// Registrations and job submissions in flight at once.
const CONCURRENT_WRITES: usize = 64;

fn main() -> ExitCode {
    let flags = match Flags::parse(std::env::args().skip(1)) {
        Ok(flags) => flags,
        Err(message) if message.is_empty() => {
            print!("{USAGE}");
            return ExitCode::SUCCESS;
        }
        Err(message) => {
            eprintln!("{message}\n\n{USAGE}");
            return ExitCode::from(1);
        }
    };
    let runtime = match tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
    {
        Ok(runtime) => runtime,
        Err(error) => {
            eprintln!("cannot start the runtime: {error}");
            return ExitCode::from(1);
        }
    };
    let outcome = runtime.block_on(run(flags));
    // Long-polls and heartbeats still run: do not wait for them.
    runtime.shutdown_background();
    match outcome {
        Ok(true) => ExitCode::SUCCESS,
        Ok(false) => ExitCode::from(2),
        Err(message) => {
            eprintln!("caravan-sim: {message}");
            ExitCode::from(1)
        }
    }
}

/// Runs the simulation; `Ok(false)` when not every allocation was placed and running.
async fn run(flags: Flags) -> Result<bool, String> {
    let mut own_server = match &flags.server {
        Some(_) => None,
        None => Some(ServerAgent::start(flags.workers)?),
    };
    let (http_address, rpc_address) = match (&own_server, &flags.server) {
        (Some(agent), _) => (agent.http.clone(), agent.rpc.clone()),
        (None, Some(server)) => {
            let host = server
                .trim_start_matches("http://")
                .rsplit_once(':')
                .map_or(server.as_str(), |(host, _)| host);
            let rpc = flags.rpc.clone().unwrap_or_else(|| format!("{host}:4647"));
            (server.clone(), rpc)
        }
        (None, None) => return Err("no server".into()),
    };
    let http = reqwest::Client::builder()
        .pool_idle_timeout(Duration::from_secs(30))
        .build()
        .map_err(|e| format!("cannot build the HTTP client: {e}"))?;
    let api = Api::new(http.clone(), &http_address);
    if let Err(error) = api.wait_for_leader(Duration::from_secs(60)).await {
        let log = own_server
            .as_ref()
            .map(ServerAgent::log)
            .unwrap_or_default();
        return Err(format!("{error}\n{log}"));
    }
    let rpc_base = if rpc_address.contains("://") {
        rpc_address.clone()
    } else {
        format!("http://{rpc_address}")
    };
    let rpc = RpcClient::new(&rpc_base, http.clone()).map_err(|e| format!("-rpc: {e}"))?;
    let run_tag = std::process::id() ^ (now_secs() as u32).rotate_left(16);
    let counters = Arc::new(Counters::default());

    let started = Instant::now();
    eprintln!("registering {} nodes", flags.nodes);
    let watchers = watchers(&flags);
    register_nodes(&flags, watchers, run_tag, &rpc, &counters).await;
    eprintln!(
        "registered {} nodes in {:.1}s",
        flags.nodes,
        started.elapsed().as_secs_f64()
    );

    let probe = LeaderProbe::start(&http_address)?;
    let prefix = jobs::job_prefix(run_tag);
    let submit_started = Instant::now();
    submit_jobs(&flags, run_tag, &api).await?;
    eprintln!(
        "submitted {} jobs in {:.1}s",
        flags.jobs,
        submit_started.elapsed().as_secs_f64()
    );

    let total = flags.total() as u64;
    let mut placed_after: Option<Duration> = None;
    let mut running_after: Option<Duration> = None;
    let mut placement = measure::Placement::default();
    let mut last_report = Instant::now();
    let mut last_read: Option<Instant> = None;
    while submit_started.elapsed() < flags.timeout {
        if let Some(agent) = own_server.as_mut()
            && agent.exited()
        {
            return Err(format!("the server agent exited:\n{}", agent.log()));
        }
        if last_read.is_none_or(|at| at.elapsed() >= placed_read_every(&placement, total)) {
            last_read = Some(Instant::now());
            if let Ok(now) = api.placed(&prefix).await {
                placement = now;
            }
        }
        if placed_after.is_none() && placement.placed >= total {
            placed_after = Some(submit_started.elapsed());
        }
        let reported = counters.running.load(Ordering::Relaxed);
        if running_after.is_none() && reported >= total {
            running_after = Some(submit_started.elapsed());
        }
        if placed_after.is_some() && running_after.is_some() {
            break;
        }
        if last_report.elapsed() >= Duration::from_secs(5) {
            eprintln!(
                "{:.0}s: placed {} of {total}, reported running {reported}",
                submit_started.elapsed().as_secs_f64(),
                placement.placed
            );
            last_report = Instant::now();
        }
        tokio::time::sleep(Duration::from_millis(250)).await;
    }
    let leader = probe.finish();
    let evals = api.eval_latencies_ms(&prefix).await.unwrap_or_default();
    let run_secs = started.elapsed().as_secs_f64();
    let placing_secs = placed_after
        .unwrap_or_else(|| submit_started.elapsed())
        .as_secs_f64();
    let running = counters.running.load(Ordering::Relaxed);
    let rss = own_server
        .as_ref()
        .and_then(ServerAgent::peak_rss_mib)
        .map_or_else(|| "unknown".to_string(), |mib| format!("{mib:.0}"));
    // The two processes share the machine's cores: what the simulator uses is not the
    // server's to use.
    let server_cpu = own_server
        .as_ref()
        .and_then(ServerAgent::cpu_secs)
        .map_or_else(|| "unknown".to_string(), |secs| format!("{secs:.1}"));
    let sim_cpu = ProcStat::of(std::process::id() as i32)
        .map(|stat| stat.cpu_secs())
        .map_or_else(|| "unknown".to_string(), |secs| format!("{secs:.1}"));

    let lines = [
        ("nodes", flags.nodes.to_string()),
        ("jobs", flags.jobs.to_string()),
        ("count", flags.count.to_string()),
        ("placed", placement.placed.to_string()),
        ("running", running.to_string()),
        ("failed", placement.failed.to_string()),
        (
            "placements_per_s",
            format!("{:.0}", placement.placed as f64 / placing_secs.max(1e-3)),
        ),
        ("placed_s", format!("{placing_secs:.2}")),
        (
            "running_s",
            running_after.map_or_else(
                || "unfinished".into(),
                |d| format!("{:.2}", d.as_secs_f64()),
            ),
        ),
        ("evals", evals.len().to_string()),
        ("eval_p50_ms", format!("{:.1}", percentile(&evals, 50.0))),
        ("eval_p99_ms", format!("{:.1}", percentile(&evals, 99.0))),
        ("server_rss_mib", rss),
        ("server_cpu_s", server_cpu),
        ("sim_cpu_s", sim_cpu),
        (
            "heartbeats_per_s",
            format!(
                "{:.1}",
                counters.heartbeats.load(Ordering::Relaxed) as f64 / run_secs
            ),
        ),
        ("leader_p50_ms", format!("{:.1}", percentile(&leader, 50.0))),
        ("leader_p99_ms", format!("{:.1}", percentile(&leader, 99.0))),
        (
            "rpc_errors",
            counters.errors.load(Ordering::Relaxed).to_string(),
        ),
        ("alloc_watch", alloc_watch(&flags, watchers)),
        ("duration_s", format!("{run_secs:.2}")),
    ];
    for (call, error) in counters
        .first_errors
        .lock()
        .unwrap_or_else(|p| p.into_inner())
        .iter()
    {
        eprintln!("first failed {call} call: {error}");
    }
    for (key, value) in lines {
        println!("{key}={value}");
    }
    drop(own_server);
    Ok(placement.placed >= total && running >= total)
}

/// How often the jobs' summaries are read for the placed count: every 250 ms (the
/// figure's precision) near the end, once a second before. Listing a thousand jobs
/// costs the server and the simulator, which share the machine's cores, more than the
/// heartbeats of ten thousand nodes.
fn placed_read_every(placement: &measure::Placement, total: u64) -> Duration {
    if placement.placed >= total / 10 * 9 {
        Duration::from_millis(250)
    } else {
        Duration::from_secs(1)
    }
}

/// How the nodes watch their allocations, for the output.
fn alloc_watch(flags: &Flags, watchers: usize) -> String {
    if flags.nodes <= watchers {
        "blocking".into()
    } else {
        format!("blocking-shared-{watchers}")
    }
}

/// Descriptors kept for everything but the long-polls: heartbeats, status reports,
/// registrations and the API calls in flight.
const OTHER_DESCRIPTORS: usize = 1024;

/// How many long-polls are held at once: `-watchers`, or one per node as far as the
/// open-files limit (raised to its hard limit) leaves room for each one's connection.
fn watchers(flags: &Flags) -> usize {
    flags.watchers.unwrap_or_else(|| {
        let limit = caravan_api::conn_limit::raise_open_files_limit().unwrap_or(1024);
        let room = usize::try_from(limit)
            .unwrap_or(usize::MAX)
            .saturating_sub(OTHER_DESCRIPTORS)
            .max(1);
        flags.nodes.min(room)
    })
}

fn now_secs() -> u64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map_or(0, |d| d.as_secs())
}

/// Registers every node, then starts its heartbeat and its allocation watch.
async fn register_nodes(
    flags: &Flags,
    watchers: usize,
    run_tag: u32,
    rpc: &RpcClient,
    counters: &Arc<Counters>,
) {
    let writes = Arc::new(Semaphore::new(CONCURRENT_WRITES));
    if watchers < flags.nodes {
        eprintln!(
            "{watchers} long-polls at once for {} nodes (open-files limit): nodes take turns",
            flags.nodes
        );
    }
    let places = Arc::new(Semaphore::new(watchers));
    let wait = nodes::long_poll_wait(flags.nodes, watchers);
    let mut registering = JoinSet::new();
    for index in 0..flags.nodes {
        let node = Arc::new(nodes::node(run_tag, index, flags));
        let (rpc, counters, writes, places) = (
            rpc.clone(),
            counters.clone(),
            writes.clone(),
            places.clone(),
        );
        registering.spawn(async move {
            let ttl = {
                let _write = writes.acquire().await;
                nodes::register(&rpc, &node, &counters).await
            };
            tokio::spawn(nodes::heartbeat(
                rpc.clone(),
                node.clone(),
                ttl,
                counters.clone(),
            ));
            tokio::spawn(nodes::watch_allocations(rpc, node, places, wait, counters));
        });
    }
    while registering.join_next().await.is_some() {}
}

async fn submit_jobs(flags: &Flags, run_tag: u32, api: &Api) -> Result<(), String> {
    let writes = Arc::new(Semaphore::new(CONCURRENT_WRITES.min(16)));
    let mut submitting = JoinSet::new();
    for index in 0..flags.jobs {
        let (api, writes, count) = (api.clone(), writes.clone(), flags.count);
        submitting.spawn(async move {
            let _write = writes.acquire().await;
            api.put("/v1/jobs", &jobs::job(run_tag, index, count)).await
        });
    }
    while let Some(done) = submitting.join_next().await {
        match done {
            Ok(Ok(_)) => {}
            Ok(Err(error)) => return Err(format!("submitting a job failed: {error}")),
            Err(error) => return Err(format!("submitting a job failed: {error}")),
        }
    }
    Ok(())
}

//! What the simulator reads back from the server's HTTP API: placements from the jobs'
//! summaries, evaluation latency from the evaluations, and the latency of
//! `/v1/status/leader` (how responsive the server stays under the load).

use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use serde_json::Value;

/// The `p`th percentile (0 to 100) of `samples`, nearest-rank; 0 for none.
pub fn percentile(samples: &[f64], p: f64) -> f64 {
    if samples.is_empty() {
        return 0.0;
    }
    let mut sorted = samples.to_vec();
    sorted.sort_by(f64::total_cmp);
    let rank = ((p / 100.0) * sorted.len() as f64).ceil() as usize;
    sorted[rank.clamp(1, sorted.len()) - 1]
}

/// The server's HTTP API at `address`.
#[derive(Clone)]
pub struct Api {
    http: reqwest::Client,
    base: String,
}

impl Api {
    pub fn new(http: reqwest::Client, address: &str) -> Api {
        let base = if address.contains("://") {
            address.trim_end_matches('/').to_string()
        } else {
            format!("http://{address}")
        };
        Api { http, base }
    }

    pub async fn get(&self, path: &str) -> Result<Value, String> {
        let response = self
            .http
            .get(format!("{}{path}", self.base))
            .timeout(Duration::from_secs(60))
            .send()
            .await
            .map_err(|e| format!("GET {path}: {e}"))?;
        let status = response.status();
        let body = response
            .text()
            .await
            .map_err(|e| format!("GET {path}: {e}"))?;
        if !status.is_success() {
            return Err(format!("GET {path}: {status}: {body}"));
        }
        serde_json::from_str(&body).map_err(|e| format!("GET {path}: {e}"))
    }

    pub async fn put(&self, path: &str, body: &Value) -> Result<Value, String> {
        let response = self
            .http
            .put(format!("{}{path}", self.base))
            .json(body)
            .timeout(Duration::from_secs(60))
            .send()
            .await
            .map_err(|e| format!("PUT {path}: {e}"))?;
        let status = response.status();
        let text = response
            .text()
            .await
            .map_err(|e| format!("PUT {path}: {e}"))?;
        if !status.is_success() {
            return Err(format!("PUT {path}: {status}: {text}"));
        }
        serde_json::from_str(&text).map_err(|e| format!("PUT {path}: {e}"))
    }

    /// Waits for the server to elect itself leader.
    pub async fn wait_for_leader(&self, within: Duration) -> Result<(), String> {
        let deadline = Instant::now() + within;
        loop {
            match self.get("/v1/status/leader").await {
                Ok(Value::String(leader)) if !leader.is_empty() => return Ok(()),
                Ok(_) | Err(_) if Instant::now() < deadline => {
                    tokio::time::sleep(Duration::from_millis(200)).await
                }
                Ok(other) => return Err(format!("no leader within {within:?}: {other}")),
                Err(error) => return Err(format!("no leader within {within:?}: {error}")),
            }
        }
    }

    /// Allocations placed for the jobs whose IDs start with `prefix`: every client
    /// status but queued, summed over the jobs' summaries.
    pub async fn placed(&self, prefix: &str) -> Result<Placement, String> {
        let jobs = self.get(&format!("/v1/jobs?prefix={prefix}")).await?;
        let mut placement = Placement::default();
        for job in jobs.as_array().into_iter().flatten() {
            let groups = job["JobSummary"]["Summary"].as_object();
            for counts in groups.into_iter().flat_map(|g| g.values()) {
                let n = |key: &str| counts[key].as_u64().unwrap_or(0);
                placement.placed +=
                    n("Starting") + n("Running") + n("Complete") + n("Failed") + n("Lost");
                placement.running += n("Running");
                placement.failed += n("Failed") + n("Lost");
            }
        }
        Ok(placement)
    }

    /// CreateTime to ModifyTime of each complete evaluation of the jobs whose IDs start
    /// with `prefix`, in milliseconds.
    pub async fn eval_latencies_ms(&self, prefix: &str) -> Result<Vec<f64>, String> {
        let evals = self.get("/v1/evaluations").await?;
        Ok(evals
            .as_array()
            .into_iter()
            .flatten()
            .filter(|e| e["JobID"].as_str().is_some_and(|id| id.starts_with(prefix)))
            .filter(|e| e["Status"] == "complete")
            .filter_map(|e| {
                let created = e["CreateTime"].as_i64()?;
                let modified = e["ModifyTime"].as_i64()?;
                Some((modified - created).max(0) as f64 / 1e6)
            })
            .collect())
    }
}

#[derive(Debug, Default, Clone, Copy)]
pub struct Placement {
    pub placed: u64,
    pub running: u64,
    pub failed: u64,
}

/// Times `GET /v1/status/leader` every 100 ms until finished, from a thread of its own
/// with its own connection: the simulator's runtime is busy with thousands of nodes, and
/// its delays in polling a request are not the server's.
pub struct LeaderProbe {
    samples: Arc<Mutex<Vec<f64>>>,
    stop: Option<tokio::sync::oneshot::Sender<()>>,
    thread: Option<std::thread::JoinHandle<()>>,
}

impl LeaderProbe {
    pub fn start(address: &str) -> Result<LeaderProbe, String> {
        let runtime = tokio::runtime::Builder::new_current_thread()
            .enable_all()
            .build()
            .map_err(|e| format!("leader probe: {e}"))?;
        let http = reqwest::Client::builder()
            .pool_max_idle_per_host(1)
            .build()
            .map_err(|e| format!("leader probe: {e}"))?;
        let api = Api::new(http, address);
        let samples = Arc::new(Mutex::new(Vec::new()));
        let sink = samples.clone();
        let (stop, mut stopped) = tokio::sync::oneshot::channel::<()>();
        let probe = async move {
            let mut tick = tokio::time::interval(Duration::from_millis(100));
            tick.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
            loop {
                tokio::select! {
                    _ = &mut stopped => return,
                    _ = tick.tick() => {}
                }
                let started = Instant::now();
                if api.get("/v1/status/leader").await.is_ok() {
                    let ms = started.elapsed().as_secs_f64() * 1000.0;
                    sink.lock().unwrap_or_else(|p| p.into_inner()).push(ms);
                }
            }
        };
        let thread = std::thread::Builder::new()
            .name("leader-probe".into())
            .spawn(move || runtime.block_on(probe))
            .map_err(|e| format!("leader probe: {e}"))?;
        Ok(LeaderProbe {
            samples,
            stop: Some(stop),
            thread: Some(thread),
        })
    }

    /// The samples so far, stopping the probe.
    pub fn finish(mut self) -> Vec<f64> {
        self.stop_thread();
        std::mem::take(&mut *self.samples.lock().unwrap_or_else(|p| p.into_inner()))
    }

    fn stop_thread(&mut self) {
        if let Some(stop) = self.stop.take() {
            let _ = stop.send(());
        }
        if let Some(thread) = self.thread.take() {
            let _ = thread.join();
        }
    }
}

impl Drop for LeaderProbe {
    fn drop(&mut self) {
        self.stop_thread();
    }
}

#[cfg(test)]
mod tests {
    use super::percentile;

    #[test]
    fn nearest_rank_percentiles() {
        let samples: Vec<f64> = (1..=100).map(f64::from).collect();
        assert_eq!(percentile(&samples, 50.0), 50.0);
        assert_eq!(percentile(&samples, 99.0), 99.0);
        assert_eq!(percentile(&[7.0], 99.0), 7.0);
        assert_eq!(percentile(&[], 50.0), 0.0);
    }
}

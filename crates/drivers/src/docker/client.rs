//! Reaching the Docker daemon: a bollard client on the plugin's unix socket, at the API
//! version the daemon speaks, and a way to ask it from blocking code.

use std::future::Future;
use std::time::Duration;

use bollard::Docker;

/// Requests are bounded by their callers: waits and log streams last as long as the
/// container.
const REQUEST_TIMEOUT_SECS: u64 = 365 * 24 * 3600;

/// A client for the daemon at `socket`, speaking the daemon's API version.
pub async fn connect(socket: &str) -> Result<Docker, String> {
    let docker =
        Docker::connect_with_unix(socket, REQUEST_TIMEOUT_SECS, bollard::API_DEFAULT_VERSION)
            .map_err(|e| unreachable(socket, &e.to_string()))?;
    docker
        .negotiate_version()
        .await
        .map_err(|e| unreachable(socket, &e.to_string()))
}

/// The message for a daemon that does not answer.
pub fn unreachable(socket: &str, reason: &str) -> String {
    format!("Docker daemon at unix://{socket} is unreachable: {reason}")
}

/// Runs `work` against the daemon from blocking code (stats, signals, recovery), on a
/// runtime of its own: bollard's connections belong to the runtime that made them, and
/// these callers may be on a runtime's blocking pool or on none.
pub fn blocking<T, F, Fut>(socket: &str, timeout: Duration, work: F) -> Result<T, String>
where
    T: Send,
    F: FnOnce(Docker) -> Fut + Send,
    Fut: Future<Output = Result<T, String>>,
{
    let socket = socket.to_string();
    std::thread::scope(|scope| {
        scope
            .spawn(move || {
                let runtime = tokio::runtime::Builder::new_current_thread()
                    .enable_all()
                    .build()
                    .map_err(|e| format!("cannot start a runtime to reach Docker: {e}"))?;
                runtime.block_on(async move {
                    let docker = connect(&socket).await?;
                    tokio::time::timeout(timeout, work(docker))
                        .await
                        .map_err(|_| format!("Docker did not answer within {timeout:?}"))?
                })
            })
            .join()
            .unwrap_or_else(|_| Err("the Docker request panicked".into()))
    })
}

/// Whether the daemon says container `id` runs (not when it cannot say).
pub async fn is_running(docker: &Docker, id: &str) -> bool {
    docker
        .inspect_container(id, None)
        .await
        .ok()
        .and_then(|c| c.state)
        .and_then(|s| s.running)
        .unwrap_or(false)
}

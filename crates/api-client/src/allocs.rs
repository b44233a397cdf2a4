//! Allocation routes: list, read, live stats, restart, and the allocation's files and
//! logs (answered by the client that runs it; a server forwards them there).

use caravan_api_types::{
    AllocFileInfo, AllocResourceUsage, AllocStopResponse, AllocationListStub,
    AllocationRestartRequest,
};
use caravan_structs::Allocation;

use crate::{Body, Call, Client, Error, Indexed, Method, paths};

/// Which log to read from `/v1/client/fs/logs/:alloc` and how.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct LogsQuery {
    /// The task.
    pub task: String,
    /// `stdout` or `stderr`.
    pub log_type: String,
    /// Keep reading as the task writes.
    pub follow: bool,
    /// Start this many bytes before the end (`origin=end&offset=N`); from the start
    /// when `None`.
    pub from_end: Option<i64>,
}

/// Which file to read from `/v1/client/fs/stream/:alloc`, as stream frames.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct StreamQuery {
    /// The file, relative to the allocation directory.
    pub path: String,
    /// Start this many bytes before the end; from the start when `None`.
    pub from_end: Option<i64>,
    /// Keep reading as the file grows.
    pub follow: bool,
}

impl Client {
    /// `GET /v1/allocations[?prefix=]`.
    pub async fn allocations(
        &self,
        prefix: &str,
    ) -> Result<Indexed<Vec<AllocationListStub>>, Error> {
        self.read(
            Call::get(paths::ALLOCATIONS)
                .param_if_set("prefix", prefix)
                .param_if_set("namespace", self.search_namespace()),
        )
        .await
    }

    /// `GET /v1/allocation/:id`.
    pub async fn allocation(&self, id: &str) -> Result<Indexed<Allocation>, Error> {
        self.read(Call::get(paths::allocation(id))).await
    }

    /// `GET /v1/client/allocation/:id/stats`: the running tasks' resource usage.
    pub async fn allocation_stats(&self, id: &str) -> Result<Indexed<AllocResourceUsage>, Error> {
        self.read(Call::get(paths::allocation_stats(id))).await
    }

    /// `POST /v1/allocation/:id/stop`: stops the allocation, placing a replacement.
    pub async fn stop_allocation(&self, id: &str) -> Result<AllocStopResponse, Error> {
        self.write(Call::new(Method::Post, paths::allocation_stop(id)))
            .await
    }

    /// `PUT /v1/client/allocation/:id/restart`: restarts tasks in place.
    pub async fn restart_allocation(
        &self,
        id: &str,
        request: &AllocationRestartRequest,
    ) -> Result<(), Error> {
        let call = Call::new(Method::Put, paths::allocation_restart(id)).json(request)?;
        // The answer is `{}`; it must still be JSON.
        self.write::<serde_json::Value>(call).await.map(drop)
    }

    /// `PUT /v1/client/allocation/:id/signal` with `{"Task": task, "Signal": signal}`:
    /// `task` empty for every running task, `signal` empty for `SIGKILL`.
    pub async fn signal_allocation(&self, id: &str, task: &str, signal: &str) -> Result<(), Error> {
        let path = format!(
            "/v1/client/allocation/{}/signal",
            crate::escape::path_escape(id)
        );
        let body = serde_json::json!({"Task": task, "Signal": signal});
        let call = Call::new(Method::Put, path).json(&body)?;
        // The answer is `{}`; it must still be JSON.
        self.write::<serde_json::Value>(call).await.map(drop)
    }

    /// `GET /v1/client/fs/stat/:alloc?path=`.
    pub async fn fs_stat(&self, alloc_id: &str, path: &str) -> Result<AllocFileInfo, Error> {
        self.write(Call::get(paths::fs_stat(alloc_id)).param("path", path))
            .await
    }

    /// `GET /v1/client/fs/ls/:alloc?path=`.
    pub async fn fs_ls(&self, alloc_id: &str, path: &str) -> Result<Vec<AllocFileInfo>, Error> {
        self.write(Call::get(paths::fs_ls(alloc_id)).param("path", path))
            .await
    }

    /// `GET /v1/client/fs/cat/:alloc?path=`: the file's bytes.
    pub async fn fs_cat(&self, alloc_id: &str, path: &str) -> Result<Body, Error> {
        let response = self
            .send(Call::get(paths::fs_cat(alloc_id)).param("path", path))
            .await?;
        Ok(Body::new(response))
    }

    /// `GET /v1/client/fs/stream/:alloc`: the file as JSON stream frames
    /// (`caravan_api_types::StreamFrame`), one after the other.
    pub async fn fs_stream(&self, alloc_id: &str, query: &StreamQuery) -> Result<Body, Error> {
        let (origin, offset) = match query.from_end {
            Some(bytes) => ("end", bytes),
            None => ("start", 0),
        };
        let call = Call::get(paths::fs_stream(alloc_id))
            .param("path", &query.path)
            .param("offset", offset)
            .param("origin", origin)
            .flag("follow", query.follow);
        Ok(Body::new(self.send(call).await?))
    }

    /// `GET /v1/client/fs/logs/:alloc?plain=true`: a task's log as plain bytes.
    pub async fn logs(&self, alloc_id: &str, query: &LogsQuery) -> Result<Body, Error> {
        let mut call = Call::get(paths::fs_logs(alloc_id))
            .param("task", &query.task)
            .param("type", &query.log_type)
            .param("plain", "true")
            .flag("follow", query.follow);
        if let Some(offset) = query.from_end {
            call = call.param("origin", "end").param("offset", offset);
        }
        Ok(Body::new(self.send(call).await?))
    }
}

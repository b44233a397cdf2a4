//! `/v1/client/fs/*`: files and logs of an allocation on this client.

use std::collections::HashMap;
use std::io::{Read, Seek, SeekFrom};
use std::path::PathBuf;
use std::sync::Arc;
use std::time::Duration;

use axum::Json;
use axum::body::Body;
use axum::extract::{FromRequestParts, Path, Query};
use axum::http::request::Parts;
use axum::http::{HeaderMap, Method, StatusCode};
use axum::response::{IntoResponse, Response};
use base64::Engine;
use caravan_client::alloc_dir::{self, AllocDir, FsError};
use caravan_structs::{Allocation, TASK_STATE_DEAD};
use serde_json::json;

use crate::proxy::forward;
use crate::{AgentState, ApiError};

type Params = Query<HashMap<String, String>>;

/// Largest piece of a file sent in one read or one log frame.
const CHUNK: usize = 64 * 1024;
/// How often a followed log checks for new output.
const FOLLOW_POLL: Duration = Duration::from_millis(50);

impl From<FsError> for ApiError {
    fn from(error: FsError) -> ApiError {
        let status = match error {
            FsError::Escape(_) => StatusCode::FORBIDDEN,
            FsError::NotFound(_) => StatusCode::NOT_FOUND,
            FsError::Io(_) => StatusCode::INTERNAL_SERVER_ERROR,
        };
        ApiError::new(status, error.to_string())
    }
}

/// Where an allocation's files are.
enum Located {
    /// On this agent's client.
    Local(Box<Allocation>, AllocDir),
    /// On another client, reachable at this HTTP address.
    Remote(String),
}

fn unique(matches: Vec<Allocation>, alloc_id: &str) -> Result<Option<Allocation>, ApiError> {
    match matches.len() {
        0 => Ok(None),
        1 => Ok(matches.into_iter().next()),
        _ => Err(ApiError::bad_request(format!(
            "alloc ID prefix \"{alloc_id}\" is ambiguous"
        ))),
    }
}

/// Finds the allocation (full ID or unique prefix): on this agent's client if it runs
/// here, else through the server's state on the client that runs it.
fn locate(state: &AgentState, alloc_id: &str) -> Result<Located, ApiError> {
    if let Some(client) = &state.client {
        let found = match client.allocation(alloc_id) {
            Some(alloc) => Some(alloc),
            None => unique(client.allocations_by_prefix(alloc_id), alloc_id)?,
        };
        if let Some(alloc) = found {
            let dir = client
                .alloc_dir(&alloc.id)
                .map_err(|e| ApiError::bad_request(e.to_string()))?;
            return Ok(Located::Local(Box::new(alloc), dir));
        }
    }
    let Some(server) = state.server.as_ref() else {
        return Err(ApiError::not_found("alloc"));
    };
    let snapshot = server.snapshot();
    let alloc = match snapshot.alloc(alloc_id) {
        Some(alloc) => Allocation::clone(&alloc),
        None => {
            let matches = snapshot
                .allocs_by_prefix(alloc_id)
                .iter()
                .map(|a| Allocation::clone(a))
                .collect();
            unique(matches, alloc_id)?.ok_or_else(|| ApiError::not_found("alloc"))?
        }
    };
    if let Some(client) = state
        .client
        .as_ref()
        .filter(|c| c.node().id == alloc.node_id)
    {
        let dir = client
            .alloc_dir(&alloc.id)
            .map_err(|e| ApiError::bad_request(e.to_string()))?;
        return Ok(Located::Local(Box::new(alloc), dir));
    }
    let node = snapshot
        .node(&alloc.node_id)
        .ok_or_else(|| ApiError::not_found("node"))?;
    if node.http_addr.is_empty() {
        return Err(ApiError::new(
            StatusCode::BAD_GATEWAY,
            format!("node {} has no HTTP address to reach its files", node.id),
        ));
    }
    Ok(Located::Remote(node.http_addr.clone()))
}

/// An allocation's files on this agent's client: what every `fs` handler starts from.
/// When the allocation runs on another client, the request is forwarded there and that
/// client's answer is what the handler returns (as this extractor's rejection).
pub struct LocalAlloc {
    state: Arc<AgentState>,
    alloc: Allocation,
    dir: AllocDir,
    params: HashMap<String, String>,
}

impl LocalAlloc {
    /// The `path` parameter, resolved inside the allocation directory.
    fn resolve(&self) -> Result<PathBuf, ApiError> {
        Ok(self.dir.resolve(&path_param(&self.params))?)
    }
}

impl FromRequestParts<Arc<AgentState>> for LocalAlloc {
    type Rejection = Response;

    async fn from_request_parts(
        parts: &mut Parts,
        state: &Arc<AgentState>,
    ) -> Result<Self, Response> {
        let Path(alloc_id) = Path::<String>::from_request_parts(parts, state)
            .await
            .map_err(IntoResponse::into_response)?;
        let Query(params) = Params::from_request_parts(parts, state)
            .await
            .map_err(IntoResponse::into_response)?;
        match locate(state, &alloc_id).map_err(IntoResponse::into_response)? {
            Located::Local(alloc, dir) => Ok(LocalAlloc {
                state: state.clone(),
                alloc: *alloc,
                dir,
                params,
            }),
            Located::Remote(addr) => {
                let forwarded = forward(
                    &state.http,
                    &addr,
                    Method::GET,
                    &parts.uri,
                    &HeaderMap::new(),
                    bytes::Bytes::new(),
                )
                .await;
                Err(forwarded.into_response())
            }
        }
    }
}

fn path_param(params: &HashMap<String, String>) -> String {
    params
        .get("path")
        .cloned()
        .unwrap_or_else(|| "/".to_string())
}

/// `GET /v1/client/fs/ls/:alloc?path=`.
pub async fn ls(files: LocalAlloc) -> Result<Response, ApiError> {
    let path = files.resolve()?;
    Ok(Json(alloc_dir::list(&path)?).into_response())
}

/// `GET /v1/client/fs/stat/:alloc?path=`.
pub async fn stat(files: LocalAlloc) -> Result<Response, ApiError> {
    let path = files.resolve()?;
    Ok(Json(alloc_dir::stat(&path)?).into_response())
}

fn read_range(
    path: &std::path::Path,
    offset: u64,
    limit: Option<u64>,
) -> Result<Vec<u8>, ApiError> {
    if path.is_dir() {
        return Err(ApiError::bad_request("file is a directory"));
    }
    let mut file = std::fs::File::open(path).map_err(FsError::from)?;
    file.seek(SeekFrom::Start(offset)).map_err(FsError::from)?;
    let mut data = Vec::new();
    match limit {
        Some(limit) => file.take(limit).read_to_end(&mut data),
        None => file.read_to_end(&mut data),
    }
    .map_err(FsError::from)?;
    Ok(data)
}

/// `GET /v1/client/fs/cat/:alloc?path=`.
pub async fn cat(files: LocalAlloc) -> Result<Response, ApiError> {
    let path = files.resolve()?;
    Ok(read_range(&path, 0, None)?.into_response())
}

fn number(params: &HashMap<String, String>, name: &str) -> Result<Option<u64>, ApiError> {
    match params.get(name) {
        None => Ok(None),
        Some(text) => text.parse::<u64>().map(Some).map_err(|_| {
            ApiError::bad_request(format!("invalid {name} \"{text}\": must be a whole number"))
        }),
    }
}

/// `GET /v1/client/fs/readat/:alloc?path=&offset=&limit=`.
pub async fn readat(files: LocalAlloc) -> Result<Response, ApiError> {
    let path = files.resolve()?;
    let params = &files.params;
    let offset = number(params, "offset")?.unwrap_or(0);
    let limit = number(params, "limit")?;
    Ok(read_range(&path, offset, limit)?.into_response())
}

/// What a stream reads: a task's log (the current file of the stream), or one file.
enum StreamSource {
    Log {
        logs_dir: PathBuf,
        task: String,
        stream: String,
    },
    File(PathBuf),
}

/// Where a log or file stream is.
struct LogCursor {
    state: Arc<AgentState>,
    alloc_id: String,
    source: StreamSource,
    offset: u64,
    follow: bool,
    plain: bool,
    finished: bool,
    /// The path as the caller gave it, for frames of a file stream.
    display_path: String,
}

impl LogCursor {
    /// Whether nothing more will be written: the task is dead (a followed file is
    /// followed until the caller hangs up, as Nomad's).
    fn writer_gone(&self) -> bool {
        let StreamSource::Log { task, .. } = &self.source else {
            return false;
        };
        // The client's own view is the freshest: it reports task deaths first.
        let alloc = match self
            .state
            .client
            .as_ref()
            .and_then(|c| c.allocation(&self.alloc_id))
        {
            Some(alloc) => Some(alloc),
            None => self
                .state
                .server
                .as_ref()
                .and_then(|s| s.snapshot().alloc(&self.alloc_id))
                .map(|a| (*a).clone()),
        };
        alloc.is_none_or(|a| {
            a.task_states
                .get(task)
                .is_some_and(|t| t.state == TASK_STATE_DEAD)
                || (a.terminal() && a.client_terminal())
        })
    }

    fn current_path(&self) -> Option<PathBuf> {
        match &self.source {
            StreamSource::Log {
                logs_dir,
                task,
                stream,
            } => alloc_dir::current_log_file(logs_dir, task, stream),
            StreamSource::File(path) => Some(path.clone()),
        }
    }

    fn read_chunk(&mut self) -> Option<(PathBuf, Vec<u8>, u64)> {
        let path = self.current_path()?;
        let mut file = std::fs::File::open(&path).ok()?;
        let size = file.metadata().ok()?.len();
        if self.offset > size {
            // The file was truncated or replaced: start over.
            self.offset = 0;
        }
        file.seek(SeekFrom::Start(self.offset)).ok()?;
        let mut data = vec![0; CHUNK];
        let read = file.read(&mut data).ok()?;
        data.truncate(read);
        let start = self.offset;
        self.offset += read as u64;
        Some((path, data, start))
    }

    fn frame(&self, path: &std::path::Path, data: Vec<u8>, start: u64) -> bytes::Bytes {
        if self.plain {
            return bytes::Bytes::from(data);
        }
        let file = match &self.source {
            StreamSource::Log { .. } => {
                let name = path.file_name().map(|n| n.to_string_lossy().into_owned());
                format!("alloc/logs/{}", name.unwrap_or_default())
            }
            StreamSource::File(_) => self.display_path.clone(),
        };
        let frame = json!({
            "Offset": start + data.len() as u64,
            "Data": base64::engine::general_purpose::STANDARD.encode(&data),
            "File": file,
        });
        bytes::Bytes::from(frame.to_string())
    }

    async fn next(mut self) -> Option<(Result<bytes::Bytes, std::io::Error>, LogCursor)> {
        loop {
            if self.finished {
                return None;
            }
            // Decide "dead" before reading, so output written just before the task died
            // is still read once more.
            let dead = !self.follow || self.writer_gone();
            if let Some((path, data, start)) = self.read_chunk()
                && !data.is_empty()
            {
                let frame = self.frame(&path, data, start);
                return Some((Ok(frame), self));
            }
            if dead {
                self.finished = true;
                return None;
            }
            tokio::time::sleep(FOLLOW_POLL).await;
        }
    }
}

/// `GET /v1/client/fs/logs/:alloc?task=&type=stdout|stderr&follow=&offset=&origin=&plain=`.
pub async fn logs(files: LocalAlloc) -> Result<Response, ApiError> {
    let LocalAlloc {
        state,
        alloc,
        dir,
        params,
    } = files;
    let task = params
        .get("task")
        .filter(|t| !t.is_empty())
        .ok_or_else(|| ApiError::bad_request("must include task name"))?;
    if alloc
        .job
        .as_ref()
        .and_then(|j| j.group(&alloc.task_group))
        .is_some_and(|g| !g.tasks.iter().any(|t| &t.name == task))
    {
        return Err(ApiError::bad_request(format!(
            "unknown task name \"{task}\""
        )));
    }
    let stream = params.get("type").cloned().unwrap_or_default();
    if stream != "stdout" && stream != "stderr" {
        return Err(ApiError::bad_request(
            "must include a type of stdout or stderr",
        ));
    }
    let follow = params.get("follow").is_some_and(|f| f == "true");
    let plain = params.get("plain").is_some_and(|p| p == "true");
    let offset = number(&params, "offset")?.unwrap_or(0);
    let origin = params.get("origin").map(String::as_str).unwrap_or("start");
    let logs_dir = dir.logs();
    let start = match origin {
        "start" => offset,
        "end" => {
            let size = alloc_dir::current_log_file(&logs_dir, task, &stream)
                .and_then(|p| std::fs::metadata(p).ok())
                .map(|m| m.len())
                .unwrap_or(0);
            size.saturating_sub(offset)
        }
        other => {
            return Err(ApiError::bad_request(format!(
                "origin must be start or end, got \"{other}\""
            )));
        }
    };
    let cursor = LogCursor {
        state: state.clone(),
        alloc_id: alloc.id.clone(),
        source: StreamSource::Log {
            logs_dir,
            task: task.clone(),
            stream,
        },
        offset: start,
        follow,
        plain,
        finished: false,
        display_path: String::new(),
    };
    let body = Body::from_stream(futures::stream::unfold(cursor, LogCursor::next));
    let content_type = if plain {
        "text/plain; charset=utf-8"
    } else {
        "application/json"
    };
    Ok(([("content-type", content_type)], body).into_response())
}

/// `GET /v1/client/fs/stream/:alloc?path=&offset=&origin=&follow=`: a file as a stream of
/// Nomad's JSON frames.
pub async fn stream(files: LocalAlloc) -> Result<Response, ApiError> {
    let path = files.resolve()?;
    let LocalAlloc {
        state,
        alloc,
        params,
        ..
    } = files;
    let display_path = path_param(&params);
    if path.is_dir() {
        return Err(ApiError::bad_request("file is a directory"));
    }
    let offset = number(&params, "offset")?.unwrap_or(0);
    let start = match params.get("origin").map(String::as_str).unwrap_or("start") {
        "start" => offset,
        "end" => std::fs::metadata(&path)
            .map(|m| m.len())
            .unwrap_or(0)
            .saturating_sub(offset),
        other => {
            return Err(ApiError::bad_request(format!(
                "origin must be start or end, got \"{other}\""
            )));
        }
    };
    let cursor = LogCursor {
        state: state.clone(),
        alloc_id: alloc.id.clone(),
        source: StreamSource::File(path),
        offset: start,
        follow: params.get("follow").is_some_and(|f| f == "true"),
        plain: false,
        finished: false,
        display_path,
    };
    let body = Body::from_stream(futures::stream::unfold(cursor, LogCursor::next));
    Ok(([("content-type", "application/json")], body).into_response())
}

//! `/v1/client/fs/*`: files and logs of an allocation on this client.
//!
//! Every file system call (resolving a path, listing, reading, each poll of a followed
//! log) runs on a blocking thread: a slow disk must not stall the runtime's threads,
//! which serve every other request.

use std::io::{Read, Seek, SeekFrom};
use std::path::PathBuf;
use std::sync::Arc;
use std::time::Duration;

use axum::Json;
use axum::body::Body;
use axum::extract::{FromRequestParts, Path};
use axum::http::request::Parts;
use axum::http::{HeaderMap, Method, StatusCode};
use axum::response::{IntoResponse, Response};
use base64::Engine;
use caravan_client::alloc_dir::{self, AllocDir, FsError};
use caravan_client::log_files::{LogOrigin, LogPosition, TaskLog, start_position};
use caravan_structs::{Allocation, TaskStateKind};

use crate::proxy::forward;
use crate::{AgentState, ApiError, RequestContext};

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

/// Runs file work on a blocking thread.
async fn on_blocking_thread<T: Send + 'static>(
    work: impl FnOnce() -> Result<T, ApiError> + Send + 'static,
) -> Result<T, ApiError> {
    tokio::task::spawn_blocking(work).await.map_err(|e| {
        ApiError::new(
            StatusCode::INTERNAL_SERVER_ERROR,
            format!("file operation failed: {e}"),
        )
    })?
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
    context: RequestContext,
}

impl LocalAlloc {
    /// The `path` parameter as the caller gave it (`/` when absent).
    fn path_param(&self) -> String {
        self.context.param("path").unwrap_or("/").to_string()
    }

    /// Runs `work` on a blocking thread with the `path` parameter resolved inside the
    /// allocation directory.
    async fn with_path<T: Send + 'static>(
        &self,
        work: impl FnOnce(PathBuf) -> Result<T, ApiError> + Send + 'static,
    ) -> Result<T, ApiError> {
        let (dir, relative) = (self.dir.clone(), self.path_param());
        on_blocking_thread(move || work(dir.resolve(&relative)?)).await
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
        let context = RequestContext::from_parts(parts).map_err(IntoResponse::into_response)?;
        let located = on_blocking_thread({
            let state = state.clone();
            move || locate(&state, &alloc_id)
        })
        .await
        .map_err(IntoResponse::into_response)?;
        match located {
            Located::Local(alloc, dir) => Ok(LocalAlloc {
                state: state.clone(),
                alloc: *alloc,
                dir,
                context,
            }),
            Located::Remote(addr) => {
                let forwarded = forward(
                    state.clients_http(),
                    &state.tls.http_url(&addr),
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

/// `GET /v1/client/fs/ls/:alloc?path=`.
pub async fn ls(files: LocalAlloc) -> Result<Response, ApiError> {
    let listing = files.with_path(|path| Ok(alloc_dir::list(&path)?)).await?;
    Ok(Json(listing).into_response())
}

/// `GET /v1/client/fs/stat/:alloc?path=`.
pub async fn stat(files: LocalAlloc) -> Result<Response, ApiError> {
    let info = files.with_path(|path| Ok(alloc_dir::stat(&path)?)).await?;
    Ok(Json(info).into_response())
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
    let data = files.with_path(|path| read_range(&path, 0, None)).await?;
    Ok(data.into_response())
}

fn number(context: &RequestContext, name: &str) -> Result<Option<u64>, ApiError> {
    match context.param(name) {
        None => Ok(None),
        Some(text) => text.parse::<u64>().map(Some).map_err(|_| {
            ApiError::bad_request(format!("invalid {name} \"{text}\": must be a whole number"))
        }),
    }
}

/// `GET /v1/client/fs/readat/:alloc?path=&offset=&limit=`.
pub async fn readat(files: LocalAlloc) -> Result<Response, ApiError> {
    // Checked after the path, as before: a missing file is the answer first.
    let offset = number(&files.context, "offset");
    let limit = number(&files.context, "limit");
    let data = files
        .with_path(move |path| read_range(&path, offset?.unwrap_or(0), limit?))
        .await?;
    Ok(data.into_response())
}

/// What a stream reads: a task's log (its rotated files as one stream), or one file.
enum StreamSource {
    Log(TaskLog),
    File(PathBuf),
}

/// A piece of a stream: the file it is from as a frame names it, the bytes, where they
/// start in that file, and the position after them.
struct Piece {
    file: String,
    data: Vec<u8>,
    start: u64,
    after: LogPosition,
}

impl StreamSource {
    /// Up to [`CHUNK`] bytes from `position` (a file stream's index is always 0; a file
    /// now shorter than the offset is read from its start). Blocking.
    fn read_at(&self, position: LogPosition) -> Option<Piece> {
        match self {
            StreamSource::Log(log) => {
                let (chunk, after) = log.read(position, CHUNK)?;
                Some(Piece {
                    file: format!("alloc/logs/{}", chunk.file_name),
                    data: chunk.data,
                    start: chunk.offset,
                    after,
                })
            }
            StreamSource::File(path) => {
                let mut file = std::fs::File::open(path).ok()?;
                let size = file.metadata().ok()?.len();
                let start = if position.offset > size {
                    0
                } else {
                    position.offset
                };
                file.seek(SeekFrom::Start(start)).ok()?;
                let mut data = vec![0; CHUNK];
                let read = file.read(&mut data).ok()?;
                data.truncate(read);
                Some(Piece {
                    file: String::new(),
                    after: LogPosition {
                        index: 0,
                        offset: start + read as u64,
                    },
                    data,
                    start,
                })
            }
        }
    }
}

/// Where a log or file stream is.
struct LogCursor {
    state: Arc<AgentState>,
    alloc_id: String,
    source: Arc<StreamSource>,
    position: LogPosition,
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
        let StreamSource::Log(TaskLog { task, .. }) = &*self.source else {
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
                .is_some_and(|t| t.state == TaskStateKind::Dead)
                || (a.terminal() && a.client_terminal())
        })
    }

    /// The next piece of the stream, read on a blocking thread; the cursor moves past
    /// it.
    async fn read_chunk(&mut self) -> Option<Piece> {
        let (source, position) = (self.source.clone(), self.position);
        let piece = tokio::task::spawn_blocking(move || source.read_at(position))
            .await
            .ok()??;
        self.position = piece.after;
        Some(piece)
    }

    fn frame(&self, piece: Piece) -> bytes::Bytes {
        if self.plain {
            return bytes::Bytes::from(piece.data);
        }
        let file = match &*self.source {
            StreamSource::Log(_) => piece.file,
            StreamSource::File(_) => self.display_path.clone(),
        };
        let frame = caravan_api_types::StreamFrame {
            offset: piece.start + piece.data.len() as u64,
            data: base64::engine::general_purpose::STANDARD.encode(&piece.data),
            file,
            file_event: String::new(),
        };
        // A struct of strings and a number: serializing it cannot fail.
        bytes::Bytes::from(serde_json::to_vec(&frame).unwrap_or_default())
    }

    async fn next(mut self) -> Option<(Result<bytes::Bytes, std::io::Error>, LogCursor)> {
        loop {
            if self.finished {
                return None;
            }
            // Decide "dead" before reading, so output written just before the task died
            // is still read once more.
            let dead = !self.follow || self.writer_gone();
            if let Some(piece) = self.read_chunk().await
                && !piece.data.is_empty()
            {
                let frame = self.frame(piece);
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

/// Where a stream starts: `offset` bytes from the start, or back from the end of a file
/// of `size` bytes (`origin=end`).
fn stream_start(origin: &str, offset: u64, size: impl FnOnce() -> u64) -> Result<u64, ApiError> {
    match origin {
        "start" => Ok(offset),
        "end" => Ok(size().saturating_sub(offset)),
        other => Err(ApiError::bad_request(format!(
            "origin must be start or end, got \"{other}\""
        ))),
    }
}

/// A stream of frames (or plain bytes) from where the cursor starts.
fn streamed(cursor: LogCursor, content_type: &'static str) -> Response {
    let body = Body::from_stream(futures::stream::unfold(cursor, LogCursor::next));
    ([("content-type", content_type)], body).into_response()
}

/// `GET /v1/client/fs/logs/:alloc?task=&type=stdout|stderr&follow=&offset=&origin=&plain=`.
pub async fn logs(files: LocalAlloc) -> Result<Response, ApiError> {
    let LocalAlloc {
        state,
        alloc,
        dir,
        context,
    } = files;
    let task = context
        .param("task")
        .filter(|t| !t.is_empty())
        .ok_or_else(|| ApiError::bad_request("must include task name"))?
        .to_string();
    let group = alloc.job.as_ref().and_then(|j| j.group(&alloc.task_group));
    if group.is_some_and(|g| !g.tasks.iter().any(|t| t.name == task)) {
        return Err(ApiError::bad_request(format!(
            "unknown task name \"{task}\""
        )));
    }
    let logs_disabled = group
        .and_then(|g| g.tasks.iter().find(|t| t.name == task))
        .is_some_and(|t| t.log_config.disabled);
    let stream = context.param("type").unwrap_or_default().to_string();
    if stream != "stdout" && stream != "stderr" {
        return Err(ApiError::bad_request(
            "must include a type of stdout or stderr",
        ));
    }
    let plain = context.flag("plain")?;
    let offset = number(&context, "offset")?.unwrap_or(0);
    let origin = match context.param("origin").unwrap_or("start") {
        "start" => LogOrigin::Start,
        "end" => LogOrigin::End,
        other => {
            return Err(ApiError::bad_request(format!(
                "origin must be start or end, got \"{other}\""
            )));
        }
    };
    let log = TaskLog::new(&dir.logs(), &task, &stream);
    let (log, start) = on_blocking_thread(move || {
        let files = log.files();
        // Nomad's answer for a stream without files; with `logs { disabled }` there
        // will never be one, so even a follower gets it at once.
        if files.is_empty() && logs_disabled {
            return Err(ApiError::not_found(&format!(
                "log entry for task \"{task}\" and log type \"{stream}\""
            )));
        }
        let start = start_position(&files, origin, offset).unwrap_or(LogPosition {
            index: 0,
            offset: 0,
        });
        Ok((log, start))
    })
    .await?;
    let source = Arc::new(StreamSource::Log(log));
    let cursor = LogCursor {
        state,
        alloc_id: alloc.id.to_string(),
        source,
        position: start,
        follow: context.flag("follow")?,
        plain,
        finished: false,
        display_path: String::new(),
    };
    let content_type = if plain {
        "text/plain; charset=utf-8"
    } else {
        "application/json"
    };
    Ok(streamed(cursor, content_type))
}

/// `GET /v1/client/fs/stream/:alloc?path=&offset=&origin=&follow=`: a file as a stream of
/// Nomad's JSON frames.
pub async fn stream(files: LocalAlloc) -> Result<Response, ApiError> {
    // Checked after the path, as before: a missing file is the answer first.
    let offset = number(&files.context, "offset");
    let origin = files.context.param("origin").unwrap_or("start").to_string();
    let (path, start) = files
        .with_path(move |path| {
            if path.is_dir() {
                return Err(ApiError::bad_request("file is a directory"));
            }
            let start = stream_start(&origin, offset?.unwrap_or(0), || {
                std::fs::metadata(&path).map_or(0, |m| m.len())
            })?;
            Ok((path, start))
        })
        .await
        // Nomad: a stream whose file cannot be read is a bad request (400), where
        // `stat` and `cat` answer 404.
        .map_err(|mut error| {
            if error.status == StatusCode::NOT_FOUND {
                error.status = StatusCode::BAD_REQUEST;
            }
            error
        })?;
    let display_path = files.path_param();
    let LocalAlloc {
        state,
        alloc,
        context,
        ..
    } = files;
    let cursor = LogCursor {
        state,
        alloc_id: alloc.id.to_string(),
        source: Arc::new(StreamSource::File(path)),
        position: LogPosition {
            index: 0,
            offset: start,
        },
        follow: context.flag("follow")?,
        plain: false,
        finished: false,
        display_path,
    };
    Ok(streamed(cursor, "application/json"))
}

//! `GET /v1/client/allocation/:id/exec`: a command inside a running task, over a
//! websocket (Nomad's `ExecStreamingInput` / `ExecStreamingOutput` frames, as JSON text
//! messages). The client that runs the allocation answers; a server forwards the
//! websocket there.
//!
//! In: `{"stdin":{"data":"<base64>"}}`, `{"stdin":{"close":true}}`,
//! `{"tty_size":{"height":h,"width":w}}`. Out: `{"stdout":{"data":"<base64>"}}`,
//! `{"stderr":{"data":"<base64>"}}`, and once the command has exited
//! `{"exited":true,"result":{"exit_code":N}}`, then a normal close. Errors after the
//! upgrade close the socket with Nomad's codes: 1011 for a server error, 1008 otherwise,
//! the message as the reason. The relay speaks TLS to clients that serve HTTPS, with the
//! agent's own certificate.

use std::sync::Arc;

use axum::Extension;
use axum::extract::ws::{CloseFrame, Message, WebSocket, WebSocketUpgrade};
use axum::extract::{Path, Query, State};
use axum::http::{HeaderMap, StatusCode, Uri};
use axum::response::Response;
use base64::Engine;
use base64::engine::general_purpose::STANDARD as BASE64;
use caravan_client::exec::{ExecError, ExecRequest, ExecSession};
use caravan_server::Caller;
use futures::{SinkExt, StreamExt};
use serde::Deserialize;
use serde_json::json;
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::sync::mpsc;
use tokio_tungstenite::tungstenite;

use crate::alloc_actions::remote_client;
use crate::{AgentState, ApiError};

/// Close codes Nomad's `toWsCode` answers.
const CLOSE_POLICY_VIOLATION: u16 = 1008;
const CLOSE_INTERNAL_ERROR: u16 = 1011;
/// How long a terminal session waits for the caller's first frame (its size) before it
/// starts the command without one.
const FIRST_TTY_SIZE_WAIT: std::time::Duration = std::time::Duration::from_millis(250);
const CLOSE_NORMAL: u16 = 1000;

/// The query string.
#[derive(Debug, Default, Deserialize)]
pub struct ExecQuery {
    #[serde(default)]
    task: String,
    /// A JSON array of strings.
    #[serde(default)]
    command: String,
    #[serde(default)]
    tty: Option<String>,
    #[serde(default)]
    ws_handshake: Option<String>,
}

/// A boolean parameter as Go's `strconv.ParseBool` reads it (`True`, `t`, `1`...).
fn flag(value: &Option<String>) -> bool {
    value
        .as_deref()
        .and_then(crate::context::go_bool)
        .unwrap_or(false)
}

/// One input frame.
#[derive(Debug, Default, Deserialize)]
struct ExecInput {
    #[serde(default)]
    stdin: Option<StreamInput>,
    #[serde(default)]
    tty_size: Option<TtySize>,
}

#[derive(Debug, Default, Deserialize)]
struct StreamInput {
    #[serde(default)]
    data: Option<String>,
    #[serde(default)]
    close: bool,
}

#[derive(Debug, Default, Deserialize)]
struct TtySize {
    height: u16,
    width: u16,
}

/// The handler: upgrades, then runs the command here or forwards the socket.
pub async fn exec(
    State(state): State<Arc<AgentState>>,
    Path(alloc_id): Path<String>,
    Query(query): Query<ExecQuery>,
    uri: Uri,
    headers: HeaderMap,
    caller: Option<Extension<Caller>>,
    upgrade: WebSocketUpgrade,
) -> Result<Response, ApiError> {
    let command: Vec<String> = if query.command.is_empty() {
        Vec::new()
    } else {
        serde_json::from_str(&query.command).map_err(|e| {
            ApiError::bad_request(format!("failed to unmarshal command into json: {e}"))
        })?
    };
    let local = state
        .client
        .clone()
        .and_then(|client| state.local_alloc_id(&alloc_id).map(|id| (client, id)));
    if let Some((client, id)) = local {
        let mut request = ExecRequest {
            command,
            tty: flag(&query.tty),
            tty_size: None,
        };
        let handshake = flag(&query.ws_handshake);
        let caller = caller.map(|Extension(caller)| caller);
        return Ok(upgrade.on_upgrade(move |mut socket| async move {
            let mut caller = caller;
            if handshake {
                // `{"version":1,"auth_token":"..."}`; without a token in the request's
                // headers the ACL layer left the check to us.
                let first = match socket.recv().await {
                    Some(Ok(Message::Text(text))) => text.to_string(),
                    _ => String::new(),
                };
                if state.acl.enabled && caller.is_none() {
                    caller = handshake_caller(&state, &client, &id, &first).await;
                    if caller.is_none() {
                        return close_with_error(socket, &ExecError::PermissionDenied).await;
                    }
                }
            }
            // Nomad's client: exec into a task that sees the whole node (raw_exec) also
            // needs `alloc-node-exec` in the allocation's namespace.
            let denied = caller.is_some_and(|caller| {
                client.exec_reaches_node(&id, &query.task)
                    && !allowed(&client, &id, &caller, "alloc-node-exec")
            });
            if denied {
                return close_with_error(socket, &ExecError::PermissionDenied).await;
            }
            // Nomad's CLI sends the terminal's size first: a terminal made with it
            // from the start shows a command that asks at once the right size.
            let mut first = None;
            if request.tty
                && let Ok(Some(Ok(Message::Text(text)))) =
                    tokio::time::timeout(FIRST_TTY_SIZE_WAIT, socket.recv()).await
                && let Ok(frame) = serde_json::from_str::<ExecInput>(text.as_str())
            {
                request.tty_size = frame.tty_size.as_ref().map(|s| (s.height, s.width));
                first = Some(frame);
            }
            match client.exec_task(&id, &query.task, request).await {
                Ok(session) => pump(socket, session, first).await,
                Err(error) => close_with_error(socket, &error).await,
            }
        }));
    }
    let base = remote_client(&state, &alloc_id)?;
    let (secure, host) = match base.strip_prefix("https://") {
        Some(host) => (true, host),
        None => (false, base.strip_prefix("http://").unwrap_or(&base)),
    };
    let scheme = if secure { "wss" } else { "ws" };
    let path = uri.path_and_query().map(|p| p.as_str()).unwrap_or("/");
    let mut request = tungstenite::client::IntoClientRequest::into_client_request(format!(
        "{scheme}://{host}{path}"
    ))
    .map_err(|e| ApiError::new(StatusCode::INTERNAL_SERVER_ERROR, e.to_string()))?;
    for name in [
        "x-nomad-token",
        "authorization",
        crate::cluster::FORWARDED_HEADER,
    ] {
        if let Some(value) = headers.get(name) {
            request.headers_mut().insert(name, value.clone());
        }
    }
    let unreachable = |e: String| {
        ApiError::new(
            StatusCode::BAD_GATEWAY,
            format!("failed to reach agent at {base}: {e}"),
        )
    };
    // The client's own refusal (403, 404) is the answer; anything else is unreachable.
    let refused = |error: tungstenite::Error| match error {
        tungstenite::Error::Http(response) => {
            let status =
                StatusCode::from_u16(response.status().as_u16()).unwrap_or(StatusCode::BAD_GATEWAY);
            let body = response
                .body()
                .as_deref()
                .map(|b| String::from_utf8_lossy(b).trim().to_string())
                .unwrap_or_default();
            ApiError::new(status, body)
        }
        other => unreachable(other.to_string()),
    };
    let tcp = tokio::net::TcpStream::connect(host)
        .await
        .map_err(|e| unreachable(e.to_string()))?;
    if !secure {
        let (remote, _) = tokio_tungstenite::client_async(request, tcp)
            .await
            .map_err(refused)?;
        return Ok(upgrade.on_upgrade(move |socket| relay(socket, remote)));
    }
    let config = state
        .tls
        .clients_tls
        .clone()
        .ok_or_else(|| unreachable("this agent has no TLS identity".into()))?;
    let name = host.rsplit_once(':').map_or(host, |(name, _)| name);
    let name = tokio_rustls::rustls::pki_types::ServerName::try_from(
        name.trim_start_matches('[')
            .trim_end_matches(']')
            .to_string(),
    )
    .map_err(|e| unreachable(e.to_string()))?;
    let stream = tokio_rustls::TlsConnector::from(config)
        .connect(name, tcp)
        .await
        .map_err(|e| unreachable(e.to_string()))?;
    let (remote, _) = tokio_tungstenite::client_async(request, stream)
        .await
        .map_err(refused)?;
    Ok(upgrade.on_upgrade(move |socket| relay(socket, remote)))
}

#[derive(Debug, Default, Deserialize)]
struct Handshake {
    #[serde(default)]
    auth_token: String,
}

/// Whether `caller` holds `capability` in the allocation's namespace.
fn allowed(
    client: &caravan_client::Client,
    alloc_id: &str,
    caller: &Caller,
    capability: &str,
) -> bool {
    client.allocation(alloc_id).is_some_and(|alloc| {
        caller
            .acl
            .allow_namespace_operation(&alloc.namespace, capability)
    })
}

/// The caller of a handshake's token, when it may `alloc-exec` into the allocation.
async fn handshake_caller(
    state: &AgentState,
    client: &caravan_client::Client,
    alloc_id: &str,
    first: &str,
) -> Option<Caller> {
    let handshake: Handshake = serde_json::from_str(first).ok()?;
    let token = crate::context::AuthToken::new(&handshake.auth_token);
    let token = (!token.secret().is_empty()).then_some(token);
    let caller = state.resolve(token.as_ref()).await.ok()?;
    allowed(client, alloc_id, &caller, "alloc-exec").then_some(caller)
}

async fn close_with_error(socket: WebSocket, error: &ExecError) {
    let code = if error.status() >= 500 {
        CLOSE_INTERNAL_ERROR
    } else {
        CLOSE_POLICY_VIOLATION
    };
    close(socket, code, error.to_string()).await;
}

/// Applies one input frame: a terminal size, input for the command, its end.
fn take_input(
    frame: ExecInput,
    session: &ExecSession,
    input: &mpsc::UnboundedSender<Option<Vec<u8>>>,
) {
    if let Some(size) = frame.tty_size {
        session.resize(size.height, size.width);
    }
    if let Some(stdin) = frame.stdin {
        if let Some(data) = stdin.data.and_then(|d| BASE64.decode(d).ok()) {
            let _ = input.send(Some(data));
        }
        if stdin.close {
            let _ = input.send(None);
        }
    }
}

fn output_frame(stream: &str, data: &[u8]) -> String {
    json!({ stream: { "data": BASE64.encode(data) } }).to_string()
}

/// Copies the command's output to the socket and the socket's input to the command,
/// then reports its exit and closes. A client that goes away kills the command.
async fn pump(mut socket: WebSocket, mut session: ExecSession, first: Option<ExecInput>) {
    let (frames, mut outputs) = mpsc::channel::<String>(16);
    for (name, reader) in [
        ("stdout", session.stdout.take()),
        ("stderr", session.stderr.take()),
    ] {
        let Some(mut reader) = reader else { continue };
        let frames = frames.clone();
        tokio::spawn(async move {
            let mut buffer = vec![0u8; 32 * 1024];
            // A pseudo-terminal answers EIO once the command is gone: the end too.
            while let Ok(n) = reader.read(&mut buffer).await {
                if n == 0 || frames.send(output_frame(name, &buffer[..n])).await.is_err() {
                    break;
                }
            }
        });
    }
    drop(frames);
    let (input, mut inputs) = mpsc::unbounded_channel::<Option<Vec<u8>>>();
    if let Some(mut stdin) = session.stdin.take() {
        let tty = session.tty();
        tokio::spawn(async move {
            while let Some(Some(data)) = inputs.recv().await {
                if stdin.write_all(&data).await.is_err() || stdin.flush().await.is_err() {
                    return;
                }
            }
            if tty {
                // A terminal has no end of input of its own: ^D is how one types it.
                let _ = stdin.write_all(&[4]).await;
                let _ = stdin.flush().await;
            }
            let _ = stdin.shutdown().await;
        });
    }
    if let Some(frame) = first {
        // Its size is the terminal's already; its input, if any, goes in first.
        take_input(
            ExecInput {
                tty_size: None,
                ..frame
            },
            &session,
            &input,
        );
    }
    loop {
        tokio::select! {
            frame = outputs.recv() => match frame {
                Some(frame) => {
                    if socket.send(Message::Text(frame.into())).await.is_err() {
                        session.kill();
                        return;
                    }
                }
                None => break,
            },
            message = socket.recv() => match message {
                Some(Ok(Message::Text(text))) => {
                    if let Ok(frame) = serde_json::from_str::<ExecInput>(text.as_str()) {
                        take_input(frame, &session, &input);
                    }
                }
                Some(Ok(Message::Close(_))) | Some(Err(_)) | None => {
                    session.kill();
                    return;
                }
                Some(Ok(_)) => {}
            },
        }
    }
    let _ = input.send(None);
    let exit_code = session.wait().await;
    let exited = json!({ "exited": true, "result": { "exit_code": exit_code } });
    let _ = socket.send(Message::Text(exited.to_string().into())).await;
    close(socket, CLOSE_NORMAL, String::new()).await;
}

/// Sends a close frame and waits (a little) for the caller's answer or its hang-up: a
/// socket dropped with the caller's frames unread resets the connection, which can
/// discard the last frames before the caller reads them.
async fn close(mut socket: WebSocket, code: u16, reason: String) {
    let frame = CloseFrame {
        code,
        reason: reason.into(),
    };
    if socket.send(Message::Close(Some(frame))).await.is_err() {
        return;
    }
    let drain = async {
        while let Some(Ok(message)) = socket.recv().await {
            if matches!(message, Message::Close(_)) {
                break;
            }
        }
    };
    let _ = tokio::time::timeout(std::time::Duration::from_secs(5), drain).await;
}

/// Relays a websocket between the caller and the client that runs the command.
async fn relay<S>(socket: WebSocket, remote: tokio_tungstenite::WebSocketStream<S>)
where
    S: tokio::io::AsyncRead + tokio::io::AsyncWrite + Unpin,
{
    let (mut to_caller, mut from_caller) = socket.split();
    let (mut to_remote, mut from_remote) = remote.split();
    let upstream = async {
        while let Some(Ok(message)) = from_caller.next().await {
            let message = match message {
                Message::Text(text) => tungstenite::Message::text(text.as_str()),
                Message::Binary(data) => tungstenite::Message::binary(data),
                Message::Close(frame) => {
                    let frame = frame.map(|f| tungstenite::protocol::CloseFrame {
                        code: f.code.into(),
                        reason: f.reason.as_str().into(),
                    });
                    let _ = to_remote.send(tungstenite::Message::Close(frame)).await;
                    break;
                }
                _ => continue,
            };
            if to_remote.send(message).await.is_err() {
                break;
            }
        }
    };
    let downstream = async {
        while let Some(Ok(message)) = from_remote.next().await {
            let message = match message {
                tungstenite::Message::Text(text) => Message::Text(text.as_str().into()),
                tungstenite::Message::Binary(data) => Message::Binary(data),
                tungstenite::Message::Close(frame) => {
                    let frame = frame.map(|f| CloseFrame {
                        code: f.code.into(),
                        reason: f.reason.as_str().into(),
                    });
                    let _ = to_caller.send(Message::Close(frame)).await;
                    break;
                }
                _ => continue,
            };
            if to_caller.send(message).await.is_err() {
                break;
            }
        }
    };
    // Either side ending ends the exec (dropping the remote socket kills the command).
    tokio::select! {
        _ = upstream => {}
        _ = downstream => {}
    }
}

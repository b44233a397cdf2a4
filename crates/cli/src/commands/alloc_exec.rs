//! `caravan alloc exec` (Nomad's `command/alloc_exec.go`): run a command inside a running
//! task, over the `/v1/client/allocation/:id/exec` websocket.

use std::io::{IsTerminal, Read, Write};

use base64::Engine;
use base64::engine::general_purpose::STANDARD as BASE64;
use futures::{SinkExt, StreamExt};
use serde_json::{Value, json};
use tokio::sync::mpsc;
use tokio_tungstenite::tungstenite::{self, Message};

use crate::commands::lookup;
use crate::flags::FlagSet;
use crate::meta;

const HELP: &str = "Usage: caravan alloc exec [options] <allocation> <command>

  Run command inside the environment of the given allocation and task.

Exec Specific Options:

  -task <task-name>
    Sets the task to exec command in

  -job
    Use a random allocation from the specified job ID.

  -i
    Pass stdin to the container, defaults to true.  Pass -i=false to disable.

  -t
    Allocate a pseudo-tty, defaults to true if stdin is detected to be a tty session.
    Pass -t=false to disable explicitly.

  -e <escape_char>
    Sets the escape character for sessions with a pty (default: '~').  The escape
    character is only recognized at the beginning of a line.  The escape character
    followed by a dot ('.') closes the connection.  Setting the character to
    'none' disables any escapes and makes the session fully transparent.
";

/// Percent-encodes a query value.
fn encode(value: &str) -> String {
    value
        .bytes()
        .map(|b| match b {
            b'A'..=b'Z' | b'a'..=b'z' | b'0'..=b'9' | b'-' | b'_' | b'.' | b'~' => {
                (b as char).to_string()
            }
            _ => format!("%{b:02X}"),
        })
        .collect()
}

/// The websocket URL of an exec (`address`: `http://host:port` or `https://...`).
pub fn exec_url(
    address: &str,
    alloc_id: &str,
    task: &str,
    command: &[String],
    tty: bool,
) -> Result<String, String> {
    let (scheme, host) = if let Some(host) = address.strip_prefix("https://") {
        ("wss", host)
    } else if let Some(host) = address.strip_prefix("http://") {
        ("ws", host)
    } else {
        return Err(format!("unsupported address {address}"));
    };
    let command = serde_json::to_string(command).map_err(|e| e.to_string())?;
    Ok(format!(
        "{scheme}://{host}/v1/client/allocation/{alloc_id}/exec?task={}&command={}&tty={tty}&ws_handshake=false",
        encode(task),
        encode(&command)
    ))
}

/// Runs the command; returns the exit code.
pub fn run(args: &[String]) -> i32 {
    let set = FlagSet::new()
        .bools(&["i", "t", "job", "verbose"])
        .strings(&["task", "e"]);
    let parsed = match meta::parse(set, args, HELP) {
        Ok(p) => p,
        Err(code) => return code,
    };
    if parsed.args.len() < 2 {
        meta::err("This command takes at least two arguments: <allocation> <command>");
        meta::err(&meta::help_hint("alloc exec"));
        return 1;
    }
    let stdin_on = !parsed.is_set("i") || parsed.bool("i");
    let tty = if parsed.is_set("t") {
        parsed.bool("t")
    } else {
        stdin_on && std::io::stdin().is_terminal() && std::io::stdout().is_terminal()
    };
    let escape = match parsed.string("e").unwrap_or("~") {
        "none" => None,
        e if e.len() == 1 => e.bytes().next(),
        _ => {
            meta::err("-e requires 'none' or a single character");
            return 1;
        }
    };
    let (client, alloc) = match lookup::client_and_alloc(&parsed, "Error querying API") {
        Ok(found) => found,
        Err(code) => return code,
    };
    let task = match parsed.string("task") {
        Some(task) => task.to_string(),
        None => match alloc.task_states.keys().collect::<Vec<_>>().as_slice() {
            [only] => (*only).clone(),
            _ => {
                meta::err("Please specify the task.");
                return 1;
            }
        },
    };
    if !alloc.task_states.contains_key(&task) {
        meta::err(&format!("Could not find task named: {task}, found:"));
        for name in alloc.task_states.keys() {
            meta::err(&format!("* {name}"));
        }
        return 1;
    }
    let url = match exec_url(client.address(), &alloc.id, &task, &parsed.args[1..], tty) {
        Ok(url) => url,
        Err(message) => {
            meta::err(&message);
            return 1;
        }
    };
    let token = parsed
        .string("token")
        .map(str::to_string)
        .or_else(|| std::env::var("NOMAD_TOKEN").ok())
        .filter(|t| !t.is_empty());
    let tls = match crate::cli_tls::tls_settings(&parsed, &meta::env_var)
        .and_then(|settings| caravan_tls::outgoing::cli_client_config(&settings))
    {
        Ok(tls) => tls.map(std::sync::Arc::new),
        Err(message) => {
            meta::err(&format!("Error initializing client: {message}"));
            return 1;
        }
    };
    let raw = if tty { RawTerminal::enter() } else { None };
    let options = Session {
        stdin_on,
        tty,
        escape,
    };
    let result = client.run(|_| connect(url, token, tls, options));
    drop(raw);
    match result {
        Ok(code) => code,
        Err(message) => {
            meta::err(&format!("failed to exec into task: {message}"));
            1
        }
    }
}

/// Reads stdin on a thread of its own (a blocking read never ends by itself), handing
/// chunks over; `None` is the end of input, or the escape sequence (`true`).
fn read_stdin(input: mpsc::UnboundedSender<Result<Vec<u8>, bool>>, escape: Option<u8>) {
    std::thread::spawn(move || {
        let mut stdin = std::io::stdin();
        let mut buffer = [0u8; 8192];
        // Nomad's escapes: `<escape>.` at the beginning of a line.
        let mut line_start = true;
        let mut pending_escape = false;
        loop {
            let n = match stdin.read(&mut buffer) {
                Ok(0) | Err(_) => {
                    let _ = input.send(Err(false));
                    return;
                }
                Ok(n) => n,
            };
            let mut out = Vec::with_capacity(n);
            for &byte in &buffer[..n] {
                if pending_escape {
                    pending_escape = false;
                    if byte == b'.' {
                        let _ = input.send(Ok(out));
                        let _ = input.send(Err(true));
                        return;
                    }
                    out.extend_from_slice(&[escape.unwrap_or(byte), byte]);
                } else if line_start && Some(byte) == escape {
                    pending_escape = true;
                    continue;
                } else {
                    out.push(byte);
                }
                line_start = byte == b'\r' || byte == b'\n';
            }
            if input.send(Ok(out)).is_err() {
                return;
            }
        }
    });
}

fn frame(value: Value) -> Message {
    Message::text(value.to_string())
}

/// How a session treats the terminal.
#[derive(Debug, Clone, Copy)]
struct Session {
    stdin_on: bool,
    tty: bool,
    escape: Option<u8>,
}

/// Dials the exec websocket (over TLS for `wss://`) and runs the session.
async fn connect(
    url: String,
    token: Option<String>,
    tls: Option<std::sync::Arc<tokio_rustls::rustls::ClientConfig>>,
    options: Session,
) -> Result<i32, String> {
    let mut request = tungstenite::client::IntoClientRequest::into_client_request(url.as_str())
        .map_err(|e| e.to_string())?;
    if let Some(token) = token.and_then(|t| t.parse().ok()) {
        request.headers_mut().insert("X-Nomad-Token", token);
    }
    let uri = request.uri().clone();
    let host = uri.host().unwrap_or("127.0.0.1").to_string();
    let secure = uri.scheme_str() == Some("wss");
    let port = uri.port_u16().unwrap_or(if secure { 443 } else { 80 });
    let address = format!("{}:{port}", host);
    let tcp = tokio::net::TcpStream::connect(&address)
        .await
        .map_err(|e| format!("dial {address}: {e}"))?;
    let handshake_error = |error: tungstenite::Error| match error {
        tungstenite::Error::Http(response) => {
            let body = response
                .body()
                .as_deref()
                .map(|b| String::from_utf8_lossy(b).trim().to_string())
                .unwrap_or_default();
            format!(
                "Unexpected response code: {} ({body})",
                response.status().as_u16()
            )
        }
        other => other.to_string(),
    };
    if !secure {
        let (socket, _) = tokio_tungstenite::client_async(request, tcp)
            .await
            .map_err(handshake_error)?;
        return session(socket, options).await;
    }
    let tls = tls.ok_or(
        "an https address needs the CA to verify the agent: set -ca-cert (or NOMAD_CACERT), or -tls-skip-verify",
    )?;
    let name = tokio_rustls::rustls::pki_types::ServerName::try_from(
        host.trim_start_matches('[')
            .trim_end_matches(']')
            .to_string(),
    )
    .map_err(|e| format!("\"{host}\" is not a valid server name: {e}"))?;
    let stream = tokio_rustls::TlsConnector::from(tls)
        .connect(name, tcp)
        .await
        .map_err(|e| format!("TLS handshake with {address}: {e}"))?;
    let (socket, _) = tokio_tungstenite::client_async(request, stream)
        .await
        .map_err(handshake_error)?;
    session(socket, options).await
}

async fn session<S>(
    socket: tokio_tungstenite::WebSocketStream<S>,
    options: Session,
) -> Result<i32, String>
where
    S: tokio::io::AsyncRead + tokio::io::AsyncWrite + Unpin,
{
    let Session {
        stdin_on,
        tty,
        escape,
    } = options;
    let (mut sink, mut stream) = socket.split();
    if tty && let Some((height, width)) = terminal_size() {
        let size = json!({"tty_size": {"height": height, "width": width}});
        sink.send(frame(size)).await.map_err(|e| e.to_string())?;
    }
    let (input, mut inputs) = mpsc::unbounded_channel();
    if stdin_on {
        read_stdin(input, if tty { escape } else { None });
    } else {
        let _ = input.send(Err(false));
    }
    let mut stdout = std::io::stdout();
    let mut stderr = std::io::stderr();
    let mut input_open = true;
    // A resized terminal resizes the command's.
    let mut resized = if tty {
        tokio::signal::unix::signal(tokio::signal::unix::SignalKind::window_change()).ok()
    } else {
        None
    };
    loop {
        tokio::select! {
            Some(()) = async {
                match resized.as_mut() {
                    Some(signal) => signal.recv().await,
                    None => std::future::pending().await,
                }
            } => {
                if let Some((height, width)) = terminal_size() {
                    let size = json!({"tty_size": {"height": height, "width": width}});
                    sink.send(frame(size)).await.map_err(|e| e.to_string())?;
                }
            },
            chunk = inputs.recv(), if input_open => match chunk {
                Some(Ok(data)) => {
                    let data = json!({"stdin": {"data": BASE64.encode(data)}});
                    sink.send(frame(data)).await.map_err(|e| e.to_string())?;
                }
                Some(Err(true)) => {
                    let _ = sink.send(Message::Close(None)).await;
                    return Ok(0);
                }
                Some(Err(false)) | None => {
                    input_open = false;
                    let close = json!({"stdin": {"close": true}});
                    sink.send(frame(close)).await.map_err(|e| e.to_string())?;
                }
            },
            message = stream.next() => match message {
                Some(Ok(Message::Text(text))) => {
                    let Ok(value) = serde_json::from_str::<Value>(text.as_str()) else {
                        continue;
                    };
                    for (name, out) in [
                        ("stdout", &mut stdout as &mut dyn Write),
                        ("stderr", &mut stderr as &mut dyn Write),
                    ] {
                        if let Some(data) = value[name]["data"].as_str()
                            && let Ok(bytes) = BASE64.decode(data)
                        {
                            let _ = out.write_all(&bytes);
                            let _ = out.flush();
                        }
                    }
                    if value["exited"].as_bool() == Some(true) {
                        let code = value["result"]["exit_code"].as_i64().unwrap_or(0);
                        let _ = sink.send(Message::Close(None)).await;
                        return Ok(code as i32);
                    }
                }
                Some(Ok(Message::Close(frame))) => {
                    return match frame {
                        Some(frame) if u16::from(frame.code) != 1000 => {
                            Err(frame.reason.to_string())
                        }
                        _ => Err("connection closed before the command exited".into()),
                    };
                }
                Some(Ok(_)) => {}
                Some(Err(error)) => return Err(error.to_string()),
                None => return Err("connection closed before the command exited".into()),
            },
        }
    }
}

/// The terminal's rows and columns.
fn terminal_size() -> Option<(u16, u16)> {
    // SAFETY: winsize is plain integers, for which all zeroes is a valid value.
    let mut size: libc::winsize = unsafe { std::mem::zeroed() };
    // SAFETY: TIOCGWINSZ writes a winsize we own.
    let ok = unsafe { libc::ioctl(1, libc::TIOCGWINSZ, &mut size) } == 0;
    (ok && size.ws_row > 0).then_some((size.ws_row, size.ws_col))
}

/// The terminal in raw mode for a TTY session, restored when dropped.
struct RawTerminal {
    saved: libc::termios,
}

impl RawTerminal {
    fn enter() -> Option<RawTerminal> {
        // SAFETY: tcgetattr/tcsetattr on stdin with termios values we own.
        unsafe {
            let mut saved: libc::termios = std::mem::zeroed();
            if libc::tcgetattr(0, &mut saved) != 0 {
                return None;
            }
            let mut raw = saved;
            libc::cfmakeraw(&mut raw);
            (libc::tcsetattr(0, libc::TCSANOW, &raw) == 0).then_some(RawTerminal { saved })
        }
    }
}

impl Drop for RawTerminal {
    fn drop(&mut self) {
        // SAFETY: restoring the settings read in `enter`.
        unsafe { libc::tcsetattr(0, libc::TCSANOW, &self.saved) };
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_url_carries_the_command_as_json() {
        let url = exec_url(
            "http://127.0.0.1:4646",
            "a1",
            "web",
            &["echo".into(), "a b".into()],
            false,
        )
        .unwrap();
        assert_eq!(
            url,
            "ws://127.0.0.1:4646/v1/client/allocation/a1/exec?task=web\
             &command=%5B%22echo%22%2C%22a%20b%22%5D&tty=false&ws_handshake=false"
        );
        assert!(
            exec_url("https://h:1", "a", "t", &[], false)
                .unwrap()
                .starts_with("wss://h:1/")
        );
    }
}

//! A reader of `/v1/event/stream` for tests: one line of newline-delimited JSON at a
//! time, over a plain HTTP/1.0 connection (so the body is the lines, not chunks).

use std::io::{BufRead, BufReader, Write};
use std::net::TcpStream;
use std::time::{Duration, Instant};

/// An open event stream.
pub struct EventStream {
    reader: BufReader<TcpStream>,
    /// The answer's status code.
    pub status: u16,
}

impl EventStream {
    /// Opens `GET <path_and_query>` on `127.0.0.1:port`, with `token` as
    /// `X-Nomad-Token` when given, and reads the status line and headers.
    pub fn open(port: u16, path_and_query: &str, token: Option<&str>) -> EventStream {
        let mut stream = TcpStream::connect(("127.0.0.1", port)).expect("connect to the agent");
        stream
            // Past the server's 30 s heartbeat: an open stream always says something.
            .set_read_timeout(Some(Duration::from_secs(60)))
            .expect("read timeout");
        let token = token.map_or(String::new(), |t| format!("X-Nomad-Token: {t}\r\n"));
        write!(
            stream,
            "GET {path_and_query} HTTP/1.0\r\nHost: 127.0.0.1\r\n{token}\r\n"
        )
        .expect("send the request");
        let mut reader = BufReader::new(stream);
        let mut status_line = String::new();
        reader.read_line(&mut status_line).expect("status line");
        let status = status_line
            .split_whitespace()
            .nth(1)
            .and_then(|s| s.parse().ok())
            .unwrap_or(0);
        loop {
            let mut header = String::new();
            let read = reader.read_line(&mut header).expect("header line");
            if read == 0 || header == "\r\n" || header == "\n" {
                break;
            }
        }
        EventStream { reader, status }
    }

    /// The next line of the body (the whole body of an error answer), or `None` once
    /// the server ended it. A stream silent past its heartbeat fails the test.
    pub fn next_line(&mut self) -> Option<String> {
        let mut line = String::new();
        match self.reader.read_line(&mut line) {
            Ok(0) => None,
            Ok(_) => Some(line.trim_end().to_string()),
            Err(e) => panic!("reading the event stream: {e}"),
        }
    }

    /// The next line parsed as JSON.
    pub fn next_json(&mut self) -> Option<serde_json::Value> {
        let line = self.next_line()?;
        Some(serde_json::from_str(&line).unwrap_or_else(|e| panic!("{e}: {line:?}")))
    }

    /// Reads lines until one holds an event `accept` takes (heartbeats and other events
    /// are skipped), for at most `timeout`; that event with its line's index.
    pub fn find_event(
        &mut self,
        timeout: Duration,
        mut accept: impl FnMut(&serde_json::Value) -> bool,
    ) -> Option<serde_json::Value> {
        let deadline = Instant::now() + timeout;
        while Instant::now() < deadline {
            let line = self.next_json()?;
            if let Some(event) = line["Events"]
                .as_array()
                .into_iter()
                .flatten()
                .find(|e| accept(e))
            {
                return Some(event.clone());
            }
        }
        None
    }
}

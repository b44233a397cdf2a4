//! A request sent as its caller built it (`caravan operator api`): any method, a URL
//! with its own query, the caller's headers, and the answer handed back whatever its
//! status, its body a stream (so an event stream can be followed).

use crate::{Body, Client, Error, error};

/// What the agent answered to [`Client::send_exact`].
#[derive(Debug)]
pub struct ExactResponse {
    pub status: u16,
    /// `HTTP/1.1 200 OK`, as curl's verbose output shows it.
    pub status_line: String,
    pub headers: Vec<(String, String)>,
    pub body: Body,
}

impl Client {
    /// Sends `method` to `url` (an absolute URL on this client's agent) with `headers`
    /// (the client's token is added only when they carry no `X-Nomad-Token`) and
    /// `body`.
    pub async fn send_exact(
        &self,
        method: &str,
        url: &str,
        headers: &[(String, String)],
        body: Option<Vec<u8>>,
    ) -> Result<ExactResponse, Error> {
        let transport = |reason: String| Error::Transport {
            method: go_method_name(method),
            url: url.to_string(),
            reason,
        };
        let http_method = reqwest::Method::from_bytes(method.as_bytes())
            .map_err(|_| transport(format!("net/http: invalid method {method:?}")))?;
        let mut request = self.http.request(http_method, url);
        let names_token = headers
            .iter()
            .any(|(name, _)| name.eq_ignore_ascii_case("X-Nomad-Token"));
        if let Some(token) = self.config.token.as_ref().filter(|_| !names_token) {
            request = request.header("X-Nomad-Token", token);
        }
        for (name, value) in headers {
            request = request.header(name.as_str(), value.as_str());
        }
        if let Some(body) = body {
            request = request.body(body);
        }
        let response = request
            .send()
            .await
            .map_err(|e| transport(error::transport_reason(&self.host_port, &e)))?;
        let status = response.status();
        let status_line = format!(
            "{:?} {} {}",
            response.version(),
            status.as_u16(),
            status.canonical_reason().unwrap_or_default()
        );
        let headers = response
            .headers()
            .iter()
            .map(|(name, value)| {
                (
                    name.as_str().to_string(),
                    String::from_utf8_lossy(value.as_bytes()).into_owned(),
                )
            })
            .collect();
        Ok(ExactResponse {
            status: status.as_u16(),
            status_line,
            headers,
            body: Body::new(response),
        })
    }
}

/// Go's `url.Error` names the method in title case (`Get`, `Post`).
fn go_method_name(method: &str) -> &'static str {
    match method.to_ascii_uppercase().as_str() {
        "GET" => "Get",
        "PUT" => "Put",
        "POST" => "Post",
        "DELETE" => "Delete",
        "HEAD" => "Head",
        "PATCH" => "Patch",
        "OPTIONS" => "Options",
        _ => "Do",
    }
}

//! `caravan operator api` (Nomad's `command/operator_api.go`): any HTTP API call, curl
//! style, with the CLI's address, TLS settings, namespace, region and token filled in.
//! The answer's body is copied to stdout as it arrives, so `/v1/event/stream` can be
//! followed; `-dryrun` prints the equivalent curl command instead.

use std::io::{Read, Write};

use crate::cli_tls::tls_settings;
use crate::flags::{FlagKind, FlagSet, Parsed};
use crate::meta::{self, env_var};

const HELP: &str = "Usage: caravan operator api [options] <path>

  api is a utility command for accessing Caravan's HTTP API and is inspired by
  the popular curl command line tool. Caravan's operator api command populates
  Nomad's standard environment variables into their appropriate HTTP headers.
  If the 'path' does not begin with \"http\" then $NOMAD_ADDR will be used.

  The 'path' can be in one of the following forms:

    /v1/allocations                       <- API Paths must start with a /
    localhost:4646/v1/allocations         <- Scheme will be inferred
    https://localhost:4646/v1/allocations <- Scheme will be https://

  Note that this command does not always match the popular curl program's
  behavior. Instead Caravan's operator api command is optimized for common
  Nomad HTTP API operations.

Operator API Specific Options:

  -d <data>
    Sends <data> as the request body (@<file> sends the file's contents),
    instead of what is piped to stdin.

  -dryrun
    Output equivalent curl command to stdout and exit.
    ACL tokens set via the $NOMAD_TOKEN environment variable will only be
    referenced by environment variable. However if the -token flag is
    explicitly used, the token will also be included in the output.

  -filter <query>
    Specifies an expression used to filter query results.

  -H <Header>
    Adds an additional HTTP header to the request. May be specified more than
    once. These headers take precedence over automatically set ones such as
    X-Nomad-Token.

  -verbose
    Output extra information to stderr similar to curl's --verbose flag.

  -X <HTTP Method>
    HTTP method of request. If there is data piped to stdin, then the method
    defaults to POST. Otherwise the method defaults to GET.";

/// `caravan operator api <path>`.
pub fn run(args: &[String]) -> i32 {
    let flags = FlagSet::new()
        .bools(&["dryrun", "verbose"])
        .strings(&["filter", "X", "d"])
        .flag("H", FlagKind::List);
    let parsed = match meta::parse(flags, args, HELP) {
        Ok(p) => p,
        Err(code) => return code,
    };
    match parsed.args.as_slice() {
        [] => {
            meta::err("A path or URL is required");
            meta::err(&meta::help_hint("operator api"));
            1
        }
        [path] => match call(&parsed, path) {
            Ok(()) => 0,
            Err(message) => {
                // Empty: the client's own error is already printed.
                if !message.is_empty() {
                    meta::err(&message);
                }
                1
            }
        },
        more => {
            meta::err(&format!(
                "operator api accepts exactly 1 argument, but {} arguments were found",
                more.len()
            ));
            meta::err(&meta::help_hint("operator api"));
            1
        }
    }
}

fn call(parsed: &Parsed, path: &str) -> Result<(), String> {
    let verbose = parsed.bool("verbose");
    let headers = parsed
        .list("H")
        .iter()
        .map(|h| header(h))
        .collect::<Result<Vec<_>, _>>()?;
    let body = request_body(parsed.string("d"))?;
    let method = match parsed.string("X").filter(|m| !m.is_empty()) {
        Some(method) => method.to_ascii_uppercase(),
        None if body.is_some() => "POST".to_string(),
        None => "GET".to_string(),
    };
    if verbose && body.is_some() {
        meta::err("* Reading request body from stdin.");
    }
    let client = meta::client(parsed).map_err(|_| String::new())?;
    let tls =
        tls_settings(parsed, &env_var).map_err(|e| format!("Error initializing client: {e}"))?;
    let mut url = ApiUrl::of(path, client.address(), tls.is_set())
        .map_err(|e| format!("Error turning path into URL: {e}"))?;
    if let Some(filter) = parsed.string("filter").filter(|f| !f.is_empty()) {
        url.set("filter", filter);
    }
    let region = parsed
        .string("region")
        .map(str::to_string)
        .or_else(|| env_var("NOMAD_REGION"));
    let namespace = parsed
        .string("namespace")
        .map(str::to_string)
        .or_else(|| env_var("NOMAD_NAMESPACE"));
    url.set_unless_present("region", region.as_deref());
    url.set_unless_present("namespace", namespace.as_deref());
    if parsed.bool("dryrun") {
        let curl = Curl {
            verbose,
            method: &method,
            body: body.as_ref(),
            tls: &tls,
            headers: &headers,
            token_flag: parsed.string("token"),
        };
        meta::out(&curl.command(&url));
        return Ok(());
    }
    let target = url.to_string();
    if verbose {
        meta::err(&format!("> {method} {target}"));
        for (name, value) in &headers {
            meta::err(&format!("> {name}: {value}"));
        }
        meta::err("* Sending request and receiving response...");
    }
    let body_bytes = body.map(RequestBody::into_bytes);
    let response = client
        .run(|api| api.send_exact(&method, &target, &headers, body_bytes))
        .map_err(|e| format!("Error performing request: {e}"))?;
    if verbose {
        meta::err(&format!("< {}", response.status_line));
        for (name, value) in &response.headers {
            meta::err(&format!("< {name}: {value}"));
        }
    }
    let mut reader = client
        .stream(|_| async move { Ok(response.body) })
        .map_err(|e| format!("Error reading response: {e}"))?;
    copy_to_stdout(&mut reader)
}

/// Copies the answer as it comes, flushing each piece: a followed stream shows each
/// line when it arrives.
fn copy_to_stdout(reader: &mut dyn Read) -> Result<(), String> {
    let mut stdout = std::io::stdout().lock();
    let mut buffer = [0u8; 16 * 1024];
    let mut copied = 0usize;
    loop {
        let n = match reader.read(&mut buffer) {
            Ok(0) => return Ok(()),
            Ok(n) => n,
            Err(e) => {
                return Err(format!("Error reading response after {copied} bytes: {e}"));
            }
        };
        copied += n;
        // A closed stdout (`| head`) ends the command quietly, as it would curl.
        if stdout
            .write_all(&buffer[..n])
            .and_then(|()| stdout.flush())
            .is_err()
        {
            return Ok(());
        }
    }
}

/// `-H 'Key: Value'`, the key in Go's canonical form (`x-nomad-token` is
/// `X-Nomad-Token`).
fn header(text: &str) -> Result<(String, String), String> {
    let (key, value) = text.split_once(':').ok_or_else(|| {
        format!("Error parsing flags: Headers must be in the form 'Key: Value' but found: {text:?}")
    })?;
    Ok((canonical_header_key(key), value.trim().to_string()))
}

fn canonical_header_key(key: &str) -> String {
    key.split('-')
        .map(|word| {
            let mut chars = word.chars();
            match chars.next() {
                Some(first) => {
                    first.to_ascii_uppercase().to_string() + &chars.as_str().to_ascii_lowercase()
                }
                None => String::new(),
            }
        })
        .collect::<Vec<_>>()
        .join("-")
}

/// Where the request's body comes from.
enum RequestBody {
    /// Piped to stdin (Nomad's way).
    Stdin(Vec<u8>),
    /// `-d`.
    Flag(Vec<u8>, String),
}

impl RequestBody {
    fn into_bytes(self) -> Vec<u8> {
        match self {
            RequestBody::Stdin(bytes) | RequestBody::Flag(bytes, _) => bytes,
        }
    }
}

/// `-d <data>` or `-d @file`; else stdin when it is not a terminal or `/dev/null`
/// (Nomad: whatever is piped in is the body).
fn request_body(flag: Option<&str>) -> Result<Option<RequestBody>, String> {
    if let Some(data) = flag {
        let bytes = match data.strip_prefix('@') {
            Some(file) => {
                std::fs::read(file).map_err(|e| format!("Error reading -d file {file:?}: {e}"))?
            }
            None => data.as_bytes().to_vec(),
        };
        return Ok(Some(RequestBody::Flag(bytes, data.to_string())));
    }
    if stdin_is_character_device() {
        return Ok(None);
    }
    let mut bytes = Vec::new();
    std::io::stdin()
        .read_to_end(&mut bytes)
        .map_err(|e| format!("Error reading stdin: {e}"))?;
    Ok(Some(RequestBody::Stdin(bytes)))
}

fn stdin_is_character_device() -> bool {
    // SAFETY: fstat on descriptor 0 writes only into the zeroed struct it is given.
    unsafe {
        let mut stat: libc::stat = std::mem::zeroed();
        if libc::fstat(0, &mut stat) != 0 {
            return true;
        }
        (stat.st_mode & libc::S_IFMT) == libc::S_IFCHR
    }
}

/// The URL of the call: `scheme://host` and path, and its query, re-encoded in key
/// order as Go's `url.Values` does.
struct ApiUrl {
    scheme: String,
    host: String,
    path: String,
    query: Vec<(String, String)>,
}

impl ApiUrl {
    /// Nomad's `pathToURL`: a path without a scheme takes https when TLS settings are
    /// given, else the address's scheme; without a host, the address's host.
    fn of(path: &str, address: &str, tls: bool) -> Result<ApiUrl, String> {
        let (address_scheme, address_host) = split_scheme(address)
            .ok_or_else(|| format!("unable to parse configured address: {address:?}"))?;
        let full = if path.starts_with("http://") || path.starts_with("https://") {
            path.to_string()
        } else {
            let scheme = if tls { "https" } else { address_scheme };
            format!("{scheme}://{path}")
        };
        let (scheme, rest) = split_scheme(&full).ok_or_else(|| format!("invalid URL {path:?}"))?;
        let host_end = rest.find(['/', '?']).unwrap_or(rest.len());
        let (host, rest) = rest.split_at(host_end);
        let host = if host.is_empty() {
            address_host.split('/').next().unwrap_or_default()
        } else {
            host
        };
        let (path, query) = rest.split_once('?').unwrap_or((rest, ""));
        Ok(ApiUrl {
            scheme: scheme.to_string(),
            host: host.to_string(),
            path: path.to_string(),
            query: parse_query(query),
        })
    }

    fn set(&mut self, key: &str, value: &str) {
        self.query.retain(|(k, _)| k != key);
        self.query.push((key.to_string(), value.to_string()));
    }

    fn set_unless_present(&mut self, key: &str, value: Option<&str>) {
        let present = self.query.iter().any(|(k, v)| k == key && !v.is_empty());
        if let Some(value) = value.filter(|v| !v.is_empty() && !present) {
            self.set(key, value);
        }
    }

    fn host_and_port(&self) -> (&str, &str) {
        self.host.rsplit_once(':').unwrap_or((&self.host, ""))
    }
}

impl std::fmt::Display for ApiUrl {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "{}://{}{}", self.scheme, self.host, self.path)?;
        let mut pairs: Vec<&(String, String)> = self.query.iter().collect();
        // Go's url.Values.Encode: by key, each key's values in order.
        pairs.sort_by(|a, b| a.0.cmp(&b.0));
        for (i, (key, value)) in pairs.iter().enumerate() {
            // Go's QueryEscape writes a space as `+`; a literal `%20` would be `%2520`.
            let escape =
                |text: &str| caravan_api_client::escape::query_escape(text).replace("%20", "+");
            write!(
                f,
                "{}{}={}",
                if i == 0 { '?' } else { '&' },
                escape(key),
                escape(value)
            )?;
        }
        Ok(())
    }
}

fn split_scheme(url: &str) -> Option<(&str, &str)> {
    let (scheme, rest) = url.split_once("://")?;
    matches!(scheme, "http" | "https").then_some((scheme, rest))
}

fn parse_query(query: &str) -> Vec<(String, String)> {
    query
        .split('&')
        .filter(|pair| !pair.is_empty())
        .map(|pair| {
            let (key, value) = pair.split_once('=').unwrap_or((pair, ""));
            (query_unescape(key), query_unescape(value))
        })
        .collect()
}

/// Go's `url.QueryUnescape`, lenient: a bad escape is kept as it is.
fn query_unescape(text: &str) -> String {
    let bytes = text.as_bytes();
    let hex = |b: u8| (b as char).to_digit(16).map(|d| d as u8);
    let mut out = Vec::with_capacity(bytes.len());
    let mut i = 0;
    while i < bytes.len() {
        match bytes[i] {
            b'+' => out.push(b' '),
            b'%' if i + 2 < bytes.len() => match (hex(bytes[i + 1]), hex(bytes[i + 2])) {
                (Some(high), Some(low)) => {
                    out.push(high * 16 + low);
                    i += 2;
                }
                _ => out.push(b'%'),
            },
            other => out.push(other),
        }
        i += 1;
    }
    String::from_utf8_lossy(&out).into_owned()
}

/// The curl command `-dryrun` prints (Nomad's `apiToCurl`).
struct Curl<'a> {
    verbose: bool,
    method: &'a str,
    body: Option<&'a RequestBody>,
    tls: &'a caravan_tls::outgoing::CliTls,
    headers: &'a [(String, String)],
    token_flag: Option<&'a str>,
}

impl Curl<'_> {
    fn command(&self, url: &ApiUrl) -> String {
        let mut parts = vec!["curl".to_string()];
        if self.verbose {
            parts.push("--verbose".into());
        }
        parts.push(format!("-X {}", self.method));
        match self.body {
            Some(RequestBody::Stdin(_)) => parts.push("--data-binary @-".into()),
            Some(RequestBody::Flag(_, data)) => {
                parts.push(format!("--data-binary '{}'", data.replace('\'', r"'\''")))
            }
            None => {}
        }
        let mut shown = url.to_string();
        if let Some(ca) = &self.tls.ca_cert {
            parts.push(format!("--cacert \"{}\"", ca.display()));
        }
        if let Some(cert) = &self.tls.client_cert {
            parts.push(format!("--cert \"{}\"", cert.display()));
        }
        if let Some(key) = &self.tls.client_key {
            parts.push(format!("--key \"{}\"", key.display()));
        }
        if let Some(name) = &self.tls.server_name {
            // curl takes the server name from the URL: connect to the real host instead.
            let (host, port) = url.host_and_port();
            parts.push(format!("--connect-to \"{name}:{port}:{host}:{port}\""));
            shown = ApiUrl {
                host: format!("{name}:{port}"),
                scheme: url.scheme.clone(),
                path: url.path.clone(),
                query: url.query.clone(),
            }
            .to_string();
        }
        if self.tls.skip_verify {
            parts.push("--insecure".into());
        }
        for (name, value) in self.headers {
            parts.push(format!("-H '{name}: {value}'"));
        }
        if !self.headers.iter().any(|(name, _)| name == "X-Nomad-Token") {
            if let Some(token) = self.token_flag.filter(|t| !t.is_empty()) {
                parts.push(format!("-H 'X-Nomad-Token: {token}'"));
            } else if env_var("NOMAD_TOKEN").is_some() {
                parts.push("-H \"X-Nomad-Token: ${NOMAD_TOKEN}\"".into());
            }
        }
        if env_var("NOMAD_HTTP_AUTH").is_some() {
            parts.push("-u \"$NOMAD_HTTP_AUTH\"".into());
        }
        parts.push(shown);
        parts.join(" \\\n  ")
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn paths_become_urls_as_nomad_makes_them() {
        let rows = [
            (
                "/v1/jobs",
                "http://127.0.0.1:4646",
                false,
                "http://127.0.0.1:4646/v1/jobs",
            ),
            (
                "localhost:9/v1/jobs",
                "http://127.0.0.1:4646",
                false,
                "http://localhost:9/v1/jobs",
            ),
            (
                "/v1/jobs",
                "http://127.0.0.1:4646",
                true,
                "https://127.0.0.1:4646/v1/jobs",
            ),
            (
                "https://h:1/v1/x",
                "http://127.0.0.1:4646",
                false,
                "https://h:1/v1/x",
            ),
            (
                "/v1/event/stream?topic=Job&topic=Node:*",
                "http://a:1",
                false,
                "http://a:1/v1/event/stream?topic=Job&topic=Node%3A%2A",
            ),
        ];
        for (path, address, tls, expected) in rows {
            let url = ApiUrl::of(path, address, tls).unwrap();
            assert_eq!(url.to_string(), expected, "{path}");
        }
    }

    #[test]
    fn the_query_is_sorted_and_keeps_what_the_path_set() {
        let mut url = ApiUrl::of("/v1/jobs?namespace=prod&a=b+c", "http://h:1", false).unwrap();
        url.set("filter", "Status == \"running\"");
        url.set_unless_present("namespace", Some("default"));
        url.set_unless_present("region", Some("eu"));
        assert_eq!(
            url.to_string(),
            "http://h:1/v1/jobs?a=b+c&filter=Status+%3D%3D+%22running%22&namespace=prod&region=eu"
        );
    }

    #[test]
    fn headers_are_canonical_and_need_a_colon() {
        assert_eq!(
            header("x-nomad-token: abc").unwrap(),
            ("X-Nomad-Token".into(), "abc".into())
        );
        assert!(header("nocolon").unwrap_err().contains("'Key: Value'"));
    }
}

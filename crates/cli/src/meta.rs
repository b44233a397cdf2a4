//! What every command shares: the client flags (`-address`, `-region`, `-namespace`,
//! `-token`, `-no-color`), the address lookup, flag-error handling and output styling.

use std::io::IsTerminal;

use crate::api_client::{ApiClient, ClientConfig, DEFAULT_ADDRESS};
use crate::flags::{FlagError, FlagSet, Parsed};

/// The help text shown for the client flags in every command's usage.
pub const CLIENT_FLAGS_HELP: &str = "General Options:

  -address=<addr>
    The address of the Caravan (Nomad API) server.
    Overrides the CARAVAN_ADDR and NOMAD_ADDR environment variables if set.
    Default = http://127.0.0.1:4646

  -region=<region>
    The region of the servers to forward commands to.
    Overrides the NOMAD_REGION environment variable if set.

  -namespace=<namespace>
    The target namespace for queries and actions bound to a namespace.
    Overrides the NOMAD_NAMESPACE environment variable if set.

  -no-color
    Disables colored command output.

  -token=<token>
    The SecretID of an ACL token to use to authenticate API requests with.
    Overrides the NOMAD_TOKEN environment variable if set.";

/// Adds the client flags every command accepts, the TLS ones included
/// ([`crate::cli_tls`]).
pub fn with_client_flags(set: FlagSet) -> FlagSet {
    set.strings(&[
        "address",
        "region",
        "namespace",
        "token",
        "ca-cert",
        "ca-path",
        "client-cert",
        "client-key",
        "tls-server-name",
    ])
    .bools(&["no-color", "tls-skip-verify"])
}

/// The agent address: `-address`, else `CARAVAN_ADDR`, else `NOMAD_ADDR`, else the default.
pub fn resolve_address(flag: Option<&str>, env: &dyn Fn(&str) -> Option<String>) -> String {
    if let Some(address) = flag.filter(|a| !a.is_empty()) {
        return address.to_string();
    }
    for var in ["CARAVAN_ADDR", "NOMAD_ADDR"] {
        if let Some(address) = env(var).filter(|a| !a.is_empty()) {
            return address;
        }
    }
    DEFAULT_ADDRESS.to_string()
}

pub(crate) fn env_var(name: &str) -> Option<String> {
    std::env::var(name).ok().filter(|v| !v.is_empty())
}

/// How output is styled and where it goes.
#[derive(Debug, Clone, Copy)]
pub struct Ui {
    /// Whether section titles are bold (stdout is a terminal and color is not off).
    pub color: bool,
}

impl Ui {
    /// The UI for a command run with `parsed` flags.
    pub fn from_flags(parsed: &Parsed) -> Ui {
        let no_color = parsed.bool("no-color")
            || env_var("NOMAD_CLI_NO_COLOR").is_some()
            || env_var("NO_COLOR").is_some();
        Ui {
            color: !no_color && std::io::stdout().is_terminal(),
        }
    }

    /// A UI without styling (tests, pipes).
    pub fn plain() -> Ui {
        Ui { color: false }
    }

    /// A section title as Nomad prints it: a blank line, then the title (bold on a TTY).
    pub fn section(&self, title: &str) -> String {
        if self.color {
            format!("\n\x1b[1m{title}\x1b[0m")
        } else {
            format!("\n{title}")
        }
    }

    /// Text in bold on a TTY (task headers in `alloc status`).
    pub fn bold(&self, text: &str) -> String {
        if self.color {
            format!("\x1b[1m{text}\x1b[0m")
        } else {
            text.to_string()
        }
    }
}

/// Set while a command's help is printed as part of an error (flags before the
/// command): Nomad's CLI writes that help to stderr with the error.
static OUT_TO_STDERR: std::sync::atomic::AtomicBool = std::sync::atomic::AtomicBool::new(false);

/// Sends what [`out`] prints to stderr from now on.
pub fn send_output_to_stderr() {
    OUT_TO_STDERR.store(true, std::sync::atomic::Ordering::Relaxed);
}

/// Prints `text` and a newline on stdout. A closed pipe (`caravan ... | head`) ends
/// the process quietly, as Go's SIGPIPE does for Nomad, instead of panicking.
pub fn out(text: &str) {
    use std::io::Write;
    if OUT_TO_STDERR.load(std::sync::atomic::Ordering::Relaxed) {
        err(text);
        return;
    }
    if let Err(e) = writeln!(std::io::stdout(), "{text}")
        && e.kind() == std::io::ErrorKind::BrokenPipe
    {
        std::process::exit(141);
    }
}

/// Prints `text` and a newline on stderr.
pub fn err(text: &str) {
    use std::io::Write;
    let _ = writeln!(std::io::stderr(), "{text}");
}

/// Parses a command's flags (client flags included). On failure prints Go's message
/// and the usage on stderr and returns the exit code to use: 0 for `-help`, else 1.
pub fn parse(set: FlagSet, args: &[String], help: &str) -> Result<Parsed, i32> {
    match with_client_flags(set).parse(args) {
        Ok(parsed) => Ok(parsed),
        Err(FlagError::Help) => {
            out(&full_help(help));
            Err(0)
        }
        Err(e) => {
            err(&e.to_string());
            err(&full_help(help));
            Err(1)
        }
    }
}

/// A command's help with the general (client) options appended.
fn full_help(help: &str) -> String {
    format!(
        "{}\n\n{CLIENT_FLAGS_HELP}\n{}",
        help.trim_end(),
        crate::cli_tls::TLS_FLAGS_HELP
    )
}

/// The API client for a command's flags and the environment.
pub fn client(parsed: &Parsed) -> Result<ApiClient, i32> {
    let config = ClientConfig {
        address: resolve_address(parsed.string("address"), &env_var),
        region: parsed
            .string("region")
            .map(str::to_string)
            .or_else(|| env_var("NOMAD_REGION")),
        namespace: parsed
            .string("namespace")
            .map(str::to_string)
            .or_else(|| env_var("NOMAD_NAMESPACE")),
        token: parsed
            .string("token")
            .map(str::to_string)
            .or_else(|| env_var("NOMAD_TOKEN")),
    };
    let tls = crate::cli_tls::tls_settings(parsed, &env_var).map_err(|e| {
        err(&format!("Error initializing client: {e}"));
        1
    })?;
    ApiClient::with_tls(config, &tls).map_err(|e| {
        err(&format!("Error initializing client: {e}"));
        1
    })
}

/// How a command ends: what succeeded shown by `show` (exit 0), a failure printed as
/// `<what>: <error>` on stderr (exit 1).
pub fn finish<T, E: std::fmt::Display>(
    result: Result<T, E>,
    what: &str,
    show: impl FnOnce(T),
) -> i32 {
    match result {
        Ok(value) => {
            show(value);
            0
        }
        Err(error) => {
            err(&format!("{what}: {error}"));
            1
        }
    }
}

/// Nomad's refusal of arguments given to a command that takes none: its message and
/// the help hint on stderr, and the exit code to return.
pub fn no_arguments(parsed: &Parsed, command: &str) -> Result<(), i32> {
    if parsed.args.is_empty() {
        return Ok(());
    }
    err("This command takes no arguments");
    err(&help_hint(command));
    Err(1)
}

/// What `-t` answers: Caravan has no Go-template output for the CLI yet.
const TEMPLATE_UNSUPPORTED: &str =
    "The -t flag (Go template output) is not supported by Caravan yet; use -json instead";

/// Refuses `-t` on a command that offers `-json` in its place: the message on stderr,
/// and the exit code to return.
pub fn no_template(parsed: &Parsed) -> Result<(), i32> {
    if !parsed.is_set("t") {
        return Ok(());
    }
    err(TEMPLATE_UNSUPPORTED);
    Err(1)
}

/// Nomad's `commandErrorText`: how to get more help on a command.
pub fn help_hint(command: &str) -> String {
    format!("For additional help try 'caravan {command} -help'")
}

/// Nomad's `limit`: the first `length` characters of an ID.
pub fn limit(id: &str, length: usize) -> &str {
    id.get(..length).unwrap_or(id)
}

/// Nomad's `sanitizeUUIDPrefix`: an odd number of hex digits drops the last one, so a
/// prefix always names whole bytes.
pub fn sanitize_uuid_prefix(prefix: &str) -> &str {
    let hyphens = prefix.matches('-').count();
    if (prefix.len() - hyphens).is_multiple_of(2) {
        prefix
    } else {
        &prefix[..prefix.len() - 1]
    }
}

/// ID length for tables: 8, or 36 with `-verbose`.
pub fn id_length(verbose: bool) -> usize {
    if verbose { 36 } else { 8 }
}

/// JSON as Nomad's CLI prints it (`json.MarshalIndent(v, "", "    ")`).
pub fn json_pretty<T: serde::Serialize>(value: &T) -> String {
    let mut buf = Vec::new();
    let formatter = serde_json::ser::PrettyFormatter::with_indent(b"    ");
    let mut ser = serde_json::Serializer::with_formatter(&mut buf, formatter);
    match value.serialize(&mut ser) {
        Ok(()) => String::from_utf8_lossy(&buf).into_owned(),
        Err(e) => format!("{{\"error\": {:?}}}", e.to_string()),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn address_precedence() {
        let env_both = |name: &str| match name {
            "CARAVAN_ADDR" => Some("http://caravan:1".to_string()),
            "NOMAD_ADDR" => Some("http://nomad:2".to_string()),
            _ => None,
        };
        let env_nomad = |name: &str| (name == "NOMAD_ADDR").then(|| "http://nomad:2".to_string());
        let env_none = |_: &str| None;
        assert_eq!(
            resolve_address(Some("http://flag:3"), &env_both),
            "http://flag:3"
        );
        assert_eq!(resolve_address(None, &env_both), "http://caravan:1");
        assert_eq!(resolve_address(Some(""), &env_nomad), "http://nomad:2");
        assert_eq!(resolve_address(None, &env_none), "http://127.0.0.1:4646");
    }

    #[test]
    fn helpers() {
        assert_eq!(limit("0123456789", 8), "01234567");
        assert_eq!(limit("abc", 8), "abc");
        assert_eq!(sanitize_uuid_prefix("abc"), "ab");
        assert_eq!(sanitize_uuid_prefix("abcd"), "abcd");
        assert_eq!(sanitize_uuid_prefix("abcdef01-2"), "abcdef01-");
        assert_eq!(Ui::plain().section("Summary"), "\nSummary");
        assert_eq!(
            Ui { color: true }.section("Summary"),
            "\n\x1b[1mSummary\x1b[0m"
        );
    }
}

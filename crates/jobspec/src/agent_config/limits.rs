//! The agent's `limits` block: how many connections one client address may hold open on
//! the HTTP and RPC listeners, and how long a new connection may stay silent. Nomad's
//! keys, defaults and checks (`http_max_conns_per_client` >= 0, `rpc_max_conns_per_client`
//! 0 or above 25, timeouts >= 0; 0 turns a limit off).

use super::value_pos;
use crate::ast::Body;
use crate::error::ParseError;

/// Nomad's default for both `*_max_conns_per_client`.
pub const DEFAULT_MAX_CONNS_PER_CLIENT: i64 = 100;
/// Nomad's default for both `*_handshake_timeout`, in nanoseconds.
pub const DEFAULT_HANDSHAKE_TIMEOUT_NS: i64 = 5_000_000_000;
/// Nomad keeps 20 RPC connections per client for non-streaming calls and 5 more for
/// streams, so a limit must leave room for both: `rpc_max_conns_per_client` is 0 (off) or
/// above this.
pub const MIN_RPC_MAX_CONNS_PER_CLIENT: i64 = 25;

/// The `limits` block, as written (unset keys take the defaults above).
#[derive(Debug, Clone, Default, PartialEq)]
pub struct LimitsBlock {
    /// Nanoseconds.
    pub https_handshake_timeout: Option<i64>,
    pub http_max_conns_per_client: Option<i64>,
    /// Nanoseconds.
    pub rpc_handshake_timeout: Option<i64>,
    pub rpc_max_conns_per_client: Option<i64>,
}

/// Reads and checks a `limits { ... }` block.
pub(super) fn decode_limits(limits: &Body) -> Result<LimitsBlock, ParseError> {
    limits.check_keys(
        "limits",
        &[
            "https_handshake_timeout",
            "http_max_conns_per_client",
            "rpc_handshake_timeout",
            "rpc_max_conns_per_client",
        ],
        &[],
    )?;
    let block = LimitsBlock {
        https_handshake_timeout: limits.duration("https_handshake_timeout")?,
        http_max_conns_per_client: limits.int("http_max_conns_per_client")?,
        rpc_handshake_timeout: limits.duration("rpc_handshake_timeout")?,
        rpc_max_conns_per_client: limits.int("rpc_max_conns_per_client")?,
    };
    let refuse = |key: &str, message: String| Err(limits.error_at(value_pos(limits, key), message));
    for (key, value) in [
        ("https_handshake_timeout", block.https_handshake_timeout),
        ("rpc_handshake_timeout", block.rpc_handshake_timeout),
    ] {
        if value.is_some_and(|v| v < 0) {
            return refuse(key, format!("{key} must be >= 0"));
        }
    }
    if let Some(limit) = block.http_max_conns_per_client.filter(|l| *l < 0) {
        return refuse(
            "http_max_conns_per_client",
            format!("http_max_conns_per_client must be >= 0; found: {limit}"),
        );
    }
    if let Some(limit) = block
        .rpc_max_conns_per_client
        .filter(|l| *l != 0 && *l <= MIN_RPC_MAX_CONNS_PER_CLIENT)
    {
        return refuse(
            "rpc_max_conns_per_client",
            format!(
                "rpc_max_conns_per_client must be > {MIN_RPC_MAX_CONNS_PER_CLIENT}; found: {limit}"
            ),
        );
    }
    Ok(block)
}

impl LimitsBlock {
    /// `later` over `self`, key by key.
    pub(super) fn merge(self, later: LimitsBlock) -> LimitsBlock {
        LimitsBlock {
            https_handshake_timeout: later
                .https_handshake_timeout
                .or(self.https_handshake_timeout),
            http_max_conns_per_client: later
                .http_max_conns_per_client
                .or(self.http_max_conns_per_client),
            rpc_handshake_timeout: later.rpc_handshake_timeout.or(self.rpc_handshake_timeout),
            rpc_max_conns_per_client: later
                .rpc_max_conns_per_client
                .or(self.rpc_max_conns_per_client),
        }
    }
}

#[cfg(test)]
mod tests {
    use crate::agent_config::parse_agent_config_hcl;

    #[test]
    fn limits_are_read_and_checked_as_nomad_does() {
        let read = |text: &str| {
            parse_agent_config_hcl("agent.hcl", &format!("limits {{\n{text}\n}}\n"))
                .map(|c| c.limits)
                .map_err(|e| e.to_string())
        };
        let all = read(
            "https_handshake_timeout = \"10s\"\nhttp_max_conns_per_client = 0\nrpc_handshake_timeout = \"1s\"\nrpc_max_conns_per_client = 26",
        )
        .unwrap();
        assert_eq!(all.https_handshake_timeout, Some(10_000_000_000));
        assert_eq!(all.http_max_conns_per_client, Some(0));
        assert_eq!(all.rpc_handshake_timeout, Some(1_000_000_000));
        assert_eq!(all.rpc_max_conns_per_client, Some(26));
        assert_eq!(read("").unwrap(), super::LimitsBlock::default());
        let refused: &[(&str, &str)] = &[
            (
                "https_handshake_timeout = \"-1s\"",
                "agent.hcl:2:27: https_handshake_timeout must be >= 0",
            ),
            (
                "rpc_handshake_timeout = \"-5s\"",
                "rpc_handshake_timeout must be >= 0",
            ),
            (
                "http_max_conns_per_client = -1",
                "http_max_conns_per_client must be >= 0; found: -1",
            ),
            (
                "rpc_max_conns_per_client = 20",
                "rpc_max_conns_per_client must be > 25; found: 20",
            ),
            (
                "rpc_max_conns_per_client = -100",
                "rpc_max_conns_per_client must be > 25; found: -100",
            ),
            ("https_handshake_timeout = \"s\"", "https_handshake_timeout"),
            ("max_conns = 1", "max_conns"),
        ];
        for (text, want) in refused {
            let error = read(text).unwrap_err();
            assert!(error.contains(want), "{text}: {error}");
        }
    }
}

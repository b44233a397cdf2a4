//! What bounds the agent's listeners: the `limits {}` block as each listener's
//! [`ConnectionLimits`], and the open-files limit the connections count against.

use std::time::Duration;

use caravan_api::conn_limit::ConnectionLimits;
use caravan_jobspec::agent_config::{
    AgentConfig, DEFAULT_HANDSHAKE_TIMEOUT_NS, DEFAULT_MAX_CONNS_PER_CLIENT,
};

/// The HTTP listener's limits and the RPC listener's, Nomad's defaults where unset (the
/// block's values were checked when the file was read).
pub(crate) fn connection_limits(config: &AgentConfig) -> (ConnectionLimits, ConnectionLimits) {
    let limits = &config.limits;
    let listener = |max: Option<i64>, timeout: Option<i64>, key| ConnectionLimits {
        max_per_client: usize::try_from(max.unwrap_or(DEFAULT_MAX_CONNS_PER_CLIENT)).unwrap_or(0),
        handshake_timeout: Duration::from_nanos(
            u64::try_from(timeout.unwrap_or(DEFAULT_HANDSHAKE_TIMEOUT_NS)).unwrap_or(0),
        ),
        key,
    };
    (
        listener(
            limits.http_max_conns_per_client,
            limits.https_handshake_timeout,
            "http_max_conns_per_client",
        ),
        listener(
            limits.rpc_max_conns_per_client,
            limits.rpc_handshake_timeout,
            "rpc_max_conns_per_client",
        ),
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn unset_limits_are_nomads_defaults_and_zero_turns_them_off() {
        let (http, rpc) = connection_limits(&AgentConfig::default());
        assert_eq!(
            http,
            ConnectionLimits::nomad_defaults("http_max_conns_per_client")
        );
        assert_eq!(
            rpc,
            ConnectionLimits::nomad_defaults("rpc_max_conns_per_client")
        );
        let mut config = AgentConfig::default();
        config.limits.http_max_conns_per_client = Some(0);
        config.limits.https_handshake_timeout = Some(0);
        config.limits.rpc_max_conns_per_client = Some(200);
        let (http, rpc) = connection_limits(&config);
        assert_eq!(
            (http.max_per_client, http.handshake_timeout),
            (0, Duration::ZERO)
        );
        assert_eq!(rpc.max_per_client, 200);
    }
}

//! `caravan server join` (Nomad's `command/server_join.go`): joins the local server to
//! others, after which gossip finds the rest of the cluster.

use caravan_api_types::JoinResponse;

use crate::flags::FlagSet;
use crate::meta;

const HELP: &str = "Usage: caravan server join [options] <addr> [<addr>...]

  Joins the local server to one or more Caravan servers. Joining is
  only required for server nodes, and only needs to succeed
  against one or more of the provided addresses. Once joined, the
  gossip layer will handle discovery of the other server nodes in
  the cluster.
";

/// What the CLI prints for the agent's answer: the success line, or the error line
/// when the agent says why some joins failed (Nomad's Go client fails the whole call
/// then, with `failed joining: ...`).
pub fn join_outcome(response: &JoinResponse) -> Result<String, String> {
    if response.error.is_empty() {
        Ok(format!(
            "Joined {} servers successfully",
            response.num_joined
        ))
    } else {
        Err(format!("Error joining: failed joining: {}", response.error))
    }
}

/// `caravan server join`.
pub fn run(args: &[String]) -> i32 {
    let parsed = match meta::parse(FlagSet::new(), args, HELP) {
        Ok(p) => p,
        Err(code) => return code,
    };
    if parsed.args.is_empty() {
        meta::err("One or more node addresses must be given as arguments");
        meta::err(&meta::help_hint("server join"));
        return 1;
    }
    let client = match meta::client(&parsed) {
        Ok(c) => c,
        Err(code) => return code,
    };
    let outcome = match client.run(|api| api.agent_join(&parsed.args)) {
        Ok(response) => join_outcome(&response),
        Err(e) => Err(format!("Error joining: failed joining: {e}")),
    };
    match outcome {
        Ok(line) => {
            meta::out(&line);
            0
        }
        Err(line) => {
            meta::err(&line);
            1
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn outcomes() {
        let cases = [
            ("all_joined", 2, "", Ok("Joined 2 servers successfully")),
            ("one_joined", 1, "", Ok("Joined 1 servers successfully")),
            (
                "some_failed",
                1,
                "dial tcp 10.0.0.9:4648: i/o timeout",
                Err("Error joining: failed joining: dial tcp 10.0.0.9:4648: i/o timeout"),
            ),
        ];
        for (name, num_joined, error, want) in cases {
            let response = JoinResponse {
                num_joined,
                error: error.into(),
            };
            let got = join_outcome(&response);
            assert_eq!(got.as_deref().map_err(String::as_str), want, "case {name}");
        }
    }
}

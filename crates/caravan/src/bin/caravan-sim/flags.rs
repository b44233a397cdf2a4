//! The simulator's command line, Go-flag style like the rest of the CLI: `-nodes 100`,
//! `-nodes=100` and `--nodes 100` all work.

use std::time::Duration;

pub const USAGE: &str = "\
Usage: caravan-sim [options]

  Registers simulated nodes over the real client RPC, submits jobs and prints one
  key=value line per figure.

Options:
  -nodes <n>       Simulated nodes (default 100).
  -jobs <n>        Jobs to submit (default 10).
  -count <n>       Count of each job's group (default 100).
  -cpu <mhz>       CPU of each node (default 4000).
  -memory <mb>     Memory of each node (default 4096).
  -workers <n>     num_schedulers of the server the simulator starts (default: the
                   server's own).
  -server <addr>   HTTP address of an existing server (e.g. 127.0.0.1:4646); without
                   it the simulator starts its own server agent and stops it at the end.
  -rpc <addr>      RPC address of that server (default: the -server host, port 4647).
  -watchers <n>    Allocation long-polls held at once (default: one per node, as
                   clients do, as far as the open-files limit allows).
  -timeout <dur>   Give up after this long (default 30m).
";

#[derive(Debug, Clone)]
pub struct Flags {
    pub nodes: usize,
    pub jobs: usize,
    pub count: usize,
    pub cpu: i64,
    pub memory: i64,
    pub workers: Option<usize>,
    pub server: Option<String>,
    pub rpc: Option<String>,
    /// `None`: every node holds its own long-poll, as far as open files allow.
    pub watchers: Option<usize>,
    pub timeout: Duration,
}

impl Default for Flags {
    fn default() -> Self {
        Flags {
            nodes: 100,
            jobs: 10,
            count: 100,
            cpu: 4000,
            memory: 4096,
            workers: None,
            server: None,
            rpc: None,
            watchers: None,
            timeout: Duration::from_secs(30 * 60),
        }
    }
}

impl Flags {
    pub fn parse(args: impl IntoIterator<Item = String>) -> Result<Flags, String> {
        let mut flags = Flags::default();
        let mut args = args.into_iter();
        while let Some(arg) = args.next() {
            if arg == "-h" || arg == "-help" || arg == "--help" {
                return Err(String::new());
            }
            let Some(name) = arg.strip_prefix("--").or_else(|| arg.strip_prefix('-')) else {
                return Err(format!(
                    "unexpected argument {arg:?}: every option is a flag"
                ));
            };
            let (name, value) = match name.split_once('=') {
                Some((name, value)) => (name.to_string(), value.to_string()),
                None => {
                    let value = args
                        .next()
                        .ok_or_else(|| format!("flag needs an argument: -{name}"))?;
                    (name.to_string(), value)
                }
            };
            match name.as_str() {
                "nodes" => flags.nodes = positive(&name, &value)?,
                "jobs" => flags.jobs = positive(&name, &value)?,
                "count" => flags.count = positive(&name, &value)?,
                "cpu" => flags.cpu = positive(&name, &value)? as i64,
                "memory" => flags.memory = positive(&name, &value)? as i64,
                "workers" => flags.workers = Some(positive(&name, &value)?),
                "watchers" => flags.watchers = Some(positive(&name, &value)?),
                "server" => flags.server = Some(value),
                "rpc" => flags.rpc = Some(value),
                "timeout" => flags.timeout = duration(&name, &value)?,
                _ => return Err(format!("flag provided but not defined: -{name}")),
            }
        }
        if flags.rpc.is_some() && flags.server.is_none() {
            return Err(
                "-rpc names the RPC address of an existing server: give -server too".into(),
            );
        }
        Ok(flags)
    }

    /// Allocations the run places when all goes well.
    pub fn total(&self) -> usize {
        self.jobs * self.count
    }
}

fn positive(name: &str, value: &str) -> Result<usize, String> {
    match value.parse::<usize>() {
        Ok(n) if n > 0 => Ok(n),
        _ => Err(format!(
            "invalid value {value:?} for flag -{name}: a positive whole number is needed"
        )),
    }
}

/// `90s`, `15m`, `1h` or plain seconds.
fn duration(name: &str, value: &str) -> Result<Duration, String> {
    let invalid = || format!("invalid value {value:?} for flag -{name}: use e.g. 90s, 15m or 1h");
    let (digits, unit) = value.split_at(
        value
            .find(|c: char| !c.is_ascii_digit())
            .unwrap_or(value.len()),
    );
    let n: u64 = digits.parse().map_err(|_| invalid())?;
    let seconds = match unit {
        "" | "s" => n,
        "m" => n * 60,
        "h" => n * 3600,
        _ => return Err(invalid()),
    };
    Ok(Duration::from_secs(seconds))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn parse(args: &[&str]) -> Result<Flags, String> {
        Flags::parse(args.iter().map(|a| a.to_string()))
    }

    #[test]
    fn go_style_flags_in_every_spelling() {
        let flags = parse(&["-nodes", "5", "-jobs=2", "--count", "7", "-timeout", "2m"]).unwrap();
        assert_eq!((flags.nodes, flags.jobs, flags.count), (5, 2, 7));
        assert_eq!(flags.timeout, Duration::from_secs(120));
        assert_eq!(flags.total(), 14);
    }

    #[test]
    fn bad_flags_name_the_flag() {
        assert!(parse(&["-nodes", "zero"]).unwrap_err().contains("-nodes"));
        assert!(parse(&["-bogus", "1"]).unwrap_err().contains("-bogus"));
        assert!(parse(&["-count"]).unwrap_err().contains("-count"));
        assert!(
            parse(&["-rpc", "127.0.0.1:4647"])
                .unwrap_err()
                .contains("-server")
        );
    }
}

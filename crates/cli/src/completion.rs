//! Shell completion as Nomad's CLI does it (mitchellh/cli over posener/complete):
//! `-autocomplete-install` adds `complete -C <binary> caravan` to the user's bash and
//! zsh start-up files (and a completion file for fish), after which the shell runs the binary with `COMP_LINE` and
//! `COMP_POINT` set; the binary then prints the candidate words, one a line, and exits.

use std::path::{Path, PathBuf};

/// Every command, as the words that name it.
const COMMANDS: &[&str] = &[
    "acl bootstrap",
    "acl policy apply",
    "acl policy delete",
    "acl policy info",
    "acl policy list",
    "acl token create",
    "acl token delete",
    "acl token info",
    "acl token list",
    "acl token self",
    "acl token update",
    "agent",
    "agent-info",
    "alloc checks",
    "alloc exec",
    "alloc fs",
    "alloc logs",
    "alloc restart",
    "alloc signal",
    "alloc status",
    "alloc stop",
    "deployment fail",
    "deployment list",
    "deployment pause",
    "deployment promote",
    "deployment resume",
    "deployment status",
    "deployment unblock",
    "eval status",
    "fs",
    "init",
    "inspect",
    "job allocs",
    "job deployments",
    "job dispatch",
    "job eval",
    "job history",
    "job init",
    "job inspect",
    "job periodic force",
    "job plan",
    "job promote",
    "job revert",
    "job run",
    "job scale",
    "job scaling-events",
    "job status",
    "job stop",
    "job validate",
    "logs",
    "monitor",
    "namespace apply",
    "namespace delete",
    "namespace inspect",
    "namespace list",
    "namespace status",
    "node drain",
    "node eligibility",
    "node status",
    "operator raft list-peers",
    "operator raft remove-peer",
    "operator snapshot inspect",
    "operator snapshot restore",
    "operator snapshot save",
    "plan",
    "run",
    "scaling policy info",
    "scaling policy list",
    "server force-leave",
    "server join",
    "server members",
    "service delete",
    "service info",
    "service list",
    "status",
    "stop",
    "system gc",
    "system reconcile summaries",
    "tls ca create",
    "tls cert create",
    "ui",
    "validate",
    "version",
];

/// The flags every API command takes (see [`crate::meta::with_client_flags`]).
const CLIENT_FLAGS: &[&str] = &[
    "-address",
    "-ca-cert",
    "-ca-path",
    "-client-cert",
    "-client-key",
    "-namespace",
    "-no-color",
    "-region",
    "-tls-server-name",
    "-tls-skip-verify",
    "-token",
];

/// The agent's own flags.
const AGENT_FLAGS: &[&str] = &[
    "-acl-enabled",
    "-bind",
    "-bootstrap-expect",
    "-client",
    "-config",
    "-data-dir",
    "-dc",
    "-dev",
    "-join",
    "-log-file",
    "-log-include-location",
    "-log-json",
    "-log-level",
    "-meta",
    "-node",
    "-node-class",
    "-region",
    "-retry-interval",
    "-retry-join",
    "-retry-max",
    "-server",
];

/// The flags the root command takes before any command.
const ROOT_FLAGS: &[&str] = &[
    "-autocomplete-install",
    "-autocomplete-uninstall",
    "-help",
    "-version",
];

/// How many of `words` name a command (or a group of them): `job status web` is two.
pub fn command_length(words: &[String]) -> usize {
    (0..=words.len().min(3))
        .rev()
        .find(|&n| {
            COMMANDS.iter().any(|command| {
                let parts: Vec<&str> = command.split(' ').collect();
                parts.len() >= n && parts[..n].iter().zip(words).all(|(p, w)| p == w)
            })
        })
        .unwrap_or(0)
}

/// The candidates for the word under the cursor of `line` (the shell's `COMP_LINE`
/// cut at `COMP_POINT`): the next words of the commands the earlier words begin, or,
/// for a word starting with `-`, the flags of the command named so far.
pub fn candidates(line: &str) -> Vec<String> {
    let mut words: Vec<&str> = line.split_whitespace().collect();
    let current = if line.ends_with(char::is_whitespace) {
        ""
    } else {
        words.pop().unwrap_or("")
    };
    // The program's own name.
    if !words.is_empty() {
        words.remove(0);
    }
    let named: Vec<&str> = words
        .iter()
        .copied()
        .take_while(|w| !w.starts_with('-'))
        .collect();
    let mut found: Vec<String> = if current.starts_with('-') {
        let flags: &[&str] = match named.as_slice() {
            [] => ROOT_FLAGS,
            ["agent", ..] => AGENT_FLAGS,
            ["version", ..] | ["tls", ..] => &[],
            _ => CLIENT_FLAGS,
        };
        flags.iter().map(|f| f.to_string()).collect()
    } else {
        COMMANDS
            .iter()
            .filter_map(|command| {
                let parts: Vec<&str> = command.split(' ').collect();
                (parts.len() > named.len() && parts[..named.len()] == named[..])
                    .then(|| parts[named.len()].to_string())
            })
            .collect()
    };
    found.retain(|word| word.starts_with(current));
    found.sort();
    found.dedup();
    found
}

/// Answers a completion request when the shell made one (`COMP_LINE` set); `None`
/// otherwise. Prints each candidate on its own line.
pub fn answer_from_env() -> Option<i32> {
    let line = std::env::var("COMP_LINE").ok()?;
    let point = std::env::var("COMP_POINT")
        .ok()
        .and_then(|p| p.parse::<usize>().ok())
        .unwrap_or(line.len())
        .min(line.len());
    let upto = line.get(..point).unwrap_or(&line);
    for word in candidates(upto) {
        crate::meta::out(&word);
    }
    Some(0)
}

/// One shell's start-up file and the lines that make it complete `caravan`.
struct ShellRc {
    path: PathBuf,
    lines: Vec<String>,
}

/// The shells of the user at `home` (those whose start-up file exists), as posener's
/// installer finds them.
fn shells(home: &Path, binary: &str) -> Vec<ShellRc> {
    let mut found = Vec::new();
    let bashrc = home.join(".bashrc");
    if bashrc.exists() {
        found.push(ShellRc {
            path: bashrc,
            lines: vec![format!("complete -C {binary} caravan")],
        });
    }
    let zshrc = home.join(".zshrc");
    if zshrc.exists() {
        found.push(ShellRc {
            path: zshrc,
            lines: vec![
                "autoload -U +X bashcompinit && bashcompinit".to_string(),
                format!("complete -o nospace -C {binary} caravan"),
            ],
        });
    }
    found
}

/// fish's completion file for `caravan` and its text, when the user has fish
/// (`~/.config/fish`): a function that hands the command line to the binary, as
/// posener's installer writes it.
fn fish_completion(home: &Path, binary: &str) -> Option<(PathBuf, String)> {
    let config = home.join(".config").join("fish");
    if !config.is_dir() {
        return None;
    }
    let script = format!(
        "function __complete_caravan\n    set -lx COMP_LINE (commandline -cp)\n    test -z (commandline -ct)\n    and set COMP_LINE \"$COMP_LINE \"\n    {binary}\nend\ncomplete -f -c caravan -a \"(__complete_caravan)\"\n"
    );
    Some((config.join("completions").join("caravan.fish"), script))
}

fn install_fish(path: &Path, script: &str) -> Result<(), String> {
    if path.exists() {
        return Err(format!("already installed at {}", path.display()));
    }
    if let Some(dir) = path.parent() {
        std::fs::create_dir_all(dir)
            .map_err(|e| format!("cannot create {}: {e}", dir.display()))?;
    }
    std::fs::write(path, script).map_err(|e| format!("cannot write {}: {e}", path.display()))
}

fn uninstall_fish(path: &Path) -> Result<(), String> {
    if !path.exists() {
        return Err(format!("does not installed in {}", path.display()));
    }
    std::fs::remove_file(path).map_err(|e| format!("cannot remove {}: {e}", path.display()))
}

fn home_and_binary() -> Result<(PathBuf, String), String> {
    let home = std::env::var_os("HOME")
        .filter(|h| !h.is_empty())
        .map(PathBuf::from)
        .ok_or("HOME is not set: cannot find the shell's start-up files")?;
    let binary = std::env::current_exe()
        .map_err(|e| format!("cannot find the caravan binary: {e}"))?
        .display()
        .to_string();
    Ok((home, binary))
}

/// `-autocomplete-install`: adds the completion lines to each shell's start-up file.
pub fn install() -> Result<(), String> {
    let (home, binary) = home_and_binary()?;
    let shells = shells(&home, &binary);
    let fish = fish_completion(&home, &binary);
    if shells.is_empty() && fish.is_none() {
        return Err("Did not find any shells to install".into());
    }
    let mut errors = Vec::new();
    if let Some((path, script)) = &fish
        && let Err(error) = install_fish(path, script)
    {
        errors.push(error);
    }
    for shell in shells {
        let text = std::fs::read_to_string(&shell.path).unwrap_or_default();
        let completion_line = shell.lines.last().map(String::as_str).unwrap_or_default();
        if text.lines().any(|l| l.trim() == completion_line) {
            errors.push(format!("already installed in {}", shell.path.display()));
            continue;
        }
        let mut added = String::new();
        if !text.is_empty() && !text.ends_with('\n') {
            added.push('\n');
        }
        for line in &shell.lines {
            if !text.lines().any(|l| l.trim() == line) {
                added.push_str(line);
                added.push('\n');
            }
        }
        let appended = std::fs::OpenOptions::new()
            .append(true)
            .open(&shell.path)
            .and_then(|mut file| std::io::Write::write_all(&mut file, added.as_bytes()));
        if let Err(e) = appended {
            errors.push(format!("cannot write {}: {e}", shell.path.display()));
        }
    }
    joined(errors)
}

/// `-autocomplete-uninstall`: removes the lines `install` added.
pub fn uninstall() -> Result<(), String> {
    let (home, binary) = home_and_binary()?;
    let shells = shells(&home, &binary);
    let fish = fish_completion(&home, &binary);
    if shells.is_empty() && fish.is_none() {
        return Err("Did not find any shells to uninstall".into());
    }
    let mut errors = Vec::new();
    if let Some((path, _)) = &fish
        && let Err(error) = uninstall_fish(path)
    {
        errors.push(error);
    }
    for shell in shells {
        let text = std::fs::read_to_string(&shell.path).unwrap_or_default();
        let completion_line = shell.lines.last().map(String::as_str).unwrap_or_default();
        if !text.lines().any(|l| l.trim() == completion_line) {
            errors.push(format!("does not installed in {}", shell.path.display()));
            continue;
        }
        // The zsh `bashcompinit` line may serve other programs' completions: kept.
        let kept: String = text
            .lines()
            .filter(|l| l.trim() != completion_line)
            .map(|l| format!("{l}\n"))
            .collect();
        if let Err(e) = std::fs::write(&shell.path, kept) {
            errors.push(format!("cannot write {}: {e}", shell.path.display()));
        }
    }
    joined(errors)
}

fn joined(errors: Vec<String>) -> Result<(), String> {
    if errors.is_empty() {
        Ok(())
    } else {
        Err(errors.join("; "))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn completes_commands_subcommands_and_flags() {
        let rows: &[(&str, &[&str])] = &[
            ("caravan jo", &["job"]),
            (
                "caravan job s",
                &["scale", "scaling-events", "status", "stop"],
            ),
            (
                "caravan alloc ",
                &[
                    "checks", "exec", "fs", "logs", "restart", "signal", "status", "stop",
                ],
            ),
            ("caravan job status -addr", &["-address"]),
            (
                "caravan agent -log-",
                &[
                    "-log-file",
                    "-log-include-location",
                    "-log-json",
                    "-log-level",
                ],
            ),
            ("caravan -autocomplete-i", &["-autocomplete-install"]),
            ("caravan mon", &["monitor"]),
            ("caravan operator raft l", &["list-peers"]),
            ("caravan zzz", &[]),
        ];
        for (line, expected) in rows {
            assert_eq!(candidates(line), *expected, "{line:?}");
        }
    }
}

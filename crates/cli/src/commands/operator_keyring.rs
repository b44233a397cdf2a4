//! `caravan operator root keyring` (Nomad's `command/operator_root_keyring_*.go`):
//! list, rotate and remove the servers' root keys.

use caravan_structs::RootKeyMeta;

use crate::columnize::format_list;
use crate::flags::FlagSet;
use crate::meta;
use crate::time_format::format_time;

/// `caravan operator root keyring` without a subcommand.
pub const KEYRING_USAGE: &str = "Usage: caravan operator root keyring [options]

  Manages encryption keys used for storing variables. This command may be
  used to examine active encryption keys in the cluster, rotate keys, or
  remove unused keys.

  If ACLs are enabled, all subcommands requires a management token.

  Rotate the encryption key:

      $ caravan operator root keyring rotate

  List all encryption key metadata:

      $ caravan operator root keyring list

  Remove an encryption key from the keyring:

      $ caravan operator root keyring remove <key ID>

  Please see individual subcommand help for detailed usage information.";

/// `renderVariablesKeysResponse`: key (8 characters unless verbose), state and
/// creation time.
pub fn render_keys(keys: &[RootKeyMeta], verbose: bool) -> String {
    let mut rows = vec!["Key|State|Create Time".to_string()];
    rows.extend(keys.iter().map(|k| {
        let id = if verbose {
            k.key_id.as_str()
        } else {
            meta::limit(&k.key_id, 8)
        };
        format!("{id}|{}|{}", k.state, format_time(k.create_time))
    }));
    format_list(&rows)
}

/// Runs `operator root keyring <args>`.
pub fn run(args: &[String]) -> i32 {
    let rest = args.get(1..).unwrap_or_default().to_vec();
    match args.first().map(String::as_str) {
        Some("list") => list(&rest),
        Some("rotate") => rotate(&rest),
        Some("remove") => remove(&rest),
        Some("-h" | "-help" | "--help") => {
            meta::out(KEYRING_USAGE);
            0
        }
        _ => {
            meta::err(KEYRING_USAGE);
            1
        }
    }
}

fn list(args: &[String]) -> i32 {
    const HELP: &str = "Usage: caravan operator root keyring list [options]

  List the currently installed keys. This list returns key metadata and not
  sensitive key material.

  If ACLs are enabled, this command requires a management token.

Keyring Options:

  -verbose
    Show full information.

  -json
    Output the keys in JSON format.
";
    let parsed = match meta::parse(FlagSet::new().bools(&["verbose", "json"]), args, HELP) {
        Ok(p) => p,
        Err(code) => return code,
    };
    if !parsed.args.is_empty() {
        meta::err("This command requires no arguments.");
        meta::err(&meta::help_hint("operator root keyring list"));
        return 1;
    }
    let Ok(client) = meta::client(&parsed) else {
        return 1;
    };
    meta::finish(client.run(|api| api.keyring_keys()), "error", |keys| {
        if parsed.bool("json") {
            meta::out(&meta::json_pretty(&keys));
        } else {
            meta::out(&render_keys(&keys, parsed.bool("verbose")));
        }
    })
}

fn rotate(args: &[String]) -> i32 {
    const HELP: &str = "Usage: caravan operator root keyring rotate [options]

  Generate a new encryption key for all future variables.

  If ACLs are enabled, this command requires a management token.

Keyring Options:

  -full
    Decrypt all existing variables and re-encrypt with the new key. This command
    will immediately return and the re-encryption process will run
    asynchronously on the leader.

  -verbose
    Show full information.
";
    let parsed = match meta::parse(FlagSet::new().bools(&["full", "verbose"]), args, HELP) {
        Ok(p) => p,
        Err(code) => return code,
    };
    if !parsed.args.is_empty() {
        meta::err("This command requires no arguments.");
        meta::err(&meta::help_hint("operator root keyring rotate"));
        return 1;
    }
    let Ok(client) = meta::client(&parsed) else {
        return 1;
    };
    let full = parsed.bool("full");
    meta::finish(client.run(|api| api.keyring_rotate(full)), "error", |key| {
        meta::out(&render_keys(&[key], parsed.bool("verbose")))
    })
}

fn remove(args: &[String]) -> i32 {
    const HELP: &str = "Usage: caravan operator root keyring remove [options] <key ID>

  Remove an encryption key from the cluster. This operation may only be
  performed on keys that are not the active key.

  If ACLs are enabled, this command requires a management token.

Remove Options:

  -force
    Remove the key even if it was used to sign an existing variable.
";
    let parsed = match meta::parse(FlagSet::new().bools(&["force", "verbose"]), args, HELP) {
        Ok(p) => p,
        Err(code) => return code,
    };
    let [key_id] = parsed.args.as_slice() else {
        meta::err("This command requires one argument: <key ID>");
        meta::err(&meta::help_hint("operator root keyring remove"));
        return 1;
    };
    let Ok(client) = meta::client(&parsed) else {
        return 1;
    };
    let force = parsed.bool("force");
    meta::finish(
        client.run(|api| api.keyring_remove(key_id, force)),
        "error",
        |()| meta::out(&format!("Removed encryption key {key_id}")),
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn keys_render_as_nomad_lists_them() {
        let key = RootKeyMeta {
            key_id: "0123456789abcdef".into(),
            state: "active".into(),
            ..RootKeyMeta::default()
        };
        assert_eq!(
            render_keys(std::slice::from_ref(&key), false),
            "Key       State   Create Time\n01234567  active  <none>"
        );
        assert!(render_keys(&[key], true).contains("0123456789abcdef"));
    }
}

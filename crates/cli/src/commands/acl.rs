//! `caravan acl` (Nomad's `command/acl_*.go`): bootstrap, policies and tokens.

use caravan_structs::acl::{AclPolicy, AclPolicyStub, AclToken, AclTokenStub};

use crate::columnize::{format_kv, format_list};
use crate::flags::{FlagKind, FlagSet};
use crate::meta;

/// `caravan acl` without a subcommand.
pub const ACL_USAGE: &str = "Usage: caravan acl <subcommand> [options] [args]

  This command groups subcommands for interacting with ACL policies and tokens.
  Users can bootstrap Caravan's ACL system, create policies that restrict access,
  and generate tokens from those policies.

Subcommands:
    bootstrap        Bootstrap the initial ACL token
    policy apply     Create or update ACL policies
    policy delete    Delete an existing ACL policy
    policy info      Fetch info on an existing ACL policy
    policy list      List available ACL policies
    token create     Create new ACL token
    token delete     Delete an existing ACL token
    token info       Get info on an existing ACL token
    token list       List available ACL tokens
    token self       Get info on self ACL token
    token update     Update existing ACL token";

/// Go's `time.Time.String()` of a UTC time: `2022-08-23 12:17:35.45067293 +0000 UTC`.
pub fn go_time(nanos: i64) -> String {
    let text = caravan_structs::time::rfc3339(nanos);
    format!(
        "{} +0000 UTC",
        text.trim_end_matches('Z').replacen('T', " ", 1)
    )
}

/// Nomad's `formatACLToken` and the policies and roles after it.
pub fn render_token(token: &AclToken) -> String {
    let expiry = token
        .expiration_time
        .map(go_time)
        .unwrap_or_else(|| "<none>".to_string());
    let policies = if token.is_management() {
        "n/a".to_string()
    } else {
        format!("[{}]", token.policies.join(" "))
    };
    let rows = vec![
        format!("Accessor ID|{}", token.accessor_id),
        format!("Secret ID|{}", token.secret_id),
        format!("Name|{}", token.name),
        format!("Type|{}", token.r#type),
        format!("Global|{}", token.global),
        format!("Create Time|{}", go_time(token.create_time)),
        format!("Expiry Time|{expiry}"),
        format!("Create Index|{}", token.create_index),
        format!("Modify Index|{}", token.modify_index),
        format!("Policies|{policies}"),
    ];
    let roles = if token.is_management() {
        "n/a"
    } else {
        "<none>"
    };
    format!("{}\n\nRoles\n{roles}", format_kv(&rows))
}

/// `acl token list`.
pub fn render_token_list(tokens: &[AclTokenStub], now: i64) -> String {
    if tokens.is_empty() {
        return "No tokens found".to_string();
    }
    let mut rows = vec!["Name|Type|Global|Accessor ID|Expired".to_string()];
    for t in tokens {
        let expired = t.expiration_time.is_some_and(|at| at <= now);
        rows.push(format!(
            "{}|{}|{}|{}|{}",
            t.name, t.r#type, t.global, t.accessor_id, expired
        ));
    }
    format_list(&rows)
}

/// `acl policy list`.
pub fn render_policy_list(policies: &[AclPolicyStub]) -> String {
    if policies.is_empty() {
        return "No policies found".to_string();
    }
    let mut rows = vec!["Name|Description".to_string()];
    rows.extend(
        policies
            .iter()
            .map(|p| format!("{}|{}", p.name, p.description)),
    );
    format_list(&rows)
}

/// `acl policy info`.
pub fn render_policy(policy: &AclPolicy, ui: &meta::Ui) -> String {
    let rows = vec![
        format!("Name|{}", policy.name),
        format!("Description|{}", policy.description),
        format!("CreateIndex|{}", policy.create_index),
        format!("ModifyIndex|{}", policy.modify_index),
    ];
    format!(
        "{}\n\n{}\n\n{}",
        format_kv(&rows),
        ui.bold("Rules"),
        policy.rules
    )
}

/// Runs `acl <args>`.
pub fn run(args: &[String]) -> i32 {
    let words: Vec<&str> = args.iter().map(String::as_str).collect();
    let rest = |n: usize| args[n..].to_vec();
    match words.as_slice() {
        ["bootstrap", ..] => bootstrap(&rest(1)),
        ["policy", "apply", ..] => policy_apply(&rest(2)),
        ["policy", "delete", ..] => policy_delete(&rest(2)),
        ["policy", "info", ..] => policy_info(&rest(2)),
        ["policy", "list", ..] => policy_list(&rest(2)),
        ["token", "create", ..] => token_create(&rest(2)),
        ["token", "update", ..] => token_update(&rest(2)),
        ["token", "delete", ..] => token_delete(&rest(2)),
        ["token", "info", ..] => token_info(&rest(2)),
        ["token", "list", ..] => token_list(&rest(2)),
        ["token", "self", ..] => token_self(&rest(2)),
        _ => {
            meta::err(ACL_USAGE);
            1
        }
    }
}

/// Parses the flags and connects; `Err` is the exit code (already reported).
fn start(
    set: FlagSet,
    args: &[String],
    help: &str,
    arity: usize,
    usage: &str,
) -> Result<(crate::flags::Parsed, crate::api_client::ApiClient), i32> {
    let parsed = meta::parse(set, args, help)?;
    if parsed.args.len() != arity {
        meta::err(&format!(
            "This command takes {}",
            if arity == 0 {
                "no arguments".to_string()
            } else {
                format!("{arity} argument(s): {usage}")
            }
        ));
        return Err(1);
    }
    let client = meta::client(&parsed)?;
    Ok((parsed, client))
}

fn print_json_or(parsed: &crate::flags::Parsed, value: &impl serde::Serialize, text: String) {
    if parsed.bool("json") {
        meta::out(&meta::json_pretty(value));
    } else {
        meta::out(&text);
    }
}

fn bootstrap(args: &[String]) -> i32 {
    const HELP: &str = "Usage: caravan acl bootstrap [options]

  Bootstrap is used to bootstrap the ACL system and get an initial token.
";
    let Ok((parsed, client)) = start(FlagSet::new().bools(&["json"]), args, HELP, 0, "") else {
        return 1;
    };
    meta::finish(
        client.run(|api| api.acl_bootstrap()),
        "Error bootstrapping",
        |token| print_json_or(&parsed, &token, render_token(&token)),
    )
}

fn policy_apply(args: &[String]) -> i32 {
    const HELP: &str = "Usage: caravan acl policy apply [options] <name> <path>

  Apply is used to create or update an ACL policy. The policy is
  sourced from <path> or from stdin if path is \"-\".

Apply Options:

  -description
    Specifies a human readable description for the policy.
";
    let set = FlagSet::new().strings(&["description"]);
    let Ok((parsed, client)) = start(set, args, HELP, 2, "<name> <path>") else {
        return 1;
    };
    let (name, path) = (&parsed.args[0], &parsed.args[1]);
    let rules = if path == "-" {
        let mut text = String::new();
        std::io::Read::read_to_string(&mut std::io::stdin(), &mut text).map(|_| text)
    } else {
        std::fs::read_to_string(path)
    };
    let rules = match rules {
        Ok(rules) => rules,
        Err(e) => {
            meta::err(&format!("Error reading policy file {path}: {e}"));
            return 1;
        }
    };
    let policy = AclPolicy {
        name: name.clone(),
        description: parsed.string("description").unwrap_or("").to_string(),
        rules,
        ..AclPolicy::default()
    };
    meta::finish(
        client.run(|api| api.acl_policy_upsert(&policy)),
        "Error writing ACL policy",
        |()| meta::out(&format!("Successfully wrote \"{name}\" ACL policy!")),
    )
}

fn policy_delete(args: &[String]) -> i32 {
    const HELP: &str = "Usage: caravan acl policy delete <name>

  Delete is used to delete an existing ACL policy.
";
    let Ok((parsed, client)) = start(FlagSet::new(), args, HELP, 1, "<name>") else {
        return 1;
    };
    let name = &parsed.args[0];
    meta::finish(
        client.run(|api| api.acl_policy_delete(name)),
        "Error deleting ACL policy",
        |()| meta::out(&format!("Successfully deleted \"{name}\" ACL policy!")),
    )
}

fn policy_info(args: &[String]) -> i32 {
    const HELP: &str = "Usage: caravan acl policy info <name>

  Info is used to fetch information on an existing ACL policy.
";
    let set = FlagSet::new().bools(&["json"]);
    let Ok((parsed, client)) = start(set, args, HELP, 1, "<name>") else {
        return 1;
    };
    let ui = meta::Ui::from_flags(&parsed);
    meta::finish(
        client.run(|api| api.acl_policy(&parsed.args[0])),
        "Error fetching ACL policy",
        |policy| print_json_or(&parsed, &policy, render_policy(&policy, &ui)),
    )
}

fn policy_list(args: &[String]) -> i32 {
    const HELP: &str = "Usage: caravan acl policy list

  List is used to list available ACL policies.
";
    let set = FlagSet::new().bools(&["json"]);
    let Ok((parsed, client)) = start(set, args, HELP, 0, "") else {
        return 1;
    };
    meta::finish(
        client.run(|api| api.acl_policies()),
        "Error fetching ACL policies",
        |policies| print_json_or(&parsed, &policies, render_policy_list(&policies)),
    )
}

const TOKEN_FLAGS_HELP: &str = "  -name=\"\"
    Sets the human readable name for the ACL token.

  -type=\"client\"
    Sets the type of token. Must be one of \"client\" (default), or \"management\".

  -global=false
    Toggles the global mode of the token. Global tokens are replicated to all regions.

  -policy=\"\"
    Specifies a policy to associate with the token. Can be specified multiple times,
    but only with client type tokens.

  -ttl
    Specifies the time-to-live of the created ACL token (\"5m\", \"1h\"). By default
    tokens never expire.
";

fn token_flags() -> FlagSet {
    FlagSet::new()
        .strings(&["name", "type", "ttl"])
        .bools(&["global", "json"])
        .flag("policy", FlagKind::List)
}

fn token_create(args: &[String]) -> i32 {
    let help = format!(
        "Usage: caravan acl token create [options]\n\n  Create is used to issue new ACL tokens.\n\nCreate Options:\n\n{TOKEN_FLAGS_HELP}"
    );
    let Ok((parsed, client)) = start(token_flags(), args, &help, 0, "") else {
        return 1;
    };
    let ttl = match parsed
        .string("ttl")
        .map(caravan_structs::duration::parse_duration)
    {
        None => 0,
        Some(Ok(nanos)) => nanos,
        Some(Err(e)) => {
            meta::err(&format!("Error parsing TTL: {e}"));
            return 1;
        }
    };
    let token = AclToken {
        name: parsed.string("name").unwrap_or("").to_string(),
        r#type: parsed.string("type").unwrap_or("client").to_string(),
        policies: parsed.list("policy"),
        global: parsed.bool("global"),
        expiration_ttl: ttl,
        ..AclToken::default()
    };
    meta::finish(
        client.run(|api| api.acl_token_create(&token)),
        "Error creating token",
        |token| print_json_or(&parsed, &token, render_token(&token)),
    )
}

fn token_update(args: &[String]) -> i32 {
    let help = format!(
        "Usage: caravan acl token update [options] <token_accessor_id>\n\n  Update is used to update an existing ACL token.\n\nUpdate Options:\n\n{TOKEN_FLAGS_HELP}"
    );
    let Ok((parsed, client)) = start(token_flags(), args, &help, 1, "<token_accessor_id>") else {
        return 1;
    };
    let accessor = parsed.args[0].clone();
    let flags = &parsed;
    let result = client.run(|api| async move {
        let parsed = flags;
        let mut token = api.acl_token(&accessor).await?;
        if let Some(name) = parsed.string("name") {
            token.name = name.to_string();
        }
        if let Some(kind) = parsed.string("type") {
            token.r#type = kind.to_string();
        }
        let policies = parsed.list("policy");
        if !policies.is_empty() {
            token.policies = policies;
        }
        if parsed.bool("global") {
            token.global = true;
        }
        api.acl_token_update(&token).await
    });
    meta::finish(result, "Error updating token", |token| {
        print_json_or(&parsed, &token, render_token(&token))
    })
}

fn token_delete(args: &[String]) -> i32 {
    const HELP: &str = "Usage: caravan acl token delete <token_accessor_id>

  Delete is used to delete an existing ACL token.
";
    let Ok((parsed, client)) = start(FlagSet::new(), args, HELP, 1, "<token_accessor_id>") else {
        return 1;
    };
    let accessor = &parsed.args[0];
    meta::finish(
        client.run(|api| api.acl_token_delete(accessor)),
        "Error deleting token",
        |()| meta::out(&format!("Token {accessor} successfully deleted")),
    )
}

fn token_info(args: &[String]) -> i32 {
    const HELP: &str = "Usage: caravan acl token info <token_accessor_id>

  Info is used to fetch information on an existing ACL token.
";
    let set = FlagSet::new().bools(&["json"]);
    let Ok((parsed, client)) = start(set, args, HELP, 1, "<token_accessor_id>") else {
        return 1;
    };
    meta::finish(
        client.run(|api| api.acl_token(&parsed.args[0])),
        "Error fetching token",
        |token| print_json_or(&parsed, &token, render_token(&token)),
    )
}

fn token_self(args: &[String]) -> i32 {
    const HELP: &str = "Usage: caravan acl token self

  Self is used to fetch information about the currently set ACL token.
";
    let set = FlagSet::new().bools(&["json"]);
    let Ok((parsed, client)) = start(set, args, HELP, 0, "") else {
        return 1;
    };
    meta::finish(
        client.run(|api| api.acl_token_self()),
        "Error fetching self token",
        |token| print_json_or(&parsed, &token, render_token(&token)),
    )
}

fn token_list(args: &[String]) -> i32 {
    const HELP: &str = "Usage: caravan acl token list

  List is used to list existing ACL tokens.
";
    let set = FlagSet::new().bools(&["json"]);
    let Ok((parsed, client)) = start(set, args, HELP, 0, "") else {
        return 1;
    };
    meta::finish(
        client.run(|api| api.acl_tokens()),
        "Error fetching tokens",
        |tokens| {
            let now = crate::time_format::now_nanos();
            print_json_or(&parsed, &tokens, render_token_list(&tokens, now));
        },
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_token_renders_as_nomad_prints_it() {
        let token = AclToken {
            accessor_id: "1b60edc8".into(),
            secret_id: "e4c7c80e".into(),
            name: "example-acl-token".into(),
            r#type: "client".into(),
            policies: vec!["example-acl-policy".into()],
            create_time: 1_661_257_055_450_672_930,
            expiration_time: Some(1_661_285_855_450_672_930),
            create_index: 142,
            modify_index: 142,
            ..AclToken::default()
        };
        assert_eq!(
            render_token(&token),
            "Accessor ID  = 1b60edc8
Secret ID    = e4c7c80e
Name         = example-acl-token
Type         = client
Global       = false
Create Time  = 2022-08-23 12:17:35.45067293 +0000 UTC
Expiry Time  = 2022-08-23 20:17:35.45067293 +0000 UTC
Create Index = 142
Modify Index = 142
Policies     = [example-acl-policy]

Roles
<none>"
        );
    }

    #[test]
    fn empty_lists_say_so() {
        assert_eq!(render_policy_list(&[]), "No policies found");
        assert_eq!(render_token_list(&[], 0), "No tokens found");
    }
}

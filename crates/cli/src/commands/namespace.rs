//! `caravan namespace` (Nomad's `command/namespace_*.go`): apply, list, status, inspect
//! and delete namespaces.

use caravan_structs::acl::Namespace;

use crate::api_client::ApiClient;
use crate::columnize::{format_kv, format_list};
use crate::flags::{FlagSet, Parsed};
use crate::meta;

/// `caravan namespace` without a subcommand.
pub const NAMESPACE_USAGE: &str = "Usage: caravan namespace <subcommand> [options] [args]

  This command groups subcommands for interacting with namespaces. Namespaces
  allow jobs and their associated objects to be segmented from each other and
  other users of the cluster.

Subcommands:
    apply      Create or update a namespace
    delete     Delete a namespace
    inspect    Inspect a namespace
    list       List namespaces
    status     Display a namespace's status";

/// `namespace list`.
pub fn render_list(namespaces: &[Namespace]) -> String {
    if namespaces.is_empty() {
        return "No namespaces found".to_string();
    }
    let mut rows = vec!["Name|Description".to_string()];
    rows.extend(
        namespaces
            .iter()
            .map(|n| format!("{}|{}", n.name, n.description)),
    );
    format_list(&rows)
}

/// `namespace status`.
pub fn render_status(namespace: &Namespace, ui: &meta::Ui) -> String {
    let quota = if namespace.quota.is_empty() {
        "<none>"
    } else {
        &namespace.quota
    };
    let rows = vec![
        format!("Name|{}", namespace.name),
        format!("Description|{}", namespace.description),
        format!("Quota|{quota}"),
    ];
    let mut text = format_kv(&rows);
    if !namespace.meta.is_empty() {
        let meta: Vec<String> = namespace
            .meta
            .iter()
            .map(|(k, v)| format!("{k}|{v}"))
            .collect();
        text.push_str(&format!(
            "\n\n{}\n{}",
            ui.bold("Metadata"),
            format_kv(&meta)
        ));
    }
    text
}

/// Runs `namespace <args>`.
pub fn run(args: &[String]) -> i32 {
    let rest = args.get(1..).unwrap_or_default().to_vec();
    match args.first().map(String::as_str) {
        Some("apply") => apply(&rest),
        Some("delete") => delete(&rest),
        Some("inspect") => inspect(&rest),
        Some("list") => list(&rest),
        Some("status") => status(&rest),
        _ => {
            meta::err(NAMESPACE_USAGE);
            1
        }
    }
}

/// Parses a command's flags, takes its one argument (the namespace) and connects;
/// `Err` is the exit code, already reported.
fn start(
    set: FlagSet,
    args: &[String],
    help: &str,
    command: &str,
) -> Result<(Parsed, ApiClient, String), i32> {
    let parsed = meta::parse(set, args, help)?;
    let [name] = parsed.args.as_slice() else {
        meta::err("This command takes one argument: <namespace>");
        meta::err(&meta::help_hint(command));
        return Err(1);
    };
    let name = name.clone();
    let client = meta::client(&parsed)?;
    Ok((parsed, client, name))
}

fn apply(args: &[String]) -> i32 {
    const HELP: &str = "Usage: caravan namespace apply [options] <namespace>

  Apply is used to create or update a namespace.

Apply Options:

  -description
    An optional description for the namespace.
";
    let set = FlagSet::new().strings(&["description", "quota"]);
    let Ok((parsed, client, name)) = start(set, args, HELP, "namespace apply") else {
        return 1;
    };
    let result = client.run(|api| async {
        // An update keeps what the flags do not set.
        let mut namespace = match api.namespace(&name).await {
            Ok(existing) => existing,
            Err(_) => Namespace {
                name: name.clone(),
                ..Namespace::default()
            },
        };
        if let Some(description) = parsed.string("description") {
            namespace.description = description.to_string();
        }
        if let Some(quota) = parsed.string("quota") {
            namespace.quota = quota.to_string();
        }
        api.namespace_upsert(&namespace).await
    });
    meta::finish(result, "Error applying namespace specification", |()| {
        meta::out(&format!("Successfully applied namespace \"{name}\"!"))
    })
}

fn delete(args: &[String]) -> i32 {
    const HELP: &str = "Usage: caravan namespace delete [options] <namespace>

  Delete is used to remove a namespace.
";
    let Ok((_, client, name)) = start(FlagSet::new(), args, HELP, "namespace delete") else {
        return 1;
    };
    meta::finish(
        client.run(|api| api.namespace_delete(&name)),
        "Error deleting namespace",
        |()| meta::out(&format!("Successfully deleted namespace \"{name}\"!")),
    )
}

fn inspect(args: &[String]) -> i32 {
    const HELP: &str = "Usage: caravan namespace inspect [options] <namespace>

  Inspect is used to view raw information about a particular namespace.
";
    let Ok((_, client, name)) = start(FlagSet::new(), args, HELP, "namespace inspect") else {
        return 1;
    };
    meta::finish(
        client.run(|api| api.namespace(&name)),
        "Error retrieving namespace",
        |namespace| meta::out(&meta::json_pretty(&namespace)),
    )
}

fn list(args: &[String]) -> i32 {
    const HELP: &str = "Usage: caravan namespace list [options]

  List is used to list available namespaces.

List Options:

  -json
    Output the namespaces in a JSON format.
";
    let parsed = match meta::parse(FlagSet::new().bools(&["json"]), args, HELP) {
        Ok(p) => p,
        Err(code) => return code,
    };
    let Ok(client) = meta::client(&parsed) else {
        return 1;
    };
    match client.run(|api| api.namespaces("")) {
        Ok(namespaces) if parsed.bool("json") => {
            meta::out(&meta::json_pretty(&namespaces));
            0
        }
        Ok(namespaces) => {
            meta::out(&render_list(&namespaces));
            0
        }
        Err(e) => {
            meta::err(&format!("Error retrieving namespaces: {e}"));
            1
        }
    }
}

fn status(args: &[String]) -> i32 {
    const HELP: &str = "Usage: caravan namespace status [options] <namespace>

  Status is used to view the status of a particular namespace.
";
    let Ok((parsed, client, name)) = start(FlagSet::new(), args, HELP, "namespace status") else {
        return 1;
    };
    let ui = meta::Ui::from_flags(&parsed);
    meta::finish(
        client.run(|api| api.namespace(&name)),
        "Error retrieving namespace",
        |namespace| meta::out(&render_status(&namespace, &ui)),
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn list_and_status_render_as_nomad_prints_them() {
        let default = Namespace::default_namespace();
        assert_eq!(
            render_list(std::slice::from_ref(&default)),
            "Name     Description\ndefault  Default shared namespace"
        );
        assert_eq!(
            render_status(&default, &meta::Ui::plain()),
            "Name        = default\nDescription = Default shared namespace\nQuota       = <none>"
        );
    }
}

//! `caravan namespace` (Nomad's `command/namespace_*.go`): apply, list, status, inspect
//! and delete namespaces.

use caravan_structs::acl::Namespace;

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

fn one_argument(parsed: &Parsed, command: &str) -> Result<String, i32> {
    match parsed.args.as_slice() {
        [name] => Ok(name.clone()),
        _ => {
            meta::err("This command takes one argument: <namespace>");
            meta::err(&meta::help_hint(command));
            Err(1)
        }
    }
}

fn apply(args: &[String]) -> i32 {
    const HELP: &str = "Usage: caravan namespace apply [options] <namespace>

  Apply is used to create or update a namespace.

Apply Options:

  -description
    An optional description for the namespace.
";
    let parsed = match meta::parse(
        FlagSet::new().strings(&["description", "quota"]),
        args,
        HELP,
    ) {
        Ok(p) => p,
        Err(code) => return code,
    };
    let Ok(name) = one_argument(&parsed, "namespace apply") else {
        return 1;
    };
    let Ok(client) = meta::client(&parsed) else {
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
    match result {
        Ok(()) => {
            meta::out(&format!("Successfully applied namespace \"{name}\"!"));
            0
        }
        Err(e) => {
            meta::err(&format!("Error applying namespace specification: {e}"));
            1
        }
    }
}

fn delete(args: &[String]) -> i32 {
    const HELP: &str = "Usage: caravan namespace delete [options] <namespace>

  Delete is used to remove a namespace.
";
    let parsed = match meta::parse(FlagSet::new(), args, HELP) {
        Ok(p) => p,
        Err(code) => return code,
    };
    let Ok(name) = one_argument(&parsed, "namespace delete") else {
        return 1;
    };
    let Ok(client) = meta::client(&parsed) else {
        return 1;
    };
    match client.run(|api| api.namespace_delete(&name)) {
        Ok(()) => {
            meta::out(&format!("Successfully deleted namespace \"{name}\"!"));
            0
        }
        Err(e) => {
            meta::err(&format!("Error deleting namespace: {e}"));
            1
        }
    }
}

fn inspect(args: &[String]) -> i32 {
    const HELP: &str = "Usage: caravan namespace inspect [options] <namespace>

  Inspect is used to view raw information about a particular namespace.
";
    let parsed = match meta::parse(FlagSet::new(), args, HELP) {
        Ok(p) => p,
        Err(code) => return code,
    };
    let Ok(name) = one_argument(&parsed, "namespace inspect") else {
        return 1;
    };
    let Ok(client) = meta::client(&parsed) else {
        return 1;
    };
    match client.run(|api| api.namespace(&name)) {
        Ok(namespace) => {
            meta::out(&meta::json_pretty(&namespace));
            0
        }
        Err(e) => {
            meta::err(&format!("Error retrieving namespace: {e}"));
            1
        }
    }
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
    let parsed = match meta::parse(FlagSet::new(), args, HELP) {
        Ok(p) => p,
        Err(code) => return code,
    };
    let Ok(name) = one_argument(&parsed, "namespace status") else {
        return 1;
    };
    let Ok(client) = meta::client(&parsed) else {
        return 1;
    };
    let ui = meta::Ui::from_flags(&parsed);
    match client.run(|api| api.namespace(&name)) {
        Ok(namespace) => {
            meta::out(&render_status(&namespace, &ui));
            0
        }
        Err(e) => {
            meta::err(&format!("Error retrieving namespace: {e}"));
            1
        }
    }
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

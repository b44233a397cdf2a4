//! `caravan var` (Nomad's `command/var_*.go`): put, get, list and purge variables;
//! `var lock` is in `var_lock.rs`, the renderings in `var_format.rs`.

use std::collections::BTreeMap;
use std::io::{IsTerminal, Read};

use caravan_api_client::VariableWrite;
use caravan_structs::Variable;

use crate::commands::var_format::{
    INVALID_OUT_FORMAT, WILDCARD_NAMESPACE, render_cas_conflict, render_hcl, render_json,
    render_list, render_quiet_list, render_table,
};
use crate::flags::{FlagSet, Parsed};
use crate::meta;

/// `caravan var` without a subcommand.
pub const VAR_USAGE: &str = "Usage: caravan var <subcommand> [options] [args]

  This command groups subcommands for interacting with variables. Variables
  allow operators to provide credentials and otherwise sensitive material to
  Nomad jobs at runtime via the template block or directly through
  the Nomad API and CLI.

  Upsert a variable:

      $ caravan var put <path>

  Examine a variable:

      $ caravan var get <path>

  List existing variables:

      $ caravan var list <prefix>

  Purge a variable:

      $ caravan var purge <path>

  Hold a lock on a variable while a command runs:

      $ caravan var lock <path> <command>...

  Please see the individual subcommand help for detailed usage information.";

/// Runs `var <args>`.
pub fn run(args: &[String]) -> i32 {
    let rest = args.get(1..).unwrap_or_default().to_vec();
    match args.first().map(String::as_str) {
        Some("put") => put(&rest),
        Some("get") => get(&rest),
        Some("list") => list(&rest),
        Some("purge") => purge(&rest),
        Some("lock") => crate::commands::var_lock::run(&rest),
        Some("-h" | "-help" | "--help") => {
            meta::out(VAR_USAGE);
            0
        }
        _ => {
            meta::err(VAR_USAGE);
            1
        }
    }
}

/// The namespace a command acts in: `-namespace`, else `NOMAD_NAMESPACE`, else none.
pub(crate) fn namespace(parsed: &Parsed) -> String {
    parsed
        .string("namespace")
        .map(str::to_string)
        .or_else(|| meta::env_var("NOMAD_NAMESPACE"))
        .unwrap_or_default()
}

/// `-out`'s default: for a terminal what a person reads, else JSON for a program.
fn out_format(parsed: &Parsed, terminal_default: &str) -> String {
    match parsed.string("out") {
        Some(out) => out.to_string(),
        None if std::io::stdout().is_terminal() => terminal_default.to_string(),
        None => "json".to_string(),
    }
}

/// Nomad's `parseCheckIndex`: none when empty, else a `u64`.
pub(crate) fn check_index(text: Option<&str>) -> Result<Option<u64>, String> {
    match text {
        None | Some("") => Ok(None),
        Some(text) => text
            .parse::<u64>()
            .map(Some)
            .map_err(|_| format!("Invalid -check-index value {text:?}: not parsable as uint64")),
    }
}

/// Prints the check-and-set conflict as Nomad does; the exit code.
pub(crate) fn conflict(check_index: u64, variable: &Variable) -> i32 {
    eprint!("{}", render_cas_conflict(check_index, variable));
    meta::err("");
    1
}

/// Nomad's `isArgFileRef`.
fn file_ref(arg: &str) -> Option<&str> {
    arg.strip_prefix('@')
}

/// A variable specification (`-` or `@file`), JSON or HCL.
pub(crate) fn read_spec(contents: &str, format: &str) -> Result<Variable, String> {
    match format {
        "json" => caravan_structs::json::from_slice_lenient(contents.as_bytes())
            .map_err(|e| format!("error unmarshaling json: {e}")),
        "hcl" => hcl_spec(contents).map_err(|e| format!("error parsing hcl: {e}")),
        _ => Err("unknown format flag value".to_string()),
    }
}

fn hcl_spec(contents: &str) -> Result<Variable, String> {
    let body = caravan_jobspec::hcl1::parse("variable", contents).map_err(|e| e.to_string())?;
    body.check_keys(
        "a variable specification",
        &[],
        &[
            "namespace",
            "path",
            "create_index",
            "modify_index",
            "create_time",
            "modify_time",
            "items",
        ],
    )
    .map_err(|e| e.to_string())?;
    let mut variable = Variable::default();
    let text = |key: &str| -> Result<Option<String>, String> {
        body.get(key)
            .map(|item| body.value_string(key, &item.value))
            .transpose()
            .map_err(|e| e.to_string())
    };
    let number = |key: &str| -> Result<i64, String> {
        Ok(match text(key)? {
            Some(n) => n
                .parse()
                .map_err(|_| format!("{key} must be integer; got {n:?}"))?,
            None => 0,
        })
    };
    variable.namespace = text("namespace")?.unwrap_or_default();
    variable.path = text("path")?.unwrap_or_default();
    variable.create_index = number("create_index")?.max(0) as u64;
    variable.modify_index = number("modify_index")?.max(0) as u64;
    variable.create_time = number("create_time")?;
    variable.modify_time = number("modify_time")?;
    if let Some(item) = body.get("items") {
        variable.items = body
            .value_string_map("items", &item.value)
            .map_err(|e| e.to_string())?
            .into_iter()
            .collect();
    }
    Ok(variable)
}

/// The format a spec file's extension names (Nomad's `setParserForFileArg`).
fn spec_format(path: &str) -> Result<&'static str, String> {
    match std::path::Path::new(path)
        .extension()
        .and_then(|e| e.to_str())
    {
        Some("json") => Ok("json"),
        Some("hcl") => Ok("hcl"),
        _ => Err(format!(
            "Unable to determine format of {path}; Use the -in flag to specify it."
        )),
    }
}

/// Nomad's `KVBuilder`: `key=value`, `key=@file`, `key=-` (stdin), `key=\@literal`.
/// An empty value removes the item.
pub(crate) fn apply_pairs(
    items: &mut BTreeMap<String, String>,
    pairs: &[String],
) -> Result<(), String> {
    let mut stdin_used = false;
    for pair in pairs {
        let Some((key, value)) = pair.split_once('=') else {
            return Err(format!(
                "invalid key/value pair {pair:?}: format must be key=value"
            ));
        };
        let value = if let Some(file) = value.strip_prefix('@') {
            std::fs::read_to_string(file)
                .map_err(|e| format!("invalid key/value pair {pair:?}: error reading file: {e}"))?
        } else if let Some(literal) = value.strip_prefix('\\').filter(|v| v.starts_with('@')) {
            literal.to_string()
        } else if value == "-" {
            if stdin_used {
                return Err(format!(
                    "invalid key/value pair {pair:?}: stdin already consumed"
                ));
            }
            stdin_used = true;
            let mut text = String::new();
            std::io::stdin()
                .read_to_string(&mut text)
                .map_err(|e| format!("invalid key/value pair {pair:?}: {e}"))?;
            text
        } else {
            value.to_string()
        };
        if value.is_empty() {
            items.remove(key);
        } else {
            items.insert(key.to_string(), value);
        }
    }
    Ok(())
}

fn put(args: &[String]) -> i32 {
    const HELP: &str = "Usage:
caravan var put [options] <variable spec file reference> [<key>=<value>]...
caravan var put [options] <path to store variable> [<variable spec file reference>] [<key>=<value>]...

  The 'var put' command is used to create or update an existing variable.
  Variable metadata and items can be supplied using a variable specification,
  by using command arguments, or by a combination of the two techniques.

  If ACLs are enabled, this command requires the 'variables:write' capability
  for the destination namespace and path.

Apply Options:

  -check-index
     If set, the variable is only acted upon if the server-side version's index
     matches the provided value. When a variable specification contains
     a modify index, that modify index is used as the check-index for the
     check-and-set operation and can be overridden using this flag.

  -force
     Perform this operation regardless of the state or index of the variable
     on the server-side.

  -in (hcl | json)
     Parser to use for data supplied via standard input or when the variable
     specification's type can not be known using the file extension. Defaults
     to \"json\".

  -out (hcl | json | none | table)
     Format to render created or updated variable. Defaults to \"none\" when
     stdout is a terminal and \"json\" when the output is redirected.

  -verbose
     Provides additional information via standard error to preserve standard
     output (stdout) for redirected output.
";
    let set = FlagSet::new().bools(&["force", "verbose"]).strings(&[
        "check-index",
        "in",
        "out",
        "template",
    ]);
    let parsed = match meta::parse(set, args, HELP) {
        Ok(p) => p,
        Err(code) => return code,
    };
    let verbose = |msg: &str| {
        if parsed.bool("verbose") {
            meta::err(msg);
        }
    };
    let check = match check_index(parsed.string("check-index")) {
        Ok(c) => c,
        Err(e) => {
            meta::err(&format!(
                "Error parsing check-index value {:?}: {e}",
                parsed.string("check-index").unwrap_or_default()
            ));
            return 1;
        }
    };
    let namespace = namespace(&parsed);
    if namespace == "*" {
        meta::err(WILDCARD_NAMESPACE);
        return 1;
    }
    let positional = &parsed.args;
    match positional.as_slice() {
        [] => {
            meta::err(&format!(
                "Not enough arguments (expected >1, got {})",
                positional.len()
            ));
            meta::err(&meta::help_hint("var put"));
            return 1;
        }
        [only] if only != "-" && file_ref(only).is_none() => {
            meta::err("Must supply data");
            meta::err(&meta::help_hint("var put"));
            return 1;
        }
        _ => {}
    }
    let mut in_format = parsed.string("in").unwrap_or("json").to_string();
    if in_format != "json" && in_format != "hcl" {
        meta::err("Invalid value for \"-in\"; valid values are [hcl, json]");
        meta::err(&meta::help_hint("var put"));
        return 1;
    }
    let out = out_format(&parsed, "none");
    if !matches!(out.as_str(), "none" | "json" | "hcl" | "table") {
        meta::err(INVALID_OUT_FORMAT);
        meta::err(&meta::help_hint("var put"));
        return 1;
    }
    // The first argument: a spec from stdin or a file, or the path.
    let mut path = String::new();
    let mut contents = None;
    let mut rest: &[String] = &positional[1..];
    let first = &positional[0];
    let read_file = |file: &str, format: &mut String| -> Result<String, String> {
        *format = spec_format(file)?.to_string();
        std::fs::read_to_string(file).map_err(|e| format!("Error reading {file:?}: {e}"))
    };
    if first == "-" {
        let mut text = String::new();
        if let Err(e) = std::io::stdin().read_to_string(&mut text) {
            meta::err(&format!("Error reading from stdin: {e}"));
            return 1;
        }
        verbose(&format!(
            "Reading whole {} variable specification from stdin",
            in_format.to_uppercase()
        ));
        contents = Some(text);
    } else if let Some(file) = file_ref(first) {
        match read_file(file, &mut in_format) {
            Ok(text) => contents = Some(text),
            Err(e) => {
                meta::err(&e);
                return 1;
            }
        }
    } else {
        path = first.trim().trim_matches('/').to_string();
        verbose(&format!("Writing to path {path:?}"));
        if let Some(file) = rest.first().and_then(|a| file_ref(a)) {
            match read_file(file, &mut in_format) {
                Ok(text) => contents = Some(text),
                Err(e) => {
                    meta::err(&e);
                    return 1;
                }
            }
            rest = &rest[1..];
        }
    }
    let mut variable = match &contents {
        None => Variable {
            path: path.clone(),
            namespace: namespace.clone(),
            ..Variable::default()
        },
        Some(text) => match read_spec(text, &in_format) {
            Ok(mut spec) => {
                // Another namespace or path than the spec's: a copy, so no indexes.
                let moved = (!namespace.is_empty() && namespace != spec.namespace)
                    || (!path.is_empty() && path != spec.path);
                if !namespace.is_empty() {
                    spec.namespace = namespace.clone();
                }
                if !path.is_empty() {
                    spec.path = path.clone();
                }
                if moved {
                    spec.create_index = 0;
                    spec.modify_index = 0;
                    spec.create_time = 0;
                    spec.modify_time = 0;
                }
                spec
            }
            Err(e) => {
                meta::err(&format!("Failed to parse variable data: {e}"));
                return 1;
            }
        },
    };
    if let Err(e) = apply_pairs(&mut variable.items, rest) {
        meta::err(&format!("Failed to parse K=V data: {e}"));
        return 1;
    }
    if let Some(index) = check {
        variable.modify_index = index;
    }
    let Ok(client) = meta::client(&parsed) else {
        return 1;
    };
    // Nomad's `CheckedUpdate`: without -force the variable's modify index (0 for a
    // new one) is the check-and-set index.
    let cas = (!parsed.bool("force")).then_some(variable.modify_index);
    let written = match client.run(|api| api.variable_put(&variable, cas)) {
        Ok(VariableWrite::Written(v)) => v,
        Ok(VariableWrite::Conflict(current)) => return conflict(cas.unwrap_or(0), &current),
        Err(e) => {
            meta::err(&format!("Error creating variable: {e}"));
            return 1;
        }
    };
    let success = format!(
        "Created variable {:?} with modify index {}",
        written.path, written.modify_index
    );
    match out.as_str() {
        "json" => {
            verbose(&success);
            meta::out(&render_json(&written));
        }
        "hcl" => {
            verbose(&success);
            meta::out(&render_hcl(&written));
        }
        "table" => {
            verbose(&success);
            meta::out(&render_table(&written, &meta::Ui::from_flags(&parsed)));
        }
        _ => meta::out(&success),
    }
    0
}

fn get(args: &[String]) -> i32 {
    const HELP: &str = "Usage: caravan var get [options] <path>

  The 'var get' command is used to get the contents of an existing variable.

  If ACLs are enabled, this command requires a token with the 'variables:read'
  capability for the target variable's namespace and path.

Get Options:

  -item <item key>
     Print only the value of the given item. Specifying this option will
     take precedence over other formatting directives. The result will not
     have a trailing newline making it ideal for piping to other processes.

  -out ( hcl | json | none | table )
     Format to render the variable in. Defaults to \"table\" when stdout is a
     terminal and to \"json\" when stdout is redirected.
";
    let set = FlagSet::new().strings(&["item", "out"]);
    let parsed = match meta::parse(set, args, HELP) {
        Ok(p) => p,
        Err(code) => return code,
    };
    let [path] = parsed.args.as_slice() else {
        meta::err("This command takes one argument: <path>");
        meta::err(&meta::help_hint("var get"));
        return 1;
    };
    let out = out_format(&parsed, "table");
    if !matches!(out.as_str(), "none" | "json" | "hcl" | "table") {
        meta::err(INVALID_OUT_FORMAT);
        meta::err(&meta::help_hint("var get"));
        return 1;
    }
    if namespace(&parsed) == "*" {
        meta::err(WILDCARD_NAMESPACE);
        return 1;
    }
    let Ok(client) = meta::client(&parsed) else {
        return 1;
    };
    let variable = match client.run(|api| api.variable(path)) {
        Ok(v) => v,
        Err(caravan_api_client::Error::Status { code: 404, .. }) => {
            meta::err("Variable not found");
            return 1;
        }
        Err(e) => {
            meta::err(&format!("Error retrieving variable: {e}"));
            return 1;
        }
    };
    if let Some(item) = parsed.string("item").filter(|i| !i.is_empty()) {
        return match variable.items.get(item) {
            Some(value) => {
                use std::io::Write;
                let _ = write!(std::io::stdout(), "{value}");
                0
            }
            None => {
                meta::err(&format!("Variable does not contain {item:?} item"));
                1
            }
        };
    }
    match out.as_str() {
        "json" => meta::out(&render_json(&variable)),
        "hcl" => meta::out(&render_hcl(&variable)),
        "none" => {}
        _ => meta::out(&render_table(&variable, &meta::Ui::from_flags(&parsed))),
    }
    0
}

fn list(args: &[String]) -> i32 {
    const HELP: &str = "Usage: caravan var list [options] <prefix>

  List is used to list available variables. Supplying an optional prefix,
  filters the list to variables having a path starting with the prefix.

  If ACLs are enabled, this command will return only variables stored at
  namespaced paths where the token has the 'var:list' capability.

List Options:

  -json
    Output the variables in JSON format.

  -q
    Output matching variable paths with no additional information.
";
    // Nomad's -filter, -per-page, -page-token and -t are not offered: the flag parser
    // refuses them by name rather than ignoring them.
    let set = FlagSet::new().bools(&["json", "q"]);
    let parsed = match meta::parse(set, args, HELP) {
        Ok(p) => p,
        Err(code) => return code,
    };
    if parsed.args.len() > 1 {
        meta::err("This command takes flags and either no arguments or one: <prefix>");
        meta::err(&meta::help_hint("var list"));
        return 1;
    }
    let prefix = parsed.args.first().cloned().unwrap_or_default();
    let Ok(client) = meta::client(&parsed) else {
        return 1;
    };
    let variables = match client.run(|api| api.variables(&prefix)) {
        Ok(v) => v,
        Err(e) => {
            meta::err(&format!("Error retrieving vars: {e}"));
            return 1;
        }
    };
    let namespace = namespace(&parsed);
    match (parsed.bool("json"), parsed.bool("q")) {
        (true, true) => {
            let paths: Vec<serde_json::Value> = variables
                .iter()
                .map(|v| {
                    if namespace == "*" {
                        serde_json::json!({"Namespace": v.namespace, "Path": v.path})
                    } else {
                        serde_json::Value::String(v.path.clone())
                    }
                })
                .collect();
            meta::out(&meta::json_pretty(&paths));
        }
        (true, false) => meta::out(&meta::json_pretty(&variables)),
        (false, true) => meta::out(&render_quiet_list(&variables, &namespace)),
        (false, false) => meta::out(&render_list(&variables)),
    }
    0
}

fn purge(args: &[String]) -> i32 {
    const HELP: &str = "Usage: caravan var purge [options] <path>

  Purge is used to permanently delete an existing variable.

  If ACLs are enabled, this command requires a token with the 'variables:destroy'
  capability for the target variable's namespace and path.

Purge Options:

  -check-index
    If set, the variable is only acted upon if the server side version's modify
    index matches the provided value.
";
    let parsed = match meta::parse(FlagSet::new().strings(&["check-index"]), args, HELP) {
        Ok(p) => p,
        Err(code) => return code,
    };
    let [path] = parsed.args.as_slice() else {
        meta::err("This command takes one argument: <path>");
        meta::err(&meta::help_hint("var purge"));
        return 1;
    };
    let check = match check_index(parsed.string("check-index")) {
        Ok(c) => c,
        Err(e) => {
            meta::err(&e);
            return 1;
        }
    };
    if namespace(&parsed) == "*" {
        meta::err(WILDCARD_NAMESPACE);
        return 1;
    }
    let Ok(client) = meta::client(&parsed) else {
        return 1;
    };
    match client.run(|api| api.variable_delete(path, check)) {
        Ok(VariableWrite::Written(_)) => {
            meta::out(&format!("Successfully purged variable {path:?}!"));
            0
        }
        Ok(VariableWrite::Conflict(current)) => conflict(check.unwrap_or(0), &current),
        Err(e) => {
            meta::err(&format!("Error purging variable: {e}"));
            1
        }
    }
}

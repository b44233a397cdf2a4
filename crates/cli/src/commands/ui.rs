//! `caravan ui` (Nomad's `command/ui.go`): opens the web UI in a browser, at the page
//! of a job, allocation or node when given its ID (or a prefix of exactly one).

use crate::flags::FlagSet;
use crate::meta;

const HELP: &str = "Usage: caravan ui [options] <identifier>

  Open the Caravan web UI in the default browser. An optional identifier may be
  provided, in which case the UI will be opened to view the details for that
  object. Supported identifiers are jobs, allocations and nodes.

UI Options

  -show-url
    Show the UI URL instead of opening it with the default browser.

  -authenticate
    Exchange your ACL token for a one-time token in the web UI.
";

/// What kinds of objects have a page, in the order Nomad looks for them.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum UiContext {
    Nodes,
    Allocs,
    Jobs,
}

impl UiContext {
    fn title(self) -> &'static str {
        match self {
            UiContext::Nodes => "Nodes",
            UiContext::Allocs => "Allocs",
            UiContext::Jobs => "Jobs",
        }
    }

    /// The page of the object `id` of this kind, under the UI's root.
    pub fn page(self, id: &str) -> String {
        match self {
            UiContext::Nodes => format!("/ui/clients/{id}"),
            UiContext::Allocs => format!("/ui/allocations/{id}"),
            UiContext::Jobs => format!("/ui/jobs/{id}"),
        }
    }
}

/// Picks the one object `id` names among each kind's prefix matches: an exact ID wins,
/// otherwise exactly one match overall. The error is Nomad's text.
pub fn resolve(
    id: &str,
    matches: &[(UiContext, Vec<String>)],
) -> Result<(UiContext, String), String> {
    for (context, ids) in matches {
        if ids.iter().any(|found| found == id) {
            return Ok((*context, id.to_string()));
        }
    }
    let found: Vec<(UiContext, &String)> = matches
        .iter()
        .flat_map(|(context, ids)| ids.iter().map(move |found| (*context, found)))
        .collect();
    match found.as_slice() {
        [] => Err(format!("Unable to resolve ID: {id:?}")),
        [(context, found)] => Ok((*context, found.to_string())),
        _ => {
            let mut text = format!("Multiple matches found for id {id:?}");
            for (context, ids) in matches.iter().filter(|(_, ids)| !ids.is_empty()) {
                text.push_str(&format!("\n\n{}:\n{}", context.title(), ids.join(", ")));
            }
            Err(text)
        }
    }
}

/// Opens `url` with the desktop's opener; `false` when there is none to run.
fn open_in_browser(url: &str) -> bool {
    let opener = if cfg!(target_os = "macos") {
        "open"
    } else {
        "xdg-open"
    };
    std::process::Command::new(opener)
        .arg(url)
        .stdin(std::process::Stdio::null())
        .stdout(std::process::Stdio::null())
        .stderr(std::process::Stdio::null())
        .spawn()
        .is_ok()
}

/// `caravan ui [-show-url] [<identifier>]`.
pub fn run(args: &[String]) -> i32 {
    let flags = FlagSet::new().bools(&["show-url", "authenticate"]);
    let parsed = match meta::parse(flags, args, HELP) {
        Ok(p) => p,
        Err(code) => return code,
    };
    if parsed.args.len() > 1 {
        meta::err("This command takes no or one optional argument, [<identifier>]");
        meta::err(&meta::help_hint("ui"));
        return 1;
    }
    if parsed.bool("authenticate") {
        meta::err(
            "-authenticate needs one-time ACL tokens, which Caravan does not have: open the UI and sign in with your token",
        );
        return 1;
    }
    let client = match meta::client(&parsed) {
        Ok(c) => c,
        Err(code) => return code,
    };
    let mut url = client.address().trim_end_matches('/').to_string();
    if let Some(id) = parsed.args.first() {
        let lookups = client.run(|api| async move {
            // A job ID is any text; node and allocation prefixes a server may refuse
            // (not hexadecimal), which only means none of those match.
            let jobs = api.jobs(id).await?.value;
            let nodes = api.nodes(id).await.map(|n| n.value).unwrap_or_default();
            let allocs = api
                .allocations(id)
                .await
                .map(|a| a.value)
                .unwrap_or_default();
            Ok::<_, caravan_api_client::Error>(vec![
                (
                    UiContext::Nodes,
                    nodes.into_iter().map(|n| n.id.to_string()).collect(),
                ),
                (
                    UiContext::Allocs,
                    allocs.into_iter().map(|a| a.id.to_string()).collect(),
                ),
                (
                    UiContext::Jobs,
                    jobs.into_iter().map(|j| j.id.to_string()).collect(),
                ),
            ])
        });
        let matches = match lookups {
            Ok(matches) => matches,
            Err(e) => {
                meta::err(&format!("Error querying search with id: {e}"));
                return 1;
            }
        };
        match resolve(id, &matches) {
            Ok((context, full_id)) => url.push_str(&context.page(&full_id)),
            Err(message) => {
                meta::err(&message);
                return 1;
            }
        }
    }
    if parsed.bool("show-url") {
        meta::out(&format!("URL for web UI: {url}"));
        return 0;
    }
    meta::out(&format!("Opening URL {url:?}"));
    if !open_in_browser(&url) {
        // A server or a container has no browser: the URL above is the answer.
        meta::err("No browser opener (xdg-open) found: open the URL above in a browser.");
    }
    0
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn an_exact_id_wins_and_a_unique_prefix_resolves() {
        let matches = vec![
            (UiContext::Nodes, vec![]),
            (UiContext::Allocs, vec!["d4005969-b16f".to_string()]),
            (UiContext::Jobs, vec![]),
        ];
        assert_eq!(
            resolve("d400", &matches),
            Ok((UiContext::Allocs, "d4005969-b16f".into()))
        );
        let jobs = vec![(UiContext::Jobs, vec!["web".to_string(), "web2".to_string()])];
        assert_eq!(resolve("web", &jobs), Ok((UiContext::Jobs, "web".into())));
        assert_eq!(
            resolve("w", &jobs),
            Err("Multiple matches found for id \"w\"\n\nJobs:\nweb, web2".into())
        );
        assert_eq!(
            resolve("zz", &[]),
            Err("Unable to resolve ID: \"zz\"".into())
        );
    }
}

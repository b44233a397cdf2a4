//! `caravan job history` (Nomad's `command/job_history.go`): a job's versions, newest
//! first, optionally with the diff from each one's predecessor (`-p`) and the full job
//! (`-full`).

use caravan_api_types::JobVersionsResponse;
use caravan_structs::Job;
use caravan_structs::diff::JobDiff;

use crate::colorstring::color;
use crate::commands::lookup;
use crate::flags::FlagSet;
use crate::meta::{self, Ui};
use crate::plan_diff::format_job_diff;
use crate::time_format::TimeContext;

const HELP: &str = "Usage: caravan job history [options] <job>

  History is used to display the known versions of a particular job. The command
  can display the diff between job versions and can be useful for understanding
  the changes that occurred to the job as well as deciding job versions to revert
  to.

History Options:

  -p
    Display the difference between each job and its predecessor.

  -full
    Display the full job definition for each version.

  -version <job version>
    Display only the history for the given job version.

  -json
    Output the job versions in a JSON format.
";

/// Nomad's `formatJobVersion`: `Version`, `Stable`, `Submit Date`, then the diff and the
/// full job when given (columnize with `" = "` and no trimming, so the multi-line values
/// start on the next line). Colorstring markup is resolved with `ui`.
pub fn format_job_version(
    job: &Job,
    diff: Option<&JobDiff>,
    full: bool,
    ui: Ui,
    time: &TimeContext,
) -> String {
    let mut rows: Vec<(&str, String)> = vec![
        ("Version", job.version.to_string()),
        ("Stable", job.stable.to_string()),
        ("Submit Date", time.format(job.submit_time)),
    ];
    if let Some(diff) = diff {
        rows.push(("Diff", format!("\n{}", format_job_diff(diff, false).trim())));
    }
    if full {
        rows.push(("Full", format!("JSON Job:\n{}", meta::json_pretty(job))));
    }
    let width = rows.iter().map(|(k, _)| k.len()).max().unwrap_or(0);
    let text: Vec<String> = rows
        .iter()
        .map(|(key, value)| format!("{key:<width$} = {value}"))
        .collect();
    color(&text.join("\n"), ui.color)
}

/// Nomad's `formatJobVersions`: every version, separated by blank lines.
pub fn format_job_versions(
    response: &JobVersionsResponse,
    full: bool,
    ui: Ui,
    time: &TimeContext,
) -> Result<String, String> {
    let versions = &response.versions;
    let diffs = response.diffs.as_deref().unwrap_or_default();
    if !diffs.is_empty() && versions.len() != diffs.len() + 1 {
        return Err(format!(
            "Number of job versions {} doesn't match number of diffs {}",
            versions.len(),
            diffs.len()
        ));
    }
    let blocks: Vec<String> = versions
        .iter()
        .enumerate()
        .map(|(i, job)| {
            let diff = diffs.get(i).and_then(Option::as_ref);
            format_job_version(job, diff, full, ui, time)
        })
        .collect();
    Ok(blocks.join("\n\n"))
}

/// The one version `-version N` shows and the diff from its predecessor.
pub fn find_version(
    response: &JobVersionsResponse,
    version: u64,
) -> Option<(&Job, Option<&JobDiff>)> {
    let i = response
        .versions
        .iter()
        .position(|j| j.version == version)?;
    let diff = response
        .diffs
        .as_ref()
        .and_then(|diffs| diffs.get(i))
        .and_then(Option::as_ref);
    Some((&response.versions[i], diff))
}

/// Nomad's `parseVersion` error text.
pub fn parse_version(text: &str) -> Result<u64, String> {
    text.parse::<u64>().map_err(|_| {
        format!(
            "Error parsing version value {text:?}: strconv.ParseUint: parsing {text:?}: invalid syntax"
        )
    })
}

/// `caravan job history`.
pub fn run(args: &[String]) -> i32 {
    let set = FlagSet::new()
        .bools(&["p", "full", "json"])
        .strings(&["version", "t"]);
    let parsed = match meta::parse(set, args, HELP) {
        Ok(p) => p,
        Err(code) => return code,
    };
    if !(1..=2).contains(&parsed.args.len()) {
        meta::err("This command takes one argument: <job>");
        meta::err(&meta::help_hint("job history"));
        return 1;
    }
    let (json, diff, full) = (parsed.bool("json"), parsed.bool("p"), parsed.bool("full"));
    if (json || parsed.is_set("t")) && (diff || full) {
        meta::err("-json and -t are exclusive with -p and -full");
        return 1;
    }
    if parsed.is_set("t") {
        meta::err("-t (Go templates) is not supported by Caravan; use -json");
        return 1;
    }
    let client = match meta::client(&parsed) {
        Ok(c) => c,
        Err(code) => return code,
    };
    let prefix = parsed.args[0].trim();
    let job_id = match lookup::job_id_by_prefix(&client, prefix, &|_| true) {
        Ok(id) => id,
        Err(message) => {
            meta::err(&message);
            return 1;
        }
    };
    let response = match client.run(|api| api.job_versions(&job_id, diff)) {
        Ok(read) => read.value,
        Err(e) => {
            meta::err(&format!("Error retrieving job versions: {e}"));
            return 1;
        }
    };
    let ui = Ui::from_flags(&parsed);
    let time = TimeContext::system();
    if let Some(text) = parsed.string("version").filter(|t| !t.is_empty()) {
        let version = match parse_version(text) {
            Ok(v) => v,
            Err(message) => {
                meta::err(&message);
                return 1;
            }
        };
        let found = find_version(&response, version);
        if json {
            meta::out(&meta::json_pretty(&found.map(|(job, _)| job)));
            return 0;
        }
        let Some((job, diff)) = found else {
            meta::err("Error printing job history for non-existing job or job version");
            return 1;
        };
        meta::out(&format_job_version(job, diff, full, ui, &time));
        return 0;
    }
    if json {
        meta::out(&meta::json_pretty(&response.versions));
        return 0;
    }
    match format_job_versions(&response, full, ui, &time) {
        Ok(text) => {
            meta::out(&text);
            0
        }
        Err(message) => {
            meta::err(&message);
            1
        }
    }
}

#[cfg(test)]
#[path = "job_history_tests.rs"]
mod tests;

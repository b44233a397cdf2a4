//! `caravan job init` / `caravan init` (Nomad's `command/job_init.go`): writes an
//! example job file.
//!
//! Nomad's example runs redis with the docker driver; Caravan's runs a shell loop with
//! `raw_exec`, so `caravan job init && caravan job run example.nomad` works on a fresh
//! dev agent. Nomad 1.x wrote `example.nomad` (later versions `example.nomad.hcl`); the
//! workshop's commands use `example.nomad`.

use std::path::Path;

use crate::flags::FlagSet;
use crate::meta;

/// The file written when no name is given.
pub const DEFAULT_INIT_NAME: &str = "example.nomad";

/// The commented example (Nomad's `asset.JobExample`, adapted to `raw_exec`).
pub const EXAMPLE_JOB: &str = include_str!("assets/example.nomad");

/// The same job without comments (`-short`, Nomad's `asset.JobExampleShort`).
pub const EXAMPLE_JOB_SHORT: &str = include_str!("assets/example-short.nomad");

const HELP: &str = "Usage: caravan job init <filename>
Alias: caravan init <filename>

  Creates an example job file that can be used as a starting point to customize
  further. If no filename is given, the default of \"example.nomad\" will be used.

Init Options:

  -short
    If the short flag is set, a minimal jobspec without comments is emitted.

  -connect
    Nomad's Consul Connect example. Caravan has no Consul integration, so this
    flag is refused.
";

/// What `job init` writes for its flags; `Err` is the message to print.
pub fn example_for(short: bool, connect: bool) -> Result<&'static str, String> {
    if connect {
        return Err(
            "The -connect example needs Consul Connect, which Caravan does not support; run \"caravan job init\" without -connect"
                .to_string(),
        );
    }
    Ok(if short {
        EXAMPLE_JOB_SHORT
    } else {
        EXAMPLE_JOB
    })
}

/// Writes `contents` to `file_name` unless it exists. Returns the line to print on
/// success, or Nomad's error message.
pub fn write_example(file_name: &str, contents: &str) -> Result<String, String> {
    match std::fs::symlink_metadata(file_name) {
        Ok(_) => return Err(format!("Job '{file_name}' already exists")),
        Err(e) if e.kind() != std::io::ErrorKind::NotFound => {
            return Err(format!("Failed to stat '{file_name}': {e}"));
        }
        Err(_) => {}
    }
    write_new(Path::new(file_name), contents)
        .map_err(|e| format!("Failed to write '{file_name}': {e}"))?;
    Ok(format!("Example job file written to {file_name}"))
}

/// Creates the file (mode 0660 like Nomad), failing if it appeared meanwhile.
fn write_new(path: &Path, contents: &str) -> std::io::Result<()> {
    use std::io::Write;
    use std::os::unix::fs::OpenOptionsExt;
    let mut file = std::fs::OpenOptions::new()
        .write(true)
        .create_new(true)
        .mode(0o660)
        .open(path)?;
    file.write_all(contents.as_bytes())
}

/// `caravan job init`.
pub fn run(args: &[String]) -> i32 {
    let set = FlagSet::new()
        .bools(&["short", "connect", "list-templates"])
        .strings(&["template"]);
    let parsed = match meta::parse(set, args, HELP) {
        Ok(p) => p,
        Err(code) => return code,
    };
    if parsed.args.len() > 1 {
        meta::err("This command takes either no arguments or one: <filename>");
        meta::err(&meta::help_hint("job init"));
        return 1;
    }
    if parsed.is_set("template") || parsed.bool("list-templates") {
        meta::err(
            "Job templates (Nomad Variables under nomad/job-templates) are not supported by Caravan",
        );
        return 1;
    }
    let file_name = parsed
        .args
        .first()
        .map_or(DEFAULT_INIT_NAME, String::as_str);
    let contents = match example_for(parsed.bool("short"), parsed.bool("connect")) {
        Ok(contents) => contents,
        Err(message) => {
            meta::err(&message);
            return 1;
        }
    };
    match write_example(file_name, contents) {
        Ok(line) => {
            meta::out(&line);
            0
        }
        Err(message) => {
            meta::err(&message);
            1
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use caravan_jobspec::{JobFormat, parse_job};

    #[test]
    fn examples_parse_validate_and_use_raw_exec() {
        for (name, text) in [("example", EXAMPLE_JOB), ("short", EXAMPLE_JOB_SHORT)] {
            for format in [JobFormat::Hcl2, JobFormat::Hcl1] {
                let mut job = parse_job("example.nomad", text, format)
                    .unwrap_or_else(|e| panic!("{name} {format:?}: {e}"));
                job.canonicalize();
                caravan_structs::validate::validate_job(&job)
                    .unwrap_or_else(|e| panic!("{name} {format:?}: {e:?}"));
                assert_eq!(job.id, "example", "{name}");
                assert_eq!(job.datacenters, vec!["dc1"], "{name}");
                let task = &job.task_groups[0].tasks[0];
                assert_eq!(task.driver, "raw_exec", "{name}");
                assert_eq!(task.config["command"], "/bin/sh", "{name}");
            }
        }
    }

    #[test]
    fn short_has_no_comments() {
        assert!(!EXAMPLE_JOB_SHORT.contains('#'));
        assert!(
            EXAMPLE_JOB
                .lines()
                .filter(|l| l.trim_start().starts_with('#'))
                .count()
                > 100
        );
    }

    #[test]
    fn flags_pick_the_example() {
        assert_eq!(example_for(false, false), Ok(EXAMPLE_JOB));
        assert_eq!(example_for(true, false), Ok(EXAMPLE_JOB_SHORT));
        assert!(
            example_for(false, true)
                .unwrap_err()
                .contains("Consul Connect")
        );
    }

    #[test]
    fn writes_once_then_refuses() {
        let dir = std::env::temp_dir().join(format!("caravan-cli-init-{}", std::process::id()));
        std::fs::create_dir_all(&dir).unwrap();
        let path = dir.join("example.nomad");
        let name = path.to_string_lossy().to_string();
        assert_eq!(
            write_example(&name, EXAMPLE_JOB_SHORT).unwrap(),
            format!("Example job file written to {name}")
        );
        assert_eq!(std::fs::read_to_string(&path).unwrap(), EXAMPLE_JOB_SHORT);
        assert_eq!(
            write_example(&name, EXAMPLE_JOB).unwrap_err(),
            format!("Job '{name}' already exists")
        );
        assert_eq!(std::fs::read_to_string(&path).unwrap(), EXAMPLE_JOB_SHORT);
        std::fs::remove_dir_all(&dir).ok();
    }
}

//! `caravan operator snapshot save`, `restore` and `inspect` (Nomad's
//! `command/operator_snapshot_*.go`): the servers' state to a file and back, and what a
//! snapshot file holds. The file is `caravan_api_types::snapshot_archive`'s.

use std::io::Write;

use caravan_api_types::snapshot_archive::{SnapshotMeta, read_archive};
use jiff::Timestamp;
use jiff::tz::TimeZone;
use serde::Serialize;

use crate::columnize::format_list;
use crate::flags::{FlagError, FlagSet};
use crate::job_file::io_reason;
use crate::meta;

/// `caravan operator snapshot` without a subcommand.
pub const SNAPSHOT_USAGE: &str = "Usage: caravan operator snapshot <subcommand> [options]

  This command has subcommands for saving and inspecting the state
  of the Caravan servers for disaster recovery. These are atomic, point-in-time
  snapshots which include jobs, nodes, allocations, periodic jobs, and ACLs.

  If ACLs are enabled, a management token must be supplied in order to perform
  snapshot operations.

  Create a snapshot:

      $ caravan operator snapshot save backup.snap

  Inspect a snapshot:

      $ caravan operator snapshot inspect backup.snap

  Please see the individual subcommand help for detailed usage information.

Subcommands:
    inspect    Displays information about a Caravan snapshot file
    restore    Restore snapshot of Caravan server state
    save       Saves snapshot of Caravan server state";

const SAVE_HELP: &str = "Usage: caravan operator snapshot save [options] <file>

  Retrieves an atomic, point-in-time snapshot of the state of the Caravan servers
  which includes jobs, nodes, allocations, periodic jobs, and ACLs.

  If ACLs are enabled, a management token must be supplied in order to perform
  snapshot operations.

  To create a snapshot from the leader server and save it to \"backup.snap\":

    $ caravan operator snapshot save backup.snap

  To create a potentially stale snapshot from any available server (useful if no
  leader is available):

    $ caravan operator snapshot save -stale backup.snap

  This is useful for situations where a cluster is in a degraded state and no
  leader is available. To target a specific server for a snapshot, you can run
  the 'caravan operator snapshot save' command on that specific server.

Snapshot Save Options:

  -stale=[true|false]
    The -stale argument defaults to \"false\" which means the leader provides the
    result. If the cluster is in an outage state without a leader, you may need
    to set -stale to \"true\" to get the configuration from a non-leader server.
";

const RESTORE_HELP: &str = "Usage: caravan operator snapshot restore [options] <file>

  Restores an atomic, point-in-time snapshot of the state of the Caravan servers
  which includes jobs, nodes, allocations, periodic jobs, and ACLs.

  Restores involve a potentially dangerous low-level Raft operation that is not
  designed to handle server failures during a restore. This command is primarily
  intended to be used when recovering from a disaster, restoring into a fresh
  cluster of Caravan servers.

  If ACLs are enabled, a management token must be supplied in order to perform
  snapshot operations.

  To restore a snapshot from the file \"backup.snap\":

    $ caravan operator snapshot restore backup.snap
";

const INSPECT_HELP: &str = "Usage: caravan operator snapshot inspect [options] <file>

  Displays information about a snapshot file on disk.

  To inspect the file \"backup.snap\":
    $ caravan operator snapshot inspect backup.snap

Snapshot Inspect Options:

  -json
    Output the snapshot inspect in its JSON format.
";

/// The file `save` writes without a name: Nomad's `nomad-state-<YYYYMMDD>-<unix>.snap`
/// (kept so scripts that look for Nomad's name find it), in the local date. Nomad's
/// format is `%04d%02d%0d`, so the day is not padded: `2026115` for 2026-11-05.
pub fn default_snapshot_file(unix_seconds: i64, tz: &TimeZone) -> String {
    let zoned = Timestamp::from_second(unix_seconds)
        .unwrap_or(Timestamp::UNIX_EPOCH)
        .to_zoned_datetime(tz.clone());
    format!(
        "nomad-state-{:04}{:02}{}-{unix_seconds}.snap",
        zoned.year(),
        zoned.month(),
        zoned.day()
    )
}

/// `inspect`'s listing: `ID`, `Size` (bytes), `Index`, `Term`, `Version`.
///
/// Nomad 1.7 and later add a `Created` line and a table of the state's records by type;
/// the state is opaque outside the server, so Caravan prints the listing Nomad printed
/// before that.
pub fn render_inspect(meta: &SnapshotMeta) -> String {
    format_list(&[
        format!("ID|{}", meta.id),
        format!("Size|{}", meta.size),
        format!("Index|{}", meta.index),
        format!("Term|{}", meta.term),
        format!("Version|{}", meta.version),
    ])
}

/// `inspect -json`: Nomad's `SnapshotInspectFormat`, without per-type stats.
#[derive(Debug, Serialize)]
#[serde(rename_all = "PascalCase")]
pub struct SnapshotInspectJson<'a> {
    /// The archive's `meta.json`.
    pub meta: &'a SnapshotMeta,
    /// Records by type: always empty (see [`render_inspect`]).
    pub stats: Vec<serde_json::Value>,
}

/// Go's `os.Open` error text: `open <path>: <reason>`.
fn read_file(path: &str) -> Result<Vec<u8>, String> {
    std::fs::read(path).map_err(|e| format!("open {path}: {}", io_reason(&e)))
}

/// `caravan operator snapshot save`.
pub fn run_save(args: &[String]) -> i32 {
    let parsed = match meta::parse(FlagSet::new().bools(&["stale"]), args, SAVE_HELP) {
        Ok(p) => p,
        Err(code) => return code,
    };
    if parsed.args.len() > 1 {
        meta::err("This command takes either no arguments or one: <filename>");
        meta::err(&meta::help_hint("operator snapshot save"));
        return 1;
    }
    let file = match parsed.args.first() {
        Some(file) => file.clone(),
        None => default_snapshot_file(Timestamp::now().as_second(), &TimeZone::system()),
    };
    match std::fs::symlink_metadata(&file) {
        Ok(_) => {
            meta::err(&format!("Destination file already exists: {file:?}"));
            meta::err(&meta::help_hint("operator snapshot save"));
            return 1;
        }
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => {}
        Err(e) => {
            meta::err(&format!(
                "Unexpected failure checking {file:?}: lstat {file}: {}",
                io_reason(&e)
            ));
            return 1;
        }
    }
    let client = match meta::client(&parsed) {
        Ok(c) => c,
        Err(code) => return code,
    };
    let archive = match client.run(|api| api.snapshot_save(parsed.bool("stale"))) {
        Ok(archive) => archive,
        Err(e) => {
            meta::err(&format!("Failed to get snapshot file: {e}"));
            return 1;
        }
    };
    match write_atomically(&file, &archive) {
        Ok(()) => {
            meta::out(&format!("State file written to {file}"));
            0
        }
        Err(line) => {
            meta::err(&line);
            1
        }
    }
}

/// Writes `<file>.tmp`, then renames it to `file`, so a failed save never leaves a
/// half-written snapshot under the name asked for. The errors are Nomad's (its
/// "Filed" typo included); the temporary file is removed when a step fails.
fn write_atomically(file: &str, bytes: &[u8]) -> Result<(), String> {
    let tmp = format!("{file}.tmp");
    let mut out = std::fs::File::create(&tmp)
        .map_err(|e| format!("Failed to create file: open {tmp}: {}", io_reason(&e)))?;
    let written = out
        .write_all(bytes)
        .and_then(|()| out.sync_all())
        .map_err(|e| {
            format!(
                "Filed to download snapshot file: write {tmp}: {}",
                io_reason(&e)
            )
        })
        .and_then(|()| {
            std::fs::rename(&tmp, file).map_err(|e| {
                format!(
                    "Filed to finalize snapshot file: rename {tmp} {file}: {}",
                    io_reason(&e)
                )
            })
        });
    if written.is_err() {
        let _ = std::fs::remove_file(&tmp);
    }
    written
}

/// `caravan operator snapshot restore`.
pub fn run_restore(args: &[String]) -> i32 {
    let parsed = match meta::parse(FlagSet::new(), args, RESTORE_HELP) {
        Ok(p) => p,
        Err(code) => return code,
    };
    let [file] = parsed.args.as_slice() else {
        meta::err("This command takes one argument: <filename>");
        meta::err(&meta::help_hint("operator snapshot restore"));
        return 1;
    };
    let archive = match read_file(file) {
        Ok(bytes) => bytes,
        Err(e) => {
            meta::err(&format!("Error opening snapshot file: {e:?}"));
            return 1;
        }
    };
    // Checked here as well as by the servers: a truncated or foreign file is named
    // before the cluster is asked to replace its state with it.
    if let Err(e) = read_archive(&archive) {
        meta::err(&format!("Error verifying snapshot: {e}"));
        return 1;
    }
    let client = match meta::client(&parsed) {
        Ok(c) => c,
        Err(code) => return code,
    };
    match client.run(|api| api.snapshot_restore(&archive)) {
        Ok(()) => {
            meta::out("Snapshot Restored");
            0
        }
        Err(e) => {
            meta::err(&format!("Failed to get restore snapshot: {e}"));
            1
        }
    }
}

/// `caravan operator snapshot inspect`: reads the file only, no agent needed, so it
/// takes no client flags.
pub fn run_inspect(args: &[String]) -> i32 {
    let parsed = match FlagSet::new().bools(&["json"]).parse(args) {
        Ok(parsed) => parsed,
        Err(FlagError::Help) => {
            meta::out(INSPECT_HELP.trim_end());
            return 0;
        }
        Err(e) => {
            meta::err(&e.to_string());
            meta::err(INSPECT_HELP.trim_end());
            return 1;
        }
    };
    let [file] = parsed.args.as_slice() else {
        meta::err("This command takes one argument: <filename>");
        meta::err(&meta::help_hint("operator snapshot inspect"));
        return 1;
    };
    let archive = match read_file(file) {
        Ok(bytes) => bytes,
        Err(e) => {
            meta::err(&format!("Error opening snapshot file: {e}"));
            return 1;
        }
    };
    let meta = match read_archive(&archive) {
        Ok((meta, _state)) => meta,
        Err(e) => {
            meta::err(&format!("Error verifying snapshot: {e}"));
            return 1;
        }
    };
    if parsed.bool("json") {
        meta::out(&meta::json_pretty(&SnapshotInspectJson {
            meta: &meta,
            stats: Vec::new(),
        }));
    } else {
        meta::out(&render_inspect(&meta));
    }
    0
}

#[cfg(test)]
mod tests {
    use caravan_api_types::snapshot_archive::write_archive;

    use super::*;

    #[test]
    fn inspect_lists_nomads_fields() {
        let meta = SnapshotMeta {
            size: 3902,
            ..SnapshotMeta::new(2, 19, 1_592_495_928_936)
        };
        assert_eq!(
            render_inspect(&meta),
            "\
ID       2-19-1592495928936
Size     3902
Index    19
Term     2
Version  1"
        );
    }

    #[test]
    fn inspect_json_is_meta_and_stats() {
        let (meta, _) = read_archive(&write_archive(&SnapshotMeta::new(2, 19, 5), b"abc")).unwrap();
        let json = meta::json_pretty(&SnapshotInspectJson {
            meta: &meta,
            stats: Vec::new(),
        });
        let value: serde_json::Value = serde_json::from_str(&json).unwrap();
        assert_eq!(value["Meta"]["ID"], "2-19-5");
        assert_eq!(value["Meta"]["Size"], 3);
        assert_eq!(value["Stats"], serde_json::json!([]));
    }

    #[test]
    fn default_file_is_nomads_name() {
        let cases = [
            // 2026-11-05T12:00:00Z: Nomad's `%0d` leaves the day unpadded.
            (
                1_793_880_000,
                TimeZone::UTC,
                "nomad-state-2026115-1793880000.snap",
            ),
            // 2026-11-25T23:30:00Z is already the 26th in Tokyo.
            (
                1_795_649_400,
                TimeZone::fixed(jiff::tz::offset(9)),
                "nomad-state-20261126-1795649400.snap",
            ),
        ];
        for (seconds, tz, want) in cases {
            assert_eq!(default_snapshot_file(seconds, &tz), want);
        }
    }

    #[test]
    fn save_writes_through_a_temporary_file() {
        let dir = std::env::temp_dir().join(format!("caravan-snapshot-{}", std::process::id()));
        std::fs::create_dir_all(&dir).unwrap();
        let file = dir.join("backup.snap").display().to_string();
        write_atomically(&file, b"archive").unwrap();
        assert_eq!(std::fs::read(&file).unwrap(), b"archive");
        assert!(!std::path::Path::new(&format!("{file}.tmp")).exists());
        let missing_dir = dir.join("gone/backup.snap").display().to_string();
        let error = write_atomically(&missing_dir, b"archive").unwrap_err();
        assert_eq!(
            error,
            format!("Failed to create file: open {missing_dir}.tmp: no such file or directory")
        );
        std::fs::remove_dir_all(&dir).unwrap();
    }
}

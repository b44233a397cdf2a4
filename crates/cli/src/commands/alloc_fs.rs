//! `caravan alloc fs` / `caravan fs` (Nomad's `command/alloc_fs.go`): list a directory
//! of an allocation, `-stat` a path, or print a file.

use std::io::{Read, Write};

use base64::Engine;
use caravan_api_client::StreamQuery;
use caravan_api_types::{AllocFileInfo, StreamFrame};

use crate::api_client::ApiClient;
use crate::byte_size::ibytes;
use crate::columnize::format_list;
use crate::commands::alloc_logs::{last_lines, log_range, stream_tail_lines, stream_to};
use crate::commands::lookup;
use crate::flags::{FlagKind, FlagSet};
use crate::meta;
use crate::time_format::{TimeContext, parse_rfc3339};

const HELP: &str = "Usage: caravan alloc fs [options] <allocation> <path>
Alias: caravan fs

  fs displays either the contents of an allocation directory for the passed
  allocation, or displays the file at the given path. The path is relative to
  the root of the alloc dir and defaults to root if unspecified.

FS Specific Options:

  -H
    Machine friendly output.

  -verbose
    Show full information.

  -job <job-id>
    Use a random allocation from the specified job ID.

  -stat
    Show file stat information instead of displaying the file, or listing the
    directory.

  -f
    Causes the output to not stop when the end of the file is reached, but
    rather to wait for additional output.

  -tail
    Show the files contents with offsets relative to the end of the file. If no
    offset is given, -n is defaulted to 10.

  -n
    Sets the tail location in best-efforted number of lines relative to the end
    of the file.

  -c
    Sets the tail location in number of bytes relative to the end of the file.
";

/// A file's modification time in Unix nanoseconds (the agent sends RFC 3339).
fn mod_time_nanos(file: &AllocFileInfo) -> i64 {
    match &file.mod_time {
        serde_json::Value::String(text) => parse_rfc3339(text).unwrap_or(0),
        serde_json::Value::Number(n) => n.as_i64().unwrap_or(0),
        _ => 0,
    }
}

/// `name/` for a directory.
fn display_name(file: &AllocFileInfo) -> String {
    if file.is_dir {
        format!("{}/", file.name)
    } else {
        file.name.clone()
    }
}

/// Bytes, or `4.0 KiB` unless `-H`.
fn display_size(file: &AllocFileInfo, machine: bool) -> String {
    if machine {
        file.size.to_string()
    } else {
        ibytes(file.size.max(0) as u64)
    }
}

/// A directory listing: `Mode  Size  Modified Time  Name`.
pub fn render_listing(files: &[AllocFileInfo], machine: bool, time: &TimeContext) -> String {
    let mut rows = vec!["Mode|Size|Modified Time|Name".to_string()];
    for file in files {
        rows.push(format!(
            "{}|{}|{}|{}",
            file.file_mode,
            display_size(file, machine),
            time.format(mod_time_nanos(file)),
            display_name(file)
        ));
    }
    format_list(&rows)
}

/// `-stat` output: `Mode  Size  Modified Time  Content Type  Name`.
pub fn render_stat(file: &AllocFileInfo, machine: bool, time: &TimeContext) -> String {
    format_list(&[
        "Mode|Size|Modified Time|Content Type|Name".to_string(),
        format!(
            "{}|{}|{}|{}|{}",
            file.file_mode,
            display_size(file, machine),
            time.format(mod_time_nanos(file)),
            file.content_type,
            display_name(file)
        ),
    ])
}

/// Follows a file through `/v1/client/fs/stream`, printing decoded frame data.
fn follow_file(
    client: &ApiClient,
    alloc_id: &str,
    path: &str,
    from_end: Option<i64>,
) -> Result<Box<dyn Read + Send>, String> {
    let query = StreamQuery {
        path: path.to_string(),
        from_end,
        follow: true,
    };
    let (reader, mut writer) = std::io::pipe().map_err(|e| format!("Error reading file: {e}"))?;
    let body = match client.stream(|api| api.fs_stream(alloc_id, &query)) {
        Ok(body) => body,
        Err(e) => return Err(format!("Error reading file: {e}")),
    };
    std::thread::spawn(move || {
        let frames = serde_json::Deserializer::from_reader(body).into_iter::<StreamFrame>();
        for frame in frames {
            let Ok(frame) = frame else { return };
            if !frame.file_event.is_empty() && frame.data.is_empty() {
                continue;
            }
            let Ok(bytes) = base64::engine::general_purpose::STANDARD.decode(&frame.data) else {
                return;
            };
            if writer.write_all(&bytes).is_err() {
                return;
            }
        }
    });
    Ok(Box::new(reader))
}

/// `caravan alloc fs`.
pub fn run(args: &[String]) -> i32 {
    let set = FlagSet::new()
        .bools(&["H", "verbose", "job", "stat", "f", "tail"])
        .flag("n", FlagKind::Int)
        .flag("c", FlagKind::Int);
    let parsed = match meta::parse(set, args, HELP) {
        Ok(p) => p,
        Err(code) => return code,
    };
    if parsed.args.is_empty() || parsed.args.len() > 2 {
        meta::err("This command takes one or two arguments: <allocation> [<path>]");
        meta::err(&meta::help_hint("alloc fs"));
        return 1;
    }
    let range = match log_range(
        parsed.bool("tail"),
        parsed.int("n").unwrap_or(-1),
        parsed.int("c").unwrap_or(-1),
    ) {
        Ok(r) => r,
        Err(message) => {
            meta::err(&message.replace("set", "are not allowed"));
            return 1;
        }
    };
    let (client, alloc) = match lookup::client_and_alloc(&parsed, "Error querying API") {
        Ok(found) => found,
        Err(code) => return code,
    };
    let path = parsed.args.get(1).map(String::as_str).unwrap_or("/");
    let machine = parsed.bool("H");
    let time = TimeContext::system();
    let file = match client.run(|api| api.fs_stat(&alloc.id, path)) {
        Ok(file) => file,
        Err(e) => {
            meta::err(&e.to_string());
            return 1;
        }
    };
    if parsed.bool("stat") {
        meta::out(&render_stat(&file, machine, &time));
        return 0;
    }
    if file.is_dir {
        return match client.run(|api| api.fs_ls(&alloc.id, path)) {
            Ok(files) => {
                meta::out(&render_listing(&files, machine, &time));
                0
            }
            Err(e) => {
                meta::err(&format!("Error listing alloc dir: {e}"));
                1
            }
        };
    }
    let from_end = range.from_end.map(|offset| offset.min(file.size.max(0)));
    let mut stdout = std::io::stdout().lock();
    let result = if parsed.bool("f") {
        let reader = match follow_file(&client, &alloc.id, path, from_end) {
            Ok(r) => r,
            Err(message) => {
                meta::err(&message);
                return 1;
            }
        };
        match range.lines {
            Some(n) => stream_tail_lines(reader, n.max(0) as usize, true, &mut stdout),
            None => stream_to(reader, &mut stdout),
        }
    } else {
        let reader = match client.stream(|api| api.fs_cat(&alloc.id, path)) {
            Ok(r) => r,
            Err(e) => {
                meta::err(&format!("Error reading file: {e}"));
                return 1;
            }
        };
        match from_end {
            None => stream_to(reader, &mut stdout),
            Some(offset) => {
                let mut reader = reader;
                let mut buf = Vec::new();
                match reader.read_to_end(&mut buf) {
                    Ok(_) => {
                        let start = buf.len().saturating_sub(offset as usize);
                        let tail = &buf[start..];
                        let shown = match range.lines {
                            Some(n) => last_lines(tail, n.max(0) as usize),
                            None => tail,
                        };
                        stream_to(shown, &mut stdout)
                    }
                    Err(e) => Err(e),
                }
            }
        }
    };
    match result {
        Ok(()) => 0,
        Err(e) => {
            meta::err(&format!("Error reading file: {e}"));
            1
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn entry(name: &str, is_dir: bool, size: i64, mode: &str) -> AllocFileInfo {
        AllocFileInfo {
            name: name.into(),
            is_dir,
            size,
            file_mode: mode.into(),
            mod_time: serde_json::json!("2026-11-25T12:00:00Z"),
            content_type: String::new(),
        }
    }

    #[test]
    fn listing_like_nomad() {
        let files = vec![
            entry("alloc", true, 4096, "drwxrwxrwx"),
            entry("echo", true, 4096, "drwxrwxrwx"),
            entry("echo.stdout.0", false, 21, "-rw-r--r--"),
        ];
        let time = TimeContext::fixed_utc(0);
        assert_eq!(
            render_listing(&files, false, &time),
            "Mode        Size     Modified Time         Name\n\
             drwxrwxrwx  4.0 KiB  2026-11-25T12:00:00Z  alloc/\n\
             drwxrwxrwx  4.0 KiB  2026-11-25T12:00:00Z  echo/\n\
             -rw-r--r--  21 B     2026-11-25T12:00:00Z  echo.stdout.0"
        );
        assert_eq!(
            render_listing(&files[2..], true, &time),
            "Mode        Size  Modified Time         Name\n\
             -rw-r--r--  21    2026-11-25T12:00:00Z  echo.stdout.0"
        );
    }

    #[test]
    fn stat_like_nomad() {
        let mut file = entry("echo.stdout.0", false, 21, "-rw-r--r--");
        file.content_type = "text/plain; charset=utf-8".into();
        file.mod_time = serde_json::json!(1_795_608_000_000_000_000i64);
        assert_eq!(
            render_stat(&file, false, &TimeContext::fixed_utc(0)),
            "Mode        Size  Modified Time         Content Type               Name\n\
             -rw-r--r--  21 B  2026-11-25T12:00:00Z  text/plain; charset=utf-8  echo.stdout.0"
        );
    }

    #[test]
    fn file_info_decodes_nomad_json() {
        let info: AllocFileInfo = caravan_structs::json::from_slice_lenient(
            br#"{"Name":"alloc","IsDir":true,"Size":4096,"FileMode":"drwxrwxrwx","ModTime":"2026-11-25T21:00:00.123+09:00","ContentType":""}"#,
        )
        .unwrap();
        assert!(info.is_dir);
        assert_eq!(mod_time_nanos(&info), 1_795_608_000_123_000_000);
    }
}

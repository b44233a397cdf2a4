//! `caravan alloc logs` / `caravan logs` (Nomad's `command/alloc_logs.go`), over
//! `GET /v1/client/fs/logs/:alloc?task=&type=&plain=true`.

use std::io::{Read, Write};
use std::sync::mpsc;
use std::time::Duration;

use caravan_structs::Allocation;

use caravan_api_client::LogsQuery;

use crate::api_client::{ApiClient, BodyReader};
use crate::commands::lookup;
use crate::flags::{FlagKind, FlagSet};
use crate::meta;

const HELP: &str = "Usage: caravan alloc logs [options] <allocation> <task>
Alias: caravan logs

  Streams the stdout/stderr of the given allocation and task.

Logs Specific Options:

  -stdout
    Display stdout logs. This is used as the default value in all commands
    except when using the -f flag where both stdout and stderr are used as
    default.

  -stderr
    Display stderr logs.

  -task <task-name>
    Sets the task to view the logs. If task name is given with both an argument
    and the '-task' option, preference is given to the '-task' option.

  -job <job-id>
    Use a random allocation from the specified job ID.

  -f
    Causes the output to not stop when the end of the logs are reached, but
    rather to wait for additional output. When supplied with no other flags
    except optionally -job and -task, both stdout and stderr logs will be
    followed.

  -tail
    Show the logs contents with offsets relative to the end of the logs. If no
    offset is given, -n is defaulted to 10.

  -n
    Sets the tail location in best-efforted number of lines relative to the end
    of the logs.

  -c
    Sets the tail location in number of bytes relative to the end of the logs.
";

/// Nomad reads this many bytes per requested line when tailing.
pub const BYTES_PER_LINE: i64 = 120;
/// Lines shown by `-tail` without `-n` or `-c`.
pub const DEFAULT_TAIL_LINES: i64 = 10;

/// The last `n` lines of `buf` (a final newline does not start an empty line), as
/// Nomad's `LineLimitReader` keeps them.
pub fn last_lines(buf: &[u8], n: usize) -> &[u8] {
    if n == 0 {
        return &buf[buf.len()..];
    }
    let search_end = if buf.ends_with(b"\n") {
        buf.len() - 1
    } else {
        buf.len()
    };
    let mut seen = 0;
    for i in (0..search_end).rev() {
        if buf[i] == b'\n' {
            seen += 1;
            if seen == n {
                return &buf[i + 1..];
            }
        }
    }
    buf
}

/// The tasks of the allocation's group (from its job, else from its task states).
fn group_tasks(alloc: &Allocation) -> Result<Vec<String>, String> {
    if let Some(job) = &alloc.job {
        let group = job
            .group(&alloc.task_group)
            .ok_or_else(|| format!("Could not find allocation task group: {}", alloc.task_group))?;
        return Ok(group.tasks.iter().map(|t| t.name.clone()).collect());
    }
    Ok(alloc.task_states.keys().cloned().collect())
}

/// Nomad's `lookupAllocTask`: the only task, or an error listing them.
pub fn lookup_alloc_task(alloc: &Allocation) -> Result<String, String> {
    let tasks = group_tasks(alloc)?;
    if let [only] = tasks.as_slice() {
        return Ok(only.clone());
    }
    let mut message = format!(
        "Allocation {:?} is running the following tasks:\n",
        meta::limit(&alloc.id, 8)
    );
    for task in &tasks {
        message.push_str(&format!("  * {task}\n"));
    }
    message.push_str("\nPlease specify the task.");
    Err(message)
}

/// Nomad's `validateTaskExistsInAllocation`.
pub fn validate_task(alloc: &Allocation, task: &str) -> Result<(), String> {
    let tasks = group_tasks(alloc)?;
    if tasks.iter().any(|t| t == task) {
        return Ok(());
    }
    Err(format!(
        "Could not find task named: {task}, found:\n{}",
        crate::columnize::format_list(&tasks)
    ))
}

/// Copies `reader` to `out` as bytes arrive. A closed pipe (`| head`) is not an error.
pub fn stream_to(mut reader: impl Read, out: &mut dyn Write) -> std::io::Result<()> {
    let mut buf = [0u8; 16 * 1024];
    loop {
        let n = match reader.read(&mut buf) {
            Ok(0) => return Ok(()),
            Ok(n) => n,
            Err(e) if e.kind() == std::io::ErrorKind::Interrupted => continue,
            Err(e) => return Err(e),
        };
        match out.write_all(&buf[..n]).and_then(|()| out.flush()) {
            Ok(()) => {}
            Err(e) if e.kind() == std::io::ErrorKind::BrokenPipe => return Ok(()),
            Err(e) => return Err(e),
        }
    }
}

/// Prints the last `lines` lines of a followed stream, then everything that follows
/// (Nomad's `LineLimitReader`). The initial window is complete once `lines * 120` bytes
/// arrived, the stream was quiet for 250 ms, or a second passed, whichever is first.
pub fn stream_tail_lines(
    reader: impl Read + Send + 'static,
    lines: usize,
    follow: bool,
    out: &mut dyn Write,
) -> std::io::Result<()> {
    if !follow {
        let mut reader = reader;
        let mut buf = Vec::new();
        reader.read_to_end(&mut buf)?;
        return match out
            .write_all(last_lines(&buf, lines))
            .and_then(|()| out.flush())
        {
            Err(e) if e.kind() != std::io::ErrorKind::BrokenPipe => Err(e),
            _ => Ok(()),
        };
    }
    let (tx, rx) = mpsc::channel::<std::io::Result<Vec<u8>>>();
    std::thread::spawn(move || {
        let mut reader = reader;
        let mut buf = [0u8; 16 * 1024];
        loop {
            match reader.read(&mut buf) {
                Ok(0) => return,
                Ok(n) => {
                    if tx.send(Ok(buf[..n].to_vec())).is_err() {
                        return;
                    }
                }
                Err(e) if e.kind() == std::io::ErrorKind::Interrupted => {}
                Err(e) => {
                    let _ = tx.send(Err(e));
                    return;
                }
            }
        }
    });
    let mut pending = Vec::new();
    let mut flushed = false;
    let search_limit = lines * BYTES_PER_LINE as usize;
    let deadline = std::time::Instant::now() + Duration::from_secs(1);
    loop {
        let chunk = if flushed {
            rx.recv().map_err(|_| mpsc::RecvTimeoutError::Disconnected)
        } else {
            let left = deadline.saturating_duration_since(std::time::Instant::now());
            rx.recv_timeout(left.min(Duration::from_millis(250)))
        };
        let write = match chunk {
            Ok(Ok(bytes)) if !flushed => {
                pending.extend_from_slice(&bytes);
                if pending.len() < search_limit && std::time::Instant::now() < deadline {
                    continue;
                }
                flushed = true;
                out.write_all(last_lines(&pending, lines))
            }
            Ok(Ok(bytes)) => out.write_all(&bytes),
            Ok(Err(e)) => return Err(e),
            Err(mpsc::RecvTimeoutError::Timeout) => {
                flushed = true;
                out.write_all(last_lines(&pending, lines))
            }
            Err(mpsc::RecvTimeoutError::Disconnected) => {
                if !flushed {
                    let _ = out.write_all(last_lines(&pending, lines));
                }
                let _ = out.flush();
                return Ok(());
            }
        };
        match write.and_then(|()| out.flush()) {
            Err(e) if e.kind() == std::io::ErrorKind::BrokenPipe => return Ok(()),
            Err(e) => return Err(e),
            Ok(()) => {}
        }
    }
}

/// Which bytes of a log to ask for.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct LogRange {
    /// `Some(bytes)` reads relative to the end (`origin=end&offset=bytes`).
    pub from_end: Option<i64>,
    /// Keep only the last N lines of what is read.
    pub lines: Option<i64>,
}

/// Nomad's tail arithmetic: `-tail` alone is 10 lines (1200 bytes back), `-tail -n N`
/// reads N*120 bytes back and keeps N lines, `-tail -c N` reads N bytes back; without
/// `-tail` the whole log.
pub fn log_range(tail: bool, lines: i64, bytes: i64) -> Result<LogRange, String> {
    // Nomad: -n and -c only count with -tail; without it the whole log is read.
    if !tail {
        return Ok(LogRange {
            from_end: None,
            lines: None,
        });
    }
    if lines != -1 && bytes != -1 {
        return Err("Both -n and -c set".to_string());
    }
    if lines < -1 || bytes < -1 {
        return Err("Invalid size is specified".to_string());
    }
    Ok(if lines != -1 {
        LogRange {
            from_end: Some(lines * BYTES_PER_LINE),
            lines: Some(lines),
        }
    } else if bytes != -1 {
        LogRange {
            from_end: Some(bytes),
            lines: None,
        }
    } else {
        LogRange {
            from_end: Some(DEFAULT_TAIL_LINES * BYTES_PER_LINE),
            lines: Some(DEFAULT_TAIL_LINES),
        }
    })
}

fn open_log(
    client: &ApiClient,
    alloc_id: &str,
    task: &str,
    log_type: &str,
    follow: bool,
    range: LogRange,
) -> Result<BodyReader, String> {
    let query = LogsQuery {
        task: task.to_string(),
        log_type: log_type.to_string(),
        follow,
        from_end: range.from_end,
    };
    // Nomad's words: reading the whole log, or tailing it.
    let doing = if range.from_end.is_some() {
        "tailing"
    } else {
        "reading"
    };
    client
        .stream(|api| api.logs(alloc_id, &query))
        .map_err(|e| format!("Error {doing} file: {e}"))
}

/// `caravan alloc logs`.
pub fn run(args: &[String]) -> i32 {
    let set = FlagSet::new()
        .bools(&["stdout", "stderr", "f", "tail", "job", "verbose"])
        .strings(&["task"])
        .flag("n", FlagKind::Int)
        .flag("c", FlagKind::Int);
    let parsed = match meta::parse(set, args, HELP) {
        Ok(p) => p,
        Err(code) => return code,
    };
    if parsed.args.is_empty() || parsed.args.len() > 2 {
        meta::err("This command takes one of the following argument conditions:");
        meta::err(" * A single <allocation>");
        meta::err(" * Two arguments: <allocation> <task>");
        meta::err(&meta::help_hint("alloc logs"));
        return 1;
    }
    if parsed.bool("stdout") && parsed.bool("stderr") {
        meta::err("Options -stdout and -stderr are mutually exclusive");
        return 1;
    }
    let lines = parsed.int("n").unwrap_or(-1);
    let bytes = parsed.int("c").unwrap_or(-1);
    let range = match log_range(parsed.bool("tail"), lines, bytes) {
        Ok(r) => r,
        Err(message) => {
            meta::err(&message);
            return 1;
        }
    };
    let (client, alloc) = match lookup::client_and_alloc(&parsed, "Error fetching allocations") {
        Ok(found) => found,
        Err(code) => return code,
    };
    let task = match (parsed.string("task"), parsed.args.get(1)) {
        (Some(task), _) => task.to_string(),
        (None, Some(task)) if task.is_empty() => {
            meta::err("Task name required");
            return 1;
        }
        (None, Some(task)) => task.clone(),
        (None, None) => match lookup_alloc_task(&alloc) {
            Ok(task) => task,
            Err(e) => {
                meta::err(&format!("Failed to validate task: {e}"));
                return 1;
            }
        },
    };
    if let Err(e) = validate_task(&alloc, &task) {
        meta::err(&format!("Failed to validate task: {e}"));
        return 1;
    }
    let follow = parsed.bool("f");
    // Nomad (since 1.5): a bare -f follows both streams, stderr to stderr.
    if follow && !parsed.bool("stdout") && !parsed.bool("stderr") && range.from_end.is_none() {
        return follow_both(&client, &alloc.id, &task);
    }
    let log_type = if parsed.bool("stderr") {
        "stderr"
    } else {
        "stdout"
    };
    let reader = match open_log(&client, &alloc.id, &task, log_type, follow, range) {
        Ok(r) => r,
        Err(message) => {
            meta::err(&message);
            return 1;
        }
    };
    let mut stdout = std::io::stdout().lock();
    let result = match range.lines {
        Some(n) => stream_tail_lines(reader, n.max(0) as usize, follow, &mut stdout),
        None => stream_to(reader, &mut stdout),
    };
    match result {
        Ok(()) => 0,
        Err(e) => {
            meta::err(&format!("Error reading file: {e}"));
            1
        }
    }
}

fn follow_both(client: &ApiClient, alloc_id: &str, task: &str) -> i32 {
    let whole = LogRange {
        from_end: None,
        lines: None,
    };
    let stdout_log = open_log(client, alloc_id, task, "stdout", true, whole);
    let stderr_log = open_log(client, alloc_id, task, "stderr", true, whole);
    let (stdout_log, stderr_log) = match (stdout_log, stderr_log) {
        (Ok(o), Ok(e)) => (o, e),
        (Err(message), _) | (_, Err(message)) => {
            meta::err(&message);
            return 1;
        }
    };
    let errors = std::thread::spawn(move || stream_to(stderr_log, &mut std::io::stderr()));
    let out_result = stream_to(stdout_log, &mut std::io::stdout());
    let err_result = errors
        .join()
        .unwrap_or_else(|_| Err(std::io::Error::other("stderr stream panicked")));
    match out_result.and(err_result) {
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
    use caravan_structs::{Job, Task, TaskGroup};

    #[test]
    fn last_lines_table() {
        let cases: &[(&str, usize, &str)] = &[
            ("a\nb\nc\n", 2, "b\nc\n"),
            ("a\nb\nc", 2, "b\nc"),
            ("a\nb\nc\n", 5, "a\nb\nc\n"),
            ("a\nb\nc\n", 0, ""),
            ("", 3, ""),
            ("one line\n", 1, "one line\n"),
        ];
        for (input, n, want) in cases {
            assert_eq!(
                last_lines(input.as_bytes(), *n),
                want.as_bytes(),
                "{input:?} {n}"
            );
        }
    }

    #[test]
    fn tail_ranges() {
        let none = LogRange {
            from_end: None,
            lines: None,
        };
        assert_eq!(log_range(false, -1, -1), Ok(none));
        assert_eq!(
            log_range(true, -1, -1),
            Ok(LogRange {
                from_end: Some(1200),
                lines: Some(10)
            })
        );
        assert_eq!(
            log_range(true, 3, -1),
            Ok(LogRange {
                from_end: Some(360),
                lines: Some(3)
            })
        );
        assert_eq!(
            log_range(true, -1, 50),
            Ok(LogRange {
                from_end: Some(50),
                lines: None
            })
        );
        assert_eq!(log_range(false, 5, -1), Ok(none));
        assert_eq!(log_range(true, 1, 1), Err("Both -n and -c set".into()));
    }

    fn alloc_with_tasks(tasks: &[&str]) -> Allocation {
        Allocation {
            id: "48154342-aaaa".into(),
            task_group: "example".into(),
            job: Some(std::sync::Arc::new(Job {
                task_groups: vec![TaskGroup {
                    name: "example".into(),
                    tasks: tasks
                        .iter()
                        .map(|t| Task {
                            name: t.to_string(),
                            ..Task::default()
                        })
                        .collect(),
                    ..TaskGroup::default()
                }],
                ..Job::default()
            })),
            ..Allocation::default()
        }
    }

    #[test]
    fn task_lookup() {
        assert_eq!(
            lookup_alloc_task(&alloc_with_tasks(&["echo"])),
            Ok("echo".into())
        );
        assert_eq!(
            lookup_alloc_task(&alloc_with_tasks(&["a", "b"])).unwrap_err(),
            "Allocation \"48154342\" is running the following tasks:\n  * a\n  * b\n\nPlease specify the task."
        );
        assert!(validate_task(&alloc_with_tasks(&["a", "b"]), "b").is_ok());
        assert_eq!(
            validate_task(&alloc_with_tasks(&["a", "b"]), "c").unwrap_err(),
            "Could not find task named: c, found:\na\nb"
        );
    }

    #[test]
    fn tail_of_followed_stream_flushes_after_quiet() {
        let data = b"1\n2\n3\n4\n".to_vec();
        let mut out = Vec::new();
        stream_tail_lines(std::io::Cursor::new(data), 2, true, &mut out).unwrap();
        assert_eq!(out, b"3\n4\n");
    }
}

//! Reading a task's rotated log (`alloc/logs/<task>.<stream>.<N>`) as one stream, for
//! `/v1/client/fs/logs`: where a read starts (Nomad's offsets count across files, from
//! the first file or back from the end of the last), and the next piece from a position,
//! moving on to the next file once the current one is complete.

use std::io::{Read, Seek, SeekFrom};
use std::path::{Path, PathBuf};

use caravan_drivers::log_rotation::{log_file_name, log_indexes};

/// A place in a task's log: a file's index and an offset in it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct LogPosition {
    pub index: u64,
    pub offset: u64,
}

/// Where `/logs` starts reading.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum LogOrigin {
    /// `offset` bytes after the start of the oldest file still there.
    Start,
    /// `offset` bytes before the end of the newest file.
    End,
}

/// One stream of one task's log files.
#[derive(Debug, Clone)]
pub struct TaskLog {
    pub dir: PathBuf,
    pub task: String,
    pub stream: String,
}

/// A piece read from a task's log.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct LogChunk {
    /// The file's name (`web.stdout.3`).
    pub file_name: String,
    /// Where the bytes start in that file.
    pub offset: u64,
    pub data: Vec<u8>,
}

/// Where a read of `offset` bytes from `origin` starts, over files given as
/// `(index, size)` lowest index first: offsets run across files as if they were one
/// (Nomad's), and stop at the first or last byte there is. `None` without files.
pub fn start_position(files: &[(u64, u64)], origin: LogOrigin, offset: u64) -> Option<LogPosition> {
    let (first, last) = (files.first()?, files.last()?);
    let mut left = offset;
    match origin {
        LogOrigin::Start => {
            for &(index, size) in files {
                if left < size || index == last.0 {
                    return Some(LogPosition {
                        index,
                        offset: left.min(size),
                    });
                }
                left -= size;
            }
            None
        }
        LogOrigin::End => {
            for &(index, size) in files.iter().rev() {
                if left <= size || index == first.0 {
                    return Some(LogPosition {
                        index,
                        offset: size.saturating_sub(left),
                    });
                }
                left -= size;
            }
            None
        }
    }
}

impl TaskLog {
    /// The `stream` (`stdout`, `stderr`) of `task`'s log in `dir` (`alloc/logs`).
    pub fn new(dir: &Path, task: &str, stream: &str) -> TaskLog {
        TaskLog {
            dir: dir.to_path_buf(),
            task: task.to_string(),
            stream: stream.to_string(),
        }
    }

    fn path(&self, index: u64) -> PathBuf {
        self.dir
            .join(log_file_name(&self.task, &self.stream, index))
    }

    /// The stream's files as `(index, size)`, lowest index first (blocking).
    pub fn files(&self) -> Vec<(u64, u64)> {
        log_indexes(&self.dir, &self.task, &self.stream)
            .unwrap_or_default()
            .into_iter()
            .filter_map(|index| Some((index, std::fs::metadata(self.path(index)).ok()?.len())))
            .collect()
    }

    /// Whether the stream has any file.
    pub fn exists(&self) -> bool {
        log_indexes(&self.dir, &self.task, &self.stream).is_ok_and(|found| !found.is_empty())
    }

    /// Up to `max` bytes from `position`, and the position after them (blocking).
    /// At the end of a file that is complete (a newer one exists) it goes on in the
    /// next; a file deleted meanwhile (rotated away) is skipped for the oldest that is
    /// left; a file now shorter than the position (truncated) is read from its start.
    /// `None` when there is no file at or after the position yet.
    pub fn read(&self, mut position: LogPosition, max: usize) -> Option<(LogChunk, LogPosition)> {
        loop {
            let indexes = log_indexes(&self.dir, &self.task, &self.stream).ok()?;
            let &index = indexes.iter().find(|&&i| i >= position.index)?;
            if index != position.index {
                position = LogPosition { index, offset: 0 };
            }
            // Looked up before reading: once a newer file exists, this one is complete,
            // so an empty read below is its real end.
            let next = indexes.iter().copied().find(|&i| i > index);
            let chunk = match self.read_file(position, max) {
                Some(chunk) => chunk,
                // Deleted between the listing and the read: list again.
                None if next.is_some() => {
                    position = LogPosition {
                        index: index + 1,
                        offset: 0,
                    };
                    continue;
                }
                None => return None,
            };
            let after = LogPosition {
                index,
                offset: chunk.offset + chunk.data.len() as u64,
            };
            match next {
                Some(next) if chunk.data.is_empty() => {
                    position = LogPosition {
                        index: next,
                        offset: 0,
                    };
                }
                _ => return Some((chunk, after)),
            }
        }
    }

    fn read_file(&self, position: LogPosition, max: usize) -> Option<LogChunk> {
        let mut file = std::fs::File::open(self.path(position.index)).ok()?;
        let size = file.metadata().ok()?.len();
        let start = if position.offset > size {
            0
        } else {
            position.offset
        };
        file.seek(SeekFrom::Start(start)).ok()?;
        let mut data = Vec::with_capacity(max.min(64 * 1024));
        file.take(max as u64).read_to_end(&mut data).ok()?;
        Some(LogChunk {
            file_name: log_file_name(&self.task, &self.stream, position.index),
            offset: start,
            data,
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn start_positions_count_across_files() {
        let files = [(3, 10), (4, 10), (5, 4)];
        let at = |index, offset| Some(LogPosition { index, offset });
        let cases = [
            (LogOrigin::Start, 0, at(3, 0)),
            (LogOrigin::Start, 9, at(3, 9)),
            (LogOrigin::Start, 10, at(4, 0)),
            (LogOrigin::Start, 23, at(5, 3)),
            (LogOrigin::Start, 100, at(5, 4)),
            (LogOrigin::End, 0, at(5, 4)),
            (LogOrigin::End, 4, at(5, 0)),
            (LogOrigin::End, 5, at(4, 9)),
            (LogOrigin::End, 14, at(4, 0)),
            (LogOrigin::End, 15, at(3, 9)),
            (LogOrigin::End, 100, at(3, 0)),
        ];
        for (origin, offset, want) in cases {
            assert_eq!(
                start_position(&files, origin, offset),
                want,
                "{origin:?} {offset}"
            );
        }
        assert_eq!(start_position(&[], LogOrigin::End, 5), None);
    }

    fn write(dir: &Path, name: &str, text: &str) {
        std::fs::write(dir.join(name), text).unwrap();
    }

    /// Everything readable from `position` on, in pieces of `max`.
    fn read_all(log: &TaskLog, mut position: LogPosition, max: usize) -> String {
        let mut text = String::new();
        while let Some((chunk, after)) = log.read(position, max) {
            if chunk.data.is_empty() {
                break;
            }
            text.push_str(std::str::from_utf8(&chunk.data).unwrap());
            position = after;
        }
        text
    }

    #[test]
    fn reads_go_on_in_the_next_file() {
        let dir = tempfile::tempdir().unwrap();
        write(dir.path(), "web.stdout.0", "abc");
        write(dir.path(), "web.stdout.1", "def");
        write(dir.path(), "web.stdout.2", "g");
        write(dir.path(), "web.stderr.3", "x");
        let log = TaskLog::new(dir.path(), "web", "stdout");
        let start = LogPosition {
            index: 0,
            offset: 1,
        };
        assert_eq!(read_all(&log, start, 2), "bcdefg");
        let (chunk, after) = log.read(start, 100).unwrap();
        assert_eq!(chunk.file_name, "web.stdout.0");
        assert_eq!(
            after,
            LogPosition {
                index: 0,
                offset: 3
            }
        );
    }

    #[test]
    fn a_deleted_file_is_skipped_for_the_oldest_left() {
        let dir = tempfile::tempdir().unwrap();
        write(dir.path(), "web.stdout.4", "ef");
        write(dir.path(), "web.stdout.5", "g");
        let log = TaskLog::new(dir.path(), "web", "stdout");
        let gone = LogPosition {
            index: 2,
            offset: 7,
        };
        assert_eq!(read_all(&log, gone, 10), "efg");
    }

    #[test]
    fn the_newest_file_at_its_end_reads_empty_and_nothing_is_none() {
        let dir = tempfile::tempdir().unwrap();
        let log = TaskLog::new(dir.path(), "web", "stdout");
        assert_eq!(
            log.read(
                LogPosition {
                    index: 0,
                    offset: 0
                },
                10
            ),
            None
        );
        write(dir.path(), "web.stdout.0", "ab");
        let (chunk, after) = log
            .read(
                LogPosition {
                    index: 0,
                    offset: 2,
                },
                10,
            )
            .unwrap();
        assert!(chunk.data.is_empty());
        assert_eq!(
            after,
            LogPosition {
                index: 0,
                offset: 2
            }
        );
        // A truncated file is read from its start.
        let (chunk, _) = log
            .read(
                LogPosition {
                    index: 0,
                    offset: 9,
                },
                10,
            )
            .unwrap();
        assert_eq!(chunk.data, b"ab");
    }
}

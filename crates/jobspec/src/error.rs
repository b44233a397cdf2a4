//! Errors of the job file readers.

use std::fmt;

/// A position in a source file: line and column, both counted from 1. Columns count
/// characters, not bytes.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Default)]
pub struct Pos {
    /// Line, from 1.
    pub line: usize,
    /// Column in characters, from 1.
    pub col: usize,
}

impl Pos {
    /// The position at `line`, `col`.
    pub fn new(line: usize, col: usize) -> Pos {
        Pos { line, col }
    }

    /// The line and column of byte `offset` of `source` (clamped to the end of `source`).
    pub fn from_offset(source: &str, offset: usize) -> Pos {
        let mut line = 1;
        let mut col = 1;
        for (index, ch) in source.char_indices() {
            if index >= offset {
                break;
            }
            if ch == '\n' {
                line += 1;
                col = 1;
            } else {
                col += 1;
            }
        }
        Pos { line, col }
    }
}

impl fmt::Display for Pos {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}:{}", self.line, self.col)
    }
}

/// An error at a known place of a file: bad syntax, an unknown key, a value of the wrong
/// type. Displays as `file:line:col: message`, the form editors jump to.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{file}:{line}:{col}: {message}")]
pub struct ParseError {
    /// The file name as given by the caller.
    pub file: String,
    /// Line, from 1.
    pub line: usize,
    /// Column in characters, from 1.
    pub col: usize,
    /// What is wrong, without the position.
    pub message: String,
}

impl ParseError {
    /// An error in `file` at `pos`.
    pub fn new(file: &str, pos: Pos, message: impl Into<String>) -> ParseError {
        ParseError {
            file: file.to_string(),
            line: pos.line,
            col: pos.col,
            message: message.into(),
        }
    }

    /// Where the error is.
    pub fn pos(&self) -> Pos {
        Pos::new(self.line, self.col)
    }
}

/// Why a job file could not be turned into a [`caravan_structs::Job`].
///
/// Display always begins with `file:line:col: ` when the position is known, and with
/// `file: ` otherwise.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum JobspecError {
    /// Bad syntax or an invalid job specification at a known place.
    #[error(transparent)]
    Located(#[from] ParseError),
    /// An error whose place in the file is not known (e.g. a JSON member of the wrong type,
    /// named by its path instead).
    #[error("{file}: {message}")]
    Unlocated {
        /// The file name as given by the caller.
        file: String,
        /// What is wrong.
        message: String,
    },
}

impl JobspecError {
    /// The position of the error, when known.
    pub fn pos(&self) -> Option<Pos> {
        match self {
            JobspecError::Located(e) => Some(e.pos()),
            JobspecError::Unlocated { .. } => None,
        }
    }

    /// The message without file and position.
    pub fn message(&self) -> &str {
        match self {
            JobspecError::Located(e) => &e.message,
            JobspecError::Unlocated { message, .. } => message,
        }
    }
}

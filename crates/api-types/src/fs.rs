//! Bodies of the client's allocation filesystem (`/v1/client/fs/*`).

use serde::{Deserialize, Serialize};

/// One entry of `/v1/client/fs/ls` and the answer of `/v1/client/fs/stat` (Nomad's
/// `AllocFileInfo`).
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "PascalCase", default)]
pub struct AllocFileInfo {
    /// Base name.
    pub name: String,
    /// Whether it is a directory.
    pub is_dir: bool,
    /// Size in bytes.
    pub size: i64,
    /// `ls -l` style mode, e.g. `-rw-r--r--`.
    pub file_mode: String,
    /// RFC 3339 as Nomad sends it; readers also take Unix nanoseconds.
    #[serde(default, deserialize_with = "caravan_structs::json::without_nulls")]
    pub mod_time: serde_json::Value,
    /// MIME type, e.g. `text/plain; charset=utf-8`.
    pub content_type: String,
}

/// A frame of `/v1/client/fs/stream` and of `/v1/client/fs/logs` without `plain`
/// (Nomad's `StreamFrame`); `{}` is a heartbeat.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "PascalCase", default)]
pub struct StreamFrame {
    /// The offset in the file after this frame's data.
    pub offset: u64,
    /// The bytes, base64-encoded.
    pub data: String,
    /// The file the data comes from, relative to the allocation directory.
    pub file: String,
    /// `file deleted` or `file truncated` when the file changed under the reader.
    #[serde(skip_serializing_if = "String::is_empty")]
    pub file_event: String,
}

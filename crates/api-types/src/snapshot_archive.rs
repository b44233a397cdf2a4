//! The file `operator snapshot save` writes and `restore`/`inspect` read, modelled on
//! Nomad's (`helper/snapshot`): a gzip-compressed tar holding
//!
//! - `meta.json`: the Raft snapshot's metadata ([`SnapshotMeta`], Raft's
//!   `SnapshotMeta` shape);
//! - `state.bin`: the state machine's bytes, opaque here;
//! - `SHA256SUMS`: the SHA-256 of both, in `sha256sum`'s format (`<hex>  <name>`).
//!
//! [`write_archive`] builds one, [`read_archive`] checks one and takes it apart: every
//! file present, nothing else, every checksum right, `Size` equal to `state.bin`'s.
//!
//! ```
//! use caravan_api_types::snapshot_archive::{SnapshotMeta, read_archive, write_archive};
//! let meta = SnapshotMeta::new(2, 19, 1_592_495_928_936);
//! let archive = write_archive(&meta, b"state");
//! let (read, state) = read_archive(&archive).unwrap();
//! assert_eq!(read.id, "2-19-1592495928936");
//! assert_eq!(state, b"state");
//! ```

use std::io::Read;

use serde::{Deserialize, Serialize};
use sha2::{Digest, Sha256};

/// The archive's metadata file.
pub const META_FILE: &str = "meta.json";
/// The archive's state file.
pub const STATE_FILE: &str = "state.bin";
/// The archive's checksum file.
pub const SUMS_FILE: &str = "SHA256SUMS";

/// Raft's snapshot format version Nomad writes.
pub const SNAPSHOT_VERSION: i64 = 1;

/// `meta.json` (hashicorp/raft's `SnapshotMeta`, encoded as Go's `encoding/json` does).
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "PascalCase", default)]
pub struct SnapshotMeta {
    /// The snapshot format version, [`SNAPSHOT_VERSION`].
    pub version: i64,
    /// `<term>-<index>-<unix milliseconds>`, Raft's snapshot name.
    #[serde(rename = "ID")]
    pub id: String,
    /// The Raft index of the last log entry the snapshot covers.
    pub index: u64,
    /// The Raft term of that entry.
    pub term: u64,
    /// Raft protocol 1's peer list (Go `[]byte`, base64 in JSON); unused since.
    pub peers: Option<String>,
    /// The peer set as of [`SnapshotMeta::configuration_index`].
    pub configuration: SnapshotConfiguration,
    /// The Raft index of that peer set.
    pub configuration_index: u64,
    /// The length of `state.bin` in bytes.
    pub size: i64,
}

/// Raft's `Configuration`: the peer set.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "PascalCase", default)]
pub struct SnapshotConfiguration {
    /// The servers of the peer set.
    pub servers: Vec<SnapshotServer>,
}

/// Raft's `Server`: one peer.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "PascalCase", default)]
pub struct SnapshotServer {
    /// Raft's `ServerSuffrage`: 0 voter, 1 non-voter, 2 staging.
    pub suffrage: u8,
    /// The server's Raft ID.
    #[serde(rename = "ID")]
    pub id: String,
    /// `ip:port` Raft reaches it at.
    pub address: String,
}

impl SnapshotMeta {
    /// Metadata for a snapshot at `term`/`index` taken at `unix_millis`, named as Raft
    /// names snapshots; `size` is set by [`write_archive`].
    pub fn new(term: u64, index: u64, unix_millis: i64) -> SnapshotMeta {
        SnapshotMeta {
            version: SNAPSHOT_VERSION,
            id: format!("{term}-{index}-{unix_millis}"),
            index,
            term,
            ..SnapshotMeta::default()
        }
    }

    /// When the snapshot was taken, in Unix milliseconds: the last part of its ID
    /// (`inspect`'s `Created`); `None` for an ID not in Raft's form.
    pub fn created_unix_millis(&self) -> Option<i64> {
        let mut parts = self.id.split('-');
        let (Some(_term), Some(_index), Some(millis), None) =
            (parts.next(), parts.next(), parts.next(), parts.next())
        else {
            return None;
        };
        millis.parse().ok()
    }
}

/// Why bytes are not a usable snapshot archive.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum SnapshotArchiveError {
    /// Not gzip, or not a tar inside.
    #[error("not a snapshot archive: {0}")]
    NotAnArchive(String),
    /// A file the archive must hold is not there.
    #[error("not a complete snapshot archive: {0} is missing")]
    MissingFile(&'static str),
    /// A file Nomad's archives never hold.
    #[error("unexpected file {0:?} in snapshot archive")]
    UnexpectedFile(String),
    /// The same file twice.
    #[error("snapshot archive holds {0} twice")]
    DuplicateFile(&'static str),
    /// A `SHA256SUMS` line that is not `<64 hex digits>  <name>`.
    #[error("SHA256SUMS line {line} is not \"<sha256>  <file>\": {text:?}")]
    BadChecksumLine {
        /// 1-based line number.
        line: usize,
        /// The line.
        text: String,
    },
    /// `SHA256SUMS` has no line for a file.
    #[error("SHA256SUMS has no checksum for {0}")]
    MissingChecksum(&'static str),
    /// `SHA256SUMS` names a file the archive does not hold.
    #[error("SHA256SUMS lists {0:?}, which is not a snapshot file")]
    UnknownChecksum(String),
    /// A file's SHA-256 is not the one `SHA256SUMS` gives: the file is corrupt.
    #[error("checksum mismatch for {0}: the file is corrupt")]
    ChecksumMismatch(&'static str),
    /// `meta.json` is not a `SnapshotMeta`.
    #[error("failed to decode snapshot metadata: {0}")]
    BadMeta(String),
    /// `meta.json`'s `Size` is not `state.bin`'s length.
    #[error("snapshot metadata says Size {meta} but state.bin holds {actual} bytes")]
    SizeMismatch {
        /// `Size` in `meta.json`.
        meta: i64,
        /// `state.bin`'s length.
        actual: usize,
    },
}

/// The SHA-256 of `bytes` in lower-case hex, as `sha256sum` prints it.
fn sha256_hex(bytes: &[u8]) -> String {
    Sha256::digest(bytes)
        .iter()
        .map(|b| format!("{b:02x}"))
        .collect()
}

/// A snapshot archive of `state` described by `meta`. `meta`'s `Size` is set to
/// `state`'s length, so the archive is consistent whatever the caller filled in.
pub fn write_archive(meta: &SnapshotMeta, state: &[u8]) -> Vec<u8> {
    let meta = SnapshotMeta {
        size: i64::try_from(state.len()).unwrap_or(i64::MAX),
        ..meta.clone()
    };
    // As Go's `json.Encoder`: the JSON, then a newline.
    let mut meta_json =
        serde_json::to_vec(&meta).expect("a SnapshotMeta of strings and numbers always encodes");
    meta_json.push(b'\n');
    let sums = format!(
        "{}  {META_FILE}\n{}  {STATE_FILE}\n",
        sha256_hex(&meta_json),
        sha256_hex(state)
    );
    // Files are stamped with the snapshot's own time, so one snapshot always makes the
    // same bytes.
    let mtime = meta
        .created_unix_millis()
        .and_then(|ms| u64::try_from(ms / 1000).ok())
        .unwrap_or(0);
    let files: [(&str, &[u8]); 3] = [
        (META_FILE, &meta_json),
        (STATE_FILE, state),
        (SUMS_FILE, sums.as_bytes()),
    ];
    pack(&files, mtime).expect("writing a tar and gzip stream into memory cannot fail")
}

fn pack(files: &[(&str, &[u8])], mtime: u64) -> std::io::Result<Vec<u8>> {
    let gzip = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::default());
    let mut tar = tar::Builder::new(gzip);
    for (name, bytes) in files {
        let mut header = tar::Header::new_ustar();
        header.set_size(bytes.len() as u64);
        header.set_mode(0o600);
        header.set_mtime(mtime);
        tar.append_data(&mut header, name, *bytes)?;
    }
    tar.into_inner()?.finish()
}

/// Which snapshot file a tar entry is.
fn known_file(name: &str) -> Option<&'static str> {
    [META_FILE, STATE_FILE, SUMS_FILE]
        .into_iter()
        .find(|known| *known == name)
}

/// Checks a snapshot archive and takes it apart: its metadata and its state's bytes.
pub fn read_archive(bytes: &[u8]) -> Result<(SnapshotMeta, Vec<u8>), SnapshotArchiveError> {
    // gzip's magic bytes: anything else (a JSON error page, a raw state file) is named
    // for what it is not rather than as a decompression failure.
    if !bytes.starts_with(&[0x1f, 0x8b]) {
        return Err(SnapshotArchiveError::NotAnArchive(
            "it is not gzip-compressed".into(),
        ));
    }
    let not_archive = |e: std::io::Error| SnapshotArchiveError::NotAnArchive(e.to_string());
    let mut tar_bytes = Vec::new();
    flate2::read::GzDecoder::new(bytes)
        .read_to_end(&mut tar_bytes)
        .map_err(not_archive)?;
    let mut meta_json = None;
    let mut state = None;
    let mut sums = None;
    let mut archive = tar::Archive::new(tar_bytes.as_slice());
    for entry in archive.entries().map_err(not_archive)? {
        let mut entry = entry.map_err(not_archive)?;
        let name = entry.path().map_err(not_archive)?.display().to_string();
        let Some(file) = known_file(&name) else {
            return Err(SnapshotArchiveError::UnexpectedFile(name));
        };
        let slot = match file {
            META_FILE => &mut meta_json,
            STATE_FILE => &mut state,
            _ => &mut sums,
        };
        if slot.is_some() {
            return Err(SnapshotArchiveError::DuplicateFile(file));
        }
        let mut content = Vec::new();
        entry.read_to_end(&mut content).map_err(not_archive)?;
        *slot = Some(content);
    }
    let meta_json = meta_json.ok_or(SnapshotArchiveError::MissingFile(META_FILE))?;
    let state = state.ok_or(SnapshotArchiveError::MissingFile(STATE_FILE))?;
    let sums = sums.ok_or(SnapshotArchiveError::MissingFile(SUMS_FILE))?;
    verify_sums(&sums, &[(META_FILE, &meta_json), (STATE_FILE, &state)])?;
    let meta: SnapshotMeta = serde_json::from_slice(&meta_json)
        .map_err(|e| SnapshotArchiveError::BadMeta(e.to_string()))?;
    if usize::try_from(meta.size).ok() != Some(state.len()) {
        return Err(SnapshotArchiveError::SizeMismatch {
            meta: meta.size,
            actual: state.len(),
        });
    }
    Ok((meta, state))
}

/// Checks `SHA256SUMS` against `files`: one right line for each, none for anything else.
fn verify_sums(sums: &[u8], files: &[(&'static str, &[u8])]) -> Result<(), SnapshotArchiveError> {
    let text = String::from_utf8_lossy(sums);
    let mut seen = Vec::new();
    for (n, line) in text.lines().enumerate().filter(|(_, l)| !l.is_empty()) {
        let bad_line = || SnapshotArchiveError::BadChecksumLine {
            line: n + 1,
            text: line.to_string(),
        };
        let (hex, name) = line.split_once("  ").ok_or_else(bad_line)?;
        if hex.len() != 64 || !hex.bytes().all(|b| b.is_ascii_hexdigit()) {
            return Err(bad_line());
        }
        let Some((file, content)) = files.iter().find(|(file, _)| *file == name) else {
            return Err(SnapshotArchiveError::UnknownChecksum(name.to_string()));
        };
        if !hex.eq_ignore_ascii_case(&sha256_hex(content)) {
            return Err(SnapshotArchiveError::ChecksumMismatch(file));
        }
        seen.push(*file);
    }
    match files.iter().find(|(file, _)| !seen.contains(file)) {
        Some((file, _)) => Err(SnapshotArchiveError::MissingChecksum(file)),
        None => Ok(()),
    }
}

#[cfg(test)]
mod tests;

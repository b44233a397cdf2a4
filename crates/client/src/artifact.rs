//! `artifact { }`: files fetched into the task's directory before it starts (Nomad's
//! artifact hook, which uses go-getter).
//!
//! Sources: local paths (plain, `file::` or `file://`; relative ones from the task
//! directory), and `http://`/`https://` URLs (rustls with the webpki roots). Options:
//! `checksum = "sha256:<hex>"` (or `sha512`), `archive = false`, and go-getter's
//! `?archive=`/`?checksum=` query parameters. Archives (`.tar`, `.tar.gz`, `.tgz`,
//! `.zip`, `.gz`) are unpacked into the destination unless `archive = false`.
//! `git::` sources (and `github.com/…`, `gitlab.com/…`) are cloned with libgit2
//! ([`git`]). `hg::`, `s3::` and `gcs::` sources, git over ssh, other checksums and
//! other archive formats are refused by name.

mod git;

use std::collections::BTreeMap;
use std::io::Read;
use std::path::{Path, PathBuf};

use caravan_drivers::host_path::join_beneath;
use caravan_structs::TaskArtifact;
use sha2::Digest;
use tokio::io::AsyncWriteExt;

use crate::template::{TaskDirs, resolve_in_alloc};

/// Why an artifact could not be fetched. The message is Nomad's `download_error`.
#[derive(Debug, thiserror::Error)]
#[error("failed to download artifact {source_url:?}: {message}")]
pub struct ArtifactError {
    /// The source as written in the job.
    pub source_url: String,
    pub message: String,
}

/// Where an artifact comes from.
#[derive(Debug, Clone, PartialEq)]
enum Source {
    Local(PathBuf),
    Http(String),
    Git(git::GitSource),
}

/// How to unpack what was fetched.
#[derive(Debug, Clone, Copy, PartialEq)]
enum Archive {
    Tar,
    TarGz,
    Gz,
    Zip,
}

/// Fetches one artifact into the task's directory. `interpolate` expands `${...}` in
/// the source, options, headers and destination with the task's environment.
pub async fn fetch(
    artifact: &TaskArtifact,
    interpolate: impl Fn(&str) -> String,
    dirs: &TaskDirs<'_>,
) -> Result<(), ArtifactError> {
    let written = artifact.getter_source.clone().unwrap_or_default();
    let fail = |message: String| ArtifactError {
        source_url: written.clone(),
        message,
    };
    let options: BTreeMap<String, String> = artifact
        .getter_options
        .iter()
        .flatten()
        .map(|(k, v)| (k.clone(), interpolate(v)))
        .collect();
    let headers: BTreeMap<String, String> = artifact
        .getter_headers
        .iter()
        .flatten()
        .map(|(k, v)| (k.clone(), interpolate(v)))
        .collect();
    let (source, query) = parse_source(&interpolate(&written), dirs.task_dir).map_err(fail)?;
    // Options win over the same go-getter parameters in the URL.
    let mut params = query;
    params.extend(options);
    let dest = artifact.relative_dest.as_deref().unwrap_or("local/");
    let dest = resolve_in_alloc(&interpolate(dest), dirs)
        .ok_or_else(|| fail("artifact destination path escapes the allocation directory".into()))?;
    let mode = artifact
        .getter_mode
        .clone()
        .unwrap_or_else(|| "any".to_string());
    let scratch = dirs
        .task_dir
        .join("tmp")
        .join(format!(".artifact-{}", uuid::Uuid::new_v4()));
    if let Source::Git(mut repository) = source {
        for (key, value) in &params {
            repository.apply(key, value).map_err(fail)?;
        }
        if mode == "file" {
            return Err(fail(
                "a git repository is a directory, but mode is \"file\"".into(),
            ));
        }
        // Cloning and copying are blocking: off the async runtime.
        let alloc_dir = dirs.alloc_dir.to_path_buf();
        let result = tokio::task::spawn_blocking(move || {
            // The sandbox of local sources holds for local repositories too.
            if let Some(path) = repository.url.strip_prefix("file://") {
                check_local_source(Path::new(path), &alloc_dir)?;
            }
            let result = repository
                .clone_into(&scratch)
                .and_then(|cloned| git::copy_tree(&cloned, &dest));
            let _ = std::fs::remove_dir_all(&scratch);
            result
        })
        .await
        .unwrap_or_else(|error| Err(error.to_string()));
        return result.map_err(fail);
    }
    let checksum = params
        .get("checksum")
        .map(|c| parse_checksum(c))
        .transpose()
        .map_err(fail)?;
    let archive = match params.get("archive").map(String::as_str) {
        Some("false") => None,
        Some("") | None => archive_of(&source_name(&source)).map_err(fail)?,
        Some(kind) => Some(archive_named(kind).map_err(fail)?),
    };
    let downloaded = match &source {
        Source::Http(url) => download(url, &headers, &scratch).await.map(|()| true),
        Source::Local(_) | Source::Git(_) => Ok(false),
    };
    // Checking, copying, hashing and unpacking read and write whole files: off the
    // async runtime.
    let alloc_dir = dirs.alloc_dir.to_path_buf();
    let result = tokio::task::spawn_blocking(move || {
        let result = downloaded.and_then(|downloaded| {
            let install = Install {
                source: &source,
                downloaded: downloaded.then_some(scratch.as_path()),
                checksum: checksum.as_ref(),
                archive,
                mode: &mode,
                dest: &dest,
                alloc_dir: &alloc_dir,
            };
            install.run()
        });
        let _ = std::fs::remove_file(&scratch);
        result
    })
    .await
    .unwrap_or_else(|error| Err(error.to_string()));
    result.map_err(fail)
}

/// What to do with one fetched artifact (blocking).
struct Install<'a> {
    source: &'a Source,
    /// Where an http(s) source was downloaded to.
    downloaded: Option<&'a Path>,
    checksum: Option<&'a (String, String)>,
    archive: Option<Archive>,
    mode: &'a str,
    dest: &'a Path,
    /// The allocation's shared directory: local sources must be inside its parent.
    alloc_dir: &'a Path,
}

impl Install<'_> {
    /// Checks a local source, then copies, verifies and places (or unpacks) the artifact.
    fn run(&self) -> Result<(), String> {
        if let Source::Local(path) = self.source {
            check_local_source(path, self.alloc_dir)?;
        }
        let file = match (self.source, self.downloaded) {
            (_, Some(downloaded)) => downloaded.to_path_buf(),
            (Source::Local(path), None) if path.is_dir() => {
                if self.checksum.is_some() {
                    return Err("a checksum needs a file, not a directory".to_string());
                }
                if self.mode == "file" {
                    return Err(format!(
                        "{} is a directory, but mode is \"file\"",
                        path.display()
                    ));
                }
                return copy_dir(path, self.dest)
                    .map_err(|e| format!("copying {}: {e}", path.display()));
            }
            (Source::Local(path), None) => path.clone(),
            (Source::Http(url), None) => return Err(format!("{url} was not downloaded")),
            (Source::Git(repository), None) => {
                return Err(format!("{} was not cloned", repository.url));
            }
        };
        if let Some((kind, want)) = self.checksum {
            verify(&file, kind, want)?;
        }
        place(
            &file,
            &source_name(self.source),
            self.archive,
            self.mode,
            self.dest,
        )
    }
}

/// Splits a go-getter source into where to fetch from and its go-getter parameters.
fn parse_source(
    source: &str,
    task_dir: &Path,
) -> Result<(Source, BTreeMap<String, String>), String> {
    if source.is_empty() {
        return Err("source is empty".into());
    }
    // go-getter's forced getters: `git::https://...`.
    let (forced, rest) = match source.split_once("::") {
        Some((getter, rest)) if !getter.contains('/') => (Some(getter), rest),
        _ => (None, source),
    };
    match forced {
        None | Some("file" | "http" | "https") => {}
        Some("git") => return Ok((Source::Git(git::parse(rest)?), BTreeMap::new())),
        Some(other) => return Err(unsupported(other)),
    }
    // go-getter's detectors turn these into git or s3 sources.
    if let Some(url) = git::detect(rest) {
        return Ok((Source::Git(git::parse(&url)?), BTreeMap::new()));
    }
    if rest.starts_with("git@") {
        return Err(git::no_ssh());
    }
    for (prefix, getter) in [
        ("bitbucket.org/", "git"),
        ("s3.amazonaws.com/", "s3"),
        ("www.googleapis.com/storage/", "gcs"),
    ] {
        if rest.starts_with(prefix) {
            return Err(unsupported(getter));
        }
    }
    let (scheme, after) = match rest.split_once("://") {
        Some((scheme, after)) => (scheme.to_ascii_lowercase(), after),
        None => (String::new(), rest),
    };
    let (location, query) = match after.split_once('?') {
        Some((location, query)) => (location, query),
        None => (after, ""),
    };
    let mut params = BTreeMap::new();
    let mut kept = Vec::new();
    for pair in query.split('&').filter(|p| !p.is_empty()) {
        let (key, value) = pair.split_once('=').unwrap_or((pair, ""));
        match key {
            "archive" | "checksum" | "filename" => {
                params.insert(key.to_string(), percent_decode(value));
            }
            _ => kept.push(pair),
        }
    }
    let source = match scheme.as_str() {
        "" | "file" => {
            let path = Path::new(location);
            Source::Local(if path.is_absolute() {
                path.to_path_buf()
            } else {
                join_beneath(task_dir, location).map_err(|e| e.to_string())?
            })
        }
        "http" | "https" => {
            let mut url = format!("{scheme}://{location}");
            if !kept.is_empty() {
                url.push('?');
                url.push_str(&kept.join("&"));
            }
            Source::Http(url)
        }
        "s3" | "gcs" | "git" | "hg" | "ssh" => return Err(unsupported(&scheme)),
        other => return Err(format!("unsupported source scheme {other:?}")),
    };
    Ok((source, params))
}

/// Nomad's artifact sandbox: a local source is read only from inside the allocation
/// directory (the task's own files, or what an earlier artifact fetched), never from
/// the rest of the host, which the agent could read as root on the job's behalf.
fn check_local_source(path: &Path, alloc_dir: &Path) -> Result<(), String> {
    let outside = || {
        format!(
            "local source {} is outside the allocation directory; only files inside it can be fetched",
            path.display()
        )
    };
    let root = alloc_dir.parent().ok_or_else(outside)?;
    let real_root = root.canonicalize().map_err(|_| outside())?;
    match path.canonicalize() {
        Ok(real) if real.starts_with(&real_root) => Ok(()),
        Ok(_) => Err(outside()),
        Err(error) => Err(format!("reading {}: {error}", path.display())),
    }
}

fn unsupported(getter: &str) -> String {
    format!("{getter} artifacts are not supported by Caravan; use an http(s) URL or a local path")
}

/// `%XX` escapes of a query value.
fn percent_decode(value: &str) -> String {
    let bytes = value.as_bytes();
    let mut out = Vec::with_capacity(bytes.len());
    let mut i = 0;
    while i < bytes.len() {
        let hex = bytes
            .get(i + 1..i + 3)
            .and_then(|h| std::str::from_utf8(h).ok());
        match (bytes[i], hex.and_then(|h| u8::from_str_radix(h, 16).ok())) {
            (b'%', Some(byte)) => {
                out.push(byte);
                i += 3;
            }
            (b'+', _) => {
                out.push(b' ');
                i += 1;
            }
            (byte, _) => {
                out.push(byte);
                i += 1;
            }
        }
    }
    String::from_utf8_lossy(&out).into_owned()
}

/// The file name the source ends with (go-getter names a downloaded file after it).
fn source_name(source: &Source) -> String {
    let path = match source {
        Source::Local(path) => path.to_string_lossy().into_owned(),
        Source::Git(_) => return String::new(),
        Source::Http(url) => {
            let path = url.split_once("://").map_or(url.as_str(), |(_, rest)| rest);
            let path = path.split(['?', '#']).next().unwrap_or_default();
            path.split_once('/')
                .map(|(_, p)| p.to_string())
                .unwrap_or_default()
        }
    };
    path.trim_end_matches('/')
        .rsplit('/')
        .next()
        .unwrap_or_default()
        .to_string()
}

/// go-getter's archive detection by file name.
fn archive_of(name: &str) -> Result<Option<Archive>, String> {
    let name = name.to_ascii_lowercase();
    for (suffix, kind) in [
        (".tar.gz", Some(Archive::TarGz)),
        (".tgz", Some(Archive::TarGz)),
        (".tar", Some(Archive::Tar)),
        (".zip", Some(Archive::Zip)),
        (".tar.bz2", None),
        (".tbz2", None),
        (".tar.xz", None),
        (".txz", None),
        (".tar.zst", None),
        (".tzst", None),
        (".gz", Some(Archive::Gz)),
        (".bz2", None),
        (".xz", None),
        (".zst", None),
    ] {
        if name.ends_with(suffix) {
            return kind.map(Some).ok_or_else(|| {
                format!("{suffix} archives are not supported by Caravan; set options {{ archive = false }} to fetch the file as it is")
            });
        }
    }
    Ok(None)
}

fn archive_named(kind: &str) -> Result<Archive, String> {
    archive_of(&format!("x.{kind}"))?.ok_or_else(|| format!("unknown archive format {kind:?}"))
}

/// `sha256:<hex>`, or a bare hex digest whose length says its type (go-getter).
fn parse_checksum(checksum: &str) -> Result<(String, String), String> {
    let (kind, hex) = match checksum.split_once(':') {
        Some((kind, hex)) => (kind.to_string(), hex.to_string()),
        None => {
            let kind = match checksum.len() {
                32 => "md5",
                40 => "sha1",
                64 => "sha256",
                128 => "sha512",
                _ => return Err(format!("unknown checksum type for {checksum:?}")),
            };
            (kind.to_string(), checksum.to_string())
        }
    };
    match kind.as_str() {
        "sha256" | "sha512" => Ok((kind, hex.to_ascii_lowercase())),
        "md5" | "sha1" => Err(format!(
            "{kind} checksums are not supported by Caravan; use sha256 or sha512"
        )),
        "file" => Err("checksum files are not supported by Caravan; give the digest".into()),
        other => Err(format!("unsupported checksum type {other:?}")),
    }
}

fn verify(file: &Path, kind: &str, want: &str) -> Result<(), String> {
    let mut input =
        std::fs::File::open(file).map_err(|e| format!("reading {}: {e}", file.display()))?;
    let mut buffer = vec![0u8; 64 * 1024];
    let mut sha256 = sha2::Sha256::new();
    let mut sha512 = sha2::Sha512::new();
    loop {
        let n = input
            .read(&mut buffer)
            .map_err(|e| format!("reading {}: {e}", file.display()))?;
        if n == 0 {
            break;
        }
        if kind == "sha256" {
            sha256.update(&buffer[..n]);
        } else {
            sha512.update(&buffer[..n]);
        }
    }
    let got: String = if kind == "sha256" {
        sha256
            .finalize()
            .iter()
            .map(|b| format!("{b:02x}"))
            .collect()
    } else {
        sha512
            .finalize()
            .iter()
            .map(|b| format!("{b:02x}"))
            .collect()
    };
    if got != want {
        // go-getter's wording.
        return Err(format!(
            "Checksums did not match for {}.\nExpected: {want}\nGot: {got}",
            file.display()
        ));
    }
    Ok(())
}

/// Downloads `url` into `to`.
async fn download(url: &str, headers: &BTreeMap<String, String>, to: &Path) -> Result<(), String> {
    let client = reqwest::Client::builder()
        .connect_timeout(std::time::Duration::from_secs(30))
        .build()
        .map_err(|e| format!("building the HTTP client: {e}"))?;
    let mut request = client.get(url);
    for (key, value) in headers {
        request = request.header(key, value);
    }
    let mut response = request
        .send()
        .await
        .map_err(|e| format!("GET {url}: {e}"))?;
    if !response.status().is_success() {
        // go-getter's wording.
        return Err(format!("bad response code: {}", response.status().as_u16()));
    }
    if let Some(parent) = to.parent() {
        tokio::fs::create_dir_all(parent)
            .await
            .map_err(|e| format!("creating {}: {e}", parent.display()))?;
    }
    let mut file = tokio::fs::File::create(to)
        .await
        .map_err(|e| format!("creating {}: {e}", to.display()))?;
    while let Some(chunk) = response
        .chunk()
        .await
        .map_err(|e| format!("GET {url}: {e}"))?
    {
        file.write_all(&chunk)
            .await
            .map_err(|e| format!("writing {}: {e}", to.display()))?;
    }
    file.flush()
        .await
        .map_err(|e| format!("writing {}: {e}", to.display()))?;
    Ok(())
}

/// Puts a fetched file where it belongs: unpacked into `dest`, at `dest` (mode
/// `file`), or as `dest/<name>`.
fn place(
    file: &Path,
    name: &str,
    archive: Option<Archive>,
    mode: &str,
    dest: &Path,
) -> Result<(), String> {
    let open = || std::fs::File::open(file).map_err(|e| format!("reading {}: {e}", file.display()));
    match archive {
        Some(Archive::Gz) => {
            // A single compressed file: named without `.gz`, or `dest` in mode `file`.
            let target = if mode == "file" {
                dest.to_path_buf()
            } else {
                dest.join(name.strip_suffix(".gz").unwrap_or(name))
            };
            let mut decoder = flate2::read::GzDecoder::new(open()?);
            write_from(&mut decoder, &target)
        }
        Some(_) if mode == "file" => {
            Err("mode \"file\" cannot unpack an archive; set options { archive = false }".into())
        }
        Some(Archive::Tar) => unpack_tar(open()?, dest),
        Some(Archive::TarGz) => unpack_tar(flate2::read::GzDecoder::new(open()?), dest),
        Some(Archive::Zip) => unpack_zip(open()?, dest),
        None if mode == "dir" => Err(format!("{name} is not an archive, but mode is \"dir\"")),
        None => {
            let target = if mode == "file" {
                dest.to_path_buf()
            } else {
                dest.join(name)
            };
            write_from(&mut open()?, &target)
        }
    }
}

fn write_from(reader: &mut impl Read, target: &Path) -> Result<(), String> {
    if let Some(parent) = target.parent() {
        std::fs::create_dir_all(parent)
            .map_err(|e| format!("creating {}: {e}", parent.display()))?;
    }
    let mut out =
        std::fs::File::create(target).map_err(|e| format!("creating {}: {e}", target.display()))?;
    std::io::copy(reader, &mut out).map_err(|e| format!("writing {}: {e}", target.display()))?;
    Ok(())
}

/// Unpacks a tar stream. The tar crate skips entries that would land outside `dest`
/// and drops setuid/setgid bits (Nomad's sandbox strips them too).
fn unpack_tar(reader: impl Read, dest: &Path) -> Result<(), String> {
    std::fs::create_dir_all(dest).map_err(|e| format!("creating {}: {e}", dest.display()))?;
    let mut archive = tar::Archive::new(reader);
    archive.set_overwrite(true);
    archive.set_preserve_permissions(false);
    archive.set_unpack_xattrs(false);
    archive
        .unpack(dest)
        .map_err(|e| format!("unpacking into {}: {e}", dest.display()))
}

fn unpack_zip(file: std::fs::File, dest: &Path) -> Result<(), String> {
    use std::os::unix::fs::PermissionsExt;
    let mut archive = zip::ZipArchive::new(file).map_err(|e| format!("reading zip: {e}"))?;
    for i in 0..archive.len() {
        let mut entry = archive
            .by_index(i)
            .map_err(|e| format!("reading zip: {e}"))?;
        let relative = entry
            .enclosed_name()
            .ok_or_else(|| format!("zip entry {:?} leaves the destination", entry.name()))?;
        let target = dest.join(relative);
        if entry.is_dir() {
            std::fs::create_dir_all(&target)
                .map_err(|e| format!("creating {}: {e}", target.display()))?;
            continue;
        }
        write_from(&mut entry, &target)?;
        if let Some(mode) = entry.unix_mode() {
            std::fs::set_permissions(&target, std::fs::Permissions::from_mode(mode & 0o777))
                .map_err(|e| format!("setting the mode of {}: {e}", target.display()))?;
        }
    }
    Ok(())
}

/// Copies a local directory's contents into `dest` (go-getter's file getter in copy mode).
fn copy_dir(from: &Path, dest: &Path) -> std::io::Result<()> {
    std::fs::create_dir_all(dest)?;
    for entry in std::fs::read_dir(from)? {
        let entry = entry?;
        let target = dest.join(entry.file_name());
        if entry.file_type()?.is_dir() {
            copy_dir(&entry.path(), &target)?;
        } else {
            std::fs::copy(entry.path(), &target)?;
        }
    }
    Ok(())
}

#[cfg(test)]
mod tests;

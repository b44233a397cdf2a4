use std::collections::BTreeMap;
use std::io::{BufRead, BufReader, Write};
use std::net::TcpListener;
use std::os::unix::fs::PermissionsExt;
use std::path::{Path, PathBuf};

use caravan_structs::TaskArtifact;
use sha2::Digest;

use super::*;

struct Alloc {
    root: tempfile::TempDir,
    task: PathBuf,
    shared: PathBuf,
}

impl Alloc {
    fn new() -> Alloc {
        let root = tempfile::tempdir().unwrap();
        let task = root.path().join("web");
        let shared = root.path().join("alloc");
        for dir in [task.join("local"), task.join("tmp"), shared.join("data")] {
            std::fs::create_dir_all(dir).unwrap();
        }
        Alloc { root, task, shared }
    }

    fn dirs(&self) -> TaskDirs<'_> {
        TaskDirs {
            task_dir: &self.task,
            alloc_dir: &self.shared,
        }
    }

    async fn fetch(&self, artifact: TaskArtifact) -> Result<(), ArtifactError> {
        let mut artifact = artifact;
        artifact.canonicalize();
        let env = BTreeMap::from([("VERSION".to_string(), "1.2".to_string())]);
        let interpolate = |text: &str| {
            let mut out = text.to_string();
            for (k, v) in &env {
                out = out.replace(&format!("${{{k}}}"), v);
            }
            out
        };
        fetch(&artifact, interpolate, &self.dirs()).await
    }
}

fn artifact(source: &str) -> TaskArtifact {
    TaskArtifact {
        getter_source: Some(source.to_string()),
        ..TaskArtifact::default()
    }
}

fn with_options(source: &str, options: &[(&str, &str)]) -> TaskArtifact {
    TaskArtifact {
        getter_options: Some(
            options
                .iter()
                .map(|(k, v)| (k.to_string(), v.to_string()))
                .collect(),
        ),
        ..artifact(source)
    }
}

/// A `.tar.gz` with an executable script in a sub-directory and a plain file.
fn tar_gz() -> Vec<u8> {
    let encoder = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::default());
    let mut builder = tar::Builder::new(encoder);
    for (path, mode, body) in [
        ("bin/run.sh", 0o755, "#!/bin/sh\necho hi\n"),
        ("README", 0o644, "read me\n"),
    ] {
        let mut header = tar::Header::new_gnu();
        header.set_size(body.len() as u64);
        header.set_mode(mode);
        header.set_cksum();
        builder
            .append_data(&mut header, path, body.as_bytes())
            .unwrap();
    }
    builder.into_inner().unwrap().finish().unwrap()
}

fn zip_file() -> Vec<u8> {
    let mut writer = zip::ZipWriter::new(std::io::Cursor::new(Vec::new()));
    let options = zip::write::SimpleFileOptions::default().unix_permissions(0o755);
    writer.start_file("tool/run", options).unwrap();
    writer.write_all(b"zipped").unwrap();
    writer.finish().unwrap().into_inner()
}

fn sha256(bytes: &[u8]) -> String {
    sha2::Sha256::digest(bytes)
        .iter()
        .map(|b| format!("{b:02x}"))
        .collect()
}

/// Serves `files` (path -> body) on 127.0.0.1 for as many requests as come; answers 404
/// for other paths. Records the request headers it saw.
fn serve(
    files: Vec<(&'static str, Vec<u8>)>,
) -> (String, std::sync::Arc<std::sync::Mutex<Vec<String>>>) {
    let listener = TcpListener::bind("127.0.0.1:0").unwrap();
    let addr = format!("http://{}", listener.local_addr().unwrap());
    let seen = std::sync::Arc::new(std::sync::Mutex::new(Vec::new()));
    let record = seen.clone();
    std::thread::spawn(move || {
        for stream in listener.incoming() {
            let Ok(mut stream) = stream else { break };
            let mut reader = BufReader::new(stream.try_clone().unwrap());
            let mut request_line = String::new();
            if reader.read_line(&mut request_line).is_err() {
                continue;
            }
            loop {
                let mut line = String::new();
                if reader.read_line(&mut line).unwrap_or(0) == 0 || line == "\r\n" {
                    break;
                }
                record
                    .lock()
                    .unwrap()
                    .push(line.trim().to_ascii_lowercase());
            }
            let path = request_line
                .split_whitespace()
                .nth(1)
                .unwrap_or("/")
                .to_string();
            let found = files.iter().find(|(p, _)| *p == path);
            let (status, body) = match found {
                Some((_, body)) => ("200 OK", body.clone()),
                None => ("404 Not Found", b"nope".to_vec()),
            };
            let head = format!(
                "HTTP/1.1 {status}\r\nContent-Length: {}\r\nConnection: close\r\n\r\n",
                body.len()
            );
            let _ = stream.write_all(head.as_bytes());
            let _ = stream.write_all(&body);
        }
    });
    (addr, seen)
}

fn mode(path: &Path) -> u32 {
    std::fs::metadata(path).unwrap().permissions().mode() & 0o7777
}

#[tokio::test]
async fn http_tar_gz_is_unpacked_into_local_with_modes() {
    let alloc = Alloc::new();
    let (addr, seen) = serve(vec![("/app-1.2.tar.gz", tar_gz())]);
    let mut fetched = with_options(
        &format!("{addr}/app-${{VERSION}}.tar.gz"),
        &[("checksum", &format!("sha256:{}", sha256(&tar_gz())))],
    );
    fetched.getter_headers = Some(BTreeMap::from([(
        "X-Token".to_string(),
        "v${VERSION}".to_string(),
    )]));
    alloc.fetch(fetched).await.unwrap();
    let script = alloc.task.join("local/bin/run.sh");
    assert_eq!(
        std::fs::read_to_string(&script).unwrap(),
        "#!/bin/sh\necho hi\n"
    );
    assert_eq!(mode(&script), 0o755);
    assert!(alloc.task.join("local/README").exists());
    assert!(
        seen.lock().unwrap().iter().any(|h| h == "x-token: v1.2"),
        "{:?}",
        seen.lock().unwrap()
    );
    // The download's scratch file is gone.
    assert_eq!(
        std::fs::read_dir(alloc.task.join("tmp")).unwrap().count(),
        0
    );
}

#[tokio::test]
async fn archive_false_keeps_the_file_and_destination_is_honoured() {
    let alloc = Alloc::new();
    let (addr, _) = serve(vec![("/app.tar.gz", tar_gz())]);
    let mut fetched = with_options(&format!("{addr}/app.tar.gz"), &[("archive", "false")]);
    fetched.relative_dest = Some("local/pkg".into());
    alloc.fetch(fetched).await.unwrap();
    assert_eq!(
        std::fs::read(alloc.task.join("local/pkg/app.tar.gz")).unwrap(),
        tar_gz()
    );
    // go-getter's query parameter does the same.
    let alloc = Alloc::new();
    alloc
        .fetch(artifact(&format!("{addr}/app.tar.gz?archive=false")))
        .await
        .unwrap();
    assert!(alloc.task.join("local/app.tar.gz").exists());
}

#[tokio::test]
async fn checksum_mismatch_and_http_errors_fail_clearly() {
    let alloc = Alloc::new();
    let (addr, _) = serve(vec![("/f.txt", b"hello".to_vec())]);
    let bad = with_options(
        &format!("{addr}/f.txt"),
        &[("checksum", &format!("sha256:{}", sha256(b"other")))],
    );
    let error = alloc.fetch(bad).await.unwrap_err();
    assert!(
        error.message.starts_with("Checksums did not match"),
        "{error}"
    );
    assert!(!alloc.task.join("local/f.txt").exists());
    let missing = alloc
        .fetch(artifact(&format!("{addr}/missing.txt")))
        .await
        .unwrap_err();
    assert_eq!(
        missing.to_string(),
        format!("failed to download artifact \"{addr}/missing.txt\": bad response code: 404")
    );
    let md5 = alloc
        .fetch(with_options(
            &format!("{addr}/f.txt"),
            &[("checksum", "md5:abc")],
        ))
        .await
        .unwrap_err();
    assert!(
        md5.message.contains("md5 checksums are not supported"),
        "{md5}"
    );
    alloc
        .fetch(artifact(&format!("{addr}/f.txt")))
        .await
        .unwrap();
    assert_eq!(
        std::fs::read_to_string(alloc.task.join("local/f.txt")).unwrap(),
        "hello"
    );
}

#[tokio::test]
async fn local_sources_zip_and_file_mode() {
    let alloc = Alloc::new();
    let src = alloc.root.path().join("src");
    std::fs::create_dir_all(src.join("dir/sub")).unwrap();
    std::fs::write(src.join("tool.zip"), zip_file()).unwrap();
    std::fs::write(src.join("plain.txt"), "plain").unwrap();
    std::fs::write(src.join("dir/sub/a"), "a").unwrap();
    let path = |name: &str| src.join(name).display().to_string();
    alloc.fetch(artifact(&path("tool.zip"))).await.unwrap();
    assert_eq!(
        std::fs::read_to_string(alloc.task.join("local/tool/run")).unwrap(),
        "zipped"
    );
    assert_eq!(mode(&alloc.task.join("local/tool/run")), 0o755);
    alloc
        .fetch(artifact(&format!("file://{}", path("plain.txt"))))
        .await
        .unwrap();
    assert_eq!(
        std::fs::read_to_string(alloc.task.join("local/plain.txt")).unwrap(),
        "plain"
    );
    let mut as_file = artifact(&format!("file::{}", path("plain.txt")));
    as_file.getter_mode = Some("file".into());
    as_file.relative_dest = Some("local/renamed.cfg".into());
    alloc.fetch(as_file).await.unwrap();
    assert_eq!(
        std::fs::read_to_string(alloc.task.join("local/renamed.cfg")).unwrap(),
        "plain"
    );
    let mut dir = artifact(&path("dir"));
    dir.relative_dest = Some("local/copied".into());
    alloc.fetch(dir).await.unwrap();
    assert_eq!(
        std::fs::read_to_string(alloc.task.join("local/copied/sub/a")).unwrap(),
        "a"
    );
    // Relative sources are relative to the task directory.
    let mut relative = artifact("local/plain.txt");
    relative.relative_dest = Some("local/again".into());
    alloc.fetch(relative).await.unwrap();
    assert!(alloc.task.join("local/again/plain.txt").exists());
}

#[tokio::test]
async fn unsupported_sources_and_escapes_are_refused() {
    let alloc = Alloc::new();
    let cases: &[(&str, &str)] = &[
        (
            "git::https://example.invalid/repo.git",
            "git artifacts are not supported by Caravan",
        ),
        (
            "github.com/hashicorp/nomad",
            "git artifacts are not supported",
        ),
        (
            "s3::https://s3.amazonaws.com/bucket/x",
            "s3 artifacts are not supported",
        ),
        (
            "gcs::https://www.googleapis.com/storage/v1/b/x",
            "gcs artifacts are not supported",
        ),
        (
            "ftp://example.invalid/x",
            "unsupported source scheme \"ftp\"",
        ),
        (
            "/nonexistent/app.tar.bz2",
            ".tar.bz2 archives are not supported by Caravan",
        ),
    ];
    for (source, want) in cases {
        let error = alloc.fetch(artifact(source)).await.unwrap_err();
        assert!(error.message.contains(want), "{source}: {error}");
    }
    let mut escape = artifact("/etc/hostname");
    escape.relative_dest = Some("../../../outside".into());
    let error = alloc.fetch(escape).await.unwrap_err();
    assert!(
        error.message.contains("escapes the allocation directory"),
        "{error}"
    );
}

#[tokio::test]
async fn local_sources_outside_the_allocation_are_refused() {
    let alloc = Alloc::new();
    // The agent runs as root: it must not copy host files into a task's directory.
    for source in [
        "/etc/hostname",
        "file:///etc/hostname",
        "local/../../../etc/hostname",
    ] {
        let error = alloc.fetch(artifact(source)).await.unwrap_err();
        assert!(
            error.message.contains("outside the allocation directory")
                || error.message.contains("leaves"),
            "{source}: {error}"
        );
    }
    let outside = tempfile::tempdir().unwrap();
    std::os::unix::fs::symlink(outside.path(), alloc.task.join("local/link")).unwrap();
    std::fs::write(outside.path().join("secret"), "s").unwrap();
    let error = alloc
        .fetch(artifact("local/link/secret"))
        .await
        .unwrap_err();
    assert!(!alloc.task.join("local/secret").exists(), "{error}");
}

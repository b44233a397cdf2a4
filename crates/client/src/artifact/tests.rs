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
            "git@github.com:hashicorp/nomad.git",
            "git over ssh (and sshkey) is not supported by Caravan",
        ),
        (
            "git::https://example.invalid/repo.git?sshkey=c2VjcmV0",
            "git over ssh (and sshkey) is not supported by Caravan",
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

/// A git repository in `dir/repo.git`: `app.txt` says `v1` at tag `v1` and `v2` at the
/// tip of `main`, beside `deploy/web.txt` and a link to `/etc/hostname`.
fn git_repository(dir: &Path) -> PathBuf {
    let path = dir.join("repo.git");
    let repo = git2::Repository::init_opts(
        &path,
        git2::RepositoryInitOptions::new().initial_head("main"),
    )
    .unwrap();
    let who = git2::Signature::now("Test", "test@example.com").unwrap();
    let mut parent: Option<git2::Oid> = None;
    for version in ["v1", "v2"] {
        std::fs::create_dir_all(path.join("deploy")).unwrap();
        std::fs::write(path.join("app.txt"), version).unwrap();
        std::fs::write(path.join("deploy/web.txt"), format!("web {version}")).unwrap();
        let _ = std::os::unix::fs::symlink("/etc/hostname", path.join("host"));
        let mut index = repo.index().unwrap();
        index
            .add_all(["*"], git2::IndexAddOption::DEFAULT, None)
            .unwrap();
        index.write().unwrap();
        let tree = repo.find_tree(index.write_tree().unwrap()).unwrap();
        let parents: Vec<git2::Commit> = parent
            .iter()
            .map(|id| repo.find_commit(*id).unwrap())
            .collect();
        let parents: Vec<&git2::Commit> = parents.iter().collect();
        let commit = repo
            .commit(Some("HEAD"), &who, &who, version, &tree, &parents)
            .unwrap();
        if version == "v1" {
            let object = repo.find_object(commit, None).unwrap();
            repo.tag_lightweight("v1", &object, false).unwrap();
        }
        parent = Some(commit);
    }
    path
}

#[tokio::test]
async fn git_sources_are_cloned_at_their_ref_into_the_destination() {
    let alloc = Alloc::new();
    let repo = git_repository(alloc.root.path());
    let url = format!("file://{}", repo.display());
    let read = |path: &str| std::fs::read_to_string(alloc.task.join(path)).unwrap_or_default();
    let cases = [
        (format!("git::{url}"), vec![], "local/tip", "app.txt", "v2"),
        (
            format!("git::{url}?ref=v1"),
            vec![],
            "local/tag",
            "app.txt",
            "v1",
        ),
        (
            format!("git::{url}?ref=main&depth=1"),
            vec![],
            "local/shallow",
            "app.txt",
            "v2",
        ),
        (
            format!("git::{url}"),
            vec![("ref", "v1")],
            "local/option",
            "app.txt",
            "v1",
        ),
        (
            format!("git::{url}//deploy?ref=v1"),
            vec![],
            "local/sub",
            "web.txt",
            "web v1",
        ),
    ];
    for (source, options, dest, file, want) in cases {
        let mut fetched = with_options(&source, &options);
        fetched.relative_dest = Some(dest.into());
        alloc
            .fetch(fetched)
            .await
            .unwrap_or_else(|e| panic!("{source}: {e}"));
        assert_eq!(read(&format!("{dest}/{file}")), want, "{source}");
    }
    // The whole clone keeps its .git, as go-getter's does; a subdirectory is alone.
    assert!(alloc.task.join("local/tag/.git").is_dir());
    assert!(!alloc.task.join("local/sub/.git").exists());
    // A link in the repository stays a link: the host file is not copied in.
    let link = alloc.task.join("local/tag/host");
    assert!(
        std::fs::symlink_metadata(&link)
            .unwrap()
            .file_type()
            .is_symlink()
    );
    // The clone's scratch directory is gone.
    let left: Vec<_> = std::fs::read_dir(alloc.task.join("tmp")).unwrap().collect();
    assert!(left.is_empty(), "{left:?}");
}

#[tokio::test]
async fn a_missing_repository_or_ref_fails_naming_the_source() {
    let alloc = Alloc::new();
    let repo = git_repository(alloc.root.path());
    let missing = format!("git::file://{}/nowhere.git", alloc.root.path().display());
    let bad_ref = format!("git::file://{}?ref=v9", repo.display());
    let outside = tempfile::tempdir().unwrap();
    let host_repo = format!("git::file://{}", git_repository(outside.path()).display());
    for (source, want) in [
        (missing.as_str(), "nowhere.git: No such file or directory"),
        (host_repo.as_str(), "is outside the allocation directory"),
        (
            bad_ref.as_str(),
            "ref \"v9\" is neither a branch, a tag nor a commit of file://",
        ),
    ] {
        let error = alloc.fetch(artifact(source)).await.unwrap_err();
        let shown = error.to_string();
        assert!(
            shown.starts_with(&format!("failed to download artifact {source:?}")),
            "{shown}"
        );
        assert!(error.message.contains(want), "{source}: {shown}");
    }
}

//! go-getter's git getter: `git::<url>` sources (and the GitHub/GitLab short forms
//! go-getter detects), cloned with libgit2 into the artifact's destination.
//!
//! Parameters: `ref` (a branch, tag or commit to check out), `depth` (a shallow clone)
//! and a `//sub` directory of the repository to fetch alone. `sshkey` and ssh URLs are
//! refused: this build of libgit2 has no ssh transport.

use std::path::Path;

use git2::build::CheckoutBuilder;
use git2::{FetchOptions, Oid, Repository};

/// A git repository to fetch, as the source names it.
#[derive(Debug, Clone, PartialEq)]
pub(super) struct GitSource {
    /// What libgit2 clones: `https://…`, `http://…` or `file://…`.
    pub url: String,
    /// The part of the repository to fetch (`//sub`), if not all of it.
    pub subdir: Option<String>,
    /// `?ref=`: the branch, tag or commit to check out; the remote's HEAD without it.
    pub reference: Option<String>,
    /// `?depth=`: how many commits to fetch.
    pub depth: Option<i32>,
}

/// The go-getter short forms that mean a git repository on a known host
/// (`github.com/org/repo[/sub]`), as `https://host/org/repo.git[//sub]`.
pub(super) fn detect(source: &str) -> Option<String> {
    for host in ["github.com/", "gitlab.com/"] {
        let Some(path) = source.strip_prefix(host) else {
            continue;
        };
        let (path, query) = match path.split_once('?') {
            Some((path, query)) => (path, format!("?{query}")),
            None => (path, String::new()),
        };
        let mut parts = path.splitn(3, '/');
        let (owner, repo) = (parts.next()?, parts.next()?);
        let repo = repo.strip_suffix(".git").unwrap_or(repo);
        let subdir = parts
            .next()
            .filter(|s| !s.is_empty())
            .map(|s| format!("//{s}"))
            .unwrap_or_default();
        return Some(format!("https://{host}{owner}/{repo}.git{subdir}{query}"));
    }
    None
}

/// Reads `url` (the source after `git::`, with its query) into a [`GitSource`].
pub(super) fn parse(url: &str) -> Result<GitSource, String> {
    let (location, query) = match url.split_once('?') {
        Some((location, query)) => (location, query),
        None => (url, ""),
    };
    let (scheme, rest) = location.split_once("://").ok_or_else(|| {
        format!("git source {url:?} is not a URL; write git::https://… or git::file://…")
    })?;
    match scheme {
        "https" | "http" | "file" => {}
        "ssh" => return Err(no_ssh()),
        other => {
            return Err(format!(
                "git over {other:?} is not supported; use an https or file URL"
            ));
        }
    }
    // go-getter: a `//` after the host starts the subdirectory.
    let (repo, subdir) = match rest.find("//") {
        Some(at) if at > 0 || scheme != "file" => (
            &rest[..at],
            Some(rest[at + 2..].trim_matches('/').to_string()).filter(|s| !s.is_empty()),
        ),
        _ => (rest, None),
    };
    let mut source = GitSource {
        url: format!("{scheme}://{repo}"),
        subdir,
        reference: None,
        depth: None,
    };
    for pair in query.split('&').filter(|p| !p.is_empty()) {
        let (key, value) = pair.split_once('=').unwrap_or((pair, ""));
        source.apply(key, &super::percent_decode(value))?;
    }
    Ok(source)
}

impl GitSource {
    /// Takes one go-getter parameter (from the URL or the artifact's `options`).
    pub(super) fn apply(&mut self, key: &str, value: &str) -> Result<(), String> {
        match key {
            "ref" => self.reference = Some(value.to_string()).filter(|r| !r.is_empty()),
            "depth" => {
                let depth = value
                    .parse::<i32>()
                    .ok()
                    .filter(|d| *d > 0)
                    .ok_or_else(|| format!("depth must be a positive number, got {value:?}"))?;
                self.depth = Some(depth);
            }
            "sshkey" => return Err(no_ssh()),
            // go-getter's other parameters do not apply to git sources.
            _ => {}
        }
        Ok(())
    }

    /// Clones the repository into `scratch` (which must not exist) and checks out the
    /// ref (blocking). Answers the directory to install: the clone or its subdirectory.
    pub(super) fn clone_into(&self, scratch: &Path) -> Result<std::path::PathBuf, String> {
        let repo = Repository::init(scratch)
            .map_err(|e| format!("preparing a clone of {}: {}", self.url, e.message()))?;
        let mut remote = repo
            .remote("origin", &self.url)
            .map_err(|e| format!("{}: {}", self.url, e.message()))?;
        let heads_and_tags = [
            "+refs/heads/*:refs/remotes/origin/*",
            "+refs/tags/*:refs/tags/*",
        ];
        remote
            .fetch(&heads_and_tags, Some(&mut self.fetch_options()), None)
            .map_err(|e| format!("cloning {}: {}", self.url, e.message()))?;
        let commit = match &self.reference {
            Some(reference) => match find_commit(&repo, reference) {
                Some(commit) => commit,
                // A shallow clone holds only the branch tips: fetch the ref by name.
                None if self.depth.is_some() && !self.url.starts_with("file://") => {
                    let named = [
                        format!("+refs/tags/{reference}:refs/tags/{reference}"),
                        format!("+refs/heads/{reference}:refs/remotes/origin/{reference}"),
                    ];
                    for refspec in &named {
                        let _ = remote.fetch(&[refspec], Some(&mut self.fetch_options()), None);
                    }
                    find_commit(&repo, reference).ok_or_else(|| self.unknown_ref(reference))?
                }
                None => return Err(self.unknown_ref(reference)),
            },
            None => default_branch_tip(&repo, &mut remote)
                .ok_or_else(|| format!("{} has no branch to check out", self.url))?,
        };
        repo.set_head_detached(commit)
            .and_then(|()| repo.checkout_head(Some(CheckoutBuilder::new().force())))
            .map_err(|e| format!("checking out {commit} of {}: {}", self.url, e.message()))?;
        let Some(subdir) = &self.subdir else {
            return Ok(scratch.to_path_buf());
        };
        let dir = caravan_drivers::host_path::join_beneath(scratch, subdir)
            .map_err(|e| format!("subdirectory {subdir:?}: {e}"))?;
        if !dir.is_dir() {
            return Err(format!("subdirectory {subdir:?} not found in {}", self.url));
        }
        Ok(dir)
    }

    fn fetch_options(&self) -> FetchOptions<'static> {
        let mut options = FetchOptions::new();
        // libgit2's local transport cannot fetch shallow; a local clone is cheap and
        // checks out the same files, so `depth` only applies over the network.
        if let Some(depth) = self.depth.filter(|_| !self.url.starts_with("file://")) {
            options.depth(depth);
        }
        options.download_tags(git2::AutotagOption::All);
        options
    }

    fn unknown_ref(&self, reference: &str) -> String {
        format!(
            "ref {reference:?} is neither a branch, a tag nor a commit of {}",
            self.url
        )
    }
}

pub(super) fn no_ssh() -> String {
    "git over ssh (and sshkey) is not supported by Caravan; use an https URL".to_string()
}

/// Copies the clone (or its subdirectory) into the artifact's destination, merging with
/// what is there. Symbolic links are copied as links, never followed: a link in the
/// repository must not make the agent copy a host file into the task.
pub(super) fn copy_tree(from: &Path, dest: &Path) -> Result<(), String> {
    let fail = |path: &Path, e: std::io::Error| format!("copying {}: {e}", path.display());
    std::fs::create_dir_all(dest).map_err(|e| fail(dest, e))?;
    for entry in std::fs::read_dir(from).map_err(|e| fail(from, e))? {
        let entry = entry.map_err(|e| fail(from, e))?;
        let (path, target) = (entry.path(), dest.join(entry.file_name()));
        let kind = entry.file_type().map_err(|e| fail(&path, e))?;
        // Nor is a link already at the destination followed when writing.
        if std::fs::symlink_metadata(&target).is_ok_and(|m| m.file_type().is_symlink()) {
            std::fs::remove_file(&target).map_err(|e| fail(&target, e))?;
        }
        if kind.is_symlink() {
            let link = std::fs::read_link(&path).map_err(|e| fail(&path, e))?;
            std::os::unix::fs::symlink(&link, &target).map_err(|e| fail(&target, e))?;
        } else if kind.is_dir() {
            copy_tree(&path, &target)?;
        } else {
            std::fs::copy(&path, &target).map_err(|e| fail(&path, e))?;
        }
    }
    Ok(())
}

/// The commit a branch, tag or (abbreviated) commit ID names, if the clone has it.
fn find_commit(repo: &Repository, reference: &str) -> Option<Oid> {
    let by_name = [
        format!("refs/remotes/origin/{reference}"),
        format!("refs/tags/{reference}"),
    ];
    for name in &by_name {
        if let Ok(found) = repo.find_reference(name)
            && let Ok(commit) = found.peel_to_commit()
        {
            return Some(commit.id());
        }
    }
    repo.revparse_single(reference)
        .ok()?
        .peel_to_commit()
        .ok()
        .map(|c| c.id())
}

/// The tip of the remote's default branch (its HEAD), else of `main` or `master`.
fn default_branch_tip(repo: &Repository, remote: &mut git2::Remote<'_>) -> Option<Oid> {
    let advertised = remote
        .connect(git2::Direction::Fetch)
        .ok()
        .and_then(|()| remote.default_branch().ok())
        .and_then(|name| name.as_str().map(str::to_string));
    let _ = remote.disconnect();
    let branch = advertised
        .as_deref()
        .and_then(|name| name.strip_prefix("refs/heads/"))
        .map(str::to_string);
    branch
        .into_iter()
        .chain(["main".to_string(), "master".to_string()])
        .find_map(|name| find_commit(repo, &name))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn sources_are_read_as_go_getter_reads_them() {
        let cases = [
            (
                "https://example.com/org/repo.git?ref=v1.2&depth=1",
                GitSource {
                    url: "https://example.com/org/repo.git".into(),
                    subdir: None,
                    reference: Some("v1.2".into()),
                    depth: Some(1),
                },
            ),
            (
                "https://example.com/org/repo.git//deploy/web?ref=main",
                GitSource {
                    url: "https://example.com/org/repo.git".into(),
                    subdir: Some("deploy/web".into()),
                    reference: Some("main".into()),
                    depth: None,
                },
            ),
            (
                "file:///tmp/x/repo.git?ref=v1",
                GitSource {
                    url: "file:///tmp/x/repo.git".into(),
                    subdir: None,
                    reference: Some("v1".into()),
                    depth: None,
                },
            ),
            (
                "file:///tmp/x/repo.git//sub",
                GitSource {
                    url: "file:///tmp/x/repo.git".into(),
                    subdir: Some("sub".into()),
                    reference: None,
                    depth: None,
                },
            ),
        ];
        for (url, want) in cases {
            assert_eq!(parse(url).as_ref(), Ok(&want), "{url}");
        }
    }

    #[test]
    fn ssh_and_bad_parameters_are_refused_by_name() {
        for (url, want) in [
            ("ssh://git@example.com/org/repo.git", "git over ssh"),
            ("https://example.com/r.git?sshkey=abc", "sshkey"),
            ("https://example.com/r.git?depth=zero", "depth must be"),
            ("example.com/r.git", "is not a URL"),
        ] {
            let error = parse(url).unwrap_err();
            assert!(error.contains(want), "{url}: {error}");
        }
    }

    #[test]
    fn github_and_gitlab_short_forms_are_https_clones() {
        for (short, want) in [
            (
                "github.com/hashicorp/nomad",
                Some("https://github.com/hashicorp/nomad.git"),
            ),
            (
                "github.com/hashicorp/nomad.git/demo?ref=v1.0.0",
                Some("https://github.com/hashicorp/nomad.git//demo?ref=v1.0.0"),
            ),
            (
                "gitlab.com/group/project",
                Some("https://gitlab.com/group/project.git"),
            ),
            ("example.com/x", None),
        ] {
            assert_eq!(detect(short).as_deref(), want, "{short}");
        }
    }
}

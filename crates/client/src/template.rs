//! `template { }`: files rendered into the task's directory before it starts (Nomad's
//! template hook), with the subset of Go's `text/template` in `caravan-gotemplate` and
//! consul-template's functions in `funcs`.
//!
//! Templates render before the task first starts. Those that read Nomad's service
//! catalogue (`nomadService`, `nomadServices`) are watched while the task runs
//! ([`watch`]): when what they read changes they render again, and a changed file
//! applies its `change_mode` (`restart`, `signal`, `noop`) after its `splay`.
//!
//! Differences from Nomad, on purpose: a template that names a Consul, Vault or Nomad
//! variables function fails the task at once, where Nomad would wait for the data; a
//! template that reads no service renders once.

mod funcs;
mod services;
mod variables;
pub mod watch;

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

use caravan_drivers::host_path::join_beneath;
use caravan_structs::Template;

pub use caravan_gotemplate::Value;
pub use services::{CatalogAnswer, CatalogData, CatalogQuery};

/// A template that could not be rendered: which one, and why.
#[derive(Debug, Clone, PartialEq, thiserror::Error)]
#[error("template {template:?}: {message}")]
pub struct TemplateError {
    /// The destination as written in the job (the source, or `(dynamic)`, without one).
    pub template: String,
    pub message: String,
}

/// Renders `text` with the task's environment, like consul-template: `{{ env "X" }}`.
///
/// ```
/// # use std::collections::BTreeMap;
/// # use std::path::Path;
/// let env = BTreeMap::from([("NAME".to_string(), "web".to_string())]);
/// let dir = Path::new("/nonexistent");
/// let text = caravan_client::template::render("{{ env \"NAME\" | toUpper }}", "", "", &env, dir, dir, false);
/// assert_eq!(text.unwrap(), "WEB");
/// ```
pub fn render(
    text: &str,
    left_delim: &str,
    right_delim: &str,
    env: &BTreeMap<String, String>,
    task_dir: &Path,
    alloc_dir: &Path,
    err_missing_key: bool,
) -> Result<String, String> {
    let funcs = funcs::TaskFunctions {
        env,
        task_dir,
        alloc_dir,
        services: &CatalogData::default(),
    };
    execute(&funcs, text, left_delim, right_delim, err_missing_key)
}

fn execute(
    funcs: &funcs::TaskFunctions,
    text: &str,
    left_delim: &str,
    right_delim: &str,
    err_missing_key: bool,
) -> Result<String, String> {
    caravan_gotemplate::Template::new(funcs)
        .delims(left_delim, right_delim)
        .missing_key_error(err_missing_key)
        .parse(text)
        .map_err(|e| format!("parse: {e}"))?
        .execute()
        .map_err(|e| format!("execute: {e}"))
}

/// Where the task's files live on the host.
pub struct TaskDirs<'a> {
    /// `<alloc>/<task>`: relative destinations start here.
    pub task_dir: &'a Path,
    /// `<alloc>/alloc`, shared by the tasks; `alloc/...` destinations land there.
    pub alloc_dir: &'a Path,
}

/// A template rendered, not written yet.
#[derive(Debug, Clone, PartialEq)]
pub struct Rendered {
    /// The destination as written in the job (or the source, or `(dynamic)`).
    pub name: String,
    pub dest: PathBuf,
    pub contents: String,
    mode: u32,
    uid: Option<i64>,
    gid: Option<i64>,
    /// `env = true`: its variables go to the task's environment.
    pub envvars: bool,
}

impl Rendered {
    /// Writes the file (atomically, with its mode and owner).
    pub fn write(&self, dirs: &TaskDirs) -> Result<(), TemplateError> {
        write_file(
            &self.dest,
            self.contents.as_bytes(),
            self.mode,
            self.uid,
            self.gid,
            dirs,
        )
        .map_err(|message| TemplateError {
            template: self.name.clone(),
            message,
        })
    }
}

/// Renders every template of a task, in order, and answers the variables of its
/// `env = true` templates (later templates win), which Nomad adds to the task's
/// environment over its `env` block.
///
/// `env` is what `{{ env }}` and `${...}` in paths see.
pub fn render_all(
    templates: &[Template],
    env: &BTreeMap<String, String>,
    dirs: &TaskDirs,
) -> Result<BTreeMap<String, String>, TemplateError> {
    let rendered = render_templates(templates, env, dirs, &CatalogData::default())?;
    for template in &rendered {
        template.write(dirs)?;
    }
    env_vars(&rendered)
}

/// The variables of the `env = true` templates among `rendered`.
pub fn env_vars(rendered: &[Rendered]) -> Result<BTreeMap<String, String>, TemplateError> {
    let mut vars = BTreeMap::new();
    for template in rendered.iter().filter(|t| t.envvars) {
        let parsed = parse_env_file(&template.contents).map_err(|e| TemplateError {
            template: template.name.clone(),
            message: format!("error parsing env template: {e}"),
        })?;
        vars.extend(parsed);
    }
    Ok(vars)
}

/// Renders every template of a task with the services it may read, without writing.
pub fn render_templates(
    templates: &[Template],
    env: &BTreeMap<String, String>,
    dirs: &TaskDirs,
    services: &CatalogData,
) -> Result<Vec<Rendered>, TemplateError> {
    templates
        .iter()
        .map(|template| {
            let name = template
                .dest_path
                .clone()
                .filter(|d| !d.is_empty())
                .or_else(|| template.source_path.clone().filter(|s| !s.is_empty()))
                .unwrap_or_else(|| "(dynamic)".to_string());
            render_one(template, env, dirs, services, name.clone()).map_err(|message| {
                TemplateError {
                    template: name,
                    message,
                }
            })
        })
        .collect()
}

/// Renders one template.
fn render_one(
    template: &Template,
    env: &BTreeMap<String, String>,
    dirs: &TaskDirs,
    services: &CatalogData,
    name: String,
) -> Result<Rendered, String> {
    let dest = template.dest_path.as_deref().unwrap_or_default();
    if dest.is_empty() {
        return Err("destination is empty".into());
    }
    let dest = resolve_in_alloc(&interpolate(dest, env), dirs)
        .ok_or("template destination path escapes the allocation directory")?;
    let data = template.embedded_tmpl.as_deref().unwrap_or_default();
    let source = template.source_path.as_deref().unwrap_or_default();
    let text = if !data.is_empty() {
        data.to_string()
    } else if !source.is_empty() {
        // Nomad: a relative source is relative to the task directory, and a source
        // must not leave it (the client's template sandbox).
        let path = within(dirs.task_dir, Path::new(&interpolate(source, env)))
            .ok_or("template source path escapes the task directory")?;
        std::fs::read_to_string(&path)
            .map_err(|e| format!("failed to read template source {}: {e}", path.display()))?
    } else {
        return Err("must specify exactly one of 'source' or 'data'".into());
    };
    let perms = template
        .perms
        .as_deref()
        .filter(|p| !p.is_empty())
        .unwrap_or("0644");
    let mode = u32::from_str_radix(perms, 8)
        .ok()
        .filter(|m| *m <= 0o7777)
        .ok_or_else(|| format!("failed to parse {perms:?} as octal"))?;
    let funcs = funcs::TaskFunctions {
        env,
        task_dir: dirs.task_dir,
        alloc_dir: dirs.alloc_dir,
        services,
    };
    let contents = execute(
        &funcs,
        &text,
        template.left_delim.as_deref().unwrap_or_default(),
        template.right_delim.as_deref().unwrap_or_default(),
        template.err_missing_key == Some(true),
    )?;
    Ok(Rendered {
        name,
        dest,
        contents,
        mode,
        uid: template.uid,
        gid: template.gid,
        envvars: template.envvars == Some(true),
    })
}

/// `${NOMAD_TASK_DIR}` and friends in a destination or source.
fn interpolate(text: &str, env: &BTreeMap<String, String>) -> String {
    crate::task_env::interpolate_with(text, |key| env.get(key).cloned())
}

/// `path` beneath `dir` through the checked join: an absolute path already inside `dir`
/// (an interpolated `${NOMAD_TASK_DIR}/x`) or one relative to it. `None` when it would
/// leave `dir`.
fn within(dir: &Path, path: &Path) -> Option<PathBuf> {
    let relative = if path.is_absolute() {
        path.strip_prefix(dir).ok()?
    } else {
        path
    };
    join_beneath(dir, relative.to_str()?).ok()
}

/// Where a destination written in a job lands: under the task directory, except that an
/// absolute path already inside the task or shared allocation directory (an interpolated
/// `${NOMAD_TASK_DIR}/x`) stays where it is, and `alloc/...` means the shared directory.
/// Nomad joins even absolute paths onto the task directory. `None` when the path leaves
/// both (`..` past them, or a symlink out).
pub fn resolve_in_alloc(dest: &str, dirs: &TaskDirs) -> Option<PathBuf> {
    let path = Path::new(dest);
    let inside = |p: &Path| p.starts_with(dirs.task_dir) || p.starts_with(dirs.alloc_dir);
    // Relative to the allocation directory, which holds both (`<task>/` and `alloc/`), so
    // that `../alloc/x` from the task directory is still found.
    let root = dirs.alloc_dir.parent()?;
    let task = dirs.task_dir.strip_prefix(root).ok()?;
    let relative = match path.strip_prefix(root) {
        Ok(rest) if path.is_absolute() => rest.to_path_buf(),
        _ => {
            let relative = path.strip_prefix("/").unwrap_or(path);
            match relative.strip_prefix("alloc") {
                Ok(rest) => Path::new("alloc").join(rest),
                Err(_) => task.join(relative),
            }
        }
    };
    join_beneath(root, relative.to_str()?)
        .ok()
        .filter(|p| inside(p))
}

/// Writes a file atomically (a temporary file renamed over the destination, so a task
/// never reads half a file), with its mode and owner. Directories on the way are
/// created, and must not lead outside through a symlink.
pub fn write_file(
    dest: &Path,
    contents: &[u8],
    mode: u32,
    uid: Option<i64>,
    gid: Option<i64>,
    dirs: &TaskDirs,
) -> Result<(), String> {
    use std::os::unix::fs::PermissionsExt;
    let parent = dest.parent().ok_or("destination has no parent directory")?;
    std::fs::create_dir_all(parent)
        .map_err(|e| format!("failed to create {}: {e}", parent.display()))?;
    let real_parent = parent
        .canonicalize()
        .map_err(|e| format!("failed to resolve {}: {e}", parent.display()))?;
    let inside = |dir: &Path| dir.canonicalize().is_ok_and(|d| real_parent.starts_with(d));
    if !inside(dirs.task_dir) && !inside(dirs.alloc_dir) {
        return Err("template destination path escapes the allocation directory".into());
    }
    let file_name = dest.file_name().ok_or("destination names no file")?;
    let temp = real_parent.join(format!(".{}.caravan-tmp", file_name.to_string_lossy()));
    let write = || -> std::io::Result<()> {
        std::fs::write(&temp, contents)?;
        std::fs::set_permissions(&temp, std::fs::Permissions::from_mode(mode))?;
        // Nomad: uid/gid -1 (or unset) keeps the agent's.
        let owner = |id: Option<i64>| id.filter(|i| *i >= 0).map(|i| i as u32);
        if owner(uid).is_some() || owner(gid).is_some() {
            std::os::unix::fs::chown(&temp, owner(uid), owner(gid))?;
        }
        std::fs::rename(&temp, real_parent.join(file_name))
    };
    write().map_err(|e| {
        let _ = std::fs::remove_file(&temp);
        format!("failed to write {}: {e}", dest.display())
    })
}

/// Parses an `env = true` template's output as Nomad does (go-envparse): `KEY=value`
/// lines, `#` comments, blank lines, an optional `export `, and values in double quotes
/// (with escapes) or single quotes (literal).
pub fn parse_env_file(text: &str) -> Result<BTreeMap<String, String>, String> {
    let mut vars = BTreeMap::new();
    for (number, line) in text.lines().enumerate() {
        let line = line.trim();
        if line.is_empty() || line.starts_with('#') {
            continue;
        }
        let line = line.strip_prefix("export ").unwrap_or(line);
        let (key, value) = line
            .split_once('=')
            .ok_or_else(|| format!("line {}: missing \"=\"", number + 1))?;
        let key = key.trim();
        let valid = key
            .chars()
            .enumerate()
            .all(|(i, c)| c == '_' || c.is_ascii_alphabetic() || (i > 0 && c.is_ascii_digit()));
        if key.is_empty() || !valid {
            return Err(format!(
                "line {}: invalid variable name {key:?}",
                number + 1
            ));
        }
        let value = value.trim();
        let value = if let Some(quoted) = value.strip_prefix('"') {
            let inner = quoted
                .strip_suffix('"')
                .ok_or_else(|| format!("line {}: unterminated quoted value", number + 1))?;
            let mut out = String::new();
            let mut chars = inner.chars();
            while let Some(c) = chars.next() {
                if c != '\\' {
                    out.push(c);
                    continue;
                }
                match chars.next() {
                    Some('n') => out.push('\n'),
                    Some('t') => out.push('\t'),
                    Some('r') => out.push('\r'),
                    Some(other) => out.push(other),
                    None => out.push('\\'),
                }
            }
            out
        } else if let Some(quoted) = value.strip_prefix('\'') {
            quoted
                .strip_suffix('\'')
                .ok_or_else(|| format!("line {}: unterminated quoted value", number + 1))?
                .to_string()
        } else {
            // An unquoted value ends at a ` #` comment.
            value
                .split(" #")
                .next()
                .unwrap_or_default()
                .trim_end()
                .to_string()
        };
        vars.insert(key.to_string(), value);
    }
    Ok(vars)
}

#[cfg(test)]
mod tests;

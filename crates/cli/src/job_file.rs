//! Job files as `job run`, `job plan` and `job validate` read them (Nomad's `JobGetter`
//! in `command/helpers.go`).
//!
//! The syntax is JSON for `-json` or a `*.json` file, HCL1 for `-hcl1`, otherwise HCL2.
//! HCL2 variables take their values, from lowest to highest precedence, from the
//! variable's `default`, `NOMAD_VAR_<name>` environment variables, `-var-file` files (in
//! the order given, later ones winning) and `-var name=value` flags. HCL2's `file("x")`
//! reads `x` relative to the job file's directory. Every error is the full message to
//! print, starting `Error getting job struct: `.

use std::io::Read;
use std::path::Path;
use std::sync::Arc;

use caravan_jobspec::{
    FileReader, Hcl2Options, JobFormat, parse_job, parse_job_hcl2_with_options, parse_var_file,
};
use caravan_structs::Job;

use crate::flags::Parsed;

/// Prefix of the environment variables that set HCL2 variables (Nomad's
/// `NOMAD_VAR_<name>`).
pub const ENV_VAR_PREFIX: &str = "NOMAD_VAR_";

/// How to read a job file: the `-json`, `-hcl1`, `-var` and `-var-file` flags.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct JobGetter {
    /// `-json`: parse as JSON (also chosen for `*.json` files).
    pub json: bool,
    /// `-hcl1`: parse as HCL1.
    pub hcl1: bool,
    /// `-var name=value` flags, in the order given.
    pub vars: Vec<String>,
    /// `-var-file` paths, in the order given.
    pub var_files: Vec<String>,
}

/// The one `<path>` argument of `job run|plan|validate`, or the usage error printed and
/// `Err(error_code)`.
pub fn path_argument<'a>(
    parsed: &'a Parsed,
    command: &str,
    error_code: i32,
) -> Result<&'a str, i32> {
    match parsed.args.as_slice() {
        [path] => Ok(path),
        _ => {
            crate::meta::err("This command takes one argument: <path>");
            crate::meta::err(&crate::meta::help_hint(command));
            Err(error_code)
        }
    }
}

impl JobGetter {
    /// The getter for a command's parsed flags (`json`, `hcl1`, `var`, `var-file`).
    pub fn from_flags(parsed: &Parsed) -> JobGetter {
        JobGetter {
            json: parsed.bool("json"),
            hcl1: parsed.bool("hcl1"),
            vars: parsed.list("var"),
            var_files: parsed.list("var-file"),
        }
    }

    /// [`JobGetter::get`], canonicalized as registration would, with the error printed;
    /// `Err` carries the command's exit code for it.
    pub fn get_canonical(&self, path: &str, error_code: i32) -> Result<Job, i32> {
        let mut job = self.get(path).map_err(|message| {
            crate::meta::err(&message);
            error_code
        })?;
        job.canonicalize();
        Ok(job)
    }

    /// Which parser the file at `path` gets.
    pub fn format(&self, path: &str) -> JobFormat {
        job_format(path, self.json, self.hcl1)
    }

    /// Reads `path` (`-` is stdin) and parses it with the process environment and the
    /// file system (for `-var-file` and `file()`). The job is not canonicalized.
    pub fn get(&self, path: &str) -> Result<Job, String> {
        let source = read_job_source(path)?;
        let env: Vec<(String, String)> = std::env::vars().collect();
        let var_files = self.read_var_files(path, &|file| std::fs::read_to_string(file))?;
        let reader: FileReader = Arc::new(|file: &Path| {
            std::fs::read_to_string(file)
                .map_err(|e| format!("open {}: {}", file.display(), io_reason(&e)))
        });
        self.parse(path, &source, &var_files, &env, Some(reader))
    }

    /// Reads and parses every `-var-file` (`.json` files as JSON objects, others as HCL
    /// `name = value` lines), in order.
    pub fn read_var_files(
        &self,
        job_path: &str,
        read: &dyn Fn(&str) -> std::io::Result<String>,
    ) -> Result<Vec<(String, serde_json::Value)>, String> {
        let mut values = Vec::new();
        for file in &self.var_files {
            let text = read(file).map_err(|e| {
                format!(
                    "Error getting job struct: Error parsing job file from {job_path}:\nError reading var file {file:?}: open {file}: {}",
                    io_reason(&e)
                )
            })?;
            let parsed = parse_var_file(file, &text).map_err(|e| {
                format!("Error getting job struct: Error parsing job file from {job_path}:\n{e}")
            })?;
            values.extend(parsed);
        }
        Ok(values)
    }

    /// Parses `source` read from `path`. `var_file_values` are the `-var-file` contents
    /// ([`JobGetter::read_var_files`]), `env` the process environment (only
    /// `NOMAD_VAR_*` entries are used), `read_file` what `file()` reads with.
    pub fn parse(
        &self,
        path: &str,
        source: &str,
        var_file_values: &[(String, serde_json::Value)],
        env: &[(String, String)],
        read_file: Option<FileReader>,
    ) -> Result<Job, String> {
        let format = self.format(path);
        let wrap = |e: String| {
            format!("Error getting job struct: Error parsing job file from {path}:\n{e}")
        };
        if format != JobFormat::Hcl2 {
            // Nomad: variables only exist in HCL2; -var is ignored for HCL1 and JSON.
            return parse_job(path, source, format).map_err(|e| wrap(e.to_string()));
        }
        let flag_vars = parse_var_flags(&self.vars)?;
        let options = Hcl2Options {
            var_file_values: var_file_values.to_vec(),
            vars: hcl2_vars(source, env, var_file_values, flag_vars),
            read_file,
        };
        parse_job_hcl2_with_options(path, source, &options).map_err(|e| wrap(e.to_string()))
    }
}

/// Which parser a job file gets: JSON for `-json` or `*.json`, HCL1 for `-hcl1`,
/// otherwise HCL2 (Nomad's default since 1.0).
pub fn job_format(path: &str, json_flag: bool, hcl1_flag: bool) -> JobFormat {
    if json_flag || path.ends_with(".json") {
        JobFormat::Json
    } else if hcl1_flag {
        JobFormat::Hcl1
    } else {
        JobFormat::Hcl2
    }
}

/// Splits `-var name=value` flags, with Nomad's error for one without `=`.
pub fn parse_var_flags(vars: &[String]) -> Result<Vec<(String, String)>, String> {
    vars.iter()
        .map(|var| match var.split_once('=') {
            Some((name, value)) => Ok((name.trim().to_string(), value.to_string())),
            None => Err(format!(
                "Error getting job struct: Invalid -var option: The given -var option {var:?} is not correctly specified. Must be a variable name and value separated by an equals sign, like -var=\"key=value\"."
            )),
        })
        .collect()
}

/// The `-var`-style values of an HCL2 parse: `NOMAD_VAR_<name>` environment variables
/// first (lowest precedence), then the `-var` flags (the parser takes the last value
/// given for a name).
///
/// Nomad ignores environment variables for variables the file does not declare (only
/// `-var` and `-var-file` are strict), and a `-var-file` value beats the environment, so
/// those environment entries are dropped here.
pub fn hcl2_vars(
    source: &str,
    env: &[(String, String)],
    var_file_values: &[(String, serde_json::Value)],
    flag_vars: Vec<(String, String)>,
) -> Vec<(String, String)> {
    let declared = declared_variables(source);
    let mut vars: Vec<(String, String)> = env
        .iter()
        .filter_map(|(key, value)| {
            let name = key.strip_prefix(ENV_VAR_PREFIX)?;
            let wanted = declared.iter().any(|d| d == name)
                && !var_file_values.iter().any(|(k, _)| k == name);
            wanted.then(|| (name.to_string(), value.clone()))
        })
        .collect();
    vars.sort();
    vars.extend(flag_vars);
    vars
}

/// The names of the `variable "name" { }` blocks of an HCL2 file (a textual scan:
/// comments and strings are not tracked, which only matters for the environment
/// variables [`hcl2_vars`] offers).
pub fn declared_variables(source: &str) -> Vec<String> {
    let mut names = Vec::new();
    for line in source.lines() {
        let Some(rest) = line.trim_start().strip_prefix("variable") else {
            continue;
        };
        if !rest.starts_with(char::is_whitespace) {
            continue;
        }
        let rest = rest.trim_start();
        let name = if let Some(quoted) = rest.strip_prefix('"') {
            quoted.split('"').next().unwrap_or_default()
        } else {
            rest.split(|c: char| c.is_whitespace() || c == '{')
                .next()
                .unwrap_or_default()
        };
        if !name.is_empty() {
            names.push(name.to_string());
        }
    }
    names
}

/// The text of a job file (`-` is stdin), with Nomad's error when it cannot be read.
pub fn read_job_source(path: &str) -> Result<String, String> {
    if path == "-" {
        let mut text = String::new();
        std::io::stdin()
            .read_to_string(&mut text)
            .map_err(|e| format!("Error getting job struct: Error reading stdin: {e}"))?;
        return Ok(text);
    }
    std::fs::read_to_string(path).map_err(|e| {
        format!(
            "Error getting job struct: Error getting jobfile from {path:?}: open {path}: {}",
            io_reason(&e)
        )
    })
}

/// Go's wording of common I/O errors.
pub(crate) fn io_reason(e: &std::io::Error) -> String {
    match e.kind() {
        std::io::ErrorKind::NotFound => "no such file or directory".to_string(),
        std::io::ErrorKind::PermissionDenied => "permission denied".to_string(),
        _ => e.to_string(),
    }
}

#[cfg(test)]
#[path = "job_file_tests.rs"]
mod tests;

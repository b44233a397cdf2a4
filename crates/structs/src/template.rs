//! `artifact { }` and `template { }`: files a task gets before it starts.

use std::collections::BTreeMap;

use serde::{Deserialize, Serialize};

use crate::SECOND_NS;

/// `artifact { source destination mode options headers }` (`api.TaskArtifact`).
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "PascalCase", default)]
pub struct TaskArtifact {
    pub getter_source: Option<String>,
    pub getter_options: Option<BTreeMap<String, String>>,
    pub getter_headers: Option<BTreeMap<String, String>>,
    /// `any` (default), `file` or `dir`.
    pub getter_mode: Option<String>,
    pub getter_insecure: Option<bool>,
    /// Where to put it, relative to the task directory.
    pub relative_dest: Option<String>,
    pub chown: bool,
}

impl TaskArtifact {
    /// Nomad's `TaskArtifact.Canonicalize`: mode `any`; destination `local/`, or
    /// `local/<file name>` in `file` mode.
    pub fn canonicalize(&mut self) {
        let mode = self
            .getter_mode
            .get_or_insert_with(|| "any".to_string())
            .clone();
        self.getter_insecure.get_or_insert(false);
        let source = self.getter_source.get_or_insert_with(String::new).clone();
        if self.getter_options.as_ref().is_some_and(BTreeMap::is_empty) {
            self.getter_options = None;
        }
        if self.getter_headers.as_ref().is_some_and(BTreeMap::is_empty) {
            self.getter_headers = None;
        }
        if self.relative_dest.is_none() {
            self.relative_dest = Some(if mode == "file" {
                // Go's path.Base: the last element, ignoring trailing slashes.
                let base = source
                    .trim_end_matches('/')
                    .rsplit('/')
                    .next()
                    .filter(|b| !b.is_empty())
                    .unwrap_or(".");
                format!("local/{base}")
            } else {
                "local/".to_string()
            });
        }
    }
}

/// `template { data/source destination change_mode ... }` (`api.Template`).
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "PascalCase", default)]
pub struct Template {
    pub source_path: Option<String>,
    pub dest_path: Option<String>,
    pub embedded_tmpl: Option<String>,
    /// `restart` (default), `noop`, `signal` or `script`.
    pub change_mode: Option<String>,
    pub change_script: Option<ChangeScript>,
    pub change_signal: Option<String>,
    /// Nanoseconds.
    pub splay: Option<i64>,
    pub perms: Option<String>,
    pub uid: Option<i64>,
    pub gid: Option<i64>,
    pub left_delim: Option<String>,
    pub right_delim: Option<String>,
    pub envvars: Option<bool>,
    /// Nanoseconds (deprecated).
    pub vault_grace: Option<i64>,
    pub wait: Option<WaitConfig>,
    pub err_missing_key: Option<bool>,
    pub once: bool,
}

impl Template {
    /// Nomad's `Template.Canonicalize`.
    pub fn canonicalize(&mut self) {
        self.source_path.get_or_insert_with(String::new);
        self.dest_path.get_or_insert_with(String::new);
        self.embedded_tmpl.get_or_insert_with(String::new);
        let mode = self
            .change_mode
            .get_or_insert_with(|| "restart".to_string())
            .clone();
        self.change_signal = Some(match self.change_signal.take() {
            Some(signal) => signal.to_uppercase(),
            None if mode == "signal" => "SIGHUP".to_string(),
            None => String::new(),
        });
        if let Some(script) = &mut self.change_script {
            script.canonicalize();
        }
        self.splay.get_or_insert(5 * SECOND_NS);
        self.perms.get_or_insert_with(|| "0644".to_string());
        self.left_delim.get_or_insert_with(|| "{{".to_string());
        self.right_delim.get_or_insert_with(|| "}}".to_string());
        self.envvars.get_or_insert(false);
        self.err_missing_key.get_or_insert(false);
        self.vault_grace.get_or_insert(0);
    }
}

/// `change_script { command args timeout fail_on_error }`.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "PascalCase", default)]
pub struct ChangeScript {
    pub command: Option<String>,
    pub args: Vec<String>,
    /// Nanoseconds; 5 s by default.
    pub timeout: Option<i64>,
    pub fail_on_error: Option<bool>,
}

impl ChangeScript {
    /// Nomad's `ChangeScript.Canonicalize`.
    pub fn canonicalize(&mut self) {
        self.command.get_or_insert_with(String::new);
        self.timeout.get_or_insert(5 * SECOND_NS);
        self.fail_on_error.get_or_insert(false);
    }
}

/// `wait { min max }` of a template.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "PascalCase", default)]
pub struct WaitConfig {
    /// Nanoseconds.
    pub min: Option<i64>,
    /// Nanoseconds.
    pub max: Option<i64>,
}

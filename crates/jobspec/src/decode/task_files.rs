//! `artifact { }` and `template { }` blocks of a task.

use caravan_structs::{ChangeScript, TaskArtifact, Template, WaitConfig};

use super::{blocks, check_block, duration, one_of, single_block, value_pos};
use crate::ast::Body;
use crate::error::ParseError;

const ARTIFACT_KEYS: &[&str] = &[
    "source",
    "destination",
    "mode",
    "options",
    "headers",
    "insecure",
    "chown",
];
const TEMPLATE_KEYS: &[&str] = &[
    "source",
    "destination",
    "data",
    "change_mode",
    "change_signal",
    "change_script",
    "splay",
    "perms",
    "uid",
    "gid",
    "left_delimiter",
    "right_delimiter",
    "env",
    "vault_grace",
    "wait",
    "error_on_missing_key",
    "once",
];
const CHANGE_SCRIPT_KEYS: &[&str] = &["command", "args", "timeout", "fail_on_error"];

/// Every `artifact` block.
pub(super) fn artifacts(body: &Body) -> Result<Vec<TaskArtifact>, ParseError> {
    blocks(body, "artifact")?
        .into_iter()
        .map(|artifact| {
            check_block(artifact, "artifact", ARTIFACT_KEYS, &[], &[])?;
            let Some(source) = artifact.string("source")? else {
                return Err(artifact.error_at(
                    artifact
                        .iter()
                        .next()
                        .map_or(crate::error::Pos::new(1, 1), |i| i.pos),
                    "artifact needs a \"source\"",
                ));
            };
            Ok(TaskArtifact {
                getter_source: Some(source),
                getter_options: artifact.string_map("options")?,
                getter_headers: artifact.string_map("headers")?,
                getter_mode: one_of(artifact, "mode", &["any", "file", "dir"])?,
                getter_insecure: artifact.bool("insecure")?,
                relative_dest: artifact.string("destination")?,
                chown: artifact.bool("chown")?.unwrap_or_default(),
            })
        })
        .collect()
}

/// Every `template` block.
pub(super) fn templates(body: &Body) -> Result<Vec<Template>, ParseError> {
    blocks(body, "template")?
        .into_iter()
        .map(template)
        .collect()
}

fn template(body: &Body) -> Result<Template, ParseError> {
    check_block(body, "template", TEMPLATE_KEYS, &[], &[])?;
    let change_script = match single_block(body, "change_script")? {
        Some(script) => {
            check_block(script, "change_script", CHANGE_SCRIPT_KEYS, &[], &[])?;
            Some(ChangeScript {
                command: script.string("command")?,
                args: script.strings("args")?.unwrap_or_default(),
                timeout: duration(script, "timeout")?,
                fail_on_error: script.bool("fail_on_error")?,
            })
        }
        None => None,
    };
    let wait = match single_block(body, "wait")? {
        Some(wait) => {
            check_block(wait, "wait", &["min", "max"], &[], &[])?;
            Some(WaitConfig {
                min: duration(wait, "min")?,
                max: duration(wait, "max")?,
            })
        }
        None => None,
    };
    let template = Template {
        source_path: body.string("source")?,
        dest_path: body.string("destination")?,
        embedded_tmpl: body.string("data")?,
        change_mode: one_of(
            body,
            "change_mode",
            &["restart", "noop", "signal", "script"],
        )?,
        change_script,
        change_signal: body.string("change_signal")?,
        splay: duration(body, "splay")?,
        perms: body.string("perms")?,
        uid: body.int("uid")?,
        gid: body.int("gid")?,
        left_delim: body.string("left_delimiter")?,
        right_delim: body.string("right_delimiter")?,
        envvars: body.bool("env")?,
        vault_grace: duration(body, "vault_grace")?,
        wait,
        err_missing_key: body.bool("error_on_missing_key")?,
        once: body.bool("once")?.unwrap_or_default(),
    };
    if template.change_mode.as_deref() == Some("script") && template.change_script.is_none() {
        return Err(body.error_at(
            value_pos(body, "change_mode"),
            "change_mode \"script\" needs a change_script { command = ... } block",
        ));
    }
    Ok(template)
}

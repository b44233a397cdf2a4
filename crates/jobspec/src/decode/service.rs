//! `service { check { } check_restart { } }` in groups and tasks.

use std::collections::BTreeMap;

use caravan_structs::{CheckRestart, Service, ServiceCheck};

use super::{blocks, check_block, duration, non_negative, one_of, single_block};
use crate::ast::Body;
use crate::error::ParseError;

const SERVICE_KEYS: &[&str] = &[
    "name",
    "tags",
    "canary_tags",
    "enable_tag_override",
    "port",
    "address_mode",
    "address",
    "check",
    "check_restart",
    "meta",
    "canary_meta",
    "tagged_addresses",
    "task",
    "on_update",
    "provider",
    "cluster",
];
/// Consul-only service features (service mesh, Consul workload identity and weights).
const REFUSED_SERVICE_KEYS: &[&str] = &["connect", "identity", "weights", "kind"];
const CHECK_KEYS: &[&str] = &[
    "name",
    "type",
    "command",
    "args",
    "path",
    "protocol",
    "port",
    "expose",
    "address_mode",
    "advertise",
    "interval",
    "timeout",
    "initial_status",
    "notes",
    "tls_server_name",
    "tls_skip_verify",
    "header",
    "method",
    "check_restart",
    "grpc_service",
    "grpc_use_tls",
    "task",
    "success_before_passing",
    "failures_before_critical",
    "failures_before_warning",
    "body",
    "on_update",
];
const CHECK_RESTART_KEYS: &[&str] = &["limit", "grace", "ignore_warnings"];
const ADDRESS_MODES: &[&str] = &["auto", "host", "driver", "alloc"];
const ON_UPDATE: &[&str] = &["require_healthy", "ignore_warnings", "ignore"];

/// Every `service` block of a group or task.
pub(super) fn services(body: &Body) -> Result<Vec<Service>, ParseError> {
    blocks(body, "service")?.into_iter().map(service).collect()
}

fn service(body: &Body) -> Result<Service, ParseError> {
    check_block(body, "service", SERVICE_KEYS, &[], REFUSED_SERVICE_KEYS)?;
    let mut checks = Vec::new();
    for check_body in blocks(body, "check")? {
        checks.push(check(check_body)?);
    }
    Ok(Service {
        name: body.string("name")?.unwrap_or_default(),
        tags: body.strings("tags")?.unwrap_or_default(),
        canary_tags: body.strings("canary_tags")?.unwrap_or_default(),
        enable_tag_override: body.bool("enable_tag_override")?.unwrap_or_default(),
        port_label: body.string("port")?.unwrap_or_default(),
        address_mode: one_of(body, "address_mode", ADDRESS_MODES)?.unwrap_or_default(),
        address: body.string("address")?.unwrap_or_default(),
        checks,
        check_restart: single_block(body, "check_restart")?
            .map(check_restart)
            .transpose()?,
        meta: body.string_map("meta")?,
        canary_meta: body.string_map("canary_meta")?,
        tagged_addresses: body.string_map("tagged_addresses")?,
        task_name: body.string("task")?.unwrap_or_default(),
        on_update: one_of(body, "on_update", ON_UPDATE)?.unwrap_or_default(),
        provider: one_of(
            body,
            "provider",
            &[
                caravan_structs::SERVICE_PROVIDER_CONSUL,
                caravan_structs::SERVICE_PROVIDER_NOMAD,
            ],
        )?
        .unwrap_or_default(),
        cluster: body.string("cluster")?.unwrap_or_default(),
    })
}

fn check(body: &Body) -> Result<ServiceCheck, ParseError> {
    check_block(body, "check", CHECK_KEYS, &[], &[])?;
    Ok(ServiceCheck {
        name: body.string("name")?.unwrap_or_default(),
        r#type: one_of(body, "type", &["http", "tcp", "grpc", "script"])?.unwrap_or_default(),
        command: body.string("command")?.unwrap_or_default(),
        args: body.strings("args")?.unwrap_or_default(),
        path: body.string("path")?.unwrap_or_default(),
        protocol: body.string("protocol")?.unwrap_or_default(),
        port_label: body.string("port")?.unwrap_or_default(),
        expose: body.bool("expose")?.unwrap_or_default(),
        address_mode: one_of(body, "address_mode", ADDRESS_MODES)?.unwrap_or_default(),
        advertise: body.string("advertise")?.unwrap_or_default(),
        interval: duration(body, "interval")?.unwrap_or_default(),
        timeout: duration(body, "timeout")?.unwrap_or_default(),
        initial_status: one_of(body, "initial_status", &["passing", "warning", "critical"])?
            .unwrap_or_default(),
        notes: body.string("notes")?.unwrap_or_default(),
        tls_server_name: body.string("tls_server_name")?.unwrap_or_default(),
        tls_skip_verify: body.bool("tls_skip_verify")?.unwrap_or_default(),
        header: header(body)?,
        method: body.string("method")?.unwrap_or_default(),
        check_restart: single_block(body, "check_restart")?
            .map(check_restart)
            .transpose()?,
        grpc_service: body.string("grpc_service")?.unwrap_or_default(),
        grpc_use_tls: body.bool("grpc_use_tls")?.unwrap_or_default(),
        task_name: body.string("task")?.unwrap_or_default(),
        success_before_passing: non_negative(body, "success_before_passing")?.unwrap_or_default(),
        failures_before_critical: non_negative(body, "failures_before_critical")?
            .unwrap_or_default(),
        failures_before_warning: non_negative(body, "failures_before_warning")?.unwrap_or_default(),
        body: body.string("body")?.unwrap_or_default(),
        on_update: one_of(body, "on_update", ON_UPDATE)?.unwrap_or_default(),
    })
}

/// `header { Name = ["value", ...] }`: each header is a list of strings.
fn header(body: &Body) -> Result<BTreeMap<String, Vec<String>>, ParseError> {
    let mut out = BTreeMap::new();
    for item in body.all("header") {
        let header = body.value_object("header", &item.value)?;
        for entry in header.iter() {
            out.insert(
                entry.key.clone(),
                header.value_strings(&entry.key, &entry.value)?,
            );
        }
    }
    Ok(out)
}

fn check_restart(body: &Body) -> Result<CheckRestart, ParseError> {
    check_block(body, "check_restart", CHECK_RESTART_KEYS, &[], &[])?;
    Ok(CheckRestart {
        limit: non_negative(body, "limit")?.unwrap_or_default(),
        grace: duration(body, "grace")?,
        ignore_warnings: body.bool("ignore_warnings")?.unwrap_or_default(),
    })
}

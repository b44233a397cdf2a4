//! Job- and group-level policy blocks: `update`, `migrate`, `reschedule`, `disconnect`,
//! `periodic`, `parameterized`, `scaling`.

use caravan_structs::{
    DisconnectStrategy, MigrateStrategy, ParameterizedJobConfig, PeriodicConfig, ReschedulePolicy,
    ScalingPolicy, UpdateStrategy,
};

use super::{check_at, check_block, duration, non_negative, one_of, single_block, value_pos};
use crate::ast::Body;
use crate::error::ParseError;

const UPDATE_KEYS: &[&str] = &[
    "stagger",
    "max_parallel",
    "health_check",
    "min_healthy_time",
    "healthy_deadline",
    "progress_deadline",
    "auto_revert",
    "auto_promote",
    "canary",
];
const MIGRATE_KEYS: &[&str] = &[
    "max_parallel",
    "health_check",
    "min_healthy_time",
    "healthy_deadline",
];
const RESCHEDULE_KEYS: &[&str] = &[
    "attempts",
    "interval",
    "delay",
    "delay_function",
    "max_delay",
    "unlimited",
];
const DISCONNECT_KEYS: &[&str] = &["lost_after", "replace", "reconcile", "stop_on_client_after"];
const PERIODIC_KEYS: &[&str] = &["cron", "crons", "prohibit_overlap", "time_zone", "enabled"];
const PARAMETERIZED_KEYS: &[&str] = &["payload", "meta_required", "meta_optional"];
const SCALING_KEYS: &[&str] = &["min", "max", "enabled", "policy"];

pub(super) fn update(body: &Body) -> Result<UpdateStrategy, ParseError> {
    check_block(body, "update", UPDATE_KEYS, &[], &[])?;
    Ok(UpdateStrategy {
        stagger: duration(body, "stagger")?,
        max_parallel: non_negative(body, "max_parallel")?,
        health_check: one_of(body, "health_check", &["checks", "task_states", "manual"])?,
        min_healthy_time: duration(body, "min_healthy_time")?,
        healthy_deadline: duration(body, "healthy_deadline")?,
        progress_deadline: duration(body, "progress_deadline")?,
        canary: non_negative(body, "canary")?,
        auto_revert: body.bool("auto_revert")?,
        auto_promote: body.bool("auto_promote")?,
    })
}

pub(super) fn migrate(body: &Body) -> Result<MigrateStrategy, ParseError> {
    check_block(body, "migrate", MIGRATE_KEYS, &[], &[])?;
    Ok(MigrateStrategy {
        max_parallel: non_negative(body, "max_parallel")?,
        health_check: one_of(body, "health_check", &["checks", "task_states"])?,
        min_healthy_time: duration(body, "min_healthy_time")?,
        healthy_deadline: duration(body, "healthy_deadline")?,
    })
}

pub(super) fn reschedule(body: &Body) -> Result<ReschedulePolicy, ParseError> {
    check_block(body, "reschedule", RESCHEDULE_KEYS, &[], &[])?;
    Ok(ReschedulePolicy {
        attempts: non_negative(body, "attempts")?,
        interval: duration(body, "interval")?,
        delay: duration(body, "delay")?,
        delay_function: one_of(
            body,
            "delay_function",
            &["constant", "exponential", "fibonacci"],
        )?,
        max_delay: duration(body, "max_delay")?,
        unlimited: body.bool("unlimited")?,
    })
}

pub(super) fn disconnect(body: &Body) -> Result<DisconnectStrategy, ParseError> {
    check_block(body, "disconnect", DISCONNECT_KEYS, &[], &[])?;
    Ok(DisconnectStrategy {
        lost_after: duration(body, "lost_after")?,
        replace: body.bool("replace")?,
        reconcile: one_of(
            body,
            "reconcile",
            &[
                "best_score",
                "keep_original",
                "keep_replacement",
                "longest_running",
            ],
        )?,
        stop_on_client_after: duration(body, "stop_on_client_after")?,
    })
}

pub(super) fn periodic(body: &Body) -> Result<PeriodicConfig, ParseError> {
    check_block(body, "periodic", PERIODIC_KEYS, &[], &[])?;
    let spec = body.string("cron")?;
    let specs = body.strings("crons")?.unwrap_or_default();
    if spec.is_some() && !specs.is_empty() {
        return Err(body.error_at(
            value_pos(body, "crons"),
            "only one of \"cron\" and \"crons\" may be set",
        ));
    }
    if let Some(spec) = &spec {
        check_at(
            body,
            "cron",
            caravan_structs::periodic::check_cron(spec)
                .map_err(|e| format!("invalid cron spec {spec:?}: {e}")),
        )?;
    }
    for spec in &specs {
        check_at(
            body,
            "crons",
            caravan_structs::periodic::check_cron(spec)
                .map_err(|e| format!("invalid cron spec {spec:?}: {e}")),
        )?;
    }
    Ok(PeriodicConfig {
        enabled: body.bool("enabled")?,
        spec,
        specs,
        spec_type: None,
        prohibit_overlap: body.bool("prohibit_overlap")?,
        time_zone: body.string("time_zone")?,
    })
}

pub(super) fn parameterized(body: &Body) -> Result<ParameterizedJobConfig, ParseError> {
    check_block(body, "parameterized", PARAMETERIZED_KEYS, &[], &[])?;
    let config = ParameterizedJobConfig {
        payload: one_of(
            body,
            "payload",
            caravan_structs::periodic::DISPATCH_PAYLOAD_VALUES,
        )?
        .unwrap_or_default(),
        meta_required: body.strings("meta_required")?.unwrap_or_default(),
        meta_optional: body.strings("meta_optional")?.unwrap_or_default(),
    };
    if let Some(both) = config
        .meta_required
        .iter()
        .find(|key| config.meta_optional.contains(key))
    {
        return Err(body.error_at(
            value_pos(body, "meta_optional"),
            format!("meta key \"{both}\" is both required and optional"),
        ));
    }
    Ok(config)
}

pub(super) fn scaling(body: &Body) -> Result<ScalingPolicy, ParseError> {
    check_block(body, "scaling", SCALING_KEYS, &[], &[])?;
    let min = non_negative(body, "min")?;
    let Some(max) = non_negative(body, "max")? else {
        return Err(body.error_at(
            body.iter()
                .next()
                .map_or(crate::error::Pos::new(1, 1), |i| i.pos),
            "scaling needs \"max\": write scaling { max = 10 }",
        ));
    };
    if let Some(min) = min
        && min > max
    {
        return Err(body.error_at(
            value_pos(body, "min"),
            format!("scaling \"min\" ({min}) must not be greater than \"max\" ({max})"),
        ));
    }
    Ok(ScalingPolicy {
        min,
        max: Some(max),
        enabled: body.bool("enabled")?,
        policy: single_block(body, "policy")?
            .map(Body::to_json_map)
            .unwrap_or_default(),
        ..ScalingPolicy::default()
    })
}

//! `caravan operator scheduler get-config|set-config` (Nomad's
//! `command/operator_scheduler_{get,set}_config.go`).

use caravan_structs::SchedulerConfiguration;

use crate::columnize::format_kv;
use crate::flags::FlagSet;
use crate::meta;

/// `caravan operator scheduler` without a subcommand.
pub const SCHEDULER_USAGE: &str = "Usage: caravan operator scheduler <subcommand> [options]

  This command groups subcommands for interacting with Caravan's scheduler
  subsystem.

Subcommands:
    get-config    Display the current scheduler configuration
    set-config    Modify the current scheduler configuration";

const GET_HELP: &str = "Usage: caravan operator scheduler get-config [options]

  Displays the current scheduler configuration.

  If ACLs are enabled, this command requires a token with the 'operator:read'
  capability.

Scheduler Get Config Options:

  -json
    Output the scheduler config in its JSON format.

  -t
    Format and display the scheduler config using a Go template.
";

const SET_HELP: &str = "Usage: caravan operator scheduler set-config [options]

  Modifies the current scheduler configuration.

  If ACLs are enabled, this command requires a token with the 'operator:write'
  capability.

Scheduler Set Config Options:

  -check-index
    If set, the scheduler config is only updated if the passed modify index
    matches the current server side version. If a non-zero value is passed, it
    ensures that the scheduler config is being updated from a known state.

  -scheduler-algorithm=[\"binpack\"|\"spread\"]
    Specifies whether scheduler binpacks or spreads allocations on available
    nodes.

  -memory-oversubscription=[true|false]
    When true, tasks may exceed their reserved memory limit, if the client has
    excess memory capacity. Tasks must specify memory_max to take advantage of
    memory oversubscription.

  -reject-job-registration=[true|false]
    When true, the server will return permission denied errors for job registration,
    job dispatch, and job scale APIs, unless the ACL token for the request is a
    management token. If ACLs are disabled, no user will be able to register jobs.

  -pause-eval-broker=[true|false]
    When set to true, the eval broker which usually runs on the leader will be
    disabled. This will prevent the scheduler workers from receiving new work.
";

/// The `get-config` table. Caravan does not preempt, so every preemption line is false.
pub fn render_config(config: &SchedulerConfiguration) -> String {
    format_kv(&[
        format!("Scheduler Algorithm|{}", config.scheduler_algorithm),
        format!(
            "Memory Oversubscription|{}",
            config.memory_oversubscription_enabled
        ),
        format!("Reject Job Registration|{}", config.reject_job_registration),
        format!("Pause Eval Broker|{}", config.pause_eval_broker),
        "Preemption System Scheduler|false".to_string(),
        "Preemption Service Scheduler|false".to_string(),
        "Preemption Batch Scheduler|false".to_string(),
        "Preemption SysBatch Scheduler|false".to_string(),
        format!("Modify Index|{}", config.modify_index),
    ])
}

/// `caravan operator scheduler get-config`.
pub fn run_get(args: &[String]) -> i32 {
    let set = FlagSet::new().bools(&["json"]).strings(&["t"]);
    let parsed = match meta::parse(set, args, GET_HELP) {
        Ok(p) => p,
        Err(code) => return code,
    };
    if let Err(code) = meta::no_arguments(&parsed, "operator scheduler get-config") {
        return code;
    }
    if let Err(code) = meta::no_template(&parsed) {
        return code;
    }
    let client = match meta::client(&parsed) {
        Ok(c) => c,
        Err(code) => return code,
    };
    meta::finish(
        client.run(|api| api.scheduler_configuration()),
        "Error querying scheduler configuration",
        |response| {
            if parsed.bool("json") {
                meta::out(&meta::json_pretty(&response));
            } else {
                meta::out(&render_config(&response.scheduler_config));
            }
        },
    )
}

/// The configuration after `set-config`'s flags: only the ones given change it.
pub fn merge(
    mut config: SchedulerConfiguration,
    parsed: &crate::flags::Parsed,
) -> Result<SchedulerConfiguration, String> {
    if let Some(algorithm) = parsed
        .string("scheduler-algorithm")
        .filter(|a| !a.is_empty())
    {
        if algorithm != "binpack" && algorithm != "spread" {
            return Err(format!(
                "invalid scheduler algorithm {algorithm:?}: use \"binpack\" or \"spread\""
            ));
        }
        config.scheduler_algorithm = algorithm.to_string();
    }
    for (flag, field) in [
        (
            "memory-oversubscription",
            &mut config.memory_oversubscription_enabled,
        ),
        (
            "reject-job-registration",
            &mut config.reject_job_registration,
        ),
        ("pause-eval-broker", &mut config.pause_eval_broker),
    ] {
        if parsed.is_set(flag) {
            *field = parsed.bool(flag);
        }
    }
    Ok(config)
}

/// `caravan operator scheduler set-config`.
pub fn run_set(args: &[String]) -> i32 {
    let set = FlagSet::new()
        .bools(&[
            "memory-oversubscription",
            "reject-job-registration",
            "pause-eval-broker",
        ])
        .strings(&["check-index", "scheduler-algorithm"]);
    let parsed = match meta::parse(set, args, SET_HELP) {
        Ok(p) => p,
        Err(code) => return code,
    };
    if let Err(code) = meta::no_arguments(&parsed, "operator scheduler set-config") {
        return code;
    }
    let check_index = match parsed.string("check-index").filter(|c| !c.is_empty()) {
        None => 0,
        Some(text) => match text.parse::<u64>() {
            Ok(index) => index,
            Err(e) => {
                meta::err(&format!("Error parsing check-index value {text:?}: {e}"));
                return 1;
            }
        },
    };
    let client = match meta::client(&parsed) {
        Ok(c) => c,
        Err(code) => return code,
    };
    let current = match client.run(|api| api.scheduler_configuration()) {
        Ok(response) => response.scheduler_config,
        Err(e) => {
            meta::err(&format!("Error querying for scheduler configuration: {e}"));
            return 1;
        }
    };
    if check_index > 0 && current.modify_index != check_index {
        meta::err(&format!(
            "Error performing check index set: check-index {check_index} does not match does not match current state value {}",
            current.modify_index
        ));
        return 1;
    }
    let config = match merge(current, &parsed) {
        Ok(config) => config,
        Err(e) => {
            meta::err(&format!("Error setting scheduler configuration: {e}"));
            return 1;
        }
    };
    match client.run(|api| api.set_scheduler_configuration(&config)) {
        Ok(result) if result.updated => {
            meta::out("Scheduler configuration updated!");
            0
        }
        Ok(_) => {
            meta::out("Scheduler configuration could not be atomically updated, please try again");
            1
        }
        Err(e) => {
            meta::err(&format!("Error setting scheduler configuration: {e}"));
            1
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn get_config_table() {
        let config = SchedulerConfiguration {
            pause_eval_broker: true,
            modify_index: 12,
            ..SchedulerConfiguration::default()
        };
        assert_eq!(
            render_config(&config),
            "Scheduler Algorithm           = binpack
Memory Oversubscription       = false
Reject Job Registration       = false
Pause Eval Broker             = true
Preemption System Scheduler   = false
Preemption Service Scheduler  = false
Preemption Batch Scheduler    = false
Preemption SysBatch Scheduler = false
Modify Index                  = 12"
        );
    }

    #[test]
    fn set_config_changes_only_what_was_given() {
        let set = || {
            FlagSet::new()
                .bools(&["pause-eval-broker", "reject-job-registration"])
                .strings(&["scheduler-algorithm"])
        };
        let args = |words: &[&str]| words.iter().map(|w| w.to_string()).collect::<Vec<_>>();
        let base = SchedulerConfiguration {
            reject_job_registration: true,
            ..SchedulerConfiguration::default()
        };
        let parsed = set()
            .parse(&args(&[
                "-pause-eval-broker=true",
                "-scheduler-algorithm",
                "spread",
            ]))
            .unwrap();
        let merged = merge(base.clone(), &parsed).unwrap();
        assert!(merged.pause_eval_broker);
        assert!(merged.reject_job_registration, "not given: kept");
        assert_eq!(merged.scheduler_algorithm, "spread");
        let parsed = set()
            .parse(&args(&["-reject-job-registration=false"]))
            .unwrap();
        assert!(
            !merge(base.clone(), &parsed)
                .unwrap()
                .reject_job_registration
        );
        let parsed = set()
            .parse(&args(&["-scheduler-algorithm=fastest"]))
            .unwrap();
        assert!(merge(base, &parsed).unwrap_err().contains("\"fastest\""));
    }
}

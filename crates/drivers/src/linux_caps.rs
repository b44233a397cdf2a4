//! Linux capabilities of `exec` tasks: their names, Nomad's default set, and Nomad's
//! rules for a task's `cap_add`/`cap_drop` within the driver's `allow_caps`.

use crate::DriverError;

/// Nomad's default capabilities for exec tasks (Docker's default set without
/// `net_raw`): both the default of a task and, as `allow_caps`, the most it may add to.
pub const DEFAULT_CAPS: &[&str] = &[
    "audit_write",
    "chown",
    "dac_override",
    "fowner",
    "fsetid",
    "kill",
    "mknod",
    "net_bind_service",
    "setfcap",
    "setgid",
    "setpcap",
    "setuid",
    "sys_chroot",
];

/// Linux capability names, by number (`capability.h`).
const CAPABILITIES: &[&str] = &[
    "chown",
    "dac_override",
    "dac_read_search",
    "fowner",
    "fsetid",
    "kill",
    "setgid",
    "setuid",
    "setpcap",
    "linux_immutable",
    "net_bind_service",
    "net_broadcast",
    "net_admin",
    "net_raw",
    "ipc_lock",
    "ipc_owner",
    "sys_module",
    "sys_rawio",
    "sys_chroot",
    "sys_ptrace",
    "sys_pacct",
    "sys_admin",
    "sys_boot",
    "sys_nice",
    "sys_resource",
    "sys_time",
    "sys_tty_config",
    "mknod",
    "lease",
    "audit_write",
    "audit_control",
    "setfcap",
    "mac_override",
    "mac_admin",
    "syslog",
    "wake_alarm",
    "block_suspend",
    "audit_read",
    "perfmon",
    "bpf",
    "checkpoint_restore",
];

/// A capability's number by its name (`chown`, `CAP_CHOWN`).
pub fn capability_number(name: &str) -> Option<u32> {
    let name = name.to_ascii_lowercase();
    let name = name.strip_prefix("cap_").unwrap_or(&name);
    CAPABILITIES
        .iter()
        .position(|c| *c == name)
        .map(|n| n as u32)
}

/// Nomad's `tweakCapabilities`: the default set, plus `cap_add`, minus `cap_drop`
/// (`all` drops everything), which must stay within `allow_caps`.
pub fn task_capabilities(
    allow_caps: &[String],
    cap_add: &[String],
    cap_drop: &[String],
) -> Result<Vec<u32>, DriverError> {
    let number = |name: &String| {
        capability_number(name)
            .ok_or_else(|| DriverError::InvalidConfig(format!("unknown capability {name:?}")))
    };
    let mut caps: Vec<u32> = DEFAULT_CAPS
        .iter()
        .filter_map(|c| capability_number(c))
        .collect();
    for cap in cap_add {
        if cap.eq_ignore_ascii_case("all") {
            caps = (0..CAPABILITIES.len() as u32).collect();
        } else {
            caps.push(number(cap)?);
        }
    }
    for cap in cap_drop {
        if cap.eq_ignore_ascii_case("all") {
            caps.clear();
        } else {
            let drop = number(cap)?;
            caps.retain(|c| *c != drop);
        }
    }
    caps.sort_unstable();
    caps.dedup();
    let allowed: Vec<u32> = allow_caps
        .iter()
        .filter_map(|c| capability_number(c))
        .collect();
    let denied: Vec<&str> = caps
        .iter()
        .filter(|c| !allowed.contains(c))
        .map(|c| CAPABILITIES[*c as usize])
        .collect();
    if !denied.is_empty() {
        return Err(DriverError::InvalidConfig(format!(
            "driver does not allow the following capabilities: {}",
            denied.join(", ")
        )));
    }
    Ok(caps)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn capabilities_follow_nomads_tweak_rules() {
        let allow: Vec<String> = DEFAULT_CAPS.iter().map(|c| c.to_string()).collect();
        let default = task_capabilities(&allow, &[], &[]).unwrap();
        assert_eq!(default.len(), DEFAULT_CAPS.len());
        assert!(
            !default.contains(&13),
            "net_raw is not in Nomad's default set"
        );
        let dropped = task_capabilities(&allow, &[], &["chown".into()]).unwrap();
        assert!(!dropped.contains(&0));
        assert!(
            task_capabilities(&allow, &[], &["all".into()])
                .unwrap()
                .is_empty()
        );
        let error = task_capabilities(&allow, &["sys_admin".into()], &[]).unwrap_err();
        assert!(error.to_string().contains("sys_admin"), "{error}");
    }
}

//! Which users a task may run as: Nomad's `user.denylist` and `user.checked_drivers`
//! client options, checked before a task starts (Nomad's validate hook).

use std::collections::BTreeMap;

/// The client's task-user rules.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct UserRules {
    /// Users no task of a checked driver may run as.
    pub denylist: Vec<String>,
    /// The drivers whose tasks are checked.
    pub checked_drivers: Vec<String>,
}

/// Nomad's `DefaultUserDenylist`.
const DEFAULT_DENYLIST: &str = "root,Administrator";
/// Nomad's `DefaultUserCheckedDrivers`.
const DEFAULT_CHECKED_DRIVERS: &str = "exec,qemu,java";

impl Default for UserRules {
    fn default() -> Self {
        UserRules::from_options(&BTreeMap::new())
    }
}

impl UserRules {
    /// From `client { options { "user.denylist" = "root,ubuntu" "user.checked_drivers" =
    /// "exec" } }` (comma-separated), Nomad's defaults where unset. The pre-1.0
    /// `user.blacklist` spelling is read too, as Nomad does.
    pub fn from_options(options: &BTreeMap<String, String>) -> UserRules {
        let list = |keys: &[&str], default: &str| {
            keys.iter()
                .find_map(|key| options.get(*key))
                .map_or(default, String::as_str)
                .split(',')
                .map(str::trim)
                .filter(|s| !s.is_empty())
                .map(String::from)
                .collect()
        };
        UserRules {
            denylist: list(&["user.denylist", "user.blacklist"], DEFAULT_DENYLIST),
            checked_drivers: list(&["user.checked_drivers"], DEFAULT_CHECKED_DRIVERS),
        }
    }

    /// Nomad's check, in its words: `running as user "root" is disallowed`. A task with
    /// no `user` runs as its driver's `default_user` (`exec`: `nobody`), which is
    /// checked like any other.
    pub fn check(
        &self,
        driver: &str,
        user: &str,
        default_user: Option<&str>,
    ) -> Result<(), String> {
        let user = match (user, default_user) {
            ("", Some(default)) => default,
            (user, _) => user,
        };
        if self.checked_drivers.iter().any(|d| d == driver)
            && self.denylist.iter().any(|u| u == user)
        {
            return Err(format!("running as user {user:?} is disallowed"));
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn root_is_denied_to_exec_by_default_and_options_change_that() {
        let defaults = UserRules::default();
        let cases = [
            (&defaults, "exec", "root", false),
            (&defaults, "exec", "", true),
            (&defaults, "exec", "nobody", true),
            (&defaults, "raw_exec", "root", true),
            (&defaults, "java", "Administrator", false),
        ];
        // The drivers' default users (their capabilities say so).
        let default_user = |driver: &str| (driver == "exec").then_some("nobody");
        for (rules, driver, user, allowed) in cases {
            assert_eq!(
                rules.check(driver, user, default_user(driver)).is_ok(),
                allowed,
                "{driver} {user}"
            );
        }
        assert_eq!(
            defaults.check("exec", "root", Some("nobody")).unwrap_err(),
            "running as user \"root\" is disallowed"
        );
        let options = BTreeMap::from([
            ("user.denylist".to_string(), "ubuntu, nobody".to_string()),
            (
                "user.checked_drivers".to_string(),
                "exec,raw_exec".to_string(),
            ),
        ]);
        let custom = UserRules::from_options(&options);
        assert!(custom.check("exec", "root", Some("nobody")).is_ok());
        assert!(custom.check("raw_exec", "ubuntu", None).is_err());
        assert!(
            custom.check("exec", "", Some("nobody")).is_err(),
            "exec's default user is nobody"
        );
    }
}

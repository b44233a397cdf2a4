//! Caravan's ACL core, with no I/O: Nomad's policy language ([`parse_rules`]), and the
//! [`Acl`] a token's policies merge into, which answers every capability question the
//! API asks ("may this caller submit jobs in namespace `web`?").
//!
//! Merging follows Nomad's `acl.NewACL`: capabilities of the same namespace (or glob)
//! add up across policies, and a `deny` anywhere leaves only `deny`; for the coarse
//! rules (`node`, `agent`, ...) the larger disposition wins, but `deny` beats all.
//! A namespace is matched exactly first, else by the closest glob: the one leaving the
//! fewest characters to its `*`s.

mod policy;

use std::collections::{BTreeMap, BTreeSet};

pub use policy::{
    Disposition, HostVolumeRule, NAMESPACE_CAPABILITIES, NamespaceRule, PolicyRules, parse_rules,
};

/// What a caller may do: the merge of its token's policies, or everything.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Acl {
    management: bool,
    /// Exact names and globs, each with its merged capabilities.
    namespaces: BTreeMap<String, BTreeSet<String>>,
    host_volumes: BTreeMap<String, BTreeSet<String>>,
    /// By namespace name or glob: variable path globs and their capabilities.
    variables: BTreeMap<String, BTreeMap<String, BTreeSet<String>>>,
    node: Option<Disposition>,
    agent: Option<Disposition>,
    operator: Option<Disposition>,
    quota: Option<Disposition>,
    plugin: Option<Disposition>,
}

/// The coarse merge: `deny` wins, otherwise the larger grant.
fn merge(current: Option<Disposition>, next: Option<Disposition>) -> Option<Disposition> {
    match (current, next) {
        (Some(Disposition::Deny), _) | (_, Some(Disposition::Deny)) => Some(Disposition::Deny),
        (a, b) => a.max(b),
    }
}

fn merge_capabilities(
    into: &mut BTreeMap<String, BTreeSet<String>>,
    name: &str,
    caps: &BTreeSet<String>,
) {
    let set = into.entry(name.to_string()).or_default();
    set.extend(caps.iter().cloned());
    if set.contains("deny") {
        set.retain(|c| c == "deny");
    }
}

/// Whether `name` matches `glob`, where `*` matches any run of characters.
fn glob_matches(glob: &str, name: &str) -> bool {
    let parts: Vec<&str> = glob.split('*').collect();
    if parts.len() == 1 {
        return glob == name;
    }
    let (first, last) = (parts[0], parts[parts.len() - 1]);
    if !name.starts_with(first) || name.len() < first.len() + last.len() || !name.ends_with(last) {
        return false;
    }
    let mut rest = &name[first.len()..name.len() - last.len()];
    for part in &parts[1..parts.len() - 1] {
        match rest.find(part) {
            Some(at) => rest = &rest[at + part.len()..],
            None => return false,
        }
    }
    true
}

/// The rule for `name`: the exact one, else the closest matching glob.
fn closest<'a>(
    rules: &'a BTreeMap<String, BTreeSet<String>>,
    name: &str,
) -> Option<&'a BTreeSet<String>> {
    closest_rule(rules, name)
}

/// [`closest`] for rules of any kind: the exact name, else the closest matching glob.
fn closest_rule<'a, T>(rules: &'a BTreeMap<String, T>, name: &str) -> Option<&'a T> {
    if let Some(exact) = rules.get(name) {
        return Some(exact);
    }
    rules
        .iter()
        .filter(|(glob, _)| glob.contains('*') && glob_matches(glob, name))
        .min_by_key(|(glob, _)| name.len().saturating_sub(glob.replace('*', "").len()))
        .map(|(_, rule)| rule)
}

impl Acl {
    /// The ACL of a management token (and of every caller when ACLs are off).
    pub fn management() -> Acl {
        Acl {
            management: true,
            ..Acl::from_policies(&[])
        }
    }

    /// The merge of these policies' rules.
    pub fn from_policies(policies: &[PolicyRules]) -> Acl {
        let mut acl = Acl {
            management: false,
            namespaces: BTreeMap::new(),
            host_volumes: BTreeMap::new(),
            variables: BTreeMap::new(),
            node: None,
            agent: None,
            operator: None,
            quota: None,
            plugin: None,
        };
        for policy in policies {
            for rule in &policy.namespaces {
                merge_capabilities(&mut acl.namespaces, &rule.name, &rule.capabilities);
                let paths = acl.variables.entry(rule.name.clone()).or_default();
                for (glob, caps) in &rule.variable_paths {
                    merge_capabilities(paths, glob, caps);
                }
            }
            for rule in &policy.host_volumes {
                merge_capabilities(&mut acl.host_volumes, &rule.name, &rule.capabilities);
            }
            acl.node = merge(acl.node, policy.node);
            acl.agent = merge(acl.agent, policy.agent);
            acl.operator = merge(acl.operator, policy.operator);
            acl.quota = merge(acl.quota, policy.quota);
            acl.plugin = merge(acl.plugin, policy.plugin);
        }
        acl
    }

    pub fn is_management(&self) -> bool {
        self.management
    }

    /// Whether the caller may do `capability` (`submit-job`, `read-logs`...) in `namespace`.
    pub fn allow_namespace_operation(&self, namespace: &str, capability: &str) -> bool {
        if self.management {
            return true;
        }
        closest(&self.namespaces, namespace)
            .is_some_and(|caps| !caps.contains("deny") && caps.contains(capability))
    }

    /// Whether the caller may see `namespace` at all: any capability but `deny`.
    pub fn allow_namespace(&self, namespace: &str) -> bool {
        if self.management {
            return true;
        }
        closest(&self.namespaces, namespace)
            .is_some_and(|caps| !caps.is_empty() && !caps.contains("deny"))
    }

    /// Whether the caller may do `capability` (`read`, `list`, `write`, `destroy`) on
    /// the variable at `path` in `namespace` (Nomad's `AllowVariableOperation`): the
    /// namespace's rule found as for jobs, then its path rule, exact first, else the
    /// closest glob.
    pub fn allow_variable_operation(&self, namespace: &str, path: &str, capability: &str) -> bool {
        if self.management {
            return true;
        }
        let Some(paths) = closest_rule(&self.variables, namespace) else {
            return false;
        };
        closest(paths, path).is_some_and(|caps| !caps.contains("deny") && caps.contains(capability))
    }

    /// Whether the caller may list any variable of `namespace` (Nomad's
    /// `AllowVariableSearch`): some path rule there grants more than `deny`.
    pub fn allow_variable_search(&self, namespace: &str) -> bool {
        if self.management {
            return true;
        }
        closest_rule(&self.variables, namespace).is_some_and(|paths| {
            paths
                .values()
                .any(|caps| !caps.contains("deny") && !caps.is_empty())
        })
    }

    /// Whether the caller may use host volume `name` with `capability`.
    pub fn allow_host_volume_operation(&self, name: &str, capability: &str) -> bool {
        if self.management {
            return true;
        }
        closest(&self.host_volumes, name)
            .is_some_and(|caps| !caps.contains("deny") && caps.contains(capability))
    }

    /// Whether the caller may mount host volume `name` as a job asks (Nomad's job
    /// registration check): `mount-readwrite` for a writer, either capability for a
    /// read-only mount.
    pub fn allow_host_volume_mount(&self, name: &str, read_only: bool) -> bool {
        self.allow_host_volume_operation(name, "mount-readwrite")
            || (read_only && self.allow_host_volume_operation(name, "mount-readonly"))
    }

    fn allows(&self, granted: Option<Disposition>, needed: Disposition) -> bool {
        self.management || granted.is_some_and(|g| g != Disposition::Deny && g >= needed)
    }

    pub fn allow_node_read(&self) -> bool {
        self.allows(self.node, Disposition::Read)
    }
    pub fn allow_node_write(&self) -> bool {
        self.allows(self.node, Disposition::Write)
    }
    pub fn allow_agent_read(&self) -> bool {
        self.allows(self.agent, Disposition::Read)
    }
    pub fn allow_agent_write(&self) -> bool {
        self.allows(self.agent, Disposition::Write)
    }
    pub fn allow_operator_read(&self) -> bool {
        self.allows(self.operator, Disposition::Read)
    }
    pub fn allow_operator_write(&self) -> bool {
        self.allows(self.operator, Disposition::Write)
    }
    pub fn allow_quota_read(&self) -> bool {
        self.allows(self.quota, Disposition::Read)
    }
    pub fn allow_quota_write(&self) -> bool {
        self.allows(self.quota, Disposition::Write)
    }
    pub fn allow_plugin_list(&self) -> bool {
        self.allows(self.plugin, Disposition::List)
    }
    pub fn allow_plugin_read(&self) -> bool {
        self.allows(self.plugin, Disposition::Read)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn acl(texts: &[&str]) -> Acl {
        let policies: Vec<PolicyRules> =
            texts.iter().map(|t| parse_rules("p", t).unwrap()).collect();
        Acl::from_policies(&policies)
    }

    #[test]
    fn host_volume_mounts_need_readwrite_or_for_readers_readonly() {
        let acl = acl(&[
            r#"host_volume "shared-*" { policy = "read" }"#,
            r#"host_volume "data" { policy = "write" }"#,
            r#"host_volume "shared-secret" { policy = "deny" }"#,
        ]);
        let cases = [
            ("data", false, true),
            ("data", true, true),
            ("shared-certs", true, true),
            ("shared-certs", false, false),
            ("shared-secret", true, false),
            ("other", true, false),
        ];
        for (name, read_only, allowed) in cases {
            assert_eq!(
                acl.allow_host_volume_mount(name, read_only),
                allowed,
                "{name} read_only={read_only}"
            );
        }
    }

    #[test]
    fn namespace_capabilities_by_exact_name_then_closest_glob() {
        let acl = acl(&[r#"
namespace "*" { policy = "read" }
namespace "web-*" { policy = "write" }
namespace "web-secret" { policy = "deny" }
namespace "api-*-prod" { capabilities = ["read-logs"] }
"#]);
        // (namespace, capability, allowed)
        for (ns, cap, allowed) in [
            ("default", "read-job", true),
            ("default", "submit-job", false),
            ("web-front", "submit-job", true),
            ("web-secret", "read-job", false),
            ("api-x-prod", "read-logs", true),
            ("api-x-prod", "read-job", false),
            ("api-x-dev", "read-job", true),
        ] {
            assert_eq!(
                acl.allow_namespace_operation(ns, cap),
                allowed,
                "{ns} {cap}"
            );
        }
        assert!(!acl.allow_namespace("web-secret"));
        assert!(acl.allow_namespace("anything"));
    }

    #[test]
    fn policies_add_up_and_deny_wins() {
        let acl = acl(&[
            r#"namespace "default" { policy = "read" } node { policy = "read" } agent { policy = "write" }"#,
            r#"namespace "default" { capabilities = ["submit-job"] } node { policy = "write" } agent { policy = "deny" }"#,
        ]);
        assert!(acl.allow_namespace_operation("default", "submit-job"));
        assert!(acl.allow_namespace_operation("default", "read-job"));
        assert!(acl.allow_node_write());
        assert!(!acl.allow_agent_read());
        let denied = self::acl(&[
            r#"namespace "default" { policy = "write" }"#,
            r#"namespace "default" { policy = "deny" }"#,
        ]);
        assert!(!denied.allow_namespace_operation("default", "read-job"));
    }

    #[test]
    fn coarse_rules_order_read_below_write() {
        let acl = acl(&[r#"operator { policy = "read" } plugin { policy = "list" }"#]);
        assert!(acl.allow_operator_read());
        assert!(!acl.allow_operator_write());
        assert!(acl.allow_plugin_list());
        assert!(!acl.allow_plugin_read());
        assert!(!acl.allow_node_read());
    }

    #[test]
    fn management_may_do_anything_and_no_policy_nothing() {
        let all = Acl::management();
        assert!(all.allow_namespace_operation("x", "alloc-exec") && all.allow_operator_write());
        let none = Acl::from_policies(&[]);
        assert!(!none.allow_namespace_operation("default", "list-jobs"));
        assert!(!none.allow_namespace("default") && !none.allow_node_read());
    }

    #[test]
    fn variable_capabilities_by_namespace_then_path() {
        let acl = acl(&[r#"
namespace "default" {
  policy = "read"
  variables {
    path "app/*" { capabilities = ["write", "read"] }
    path "app/secret" { capabilities = ["deny"] }
  }
}
namespace "ops" {
  variables {
    path "*" { capabilities = ["list"] }
  }
}
namespace "dev" { policy = "write" }
"#]);
        let cases = [
            ("default", "app/x", "write", true),
            ("default", "app/x", "list", true),
            ("default", "app/secret", "read", false),
            ("default", "other", "read", true),
            ("default", "other", "write", false),
            ("ops", "any/thing", "list", true),
            ("ops", "any/thing", "read", false),
            ("dev", "x", "destroy", true),
            ("elsewhere", "x", "read", false),
        ];
        for (ns, path, cap, want) in cases {
            assert_eq!(
                acl.allow_variable_operation(ns, path, cap),
                want,
                "{ns} {path} {cap}"
            );
        }
        assert!(acl.allow_variable_search("ops"));
        assert!(!acl.allow_variable_search("elsewhere"));
        assert!(Acl::management().allow_variable_operation("x", "y", "destroy"));
    }

    #[test]
    fn globs() {
        for (glob, name, matches) in [
            ("*", "anything", true),
            ("web-*", "web-", true),
            ("web-*", "web", false),
            ("*-prod", "api-prod", true),
            ("a*b*c", "axxbyyc", true),
            ("a*b*c", "axxc", false),
            ("exact", "exact", true),
        ] {
            assert_eq!(glob_matches(glob, name), matches, "{glob} {name}");
        }
    }
}

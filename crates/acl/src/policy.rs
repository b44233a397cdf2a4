//! Nomad's ACL policy language: the `Rules` text of a policy, read into [`PolicyRules`].
//!
//! ```hcl
//! namespace "default" { policy = "read" }
//! namespace "web-*"   { policy = "write" capabilities = ["alloc-exec"] }
//! node     { policy = "read" }
//! agent    { policy = "read" }
//! operator { policy = "read" }
//! quota    { policy = "read" }
//! host_volume "*" { policy = "write" }
//! plugin   { policy = "list" }
//! ```

use std::collections::BTreeSet;

use caravan_jobspec::{Body, Item, ParseError, hcl1};

/// A namespace's fine-grained capabilities (Nomad's `NamespaceCapability*`).
pub const NAMESPACE_CAPABILITIES: &[&str] = &[
    "deny",
    "list-jobs",
    "parse-job",
    "read-job",
    "submit-job",
    "dispatch-job",
    "read-logs",
    "read-fs",
    "alloc-exec",
    "alloc-node-exec",
    "alloc-lifecycle",
    "sentinel-override",
    "csi-register-plugin",
    "csi-write-volume",
    "csi-read-volume",
    "csi-list-volume",
    "csi-mount-volume",
    "host-volume-create",
    "host-volume-register",
    "host-volume-read",
    "host-volume-write",
    "host-volume-delete",
    "list-scaling-policies",
    "read-scaling-policy",
    "read-job-scaling",
    "scale-job",
    "submit-recommendation",
];

/// What `policy = "read"` grants in a namespace.
const NAMESPACE_READ: &[&str] = &[
    "list-jobs",
    "parse-job",
    "read-job",
    "csi-list-volume",
    "csi-read-volume",
    "read-job-scaling",
    "list-scaling-policies",
    "read-scaling-policy",
    "host-volume-read",
];

/// What `policy = "write"` grants beyond `read`.
const NAMESPACE_WRITE_EXTRA: &[&str] = &[
    "scale-job",
    "submit-job",
    "dispatch-job",
    "read-logs",
    "read-fs",
    "alloc-exec",
    "alloc-lifecycle",
    "csi-mount-volume",
    "csi-write-volume",
    "submit-recommendation",
    "host-volume-create",
    "host-volume-register",
    "host-volume-write",
    "host-volume-delete",
];

/// What `policy = "scale"` grants.
const NAMESPACE_SCALE: &[&str] = &[
    "list-scaling-policies",
    "read-scaling-policy",
    "read-job-scaling",
    "scale-job",
];

/// A host volume's capabilities.
const HOST_VOLUME_CAPABILITIES: &[&str] = &["deny", "mount-readonly", "mount-readwrite"];

/// Variables' capabilities inside a namespace rule.
const VARIABLE_CAPABILITIES: &[&str] = &["write", "read", "list", "destroy", "deny"];

/// A coarse disposition on a cluster-wide resource (`node`, `agent`, ...). Ordered so that
/// the larger grants more; `Deny` wins over everything when policies are merged.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
pub enum Disposition {
    Deny,
    List,
    Read,
    Write,
}

impl Disposition {
    fn parse(word: &str, allowed: &[Disposition]) -> Option<Disposition> {
        let d = match word {
            "deny" => Disposition::Deny,
            "list" => Disposition::List,
            "read" => Disposition::Read,
            "write" => Disposition::Write,
            _ => return None,
        };
        allowed.contains(&d).then_some(d)
    }

    fn words(allowed: &[Disposition]) -> String {
        allowed
            .iter()
            .map(|d| format!("\"{}\"", d.word()))
            .collect::<Vec<_>>()
            .join(", ")
    }

    pub fn word(self) -> &'static str {
        match self {
            Disposition::Deny => "deny",
            Disposition::List => "list",
            Disposition::Read => "read",
            Disposition::Write => "write",
        }
    }
}

/// One `namespace "<glob>" { }` rule, its policy already expanded into capabilities.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct NamespaceRule {
    /// An exact name or a glob with `*`.
    pub name: String,
    pub capabilities: BTreeSet<String>,
    /// `variables { path "<glob>" { capabilities = [...] } }`, kept for variables' checks.
    pub variable_paths: Vec<(String, BTreeSet<String>)>,
}

/// One `host_volume "<glob>" { }` rule.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct HostVolumeRule {
    pub name: String,
    pub capabilities: BTreeSet<String>,
}

/// A policy's rules, read and checked.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct PolicyRules {
    pub namespaces: Vec<NamespaceRule>,
    pub host_volumes: Vec<HostVolumeRule>,
    pub node: Option<Disposition>,
    pub agent: Option<Disposition>,
    pub operator: Option<Disposition>,
    pub quota: Option<Disposition>,
    pub plugin: Option<Disposition>,
}

const READ_WRITE: &[Disposition] = &[Disposition::Deny, Disposition::Read, Disposition::Write];

/// Reads a policy's `Rules` text. `name` is used in error positions
/// (`policy "dev":3:12: ...`).
pub fn parse_rules(name: &str, rules: &str) -> Result<PolicyRules, ParseError> {
    let body = hcl1::parse(name, rules)?;
    body.check_keys(
        "an ACL policy",
        &[
            "namespace",
            "node",
            "agent",
            "operator",
            "quota",
            "host_volume",
            "plugin",
        ],
        &[],
    )?;
    let mut parsed = PolicyRules::default();
    for item in body.iter() {
        match item.key.as_str() {
            "namespace" => parsed.namespaces.push(namespace_rule(&body, item)?),
            "host_volume" => parsed.host_volumes.push(host_volume_rule(&body, item)?),
            "node" => parsed.node = Some(coarse(&body, item, READ_WRITE)?),
            "agent" => parsed.agent = Some(coarse(&body, item, READ_WRITE)?),
            "operator" => parsed.operator = Some(coarse(&body, item, READ_WRITE)?),
            "quota" => parsed.quota = Some(coarse(&body, item, READ_WRITE)?),
            "plugin" => {
                let allowed = [
                    Disposition::Deny,
                    Disposition::List,
                    Disposition::Read,
                    Disposition::Write,
                ];
                parsed.plugin = Some(coarse(&body, item, &allowed)?);
            }
            _ => {}
        }
    }
    Ok(parsed)
}

fn block<'a>(body: &Body, item: &'a Item) -> Result<&'a Body, ParseError> {
    body.value_object(&item.key, &item.value)
}

/// `node { policy = "read" }` and its kind.
fn coarse(body: &Body, item: &Item, allowed: &[Disposition]) -> Result<Disposition, ParseError> {
    body.no_labels(item)?;
    let inner = block(body, item)?;
    inner.check_keys(&format!("the {} rule", item.key), &["policy"], &[])?;
    let Some(policy) = inner.get("policy") else {
        return Err(body.error_at(
            item.pos,
            format!(
                "the {} rule needs a policy: one of {}",
                item.key,
                Disposition::words(allowed)
            ),
        ));
    };
    let word = inner.value_string("policy", &policy.value)?;
    Disposition::parse(&word, allowed).ok_or_else(|| {
        inner.error_at(
            policy.value.pos,
            format!(
                "invalid {} policy \"{word}\": expected one of {}",
                item.key,
                Disposition::words(allowed)
            ),
        )
    })
}

/// A label may be a name or a glob: letters, digits, `-`, `_`, `.`, `/` and `*`.
fn check_glob(body: &Body, item: &Item, label: &str) -> Result<(), ParseError> {
    let fine = !label.is_empty()
        && label
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || matches!(c, '-' | '_' | '.' | '/' | '*'));
    if fine {
        Ok(())
    } else {
        Err(body.error_at(
            item.pos,
            format!(
                "invalid {} name \"{label}\": use letters, digits, '-' and '*' globs",
                item.key
            ),
        ))
    }
}

fn capability_list(
    body: &Body,
    key: &str,
    allowed: &[&str],
    what: &str,
) -> Result<BTreeSet<String>, ParseError> {
    let Some(item) = body.get(key) else {
        return Ok(BTreeSet::new());
    };
    let words = body.value_strings(key, &item.value)?;
    let mut set = BTreeSet::new();
    for word in words {
        if !allowed.contains(&word.as_str()) {
            return Err(body.error_at(
                item.value.pos,
                format!(
                    "invalid {what} capability \"{word}\"; expected one of: {}",
                    allowed.join(", ")
                ),
            ));
        }
        set.insert(word);
    }
    Ok(set)
}

fn namespace_rule(body: &Body, item: &Item) -> Result<NamespaceRule, ParseError> {
    let name = body.single_label(item)?.to_string();
    check_glob(body, item, &name)?;
    let inner = block(body, item)?;
    inner.check_keys(
        &format!("namespace \"{name}\""),
        &["policy", "capabilities", "variables"],
        &[],
    )?;
    let mut capabilities =
        capability_list(inner, "capabilities", NAMESPACE_CAPABILITIES, "namespace")?;
    let mut policy_word = None;
    if let Some(policy) = inner.get("policy") {
        let word = inner.value_string("policy", &policy.value)?;
        policy_word = Some(word.clone());
        let grants: Vec<&str> = match word.as_str() {
            "deny" => vec!["deny"],
            "read" => NAMESPACE_READ.to_vec(),
            "write" => NAMESPACE_READ
                .iter()
                .chain(NAMESPACE_WRITE_EXTRA)
                .copied()
                .collect(),
            "scale" => NAMESPACE_SCALE.to_vec(),
            _ => {
                return Err(inner.error_at(
                    policy.value.pos,
                    format!(
                        "invalid namespace policy \"{word}\": expected one of \"deny\", \"read\", \"write\", \"scale\""
                    ),
                ));
            }
        };
        capabilities.extend(grants.into_iter().map(str::to_string));
    }
    let mut variable_paths = Vec::new();
    if let Some(variables) = inner.block("variables")? {
        variables.check_keys("variables", &["path"], &[])?;
        for path in variables.all("path") {
            let glob = variables.single_label(path)?.to_string();
            let rule = block(variables, path)?;
            rule.check_keys(&format!("path \"{glob}\""), &["capabilities"], &[])?;
            let mut caps =
                capability_list(rule, "capabilities", VARIABLE_CAPABILITIES, "variable")?;
            // Nomad: `read` implies `list`; `deny` leaves nothing else.
            if caps.contains("deny") {
                caps.retain(|c| c == "deny");
            } else if caps.contains("read") {
                caps.insert("list".to_string());
            }
            variable_paths.push((glob, caps));
        }
    }
    // Nomad grants variables with the namespace's shorthand policy: `read` reads and
    // lists every path, `write` does everything.
    let implied: &[&str] = match policy_word.as_deref() {
        Some("read") => &["read", "list"],
        Some("write") => &["read", "list", "write", "destroy"],
        _ => &[],
    };
    if !implied.is_empty() {
        variable_paths.push((
            "*".to_string(),
            implied.iter().map(|c| c.to_string()).collect(),
        ));
    }
    Ok(NamespaceRule {
        name,
        capabilities,
        variable_paths,
    })
}

fn host_volume_rule(body: &Body, item: &Item) -> Result<HostVolumeRule, ParseError> {
    let name = body.single_label(item)?.to_string();
    check_glob(body, item, &name)?;
    let inner = block(body, item)?;
    inner.check_keys(
        &format!("host_volume \"{name}\""),
        &["policy", "capabilities"],
        &[],
    )?;
    let mut capabilities = capability_list(
        inner,
        "capabilities",
        HOST_VOLUME_CAPABILITIES,
        "host_volume",
    )?;
    if let Some(policy) = inner.get("policy") {
        let word = inner.value_string("policy", &policy.value)?;
        let grants: &[&str] = match word.as_str() {
            "deny" => &["deny"],
            "read" => &["mount-readonly"],
            "write" => &["mount-readonly", "mount-readwrite"],
            _ => {
                return Err(inner.error_at(
                    policy.value.pos,
                    format!(
                        "invalid host_volume policy \"{word}\": expected one of \"deny\", \"read\", \"write\""
                    ),
                ));
            }
        };
        capabilities.extend(grants.iter().map(|s| s.to_string()));
    }
    Ok(HostVolumeRule { name, capabilities })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn reads_every_rule_kind() {
        let rules = parse_rules(
            "p",
            r#"
namespace "default" { policy = "read" }
namespace "web-*" {
  policy = "write"
  capabilities = ["alloc-node-exec"]
  variables {
    path "app/*" { capabilities = ["read", "list"] }
  }
}
node { policy = "write" }
agent { policy = "read" }
operator { policy = "deny" }
quota { policy = "read" }
host_volume "*" { policy = "read" }
plugin { policy = "list" }
"#,
        )
        .unwrap();
        assert_eq!(rules.namespaces.len(), 2);
        assert!(rules.namespaces[0].capabilities.contains("read-job"));
        assert!(!rules.namespaces[0].capabilities.contains("submit-job"));
        let web = &rules.namespaces[1];
        assert!(web.capabilities.contains("submit-job"));
        assert!(web.capabilities.contains("alloc-node-exec"));
        assert_eq!(web.variable_paths[0].0, "app/*");
        assert_eq!(rules.node, Some(Disposition::Write));
        assert_eq!(rules.agent, Some(Disposition::Read));
        assert_eq!(rules.operator, Some(Disposition::Deny));
        assert_eq!(rules.plugin, Some(Disposition::List));
        assert!(
            rules.host_volumes[0]
                .capabilities
                .contains("mount-readonly")
        );
    }

    #[test]
    fn errors_name_the_field_and_position() {
        for (text, want) in [
            (
                "namespace \"a\" { policy = \"admin\" }",
                "p:1:26: invalid namespace policy \"admin\"",
            ),
            (
                "namespace \"a\" { capabilities = [\"fly\"] }",
                "invalid namespace capability \"fly\"",
            ),
            ("node { policy = \"list\" }", "invalid node policy \"list\""),
            ("nodes { policy = \"read\" }", "unknown block \"nodes\""),
            (
                "namespace { policy = \"read\" }",
                "\"namespace\" needs a name",
            ),
            ("agent { }", "the agent rule needs a policy"),
            (
                "namespace \"a b\" { policy = \"read\" }",
                "invalid namespace name",
            ),
        ] {
            let error = parse_rules("p", text).unwrap_err().to_string();
            assert!(error.contains(want), "{text}: {error}");
        }
    }
}

//! The two sides of a placement rule: an interpolation of a node's value
//! (`${attr.kernel.name}`, `${meta.rack}`, `${node.datacenter}`) or a literal.

use crate::Node;

/// One side of a constraint, affinity or spread, parsed once.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Target {
    /// Not an interpolation: the text itself.
    Literal(String),
    /// `${node.unique.id}`.
    NodeId,
    /// `${node.datacenter}`.
    Datacenter,
    /// `${node.unique.name}`.
    NodeName,
    /// `${node.class}`.
    NodeClass,
    /// `${node.pool}`.
    NodePool,
    /// `${attr.<key>}`.
    Attribute(String),
    /// `${meta.<key>}`.
    Meta(String),
    /// An interpolation Nomad does not know (`${node.region}`): never found.
    Unknown,
}

impl Target {
    /// Whether the target reads what a node's class leaves out ([`Node::compute_class`]),
    /// so that a verdict on one node of a class does not hold for the others (Nomad's
    /// escaped constraints).
    pub fn escapes_class(&self) -> bool {
        match self {
            Target::NodeId | Target::NodeName => true,
            Target::Attribute(key) | Target::Meta(key) => {
                key.starts_with(crate::node::UNIQUE_PREFIX)
            }
            Target::Literal(_)
            | Target::Datacenter
            | Target::NodeClass
            | Target::NodePool
            | Target::Unknown => false,
        }
    }

    /// Parses `${...}` or a literal.
    ///
    /// ```
    /// use caravan_structs::constraint::Target;
    /// assert_eq!(Target::parse("${attr.os.name}"), Target::Attribute("os.name".into()));
    /// assert_eq!(Target::parse("linux"), Target::Literal("linux".into()));
    /// ```
    pub fn parse(text: &str) -> Target {
        let Some(inner) = text.strip_prefix("${").and_then(|t| t.strip_suffix('}')) else {
            return Target::Literal(text.to_string());
        };
        match inner {
            "node.unique.id" => Target::NodeId,
            "node.datacenter" => Target::Datacenter,
            "node.unique.name" => Target::NodeName,
            "node.class" => Target::NodeClass,
            "node.pool" => Target::NodePool,
            _ => {
                if let Some(key) = inner.strip_prefix("attr.") {
                    Target::Attribute(key.to_string())
                } else if let Some(key) = inner.strip_prefix("meta.") {
                    Target::Meta(key.to_string())
                } else {
                    Target::Unknown
                }
            }
        }
    }

    /// The value on `node`; `None` when the node has no such value.
    pub fn resolve<'a>(&'a self, node: &'a Node) -> Option<&'a str> {
        match self {
            Target::Literal(text) => Some(text),
            Target::NodeId => Some(node.id.as_str()),
            Target::Datacenter => Some(&node.datacenter),
            Target::NodeName => Some(&node.name),
            Target::NodeClass => Some(&node.node_class),
            Target::NodePool => Some(&node.node_pool),
            Target::Attribute(key) => node.attributes.get(key).map(String::as_str),
            Target::Meta(key) => node.meta.get(key).map(String::as_str),
            Target::Unknown => None,
        }
    }

    /// Whether it is the same on every node (a literal).
    pub fn is_literal(&self) -> bool {
        matches!(self, Target::Literal(_))
    }
}

//! `constraint`, `affinity` and `spread` blocks, decoded as Nomad's HCL1 jobspec did
//! (`jobspec/parse.go`: `parseConstraints`, `parseAffinities`, `parseSpread`).

use caravan_structs::{Affinity, Constraint, Spread, SpreadTarget};

use crate::ast::{Body, Item};
use crate::error::ParseError;

/// Keys of a `constraint` block. Besides `attribute operator value`, Nomad accepts
/// shorthands that set the operator: `version = "> 1.2"`, `regexp = "..."`,
/// `distinct_hosts = true`, ...
const CONSTRAINT_KEYS: &[&str] = &[
    "attribute",
    "operator",
    "value",
    "version",
    "semver",
    "regexp",
    "set_contains",
    "distinct_hosts",
    "distinct_property",
];

const AFFINITY_KEYS: &[&str] = &[
    "attribute",
    "operator",
    "value",
    "weight",
    "version",
    "semver",
    "regexp",
    "set_contains_any",
    "set_contains_all",
];

const SPREAD_KEYS: &[&str] = &["attribute", "weight", "target"];
const SPREAD_TARGET_KEYS: &[&str] = &["value", "percent"];

/// Nomad: an affinity or spread without `weight` weighs 50 (`api.Affinity.Canonicalize`,
/// `api.Spread.Canonicalize`).
const DEFAULT_WEIGHT: i64 = 50;

/// Nomad: a constraint or affinity without `operator` tests equality.
const DEFAULT_OPERATOR: &str = "=";

/// The block body of `item`, which must be unlabelled.
fn unlabelled_block<'a>(parent: &Body, item: &'a Item) -> Result<&'a Body, ParseError> {
    parent.no_labels(item)?;
    parent.value_object(&item.key, &item.value)
}

/// Decodes one `constraint` block. `None` for `distinct_hosts = false`, which Nomad drops.
pub(crate) fn constraint(parent: &Body, item: &Item) -> Result<Option<Constraint>, ParseError> {
    let body = unlabelled_block(parent, item)?;
    body.check_keys("constraint", CONSTRAINT_KEYS, &[])?;
    let mut constraint = Constraint {
        l_target: body.string("attribute")?.unwrap_or_default(),
        r_target: body.string("value")?.unwrap_or_default(),
        operand: body.string("operator")?.unwrap_or_default(),
    };
    for shorthand in ["version", "semver", "regexp", "set_contains"] {
        if let Some(value) = body.string(shorthand)? {
            constraint.operand = shorthand.to_string();
            constraint.r_target = value;
        }
    }
    if let Some(enabled) = body.bool("distinct_hosts")? {
        if !enabled {
            return Ok(None);
        }
        constraint.operand = "distinct_hosts".to_string();
    }
    if let Some(property) = body.string("distinct_property")? {
        constraint.operand = "distinct_property".to_string();
        constraint.l_target = property;
    }
    if constraint.operand.is_empty() {
        constraint.operand = DEFAULT_OPERATOR.to_string();
    }
    if let Err(e) = caravan_structs::validate::check_constraint(&constraint) {
        // Point at what is wrong: the operator, else the value it applies to.
        let key = if caravan_structs::validate::CONSTRAINT_OPERATORS
            .contains(&constraint.operand.as_str())
        {
            ["value", "regexp", "version", "semver"]
                .into_iter()
                .find(|k| body.get(k).is_some())
                .unwrap_or("operator")
        } else {
            "operator"
        };
        let pos = body.get(key).map_or(item.pos, |i| i.value.pos);
        return Err(body.error_at(pos, e));
    }
    Ok(Some(constraint))
}

/// Decodes one `affinity` block.
pub(crate) fn affinity(parent: &Body, item: &Item) -> Result<Affinity, ParseError> {
    let body = unlabelled_block(parent, item)?;
    body.check_keys("affinity", AFFINITY_KEYS, &[])?;
    let mut affinity = Affinity {
        l_target: body.string("attribute")?.unwrap_or_default(),
        r_target: body.string("value")?.unwrap_or_default(),
        operand: body.string("operator")?.unwrap_or_default(),
        weight: body.int("weight")?.unwrap_or(DEFAULT_WEIGHT),
    };
    for shorthand in [
        "version",
        "semver",
        "regexp",
        "set_contains_any",
        "set_contains_all",
    ] {
        if let Some(value) = body.string(shorthand)? {
            affinity.operand = shorthand.to_string();
            affinity.r_target = value;
        }
    }
    if affinity.operand.is_empty() {
        affinity.operand = DEFAULT_OPERATOR.to_string();
    }
    Ok(affinity)
}

/// Decodes one `spread` block with its `target "value" { percent }` blocks. A target's
/// value is its label unless `value` is given.
pub(crate) fn spread(parent: &Body, item: &Item) -> Result<Spread, ParseError> {
    let body = unlabelled_block(parent, item)?;
    body.check_keys("spread", SPREAD_KEYS, &[])?;
    let mut targets = Vec::new();
    for target in body.all("target") {
        let target_body = body.value_object("target", &target.value)?;
        target_body.check_keys("spread target", SPREAD_TARGET_KEYS, &[])?;
        let label = match target.labels.as_slice() {
            [] => None,
            [label] => Some(label.clone()),
            [_, extra, ..] => {
                return Err(body.error_at(
                    target.pos,
                    format!("\"target\" takes one name, got a second one \"{extra}\""),
                ));
            }
        };
        let value = match (target_body.string("value")?, label) {
            (Some(value), _) | (None, Some(value)) => value,
            (None, None) => {
                return Err(body.error_at(
                    target.pos,
                    "spread target needs a value: write target \"value\" { percent = 50 }",
                ));
            }
        };
        targets.push(SpreadTarget {
            value,
            percent: target_body.int("percent")?.unwrap_or(0),
        });
    }
    Ok(Spread {
        attribute: body.string("attribute")?.unwrap_or_default(),
        weight: body.int("weight")?.unwrap_or(DEFAULT_WEIGHT),
        spread_target: targets,
    })
}

/// Every `constraint` of `body`, in order.
pub(crate) fn constraints(body: &Body) -> Result<Vec<Constraint>, ParseError> {
    let mut out = Vec::new();
    for item in body.all("constraint") {
        out.extend(constraint(body, item)?);
    }
    Ok(out)
}

/// Every `affinity` of `body`, in order.
pub(crate) fn affinities(body: &Body) -> Result<Vec<Affinity>, ParseError> {
    body.all("affinity")
        .map(|item| affinity(body, item))
        .collect()
}

/// Every `spread` of `body`, in order.
pub(crate) fn spreads(body: &Body) -> Result<Vec<Spread>, ParseError> {
    body.all("spread").map(|item| spread(body, item)).collect()
}

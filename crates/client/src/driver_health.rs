//! The drivers' health as the node reports it: fingerprinted at start and again every
//! [`REFRESH_INTERVAL`] (Nomad's driver manager), so that a driver whose daemon comes
//! back (or goes away) is noticed and the node registered again with it.

use std::collections::BTreeMap;
use std::time::Duration;

use caravan_structs::{DriverInfo, Node};

/// How often the drivers are fingerprinted again (Nomad's 30 s).
pub const REFRESH_INTERVAL: Duration = Duration::from_secs(30);

/// Puts the drivers' fingerprints on `node`: its `Drivers`, and `driver.<name>` plus
/// the driver's own attributes (`driver.docker.version`) for each detected, healthy
/// one (only those are what the scheduler looks for). Answers whether anything but the
/// update times changed.
pub fn apply(node: &mut Node, mut infos: BTreeMap<String, DriverInfo>, now: &str) -> bool {
    let unchanged = !node.drivers.is_empty()
        && infos.len() == node.drivers.len()
        && infos.iter().all(|(name, info)| {
            node.drivers.get(name).is_some_and(|old| {
                (
                    old.detected,
                    old.healthy,
                    &old.health_description,
                    &old.attributes,
                ) == (
                    info.detected,
                    info.healthy,
                    &info.health_description,
                    &info.attributes,
                )
            })
        });
    if unchanged {
        return false;
    }
    node.attributes.retain(|key, _| !key.starts_with("driver."));
    for (name, info) in &mut infos {
        if info.detected && info.healthy {
            node.attributes.insert(format!("driver.{name}"), "1".into());
            node.attributes.extend(info.attributes.clone());
        }
        info.update_time = now.to_string();
    }
    node.drivers = infos;
    true
}

#[cfg(test)]
mod tests {
    use super::*;

    fn info(healthy: bool, version: &str) -> DriverInfo {
        DriverInfo {
            detected: healthy,
            healthy,
            health_description: if healthy { "Healthy" } else { "down" }.into(),
            attributes: if healthy {
                BTreeMap::from([("driver.docker.version".to_string(), version.to_string())])
            } else {
                BTreeMap::new()
            },
            ..DriverInfo::default()
        }
    }

    #[test]
    fn a_driver_that_comes_back_changes_the_node_and_the_same_health_does_not() {
        let mut node = Node::default();
        node.attributes.insert("os.name".into(), "debian".into());
        let down = BTreeMap::from([("docker".to_string(), info(false, ""))]);
        assert!(apply(&mut node, down.clone(), "t1"));
        assert!(!node.attributes.contains_key("driver.docker"));
        assert!(!apply(&mut node, down, "t2"));
        assert_eq!(node.drivers["docker"].update_time, "t1");

        let up = BTreeMap::from([("docker".to_string(), info(true, "20.10"))]);
        assert!(apply(&mut node, up, "t3"));
        assert_eq!(node.attributes["driver.docker"], "1");
        assert_eq!(node.attributes["driver.docker.version"], "20.10");
        assert_eq!(node.attributes["os.name"], "debian");

        let down = BTreeMap::from([("docker".to_string(), info(false, ""))]);
        assert!(apply(&mut node, down, "t4"));
        assert!(!node.attributes.keys().any(|k| k.starts_with("driver.")));
    }
}

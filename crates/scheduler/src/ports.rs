//! Port assignment for a group's `network` block (Nomad's `NetworkIndex.AssignPorts`):
//! static ports must be free on the node, dynamic ports are drawn from the node's dynamic
//! range avoiding every port its live allocations (and the plan's placements) hold.
//!
//! Caravan knows one address per node (`unique.network.ip-address`) and the `host` mode
//! only, so the index is one set of ports per node. The draw is seeded per evaluation: the
//! same evaluation on the same state assigns the same ports.

use std::collections::BTreeSet;

use caravan_structs::{
    AllocatedPortMapping, DEFAULT_MAX_DYNAMIC_PORT, DEFAULT_MIN_DYNAMIC_PORT, NetworkResource, Node,
};

use crate::shuffle::SplitMix64;

/// Nomad's `maxRandPortAttempts`: random draws before the exhaustive search.
const MAX_RANDOM_ATTEMPTS: usize = 20;

/// Nomad's `MaxValidPort`: ports are `0..65536`.
const PORT_SPACE: usize = 65_536;

/// The node attribute holding the address ports are allocated on.
pub const NODE_IP_ATTRIBUTE: &str = "unique.network.ip-address";

/// The ports in use on one node. A set rather than Nomad's 8 KiB bitmap: a node holds a
/// handful of ports, and an evaluation may look at thousands of nodes.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct UsedPorts {
    ports: BTreeSet<u16>,
}

impl UsedPorts {
    /// Whether `port` is taken. Ports outside `0..65536` never are.
    pub fn contains(&self, port: i64) -> bool {
        u16::try_from(port).is_ok_and(|p| self.ports.contains(&p))
    }

    /// Marks `port` as taken; ports outside `0..65536` are ignored.
    pub fn insert(&mut self, port: i64) {
        if let Ok(p) = u16::try_from(port) {
            self.ports.insert(p);
        }
    }

    /// The taken ports, in order.
    pub fn iter(&self) -> impl Iterator<Item = i64> + '_ {
        self.ports.iter().map(|&p| i64::from(p))
    }
}

/// The range dynamic ports are drawn from, inclusive (Nomad's defaults: 20000–32000).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct DynamicRange {
    pub min: i64,
    pub max: i64,
}

impl Default for DynamicRange {
    fn default() -> Self {
        DynamicRange {
            min: DEFAULT_MIN_DYNAMIC_PORT,
            max: DEFAULT_MAX_DYNAMIC_PORT,
        }
    }
}

/// The address a node's ports are on, empty when it did not fingerprint one.
pub fn node_ip(node: &Node) -> &str {
    node.attributes
        .get(NODE_IP_ATTRIBUTE)
        .map(String::as_str)
        .unwrap_or("")
}

/// Nomad's `AssignPorts`: the ports `ask` gets on a node whose taken ports are `used`,
/// or the reason it cannot (Nomad's words, which the caller prefixes with `network: `).
pub fn assign_ports(
    ask: &NetworkResource,
    used: &UsedPorts,
    host_ip: &str,
    range: DynamicRange,
    rng: &mut SplitMix64,
) -> Result<Vec<AllocatedPortMapping>, String> {
    let mut offer: Vec<AllocatedPortMapping> = Vec::new();
    for port in &ask.reserved_ports {
        if !(0..PORT_SPACE as i64).contains(&port.value) {
            return Err(format!("invalid port {} (out of range)", port.value));
        }
        if used.contains(port.value) {
            return Err(format!(
                "reserved port collision {}={}",
                port.label, port.value
            ));
        }
        offer.push(AllocatedPortMapping {
            label: port.label.clone(),
            value: port.value,
            to: port.to,
            host_ip: host_ip.to_string(),
        });
    }
    for port in &ask.dynamic_ports {
        // Nomad: a dynamic port avoids the node's used ports, this ask's static ports and
        // the ports already picked for it.
        let free = |candidate: i64| {
            !used.contains(candidate)
                && !ask.reserved_ports.iter().any(|r| r.value == candidate)
                && !offer.iter().any(|o| o.value == candidate)
        };
        let value = pick_random(range, rng, &free).or_else(|| pick_exhaustively(range, rng, &free));
        let Some(value) = value else {
            return Err("dynamic port selection failed".to_string());
        };
        offer.push(AllocatedPortMapping {
            label: port.label.clone(),
            value,
            // Nomad: `to = -1` maps to the same port as the host's.
            to: if port.to == -1 { value } else { port.to },
            host_ip: host_ip.to_string(),
        });
    }
    Ok(offer)
}

/// Nomad's `getDynamicPortsStochastic`: a few random draws in `[min, max)`.
fn pick_random(
    range: DynamicRange,
    rng: &mut SplitMix64,
    free: &dyn Fn(i64) -> bool,
) -> Option<i64> {
    let span = (range.max - range.min).max(0) as usize;
    (0..MAX_RANDOM_ATTEMPTS)
        .map(|_| {
            if span == 0 {
                range.min
            } else {
                range.min + rng.below(span) as i64
            }
        })
        .find(|&port| free(port))
}

/// Nomad's `getDynamicPortsPrecise`: a uniform pick among every free port in
/// `[min, max]`, or `None` when the range is exhausted.
fn pick_exhaustively(
    range: DynamicRange,
    rng: &mut SplitMix64,
    free: &dyn Fn(i64) -> bool,
) -> Option<i64> {
    let available: Vec<i64> = (range.min.max(0)..=range.max.min(PORT_SPACE as i64 - 1))
        .filter(|&port| free(port))
        .collect();
    if available.is_empty() {
        return None;
    }
    Some(available[rng.below(available.len())])
}

/// Nomad's `AllocatedPortsToNetworkResouce`: the ask as placed, its dynamic ports'
/// values and mappings filled in and the node's address as its IP.
pub fn placed_network(
    ask: &NetworkResource,
    offer: &[AllocatedPortMapping],
    host_ip: &str,
) -> NetworkResource {
    let mut placed = ask.clone();
    for port in &mut placed.dynamic_ports {
        if let Some(mapping) = offer.iter().find(|o| o.label == port.label) {
            port.value = mapping.value;
            port.to = mapping.to;
        }
    }
    placed.ip = host_ip.to_string();
    placed
}

#[cfg(test)]
mod tests {
    use caravan_structs::Port;

    use super::*;

    fn port(label: &str, value: i64, to: i64) -> Port {
        Port {
            label: label.into(),
            value,
            to,
            ..Port::default()
        }
    }

    #[test]
    fn used_ports_ignore_out_of_range_values() {
        let mut used = UsedPorts::default();
        for port in [-1, 0, 80, 65_535, 65_536] {
            used.insert(port);
        }
        assert_eq!(used.iter().collect::<Vec<_>>(), vec![0, 80, 65_535]);
        assert!(!used.contains(65_536));
        assert!(!used.contains(-1));
    }

    #[test]
    fn to_minus_one_maps_to_the_host_port_and_statics_are_avoided() {
        let ask = NetworkResource {
            reserved_ports: vec![port("a", 5, 0)],
            dynamic_ports: vec![port("b", 0, -1), port("c", 0, 8080)],
            ..NetworkResource::default()
        };
        let range = DynamicRange { min: 4, max: 7 };
        let mut rng = SplitMix64::new(7);
        for _ in 0..50 {
            let offer = assign_ports(&ask, &UsedPorts::default(), "10.0.0.1", range, &mut rng)
                .expect("three ports fit in 4..=7");
            assert_eq!(offer[0].value, 5);
            let (b, c) = (&offer[1], &offer[2]);
            assert!(
                b.value != 5 && c.value != 5 && b.value != c.value,
                "{offer:?}"
            );
            assert_eq!(b.to, b.value);
            assert_eq!(c.to, 8080);
            assert!(offer.iter().all(|o| o.host_ip == "10.0.0.1"));
        }
    }

    #[test]
    fn the_last_free_port_is_found_after_random_draws_fail() {
        let mut used = UsedPorts::default();
        let range = DynamicRange {
            min: 20_000,
            max: 20_100,
        };
        for p in range.min..=range.max {
            if p != 20_077 {
                used.insert(p);
            }
        }
        let ask = NetworkResource {
            dynamic_ports: vec![port("http", 0, 0)],
            ..NetworkResource::default()
        };
        let offer = assign_ports(&ask, &used, "", range, &mut SplitMix64::new(1)).unwrap();
        assert_eq!(offer[0].value, 20_077);
        used.insert(20_077);
        assert_eq!(
            assign_ports(&ask, &used, "", range, &mut SplitMix64::new(1)),
            Err("dynamic port selection failed".to_string())
        );
    }

    #[test]
    fn placed_network_fills_dynamic_values_and_the_ip() {
        let ask = NetworkResource {
            mode: "host".into(),
            reserved_ports: vec![port("db", 6379, 0)],
            dynamic_ports: vec![port("http", 0, 0)],
            ..NetworkResource::default()
        };
        let offer = vec![
            AllocatedPortMapping {
                label: "db".into(),
                value: 6379,
                to: 0,
                host_ip: "10.0.0.1".into(),
            },
            AllocatedPortMapping {
                label: "http".into(),
                value: 23_456,
                to: 0,
                host_ip: "10.0.0.1".into(),
            },
        ];
        let placed = placed_network(&ask, &offer, "10.0.0.1");
        assert_eq!(placed.ip, "10.0.0.1");
        assert_eq!(placed.dynamic_ports[0].value, 23_456);
        assert_eq!(placed.reserved_ports, ask.reserved_ports);
    }
}

//! Ranking: how well a feasible node suits one placement — fit (bin-pack or spread
//! algorithm), job anti-affinity, node affinity and spread, with Nomad's formulas.
//!
//! The per-evaluation state kept here ([`SpreadState`]) is updated incrementally as the plan
//! places allocations, so scoring a node never rescans the job's allocations.

use rustc_hash::FxHashMap;

use caravan_structs::constraint::{CompiledConstraint, Target};
use caravan_structs::{Affinity, Node, Spread};

/// Nomad's best-fit score ceiling (`binPackingMaxFitScore`).
pub const BIN_PACK_MAX_FIT: f64 = 18.0;

/// How the fit of a node is scored (Nomad's `scheduler_algorithm`).
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub enum SchedulerAlgorithm {
    /// Best fit (`ScoreFitBinPack`): fill nodes up before using empty ones.
    #[default]
    BinPack,
    /// Worst fit (`ScoreFitSpread`): prefer the emptiest node.
    Spread,
}

impl SchedulerAlgorithm {
    /// The name Nomad's configuration uses: `binpack` or `spread`.
    pub fn as_str(self) -> &'static str {
        match self {
            SchedulerAlgorithm::BinPack => "binpack",
            SchedulerAlgorithm::Spread => "spread",
        }
    }

    /// The fit of a node once `cpu_used`/`mem_used` (including the candidate) are taken,
    /// normalized to 0..1 as the `binpack` score component.
    pub fn fit(self, cpu_used: i64, cpu_total: i64, mem_used: i64, mem_total: i64) -> f64 {
        match self {
            SchedulerAlgorithm::BinPack => bin_pack_score(cpu_used, cpu_total, mem_used, mem_total),
            SchedulerAlgorithm::Spread => {
                spread_fit_score(cpu_used, cpu_total, mem_used, mem_total)
            }
        }
    }
}

impl std::str::FromStr for SchedulerAlgorithm {
    type Err = String;

    fn from_str(text: &str) -> Result<Self, Self::Err> {
        match text {
            "binpack" => Ok(SchedulerAlgorithm::BinPack),
            "spread" => Ok(SchedulerAlgorithm::Spread),
            other => Err(format!(
                "scheduler algorithm must be \"binpack\" or \"spread\", got \"{other}\""
            )),
        }
    }
}

/// `10^x`, through `exp`, which is several times cheaper than `powf` on the hot path.
fn pow10(x: f64) -> f64 {
    (x * std::f64::consts::LN_10).exp()
}

/// `10^freeCpu + 10^freeMem`, Nomad's `computeFreePercentage` fed to both fit functions.
fn free_total(cpu_used: i64, cpu_total: i64, mem_used: i64, mem_total: i64) -> f64 {
    let free = |used: i64, total: i64| {
        if total <= 0 {
            0.0
        } else {
            1.0 - used as f64 / total as f64
        }
    };
    pow10(free(cpu_used, cpu_total)) + pow10(free(mem_used, mem_total))
}

/// Nomad's best-fit v3: `20 - (10^freeCpu + 10^freeMem)`, clamped to 0..18, over 18.
pub fn bin_pack_score(cpu_used: i64, cpu_total: i64, mem_used: i64, mem_total: i64) -> f64 {
    let total = free_total(cpu_used, cpu_total, mem_used, mem_total);
    (20.0 - total).clamp(0.0, BIN_PACK_MAX_FIT) / BIN_PACK_MAX_FIT
}

/// Nomad's `ScoreFitSpread` (worst fit): `(10^freeCpu + 10^freeMem) - 2`, clamped to
/// 0..18, over 18.
pub fn spread_fit_score(cpu_used: i64, cpu_total: i64, mem_used: i64, mem_total: i64) -> f64 {
    let total = free_total(cpu_used, cpu_total, mem_used, mem_total);
    (total - 2.0).clamp(0.0, BIN_PACK_MAX_FIT) / BIN_PACK_MAX_FIT
}

/// Nomad's job anti-affinity: `-(collisions + 1) / count` when the node already holds
/// allocations of the same job and group, else nothing.
pub fn anti_affinity_score(collisions: u32, count: i64) -> Option<f64> {
    (collisions > 0).then(|| -(collisions as f64 + 1.0) / count.max(1) as f64)
}

/// An affinity compiled once: its weight and its rule (`None` for a rule that never
/// matches, which submit-time validation refuses).
pub struct AffinityRule {
    weight: i64,
    rule: Option<CompiledConstraint>,
}

impl AffinityRule {
    /// Compiles `affinity`.
    pub fn new(affinity: &Affinity) -> AffinityRule {
        AffinityRule {
            weight: affinity.weight,
            rule: affinity.compile().ok(),
        }
    }
}

/// Nomad's `NodeAffinityIterator`: Σ matching weights / Σ |weights|.
pub fn affinity_score(affinities: &[&AffinityRule], node: &Node) -> f64 {
    let total: i64 = affinities.iter().map(|a| a.weight.abs()).sum();
    if total == 0 {
        return 0.0;
    }
    let mut matched = 0;
    for affinity in affinities {
        if affinity.rule.as_ref().is_some_and(|r| r.holds(node)) {
            matched += affinity.weight;
        }
    }
    matched as f64 / total as f64
}

/// Nomad's `evenSpreadScoreBoost` for a spread without targets, given the least and most
/// used values' counts (over values in use) and the candidate value's count.
pub fn even_spread_boost(min: u32, max: u32, current: u32) -> f64 {
    if current != min {
        if min == 0 {
            -1.0
        } else {
            (min as f64 - current as f64) / min as f64
        }
    } else if min == max {
        // Every value is equally used: placing here unbalances as much as anywhere.
        -1.0
    } else if min == 0 {
        1.0
    } else {
        (max - min) as f64 / min as f64
    }
}

/// One node attribute's value on every candidate of a candidate set, resolved once per
/// set (see [`crate::select::Candidates::attribute_values`]): resolving a spread's
/// attribute on each candidate's first visit was a read of the node (a cache miss on a
/// large cluster) and a hash of its value, in every evaluation, 3% of the server's time.
#[derive(Debug)]
pub(crate) struct AttributeValues {
    /// Per candidate: its value's index in `values`, or [`VALUE_MISSING`].
    of_candidate: Vec<u32>,
    /// The distinct values, in the order first met.
    values: Vec<String>,
}

impl AttributeValues {
    /// `attribute` resolved on each of `nodes`.
    pub(crate) fn resolve<'n>(
        attribute: &Target,
        nodes: impl IntoIterator<Item = &'n std::sync::Arc<Node>>,
    ) -> AttributeValues {
        let mut index: FxHashMap<&str, u32> = FxHashMap::default();
        let mut values = Vec::new();
        let of_candidate = nodes
            .into_iter()
            .map(|node| match attribute.resolve(node) {
                Some(value) => *index.entry(value).or_insert_with(|| {
                    values.push(value.to_string());
                    (values.len() - 1) as u32
                }),
                None => VALUE_MISSING,
            })
            .collect();
        AttributeValues {
            of_candidate,
            values,
        }
    }

    /// Each candidate's value, those without one left out (for tests).
    #[cfg(test)]
    pub(crate) fn values_of_candidates(&self) -> Vec<&str> {
        self.of_candidate
            .iter()
            .filter(|&&v| v != VALUE_MISSING)
            .map(|&v| self.values[v as usize].as_str())
            .collect()
    }
}

/// The dense index of `value` among a spread's values, adding it if new.
fn intern(
    index: &mut FxHashMap<String, u32>,
    desired: &mut Vec<Option<f64>>,
    used: &mut Vec<u32>,
    value: &str,
) -> u32 {
    if let Some(&v) = index.get(value) {
        return v;
    }
    let v = used.len() as u32;
    index.insert(value.to_string(), v);
    desired.push(None);
    used.push(0);
    v
}

/// A value of the candidates' not yet given its index in this evaluation's spread.
const VALUE_UNKNOWN: u32 = u32::MAX;
/// The node has no such attribute.
const VALUE_MISSING: u32 = u32::MAX - 1;

/// One spread of one task group, with the group's allocations counted per attribute
/// value (existing non-terminal ones not stopped by the plan, plus the plan's placements).
pub(crate) struct SpreadState {
    /// The spread's attribute, parsed once.
    attribute: Target,
    /// This spread's weight over the sum of the group's spread weights.
    weight: f64,
    has_targets: bool,
    /// Attribute value → dense index into the vectors below: looked up once per
    /// distinct value of the candidates and evaluation, and for each existing
    /// allocation on a node that is not a candidate. FxHash: the values are the
    /// operator's node attributes.
    index: FxHashMap<String, u32>,
    /// Desired count per value, for values that are targets.
    desired: Vec<Option<f64>>,
    /// The implicit `*` target: what the listed targets leave of the count.
    star: Option<f64>,
    used: Vec<u32>,
    /// Allocations on values that are not targets (counted against `*`).
    star_used: u32,
    /// Least and most used counts over values in use (`used > 0`), for even spread.
    min_max: Option<(u32, u32)>,
    /// The attribute's value on each candidate, shared by the evaluations on the same
    /// candidates.
    candidate_values: std::sync::Arc<AttributeValues>,
    /// Per value of `candidate_values`: its index here, or [`VALUE_UNKNOWN`] until a
    /// candidate with it is met.
    local_value: Vec<u32>,
}

impl SpreadState {
    /// The state of `spread`, whose attribute has `candidate_values` on the candidates.
    pub(crate) fn new(
        spread: &Spread,
        count: i64,
        weight_sum: f64,
        candidate_values: std::sync::Arc<AttributeValues>,
    ) -> Self {
        let count = count.max(0) as f64;
        let mut state = SpreadState {
            attribute: Target::parse(&spread.attribute),
            weight: if weight_sum > 0.0 {
                spread.weight as f64 / weight_sum
            } else {
                1.0
            },
            has_targets: !spread.spread_target.is_empty(),
            index: FxHashMap::default(),
            desired: Vec::new(),
            star: None,
            used: Vec::new(),
            star_used: 0,
            min_max: None,
            local_value: vec![VALUE_UNKNOWN; candidate_values.values.len()],
            candidate_values,
        };
        let mut sum = 0.0;
        for target in &spread.spread_target {
            let desired = target.percent as f64 / 100.0 * count;
            sum += desired;
            if target.value == "*" {
                state.star = Some(desired);
            } else {
                let v = state.intern(&target.value);
                state.desired[v as usize] = Some(desired);
            }
        }
        if state.has_targets && sum < count {
            state.star = Some(count - sum);
        }
        state
    }

    fn intern(&mut self, value: &str) -> u32 {
        intern(&mut self.index, &mut self.desired, &mut self.used, value)
    }

    /// The value index of `node`'s attribute, [`VALUE_MISSING`] when it has none.
    fn resolve(&mut self, node: &Node) -> u32 {
        let SpreadState {
            attribute,
            index,
            desired,
            used,
            ..
        } = self;
        match attribute.resolve(node) {
            Some(value) => intern(index, desired, used, value),
            None => VALUE_MISSING,
        }
    }

    /// The value index of candidate `i`.
    fn value_of(&mut self, i: usize) -> u32 {
        let shared = self.candidate_values.of_candidate[i];
        if shared == VALUE_MISSING {
            return VALUE_MISSING;
        }
        let local = self.local_value[shared as usize];
        if local != VALUE_UNKNOWN {
            return local;
        }
        let v = intern(
            &mut self.index,
            &mut self.desired,
            &mut self.used,
            &self.candidate_values.values[shared as usize],
        );
        self.local_value[shared as usize] = v;
        v
    }

    fn add(&mut self, v: u32) {
        let v = v as usize;
        self.used[v] += 1;
        if self.desired[v].is_none() {
            self.star_used += 1;
        }
        let in_use = self.used.iter().copied().filter(|&n| n > 0);
        self.min_max = in_use.fold(None, |acc, n| match acc {
            None => Some((n, n)),
            Some((lo, hi)) => Some((lo.min(n), hi.max(n))),
        });
    }

    /// Counts an allocation on candidate `i`.
    pub fn add_candidate(&mut self, i: usize) {
        let v = self.value_of(i);
        if v != VALUE_MISSING {
            self.add(v);
        }
    }

    /// Counts an allocation on a node that is not a candidate (existing allocations).
    pub fn add_node(&mut self, node: &Node) {
        let v = self.resolve(node);
        if v != VALUE_MISSING {
            self.add(v);
        }
    }

    /// This spread's part of candidate `i`'s `allocation-spread` score. `lowest` is the
    /// running `lowestSpreadBoost` of the placement (starts at -1).
    pub fn boost(&mut self, i: usize, lowest: &mut f64) -> f64 {
        let v = self.value_of(i);
        if v == VALUE_MISSING {
            return -1.0;
        }
        let v = v as usize;
        if !self.has_targets {
            return match self.min_max {
                None => 0.0,
                Some((min, max)) => even_spread_boost(min, max, self.used[v]),
            };
        }
        let (desired, used) = match (self.desired[v], self.star) {
            (Some(desired), _) => (desired, self.used[v]),
            (None, Some(star)) => (star, self.star_used),
            (None, None) => return -1.0,
        };
        if desired == 0.0 {
            return *lowest;
        }
        // Nomad adds one to include the placement being scored.
        let boost = (desired - (used as f64 + 1.0)) / desired * self.weight;
        *lowest = lowest.min(boost);
        boost
    }
}

//! The scorers of the stack, after bin-packing's fit, in Nomad's order: job
//! anti-affinity, node-reschedule penalty, node affinity, allocation spread. Each gives
//! its component or none; [`ScoreCard`] appends them and normalizes, as Nomad's
//! `ScoreNormalizationIterator` does (the mean of the appended components).

use caravan_structs::{FlatMap, Node, NodeId, NodeScoreMeta, Spread};

use super::candidates::Candidates;
use crate::rank::{self, AffinityRule, SpreadState};

/// One scored option, with the components `AllocMetric.ScoreMetaData` reports.
#[derive(Debug, Clone, Copy)]
pub(super) struct Scored {
    /// The candidate's index.
    pub(super) node: usize,
    pub(super) norm: f64,
    pub(super) fit: f64,
    pub(super) anti_affinity: f64,
    /// `Some(-1.0)` on a node a rescheduled allocation failed on.
    pub(super) reschedule_penalty: Option<f64>,
    pub(super) affinity: Option<f64>,
    pub(super) spread: Option<f64>,
}

impl Scored {
    /// The scores `AllocMetric.ScoreMetaData` reports for the option on `node_id`, by
    /// Nomad's scorer names.
    pub(super) fn meta(&self, node_id: &NodeId) -> NodeScoreMeta {
        // In the names' order, into a vector of their number: every placement keeps
        // these scores for five nodes (growing the vector then shrinking it to fit was
        // 1.5% of the server's time, searching and sorting in the names 1%).
        let components = [
            ("allocation-spread", self.spread),
            ("binpack", Some(self.fit)),
            ("job-anti-affinity", Some(self.anti_affinity)),
            ("node-affinity", self.affinity),
            (
                "node-reschedule-penalty",
                Some(self.reschedule_penalty.unwrap_or(0.0)),
            ),
            ("normalized-score", Some(self.norm)),
        ];
        let mut scores = [("", 0.0); 6];
        let mut entries = 0;
        for (name, score) in components {
            if let Some(score) = score {
                scores[entries] = (name, score);
                entries += 1;
            }
        }
        let scores = FlatMap::from_static(&scores[..entries]);
        NodeScoreMeta {
            node_id: node_id.clone(),
            scores,
            norm_score: self.norm,
        }
    }
}

/// The components of one candidate's score as the scorers append them.
pub(super) struct ScoreCard {
    scored: Scored,
    sum: f64,
    appended: f64,
}

impl ScoreCard {
    /// A card for candidate `node`, starting with its fit (`binpack`, always appended).
    pub(super) fn new(node: usize, fit: f64) -> ScoreCard {
        ScoreCard {
            scored: Scored {
                node,
                norm: 0.0,
                fit,
                anti_affinity: 0.0,
                reschedule_penalty: None,
                affinity: None,
                spread: None,
            },
            sum: fit,
            appended: 1.0,
        }
    }

    fn append(&mut self, score: f64) {
        self.sum += score;
        self.appended += 1.0;
    }

    /// `job-anti-affinity`, appended when there is one.
    pub(super) fn anti_affinity(&mut self, score: Option<f64>) {
        if let Some(score) = score {
            self.append(score);
        }
        self.scored.anti_affinity = score.unwrap_or(0.0);
    }

    /// `node-reschedule-penalty`, appended when there is one.
    pub(super) fn reschedule_penalty(&mut self, score: Option<f64>) {
        if let Some(score) = score {
            self.append(score);
        }
        self.scored.reschedule_penalty = score;
    }

    /// `node-affinity`, appended when the group has affinities.
    pub(super) fn affinity(&mut self, score: Option<f64>) {
        if let Some(score) = score {
            self.append(score);
        }
        self.scored.affinity = score;
    }

    /// `allocation-spread`: reported when the group has spreads, appended only when it is
    /// not zero (Nomad's rule).
    pub(super) fn spread(&mut self, score: Option<f64>) {
        if let Some(score) = score.filter(|s| *s != 0.0) {
            self.append(score);
        }
        self.scored.spread = score;
    }

    /// The option, scored as the mean of the appended components.
    pub(super) fn finish(self) -> Scored {
        Scored {
            norm: self.sum / self.appended,
            ..self.scored
        }
    }
}

/// Nomad's `NodeReschedulingPenaltyIterator`: -1 on a node the allocation being
/// replaced (or one of its predecessors) failed on.
pub(super) fn reschedule_penalty(penalty_nodes: &[NodeId], node: &Node) -> Option<f64> {
    penalty_nodes.contains(&node.id).then_some(-1.0)
}

/// Nomad's `NodeAffinityIterator` for one group: the job's, group's and tasks'
/// affinities (compiled with the job's rules) and each candidate's score, computed once.
pub(super) struct AffinityScorer<'a> {
    rules: Vec<&'a AffinityRule>,
    /// Per candidate: its score, NaN until computed (empty without affinities).
    scores: Vec<f64>,
}

impl<'a> AffinityScorer<'a> {
    pub(super) fn new(
        rules: impl IntoIterator<Item = &'a AffinityRule>,
        candidates: usize,
    ) -> AffinityScorer<'a> {
        let rules: Vec<&AffinityRule> = rules.into_iter().collect();
        AffinityScorer {
            scores: if rules.is_empty() {
                Vec::new()
            } else {
                vec![f64::NAN; candidates]
            },
            rules,
        }
    }

    pub(super) fn is_empty(&self) -> bool {
        self.rules.is_empty()
    }

    /// Candidate `i`'s `node-affinity`; `None` without affinities.
    pub(super) fn score(&mut self, i: usize, node: &Node) -> Option<f64> {
        if self.rules.is_empty() {
            return None;
        }
        if self.scores[i].is_nan() {
            self.scores[i] = rank::affinity_score(&self.rules, node);
        }
        Some(self.scores[i])
    }
}

/// Nomad's `SpreadIterator` for one group: its spreads, then the job's, each counting the
/// group's allocations per attribute value.
pub(super) struct SpreadScorer {
    spreads: Vec<SpreadState>,
}

impl SpreadScorer {
    pub(super) fn new(spreads: Vec<&Spread>, count: i64, candidates: &Candidates) -> SpreadScorer {
        let weight_sum: f64 = spreads.iter().map(|s| s.weight as f64).sum();
        SpreadScorer {
            spreads: spreads
                .into_iter()
                .map(|s| {
                    let values = candidates.attribute_values(&s.attribute);
                    SpreadState::new(s, count, weight_sum, values)
                })
                .collect(),
        }
    }

    pub(super) fn is_empty(&self) -> bool {
        self.spreads.is_empty()
    }

    /// Counts an allocation on candidate `i`.
    pub(super) fn add_candidate(&mut self, i: usize) {
        for spread in &mut self.spreads {
            spread.add_candidate(i);
        }
    }

    /// Counts an allocation on a node that is not a candidate.
    pub(super) fn add_node(&mut self, node: &Node) {
        for spread in &mut self.spreads {
            spread.add_node(node);
        }
    }

    /// Candidate `i`'s `allocation-spread`, the sum over the spreads; `None` without
    /// spreads. `lowest` is the placement's running `lowestSpreadBoost` (starts at -1).
    pub(super) fn score(&mut self, i: usize, lowest: &mut f64) -> Option<f64> {
        if self.spreads.is_empty() {
            return None;
        }
        Some(self.spreads.iter_mut().map(|s| s.boost(i, lowest)).sum())
    }
}

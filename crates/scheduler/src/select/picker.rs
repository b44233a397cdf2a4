//! Nomad's `LimitIterator` and `MaxScoreIterator`: how many options a placement scores,
//! which one wins, and the best scores kept for the metrics.

use super::scorers::Scored;

/// Nomad keeps the five best nodes' scores in `ScoreMetaData` (`MaxRetainedNodeScores`).
const MAX_RETAINED_SCORES: usize = 5;
/// Nomad's `maxSkip`: at most this many low-scoring options are set aside.
const MAX_SKIP: usize = 3;
/// Nomad's `skipScoreThreshold`: options scoring at most this are set aside first.
const SKIP_SCORE_THRESHOLD: f64 = 0.0;

/// Nomad's `LimitIterator` + `MaxScoreIterator`, and the top scores for the metrics.
pub(super) struct Picker {
    /// How many options to score before picking.
    limit: usize,
    /// Options scored so far (the set-aside ones not counted).
    taken: usize,
    best: Option<Scored>,
    /// Low-scoring options set aside, scored only if the source runs dry.
    skipped: Vec<Scored>,
    /// The best options seen, best first.
    top: Vec<Scored>,
}

impl Picker {
    pub(super) fn new(limit: usize) -> Picker {
        Picker {
            limit,
            taken: 0,
            best: None,
            skipped: Vec::new(),
            top: Vec::with_capacity(MAX_RETAINED_SCORES + 1),
        }
    }

    /// Whether `limit` options are scored.
    pub(super) fn full(&self) -> bool {
        self.taken >= self.limit
    }

    /// One more scored option; a low-scoring one is set aside while there is room.
    pub(super) fn offer(&mut self, option: Scored) {
        self.retain(option);
        if option.norm <= SKIP_SCORE_THRESHOLD && self.skipped.len() < MAX_SKIP {
            self.skipped.push(option);
        } else {
            self.take(option);
        }
    }

    /// Max score: the first option with the strictly greatest score wins.
    fn take(&mut self, option: Scored) {
        self.taken += 1;
        if self.best.is_none_or(|best| option.norm > best.norm) {
            self.best = Some(option);
        }
    }

    /// Keeps the best scores seen, best first, earlier first among equals.
    fn retain(&mut self, option: Scored) {
        if self.top.len() == MAX_RETAINED_SCORES
            && self.top.last().is_some_and(|last| option.norm <= last.norm)
        {
            return;
        }
        let at = self.top.partition_point(|s| s.norm >= option.norm);
        self.top.insert(at, option);
        self.top.truncate(MAX_RETAINED_SCORES);
    }

    /// The source ran dry or the limit is reached: the set-aside options fill what the
    /// limit leaves, then the best wins.
    pub(super) fn finish(mut self) -> (Option<Scored>, Vec<Scored>) {
        for option in std::mem::take(&mut self.skipped) {
            if self.full() {
                break;
            }
            self.take(option);
        }
        (self.best, self.top)
    }
}

//! The deterministic per-evaluation shuffle of candidate nodes (Nomad's `ShuffleNodes`).
//!
//! Nomad seeds Go's `math/rand` with the last 8 bytes of the evaluation ID XOR the state
//! index. Caravan cannot (and need not) reproduce Go's generator bit for bit: what matters
//! is that one evaluation on one snapshot always sees the same order, and that different
//! evaluations see different orders, so placements spread over the cluster.

/// The seed of an evaluation's shuffle: FNV-1a of its ID, XOR the snapshot index.
pub fn seed(eval_id: &str, snapshot_index: u64) -> u64 {
    caravan_structs::fnv::fnv1a(eval_id.as_bytes()) ^ snapshot_index
}

/// SplitMix64: small, fast, and good enough to shuffle node lists and draw ports.
pub struct SplitMix64(u64);

impl SplitMix64 {
    /// A generator seeded with `seed`.
    pub fn new(seed: u64) -> SplitMix64 {
        SplitMix64(seed)
    }

    fn next(&mut self) -> u64 {
        self.0 = self.0.wrapping_add(0x9e37_79b9_7f4a_7c15);
        let mut z = self.0;
        z = (z ^ (z >> 30)).wrapping_mul(0xbf58_476d_1ce4_e5b9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94d0_49bb_1331_11eb);
        z ^ (z >> 31)
    }

    /// Uniform in `0..bound` (Lemire's multiply-shift; the bias is negligible for node
    /// counts).
    pub fn below(&mut self, bound: usize) -> usize {
        ((u128::from(self.next()) * bound as u128) >> 64) as usize
    }
}

/// Fisher–Yates shuffle of `items`, determined by `seed`: the same order as
/// [`LazyShuffle`] with the same seed yields.
pub fn shuffle<T>(items: &mut [T], seed: u64) {
    let mut rng = SplitMix64(seed);
    let n = items.len();
    for k in 0..n {
        let j = k + rng.below(n - k);
        items.swap(k, j);
    }
}

/// A permutation of `0..n` drawn one position at a time (the forward Fisher–Yates), so
/// an evaluation that visits a handful of nodes out of thousands draws only those.
pub struct LazyShuffle {
    order: Vec<u32>,
    drawn: usize,
    rng: SplitMix64,
}

impl LazyShuffle {
    /// The permutation of `0..n` for `seed`.
    pub fn new(n: usize, seed: u64) -> LazyShuffle {
        LazyShuffle {
            order: (0..n as u32).collect(),
            drawn: 0,
            rng: SplitMix64(seed),
        }
    }

    /// The element at position `p`. Positions must be asked in order the first time
    /// (0, 1, 2...), as a cursor walking the permutation does.
    pub fn at(&mut self, p: usize) -> usize {
        while self.drawn <= p {
            let k = self.drawn;
            let j = k + self.rng.below(self.order.len() - k);
            self.order.swap(k, j);
            self.drawn += 1;
        }
        self.order[p] as usize
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn same_seed_same_order_other_seed_other_order() {
        let base: Vec<u32> = (0..50).collect();
        let mut a = base.clone();
        let mut b = base.clone();
        let mut c = base.clone();
        shuffle(&mut a, seed("eval-1", 7));
        shuffle(&mut b, seed("eval-1", 7));
        shuffle(&mut c, seed("eval-2", 7));
        assert_eq!(a, b);
        assert_ne!(a, c);
        assert_ne!(a, base);
        let mut sorted = a.clone();
        sorted.sort();
        assert_eq!(sorted, base);
        let mut lazy = LazyShuffle::new(50, seed("eval-1", 7));
        let drawn: Vec<u32> = (0..50).map(|p| lazy.at(p) as u32).collect();
        assert_eq!(drawn, a);
    }
}

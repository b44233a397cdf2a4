//! A deterministic fuzz test of the readers: corpus files mutated by a seeded xorshift
//! generator (byte flips, syntax-character insertions, truncations, duplicated and deleted
//! slices) must come back as `Ok` or `Err`, never a panic.
//!
//! `cargo fuzz` needs a nightly toolchain, which this workspace does not use; this test
//! runs on stable. `CARAVAN_FUZZ_ITERATIONS=200000 cargo test -p caravan-jobspec --test
//! fuzz_hcl1 --release` runs a longer campaign (minutes) in CI; `CARAVAN_FUZZ_SEED` picks
//! another seed.

use caravan_jobspec::{hcl1, parse_job_hcl1, parse_job_hcl2};

/// Marsaglia's xorshift64: small, fast, deterministic.
struct XorShift(u64);

impl XorShift {
    fn next(&mut self) -> u64 {
        let mut x = self.0;
        x ^= x << 13;
        x ^= x >> 7;
        x ^= x << 17;
        self.0 = x;
        x
    }

    fn below(&mut self, n: usize) -> usize {
        if n == 0 {
            0
        } else {
            (self.next() % n as u64) as usize
        }
    }
}

/// Characters that steer the parsers into their less travelled paths.
const INTERESTING: &[u8] = b"{}[]()\"'=,.$#/*<-\\\n\t 0123456789eExX+_%:?!";

fn corpus() -> Vec<Vec<u8>> {
    let dir = format!("{}/tests/corpus", env!("CARGO_MANIFEST_DIR"));
    let mut files: Vec<_> = std::fs::read_dir(&dir)
        .unwrap()
        .map(|e| e.unwrap().path())
        .filter(|p| p.extension().is_some_and(|e| e == "nomad"))
        .collect();
    files.sort();
    files.iter().map(|p| std::fs::read(p).unwrap()).collect()
}

fn mutate(rng: &mut XorShift, input: &[u8]) -> Vec<u8> {
    let mut out = input.to_vec();
    for _ in 0..=rng.below(4) {
        let at = rng.below(out.len() + 1);
        match rng.below(6) {
            0 if at < out.len() => out[at] ^= 1 << rng.below(8),
            1 => out.insert(at, INTERESTING[rng.below(INTERESTING.len())]),
            2 => out.truncate(at),
            3 => {
                let len = rng.below(64).min(out.len() - at.min(out.len()));
                let slice = out[at..at + len].to_vec();
                let to = rng.below(out.len() + 1);
                out.splice(to..to, slice);
            }
            4 => {
                let len = rng.below(32).min(out.len() - at.min(out.len()));
                out.drain(at..at + len);
            }
            _ if at < out.len() => out[at] = INTERESTING[rng.below(INTERESTING.len())],
            _ => {}
        }
    }
    out
}

#[test]
fn mutated_corpus_never_panics() {
    let iterations: usize = std::env::var("CARAVAN_FUZZ_ITERATIONS")
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(30_000);
    let seed: u64 = std::env::var("CARAVAN_FUZZ_SEED")
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(0x9E37_79B9_7F4A_7C15);
    let files = corpus();
    assert!(!files.is_empty());
    let mut rng = XorShift(seed | 1);
    for i in 0..iterations {
        let base = &files[rng.below(files.len())];
        let mutated = mutate(&mut rng, base);
        let text = String::from_utf8_lossy(&mutated);
        let _ = hcl1::parse("fuzz.nomad", &text);
        let _ = parse_job_hcl1("fuzz.nomad", &text);
        // HCL2 is slower to parse; every fourth input is enough to keep it covered.
        if i % 4 == 0 {
            let _ = parse_job_hcl2("fuzz.nomad", &text);
        }
    }
}

//! 64-bit FNV-1a: a stable, dependency-free hash where a value must be the same on
//! every server and every release (a node's computed class, an evaluation's shuffle
//! seed, a UI asset's ETag). Not for hash maps: it does not resist chosen keys.

const OFFSET: u64 = 0xcbf2_9ce4_8422_2325;
const PRIME: u64 = 0x0100_0000_01b3;

/// FNV-1a over bytes fed in pieces.
#[derive(Debug, Clone, Copy)]
pub struct Fnv1a(u64);

impl Default for Fnv1a {
    fn default() -> Fnv1a {
        Fnv1a(OFFSET)
    }
}

impl Fnv1a {
    pub fn write(&mut self, bytes: &[u8]) {
        for byte in bytes {
            self.0 = (self.0 ^ u64::from(*byte)).wrapping_mul(PRIME);
        }
    }

    pub fn finish(&self) -> u64 {
        self.0
    }
}

/// FNV-1a of `bytes`.
///
/// ```
/// assert_eq!(caravan_structs::fnv::fnv1a(b""), 0xcbf2_9ce4_8422_2325);
/// assert_eq!(caravan_structs::fnv::fnv1a(b"a"), 0xaf63_dc4c_8601_ec8c);
/// ```
pub fn fnv1a(bytes: &[u8]) -> u64 {
    let mut hash = Fnv1a::default();
    hash.write(bytes);
    hash.finish()
}

//! Typed IDs: a job's, an allocation's, a node's and an evaluation's ID are different
//! types, so one cannot be passed where another is meant.
//!
//! Each holds its text inline when it fits ([`IdText`]: a UUID's 36 bytes do), shared
//! (`Arc<str>`) when it does not, and serializes as that string, so the JSON is
//! Nomad's. The empty ID means "none", as Nomad's empty string does
//! (`PreviousAllocation: ""`). An ID reads as its text (`Deref<Target = str>`), maps
//! keyed by an ID can be looked up with a `&str` (`Borrow<str>`), and an ID compares
//! equal to the string it holds:
//!
//! ```
//! use std::collections::BTreeMap;
//! use caravan_structs::AllocId;
//!
//! let id = AllocId::from("5f3c8a1e-0b7d-4c1a-9e2f-6a7b8c9d0e1f");
//! assert_eq!(id, "5f3c8a1e-0b7d-4c1a-9e2f-6a7b8c9d0e1f");
//! assert_eq!(id.short(), "5f3c8a1e");
//! let by_id = BTreeMap::from([(id.clone(), 1)]);
//! assert_eq!(by_id.get("5f3c8a1e-0b7d-4c1a-9e2f-6a7b8c9d0e1f"), Some(&1));
//! assert_eq!(serde_json::to_string(&id).unwrap(), "\"5f3c8a1e-0b7d-4c1a-9e2f-6a7b8c9d0e1f\"");
//! ```
//!
//! Job IDs are chosen by users and checked at submit (`validate` and [`crate::names`]),
//! not here: a `JobId` holds whatever string arrived, so that the check can name it.

use std::borrow::Borrow;
use std::cmp::Ordering;
use std::fmt;
use std::hash::{Hash, Hasher};
use std::sync::Arc;

use serde::{Deserialize, Deserializer, Serialize, Serializer};

/// The longest text an ID holds inline: a UUID (36 bytes) and most job names fit.
const INLINE_CAPACITY: usize = 38;

/// An ID's text: inline up to [`INLINE_CAPACITY`] bytes, shared beyond.
///
/// IDs are the keys of the state's persistent maps, and a lookup compares a dozen of
/// them in each of four levels. Shared text (`Arc<str>`, as IDs were) put each key's
/// bytes elsewhere on the heap: every comparison was a cache miss, and copying or
/// freeing a map's leaf touched 64 reference counts scattered over the heap (together
/// a sixth of the server's time placing a million allocations). Inline, a leaf's keys
/// are in the leaf, and copying one is a copy. It takes 40 bytes to `Arc<str>`'s 16.
#[derive(Clone)]
enum IdText {
    Inline {
        len: u8,
        bytes: [u8; INLINE_CAPACITY],
    },
    Shared(Arc<str>),
}

impl IdText {
    fn new(text: &str) -> IdText {
        match text.len() {
            len @ 0..=INLINE_CAPACITY => {
                let mut bytes = [0; INLINE_CAPACITY];
                bytes[..len].copy_from_slice(text.as_bytes());
                IdText::Inline {
                    len: len as u8,
                    bytes,
                }
            }
            _ => IdText::Shared(Arc::from(text)),
        }
    }

    fn from_string(text: String) -> IdText {
        if text.len() <= INLINE_CAPACITY {
            IdText::new(&text)
        } else {
            IdText::Shared(Arc::from(text))
        }
    }

    fn as_bytes(&self) -> &[u8] {
        match self {
            IdText::Inline { len, bytes } => &bytes[..*len as usize],
            IdText::Shared(text) => text.as_bytes(),
        }
    }

    fn as_str(&self) -> &str {
        match self {
            // SAFETY: `bytes[..len]` is a copy of a whole `&str` (`IdText::new`), so it
            // is UTF-8. Not re-checked: every lookup by `&str` (`Borrow<str>`) and every
            // hash of an ID reads it.
            IdText::Inline { len, bytes } => unsafe {
                std::str::from_utf8_unchecked(&bytes[..*len as usize])
            },
            IdText::Shared(text) => text,
        }
    }
}

impl Default for IdText {
    fn default() -> IdText {
        IdText::Inline {
            len: 0,
            bytes: [0; INLINE_CAPACITY],
        }
    }
}

// Equality, order and hash are the text's (as `Borrow<str>` requires): the same text
// is the same ID whether it is held inline or shared.
impl PartialEq for IdText {
    fn eq(&self, other: &IdText) -> bool {
        self.as_bytes() == other.as_bytes()
    }
}

impl Eq for IdText {}

impl PartialOrd for IdText {
    fn partial_cmp(&self, other: &IdText) -> Option<Ordering> {
        Some(self.cmp(other))
    }
}

impl Ord for IdText {
    fn cmp(&self, other: &IdText) -> Ordering {
        match (self, other) {
            (
                IdText::Inline { len, bytes },
                IdText::Inline {
                    len: other_len,
                    bytes: other_bytes,
                },
            ) => padded_cmp(bytes, other_bytes).then(len.cmp(other_len)),
            _ => self.as_bytes().cmp(other.as_bytes()),
        }
    }
}

/// Two inline texts in the order of the texts themselves, read as their zero-padded
/// arrays then their lengths: where the texts differ, so do the arrays, at the same
/// byte; where one text is a prefix of the other, the arrays are equal (up to the
/// longer text's bytes, which the shorter one's zeros do not exceed) and the shorter
/// length comes first. A fixed-size read of five words, where the slices' comparison
/// was a call to `memcmp`: the state's maps compare IDs in every lookup, and `memcmp`
/// was a twentieth of the server's time placing a million allocations.
fn padded_cmp(a: &[u8; INLINE_CAPACITY], b: &[u8; INLINE_CAPACITY]) -> Ordering {
    const WORD: usize = 8;
    // The last word overlaps the one before it: the overlap compared equal already.
    const OFFSETS: [usize; 5] = [0, 8, 16, 24, INLINE_CAPACITY - WORD];
    let word = |bytes: &[u8; INLINE_CAPACITY], at: usize| {
        let mut word = [0; WORD];
        word.copy_from_slice(&bytes[at..at + WORD]);
        u64::from_be_bytes(word)
    };
    for at in OFFSETS {
        let (x, y) = (word(a, at), word(b, at));
        if x != y {
            return x.cmp(&y);
        }
    }
    Ordering::Equal
}

impl Hash for IdText {
    fn hash<H: Hasher>(&self, state: &mut H) {
        self.as_str().hash(state)
    }
}

impl Serialize for IdText {
    fn serialize<S: Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        serializer.serialize_str(self.as_str())
    }
}

impl<'de> Deserialize<'de> for IdText {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<IdText, D::Error> {
        struct Text;
        impl serde::de::Visitor<'_> for Text {
            type Value = IdText;

            fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                f.write_str("a string")
            }

            // Borrowed or not, a short ID is copied straight into place: no
            // allocation for the text of a UUID.
            fn visit_str<E: serde::de::Error>(self, text: &str) -> Result<IdText, E> {
                Ok(IdText::new(text))
            }

            fn visit_string<E: serde::de::Error>(self, text: String) -> Result<IdText, E> {
                Ok(IdText::from_string(text))
            }
        }
        deserializer.deserialize_str(Text)
    }
}

/// What can name an ID of kind `T` in a lookup: the typed ID itself, or a plain string
/// (a URL path segment, a prefix typed by a user, a test's literal). Another kind of ID
/// cannot, so a node ID is never looked up among allocations:
///
/// ```compile_fail
/// use caravan_structs::{AllocId, NodeId, ids::AsId};
/// fn alloc(id: &(impl AsId<AllocId> + ?Sized)) -> &str { id.as_id_str() }
/// alloc(&NodeId::from("n1"));
/// ```
pub trait AsId<T> {
    /// The ID's text.
    fn as_id_str(&self) -> &str;
}

impl<T> AsId<T> for str {
    fn as_id_str(&self) -> &str {
        self
    }
}

impl<T> AsId<T> for String {
    fn as_id_str(&self) -> &str {
        self
    }
}

impl<T, I: AsId<T> + ?Sized> AsId<T> for &I {
    fn as_id_str(&self) -> &str {
        (**self).as_id_str()
    }
}

macro_rules! id_type {
    ($(#[$doc:meta])* $name:ident) => {
        $(#[$doc])*
        #[derive(Clone, Default, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
        #[serde(transparent)]
        pub struct $name(IdText);

        impl $name {
            /// The ID holding `id`.
            pub fn new(id: impl Into<String>) -> $name {
                $name(IdText::from_string(id.into()))
            }

            /// The ID as a string slice.
            pub fn as_str(&self) -> &str {
                self.0.as_str()
            }

            /// Whether this is the empty ID, which stands for "none".
            pub fn is_empty(&self) -> bool {
                self.0.as_bytes().is_empty()
            }

            /// Short form, as Nomad prints IDs in tables: the first 8 characters.
            pub fn short(&self) -> &str {
                crate::short_id(self.0.as_str())
            }

            /// The string inside.
            pub fn into_string(self) -> String {
                self.0.as_str().to_string()
            }
        }

        // Debug prints the bare string, as before the newtype, so messages that quote
        // an ID with `{:?}` are unchanged.
        impl AsId<$name> for $name {
            fn as_id_str(&self) -> &str {
                self.0.as_str()
            }
        }

        impl fmt::Debug for $name {
            fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                fmt::Debug::fmt(self.0.as_str(), f)
            }
        }

        // `pad`, not `write_str`: widths and alignment apply as they do to a `String`.
        impl fmt::Display for $name {
            fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                f.pad(self.0.as_str())
            }
        }

        // An ID reads as the text it is (`id.starts_with(..)`, `&id` where a `&str` is
        // asked for). That cannot turn one kind of ID into another: the newtype's point.
        impl std::ops::Deref for $name {
            type Target = str;

            fn deref(&self) -> &str {
                self.0.as_str()
            }
        }

        impl Borrow<str> for $name {
            fn borrow(&self) -> &str {
                self.0.as_str()
            }
        }

        impl AsRef<str> for $name {
            fn as_ref(&self) -> &str {
                self.0.as_str()
            }
        }

        impl From<String> for $name {
            fn from(id: String) -> $name {
                $name(IdText::from_string(id))
            }
        }

        impl From<&String> for $name {
            fn from(id: &String) -> $name {
                $name(IdText::new(id))
            }
        }

        impl From<&str> for $name {
            fn from(id: &str) -> $name {
                $name(IdText::new(id))
            }
        }

        impl From<$name> for String {
            fn from(id: $name) -> String {
                id.into_string()
            }
        }

        impl PartialEq<str> for $name {
            fn eq(&self, other: &str) -> bool {
                self.0.as_str() == other
            }
        }

        impl PartialEq<&str> for $name {
            fn eq(&self, other: &&str) -> bool {
                self.0.as_str() == *other
            }
        }

        impl PartialEq<String> for $name {
            fn eq(&self, other: &String) -> bool {
                self.0.as_str() == other.as_str()
            }
        }

        impl PartialEq<$name> for str {
            fn eq(&self, other: &$name) -> bool {
                self == other.0.as_str()
            }
        }

        impl PartialEq<$name> for &str {
            fn eq(&self, other: &$name) -> bool {
                *self == other.0.as_str()
            }
        }

        impl PartialEq<$name> for String {
            fn eq(&self, other: &$name) -> bool {
                self.as_str() == other.0.as_str()
            }
        }
    };
}

id_type! {
    /// A job's ID (`Job.ID`, `JobID` elsewhere), unique within its namespace. Chosen by
    /// the user; a periodic or dispatched child's is `<parent>/<suffix>`.
    JobId
}

id_type! {
    /// An allocation's ID (`Allocation.ID`): a UUID.
    AllocId
}

id_type! {
    /// A client node's ID (`Node.ID`): a UUID the client picks and keeps.
    NodeId
}

id_type! {
    /// An evaluation's ID (`Evaluation.ID`): a UUID.
    EvalId
}

id_type! {
    /// A deployment's ID (`Deployment.ID`): a UUID.
    DeploymentId
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ids_serialize_as_their_string_and_back() {
        let id = JobId::from("web");
        assert_eq!(serde_json::to_value(&id).unwrap(), serde_json::json!("web"));
        let back: JobId = serde_json::from_str("\"web\"").unwrap();
        assert_eq!(back, id);
    }

    #[test]
    fn ids_print_and_compare_as_their_string() {
        let id = NodeId::from("n1");
        assert_eq!(id.to_string(), "n1");
        assert_eq!(format!("{id:<4}|{id:.1}"), "n1  |n");
        assert_eq!(format!("{id:?}"), "\"n1\"");
        assert_eq!(id, "n1");
        assert_eq!("n1", id);
        assert_eq!(id, "n1".to_string());
        assert!(EvalId::default().is_empty());
        assert_eq!(AllocId::from("0123456789").short(), "01234567");
    }

    #[test]
    fn ids_inline_or_shared_compare_hash_and_read_as_their_text() {
        use std::collections::hash_map::DefaultHasher;
        let hash = |h: &dyn Fn(&mut DefaultHasher)| {
            let mut hasher = DefaultHasher::new();
            h(&mut hasher);
            hasher.finish()
        };
        let uuid = "5f3c8a1e-0b7d-4c1a-9e2f-6a7b8c9d0e1f";
        let long = "a-job-whose-name-is-longer-than-thirty-eight-bytes";
        let (short_id, long_id) = (JobId::from(uuid), JobId::from(long.to_string()));
        assert_eq!(short_id, uuid);
        assert_eq!(long_id, long);
        assert_eq!(short_id.cmp(&long_id), uuid.cmp(long));
        assert_eq!(long_id.cmp(&short_id), long.cmp(uuid));
        assert_eq!(hash(&|h| long_id.hash(h)), hash(&|h| long.hash(h)));
        assert_eq!(hash(&|h| short_id.hash(h)), hash(&|h| uuid.hash(h)));
        // A prefix sorts first, whether the longer one is inline or not.
        let (short_prefix, long_prefix) = (JobId::from("5f3c"), JobId::from("a-job"));
        assert!(short_prefix < short_id);
        assert!(long_prefix < long_id);
        let back: JobId = serde_json::from_str(&format!("\"{long}\"")).unwrap();
        assert_eq!(back, long_id);
        let escaped: AllocId = serde_json::from_str("\"a\\u00e9b\"").unwrap();
        assert_eq!(escaped, "a\u{e9}b");
        assert!(serde_json::from_str::<AllocId>("7").is_err());
        assert_eq!(std::mem::size_of::<AllocId>(), 40);
    }

    #[test]
    fn ids_sort_as_their_texts() {
        // Prefixes, a difference in each word of the inline array and in the overlap
        // of its last two, a zero byte, the longest inline text and a shared one.
        let uuid = "5f3c8a1e-0b7d-4c1a-9e2f-6a7b8c9d0e1f";
        let mut texts: Vec<String> = vec![
            String::new(),
            "a".into(),
            "a\0".into(),
            "a\0\0".into(),
            "ab".into(),
            "b".into(),
            uuid.into(),
            uuid[..35].into(),
            "x".repeat(38),
            "x".repeat(39),
            format!("{}y", "x".repeat(37)),
        ];
        for at in [0, 7, 8, 15, 16, 23, 24, 29, 30, 31, 35] {
            for byte in [b'0', b'~'] {
                let mut changed = uuid.as_bytes().to_vec();
                changed[at] = byte;
                texts.push(String::from_utf8(changed).unwrap());
            }
        }
        for a in &texts {
            for b in &texts {
                let (x, y) = (AllocId::from(a.as_str()), AllocId::from(b.as_str()));
                assert_eq!(x.cmp(&y), a.cmp(b), "{a:?} against {b:?}");
                assert_eq!(x == y, a == b, "{a:?} against {b:?}");
            }
        }
    }

    #[test]
    fn an_id_or_a_string_names_an_id() {
        fn named(id: &(impl AsId<AllocId> + ?Sized)) -> &str {
            id.as_id_str()
        }
        assert_eq!(named(&AllocId::from("a1")), "a1");
        assert_eq!(named("a1"), "a1");
        assert_eq!(named(&"a1".to_string()), "a1");
    }
}

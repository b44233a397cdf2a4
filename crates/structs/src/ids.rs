//! Typed IDs: a job's, an allocation's, a node's and an evaluation's ID are different
//! types, so one cannot be passed where another is meant.
//!
//! Each is shared text underneath (`Arc<str>`: an ID is copied into every index and
//! map that names its object, and each copy would otherwise be an allocation of its
//! own) and serializes as that string (`#[serde(transparent)]`), so the JSON is
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
use std::fmt;
use std::sync::Arc;

use serde::{Deserialize, Serialize};

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
        pub struct $name(Arc<str>);

        impl $name {
            /// The ID holding `id`.
            pub fn new(id: impl Into<String>) -> $name {
                $name(Arc::from(id.into()))
            }

            /// The ID as a string slice.
            pub fn as_str(&self) -> &str {
                &self.0
            }

            /// Whether this is the empty ID, which stands for "none".
            pub fn is_empty(&self) -> bool {
                self.0.is_empty()
            }

            /// Short form, as Nomad prints IDs in tables: the first 8 characters.
            pub fn short(&self) -> &str {
                crate::short_id(&self.0)
            }

            /// The string inside.
            pub fn into_string(self) -> String {
                self.0.to_string()
            }
        }

        // Debug prints the bare string, as before the newtype, so messages that quote
        // an ID with `{:?}` are unchanged.
        impl AsId<$name> for $name {
            fn as_id_str(&self) -> &str {
                &self.0
            }
        }

        impl fmt::Debug for $name {
            fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                fmt::Debug::fmt(&self.0, f)
            }
        }

        // `pad`, not `write_str`: widths and alignment apply as they do to a `String`.
        impl fmt::Display for $name {
            fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                f.pad(&self.0)
            }
        }

        // An ID reads as the text it is (`id.starts_with(..)`, `&id` where a `&str` is
        // asked for). That cannot turn one kind of ID into another: the newtype's point.
        impl std::ops::Deref for $name {
            type Target = str;

            fn deref(&self) -> &str {
                &self.0
            }
        }

        impl Borrow<str> for $name {
            fn borrow(&self) -> &str {
                &self.0
            }
        }

        impl AsRef<str> for $name {
            fn as_ref(&self) -> &str {
                &self.0
            }
        }

        impl From<String> for $name {
            fn from(id: String) -> $name {
                $name(Arc::from(id))
            }
        }

        impl From<&String> for $name {
            fn from(id: &String) -> $name {
                $name(Arc::from(id.as_str()))
            }
        }

        impl From<&str> for $name {
            fn from(id: &str) -> $name {
                $name(Arc::from(id))
            }
        }

        impl From<$name> for String {
            fn from(id: $name) -> String {
                id.0.to_string()
            }
        }

        impl PartialEq<str> for $name {
            fn eq(&self, other: &str) -> bool {
                &*self.0 == other
            }
        }

        impl PartialEq<&str> for $name {
            fn eq(&self, other: &&str) -> bool {
                &*self.0 == *other
            }
        }

        impl PartialEq<String> for $name {
            fn eq(&self, other: &String) -> bool {
                *self.0 == **other
            }
        }

        impl PartialEq<$name> for str {
            fn eq(&self, other: &$name) -> bool {
                self == &*other.0
            }
        }

        impl PartialEq<$name> for &str {
            fn eq(&self, other: &$name) -> bool {
                *self == &*other.0
            }
        }

        impl PartialEq<$name> for String {
            fn eq(&self, other: &$name) -> bool {
                **self == *other.0
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
    fn an_id_or_a_string_names_an_id() {
        fn named(id: &(impl AsId<AllocId> + ?Sized)) -> &str {
            id.as_id_str()
        }
        assert_eq!(named(&AllocId::from("a1")), "a1");
        assert_eq!(named("a1"), "a1");
        assert_eq!(named(&"a1".to_string()), "a1");
    }
}

//! A small map from names kept as one sorted vector: what an allocation's metrics hold
//! a few entries of each (nodes available by datacenter, a node's scores by scorer),
//! over a million allocations. A `BTreeMap` takes a 370-byte node however few its
//! entries; this takes 32 bytes an entry, and the names the scheduler writes into every
//! allocation (its scorers', its dimensions') are not copied at all. It encodes as a
//! map, as Nomad's JSON has it.

use std::fmt;

use serde::de::{MapAccess, Visitor};
use serde::ser::SerializeMap;
use serde::{Deserialize, Deserializer, Serialize, Serializer};

/// Entries sorted by name, each name once.
#[derive(Clone, PartialEq)]
pub struct FlatMap<V>(Vec<(Name, V)>);

/// The names every allocation's metrics repeat: five nodes' scores by the same scorers
/// (`ScoreMetaData`), the dimensions nodes ran out of. Kept as static text, they cost
/// a million allocations nothing; a copy each was about 800 bytes an allocation.
const KNOWN_NAMES: &[&str] = &[
    "allocation-spread",
    "binpack",
    "cores",
    "cpu",
    "disk",
    "job-anti-affinity",
    "memory",
    "node-affinity",
    "node-reschedule-penalty",
    "normalized-score",
];

/// An entry's name: one of [`KNOWN_NAMES`], or its own text. Read it as a `&str`
/// ([`FlatMap::iter`], [`FlatMap::keys`]).
#[derive(Clone)]
pub struct Name(Text);

#[derive(Clone)]
enum Text {
    Known(&'static str),
    Owned(Box<str>),
}

impl Name {
    fn new(name: &str) -> Name {
        Name(match KNOWN_NAMES.iter().find(|known| **known == name) {
            Some(known) => Text::Known(known),
            None => Text::Owned(name.into()),
        })
    }

    /// As [`Name::new`], keeping `name`'s own text when it is not a known one.
    fn from_string(name: String) -> Name {
        match KNOWN_NAMES.iter().find(|known| **known == name) {
            Some(known) => Name(Text::Known(known)),
            None => Name(Text::Owned(name.into_boxed_str())),
        }
    }

    fn as_str(&self) -> &str {
        match &self.0 {
            Text::Known(name) => name,
            Text::Owned(name) => name,
        }
    }
}

impl PartialEq for Name {
    fn eq(&self, other: &Name) -> bool {
        self.as_str() == other.as_str()
    }
}

impl<V: Eq> Eq for FlatMap<V> {}

impl<V> Default for FlatMap<V> {
    fn default() -> Self {
        FlatMap(Vec::new())
    }
}

impl<V> FlatMap<V> {
    pub fn new() -> Self {
        FlatMap::default()
    }

    /// An empty map with room for `entries`.
    pub fn with_capacity(entries: usize) -> Self {
        FlatMap(Vec::with_capacity(entries))
    }

    /// The map of `entries`, named by static text: taken as they come when their names
    /// are already in order and distinct (checked, one comparison of neighbours each),
    /// inserted one by one when not. The scorers' names, written for five nodes in
    /// every placement, are not searched for among the known names nor sorted in.
    pub fn from_static(entries: &[(&'static str, V)]) -> Self
    where
        V: Clone,
    {
        if entries.windows(2).all(|pair| pair[0].0 < pair[1].0) {
            return FlatMap(
                entries
                    .iter()
                    .map(|(name, value)| (Name(Text::Known(name)), value.clone()))
                    .collect(),
            );
        }
        entries.iter().cloned().collect()
    }

    /// Gives back the room grown past its entries.
    pub fn shrink_to_fit(&mut self) {
        self.0.shrink_to_fit();
    }

    pub fn len(&self) -> usize {
        self.0.len()
    }

    pub fn is_empty(&self) -> bool {
        self.0.is_empty()
    }

    fn position(&self, name: &str) -> Result<usize, usize> {
        self.0.binary_search_by(|(key, _)| key.as_str().cmp(name))
    }

    pub fn get(&self, name: &str) -> Option<&V> {
        self.position(name).ok().map(|at| &self.0[at].1)
    }

    pub fn get_mut(&mut self, name: &str) -> Option<&mut V> {
        self.position(name).ok().map(|at| &mut self.0[at].1)
    }

    pub fn contains_key(&self, name: &str) -> bool {
        self.position(name).is_ok()
    }

    /// Sets `name` to `value`, answering what it was.
    pub fn insert(&mut self, name: impl AsRef<str>, value: V) -> Option<V> {
        let name = name.as_ref();
        match self.position(name) {
            Ok(at) => Some(std::mem::replace(&mut self.0[at].1, value)),
            Err(at) => {
                self.0.insert(at, (Name::new(name), value));
                None
            }
        }
    }

    /// The value of `name`, inserted as `V::default()` when missing.
    pub fn entry_or_default(&mut self, name: &str) -> &mut V
    where
        V: Default,
    {
        let at = match self.position(name) {
            Ok(at) => at,
            Err(at) => {
                self.0.insert(at, (Name::new(name), V::default()));
                at
            }
        };
        &mut self.0[at].1
    }

    /// Entries in name order.
    pub fn iter(&self) -> impl ExactSizeIterator<Item = (&str, &V)> + DoubleEndedIterator {
        self.0.iter().map(|(key, value)| (key.as_str(), value))
    }

    pub fn keys(&self) -> impl ExactSizeIterator<Item = &str> + DoubleEndedIterator {
        self.0.iter().map(|(key, _)| key.as_str())
    }

    pub fn values(&self) -> impl ExactSizeIterator<Item = &V> + DoubleEndedIterator {
        self.0.iter().map(|(_, value)| value)
    }
}

impl<V> std::ops::Index<&str> for FlatMap<V> {
    type Output = V;

    fn index(&self, name: &str) -> &V {
        match self.get(name) {
            Some(value) => value,
            None => panic!("no entry {name:?} in the map"),
        }
    }
}

impl<K: AsRef<str>, V> FromIterator<(K, V)> for FlatMap<V> {
    fn from_iter<I: IntoIterator<Item = (K, V)>>(entries: I) -> Self {
        let mut map = FlatMap::new();
        map.extend(entries);
        map
    }
}

impl<K: AsRef<str>, V> Extend<(K, V)> for FlatMap<V> {
    fn extend<I: IntoIterator<Item = (K, V)>>(&mut self, entries: I) {
        for (name, value) in entries {
            self.insert(name, value);
        }
    }
}

impl<K: AsRef<str>, V, const N: usize> From<[(K, V); N]> for FlatMap<V> {
    fn from(entries: [(K, V); N]) -> Self {
        entries.into_iter().collect()
    }
}

impl<'a, V> IntoIterator for &'a FlatMap<V> {
    type Item = (&'a str, &'a V);
    type IntoIter = std::iter::Map<std::slice::Iter<'a, (Name, V)>, fn(&(Name, V)) -> (&str, &V)>;

    fn into_iter(self) -> Self::IntoIter {
        self.0.iter().map(|(key, value)| (key.as_str(), value))
    }
}

impl<V> IntoIterator for FlatMap<V> {
    type Item = (String, V);
    type IntoIter = std::iter::Map<std::vec::IntoIter<(Name, V)>, fn((Name, V)) -> (String, V)>;

    fn into_iter(self) -> Self::IntoIter {
        self.0
            .into_iter()
            .map(|(key, value)| (key.as_str().to_string(), value))
    }
}

impl<V: fmt::Debug> fmt::Debug for FlatMap<V> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_map().entries(self.iter()).finish()
    }
}

impl<V: Serialize> Serialize for FlatMap<V> {
    fn serialize<S: Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        let mut map = serializer.serialize_map(Some(self.len()))?;
        for (name, value) in self {
            map.serialize_entry(name, value)?;
        }
        map.end()
    }
}

impl<'de, V: Deserialize<'de>> Deserialize<'de> for FlatMap<V> {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        struct Entries<V>(std::marker::PhantomData<V>);

        impl<'de, V: Deserialize<'de>> Visitor<'de> for Entries<V> {
            type Value = FlatMap<V>;

            fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                f.write_str("a map")
            }

            fn visit_map<A: MapAccess<'de>>(self, mut access: A) -> Result<FlatMap<V>, A::Error> {
                let mut map = FlatMap(Vec::with_capacity(access.size_hint().unwrap_or(0)));
                while let Some((name, value)) = access.next_entry::<String, V>()? {
                    match map.position(&name) {
                        Ok(at) => map.0[at].1 = value,
                        Err(at) => map.0.insert(at, (Name::from_string(name), value)),
                    }
                }
                Ok(map)
            }

            // JSON's `null` for an empty map, as Go encodes a nil one.
            fn visit_unit<E: serde::de::Error>(self) -> Result<FlatMap<V>, E> {
                Ok(FlatMap::new())
            }
        }

        deserializer.deserialize_any(Entries(std::marker::PhantomData))
    }
}

#[cfg(test)]
mod tests {
    use super::FlatMap;

    #[test]
    fn keeps_names_sorted_and_once_and_encodes_as_a_map() {
        let mut map: FlatMap<i64> = [("dc2", 1), ("dc1", 2)].into();
        *map.entry_or_default("dc3") += 4;
        *map.entry_or_default("dc1") += 1;
        assert_eq!(map.insert("dc2", 7), Some(1));
        assert_eq!(map.keys().collect::<Vec<_>>(), ["dc1", "dc2", "dc3"]);
        assert_eq!(map["dc1"], 3);
        let json = serde_json::to_string(&map).unwrap();
        assert_eq!(json, r#"{"dc1":3,"dc2":7,"dc3":4}"#);
        let back: FlatMap<i64> = serde_json::from_str(r#"{"dc3":4,"dc1":3,"dc2":7}"#).unwrap();
        assert_eq!(back, map);
        let null: FlatMap<i64> = serde_json::from_str("null").unwrap();
        assert!(null.is_empty());
        let packed = rmp_serde::to_vec_named(&map).unwrap();
        assert_eq!(rmp_serde::from_slice::<FlatMap<i64>>(&packed).unwrap(), map);
    }

    #[test]
    fn a_map_of_static_names_is_the_same_in_order_or_not() {
        let in_order = FlatMap::from_static(&[("binpack", 0.5), ("normalized-score", 0.25)]);
        let shuffled = FlatMap::from_static(&[("normalized-score", 0.25), ("binpack", 0.5)]);
        let inserted: FlatMap<f64> = [("normalized-score", 0.25), ("binpack", 0.5)].into();
        assert_eq!(in_order, inserted);
        assert_eq!(shuffled, inserted);
        assert_eq!(in_order.get("binpack"), Some(&0.5));
        // A name twice keeps one entry, the last value, as inserting does.
        let twice = FlatMap::from_static(&[("binpack", 0.5), ("binpack", 0.75)]);
        assert_eq!(twice.keys().collect::<Vec<_>>(), ["binpack"]);
        assert_eq!(twice["binpack"], 0.75);
    }

    #[test]
    fn known_and_other_names_read_the_same() {
        let scores: FlatMap<f64> =
            [("normalized-score", 0.5), ("binpack", 0.25), ("mine", 1.0)].into();
        assert_eq!(
            scores.keys().collect::<Vec<_>>(),
            ["binpack", "mine", "normalized-score"]
        );
        let packed = rmp_serde::to_vec_named(&scores).unwrap();
        let back: FlatMap<f64> = rmp_serde::from_slice(&packed).unwrap();
        assert_eq!(back, scores);
        assert_eq!(back["binpack"], 0.25);
        let owned: Vec<(String, f64)> = back.into_iter().collect();
        assert_eq!(owned[1], ("mine".to_string(), 1.0));
    }
}

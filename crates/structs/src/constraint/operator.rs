//! The operators of `constraint` and `affinity` blocks: one list, with what each needs.

/// A placement rule's operator (Nomad's `Constraint.Operand`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Operator {
    /// `=`, `==`, `is`.
    Equal,
    /// `!=`, `not`.
    NotEqual,
    /// `<`.
    Less,
    /// `<=`.
    LessOrEqual,
    /// `>`.
    Greater,
    /// `>=`.
    GreaterOrEqual,
    /// `version`: hashicorp/go-version constraints.
    Version,
    /// `semver`: Semver 2.0 constraints.
    Semver,
    /// `regexp`: RE2-style, unanchored.
    Regexp,
    /// `set_contains`: every listed value is in the attribute's comma-separated set.
    SetContains,
    /// `set_contains_all`: as `set_contains`.
    SetContainsAll,
    /// `set_contains_any`: one listed value is in the set.
    SetContainsAny,
    /// `is_set`: the attribute exists.
    IsSet,
    /// `is_not_set`: the attribute does not exist.
    IsNotSet,
    /// `distinct_hosts`: at most one allocation per node (across placements).
    DistinctHosts,
    /// `distinct_property`: at most N allocations per value of the attribute.
    DistinctProperty,
}

/// Every spelling Nomad accepts, in the order its error message lists them.
const SPELLINGS: [(&str, Operator); 19] = [
    ("=", Operator::Equal),
    ("==", Operator::Equal),
    ("is", Operator::Equal),
    ("!=", Operator::NotEqual),
    ("not", Operator::NotEqual),
    ("<", Operator::Less),
    ("<=", Operator::LessOrEqual),
    (">", Operator::Greater),
    (">=", Operator::GreaterOrEqual),
    ("version", Operator::Version),
    ("semver", Operator::Semver),
    ("regexp", Operator::Regexp),
    ("set_contains", Operator::SetContains),
    ("set_contains_all", Operator::SetContainsAll),
    ("set_contains_any", Operator::SetContainsAny),
    ("is_set", Operator::IsSet),
    ("is_not_set", Operator::IsNotSet),
    ("distinct_hosts", Operator::DistinctHosts),
    ("distinct_property", Operator::DistinctProperty),
];

/// Every operator a `constraint` accepts, as written (Nomad's set).
pub const CONSTRAINT_OPERATORS: [&str; SPELLINGS.len()] = {
    let mut names = [""; SPELLINGS.len()];
    let mut i = 0;
    while i < SPELLINGS.len() {
        names[i] = SPELLINGS[i].0;
        i += 1;
    }
    names
};

impl Operator {
    /// The operator `text` spells, if Nomad knows it.
    ///
    /// ```
    /// use caravan_structs::constraint::Operator;
    /// assert_eq!(Operator::parse("is"), Some(Operator::Equal));
    /// assert_eq!(Operator::parse("like"), None);
    /// ```
    pub fn parse(text: &str) -> Option<Operator> {
        SPELLINGS
            .iter()
            .find(|(spelling, _)| *spelling == text)
            .map(|(_, operator)| *operator)
    }

    /// Whether it compares the attribute with a value, which must be given.
    pub fn needs_r_target(self) -> bool {
        use Operator::*;
        matches!(
            self,
            Equal
                | NotEqual
                | Less
                | LessOrEqual
                | Greater
                | GreaterOrEqual
                | SetContains
                | SetContainsAll
                | SetContainsAny
        )
    }

    /// Whether it refuses a value (`is_set`, `is_not_set`).
    pub fn refuses_r_target(self) -> bool {
        matches!(self, Operator::IsSet | Operator::IsNotSet)
    }

    /// Whether it needs an attribute (all but `distinct_hosts`).
    pub fn needs_l_target(self) -> bool {
        self != Operator::DistinctHosts
    }

    /// Whether an `affinity` may use it (no `is_set`, `is_not_set`, `distinct_*`).
    pub fn allowed_in_affinity(self) -> bool {
        !matches!(
            self,
            Operator::IsSet
                | Operator::IsNotSet
                | Operator::DistinctHosts
                | Operator::DistinctProperty
        )
    }
}

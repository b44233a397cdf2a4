//! The closed sets of words Nomad's model uses (statuses, job types, evaluation
//! triggers), as enums that serialize to exactly Nomad's strings.
//!
//! `as_str()` and `Display` give the Nomad word (the CLI prints it); `FromStr` and
//! deserialization accept only the words of the set. A value outside the set is refused
//! where it arrives, and the error names the field and the words it may be:
//!
//! ```
//! use caravan_structs::JobType;
//! assert_eq!(JobType::Sysbatch.to_string(), "sysbatch");
//! let err = "cron".parse::<JobType>().unwrap_err();
//! assert_eq!(err.to_string(), "type must be one of service, batch, system, sysbatch; got \"cron\"");
//! ```
//!
//! Each compares equal to its word (`alloc.client_status == "running"`), so checks and
//! test assertions read as they did when these were strings.

use std::fmt;
use std::str::FromStr;

use serde::{Deserialize, Deserializer, Serialize, Serializer};

/// A word outside an enum's set: what the field is, what arrived and what it may be.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{what} must be one of {}; got {}", allowed.join(", "), crate::names::quoted(value))]
pub struct UnknownValue {
    /// The field, as a user knows it (`type`, `node status`).
    pub what: &'static str,
    /// The words the field may be.
    pub allowed: &'static [&'static str],
    /// What arrived.
    pub value: String,
}

macro_rules! string_enum {
    (
        $(#[$doc:meta])*
        $name:ident, what = $what:literal, default = $default:ident {
            $( $(#[$vdoc:meta])* $variant:ident = $text:literal, )+
        }
    ) => {
        $(#[$doc])*
        #[derive(Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
        pub enum $name {
            $( $(#[$vdoc])* $variant, )+
        }

        impl $name {
            /// Every value, in Nomad's order.
            pub const ALL: &'static [$name] = &[$($name::$variant),+];

            /// Nomad's words for the values, in the order of [`Self::ALL`].
            pub const WORDS: &'static [&'static str] = &[$($text),+];

            /// Nomad's word for this value.
            pub const fn as_str(self) -> &'static str {
                match self {
                    $( $name::$variant => $text, )+
                }
            }
        }

        impl Default for $name {
            fn default() -> $name {
                $name::$default
            }
        }

        // Debug prints the quoted word, as it did when the field was a string.
        impl fmt::Debug for $name {
            fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                fmt::Debug::fmt(self.as_str(), f)
            }
        }

        impl fmt::Display for $name {
            fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                f.pad(self.as_str())
            }
        }

        impl FromStr for $name {
            type Err = UnknownValue;

            fn from_str(text: &str) -> Result<$name, UnknownValue> {
                match text {
                    $( $text => Ok($name::$variant), )+
                    _ => Err(UnknownValue {
                        what: $what,
                        allowed: $name::WORDS,
                        value: text.to_string(),
                    }),
                }
            }
        }

        impl Serialize for $name {
            fn serialize<S: Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
                serializer.serialize_str(self.as_str())
            }
        }

        impl<'de> Deserialize<'de> for $name {
            fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<$name, D::Error> {
                let text = std::borrow::Cow::<'de, str>::deserialize(deserializer)?;
                text.parse().map_err(serde::de::Error::custom)
            }
        }

        impl PartialEq<str> for $name {
            fn eq(&self, other: &str) -> bool {
                self.as_str() == other
            }
        }

        impl PartialEq<&str> for $name {
            fn eq(&self, other: &&str) -> bool {
                self.as_str() == *other
            }
        }

        impl PartialEq<$name> for &str {
            fn eq(&self, other: &$name) -> bool {
                *self == other.as_str()
            }
        }
    };
}

string_enum! {
    /// `Job.Type`: how the job's allocations are placed and how long they live.
    JobType, what = "type", default = Service {
        /// Long-running, restarted and rescheduled; Nomad's default.
        Service = "service",
        /// Runs to completion.
        Batch = "batch",
        /// One allocation per feasible node.
        System = "system",
        /// System placement, batch lifecycle.
        Sysbatch = "sysbatch",
    }
}

impl JobType {
    /// Whether allocations of this type may complete for good (`batch`, `sysbatch`).
    pub fn is_batch(self) -> bool {
        matches!(self, JobType::Batch | JobType::Sysbatch)
    }

    /// Whether the job runs on every eligible node (`system`, `sysbatch`).
    pub fn is_system(self) -> bool {
        matches!(self, JobType::System | JobType::Sysbatch)
    }
}

string_enum! {
    /// `Job.Status`, derived by the servers from the job's allocations and evaluations.
    JobStatus, what = "job status", default = Pending {
        /// Allocations are still to be placed or started.
        Pending = "pending",
        /// At least one allocation runs.
        Running = "running",
        /// Stopped, or every allocation is terminal.
        Dead = "dead",
    }
}

string_enum! {
    /// `Allocation.DesiredStatus`: what the servers want of the allocation.
    AllocDesiredStatus, what = "allocation desired status", default = Run {
        /// The allocation should run.
        Run = "run",
        /// The allocation should be stopped.
        Stop = "stop",
        /// The allocation is being evicted.
        Evict = "evict",
    }
}

string_enum! {
    /// `Allocation.ClientStatus`: what its client reports of the allocation.
    AllocClientStatus, what = "allocation client status", default = Pending {
        /// Placed, tasks not yet running.
        Pending = "pending",
        /// Tasks are running.
        Running = "running",
        /// All tasks finished successfully.
        Complete = "complete",
        /// A task failed.
        Failed = "failed",
        /// Its node went down.
        Lost = "lost",
        /// Its node is disconnected; it may come back (Nomad's `max_client_disconnect`).
        Unknown = "unknown",
    }
}

impl AllocClientStatus {
    /// Whether the client reports the allocation finished for good.
    pub fn is_terminal(self) -> bool {
        matches!(
            self,
            AllocClientStatus::Complete | AllocClientStatus::Failed | AllocClientStatus::Lost
        )
    }
}

string_enum! {
    /// `TaskState.State`: where one task of an allocation is in its life.
    TaskStateKind, what = "task state", default = Pending {
        /// Not yet started.
        Pending = "pending",
        /// Its process runs.
        Running = "running",
        /// Finished (successfully or not) and will not run again.
        Dead = "dead",
    }
}

string_enum! {
    /// `Evaluation.Status`.
    EvalStatus, what = "evaluation status", default = Pending {
        /// Waiting for capacity.
        Blocked = "blocked",
        /// Waiting for a worker.
        Pending = "pending",
        /// Done.
        Complete = "complete",
        /// The scheduler gave up.
        Failed = "failed",
        /// Superseded.
        Canceled = "canceled",
    }
}

impl EvalStatus {
    /// Whether an evaluation in this status will not be processed again.
    pub fn is_terminal(self) -> bool {
        matches!(
            self,
            EvalStatus::Complete | EvalStatus::Failed | EvalStatus::Canceled
        )
    }
}

string_enum! {
    /// `Evaluation.TriggeredBy`: why the evaluation was made (Nomad's whole set, so that
    /// evaluations from any Nomad server read).
    EvalTrigger, what = "evaluation trigger", default = JobRegister {
        /// A job was registered or updated.
        JobRegister = "job-register",
        /// A job was stopped.
        JobDeregister = "job-deregister",
        /// A periodic job launched a child.
        PeriodicJob = "periodic-job",
        /// A node started draining.
        NodeDrain = "node-drain",
        /// A node changed (registered, went down, came back, became eligible).
        NodeUpdate = "node-update",
        /// An allocation was stopped by a user.
        AllocStop = "alloc-stop",
        /// A scheduled run (Nomad's core jobs).
        Scheduled = "scheduled",
        /// A deployment's next step.
        RollingUpdate = "rolling-update",
        /// The deployment watcher.
        DeploymentWatcher = "deployment-watcher",
        /// The follow-up of a failed evaluation.
        FailedFollowUp = "failed-follow-up",
        /// The plan was refused too many times.
        MaxPlans = "max-plan-attempts",
        /// An allocation failed and may be rescheduled.
        AllocFailure = "alloc-failure",
        /// A blocked evaluation's retry.
        QueuedAllocs = "queued-allocs",
        /// Allocations were preempted.
        Preemption = "preemption",
        /// A job was scaled.
        JobScaling = "job-scaling",
        /// A disconnected client stayed away past its allowance.
        MaxDisconnectTimeout = "max-disconnect-timeout",
        /// A disconnected client came back.
        Reconnect = "reconnect",
        /// An allocation was rescheduled by a user.
        AllocReschedule = "alloc-reschedule",
    }
}

string_enum! {
    /// `Node.Status`.
    NodeStatus, what = "node status", default = Initializing {
        /// Registered, not yet heartbeating as ready.
        Initializing = "initializing",
        /// Heartbeating, may receive allocations.
        Ready = "ready",
        /// Missed its heartbeat TTL.
        Down = "down",
        /// Missed its heartbeat, within its allocations' disconnect allowance.
        Disconnected = "disconnected",
    }
}

string_enum! {
    /// `Node.SchedulingEligibility`.
    NodeEligibility, what = "node scheduling eligibility", default = Eligible {
        /// The scheduler may place here.
        Eligible = "eligible",
        /// The scheduler places nothing new here.
        Ineligible = "ineligible",
    }
}

/// Serde for an `Option` of one of these enums held in a field Nomad leaves as the empty
/// string when unset (`Job.Type` before canonicalization, `Job.Status` before
/// registration): `None` is written as `""`, and `""` reads back as `None`.
pub mod empty_as_none {
    use std::str::FromStr;

    use serde::{Deserialize, Deserializer, Serializer};

    /// Writes `None` as `""`, a value as its word.
    pub fn serialize<T: AsRef<str>, S: Serializer>(
        value: &Option<T>,
        serializer: S,
    ) -> Result<S::Ok, S::Error> {
        serializer.serialize_str(value.as_ref().map_or("", AsRef::as_ref))
    }

    /// Reads `""` as `None`, a word as its value; any other string is an error that
    /// names the field and its words.
    pub fn deserialize<'de, T, D>(deserializer: D) -> Result<Option<T>, D::Error>
    where
        T: FromStr,
        T::Err: std::fmt::Display,
        D: Deserializer<'de>,
    {
        let text = std::borrow::Cow::<'de, str>::deserialize(deserializer)?;
        if text.is_empty() {
            return Ok(None);
        }
        text.parse().map(Some).map_err(serde::de::Error::custom)
    }
}

/// Serde for one of these enums in a field a sender may leave as the empty string,
/// meaning "yours to fill in" (a registering node's `Status` and
/// `SchedulingEligibility`, which the servers set): `""` reads as the default; the
/// value is always written as its word.
pub mod empty_as_default {
    use std::str::FromStr;

    use serde::{Deserialize, Deserializer, Serializer};

    /// Writes the value's word.
    pub fn serialize<T: AsRef<str>, S: Serializer>(
        value: &T,
        serializer: S,
    ) -> Result<S::Ok, S::Error> {
        serializer.serialize_str(value.as_ref())
    }

    /// Reads `""` as the default, a word as its value; any other string is an error that
    /// names the field and its words.
    pub fn deserialize<'de, T, D>(deserializer: D) -> Result<T, D::Error>
    where
        T: FromStr + Default,
        T::Err: std::fmt::Display,
        D: Deserializer<'de>,
    {
        let text = std::borrow::Cow::<'de, str>::deserialize(deserializer)?;
        if text.is_empty() {
            return Ok(T::default());
        }
        text.parse().map_err(serde::de::Error::custom)
    }
}

macro_rules! as_ref_str {
    ($($name:ident),+) => {
        $(impl AsRef<str> for $name {
            fn as_ref(&self) -> &str {
                self.as_str()
            }
        })+
    };
}

as_ref_str!(
    JobType,
    JobStatus,
    AllocDesiredStatus,
    AllocClientStatus,
    TaskStateKind,
    EvalStatus,
    EvalTrigger,
    NodeStatus,
    NodeEligibility
);

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_value_round_trips_through_its_word() {
        for status in AllocClientStatus::ALL {
            let json = serde_json::to_string(status).unwrap();
            assert_eq!(json, format!("\"{status}\""));
            let back: AllocClientStatus = serde_json::from_str(&json).unwrap();
            assert_eq!(back, *status);
        }
        for trigger in EvalTrigger::ALL {
            assert_eq!(trigger.as_str().parse::<EvalTrigger>(), Ok(*trigger));
        }
        assert_eq!(EvalTrigger::ALL.len(), EvalTrigger::WORDS.len());
    }

    #[test]
    fn an_unknown_word_names_the_field_and_the_allowed_words() {
        let err = serde_json::from_str::<NodeStatus>("\"sleeping\"").unwrap_err();
        assert_eq!(
            err.to_string(),
            "node status must be one of initializing, ready, down, disconnected; got \"sleeping\""
        );
        assert!(serde_json::from_str::<EvalStatus>("\"\"").is_err());
    }

    #[test]
    fn values_compare_equal_to_their_words() {
        assert_eq!(AllocClientStatus::Running, "running");
        assert_eq!("dead", TaskStateKind::Dead);
        assert_ne!(EvalStatus::Canceled, "cancelled");
        assert_eq!(
            format!("{:?}", NodeEligibility::Ineligible),
            "\"ineligible\""
        );
        assert_eq!(format!("{:<6}|", JobStatus::Dead), "dead  |");
    }

    #[test]
    fn empty_as_none_keeps_the_empty_string() {
        #[derive(Serialize, Deserialize, PartialEq, Debug)]
        struct Holder {
            #[serde(with = "empty_as_none")]
            r#type: Option<JobType>,
        }
        let unset = Holder { r#type: None };
        assert_eq!(serde_json::to_string(&unset).unwrap(), r#"{"type":""}"#);
        assert_eq!(
            serde_json::from_str::<Holder>(r#"{"type":""}"#).unwrap(),
            unset
        );
        assert_eq!(
            serde_json::from_str::<Holder>(r#"{"type":"batch"}"#).unwrap(),
            Holder {
                r#type: Some(JobType::Batch)
            }
        );
        let err = serde_json::from_str::<Holder>(r#"{"type":"cron"}"#).unwrap_err();
        assert!(
            err.to_string()
                .starts_with("type must be one of service, batch, system, sysbatch; got \"cron\""),
            "{err}"
        );
    }
}

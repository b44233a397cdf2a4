//! One check's state between probes: the thresholds that turn raw results into a
//! status (`success_before_passing`, `failures_before_critical`) and the count that
//! `check_restart` acts on. Pure: results and times come in, decisions go out.

use std::time::Duration;

/// What one probe found (Consul's words, which script checks use: exit 0, 1, other).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Outcome {
    Passing,
    Warning,
    Critical,
}

/// A check's status as reported (`initial_status`, then what the thresholds allow).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum CheckStatus {
    /// No result yet, or not enough to change from the initial status.
    Pending,
    Passing,
    Warning,
    Critical,
}

impl CheckStatus {
    /// `initial_status` as written in the check (`passing`, `warning`, `critical`);
    /// empty is Nomad's pending.
    pub fn initial(word: &str) -> CheckStatus {
        match word {
            "passing" => CheckStatus::Passing,
            "warning" => CheckStatus::Warning,
            "critical" => CheckStatus::Critical,
            _ => CheckStatus::Pending,
        }
    }

    /// Nomad's `CheckQueryResult.Status`: `success`, `failure` or `pending` (a warning
    /// is not a success).
    pub fn word(self) -> &'static str {
        match self {
            CheckStatus::Pending => "pending",
            CheckStatus::Passing => "success",
            CheckStatus::Warning | CheckStatus::Critical => "failure",
        }
    }
}

/// The check's settings the tracker applies.
#[derive(Debug, Clone, Default)]
pub struct Thresholds {
    pub success_before_passing: u32,
    pub failures_before_critical: u32,
    /// `check_restart.limit`: consecutive unhealthy results that restart the task (0:
    /// never).
    pub restart_limit: u32,
    /// `check_restart.grace`: results this soon after the task started do not count.
    pub restart_grace: Duration,
    /// `check_restart.ignore_warnings`: a warning does not count towards the limit.
    pub ignore_warnings: bool,
}

/// The tracker's state.
#[derive(Debug, Clone)]
pub struct CheckTracker {
    thresholds: Thresholds,
    status: CheckStatus,
    successes: u32,
    failures: u32,
    unhealthy: u32,
}

impl CheckTracker {
    pub fn new(thresholds: Thresholds, initial: CheckStatus) -> CheckTracker {
        CheckTracker {
            thresholds,
            status: initial,
            successes: 0,
            failures: 0,
            unhealthy: 0,
        }
    }

    pub fn status(&self) -> CheckStatus {
        self.status
    }

    /// Records a probe's outcome, `since_start` after the task (re)started. Answers
    /// whether the task must be restarted now (the counts start over then).
    pub fn record(&mut self, outcome: Outcome, since_start: Duration) -> bool {
        match outcome {
            Outcome::Passing => {
                self.failures = 0;
                self.successes += 1;
                if self.successes > self.thresholds.success_before_passing {
                    self.status = CheckStatus::Passing;
                }
            }
            Outcome::Warning | Outcome::Critical => {
                self.successes = 0;
                self.failures += 1;
                if self.failures > self.thresholds.failures_before_critical {
                    self.status = if outcome == Outcome::Warning {
                        CheckStatus::Warning
                    } else {
                        CheckStatus::Critical
                    };
                }
            }
        }
        let counts = match self.status {
            CheckStatus::Critical => true,
            CheckStatus::Warning => !self.thresholds.ignore_warnings,
            CheckStatus::Passing | CheckStatus::Pending => false,
        };
        // Nomad's checkRestart: only results after the grace period count, and only
        // consecutive ones.
        if !counts || since_start < self.thresholds.restart_grace {
            self.unhealthy = 0;
            return false;
        }
        self.unhealthy += 1;
        if self.thresholds.restart_limit > 0 && self.unhealthy >= self.thresholds.restart_limit {
            self.unhealthy = 0;
            self.failures = 0;
            self.successes = 0;
            return true;
        }
        false
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use CheckStatus::*;
    use Outcome::{Critical as C, Passing as P, Warning as W};

    const LATE: Duration = Duration::from_secs(60);

    fn run(thresholds: Thresholds, outcomes: &[Outcome]) -> (Vec<CheckStatus>, Vec<bool>) {
        let mut tracker = CheckTracker::new(thresholds, Pending);
        outcomes
            .iter()
            .map(|o| {
                let restart = tracker.record(*o, LATE);
                (tracker.status(), restart)
            })
            .unzip()
    }

    #[test]
    fn thresholds_and_restarts_follow_nomads_rules() {
        /// A name, the settings, the outcomes, then the statuses and restarts expected.
        type Case<'a> = (
            &'a str,
            Thresholds,
            &'a [Outcome],
            &'a [CheckStatus],
            &'a [bool],
        );
        let cases: &[Case] = &[
            (
                "plain: each result is the status",
                Thresholds::default(),
                &[P, C, P],
                &[Passing, Critical, Passing],
                &[false, false, false],
            ),
            (
                "success_before_passing = 2 waits for the third success",
                Thresholds {
                    success_before_passing: 2,
                    ..Thresholds::default()
                },
                &[P, P, P],
                &[Pending, Pending, Passing],
                &[false; 3],
            ),
            (
                "failures_before_critical = 1 keeps passing through one failure",
                Thresholds {
                    failures_before_critical: 1,
                    ..Thresholds::default()
                },
                &[P, C, C],
                &[Passing, Passing, Critical],
                &[false; 3],
            ),
            (
                "limit = 2 restarts on the second consecutive failure, then counts again",
                Thresholds {
                    restart_limit: 2,
                    ..Thresholds::default()
                },
                &[C, C, C, C],
                &[Critical, Critical, Critical, Critical],
                &[false, true, false, true],
            ),
            (
                "a success in between starts the count over",
                Thresholds {
                    restart_limit: 2,
                    ..Thresholds::default()
                },
                &[C, P, C, C],
                &[Critical, Passing, Critical, Critical],
                &[false, false, false, true],
            ),
            (
                "ignore_warnings: warnings never restart",
                Thresholds {
                    restart_limit: 1,
                    ignore_warnings: true,
                    ..Thresholds::default()
                },
                &[W, W, C],
                &[Warning, Warning, Critical],
                &[false, false, true],
            ),
        ];
        for (name, thresholds, outcomes, statuses, restarts) in cases {
            let (got_statuses, got_restarts) = run(thresholds.clone(), outcomes);
            assert_eq!(&got_statuses, statuses, "{name}");
            assert_eq!(&got_restarts, restarts, "{name}");
        }
    }

    #[test]
    fn failures_within_grace_do_not_count() {
        let mut tracker = CheckTracker::new(
            Thresholds {
                restart_limit: 1,
                restart_grace: Duration::from_secs(10),
                ..Thresholds::default()
            },
            Pending,
        );
        assert!(!tracker.record(C, Duration::from_secs(5)));
        assert!(tracker.record(C, Duration::from_secs(11)));
    }

    #[test]
    fn statuses_are_nomads_words() {
        assert_eq!(CheckStatus::initial("passing").word(), "success");
        assert_eq!(CheckStatus::initial("critical").word(), "failure");
        assert_eq!(CheckStatus::initial("").word(), "pending");
    }
}

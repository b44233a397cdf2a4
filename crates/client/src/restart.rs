//! The restart policy: whether and when a task that exited runs again (Nomad's
//! `client/allocrunner/taskrunner/restarts`).

use std::time::{Duration, Instant};

use caravan_drivers::ExitResult;
use caravan_structs::RestartPolicy;
use caravan_structs::time::format_duration;

/// What to do after a task exited.
#[derive(Debug, Clone, PartialEq)]
pub enum RestartDecision {
    /// Run it again after the delay; the reason goes on the `Restarting` event.
    Restart { delay: Duration, reason: String },
    /// Done for good. `reason` becomes a `Not Restarting` event when there is one.
    Dead {
        failed: bool,
        reason: Option<String>,
    },
}

/// Counts restarts within the policy's interval.
pub struct RestartTracker {
    policy: RestartPolicy,
    batch: bool,
    count: i64,
    interval_start: Instant,
}

impl RestartTracker {
    /// A tracker for one task.
    pub fn new(policy: RestartPolicy, batch: bool) -> RestartTracker {
        RestartTracker {
            policy,
            batch,
            count: 0,
            interval_start: Instant::now(),
        }
    }

    /// Decides after an exit; `jitter` in [0, 1) spreads restarts like Nomad's random jitter.
    pub fn after_exit(&mut self, exit: ExitResult, now: Instant, jitter: f64) -> RestartDecision {
        // Nomad: a batch task that succeeded is finished.
        if self.batch && exit.successful() {
            return RestartDecision::Dead {
                failed: false,
                reason: None,
            };
        }
        self.after_failure(now, jitter)
    }

    /// Decides after a failure that was not an exit (a start that failed recoverably).
    pub fn after_failure(&mut self, now: Instant, jitter: f64) -> RestartDecision {
        let interval = Duration::from_nanos(self.policy.interval.max(0) as u64);
        let delay = Duration::from_nanos(self.policy.delay.max(0) as u64);
        if now.duration_since(self.interval_start) > interval {
            self.count = 0;
            self.interval_start = now;
        }
        if self.policy.attempts == 0 && self.policy.mode == "fail" {
            return RestartDecision::Dead {
                failed: true,
                reason: Some("Policy allows no restarts".into()),
            };
        }
        self.count += 1;
        if self.count > self.policy.attempts {
            if self.policy.mode == "delay" {
                let until_end = interval.saturating_sub(now.duration_since(self.interval_start));
                self.count = 0;
                self.interval_start = now + until_end;
                return RestartDecision::Restart {
                    delay: until_end,
                    reason: "Exceeded allowed attempts, applying a delay".into(),
                };
            }
            return RestartDecision::Dead {
                failed: true,
                reason: Some(format!(
                    "Exceeded allowed attempts {} in interval {} and mode is \"{}\"",
                    self.policy.attempts,
                    format_duration(self.policy.interval),
                    self.policy.mode
                )),
            };
        }
        let jittered = delay + delay.mul_f64(0.25 * jitter.clamp(0.0, 1.0));
        RestartDecision::Restart {
            delay: jittered,
            reason: "Restart within policy".into(),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn policy(attempts: i64, mode: &str) -> RestartPolicy {
        RestartPolicy {
            attempts,
            interval: 60 * 1_000_000_000,
            delay: 1_000_000_000,
            mode: mode.into(),
            render_templates: false,
        }
    }

    const FAIL: ExitResult = ExitResult {
        exit_code: 1,
        signal: 0,
    };
    const OK: ExitResult = ExitResult {
        exit_code: 0,
        signal: 0,
    };

    #[test]
    fn batch_success_is_final() {
        let mut tracker = RestartTracker::new(policy(3, "fail"), true);
        assert_eq!(
            tracker.after_exit(OK, Instant::now(), 0.0),
            RestartDecision::Dead {
                failed: false,
                reason: None
            }
        );
    }

    #[test]
    fn service_success_restarts() {
        let mut tracker = RestartTracker::new(policy(2, "fail"), false);
        assert!(matches!(
            tracker.after_exit(OK, Instant::now(), 0.0),
            RestartDecision::Restart { .. }
        ));
    }

    #[test]
    fn attempts_then_fail_with_nomads_message() {
        let mut tracker = RestartTracker::new(policy(2, "fail"), false);
        let now = Instant::now();
        assert!(matches!(
            tracker.after_exit(FAIL, now, 0.0),
            RestartDecision::Restart { .. }
        ));
        assert!(matches!(
            tracker.after_exit(FAIL, now, 0.0),
            RestartDecision::Restart { .. }
        ));
        assert_eq!(
            tracker.after_exit(FAIL, now, 0.0),
            RestartDecision::Dead {
                failed: true,
                reason: Some(
                    "Exceeded allowed attempts 2 in interval 1m0s and mode is \"fail\"".into()
                )
            }
        );
    }

    #[test]
    fn zero_attempts_allow_no_restarts() {
        let mut tracker = RestartTracker::new(policy(0, "fail"), false);
        assert_eq!(
            tracker.after_exit(FAIL, Instant::now(), 0.0),
            RestartDecision::Dead {
                failed: true,
                reason: Some("Policy allows no restarts".into())
            }
        );
    }

    #[test]
    fn delay_mode_waits_for_the_interval_end() {
        let mut tracker = RestartTracker::new(policy(1, "delay"), false);
        let now = Instant::now();
        tracker.after_exit(FAIL, now, 0.0);
        match tracker.after_exit(FAIL, now, 0.0) {
            RestartDecision::Restart { delay, reason } => {
                assert!(delay > Duration::from_secs(50));
                assert!(reason.contains("applying a delay"));
            }
            other => panic!("{other:?}"),
        }
    }

    #[test]
    fn jitter_adds_up_to_a_quarter() {
        let mut tracker = RestartTracker::new(policy(5, "fail"), false);
        match tracker.after_exit(FAIL, Instant::now(), 0.999) {
            RestartDecision::Restart { delay, .. } => {
                assert!(delay >= Duration::from_secs(1) && delay < Duration::from_millis(1250))
            }
            other => panic!("{other:?}"),
        }
    }
}

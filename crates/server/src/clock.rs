//! Where the server reads the time, waits for it, and gets fresh IDs: injected, so that a
//! test's clock makes a whole run reproducible and moves only when the test says so.

use std::future::Future;
use std::pin::Pin;
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use tokio::sync::watch;

/// A wait on a [`Clock`]: resolves once the clock reads the time waited for.
pub type Sleep = Pin<Box<dyn Future<Output = ()> + Send + 'static>>;

/// Where the server reads the time, and waits for it. Everything the server writes
/// carries its time in the command; every timer the server runs (delayed evaluations,
/// heartbeat deadlines, periodic launches, garbage collection) waits on this clock.
pub trait Clock: Send + Sync {
    /// Unix nanoseconds now.
    fn now_nanos(&self) -> i64;

    /// Resolves when [`Clock::now_nanos`] reaches `at_nanos` (at once if it has). It may
    /// resolve early: callers read the clock again. By default a wall-clock sleep for
    /// the difference.
    fn sleep_until(&self, at_nanos: i64) -> Sleep {
        let wait = at_nanos.saturating_sub(self.now_nanos()).max(0) as u64;
        Box::pin(tokio::time::sleep(Duration::from_nanos(wait)))
    }
}

/// Where the server gets fresh IDs (evaluations, allocations, dispatched children).
pub trait IdGen: Send + Sync {
    /// A new ID in Nomad's UUID form.
    fn new_id(&self) -> String;
}

/// The system clock.
#[derive(Debug, Clone, Copy, Default)]
pub struct SystemClock;

impl Clock for SystemClock {
    fn now_nanos(&self) -> i64 {
        now_nanos()
    }
}

/// Random version-4 UUIDs.
#[derive(Debug, Clone, Copy, Default)]
pub struct RandomIds;

impl IdGen for RandomIds {
    fn new_id(&self) -> String {
        new_id()
    }
}

/// Unix nanoseconds now.
pub fn now_nanos() -> i64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map(|d| d.as_nanos() as i64)
        .unwrap_or(0)
}

/// A fresh random ID in Nomad's UUID form.
pub fn new_id() -> String {
    uuid::Uuid::new_v4().to_string()
}

/// A clock that moves only when told to: a test sets the time, advances it, and every
/// server timer waiting on it fires at once, without real seconds passing.
///
/// ```
/// # use caravan_server::{Clock, ManualClock};
/// # use std::time::Duration;
/// let clock = ManualClock::new(1_700_000_000_000_000_000);
/// clock.advance(Duration::from_secs(90));
/// assert_eq!(clock.now_nanos(), 1_700_000_090_000_000_000);
/// ```
#[derive(Debug)]
pub struct ManualClock {
    now: watch::Sender<i64>,
}

impl ManualClock {
    /// A clock standing at `start_nanos` (Unix nanoseconds).
    pub fn new(start_nanos: i64) -> ManualClock {
        ManualClock {
            now: watch::Sender::new(start_nanos),
        }
    }

    /// Moves the clock forward by `by`, waking every wait that is now due.
    pub fn advance(&self, by: Duration) {
        let by = by.as_nanos().min(i64::MAX as u128) as i64;
        self.now.send_modify(|now| *now = now.saturating_add(by));
    }

    /// Sets the clock to `at_nanos` (it may go back; waits already due stay due).
    pub fn set(&self, at_nanos: i64) {
        self.now.send_replace(at_nanos);
    }
}

impl Clock for ManualClock {
    fn now_nanos(&self) -> i64 {
        *self.now.borrow()
    }

    fn sleep_until(&self, at_nanos: i64) -> Sleep {
        let mut now = self.now.subscribe();
        Box::pin(async move {
            // The sender lives as long as the clock; should it go, time stops for good.
            if now.wait_for(|now| *now >= at_nanos).await.is_err() {
                std::future::pending::<()>().await;
            }
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test]
    async fn a_manual_clock_wakes_waits_when_advanced_past_them() {
        let clock = ManualClock::new(1_000);
        let early = clock.sleep_until(1_500);
        let late = clock.sleep_until(3_000);
        let mut early = tokio::spawn(early);
        let mut late = tokio::spawn(late);
        tokio::task::yield_now().await;
        assert!(!early.is_finished() && !late.is_finished());
        clock.advance(Duration::from_nanos(600));
        (&mut early).await.unwrap();
        tokio::task::yield_now().await;
        assert!(!late.is_finished());
        clock.set(3_000);
        (&mut late).await.unwrap();
        // A wait for a time already passed resolves at once.
        clock.sleep_until(10).await;
    }
}

//! Polling until a condition holds: every wait has a deadline and names what it waited
//! for when it fails.

use std::time::{Duration, Instant};

/// When a wait gives up, and what it was waiting for.
struct Deadline<'a> {
    what: &'a str,
    at: Instant,
}

impl<'a> Deadline<'a> {
    fn after(what: &'a str, timeout: Duration) -> Self {
        Deadline {
            what,
            at: Instant::now() + timeout,
        }
    }

    /// Fails the test once the deadline has passed.
    fn check(&self) {
        if Instant::now() >= self.at {
            panic!("timed out waiting for {}", self.what);
        }
    }
}

/// Checks `check` every 10 ms for up to `timeout` on the async runtime, and fails the
/// test naming `what` if it never holds.
pub async fn until(what: &str, timeout: Duration, mut check: impl FnMut() -> bool) {
    let deadline = Deadline::after(what, timeout);
    while !check() {
        deadline.check();
        tokio::time::sleep(Duration::from_millis(10)).await;
    }
}

/// Checks `check` every 20 ms for up to `timeout` on this thread, and fails the test
/// naming `what` if it never holds.
pub fn blocking(what: &str, timeout: Duration, mut check: impl FnMut() -> bool) {
    let deadline = Deadline::after(what, timeout);
    while !check() {
        deadline.check();
        std::thread::sleep(Duration::from_millis(20));
    }
}

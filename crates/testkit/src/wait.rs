//! Polling until a condition holds: every wait has a deadline and names what it waited
//! for when it fails.

use std::time::{Duration, Instant};

/// Checks `check` every 10 ms for up to `timeout` on the async runtime, and fails the
/// test naming `what` if it never holds.
pub async fn until(what: &str, timeout: Duration, mut check: impl FnMut() -> bool) {
    let deadline = Instant::now() + timeout;
    loop {
        if check() {
            return;
        }
        if Instant::now() >= deadline {
            panic!("timed out waiting for {what}");
        }
        tokio::time::sleep(Duration::from_millis(10)).await;
    }
}

/// Checks `check` every `every` for up to `timeout` on this thread, and fails the test
/// naming `what` if it never holds.
pub fn blocking(what: &str, timeout: Duration, every: Duration, mut check: impl FnMut() -> bool) {
    let deadline = Instant::now() + timeout;
    loop {
        if check() {
            return;
        }
        if Instant::now() >= deadline {
            panic!("timed out waiting for {what}");
        }
        std::thread::sleep(every);
    }
}

//! Bounded waits on hardware: every wait has a deadline and says what it gave up on.

use core::fmt;

use crate::platform::Platform;

/// A wait that ran out of time.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct TimedOut {
    pub what: &'static str,
    pub after_ns: u64,
}

impl fmt::Display for TimedOut {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "timed out after {} ms waiting for {}", self.after_ns / 1_000_000, self.what)
    }
}

/// Polls `done` until it returns true or `timeout_ns` passes.
pub fn poll_until(
    platform: &dyn Platform,
    timeout_ns: u64,
    what: &'static str,
    mut done: impl FnMut() -> bool,
) -> Result<(), TimedOut> {
    let start = platform.now_ns();
    loop {
        if done() {
            return Ok(());
        }
        let elapsed = platform.now_ns().saturating_sub(start);
        if elapsed >= timeout_ns {
            // One last look: the condition may have come true while we were descheduled.
            return if done() { Ok(()) } else { Err(TimedOut { what, after_ns: elapsed }) };
        }
        core::hint::spin_loop();
    }
}

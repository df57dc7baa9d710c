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
        match self.after_ns {
            ns if ns >= 1_000_000 => write!(f, "timed out after {} ms waiting for {}", ns / 1_000_000, self.what),
            ns => write!(f, "timed out after {} us waiting for {}", ns / 1_000, self.what),
        }
    }
}

/// Waits for `done` like [`poll_until`], but sleeps between checks until an interrupt (or the
/// deadline) when `interrupts` says the device will raise one when `done` may have changed. A
/// condition no interrupt announces (a reset completing) must use [`poll_until`].
pub fn wait_event(
    platform: &dyn Platform,
    timeout_ns: u64,
    what: &'static str,
    interrupts: bool,
    mut done: impl FnMut() -> bool,
) -> Result<(), TimedOut> {
    if !interrupts {
        return poll_until(platform, timeout_ns, what, done);
    }
    let start = platform.now_ns();
    let deadline = start.saturating_add(timeout_ns);
    loop {
        if done() {
            return Ok(());
        }
        let now = platform.now_ns();
        if now >= deadline {
            return if done() { Ok(()) } else { Err(TimedOut { what, after_ns: now.saturating_sub(start) }) };
        }
        platform.idle_until(deadline);
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

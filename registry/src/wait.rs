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
        if (0..CHECKS_PER_CLOCK_READ).any(|_| done() || hint_spin()) {
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
        if (0..CHECKS_PER_CLOCK_READ).any(|_| done() || hint_spin()) {
            return Ok(());
        }
        let elapsed = platform.now_ns().saturating_sub(start);
        if elapsed >= timeout_ns {
            // One last look: the condition may have come true while we were descheduled.
            return if done() { Ok(()) } else { Err(TimedOut { what, after_ns: elapsed }) };
        }
    }
}

/// How often a poll checks its condition between two reads of the clock. Reading the clock
/// can cost far more than the check (under QEMU's TCG an Arm counter read takes the global
/// lock the device's completion path needs); a few dozen checks are still well under a
/// microsecond past the deadline on hardware.
const CHECKS_PER_CLOCK_READ: u32 = 32;

/// A pause between two checks; false, so it chains in `any`.
fn hint_spin() -> bool {
    core::hint::spin_loop();
    false
}

//! Interrupts as drivers see them: a handler per line, per-line counters for `lsdev`, and the
//! errors a platform's interrupt hookup can give.
//!
//! A driver asks for the interrupt its device resource names with
//! [`ProbeContext::request_irq`](crate::ProbeContext::request_irq); the kernel integrator's
//! [`Platform::request_irq`](crate::Platform::request_irq) routes it through the interrupt
//! controller and calls the handler from its interrupt path, counting what the handler says.

use alloc::boxed::Box;
use alloc::string::String;
use core::fmt;
use core::sync::atomic::{AtomicU64, AtomicU8, Ordering};

/// What a handler found when its line fired.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum IrqReturn {
    /// The device had something to report, and the handler acknowledged it.
    Handled,
    /// Nothing to report (a shared line, or a spurious interrupt).
    NotMine,
}

/// Runs in interrupt context: must not block or take locks the interrupted code may hold.
pub type IrqHandler = Box<dyn FnMut() -> IrqReturn + Send>;

/// How often a device's interrupt fired, shown by `lsdev` like `/proc/interrupts`, and whether
/// the platform has its line masked ([`LineGuard`]).
#[derive(Debug, Default)]
pub struct IrqStats {
    handled: AtomicU64,
    spurious: AtomicU64,
    /// Times the line was masked for a storm.
    storms: AtomicU64,
    /// [`LineState`] as a number: what `lsdev` shows in the `irqs` state column.
    state: AtomicU8,
}

/// Whether a hooked line is enabled, as the platform's interrupt path last decided.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum LineState {
    Enabled,
    /// Masked for firing [`UNCLAIMED_LIMIT`] times in a row with no handler claiming it.
    MaskedUnclaimed,
    /// Masked for a while for firing [`STORM_LIMIT`] times within [`STORM_WINDOW_NS`] (a device
    /// that keeps its cause set while its handler says "handled").
    MaskedStorm,
}

impl LineState {
    /// The `irqs` state column.
    pub fn label(self) -> &'static str {
        match self {
            LineState::Enabled => "enabled",
            LineState::MaskedUnclaimed => "unclaimed: masked",
            LineState::MaskedStorm => "storm: masked",
        }
    }
}

impl IrqStats {
    /// Records that the platform masked the line (`Some`, a storm counted) or enabled it again.
    pub fn set_masked(&self, masked: Option<Masked>) {
        let state = match masked {
            None => LineState::Enabled,
            Some(Masked::Unclaimed) => LineState::MaskedUnclaimed,
            Some(Masked::Storm { .. }) => {
                self.storms.fetch_add(1, Ordering::Relaxed);
                LineState::MaskedStorm
            }
        };
        self.state.store(state as u8, Ordering::Relaxed);
    }

    pub fn state(&self) -> LineState {
        match self.state.load(Ordering::Relaxed) {
            1 => LineState::MaskedUnclaimed,
            2 => LineState::MaskedStorm,
            _ => LineState::Enabled,
        }
    }

    /// How often the line was masked for a storm.
    pub fn storms(&self) -> u64 {
        self.storms.load(Ordering::Relaxed)
    }

    /// Records one interrupt and what the handler said about it.
    pub fn record(&self, outcome: IrqReturn) {
        let counter = match outcome {
            IrqReturn::Handled => &self.handled,
            IrqReturn::NotMine => &self.spurious,
        };
        counter.fetch_add(1, Ordering::Relaxed);
    }

    pub fn handled(&self) -> u64 {
        self.handled.load(Ordering::Relaxed)
    }

    pub fn spurious(&self) -> u64 {
        self.spurious.load(Ordering::Relaxed)
    }
}

/// Why an interrupt could not be hooked up.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum IrqError {
    /// The platform has no interrupt support: the driver polls instead.
    Unsupported,
    /// The line's controller has not been probed yet: the probe is deferred.
    ControllerNotReady(String),
    /// The line cannot be used (unknown controller, number out of range, already taken).
    Invalid(String),
}

impl fmt::Display for IrqError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            IrqError::Unsupported => f.write_str("the platform has no interrupt support"),
            IrqError::ControllerNotReady(controller) => write!(f, "interrupt controller {controller} is not ready"),
            IrqError::Invalid(reason) => write!(f, "interrupt not usable: {reason}"),
        }
    }
}

/// Interrupts in a row that no handler of a line claims before the line is masked. Far more
/// than a shared line's other device causes between two of this device's own.
pub const UNCLAIMED_LIMIT: u32 = 1000;
/// A line that fires this many times within [`STORM_WINDOW_NS`] (claimed or not) is storming:
/// 100,000 interrupts a second, more than a device that coalesces its interrupts (virtio with
/// EVENT_IDX raises one per batch the driver has caught up with) ever needs, and enough to
/// starve the thread it interrupts. Without this rule a device that keeps its cause set while
/// its handler claims every interrupt has the CPU for ever: the unclaimed rule never fires.
pub const STORM_LIMIT: u32 = 10_000;
/// The window [`STORM_LIMIT`] interrupts must fit in to be a storm.
pub const STORM_WINDOW_NS: u64 = 100_000_000;
/// How long a storming line stays masked before it gets another chance. Its driver loses no
/// work meanwhile: every wait re-checks its device when the idle wait it sleeps in returns,
/// which happens at the latest when the line is enabled again.
pub const STORM_HOLDOFF_NS: u64 = 100_000_000;

/// Why a [`LineGuard`] masked its line.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Masked {
    /// Nobody claimed [`UNCLAIMED_LIMIT`] interrupts in a row: masked until a driver requests
    /// the line again.
    Unclaimed,
    /// A storm: masked until `until_ns` (on the platform's clock), then enabled again.
    Storm { until_ns: u64 },
}

/// The policing of one interrupt line, for the platform's interrupt path (which decides, and
/// masks at the controller) and thread side (which enables the line again): masks a line that
/// fires with nobody claiming it, and one that storms even while its handlers claim it.
///
/// The clock is read only at the start and the end of a burst of [`STORM_LIMIT`] interrupts,
/// not on every interrupt (reading it can cost more than the handler; under QEMU's TCG an Arm
/// counter read takes the lock device emulation needs).
#[derive(Clone, Debug, Default)]
pub struct LineGuard {
    /// Interrupts in a row no handler claimed.
    unclaimed: u32,
    /// Interrupts since `burst_start_ns`.
    burst: u32,
    burst_start_ns: u64,
    masked: Option<Masked>,
}

impl LineGuard {
    pub const fn new() -> Self {
        LineGuard { unclaimed: 0, burst: 0, burst_start_ns: 0, masked: None }
    }

    /// Called by the interrupt path after running the line's handlers (`claimed`: one said
    /// [`IrqReturn::Handled`]); `now_ns` reads the clock. `Some` says to mask the line now.
    pub fn after_interrupt(&mut self, claimed: bool, mut now_ns: impl FnMut() -> u64) -> Option<Masked> {
        self.unclaimed = if claimed { 0 } else { self.unclaimed.saturating_add(1) };
        if self.unclaimed >= UNCLAIMED_LIMIT {
            return self.mask(Masked::Unclaimed);
        }
        if self.burst == 0 {
            self.burst_start_ns = now_ns();
        }
        self.burst += 1;
        if self.burst < STORM_LIMIT {
            return None;
        }
        self.burst = 0;
        let now = now_ns();
        if now.saturating_sub(self.burst_start_ns) < STORM_WINDOW_NS {
            return self.mask(Masked::Storm { until_ns: now.saturating_add(STORM_HOLDOFF_NS) });
        }
        None
    }

    fn mask(&mut self, why: Masked) -> Option<Masked> {
        self.masked = Some(why);
        Some(why)
    }

    /// Why the line is masked, if it is: its interrupts (a message that cannot be masked at
    /// the controller) are dropped without running the handlers.
    pub fn masked(&self) -> Option<Masked> {
        self.masked
    }

    /// When a storm's hold-off ends (the thread side should wake by then to enable the line).
    pub fn unmask_at(&self) -> Option<u64> {
        match self.masked {
            Some(Masked::Storm { until_ns }) => Some(until_ns),
            _ => None,
        }
    }

    /// The line is enabled again (hold-off over, or a driver requested it): counting restarts.
    pub fn enabled(&mut self) {
        *self = LineGuard::new();
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A clock that advances `step_ns` per interrupt, read through `read`, counting reads.
    struct Clock {
        now: u64,
        reads: u32,
    }

    impl Clock {
        fn read(&mut self) -> u64 {
            self.reads += 1;
            self.now
        }
    }

    /// Runs `count` interrupts `step_ns` apart; returns the first verdict to mask and when.
    fn fire(guard: &mut LineGuard, clock: &mut Clock, count: u32, step_ns: u64, claimed: bool) -> Option<(u32, Masked)> {
        for n in 1..=count {
            clock.now += step_ns;
            if let Some(why) = guard.after_interrupt(claimed, || clock.read()) {
                return Some((n, why));
            }
        }
        None
    }

    #[test]
    fn a_claimed_storm_is_masked_for_the_hold_off_and_the_clock_read_only_per_burst() {
        let (mut guard, mut clock) = (LineGuard::new(), Clock { now: 0, reads: 0 });
        // 1 us apart: 10,000 within 10 ms, far inside the window.
        let verdict = fire(&mut guard, &mut clock, 2 * STORM_LIMIT, 1_000, true);
        let until_ns = clock.now + STORM_HOLDOFF_NS;
        assert_eq!(verdict, Some((STORM_LIMIT, Masked::Storm { until_ns })));
        assert_eq!(clock.reads, 2, "the clock is read at the burst's start and end only");
        assert_eq!((guard.masked(), guard.unmask_at()), (Some(Masked::Storm { until_ns }), Some(until_ns)));
        guard.enabled();
        assert_eq!(guard.masked(), None);
        let again = fire(&mut guard, &mut clock, STORM_LIMIT, 1_000, true);
        assert!(matches!(again, Some((STORM_LIMIT, Masked::Storm { .. }))), "a storm that goes on is masked again");
    }

    #[test]
    fn a_busy_device_below_the_storm_rate_is_never_masked() {
        let (mut guard, mut clock) = (LineGuard::new(), Clock { now: 0, reads: 0 });
        // 50,000 interrupts a second for 10 s: half the storm rate.
        let step = 2 * STORM_WINDOW_NS / u64::from(STORM_LIMIT);
        assert_eq!(fire(&mut guard, &mut clock, 500_000, step, true), None);
        // An idle stretch, then a burst of STORM_LIMIT - 1 at any speed: no storm either.
        clock.now += 10 * STORM_WINDOW_NS;
        assert_eq!(fire(&mut guard, &mut clock, STORM_LIMIT - 1, 1, true), None);
    }

    #[test]
    fn a_line_nobody_claims_is_masked_after_the_unclaimed_limit_in_a_row() {
        let (mut guard, mut clock) = (LineGuard::new(), Clock { now: 0, reads: 0 });
        // Slow enough never to look like a storm.
        let slow = STORM_WINDOW_NS;
        assert_eq!(fire(&mut guard, &mut clock, UNCLAIMED_LIMIT - 1, slow, false), None);
        assert_eq!(fire(&mut guard, &mut clock, 1, slow, true), None, "one claimed interrupt restarts the count");
        assert_eq!(fire(&mut guard, &mut clock, UNCLAIMED_LIMIT, slow, false), Some((UNCLAIMED_LIMIT, Masked::Unclaimed)));
        assert_eq!(guard.unmask_at(), None, "until a driver requests the line again");
    }

    #[test]
    fn stats_show_the_state_and_count_storms() {
        let stats = IrqStats::default();
        assert_eq!((stats.state(), stats.storms()), (LineState::Enabled, 0));
        stats.set_masked(Some(Masked::Storm { until_ns: 5 }));
        assert_eq!((stats.state().label(), stats.storms()), ("storm: masked", 1));
        stats.set_masked(None);
        stats.set_masked(Some(Masked::Unclaimed));
        assert_eq!((stats.state().label(), stats.storms()), ("unclaimed: masked", 1));
    }
}

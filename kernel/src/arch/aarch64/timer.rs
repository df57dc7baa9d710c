//! Monotonic time from the generic timer's virtual counter, and the virtual timer as the
//! deadline that ends an idle wait.

use arm_gic::Line;
use core::arch::asm;

/// The EL1 virtual timer's private interrupt: PPI 11 (INTID 27), where the Arm Base System
/// Architecture puts it and every `arm,armv8-timer` device-tree node says it is.
const VIRTUAL_TIMER_PPI: u32 = 11;

/// `CNTV_CTL_EL0.ENABLE`, with IMASK clear: the timer interrupts once the count reaches the
/// compare value, until disabled.
const CTL_ENABLE: u64 = 1;

const NS_PER_SECOND: u128 = 1_000_000_000;

/// The virtual timer's interrupt line.
pub fn line() -> Line {
    Line::ppi(VIRTUAL_TIMER_PPI).expect("PPI 11 exists")
}

/// Nanoseconds since the counter started (machine reset on QEMU).
pub fn now_ns() -> u64 {
    let ticks: u64;
    // SAFETY: reading CNTVCT_EL0 has no side effects; the `isb` keeps the counter read from
    // being done early, out of order.
    unsafe {
        asm!("isb", "mrs {ticks}, cntvct_el0", ticks = out(reg) ticks, options(nomem, nostack, preserves_flags));
    }
    // In 128 bits: ticks * 10^9 overflows 64 bits after 18 s at 1 GHz.
    (u128::from(ticks) * NS_PER_SECOND / u128::from(ticks_per_second())) as u64
}

fn ticks_per_second() -> u64 {
    let frequency: u64;
    // SAFETY: reading CNTFRQ_EL0 has no side effects.
    unsafe { asm!("mrs {}, cntfrq_el0", out(reg) frequency, options(nomem, nostack, preserves_flags)) };
    frequency
}

/// Makes the virtual timer interrupt at `deadline_ns` (on the [`now_ns`] clock), or at once if
/// that has passed. The count is rounded up, so [`now_ns`] has reached the deadline when the
/// interrupt comes.
pub fn arm(deadline_ns: u64) {
    let ticks = (u128::from(deadline_ns) * u128::from(ticks_per_second())).div_ceil(NS_PER_SECOND);
    let ticks = u64::try_from(ticks).unwrap_or(u64::MAX);
    // SAFETY: programming the EL1 virtual timer, which only the idle path uses; the `isb`
    // makes the new compare value and enable take effect before the caller waits.
    unsafe {
        asm!(
            "msr cntv_cval_el0, {ticks}",
            "msr cntv_ctl_el0, {enable}",
            "isb",
            ticks = in(reg) ticks,
            enable = in(reg) CTL_ENABLE,
            options(nomem, nostack, preserves_flags),
        );
    }
}

/// Stops the virtual timer, which lowers its (level-triggered) interrupt.
pub fn disarm() {
    // SAFETY: as in `arm`.
    unsafe { asm!("msr cntv_ctl_el0, xzr", "isb", options(nomem, nostack, preserves_flags)) };
}

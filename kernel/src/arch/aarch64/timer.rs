//! Monotonic time from the generic timer's virtual counter.

use core::arch::asm;

/// Nanoseconds since the counter started (machine reset on QEMU).
pub fn now_ns() -> u64 {
    let (ticks, ticks_per_second): (u64, u64);
    // SAFETY: reading CNTVCT_EL0 and CNTFRQ_EL0 has no side effects; the
    // `isb` keeps the counter read from being done early, out of order.
    unsafe {
        asm!(
            "isb",
            "mrs {ticks}, cntvct_el0",
            "mrs {frequency}, cntfrq_el0",
            ticks = out(reg) ticks,
            frequency = out(reg) ticks_per_second,
            options(nomem, nostack, preserves_flags),
        );
    }
    // In 128 bits: ticks * 10^9 overflows 64 bits after 18 s at 1 GHz.
    (u128::from(ticks) * 1_000_000_000 / u128::from(ticks_per_second)) as u64
}

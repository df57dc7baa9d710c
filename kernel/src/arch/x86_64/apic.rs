//! The boot CPU's local APIC: where interrupts arrive (end of interrupt, the spurious vector)
//! and its timer, which ends idle waits.
//!
//! It is used in xAPIC mode, through its registers at the address the APIC base MSR gives
//! (0xfee0_0000, in the uncached part of the identity map). The timer counts down in one-shot
//! mode; its rate (QEMU: its 1 GHz bus clock over the divider) is measured once against the TSC.

use core::arch::asm;
use core::ptr::{read_volatile, write_volatile};
use core::sync::atomic::{AtomicU64, AtomicUsize, Ordering};

use super::{paging, timer};

const IA32_APIC_BASE_MSR: u32 = 0x1b;
/// APIC base MSR: the local APIC is enabled.
const APIC_BASE_ENABLED: u64 = 1 << 11;
/// APIC base MSR: x2APIC mode, in which the registers are MSRs, not memory.
const APIC_BASE_X2APIC: u64 = 1 << 10;
/// APIC base MSR bits 12 and up: the register page.
const APIC_BASE_ADDRESS: u64 = !0xfff;
/// CPUID 1 EDX bit: the CPU has a local APIC.
const CPUID_APIC_BIT: u32 = 9;
/// The register page.
const REGISTERS_SIZE: u64 = 0x1000;

// Register offsets (Intel SDM vol. 3, table 11-1).
const ID: usize = 0x20;
const TASK_PRIORITY: usize = 0x80;
const END_OF_INTERRUPT: usize = 0xb0;
const SPURIOUS_VECTOR: usize = 0xf0;
const LVT_TIMER: usize = 0x320;
/// The local interrupt pin the 8259 PICs deliver through (virtual wire mode, as firmware
/// leaves it).
const LVT_LINT0: usize = 0x350;
const TIMER_INITIAL_COUNT: usize = 0x380;
const TIMER_CURRENT_COUNT: usize = 0x390;
const TIMER_DIVIDE: usize = 0x3e0;

/// Spurious-interrupt vector register: the APIC is software-enabled.
const SOFTWARE_ENABLE: u32 = 1 << 8;
/// Local vector table entry: masked. With the mode bits 0, a timer entry is one-shot.
const LVT_MASKED: u32 = 1 << 16;
/// Timer divide configuration: divide the bus clock by 16, so that 32 bits of count last
/// a minute (QEMU: 62.5 MHz).
const TIMER_DIVIDE_BY_16: u32 = 0b0011;
/// How long the timer is timed against the TSC.
const CALIBRATION_NS: u64 = 10_000_000;
const NS_PER_SECOND: u128 = 1_000_000_000;

/// The register page; 0 until [`enable`] succeeded.
static REGISTERS: AtomicUsize = AtomicUsize::new(0);
/// Timer ticks per second (after the divider); 0 until [`enable`] measured it.
static TIMER_HZ: AtomicU64 = AtomicU64::new(0);

/// Enables the local APIC with `spurious_vector`, masks the 8259's path into it (LINT0), and
/// measures its timer's rate, which the timer then interrupts with `timer_vector` at.
pub(super) fn enable(spurious_vector: u8, timer_vector: u8) -> Result<(), &'static str> {
    if core::arch::x86_64::__cpuid(1).edx & (1 << CPUID_APIC_BIT) == 0 {
        return Err("the CPU has no local APIC");
    }
    let base_msr = read_msr(IA32_APIC_BASE_MSR);
    if base_msr & APIC_BASE_ENABLED == 0 || base_msr & APIC_BASE_X2APIC != 0 {
        return Err("the local APIC is disabled or in x2APIC mode");
    }
    let base = base_msr & APIC_BASE_ADDRESS;
    if !paging::is_device_memory(base, base + REGISTERS_SIZE) {
        return Err("the local APIC's registers are outside the uncached map");
    }
    REGISTERS.store(base as usize, Ordering::Relaxed);
    write(LVT_LINT0, LVT_MASKED);
    write(TASK_PRIORITY, 0);
    write(SPURIOUS_VECTOR, SOFTWARE_ENABLE | u32::from(spurious_vector));
    let hz = measure_timer_hz(timer_vector).ok_or("the local APIC timer does not count")?;
    TIMER_HZ.store(hz, Ordering::Relaxed);
    Ok(())
}

/// Counts the timer down from the top for [`CALIBRATION_NS`] of TSC time.
fn measure_timer_hz(timer_vector: u8) -> Option<u64> {
    write(TIMER_DIVIDE, TIMER_DIVIDE_BY_16);
    write(LVT_TIMER, LVT_MASKED | u32::from(timer_vector));
    let start = timer::now_ns();
    write(TIMER_INITIAL_COUNT, u32::MAX);
    while timer::now_ns() - start < CALIBRATION_NS {
        core::hint::spin_loop();
    }
    let remaining = read(TIMER_CURRENT_COUNT);
    let elapsed_ns = timer::now_ns() - start;
    write(TIMER_INITIAL_COUNT, 0);
    write(LVT_TIMER, u32::from(timer_vector));
    let ticks = u32::MAX - remaining;
    (ticks != 0).then(|| (u128::from(ticks) * NS_PER_SECOND / u128::from(elapsed_ns)) as u64)
}

/// The local APIC ID, where the I/O APIC sends interrupts for this CPU.
pub(super) fn id() -> u8 {
    (read(ID) >> 24) as u8
}

/// Ends the interrupt being handled: the APIC may deliver the next one, and the I/O APIC
/// delivers a level-triggered line again if it is still raised.
pub(super) fn end_of_interrupt() {
    write(END_OF_INTERRUPT, 0);
}

/// Makes the timer interrupt at `deadline_ns` (on the TSC clock), or at once if that has
/// passed; a deadline beyond the counter's range (a minute) comes early. The count is rounded
/// up, so the deadline has passed when the interrupt comes (but for the calibration's error).
pub(super) fn arm_timer(deadline_ns: u64) {
    let hz = TIMER_HZ.load(Ordering::Relaxed);
    let wait_ns = deadline_ns.saturating_sub(timer::now_ns());
    let ticks = (u128::from(wait_ns) * u128::from(hz)).div_ceil(NS_PER_SECOND);
    write(TIMER_INITIAL_COUNT, ticks.clamp(1, u128::from(u32::MAX)) as u32);
}

/// Stops the timer (a count of 0).
pub(super) fn disarm_timer() {
    write(TIMER_INITIAL_COUNT, 0);
}

fn read(offset: usize) -> u32 {
    let base = REGISTERS.load(Ordering::Relaxed);
    debug_assert!(base != 0, "the local APIC is used before it was enabled");
    // SAFETY: `enable` checked that the register page is identity mapped uncached; every
    // offset is a register's, 16-byte aligned, inside the page.
    unsafe { read_volatile((base + offset) as *const u32) }
}

fn write(offset: usize, value: u32) {
    let base = REGISTERS.load(Ordering::Relaxed);
    debug_assert!(base != 0, "the local APIC is used before it was enabled");
    // SAFETY: as in `read`; the callers write values with the effect they document.
    unsafe { write_volatile((base + offset) as *mut u32, value) }
}

fn read_msr(msr: u32) -> u64 {
    let (low, high): (u32, u32);
    // SAFETY: the caller reads an architectural MSR this CPU has (the APIC base exists on
    // every CPU with a local APIC, checked first); `rdmsr` has no side effects.
    unsafe { asm!("rdmsr", in("ecx") msr, out("eax") low, out("edx") high, options(nomem, nostack, preserves_flags)) };
    u64::from(high) << 32 | u64::from(low)
}

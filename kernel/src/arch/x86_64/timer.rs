//! Monotonic time from the time-stamp counter, whose rate is measured once at boot against the
//! PIT.
//!
//! The TSC counts at a constant rate on the CPUs QEMU presents: under KVM at the host's
//! (constant, non-stop) TSC rate, under TCG from the host's clock. What it does not say is that
//! rate. CPUID leaf 0x15 (TSC/crystal ratio) is missing on the boards' `qemu64` CPU and on AMD
//! hosts, and leaf 0x16 is the base frequency, not necessarily the TSC's; so the kernel times
//! 10 ms of PIT channel 2, whose 1.193182 MHz input every PC has. The result is off by about
//! the duration of one I/O port read (microseconds under KVM, well under 0.1 %).

use super::port::{inb, outb};
use core::arch::asm;
use core::sync::atomic::{AtomicU64, Ordering};

/// The PIT's input clock.
const PIT_HZ: u64 = 1_193_182;
/// PIT ticks to time: 10 ms.
const CALIBRATION_PIT_TICKS: u16 = (PIT_HZ / 100) as u16;

const PIT_CHANNEL_2_DATA: u16 = 0x42;
const PIT_MODE: u16 = 0x43;
/// PIT mode: channel 2 (bits 7-6 = 10), low then high count byte (bits 5-4 = 11), mode 0:
/// output rises at the end of the count (bits 3-1 = 000), binary (bit 0 = 0).
const PIT_MODE_CHANNEL_2_ONE_SHOT: u8 = 0b1011_0000;
/// System control port B: bit 0 gates PIT channel 2, bit 1 connects it to the speaker, bit 5
/// reads its output.
const PORT_B: u16 = 0x61;
const PORT_B_CHANNEL_2_GATE: u8 = 1 << 0;
const PORT_B_SPEAKER: u8 = 1 << 1;
const PORT_B_CHANNEL_2_OUTPUT: u8 = 1 << 5;
/// Port B reads before giving up on the PIT: seconds, at any plausible cost of a read.
const POLL_LIMIT: u32 = 10_000_000;

/// TSC ticks per second; 0 until [`calibrate`] has measured it.
static TSC_HZ: AtomicU64 = AtomicU64::new(0);

/// Measures the TSC rate. Without a PIT the rate stays unknown, and [`now_ns`] says so once
/// the console is up.
pub(super) fn calibrate() {
    if let Some(hz) = measure_tsc_hz() {
        TSC_HZ.store(hz, Ordering::Relaxed);
    }
}

fn measure_tsc_hz() -> Option<u64> {
    let [count_low, count_high] = CALIBRATION_PIT_TICKS.to_le_bytes();
    // SAFETY: port B's low bits and PIT channel 2 only drive the PC speaker, which nothing else
    // uses; the speaker stays disconnected.
    unsafe {
        let port_b = inb(PORT_B);
        outb(PORT_B, (port_b & !PORT_B_SPEAKER) | PORT_B_CHANNEL_2_GATE);
        outb(PIT_MODE, PIT_MODE_CHANNEL_2_ONE_SHOT);
        outb(PIT_CHANNEL_2_DATA, count_low);
        outb(PIT_CHANNEL_2_DATA, count_high);
    }
    let start = read_tsc();
    for _ in 0..POLL_LIMIT {
        // SAFETY: reading port B has no side effects.
        if unsafe { inb(PORT_B) } & PORT_B_CHANNEL_2_OUTPUT != 0 {
            let ticks = read_tsc() - start;
            return Some(ticks * PIT_HZ / u64::from(CALIBRATION_PIT_TICKS));
        }
    }
    None
}

fn read_tsc() -> u64 {
    let (low, high): (u32, u32);
    // SAFETY: `rdtsc` only reads the counter (CR4.TSD is clear, and we are at ring 0); the
    // `lfence` keeps it from being executed before earlier instructions.
    unsafe { asm!("lfence", "rdtsc", out("eax") low, out("edx") high, options(nomem, nostack, preserves_flags)) };
    u64::from(high) << 32 | u64::from(low)
}

/// Nanoseconds since the TSC started (machine reset).
pub fn now_ns() -> u64 {
    let hz = TSC_HZ.load(Ordering::Relaxed);
    assert!(hz != 0, "the TSC rate is unknown: PIT channel 2 never finished counting at boot");
    // In 128 bits: ticks * 10^9 overflows 64 bits after 6 s at 3 GHz.
    (u128::from(read_tsc()) * 1_000_000_000 / u128::from(hz)) as u64
}

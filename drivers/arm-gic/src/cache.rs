//! Making what the CPU wrote to memory visible to the GIC, which reads its tables and ITS
//! commands from memory by itself.
//!
//! The tables are programmed inner shareable and write-back cacheable, as the kernel maps RAM;
//! a GIC that honours that (QEMU's, and most) snoops the CPU's caches, and cleaning is then only
//! a cheap no-op. A GIC that reads memory directly would see stale bytes without it, so every
//! write the GIC must see is cleaned to the point of coherency, then a `dsb` waits for that
//! (and for every earlier write) before the register write that tells the GIC to look.

/// Cleans the data cache lines covering `start..start + len` to the point of coherency and
/// waits for it: afterwards a non-coherent GIC reads what the CPU wrote there, and every earlier
/// memory write is complete before any later register write.
#[cfg(target_arch = "aarch64")]
pub(crate) fn clean_to_poc(start: *const u8, len: usize) {
    use core::arch::asm;
    let ctr: u64;
    // SAFETY: reading CTR_EL0 (cache geometry) has no side effects.
    unsafe { asm!("mrs {}, ctr_el0", out(reg) ctr, options(nomem, nostack, preserves_flags)) };
    // DminLine: log2 of the smallest data cache line, in 4-byte words.
    let line = 4usize << ((ctr >> 16) & 0xf);
    let end = start as usize + len;
    let mut address = start as usize & !(line - 1);
    while address < end {
        // SAFETY: a clean writes a line's data back unchanged, so no value the program sees
        // changes (neighbours sharing the first or last line included). No `nomem`: it must
        // stay after the writes it publishes.
        unsafe { asm!("dc cvac, {}", in(reg) address, options(nostack, preserves_flags)) };
        address += line;
    }
    // SAFETY: a barrier only waits for earlier accesses and maintenance to complete.
    unsafe { asm!("dsb sy", options(nostack, preserves_flags)) };
}

/// On the host (tests), memory is memory: only the ordering is kept.
#[cfg(not(target_arch = "aarch64"))]
pub(crate) fn clean_to_poc(_start: *const u8, _len: usize) {
    core::sync::atomic::fence(core::sync::atomic::Ordering::SeqCst);
}

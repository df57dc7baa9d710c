//! Exception vectors that make every exception a visible, fatal error.
//!
//! The kernel polls and masks interrupts, so an exception is always a bug
//! (a fault, an undefined instruction, a stray SError). Each vector reports
//! what happened on the console and exits QEMU with
//! [`EXCEPTION_EXIT_CODE`], so a fault ends the run instead of hanging it.

use super::power;
use core::arch::{asm, global_asm};
use core::sync::atomic::{AtomicBool, Ordering};

/// QEMU's exit status after a fatal exception (needs `-semihosting`).
const EXCEPTION_EXIT_CODE: u8 = 102;

// The table (ARM ARM D1.10.2): 16 entries of 0x80 bytes, 2 KiB aligned, four
// groups (taken from the current EL on SP_EL0, from the current EL on
// SP_ELx, from a lower EL in AArch64, from a lower EL in AArch32) of four
// kinds (synchronous, IRQ, FIQ, SError). Every entry passes its index to
// `report_fatal_exception`. `boot.rs` installs it by name.
global_asm!(
    r#"
    .section .text.exception_vectors, "ax"
    .global exception_vector_table
    .balign 0x800
exception_vector_table:
    .irp    index, 0, 1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12, 13, 14, 15
    .balign 0x80
    mov     x0, #\index
    b       {report}
    .endr
"#,
    report = sym report_fatal_exception,
);

/// Set by the first exception, so that one raised while reporting (such as
/// the semihosting call trapping when QEMU runs without `-semihosting`) ends
/// the run at once rather than recursing.
static REPORTING: AtomicBool = AtomicBool::new(false);

/// Where the exception came from, by vector group.
const VECTOR_SOURCES: [&str; 4] = [
    "current EL, SP_EL0",
    "current EL, SP_ELx",
    "lower EL, AArch64",
    "lower EL, AArch32",
];

/// The kind of exception, by position within a vector group.
const VECTOR_KINDS: [&str; 4] = ["synchronous", "IRQ", "FIQ", "SError"];

extern "C" fn report_fatal_exception(vector_index: u64) -> ! {
    if REPORTING.swap(true, Ordering::Relaxed) {
        crate::console::print_fatal(format_args!(
            "\nanother exception while reporting one (no -semihosting?): powering off\n"
        ));
        power::poweroff();
    }
    let (esr, elr, far): (u64, u64, u64);
    // SAFETY: reading the exception syndrome, link and fault address
    // registers of EL1 has no side effects.
    unsafe {
        asm!(
            "mrs {esr}, esr_el1",
            "mrs {elr}, elr_el1",
            "mrs {far}, far_el1",
            esr = out(reg) esr,
            elr = out(reg) elr,
            far = out(reg) far,
            options(nomem, nostack, preserves_flags),
        );
    }
    let exception_class = (esr >> 26) & 0x3f;
    let vector = vector_index as usize;
    crate::console::print_fatal(format_args!(
        "\nFATAL EXCEPTION: {} from {}: {} (EC {:#04x})\n  ESR_EL1 {:#x}  ELR_EL1 {:#x}  FAR_EL1 {:#x}\n",
        VECTOR_KINDS[vector % 4],
        VECTOR_SOURCES[vector / 4],
        exception_class_name(exception_class),
        exception_class,
        esr,
        elr,
        far,
    ));
    power::exit_failure(EXCEPTION_EXIT_CODE)
}

/// What an `ESR_EL1.EC` value means (ARM ARM D17.2.37), for the classes a
/// kernel bug can raise.
fn exception_class_name(exception_class: u64) -> &'static str {
    match exception_class {
        0x00 => "unknown reason (undefined instruction?)",
        0x01 => "trapped WFI/WFE",
        0x07 => "trapped FP/SIMD access",
        0x0e => "illegal execution state",
        0x15 => "SVC",
        0x16 => "HVC",
        0x17 => "SMC",
        0x18 => "trapped system register access",
        0x20 => "instruction abort from a lower EL",
        0x21 => "instruction abort",
        0x22 => "PC alignment fault",
        0x24 => "data abort from a lower EL",
        0x25 => "data abort",
        0x26 => "SP alignment fault",
        0x2c => "floating-point exception",
        0x2f => "SError",
        0x30..=0x35 => "debug exception",
        0x3c => "BRK instruction",
        _ => "other",
    }
}

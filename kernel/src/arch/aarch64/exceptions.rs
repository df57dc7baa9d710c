//! Exception vectors: IRQs from the kernel go to the interrupt controller's handlers; every
//! other exception is a visible, fatal error.
//!
//! An IRQ saves the interrupted context (every register a Rust function may change, the
//! FP/SIMD registers, and the return state), takes every pending interrupt from the GIC,
//! restores the context and returns to it. Any other exception is a bug (a fault, an undefined
//! instruction, a stray SError): its vector reports it on the console and exits QEMU with
//! [`EXCEPTION_EXIT_CODE`], so a fault ends the run instead of hanging it.

use super::{mmu, power, timer};
use core::arch::{asm, global_asm};
use core::sync::atomic::{AtomicBool, Ordering};

/// QEMU's exit status after a fatal exception (needs `-semihosting`).
const EXCEPTION_EXIT_CODE: u8 = 102;

/// The stack fatal exceptions are reported on (with a guard page below it, like the boot
/// stack's).
const FATAL_STACK_SIZE: usize = 16 * 1024;

/// Bytes the IRQ entry saves: x0-x18, x29, x30, ELR, SPSR, FPCR, FPSR (padded to 208), then
/// q0-q31. A multiple of 16, so the stack stays aligned.
const IRQ_FRAME_SIZE: usize = 208 + 32 * 16;

// The table (ARM ARM D1.10.2): 16 entries of 0x80 bytes, 2 KiB aligned, four
// groups (taken from the current EL on SP_EL0, from the current EL on
// SP_ELx, from a lower EL in AArch64, from a lower EL in AArch32) of four
// kinds (synchronous, IRQ, FIQ, SError). Entry 5, an IRQ while the kernel runs
// (on SP_EL1), goes to the interrupt path; every other entry passes its index
// to `report_fatal_exception`. `boot.rs` installs the table by name.
global_asm!(
    r#"
    .section .text.exception_vectors, "ax"
    .global exception_vector_table
    .balign 0x800
exception_vector_table:
    .irp    index, 0, 1, 2, 3, 4
    .balign 0x80
    mov     x0, #\index
    b       .Lfatal
    .endr
    .balign 0x80
    b       .Lirq_from_kernel
    .irp    index, 6, 7, 8, 9, 10, 11, 12, 13, 14, 15
    .balign 0x80
    mov     x0, #\index
    b       .Lfatal
    .endr

    // A fatal exception is reported on a stack of its own: the kernel's may be what failed
    // (an overflow into its guard page), and nothing returns to it.
.Lfatal:
    mov     x1, sp
    adrp    x2, .Lfatal_stack_top
    add     x2, x2, :lo12:.Lfatal_stack_top
    mov     sp, x2
    b       {report}

.Lirq_from_kernel:
    sub     sp, sp, #{frame}
    stp     x0, x1, [sp, #0]
    stp     x2, x3, [sp, #16]
    stp     x4, x5, [sp, #32]
    stp     x6, x7, [sp, #48]
    stp     x8, x9, [sp, #64]
    stp     x10, x11, [sp, #80]
    stp     x12, x13, [sp, #96]
    stp     x14, x15, [sp, #112]
    stp     x16, x17, [sp, #128]
    stp     x18, x29, [sp, #144]
    mrs     x0, elr_el1
    mrs     x1, spsr_el1
    stp     x30, x0, [sp, #160]
    mrs     x2, fpcr
    mrs     x3, fpsr
    stp     x1, x2, [sp, #176]
    str     x3, [sp, #192]
    stp     q0, q1, [sp, #208]
    stp     q2, q3, [sp, #240]
    stp     q4, q5, [sp, #272]
    stp     q6, q7, [sp, #304]
    stp     q8, q9, [sp, #336]
    stp     q10, q11, [sp, #368]
    stp     q12, q13, [sp, #400]
    stp     q14, q15, [sp, #432]
    stp     q16, q17, [sp, #464]
    stp     q18, q19, [sp, #496]
    stp     q20, q21, [sp, #528]
    stp     q22, q23, [sp, #560]
    stp     q24, q25, [sp, #592]
    stp     q26, q27, [sp, #624]
    stp     q28, q29, [sp, #656]
    stp     q30, q31, [sp, #688]

    bl      {take_interrupts}

    ldp     q0, q1, [sp, #208]
    ldp     q2, q3, [sp, #240]
    ldp     q4, q5, [sp, #272]
    ldp     q6, q7, [sp, #304]
    ldp     q8, q9, [sp, #336]
    ldp     q10, q11, [sp, #368]
    ldp     q12, q13, [sp, #400]
    ldp     q14, q15, [sp, #432]
    ldp     q16, q17, [sp, #464]
    ldp     q18, q19, [sp, #496]
    ldp     q20, q21, [sp, #528]
    ldp     q22, q23, [sp, #560]
    ldp     q24, q25, [sp, #592]
    ldp     q26, q27, [sp, #624]
    ldp     q28, q29, [sp, #656]
    ldp     q30, q31, [sp, #688]
    ldr     x3, [sp, #192]
    ldp     x1, x2, [sp, #176]
    msr     fpsr, x3
    msr     fpcr, x2
    msr     spsr_el1, x1
    ldp     x30, x0, [sp, #160]
    msr     elr_el1, x0
    ldp     x18, x29, [sp, #144]
    ldp     x16, x17, [sp, #128]
    ldp     x14, x15, [sp, #112]
    ldp     x12, x13, [sp, #96]
    ldp     x10, x11, [sp, #80]
    ldp     x8, x9, [sp, #64]
    ldp     x6, x7, [sp, #48]
    ldp     x4, x5, [sp, #32]
    ldp     x2, x3, [sp, #16]
    ldp     x0, x1, [sp, #0]
    add     sp, sp, #{frame}
    eret

    .section .bss.fatal_stack, "aw", %nobits
    .balign 4096
    .global __fatal_stack_guard
__fatal_stack_guard:
    .space  4096
    .space  {fatal_stack}
.Lfatal_stack_top:
"#,
    fatal_stack = const FATAL_STACK_SIZE,
    report = sym report_fatal_exception,
    take_interrupts = sym take_interrupts,
    frame = const IRQ_FRAME_SIZE,
);

/// The interrupt path, with IRQs masked: takes every pending interrupt from the GIC, runs
/// what it is for (the virtual timer ends an idle wait; device lines go to the platform's
/// handlers), and ends it.
extern "C" fn take_interrupts() {
    let Some(gic) = arm_gic::system() else { return };
    let timer = timer::line().intid;
    while let Some(taken) = gic.acknowledge() {
        match taken.intid() {
            intid if intid == timer => timer::disarm(),
            intid => crate::platform::dispatch_interrupt(intid),
        }
        gic.end_of_interrupt(taken);
    }
}

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

/// `stack_pointer`: the stack pointer when the exception was taken.
extern "C" fn report_fatal_exception(vector_index: u64, stack_pointer: u64) -> ! {
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
    crate::console::print_fatal(format_args!("  SP {stack_pointer:#x}\n"));
    if matches!(exception_class, 0x20 | 0x21 | 0x24 | 0x25) {
        let write = is_data_abort(exception_class) && esr & ESR_DATA_ABORT_WRITE != 0;
        let access = if is_data_abort(exception_class) { if write { "write" } else { "read" } } else { "instruction fetch" };
        crate::console::print_fatal(format_args!("  {}, {access} at FAR_EL1 {far:#x}\n", fault_status_name(esr & 0x3f)));
    }
    if let Some(stack) = mmu::guard_page_at(far).filter(|_| is_data_abort(exception_class)) {
        crate::console::print_fatal(format_args!("  FAR_EL1 is in the guard page below {stack}: stack overflow\n"));
    }
    power::exit_failure(EXCEPTION_EXIT_CODE)
}

/// `ESR_EL1.ISS.WnR` of a data abort: the access was a write.
const ESR_DATA_ABORT_WRITE: u64 = 1 << 6;

/// What an abort's fault status code (`ESR_EL1.ISS.DFSC` / `IFSC`) says, by kind (ARM ARM
/// D17.2.37); the low two bits are the table level.
fn fault_status_name(status: u64) -> &'static str {
    match status & !0b11 {
        0b0000_00 => "address size fault",
        0b0001_00 => "translation fault (not mapped)",
        0b0010_00 => "access flag fault",
        0b0011_00 => "permission fault",
        _ => "other fault",
    }
}

/// Whether the class is a data abort (from this EL or a lower one): FAR_EL1 holds the address.
fn is_data_abort(exception_class: u64) -> bool {
    matches!(exception_class, 0x24 | 0x25)
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

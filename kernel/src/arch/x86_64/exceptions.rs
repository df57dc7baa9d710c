//! The interrupt descriptor table: device and timer interrupts go to the interrupt path
//! (interrupts.rs); every exception is a visible, fatal error.
//!
//! An exception is always a bug (a page fault, a general protection fault, an invalid opcode).
//! Each one is reported on the console with the vector, error code, RIP and CR2, and QEMU exits
//! with [`EXCEPTION_EXIT_CODE`], so a fault ends the run instead of escalating to a triple
//! fault (a silent reset).
//!
//! Past the 32 exception vectors the IDT has gates for the vectors the APICs deliver only: any
//! other interrupt finds no gate and raises a fault, reported like the rest. There is no TSS,
//! so no separate stack for double faults: a stack overflow (there is no guard page either)
//! corrupts .bss below the stack rather than faulting.

use super::{boot, interrupts, power};
use core::arch::{asm, global_asm};
use core::sync::atomic::{AtomicBool, Ordering};

/// QEMU's exit code after a fatal exception (see `power::exit_failure` for the status).
const EXCEPTION_EXIT_CODE: u8 = 102;

/// The exception vectors: 0 to 31.
const VECTORS: usize = 32;
/// The IDT's size: the exceptions and the vectors the APICs deliver, up to the spurious one
/// (interrupts.rs).
const IDT_ENTRIES: usize = interrupts::SPURIOUS_VECTOR as usize + 1;

// One stub per vector, and `EXCEPTION_STUBS`, the table of their addresses. The CPU pushes SS,
// RSP, RFLAGS, CS, RIP and, for some vectors only (Intel SDM vol. 3, table 6-1), an error
// code; the stubs push a 0 in its place for the others, then the vector, so that every
// exception leaves the same `ExceptionFrame` on the stack.
global_asm!(
    r#"
    .section .text.exception_stubs, "ax"
    .irp vector, 0,1,2,3,4,5,6,7,8,9,10,11,12,13,14,15,16,17,18,19,20,21,22,23,24,25,26,27,28,29,30,31
.Lexception_stub_\vector:
    .if \vector == 8 || (\vector >= 10 && \vector <= 14) || \vector == 17 || \vector == 21 || \vector == 29 || \vector == 30
    .else
    push    $0
    .endif
    push    $\vector
    jmp     .Lexception_common
    .endr

.Lexception_common:
    mov     %rsp, %rdi                  // the ExceptionFrame
    and     $-16, %rsp                  // the call alignment of the ABI; nothing returns here
    call    {report}
    ud2

    .section .rodata.exception_stubs, "a"
    .balign 8
    .global EXCEPTION_STUBS
EXCEPTION_STUBS:
    .irp vector, 0,1,2,3,4,5,6,7,8,9,10,11,12,13,14,15,16,17,18,19,20,21,22,23,24,25,26,27,28,29,30,31
    .quad   .Lexception_stub_\vector
    .endr
"#,
    report = sym report_fatal_exception,
    options(att_syntax),
);

extern "C" {
    /// The stub addresses, by vector (the assembly above).
    static EXCEPTION_STUBS: [u64; VECTORS];
}

/// What the stubs leave on the stack, lowest address first.
#[repr(C)]
struct ExceptionFrame {
    vector: u64,
    error_code: u64,
    rip: u64,
    cs: u64,
    rflags: u64,
    rsp: u64,
    ss: u64,
}

/// An IDT entry (Intel SDM vol. 3, 6.14.1).
#[derive(Clone, Copy)]
#[repr(C)]
struct Gate {
    offset_low: u16,
    selector: u16,
    /// Interrupt stack table index: 0, the current stack.
    ist: u8,
    attributes: u8,
    offset_middle: u16,
    offset_high: u32,
    reserved: u32,
}

/// Gate attributes: present, ring 0, 64-bit interrupt gate (which clears IF: the handlers run
/// with interrupts masked).
const INTERRUPT_GATE: u8 = 0x8e;

impl Gate {
    /// No gate: the vector faults.
    const ABSENT: Gate =
        Gate { offset_low: 0, selector: 0, ist: 0, attributes: 0, offset_middle: 0, offset_high: 0, reserved: 0 };

    fn interrupt(handler: u64) -> Self {
        Gate {
            offset_low: handler as u16,
            selector: boot::KERNEL_CODE_SELECTOR,
            ist: 0,
            attributes: INTERRUPT_GATE,
            offset_middle: (handler >> 16) as u16,
            offset_high: (handler >> 32) as u32,
            reserved: 0,
        }
    }
}

/// The operand of `lidt`.
#[repr(C, packed)]
struct DescriptorTablePointer {
    limit: u16,
    base: u64,
}

static IDT: spin::Once<[Gate; IDT_ENTRIES]> = spin::Once::new();

/// Builds the IDT and loads it.
pub(super) fn install() {
    // SAFETY: the assembly above defines the table with VECTORS addresses; nothing writes it.
    let stubs = unsafe { EXCEPTION_STUBS };
    let idt = IDT.call_once(|| {
        core::array::from_fn(|vector| match stubs.get(vector) {
            Some(&stub) => Gate::interrupt(stub),
            None => interrupts::entry(vector as u8).map_or(Gate::ABSENT, Gate::interrupt),
        })
    });
    let pointer = DescriptorTablePointer {
        limit: (core::mem::size_of_val(idt) - 1) as u16,
        base: idt.as_ptr() as u64,
    };
    // SAFETY: the IDT is a static, so it outlives its use; each exception gate points at a
    // stub, which hands a well-formed frame to `report_fatal_exception`, each interrupt gate at
    // an interrupt entry, which returns to the interrupted code as it was; `lidt` only reads
    // `pointer`.
    unsafe { asm!("lidt [{}]", in(reg) &pointer, options(readonly, nostack, preserves_flags)) };
}

/// Set by the first exception, so that one raised while reporting ends the run at once rather
/// than recursing.
static REPORTING: AtomicBool = AtomicBool::new(false);

extern "C" fn report_fatal_exception(frame: &ExceptionFrame) -> ! {
    if REPORTING.swap(true, Ordering::Relaxed) {
        power::exit_failure(EXCEPTION_EXIT_CODE);
    }
    let fault_address: u64;
    // SAFETY: reading CR2 (the address of the last page fault) has no side effects.
    unsafe { asm!("mov {}, cr2", out(reg) fault_address, options(nomem, nostack, preserves_flags)) };
    crate::console::print_fatal(format_args!(
        "\nFATAL EXCEPTION: {} (vector {}), error code {:#x}\n  RIP {:#x}  CS {:#x}  RFLAGS {:#x}  RSP {:#x}  CR2 {:#x}\n",
        EXCEPTION_NAMES.get(frame.vector as usize).unwrap_or(&"?"),
        frame.vector,
        frame.error_code,
        frame.rip,
        frame.cs,
        frame.rflags,
        frame.rsp,
        fault_address,
    ));
    power::exit_failure(EXCEPTION_EXIT_CODE)
}

/// The exceptions by vector (Intel SDM vol. 3, table 6-1; AMD's #VC and #SX).
const EXCEPTION_NAMES: [&str; VECTORS] = [
    "#DE divide error",
    "#DB debug",
    "NMI",
    "#BP breakpoint",
    "#OF overflow",
    "#BR bound range exceeded",
    "#UD invalid opcode",
    "#NM device not available",
    "#DF double fault",
    "coprocessor segment overrun",
    "#TS invalid TSS",
    "#NP segment not present",
    "#SS stack-segment fault",
    "#GP general protection",
    "#PF page fault",
    "reserved",
    "#MF x87 floating-point error",
    "#AC alignment check",
    "#MC machine check",
    "#XM SIMD floating-point",
    "#VE virtualization exception",
    "#CP control protection",
    "reserved",
    "reserved",
    "reserved",
    "reserved",
    "reserved",
    "reserved",
    "#HV hypervisor injection",
    "#VC VMM communication",
    "#SX security exception",
    "reserved",
];

//! The interrupt descriptor table: device and timer interrupts go to the interrupt path
//! (interrupts.rs); every exception is a visible, fatal error.
//!
//! An exception is always a bug (a page fault, a general protection fault, an invalid opcode).
//! Each one is reported on the console with the vector, error code, RIP and CR2, and QEMU exits
//! with [`EXCEPTION_EXIT_CODE`], so a fault ends the run instead of escalating to a triple
//! fault (a silent reset).
//!
//! Past the 32 exception vectors the IDT has gates for the vectors the APICs deliver only: any
//! other interrupt finds no gate and raises a fault, reported like the rest. Every exception
//! gate switches to a stack of its own (IST 1 of the TSS below, with a guard page): the
//! kernel's stack may be what failed, as when it runs into its guard page (paging.rs), where
//! the CPU could not even push the exception frame on it (that would be a double fault, then a
//! triple fault: a reset). Interrupt gates stay on the interrupted stack.

use super::{boot, interrupts, paging, power};
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

    // The exceptions' stack (IST 1), with a guard page below it.
    .section .bss.fatal_stack, "aw", @nobits
    .balign 4096
    .global __fatal_stack_guard
__fatal_stack_guard:
    .space  4096
    .space  {fatal_stack}
    .global FATAL_STACK_TOP
FATAL_STACK_TOP:

    .section .text.exception_stubs, "ax"
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
    fatal_stack = const FATAL_STACK_SIZE,
    options(att_syntax),
);

extern "C" {
    /// The stub addresses, by vector (the assembly above).
    static EXCEPTION_STUBS: [u64; VECTORS];
    /// The top of the exceptions' stack (the assembly above).
    static FATAL_STACK_TOP: u8;
}

/// The exceptions' stack (IST 1).
const FATAL_STACK_SIZE: usize = 16 * 1024;
/// The IST slot exception gates use (1-7; 0 is "stay on the current stack").
const FATAL_STACK_IST: u8 = 1;

/// The 64-bit task-state segment (Intel SDM vol. 3, 8.7): here only for its interrupt stack
/// table. No I/O permission bitmap (its offset is the segment's size).
#[repr(C, packed(4))]
struct TaskStateSegment {
    reserved0: u32,
    privilege_stacks: [u64; 3],
    reserved1: u64,
    interrupt_stacks: [u64; 7],
    reserved2: u64,
    reserved3: u16,
    io_bitmap_offset: u16,
}

/// The GDT the kernel runs on: the boot GDT's null and code descriptors (the same code
/// selector, so CS need not be reloaded), then the TSS's 16-byte system descriptor. Writable:
/// `ltr` marks the TSS busy in it.
#[repr(C, align(16))]
struct Gdt([u64; 4]);

static mut TSS: TaskStateSegment = TaskStateSegment {
    reserved0: 0,
    privilege_stacks: [0; 3],
    reserved1: 0,
    interrupt_stacks: [0; 7],
    reserved2: 0,
    reserved3: 0,
    io_bitmap_offset: core::mem::size_of::<TaskStateSegment>() as u16,
};
static mut GDT: Gdt = Gdt([0; 4]);
const TSS_SELECTOR: u16 = 0x10;
/// An available 64-bit TSS, present (type 0x9, P).
const TSS_DESCRIPTOR_TYPE: u64 = 0x89;

/// The operand of `lgdt` and `lidt`.
#[repr(C, packed)]
struct DescriptorTablePointer {
    limit: u16,
    base: u64,
}

/// Loads a GDT with a TSS whose IST 1 is the exceptions' stack.
fn install_task_state() {
    let tss = (&raw mut TSS) as u64;
    let limit = core::mem::size_of::<TaskStateSegment>() as u64 - 1;
    // SAFETY: runs once, at boot on the only CPU, before anything uses the TSS or the GDT:
    // no other reference to them exists.
    unsafe {
        (*(&raw mut TSS)).interrupt_stacks[usize::from(FATAL_STACK_IST) - 1] = &raw const FATAL_STACK_TOP as u64;
        *(&raw mut GDT) = Gdt([
            0,
            super::boot::CODE_64_DESCRIPTOR,
            (limit & 0xffff) | (tss & 0xff_ffff) << 16 | TSS_DESCRIPTOR_TYPE << 40 | (limit >> 16 & 0xf) << 48 | (tss >> 24 & 0xff) << 56,
            tss >> 32,
        ]);
    }
    let pointer = DescriptorTablePointer { limit: (core::mem::size_of::<Gdt>() - 1) as u16, base: (&raw const GDT) as u64 };
    // SAFETY: the new GDT's code descriptor is the boot GDT's at the same selector, so CS stays
    // valid; the data segment registers hold null selectors, which need no descriptor; the TSS
    // descriptor points at a static TSS; both tables are statics and outlive their use.
    unsafe {
        asm!(
            "lgdt [{pointer}]",
            "ltr {selector:x}",
            pointer = in(reg) &pointer,
            selector = in(reg) TSS_SELECTOR,
            options(readonly, nostack, preserves_flags),
        );
    }
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
        Gate::on_stack(handler, 0)
    }

    /// A gate that switches to interrupt stack `ist` of the TSS (0: stay on the current one).
    fn on_stack(handler: u64, ist: u8) -> Self {
        Gate {
            offset_low: handler as u16,
            selector: boot::KERNEL_CODE_SELECTOR,
            ist,
            attributes: INTERRUPT_GATE,
            offset_middle: (handler >> 16) as u16,
            offset_high: (handler >> 32) as u32,
            reserved: 0,
        }
    }
}

static IDT: spin::Once<[Gate; IDT_ENTRIES]> = spin::Once::new();

/// Loads the GDT with the TSS, builds the IDT and loads it.
pub(super) fn install() {
    install_task_state();
    // SAFETY: the assembly above defines the table with VECTORS addresses; nothing writes it.
    let stubs = unsafe { EXCEPTION_STUBS };
    let idt = IDT.call_once(|| {
        core::array::from_fn(|vector| match stubs.get(vector) {
            Some(&stub) => Gate::on_stack(stub, FATAL_STACK_IST),
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
    if frame.vector == PAGE_FAULT {
        let code = frame.error_code;
        let cause = if code & 1 == 0 { "not mapped" } else { "protection violation" };
        let access = if code & 1 << 4 != 0 { "instruction fetch" } else if code & 1 << 1 != 0 { "write" } else { "read" };
        crate::console::print_fatal(format_args!("  page fault: {cause}, {access} at CR2 {fault_address:#x}\n"));
        if let Some(stack) = paging::guard_page_at(fault_address) {
            crate::console::print_fatal(format_args!("  CR2 is in the guard page below {stack}: stack overflow\n"));
        }
    }
    power::exit_failure(EXCEPTION_EXIT_CODE)
}

/// #PF: CR2 holds the address, the error code says why (Intel SDM vol. 3, 4.7).
const PAGE_FAULT: u64 = 14;

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

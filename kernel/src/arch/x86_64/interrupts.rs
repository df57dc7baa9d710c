//! What the platform's handler table needs from the PC's CPU and interrupt controllers: the
//! I/O APIC routes a device's line to a vector of its own, the local APIC delivers it and takes
//! the end of interrupt, its timer bounds idle waits (`hlt`); the 8259 PICs firmware left in
//! charge are masked for good.
//!
//! Vectors: 0-31 are the exceptions (exceptions.rs); I/O APIC input n interrupts at 32 + n;
//! then come the local APIC timer, the vectors handed out for message-signalled interrupts
//! (a PCI function's MSI-X messages go straight to the local APIC: address 0xfee0_0000 with
//! the APIC ID, data the vector), and the spurious vector. The controllers are set up when the
//! first line is asked for (the console is up by then to say if that fails: the drivers then
//! poll); the CPU takes interrupts from [`start`] on.

use alloc::string::String;
use alloc::vec::Vec;
use alloc::{format, vec};
use core::arch::{asm, global_asm};
use core::sync::atomic::{AtomicBool, Ordering};

use acpi_tables::{IsaOverride, Madt};
use registry::msi::VectorPool;
use registry::{Irq, IrqError, MsiMessage, MsiSource, MsiVector};

use super::ioapic::{self, IoApic};
use super::{acpi, apic, paging, port};

/// The controller bus-pci names for a PC's PCI INTx, with the pin and the ISA IRQ firmware
/// routed it to (ICH9/PIIX PIRQ routing) and wrote into the function's interrupt line register.
/// The MADT says where that IRQ arrives and how it signals (QEMU: PCI's IRQs 5, 9, 10, 11
/// level triggered, active high, its chipsets OR-ing INTx into the ISA line uninverted).
const PCI_INTX_CONTROLLER: &str = "legacy";
/// The controller of [`isa_irq`]'s lines: an ISA device's own IRQ.
const ISA_CONTROLLER: &str = "isa";
/// The ISA IRQs; where each arrives is the MADT's to say.
const ISA_IRQS: core::ops::Range<u32> = 0..16;

const FIRST_DEVICE_VECTOR: u8 = 32;
/// I/O APIC inputs with a vector: QEMU's I/O APIC has 24.
const DEVICE_VECTORS: u8 = 24;
const TIMER_VECTOR: u8 = FIRST_DEVICE_VECTOR + DEVICE_VECTORS;
/// Vectors handed out for message-signalled interrupts. The platform's handler table keys them
/// by vector, which no I/O APIC input (0-23) is.
const MSI_VECTORS: core::ops::Range<u8> = 64..SPURIOUS_VECTOR;
/// The controller name of the MSIs handed out here: the platform's own (`MsiSource` without
/// a controller).
const MSI_CONTROLLER: &str = "lapic";
/// An MSI's address: the local APICs' window, destination APIC ID in bits 12-19 (physical
/// destination mode, no redirection); its data is the vector (fixed delivery, edge).
const MSI_ADDRESS: u64 = 0xfee0_0000;
const MSI_DESTINATION_SHIFT: u32 = 12;
/// The local APIC's spurious vector, with the low four bits set as the P6 family requires; the
/// last vector with an entry.
pub(super) const SPURIOUS_VECTOR: u8 = 127;
/// The entries below: one per vector from the first device vector to the spurious vector,
/// each at a multiple of ENTRY_SIZE.
const ENTRY_SIZE: usize = 16;

/// The 8259 PICs' mask registers (OCW1): a set bit masks an IRQ.
const PIC_MASTER_MASK: u16 = 0x21;
const PIC_SLAVE_MASK: u16 = 0xa1;

const RFLAGS_INTERRUPTS_ENABLED: u64 = 1 << 9;

/// A line of the I/O APIC, or an MSI vector.
#[derive(Clone, Copy, Debug)]
pub struct Line {
    /// The I/O APIC input (the ACPI GSI), or the MSI's vector: the key of the platform's
    /// handler table.
    pub intid: u32,
    /// How the input signals, as the MADT says; `None` for an MSI, which has nothing to route.
    signal: Option<IsaOverride>,
}

/// The interrupt controllers, once set up; why not if they cannot be.
static CONTROLLERS: spin::Once<Result<Controllers, &'static str>> = spin::Once::new();

/// The I/O APIC serving GSIs from 0, and the MADT that says where ISA IRQs arrive.
struct Controllers {
    io_apic: IoApic,
    madt: &'static Madt,
}

/// Set once the CPU takes interrupts.
static STARTED: AtomicBool = AtomicBool::new(false);

/// The MSI vectors not handed out.
static MSI_POOL: spin::Lazy<VectorPool> = spin::Lazy::new(|| VectorPool::new(MSI_VECTORS.start.into()..MSI_VECTORS.end.into()));

/// ISA IRQ `number` of a device the kernel knows from its board file (the console's UART).
pub fn isa_irq(number: u8) -> Irq {
    let number = u32::from(number);
    Irq { controller: String::from(ISA_CONTROLLER), cells: vec![number], number: Some(number), label: format!("IRQ {number}") }
}

/// The I/O APIC line a PC's PCI INTx or ISA IRQ `irq` arrives at (the GSI the MADT says, with
/// its trigger and polarity), or the MSI vector [`alloc_msi`] handed out. Lines of other
/// controllers are unsupported (their devices poll), as is every line when the controllers
/// cannot be set up.
pub fn line(irq: &Irq) -> Result<Line, IrqError> {
    let isa_irq = match (irq.controller.as_str(), irq.cells.as_slice()) {
        (MSI_CONTROLLER, &[vector]) if vector < 256 && MSI_VECTORS.contains(&(vector as u8)) => {
            controllers().ok_or(IrqError::Unsupported)?;
            return Ok(Line { intid: vector, signal: None });
        }
        (PCI_INTX_CONTROLLER, &[_, isa_irq]) | (ISA_CONTROLLER, &[isa_irq]) if ISA_IRQS.contains(&isa_irq) => isa_irq as u8,
        (PCI_INTX_CONTROLLER | ISA_CONTROLLER | MSI_CONTROLLER, _) => {
            return Err(IrqError::Invalid(format!("{}: cells {:?} name no line of {}", irq.label, irq.cells, irq.controller)))
        }
        _ => return Err(IrqError::Unsupported),
    };
    let controllers = controllers().ok_or(IrqError::Unsupported)?;
    let signal = controllers.madt.isa_irq(isa_irq);
    if signal.gsi >= controllers.io_apic.inputs().min(u32::from(DEVICE_VECTORS)) {
        let reason = format!("{}: IRQ {isa_irq} arrives at GSI {}, no I/O APIC input the kernel routes", irq.label, signal.gsi);
        return Err(IrqError::Invalid(reason));
    }
    Ok(Line { intid: signal.gsi, signal: Some(signal) })
}

/// Routes `line` to its vector on this CPU, unmasked. An MSI needs nothing: the device's
/// MSI-X entry is its mask.
pub fn enable(line: Line) -> Result<(), IrqError> {
    let Some(signal) = line.signal else { return Ok(()) };
    let io_apic = &controllers().ok_or(IrqError::Unsupported)?.io_apic;
    let vector = FIRST_DEVICE_VECTOR + line.intid as u8;
    without(|| io_apic.route(line.intid, vector, signal.trigger, signal.polarity, apic::id()));
    Ok(())
}

/// `count` MSI vectors for the platform's own controller (`source` names none), each with
/// the message that raises it on this CPU.
pub fn alloc_msi(source: &MsiSource, count: usize) -> Result<Vec<MsiVector>, IrqError> {
    if let Some(controller) = &source.controller {
        return Err(IrqError::Invalid(format!("no MSI controller {controller} on a PC")));
    }
    controllers().ok_or(IrqError::Unsupported)?;
    let vectors = MSI_POOL.take(count).ok_or_else(|| IrqError::Invalid(format!("fewer than {count} MSI vectors free")))?;
    let address = MSI_ADDRESS | u64::from(apic::id()) << MSI_DESTINATION_SHIFT;
    Ok(vectors
        .into_iter()
        .map(|vector| MsiVector {
            irq: Irq { controller: String::from(MSI_CONTROLLER), cells: vec![vector], number: Some(vector), label: format!("MSI {vector}") },
            message: MsiMessage { address, data: vector },
        })
        .collect())
}

/// Gives back a vector [`alloc_msi`] handed out.
pub fn free_msi(_source: &MsiSource, irq: &Irq) {
    if let (MSI_CONTROLLER, &[vector]) = (irq.controller.as_str(), irq.cells.as_slice()) {
        MSI_POOL.give_back(vector);
    }
}

/// Masks I/O APIC input `intid`; callable from the interrupt path. Returns whether the line is
/// masked now: false for an MSI vector, whose mask is in its device (the handler table drops
/// what it raises instead).
pub fn disable(intid: u32) -> bool {
    if u8::try_from(intid).is_ok_and(|vector| MSI_VECTORS.contains(&vector)) {
        return false;
    }
    if let Some(io_apic) = controllers().map(|c| &c.io_apic).filter(|io_apic| intid < io_apic.inputs()) {
        without(|| io_apic.mask(intid));
    }
    true
}

/// From the first call on (with the controllers set up), the CPU takes interrupts.
pub fn start() {
    if controllers().is_some() && !STARTED.swap(true, Ordering::Relaxed) {
        // SAFETY: the IDT has a gate for every vector the APICs deliver (exceptions.rs).
        unsafe { asm!("sti", options(nostack)) };
    }
}

/// Whether the CPU takes interrupts, so that an idle wait ends.
pub fn started() -> bool {
    STARTED.load(Ordering::Relaxed)
}

/// Runs `f` with interrupts masked on this (the only) CPU: interrupt handlers cannot run
/// meanwhile.
pub fn without<R>(f: impl FnOnce() -> R) -> R {
    let flags: u64;
    // SAFETY: saving RFLAGS and clearing IF only delays interrupts. No `nomem`: memory accesses
    // in `f` must not move out of the masked region.
    unsafe { asm!("pushfq", "pop {}", "cli", out(reg) flags) };
    let result = f();
    if flags & RFLAGS_INTERRUPTS_ENABLED != 0 {
        // SAFETY: puts back the mask as it was; an interrupt that came meanwhile is taken now.
        unsafe { asm!("sti", options(nostack)) };
    }
    result
}

/// Waits for an interrupt with the local APIC timer set to `deadline_ns`. Call with
/// interrupts masked ([`without`]): they are let in only as the CPU halts, so one that came
/// before the wait wakes it at once rather than being slept through; it is taken before this
/// returns, again masked.
pub fn sleep_until(deadline_ns: u64) {
    apic::arm_timer(deadline_ns);
    // SAFETY: `sti` lets interrupts in only after the next instruction, so the CPU halts with
    // them enabled and nothing taken in between; the interrupt that wakes it (a device's, the
    // timer's) is taken, and `cli` masks them again, as the caller had them.
    unsafe { asm!("sti", "hlt", "cli", options(nostack)) };
    apic::disarm_timer();
}

/// The interrupt controllers, once set up (the first call does it).
fn controllers() -> Option<&'static Controllers> {
    let controllers = CONTROLLERS.call_once(|| {
        let set_up = set_up_controllers();
        if let Err(reason) = &set_up {
            log::warn!("x86 interrupts: {reason}; drivers poll");
        }
        set_up
    });
    controllers.as_ref().ok()
}

/// Masks the 8259 PICs, enables the local APIC and times its timer, finds the I/O APIC serving
/// GSI 0 in the ACPI MADT and masks every input.
fn set_up_controllers() -> Result<Controllers, &'static str> {
    // SAFETY: masking every IRQ at both PICs only keeps them quiet; the I/O APIC takes over.
    unsafe {
        port::outb(PIC_MASTER_MASK, 0xff);
        port::outb(PIC_SLAVE_MASK, 0xff);
    }
    apic::enable(SPURIOUS_VECTOR, TIMER_VECTOR)?;
    let madt = acpi::firmware()?.madt.as_ref().ok_or("the ACPI tables have no MADT")?;
    let io_apic = madt.io_apics.iter().find(|io_apic| io_apic.gsi_base == 0).ok_or("the MADT has no I/O APIC for GSI 0")?;
    let base = u64::from(io_apic.address);
    if !paging::is_device_memory(base, base + ioapic::REGISTERS_SIZE) {
        return Err("the MADT's I/O APIC is outside the uncached map");
    }
    // SAFETY: the MADT names an I/O APIC's registers at `base`, in the uncached map (checked);
    // only this module drives it.
    let io_apic = unsafe { IoApic::new(base as usize) }?;
    Ok(Controllers { io_apic, madt })
}

// One entry per vector from FIRST_DEVICE_VECTOR to SPURIOUS_VECTOR, ENTRY_SIZE bytes apart
// from `interrupt_entries`: each pushes its vector and joins the common path, which saves the
// registers a Rust function may change (the target has no FP/SIMD registers in use: it is
// soft-float), calls `take_interrupt` and returns to the interrupted code.
global_asm!(
    r#"
    .section .text.interrupt_entries, "ax"
    .balign {entry_size}
    .global interrupt_entries
interrupt_entries:
    .set .Lvector, {first_vector}
    .rept {last_vector} - {first_vector} + 1
    .balign {entry_size}
    push    $.Lvector
    jmp     .Linterrupt_common
    .set .Lvector, .Lvector + 1
    .endr

.Linterrupt_common:
    // The CPU aligned RSP to 16 before pushing SS, RSP, RFLAGS, CS and RIP (40 bytes); with the
    // vector, RSP is aligned again. Nine registers, then 8 bytes, keep it aligned for the call.
    push    %rax
    push    %rcx
    push    %rdx
    push    %rsi
    push    %rdi
    push    %r8
    push    %r9
    push    %r10
    push    %r11
    mov     72(%rsp), %rdi
    sub     $8, %rsp
    cld
    call    {take_interrupt}
    add     $8, %rsp
    pop     %r11
    pop     %r10
    pop     %r9
    pop     %r8
    pop     %rdi
    pop     %rsi
    pop     %rdx
    pop     %rcx
    pop     %rax
    add     $8, %rsp
    iretq
"#,
    entry_size = const ENTRY_SIZE,
    first_vector = const FIRST_DEVICE_VECTOR,
    last_vector = const SPURIOUS_VECTOR,
    take_interrupt = sym take_interrupt,
    options(att_syntax),
);

extern "C" {
    /// The first entry (the assembly above).
    static interrupt_entries: u8;
}

/// The entry of `vector`, if the APICs deliver it: the IDT gate's target.
pub(super) fn entry(vector: u8) -> Option<u64> {
    let device = (FIRST_DEVICE_VECTOR..TIMER_VECTOR).contains(&vector) || MSI_VECTORS.contains(&vector);
    let delivered = device || vector == TIMER_VECTOR || vector == SPURIOUS_VECTOR;
    let first = core::ptr::addr_of!(interrupt_entries) as u64;
    delivered.then(|| first + (ENTRY_SIZE * usize::from(vector - FIRST_DEVICE_VECTOR)) as u64)
}

/// The interrupt path, with interrupts masked: a device line goes to the platform's handlers,
/// the timer has done its job by waking the CPU; then the local APIC gets its end of
/// interrupt, but for a spurious one, which must not have one.
extern "C" fn take_interrupt(vector: u64) {
    match vector as u8 {
        SPURIOUS_VECTOR => return,
        TIMER_VECTOR => {}
        msi if MSI_VECTORS.contains(&msi) => crate::platform::dispatch_interrupt(u32::from(msi)),
        device => crate::platform::dispatch_interrupt(u32::from(device - FIRST_DEVICE_VECTOR)),
    }
    apic::end_of_interrupt();
}

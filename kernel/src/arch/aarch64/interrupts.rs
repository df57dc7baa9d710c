//! What the platform's handler table needs from the CPU and its interrupt controller: the
//! system's GIC (bound by the arm-gic driver) to route, enable and mask lines; the CPU's IRQ
//! mask; and an idle wait (`wfi`) bounded by the virtual timer.

use alloc::format;
use alloc::vec::Vec;
use core::arch::asm;
use core::sync::atomic::{AtomicBool, Ordering};

pub use arm_gic::Line;
use registry::{Irq, IrqError, MsiSource, MsiVector};

use super::timer;

/// Set once the CPU takes interrupts (the first line was enabled).
static STARTED: AtomicBool = AtomicBool::new(false);

/// The GIC line `irq` names (a wired line, or a message of one of the GIC's MSI controllers):
/// not ready until the GIC is bound; lines of another controller (one the kernel has no
/// driver for) are unsupported, so their devices poll.
pub fn line(irq: &Irq) -> Result<Line, IrqError> {
    let gic = arm_gic::system().ok_or_else(|| IrqError::ControllerNotReady(irq.controller.clone()))?;
    if irq.controller != gic.path() && arm_gic::msi::controller(&irq.controller).is_none() {
        return Err(IrqError::Unsupported);
    }
    gic.line(irq)
}

/// `count` message-signalled interrupts from the GIC MSI controller (GICv2m frame, ITS)
/// `source` names. The GIC's MSI controllers are its device-tree children, bound right after
/// it; a controller the kernel has no driver for leaves the device on its line.
pub fn alloc_msi(source: &MsiSource, count: usize) -> Result<Vec<MsiVector>, IrqError> {
    let Some(path) = &source.controller else { return Err(IrqError::Unsupported) };
    if arm_gic::system().is_none() {
        return Err(IrqError::ControllerNotReady(path.clone()));
    }
    let controller = arm_gic::msi::controller(path).ok_or(IrqError::Unsupported)?;
    controller.allocate(source.device_id, count)
}

/// Gives back an interrupt [`alloc_msi`] handed out.
pub fn free_msi(source: &MsiSource, irq: &Irq) {
    if let Some(controller) = source.controller.as_deref().and_then(arm_gic::msi::controller) {
        controller.free(source.device_id, irq);
    }
}

/// Programs and enables `line` at the GIC.
pub fn enable(line: Line) -> Result<(), IrqError> {
    let gic = arm_gic::system().ok_or(IrqError::Unsupported)?;
    gic.enable(line).map_err(|error| IrqError::Invalid(format!("{error}")))
}

/// Masks line `intid` at the GIC (an LPI through its configuration byte); callable from the
/// interrupt path. Returns whether the line is masked now.
pub fn disable(intid: u32) -> bool {
    // A line the GIC does not have is not enabled either.
    arm_gic::system().is_none_or(|gic| gic.disable(intid).is_ok())
}

/// From the first call on, the CPU takes interrupts, and the virtual timer can end idle waits.
pub fn start() {
    let Some(gic) = arm_gic::system() else { return };
    if STARTED.swap(true, Ordering::Relaxed) {
        return;
    }
    if let Err(error) = gic.enable(timer::line()) {
        log::error!("the virtual timer's interrupt cannot be enabled ({error}): idle waits end on interrupts only");
    }
    // SAFETY: clearing PSTATE.I lets IRQs in; the vector table (exceptions.rs) takes them.
    unsafe { asm!("msr daifclr, #2", options(nostack, preserves_flags)) };
}

/// Whether the CPU takes interrupts, so that an idle wait ends.
pub fn started() -> bool {
    STARTED.load(Ordering::Relaxed)
}

/// Runs `f` with IRQs masked on this (the only) CPU: interrupt handlers cannot run meanwhile.
pub fn without<R>(f: impl FnOnce() -> R) -> R {
    let saved: u64;
    // SAFETY: reading DAIF and setting PSTATE.I only delays interrupts. No `nomem`: memory
    // accesses in `f` must not move out of the masked region.
    unsafe { asm!("mrs {}, daif", "msr daifset, #2", out(reg) saved, options(nostack, preserves_flags)) };
    let result = f();
    // SAFETY: puts back the mask as it was; an interrupt that came meanwhile is taken now.
    unsafe { asm!("msr daif, {}", in(reg) saved, options(nostack, preserves_flags)) };
    result
}

/// Waits for an interrupt with the virtual timer set to `deadline_ns`. Call with IRQs masked
/// ([`without`]): `wfi` still wakes on a pending interrupt, which is then taken when the mask
/// lifts, so one that came before the wait is not slept through.
pub fn sleep_until(deadline_ns: u64) {
    timer::arm(deadline_ns);
    // SAFETY: `dsb` completes outstanding accesses, `wfi` waits for an interrupt; neither
    // changes state the kernel relies on.
    unsafe { asm!("dsb sy", "wfi", options(nostack, preserves_flags)) };
    timer::disarm();
}

//! The kernel's interrupt handlers: a table keyed by interrupt number (GIC INTID; on x86-64 the
//! I/O APIC input), the dispatch the architecture's interrupt path calls, and the idle wait
//! drivers sleep in.
//!
//! The architecture supplies the controller and the CPU (`arch::interrupts`: routing a device
//! interrupt to a line, enabling and masking lines, masking the CPU, waiting for an interrupt
//! with a timer deadline); everything here is architecture-neutral.
//!
//! The table is only touched by the thread with interrupts masked, so the interrupt path, which
//! runs with them masked too, never finds it locked. Several handlers may share a line (PCI
//! INTx): each is asked, and says whether its device had something. A line that keeps firing
//! with nobody claiming it (a device without a driver holding a level line up, a wedged one)
//! is masked rather than left to starve the kernel; so is one that fires without any handler.
//!
//! [`polled`] runs code as on a kernel without interrupts, for the benchmarks' polling mode.

use alloc::collections::BTreeMap;
use alloc::sync::Arc;
use alloc::vec::Vec;
use core::sync::atomic::{AtomicBool, AtomicU32, Ordering};

use registry::{Irq, IrqError, IrqHandler, IrqReturn, IrqStats};
use spin::Mutex;

use crate::arch::interrupts as cpu;

/// Interrupts in a row that no handler of a line claims before the line is masked. Far more
/// than a shared line's other device causes between two of this device's own.
const UNCLAIMED_LIMIT: u32 = 1000;

static LINES: Mutex<BTreeMap<u32, Line>> = Mutex::new(BTreeMap::new());

/// Set by every interrupt dispatched; cleared when an idle wait returns (see [`idle_until`]).
static INTERRUPTED: AtomicBool = AtomicBool::new(false);

/// Set while [`polled`] runs: idle waits return at once instead of sleeping.
static POLLING: AtomicBool = AtomicBool::new(false);

/// The last line masked from the interrupt path (plus one; 0: none), reported from the thread.
static MASKED: AtomicU32 = AtomicU32::new(0);
/// Whether the controller could mask it (an x86 MSI vector's mask is in its device).
static MASKED_AT_CONTROLLER: AtomicBool = AtomicBool::new(true);

#[derive(Default)]
struct Line {
    handlers: Vec<Hooked>,
    /// Interrupts in a row no handler claimed.
    unclaimed: u32,
}

struct Hooked {
    handler: IrqHandler,
    stats: Arc<IrqStats>,
}

/// Adds `handler` to `irq`'s line, enabling the line when it is the first one.
pub fn request(irq: &Irq, handler: IrqHandler, stats: Arc<IrqStats>) -> Result<(), IrqError> {
    let line = cpu::line(irq)?;
    cpu::without(|| {
        let mut lines = LINES.lock();
        // A new line, or one masked for nobody claiming it: its new device gets a chance.
        let off = lines.get(&line.intid).is_none_or(|l| l.handlers.is_empty() || l.unclaimed >= UNCLAIMED_LIMIT);
        if off {
            cpu::enable(line)?;
        }
        let entry = lines.entry(line.intid).or_default();
        if off {
            entry.unclaimed = 0;
        }
        entry.handlers.push(Hooked { handler, stats });
        Ok(())
    })?;
    cpu::start();
    Ok(())
}

/// Drops the handler `request` installed with `stats`; masks the line once it has none.
pub fn free(irq: &Irq, stats: &Arc<IrqStats>) {
    let Ok(line) = cpu::line(irq) else { return };
    cpu::without(|| {
        let mut lines = LINES.lock();
        let Some(entry) = lines.get_mut(&line.intid) else { return };
        entry.handlers.retain(|hooked| !Arc::ptr_eq(&hooked.stats, stats));
        if entry.handlers.is_empty() {
            cpu::disable(line.intid);
            lines.remove(&line.intid);
        }
    });
}

/// Runs the handlers of line `intid`, from the interrupt path (interrupts masked).
pub fn dispatch(intid: u32) {
    INTERRUPTED.store(true, Ordering::Relaxed);
    // Never contended: the thread holds the lock only with interrupts masked.
    let mut lines = LINES.lock();
    let Some(line) = lines.get_mut(&intid) else {
        // Enabled, yet nobody's: mask it, or a level line would fire forever.
        return mask(intid);
    };
    let mut claimed = false;
    for hooked in &mut line.handlers {
        let outcome = (hooked.handler)();
        hooked.stats.record(outcome);
        claimed |= outcome == IrqReturn::Handled;
    }
    line.unclaimed = if claimed { 0 } else { line.unclaimed + 1 };
    if line.unclaimed >= UNCLAIMED_LIMIT {
        mask(intid);
    }
}

fn mask(intid: u32) {
    let masked = cpu::disable(intid);
    MASKED.store(intid + 1, Ordering::Relaxed);
    MASKED_AT_CONTROLLER.store(masked, Ordering::Relaxed);
}

/// Waits for an interrupt or `deadline_ns`; returns at once if an interrupt was dispatched
/// since the last idle wait returned. A caller checks its condition, then idles: an interrupt
/// that came after the check is not slept through, whether it was taken before the CPU masked
/// interrupts here (the flag) or after (`wfi` wakes on it).
pub fn idle_until(deadline_ns: u64) {
    if !cpu::started() || POLLING.load(Ordering::Relaxed) {
        core::hint::spin_loop();
        return;
    }
    cpu::without(|| {
        if !INTERRUPTED.swap(false, Ordering::Relaxed) {
            cpu::sleep_until(deadline_ns);
        }
    });
    // What woke the CPU has been taken as the mask lifted: the caller's next check sees it.
    INTERRUPTED.store(false, Ordering::Relaxed);
    report_masked();
}

/// Runs `f` as a kernel without interrupts would: the CPU takes none (they stay pending and are
/// taken, hence acknowledged, when `f` returns) and idle waits return at once, so every
/// driver's wait polls its device through the very code that sleeps otherwise. Lines stay
/// hooked and enabled: nothing about the drivers changes but how their waits pass the time.
pub fn polled<R>(f: impl FnOnce() -> R) -> R {
    cpu::without(|| {
        POLLING.store(true, Ordering::Relaxed);
        let result = f();
        POLLING.store(false, Ordering::Relaxed);
        result
    })
}

/// Logs a line the interrupt path masked (it cannot print: the console may be held).
fn report_masked() {
    let masked = MASKED.swap(0, Ordering::Relaxed);
    if masked != 0 {
        let what = match MASKED_AT_CONTROLLER.load(Ordering::Relaxed) {
            true => "masked",
            false => "dropped (a message: its mask is in the device)",
        };
        log::warn!("interrupt {}: fired with nobody claiming it; {what}", masked - 1);
    }
}

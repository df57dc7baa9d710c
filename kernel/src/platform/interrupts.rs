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
//! INTx): each is asked, and says whether its device had something. Each line is policed by a
//! [`LineGuard`] (the registry's, host-tested): a line that keeps firing with nobody claiming
//! it (a device without a driver holding a level line up, a wedged one) is masked rather than
//! left to starve the kernel, and so is one that storms while its handlers claim it (a device
//! that keeps its cause set), the latter for a hold-off after which the idle wait enables it
//! again. A line that fires without any handler is masked too. `irqs` shows the state.
//!
//! [`polled`] runs code as on a kernel without interrupts, for the benchmarks' polling mode.

use alloc::collections::BTreeMap;
use alloc::sync::Arc;
use alloc::vec::Vec;
use core::sync::atomic::{AtomicBool, AtomicU32, Ordering};

use registry::{Irq, IrqError, IrqHandler, IrqReturn, IrqStats, LineGuard, Masked};
use spin::Mutex;

use crate::arch::interrupts as cpu;

static LINES: Mutex<BTreeMap<u32, Line>> = Mutex::new(BTreeMap::new());

/// Set by every interrupt dispatched; cleared when an idle wait returns (see [`idle_until`]).
static INTERRUPTED: AtomicBool = AtomicBool::new(false);

/// Set while [`polled`] runs: idle waits return at once instead of sleeping.
static POLLING: AtomicBool = AtomicBool::new(false);

/// The last line masked from the interrupt path (plus one; 0: none), reported from the thread.
static MASKED: AtomicU32 = AtomicU32::new(0);
/// Whether that was for a storm (else for nobody claiming it).
static MASKED_FOR_STORM: AtomicBool = AtomicBool::new(false);
/// Whether the controller could mask it (an x86 MSI vector's mask is in its device).
static MASKED_AT_CONTROLLER: AtomicBool = AtomicBool::new(true);

struct Line {
    /// What the controller needs to enable the line again after a storm.
    line: cpu::Line,
    handlers: Vec<Hooked>,
    guard: LineGuard,
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
        // A new line, or one masked (for nobody claiming it, or a storm): its new device gets a
        // chance.
        let off = lines.get(&line.intid).is_none_or(|l| l.handlers.is_empty() || l.guard.masked().is_some());
        if off {
            cpu::enable(line)?;
        }
        let entry = lines.entry(line.intid).or_insert_with(|| Line { line, handlers: Vec::new(), guard: LineGuard::new() });
        if off {
            entry.guard.enabled();
            entry.handlers.iter().for_each(|hooked| hooked.stats.set_masked(None));
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
        return mask(intid, Masked::Unclaimed);
    };
    if line.guard.masked().is_some() {
        // A message the controller cannot mask (an x86 MSI vector): dropped unseen.
        return;
    }
    let mut claimed = false;
    for hooked in &mut line.handlers {
        let outcome = (hooked.handler)();
        hooked.stats.record(outcome);
        claimed |= outcome == IrqReturn::Handled;
    }
    if let Some(why) = line.guard.after_interrupt(claimed, crate::arch::now_ns) {
        line.handlers.iter().for_each(|hooked| hooked.stats.set_masked(Some(why)));
        mask(intid, why);
    }
}

fn mask(intid: u32, why: Masked) {
    let masked = cpu::disable(intid);
    MASKED.store(intid + 1, Ordering::Relaxed);
    MASKED_AT_CONTROLLER.store(masked, Ordering::Relaxed);
    MASKED_FOR_STORM.store(matches!(why, Masked::Storm { .. }), Ordering::Relaxed);
}

/// Enables again every line whose storm hold-off is over, and returns the earliest hold-off
/// still running (an idle wait must end by then to enable it). Interrupts masked.
fn enable_rested_lines(now_ns: u64) -> Option<u64> {
    let mut lines = LINES.lock();
    let mut next = None;
    for (intid, line) in lines.iter_mut() {
        let Some(until_ns) = line.guard.unmask_at() else { continue };
        if until_ns > now_ns {
            next = Some(next.map_or(until_ns, |n: u64| n.min(until_ns)));
            continue;
        }
        match cpu::enable(line.line) {
            Ok(()) => {
                line.guard.enabled();
                line.handlers.iter().for_each(|hooked| hooked.stats.set_masked(None));
                log::info!("interrupt {intid}: enabled again after its storm's hold-off");
            }
            Err(error) => log::warn!("interrupt {intid}: cannot be enabled again after its storm ({error})"),
        }
    }
    next
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
        // A line resting after a storm is enabled again at the end of its hold-off, so the
        // wait ends by then (returning early is allowed) and the next one enables it.
        let deadline_ns = match enable_rested_lines(crate::arch::now_ns()) {
            Some(until_ns) => deadline_ns.min(until_ns),
            None => deadline_ns,
        };
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
        match MASKED_FOR_STORM.load(Ordering::Relaxed) {
            true => log::warn!(
                "interrupt {}: storm ({} claimed interrupts within {} ms); {what} for {} ms",
                masked - 1,
                registry::irq::STORM_LIMIT,
                registry::irq::STORM_WINDOW_NS / 1_000_000,
                registry::irq::STORM_HOLDOFF_NS / 1_000_000
            ),
            false => log::warn!("interrupt {}: fired with nobody claiming it; {what}", masked - 1),
        }
    }
}

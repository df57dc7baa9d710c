//! The interrupt path every virtio driver shares: a handler that reads and acknowledges the
//! device's interrupt causes from interrupt context, and waits that sleep until an interrupt
//! when one is hooked up (and poll when not).
//!
//! The handler only acknowledges: it owns a second handle on the transport's interrupt
//! registers ([`InterruptStatus`]), so it takes no lock and touches no queue. With MSI-X
//! (virtio-pci) there is nothing to acknowledge: each vector's handler only counts. The waiting code
//! finds the completions itself once the interrupt has woken it ([`Interrupt::wait`]).

use alloc::boxed::Box;
use alloc::sync::Arc;
use core::sync::atomic::{AtomicBool, AtomicU64, Ordering};

use registry::wait::{poll_until, wait_event, TimedOut};
use registry::{IrqHandler, IrqReturn, Platform, ProbeContext, ProbeError};

use crate::{VirtioDevice, VirtioError};

/// Interrupt cause: the device used a buffer (virtio 1.2, 4.2.2 InterruptStatus; 4.1.4.5 ISR).
pub const USED_BUFFER: u32 = 1;
/// Interrupt cause: the device configuration changed.
pub const CONFIG_CHANGE: u32 = 2;

/// A transport's interrupt status, reachable from interrupt context.
pub trait InterruptStatus: Send {
    /// The pending causes ([`USED_BUFFER`], [`CONFIG_CHANGE`]), acknowledged so that the device
    /// lowers a level-triggered line.
    fn take_causes(&self) -> Result<u32, VirtioError>;
}

/// How a virtio driver learns that its device has something for it: the device's interrupt
/// when one is hooked up, else polling. Clones share the state.
#[derive(Clone)]
pub struct Interrupt {
    /// `None` when polling.
    hooked: Option<Arc<Hooked>>,
}

struct Hooked {
    /// Cleared when the device was seen to finish without interrupting: waits poll from then.
    live: AtomicBool,
    /// Interrupts the handler found causes in.
    taken: AtomicU64,
    /// Set by an interrupt for a configuration change, until the driver takes it.
    config_changed: AtomicBool,
}

impl Interrupt {
    /// No interrupt: every wait polls.
    pub fn polled() -> Self {
        Interrupt { hooked: None }
    }

    /// Hooks the handler to the device's interrupts before the driver takes its bus data: the
    /// line of its transport (which the virtio bus driver passed on as interrupt 0), or with
    /// MSI-X every vector (configuration changes and queues). A device without an interrupt,
    /// or a platform without interrupt support, gets [`polled`](Self::polled); a controller
    /// not probed yet defers the probe.
    pub fn request(ctx: &mut ProbeContext<'_>) -> Result<Self, ProbeError> {
        if ctx.device.irqs.is_empty() {
            return Ok(Interrupt::polled());
        }
        let device = ctx.bus_data::<VirtioDevice>().ok_or_else(|| ProbeError::failed("no virtio transport from the bus"))?;
        let hooked = Arc::new(Hooked { live: AtomicBool::new(true), taken: AtomicU64::new(0), config_changed: AtomicBool::new(false) });
        let installed = if device.transport.message_signalled() {
            let mut installed = true;
            // Vector 0 is configuration changes, the others the queues'.
            for index in 0..ctx.device.irqs.len() {
                installed &= ctx.request_irq(index, message_handler(Arc::clone(&hooked), index == 0))?;
            }
            installed
        } else {
            let status = device.transport.interrupt_status();
            ctx.request_irq(0, line_handler(status, Arc::clone(&hooked)))?
        };
        Ok(Interrupt { hooked: installed.then_some(hooked) })
    }

    /// Whether the device said its configuration changed since the last call (a disk's
    /// capacity, a NIC's link). Only an interrupt tells: a polled device never says.
    pub fn take_config_change(&self) -> bool {
        self.hooked.as_deref().is_some_and(|hooked| hooked.config_changed.swap(false, Ordering::Relaxed))
    }

    /// Whether waits sleep until the device's interrupt (rather than poll).
    pub fn is_live(&self) -> bool {
        self.live().is_some()
    }

    fn live(&self) -> Option<&Hooked> {
        self.hooked.as_deref().filter(|hooked| hooked.live.load(Ordering::Relaxed))
    }

    /// For a caller that runs its own poll loop (a network stack): sleeps until an interrupt or
    /// `deadline_ns` (on the platform's clock); returns at once when polling, so the loop
    /// keeps polling.
    pub fn idle_until(&self, platform: &dyn Platform, deadline_ns: u64) {
        if self.is_live() {
            platform.idle_until(deadline_ns);
        }
    }

    /// Waits until `done` (which should collect completions) returns true or `timeout_ns`
    /// passes: sleeping between checks while the interrupt is live, polling otherwise.
    ///
    /// A device that finishes without interrupting is found at the deadline; the interrupt is
    /// then taken for lost and every later wait polls, so a broken line costs one timeout
    /// rather than one per request.
    pub fn wait(
        &self,
        platform: &dyn Platform,
        timeout_ns: u64,
        what: &'static str,
        done: impl FnMut() -> bool,
    ) -> Result<(), TimedOut> {
        let Some(hooked) = self.live() else {
            return poll_until(platform, timeout_ns, what, done);
        };
        let (start, taken) = (platform.now_ns(), hooked.taken.load(Ordering::Relaxed));
        let waited = wait_event(platform, timeout_ns, what, true, done);
        let silent = hooked.taken.load(Ordering::Relaxed) == taken;
        if waited.is_ok() && silent && platform.now_ns().saturating_sub(start) >= timeout_ns {
            log::warn!("virtio: {what} happened without an interrupt; polling from now on");
            hooked.live.store(false, Ordering::Relaxed);
        }
        waited
    }
}

/// How often the handler takes causes in one interrupt before leaving the rest to the next.
const TAKE_ROUNDS: usize = 4;

/// Runs in interrupt context for a message: it is the device's own and needs no
/// acknowledging, so it only counts (a message with no completion behind it cannot be told
/// from one whose completion a waiter already collected).
fn message_handler(hooked: Arc<Hooked>, config: bool) -> IrqHandler {
    Box::new(move || {
        if config {
            hooked.config_changed.store(true, Ordering::Relaxed);
        }
        hooked.taken.fetch_add(1, Ordering::Relaxed);
        IrqReturn::Handled
    })
}

/// Runs in interrupt context: acknowledges what the device reports, until it reports nothing,
/// so that an edge-triggered line (QEMU's virtio-mmio) is low when the handler returns and the
/// device's next cause makes a new edge. Nothing to report is a shared line's other device, or
/// a spurious interrupt.
fn line_handler(status: Box<dyn InterruptStatus>, hooked: Arc<Hooked>) -> IrqHandler {
    Box::new(move || {
        let mut causes = 0;
        for _ in 0..TAKE_ROUNDS {
            match status.take_causes() {
                Ok(0) | Err(_) => break,
                Ok(more) => causes |= more,
            }
        }
        if causes & (USED_BUFFER | CONFIG_CHANGE) == 0 {
            return IrqReturn::NotMine;
        }
        if causes & CONFIG_CHANGE != 0 {
            hooked.config_changed.store(true, Ordering::Relaxed);
        }
        hooked.taken.fetch_add(1, Ordering::Relaxed);
        IrqReturn::Handled
    })
}

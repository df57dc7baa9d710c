//! Message-signalled interrupts through the GIC: the MSI controllers of the system (GICv2m
//! frames, a GICv3 ITS), each bound from its device-tree node and found by that node's path,
//! which a PCI host's `msi-map` or `msi-parent` names.
//!
//! An MSI controller hands out interrupts as [`MsiVector`]s whose [`Irq`] names the controller
//! (its path) and carries the GIC INTID the message raises in `number`: the system GIC turns
//! such an `Irq` into an edge-triggered [`Line`](crate::Line) ([`Gic::line`](crate::Gic::line)).

use alloc::vec::Vec;

use registry::{Irq, IrqError, MsiVector};
use spin::Mutex;

/// A GIC MSI controller.
pub trait MsiController: Sync {
    /// Its device-tree node.
    fn path(&self) -> &str;

    /// Allocates `count` interrupts (all or none) for the device `device_id` (its ID at this
    /// controller: a PCI requester ID after `msi-map`), ready to enable at the GIC.
    fn allocate(&self, device_id: u32, count: usize) -> Result<Vec<MsiVector>, IrqError>;

    /// Gives back an interrupt [`allocate`](Self::allocate) returned for `device_id`; the
    /// device no longer sends its message.
    fn free(&self, device_id: u32, irq: &Irq);

    /// Whether `intid` is one this controller hands out.
    fn owns(&self, intid: u32) -> bool;
}

static CONTROLLERS: Mutex<Vec<&'static dyn MsiController>> = Mutex::new(Vec::new());

/// Makes `controller` known; called by its driver once it is up.
pub fn register(controller: &'static dyn MsiController) {
    CONTROLLERS.lock().push(controller);
}

/// The MSI controller at `path`, if it is up.
pub fn controller(path: &str) -> Option<&'static dyn MsiController> {
    CONTROLLERS.lock().iter().copied().find(|c| c.path() == path)
}

//! What a driver declares: name, match table, probe and remove; and how it registers itself.

use alloc::boxed::Box;
use alloc::string::String;
use alloc::sync::Arc;
use alloc::vec::Vec;
use core::any::Any;
use core::fmt;

use crate::device::{DeviceSpec, Irq};
use crate::health::DeviceHealth;
use crate::irq::{IrqError, IrqHandler, IrqStats};
use crate::msi::{MsiSource, MsiVector};
use crate::platform::Platform;
use crate::tree::DeviceNode;

/// One entry of a driver's match table.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Match {
    /// A device-tree `compatible` string.
    Compatible(&'static str),
    /// One PCI vendor/device pair.
    PciId { vendor: u16, device: u16 },
    /// A PCI vendor and an inclusive range of device IDs (virtio-pci: 1af4:1000-107f).
    PciIdRange { vendor: u16, first: u16, last: u16 },
    /// A PCI class and sub-class, and the programming interface when it matters.
    PciClass { class: u8, subclass: u8, prog_if: Option<u8> },
    /// A virtio device ID (net 1, block 2, gpu 16, ...), on whatever transport.
    Virtio(u32),
}

/// A driver's teardown: gets the device and the data its probe left with
/// [`ProbeContext::set_driver_data`].
pub type RemoveFn = fn(&DeviceNode, Box<dyn Any + Send>);

/// A driver, as registered with [`register_driver!`](crate::register_driver).
pub struct Driver {
    /// Unique, short (`virtio-mmio`, `pl011`); shown by `lsdev`.
    pub name: &'static str,
    pub matches: &'static [Match],
    /// Breaks ties between drivers that match equally well: higher wins.
    pub priority: i8,
    pub probe: fn(&mut ProbeContext<'_>) -> Result<(), ProbeError>,
    /// Called when the device is unbound; the driver's data is handed back to be torn down.
    pub remove: Option<RemoveFn>,
}

impl fmt::Debug for Driver {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Driver").field("name", &self.name).field("matches", &self.matches).finish()
    }
}

/// Every driver linked into the image, collected by the linker.
#[linkme::distributed_slice]
pub static DRIVERS: [Driver];

/// Registers a driver from its own crate:
///
/// ```ignore
/// registry::register_driver!(PL011_DRIVER = registry::Driver {
///     name: "pl011",
///     matches: &[registry::Match::Compatible("arm,pl011")],
///     priority: 0,
///     probe: probe_pl011,
///     remove: None,
/// });
/// ```
///
/// A crate that is only linked (never called) must still be named by the final binary, e.g.
/// `use virtio_blk as _;`, or the linker has no reason to pull it in.
#[macro_export]
macro_rules! register_driver {
    ($static_name:ident = $driver:expr $(,)?) => {
        #[$crate::linkme::distributed_slice($crate::DRIVERS)]
        #[linkme(crate = $crate::linkme)]
        static $static_name: $crate::Driver = $driver;
    };
}

/// Why a probe did not bind.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum ProbeError {
    /// Nothing is there (an unused virtio-mmio slot): shown as `empty`, not an error.
    Empty(String),
    /// A dependency is not ready yet; the registry retries after other probes make progress.
    Defer(String),
    /// The device or driver failed; the reason is recorded.
    Failed(String),
}

impl ProbeError {
    pub fn failed(reason: impl fmt::Display) -> Self {
        ProbeError::Failed(alloc::format!("{reason}"))
    }
}

/// What a driver's probe sees and may do.
pub struct ProbeContext<'a> {
    pub device: &'a DeviceNode,
    pub platform: &'static dyn Platform,
    pub(crate) bus_data: Option<Box<dyn Any + Send>>,
    pub(crate) driver_data: Option<Box<dyn Any + Send>>,
    pub(crate) children: Vec<DeviceSpec>,
    pub(crate) info: Vec<(&'static str, String)>,
    /// Lines requested so far: index into the device's `irqs`, and their counters.
    pub(crate) irq_stats: Vec<(usize, Arc<IrqStats>)>,
    /// Message-signalled interrupts allocated so far, given back if the probe does not bind.
    pub(crate) msi: Vec<(MsiSource, Irq)>,
    pub(crate) health: DeviceHealth,
}

impl<'a> ProbeContext<'a> {
    /// Takes what the parent bus left for this device's driver (e.g. its virtio transport).
    /// If the probe then fails, whatever was taken is dropped with it.
    pub fn take_bus_data<T: Any + Send>(&mut self) -> Option<Box<T>> {
        let data = self.bus_data.take()?;
        match data.downcast::<T>() {
            Ok(typed) => Some(typed),
            Err(other) => {
                self.bus_data = Some(other);
                None
            }
        }
    }

    /// Borrows the parent's bus data without taking it (kept for a deferred retry).
    pub fn bus_data<T: Any + Send>(&mut self) -> Option<&mut T> {
        self.bus_data.as_mut()?.downcast_mut::<T>()
    }

    /// Adds a child device; `probe_all` matches and probes it in the same call.
    pub fn add_child(&mut self, child: DeviceSpec) {
        self.children.push(child);
    }

    /// Records a fact `lsdev` shows beside the device (capacity, MAC, link, ...).
    pub fn set_info(&mut self, key: &'static str, value: impl Into<String>) {
        self.info.push((key, value.into()));
    }

    /// Hooks `handler` to the device's interrupt number `index` (as its bus described it).
    /// `Ok(true)`: installed; `Ok(false)`: the platform has no interrupts, so the driver polls.
    /// A controller that is not probed yet defers the probe; if the probe fails later, the
    /// registry frees the line again.
    pub fn request_irq(&mut self, index: usize, handler: IrqHandler) -> Result<bool, ProbeError> {
        let irq = self
            .device
            .irqs
            .get(index)
            .ok_or_else(|| ProbeError::Failed(alloc::format!("the device has no interrupt {index}")))?;
        let stats = Arc::new(IrqStats::default());
        match self.platform.request_irq(irq, handler, Arc::clone(&stats)) {
            Ok(()) => {
                self.irq_stats.push((index, stats));
                Ok(true)
            }
            Err(IrqError::Unsupported) => Ok(false),
            Err(IrqError::ControllerNotReady(controller)) => {
                Err(ProbeError::Defer(alloc::format!("interrupt controller {controller} not probed yet")))
            }
            Err(error) => Err(ProbeError::failed(error)),
        }
    }

    /// Allocates `count` message-signalled interrupts for `source` (all or none) through the
    /// platform; the device keeps them until its driver is removed (or this probe fails). The
    /// driver programs each message into the device and hands each [`Irq`] to whichever driver
    /// requests it (its own children's, for a bus driver such as virtio-pci). Errors are
    /// returned as they are, for the driver to fall back to its line.
    pub fn alloc_msi(&mut self, source: &MsiSource, count: usize) -> Result<Vec<MsiVector>, IrqError> {
        let vectors = self.platform.alloc_msi(source, count)?;
        self.msi.extend(vectors.iter().map(|vector| (source.clone(), vector.irq.clone())));
        Ok(vectors)
    }

    /// The device's health record: keep a clone with the driver's state and call
    /// [`DeviceHealth::fail`] when the device breaks after the probe (a ring violation, a
    /// timeout), so that `lsdev` shows it `failed` with the reason rather than `bound`.
    pub fn health(&self) -> DeviceHealth {
        self.health.clone()
    }

    /// Keeps the driver's state with the device; reach it later with
    /// [`Registry::driver_data`](crate::Registry::driver_data).
    pub fn set_driver_data<T: Any + Send>(&mut self, data: T) {
        self.driver_data = Some(Box::new(data));
    }
}

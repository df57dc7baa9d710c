//! A [`Platform`] whose DMA memory has bus addresses unrelated to its CPU addresses, and through
//! which the simulated device reaches that memory; with a clock the devices work by and an
//! interrupt controller for their lines.
//!
//! Bus addresses come from a separate range (by default from 2 GiB up, so legacy page frame
//! numbers fit 32 bits): code that hands the device a CPU pointer, or reads memory at a bus
//! address, fails at once instead of passing by luck. The device may only touch live
//! allocations; anything else is a driver bug and panics the test.
//!
//! The clock advances by [`CLOCK_STEP_NS`] on every read, like the host platform's, and jumps
//! when the CPU idles: [`idle_until`](Platform::idle_until) sleeps until a hooked line is up or
//! the deadline, letting devices finish their work on the way (see
//! [`SimDevice::set_completion_latency`](super::SimDevice::set_completion_latency)).

use alloc::boxed::Box;
use alloc::sync::{Arc, Weak};
use alloc::vec::Vec;
use core::ptr::NonNull;
use core::sync::atomic::{AtomicU64, Ordering};

use registry::platform::DmaRegion;
use registry::testing::{HostPlatform, CLOCK_STEP_NS};
use registry::{DmaDirection, IoPorts, Irq, IrqError, IrqHandler, IrqStats, MmioRegion, Platform, PlatformError};
use spin::Mutex;

use super::device::DeviceState;
use super::interrupts::Lines;

/// Where bus addresses start unless a test asks for another base.
pub const DEFAULT_DMA_BASE: u64 = 0x8000_0000;
/// Allocations are spaced by whole pages, enough for every alignment `dma_alloc` promises.
const PAGE: u64 = 4096;

pub struct SimPlatform {
    host: &'static HostPlatform,
    mappings: Mutex<Mappings>,
    clock: AtomicU64,
    lines: Mutex<Lines>,
    ports: PortSpace,
    /// The DMA sync calls since [`record_syncs`](SimPlatform::record_syncs), when recording.
    syncs: Mutex<Option<Vec<SyncCall>>>,
}

/// One call of a DMA sync hook, as [`SimPlatform::syncs`] recorded it.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct SyncCall {
    /// `dma_sync_for_device` (else `dma_sync_for_cpu`).
    pub for_device: bool,
    pub phys: u64,
    pub len: usize,
    pub direction: DmaDirection,
}

struct Mappings {
    next_bus: u64,
    live: Vec<Mapping>,
}

#[derive(Clone, Copy)]
struct Mapping {
    bus: u64,
    size: usize,
    /// The host allocation behind it: CPU address and the address the host platform gave it.
    cpu: usize,
    host_phys: u64,
}

impl SimPlatform {
    /// A leaked platform (drivers want `&'static`) with bus addresses from [`DEFAULT_DMA_BASE`].
    pub fn leaked() -> &'static SimPlatform {
        Self::leaked_at(DEFAULT_DMA_BASE)
    }

    /// A leaked platform handing out bus addresses from `dma_base` (page aligned) up.
    pub fn leaked_at(dma_base: u64) -> &'static SimPlatform {
        let mappings = Mutex::new(Mappings { next_bus: dma_base, live: Vec::new() });
        let (clock, lines) = (AtomicU64::new(0), Mutex::new(Lines::default()));
        let ports = PortSpace::default();
        let syncs = Mutex::new(None);
        Box::leak(Box::new(SimPlatform { host: HostPlatform::leaked(), mappings, clock, lines, ports, syncs }))
    }

    /// Gives a new device its interrupt line.
    pub(crate) fn attach(&self, device: Weak<Mutex<DeviceState>>) -> u32 {
        self.lines.lock().attach(device)
    }

    /// The clock as it is, without advancing it (for the device's own timing).
    pub(crate) fn time(&self) -> u64 {
        self.clock.load(Ordering::Relaxed)
    }

    /// Gives the platform an I/O port space (as a PC has), with `device` answering the ports
    /// `base..base + size`. A platform without port devices has no port space, like
    /// non-x86 machines.
    pub fn add_io_ports(&self, base: u16, size: u16, device: Arc<dyn PortDevice>) {
        self.ports.0.lock().push((base, size, device));
    }

    /// The host platform underneath: register windows (`add_window`) and the DMA leak check
    /// (`dma_live`).
    pub fn host(&self) -> &'static HostPlatform {
        self.host
    }

    /// Records every DMA sync call from now on (forgetting earlier ones).
    pub fn record_syncs(&self) {
        *self.syncs.lock() = Some(Vec::new());
    }

    /// The DMA sync calls recorded, in order.
    pub fn syncs(&self) -> Vec<SyncCall> {
        self.syncs.lock().clone().unwrap_or_default()
    }

    /// Checks a sync call's range (it must lie in one live allocation, or the driver synced
    /// memory it does not own) and records it.
    fn sync(&self, call: SyncCall) {
        self.mappings.lock().resolve(call.phys, call.len);
        if let Some(syncs) = self.syncs.lock().as_mut() {
            syncs.push(call);
        }
    }

    /// Device-side read of `out.len()` bytes at bus address `bus`.
    pub(crate) fn read(&self, bus: u64, out: &mut [u8]) {
        let mappings = self.mappings.lock();
        let cpu = mappings.resolve(bus, out.len());
        // SAFETY: `resolve` proved the range lies inside a live host allocation, which cannot be
        // freed while the lock is held; `out` is ordinary memory, so the ranges do not overlap.
        unsafe { core::ptr::copy_nonoverlapping(cpu as *const u8, out.as_mut_ptr(), out.len()) }
    }

    /// Device-side write of `bytes` at bus address `bus`.
    pub(crate) fn write(&self, bus: u64, bytes: &[u8]) {
        let mappings = self.mappings.lock();
        let cpu = mappings.resolve(bus, bytes.len());
        // SAFETY: as in `read`.
        unsafe { core::ptr::copy_nonoverlapping(bytes.as_ptr(), cpu as *mut u8, bytes.len()) }
    }

    pub(crate) fn read_u16(&self, bus: u64) -> u16 {
        let mut bytes = [0; 2];
        self.read(bus, &mut bytes);
        u16::from_le_bytes(bytes)
    }

    pub(crate) fn read_u32(&self, bus: u64) -> u32 {
        let mut bytes = [0; 4];
        self.read(bus, &mut bytes);
        u32::from_le_bytes(bytes)
    }

    pub(crate) fn read_u64(&self, bus: u64) -> u64 {
        let mut bytes = [0; 8];
        self.read(bus, &mut bytes);
        u64::from_le_bytes(bytes)
    }
}

impl Mappings {
    /// The CPU address of `len` bytes at bus address `bus`, which must lie in one allocation.
    fn resolve(&self, bus: u64, len: usize) -> usize {
        let found = self.live.iter().find(|m| {
            bus >= m.bus && (bus - m.bus).checked_add(len as u64).is_some_and(|end| end <= m.size as u64)
        });
        let Some(mapping) = found else {
            panic!("sim: device access to {bus:#x}+{len:#x}, outside every live DMA allocation (driver bug)");
        };
        mapping.cpu + (bus - mapping.bus) as usize
    }
}

// SAFETY: `map_mmio` is the host platform's; `dma_alloc` returns the host platform's fresh
// zeroed allocation as `virt` and a bus address from a range of its own as `phys`, which the
// simulated device resolves to that same allocation while it is live (and panics otherwise),
// so `phys` reaches exactly the `virt` bytes; `dma_free` unmaps it before the host frees it.
// Handlers run from `idle_until` under the line table's lock, one call at a time.
unsafe impl Platform for SimPlatform {
    fn map_mmio(&self, region: MmioRegion) -> Result<NonNull<u8>, PlatformError> {
        self.host.map_mmio(region)
    }

    fn dma_alloc(&self, size: usize, align: usize) -> Result<DmaRegion, PlatformError> {
        let host = self.host.dma_alloc(size, align)?;
        let mut mappings = self.mappings.lock();
        let bus = mappings.next_bus.next_multiple_of(PAGE);
        mappings.next_bus = bus + (size as u64).max(1).next_multiple_of(PAGE);
        mappings.live.push(Mapping { bus, size, cpu: host.virt.as_ptr() as usize, host_phys: host.phys });
        Ok(DmaRegion { virt: host.virt, phys: bus, size })
    }

    unsafe fn dma_free(&self, region: DmaRegion) {
        let mapping = {
            let mut mappings = self.mappings.lock();
            let Some(position) = mappings.live.iter().position(|m| m.bus == region.phys) else {
                panic!("dma_free of bus address {:#x}, which is not a live allocation", region.phys);
            };
            mappings.live.swap_remove(position)
        };
        let host = DmaRegion { virt: region.virt, phys: mapping.host_phys, size: mapping.size };
        // SAFETY: the caller's guarantees for `region` carry over to the host allocation behind
        // it, which was just unmapped from the device's view and is freed once.
        unsafe { self.host.dma_free(host) }
    }

    /// Coherent, as the devices read and write the host allocation directly: only checks the
    /// range and records the call.
    fn dma_sync_for_device(&self, phys: u64, len: usize, direction: DmaDirection) {
        self.sync(SyncCall { for_device: true, phys, len, direction });
    }

    fn dma_sync_for_cpu(&self, phys: u64, len: usize, direction: DmaDirection) {
        self.sync(SyncCall { for_device: false, phys, len, direction });
    }

    fn now_ns(&self) -> u64 {
        let now = self.clock.fetch_add(CLOCK_STEP_NS, Ordering::Relaxed);
        self.lines.lock().run_devices(now);
        now
    }

    fn request_irq(&self, irq: &Irq, handler: IrqHandler, stats: Arc<IrqStats>) -> Result<(), IrqError> {
        self.lines.lock().install(irq, handler, stats)
    }

    fn free_irq(&self, irq: &Irq, stats: &Arc<IrqStats>) {
        self.lines.lock().remove(irq, stats);
    }

    fn io_ports(&self) -> Option<&dyn IoPorts> {
        (!self.ports.0.lock().is_empty()).then_some(&self.ports as &dyn IoPorts)
    }

    /// Sleeps until a hooked line is up (its handlers run) or `deadline_ns`, the clock jumping
    /// from one device event to the next.
    fn idle_until(&self, deadline_ns: u64) {
        loop {
            let mut lines = self.lines.lock();
            lines.run_devices(self.time());
            if lines.deliver() || self.time() >= deadline_ns {
                return;
            }
            let next = lines.next_due().map_or(deadline_ns, |due| due.min(deadline_ns));
            self.clock.fetch_max(next, Ordering::Relaxed);
        }
    }
}

/// A simulated device's I/O ports, by offset from the first; every access is one of `width`
/// 1, 2 or 4 bytes, the value in the low bytes.
pub trait PortDevice: Send + Sync {
    fn read(&self, offset: u16, width: u8) -> u32;
    fn write(&self, offset: u16, width: u8, value: u32);
}

/// The port devices by range; an access no device answers is a driver bug.
#[derive(Default)]
struct PortSpace(Mutex<Vec<(u16, u16, Arc<dyn PortDevice>)>>);

impl PortSpace {
    fn device(&self, port: u16, width: u8) -> (Arc<dyn PortDevice>, u16) {
        let devices = self.0.lock();
        let found = devices.iter().find(|(base, size, _)| {
            port >= *base && u32::from(port - base) + u32::from(width) <= u32::from(*size)
        });
        let Some((base, _, device)) = found else {
            panic!("sim: {width}-byte port access at {port:#x}, which no device decodes (driver bug)");
        };
        (Arc::clone(device), port - base)
    }

    fn read(&self, port: u16, width: u8) -> u32 {
        // The device runs without the port table locked: it may reach the platform itself.
        let (device, offset) = self.device(port, width);
        device.read(offset, width)
    }

    fn write(&self, port: u16, width: u8, value: u32) {
        let (device, offset) = self.device(port, width);
        device.write(offset, width, value);
    }
}

impl IoPorts for PortSpace {
    fn read8(&self, port: u16) -> u8 {
        self.read(port, 1) as u8
    }
    fn read16(&self, port: u16) -> u16 {
        self.read(port, 2) as u16
    }
    fn read32(&self, port: u16) -> u32 {
        self.read(port, 4)
    }
    fn write8(&self, port: u16, value: u8) {
        self.write(port, 1, value.into());
    }
    fn write16(&self, port: u16, value: u16) {
        self.write(port, 2, value.into());
    }
    fn write32(&self, port: u16, value: u32) {
        self.write(port, 4, value);
    }
}

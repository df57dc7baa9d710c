//! Host-memory [`Platform`]s for tests: "MMIO" windows are plain buffers, DMA memory comes
//! from the global allocator (physical address = host address), and the clock advances by a
//! fixed step on every read so bounded waits end deterministically.

use alloc::alloc::{alloc_zeroed, dealloc, Layout};
use alloc::boxed::Box;
use alloc::vec::Vec;
use core::ptr::NonNull;
use core::sync::atomic::{AtomicU64, Ordering};

use alloc::sync::Arc;

use crate::device::{Irq, MmioRegion};
use crate::irq::{IrqError, IrqHandler, IrqReturn, IrqStats, LineGuard};
use crate::platform::{DmaRegion, Platform, PlatformError};

/// Nanoseconds the fake clock advances per `now_ns` call.
pub const CLOCK_STEP_NS: u64 = 1_000;

pub struct HostPlatform {
    windows: spin::Mutex<Vec<(u64, usize, usize)>>,
    clock: AtomicU64,
    /// Live DMA allocations: host address and the layout they were allocated with.
    dma: spin::Mutex<Vec<(usize, Layout)>>,
}

impl HostPlatform {
    /// A leaked platform, as `probe_all` wants a `&'static`.
    pub fn leaked() -> &'static HostPlatform {
        Box::leak(Box::new(HostPlatform { windows: spin::Mutex::new(Vec::new()), clock: AtomicU64::new(0), dma: spin::Mutex::new(Vec::new()) }))
    }

    /// Makes `phys..phys+len` map to `memory` (which must outlive the platform's users).
    pub fn add_window(&self, phys: u64, memory: &'static mut [u32]) {
        let len = core::mem::size_of_val(memory);
        self.windows.lock().push((phys, len, memory.as_mut_ptr() as usize));
    }

    /// Moves the clock on by `ns` (time passing while the test's CPU does something else).
    pub fn advance(&self, ns: u64) {
        self.clock.fetch_add(ns, Ordering::Relaxed);
    }

    /// DMA allocations not yet freed: a leak check for tests.
    pub fn dma_live(&self) -> usize {
        self.dma.lock().len()
    }
}

// SAFETY: `map_mmio` hands out pointers into the `'static` buffers given to `add_window` (the
// whole region checked to lie inside one), which no reference covers once handed over: the
// "device" is test code using the same memory, so volatile accesses need no device mapping.
// `dma_alloc` returns fresh zeroed global-allocator memory of the asked size and alignment
// (the bus address is the host address: the test's device reads it there), kept until
// `dma_free`, which frees only live allocations. The clock only advances.
unsafe impl Platform for HostPlatform {
    fn map_mmio(&self, region: MmioRegion) -> Result<NonNull<u8>, PlatformError> {
        let windows = self.windows.lock();
        let (phys, _, host) = windows
            .iter()
            .copied()
            .find(|&(phys, len, _)| region.base >= phys && region.base.saturating_add(region.size) <= phys + len as u64)
            .ok_or(PlatformError::NotMappable(region))?;
        NonNull::new((host + (region.base - phys) as usize) as *mut u8).ok_or(PlatformError::NotMappable(region))
    }

    fn dma_alloc(&self, size: usize, align: usize) -> Result<DmaRegion, PlatformError> {
        let layout = Layout::from_size_align(size.max(1), align).map_err(|_| PlatformError::OutOfMemory { size })?;
        // SAFETY: the layout has a non-zero size.
        let ptr = NonNull::new(unsafe { alloc_zeroed(layout) }).ok_or(PlatformError::OutOfMemory { size })?;
        self.dma.lock().push((ptr.as_ptr() as usize, layout));
        Ok(DmaRegion { virt: ptr, phys: ptr.as_ptr() as u64, size })
    }

    unsafe fn dma_free(&self, region: DmaRegion) {
        let address = region.virt.as_ptr() as usize;
        let mut live = self.dma.lock();
        let Some(position) = live.iter().position(|&(a, _)| a == address) else {
            panic!("dma_free of {address:#x}, which is not a live allocation");
        };
        let (_, layout) = live.swap_remove(position);
        // SAFETY: the pointer was returned by `alloc_zeroed` with exactly this layout and has
        // just been removed from the live list, so it is freed once.
        unsafe { dealloc(region.virt.as_ptr(), layout) }
    }

    fn now_ns(&self) -> u64 {
        self.clock.fetch_add(CLOCK_STEP_NS, Ordering::Relaxed)
    }
}

/// [`HostPlatform`] plus a software interrupt controller: drivers' handlers are kept per line
/// and run by [`fire`](IrqHostPlatform::fire), each line policed by a [`LineGuard`] as the
/// kernel's are (masked for a storm until `idle_until` finds the hold-off over); the
/// controller can start out "not probed yet" to exercise deferral.
pub struct IrqHostPlatform {
    pub host: &'static HostPlatform,
    controller_ready: core::sync::atomic::AtomicBool,
    lines: spin::Mutex<Vec<(u32, IrqHandler, Arc<IrqStats>)>>,
    guards: spin::Mutex<Vec<(u32, LineGuard)>>,
    freed: spin::Mutex<Vec<u32>>,
}

impl IrqHostPlatform {
    pub fn leaked(controller_ready: bool) -> &'static IrqHostPlatform {
        Box::leak(Box::new(IrqHostPlatform {
            host: HostPlatform::leaked(),
            controller_ready: core::sync::atomic::AtomicBool::new(controller_ready),
            lines: spin::Mutex::new(Vec::new()),
            guards: spin::Mutex::new(Vec::new()),
            freed: spin::Mutex::new(Vec::new()),
        }))
    }

    /// Lets `request_irq` succeed from now on (the controller's driver bound).
    pub fn set_controller_ready(&self) {
        self.controller_ready.store(true, Ordering::SeqCst);
    }

    /// What an interrupt path does: runs every handler on line `number` and counts its answer,
    /// then lets the line's guard decide whether to mask it. Returns false when the line is
    /// masked (the interrupt was dropped, as a controller would not have delivered it).
    pub fn fire(&self, number: u32) -> bool {
        let mut guards = self.guards.lock();
        let guard = match guards.iter().position(|(line, _)| *line == number) {
            Some(at) => &mut guards[at].1,
            None => {
                guards.push((number, LineGuard::new()));
                &mut guards.last_mut().expect("just pushed").1
            }
        };
        if guard.masked().is_some() {
            return false;
        }
        let mut lines = self.lines.lock();
        let mut claimed = false;
        for (line, handler, stats) in lines.iter_mut() {
            if *line == number {
                let outcome = handler();
                stats.record(outcome);
                claimed |= outcome == IrqReturn::Handled;
            }
        }
        if let Some(why) = guard.after_interrupt(claimed, || self.host.now_ns()) {
            lines.iter().filter(|(line, _, _)| *line == number).for_each(|(_, _, stats)| stats.set_masked(Some(why)));
        }
        true
    }

    /// Lines with a handler installed, in request order.
    pub fn installed(&self) -> Vec<u32> {
        self.lines.lock().iter().map(|(line, _, _)| *line).collect()
    }

    /// Lines freed so far, in order.
    pub fn freed(&self) -> Vec<u32> {
        self.freed.lock().clone()
    }
}

// SAFETY: memory (MMIO, DMA) is forwarded to the host platform above; handlers run only from
// `fire`, which holds the line table's lock (one call at a time), and `free_irq` removes them.
unsafe impl Platform for IrqHostPlatform {
    crate::forward_platform_memory!(host);

    fn now_ns(&self) -> u64 {
        self.host.now_ns()
    }

    fn request_irq(&self, irq: &Irq, handler: IrqHandler, stats: Arc<IrqStats>) -> Result<(), IrqError> {
        if !self.controller_ready.load(Ordering::SeqCst) {
            return Err(IrqError::ControllerNotReady(irq.controller.clone()));
        }
        let number = irq.number.ok_or_else(|| IrqError::Invalid(alloc::string::String::from("no interrupt number")))?;
        self.lines.lock().push((number, handler, stats));
        Ok(())
    }

    /// Enables every line whose storm hold-off is over (what the kernel's idle wait does).
    fn idle_until(&self, deadline_ns: u64) {
        let _ = deadline_ns;
        let now = self.host.now_ns();
        let mut guards = self.guards.lock();
        let lines = self.lines.lock();
        for (number, guard) in guards.iter_mut() {
            if guard.unmask_at().is_some_and(|at| at <= now) {
                guard.enabled();
                lines.iter().filter(|(line, _, _)| line == number).for_each(|(_, _, stats)| stats.set_masked(None));
            }
        }
    }

    fn free_irq(&self, irq: &Irq, stats: &Arc<IrqStats>) {
        let number = irq.number.unwrap_or(u32::MAX);
        self.lines.lock().retain(|(line, _, installed)| !(*line == number && Arc::ptr_eq(installed, stats)));
        self.freed.lock().push(number);
    }
}

/// Inside `impl Platform for Wrapper { .. }`: forwards `map_mmio`, `dma_alloc`, `dma_free` and
/// the DMA sync hooks and `io_ports` to the platform in field `$inner` (a reference), for test
/// platforms that change only the clock, interrupts or MSIs of the one they wrap.
#[macro_export]
macro_rules! forward_platform_memory {
    ($inner:ident) => {
        fn map_mmio(&self, region: $crate::MmioRegion) -> Result<core::ptr::NonNull<u8>, $crate::PlatformError> {
            $crate::Platform::map_mmio(self.$inner, region)
        }

        fn dma_alloc(&self, size: usize, align: usize) -> Result<$crate::platform::DmaRegion, $crate::PlatformError> {
            $crate::Platform::dma_alloc(self.$inner, size, align)
        }

        unsafe fn dma_free(&self, region: $crate::platform::DmaRegion) {
            // SAFETY: forwarded with the caller's guarantees.
            unsafe { $crate::Platform::dma_free(self.$inner, region) }
        }

        fn dma_sync_for_device(&self, phys: u64, len: usize, direction: $crate::DmaDirection) {
            $crate::Platform::dma_sync_for_device(self.$inner, phys, len, direction)
        }

        fn dma_sync_for_cpu(&self, phys: u64, len: usize, direction: $crate::DmaDirection) {
            $crate::Platform::dma_sync_for_cpu(self.$inner, phys, len, direction)
        }

        fn io_ports(&self) -> Option<&dyn $crate::IoPorts> {
            $crate::Platform::io_ports(self.$inner)
        }
    };
}

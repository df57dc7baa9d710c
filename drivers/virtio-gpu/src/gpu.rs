//! [`Gpu`]: bring-up (display info, a 2D resource backed by the framebuffer, shown on the first
//! enabled scanout) and flushes of damaged rectangles.

use registry::{DmaBuffer, DmaDirection, Platform};
use virtio::{Interrupt, LiveDevice, Transport, VirtioDevice, VirtioError};

use crate::control::{ControlQueue, Ticket};
use crate::protocol::{self, Response, ScanoutInfo, BYTES_PER_PIXEL, MAX_SCANOUTS};
use crate::{Framebuffer, GpuError, Rect};

/// The one resource the driver creates: the framebuffer.
const RESOURCE_ID: u32 = 1;
/// The largest display side accepted (16K): anything larger is a device making numbers up,
/// and the framebuffer's size still fits the 32-bit length of a backing entry.
const MAX_SIDE: u32 = 16384;
/// `num_scanouts` in `struct virtio_gpu_config` (after events_read and events_clear).
const CONFIG_NUM_SCANOUTS: usize = 8;

/// The display the driver drives.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct DisplayMode {
    pub scanout: u32,
    pub width: u32,
    pub height: u32,
}

/// A virtio GPU showing a framebuffer on one scanout.
///
/// The kernel draws into [`framebuffer`](Self::framebuffer) and makes a damaged rectangle
/// visible with [`flush`](Self::flush), or without waiting with
/// [`submit_flush`](Self::submit_flush), [`poll_completions`](Self::poll_completions) and
/// [`flush_outcome`](Self::flush_outcome).
pub struct Gpu {
    /// The control queue and the framebuffer, which the device reads during transfers.
    device: LiveDevice<(ControlQueue, DmaBuffer)>,
    mode: DisplayMode,
}

/// A flush in flight: the transfer of the rectangle to the host, then its flush to the screen.
#[must_use = "a flush's outcome must be taken, or its request slots stay busy"]
#[derive(Debug)]
pub struct FlushTicket {
    transfer: Ticket,
    flush: Ticket,
}

impl Gpu {
    /// Brings the device up and shows an all-black framebuffer on its first enabled scanout;
    /// every wait for the device goes through `interrupt`. On error the device is left FAILED
    /// (and reset, so it no longer uses the memory).
    pub fn new(device: VirtioDevice, platform: &'static dyn Platform, interrupt: Interrupt) -> Result<Self, GpuError> {
        let mut transport = device.transport;
        let control =
            start(transport.as_mut(), platform, interrupt).inspect_err(|_| virtio::fail_device(transport.as_mut()))?;
        let mut live = LiveDevice::new(transport, platform, control);
        let mode = read_mode(&mut live).map_err(|e| failing(&mut live, e))?;
        let bytes = mode.width as usize * mode.height as usize * BYTES_PER_PIXEL as usize;
        let framebuffer =
            DmaBuffer::new(platform, bytes, 4096).map_err(|error| failing(&mut live, VirtioError::Memory { what: "framebuffer", error }.into()))?;
        let mut gpu = Gpu { device: live.adding(framebuffer), mode };
        gpu.show_framebuffer(bytes as u32).map_err(|e| failing(&mut gpu.device, e))?;
        Ok(gpu)
    }

    /// Creates the resource, backs it with the framebuffer and puts it on the scanout.
    fn show_framebuffer(&mut self, bytes: u32) -> Result<(), GpuError> {
        let DisplayMode { scanout, width, height } = self.mode;
        let address = self.device.memory().1.phys();
        self.call(&protocol::resource_create_2d(RESOURCE_ID, width, height))?;
        self.call(&protocol::resource_attach_backing(RESOURCE_ID, address, bytes))?;
        self.call(&protocol::set_scanout(scanout, RESOURCE_ID, Rect::new(0, 0, width, height)))?;
        Ok(())
    }

    fn call(&mut self, request: &protocol::Request) -> Result<Response, GpuError> {
        let platform = self.device.platform();
        let (transport, (control, _)) = self.device.parts();
        control.call(transport, platform, request)
    }

    pub fn mode(&self) -> DisplayMode {
        self.mode
    }

    /// The framebuffer's memory, for the display class's framebuffer.
    pub(crate) fn framebuffer_memory(&self) -> &DmaBuffer {
        &self.device.memory().1
    }

    /// Reports the error that breaks the GPU from now on (and one that already did) to
    /// `health`, the registry's record of the device, so that `lsdev` shows it failed.
    pub fn report_failures_to(&mut self, health: registry::DeviceHealth) {
        let control = &mut self.device.parts().1 .0;
        control.report_failures_to(health);
    }

    /// The pixels to draw into; the screen shows them once flushed. `None` only if the
    /// memory does not hold the mode, which bring-up sized it for.
    pub fn framebuffer(&mut self) -> Option<Framebuffer<'_>> {
        let mode = crate::class::class_mode(self);
        Framebuffer::new(&self.device.memory().1, mode)
    }

    /// Makes `rect` of the framebuffer visible and waits until the device has done it.
    pub fn flush(&mut self, rect: Rect) -> Result<(), GpuError> {
        let ticket = self.submit_flush(rect)?;
        let platform = self.device.platform();
        let (transport, (control, _)) = self.device.parts();
        let transfer = control.wait(transport, platform, ticket.transfer);
        let flush = control.wait(transport, platform, ticket.flush);
        transfer.and(flush).map(drop)
    }

    /// Starts making `rect` visible: a transfer of the rectangle to the host resource, then
    /// its flush to the screen. The device processes the control queue in order (QEMU does;
    /// Linux queues a plane update's transfer and flush back to back the same way), so both
    /// go at once. Leave the framebuffer's rectangle alone until the flush is done.
    pub fn submit_flush(&mut self, rect: Rect) -> Result<FlushTicket, GpuError> {
        let DisplayMode { width, height, .. } = self.mode;
        if rect.is_empty() || !rect.fits(width, height) {
            return Err(GpuError::RectOutOfBounds { rect, width, height });
        }
        // Where the rectangle starts in the backing: QEMU copies each row from there, one
        // stride (the resource's width) apart.
        let offset = (u64::from(rect.y) * u64::from(width) + u64::from(rect.x)) * u64::from(BYTES_PER_PIXEL);
        // The backing is handed to the device for the transfer: what the CPU drew must reach it
        // (a platform without coherent DMA cleans its caches here). From the rectangle's first
        // pixel to its last, rows apart included; `fits` keeps it inside the framebuffer.
        let last_row = u64::from(rect.y + rect.height - 1) * u64::from(width);
        let end = (last_row + u64::from(rect.x + rect.width)) * u64::from(BYTES_PER_PIXEL);
        let platform = self.device.platform();
        let (transport, (control, framebuffer)) = self.device.parts();
        if control.free_slots() < 2 {
            return Err(GpuError::Busy);
        }
        platform.dma_sync_for_device(framebuffer.phys() + offset, (end - offset) as usize, DmaDirection::ToDevice);
        let transfer = control.submit(transport, &protocol::transfer_to_host_2d(RESOURCE_ID, rect, offset))?;
        match control.submit(transport, &protocol::resource_flush(RESOURCE_ID, rect)) {
            Ok(flush) => Ok(FlushTicket { transfer, flush }),
            Err(error) => {
                control.abandon(transfer);
                Err(error)
            }
        }
    }

    /// Collects what the device has finished. An error means the device broke the protocol:
    /// it is marked FAILED and the GPU refuses further work.
    pub fn poll_completions(&mut self) -> Result<(), GpuError> {
        let (transport, (control, _)) = self.device.parts();
        control.poll(transport)
    }

    /// The outcome of a flush once both its requests are collected, else `None`. The outcome
    /// is handed out once; after that the ticket is spent.
    pub fn flush_outcome(&mut self, ticket: &FlushTicket) -> Option<Result<(), GpuError>> {
        let control = &mut self.device.parts().1 .0;
        if !(control.is_done(ticket.transfer) && control.is_done(ticket.flush)) {
            return None;
        }
        let transfer = control.take(ticket.transfer)?;
        let flush = control.take(ticket.flush)?;
        Some(transfer.and(flush).map(drop))
    }
}

/// Steps 1-8 of device initialisation with the control queue.
fn start(
    transport: &mut dyn Transport,
    platform: &'static dyn Platform,
    interrupt: Interrupt,
) -> Result<ControlQueue, GpuError> {
    // No optional feature is used: no 3D (VIRGL), EDID, UUIDs or blob resources.
    let negotiated = virtio::init_device(transport, 0, platform)?;
    let control = ControlQueue::new(transport, platform, &negotiated, interrupt)?;
    virtio::finish_init(transport)?;
    Ok(control)
}

/// The first enabled scanout among those the config counts, checked.
fn read_mode(live: &mut LiveDevice<ControlQueue>) -> Result<DisplayMode, GpuError> {
    let platform = live.platform();
    let (transport, control) = live.parts();
    let count = transport.read_config_u32(CONFIG_NUM_SCANOUTS)?;
    let response = control.call(transport, platform, &protocol::get_display_info())?;
    let Response::DisplayInfo(scanouts) = response else {
        unreachable!("a display info request is only ever decoded into a display info response")
    };
    choose_mode(count, &scanouts)
}

fn choose_mode(count: u32, scanouts: &[ScanoutInfo; MAX_SCANOUTS]) -> Result<DisplayMode, GpuError> {
    let usable = usize::try_from(count)
        .ok()
        .filter(|c| (1..=MAX_SCANOUTS).contains(c))
        .ok_or(GpuError::BadScanoutCount(count))?;
    let (index, info) =
        scanouts[..usable].iter().enumerate().find(|(_, s)| s.enabled).ok_or(GpuError::NoEnabledScanout)?;
    let scanout = index as u32;
    let sensible = |side| (1..=MAX_SIDE).contains(&side);
    if !sensible(info.width) || !sensible(info.height) {
        return Err(GpuError::BadDisplaySize { scanout, width: info.width, height: info.height });
    }
    Ok(DisplayMode { scanout, width: info.width, height: info.height })
}

/// Marks the device FAILED (any error during bring-up is fatal) and passes the error on.
fn failing<M>(live: &mut LiveDevice<M>, error: GpuError) -> GpuError {
    virtio::fail_device(live.parts().0);
    error
}

#[cfg(test)]
mod tests {
    use super::*;

    fn scanouts(modes: &[(u32, u32, bool)]) -> [ScanoutInfo; MAX_SCANOUTS] {
        let mut all = [ScanoutInfo::default(); MAX_SCANOUTS];
        for (slot, &(width, height, enabled)) in all.iter_mut().zip(modes) {
            *slot = ScanoutInfo { width, height, enabled };
        }
        all
    }

    #[test]
    fn the_first_enabled_scanout_within_the_count_is_used() {
        let info = scanouts(&[(640, 480, false), (1024, 768, true), (800, 600, true)]);
        assert_eq!(choose_mode(3, &info), Ok(DisplayMode { scanout: 1, width: 1024, height: 768 }));
        assert_eq!(choose_mode(1, &info), Err(GpuError::NoEnabledScanout), "scanout 1 is beyond the count");
        assert_eq!(choose_mode(0, &info), Err(GpuError::BadScanoutCount(0)));
        assert_eq!(choose_mode(17, &info), Err(GpuError::BadScanoutCount(17)));
        assert_eq!(choose_mode(u32::MAX, &info), Err(GpuError::BadScanoutCount(u32::MAX)));
    }

    #[test]
    fn nonsense_sizes_are_refused() {
        for (width, height) in [(0, 0), (0, 600), (800, 0), (MAX_SIDE + 1, 600), (u32::MAX, u32::MAX)] {
            let info = scanouts(&[(width, height, true)]);
            assert_eq!(choose_mode(1, &info), Err(GpuError::BadDisplaySize { scanout: 0, width, height }));
        }
        let largest = scanouts(&[(MAX_SIDE, MAX_SIDE, true)]);
        assert_eq!(choose_mode(1, &largest).map(|m| m.width), Ok(MAX_SIDE));
    }
}


//! [`LiveDevice`]: a device together with the DMA memory it may access, torn down in the only
//! safe order: reset the device, then free the memory.

use alloc::boxed::Box;
use core::mem::ManuallyDrop;

use registry::Platform;

use crate::status::FAILED;
use crate::{fail_device, Transport};

/// A device's transport and the memory (queues, buffers) the device has been told about.
///
/// Dropping it resets the device (bounded by [`RESET_TIMEOUT_NS`](crate::RESET_TIMEOUT_NS)) so
/// it stops using the memory, and only then frees the memory. A device that does not reset may
/// still write to it: the memory is leaked rather than handed back to the allocator. A device
/// that was marked FAILED is marked FAILED again after the reset, so it still says so.
pub struct LiveDevice<M> {
    transport: Box<dyn Transport>,
    platform: &'static dyn Platform,
    memory: ManuallyDrop<M>,
}

impl<M> LiveDevice<M> {
    pub fn new(transport: Box<dyn Transport>, platform: &'static dyn Platform, memory: M) -> Self {
        LiveDevice { transport, platform, memory: ManuallyDrop::new(memory) }
    }

    pub fn platform(&self) -> &'static dyn Platform {
        self.platform
    }

    pub fn memory(&self) -> &M {
        &self.memory
    }

    /// The transport and the memory at once, e.g. to add to a queue and notify.
    pub fn parts(&mut self) -> (&mut dyn Transport, &mut M) {
        (self.transport.as_mut(), &mut self.memory)
    }

    /// Adds memory the device is about to be told about (e.g. a buffer allocated once the
    /// device's configuration is known).
    pub fn adding<N>(self, more: N) -> LiveDevice<(M, N)> {
        let mut this = ManuallyDrop::new(self);
        // SAFETY: `this` is never dropped or used after these reads, so the transport and the
        // memory are each moved out exactly once.
        let (transport, memory) = unsafe { (core::ptr::read(&this.transport), ManuallyDrop::take(&mut this.memory)) };
        LiveDevice { transport, platform: this.platform, memory: ManuallyDrop::new((memory, more)) }
    }
}

impl<M> Drop for LiveDevice<M> {
    fn drop(&mut self) {
        let was_failed = self.transport.get_status().is_ok_and(|status| status & FAILED != 0);
        if let Err(error) = self.transport.reset(self.platform) {
            log::warn!("virtio device {} did not reset ({error}); leaking its DMA memory", self.transport.device_id());
            return;
        }
        if was_failed {
            fail_device(self.transport.as_mut());
        }
        // SAFETY: the device is reset and no longer uses the memory; `drop` runs once and the
        // memory is not touched after this.
        unsafe { ManuallyDrop::drop(&mut self.memory) }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::sim::{BlockModel, Interface, Misbehaviour, SimDevice, SimPlatform};
    use crate::VirtQueue;

    /// A block device at DRIVER_OK whose queue lives in a `LiveDevice`.
    fn live_block_device() -> (SimDevice, &'static SimPlatform, LiveDevice<VirtQueue>) {
        let platform = SimPlatform::leaked();
        let device = SimDevice::new(platform, Interface::Modern, BlockModel::new(8));
        let mut transport = device.transport();
        let negotiated = crate::init_device(&mut transport, 0, platform).expect("init");
        let queue = VirtQueue::new(&mut transport, platform, &negotiated, 0, 16).expect("queue");
        crate::finish_init(&mut transport).expect("DRIVER_OK");
        (device.clone(), platform, LiveDevice::new(Box::new(transport), platform, queue))
    }

    #[test]
    fn dropping_resets_the_device_then_frees_the_memory() {
        let (device, platform, live) = live_block_device();
        let live = live.adding(registry::DmaBuffer::new(platform, 64, 8).expect("buffer"));
        assert_eq!(platform.host().dma_live(), 2);
        drop(live);
        assert_eq!((device.status(), platform.host().dma_live()), (0, 0));
    }

    #[test]
    fn a_failed_device_still_says_so_after_the_reset() {
        let (device, platform, mut live) = live_block_device();
        fail_device(live.parts().0);
        drop(live);
        assert_eq!(device.status(), FAILED);
        assert_eq!(device.status_writes().iter().rev().take(2).collect::<alloc::vec::Vec<_>>(), [&FAILED, &0]);
        assert_eq!(platform.host().dma_live(), 0);
    }

    #[test]
    fn memory_of_a_device_that_does_not_reset_is_leaked_not_freed() {
        let (device, platform, live) = live_block_device();
        device.misbehave(Misbehaviour::StuckReset);
        drop(live);
        assert_eq!(platform.host().dma_live(), 1, "the device may still write to it");
    }
}

//! The GPU as the registry's display class: [`DisplayClass`] puts the [`Gpu`] behind a lock
//! so that every call takes `&self`. Drawing and flushing both take the lock, so the device
//! never reads the framebuffer while the CPU writes it.

use alloc::format;

use registry::class::display::{self as class, DisplayError, DisplayMode, Framebuffer, PixelFormat};
use spin::Mutex;

use crate::{Gpu, Rect};

/// A virtio GPU as a `registry::class::Display`; what the driver publishes.
pub struct DisplayClass {
    gpu: Mutex<Gpu>,
}

impl DisplayClass {
    pub fn new(gpu: Gpu) -> Self {
        DisplayClass { gpu: Mutex::new(gpu) }
    }

    /// The driver's own interface (flush tickets), for code that knows it drives a virtio GPU:
    /// the driver's tests. Consumers use the class.
    pub fn lock(&self) -> spin::MutexGuard<'_, Gpu> {
        self.gpu.lock()
    }
}

pub(crate) fn class_mode(gpu: &Gpu) -> DisplayMode {
    let mode = gpu.mode();
    DisplayMode { width: mode.width, height: mode.height, format: PixelFormat::B8G8R8X8 }
}

impl class::Display for DisplayClass {
    fn mode(&self) -> DisplayMode {
        class_mode(&self.gpu.lock())
    }

    fn draw(&self, draw: &mut dyn FnMut(&mut Framebuffer<'_>)) {
        let gpu = self.gpu.lock();
        // The driver sized the memory for the mode when it bound the device.
        if let Some(mut framebuffer) = Framebuffer::new(gpu.framebuffer_memory(), class_mode(&gpu)) {
            draw(&mut framebuffer);
        }
    }

    fn flush(&self, rect: Rect) -> Result<(), DisplayError> {
        self.gpu.lock().flush(rect).map_err(|error| DisplayError(format!("{error}")))
    }
}

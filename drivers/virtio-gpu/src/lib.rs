//! The virtio-gpu driver (virtio 1.2, section 5.7): brings a GPU up on whatever virtio
//! transport with the 2D command set and gives the kernel a framebuffer to draw into, made
//! visible one damaged rectangle at a time.
//!
//! The driver binds virtio device ID 16 and publishes the GPU in the registry's display class
//! ([`DisplayClass`]: `registry.instances::<dyn registry::class::Display>()`), also kept as
//! its driver data (`Arc<DisplayClass>`, whose `lock` gives the [`Gpu`]). Every response type and size
//! the device writes is checked: an error response fails the request, a response that breaks
//! the protocol (or a lying used ring) marks the device FAILED.
#![no_std]
extern crate alloc;

mod class;
mod control;
mod driver;
mod error;
mod gpu;
mod protocol;

pub use class::DisplayClass;
pub use error::GpuError;
/// The display class's drawing types: one framebuffer implementation for the driver and
/// the class.
pub use registry::class::display::{Framebuffer, Rect, Rgb};
pub use gpu::{DisplayMode, FlushTicket, Gpu};

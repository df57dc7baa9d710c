//! The virtio block device driver (virtio 1.2, section 5.2), written against the virtio core's
//! transport trait, so the same code drives virtio-mmio and virtio-pci disks.
//!
//! The registry driver binds virtio device ID 2 and publishes the disk in the registry's block
//! class ([`BlockClass`]: `registry.instances::<dyn registry::class::BlockDevice>()`), which
//! also stays as its driver data (`Arc<BlockClass>`, whose `lock` gives the [`BlockDevice`]);
//! `lsdev` shows the capacity, block size, ID string, read-only flag and whether the device has
//! a cache to flush.
//!
//! A block layer sits on three calls: [`BlockDevice::submit`] queues a sector-addressed
//! [`Request`] (its data lives in a [`SectorBuffer`], DMA memory the request owns while the
//! device has it) and returns a [`Token`]; [`BlockDevice::poll`] hands back each finished request
//! as a [`Completion`], without waiting; [`BlockDevice::wait`] is the bounded, blocking form,
//! which sleeps until the device's interrupt (hooked at probe with `virtio::Interrupt`) and
//! polls only on a platform without interrupts. Many requests may be in flight and the
//! device completes them in any order. On top sit blocking helpers ([`BlockDevice::read`],
//! [`BlockDevice::write`], [`BlockDevice::flush`] and the streaming `read_with` / `write_with`)
//! that split a range into requests and keep several in flight.
//!
//! Every value from the device is checked: a configuration that makes no sense fails the probe;
//! a status byte other than OK / IOERR / UNSUPP, a short read, a ring violation or a timeout marks
//! the device FAILED, resets it so it lets go of request memory, and completes every request in
//! flight with the error. IOERR and UNSUPP fail only their request.
//!
//! [`pattern`] is the deterministic sector pattern the kernel shell and the host tests share.
#![no_std]
extern crate alloc;

mod blocking;
mod class;
mod config;
mod device;
mod driver;
mod error;
mod info;
pub mod pattern;
mod request;
mod slots;

pub use class::BlockClass;
pub use device::{BlockDevice, Refused, COMPLETION_TIMEOUT_NS};
pub use error::BlockError;
pub use info::{human_size, DiskInfo};
pub use request::{Completion, Request, RequestKind, SectorBuffer, Token, ID_BYTES, SECTOR_SIZE};

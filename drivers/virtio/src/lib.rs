//! Shared virtio logic: device-type names and the virtio-mmio bus driver, which binds
//! `virtio,mmio` device-tree nodes and creates one child virtio device per populated slot for
//! the net/blk/gpu drivers to match by virtio device ID.
#![no_std]
extern crate alloc;

pub mod ids;
pub mod mmio;

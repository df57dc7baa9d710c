//! The virtio-net driver (virtio 1.2, section 5.1): brings up a virtio network device on any
//! transport and moves Ethernet frames through it.
//!
//! The registry driver binds virtio device ID 1 and keeps a [`VirtioNet`] as its driver data
//! (reach it with `registry.driver_data::<virtio_net::VirtioNet>()`); `lsdev` shows its MAC,
//! link state and queue sizes. The NIC negotiates MAC and STATUS and no offloads: each receive
//! buffer holds one whole frame, the header is 12 bytes on modern devices and 10 on legacy
//! ones. The receive queue is kept full, several frames are in flight each way, and everything
//! the device reports is checked.
//!
//! With the `smoltcp` feature the NIC is a `smoltcp::phy::Device`, so a smoltcp `Interface`
//! runs on it directly.
#![no_std]
extern crate alloc;

mod driver;
mod error;
mod link;
mod nic;
mod packets;
#[cfg(feature = "smoltcp")]
mod phy;
mod rx;
mod tx;
mod wire;

pub use error::NetError;
pub use link::{Link, MacAddress};
pub use nic::VirtioNet;
pub use wire::{ETHERNET_HEADER_LEN, MAX_FRAME_LEN};

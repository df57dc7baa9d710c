//! The virtio-net driver (virtio 1.2, section 5.1): brings up a virtio network device on any
//! transport and moves Ethernet frames through it.
//!
//! The registry driver binds virtio device ID 1 and publishes the NIC in the registry's net
//! class ([`NetClass`]: `registry.instances::<dyn registry::class::NetDevice>()`), also kept as
//! its driver data (`Arc<NetClass>`, whose `lock` gives the [`VirtioNet`]); `lsdev` shows its MAC,
//! link state and queue sizes. The NIC negotiates MAC and STATUS and no offloads: each receive
//! buffer holds one whole frame, the header is 12 bytes on modern devices and 10 on legacy
//! ones. The receive queue is kept full, several frames are in flight each way, and everything
//! the device reports is checked.
//!
//! With the `smoltcp` feature the NIC is a `smoltcp::phy::Device`, so a smoltcp `Interface`
//! runs on it directly (the driver's tests use it; the kernel uses the class's adapter,
//! `registry::class::net_smoltcp::Phy`, which works for any NIC).
#![no_std]
extern crate alloc;

mod class;
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

pub use class::NetClass;
pub use error::NetError;
pub use link::{Link, MacAddress};
pub use nic::VirtioNet;
pub use wire::{ETHERNET_HEADER_LEN, MAX_FRAME_LEN};

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
//! smoltcp runs on the NIC through the net class's adapter (`registry::class::net_smoltcp::Phy`,
//! registry feature `smoltcp`), which works for any NIC.
#![no_std]
extern crate alloc;

mod class;
mod driver;
mod error;
mod link;
mod nic;
mod packets;
mod rx;
mod tx;
mod wire;

pub use class::NetClass;
pub use error::NetError;
pub use link::{Link, MacAddress};
pub use nic::VirtioNet;
pub use wire::{ETHERNET_HEADER_LEN, MAX_FRAME_LEN};

//! `peer` (feature `virtio-drivers-peer`): the same benchmarks as `bench`, on the virtio-drivers
//! crate from crates.io instead of our drivers, on the same QEMU devices in the same boot.
//!
//! The peer takes a device over from the registry: it finds the virtio-mmio slot our driver's
//! device sits on, unbinds that slot (`Registry::remove`: our driver's state is dropped, which
//! resets the device and frees its memory) and hands the slot's MMIO window, from the registry's
//! device data, to virtio-drivers' MMIO transport. So one kernel image measures both drivers on
//! one device, and our drivers stay linked exactly as in the tests. The peer only drives
//! virtio-mmio slots (legacy or modern); it does not do virtio-pci.

mod disk;
mod hal;
mod nic;

use alloc::format;
use alloc::string::String;
use core::ptr::NonNull;

use registry::{DeviceIds, Platform, Registry};
use spin::Mutex;
use virtio_drivers::device::blk::VirtIOBlk;
use virtio_drivers::device::net::VirtIONet;
use virtio_drivers::transport::mmio::MmioTransport;
use virtio_drivers::transport::{DeviceType, Transport};

use super::bench::{self, disk as workloads, tcp};
use super::{shell_command, Command};
use crate::platform::PLATFORM;
use disk::PeerDisk;
use nic::PeerNic;

const USAGE: &str = "usage: peer blk SEQ_MIB RANDOM_REQUESTS FLUSHES | peer net sink PORT | peer net source PORT BYTES | peer net echo PORT";

shell_command!(PEER = Command {
    name: "peer",
    usage: "peer blk|net ...     the bench workloads on the virtio-drivers crate (takes the device over)",
    run: peer,
});

/// The devices taken over so far; they stay with the peer until power off.
static TAKEN: Mutex<Taken> = Mutex::new(Taken { disk: None, nic: None });

struct Taken {
    disk: Option<PeerDisk>,
    nic: Option<PeerNic>,
}

fn peer(registry: &mut Registry, args: &[&str]) {
    let mut taken = TAKEN.lock();
    let outcome = match args {
        ["blk", rest @ ..] => match bench::volume(rest) {
            Some(volume) => peer_disk(registry, &mut taken.disk).and_then(|disk| workloads::suite(disk, "peer.blk", &volume)),
            None => Err(String::from(USAGE)),
        },
        ["net", rest @ ..] => match bench::role(rest) {
            Some((role, prefix)) => peer_nic(registry, &mut taken.nic).and_then(|nic| {
                let mac = nic.mac();
                // virtio-drivers has no interrupt here: its loop never idles.
                let outcome = tcp::run(nic, mac, role, &format!("peer.{prefix}"), |_, _| {});
                outcome.map_err(|e| nic.failure().map_or(e, |failure| format!("virtio-drivers: {failure}")))
            }),
            None => Err(String::from(USAGE)),
        },
        _ => Err(String::from(USAGE)),
    };
    match outcome {
        Ok(()) => println!("peer: done"),
        Err(error) => println!("peer: failed: {error}"),
    }
}

fn peer_disk<'a>(registry: &mut Registry, disk: &'a mut Option<PeerDisk>) -> Result<&'a mut PeerDisk, String> {
    if disk.is_none() {
        let transport = take_over(registry, virtio::ids::BLOCK, DeviceType::Block)?;
        let blk = VirtIOBlk::new(transport).map_err(|e| format!("virtio-drivers: {e}"))?;
        *disk = Some(PeerDisk::new(blk));
    }
    disk.as_mut().ok_or_else(|| String::from("no disk"))
}

fn peer_nic<'a>(registry: &mut Registry, nic: &'a mut Option<PeerNic>) -> Result<&'a mut PeerNic, String> {
    if nic.is_none() {
        let transport = take_over(registry, virtio::ids::NET, DeviceType::Network)?;
        let net = VirtIONet::new(transport, nic::BUFFER_LEN).map_err(|e| format!("virtio-drivers: {e}"))?;
        *nic = Some(PeerNic::new(net));
    }
    nic.as_mut().ok_or_else(|| String::from("no NIC"))
}

/// Unbinds the first virtio-mmio slot holding a virtio device `virtio_id` and returns
/// virtio-drivers' transport on its registers.
fn take_over(registry: &mut Registry, virtio_id: u32, expected: DeviceType) -> Result<MmioTransport<'static>, String> {
    let is_mmio_slot = |ids: &DeviceIds| matches!(ids, DeviceIds::Compatible(list) if list.iter().any(|c| c == "virtio,mmio"));
    let slot = registry
        .devices()
        .filter(|device| device.ids == DeviceIds::Virtio { device_id: virtio_id })
        .filter_map(|device| registry.get(device.parent?))
        .find(|parent| is_mmio_slot(&parent.ids))
        .ok_or_else(|| format!("no virtio device {virtio_id} on a virtio-mmio slot (the peer does not do virtio-pci)"))?;
    let (slot_id, region) = (slot.id, *slot.regions.first().ok_or("the virtio-mmio slot has no registers")?);
    registry.remove(slot_id);
    let registers = PLATFORM.map_mmio(region).map_err(|e| format!("{e}"))?;
    let size = usize::try_from(region.size).map_err(|_| "the slot's window does not fit the address space")?;
    // SAFETY: the window is the slot's device memory, mapped for the kernel's life; the slot is
    // unbound, so nothing else uses its registers from now on.
    let transport = unsafe { MmioTransport::new(NonNull::cast(registers), size) }.map_err(|e| format!("virtio-drivers: {e}"))?;
    match transport.device_type() {
        found if found == expected => Ok(transport),
        found => Err(format!("the slot now holds a {found:?}")),
    }
}

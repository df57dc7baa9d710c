//! `bench`: the guest side of `cargo xtask bench` on our drivers. Every figure is printed as a
//! machine-readable line, `BENCH name=value unit`, which the host collects.
//!
//! The workloads are generic (`disk::QueuedDisk`, any `smoltcp::phy::Device`), so the
//! virtio-drivers peer (`peer`, feature `virtio-drivers-peer`) runs exactly the same code.
//!
//! Our drivers are reached through their classes (the disk `blkN`, the NIC `net0`). Two modes,
//! the same workload code: by default our drivers wait as the kernel always has them wait,
//! asleep until their device's interrupt (the disk in the block class's `wait`, the NIC's loop
//! in the net class's `idle_until`); `bench poll ...` runs it in `platform::polled`, where the
//! CPU takes no interrupts and those same waits spin, as on a kernel without interrupts.

pub(crate) mod disk;
pub(crate) mod tcp;

use alloc::format;
use alloc::string::String;
use alloc::sync::Arc;
use alloc::vec::Vec;

use registry::class::block::{BlockCompletion, BlockOp, BlockToken, SECTOR_SIZE};
use registry::class::net_smoltcp::Phy;
use registry::class::{BlockDevice, NetDevice};
use registry::{DmaBuffer, Registry};

use super::{shell_command, Command};
use disk::{Op, QueuedDisk, Volume};

const USAGE: &str = "usage: bench [poll] blk DISK SEQ_MIB RANDOM_REQUESTS FLUSHES | bench [poll] net sink PORT | bench [poll] net source PORT BYTES | bench [poll] net echo PORT";

shell_command!(BENCH = Command {
    name: "bench",
    usage: "bench [poll] blk|net ...  benchmarks of our drivers for cargo xtask bench (BENCH lines)",
    run: bench,
});

fn bench(registry: &mut Registry, args: &[&str]) {
    let outcome = match args {
        ["poll", rest @ ..] => crate::platform::polled(|| workload(registry, rest)),
        _ => workload(registry, args),
    };
    match outcome {
        Ok(()) => println!("bench: done"),
        Err(error) => println!("bench: failed: {error}"),
    }
}

fn workload(registry: &mut Registry, args: &[&str]) -> Result<(), String> {
    match args {
        ["blk", disk, rest @ ..] => match volume(rest) {
            Some(volume) => blk(registry, disk, &volume),
            None => Err(String::from(USAGE)),
        },
        ["net", rest @ ..] => match (role(rest), registry.instances::<dyn NetDevice>().into_iter().next()) {
            (None, _) => Err(String::from(USAGE)),
            (Some(_), None) => Err(String::from("no NIC is bound")),
            (Some((role, prefix)), Some(nic)) => {
                let mac = nic.device.mac().0;
                let mut phy = Phy::new(Arc::clone(&nic.device));
                let outcome = tcp::run(&mut phy, mac, role, prefix, |phy: &Phy, deadline| phy.nic().idle_until(deadline));
                outcome.map_err(|e| nic.device.error().map_or(e, |nic_error| format!("NIC failed: {nic_error}")))
            }
        },
        _ => Err(String::from(USAGE)),
    }
}

fn blk(registry: &mut Registry, name: &str, volume: &Volume) -> Result<(), String> {
    let disk = super::blk::find_disk(registry, name).ok_or_else(|| format!("no disk {name} (blk list shows them)"))?;
    disk::suite(&mut OurDisk { disk, buffers: Vec::new(), in_flight: Vec::new() }, "blk", volume)
}

/// `SEQ_MIB RANDOM_REQUESTS FLUSHES`, shared with the peer's command.
pub(crate) fn volume(args: &[&str]) -> Option<Volume> {
    match args {
        [sequential, random, flushes] => Some(Volume {
            sequential_mib: sequential.parse().ok()?,
            random_requests: random.parse().ok()?,
            flushes: flushes.parse().ok()?,
        }),
        _ => None,
    }
}

/// `sink PORT`, `source PORT BYTES` or `echo PORT`, with the prefix of their `BENCH` lines;
/// shared with the peer's command.
pub(crate) fn role(args: &[&str]) -> Option<(tcp::Role, &'static str)> {
    match args {
        ["sink", port] => Some((tcp::Role::Sink(port.parse().ok()?), "net.rx")),
        ["source", port, bytes] => Some((tcp::Role::Source(port.parse().ok()?, bytes.parse().ok()?), "net.tx")),
        ["echo", port] => Some((tcp::Role::Echo(port.parse().ok()?), "net.echo")),
        _ => None,
    }
}

/// Prints one figure for the host.
pub(crate) fn report(name: &str, value: f64, unit: &str) {
    println!("BENCH {name}={value:.3} {unit}");
}

/// Random request placement (xorshift64): cheap, and good enough to defeat any readahead.
pub(crate) struct Rng(u64);

impl Rng {
    pub(crate) fn new(seed: u64) -> Rng {
        Rng(seed | 1)
    }

    pub(crate) fn next(&mut self) -> u64 {
        self.0 ^= self.0 << 13;
        self.0 ^= self.0 >> 7;
        self.0 ^= self.0 << 17;
        self.0
    }
}

/// A disk of the block class (our virtio-blk driver) behind [`QueuedDisk`]: each slot's buffer
/// travels with its request while the device has it.
struct OurDisk {
    disk: Arc<dyn BlockDevice>,
    buffers: Vec<Option<DmaBuffer>>,
    /// The token of each request in flight and the slot it came from.
    in_flight: Vec<(BlockToken, usize)>,
}

impl QueuedDisk for OurDisk {
    fn capacity_sectors(&self) -> u64 {
        self.disk.info().capacity
    }

    fn max_request_bytes(&self) -> usize {
        self.disk.info().max_request_sectors as usize * SECTOR_SIZE
    }

    /// Bounded only by the queue, which refuses a request it has no room for.
    fn max_depth(&self) -> Option<usize> {
        None
    }

    fn prepare(&mut self, depth: usize, bytes: usize) -> Result<(), String> {
        if !self.in_flight.is_empty() {
            return Err(String::from("requests of an earlier run are still in flight"));
        }
        let sectors = (bytes / disk::SECTOR) as u32;
        let ready = self.buffers.len() == depth && self.buffers.iter().flatten().all(|b| b.len() == bytes);
        if !ready {
            self.buffers.clear();
            for _ in 0..depth {
                self.buffers.push(Some(self.disk.buffer(sectors).map_err(|e| format!("{e}"))?));
            }
        }
        Ok(())
    }

    fn start(&mut self, slot: usize, op: Op, sector: u64) -> Result<(), String> {
        let buffer = self.buffers.get_mut(slot).and_then(Option::take).ok_or("the slot's buffer is in flight")?;
        let op = match op {
            Op::Read => BlockOp::Read,
            Op::Write => BlockOp::Write,
        };
        match self.disk.submit(op, sector, buffer) {
            Ok(token) => {
                self.in_flight.push((token, slot));
                Ok(())
            }
            Err(refused) => {
                self.buffers[slot] = refused.buffer;
                Err(format!("{}", refused.error))
            }
        }
    }

    fn poll(&mut self) -> Result<Option<usize>, String> {
        let done = self.disk.poll();
        self.finished(done)
    }

    /// Asleep until the disk's interrupt (spinning in `bench poll`), up to the driver's
    /// completion timeout, after which the disk has failed.
    fn wait(&mut self) -> Result<Option<usize>, String> {
        let done = self.disk.wait();
        self.finished(done)
    }

    fn flush(&mut self) -> Result<(), String> {
        self.disk.flush().map_err(|e| format!("{e}"))
    }
}

impl OurDisk {
    /// Gives a finished request's buffer back to its slot; the slot, or the request's error.
    fn finished(&mut self, done: Option<BlockCompletion>) -> Result<Option<usize>, String> {
        let Some(done) = done else { return Ok(None) };
        // Only this run's requests are in flight (prepare checks), so the token is ours.
        let at = self.in_flight.iter().position(|(token, _)| *token == done.token).ok_or("a completion for a request not submitted")?;
        let (_, slot) = self.in_flight.swap_remove(at);
        self.buffers[slot] = done.buffer;
        done.result.map_err(|e| format!("{e}"))?;
        Ok(Some(slot))
    }
}

//! The block benchmarks, written once against [`QueuedDisk`] so that our virtio-blk driver and
//! the virtio-drivers peer run exactly the same workloads: sequential 64 KiB and 1 MiB I/O,
//! 4 KiB random I/O at queue depth 1 and 32, and a 4 KiB write followed by a flush.

use alloc::format;
use alloc::string::String;
use alloc::vec::Vec;

use super::{report, Rng};
use crate::arch;

/// The protocol's sector.
pub const SECTOR: usize = 512;
/// A disk that goes this long without completing a request has failed the benchmark.
const IDLE_LIMIT_NS: u64 = 10_000_000_000;
const KIB: usize = 1024;
const MIB: usize = 1024 * KIB;
/// Random I/O stays within this much of the disk (or the whole disk, if smaller).
const RANDOM_SPAN_BYTES: u64 = 256 << 20;

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Op {
    Read,
    Write,
}

/// A disk driven through a submit / poll interface with several requests in flight, each on
/// a buffer "slot" the disk owns.
pub trait QueuedDisk {
    fn capacity_sectors(&self) -> u64;
    /// The largest request the driver takes, in bytes.
    fn max_request_bytes(&self) -> usize;
    /// The most requests the driver can have in flight, if it has a fixed limit.
    fn max_depth(&self) -> Option<usize>;
    /// Makes `depth` buffer slots of `bytes` each ready (nothing may be in flight).
    fn prepare(&mut self, depth: usize, bytes: usize) -> Result<(), String>;
    /// Submits `op` on the buffer of `slot`, at `sector`.
    fn start(&mut self, slot: usize, op: Op, sector: u64) -> Result<(), String>;
    /// The slot of a finished request, if one has finished; never waits.
    fn poll(&mut self) -> Result<Option<usize>, String>;
    /// Like `poll`, but with requests in flight, waits for one to finish, the way the driver
    /// waits (asleep until an interrupt, for ours). A driver without a wait of its own
    /// returns at once: its caller polls again.
    fn wait(&mut self) -> Result<Option<usize>, String> {
        Ok(None)
    }
    /// Makes completed writes durable; waits for it.
    fn flush(&mut self) -> Result<(), String>;
}

/// How much each benchmark moves: `cargo xtask bench` picks it (smaller with `--quick`).
pub struct Volume {
    pub sequential_mib: u64,
    pub random_requests: u64,
    pub flushes: u64,
}

/// Runs every block benchmark on `disk` and prints a `BENCH` line per figure, under `prefix`
/// (`blk` or `peer.blk`).
pub fn suite(disk: &mut dyn QueuedDisk, prefix: &str, volume: &Volume) -> Result<(), String> {
    let sequential_bytes = volume.sequential_mib * MIB as u64;
    for (op, name) in [(Op::Read, "read"), (Op::Write, "write")] {
        for (io_bytes, size) in [(64 * KIB, "64k"), (MIB, "1m")] {
            let shape = Shape::of(disk, io_bytes, 1);
            let requests = sequential_bytes / shape.request_bytes as u64;
            let ns = run(disk, op, &shape, requests, None)?;
            let mib_per_s = sequential_bytes as f64 / MIB as f64 / seconds(ns);
            report(&format!("{prefix}.seq_{name}_{size}"), mib_per_s, "MiB/s");
            shape.describe(&format!("{prefix}.seq_{name}_{size}"));
        }
        for depth in [1, 32] {
            let shape = Shape::of(disk, 4 * KIB, depth);
            let span = disk.capacity_sectors().min(RANDOM_SPAN_BYTES / SECTOR as u64);
            let ns = run(disk, op, &shape, volume.random_requests, Some(span))?;
            let name = format!("{prefix}.rand_{name}_4k_qd{depth}");
            report(&name, volume.random_requests as f64 / seconds(ns), "IOPS");
            shape.describe(&name);
        }
    }
    let micros = write_and_flush(disk, volume.flushes)?;
    report(&format!("{prefix}.write_flush_4k"), micros, "us");
    Ok(())
}

/// What a benchmark's I/O becomes on a given driver: an I/O larger than the driver's largest
/// request is split into requests submitted together; a depth beyond its fixed limit is capped.
struct Shape {
    request_bytes: usize,
    depth: usize,
}

impl Shape {
    fn of(disk: &dyn QueuedDisk, io_bytes: usize, io_depth: usize) -> Shape {
        let request_bytes = io_bytes.min(disk.max_request_bytes());
        let depth = io_depth * io_bytes.div_ceil(request_bytes);
        Shape { request_bytes, depth: disk.max_depth().map_or(depth, |max| depth.min(max)) }
    }

    /// Says how the figure was obtained, for the table's notes.
    fn describe(&self, name: &str) {
        report(&format!("{name}.request"), (self.request_bytes / KIB) as f64, "KiB");
        report(&format!("{name}.depth"), self.depth as f64, "requests");
    }
}

/// Runs `requests` requests of `shape`, keeping `shape.depth` in flight: sequential from
/// sector 0 (wrapping around the disk), or at random block-aligned places in the first `span`
/// sectors. Returns the nanoseconds it took.
fn run(disk: &mut dyn QueuedDisk, op: Op, shape: &Shape, requests: u64, span: Option<u64>) -> Result<u64, String> {
    disk.prepare(shape.depth, shape.request_bytes)?;
    let request_sectors = (shape.request_bytes / SECTOR) as u64;
    let places = span.unwrap_or(disk.capacity_sectors()) / request_sectors;
    if places == 0 {
        return Err(format!("the disk is smaller than one {} KiB request", shape.request_bytes / KIB));
    }
    let mut rng = Rng::new(arch::now_ns());
    let mut free: Vec<usize> = (0..shape.depth).collect();
    let (mut started, mut finished) = (0u64, 0u64);
    let start = arch::now_ns();
    let mut last_progress = start;
    while finished < requests {
        while started < requests {
            let Some(slot) = free.pop() else { break };
            let place = if span.is_some() { rng.next() % places } else { started % places };
            disk.start(slot, op, place * request_sectors)?;
            started += 1;
        }
        let done = match disk.poll()? {
            Some(slot) => Some(slot),
            None => disk.wait()?,
        };
        let now = arch::now_ns();
        match done {
            Some(slot) => {
                free.push(slot);
                finished += 1;
                last_progress = now;
            }
            None if now - last_progress > IDLE_LIMIT_NS => {
                return Err(format!("no request completed for {} s", IDLE_LIMIT_NS / 1_000_000_000));
            }
            None => {}
        }
    }
    Ok(arch::now_ns() - start)
}

/// The mean time of a 4 KiB write followed by a flush, in microseconds: what a journaling
/// file system's commit costs.
fn write_and_flush(disk: &mut dyn QueuedDisk, count: u64) -> Result<f64, String> {
    let one = Shape { request_bytes: 4 * KIB, depth: 1 };
    let start = arch::now_ns();
    for _ in 0..count {
        run(disk, Op::Write, &one, 1, None)?;
        disk.flush()?;
    }
    Ok((arch::now_ns() - start) as f64 / 1000.0 / count.max(1) as f64)
}

fn seconds(ns: u64) -> f64 {
    ns.max(1) as f64 / 1e9
}

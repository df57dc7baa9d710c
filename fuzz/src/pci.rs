//! A PCI configuration space built from the fuzzer's bytes on `bus_pci::sim` (functions,
//! bridges with buses behind them, BARs that size like real ones, capability lists, and raw
//! register words on top), optionally with every read disturbed by more fuzzer bytes (a
//! function whose registers change under the scanner). Then everything the kernel does with
//! it: enumeration, BAR sizing and assignment from fuzzer-chosen host windows, capability
//! walks, the registry devices of a PC host, and each function's MSI-X table lookup, enable
//! and disable.

use std::ptr::NonNull;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, OnceLock};

use bus_pci::assign::{self, HostWindows, Window};
use bus_pci::msix::MsixTable;
use bus_pci::sim::{SimBar, SimBus, SimConfig, SimFunction};
use bus_pci::{Bdf, ConfigAccess, PcPciBus, PciFunction};
use registry::platform::DmaRegion;
use registry::{Bus, DeviceSpec, MmioRegion, MsiMessage, Platform, PlatformError};

use crate::Bytes;

/// Bridges nest at most this deep in a generated tree (the scanner's own limit is tested
/// elsewhere; deeper trees only cost input bytes).
const MAX_DEPTH: usize = 4;

fn sim_bus(input: &mut Bytes, depth: usize) -> SimBus {
    let mut bus = SimBus::new();
    for _ in 0..input.u8() % 6 {
        bus = bus.with(sim_function(input, depth));
    }
    bus
}

fn sim_function(input: &mut Bytes, depth: usize) -> SimFunction {
    let kind = input.u8();
    let (device, function) = (input.u8() % 32, input.u8() % 8);
    let (vendor, id, class) = (input.u16(), input.u16(), input.u32() & 0xff_ffff);
    let mut f = match kind & 1 != 0 && depth < MAX_DEPTH {
        true => SimFunction::bridge(device, function, sim_bus(input, depth + 1)),
        false => SimFunction::endpoint(device, function, vendor, id, class),
    };
    if kind & 2 != 0 {
        f = f.multi_function();
    }
    let bars = input.u8();
    let mut index = 0;
    while index < 6 {
        if bars & (1 << index) != 0 {
            let bar = sim_bar(input.u8());
            f = f.bar(index, bar);
            index += usize::from(bar.is_64bit);
        }
        index += 1;
    }
    f = f.interrupt(input.u8(), input.u8());
    let caps: Vec<(u8, Vec<u8>)> = (0..input.u8() % 8)
        .map(|_| {
            let (id, len) = (input.u8(), usize::from(input.u8() % 15));
            (id, input.take(len).to_vec())
        })
        .collect();
    if !caps.is_empty() {
        let caps: Vec<(u8, &[u8])> = caps.iter().map(|(id, body)| (*id, body.as_slice())).collect();
        f = f.capabilities(&caps);
    }
    for _ in 0..input.u8() % 8 {
        f = f.word(input.u16() % 4096 & !3, input.u32());
    }
    f
}

/// A BAR decoder from one byte: kind in the top two bits, size as a power of two below.
fn sim_bar(byte: u8) -> SimBar {
    let shift = u32::from(byte & 0x3f);
    match byte >> 6 {
        0 => SimBar::io(1 << shift.clamp(2, 16)),
        1 => SimBar::memory32(1 << shift.clamp(4, 31)),
        kind => SimBar::memory64(1 << shift.clamp(4, 48), kind == 3),
    }
}

fn window(input: &mut Bytes) -> Option<Window> {
    input.bool().then(|| Window { pci_base: input.u64(), cpu_base: input.u64(), size: input.u64() })
}

/// The simulated space, each read XORed with the next fuzzer word while there are any.
struct Disturbed {
    config: SimConfig,
    noise: Vec<u8>,
    next: AtomicU64,
}

impl ConfigAccess for Disturbed {
    fn read32(&self, bdf: Bdf, offset: u16) -> u32 {
        let at = self.next.fetch_add(4, Ordering::Relaxed) as usize;
        let mut word = [0u8; 4];
        if let Some(bytes) = self.noise.get(at..at + 4) {
            word.copy_from_slice(bytes);
        }
        self.config.read32(bdf, offset) ^ u32::from_le_bytes(word)
    }

    fn write32(&self, bdf: Bdf, offset: u16, value: u32) {
        self.config.write32(bdf, offset, value)
    }
}

/// A platform whose every MMIO mapping is one scratch buffer (the MSI-X table lands there
/// whatever its BAR's address), with no DMA; a clock that only moves forward.
struct ScratchPlatform {
    scratch: usize,
    clock: AtomicU64,
}

const SCRATCH_BYTES: usize = 64 * 1024;

fn scratch_platform() -> &'static ScratchPlatform {
    static PLATFORM: OnceLock<&'static ScratchPlatform> = OnceLock::new();
    PLATFORM.get_or_init(|| {
        let scratch: &'static mut [u32] = Box::leak(vec![0u32; SCRATCH_BYTES / 4].into_boxed_slice());
        Box::leak(Box::new(ScratchPlatform { scratch: scratch.as_mut_ptr() as usize, clock: AtomicU64::new(0) }))
    })
}

// SAFETY: `map_mmio` returns the start of a leaked (never freed) allocation of SCRATCH_BYTES,
// and refuses larger regions, so a window stays inside memory that stays valid; it gives out
// no DMA memory at all.
unsafe impl Platform for ScratchPlatform {
    fn map_mmio(&self, region: MmioRegion) -> Result<NonNull<u8>, PlatformError> {
        if region.size > SCRATCH_BYTES as u64 {
            return Err(PlatformError::NotMappable(region));
        }
        NonNull::new(self.scratch as *mut u8).ok_or(PlatformError::NotMappable(region))
    }

    fn dma_alloc(&self, size: usize, _align: usize) -> Result<DmaRegion, PlatformError> {
        Err(PlatformError::OutOfMemory { size })
    }

    unsafe fn dma_free(&self, _region: DmaRegion) {
        unreachable!("dma_alloc never succeeds")
    }

    fn now_ns(&self) -> u64 {
        self.clock.fetch_add(1_000, Ordering::Relaxed)
    }
}

/// Every function's MSI-X table: found, enabled with up to `messages` messages, disabled.
fn exercise(specs: &mut [DeviceSpec], messages: usize) {
    for spec in specs {
        if let Some(function) = spec.bus_data.take().and_then(|data| data.downcast::<PciFunction>().ok()) {
            for index in 0..6 {
                let _ = function.memory_bar(index);
            }
            function.enable(true);
            if let Ok(Some(table)) = MsixTable::find(&function, scratch_platform()) {
                let count = messages.min(usize::from(table.vectors()) + 1);
                let messages: Vec<MsiMessage> =
                    (0..count).map(|i| MsiMessage { address: 0xfee0_0000, data: i as u32 }).collect();
                let _ = table.enable(&function, &messages);
                table.disable(&function);
            }
        }
        exercise(&mut spec.children, messages);
    }
}

pub fn run(data: &[u8]) {
    let mut input = Bytes::new(data);
    let flags = input.u8();
    let (first_bus, last_bus) = (input.u8(), input.u8());
    let windows = HostWindows { io: window(&mut input), memory32: window(&mut input), memory64: window(&mut input) };
    let messages = usize::from(input.u8() % 8);
    let root = sim_bus(&mut input, 0);
    let config = SimConfig::new(first_bus, root);
    let config: Arc<dyn ConfigAccess> = match flags & 1 != 0 {
        true => Arc::new(Disturbed { config, noise: input.rest().to_vec(), next: AtomicU64::new(0) }),
        false => Arc::new(config),
    };

    let mut scan = bus_pci::scan::scan(config.as_ref(), first_bus, last_bus);
    if !windows.all_assigned(&scan) {
        let _ = assign::assign(config.as_ref(), &mut scan, first_bus, &windows);
    }
    for function in &scan.functions {
        for bar in &function.bars {
            let _ = windows.to_cpu(bar.kind, bar.address, bar.size);
        }
        if let Err(error) = &function.capabilities {
            let _ = error.to_string();
        }
    }
    // The registry devices a PC's host makes of the same space, after the assignment.
    let host = PcPciBus::new(Arc::clone(&config), "pci", first_bus, last_bus);
    if let Ok(mut specs) = host.enumerate() {
        exercise(&mut specs, messages);
    }
}

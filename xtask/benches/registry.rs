//! Host benchmark of the registry code `lsdev` runs, printed as `BENCH name=value unit` lines
//! for `cargo xtask bench` (which runs it optimised, through `cargo bench`):
//!
//! - `registry::plan` on the DTBs the tests use (parse, enumerate, match), per blob;
//! - plan and the `lsdev` text on synthetic device trees of 10 to 10,000 nodes, per node, so a
//!   cost that grows faster than the node count shows as a growing per-node figure;
//! - the match lookup per device, on flat buses of pre-built devices (no device tree), for
//!   each kind of identity.
//!
//! `--runs=N` samples per figure (each the mean of enough calls to take a few milliseconds);
//! `--quick` shortens the sampling.

use std::collections::HashMap;
use std::hint::black_box;
use std::path::PathBuf;
use std::time::{Duration, Instant};

use registry::{Bus, BusAddress, BusError, DeviceIds, DeviceSpec, PciIds};

const SYNTHETIC_NODES: [usize; 4] = [10, 100, 1_000, 10_000];
const FLAT_DEVICES: usize = 10_000;

fn main() {
    let args: Vec<String> = std::env::args().skip(1).collect();
    let quick = args.iter().any(|a| a == "--quick");
    let runs = args.iter().find_map(|a| a.strip_prefix("--runs=")?.parse().ok()).unwrap_or(5);
    let sampling = Sampling { runs, at_least: Duration::from_millis(if quick { 5 } else { 50 }) };

    let dtb_dir = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../tests/dtb");
    let mut dtbs: Vec<PathBuf> = std::fs::read_dir(&dtb_dir)
        .expect("tests/dtb is in the repository")
        .filter_map(|entry| Some(entry.ok()?.path()))
        .filter(|path| path.extension().is_some_and(|e| e == "dtb"))
        .collect();
    dtbs.sort();
    for path in dtbs {
        let blob = std::fs::read(&path).expect("a test DTB is readable");
        let name = path.file_name().unwrap_or_default().to_string_lossy().into_owned();
        let nodes = lsdev::plan_dtb(&blob).expect("the test DTBs are valid").devices().count();
        sampling.report(&format!("host.plan_{name}_({nodes}_devices)"), "us/plan", 1e-3, || {
            black_box(lsdev::plan_dtb(black_box(&blob)).map(|r| r.devices().count()).ok());
        });
    }

    for nodes in SYNTHETIC_NODES {
        let blob = synthetic_dtb(nodes);
        let registry = lsdev::plan_dtb(&blob).expect("the synthetic tree is valid");
        let per_node = 1.0 / nodes as f64;
        sampling.report(&format!("host.plan_synthetic_{nodes}_nodes"), "ns/node", per_node, || {
            black_box(lsdev::plan_dtb(black_box(&blob)).map(|r| r.devices().count()).ok());
        });
        sampling.report(&format!("host.lsdev_text_synthetic_{nodes}_nodes"), "ns/node", per_node, || {
            black_box(registry::lsdev::text(black_box(&registry)).len());
        });
    }

    let compatible = |list: &[&str]| DeviceIds::Compatible(list.iter().map(|s| s.to_string()).collect());
    let virtio_pci = PciIds { vendor: 0x1af4, device: 0x1042, class: 0x01_80_00, revision: 1, subsystem_vendor: 0x1af4, subsystem: 0x1100 };
    let cases = [
        ("compatible_first_entry", compatible(&["virtio,mmio"])),
        ("compatible_third_entry", compatible(&["vendor,board-uart", "vendor,soc-uart", "arm,pl011"])),
        ("compatible_no_driver", compatible(&["vendor,unknown", "vendor,unknown-too"])),
        ("pci_id_range", DeviceIds::Pci(virtio_pci)),
    ];
    for (case, ids) in cases {
        let bus = FlatBus { devices: FLAT_DEVICES, ids };
        let per_device = 1.0 / FLAT_DEVICES as f64;
        let enumerate = sampling.samples(per_device, || {
            black_box(bus.enumerate().map(|d| d.len()).ok());
        });
        let plan = sampling.samples(per_device, || {
            black_box(registry::plan(&[&bus]).devices().count());
        });
        // Plan = building the devices (the bus's cost) + inserting and matching each one.
        for (planned, built) in plan.iter().zip(&enumerate) {
            println!("BENCH host.match_and_insert_{case}={:.1} ns/device", planned - built);
        }
    }
}

struct Sampling {
    runs: usize,
    at_least: Duration,
}

impl Sampling {
    /// `runs` samples of `f`'s time per call in ns, times `scale`.
    fn samples(&self, scale: f64, mut f: impl FnMut()) -> Vec<f64> {
        f();
        (0..self.runs)
            .map(|_| {
                let mut calls = 1u64;
                loop {
                    let started = Instant::now();
                    for _ in 0..calls {
                        f();
                    }
                    let elapsed = started.elapsed();
                    if elapsed >= self.at_least {
                        return elapsed.as_nanos() as f64 / calls as f64 * scale;
                    }
                    calls *= 2;
                }
            })
            .collect()
    }

    fn report(&self, name: &str, unit: &str, scale: f64, f: impl FnMut()) {
        for value in self.samples(scale, f) {
            println!("BENCH {name}={value:.3} {unit}");
        }
    }
}

/// A bus of `devices` identical devices with no resources: the registry's own cost per device.
struct FlatBus {
    devices: usize,
    ids: DeviceIds,
}

impl Bus for FlatBus {
    fn name(&self) -> &str {
        "flat"
    }

    fn enumerate(&self) -> Result<Vec<DeviceSpec>, BusError> {
        Ok((0..self.devices).map(|i| DeviceSpec::new(format!("dev{i}"), BusAddress::Other(String::new()), self.ids.clone())).collect())
    }
}

/// A device tree of `nodes` nodes shaped like QEMU virt's: a GIC, and a `simple-bus` whose
/// children take turns being a virtio-mmio slot, a PL011 (both have drivers) and a device
/// nothing binds, each with registers translated through the bus's `ranges` and a GIC SPI.
fn synthetic_dtb(nodes: usize) -> Vec<u8> {
    let mut fdt = FdtWriter::default();
    fdt.begin("");
    fdt.prop_u32("#address-cells", &[2]);
    fdt.prop_u32("#size-cells", &[2]);
    fdt.prop_str("compatible", "linux,dummy-virt");
    fdt.prop_u32("interrupt-parent", &[1]);
    fdt.begin("intc@8000000");
    fdt.prop_str("compatible", "arm,cortex-a15-gic");
    fdt.prop_u32("#interrupt-cells", &[3]);
    fdt.prop("interrupt-controller", &[]);
    fdt.prop_u32("reg", &[0, 0x0800_0000, 0, 0x1_0000]);
    fdt.prop_u32("phandle", &[1]);
    fdt.end();
    fdt.begin("soc");
    fdt.prop_str("compatible", "simple-bus");
    fdt.prop_u32("#address-cells", &[1]);
    fdt.prop_u32("#size-cells", &[1]);
    fdt.prop_u32("ranges", &[0, 0, 0x1000_0000, 0x4000_0000]);
    for i in 0..nodes - 3 {
        let address = 0x1000 * i as u32;
        let (name, compatible) = match i % 3 {
            0 => ("virtio_mmio", "virtio,mmio"),
            1 => ("pl011", "arm,pl011"),
            _ => ("widget", "vendor,widget"),
        };
        fdt.begin(&format!("{name}@{address:x}"));
        fdt.prop_str("compatible", compatible);
        fdt.prop_u32("reg", &[address, 0x200]);
        fdt.prop_u32("interrupts", &[0, (i % 900) as u32, 4]);
        fdt.end();
    }
    fdt.end();
    fdt.end();
    fdt.finish()
}

/// A flattened device tree writer (devicetree specification 0.4, chapter 5), with a shared
/// strings block.
#[derive(Default)]
struct FdtWriter {
    structure: Vec<u8>,
    strings: Vec<u8>,
    string_offsets: HashMap<String, u32>,
}

impl FdtWriter {
    const BEGIN_NODE: u32 = 1;
    const END_NODE: u32 = 2;
    const PROP: u32 = 3;
    const END: u32 = 9;

    fn token(&mut self, token: u32) {
        self.structure.extend(token.to_be_bytes());
    }

    fn pad(&mut self) {
        while !self.structure.len().is_multiple_of(4) {
            self.structure.push(0);
        }
    }

    fn begin(&mut self, name: &str) {
        self.token(Self::BEGIN_NODE);
        self.structure.extend(name.as_bytes());
        self.structure.push(0);
        self.pad();
    }

    fn end(&mut self) {
        self.token(Self::END_NODE);
    }

    fn prop(&mut self, name: &str, value: &[u8]) {
        let strings = &mut self.strings;
        let offset = *self.string_offsets.entry(name.to_string()).or_insert_with(|| {
            let offset = strings.len() as u32;
            strings.extend(name.as_bytes());
            strings.push(0);
            offset
        });
        self.token(Self::PROP);
        self.token(value.len() as u32);
        self.token(offset);
        self.structure.extend(value);
        self.pad();
    }

    fn prop_u32(&mut self, name: &str, cells: &[u32]) {
        let value: Vec<u8> = cells.iter().flat_map(|c| c.to_be_bytes()).collect();
        self.prop(name, &value);
    }

    fn prop_str(&mut self, name: &str, value: &str) {
        let mut bytes = value.as_bytes().to_vec();
        bytes.push(0);
        self.prop(name, &bytes);
    }

    /// Header, an empty memory reservation map, the structure and strings blocks.
    fn finish(mut self) -> Vec<u8> {
        const HEADER: usize = 40;
        const RESERVATIONS: usize = 16;
        self.token(Self::END);
        let structure_at = HEADER + RESERVATIONS;
        let strings_at = structure_at + self.structure.len();
        let total = strings_at + self.strings.len();
        let header = [0xd00d_feed, total, structure_at, strings_at, HEADER, 17, 16, 0, self.strings.len(), self.structure.len()];
        let mut blob: Vec<u8> = header.iter().flat_map(|&field| (field as u32).to_be_bytes()).collect();
        blob.resize(structure_at, 0);
        blob.extend(self.structure);
        blob.extend(self.strings);
        blob
    }
}

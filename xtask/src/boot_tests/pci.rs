//! Boot tests of PCI topologies on QEMU virt's PCIe host: a virtio-blk-pci behind a
//! conventional `pci-bridge` and behind a `pcie-pci-bridge`, with MSI-X through the GICv3 ITS
//! and through the GICv2m frame. A bridge tags the messages it forwards with its own
//! requester ID (`pci-bridge`) or with its secondary bus, device 0 (`pcie-pci-bridge`): the
//! ITS knows the device by that ID only, so the disk completes by interrupt only if the kernel
//! mapped that alias. Each test checks the host's pattern in the guest, the guest's on the
//! image, the lsdev note naming the alias, and that the disk's interrupt counts grew.

use std::path::Path;

use boards::Board;
use virtio_blk::{pattern, SECTOR_SIZE};

use super::interrupts::{expect_lpis, interrupt_counts};
use super::{boot_and_drive, by_path, has_device_tree, parse_json_block, run_command, BootTest};
use crate::qemu::{Options, Session};
use crate::{fail, scratch_dir, XtaskResult};

pub const TESTS: &[BootTest] = &[
    BootTest {
        name: "PCI bridge: virtio-blk-pci behind a pci-bridge with a GICv3: MSI-X through the ITS as the bridge's requester ID",
        applies: has_device_tree,
        run: |b, i| behind_bridge(b, i, PCI_BRIDGE, Msi::Its),
    },
    BootTest {
        name: "PCI bridge: virtio-blk-pci behind a pcie-pci-bridge with a GICv3: MSI-X through the ITS as the secondary bus's requester ID",
        applies: has_device_tree,
        run: |b, i| behind_bridge(b, i, PCIE_PCI_BRIDGE, Msi::Its),
    },
    BootTest {
        name: "PCI bridge: virtio-blk-pci behind a pci-bridge with a GICv2: MSI-X through the GICv2m frame",
        applies: has_device_tree,
        run: |b, i| behind_bridge(b, i, PCI_BRIDGE, Msi::V2m),
    },
    BootTest {
        name: "PCI bridge: virtio-blk-pci behind a pcie-pci-bridge with a GICv2: MSI-X through the GICv2m frame",
        applies: has_device_tree,
        run: |b, i| behind_bridge(b, i, PCIE_PCI_BRIDGE, Msi::V2m),
    },
];

/// Which MSI controller QEMU virt gets.
#[derive(Clone, Copy, PartialEq, Eq)]
enum Msi {
    /// `gic-version=3`: the ITS, which tells devices apart by requester ID.
    Its,
    /// The default GICv2 with its GICv2m frame, which ignores the requester ID.
    V2m,
}

/// A bridge topology: QEMU devices up to the bridge `br`, the disk's address behind it, and
/// what the kernel must find.
struct Topology {
    name: &'static str,
    devices: &'static [&'static str],
    /// The disk's slot on the bridge's bus.
    slot: u8,
    /// The disk function's place in lsdev.
    function_path: &'static str,
    /// The requester ID its messages arrive with.
    alias: &'static str,
}

/// QEMU's conventional PCI-to-PCI bridge on the root bus (00:02.0, bus 1 behind it): it
/// presents its own ID, 00:02.0, for the functions behind it.
const PCI_BRIDGE: Topology = Topology {
    name: "pci-bridge",
    devices: &["-device", "pci-bridge,id=br,bus=pcie.0,addr=2,chassis_nr=1"],
    slot: 3,
    function_path: "/pcie@10000000/00:02.0/01:03.0",
    alias: "00:02.0",
};

/// QEMU's PCIe-to-PCI bridge below a root port (00:04.0, bus 1; the bridge 01:00.0, bus 2
/// behind it): it presents (bus 2, device 0, function 0).
const PCIE_PCI_BRIDGE: Topology = Topology {
    name: "pcie-pci-bridge",
    devices: &[
        "-device", "pcie-root-port,id=rp,bus=pcie.0,addr=4,chassis=1",
        "-device", "pcie-pci-bridge,id=br,bus=rp",
    ],
    slot: 1,
    function_path: "/pcie@10000000/00:04.0/01:00.0/02:01.0",
    alias: "02:00.0",
};

const DISK_SECTORS: u64 = 16 << 11; // 16 MiB
const HOST_REGION: (u64, u64, u64) = (512, 1024, 0xb41d6e);
const GUEST_REGION: (u64, u64, u64) = (4096, 4096, 0x5ec0d);

fn behind_bridge(board: &Board, image: &Path, topology: Topology, msi: Msi) -> XtaskResult {
    let gic = if msi == Msi::Its { "gicv3" } else { "gicv2m" };
    let name = format!("pci-{}-{gic}", topology.name);
    let disk = scratch_dir()?.join(format!("{name}.img"));
    let mut bytes = vec![0u8; DISK_SECTORS as usize * SECTOR_SIZE];
    let (first, sectors, seed) = HOST_REGION;
    pattern::fill(first, seed, &mut bytes[sector_range(first, sectors)]);
    std::fs::write(&disk, &bytes).map_err(|e| fail(format!("cannot write {}: {e}", disk.display())))?;

    let mut options = Options::with_default_devices(board)?;
    (options.net, options.gpu) = (false, false);
    options.disks.clear();
    options.extra.extend(topology.devices.iter().map(|arg| arg.to_string()));
    options.extra.extend([
        "-drive".to_string(),
        format!("if=none,id=bridged,format=raw,file={}", disk.display()),
        "-device".to_string(),
        format!("virtio-blk-pci,bus=br,addr={},drive=bridged,serial=bridged-disk", topology.slot),
    ]);
    if msi == Msi::Its {
        options.extra.extend(["-M".to_string(), "gic-version=3".to_string()]);
    }
    boot_and_drive(board, image, &options, &name, |session| {
        let at_boot = interrupt_counts(session)?;
        expect(session, "blk list", "blk0: ")?;
        expect(session, "lsdev", "interrupts: MSI-X, 2 vectors")?;
        let (first, sectors, seed) = HOST_REGION;
        expect(session, &format!("blk check 0 {first} {sectors} {seed:#x}"), &format!("blk check: {sectors} sectors ok"))?;
        let (first, sectors, seed) = GUEST_REGION;
        expect(session, &format!("blk fill 0 {first} {sectors} {seed:#x}"), &format!("blk fill: {sectors} sectors ok"))?;
        expect(session, "blk flush 0", "blk flush: ok")?;
        expect(session, &format!("blk check 0 {first} {sectors} {seed:#x}"), &format!("blk check: {sectors} sectors ok"))?;
        if msi == Msi::Its {
            expect(session, "lsdev", "version: GICv3")?;
            expect_lpis(session, "virtio-blk")?;
        }
        let now = interrupt_counts(session)?;
        eprint!("{}", now.expect_more_than(&at_boot, &["virtio-blk"])?);
        let json = parse_json_block(&run_command(session, "lsdev --json")?)?;
        let devices = by_path(&json)?;
        let function = devices.get(topology.function_path).ok_or_else(|| fail(format!("no device {}", topology.function_path)))?;
        let note = format!("messages tagged {} by the bridge above", topology.alias);
        if function["driver"] != "virtio-pci" || !function["notes"].as_array().is_some_and(|notes| notes.iter().any(|n| n == note.as_str())) {
            return Err(fail(format!("{}: expected virtio-pci bound with the note {note:?}: {function}", topology.function_path)));
        }
        Ok(())
    })?;

    let image_bytes = std::fs::read(&disk).map_err(|e| fail(format!("cannot read {}: {e}", disk.display())))?;
    let (first, sectors, seed) = GUEST_REGION;
    pattern::fill(first, seed, &mut bytes[sector_range(first, sectors)]);
    if image_bytes != bytes {
        let sector = image_bytes.chunks(SECTOR_SIZE).zip(bytes.chunks(SECTOR_SIZE)).position(|(a, b)| a != b).unwrap_or(0);
        return Err(fail(format!("{}: sector {sector} differs from the host and guest patterns (zeros elsewhere)", disk.display())));
    }
    Ok(())
}

fn sector_range(first: u64, sectors: u64) -> std::ops::Range<usize> {
    first as usize * SECTOR_SIZE..(first + sectors) as usize * SECTOR_SIZE
}

/// Runs `command` and checks its output has `expected`.
fn expect(session: &mut Session, command: &str, expected: &str) -> XtaskResult<String> {
    let output = run_command(session, command)?;
    if !output.contains(expected) {
        return Err(fail(format!("`{command}` did not print {expected:?}:\n{output}")));
    }
    Ok(output)
}

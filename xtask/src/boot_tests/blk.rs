//! Boot tests of the virtio-blk driver, checked from the host: the host writes a known pattern
//! into a disk image, the kernel checks it, writes its own pattern elsewhere (several requests in
//! flight), flushes and powers off; the host then checks the image byte for byte. With two disks
//! at once, each binds with its own size and ID and writes stay on their disk. Every disk
//! completes its requests by interrupt (GICv2, and GICv3 in one variant; the APICs on the PCs;
//! MSI-X on PCI, or INTx when the function has no MSI-X): `lsdev` counts them.

use std::path::{Path, PathBuf};
use std::time::Duration;

use boards::{Board, VirtioTransport};
use serde_json::json;
use virtio_blk::{human_size, pattern, SECTOR_SIZE};

use super::interrupts::{expect_lpis, interrupt_counts, with_console_driver};
use super::{any_board, boot_and_drive, has_device_tree, run_command, run_until, BootTest};
use crate::qemu::{Options, Session};
use crate::qmp::{self, Qmp};
use crate::{fail, scratch_dir, XtaskResult};

pub const TESTS: &[BootTest] = &[
    BootTest {
        name: "virtio-blk on the board's default transport (legacy virtio-mmio on virt, virtio-pci on PCs): host pattern checked, guest pattern on the image",
        applies: any_board,
        run: |b, i| one_disk(b, i, "legacy", board_transport(b), false, &[]),
    },
    BootTest {
        name: "virtio-blk over modern virtio-mmio: host pattern checked, guest pattern on the image",
        applies: virtio_mmio_board,
        run: |b, i| one_disk(b, i, "modern", board_transport(b), true, &[]),
    },
    BootTest {
        name: "virtio-blk over modern virtio-mmio with a GICv3: host pattern checked, guest pattern on the image",
        applies: has_device_tree,
        run: |b, i| one_disk(b, i, "gicv3", board_transport(b), true, &["-M", "gic-version=3"]),
    },
    BootTest {
        name: "virtio-blk-pci on the PCIe host: host pattern checked, guest pattern on the image",
        applies: has_device_tree,
        run: |b, i| one_disk(b, i, "pci", VirtioTransport::Pci, false, &[]),
    },
    BootTest {
        name: "virtio-blk-pci with a GICv3: MSI-X as LPIs through the ITS; host pattern checked, guest pattern on the image",
        applies: has_device_tree,
        run: |b, i| one_disk(b, i, "pci-its", VirtioTransport::Pci, false, &["-M", "gic-version=3"]),
    },
    BootTest {
        name: "virtio-blk-pci without MSI-X (vectors=0): completes on its INTx line",
        applies: any_board,
        run: |b, i| one_disk(b, i, "intx", VirtioTransport::Pci, false, &["-global", NO_MSIX]),
    },
    BootTest {
        name: "virtio-blk resized on the host (QMP block_resize): the configuration interrupt brings the new capacity; a write past the old end lands",
        applies: any_board,
        run: resized_on_the_host,
    },
    BootTest { name: "two virtio-blk disks at once: own sizes and IDs, writes stay apart", applies: any_board, run: two_disks },
];

/// Takes the MSI-X capability away from virtio-blk-pci functions: they then interrupt on INTx.
const NO_MSIX: &str = "virtio-blk-pci.vectors=0";

/// What the one-disk test puts where (sectors of 512 bytes).
pub(super) const DISK_SECTORS: u64 = 32 << 11; // 32 MiB
pub(super) const HOST_REGION: Region = Region { first: 2048, sectors: 2048, seed: 0xa11ce };
/// A few MiB, so the kernel keeps many requests in flight.
pub(super) const GUEST_REGION: Region = Region { first: 16384, sectors: 8192, seed: 0xb0b };

/// Requests the kernel must have had in flight at once while filling the guest region.
pub(super) const MIN_PEAK_IN_FLIGHT: u32 = 8;

/// Sectors holding the pattern for `seed`.
#[derive(Clone, Copy, Debug)]
pub(super) struct Region {
    first: u64,
    pub(super) sectors: u64,
    seed: u64,
}

impl Region {
    fn contains(&self, sector: u64) -> bool {
        (self.first..self.first + self.sectors).contains(&sector)
    }
}

/// A disk image attached with a serial number, which GET_ID reports.
pub(super) struct Disk {
    image: PathBuf,
    serial: &'static str,
    sectors: u64,
}

impl Disk {
    /// A new image of `sectors` zeros plus the `prepared` pattern regions.
    pub(super) fn create(name: &str, serial: &'static str, sectors: u64, prepared: &[Region]) -> XtaskResult<Self> {
        let image = scratch_dir()?.join(format!("{name}.img"));
        let mut bytes = vec![0; (sectors as usize) * SECTOR_SIZE];
        for region in prepared {
            pattern::fill(region.first, region.seed, &mut bytes[byte_range(region.first, region.sectors)]);
        }
        std::fs::write(&image, bytes).map_err(|e| fail(format!("cannot write {}: {e}", image.display())))?;
        Ok(Disk { image, serial, sectors })
    }

    /// The line `blk list` prints for this disk, without its number and path.
    fn listing(&self) -> String {
        let size = human_size(self.sectors * SECTOR_SIZE as u64);
        format!("{} sectors ({size}), block size 512, id {}, read-write, flush yes", self.sectors, self.serial)
    }

    /// The image must hold the pattern of each region and zeros everywhere else.
    pub(super) fn check_image(&self, regions: &[Region]) -> XtaskResult {
        let bytes = std::fs::read(&self.image).map_err(|e| fail(format!("cannot read {}: {e}", self.image.display())))?;
        if bytes.len() as u64 != self.sectors * SECTOR_SIZE as u64 {
            return Err(fail(format!("{} is {} bytes, not {} sectors", self.image.display(), bytes.len(), self.sectors)));
        }
        for (sector, found) in (0..).zip(bytes.chunks_exact(SECTOR_SIZE)) {
            let region = regions.iter().find(|r| r.contains(sector));
            let expected = region.map_or([0; SECTOR_SIZE], |r| pattern::sector(sector, r.seed));
            if let Some(offset) = expected.iter().zip(found).position(|(e, f)| e != f) {
                let wanted = region.map_or("zeros".to_string(), |r| format!("the pattern for seed {:#x}", r.seed));
                return Err(fail(format!(
                    "{}: sector {sector} byte {offset} is {:#04x}, expected {:#04x} ({wanted})",
                    self.image.display(),
                    found[offset],
                    expected[offset]
                )));
            }
        }
        Ok(())
    }
}

fn board_transport(board: &Board) -> VirtioTransport {
    board.qemu.virtio_transport
}

/// For [`BootTest::applies`]: boards whose virtio devices sit on virtio-mmio by default.
fn virtio_mmio_board(board: &Board) -> bool {
    board.qemu.virtio_transport == VirtioTransport::Mmio
}

/// The board's options with only `disks` attached, as virtio-blk devices on `transport`.
pub(super) fn options_with(board: &Board, disks: &[&Disk], transport: VirtioTransport, modern_mmio: bool) -> XtaskResult<Options> {
    let mut options = Options::with_default_devices(board)?;
    (options.net, options.gpu, options.modern_mmio) = (false, false, modern_mmio);
    options.disks.clear();
    for (index, disk) in disks.iter().enumerate() {
        let drive = format!("if=none,id=blk{index},format=raw,file={}", disk.image.display());
        let device = format!("virtio-blk-{},drive=blk{index},serial={}", transport.qemu_suffix(), disk.serial);
        options.extra.extend(["-drive".into(), drive, "-device".into(), device]);
    }
    Ok(options)
}

/// Runs `command` and checks its output has `expected`.
pub(super) fn expect(session: &mut Session, command: &str, expected: &str) -> XtaskResult<String> {
    let output = run_command(session, command)?;
    if !output.contains(expected) {
        return Err(fail(format!("`{command}` did not print {expected:?}:\n{output}")));
    }
    Ok(output)
}

/// The line `blk list` prints for `disk`, found by its ID.
fn disk_line<'a>(listing: &'a str, disk: &Disk) -> XtaskResult<&'a str> {
    let found = listing.lines().find(|line| line.contains(&format!(", id {},", disk.serial)));
    found.map(str::trim).ok_or_else(|| fail(format!("blk list does not show the disk with ID {}:\n{listing}", disk.serial)))
}

/// The number `blk list` gives `disk`, after checking what it says about it.
pub(super) fn disk_number(listing: &str, disk: &Disk) -> XtaskResult<usize> {
    let line = disk_line(listing, disk)?;
    let (name, rest) = line.split_once(": ").unwrap_or_default();
    match name.strip_prefix("blk").and_then(|n| n.parse().ok()) {
        Some(number) if rest.starts_with(&disk.listing()) => Ok(number),
        _ => Err(fail(format!("blk list shows {line:?}, expected `blkN: {}, ...`", disk.listing()))),
    }
}

/// The most requests in flight at once that `blk list` reports for `disk`.
pub(super) fn peak_in_flight(listing: &str, disk: &Disk) -> XtaskResult<u32> {
    let line = disk_line(listing, disk)?;
    let peak = line.split_once("peak in flight ").and_then(|(_, rest)| rest.split(',').next()?.parse().ok());
    peak.ok_or_else(|| fail(format!("blk list shows no peak in flight: {line:?}")))
}

pub(super) fn check_command(number: usize, region: &Region) -> String {
    format!("blk check {number} {} {} {:#x}", region.first, region.sectors, region.seed)
}

pub(super) fn fill_command(number: usize, region: &Region) -> String {
    format!("blk fill {number} {} {} {:#x}", region.first, region.sectors, region.seed)
}

/// One disk on `transport` (`extra` QEMU arguments, e.g. another GIC): the host's region checks
/// out in the guest, the guest's lands on the image, a write beyond the end is refused, nothing
/// else changes, and the disk took interrupts.
pub(super) fn one_disk(board: &Board, image: &Path, mode: &str, transport: VirtioTransport, modern_mmio: bool, extra: &[&str]) -> XtaskResult {
    let disk = Disk::create(&format!("blk-{}-{mode}", board.name), "blk-test-disk", DISK_SECTORS, &[HOST_REGION])?;
    let mut options = options_with(board, &[&disk], transport, modern_mmio)?;
    options.extra.extend(extra.iter().map(|arg| arg.to_string()));
    boot_and_drive(board, image, &options, &format!("blk-{mode}"), |session| {
        let at_boot = interrupt_counts(session)?;
        let number = disk_number(&run_command(session, "blk list")?, &disk)?;
        let size = human_size(DISK_SECTORS * SECTOR_SIZE as u64);
        let info = format!("capacity: {DISK_SECTORS} sectors ({size}), block size: 512, id: blk-test-disk, read-only: no, flush: yes");
        expect(session, "lsdev", &info)?;

        let (first, count) = (HOST_REGION.first, HOST_REGION.sectors);
        expect(session, &check_command(number, &HOST_REGION), &format!("blk check: {count} sectors ok"))?;
        // The check can fail: the sector before the host's region is zeros.
        let zeros = [0; 2 * SECTOR_SIZE];
        let mismatch = pattern::first_mismatch(first - 1, HOST_REGION.seed, &zeros).ok_or_else(|| fail("a pattern of zeros"))?;
        let before = Region { first: first - 1, ..HOST_REGION };
        let reported = format!("blk check: mismatch at sector {} byte {}: expected {:#04x}", mismatch.sector, mismatch.offset, mismatch.expected);
        expect(session, &check_command(number, &before), &reported)?;

        let written = GUEST_REGION.sectors;
        expect(session, &fill_command(number, &GUEST_REGION), &format!("blk fill: {written} sectors ok"))?;
        expect(session, &format!("blk flush {number}"), "blk flush: ok")?;
        expect(session, &check_command(number, &GUEST_REGION), &format!("blk check: {written} sectors ok"))?;
        let peak = peak_in_flight(&run_command(session, "blk list")?, &disk)?;
        if peak < MIN_PEAK_IN_FLIGHT {
            return Err(fail(format!("at most {peak} requests were in flight: the driver did not keep several going")));
        }
        let beyond = Region { first: DISK_SECTORS - 1, sectors: 2, seed: 1 };
        let refused = format!("blk fill: failed: 2 sectors from sector {} reach beyond the disk's {DISK_SECTORS} sectors", DISK_SECTORS - 1);
        expect(session, &fill_command(number, &beyond), &refused)?;
        if extra.contains(&"gic-version=3") {
            expect(session, "lsdev", "version: GICv3")?;
        }
        if transport == VirtioTransport::Pci {
            // Every board has an MSI controller for its PCI functions: INTx only without MSI-X.
            let wanted = if extra.contains(&NO_MSIX) { "interrupts: INTx (no MSI-X capability)" } else { "interrupts: MSI-X, 2 vectors" };
            expect(session, "lsdev", wanted)?;
            if extra.contains(&"gic-version=3") {
                expect_lpis(session, "virtio-blk")?;
            }
        }
        eprint!("{}", interrupt_counts(session)?.expect_more_than(&at_boot, &with_console_driver(board, "virtio-blk"))?);
        Ok(())
    })?;
    disk.check_image(&[HOST_REGION, GUEST_REGION])
}

/// A disk grown by the host while the kernel runs: the kernel refuses a write past the end,
/// sees the new capacity after the device's configuration interrupt (in `blk list` and
/// `lsdev`), then takes the write, which the host finds on the image.
fn resized_on_the_host(board: &Board, image: &Path) -> XtaskResult {
    const BEFORE: u64 = 8 << 11;
    const AFTER: u64 = 12 << 11;
    let mut disk = Disk::create(&format!("blk-{}-resized", board.name), "blk-test-resized", BEFORE, &[])?;
    let mut options = options_with(board, &[&disk], board.qemu.virtio_transport, false)?;
    let socket = qmp::serve(&mut options, "blk-resized");
    let past_the_end = Region { first: BEFORE, sectors: 1024, seed: 0x9e51 };
    boot_and_drive(board, image, &options, "blk-resized", |session| {
        let number = disk_number(&run_command(session, "blk list")?, &disk)?;
        expect(session, &fill_command(number, &past_the_end), &format!("beyond the disk's {BEFORE} sectors"))?;
        let mut qmp = Qmp::connect(&socket, qmp::CONNECT_TIMEOUT)?;
        qmp.execute("block_resize", json!({ "device": "blk0", "size": AFTER * SECTOR_SIZE as u64 }))?;
        // The configuration interrupt follows the resize asynchronously.
        let grown = format!("blk{number}: {AFTER} sectors ({})", human_size(AFTER * SECTOR_SIZE as u64));
        run_until(session, "blk list", &grown, RESIZE_TIMEOUT)?;
        expect(session, "lsdev", &format!("capacity: {AFTER} sectors ({})", human_size(AFTER * SECTOR_SIZE as u64)))?;
        expect(session, &fill_command(number, &past_the_end), "blk fill: 1024 sectors ok")?;
        expect(session, &format!("blk flush {number}"), "blk flush: ok")?;
        Ok(())
    })?;
    disk.sectors = AFTER;
    disk.check_image(&[past_the_end])
}

/// How long the kernel may take to notice a resize.
const RESIZE_TIMEOUT: Duration = Duration::from_secs(10);

/// Two disks of different sizes and IDs: each gets its own write; the host finds each write on
/// its own image only.
fn two_disks(board: &Board, image: &Path) -> XtaskResult {
    let first = Disk::create(&format!("blk-{}-first", board.name), "blk-test-first", 8 << 11, &[])?;
    let second = Disk::create(&format!("blk-{}-second", board.name), "blk-test-second", 12 << 11, &[])?;
    let on_first = Region { first: 64, sectors: 2048, seed: 0xf1 };
    let on_second = Region { first: 4096, sectors: 1024, seed: 0x5ec };
    let options = options_with(board, &[&first, &second], board.qemu.virtio_transport, false)?;
    boot_and_drive(board, image, &options, "blk-two-disks", |session| {
        let at_boot = interrupt_counts(session)?;
        let listing = run_command(session, "blk list")?;
        let (a, b) = (disk_number(&listing, &first)?, disk_number(&listing, &second)?);
        if a == b {
            return Err(fail(format!("both disks are blk{a}:\n{listing}")));
        }
        expect(session, &fill_command(a, &on_first), "blk fill: 2048 sectors ok")?;
        expect(session, &fill_command(b, &on_second), "blk fill: 1024 sectors ok")?;
        expect(session, &format!("blk flush {a}"), "blk flush: ok")?;
        expect(session, &format!("blk flush {b}"), "blk flush: ok")?;
        expect(session, &check_command(a, &on_first), "blk check: 2048 sectors ok")?;
        // The first disk's region on the second disk is still zeros.
        expect(session, &check_command(b, &on_first), "blk check: mismatch at sector 64 byte 0")?;
        eprint!("{}", interrupt_counts(session)?.expect_more_than(&at_boot, &["virtio-blk"])?);
        Ok(())
    })?;
    first.check_image(&[on_first])?;
    second.check_image(&[on_second])
}

/// The byte range of `sectors` sectors from `first`.
fn byte_range(first: u64, sectors: u64) -> std::ops::Range<usize> {
    first as usize * SECTOR_SIZE..(first + sectors) as usize * SECTOR_SIZE
}

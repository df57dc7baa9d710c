//! Boot tests of the legacy virtio-pci transport: transitional devices with
//! `disable-modern=on` have no modern capabilities, only the legacy registers in I/O BAR 0
//! (port I/O on the PCs, the PCIe host's memory-mapped I/O window on QEMU virt). virtio-blk:
//! the host's pattern checked in the guest, the guest's found on the image after poweroff;
//! virtio-net: DHCP and ping. Both with MSI-X (the vector registers in the legacy block) and
//! blk also on its INTx line; `lsdev` must say the transport is legacy and count interrupts.

use std::path::Path;

use boards::{Board, VirtioTransport};

use super::blk::{self, check_command, disk_number, expect, fill_command, peak_in_flight, Disk, DISK_SECTORS, GUEST_REGION, HOST_REGION, MIN_PEAK_IN_FLIGHT};
use super::interrupts::{interrupt_counts, with_console_driver};
use super::net::expect_line;
use super::{any_board, boot_and_drive, has_device_tree, run_command, BootTest};
use crate::qemu::Options;
use crate::{fail, XtaskResult};

pub const TESTS: &[BootTest] = &[
    BootTest {
        name: "legacy virtio-blk-pci (disable-modern=on): I/O BAR 0 registers, MSI-X; host pattern checked, guest pattern on the image",
        applies: any_board,
        run: |b, i| legacy_disk(b, i, "legacy-pci", true),
    },
    BootTest {
        name: "legacy virtio-blk-pci (disable-modern=on) without MSI-X: completes on its INTx line, ISR read in I/O BAR 0",
        applies: any_board,
        run: |b, i| legacy_disk(b, i, "legacy-pci-intx", false),
    },
    BootTest {
        name: "legacy virtio-net-pci (disable-modern=on): DHCP, ping",
        applies: any_board,
        run: legacy_nic,
    },
];

/// What `lsdev` says about the legacy function's transport: ports on a PC, the host bridge's
/// I/O window in memory on QEMU virt.
fn legacy_transport(board: &Board) -> &'static str {
    if has_device_tree(board) { "transport: virtio-pci legacy, BAR0 MMIO" } else { "transport: virtio-pci legacy, BAR0 ports" }
}

/// One legacy disk, with or without MSI-X: the same checks as the modern disk's test.
fn legacy_disk(board: &Board, image: &Path, mode: &str, msix: bool) -> XtaskResult {
    let disk = Disk::create(&format!("blk-{}-{mode}", board.name), "blk-test-disk", DISK_SECTORS, &[HOST_REGION])?;
    let mut options = blk::options_with(board, &[&disk], VirtioTransport::Pci, false)?;
    options.extra.extend(["-global".into(), "virtio-blk-pci.disable-modern=on".into()]);
    if !msix {
        options.extra.extend(["-global".into(), "virtio-blk-pci.vectors=0".into()]);
    }
    boot_and_drive(board, image, &options, &format!("blk-{mode}"), |session| {
        let at_boot = interrupt_counts(session)?;
        let lsdev = expect(session, "lsdev", legacy_transport(board))?;
        let interrupts = if msix { "interrupts: MSI-X, 2 vectors" } else { "interrupts: INTx (no MSI-X capability)" };
        expect_line(&lsdev, interrupts, "lsdev")?;
        let number = disk_number(&run_command(session, "blk list")?, &disk)?;
        let host = HOST_REGION.sectors;
        expect(session, &check_command(number, &HOST_REGION), &format!("blk check: {host} sectors ok"))?;
        let written = GUEST_REGION.sectors;
        expect(session, &fill_command(number, &GUEST_REGION), &format!("blk fill: {written} sectors ok"))?;
        expect(session, &format!("blk flush {number}"), "blk flush: ok")?;
        expect(session, &check_command(number, &GUEST_REGION), &format!("blk check: {written} sectors ok"))?;
        let peak = peak_in_flight(&run_command(session, "blk list")?, &disk)?;
        if peak < MIN_PEAK_IN_FLIGHT {
            return Err(fail(format!("at most {peak} requests were in flight: the driver did not keep several going")));
        }
        eprint!("{}", interrupt_counts(session)?.expect_more_than(&at_boot, &with_console_driver(board, "virtio-blk"))?);
        Ok(())
    })?;
    disk.check_image(&[HOST_REGION, GUEST_REGION])
}

/// A legacy NIC on QEMU's user network: DHCP and ping to the gateway, by interrupt.
fn legacy_nic(board: &Board, image: &Path) -> XtaskResult {
    let mut options = Options::with_default_devices(board)?;
    (options.net, options.gpu, options.modern_mmio) = (false, false, false);
    options.disks.clear();
    options.extra.extend(
        ["-netdev", "user,id=net0", "-device", "virtio-net-pci,netdev=net0,disable-modern=on"].map(String::from),
    );
    boot_and_drive(board, image, &options, "net-legacy-pci", |session| {
        let at_boot = interrupt_counts(session)?;
        let lsdev = run_command(session, "lsdev")?;
        expect_line(&lsdev, legacy_transport(board), "lsdev")?;
        expect_line(&lsdev, "interrupts: MSI-X, ", "lsdev")?;
        // The device's own queue sizes: the legacy interface does not let the driver choose.
        expect_line(&lsdev, "mac: 52:54:00:12:34:56, link: up, queues: rx 256, tx 256", "lsdev")?;
        let up = run_command(session, "net up")?;
        expect_line(&up, "net up: address 10.0.2.15/24, gateway 10.0.2.2, dns 10.0.2.3", "net up")?;
        let ping = run_command(session, "net ping 10.0.2.2")?;
        expect_line(&ping, "net ping: 4 sent, 4 replies", "net ping")?;
        eprint!("{}", interrupt_counts(session)?.expect_more_than(&at_boot, &with_console_driver(board, "virtio-net"))?);
        Ok(())
    })
}

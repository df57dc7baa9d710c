//! Boot tests of the kernel's memory and CPU set-up: entry at EL2 on virt (the state real
//! hardware needs before EL1 runs), the heap and DMA pool sized from the RAM the boot
//! information reports (a 4K virtio-gpu that fits, and one that does not), and the protection
//! of the kernel's memory (stack guard pages, read-only text, non-executable data).

use std::path::Path;

use boards::Board;

use super::blk::one_disk;
use super::{boot_and_drive, has_device_tree, BootTest};
use crate::qemu::Options;
use crate::{fail, XtaskResult};

pub const TESTS: &[BootTest] = &[
    BootTest {
        name: "EL2 entry (virtualization=on) with a GICv2: the kernel drops to EL1, blk completes by interrupt",
        applies: has_device_tree,
        run: |b, i| entered_at_el2(b, i, "el2-gicv2", &["-M", "virtualization=on"]),
    },
    BootTest {
        name: "EL2 entry (virtualization=on) with a GICv3: ICC_SRE_EL2 lets EL1 use the GIC system registers, blk completes by interrupt",
        applies: has_device_tree,
        run: |b, i| entered_at_el2(b, i, "el2-gicv3", &["-M", "virtualization=on", "-M", "gic-version=3"]),
    },
];

/// Boots at EL2 (`extra` makes QEMU start the CPU there): the kernel says so, and the one-disk
/// blk test passes with interrupt counts.
fn entered_at_el2(board: &Board, image: &Path, mode: &str, extra: &[&str]) -> XtaskResult {
    let mut options = Options::with_default_devices(board)?;
    options.extra.extend(extra.iter().map(|arg| arg.to_string()));
    boot_and_drive(board, image, &options, mode, |session| {
        let boot_log = session.output();
        if !boot_log.contains("cpu: entered at EL2, running at EL1") {
            return Err(fail("the kernel does not say it was entered at EL2"));
        }
        Ok(())
    })?;
    one_disk(board, image, mode, board.qemu.virtio_transport, true, extra)
}

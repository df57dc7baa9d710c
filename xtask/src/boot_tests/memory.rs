//! Boot tests of the kernel's memory and CPU set-up: entry at EL2 on virt (the state real
//! hardware needs before EL1 runs), the heap and DMA pool sized from the RAM the boot
//! information reports (a 4K virtio-gpu that fits, and one that does not), and the protection
//! of the kernel's memory (stack guard pages, read-only text, non-executable data).

use std::path::Path;
use std::time::Duration;

use boards::Board;

use super::blk::one_disk;
use super::gpu::picture_on_screen;
use super::{any_board, boot_and_drive, has_device_tree, run_command, BootTest, BOOT_TIMEOUT, PROMPT};
use crate::qemu::{self, Options, Session};
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
    BootTest {
        name: "memory: -m 8G gives an 8 GiB heap and DMA pool; a 3840x2160 virtio-gpu draws its picture (screendumps)",
        applies: any_board,
        run: |b, i| {
            // 8 GiB less what the firmware keeps (a PC's E820 holds back some KiB).
            expect_memory_line(b, i, 8100, 7 << 10)?;
            if has_device_tree(b) {
                picture_on_screen(b, i, "4k", |options| {
                    options.gpu = false;
                    options.extra.extend(["-m", "8G"].map(String::from));
                    options.extra.extend(gpu_4k(false, true));
                })
            } else {
                picture_on_screen(b, i, "4k", |options| {
                    options.gpu = false;
                    options.extra.extend(["-m", "8G"].map(String::from));
                    options.extra.extend(gpu_4k(true, false));
                })
            }
        },
    },
    BootTest {
        name: "memory: a 3840x2160 virtio-gpu that does not fit in 32 MiB fails its probe with the reason; net and blk still work",
        applies: any_board,
        run: gpu_that_does_not_fit,
    },
    BootTest {
        name: "protection: a stack overflow hits the boot stack's guard page, reported as a fault with its address",
        applies: any_board,
        run: |b, i| fault(b, i, "stack"),
    },
    BootTest {
        name: "protection: a write to kernel text is a permission fault at that address",
        applies: any_board,
        run: |b, i| fault(b, i, "write-text"),
    },
    BootTest {
        name: "protection: running code in kernel data is a permission fault at that address",
        applies: any_board,
        run: |b, i| fault(b, i, "exec-data"),
    },
];

/// The display size the GPU tests ask for: 3840 x 2160 x 4 bytes = 33,177,600 bytes of
/// framebuffer.
const XRES: u32 = 3840;
const YRES: u32 = 2160;
const FRAMEBUFFER_BYTES: u32 = XRES * YRES * 4;

/// QEMU arguments for a 3840x2160 virtio-gpu on the board's transport (virt: virtio-mmio, or
/// PCI; a PC: virtio-gpu-pci, without the VGA card, so screendumps show the GPU).
fn gpu_4k(pci: bool, device_tree: bool) -> Vec<String> {
    let mut args = Vec::new();
    let device = if pci { "virtio-gpu-pci" } else { "virtio-gpu-device" };
    if !device_tree {
        args.extend(["-vga", "none"].map(String::from));
    }
    args.extend(["-device".to_string(), format!("{device},xres={XRES},yres={YRES}")]);
    args
}

/// Boots with `-m 8G` and checks the kernel's memory line: at least `min_ram_mib` of RAM, and a
/// heap and DMA pool of at least `min_pool_mib`.
fn expect_memory_line(board: &Board, image: &Path, min_ram_mib: u64, min_pool_mib: u64) -> XtaskResult {
    let mut options = Options::with_default_devices(board)?;
    options.extra.extend(["-m", "8G"].map(String::from));
    boot_and_drive(board, image, &options, "memory-8g", |session| {
        let log = session.output();
        let line = log.lines().find(|l| l.starts_with("memory: ")).ok_or_else(|| fail("the kernel printed no memory line"))?;
        let mib_after = |label: &str| line.split_once(label).and_then(|(_, rest)| rest.split(" MiB").next()?.parse::<u64>().ok());
        let (ram, pool) = (mib_after("memory: "), mib_after("heap and DMA pool: "));
        if ram.is_none_or(|mib| mib < min_ram_mib) || pool.is_none_or(|mib| mib < min_pool_mib) {
            return Err(fail(format!("expected {min_ram_mib} MiB of RAM and a pool of at least {min_pool_mib} MiB: {line}")));
        }
        eprintln!("xtask:   {line}");
        Ok(())
    })
}

/// `-m 32`: the 4K framebuffer cannot be had; the GPU's probe fails saying so, the NIC gets an
/// address by DHCP and the disk takes a write and reads it back, and the kernel powers off
/// cleanly (no panic).
fn gpu_that_does_not_fit(board: &Board, image: &Path) -> XtaskResult {
    let mut options = Options::with_default_devices(board)?;
    options.gpu = false;
    options.extra.extend(["-m", "32"].map(String::from));
    options.extra.extend(gpu_4k(!has_device_tree(board), has_device_tree(board)));
    boot_and_drive(board, image, &options, "memory-gpu-too-big", |session| {
        let lsdev = run_command(session, "lsdev")?;
        let reason = format!("framebuffer: out of DMA memory ({FRAMEBUFFER_BYTES} bytes)");
        let gpu = lsdev.lines().position(|l| l.contains("virtio-gpu ")).ok_or_else(|| fail(format!("no virtio-gpu in lsdev:\n{lsdev}")))?;
        // The reason may wrap onto the next line.
        let shown = lsdev.lines().skip(gpu).take(2).collect::<Vec<_>>().join(" ");
        if !shown.contains("failed") || !shown.contains(&reason) {
            return Err(fail(format!("the GPU's probe should fail with {reason:?}:\n{lsdev}")));
        }
        for bound in [" virtio-net ", " virtio-blk "] {
            if !lsdev.lines().any(|l| l.contains(bound) && l.trim_end().ends_with("bound")) {
                return Err(fail(format!("{} is not bound:\n{lsdev}", bound.trim())));
            }
        }
        let net = run_command(session, "net up")?;
        if !net.contains("net up: address 10.0.2.15/24") {
            return Err(fail(format!("net up failed:\n{net}")));
        }
        for (command, wanted) in [("blk fill 0 4096 2048 0x5eed", "blk fill: 2048 sectors ok"), ("blk check 0 4096 2048 0x5eed", "blk check: 2048 sectors ok")] {
            let output = run_command(session, command)?;
            if !output.contains(wanted) {
                return Err(fail(format!("{command}: expected {wanted:?}, the kernel said:\n{output}")));
            }
        }
        eprintln!("xtask:   {}", shown.split_whitespace().collect::<Vec<_>>().join(" "));
        Ok(())
    })
}

/// QEMU's exit status after a fatal exception (README: 102 through semihosting on virt; 2 x
/// 102 + 1 through isa-debug-exit on the PCs).
fn fault_exit_status(board: &Board) -> i32 {
    if has_device_tree(board) {
        102
    } else {
        205
    }
}

/// Runs `fault KIND` and checks the kernel reports the fault it must (kind, cause, address)
/// and exits with the fatal-exception status.
fn fault(board: &Board, image: &Path, kind: &str) -> XtaskResult {
    let options = Options::with_default_devices(board)?;
    let mut session = Session::start(qemu::boot_command(board, image, &options))?;
    let result = (|| {
        session.expect(PROMPT, BOOT_TIMEOUT)?;
        session.send_line(&format!("fault {kind}"))?;
        let code = session.wait_exit(Duration::from_secs(30))?;
        let output = session.output();
        let report = output.split_once(&format!("fault {kind}")).map_or("", |(_, after)| after);
        let address = report
            .lines()
            .find_map(|l| l.strip_prefix("fault: ").and_then(|l| l.rsplit_once(" at ")).map(|(_, at)| at.trim().to_string()));
        let device_tree = has_device_tree(board);
        let wanted: Vec<String> = match (kind, device_tree, address) {
            ("stack", true, _) => vec!["data abort".into(), "translation fault (not mapped), write".into(), "in the guard page below the boot stack: stack overflow".into()],
            ("stack", false, _) => vec!["#PF page fault".into(), "page fault: not mapped, write".into(), "in the guard page below the boot stack: stack overflow".into()],
            ("write-text", true, Some(at)) => vec!["data abort".into(), format!("permission fault, write at FAR_EL1 {at}")],
            ("write-text", false, Some(at)) => vec!["#PF page fault".into(), format!("page fault: protection violation, write at CR2 {at}")],
            ("exec-data", true, Some(at)) => vec!["instruction abort".into(), format!("permission fault, instruction fetch at FAR_EL1 {at}")],
            ("exec-data", false, Some(at)) => vec!["#PF page fault".into(), format!("page fault: protection violation, instruction fetch at CR2 {at}")],
            _ => return Err(fail(format!("`fault {kind}` printed no address:\n{report}"))),
        };
        let missing: Vec<&String> = wanted.iter().filter(|w| !report.contains(w.as_str())).collect();
        if !report.contains("FATAL EXCEPTION") || !missing.is_empty() {
            return Err(fail(format!("`fault {kind}`: the report lacks {missing:?}:\n{report}")));
        }
        if code != fault_exit_status(board) {
            return Err(fail(format!("`fault {kind}`: QEMU exited with {code}, expected {}", fault_exit_status(board))));
        }
        eprintln!("xtask:   {}", report.lines().filter(|l| l.contains("fault") || l.contains("stack")).collect::<Vec<_>>().join(" | "));
        Ok(())
    })();
    let log = crate::scratch_dir()?.join(format!("fault-{kind}.log"));
    let _ = std::fs::write(&log, session.output());
    result.map_err(|e| fail(format!("{e}\n(serial log: {})", log.display())))
}

/// Boots at EL2 (`extra` makes QEMU start the CPU there): the kernel says so, and the one-disk
/// blk test passes with interrupt counts.
fn entered_at_el2(board: &Board, image: &Path, mode: &str, extra: &[&str]) -> XtaskResult {
    let mut options = Options::with_default_devices(board)?;
    options.extra.extend(extra.iter().map(|arg| arg.to_string()));
    boot_and_drive(board, image, &options, mode, |session| {
        if !session.output().contains("cpu: entered at EL2, running at EL1") {
            return Err(fail("the kernel does not say it was entered at EL2"));
        }
        Ok(())
    })?;
    one_disk(board, image, mode, board.qemu.virtio_transport, true, extra)
}

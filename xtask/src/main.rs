//! `cargo xtask`: builds the test kernel, boots it under QEMU, runs the tests.
//!
//! ```text
//! cargo xtask run   [--board NAME] [--modern-mmio] [--disk FILE] [-- <extra QEMU args>]
//! cargo xtask test  [--board NAME] [--host-only | --boot-only] [--only TEXT]
//! cargo xtask build [--board NAME]
//! cargo xtask dtb   [--board NAME] OUT.dtb [-- <extra QEMU args>]
//! cargo xtask bench [--board NAME] [--quick] [--linux]
//! cargo xtask fuzz  [TARGET] [--seconds N]
//! ```

mod bench;
mod boot_tests;
mod fuzz;
mod kernel;
mod profile;
mod qemu;
mod qmp;
mod setup;

use std::fmt;
use std::path::PathBuf;
use std::process::ExitCode;

use boards::Board;

/// A failure with a message for the person at the terminal.
pub struct Failure(String);

impl fmt::Display for Failure {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

pub type XtaskResult<T = ()> = Result<T, Failure>;

pub fn fail(message: impl Into<String>) -> Failure {
    Failure(message.into())
}

/// The workspace root (xtask lives one level below it).
pub fn workspace_root() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR")).parent().expect("xtask is inside the workspace").to_path_buf()
}

/// Where xtask keeps what it makes (disk images, DTB dumps, logs): inside the ignored target/.
pub fn scratch_dir() -> XtaskResult<PathBuf> {
    let dir = workspace_root().join("target").join("xtask");
    std::fs::create_dir_all(&dir).map_err(|e| fail(format!("cannot create {}: {e}", dir.display())))?;
    Ok(dir)
}

const USAGE: &str = "usage:
  cargo xtask run   [--board NAME] [--modern-mmio] [--disk FILE] [-- <extra QEMU args>]
                    boot the test kernel with the board's default devices, serial on stdio
                    (quit: `poweroff` in the guest, or Ctrl-a x); the disk is a scratch image
                    of this run, deleted on exit, unless --disk names a file (made if missing, kept)
  cargo xtask test  [--board NAME] [--host-only | --boot-only] [--only TEXT]
                    host unit tests, then QEMU boot tests (every board unless --board;
                    only the boot tests whose name contains TEXT with --only)
  cargo xtask build [--board NAME]
  cargo xtask dtb   [--board NAME] OUT.dtb [-- <extra QEMU args>]
                    dump the device tree QEMU gives the board (same default devices)
  cargo xtask bench [--board NAME] [--quick] [--linux]
                    benchmarks beside virtio-drivers (and a Linux guest), results/bench-*.json|md
  cargo xtask fuzz  [TARGET] [--seconds N]
                    the fuzz targets (fuzz/) for N seconds each (default 20), or only TARGET
  cargo xtask profile [--board NAME] SHELL COMMAND...
                    where the guest's CPU spends its time while a shell command runs (sampled)
boards: ";

struct Args {
    command: String,
    board: &'static Board,
    /// Whether `--board` was given (`test` runs every board otherwise).
    board_chosen: bool,
    /// `--only TEXT`: run the boot tests whose name contains TEXT.
    only: Option<String>,
    /// `--disk FILE` (run): the disk image to attach instead of a scratch one.
    disk: Option<PathBuf>,
    flags: Vec<String>,
    positional: Vec<String>,
    qemu_extra: Vec<String>,
}

fn parse_args() -> XtaskResult<Args> {
    let mut raw = std::env::args().skip(1);
    let command = raw.next().ok_or_else(usage)?;
    let mut board = &boards::qemu_virt::BOARD;
    let mut board_chosen = false;
    let mut only = None;
    let mut disk = None;
    let (mut flags, mut positional, mut qemu_extra) = (Vec::new(), Vec::new(), Vec::new());
    while let Some(arg) = raw.next() {
        match arg.as_str() {
            "--" => qemu_extra.extend(raw.by_ref()),
            "--board" => {
                let name = raw.next().ok_or_else(usage)?;
                board = boards::by_name(&name).ok_or_else(|| fail(format!("unknown board '{name}'\n{}", usage().0)))?;
                board_chosen = true;
            }
            "--only" => only = Some(raw.next().ok_or_else(usage)?),
            "--disk" => disk = Some(PathBuf::from(raw.next().ok_or_else(usage)?)),
            flag if flag.starts_with("--") => flags.push(arg),
            _ => positional.push(arg),
        }
    }
    if only.is_some() && command != "test" {
        return Err(fail(format!("--only is an option of 'test'\n{}", usage().0)));
    }
    if disk.is_some() && command != "run" {
        return Err(fail(format!("--disk is an option of 'run'\n{}", usage().0)));
    }
    Ok(Args { command, board, board_chosen, only, disk, flags, positional, qemu_extra })
}

fn usage() -> Failure {
    let names: Vec<&str> = boards::ALL.iter().map(|b| b.name).collect();
    fail(format!("{USAGE}{} (default qemu-virt)", names.join(", ")))
}

fn run() -> XtaskResult<u8> {
    let args = parse_args()?;
    let has = |flag: &str| args.flags.iter().any(|f| f == flag);
    let known: &[&str] = match args.command.as_str() {
        "run" => &["--modern-mmio"],
        "test" => &["--host-only", "--boot-only"],
        "bench" => &["--quick", "--linux"],
        "fuzz" => &["--seconds"],
        _ => &[],
    };
    if let Some(unknown) = args.flags.iter().find(|f| !known.contains(&f.as_str())) {
        return Err(fail(format!("unknown option {unknown} for '{}'\n{}", args.command, usage().0)));
    }
    match args.command.as_str() {
        "build" => {
            setup::ensure_tools()?;
            let image = kernel::build(args.board)?;
            println!("{}", image.display());
            Ok(0)
        }
        "run" => {
            if has("--modern-mmio") && args.board.qemu.virtio_transport != boards::VirtioTransport::Mmio {
                return Err(fail(format!(
                    "--modern-mmio picks virtio-mmio version 2, but {} has no virtio-mmio (its virtio devices are PCI)",
                    args.board.name
                )));
            }
            setup::ensure_tools()?;
            let image = kernel::build(args.board)?;
            let mut options = qemu::Options::with_default_devices(args.board)?;
            if let Some(disk) = &args.disk {
                options.use_disk(disk)?;
            }
            options.modern_mmio = has("--modern-mmio");
            options.serial_monitor = true;
            options.extra = args.qemu_extra;
            qemu::run_interactive(args.board, &image, &options)
        }
        "dtb" => {
            setup::ensure_tools()?;
            let out = args.positional.first().ok_or_else(usage)?;
            let mut options = qemu::Options::with_default_devices(args.board)?;
            options.extra = args.qemu_extra;
            qemu::dump_dtb(args.board, &options, out.as_ref())?;
            Ok(0)
        }
        "test" => {
            if !has("--boot-only") {
                boot_tests::host_tests()?;
            }
            if !has("--host-only") {
                setup::ensure_tools()?;
                let boards: Vec<&Board> = if args.board_chosen { vec![args.board] } else { boards::ALL.to_vec() };
                for board in boards {
                    boot_tests::run_all(board, args.only.as_deref())?;
                }
            }
            Ok(0)
        }
        "bench" => {
            setup::ensure_tools()?;
            bench::run(args.board, has("--quick"), has("--linux"))?;
            Ok(0)
        }
        "fuzz" => {
            fuzz::run(std::env::args().skip(2))?;
            Ok(0)
        }
        "profile" if !args.positional.is_empty() => {
            setup::ensure_tools()?;
            profile::run(args.board, &args.positional.join(" "))?;
            Ok(0)
        }
        _ => Err(usage()),
    }
}

fn main() -> ExitCode {
    qemu::remove_stale_scratch_disks();
    let result = run();
    qemu::remove_private_scratch_disk();
    match result {
        Ok(code) => ExitCode::from(code),
        Err(failure) => {
            eprintln!("xtask: {failure}");
            ExitCode::FAILURE
        }
    }
}

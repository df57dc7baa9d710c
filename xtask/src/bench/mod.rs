//! `cargo xtask bench [--quick] [--linux]`: our drivers against their peers, in one run on one
//! machine: the virtio-drivers crate in the same boot, optionally a Linux guest with the same
//! QEMU options, and the host's own I/O on the same backing file as the ceiling; plus boot
//! times per board and the registry's host code. Prints the table (median, min-max of several
//! runs, ratios) and writes it to `results/bench-<date>.json` and `.md`.
//!
//! Figures are measured, never asserted: a benchmark that does not apply here is listed under
//! "not measured" with the reason; one that breaks is listed as failed, and makes the command
//! fail once everything else has run and the results are written.
//! `--quick` is a smoke pass with small volumes that CI runs to keep all of this working.

mod boot;
mod guest;
mod host;
mod lines;
mod linux;
mod net;
mod report;

use std::path::{Path, PathBuf};
use std::process::Command;

use boards::Board;

use crate::{fail, kernel, scratch_dir, workspace_root, XtaskResult};
use report::Results;

/// The test kernel's feature that links the virtio-drivers peer.
const PEER_FEATURE: &str = "virtio-drivers-peer";

/// How much each benchmark moves, and how many times it runs.
pub struct Volumes {
    pub runs: usize,
    pub boot_runs: usize,
    pub disk_mib: u64,
    pub sequential_mib: u64,
    pub random_requests: u64,
    pub flushes: u64,
    pub net_mib: usize,
    pub round_trips: usize,
}

impl Volumes {
    fn new(quick: bool) -> Volumes {
        if quick {
            Volumes { runs: 2, boot_runs: 2, disk_mib: 32, sequential_mib: 8, random_requests: 256, flushes: 8, net_mib: 1, round_trips: 20 }
        } else {
            Volumes { runs: 3, boot_runs: 5, disk_mib: 256, sequential_mib: 128, random_requests: 4096, flushes: 64, net_mib: 16, round_trips: 200 }
        }
    }
}

pub fn run(board: &'static Board, quick: bool, with_linux: bool) -> XtaskResult {
    let volumes = Volumes::new(quick);
    let mut results = Results::default();
    describe_run(&mut results, quick, &volumes);

    eprintln!("xtask: bench: registry host code (cargo bench, optimised) ...");
    if let Err(error) = host::registry(quick, volumes.runs.max(3), &mut results) {
        results.broken.push(format!("registry host benchmark: {error}"));
    }

    let disk = BenchDisk::create(volumes.disk_mib)?;
    results.facts.push(("backing file".into(), disk.describe()));
    if board.devices == boards::DeviceSource::DeviceTreeFromBootLoader {
        match kernel::build_with_features(board, &[PEER_FEATURE]) {
            Ok(image) => guest::measure(board, &image, &disk.path, &volumes, &mut results),
            Err(error) => results.broken.push(format!("the bench kernel ({PEER_FEATURE}): {error}")),
        }
        if with_linux {
            linux::measure(board, &disk.path, &volumes, &mut results);
        } else {
            results.skipped.push("Linux guest: not asked for (cargo xtask bench --linux)".into());
        }
    } else {
        results.skipped.push(format!("guest benchmarks: they need a device-tree board with virtio-mmio, not {}", board.name));
    }
    eprintln!("xtask: bench: the host's own I/O on {} ...", disk.path.display());
    if let Err(error) = host::file_limit(&disk.path, &volumes, &mut results) {
        results.broken.push(format!("host I/O: {error}"));
    }

    // Every board in a full run; the board asked for in a quick one.
    let boot_boards: Vec<&'static Board> = if quick { vec![board] } else { boards::ALL.to_vec() };
    for boot_board in boot_boards {
        eprintln!("xtask: bench: boot time on {} ...", boot_board.name);
        let measured = kernel::build(boot_board).and_then(|image| boot::measure(boot_board, &image, volumes.boot_runs, &mut results));
        if let Err(error) = measured {
            results.broken.push(format!("boot time on {}: {error}", boot_board.name));
        }
    }

    let table = results.table(false);
    println!("\n{table}");
    write_results(&results)?;
    match results.broken.len() {
        0 if results.is_empty() => Err(fail("no benchmark could be measured")),
        0 => Ok(()),
        broken => Err(fail(format!("{broken} benchmark(s) failed (listed under the table)"))),
    }
}

/// Date, machine, QEMU and volumes: the context the figures need.
fn describe_run(results: &mut Results, quick: bool, volumes: &Volumes) {
    let output = |program: &str, args: &[&str]| {
        Command::new(program).args(args).output().ok().map(|o| String::from_utf8_lossy(&o.stdout).trim().to_string()).unwrap_or_default()
    };
    let cpu = std::fs::read_to_string("/proc/cpuinfo")
        .ok()
        .and_then(|info| info.lines().find_map(|l| Some(l.strip_prefix("model name")?.trim_start_matches([' ', '\t', ':']).to_string())))
        .unwrap_or_default();
    let cores = std::thread::available_parallelism().map_or(0, |n| n.get());
    let qemu = output("qemu-system-aarch64", &["--version"]);
    results.facts.extend([
        ("date".into(), output("date", &["-u", "+%Y-%m-%d %H:%M:%S UTC"])),
        ("machine".into(), format!("{cores} cores, {cpu}, {}", output("uname", &["-sr"]))),
        ("qemu".into(), format!("{} (TCG, one vCPU)", qemu.lines().next().unwrap_or("?"))),
        ("mode".into(), if quick { "quick (smoke pass: small volumes)".into() } else { "full".into() }),
        (
            "volumes".into(),
            format!(
                "{} runs; blk {} MiB sequential, {} random requests, {} flushes; net {} MiB each way, {} round trips",
                volumes.runs, volumes.sequential_mib, volumes.random_requests, volumes.flushes, volumes.net_mib, volumes.round_trips
            ),
        ),
    ]);
}

/// `results/bench-<date>-<time>.json` and `.md`.
fn write_results(results: &Results) -> XtaskResult {
    let dir = workspace_root().join("results");
    std::fs::create_dir_all(&dir).map_err(|e| fail(format!("cannot create {}: {e}", dir.display())))?;
    let stamp = Command::new("date").args(["-u", "+%Y-%m-%d-%H%M%S"]).output().map_err(|e| fail(format!("date: {e}")))?;
    let stamp = String::from_utf8_lossy(&stamp.stdout).trim().to_string();
    let json = dir.join(format!("bench-{stamp}.json"));
    let markdown = dir.join(format!("bench-{stamp}.md"));
    let pretty = serde_json::to_string_pretty(&results.json()).map_err(|e| fail(format!("JSON: {e}")))?;
    let facts: String = results.facts.iter().map(|(k, v)| format!("- {k}: {v}\n")).collect();
    let text = format!("# cargo xtask bench, {stamp}\n\n{facts}\n{}", results.table(true));
    for (path, contents) in [(&json, pretty), (&markdown, text)] {
        std::fs::write(path, contents).map_err(|e| fail(format!("cannot write {}: {e}", path.display())))?;
    }
    eprintln!("xtask: bench: wrote {} and {}", json.display(), markdown.display());
    Ok(())
}

/// The raw disk image every guest gets, on tmpfs (`/dev/shm`) so the host's own disk is not
/// what is measured, or in the page cache under `target/` where there is no tmpfs. Filled with
/// data (not sparse), removed when dropped.
struct BenchDisk {
    path: PathBuf,
    on_tmpfs: bool,
}

impl BenchDisk {
    fn create(mib: u64) -> XtaskResult<BenchDisk> {
        let shm = Path::new("/dev/shm");
        let on_tmpfs = shm.is_dir();
        let dir = if on_tmpfs { shm.to_path_buf() } else { scratch_dir()? };
        let path = dir.join(format!("xtask-bench-{}.img", std::process::id()));
        let mut state = 0x2545_f491_4f6c_dd1du64;
        let bytes: Vec<u8> = (0..mib << 17)
            .flat_map(|_| {
                state ^= state << 13;
                state ^= state >> 7;
                state ^= state << 17;
                state.to_le_bytes()
            })
            .collect();
        std::fs::write(&path, bytes).map_err(|e| fail(format!("cannot write {}: {e}", path.display())))?;
        Ok(BenchDisk { path, on_tmpfs })
    }

    fn describe(&self) -> String {
        let place = if self.on_tmpfs { "tmpfs" } else { "page cache" };
        format!("{} ({place}), raw, QEMU's default cache=writeback", self.path.display())
    }
}

impl Drop for BenchDisk {
    fn drop(&mut self) {
        let _ = std::fs::remove_file(&self.path);
    }
}

//! QEMU command lines from a board file, interactive runs, and scripted sessions for tests.

use std::io::{Read, Write};
use std::path::{Path, PathBuf};
use std::process::{Child, ChildStdin, Command, Stdio};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use boards::{Board, DeviceSource};

use crate::{fail, scratch_dir, XtaskResult};

/// Size of the scratch disk `run` attaches by default.
const SCRATCH_DISK_BYTES: u64 = 64 << 20;

/// What to attach to the machine.
pub struct Options {
    /// virtio-net on QEMU's user network.
    pub net: bool,
    /// Disk images to attach as virtio-blk, in order.
    pub disks: Vec<PathBuf>,
    pub gpu: bool,
    /// virtio-mmio version 2 instead of QEMU's legacy default.
    pub modern_mmio: bool,
    /// Serial on stdio multiplexed with QEMU's monitor (`-serial mon:stdio`), for a person at
    /// the terminal: `Ctrl-a x` quits, `Ctrl-a c` switches to the monitor and back, and
    /// `Ctrl-C` goes to the guest instead of killing QEMU (and xtask). Scripted sessions keep
    /// plain stdio, where a 0x01 byte is just a byte.
    pub serial_monitor: bool,
    pub extra: Vec<String>,
}

/// The scratch disk's file name: one per xtask process, so two `cargo xtask run`s (or a run
/// and a test run) never fight over QEMU's image lock.
static SCRATCH_DISK_NAME: std::sync::OnceLock<String> = std::sync::OnceLock::new();
const SCRATCH_DISK_PREFIX: &str = "scratch-disk-";

/// This process's scratch disk, `target/xtask/scratch-disk-PID.img` (made by
/// [`Options::with_default_devices`]); [`remove_private_scratch_disk`] deletes it when the
/// command ends.
pub fn use_private_scratch_disk() -> XtaskResult<PathBuf> {
    let name = SCRATCH_DISK_NAME.get_or_init(|| format!("{SCRATCH_DISK_PREFIX}{}.img", std::process::id()));
    Ok(scratch_dir()?.join(name))
}

/// Deletes this process's scratch disk, if it made one.
pub fn remove_private_scratch_disk() {
    if let (Some(name), Ok(dir)) = (SCRATCH_DISK_NAME.get(), scratch_dir()) {
        let _ = std::fs::remove_file(dir.join(name));
    }
}

/// Deletes the scratch disks of xtask processes that no longer run (killed before they could
/// clean up): their PID has no `/proc` entry.
pub fn remove_stale_scratch_disks() {
    let Ok(entries) = scratch_dir().and_then(|dir| std::fs::read_dir(&dir).map_err(|e| fail(e.to_string()))) else {
        return;
    };
    for entry in entries.flatten() {
        let name = entry.file_name();
        let pid = name.to_str().and_then(|n| n.strip_prefix(SCRATCH_DISK_PREFIX)?.strip_suffix(".img")?.parse::<u32>().ok());
        if pid.is_some_and(|pid| !Path::new(&format!("/proc/{pid}")).exists()) {
            let _ = std::fs::remove_file(entry.path());
        }
    }
}

/// Makes `path` a zeroed disk image of `bytes` bytes if there is no file there yet.
pub fn create_disk_if_missing(path: &Path, bytes: u64) -> XtaskResult {
    if !path.exists() {
        let file = std::fs::File::create(path).map_err(|e| fail(format!("cannot create {}: {e}", path.display())))?;
        file.set_len(bytes).map_err(|e| fail(format!("cannot size {}: {e}", path.display())))?;
    }
    Ok(())
}

impl Options {
    /// The board's default device set: a NIC, this process's scratch disk and a GPU.
    pub fn with_default_devices(_board: &Board) -> XtaskResult<Self> {
        let disk = use_private_scratch_disk()?;
        create_disk_if_missing(&disk, SCRATCH_DISK_BYTES)?;
        Ok(Options { net: true, disks: vec![disk], gpu: true, modern_mmio: false, serial_monitor: false, extra: Vec::new() })
    }

    /// `--disk FILE`: attach `file` instead of the scratch disk, made (64 MiB of zeros) if it
    /// does not exist, and kept.
    pub fn use_disk(&mut self, file: &Path) -> XtaskResult {
        create_disk_if_missing(file, SCRATCH_DISK_BYTES)?;
        self.disks = vec![file.to_path_buf()];
        Ok(())
    }
}

/// The full QEMU command for `board`, without the kernel (see [`boot_command`]).
pub fn machine_command(board: &Board, options: &Options, machine_suffix: &str) -> Command {
    let q = &board.qemu;
    let mut cmd = Command::new(q.binary);
    cmd.arg("-M").arg(format!("{}{machine_suffix}", q.machine));
    cmd.args(["-cpu", q.cpu, "-m", &q.memory_mib.to_string()]);
    // The board's accelerators, unless the run picks its own (`-- -accel tcg`).
    if !options.extra.iter().any(|arg| arg == "-accel") {
        for accelerator in q.accelerators {
            cmd.args(["-accel", accelerator]);
        }
    }
    let serial = if options.serial_monitor { "mon:stdio" } else { "stdio" };
    cmd.args(["-display", "none", "-monitor", "none", "-serial", serial]);
    cmd.args(q.extra_args);
    if options.modern_mmio {
        cmd.args(["-global", "virtio-mmio.force-legacy=false"]);
    }
    let suffix = q.virtio_transport.qemu_suffix();
    if options.net {
        cmd.args(["-netdev", "user,id=net0"]);
        cmd.args(["-device", &format!("virtio-net-{suffix},netdev=net0")]);
    }
    for (i, disk) in options.disks.iter().enumerate() {
        cmd.args(["-drive", &format!("if=none,id=disk{i},format=raw,file={}", disk.display())]);
        cmd.args(["-device", &format!("virtio-blk-{suffix},drive=disk{i}")]);
    }
    if options.gpu {
        cmd.args(["-device", &format!("virtio-gpu-{suffix}")]);
    }
    cmd.args(&options.extra);
    cmd
}

pub fn boot_command(board: &Board, image: &Path, options: &Options) -> Command {
    let mut cmd = machine_command(board, options, "");
    cmd.arg("-kernel").arg(image);
    cmd
}

/// Boots with serial on this terminal (or pipe) and returns QEMU's exit code.
pub fn run_interactive(board: &Board, image: &Path, options: &Options) -> XtaskResult<u8> {
    let mut cmd = boot_command(board, image, options);
    eprintln!("xtask: {}", describe(&cmd));
    let status = cmd.status().map_err(|e| fail(format!("cannot start {}: {e}", board.qemu.binary)))?;
    Ok(status.code().map_or(1, |c| c.clamp(0, 255) as u8))
}

/// Has QEMU write the device tree it would give the kernel.
pub fn dump_dtb(board: &Board, options: &Options, out: &Path) -> XtaskResult {
    if board.devices != DeviceSource::DeviceTreeFromBootLoader {
        return Err(fail(format!("QEMU gives {} no device tree", board.name)));
    }
    let mut cmd = machine_command(board, options, &format!(",dumpdtb={}", out.display()));
    let output = cmd.output().map_err(|e| fail(format!("cannot start {}: {e}", board.qemu.binary)))?;
    if !output.status.success() || !out.exists() {
        return Err(fail(format!(
            "QEMU did not dump the DTB ({}): {}",
            output.status,
            String::from_utf8_lossy(&output.stderr)
        )));
    }
    Ok(())
}

pub fn describe(cmd: &Command) -> String {
    let mut words = vec![cmd.get_program().to_string_lossy().into_owned()];
    words.extend(cmd.get_args().map(|a| a.to_string_lossy().into_owned()));
    words.join(" ")
}

/// A QEMU boot driven by a test: serial output collected, lines sent to the shell.
pub struct Session {
    child: Child,
    stdin: Option<ChildStdin>,
    output: Arc<Mutex<Vec<u8>>>,
    /// How much of the output earlier `expect`s consumed.
    cursor: usize,
}

impl Session {
    pub fn start(mut cmd: Command) -> XtaskResult<Self> {
        let mut child = cmd
            .stdin(Stdio::piped())
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .spawn()
            .map_err(|e| fail(format!("cannot start {}: {e}", describe(&cmd))))?;
        let output = Arc::new(Mutex::new(Vec::new()));
        for mut stream in [
            Box::new(child.stdout.take().expect("piped")) as Box<dyn Read + Send>,
            Box::new(child.stderr.take().expect("piped")),
        ] {
            let sink = Arc::clone(&output);
            std::thread::spawn(move || {
                let mut buf = [0u8; 4096];
                while let Ok(n @ 1..) = stream.read(&mut buf) {
                    sink.lock().expect("output lock").extend_from_slice(&buf[..n]);
                }
            });
        }
        let stdin = child.stdin.take();
        Ok(Session { child, stdin, output, cursor: 0 })
    }

    /// All output so far, lossily decoded.
    pub fn output(&self) -> String {
        String::from_utf8_lossy(&self.output.lock().expect("output lock")).into_owned()
    }

    /// Waits until `needle` appears after the previous match; returns the text up to and
    /// including it.
    pub fn expect(&mut self, needle: &str, timeout: Duration) -> XtaskResult<String> {
        let deadline = Instant::now() + timeout;
        loop {
            let text = self.output();
            if let Some(found) = text.get(self.cursor..).and_then(|rest| rest.find(needle)) {
                let end = self.cursor + found + needle.len();
                let consumed = text[self.cursor..end].to_string();
                self.cursor = end;
                return Ok(consumed);
            }
            if Instant::now() >= deadline {
                return Err(fail(format!("timed out after {timeout:?} waiting for {needle:?}")));
            }
            if let Ok(Some(status)) = self.child.try_wait() {
                // Let the reader threads drain what is left before giving up.
                std::thread::sleep(Duration::from_millis(100));
                if !self.output()[self.cursor..].contains(needle) {
                    return Err(fail(format!("QEMU exited ({status}) before printing {needle:?}")));
                }
            }
            std::thread::sleep(Duration::from_millis(20));
        }
    }

    pub fn send_line(&mut self, line: &str) -> XtaskResult {
        let stdin = self.stdin.as_mut().ok_or_else(|| fail("QEMU's stdin is closed"))?;
        stdin
            .write_all(format!("{line}\n").as_bytes())
            .and_then(|_| stdin.flush())
            .map_err(|e| fail(format!("cannot write to QEMU: {e}")))
    }

    /// Waits for QEMU to exit and returns its exit code; kills it after `timeout`.
    pub fn wait_exit(&mut self, timeout: Duration) -> XtaskResult<i32> {
        self.stdin.take();
        let deadline = Instant::now() + timeout;
        loop {
            if let Some(status) = self.child.try_wait().map_err(|e| fail(format!("waiting for QEMU: {e}")))? {
                std::thread::sleep(Duration::from_millis(50));
                return Ok(status.code().unwrap_or(-1));
            }
            if Instant::now() >= deadline {
                let _ = self.child.kill();
                let _ = self.child.wait();
                return Err(fail(format!("QEMU still running after {timeout:?}; killed")));
            }
            std::thread::sleep(Duration::from_millis(20));
        }
    }
}

impl Drop for Session {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

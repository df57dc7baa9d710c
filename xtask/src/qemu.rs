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
    pub extra: Vec<String>,
}

/// The scratch disk's file name: one shared by interactive runs; test runs set their own, so a
/// test run and a `cargo xtask run` (or two test runs) never fight over QEMU's image lock.
static SCRATCH_DISK_NAME: std::sync::OnceLock<String> = std::sync::OnceLock::new();

/// Gives this process its own scratch disk, `scratch-disk-PID.img`; returns its path so the
/// caller can remove it when done.
pub fn use_private_scratch_disk() -> XtaskResult<PathBuf> {
    let name = SCRATCH_DISK_NAME.get_or_init(|| format!("scratch-disk-{}.img", std::process::id()));
    Ok(scratch_dir()?.join(name))
}

impl Options {
    /// The board's default device set: a NIC, a scratch disk and a GPU.
    pub fn with_default_devices(_board: &Board) -> XtaskResult<Self> {
        let name = SCRATCH_DISK_NAME.get().map_or("scratch-disk.img", String::as_str);
        let disk = scratch_dir()?.join(name);
        if !disk.exists() {
            let file = std::fs::File::create(&disk).map_err(|e| fail(format!("cannot create {}: {e}", disk.display())))?;
            file.set_len(SCRATCH_DISK_BYTES).map_err(|e| fail(format!("cannot size {}: {e}", disk.display())))?;
        }
        Ok(Options { net: true, disks: vec![disk], gpu: true, modern_mmio: false, extra: Vec::new() })
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
    cmd.args(["-display", "none", "-monitor", "none", "-serial", "stdio"]);
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

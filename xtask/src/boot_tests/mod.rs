//! `cargo xtask test`: the host unit tests, then boots under QEMU that assert on what the
//! kernel printed and compare the kernel's `lsdev --json` with the host's prediction.

mod blk;
mod gpu;
mod http;
mod interrupts;
mod legacy_pci;
mod lsdev;
mod memory;
mod net;
mod pci;

use std::collections::BTreeMap;
use std::path::Path;
use std::process::Command;
use std::time::{Duration, Instant};

use boards::Board;
use serde_json::Value;

use crate::qemu::{self, Options, Session};
use crate::{fail, kernel, scratch_dir, workspace_root, XtaskResult};

/// The test kernel's shell prompt.
pub const PROMPT: &str = "kernel> ";
pub const BOOT_TIMEOUT: Duration = Duration::from_secs(60);
const COMMAND_TIMEOUT: Duration = Duration::from_secs(30);

pub fn host_tests() -> XtaskResult {
    eprintln!("xtask: host tests (cargo test --workspace --exclude test-kernel)");
    let cargo = std::env::var("CARGO").unwrap_or_else(|_| "cargo".into());
    let status = Command::new(cargo)
        .current_dir(workspace_root())
        .args(["test", "--workspace", "--exclude", "test-kernel"])
        .status()
        .map_err(|e| fail(format!("cannot run cargo test: {e}")))?;
    if !status.success() {
        return Err(fail("host tests failed"));
    }
    // bus-dt's test over a folder of real boards' DTBs is ignored unless that folder is named.
    if std::env::var_os("BUS_DT_EXTRA_DTB_DIR").is_some() {
        eprintln!("xtask: BUS_DT_EXTRA_DTB_DIR is set: the bus-dt test over its DTBs");
        let cargo = std::env::var("CARGO").unwrap_or_else(|_| "cargo".into());
        let status = Command::new(cargo)
            .current_dir(workspace_root())
            .args(["test", "-p", "bus-dt", "--test", "dt", "--", "--ignored", "every_extra_dtb_enumerates"])
            .status()
            .map_err(|e| fail(format!("cannot run cargo test: {e}")))?;
        if !status.success() {
            return Err(fail("the bus-dt test over BUS_DT_EXTRA_DTB_DIR failed"));
        }
    }
    Ok(())
}

/// One boot test: a name and what it checks, given the board and the kernel image.
pub struct BootTest {
    pub name: &'static str,
    /// Whether the test means anything on this board.
    pub applies: fn(&Board) -> bool,
    pub run: fn(&Board, &Path) -> XtaskResult,
}

/// For [`BootTest::applies`]: boards described by a device tree.
pub fn has_device_tree(board: &Board) -> bool {
    board.devices == boards::DeviceSource::DeviceTreeFromBootLoader
}

/// For [`BootTest::applies`]: every board.
pub fn any_board(_: &Board) -> bool {
    true
}

/// Every boot test, grouped by what it exercises; each group lives in its own file.
fn all_tests() -> Vec<&'static BootTest> {
    [lsdev::TESTS, gpu::TESTS, blk::TESTS, net::TESTS, http::TESTS, legacy_pci::TESTS, pci::TESTS, memory::TESTS].into_iter().flatten().collect()
}

/// Runs the boot tests that apply to `board` (and whose name contains `only`, if given).
pub fn run_all(board: &Board, only: Option<&str>) -> XtaskResult {
    let image = kernel::build(board)?;
    let scratch = qemu::use_private_scratch_disk()?;
    let (mut passed, mut failed) = (0, 0);
    let chosen = |t: &&BootTest| (t.applies)(board) && only.is_none_or(|text| t.name.contains(text));
    for test in all_tests().into_iter().filter(chosen) {
        eprintln!("xtask: boot test [{}]: {} ...", board.name, test.name);
        match (test.run)(board, &image) {
            Ok(()) => {
                passed += 1;
                eprintln!("xtask: boot test [{}]: {} ... ok", board.name, test.name);
            }
            Err(e) => {
                failed += 1;
                eprintln!("xtask: boot test [{}]: {} ... FAILED\n{e}", board.name, test.name);
            }
        }
    }
    let _ = std::fs::remove_file(&scratch);
    println!("boot tests: {passed} passed, {failed} failed");
    if failed > 0 {
        return Err(fail(format!("{failed} boot test(s) failed")));
    }
    Ok(())
}

/// Boots, waits for the shell, runs `commands`, powers off; returns each command's output.
pub fn boot_and_run(board: &Board, image: &Path, options: &Options, commands: &[&str], log_name: &str) -> XtaskResult<Vec<String>> {
    boot_and_drive(board, image, options, log_name, |session| {
        commands.iter().map(|command| run_command(session, command)).collect()
    })
}

/// Boots, waits for the shell, lets `drive` use the session (e.g. to look at the machine
/// between commands), powers off; returns what `drive` returned.
pub fn boot_and_drive<T>(
    board: &Board,
    image: &Path,
    options: &Options,
    log_name: &str,
    drive: impl FnOnce(&mut Session) -> XtaskResult<T>,
) -> XtaskResult<T> {
    let mut session = Session::start(qemu::boot_command(board, image, options))?;
    let result = (|| {
        session.expect("probe_all:", BOOT_TIMEOUT)?;
        session.expect(PROMPT, BOOT_TIMEOUT)?;
        let value = drive(&mut session)?;
        session.send_line("poweroff")?;
        let code = session.wait_exit(COMMAND_TIMEOUT)?;
        if code != 0 {
            return Err(fail(format!("QEMU exited with {code} after poweroff")));
        }
        Ok(value)
    })();
    let log = scratch_dir()?.join(format!("{log_name}.log"));
    let _ = std::fs::write(&log, session.output());
    result.map_err(|e| fail(format!("{e}\n(serial log: {})", log.display())))
}

/// Runs one shell command; returns its output, up to the next prompt.
pub fn run_command(session: &mut Session, command: &str) -> XtaskResult<String> {
    session.send_line(command)?;
    let output = session.expect(PROMPT, COMMAND_TIMEOUT)?;
    Ok(output.trim_end_matches(PROMPT).to_string())
}

/// Runs `command` every 100 ms until its output contains `needle` (a change the kernel learns of
/// asynchronously, e.g. from a configuration interrupt) and returns that output; fails after
/// `timeout`.
pub fn run_until(session: &mut Session, command: &str, needle: &str, timeout: Duration) -> XtaskResult<String> {
    let deadline = Instant::now() + timeout;
    loop {
        let output = run_command(session, command)?;
        if output.contains(needle) {
            return Ok(output);
        }
        if Instant::now() >= deadline {
            return Err(fail(format!("`{command}` did not show {needle:?} within {timeout:?}:\n{output}")));
        }
        std::thread::sleep(Duration::from_millis(100));
    }
}

/// The `{"devices":[...]}` block in a command's output.
pub fn parse_json_block(output: &str) -> XtaskResult<Value> {
    let start = output.find("{\"devices\"").ok_or_else(|| fail(format!("no JSON in output:\n{output}")))?;
    let end = output.rfind("]}").ok_or_else(|| fail("unterminated JSON"))? + 2;
    serde_json::from_str(&output[start..end]).map_err(|e| fail(format!("kernel JSON does not parse: {e}")))
}

pub fn by_path(json: &Value) -> XtaskResult<BTreeMap<String, &Value>> {
    let devices = json["devices"].as_array().ok_or_else(|| fail("JSON without a devices array"))?;
    Ok(devices.iter().filter_map(|d| Some((d["path"].as_str()?.to_string(), d))).collect())
}

//! `cargo xtask test`: the host unit tests, then boots under QEMU that assert on what the
//! kernel printed and compare the kernel's `lsdev --json` with the host's prediction.

use std::collections::BTreeMap;
use std::process::Command;
use std::time::Duration;

use boards::Board;
use serde_json::Value;

use crate::qemu::{self, Options, Session};
use crate::{fail, kernel, scratch_dir, workspace_root, XtaskResult};

/// The test kernel's shell prompt.
const PROMPT: &str = "kernel> ";
const BOOT_TIMEOUT: Duration = Duration::from_secs(60);
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
    Ok(())
}

/// One boot test: a name and what it checks.
struct BootTest {
    name: &'static str,
    run: fn(&Board, &std::path::Path) -> XtaskResult,
}

const BOOT_TESTS: &[BootTest] = &[
    BootTest {
        name: "lsdev over legacy virtio-mmio matches the host's prediction",
        run: |b, i| lsdev_matches_host(b, i, "legacy", false, &[]),
    },
    BootTest {
        name: "lsdev over modern virtio-mmio matches the host's prediction",
        run: |b, i| lsdev_matches_host(b, i, "modern", true, &[]),
    },
    BootTest {
        name: "lsdev with GICv3 and 2 CPUs matches the host's prediction",
        run: |b, i| lsdev_matches_host(b, i, "gicv3-smp2", true, &["-M", "gic-version=3", "-smp", "2"]),
    },
    BootTest { name: "shell answers help and rejects unknown commands", run: shell_commands },
];

pub fn run_all(board: &Board) -> XtaskResult {
    let image = kernel::build(board)?;
    let (mut passed, mut failed) = (0, 0);
    for test in BOOT_TESTS {
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
    println!("boot tests: {passed} passed, {failed} failed");
    if failed > 0 {
        return Err(fail(format!("{failed} boot test(s) failed")));
    }
    Ok(())
}

/// Boots, waits for the shell, runs `commands`, powers off; returns each command's output.
fn boot_and_run(board: &Board, image: &std::path::Path, options: &Options, commands: &[&str], log_name: &str) -> XtaskResult<Vec<String>> {
    let mut session = Session::start(qemu::boot_command(board, image, options))?;
    let result = (|| {
        session.expect("probe_all:", BOOT_TIMEOUT)?;
        session.expect(PROMPT, BOOT_TIMEOUT)?;
        let mut outputs = Vec::new();
        for command in commands {
            session.send_line(command)?;
            let output = session.expect(PROMPT, COMMAND_TIMEOUT)?;
            outputs.push(output.trim_end_matches(PROMPT).to_string());
        }
        session.send_line("poweroff")?;
        let code = session.wait_exit(COMMAND_TIMEOUT)?;
        if code != 0 {
            return Err(fail(format!("QEMU exited with {code} after poweroff")));
        }
        Ok(outputs)
    })();
    let log = scratch_dir()?.join(format!("{log_name}.log"));
    let _ = std::fs::write(&log, session.output());
    result.map_err(|e| fail(format!("{e}\n(serial log: {})", log.display())))
}

/// Boots with the default devices (plus `extra` QEMU arguments) and checks the kernel's view
/// against the host's prediction from the DTB QEMU dumps for the same options.
fn lsdev_matches_host(board: &Board, image: &std::path::Path, mode: &str, modern: bool, extra: &[&str]) -> XtaskResult {
    let mut options = Options::with_default_devices(board)?;
    options.modern_mmio = modern;
    options.extra = extra.iter().map(|s| s.to_string()).collect();
    let dtb = scratch_dir()?.join(format!("{}-{mode}.dtb", board.name));
    qemu::dump_dtb(board, &options, &dtb)?;
    let blob = std::fs::read(&dtb).map_err(|e| fail(format!("cannot read {}: {e}", dtb.display())))?;
    let predicted = lsdev::json_for_dtb(&blob).map_err(|e| fail(format!("host lsdev on {}: {e}", dtb.display())))?;
    let predicted: Value = serde_json::from_str(&predicted).map_err(|e| fail(format!("host JSON: {e}")))?;

    let outputs = boot_and_run(board, image, &options, &["lsdev", "lsdev --json"], &format!("lsdev-{mode}"))?;
    let tree = &outputs[0];
    let kernel = parse_json_block(&outputs[1])?;

    let host_devices = by_path(&predicted)?;
    let kernel_devices = by_path(&kernel)?;
    compare_dt_devices(&host_devices, &kernel_devices)?;
    check_virtio_mmio(&kernel_devices, tree, modern)
}

/// Every device the host found in the DTB is in the kernel's list with the same description,
/// the same driver, and an outcome that fits the host's prediction.
fn compare_dt_devices(host: &BTreeMap<String, &Value>, kernel: &BTreeMap<String, &Value>) -> XtaskResult {
    for (path, predicted) in host {
        let found = kernel.get(path).ok_or_else(|| fail(format!("kernel has no device {path}")))?;
        for field in ["compatible", "reg", "interrupts", "status", "driver", "parent"] {
            if predicted[field] != found[field] {
                return Err(fail(format!(
                    "{path}: {field} differs\n  host:   {}\n  kernel: {}",
                    predicted[field], found[field]
                )));
            }
        }
        let outcome = found["outcome"].as_str().unwrap_or("?");
        let fits = match predicted["outcome"].as_str() {
            Some("matched") => matches!(outcome, "bound" | "empty"),
            Some(other) => outcome == other,
            None => false,
        };
        if !fits {
            return Err(fail(format!(
                "{path}: host predicted {}, kernel says {outcome} ({})",
                predicted["outcome"], found["reason"]
            )));
        }
    }
    let extra: Vec<&String> = kernel.keys().filter(|p| !host.contains_key(*p) && kernel[*p]["bus"] == "dt").collect();
    if !extra.is_empty() {
        return Err(fail(format!("kernel has DT devices the host did not predict: {extra:?}")));
    }
    Ok(())
}

/// The default devices sit under three virtio-mmio slots with their slot's IRQ; every other slot
/// is empty.
fn check_virtio_mmio(kernel: &BTreeMap<String, &Value>, tree: &str, modern: bool) -> XtaskResult {
    let slots: Vec<&&Value> = kernel.values().filter(|d| d["compatible"][0] == "virtio,mmio").collect();
    if slots.len() != 32 {
        return Err(fail(format!("expected 32 virtio-mmio slots, found {}", slots.len())));
    }
    let transport = if modern { "virtio-mmio v2" } else { "virtio-mmio v1 (legacy)" };
    let mut children = Vec::new();
    for slot in &slots {
        let path = slot["path"].as_str().unwrap_or("?");
        match slot["outcome"].as_str() {
            Some("empty") => {}
            Some("bound") => {
                if slot["info"]["transport"] != transport {
                    return Err(fail(format!("{path}: transport {} but QEMU was asked for {transport}", slot["info"]["transport"])));
                }
                let child = kernel
                    .values()
                    .find(|d| d["parent"] == slot["path"])
                    .ok_or_else(|| fail(format!("{path} is bound but has no virtio device below it")))?;
                if child["interrupts"] != slot["interrupts"] {
                    return Err(fail(format!("{}: IRQ {} differs from its slot's {}", child["path"], child["interrupts"], slot["interrupts"])));
                }
                children.push(child["name"].as_str().unwrap_or("?").to_string());
            }
            other => return Err(fail(format!("{path}: unexpected outcome {other:?}: {}", slot["reason"]))),
        }
    }
    children.sort();
    if children != ["virtio-blk", "virtio-gpu", "virtio-net"] {
        return Err(fail(format!("virtio devices found: {children:?}, expected blk, gpu and net")));
    }
    for name in &children {
        if !tree.lines().any(|l| l.contains(&format!("`-- {name}"))) {
            return Err(fail(format!("the text tree does not show {name} below its slot:\n{tree}")));
        }
    }
    let empty_lines = tree.lines().filter(|l| l.contains("virtio_mmio@") && l.contains("empty")).count();
    if empty_lines != 29 {
        return Err(fail(format!("the text tree shows {empty_lines} empty virtio-mmio slots, expected 29:\n{tree}")));
    }
    Ok(())
}

fn shell_commands(board: &Board, image: &std::path::Path) -> XtaskResult {
    let mut options = Options::with_default_devices(board)?;
    options.net = false;
    options.gpu = false;
    let outputs = boot_and_run(board, image, &options, &["help", "frobnicate"], "shell")?;
    for command in ["help", "lsdev", "poweroff"] {
        if !outputs[0].contains(command) {
            return Err(fail(format!("help does not mention {command}:\n{}", outputs[0])));
        }
    }
    if !outputs[1].contains("unknown command: frobnicate") {
        return Err(fail(format!("unknown command not reported:\n{}", outputs[1])));
    }
    Ok(())
}

/// The `{"devices":[...]}` block in a command's output.
fn parse_json_block(output: &str) -> XtaskResult<Value> {
    let start = output.find("{\"devices\"").ok_or_else(|| fail(format!("no JSON in output:\n{output}")))?;
    let end = output.rfind("]}").ok_or_else(|| fail("unterminated JSON"))? + 2;
    serde_json::from_str(&output[start..end]).map_err(|e| fail(format!("kernel JSON does not parse: {e}")))
}

fn by_path(json: &Value) -> XtaskResult<BTreeMap<String, &Value>> {
    let devices = json["devices"].as_array().ok_or_else(|| fail("JSON without a devices array"))?;
    Ok(devices.iter().filter_map(|d| Some((d["path"].as_str()?.to_string(), d))).collect())
}

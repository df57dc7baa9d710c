//! Boot tests of the device tree, the registry and lsdev: what the kernel found and bound
//! matches the host's prediction from the same DTB, virtio devices sit under their slots.

use std::collections::BTreeMap;
use std::path::Path;

use boards::{Board, DeviceSource, PciConfig};
use serde_json::{json, Value};

use super::{any_board, boot_and_run, by_path, has_device_tree, parse_json_block, BootTest};
use crate::qemu::{self, Options};
use crate::{fail, scratch_dir, XtaskResult};

pub const TESTS: &[BootTest] = &[
    BootTest {
        name: "lsdev over legacy virtio-mmio matches the host's prediction",
        applies: has_device_tree,
        run: |b, i| lsdev_matches_host(b, i, "legacy", false, &[]).map(drop),
    },
    BootTest {
        name: "lsdev over modern virtio-mmio matches the host's prediction",
        applies: has_device_tree,
        run: |b, i| lsdev_matches_host(b, i, "modern", true, &[]).map(drop),
    },
    BootTest {
        name: "lsdev with GICv3 and 2 CPUs matches the host's prediction",
        applies: has_device_tree,
        run: |b, i| lsdev_matches_host(b, i, "gicv3-smp2", true, &["-M", "gic-version=3", "-smp", "2"]).map(drop),
    },
    BootTest {
        name: "virtio-pci behind a PCIe root port and on the root bus, beside virtio-mmio",
        applies: has_device_tree,
        run: pci_beside_mmio,
    },
    BootTest {
        name: "the PCI tree of a PC: virtio-pci functions with net, blk and gpu bound below them",
        applies: |board| !has_device_tree(board),
        run: pc_pci_tree,
    },
    BootTest {
        name: "the ACPI tables of a PC: the I/O APIC, ISA IRQ overrides, and on q35 the MCFG's ECAM window",
        applies: |board| !has_device_tree(board),
        run: pc_acpi_tables,
    },
    BootTest { name: "shell answers help, rejects unknown commands, and irqs counts the console's", applies: any_board, run: shell_commands },
];

/// Boots with the default devices (plus `extra` QEMU arguments) and checks the kernel's view
/// against the host's prediction from the DTB QEMU dumps for the same options.
/// Returns the kernel's `lsdev --json` for further checks.
fn lsdev_matches_host(board: &Board, image: &Path, mode: &str, modern: bool, extra: &[&str]) -> XtaskResult<Value> {
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
    // The host's prediction runs the kernel's own DT code: an independent reading catches
    // what both would get wrong.
    compare_with_oracle(&blob, &kernel_devices).map_err(|e| fail(format!("{} against dt-oracle: {}", dtb.display(), e.0)))?;
    check_virtio_mmio(&kernel_devices, tree, modern)?;
    Ok(kernel)
}

/// QEMU virt's PCIe host with a virtio-net-pci on the root bus and a virtio-blk-pci behind a
/// root port, beside the virtio-mmio devices: the kernel numbers the bus, assigns the BARs
/// and bridge window, and virtio-pci binds both functions (their swizzled INTx listed) and
/// turns on MSI-X through the GICv2m frame.
fn pci_beside_mmio(board: &Board, image: &Path) -> XtaskResult {
    let disk = scratch_dir()?.join("pci-test-disk.img");
    std::fs::write(&disk, vec![0u8; 1 << 20]).map_err(|e| fail(format!("cannot create {}: {e}", disk.display())))?;
    let drive = format!("if=none,id=pcidisk,format=raw,file={}", disk.display());
    let extra = [
        "-device", "pcie-root-port,id=rp1,bus=pcie.0,chassis=1",
        "-device", "virtio-blk-pci,bus=rp1,drive=pcidisk",
        "-drive", &drive,
        "-netdev", "user,id=pcinet",
        "-device", "virtio-net-pci,netdev=pcinet",
    ];
    let kernel = lsdev_matches_host(board, image, "pci", true, &extra)?;
    let devices = by_path(&kernel)?;
    let expect = |path: &str, driver: Option<&str>, intid: Option<u64>| -> XtaskResult {
        let device = devices.get(path).ok_or_else(|| fail(format!("no device {path}")))?;
        let found = (device["driver"].as_str(), device["outcome"].as_str(), device["interrupts"][0]["intid"].as_u64());
        let wanted = (driver, Some(if driver.is_some() { "bound" } else { "no driver" }), intid);
        if found != wanted {
            return Err(fail(format!("{path}: {found:?}, expected {wanted:?}: {}", device["reason"])));
        }
        Ok(())
    };
    expect("/pcie@10000000", Some("pci-ecam"), None)?;
    // QEMU virt routes device d's INTA to SPI 3 + d % 4; behind the root port at 00:01.0,
    // 01:00.0's INTA swizzles to the port's INTA: SPI 4, INTID 36.
    expect("/pcie@10000000/00:01.0/01:00.0", Some("virtio-pci"), Some(36))?;
    expect("/pcie@10000000/00:02.0", Some("virtio-pci"), Some(37))?;
    // The virtio devices below them raise the function's MSI-X vectors, from the GICv2m frame
    // the host's msi-map names: configuration changes, then one per queue (blk 1, net 3).
    for (path, vectors) in [("/pcie@10000000/00:01.0/01:00.0/virtio-blk", 2), ("/pcie@10000000/00:02.0/virtio-net", 4)] {
        let device = devices.get(path).ok_or_else(|| fail(format!("no device {path}")))?;
        let interrupts = device["interrupts"].as_array().map(Vec::as_slice).unwrap_or_default();
        let from_v2m = interrupts.iter().all(|irq| irq["controller"] == "/intc@8000000/v2m@8020000");
        if interrupts.len() != vectors || !from_v2m || !interrupts[0]["label"].as_str().is_some_and(|l| l.ends_with(" config")) {
            return Err(fail(format!("{path}: interrupts {}, expected {vectors} MSIs of the GICv2m frame", device["interrupts"])));
        }
    }
    let blk = devices["/pcie@10000000/00:01.0/01:00.0"];
    if blk["reg"].as_array().is_none_or(|r| r.is_empty()) {
        return Err(fail(format!("the function behind the root port has no assigned BAR: {blk}")));
    }
    Ok(())
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

/// The kernel's DT devices against `dt-oracle`'s reading of the same blob (dtoolkit's parser,
/// its own `ranges` and interrupt walks, no code shared with bus-dt): the same devices, each
/// with the same `compatible`, status, CPU-physical regions and interrupts (controller,
/// specifier cells, GIC INTID).
fn compare_with_oracle(blob: &[u8], kernel: &BTreeMap<String, &Value>) -> XtaskResult {
    let oracle = dt_oracle::devices(blob).map_err(fail)?;
    let mut differences = Vec::new();
    for device in &oracle {
        let Some(found) = kernel.get(&device.path) else {
            differences.push(format!("{}: not in the kernel's lsdev", device.path));
            continue;
        };
        let regions: Vec<Value> = device.regions.iter().map(|r| json!({ "base": r.base, "size": r.size })).collect();
        let interrupts: Vec<Value> =
            device.interrupts.iter().map(|i| json!({ "controller": i.controller, "cells": i.cells, "intid": i.intid })).collect();
        let kernel_interrupts: Vec<Value> = found["interrupts"]
            .as_array()
            .map(Vec::as_slice)
            .unwrap_or_default()
            .iter()
            .map(|i| json!({ "controller": i["controller"], "cells": i["cells"], "intid": i["intid"] }))
            .collect();
        let status = if device.enabled { "okay" } else { "disabled" };
        let fields = [
            ("compatible", found["compatible"].clone(), json!(device.compatible)),
            ("status", found["status"].clone(), json!(status)),
            ("reg", found["reg"].clone(), Value::Array(regions)),
            ("interrupts", Value::Array(kernel_interrupts), Value::Array(interrupts)),
        ];
        for (field, kernel, oracle) in fields {
            if kernel != oracle {
                differences.push(format!("{}: {field}\n  kernel: {kernel}\n  oracle: {oracle}", device.path));
            }
        }
    }
    let extra: Vec<&String> =
        kernel.keys().filter(|p| kernel[*p]["bus"] == "dt" && !oracle.iter().any(|d| &&d.path == p)).collect();
    if !extra.is_empty() {
        differences.push(format!("DT devices the oracle does not see: {extra:?}"));
    }
    if !differences.is_empty() {
        return Err(fail(format!("{} difference(s):\n{}", differences.len(), differences.join("\n"))));
    }
    eprintln!("xtask: lsdev: {} DT devices agree with dt-oracle", oracle.len());
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

/// `help` lists the commands, an unknown one is reported, and `irqs` counts the console's
/// interrupts.
fn shell_commands(board: &Board, image: &Path) -> XtaskResult {
    let mut options = Options::with_default_devices(board)?;
    options.net = false;
    options.gpu = false;
    let outputs = boot_and_run(board, image, &options, &["help", "frobnicate", "irqs"], "shell")?;
    for command in ["help", "lsdev", "irqs", "poweroff"] {
        if !outputs[0].contains(command) {
            return Err(fail(format!("help does not mention {command}:\n{}", outputs[0])));
        }
    }
    if !outputs[1].contains("unknown command: frobnicate") {
        return Err(fail(format!("unknown command not reported:\n{}", outputs[1])));
    }
    // The console UART took the typed commands' interrupts: its row counts some.
    let console = if has_device_tree(board) { "/pl011@9000000" } else { "/isa/serial@3f8" };
    let row = outputs[2].lines().find(|line| line.ends_with(console)).map(|line| line.split_whitespace().collect::<Vec<_>>());
    if row.as_deref().and_then(|row| row.first()?.parse::<u64>().ok()).is_none_or(|handled| handled == 0) {
        return Err(fail(format!("irqs shows no interrupt handled for the console {console}:\n{}", outputs[2])));
    }
    Ok(())
}


/// A PC board (no device tree) with its default virtio-*-pci devices: the PCI bus lists the host
/// bridge and every function with its BARs (the I/O BAR by port), and the same virtio drivers as
/// on QEMU virt bind below virtio-pci, interrupting through MSI-X.
fn pc_pci_tree(board: &Board, image: &Path) -> XtaskResult {
    let options = Options::with_default_devices(board)?;
    let outputs = boot_and_run(board, image, &options, &["lsdev", "lsdev --json"], &format!("lsdev-{}", board.name))?;
    let kernel = parse_json_block(&outputs[1])?;
    let devices = by_path(&kernel)?;
    let host_bridge = devices.values().find(|d| d["bus"] == "pci" && d["pci"]["class"] == 0x06_00_00);
    if host_bridge.is_none() {
        return Err(fail(format!("no host bridge (class 060000) on the PCI bus:\n{}", outputs[0])));
    }
    let mut bound = Vec::new();
    for function in devices.values().filter(|d| d["pci"]["vendor"] == 0x1af4) {
        let path = function["path"].as_str().unwrap_or("?");
        if function["driver"] != "virtio-pci" || function["outcome"] != "bound" {
            return Err(fail(format!("{path}: {} {} ({})", function["driver"], function["outcome"], function["reason"])));
        }
        // A transitional virtio-pci function (device IDs 0x1000-0x103f: net, blk) has the
        // legacy interface's I/O BAR (SeaBIOS assigned it), listed by port besides the memory
        // BARs; a modern-only one (gpu, 0x1050) has none.
        let reg = function["reg"].as_array().map(Vec::as_slice).unwrap_or_default();
        let io = reg.iter().filter(|r| r["space"] == "io" && r["base"].as_u64().is_some_and(|port| (0x1000..0x1_0000).contains(&port))).count();
        let transitional = function["pci"]["device"].as_u64().is_some_and(|id| id < 0x1040);
        if io != usize::from(transitional) || reg.len() - io < 1 {
            return Err(fail(format!("{path}: reg {}, expected memory BARs and {} I/O BAR (space io)", function["reg"], usize::from(transitional))));
        }
        if function["interrupts"][0]["intid"].as_u64().is_none_or(|irq| irq == 0 || irq > 15) {
            return Err(fail(format!("{path}: no legacy IRQ from firmware: {}", function["interrupts"])));
        }
        let child = devices.values().find(|d| d["parent"] == function["path"]).ok_or_else(|| fail(format!("{path} has no virtio device")))?;
        if child["outcome"] != "bound" {
            return Err(fail(format!("{}: {} ({})", child["path"], child["outcome"], child["reason"])));
        }
        // MSI-X from the local APIC: configuration changes plus at least one for the queues.
        let interrupts = child["interrupts"].as_array().map(Vec::as_slice).unwrap_or_default();
        if interrupts.len() < 2 || interrupts.iter().any(|irq| irq["controller"] != "lapic") {
            return Err(fail(format!("{}: interrupts {}, expected MSI-X vectors", child["path"], child["interrupts"])));
        }
        bound.push(child["driver"].as_str().unwrap_or("?").to_string());
    }
    bound.sort();
    if bound != ["virtio-blk", "virtio-gpu", "virtio-net"] {
        return Err(fail(format!("virtio drivers bound over PCI: {bound:?}, expected blk, gpu and net:\n{}", outputs[0])));
    }
    Ok(())
}

/// What the kernel read from QEMU's ACPI tables (SeaBIOS's, its RSDP given by the PVH start
/// info): the I/O
/// APIC and the overrides QEMU always builds (the PIT's IRQ 0 at GSI 2; PCI's IRQs 5, 9, 10, 11
/// level, active high), and on q35, whose board file takes its ECAM from the MCFG, that window.
fn pc_acpi_tables(board: &Board, image: &Path) -> XtaskResult {
    let options = Options::with_default_devices(board)?;
    let output = boot_and_run(board, image, &options, &["acpi"], &format!("acpi-{}", board.name))?.remove(0);
    let mut expected = vec![
        "acpi: I/O APIC 0 at 0xfec00000, GSIs from 0".to_string(),
        "acpi: ISA IRQ 0 -> GSI 2, edge, active high".to_string(),
    ];
    expected.extend([5, 9, 10, 11].map(|irq| format!("acpi: ISA IRQ {irq} -> GSI {irq}, level, active high")));
    if board.devices == DeviceSource::Pci(PciConfig::EcamFromAcpi) {
        expected.push("acpi: ECAM at 0xb0000000, segment 0, buses 00-ff".to_string());
    }
    for line in &expected {
        if !output.lines().any(|l| l.trim() == line) {
            return Err(fail(format!("`acpi` does not say {line:?}:\n{output}")));
        }
    }
    // QEMU's PVH boot passes the RSDP's address in the start info (the kernel searches the
    // BIOS area only without one).
    if !output.lines().any(|l| l.starts_with("acpi: RSDP at 0x") && l.contains("(from the PVH start info)")) {
        return Err(fail(format!("`acpi` did not take the RSDP from the PVH start info:\n{output}")));
    }
    if output.contains("left out") || !output.contains("acpi: table APIC at") {
        return Err(fail(format!("`acpi` found broken or no tables:\n{output}")));
    }
    Ok(())
}

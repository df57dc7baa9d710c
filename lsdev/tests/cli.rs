//! The host `lsdev` command on real device trees and on bad input.

use std::path::PathBuf;
use std::process::{Command, Output};

use serde_json::Value;

fn fixture(name: &str) -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../tests/dtb").join(name)
}

fn lsdev(args: &[&str]) -> Output {
    Command::new(env!("CARGO_BIN_EXE_lsdev")).args(args).output().expect("lsdev runs")
}

fn json(dtb: &str) -> Vec<Value> {
    let out = lsdev(&["--json", fixture(dtb).to_str().unwrap()]);
    assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
    let doc: Value = serde_json::from_slice(&out.stdout).expect("valid JSON");
    doc["devices"].as_array().expect("devices array").clone()
}

fn device<'a>(devices: &'a [Value], path: &str) -> &'a Value {
    devices.iter().find(|d| d["path"] == path).unwrap_or_else(|| panic!("{path} missing"))
}

#[test]
fn qemu_virt_slots_would_bind_virtio_mmio() {
    let devices = json("qemu-virt.dtb");
    let slots: Vec<&Value> = devices.iter().filter(|d| d["compatible"][0] == "virtio,mmio").collect();
    assert_eq!(slots.len(), 32);
    for (i, slot) in (0u64..).zip(&slots) {
        assert_eq!(slot["driver"], "virtio-mmio");
        assert_eq!(slot["outcome"], "matched");
        assert_eq!(slot["reg"][0]["base"], 0x0a00_0000 + 0x200 * i);
        assert_eq!(slot["interrupts"][0]["intid"], 48 + i);
    }
    let uart = device(&devices, "/pl011@9000000");
    assert_eq!((uart["driver"].as_str(), uart["interrupts"][0]["intid"].as_u64()), (Some("pl011"), Some(33)));
    // The PL011 driver declares the serial class: the kernel will call the port ttyS0. The
    // slots' driver has no class (the virtio devices behind them are found only at run time).
    assert_eq!((uart["class"].as_str(), uart["instance"].as_str()), (Some("serial"), Some("ttyS0")));
    assert!(slots.iter().all(|slot| slot["class"].is_null() && slot["instance"].is_null()));
    let pcie = device(&devices, "/pcie@10000000");
    assert_eq!((pcie["driver"].as_str(), pcie["outcome"].as_str()), (Some("pci-ecam"), Some("matched")));
}

#[test]
fn raspberry_pi_4_addresses_go_through_soc_ranges() {
    let devices = json("bcm2711-rpi-4-b.dtb");
    assert!(devices.len() > 80, "a real board has many devices: {}", devices.len());
    let uart = device(&devices, "/soc/serial@7e201000");
    assert_eq!(uart["reg"][0]["base"], 0xfe20_1000u64, "VideoCore 0x7e201000 is ARM 0xfe201000");
    assert_eq!(uart["driver"], "pl011");
    assert_eq!(uart["interrupts"][0]["intid"], 32 + 121);
    let disabled = devices.iter().filter(|d| d["status"] == "disabled").count();
    assert!(disabled > 10, "the Pi's tree disables many nodes: {disabled}");
    assert!(devices.iter().all(|d| d["outcome"] != "failed"));
}

#[test]
fn imx8mq_interrupts_name_their_own_controllers() {
    let devices = json("imx8mq-evk.dtb");
    let uart = device(&devices, "/soc@0/bus@30800000/serial@30860000");
    assert_eq!(uart["interrupts"][0]["controller"], "/soc@0/bus@30000000/gpc@303a0000");
    assert_eq!(uart["interrupts"][0]["intid"], Value::Null, "the GPC is not a GIC: no INTID claimed");
    let gpc = device(&devices, "/soc@0/bus@30000000/gpc@303a0000");
    assert_eq!(gpc["interrupts"][0]["intid"], 32 + 87);
}

#[test]
fn text_rows_fit_in_100_columns() {
    for dtb in ["qemu-virt.dtb", "bcm2711-rpi-4-b.dtb", "imx8mq-evk.dtb", "handmade.dtb"] {
        let out = lsdev(&[fixture(dtb).to_str().unwrap()]);
        assert!(out.status.success());
        let text = String::from_utf8(out.stdout).unwrap();
        assert!(text.starts_with("DEVICE"), "{dtb}: header first");
        // Device rows are the header, the root and lines with a branch ("|-- ", "`-- "); the
        // indented detail lines under them carry free text and may be longer.
        let rows = text.lines().filter(|l| l.starts_with("DEVICE") || l.starts_with('/') || l.contains("-- "));
        for row in rows {
            assert!(row.chars().count() <= 100, "{dtb}: row longer than 100 columns:\n{row}");
        }
    }
}

#[test]
fn bad_input_is_a_clear_error_not_a_crash() {
    let dir = std::env::temp_dir().join(format!("lsdev-test-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    let blob = std::fs::read(fixture("qemu-virt.dtb")).unwrap();
    let truncated = dir.join("truncated.dtb");
    std::fs::write(&truncated, &blob[..blob.len() / 2]).unwrap();
    let garbage = dir.join("garbage.dtb");
    std::fs::write(&garbage, b"this is not a device tree, just some text long enough for a header").unwrap();

    for (file, message) in [(&truncated, "not a valid device tree blob"), (&garbage, "bad FDT magic")] {
        let out = lsdev(&[file.to_str().unwrap()]);
        assert_eq!(out.status.code(), Some(1));
        let stderr = String::from_utf8_lossy(&out.stderr);
        assert!(stderr.contains(message), "{stderr}");
        assert!(out.stdout.is_empty());
    }
    let missing = lsdev(&["/nonexistent/board.dtb"]);
    assert_eq!(missing.status.code(), Some(1));
    assert!(String::from_utf8_lossy(&missing.stderr).contains("cannot read"));
    assert_eq!(lsdev(&["--frobnicate", "x.dtb"]).status.code(), Some(2));
    assert_eq!(lsdev(&[]).status.code(), Some(2));
    std::fs::remove_dir_all(&dir).unwrap();
}

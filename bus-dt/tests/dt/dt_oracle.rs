//! Cross-checks every device bus-dt describes against `dt-oracle`, an independent reading
//! (dtoolkit's parser, its own `ranges` and interrupt walks): the same devices, `compatible`
//! lists, `status`, CPU-physical regions and interrupts (controller, cells, GIC INTID).

use bus_dt::DtBus;
use dt_oracle::{Device, Interrupt, Region};
use registry::{Bus, DeviceIds, DeviceSpec};

use super::{all_devices, path_of};

/// bus-dt's devices in the oracle's terms.
fn ours(blob: &[u8]) -> Result<Vec<Device>, String> {
    let bus = DtBus::new(blob).map_err(|e| format!("bus-dt rejects the blob: {e}"))?;
    let roots = bus.enumerate().map_err(|e| format!("bus-dt enumeration: {e}"))?;
    let devices = roots.iter().flat_map(all_devices).map(as_oracle_device).collect();
    Ok(devices)
}

fn as_oracle_device(device: &DeviceSpec) -> Device {
    let compatible = match &device.ids {
        DeviceIds::Compatible(list) => list.clone(),
        other => panic!("{}: not DT ids: {other:?}", path_of(device)),
    };
    Device {
        path: path_of(device).to_string(),
        compatible,
        enabled: device.enabled,
        regions: device.regions.iter().map(|r| Region { base: r.base, size: r.size }).collect(),
        interrupts: device
            .irqs
            .iter()
            .map(|irq| Interrupt { controller: irq.controller.clone(), cells: irq.cells.clone(), intid: irq.number })
            .collect(),
    }
}

/// `Err` listing the differences (the first 20) between bus-dt and the oracle on `blob`.
pub fn compare_with_oracle(blob: &[u8]) -> Result<usize, String> {
    let theirs = dt_oracle::devices(blob)?;
    let mut ours = ours(blob)?;
    let mut theirs = theirs;
    ours.sort_by(|a, b| a.path.cmp(&b.path));
    theirs.sort_by(|a, b| a.path.cmp(&b.path));
    let mut differences = Vec::new();
    let paths = |devices: &[Device]| devices.iter().map(|d| d.path.clone()).collect::<Vec<_>>();
    if paths(&ours) != paths(&theirs) {
        let only_ours: Vec<String> = paths(&ours).into_iter().filter(|p| !theirs.iter().any(|d| &d.path == p)).collect();
        let only_theirs: Vec<String> = paths(&theirs).into_iter().filter(|p| !ours.iter().any(|d| &d.path == p)).collect();
        differences.push(format!("devices only bus-dt found: {only_ours:?}; only the oracle: {only_theirs:?}"));
    }
    for (a, b) in ours.iter().zip(&theirs).filter(|(a, b)| a.path == b.path) {
        if a.compatible != b.compatible {
            differences.push(format!("{}: compatible {:?}, oracle {:?}", a.path, a.compatible, b.compatible));
        }
        if a.enabled != b.enabled {
            differences.push(format!("{}: enabled {}, oracle {}", a.path, a.enabled, b.enabled));
        }
        if a.regions != b.regions {
            differences.push(format!("{}: reg {:x?}, oracle {:x?}", a.path, a.regions, b.regions));
        }
        if a.interrupts != b.interrupts {
            differences.push(format!("{}: interrupts {:?}, oracle {:?}", a.path, a.interrupts, b.interrupts));
        }
    }
    if differences.is_empty() {
        return Ok(ours.len());
    }
    let shown = differences.len().min(20);
    Err(format!("{} difference(s) from the oracle:\n{}", differences.len(), differences[..shown].join("\n")))
}

/// Every blob in the workspace's `tests/dtb/`.
pub fn fixtures() -> Vec<(String, Vec<u8>)> {
    let dir = format!("{}/../tests/dtb", env!("CARGO_MANIFEST_DIR"));
    let mut found: Vec<(String, Vec<u8>)> = std::fs::read_dir(&dir)
        .unwrap_or_else(|e| panic!("{dir}: {e}"))
        .map(|entry| entry.expect("directory entry").path())
        .filter(|path| path.extension().is_some_and(|ext| ext == "dtb"))
        .map(|path| (path.file_name().unwrap().to_string_lossy().into_owned(), std::fs::read(&path).expect("readable dtb")))
        .collect();
    found.sort();
    found
}

#[test]
fn every_fixture_agrees_with_the_oracle() {
    let fixtures = fixtures();
    assert!(fixtures.len() >= 7, "tests/dtb/ has {} blobs", fixtures.len());
    for (name, blob) in fixtures {
        let devices = compare_with_oracle(&blob).unwrap_or_else(|e| panic!("{name}: {e}"));
        // Every fixture has devices with regions and interrupts: the comparison saw some.
        let oracle = dt_oracle::devices(&blob).unwrap();
        assert!(devices > 10, "{name}: {devices} devices");
        assert!(oracle.iter().any(|d| !d.regions.is_empty()), "{name}: no regions at all");
        assert!(oracle.iter().any(|d| d.interrupts.iter().any(|i| i.intid.is_some())), "{name}: no GIC interrupts at all");
    }
}

#[test]
fn the_oracle_reads_translations_and_interrupts_by_itself() {
    // Known answers from the real blobs, read off `dtc -I dtb -O dts` by hand: the oracle
    // must not just agree with bus-dt, it must be right.
    let find = |blob: &[u8], path: &str| {
        dt_oracle::devices(blob).unwrap().into_iter().find(|d| d.path == path).unwrap_or_else(|| panic!("no {path}"))
    };
    let fixture = |name: &str| std::fs::read(format!("{}/../tests/dtb/{name}", env!("CARGO_MANIFEST_DIR"))).unwrap();
    // The Pi 4's VideoCore bus address 0x7e201000 is ARM address 0xfe201000 (/soc ranges).
    let uart = find(&fixture("bcm2711-rpi-4-b.dtb"), "/soc/serial@7e201000");
    assert_eq!(uart.regions, [Region { base: 0xfe20_1000, size: 0x200 }]);
    assert_eq!(uart.interrupts[0].controller, "/soc/interrupt-controller@40041000");
    assert_eq!((uart.interrupts[0].cells.clone(), uart.interrupts[0].intid), (vec![0, 121, 4], Some(153)));
    // QEMU virt: the PL011 at 0x9000000, SPI 1 level-high.
    let pl011 = find(&fixture("qemu-virt.dtb"), "/pl011@9000000");
    assert_eq!(pl011.regions, [Region { base: 0x900_0000, size: 0x1000 }]);
    assert_eq!(pl011.interrupts, [Interrupt { controller: "/intc@8000000".into(), cells: vec![0, 1, 4], intid: Some(33) }]);
}

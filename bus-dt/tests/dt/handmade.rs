//! The hand-written `tests/dtb/handmade.dts`: nested non-identity `ranges`, mixed cell
//! counts, two interrupt controllers, and the cases that must become notes.

use bus_dt::DtBus;
use registry::{DeviceIds, DeviceSpec, Irq, MmioRegion};

use super::{all_devices, device, fixture, path_of, root_device};

const GIC: &str = "/interrupt-controller@8000000";
const INTC: &str = "/soc@100000000/interrupt-controller@2000";
const SUB_BUS: &str = "/soc@100000000/sub-bus@4000000";

fn handmade() -> DeviceSpec {
    root_device(&fixture("handmade.dtb"))
}

fn region(base: u64, size: u64) -> MmioRegion {
    MmioRegion { base, size }
}

fn gic_irq(cells: [u32; 3], number: u32, label: &str) -> Irq {
    Irq {
        controller: GIC.into(),
        cells: cells.to_vec(),
        number: Some(number),
        label: label.into(),
    }
}

fn intc_irq(cells: [u32; 2], label: &str) -> Irq {
    Irq {
        controller: INTC.into(),
        cells: cells.to_vec(),
        number: None,
        label: label.into(),
    }
}

#[test]
fn one_level_of_ranges_reaches_above_4_gib() {
    let root = handmade();
    let uart = device(&root, "/soc@100000000/uart@1000");
    assert_eq!(uart.regions, [region(0x1_0000_1000, 0x100)]);
    assert_eq!(uart.irqs, [gic_irq([0, 5, 4], 37, "SPI 5 level-high")]);
}

#[test]
fn two_levels_of_ranges_with_different_cell_counts() {
    let root = handmade();
    let timer = device(&root, &format!("{SUB_BUS}/timer@5,100"));
    // 5:0x100 on the sub-bus -> 0x4000100 on the soc -> 0x1_0400_0100 on the CPU.
    assert_eq!(timer.regions, [region(0x1_0400_0100, 0x20)]);
    // Interrupt parent inherited from the sub-bus: the 2-cell, non-GIC controller.
    assert_eq!(timer.irqs, [intc_irq([3, 1], "<3 1>")]);
    assert!(timer.notes.is_empty(), "{:?}", timer.notes);
}

#[test]
fn interrupts_extended_names_each_controller() {
    let root = handmade();
    let dual = device(&root, &format!("{SUB_BUS}/dual@5,200"));
    assert_eq!(dual.regions, [region(0x1_0400_0200, 0x10)]);
    assert_eq!(
        dual.irqs,
        [
            gic_irq([0, 9, 4], 41, "SPI 9 level-high"),
            intc_irq([4, 2], "<4 2>")
        ]
    );
}

#[test]
fn the_second_controller_is_wired_to_the_gic() {
    let root = handmade();
    let intc = device(&root, INTC);
    assert_eq!(intc.regions, [region(0x1_0000_2000, 0x100)]);
    assert_eq!(intc.irqs, [gic_irq([0, 7, 4], 39, "SPI 7 level-high")]);
}

#[test]
fn address_outside_every_range_is_a_note() {
    let root = handmade();
    let outside = device(&root, &format!("{SUB_BUS}/outside@6,0"));
    assert!(outside.regions.is_empty());
    assert_eq!(
        outside.notes,
        [format!(
            "reg 0x600000000 not translatable: outside the ranges of {SUB_BUS}"
        )]
    );
}

#[test]
fn bus_without_ranges_is_a_note() {
    let root = handmade();
    let bus = device(&root, "/soc@100000000/isolated-bus@5000");
    assert_eq!(bus.regions, [region(0x1_0000_5000, 0x100)]);
    let hidden = bus
        .children
        .iter()
        .find(|d| d.name == "hidden@10")
        .expect("hidden under its bus");
    assert!(hidden.regions.is_empty());
    assert_eq!(
        hidden.notes,
        ["reg 0x10 not translatable: /soc@100000000/isolated-bus@5000 has no ranges"]
    );
}

#[test]
fn status_disables_and_notes_odd_values() {
    let root = handmade();
    let disabled = device(&root, "/soc@100000000/disabled@3000");
    assert!(!disabled.enabled);
    assert!(disabled.notes.is_empty());
    assert_eq!(disabled.regions, [region(0x1_0000_3000, 0x10)]);
    let failed = device(&root, "/soc@100000000/failed@3100");
    assert!(!failed.enabled);
    assert_eq!(failed.notes, ["status = \"fail\""]);
    let enabled = all_devices(&root).into_iter().filter(|d| d.enabled).count();
    assert_eq!(enabled, all_devices(&root).len() - 2);
}

#[test]
fn missing_interrupt_parent_is_a_note() {
    let root = handmade();
    let orphan = device(&root, "/soc@100000000/orphan@3200");
    assert!(orphan.irqs.is_empty());
    assert_eq!(orphan.regions, [region(0x1_0000_3200, 0x10)]);
    assert_eq!(
        orphan.notes,
        ["interrupt-parent 0xdead on /soc@100000000/orphan@3200 names no node"]
    );
}

#[test]
fn pci_children_are_noted_not_translated() {
    let root = handmade();
    let pcie = device(&root, "/pcie@10000000");
    assert_eq!(pcie.regions, [region(0x1000_0000, 0x100_0000)]);
    let ethernet = &pcie.children[0];
    assert_eq!(
        ethernet.ids,
        DeviceIds::Compatible(vec!["pci1af4,1000".into()])
    );
    assert!(ethernet.regions.is_empty() && ethernet.irqs.is_empty());
    assert_eq!(
        ethernet.notes,
        [
            "reg is PCI configuration space, not a CPU address",
            "interrupts go through the interrupt-map of /pcie@10000000: not followed",
        ]
    );
}

#[test]
fn devices_under_plain_nodes_attach_to_the_nearest_device() {
    let root = handmade();
    let soc = device(&root, "/soc@100000000");
    let leaf = soc
        .children
        .iter()
        .find(|d| d.name == "leaf@6000")
        .expect("leaf under soc");
    assert_eq!(path_of(leaf), "/soc@100000000/container/leaf@6000");
    assert_eq!(leaf.regions, [region(0x1_0000_6000, 0x10)]);
    let cpu = root
        .children
        .iter()
        .find(|d| d.name == "cpu@0")
        .expect("cpu@0 under /");
    assert_eq!(cpu.irqs, [gic_irq([1, 9, 0xf04], 25, "PPI 9 level-high")]);
}

#[test]
fn board_facts() {
    let blob = fixture("handmade.dtb");
    let bus = DtBus::new(&blob).unwrap();
    // The disabled memory@c0000000 is left out.
    assert_eq!(
        bus.memory_regions(),
        [
            region(0x8000_0000, 0x1000_0000),
            region(0x1_0000_0000, 0x4000_0000)
        ]
    );
    // `serial0:115200n8`: options dropped, alias resolved.
    assert_eq!(bus.chosen_stdout_path(), Some("/soc@100000000/uart@1000"));
    assert_eq!(bus.model(), Some("bus-dt handmade board"));
    assert_eq!(bus.compatible_root(), ["test,handmade", "test,board"]);
}

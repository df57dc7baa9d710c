//! `acpi` (PC boards): what the kernel took from the firmware's ACPI tables: where the RSDP
//! was, the tables listed, the I/O APICs and ISA IRQ overrides of the MADT, the MCFG's ECAM.

use acpi_tables::{Polarity, Trigger};
use registry::Registry;

use super::{shell_command, Command};
use crate::arch::acpi::{firmware, RsdpSource};

shell_command!(ACPI = Command {
    name: "acpi",
    usage: "acpi                 the ACPI tables: RSDP, tables, I/O APICs, IRQ overrides, ECAM",
    run: show,
});

fn show(_: &mut Registry, _: &[&str]) {
    let firmware = match firmware() {
        Ok(firmware) => firmware,
        Err(reason) => return println!("acpi: {reason}"),
    };
    let rsdp = &firmware.rsdp;
    let root = if rsdp.xsdt != 0 { "XSDT" } else { "RSDT" };
    let oem = core::str::from_utf8(&rsdp.oem_id).unwrap_or("?");
    let found_by = match firmware.found_by {
        RsdpSource::StartInfo => "from the PVH start info",
        RsdpSource::BiosSearch => "found in the BIOS area",
    };
    println!("acpi: RSDP at {:#x} ({found_by}), revision {}, OEM {oem:?}, {root}", rsdp.address, rsdp.revision);
    for table in &firmware.tables.tables {
        println!("acpi: table {} at {:#x}, {} bytes, revision {}", table.name(), table.address, table.len, table.revision);
    }
    for broken in &firmware.tables.broken {
        println!("acpi: left out: {broken}");
    }
    match &firmware.madt {
        Some(madt) => {
            println!("acpi: local APIC at {:#x}", madt.local_apic);
            for io_apic in &madt.io_apics {
                println!("acpi: I/O APIC {} at {:#x}, GSIs from {}", io_apic.id, io_apic.address, io_apic.gsi_base);
            }
            for o in &madt.overrides {
                let trigger = if o.trigger == Trigger::Level { "level" } else { "edge" };
                let polarity = if o.polarity == Polarity::ActiveLow { "low" } else { "high" };
                println!("acpi: ISA IRQ {} -> GSI {}, {trigger}, active {polarity}", o.irq, o.gsi);
            }
        }
        None => println!("acpi: no MADT"),
    }
    for window in &firmware.ecam {
        println!("acpi: ECAM at {:#x}, segment {}, buses {:02x}-{:02x}", window.base, window.segment, window.start_bus, window.end_bus);
    }
}

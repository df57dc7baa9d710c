//! The PC's ISA devices the board file names (its console's COM port) as a registry bus, so
//! that `lsdev` lists them and the 16550's driver hooks its IRQ like any other driver.

use alloc::boxed::Box;
use alloc::format;
use alloc::string::String;
use alloc::vec;
use alloc::vec::Vec;

use boards::Console;
use registry::{Bus, BusAddress, BusError, DeviceIds, DeviceSpec};

pub struct IsaBus {
    pub console: Console,
}

impl Bus for IsaBus {
    fn name(&self) -> &str {
        "isa"
    }

    fn enumerate(&self) -> Result<Vec<DeviceSpec>, BusError> {
        let mut isa = DeviceSpec::new("isa", BusAddress::Other(String::from("isa")), DeviceIds::None);
        if let Console::Uart16550 { port, irq } = self.console {
            let ids = DeviceIds::Compatible(vec![String::from(uart16550::PNP_ID)]);
            let mut serial = DeviceSpec::new(format!("serial@{port:x}"), serial_address(port), ids);
            serial.irqs.push(crate::arch::interrupts::isa_irq(irq));
            serial.bus_data = Some(Box::new(uart16550::IsaSerial { port }));
            isa.children.push(serial);
        }
        Ok(vec![isa])
    }
}

/// Where the serial port at `port` sits on this bus (how the console finds its device).
pub fn serial_address(port: u16) -> BusAddress {
    BusAddress::Other(format!("io {port:#x}"))
}

//! The registry driver against a register block in host memory: identification, and the
//! receive interrupt on a platform that has interrupts.

use pl011::ReceiveInterrupt;
use registry::class::SerialPort;
use registry::mmio::MmioWindow;
use registry::testing::{HostPlatform, IrqHostPlatform};
use registry::{Bus, BusAddress, BusError, DeviceIds, DeviceSpec, DeviceState, Irq, MmioRegion};

const IMSC: usize = 0x38;
const MIS: usize = 0x40;
const ICR: usize = 0x44;
const FR: usize = 0x18;
const RX_EMPTY: u32 = 1 << 4;

struct OneUart(u64);

impl Bus for OneUart {
    fn name(&self) -> &str {
        "test"
    }
    fn enumerate(&self) -> Result<Vec<DeviceSpec>, BusError> {
        let path = format!("/pl011@{:x}", self.0);
        let mut uart = DeviceSpec::new(&path[1..], BusAddress::Dt { path: path.clone() }, DeviceIds::Compatible(vec!["arm,pl011".into(), "arm,primecell".into()]));
        uart.regions.push(MmioRegion { base: self.0, size: 0x1000 });
        uart.irqs.push(Irq { controller: "/intc".into(), cells: vec![0, 1, 4], number: Some(33), label: "SPI 1 level-high".into() });
        Ok(vec![uart])
    }
}

/// A register block whose ID registers read `periph` and `primecell`, byte per word.
fn registers(periph: u32, primecell: u32) -> &'static mut [u32] {
    let mut words = vec![0u32; 1024];
    for i in 0..4 {
        words[0xfe0 / 4 + i] = (periph >> (8 * i)) & 0xff;
        words[0xff0 / 4 + i] = (primecell >> (8 * i)) & 0xff;
    }
    Box::leak(words.into_boxed_slice())
}

fn probe(periph: u32, primecell: u32) -> DeviceState {
    let platform = HostPlatform::leaked();
    platform.add_window(0x900_0000, registers(periph, primecell));
    let registry = registry::probe_all(platform, &[&OneUart(0x900_0000)]);
    registry.find_by_path("/pl011@9000000").expect("device").state.clone()
}

#[test]
fn binds_a_pl011_and_reports_its_revision() {
    // QEMU's PL011: part 0x011, designer ARM (0x41), revision 1.
    assert_eq!(probe(0x0014_1011, 0xb105_f00d), DeviceState::Bound);
}

#[test]
fn refuses_other_primecells_and_non_primecells() {
    assert!(matches!(probe(0x0014_1061, 0xb105_f00d), DeviceState::Failed(r) if r.contains("part 0x061")));
    assert!(matches!(probe(0x0014_1011, 0), DeviceState::Failed(r) if r.contains("not a PrimeCell")));
}

#[test]
fn the_receive_interrupt_is_masked_when_it_fires_and_armed_by_the_reader() {
    let platform = IrqHostPlatform::leaked(true);
    let words = registers(0x0014_1011, 0xb105_f00d);
    words[IMSC / 4] = 0x7ff; // a boot loader left every interrupt unmasked
    platform.host.add_window(0x900_0000, words);
    let regs = MmioWindow::map(platform, MmioRegion { base: 0x900_0000, size: 0x1000 }).unwrap();
    let mut registry = registry::probe_all(platform, &[&OneUart(0x900_0000)]);
    assert_eq!(registry.find_by_path("/pl011@9000000").unwrap().state, DeviceState::Bound);
    assert_eq!((regs.read32(IMSC), regs.read32(ICR)), (Ok(0), Ok(0x7ff)), "all masked and cleared at probe");

    let (_, receive) = registry.driver_data::<ReceiveInterrupt>().next().expect("hooked");
    assert_eq!(receive.phys(), 0x900_0000);
    receive.arm();
    assert_eq!(regs.read32(IMSC), Ok(0x50), "receive and receive timeout let out");
    assert_eq!(platform.installed(), [33], "handler installed on the UART's line");
    let stats = std::sync::Arc::clone(&registry.find_by_path("/pl011@9000000").unwrap().irq_stats[0].1);
    platform.fire(33);
    assert_eq!((stats.handled(), stats.spurious()), (0, 1), "nothing raised: not the UART's");
    assert_eq!(regs.read32(IMSC), Ok(0x50));
    regs.write32(MIS, 1 << 6).unwrap(); // a byte waits in the FIFO
    platform.fire(33);
    assert_eq!((stats.handled(), stats.spurious()), (1, 1));
    assert_eq!(regs.read32(IMSC), Ok(0), "masked until the reader has taken the bytes");

    // The serial class arms the same interrupt.
    let port = registry.instance::<dyn SerialPort>("ttyS0").expect("published as ttyS0").device;
    assert!(port.arm_receive_interrupt());
    assert_eq!(regs.read32(IMSC), Ok(0x50));
}

#[test]
fn the_serial_class_writes_and_reads_the_data_register() {
    let platform = HostPlatform::leaked();
    let words = registers(0x0014_1011, 0xb105_f00d);
    words[FR / 4] = RX_EMPTY; // transmitter ready, nothing received
    platform.add_window(0x900_0000, words);
    let regs = MmioWindow::map(platform, MmioRegion { base: 0x900_0000, size: 0x1000 }).unwrap();
    let registry = registry::probe_all(platform, &[&OneUart(0x900_0000)]);
    let port = registry.instance::<dyn SerialPort>("/pl011@9000000").expect("published").device;
    drop(registry);
    port.write(b"ok");
    assert_eq!(regs.read32(0), Ok(u32::from(b'k')), "the last byte written is in the data register");
    assert_eq!(port.read(&mut [0; 4]), 0, "the receive FIFO is empty");
    regs.write32(FR, 0).unwrap();
    regs.write32(0, 0x100 | u32::from(b'x')).unwrap(); // a byte with an error flag above it
    let mut out = [0; 1];
    assert_eq!((port.read(&mut out), out), (1, [b'x']));
    assert!(!port.arm_receive_interrupt(), "no interrupt on this platform: the reader polls");
}

#[test]
fn without_interrupts_the_uart_binds_all_the_same() {
    let platform = HostPlatform::leaked();
    platform.add_window(0x900_0000, registers(0x0014_1011, 0xb105_f00d));
    let mut registry = registry::probe_all(platform, &[&OneUart(0x900_0000)]);
    assert_eq!(registry.find_by_path("/pl011@9000000").unwrap().state, DeviceState::Bound);
    assert!(registry.driver_data::<ReceiveInterrupt>().next().is_none(), "the reader polls");
}

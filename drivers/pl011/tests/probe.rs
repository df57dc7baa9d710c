//! The registry driver against a register block in host memory.

use pl011 as _;
use registry::testing::HostPlatform;
use registry::{Bus, BusAddress, BusError, DeviceIds, DeviceSpec, DeviceState, MmioRegion};

struct OneUart(u64);

impl Bus for OneUart {
    fn name(&self) -> &str {
        "test"
    }
    fn enumerate(&self) -> Result<Vec<DeviceSpec>, BusError> {
        let path = format!("/pl011@{:x}", self.0);
        let mut uart = DeviceSpec::new(&path[1..], BusAddress::Dt { path: path.clone() }, DeviceIds::Compatible(vec!["arm,pl011".into(), "arm,primecell".into()]));
        uart.regions.push(MmioRegion { base: self.0, size: 0x1000 });
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

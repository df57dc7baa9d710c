//! The registry drivers: bind GIC nodes from the device tree and make the first one that comes
//! up the system's interrupt controller; an ITS waits for it. (Its own test binary: the system
//! GIC is global.)

mod common;

use common::fake_its::{ITS, ITS_SIZE};
use common::{Block, GICC, GICC_SIZE, GICD, GICD_SIZE, GICR, GICR_SIZE, TYPER_288_LINES};
use registry::testing::HostPlatform;
use registry::{Bus, BusAddress, BusError, DeviceIds, DeviceSpec, DeviceState, MmioRegion};

use arm_gic as _;

/// GIC nodes as bus-dt describes them, in this order.
struct Nodes(Vec<(&'static str, &'static str, Vec<MmioRegion>)>);

impl Bus for Nodes {
    fn name(&self) -> &str {
        "test"
    }
    fn enumerate(&self) -> Result<Vec<DeviceSpec>, BusError> {
        let nodes = self.0.iter().map(|(path, compatible, regions)| {
            let ids = DeviceIds::Compatible(vec![(*compatible).into()]);
            let mut spec = DeviceSpec::new(&path[1..], BusAddress::Dt { path: (*path).into() }, ids);
            spec.regions.extend(regions.iter().copied());
            spec
        });
        Ok(nodes.collect())
    }
}

#[test]
fn the_first_gic_up_becomes_the_systems_interrupt_controller() {
    let platform = HostPlatform::leaked();
    let gicd = Block::new(platform, GICD, GICD_SIZE);
    gicd.set(0x004, TYPER_288_LINES);
    let gicc = Block::new(platform, GICC, GICC_SIZE);
    let gicr = Block::new(platform, GICR, GICR_SIZE);
    let its = Block::new(platform, ITS, ITS_SIZE);
    let v2 = vec![gicd.region, gicc.region];
    let short = MmioRegion { size: 0x1_0000, ..its.region };
    let nodes = Nodes(vec![
        // Before its GIC: probed first, it waits for the system's GIC.
        ("/its@8080000", "arm,gic-v3-its", vec![its.region]),
        ("/short-its@8080000", "arm,gic-v3-its", vec![short]),
        ("/v3@8000000", "arm,gic-v3", vec![gicd.region, gicr.region]),
        ("/intc@8000000", "arm,cortex-a15-gic", v2.clone()),
        ("/second@8000000", "arm,gic-400", v2),
    ]);
    assert!(arm_gic::system().is_none());
    let registry = registry::probe_all(platform, &[&nodes]);
    let state = |path| registry.find_by_path(path).unwrap().state.clone();
    let reason = "the GICv3 CPU interface needs aarch64 system registers";
    assert_eq!(state("/v3@8000000"), DeviceState::Failed(reason.into()), "a host has no GICv3 CPU interface");
    assert_eq!(state("/intc@8000000"), DeviceState::Bound);
    let reason = "/intc@8000000 already is the system's interrupt controller";
    assert_eq!(state("/second@8000000"), DeviceState::Failed(reason.into()));
    let info = &registry.find_by_path("/intc@8000000").unwrap().info;
    assert_eq!(info, &[("version", "GICv2".to_string()), ("interrupts", "288 INTIDs".to_string())]);
    let gic = arm_gic::system().expect("the system's GIC");
    assert_eq!((gic.path(), gic.version()), ("/intc@8000000", 2));
    let reason = "an ITS needs a GICv3, and the system's interrupt controller /intc@8000000 is a GICv2";
    assert_eq!(state("/its@8080000"), DeviceState::Failed(reason.into()), "deferred, then refused once the GIC was up");
    let reason = "the register frame is 0x20000 bytes (control and translation pages); reg gives 0x10000";
    assert_eq!(state("/short-its@8080000"), DeviceState::Failed(reason.into()));
}

//! The registry driver: binds GIC nodes from the device tree and makes the first one that comes
//! up the system's interrupt controller. (Its own test binary: the system GIC is global.)

mod common;

use common::{Block, GICC, GICC_SIZE, GICD, GICD_SIZE, GICR, GICR_SIZE, TYPER_288_LINES};
use registry::testing::HostPlatform;
use registry::{Bus, BusAddress, BusError, DeviceIds, DeviceSpec, DeviceState, MmioRegion};

use arm_gic as _;

/// GIC nodes as bus-dt describes them, in this order.
struct Nodes(Vec<(&'static str, &'static str, [MmioRegion; 2])>);

impl Bus for Nodes {
    fn name(&self) -> &str {
        "test"
    }
    fn enumerate(&self) -> Result<Vec<DeviceSpec>, BusError> {
        let nodes = self.0.iter().map(|&(path, compatible, regions)| {
            let ids = DeviceIds::Compatible(vec![compatible.into()]);
            let mut spec = DeviceSpec::new(&path[1..], BusAddress::Dt { path: path.into() }, ids);
            spec.regions.extend(regions);
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
    let v2 = [gicd.region, gicc.region];
    let nodes = Nodes(vec![
        ("/v3@8000000", "arm,gic-v3", [gicd.region, gicr.region]),
        ("/intc@8000000", "arm,cortex-a15-gic", v2),
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
}

//! lsdev's text tree and JSON for a small registry.

use registry::testing::HostPlatform;
use registry::{Bus, BusAddress, BusError, DeviceIds, DeviceSpec, Driver, IoPortRange, Irq, Match, MmioRegion, ProbeContext, ProbeError};

struct Tree;

fn dt(path: &str, compatible: &str) -> DeviceSpec {
    let name = path.rsplit('/').next().unwrap_or("/");
    let mut spec = DeviceSpec::new(if name.is_empty() { "/" } else { name }, BusAddress::Dt { path: path.into() }, DeviceIds::Compatible(vec![compatible.into()]));
    spec.regions.push(MmioRegion { base: 0x900_0000, size: 0x1000 });
    spec
}

impl Bus for Tree {
    fn name(&self) -> &str {
        "test"
    }
    fn enumerate(&self) -> Result<Vec<DeviceSpec>, BusError> {
        let mut root = dt("/", "acme,board");
        root.regions.clear();
        let mut soc = dt("/soc", "simple-bus");
        let mut uart = dt("/soc/uart@9000000", "acme,uart");
        uart.irqs.push(Irq { controller: "/intc".into(), cells: vec![0, 1, 4], number: Some(33), label: "SPI 1 level-high".into() });
        soc.children.push(uart);
        soc.children.push(dt("/soc/broken@9001000", "acme,broken"));
        root.children.push(soc);
        let mut timer = dt("/timer", "acme \"quoted\" timer");
        timer.io_ports.push(IoPortRange { base: 0x40, size: 4 });
        root.children.push(timer);
        Ok(vec![root])
    }
}

fn bind(ctx: &mut ProbeContext<'_>) -> Result<(), ProbeError> {
    ctx.set_info("baud", "115200");
    Ok(())
}

fn fail(_: &mut ProbeContext<'_>) -> Result<(), ProbeError> {
    Err(ProbeError::Failed("the device answered 0xffffffff to every register read, so it is probably not there".into()))
}

fn registry() -> registry::Registry {
    let uart: &'static Driver = Box::leak(Box::new(Driver { name: "uart", matches: &[Match::Compatible("acme,uart")], priority: 0, probe: bind, remove: None }));
    let broken: &'static Driver = Box::leak(Box::new(Driver { name: "broken", matches: &[Match::Compatible("acme,broken")], priority: 0, probe: fail, remove: None }));
    registry::probe_with(HostPlatform::leaked(), &[&Tree], [uart, broken])
}

#[test]
fn text_is_a_tree_with_details_and_wrapped_reasons() {
    let text = registry::lsdev::text(&registry());
    let expected = "\
DEVICE                  ADDRESS    MATCH               IRQ    DRIVER  STATE
/                       -          acme,board          -      -       no driver
|-- soc                 0x9000000  simple-bus          -      -       no driver
|   |-- uart@9000000    0x9000000  acme,uart           SPI 1  uart    bound
|   |     baud: 115200
|   `-- broken@9001000  0x9000000  acme,broken         -      broken  failed
|         failed: the device answered 0xffffffff to every register read, so it is probably not there
`-- timer               0x9000000  acme \"quoted\" tim~  -      -       no driver
";
    assert_eq!(text, expected, "\n{text}");
}

#[test]
fn json_escapes_and_carries_everything() {
    let json = registry::lsdev::json(&registry());
    assert!(json.starts_with("{\"devices\":[\n") && json.ends_with("\n]}\n"));
    assert!(json.contains(r#""compatible":["acme \"quoted\" timer"]"#), "{json}");
    assert!(json.contains(r#""interrupts":[{"controller":"/intc","cells":[0,1,4],"intid":33,"label":"SPI 1 level-high"}]"#));
    assert!(json.contains(r#""path":"/soc/uart@9000000","parent":"/soc""#));
    // Memory regions, then I/O ports marked as such.
    assert!(json.contains(r#""reg":[{"base":150994944,"size":4096},{"base":64,"size":4,"space":"io"}]"#), "{json}");
    assert!(json.contains(r#""outcome":"bound","reason":null,"info":{"baud":"115200"}"#));
    assert!(json.contains(r#""outcome":"failed","reason":"the device answered"#));
    assert_eq!(json.lines().count(), 2 + 5, "one line per device");
}

//! Interrupt hookup through the platform: installed handlers, counts in lsdev, deferral while
//! the controller is missing, and lines freed when a probe fails or a device is removed.

use std::sync::Mutex;

use registry::testing::{HostPlatform, IrqHostPlatform};
use registry::{
    Bus, BusAddress, BusError, DeviceIds, DeviceSpec, DeviceState, Driver, Irq, IrqError, IrqHandler, IrqReturn, Match,
    MsiMessage, MsiSource, MsiVector, ProbeContext, ProbeError,
};

struct Devices;

fn device(name: &str, compatible: &str, intid: u32) -> DeviceSpec {
    let path = format!("/{name}");
    let mut spec = DeviceSpec::new(name, BusAddress::Dt { path }, DeviceIds::Compatible(vec![compatible.into()]));
    spec.irqs.push(Irq { controller: "/intc".into(), cells: vec![0, intid - 32, 4], number: Some(intid), label: format!("SPI {}", intid - 32) });
    spec
}

impl Bus for Devices {
    fn name(&self) -> &str {
        "test"
    }
    fn enumerate(&self) -> Result<Vec<DeviceSpec>, BusError> {
        Ok(vec![device("uart", "acme,uart", 33), device("broken", "acme,broken", 34), device("controller", "acme,intc", 40)])
    }
}

/// Every other interrupt has something to report.
fn alternating_handler() -> IrqHandler {
    let mut count = 0u32;
    Box::new(move || {
        count += 1;
        if count % 2 == 1 { IrqReturn::Handled } else { IrqReturn::NotMine }
    })
}

fn uart_probe(ctx: &mut ProbeContext<'_>) -> Result<(), ProbeError> {
    ctx.request_irq(0, alternating_handler())?;
    Ok(())
}

fn broken_probe(ctx: &mut ProbeContext<'_>) -> Result<(), ProbeError> {
    ctx.request_irq(0, alternating_handler())?;
    Err(ProbeError::Failed("gave up after hooking its interrupt".into()))
}

/// The interrupt controller: becomes ready when probed (probed last, after the others).
static READY_ON_PROBE: Mutex<Option<&'static IrqHostPlatform>> = Mutex::new(None);

fn controller_probe(_: &mut ProbeContext<'_>) -> Result<(), ProbeError> {
    if let Some(platform) = *READY_ON_PROBE.lock().unwrap() {
        platform.set_controller_ready();
    }
    Ok(())
}

fn drivers() -> [&'static Driver; 3] {
    let leak = |name, compatible, probe| -> &'static Driver {
        Box::leak(Box::new(Driver { name, matches: Box::leak(Box::new([Match::Compatible(compatible)])), priority: 0, probe, remove: None }))
    };
    [leak("uart", "acme,uart", uart_probe as _), leak("broken", "acme,broken", broken_probe as _), leak("intc", "acme,intc", controller_probe as _)]
}

#[test]
fn handlers_run_counts_show_and_failed_probes_free_their_line() {
    let platform = IrqHostPlatform::leaked(true);
    let mut registry = registry::probe_with(platform, &[&Devices], drivers());
    assert_eq!(registry.find_by_path("/uart").unwrap().state, DeviceState::Bound);
    assert!(matches!(registry.find_by_path("/broken").unwrap().state, DeviceState::Failed(_)));
    assert_eq!(platform.freed(), [34], "the failed probe's line was freed");

    for _ in 0..5 {
        platform.fire(33);
    }
    let uart = registry.find_by_path("/uart").unwrap();
    let (index, stats) = &uart.irq_stats[0];
    assert_eq!((*index, stats.handled(), stats.spurious()), (0, 3, 2));
    assert!(registry::lsdev::text(&registry).contains("irqs (SPI 1): 3 (+2 spurious)"));
    let counts = r#""irq_counts":[{"index":0,"handled":3,"spurious":2,"storms":0,"state":"enabled"}]"#;
    assert!(registry::lsdev::json(&registry).contains(counts));
    let table = registry::lsdev::interrupts(&registry);
    let rows: Vec<Vec<&str>> = table.lines().skip(1).map(|l| l.split_whitespace().collect()).collect();
    let row = ["3", "2", "0", "SPI", "1", "(/intc)", "enabled", "/uart"];
    assert_eq!(rows, [row], "only the bound device's line:\n{table}");

    let id = registry.find_by_path("/uart").unwrap().id;
    registry.remove(id);
    assert_eq!(platform.freed(), [34, 33], "removing the device freed its line");
    assert!(platform.installed().is_empty());
}

#[test]
fn a_missing_controller_defers_until_it_is_probed() {
    let platform = IrqHostPlatform::leaked(false);
    *READY_ON_PROBE.lock().unwrap() = Some(platform);
    let registry = registry::probe_with(platform, &[&Devices], drivers());
    *READY_ON_PROBE.lock().unwrap() = None;
    assert_eq!(registry.find_by_path("/uart").unwrap().state, DeviceState::Bound, "retried after the controller bound");
    assert_eq!(registry.find_by_path("/uart").unwrap().irq_stats.len(), 1);
}

#[test]
fn without_interrupt_support_drivers_poll() {
    let registry = registry::probe_with(HostPlatform::leaked(), &[&Devices], drivers());
    let uart = registry.find_by_path("/uart").unwrap();
    assert_eq!(uart.state, DeviceState::Bound);
    assert!(uart.irq_stats.is_empty());
}

/// A platform whose MSI controller hands out vectors from 100 on and records what comes back.
struct MsiPlatform {
    host: &'static HostPlatform,
    next: Mutex<u32>,
    freed: Mutex<Vec<u32>>,
}

// SAFETY: memory (MMIO, DMA) is forwarded to the host platform, which meets the contract; the
// clock is its clock; handlers are only recorded, never run.
unsafe impl registry::Platform for MsiPlatform {
    registry::forward_platform_memory!(host);

    fn now_ns(&self) -> u64 {
        self.host.now_ns()
    }

    fn alloc_msi(&self, _: &MsiSource, count: usize) -> Result<Vec<MsiVector>, IrqError> {
        let mut next = self.next.lock().unwrap();
        let vectors = (*next..*next + count as u32)
            .map(|n| MsiVector {
                irq: Irq { controller: "msi".into(), cells: vec![n], number: Some(n), label: format!("MSI {n}") },
                message: MsiMessage { address: 0xfee0_0000, data: n },
            })
            .collect();
        *next += count as u32;
        Ok(vectors)
    }

    fn free_msi(&self, _: &MsiSource, irq: &Irq) {
        self.freed.lock().unwrap().push(irq.number.unwrap());
    }
}

#[test]
fn msi_vectors_go_back_when_the_probe_fails_and_when_the_device_is_removed() {
    fn keeps(ctx: &mut ProbeContext<'_>) -> Result<(), ProbeError> {
        ctx.alloc_msi(&MsiSource::default(), 2).map_err(ProbeError::failed)?;
        Ok(())
    }
    fn fails(ctx: &mut ProbeContext<'_>) -> Result<(), ProbeError> {
        ctx.alloc_msi(&MsiSource::default(), 3).map_err(ProbeError::failed)?;
        Err(ProbeError::Failed("gave up after taking its vectors".into()))
    }
    let leak = |name, compatible, probe| -> &'static Driver {
        Box::leak(Box::new(Driver { name, matches: Box::leak(Box::new([Match::Compatible(compatible)])), priority: 0, probe, remove: None }))
    };
    let platform: &'static MsiPlatform =
        Box::leak(Box::new(MsiPlatform { host: HostPlatform::leaked(), next: Mutex::new(100), freed: Mutex::new(vec![]) }));
    let drivers = [leak("uart", "acme,uart", keeps as _), leak("broken", "acme,broken", fails as _)];
    let mut registry = registry::probe_with(platform, &[&Devices], drivers);
    assert_eq!(*platform.freed.lock().unwrap(), [102, 103, 104], "the failed probe's vectors");
    let uart = registry.find_by_path("/uart").unwrap();
    let kept: Vec<u32> = uart.msi.iter().map(|(_, irq)| irq.number.unwrap()).collect();
    assert_eq!(kept, [100, 101], "the bound device keeps its vectors");
    registry.remove(uart.id);
    assert_eq!(*platform.freed.lock().unwrap(), [102, 103, 104, 100, 101]);
    assert!(registry.find_by_path("/uart").unwrap().msi.is_empty());
}

/// A device that keeps its interrupt cause set, and a handler that claims every interrupt.
fn storming_probe(ctx: &mut ProbeContext<'_>) -> Result<(), ProbeError> {
    ctx.request_irq(0, Box::new(|| IrqReturn::Handled))?;
    Ok(())
}

#[test]
fn a_line_storming_with_its_handler_claiming_it_is_masked_for_a_while_and_irqs_says_so() {
    struct Storming;
    impl Bus for Storming {
        fn name(&self) -> &str {
            "test"
        }
        fn enumerate(&self) -> Result<Vec<DeviceSpec>, BusError> {
            Ok(vec![device("storm", "acme,storm", 35)])
        }
    }
    let platform = IrqHostPlatform::leaked(true);
    let driver: &'static Driver = Box::leak(Box::new(Driver {
        name: "storm",
        matches: &[Match::Compatible("acme,storm")],
        priority: 0,
        probe: storming_probe,
        remove: None,
    }));
    let registry = registry::probe_with(platform, &[&Storming], [driver]);
    // The interrupt path as a level line stuck high drives it: again as soon as it returns.
    let delivered = (0..100_000).take_while(|_| platform.fire(35)).count();
    assert_eq!(delivered, registry::irq::STORM_LIMIT as usize, "masked after one burst, not livelocked");
    assert!(!platform.fire(35), "the masked line delivers nothing");

    let stats = &registry.find_by_path("/storm").unwrap().irq_stats[0].1;
    assert_eq!((stats.handled(), stats.storms(), stats.state()), (10_000, 1, registry::LineState::MaskedStorm));
    let table = registry::lsdev::interrupts(&registry);
    let row: Vec<&str> = table.lines().nth(1).unwrap().split_whitespace().collect();
    assert_eq!(row, ["10000", "0", "1", "SPI", "3", "(/intc)", "storm:", "masked", "/storm"], "{table}");
    assert!(registry::lsdev::text(&registry).contains("irqs (SPI 3): 10000 (storm: masked)"));
    assert!(registry::lsdev::json(&registry).contains(r#""storms":1,"state":"storm: masked""#));

    // Before the hold-off is over the line stays masked; after it, it is enabled again.
    use registry::Platform;
    platform.idle_until(0);
    assert!(!platform.fire(35));
    platform.host.advance(registry::irq::STORM_HOLDOFF_NS);
    platform.idle_until(0);
    assert_eq!(stats.state(), registry::LineState::Enabled);
    assert!(platform.fire(35), "enabled again");
    assert_eq!((stats.handled(), stats.storms()), (10_001, 1));
}

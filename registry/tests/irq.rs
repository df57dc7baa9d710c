//! Interrupt hookup through the platform: installed handlers, counts in lsdev, deferral while
//! the controller is missing, and lines freed when a probe fails or a device is removed.

use std::sync::Mutex;

use registry::testing::{HostPlatform, IrqHostPlatform};
use registry::{
    Bus, BusAddress, BusError, DeviceIds, DeviceSpec, DeviceState, Driver, Irq, IrqHandler, IrqReturn, Match, ProbeContext,
    ProbeError,
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
    assert!(registry::lsdev::json(&registry).contains(r#""irq_counts":[{"index":0,"handled":3,"spurious":2}]"#));

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

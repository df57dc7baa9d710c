//! MSI-X for a virtio-pci function: one vector for configuration changes and one per queue
//! when the function's table and the platform have enough, else one shared by the queues;
//! the function's INTx when there is no MSI controller (or it refuses).

use alloc::format;
use alloc::string::String;
use alloc::vec::Vec;

use bus_pci::msix::MsixTable;
use bus_pci::PciFunction;
use registry::{Irq, IrqError, MsiMessage, MsiVector, ProbeContext, ProbeError};

use super::transport::MsixRouting;
use super::Interface;

/// What the function's MSI-X table and the platform's MSI controller can give it: the
/// table and the vectors, or why the function falls back to its line.
pub(super) enum Vectors {
    /// `queues`: how many queues the device has, which the vectors serve.
    Messages { table: MsixTable, vectors: Vec<MsiVector>, queues: u16 },
    Line(&'static str),
}

/// Allocates the function's vectors: `1 + queues`, else 2. A controller not up yet defers the
/// probe; no controller, or a table the function gets wrong, means the line.
pub(super) fn allocate(ctx: &mut ProbeContext<'_>, transport: &Interface) -> Result<Vectors, ProbeError> {
    let platform = ctx.platform;
    let function = ctx.bus_data::<PciFunction>().ok_or_else(|| ProbeError::failed("no PCI function handle"))?;
    let Some(source) = function.msi.clone() else { return Ok(Vectors::Line("the PCI host names no MSI controller")) };
    let table = match MsixTable::find(function, platform) {
        Ok(Some(table)) => table,
        Ok(None) => return Ok(Vectors::Line("no MSI-X capability")),
        Err(error) => {
            log::warn!("{}: {error}; using INTx", ctx.device.path);
            return Ok(Vectors::Line("unusable MSI-X table"));
        }
    };
    let queues = transport.num_queues().map_err(ProbeError::failed)?;
    // A device reporting no queues still gets a vector for them: its driver will find out.
    let per_queue = (usize::from(queues) + 1).max(2);
    let wanted: &[usize] = if per_queue == 2 { &[2] } else { &[per_queue, 2] };
    for &count in wanted.iter().filter(|&&count| count <= usize::from(table.vectors())) {
        match ctx.alloc_msi(&source, count) {
            Ok(vectors) => return Ok(Vectors::Messages { table, vectors, queues }),
            Err(IrqError::Unsupported) => return Ok(Vectors::Line("the platform has no MSIs")),
            Err(IrqError::ControllerNotReady(controller)) => {
                return Err(ProbeError::Defer(format!("MSI controller {controller} not probed yet")))
            }
            Err(IrqError::Invalid(reason)) => log::info!("{}: {count} MSI-X vectors refused ({reason})", ctx.device.path),
        }
    }
    Ok(Vectors::Line("not enough MSI-X vectors"))
}

/// Tells the transport which vector is whose, then programs the table and turns MSI-X on.
/// Returns the interrupts for the virtio device: configuration changes first, then the
/// queues' (labelled with their role).
pub(super) fn enable(
    function: &PciFunction,
    transport: &mut Interface,
    table: &MsixTable,
    vectors: Vec<MsiVector>,
    queues: u16,
) -> Result<Vec<Irq>, ProbeError> {
    let messages: Vec<MsiMessage> = vectors.iter().map(|v| v.message).collect();
    let routing = MsixRouting { queue_vectors: vectors.len().saturating_sub(1) as u16 };
    // The transport only records the routing (a legacy one checks its BAR has the vector
    // registers): nothing reaches the device before the table is on.
    transport.use_msix(routing).map_err(ProbeError::failed)?;
    table.enable(function, &messages).map_err(ProbeError::failed)?;
    let shared = routing.queue_vectors < queues;
    Ok(vectors
        .into_iter()
        .enumerate()
        .map(|(index, vector)| {
            let role = match index {
                0 => String::from("config"),
                _ if shared => String::from("queues"),
                queue => format!("vq{}", queue - 1),
            };
            Irq { label: format!("{} {role}", vector.irq.label), ..vector.irq }
        })
        .collect())
}

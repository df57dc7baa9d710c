//! The GICv3 Interrupt Translation Service (ITS): turns a device's write of an event ID to its
//! doorbell (`GITS_TRANSLATER`) into an LPI, through tables in memory the driver sets up with
//! commands. Brought up once per GIC by its registry driver (`driver.rs`): device and collection
//! tables (`tables.rs`), the command queue (`queue.rs`), then one collection, 0, on the boot
//! CPU's redistributor, which every LPI goes to. Devices get their events mapped as
//! [`MsiController`](crate::msi::MsiController)s hand them out (`devices.rs`).

mod commands;
mod devices;
mod driver;
mod queue;
mod tables;

use alloc::boxed::Box;
use alloc::collections::BTreeMap;
use alloc::format;
use alloc::string::String;
use alloc::vec::Vec;
use core::sync::atomic::{AtomicBool, AtomicU64, Ordering};

use registry::mmio::MmioWindow;
use registry::Platform;
use spin::Mutex;

use crate::bits::wait_register;
use crate::dma::GicMemory;
use crate::lpi::{Lpis, HANDED_OUT};
use crate::{Gic, GicError};
pub use commands::{Command, RdBase};
use devices::MappedDevice;
use queue::CommandQueue;

const CTLR: usize = 0x0000;
const TYPER: usize = 0x0008;
/// The doorbell devices write their event ID to, in the frame's second (translation) page.
pub const TRANSLATER: u64 = 0x1_0040;
/// The register frame: the control page and the translation page, 64 KiB each.
pub const FRAME_BYTES: u64 = 0x2_0000;
const CTLR_ENABLED: u32 = 1;
const CTLR_QUIESCENT: u32 = 1 << 31;
/// The one collection: the boot CPU's redistributor.
const COLLECTION: u16 = 0;
/// Events per device at most: 32 (5 EventID bits), plenty for a PCI function's MSI-X vectors.
const MAX_EVENT_BITS: u32 = 5;
/// One page of commands (128): a bring-up or a 32-event mapping needs at most 34.
const QUEUE_PAGES: usize = 1;

/// What `GITS_TYPER` says about the ITS.
pub(crate) struct ItsTyper {
    /// It translates to physical LPIs.
    physical: bool,
    itt_entry_bytes: usize,
    event_bits: u32,
    device_bits: u32,
    /// Collections name redistributors by physical address (else by processor number).
    pta: bool,
    /// HCC: collections the ITS holds without memory.
    collections_in_its: u32,
}

impl ItsTyper {
    fn read(regs: &MmioWindow) -> Result<ItsTyper, GicError> {
        let typer = regs.read32(TYPER)?;
        Ok(ItsTyper {
            physical: typer & 1 != 0,
            itt_entry_bytes: (typer >> 4 & 0xf) as usize + 1,
            event_bits: (typer >> 8 & 0x1f) + 1,
            device_bits: (typer >> 13 & 0x1f) + 1,
            pta: typer & 1 << 19 != 0,
            collections_in_its: typer >> 24,
        })
    }
}

/// How [`Its::invalidate`] may get at the command queue.
pub(crate) enum QueueAccess {
    /// Wait for the queue (the thread).
    Wait,
    /// Never wait for it: an interrupt handler may have interrupted its holder.
    IfFree,
}

/// A GICv3 ITS, up and serving LPIs.
pub struct Its {
    path: String,
    regs: MmioWindow,
    platform: &'static dyn Platform,
    lpis: &'static Lpis,
    /// The redistributor of collection 0, as commands name it.
    target: RdBase,
    typer: ItsTyper,
    /// DeviceIDs below this have a device table entry.
    device_ids: u32,
    events_per_device: u32,
    queue: Mutex<CommandQueue>,
    devices: Mutex<BTreeMap<u32, MappedDevice>>,
    /// Per handed-out LPI: the device and event mapped to it, for invalidations from
    /// interrupt handlers, which cannot take `devices` (see `devices::route`).
    routes: Vec<AtomicU64>,
    /// An interrupt handler changed a configuration byte while the queue was taken: its
    /// holder invalidates every LPI's before letting go of it.
    invalidate_all: AtomicBool,
    /// The device and collection tables, the ITS's from now on.
    _tables: Vec<GicMemory>,
}

impl Its {
    /// Brings up the ITS in `regs` (its DT node `path`) for the GICv3 `gic`: LPIs on at the
    /// boot CPU's redistributor (the first ITS does that), tables and command queue given to
    /// the ITS, the ITS enabled, collection 0 mapped to the boot CPU. Lives for the kernel's
    /// life: the ITS keeps using the memory it was given.
    pub fn bring_up(path: &str, regs: MmioWindow, gic: &'static Gic, platform: &'static dyn Platform) -> Result<&'static Its, GicError> {
        let typer = ItsTyper::read(&regs)?;
        if !typer.physical {
            return Err(GicError::Its("the ITS does not translate to physical LPIs (GITS_TYPER.Physical is 0)".into()));
        }
        let lpis = gic.enable_lpis(platform)?;
        if let Some(other) = lpis.its() {
            return Err(GicError::Its(format!("{} already serves the LPIs of {}: one ITS per GIC is driven", other.path, gic.path())));
        }
        let rd = gic.redistributor().ok_or_else(|| GicError::Its("an ITS needs a GICv3".into()))?;
        let target = if typer.pta { RdBase::Physical(rd.phys()) } else { RdBase::ProcessorNumber(rd.processor_number()?) };
        quiesce(&regs, platform)?;
        // A disabled ITS reads none of its tables or queue: on an error before it is enabled
        // they are simply freed.
        let tables = tables::set_up(&regs, platform, &typer)?;
        let mut queue = CommandQueue::new(platform, QUEUE_PAGES)?;
        queue.program(&regs)?;
        let events_per_device = 1 << typer.event_bits.min(MAX_EVENT_BITS);
        let its = Its {
            path: path.into(),
            regs,
            platform,
            lpis,
            target,
            device_ids: tables.device_ids,
            events_per_device,
            typer,
            queue: Mutex::new(queue),
            devices: Mutex::new(BTreeMap::new()),
            routes: (0..HANDED_OUT).map(|_| AtomicU64::new(0)).collect(),
            invalidate_all: AtomicBool::new(false),
            _tables: tables.memory,
        };
        // From here on the ITS may use the memory, so it is never freed, even if the rest fails.
        let its: &'static Its = Box::leak(Box::new(its));
        its.regs.write32(CTLR, CTLR_ENABLED)?;
        its.submit(&[Command::mapc(COLLECTION, target), Command::sync(target)])?;
        lpis.attach(its);
        Ok(its)
    }

    /// Its device-tree node, which the MSI vectors it hands out name as their controller.
    pub fn path(&self) -> &str {
        &self.path
    }

    /// The physical address devices write their event ID to (`GITS_TRANSLATER`).
    pub fn doorbell(&self) -> u64 {
        self.regs.phys() + TRANSLATER
    }

    /// DeviceIDs below this can be mapped.
    pub fn device_ids(&self) -> u32 {
        self.device_ids
    }

    /// How many interrupts one device can have.
    pub fn events_per_device(&self) -> u32 {
        self.events_per_device
    }

    /// The redistributor LPIs go to, as the ITS's commands name it.
    pub fn target(&self) -> RdBase {
        self.target
    }

    /// Tells the redistributor that LPI `intid`'s configuration byte changed: INV for the event
    /// mapped to it, then SYNC. With [`QueueAccess::IfFree`] and the queue taken (an interrupt
    /// handler that interrupted its holder), the holder does it instead, as an INVALL, before it
    /// lets go: meanwhile the redistributor may use the byte it cached, so a disabled LPI can
    /// still be signalled until the holder's command completes.
    pub(crate) fn invalidate(&self, intid: u32, access: QueueAccess) -> Result<(), GicError> {
        let Some((device_id, event_id)) = self.route(intid) else {
            // No event maps to it: nothing raises it, and mapping it again invalidates.
            return Ok(());
        };
        let commands = [Command::inv(device_id, event_id), Command::sync(self.target)];
        match access {
            QueueAccess::Wait => self.submit(&commands),
            QueueAccess::IfFree => {
                let Some(mut queue) = self.queue.try_lock() else {
                    self.invalidate_all.store(true, Ordering::Release);
                    return Ok(());
                };
                let result = queue.submit(&self.regs, self.platform, &commands);
                drop(queue);
                self.run_deferred();
                result
            }
        }
    }

    /// Issues `commands` (ending with a SYNC) and waits for the ITS to process them.
    fn submit(&self, commands: &[Command]) -> Result<(), GicError> {
        let result = self.queue.lock().submit(&self.regs, self.platform, commands);
        self.run_deferred();
        result
    }

    /// The invalidation an interrupt handler left for the queue's holder. Looks again after
    /// each: a handler may have left another while this one ran.
    fn run_deferred(&self) {
        while self.invalidate_all.load(Ordering::Acquire) {
            // Taken again: by an interrupted thread, which looks when it lets go.
            let Some(mut queue) = self.queue.try_lock() else { return };
            if self.invalidate_all.swap(false, Ordering::AcqRel) {
                let commands = [Command::invall(COLLECTION), Command::sync(self.target)];
                if queue.submit(&self.regs, self.platform, &commands).is_err() {
                    // A broken queue: the next user of the queue tries again.
                    self.invalidate_all.store(true, Ordering::Release);
                    return;
                }
            }
        }
    }
}

/// Disables an ITS an earlier boot stage left enabled and waits until it has finished what it
/// was doing: its tables and queue can only be replaced then.
fn quiesce(regs: &MmioWindow, platform: &dyn Platform) -> Result<(), GicError> {
    let ctlr = regs.read32(CTLR)?;
    if ctlr & CTLR_ENABLED == 0 && ctlr & CTLR_QUIESCENT != 0 {
        return Ok(());
    }
    regs.write32(CTLR, ctlr & !CTLR_ENABLED)?;
    wait_register(regs, CTLR, platform, "the ITS to become quiescent", |ctlr| ctlr & CTLR_QUIESCENT != 0).map(drop)
}

//! The ITS as an [`MsiController`]: a device's interrupts are events of its DeviceID, each
//! mapped (MAPTI) to an LPI from the GIC's pool through the device's interrupt translation
//! table (ITT, given with MAPD when the device gets its first event).

use alloc::format;
use alloc::string::String;
use alloc::vec;
use alloc::vec::Vec;
use core::sync::atomic::Ordering;

use registry::{Irq, IrqError, MsiMessage, MsiVector};

use super::{Command, Its, COLLECTION};
use crate::dma::GicMemory;
use crate::msi::MsiController;

/// ITT_addr in MAPD is bits 51:8: the table is 256-byte aligned.
const ITT_ALIGN: usize = 256;
/// `Its::routes` entry: valid, DeviceID in bits 47:16, EventID in 15:0 (events fit 5 bits).
const ROUTE_VALID: u64 = 1 << 63;

/// A device the ITS has a table for.
pub(crate) struct MappedDevice {
    /// Its interrupt translation table, the ITS's while the device is mapped.
    itt: GicMemory,
    /// Per event: the LPI it raises.
    events: Vec<Option<u32>>,
}

impl Its {
    /// The device and event LPI `intid` is mapped from, if it is; never blocks.
    pub(crate) fn route(&self, intid: u32) -> Option<(u32, u32)> {
        let route = self.routes.get(self.route_index(intid)?)?.load(Ordering::Acquire);
        (route & ROUTE_VALID != 0).then_some(((route >> 16) as u32, route as u16 as u32))
    }

    fn route_index(&self, intid: u32) -> Option<usize> {
        intid.checked_sub(self.lpis.handed_out().start).map(|index| index as usize)
    }

    fn set_route(&self, intid: u32, route: Option<(u32, u32)>) {
        let value = route.map_or(0, |(device_id, event_id)| ROUTE_VALID | u64::from(device_id) << 16 | u64::from(event_id));
        if let Some(slot) = self.route_index(intid).and_then(|index| self.routes.get(index)) {
            slot.store(value, Ordering::Release);
        }
    }

    fn vector(&self, lpi: u32, event_id: u32) -> MsiVector {
        let irq = Irq { controller: self.path.clone(), cells: vec![lpi], number: Some(lpi), label: format!("LPI {lpi}") };
        MsiVector { irq, message: MsiMessage { address: self.doorbell(), data: event_id } }
    }

    fn check_request(&self, device_id: u32, count: usize) -> Result<(), String> {
        if device_id >= self.device_ids {
            return Err(format!("device ID {device_id:#x} is beyond the {:#x} device IDs the ITS {} maps", self.device_ids, self.path));
        }
        if count > self.events_per_device as usize {
            return Err(format!("{count} interrupts asked for device {device_id:#x}; the ITS maps {} per device", self.events_per_device));
        }
        Ok(())
    }
}

impl MsiController for Its {
    fn path(&self) -> &str {
        &self.path
    }

    fn allocate(&self, device_id: u32, count: usize) -> Result<Vec<MsiVector>, IrqError> {
        self.check_request(device_id, count).map_err(IrqError::Invalid)?;
        if count == 0 {
            return Ok(Vec::new());
        }
        let mut devices = self.devices.lock();
        let new = !devices.contains_key(&device_id);
        if new {
            let itt_bytes = self.events_per_device as usize * self.typer.itt_entry_bytes;
            let itt = GicMemory::new(self.platform, itt_bytes, ITT_ALIGN).map_err(|error| IrqError::Invalid(format!("{error}")))?;
            devices.insert(device_id, MappedDevice { itt, events: vec![None; self.events_per_device as usize] });
        }
        let device = devices.get_mut(&device_id).expect("inserted above");
        let unmapped = device.events.iter().enumerate().filter(|(_, lpi)| lpi.is_none());
        let free: Vec<u32> = unmapped.map(|(event, _)| event as u32).take(count).collect();
        if free.len() < count {
            let reason = format!("device {device_id:#x} has {} of its {} interrupts free, {count} asked", free.len(), device.events.len());
            return Err(IrqError::Invalid(reason));
        }
        let Some(lpis) = self.lpis.pool().take(count) else {
            let handed_out = self.lpis.handed_out();
            let reason = format!("out of LPIs: all of {}-{} are taken", handed_out.start, handed_out.end - 1);
            if new {
                devices.remove(&device_id);
            }
            return Err(IrqError::Invalid(reason));
        };
        let mut commands = Vec::with_capacity(count + 2);
        if new {
            commands.push(Command::mapd(device_id, device.itt.phys(), self.events_per_device.trailing_zeros()));
        }
        commands.extend(free.iter().zip(&lpis).map(|(&event, &lpi)| Command::mapti(device_id, event, lpi, COLLECTION)));
        commands.push(Command::sync(self.target));
        if let Err(error) = self.submit(&commands) {
            // The ITS may have taken some of the commands before it failed: the LPIs, and the
            // ITT of a new device, stay out of use rather than be handed out mapped.
            if new {
                let device = devices.remove(&device_id).expect("inserted above");
                core::mem::forget(device);
            }
            return Err(IrqError::Invalid(format!("{error}")));
        }
        let vectors = free.iter().zip(&lpis).map(|(&event, &lpi)| {
            device.events[event as usize] = Some(lpi);
            self.set_route(lpi, Some((device_id, event)));
            self.vector(lpi, event)
        });
        Ok(vectors.collect())
    }

    fn free(&self, device_id: u32, irq: &Irq) {
        let mut devices = self.devices.lock();
        let Some(device) = devices.get_mut(&device_id) else { return };
        let Some(lpi) = irq.number else { return };
        let Some(event) = device.events.iter().position(|&mapped| mapped == Some(lpi)) else { return };
        // Interrupt handlers stop invalidating it: the event is about to go.
        self.set_route(lpi, None);
        let last = device.events.iter().filter(|mapped| mapped.is_some()).count() == 1;
        let mut commands = vec![Command::discard(device_id, event as u32)];
        if last {
            commands.push(Command::unmapd(device_id));
        }
        commands.push(Command::sync(self.target));
        if self.submit(&commands).is_err() {
            // The ITS may still map the event: the LPI stays out of the pool, and the event
            // (and its ITT) taken. `free` has no way to report it.
            return;
        }
        self.lpis.reset(lpi);
        self.lpis.pool().give_back(lpi);
        device.events[event] = None;
        if last {
            // After the SYNC the ITS no longer reads the ITT: it is freed with the device.
            devices.remove(&device_id);
        }
    }

    fn owns(&self, intid: u32) -> bool {
        self.route(intid).is_some()
    }
}

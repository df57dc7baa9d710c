//! The simulated machine's interrupt side: each simulated device's line, the handlers drivers
//! hook to lines through [`Platform::request_irq`](registry::Platform::request_irq), and their
//! delivery when the CPU idles.
//!
//! Lines are level-triggered: a line is up while its device has causes pending (or misbehaves),
//! and its handlers run each time the CPU idles with it up, as a GIC would deliver it again
//! until the device is acknowledged. A line nobody hooked does not wake the CPU (the kernel
//! keeps such lines masked).

use alloc::string::String;
use alloc::sync::{Arc, Weak};
use alloc::vec::Vec;

use registry::{Irq, IrqError, IrqHandler, IrqStats};
use spin::Mutex;

use super::device::DeviceState;

/// The first line handed out: SPI-like numbers, to look like what the kernel sees.
const FIRST_LINE: u32 = 32;

#[derive(Default)]
pub(crate) struct Lines {
    /// Every simulated device on the platform and its line.
    devices: Vec<(u32, Weak<Mutex<DeviceState>>)>,
    handlers: Vec<Installed>,
}

struct Installed {
    line: u32,
    handler: IrqHandler,
    stats: Arc<IrqStats>,
}

impl Lines {
    /// Gives `device` the next line.
    pub(crate) fn attach(&mut self, device: Weak<Mutex<DeviceState>>) -> u32 {
        let line = FIRST_LINE + self.devices.len() as u32;
        self.devices.push((line, device));
        line
    }

    pub(crate) fn install(&mut self, irq: &Irq, handler: IrqHandler, stats: Arc<IrqStats>) -> Result<(), IrqError> {
        let line = irq.number.ok_or_else(|| IrqError::Invalid(String::from("a simulated line has a number")))?;
        self.handlers.push(Installed { line, handler, stats });
        Ok(())
    }

    pub(crate) fn remove(&mut self, irq: &Irq, stats: &Arc<IrqStats>) {
        self.handlers.retain(|installed| !(Some(installed.line) == irq.number && Arc::ptr_eq(&installed.stats, stats)));
    }

    /// Lets every device finish what is due at `now`.
    pub(crate) fn run_devices(&self, now: u64) {
        self.each_device(|_, device| device.run_until(now));
    }

    /// The earliest time a device has work due.
    pub(crate) fn next_due(&self) -> Option<u64> {
        let mut next: Option<u64> = None;
        self.each_device(|_, device| {
            if let Some(due) = device.due_at() {
                next = Some(next.map_or(due, |next| next.min(due)));
            }
        });
        next
    }

    /// Runs the handlers of every hooked line that is up, counting what they say; returns
    /// whether any ran (an interrupt woke the CPU).
    pub(crate) fn deliver(&mut self) -> bool {
        let mut raised = Vec::new();
        self.each_device(|line, device| {
            if device.raises_interrupt() {
                raised.push(line);
            }
        });
        let mut delivered = false;
        for installed in self.handlers.iter_mut().filter(|installed| raised.contains(&installed.line)) {
            installed.stats.record((installed.handler)());
            delivered = true;
        }
        delivered
    }

    /// Runs `visit` on every live device with its line, one device lock at a time (a handler
    /// takes the device's lock itself, so none is held while handlers run).
    fn each_device(&self, mut visit: impl FnMut(u32, &mut DeviceState)) {
        for (line, device) in &self.devices {
            if let Some(device) = device.upgrade() {
                visit(*line, &mut device.lock());
            }
        }
    }
}

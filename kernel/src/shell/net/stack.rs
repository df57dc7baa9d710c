//! The smoltcp interface on a NIC, and the loop every `net` command drives it with: poll the
//! interface, look at the sockets, then sleep until the NIC interrupts (a frame arrived, a
//! frame went out) or smoltcp's next timer is due; until the command is done or out of time.

use alloc::format;
use alloc::string::String;
use alloc::vec::Vec;
use core::fmt;

use registry::Platform;
use smoltcp::iface::{Config, Interface, SocketSet};
use smoltcp::time::Instant;
use smoltcp::wire::{EthernetAddress, HardwareAddress};
use registry::class::net_smoltcp::Phy;

use crate::platform::PLATFORM;

/// No command runs longer than this, whatever progress it makes.
const COMMAND_LIMIT_NS: u64 = 600_000_000_000;

pub struct Stack {
    pub iface: Interface,
    pub sockets: SocketSet<'static>,
}

/// What one look at the sockets found.
pub enum Step<T> {
    Done(T),
    /// Something moved: the wait for progress starts over.
    Progress,
    Waiting,
}

/// Why a command stopped short.
pub enum Failure {
    /// Nothing happened in time (a lost packet, a silent peer).
    TimedOut(String),
    /// The NIC failed, or the exchange went wrong.
    Error(String),
}

impl fmt::Display for Failure {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Failure::TimedOut(reason) | Failure::Error(reason) => f.write_str(reason),
        }
    }
}

/// smoltcp's clock: the platform's monotonic time.
pub fn now() -> Instant {
    Instant::from_micros((PLATFORM.now_ns() / 1000) as i64)
}

impl Stack {
    /// An interface with `nic`'s MAC and no address yet.
    pub fn new(nic: &mut Phy) -> Stack {
        let mut config = Config::new(HardwareAddress::Ethernet(EthernetAddress(nic.nic().mac().0)));
        // Seeds TCP initial sequence numbers and ports; the boot-relative clock is all there is.
        config.random_seed = PLATFORM.now_ns();
        let iface = Interface::new(config, nic, now());
        Stack { iface, sockets: SocketSet::new(Vec::new()) }
    }

    /// Polls the interface on `nic` and then `step` until it is done, giving up when `idle_ms`
    /// pass without progress (or the command limit passes), or when the NIC fails. Between
    /// rounds it sleeps until the NIC's interrupt or the next deadline (a NIC without an
    /// interrupt is polled).
    pub fn run<T>(
        &mut self,
        nic: &mut Phy,
        idle_ms: u64,
        what: &str,
        mut step: impl FnMut(&mut Stack) -> Result<Step<T>, String>,
    ) -> Result<T, Failure> {
        let start = PLATFORM.now_ns();
        let mut last_progress = start;
        loop {
            self.iface.poll(now(), nic, &mut self.sockets);
            if let Some(error) = nic.nic().error() {
                return Err(Failure::Error(format!("NIC failed: {error}")));
            }
            let time = PLATFORM.now_ns();
            match step(self).map_err(Failure::Error)? {
                Step::Done(value) => return Ok(value),
                Step::Progress => last_progress = time,
                Step::Waiting if time - last_progress > idle_ms * 1_000_000 => {
                    return Err(Failure::TimedOut(format!("no progress for {idle_ms} ms waiting for {what}")));
                }
                Step::Waiting => {}
            }
            if time - start > COMMAND_LIMIT_NS {
                let limit_s = COMMAND_LIMIT_NS / 1_000_000_000;
                return Err(Failure::TimedOut(format!("gave up after {limit_s} s waiting for {what}")));
            }
            let timers = self.iface.poll_delay(now(), &self.sockets).map_or(u64::MAX, |delay| delay.total_micros() * 1000);
            let deadline = time.saturating_add(timers).min(last_progress + idle_ms * 1_000_000).min(start + COMMAND_LIMIT_NS);
            nic.nic().idle_until(deadline);
        }
    }
}

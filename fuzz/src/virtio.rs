//! A simulated virtio device (`virtio::sim`) whose answers come from the fuzzer's bytes, bound
//! by the real driver through the registry, then driven through the driver's operations.
//!
//! The device is the simulator's honest model of a disk, NIC or GPU wrapped in [`Hostile`]:
//! per chain it serves, the next input byte says whether the honest reply stands, has bytes
//! overwritten (anywhere, or the last one written: a disk's status byte), or is replaced whole
//! (response headers, display info, frames), and whether the used-ring element's id and
//! length are replaced. Before bring-up the input also picks the interface (legacy or modern),
//! the feature bits offered, the queue sizes, the configuration space's bytes, one of the
//! simulator's [`Misbehaviour`]s, and whether the driver gets an interrupt. Later input bytes
//! pick the driver operations and device-side events (configuration changes, frames handed
//! in). Once the input is used up the device is honest, so every input is a complete run.
//!
//! The simulator still panics on driver mistakes (a malformed chain, touching freed memory):
//! those are the bugs this hunts, along with the drivers' own panics.

use std::sync::Arc;

use registry::{Irq, IrqError, IrqHandler, IrqStats, Platform, Registry};
use spin::Mutex;
use virtio::sim::{DeviceModel, Interface, Misbehaviour, SimBus, SimDevice, SimPlatform};

use crate::Bytes;

/// The fuzzer's bytes, shared by the harness and the device model.
#[derive(Clone)]
pub struct Script(Arc<Mutex<(Vec<u8>, usize)>>);

impl Script {
    pub fn new(data: &[u8]) -> Self {
        Script(Arc::new(Mutex::new((data.to_vec(), 0))))
    }

    /// Runs `read` on the bytes not consumed yet, consuming what it took.
    pub fn with<T>(&self, read: impl FnOnce(&mut Bytes) -> T) -> T {
        let mut script = self.0.lock();
        let (data, at) = &mut *script;
        let mut bytes = Bytes::new(&data[*at..]);
        let before = bytes.rest_len();
        let value = read(&mut bytes);
        *at += before - bytes.rest_len();
        value
    }

    pub fn u8(&self) -> u8 {
        self.with(|bytes| bytes.u8())
    }

    pub fn is_empty(&self) -> bool {
        self.with(|bytes| bytes.is_empty())
    }
}

/// An honest model whose replies and used elements the script may replace.
pub struct Hostile<M> {
    inner: M,
    script: Script,
    config_pokes: Vec<(usize, u8)>,
    queue_sizes: Option<Vec<u16>>,
    /// The used element's replacement id and length for the chain just served.
    used: (Option<u32>, Option<u32>),
}

impl<M: DeviceModel> DeviceModel for Hostile<M> {
    fn device_id(&self) -> u32 {
        self.inner.device_id()
    }

    fn features(&self) -> u64 {
        self.inner.features()
    }

    fn queue_sizes(&self) -> Vec<u16> {
        self.queue_sizes.clone().unwrap_or_else(|| self.inner.queue_sizes())
    }

    fn config_space(&self) -> Vec<u8> {
        let mut config = self.inner.config_space();
        for &(offset, value) in &self.config_pokes {
            if let Some(byte) = config.get_mut(offset) {
                *byte = value;
            }
        }
        config
    }

    fn serve(&mut self, queue: u16, request: &[u8], reply: &mut [u8]) -> u32 {
        let mut written = self.inner.serve(queue, request, reply);
        let mode = self.script.u8();
        match mode & 3 {
            1 => self.script.with(|bytes| {
                for _ in 0..bytes.u8() % 4 {
                    let (at, value) = (bytes.below(reply.len()), bytes.u8());
                    if let Some(byte) = reply.get_mut(at) {
                        *byte = value;
                    }
                }
            }),
            2 => self.script.with(|bytes| {
                let taken = bytes.take(reply.len());
                reply[..taken.len()].copy_from_slice(taken);
                written = bytes.u32() % (reply.len() as u32 + 1);
            }),
            // The last byte the device wrote: a block request's status byte.
            3 => {
                let value = self.script.u8();
                if let Some(byte) = (written as usize).checked_sub(1).and_then(|at| reply.get_mut(at)) {
                    *byte = value;
                }
            }
            _ => {}
        }
        self.used = self.script.with(|bytes| {
            let id = (mode & 4 != 0).then(|| u32::from(bytes.u16()));
            let len = (mode & 8 != 0).then(|| bytes.u32());
            (id, len)
        });
        written.min(reply.len() as u32)
    }

    fn used_element(&mut self, _queue: u16, head: u32, written: u32) -> (u32, u32) {
        let (id, len) = core::mem::take(&mut self.used);
        (id.unwrap_or(head), len.unwrap_or(written))
    }
}

const MISBEHAVIOURS: [Misbehaviour; 10] = [
    Misbehaviour::UsedIdOutOfRange,
    Misbehaviour::UsedIdNotHead,
    Misbehaviour::DuplicateCompletion,
    Misbehaviour::UsedLenTooLong,
    Misbehaviour::UsedIndexJump,
    Misbehaviour::RefuseFeaturesOk,
    Misbehaviour::StuckReset,
    Misbehaviour::UnstableConfigGeneration,
    Misbehaviour::NoInterrupts,
    Misbehaviour::SpuriousInterrupts,
];

/// The simulator's platform with a clock that runs [`TIME_SCALE`] times faster, so that the
/// drivers' timeouts (seconds, counted in clock reads of 1 us each) expire within a
/// hundred reads (0.1 s each); and interrupts only when the input asks for them.
pub struct FastPlatform {
    sim: &'static SimPlatform,
    interrupts: bool,
}

const TIME_SCALE: u64 = 100_000;

// SAFETY: every memory hook forwards to `SimPlatform`, which meets the contract (its MMIO and
// DMA are host allocations that live as long as it does); only the clock runs faster and
// interrupts may be refused, neither of which the contract constrains.
unsafe impl Platform for FastPlatform {
    registry::forward_platform_memory!(sim);

    fn now_ns(&self) -> u64 {
        self.sim.now_ns().saturating_mul(TIME_SCALE)
    }

    fn request_irq(&self, irq: &Irq, handler: IrqHandler, stats: Arc<IrqStats>) -> Result<(), IrqError> {
        match self.interrupts {
            true => self.sim.request_irq(irq, handler, stats),
            false => Err(IrqError::Unsupported),
        }
    }

    fn free_irq(&self, irq: &Irq, stats: &Arc<IrqStats>) {
        self.sim.free_irq(irq, stats)
    }

    fn idle_until(&self, deadline_ns: u64) {
        self.sim.idle_until(deadline_ns.div_ceil(TIME_SCALE))
    }
}

/// A bound (or not) driver over a hostile device, and the handles to steer it.
pub struct Rig {
    pub script: Script,
    pub device: SimDevice,
    pub registry: Registry,
    sim: &'static SimPlatform,
    platform: &'static FastPlatform,
}

/// Decodes the device's shape from the script, wraps `inner`, binds the driver through the
/// registry. `make` builds the honest model for the chosen interface on the platform.
pub fn bring_up<M: DeviceModel + 'static>(
    data: &[u8],
    make: impl FnOnce(&mut Bytes, Interface, &'static SimPlatform) -> M,
) -> Rig {
    let script = Script::new(data);
    let sim = SimPlatform::leaked();
    let (flags, interface, inner, config_pokes, queue_sizes, offered, misbehaviour) = script.with(|bytes| {
        let flags = bytes.u8();
        let interface = if flags & 1 != 0 { Interface::Legacy } else { Interface::Modern };
        let inner = make(bytes, interface, sim);
        let pokes = (0..bytes.u8() % 8).map(|_| (bytes.below(64), bytes.u8())).collect::<Vec<_>>();
        let sizes = (flags & 4 != 0).then(|| inner.queue_sizes().iter().map(|_| bytes.u16()).collect());
        let offered = (flags & 8 != 0).then(|| bytes.u64());
        let misbehaviour = match bytes.u8() {
            n if usize::from(n) < MISBEHAVIOURS.len() => Some(MISBEHAVIOURS[usize::from(n)]),
            _ => None,
        };
        (flags, interface, inner, pokes, sizes, offered, misbehaviour)
    });
    let model = Hostile { inner, script: script.clone(), config_pokes, queue_sizes, used: (None, None) };
    let device = SimDevice::new(sim, interface, model);
    if let Some(offered) = offered {
        device.set_offered_features(offered);
    }
    if let Some(misbehaviour) = misbehaviour {
        device.misbehave(misbehaviour);
    }
    if flags & 16 != 0 {
        device.set_auto_complete(false);
    }
    let platform: &'static FastPlatform = Box::leak(Box::new(FastPlatform { sim, interrupts: flags & 2 != 0 }));
    let registry = registry::probe_all(platform, &[&SimBus(vec![device.clone()])]);
    let _ = registry::lsdev::text(&registry);
    Rig { script, device, registry, sim, platform }
}

impl Rig {
    /// Unbinds the driver and frees the platforms, which drivers need as `&'static` and the
    /// simulator leaks: a fuzzer runs millions of devices in one process.
    pub fn finish(self) {
        let Rig { script, device, registry, sim, platform } = self;
        drop((registry, device, script));
        let host = sim.host();
        // SAFETY: the three were leaked with `Box::leak` (`SimPlatform::leaked`, which leaks the
        // host platform too, and `bring_up`), and their users are gone: the driver and its
        // transport with the registry, the test's handles just above. What the simulated
        // device's interrupt line still holds (handlers a driver never freed, the device state
        // they keep alive) is dropped with `sim` and does not use the platforms on the way.
        // DMA memory still live (a device that would not reset keeps its buffers) stays leaked.
        unsafe {
            drop(Box::from_raw(platform as *const FastPlatform as *mut FastPlatform));
            drop(Box::from_raw(sim as *const SimPlatform as *mut SimPlatform));
            drop(Box::from_raw(host as *const registry::testing::HostPlatform as *mut registry::testing::HostPlatform));
        }
    }

    /// A device-side step the script picks: a configuration change, completing held chains,
    /// or nothing. Returns false once the script is used up.
    pub fn device_step(&self, config_len: usize, queues: u16) -> bool {
        if self.script.is_empty() {
            return false;
        }
        let (what, queue) = self.script.with(|bytes| (bytes.u8(), bytes.u16() % queues.max(1)));
        match what % 4 {
            0 => {
                let (offset, bytes) = self.script.with(|b| {
                    let offset = b.below(config_len);
                    let len = b.below(config_len - offset + 1).min(8);
                    (offset, b.take(len).to_vec())
                });
                self.device.change_config(offset, &bytes);
            }
            1 => {
                self.device.complete(queue, virtio::sim::CompletionOrder::Shuffled(u64::from(what)));
            }
            2 => {
                self.device.complete_next(queue);
            }
            _ => {}
        }
        true
    }
}

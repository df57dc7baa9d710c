//! A fake ITS for the host tests: a register block, and a platform whose clock lets the fake
//! read the command queue on every reading, so every bounded wait of the driver drives it
//! (from the waiting thread: deterministic, no second thread).

use std::sync::Mutex;

use registry::mmio::MmioWindow;
use registry::testing::HostPlatform;
use registry::Platform;

pub const ITS: u64 = 0x0808_0000;
pub const ITS_SIZE: usize = 0x2_0000;
const CTLR: usize = 0x00;
const TYPER: usize = 0x08;
const CBASER: usize = 0x80;
const CWRITER: usize = 0x88;
const CREADR: usize = 0x90;
pub const BASER: usize = 0x100;

/// GITS_TYPER as QEMU's: physical LPIs, 12-byte ITT entries, 16 EventID bits, 16 DeviceID
/// bits, collections by processor number (PTA 0), none held in the ITS (HCC 0).
pub const TYPER_QEMU: u32 = 1 | (12 - 1) << 4 | (16 - 1) << 8 | (16 - 1) << 13;
pub const TYPER_PTA: u32 = 1 << 19;
/// GITS_BASER as QEMU resets them: type (device 1, collection 4), 8-byte entries, 64 KiB pages.
pub const BASER_DEVICES: u64 = 1 << 56 | 7 << 48 | 2 << 8;
pub const BASER_COLLECTIONS: u64 = 4 << 56 | 7 << 48 | 2 << 8;

/// How the fake treats its queue.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Behaviour {
    /// Reads every published command at once.
    Prompt,
    /// Reads one command per clock reading.
    Slow,
    /// Never reads a command.
    Frozen,
    /// Stops with Stalled set at the first command with this number.
    StallOn(u8),
}

/// A command as the fake read it: where in the queue, and its four doublewords.
pub type Seen = (usize, [u64; 4]);

pub struct FakeIts {
    pub regs: MmioWindow,
    pub behaviour: Behaviour,
    pub seen: Vec<Seen>,
    /// Runs once, when the fake first finds commands waiting: an interrupt handler that
    /// interrupts the thread while it holds the queue.
    pub interrupt_while_busy: Option<Box<dyn FnOnce() + Send>>,
}

/// [`HostPlatform`] whose clock drives the fake ITS, once one is attached.
pub struct ItsPlatform {
    pub host: &'static HostPlatform,
    pub its: Mutex<Option<FakeIts>>,
}

impl ItsPlatform {
    pub fn leaked() -> &'static ItsPlatform {
        Box::leak(Box::new(ItsPlatform { host: HostPlatform::leaked(), its: Mutex::new(None) }))
    }

    pub fn attach(&self, regs: MmioWindow, behaviour: Behaviour) {
        *self.its.lock().unwrap() = Some(FakeIts { regs, behaviour, seen: Vec::new(), interrupt_while_busy: None });
    }

    pub fn set_behaviour(&self, behaviour: Behaviour) {
        self.its.lock().unwrap().as_mut().expect("attached").behaviour = behaviour;
    }

    pub fn interrupt_while_busy(&self, handler: impl FnOnce() + Send + 'static) {
        self.its.lock().unwrap().as_mut().expect("attached").interrupt_while_busy = Some(Box::new(handler));
    }

    /// The commands read since the last call.
    pub fn take_seen(&self) -> Vec<Seen> {
        std::mem::take(&mut self.its.lock().unwrap().as_mut().expect("attached").seen)
    }

    fn tick(&self) {
        let interrupt = {
            let mut its = self.its.lock().unwrap();
            let Some(its) = its.as_mut() else { return };
            let busy = its.regs.read32(CWRITER).unwrap() != its.regs.read32(CREADR).unwrap() & !1;
            if busy { its.interrupt_while_busy.take() } else { None }
        };
        // Outside the lock: the handler may make the driver read the clock again.
        if let Some(handler) = interrupt {
            handler();
        }
        if let Some(its) = self.its.lock().unwrap().as_mut() {
            its.process();
        }
    }
}

impl FakeIts {
    fn process(&mut self) {
        let regs = &self.regs;
        let cbaser = u64::from(regs.read32(CBASER).unwrap()) | u64::from(regs.read32(CBASER + 4).unwrap()) << 32;
        let (enabled, valid) = (regs.read32(CTLR).unwrap() & 1 != 0, cbaser >> 63 != 0);
        let creadr = regs.read32(CREADR).unwrap();
        if !enabled || !valid || creadr & 1 != 0 || self.behaviour == Behaviour::Frozen {
            return;
        }
        let (ring, len) = (cbaser & 0x000f_ffff_ffff_f000, ((cbaser & 0xff) + 1) as usize * 4096);
        let (mut read, write) = (creadr as usize, regs.read32(CWRITER).unwrap() as usize);
        while read != write {
            // SAFETY: HostPlatform's DMA addresses are host addresses, and CBASER holds the
            // driver's live queue (`len` bytes), which it writes only through volatile accesses.
            let words: [u64; 4] = std::array::from_fn(|i| unsafe { ((ring as usize + read + 8 * i) as *const u64).read_volatile() });
            if self.behaviour == Behaviour::StallOn(words[0] as u8) {
                regs.write32(CREADR, read as u32 | 1).unwrap();
                return;
            }
            self.seen.push((read, words));
            read = (read + 32) % len;
            if self.behaviour == Behaviour::Slow {
                break;
            }
        }
        regs.write32(CREADR, read as u32).unwrap();
    }
}

// SAFETY: memory (MMIO, DMA) is forwarded to the host platform, which meets the contract; the
// clock is the host platform's, advanced a little more.
unsafe impl Platform for ItsPlatform {
    registry::forward_platform_memory!(host);

    fn now_ns(&self) -> u64 {
        self.tick();
        self.host.now_ns()
    }
}

/// Reads `len` bytes of the memory a register hands the GIC (host address = DMA address).
pub fn gic_memory(phys: u64, len: usize) -> Vec<u8> {
    // SAFETY: the tests pass addresses the driver gave the GIC, of live DMA allocations it
    // keeps for the GIC's life (leaked with it), at least `len` bytes long.
    (0..len).map(|i| unsafe { ((phys as usize + i) as *const u8).read_volatile() }).collect()
}

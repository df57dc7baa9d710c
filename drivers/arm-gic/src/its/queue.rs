//! The ITS command queue: a ring of 32-byte commands in memory (`GITS_CBASER`). The driver
//! writes commands at `GITS_CWRITER` and moves it on; the ITS reads them from `GITS_CREADR`
//! and moves that on. One slot always stays empty, so that equal offsets mean "empty", never
//! "full". Every wait is bounded and says what it gave up on.

use registry::mmio::MmioWindow;
use registry::wait::poll_until;
use registry::Platform;

use super::commands::Command;
use crate::bits::{write64, WAIT_TIMEOUT_NS};
use crate::dma::GicMemory;
use crate::lpi::{INNER_SHAREABLE, WRITE_BACK};
use crate::GicError;

const CBASER: usize = 0x80;
const CWRITER: usize = 0x88;
const CREADR: usize = 0x90;
/// CBASER: valid, normal inner write-back memory, inner shareable; the size field is the
/// number of 4 KiB pages minus one.
const CBASER_VALID: u64 = 1 << 63;
const CBASER_ATTRIBUTES: u64 = WRITE_BACK << 59 | INNER_SHAREABLE << 10;
const CBASER_ADDRESS: u64 = 0x000f_ffff_ffff_f000;
/// CWRITER and CREADR: the byte offset of a command, bits 19:5.
const OFFSET: u32 = 0x000f_ffe0;
/// CREADR: the ITS stopped on a command error.
const CREADR_STALLED: u32 = 1;

const PAGE: usize = 4096;
/// Bytes per command.
pub(crate) const SLOT: usize = 32;

pub(crate) struct CommandQueue {
    ring: GicMemory,
    /// Byte offset of the next free slot, which `GITS_CWRITER` says once published.
    write: usize,
}

impl CommandQueue {
    /// A queue of `pages` 4 KiB pages (1-256), not yet given to the ITS.
    pub(crate) fn new(platform: &'static dyn Platform, pages: usize) -> Result<CommandQueue, GicError> {
        Ok(CommandQueue { ring: GicMemory::new(platform, pages.clamp(1, 256) * PAGE, PAGE)?, write: 0 })
    }

    /// Gives the ITS the queue, empty (writing CBASER resets CREADR to 0).
    pub(crate) fn program(&mut self, regs: &MmioWindow) -> Result<(), GicError> {
        let pages = (self.ring.len() / PAGE) as u64;
        let cbaser = CBASER_VALID | CBASER_ATTRIBUTES | self.ring.phys() & CBASER_ADDRESS | (pages - 1);
        write64(regs, CBASER, cbaser)?;
        self.write = 0;
        Ok(regs.write32(CWRITER, 0)?)
    }

    /// Queues `commands` (waiting for room when the ring is full) and waits until the ITS has
    /// read past the last one. End with a SYNC for their effects to be complete too.
    pub(crate) fn submit(&mut self, regs: &MmioWindow, platform: &dyn Platform, commands: &[Command]) -> Result<(), GicError> {
        for command in commands {
            let next = (self.write + SLOT) % self.ring.len();
            if self.read(regs)? == next {
                // Full: let the ITS at what is queued, and wait for it to free a slot.
                self.publish(regs)?;
                self.wait(regs, platform, "room in the ITS command queue", |read| read != next)?;
            }
            for (index, word) in command.words().into_iter().enumerate() {
                self.ring.write_u64(self.write + 8 * index, word);
            }
            self.ring.clean(self.write, SLOT);
            self.write = next;
        }
        self.publish(regs)?;
        let end = self.write;
        self.wait(regs, platform, "the ITS to process its commands", |read| read == end)
    }

    /// Tells the ITS about every command written (each already cleaned to memory, which also
    /// ordered it before this register write).
    fn publish(&self, regs: &MmioWindow) -> Result<(), GicError> {
        Ok(regs.write32(CWRITER, self.write as u32)?)
    }

    /// Where the ITS reads next; an error if it stalled on a command.
    fn read(&self, regs: &MmioWindow) -> Result<usize, GicError> {
        let creadr = regs.read32(CREADR)?;
        let offset = (creadr & OFFSET) as usize;
        if creadr & CREADR_STALLED != 0 {
            let command = match offset < self.ring.len() {
                true => Command::name(self.ring.read_u64(offset)),
                false => "unknown",
            };
            return Err(GicError::ItsStalled { command, offset });
        }
        Ok(offset)
    }

    /// Polls CREADR until `done` accepts its offset, bounded by the GIC's register timeout.
    fn wait(
        &self,
        regs: &MmioWindow,
        platform: &dyn Platform,
        what: &'static str,
        mut done: impl FnMut(usize) -> bool,
    ) -> Result<(), GicError> {
        let mut outcome = Ok(());
        let waited = poll_until(platform, WAIT_TIMEOUT_NS, what, || match self.read(regs) {
            Ok(read) => done(read),
            Err(error) => {
                outcome = Err(error);
                true
            }
        });
        waited?;
        outcome
    }
}

#[cfg(test)]
mod tests {
    extern crate std;

    use alloc::boxed::Box;
    use alloc::vec::Vec;
    use std::sync::Mutex;

    use registry::testing::HostPlatform;
    use registry::MmioRegion;

    use super::*;

    const REGS: MmioRegion = MmioRegion { base: 0x1000_0000, size: 0x100 };

    /// An ITS that reads one command every third clock reading: slower than the driver
    /// writes, so a long submission fills the ring. Records each command's DeviceID.
    struct SlowIts {
        host: &'static HostPlatform,
        ticks: Mutex<(u32, Vec<u32>)>,
    }

    impl SlowIts {
        fn tick(&self) {
            let mut ticks = self.ticks.lock().unwrap();
            ticks.0 += 1;
            if !ticks.0.is_multiple_of(3) {
                return;
            }
            let regs = MmioWindow::map(self.host, REGS).unwrap();
            let (read, write) = (regs.read32(CREADR).unwrap() as usize, regs.read32(CWRITER).unwrap() as usize);
            if read == write {
                return;
            }
            let ring = crate::bits::read64(&regs, CBASER).unwrap() & CBASER_ADDRESS;
            // SAFETY: HostPlatform's DMA addresses are host addresses; CBASER holds the live
            // ring of the queue under test, one page long.
            let first = unsafe { ((ring as usize + read) as *const u64).read_volatile() };
            ticks.1.push((first >> 32) as u32);
            regs.write32(CREADR, ((read + SLOT) % PAGE) as u32).unwrap();
        }
    }

    // SAFETY: memory (MMIO, DMA) is forwarded to the host platform, which meets the contract;
    // the clock is the host platform's, advanced a little more.
    unsafe impl Platform for SlowIts {
        registry::forward_platform_memory!(host);
        fn now_ns(&self) -> u64 {
            self.tick();
            self.host.now_ns()
        }
    }

    #[test]
    fn a_full_ring_waits_for_the_its_and_overwrites_nothing_unread() {
        let host = HostPlatform::leaked();
        host.add_window(REGS.base, Box::leak(alloc::vec![0u32; 0x40].into_boxed_slice()));
        let its: &'static SlowIts = Box::leak(Box::new(SlowIts { host, ticks: Mutex::new((0, Vec::new())) }));
        let regs = MmioWindow::map(host, REGS).unwrap();
        let mut queue = CommandQueue::new(its, 1).unwrap();
        queue.program(&regs).unwrap();
        // 300 commands through a ring of 128 slots (127 usable).
        let commands: Vec<Command> = (0..300).map(|device| Command::inv(device, 0)).collect();
        queue.submit(&regs, its, &commands).unwrap();
        let seen = its.ticks.lock().unwrap().1.clone();
        assert_eq!(seen, (0..300).collect::<Vec<u32>>(), "every command read once, in order");
        assert_eq!(regs.read32(CWRITER).unwrap() as usize, 300 * SLOT % PAGE);
    }
}

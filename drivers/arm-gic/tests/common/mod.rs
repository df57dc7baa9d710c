//! Register blocks in host memory, and a fake GICv3 CPU interface.
#![allow(dead_code)] // each test binary uses its own part of this module

pub mod fake_its;

use std::collections::VecDeque;
use std::sync::Mutex;

use arm_gic::{IccAccess, IccRegister};
use registry::mmio::MmioWindow;
use registry::testing::HostPlatform;
use registry::MmioRegion;

pub const GICD: u64 = 0x0800_0000;
pub const GICC: u64 = 0x0801_0000;
pub const GICR: u64 = 0x080a_0000;
pub const GICD_SIZE: usize = 0x1_0000;
pub const GICC_SIZE: usize = 0x2000;
/// Three redistributors of two 64 KiB frames each.
pub const GICR_SIZE: usize = 0x6_0000;
/// GICD_TYPER.ITLinesNumber 8: 9 x 32 = 288 INTIDs.
pub const TYPER_288_LINES: u32 = 8;

/// A register block: host memory the platform maps at `base`.
pub struct Block {
    pub platform: &'static HostPlatform,
    pub region: MmioRegion,
}

impl Block {
    pub fn new(platform: &'static HostPlatform, base: u64, size: usize) -> Block {
        platform.add_window(base, Box::leak(vec![0u32; size / 4].into_boxed_slice()));
        Block { platform, region: MmioRegion { base, size: size as u64 } }
    }

    /// A window on the block, as the driver maps it.
    pub fn window(&self) -> MmioWindow {
        MmioWindow::map(self.platform, self.region).expect("mapped")
    }

    pub fn get(&self, offset: usize) -> u32 {
        self.window().read32(offset).expect("in the block")
    }

    pub fn set(&self, offset: usize, value: u32) {
        self.window().write32(offset, value).expect("in the block");
    }
}

/// A GICv3 CPU interface that records writes, reads back what was written (except SRE, when
/// `sre_sticks` is false) and acknowledges the INTIDs queued in `pending`, then 1023.
pub struct FakeIcc {
    pub writes: Mutex<Vec<(IccRegister, u64)>>,
    pub pending: Mutex<VecDeque<u64>>,
    pub sre_sticks: bool,
}

impl FakeIcc {
    pub fn leaked(sre_sticks: bool) -> &'static FakeIcc {
        Box::leak(Box::new(FakeIcc { writes: Mutex::new(Vec::new()), pending: Mutex::new(VecDeque::new()), sre_sticks }))
    }
}

impl IccAccess for FakeIcc {
    fn read(&self, register: IccRegister) -> u64 {
        match register {
            IccRegister::Iar1 => self.pending.lock().unwrap().pop_front().unwrap_or(1023),
            IccRegister::Sre if !self.sre_sticks => 0,
            _ => self.writes.lock().unwrap().iter().rev().find(|(r, _)| *r == register).map_or(0, |&(_, value)| value),
        }
    }

    fn write(&self, register: IccRegister, value: u64) {
        self.writes.lock().unwrap().push((register, value));
    }
}

//! Message-signalled interrupts (PCI MSI-X): instead of raising a line, the device writes a
//! message (data to an address) that the interrupt controller turns into an interrupt of its
//! own. The kernel integrator's [`Platform::alloc_msi`](crate::Platform::alloc_msi) hands out
//! such interrupts, each as an [`Irq`] to request like any other line plus the [`MsiMessage`]
//! the device must be programmed with; [`VectorPool`] is the bookkeeping MSI controllers share.

use alloc::string::String;
use alloc::vec::Vec;
use core::ops::Range;

use spin::Mutex;

use crate::device::Irq;

/// The write that raises one message-signalled interrupt.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct MsiMessage {
    /// The bus address the device writes to (the controller's doorbell).
    pub address: u64,
    /// The 32-bit value it writes there.
    pub data: u32,
}

/// One allocated message-signalled interrupt.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct MsiVector {
    /// What to pass to `request_irq`; its label says it is a message (`MSI 65`).
    pub irq: Irq,
    pub message: MsiMessage,
}

/// Who asks for message-signalled interrupts.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct MsiSource {
    /// The MSI controller the bus names for the device (a device tree's `msi-map` or
    /// `msi-parent` target, by path); `None`: the platform's own (a PC's local APIC).
    pub controller: Option<String>,
    /// The device's ID at that controller: a PCI function's requester ID (bus << 8 | devfn)
    /// after `msi-map` translation. A GICv3 ITS tells devices apart by it.
    pub device_id: u32,
}

/// A set of interrupt numbers handed out one by one: an MSI controller's vectors or SPIs.
pub struct VectorPool {
    numbers: Range<u32>,
    taken: Mutex<Vec<bool>>,
}

impl VectorPool {
    /// A pool of the numbers in `numbers`, all free.
    pub fn new(numbers: Range<u32>) -> Self {
        let size = numbers.len();
        VectorPool { numbers, taken: Mutex::new(alloc::vec![false; size]) }
    }

    /// The numbers the pool hands out.
    pub fn numbers(&self) -> Range<u32> {
        self.numbers.clone()
    }

    /// Takes `count` free numbers (not necessarily adjacent): all of them, or none if fewer
    /// are free.
    pub fn take(&self, count: usize) -> Option<Vec<u32>> {
        let mut taken = self.taken.lock();
        let free: Vec<usize> = taken.iter().enumerate().filter(|(_, used)| !**used).map(|(i, _)| i).take(count).collect();
        if free.len() < count {
            return None;
        }
        for &i in &free {
            taken[i] = true;
        }
        Some(free.into_iter().map(|i| self.numbers.start + i as u32).collect())
    }

    /// Gives `number` back; numbers the pool does not hold, or holds free, are ignored.
    pub fn give_back(&self, number: u32) {
        if let Some(index) = number.checked_sub(self.numbers.start).filter(|_| self.numbers.contains(&number)) {
            self.taken.lock()[index as usize] = false;
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn numbers_are_handed_out_once_until_given_back() {
        let pool = VectorPool::new(64..68);
        assert_eq!(pool.take(3), Some(alloc::vec![64, 65, 66]));
        assert_eq!(pool.take(2), None, "only one is left: all or nothing");
        pool.give_back(65);
        pool.give_back(99);
        pool.give_back(63);
        assert_eq!(pool.take(2), Some(alloc::vec![65, 67]));
        assert_eq!(pool.take(1), None);
        assert_eq!(pool.take(0), Some(alloc::vec![]));
    }
}

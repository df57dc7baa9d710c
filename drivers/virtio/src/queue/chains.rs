//! The driver's private bookkeeping of descriptors: the free list and the chains in flight.
//!
//! It lives in ordinary memory, never in the ring the device can write, so a hostile device
//! cannot corrupt it: everything the device reports is checked against it.

use alloc::vec;
use alloc::vec::Vec;

/// A chain the device owns until it comes back in the used ring.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) struct InFlight {
    tail: u16,
    pub(crate) descriptors: u16,
    /// What the device may write into the chain: the largest used length it may report.
    pub(crate) writable_bytes: u32,
}

pub(crate) struct Chains {
    /// For a free descriptor, the next free one; for a descriptor in a chain, the next one of
    /// the chain. Every value is a valid descriptor index.
    next: Vec<u16>,
    free_head: u16,
    free: u16,
    /// Indexed by head descriptor.
    in_flight: Vec<Option<InFlight>>,
    in_flight_count: u16,
}

impl Chains {
    pub(crate) fn new(size: u16) -> Self {
        let next = (0..size).map(|id| id.wrapping_add(1) % size).collect();
        Chains { next, free_head: 0, free: size, in_flight: vec![None; usize::from(size)], in_flight_count: 0 }
    }

    pub(crate) fn free(&self) -> u16 {
        self.free
    }

    pub(crate) fn in_flight_count(&self) -> u16 {
        self.in_flight_count
    }

    /// Takes `count` descriptors off the free list as a new chain in flight and returns its head,
    /// or `None` when fewer are free. Walk the chain with [`link`](Self::link).
    pub(crate) fn allocate(&mut self, count: u16, writable_bytes: u32) -> Option<u16> {
        if count == 0 || count > self.free {
            return None;
        }
        let head = self.free_head;
        let mut tail = head;
        for _ in 1..count {
            tail = self.link(tail);
        }
        self.free_head = self.link(tail);
        self.free -= count;
        self.in_flight[usize::from(head)] = Some(InFlight { tail, descriptors: count, writable_bytes });
        self.in_flight_count += 1;
        Some(head)
    }

    /// The descriptor after `id` in its chain (or in the free list).
    pub(crate) fn link(&self, id: u16) -> u16 {
        self.next[usize::from(id)]
    }

    /// The chain headed by `head`, if it is in flight. `head` must be below the queue size.
    pub(crate) fn in_flight(&self, head: u16) -> Option<InFlight> {
        self.in_flight[usize::from(head)]
    }

    /// Returns the chain headed by `head` to the free list. A head that is not in flight is left
    /// alone (returns false), so nothing is ever freed twice.
    pub(crate) fn release(&mut self, head: u16) -> bool {
        let Some(chain) = self.in_flight[usize::from(head)].take() else {
            return false;
        };
        self.next[usize::from(chain.tail)] = self.free_head;
        self.free_head = head;
        self.free += chain.descriptors;
        self.in_flight_count -= 1;
        true
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The descriptors of the chain headed by `head`, following the links.
    fn walk(chains: &Chains, head: u16) -> Vec<u16> {
        let chain = chains.in_flight(head).unwrap();
        let mut ids = vec![head];
        while ids.len() < usize::from(chain.descriptors) {
            ids.push(chains.link(*ids.last().unwrap()));
        }
        ids
    }

    #[test]
    fn chains_come_from_the_free_list_and_go_back_to_it() {
        let mut chains = Chains::new(8);
        let a = chains.allocate(3, 100).unwrap();
        let b = chains.allocate(5, 0).unwrap();
        assert_eq!(chains.free(), 0);
        assert_eq!(chains.allocate(1, 0), None, "full");
        assert_eq!(walk(&chains, a), [0, 1, 2]);
        assert_eq!(walk(&chains, b), [3, 4, 5, 6, 7]);
        assert_eq!(chains.in_flight(a).map(|c| c.writable_bytes), Some(100));

        assert!(chains.release(a));
        assert!(!chains.release(a), "a second release is refused");
        assert_eq!(chains.free(), 3);
        let c = chains.allocate(2, 0).unwrap();
        assert_eq!(walk(&chains, c), [0, 1]);
        assert!(chains.release(b));
        assert!(chains.release(c));
        assert_eq!((chains.free(), chains.in_flight_count()), (8, 0));
    }

    #[test]
    fn every_descriptor_is_reusable_after_many_out_of_order_cycles() {
        let mut chains = Chains::new(16);
        let mut live = Vec::new();
        for round in 0..1000u32 {
            let count = (round % 4 + 1) as u16;
            match chains.allocate(count, round) {
                Some(head) => live.push(head),
                None => {
                    // Release every other chain, newest first, to scramble the free list.
                    for index in (0..live.len()).rev().step_by(2) {
                        assert!(chains.release(live.remove(index)));
                    }
                }
            }
            let used: u16 = live.iter().map(|&h| chains.in_flight(h).unwrap().descriptors).sum();
            assert_eq!(used + chains.free(), 16);
        }
        for head in live {
            assert!(chains.release(head));
        }
        assert_eq!(chains.free(), 16);
        let all = chains.allocate(16, 0).unwrap();
        let mut ids = walk(&chains, all);
        ids.sort_unstable();
        assert_eq!(ids, (0..16).collect::<Vec<_>>(), "the free list holds each descriptor once");
    }
}

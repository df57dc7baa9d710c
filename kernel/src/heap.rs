//! The kernel heap: the global allocator, a linked-list allocator over a
//! fixed region in .bss.
//!
//! A static region needs no knowledge of the RAM layout, so the heap works
//! before the device tree is parsed. Freed blocks go back on the allocator's
//! free list, so long-running tests can allocate without end.

use core::sync::atomic::{AtomicBool, Ordering};
use linked_list_allocator::LockedHeap;

/// Size of the heap.
pub const HEAP_SIZE: usize = 32 * 1024 * 1024;

#[repr(C, align(4096))]
struct HeapArea([u8; HEAP_SIZE]);

/// The memory the allocator hands out; zero-initialized, so it takes no room
/// in the image file.
static mut HEAP_AREA: HeapArea = HeapArea([0; HEAP_SIZE]);

#[global_allocator]
static ALLOCATOR: LockedHeap = LockedHeap::empty();

/// Gives the heap region to the allocator. Until then every allocation
/// fails; calls after the first do nothing.
pub fn init() {
    static INITIALIZED: AtomicBool = AtomicBool::new(false);
    if INITIALIZED.swap(true, Ordering::AcqRel) {
        return;
    }
    // SAFETY: the swap above lets only the first call get here, so the
    // region goes to the allocator once, and nothing else refers to it.
    unsafe {
        ALLOCATOR
            .lock()
            .init((&raw mut HEAP_AREA).cast::<u8>(), HEAP_SIZE);
    }
}

//! The kernel heap: the global allocator, linked-list allocators over a small boot region in
//! .bss and over the RAM the boot information reports (`memory.rs`).
//!
//! The boot region needs no knowledge of the RAM layout, so the heap works before the device
//! tree (or the PVH memory map) is read; the RAM regions come once it is, and hold everything
//! after that: driver buffers, DMA memory (`platform.rs`), a framebuffer as large as the RAM
//! allows. Allocation failure is an error the caller sees (a null pointer, which the drivers
//! take through fallible APIs), never a fixed limit of the image. Freed blocks go back on their
//! region's free list, so long-running tests can allocate without end.

use core::alloc::{GlobalAlloc, Layout};
use core::ptr::{self, NonNull};
use core::sync::atomic::{AtomicBool, AtomicU64, AtomicUsize, Ordering};

use linked_list_allocator::LockedHeap;

/// Size of the boot heap: the device tree's parse and what the kernel allocates before the
/// RAM regions are added (and all it has if the boot information names no RAM).
pub const BOOT_HEAP_SIZE: usize = 4 * 1024 * 1024;

/// The most RAM regions the heap takes (the largest ones; QEMU's boards have one or two).
pub const MAX_RAM_REGIONS: usize = 4;

#[repr(C, align(4096))]
struct BootArea([u8; BOOT_HEAP_SIZE]);

/// The memory the boot allocator hands out; zero-initialized, so it takes no room in the image
/// file.
static mut BOOT_AREA: BootArea = BootArea([0; BOOT_HEAP_SIZE]);

/// One allocator and the addresses it owns (`end` 0: not in use yet).
struct Region {
    heap: LockedHeap,
    start: AtomicUsize,
    end: AtomicUsize,
}

impl Region {
    const EMPTY: Region = Region { heap: LockedHeap::empty(), start: AtomicUsize::new(0), end: AtomicUsize::new(0) };

    fn owns(&self, address: usize) -> bool {
        (self.start.load(Ordering::Acquire)..self.end.load(Ordering::Acquire)).contains(&address)
    }

    fn in_use(&self) -> bool {
        self.end.load(Ordering::Acquire) != 0
    }
}

/// The RAM regions first (largest first), the boot region last.
struct Heaps {
    ram: [Region; MAX_RAM_REGIONS],
    boot: Region,
    /// Bytes the RAM regions hold, for the boot log.
    ram_bytes: AtomicU64,
}

#[global_allocator]
static HEAPS: Heaps = Heaps { ram: [Region::EMPTY; MAX_RAM_REGIONS], boot: Region::EMPTY, ram_bytes: AtomicU64::new(0) };

// SAFETY: each region's allocator hands out blocks of its own memory only, under its lock;
// `dealloc` gives a block back to the region whose range holds it, which is the one that
// handed it out (the ranges do not overlap: `add_ram` takes RAM the caller guarantees is free).
unsafe impl GlobalAlloc for Heaps {
    unsafe fn alloc(&self, layout: Layout) -> *mut u8 {
        for region in self.ram.iter().chain(core::iter::once(&self.boot)).filter(|r| r.in_use()) {
            if let Ok(block) = region.heap.lock().allocate_first_fit(layout) {
                return block.as_ptr();
            }
        }
        ptr::null_mut()
    }

    unsafe fn dealloc(&self, block: *mut u8, layout: Layout) {
        let Some(block) = NonNull::new(block) else { return };
        let address = block.as_ptr() as usize;
        if let Some(region) = self.ram.iter().chain(core::iter::once(&self.boot)).find(|r| r.owns(address)) {
            // SAFETY: the caller guarantees `block` came from `alloc` with `layout`; the region
            // owning its address is the one that handed it out.
            unsafe { region.heap.lock().deallocate(block, layout) };
        }
    }
}

/// Gives the boot region to the allocator. Until then every allocation fails; calls after the
/// first do nothing.
pub fn init() {
    static INITIALIZED: AtomicBool = AtomicBool::new(false);
    if INITIALIZED.swap(true, Ordering::AcqRel) {
        return;
    }
    let start = (&raw mut BOOT_AREA).cast::<u8>();
    // SAFETY: the swap above lets only the first call get here, so the region goes to the
    // allocator once, and nothing else refers to it.
    unsafe { HEAPS.boot.heap.lock().init(start, BOOT_HEAP_SIZE) };
    HEAPS.boot.start.store(start as usize, Ordering::Release);
    HEAPS.boot.end.store(start as usize + BOOT_HEAP_SIZE, Ordering::Release);
}

/// Adds `start..end` of RAM to the heap; `false` if every region slot is taken (the RAM is then
/// left unused) or the range is empty.
///
/// # Safety
/// `start..end` must be RAM the identity map covers read-write, which nothing else uses now or
/// later (not the kernel image, its stacks, the device tree, firmware tables, or a range given
/// before).
pub unsafe fn add_ram(start: usize, end: usize) -> bool {
    if end <= start {
        return false;
    }
    for region in &HEAPS.ram {
        if region.in_use() {
            continue;
        }
        // SAFETY: the caller guarantees the range is free, mapped RAM for the heap alone; the
        // slot was unused, so this region's allocator was never initialized.
        unsafe { region.heap.lock().init(start as *mut u8, end - start) };
        region.start.store(start, Ordering::Release);
        region.end.store(end, Ordering::Release);
        HEAPS.ram_bytes.fetch_add((end - start) as u64, Ordering::Relaxed);
        return true;
    }
    false
}

/// Bytes of RAM the heap was given (without the boot region).
pub fn ram_bytes() -> u64 {
    HEAPS.ram_bytes.load(Ordering::Relaxed)
}

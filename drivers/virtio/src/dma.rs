//! Bounds-checked CPU access to DMA memory ([`DmaBuffer`]), the only place this crate
//! dereferences a buffer's pointer.
//!
//! Out-of-bounds or misaligned offsets panic, like slice indexing: callers compute offsets from
//! their own layouts and validated indices, never from raw device values, so a failure here is
//! a bug in the caller, and the check is what keeps the accessors safe.

use registry::DmaBuffer;

mod sealed {
    pub trait Sealed {}
}

/// Integers that can be read from memory the device wrote: every bit pattern is a valid value.
pub trait Scalar: Copy + sealed::Sealed {}

macro_rules! scalars {
    ($($ty:ty),*) => {$(
        impl sealed::Sealed for $ty {}
        impl Scalar for $ty {}
    )*};
}
scalars!(u8, u16, u32, u64);

/// CPU-side access to a [`DmaBuffer`].
///
/// Values are in the CPU's byte order, which is what virtio wants on the little-endian targets
/// this crate supports.
pub trait DmaAccess {
    /// A volatile read at `offset`: for memory the device may write concurrently.
    fn read_volatile<T: Scalar>(&self, offset: usize) -> T;
    /// A volatile write at `offset`: for memory the device may read concurrently.
    fn write_volatile<T: Scalar>(&self, offset: usize, value: T);
    /// Copies `bytes` into the buffer at `offset`. Plain copy: only for memory the device is not
    /// using (before the buffer is added to a queue).
    fn write_bytes(&self, offset: usize, bytes: &[u8]);
    /// Copies from the buffer at `offset` into `out`. Plain copy: only for memory the device is
    /// done with (after its chain came back from the used ring).
    fn read_bytes(&self, offset: usize, out: &mut [u8]);
}

impl DmaAccess for DmaBuffer {
    fn read_volatile<T: Scalar>(&self, offset: usize) -> T {
        let ptr = checked_ptr::<T>(self, offset, core::mem::size_of::<T>());
        // SAFETY: `checked_ptr` proved the aligned `T` lies inside the buffer, which stays
        // allocated while `self` lives; any bit pattern is a valid `T` (`Scalar`).
        unsafe { ptr.read_volatile() }
    }

    fn write_volatile<T: Scalar>(&self, offset: usize, value: T) {
        let ptr = checked_ptr::<T>(self, offset, core::mem::size_of::<T>());
        // SAFETY: as in `read_volatile`; the buffer is device-shared memory that no Rust
        // reference covers, so writing through `&self` aliases nothing.
        unsafe { ptr.write_volatile(value) }
    }

    fn write_bytes(&self, offset: usize, bytes: &[u8]) {
        let ptr = checked_ptr::<u8>(self, offset, bytes.len());
        // SAFETY: `checked_ptr` proved `offset..offset + len` lies inside the buffer; `bytes` is
        // ordinary memory, so the ranges cannot overlap.
        unsafe { core::ptr::copy_nonoverlapping(bytes.as_ptr(), ptr, bytes.len()) }
    }

    fn read_bytes(&self, offset: usize, out: &mut [u8]) {
        let ptr = checked_ptr::<u8>(self, offset, out.len());
        // SAFETY: as in `write_bytes`.
        unsafe { core::ptr::copy_nonoverlapping(ptr, out.as_mut_ptr(), out.len()) }
    }
}

/// The pointer to `len` bytes at `offset`, checked to lie inside `buffer` and be aligned for `T`.
fn checked_ptr<T>(buffer: &DmaBuffer, offset: usize, len: usize) -> *mut T {
    let in_bounds = offset.checked_add(len).is_some_and(|end| end <= buffer.len());
    assert!(in_bounds, "DMA access at {offset:#x}+{len:#x} outside a buffer of {:#x} bytes", buffer.len());
    // SAFETY: offset <= len of the allocation, so the pointer stays inside it (or one past).
    let ptr = unsafe { buffer.as_ptr().as_ptr().add(offset) };
    assert!(ptr.cast::<T>().is_aligned(), "DMA access at {offset:#x} misaligned for its width");
    ptr.cast()
}

#[cfg(test)]
mod tests {
    use super::*;
    use registry::testing::HostPlatform;
    use std::panic::AssertUnwindSafe;

    #[test]
    fn reads_back_what_was_written_and_checks_bounds() {
        let platform = HostPlatform::leaked();
        let buffer = DmaBuffer::new(platform, 16, 8).unwrap();
        buffer.write_volatile(8, 0x1122_3344_5566_7788u64);
        assert_eq!(buffer.read_volatile::<u16>(8), 0x7788);
        buffer.write_bytes(0, b"virtio");
        let mut out = [0; 6];
        buffer.read_bytes(0, &mut out);
        assert_eq!(&out, b"virtio");
        let panics = |access: &dyn Fn()| std::panic::catch_unwind(AssertUnwindSafe(access)).is_err();
        assert!(panics(&|| _ = buffer.read_volatile::<u64>(12)), "out of bounds");
        assert!(panics(&|| _ = buffer.read_volatile::<u32>(2)), "misaligned");
        assert!(panics(&|| buffer.read_bytes(usize::MAX, &mut [0; 2])), "offset overflow");
    }
}

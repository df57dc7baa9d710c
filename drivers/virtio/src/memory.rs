//! Fallible allocation for the drivers' own buffers: a kernel whose heap is nearly full (a
//! large framebuffer took it) gets an error that says what did not fit, never a panic in an
//! infallible `vec!` or `Vec::with_capacity`.

use alloc::vec::Vec;

use crate::VirtioError;

/// A vector of `len` copies of `value`, or [`VirtioError::OutOfMemory`] naming `what`.
pub fn try_filled<T: Clone>(len: usize, value: T, what: &'static str) -> Result<Vec<T>, VirtioError> {
    let mut vec = try_with_capacity(len, what)?;
    vec.resize(len, value);
    Ok(vec)
}

/// An empty vector with room for `capacity` elements, or [`VirtioError::OutOfMemory`] naming
/// `what`.
pub fn try_with_capacity<T>(capacity: usize, what: &'static str) -> Result<Vec<T>, VirtioError> {
    let mut vec = Vec::new();
    vec.try_reserve_exact(capacity)
        .map_err(|_| VirtioError::OutOfMemory { what, bytes: capacity.saturating_mul(core::mem::size_of::<T>()) })?;
    Ok(vec)
}

#[cfg(test)]
mod tests {
    use super::*;
    use alloc::string::ToString;

    #[test]
    fn a_vector_that_cannot_be_had_is_an_error_naming_it() {
        let error = try_filled(usize::MAX / 2, 0u64, "a test buffer").unwrap_err();
        assert_eq!(error.to_string(), alloc::format!("out of memory for a test buffer ({} bytes)", usize::MAX));
        assert_eq!(try_filled(3, 7u8, "three bytes").unwrap(), [7, 7, 7]);
    }
}

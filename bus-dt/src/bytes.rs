//! Bounds-checked big-endian reads: every read of blob bytes goes through here.

/// The big-endian u32 at `at`, or `None` when it does not fit in `bytes`.
pub(crate) fn be32(bytes: &[u8], at: usize) -> Option<u32> {
    let end = at.checked_add(4)?;
    let word: [u8; 4] = bytes.get(at..end)?.try_into().ok()?;
    Some(u32::from_be_bytes(word))
}

/// The bytes from `at` up to (not including) the first NUL, or `None` without a NUL.
pub(crate) fn c_string(bytes: &[u8], at: usize) -> Option<&[u8]> {
    let tail = bytes.get(at..)?;
    let len = tail.iter().position(|&b| b == 0)?;
    tail.get(..len)
}

/// `n` rounded up to the 4-byte alignment of structure-block tokens.
pub(crate) fn align4(n: usize) -> Option<usize> {
    Some(n.checked_add(3)? & !3)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn be32_reads_in_bounds_only() {
        let bytes = [0xd0, 0x0d, 0xfe, 0xed, 0x01];
        assert_eq!(be32(&bytes, 0), Some(0xd00d_feed));
        assert_eq!(be32(&bytes, 2), None);
        assert_eq!(be32(&bytes, usize::MAX), None);
    }

    #[test]
    fn c_string_needs_a_nul() {
        assert_eq!(c_string(b"ab\0cd", 0), Some(&b"ab"[..]));
        assert_eq!(c_string(b"ab\0cd", 3), None);
        assert_eq!(c_string(b"ab", 9), None);
    }

    #[test]
    fn align4_rounds_up_without_overflow() {
        assert_eq!(align4(5), Some(8));
        assert_eq!(align4(8), Some(8));
        assert_eq!(align4(usize::MAX), None);
    }
}

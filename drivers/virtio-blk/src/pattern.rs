//! A deterministic test pattern: the 512 bytes of any sector for a seed, so that a writer and a
//! checker (the kernel shell, the host side of the boot tests) agree without sharing data.
//!
//! Each sector starts with its sector number and the seed (little-endian u64s), which makes
//! misplaced data easy to recognise in a hex dump, followed by a splitmix64 stream seeded by
//! both: no two (sector, seed) pairs share a sector, and no pattern sector is all zeros.

use crate::SECTOR_SIZE;

/// One pattern sector.
pub fn sector(sector: u64, seed: u64) -> [u8; SECTOR_SIZE] {
    let mut bytes = [0; SECTOR_SIZE];
    bytes[..8].copy_from_slice(&sector.to_le_bytes());
    bytes[8..16].copy_from_slice(&seed.to_le_bytes());
    let mut state = mix(seed ^ mix(sector));
    for word in bytes[16..].chunks_exact_mut(8) {
        state = state.wrapping_add(GOLDEN_GAMMA);
        word.copy_from_slice(&mix(state).to_le_bytes());
    }
    bytes
}

/// Fills `out` (whole sectors) with the pattern from `first_sector` on.
pub fn fill(first_sector: u64, seed: u64, out: &mut [u8]) {
    for (index, chunk) in out.chunks_exact_mut(SECTOR_SIZE).enumerate() {
        chunk.copy_from_slice(&sector(first_sector + index as u64, seed));
    }
}

/// Where `data` (whole sectors from `first_sector`) first differs from the pattern.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Mismatch {
    pub sector: u64,
    /// The byte within the sector.
    pub offset: usize,
    pub expected: u8,
    pub found: u8,
}

/// The first byte of `data` that differs from the pattern from `first_sector` on, if any.
pub fn first_mismatch(first_sector: u64, seed: u64, data: &[u8]) -> Option<Mismatch> {
    data.chunks(SECTOR_SIZE).enumerate().find_map(|(index, found)| {
        let sector = first_sector + index as u64;
        let expected = self::sector(sector, seed);
        let offset = expected.iter().zip(found).position(|(e, f)| e != f)?;
        Some(Mismatch { sector, offset, expected: expected[offset], found: found[offset] })
    })
}

const GOLDEN_GAMMA: u64 = 0x9e37_79b9_7f4a_7c15;

/// splitmix64's output function: a bijection that scatters every input bit.
fn mix(mut z: u64) -> u64 {
    z = (z ^ (z >> 30)).wrapping_mul(0xbf58_476d_1ce4_e5b9);
    z = (z ^ (z >> 27)).wrapping_mul(0x94d0_49bb_1331_11eb);
    z ^ (z >> 31)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn sectors_differ_by_sector_and_by_seed_and_repeat_exactly() {
        assert_eq!(sector(7, 1), sector(7, 1));
        assert_ne!(sector(7, 1)[16..], sector(8, 1)[16..]);
        assert_ne!(sector(7, 1)[16..], sector(7, 2)[16..]);
        assert_eq!(sector(0x0102, 0xa0)[..16], [2, 1, 0, 0, 0, 0, 0, 0, 0xa0, 0, 0, 0, 0, 0, 0, 0]);
        assert!(sector(0, 0).iter().any(|&b| b != 0), "never all zeros, unlike an untouched disk");
    }

    #[test]
    fn the_first_mismatch_names_sector_and_byte() {
        let mut data = [0; 3 * SECTOR_SIZE];
        fill(40, 9, &mut data);
        assert_eq!(first_mismatch(40, 9, &data), None);
        assert!(first_mismatch(41, 9, &data).is_some(), "shifted by a sector");
        let expected = data[SECTOR_SIZE + 100];
        data[SECTOR_SIZE + 100] ^= 0x20;
        data[2 * SECTOR_SIZE] ^= 1;
        let found = Mismatch { sector: 41, offset: 100, expected, found: expected ^ 0x20 };
        assert_eq!(first_mismatch(40, 9, &data), Some(found));
    }
}

//! The 40-byte FDT header (DT spec 0.4, section 5.2) and the block layout it describes.

use core::ops::Range;

use crate::bytes::be32;
use crate::DtError;

const MAGIC: u32 = 0xd00d_feed;
const HEADER_LEN: usize = 40;

// Field offsets inside the header.
const TOTALSIZE: usize = 4;
const OFF_DT_STRUCT: usize = 8;
const OFF_DT_STRINGS: usize = 12;
const OFF_MEM_RSVMAP: usize = 16;
const VERSION: usize = 20;
const LAST_COMP_VERSION: usize = 24;
const SIZE_DT_STRINGS: usize = 32;
const SIZE_DT_STRUCT: usize = 36;

/// Where the structure and strings blocks are, checked to lie inside totalsize.
#[derive(Debug)]
pub(crate) struct Layout {
    pub total: usize,
    pub structure: Range<usize>,
    pub strings: Range<usize>,
}

/// The blob's length (`totalsize`) read from its header, so a kernel that only knows the
/// blob's physical address can map the header, then slice exactly this many bytes.
///
/// # Errors
/// `header` is shorter than the 40-byte header, has the wrong magic, or a totalsize
/// too small to hold the header.
pub fn blob_len(header: &[u8]) -> Result<usize, DtError> {
    let field = |at| be32(header, at).ok_or(DtError::TooShortForHeader { len: header.len() });
    let magic = field(0)?;
    if magic != MAGIC {
        return Err(DtError::BadMagic { found: magic });
    }
    let totalsize = field(TOTALSIZE)?;
    let total = usize::try_from(totalsize).unwrap_or(usize::MAX);
    if total < HEADER_LEN {
        return Err(DtError::TotalSizeTooSmall { totalsize });
    }
    Ok(total)
}

/// Checks the header of `blob` and returns the layout of its blocks.
pub(crate) fn parse(blob: &[u8]) -> Result<Layout, DtError> {
    if blob.len() < HEADER_LEN {
        return Err(DtError::TooShortForHeader { len: blob.len() });
    }
    let total = blob_len(blob)?;
    // Every field below is inside the 40 bytes just checked, so 0 is never used.
    let field = |at| be32(blob, at).unwrap_or(0);
    if total > blob.len() {
        return Err(DtError::TotalSizeTooLarge {
            totalsize: field(TOTALSIZE),
            available: blob.len(),
        });
    }

    let version = field(VERSION);
    let last_comp_version = field(LAST_COMP_VERSION);
    if version < 16 || last_comp_version > 17 {
        return Err(DtError::UnsupportedVersion {
            version,
            last_comp_version,
        });
    }

    let rsvmap = field(OFF_MEM_RSVMAP);
    block(total, "memory reservation map", rsvmap, 0)?;
    if !rsvmap.is_multiple_of(8) {
        return Err(DtError::Misaligned {
            block: "memory reservation map",
            offset: rsvmap,
        });
    }

    let struct_offset = field(OFF_DT_STRUCT);
    if !struct_offset.is_multiple_of(4) {
        return Err(DtError::Misaligned {
            block: "structure",
            offset: struct_offset,
        });
    }
    // Version 16 headers have no size_dt_struct: the walk stops at FDT_END instead.
    let struct_size = if version >= 17 {
        field(SIZE_DT_STRUCT)
    } else {
        u32::try_from(total)
            .unwrap_or(u32::MAX)
            .saturating_sub(struct_offset)
    };
    let structure = block(total, "structure", struct_offset, struct_size)?;
    let strings = block(
        total,
        "strings",
        field(OFF_DT_STRINGS),
        field(SIZE_DT_STRINGS),
    )?;

    Ok(Layout {
        total,
        structure,
        strings,
    })
}

/// The byte range `offset .. offset + size`, if it lies within `total`.
fn block(
    total: usize,
    name: &'static str,
    offset: u32,
    size: u32,
) -> Result<Range<usize>, DtError> {
    let out_of_bounds = DtError::BlockOutOfBounds {
        block: name,
        offset,
        size,
        totalsize: u32::try_from(total).unwrap_or(u32::MAX),
    };
    let start = usize::try_from(offset).map_err(|_| out_of_bounds)?;
    let end = usize::try_from(size)
        .ok()
        .and_then(|size| start.checked_add(size))
        .filter(|&end| end <= total)
        .ok_or(out_of_bounds)?;
    Ok(start..end)
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A header-only blob with the given fields, padded to `total` bytes.
    fn header(total: u32, off_struct: u32, size_struct: u32, version: u32) -> [u8; 64] {
        let mut blob = [0u8; 64];
        let fields = [
            MAGIC,
            total,
            off_struct,
            56,
            40,
            version,
            16,
            0,
            8,
            size_struct,
        ];
        for (slot, field) in blob.chunks_exact_mut(4).zip(fields) {
            slot.copy_from_slice(&field.to_be_bytes());
        }
        blob
    }

    #[test]
    fn blob_len_reads_totalsize() {
        assert_eq!(blob_len(&header(64, 48, 8, 17)), Ok(64));
        assert_eq!(
            blob_len(&[0xd0, 0x0d]),
            Err(DtError::TooShortForHeader { len: 2 })
        );
        assert_eq!(
            blob_len(&header(8, 48, 8, 17)),
            Err(DtError::TotalSizeTooSmall { totalsize: 8 })
        );
    }

    #[test]
    fn layout_of_a_good_header() {
        let layout = parse(&header(64, 48, 8, 17)).unwrap();
        assert_eq!(
            (layout.total, layout.structure, layout.strings),
            (64, 48..56, 56..64)
        );
    }

    #[test]
    fn version_16_structure_runs_to_totalsize() {
        assert_eq!(parse(&header(64, 48, 0, 16)).unwrap().structure, 48..64);
    }

    #[test]
    fn bad_headers_are_refused() {
        assert!(matches!(
            parse(&header(65, 48, 8, 17)),
            Err(DtError::TotalSizeTooLarge { .. })
        ));
        assert!(matches!(
            parse(&header(64, 48, 8, 15)),
            Err(DtError::UnsupportedVersion { .. })
        ));
        assert!(matches!(
            parse(&header(64, 50, 8, 17)),
            Err(DtError::Misaligned { .. })
        ));
        assert!(matches!(
            parse(&header(64, 60, 8, 17)),
            Err(DtError::BlockOutOfBounds { .. })
        ));
        let overflowing = header(64, 0xffff_fffc, 8, 17);
        assert!(matches!(
            parse(&overflowing),
            Err(DtError::BlockOutOfBounds { .. })
        ));
        let mut bad_magic = header(64, 48, 8, 17);
        bad_magic[0] = 0;
        assert_eq!(
            parse(&bad_magic).err(),
            Some(DtError::BadMagic { found: 0x000d_feed })
        );
    }
}

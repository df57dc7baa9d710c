//! Why a blob was refused. Offsets are from the start of the blob, so they can be
//! looked up with `xxd` or `fdtdump` on the same file.

use core::fmt;

/// A flattened device tree blob that is malformed or of an unsupported version.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum DtError {
    /// Fewer bytes than the 40-byte header.
    TooShortForHeader {
        len: usize,
    },
    BadMagic {
        found: u32,
    },
    /// The header claims more bytes than the buffer holds.
    TotalSizeTooLarge {
        totalsize: u32,
        available: usize,
    },
    /// The header claims fewer bytes than the header itself.
    TotalSizeTooSmall {
        totalsize: u32,
    },
    UnsupportedVersion {
        version: u32,
        last_comp_version: u32,
    },
    /// A block (`structure`, `strings`, `memory reservation map`) does not fit in totalsize.
    BlockOutOfBounds {
        block: &'static str,
        offset: u32,
        size: u32,
        totalsize: u32,
    },
    Misaligned {
        block: &'static str,
        offset: u32,
    },
    /// The structure block ends inside a token or its operands.
    TruncatedToken {
        offset: usize,
    },
    UnknownToken {
        offset: usize,
        token: u32,
    },
    NodeNameUnterminated {
        offset: usize,
    },
    NodeNameNotUtf8 {
        offset: usize,
    },
    PropertyOutsideNode {
        offset: usize,
    },
    PropertyPastStructureBlock {
        offset: usize,
    },
    PropertyNameOutOfRange {
        offset: usize,
        name_offset: u32,
    },
    PropertyNameUnterminated {
        offset: usize,
        name_offset: u32,
    },
    PropertyNameNotUtf8 {
        offset: usize,
        name_offset: u32,
    },
    EndNodeWithoutBeginNode {
        offset: usize,
    },
    TooDeep {
        offset: usize,
        limit: usize,
    },
    SecondRoot {
        offset: usize,
    },
    /// `FDT_END` while nodes are still open.
    EndInsideNode {
        offset: usize,
    },
    NoRoot,
    /// The structure block ran out before `FDT_END`.
    MissingEnd,
}

impl fmt::Display for DtError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match *self {
            DtError::TooShortForHeader { len } => {
                write!(f, "{len} bytes is too short for the 40-byte FDT header")
            }
            DtError::BadMagic { found } => {
                write!(f, "bad FDT magic {found:#010x} (expected 0xd00dfeed)")
            }
            DtError::TotalSizeTooLarge { totalsize, available } => write!(
                f,
                "header totalsize {totalsize:#x} is larger than the {available:#x} bytes available"
            ),
            DtError::TotalSizeTooSmall { totalsize } => {
                write!(f, "header totalsize {totalsize:#x} is smaller than the header")
            }
            DtError::UnsupportedVersion { version, last_comp_version } => write!(
                f,
                "unsupported FDT version {version} (last compatible {last_comp_version}); need 16 or 17"
            ),
            DtError::BlockOutOfBounds { block, offset, size, totalsize } => write!(
                f,
                "{block} block at offset {offset:#x} size {size:#x} runs past totalsize {totalsize:#x}"
            ),
            DtError::Misaligned { block, offset } => {
                write!(f, "{block} block offset {offset:#x} is misaligned")
            }
            DtError::TruncatedToken { offset } => {
                write!(f, "structure block ends inside the token at offset {offset:#x}")
            }
            DtError::UnknownToken { offset, token } => {
                write!(f, "unknown token {token:#x} at offset {offset:#x}")
            }
            DtError::NodeNameUnterminated { offset } => write!(
                f,
                "node name at offset {offset:#x} is not NUL-terminated inside the structure block"
            ),
            DtError::NodeNameNotUtf8 { offset } => {
                write!(f, "node name at offset {offset:#x} is not UTF-8")
            }
            DtError::PropertyOutsideNode { offset } => {
                write!(f, "property at offset {offset:#x} is outside any node")
            }
            DtError::PropertyPastStructureBlock { offset } => {
                write!(f, "property at offset {offset:#x} runs past the structure block")
            }
            DtError::PropertyNameOutOfRange { offset, name_offset } => write!(
                f,
                "property at offset {offset:#x} names string {name_offset:#x}, outside the strings block"
            ),
            DtError::PropertyNameUnterminated { offset, name_offset } => write!(
                f,
                "property at offset {offset:#x}: name at string {name_offset:#x} is not NUL-terminated"
            ),
            DtError::PropertyNameNotUtf8 { offset, name_offset } => write!(
                f,
                "property at offset {offset:#x}: name at string {name_offset:#x} is not UTF-8"
            ),
            DtError::EndNodeWithoutBeginNode { offset } => {
                write!(f, "FDT_END_NODE at offset {offset:#x} closes no node")
            }
            DtError::TooDeep { offset, limit } => {
                write!(f, "node at offset {offset:#x} is nested deeper than {limit} levels")
            }
            DtError::SecondRoot { offset } => {
                write!(f, "second root node at offset {offset:#x}")
            }
            DtError::EndInsideNode { offset } => {
                write!(f, "FDT_END at offset {offset:#x} while nodes are still open")
            }
            DtError::NoRoot => f.write_str("structure block has no root node"),
            DtError::MissingEnd => f.write_str("structure block ends without FDT_END"),
        }
    }
}

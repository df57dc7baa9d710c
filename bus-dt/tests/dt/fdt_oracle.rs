//! Cross-checks the node walk against the independent `fdt` crate: both must find the
//! same nodes with a `compatible` property. The crate (0.1.5) drops every node after an
//! `FDT_NOP` token without saying so, so it is only asked about blobs without one; on those it
//! must succeed: a blob it cannot walk fails the check.

use std::ops::Range;
use std::panic::{catch_unwind, AssertUnwindSafe};

use registry::DeviceIds;

use super::dt_oracle::fixtures;
use super::{all_devices, root_device};

const FDT_BEGIN_NODE: u32 = 1;
const FDT_END_NODE: u32 = 2;
const FDT_PROP: u32 = 3;
const FDT_NOP: u32 = 4;
const FDT_END: u32 = 9;

/// (node name, compatible list) of every compatible node, sorted.
type Compatibles = Vec<(String, Vec<String>)>;

fn ours(blob: &[u8]) -> Compatibles {
    let root = root_device(blob);
    let mut found: Compatibles = all_devices(&root)
        .into_iter()
        .filter_map(|d| match &d.ids {
            DeviceIds::Compatible(list) if !list.is_empty() => Some((d.name.clone(), list.clone())),
            _ => None,
        })
        .collect();
    found.sort();
    found
}

/// The same list from the `fdt` crate, or `None` when it fails or panics.
fn theirs(blob: &[u8]) -> Option<Compatibles> {
    let walk = || {
        let fdt = fdt::Fdt::new(blob).ok()?;
        let mut found: Compatibles = fdt
            .all_nodes()
            .filter_map(|node| {
                let list: Vec<String> = node.compatible()?.all().map(String::from).collect();
                Some((node.name.to_string(), list)).filter(|(_, list)| !list.is_empty())
            })
            .collect();
        found.sort();
        Some(found)
    };
    catch_unwind(AssertUnwindSafe(walk)).ok().flatten()
}

/// What [`compare_with_fdt`] did.
#[derive(Debug, PartialEq, Eq)]
pub enum FdtCheck {
    /// Both parsers found the same compatible nodes.
    Agreed,
    /// The blob has NOP tokens, which the `fdt` crate misreads: not asked.
    SkippedNops,
}

/// Compares bus-dt's compatible nodes with the `fdt` crate's: `Err` with the first
/// difference, or when the crate cannot walk a blob without NOP tokens.
pub fn compare_with_fdt(blob: &[u8]) -> Result<FdtCheck, String> {
    let tokens = structure_tokens(blob).ok_or("the structure block does not walk to FDT_END")?;
    if tokens.iter().any(|&(token, _)| token == FDT_NOP) {
        return Ok(FdtCheck::SkippedNops);
    }
    let theirs = theirs(blob).ok_or("the fdt crate cannot walk this blob (it has no NOP tokens)")?;
    let ours = ours(blob);
    match ours.iter().zip(&theirs).find(|(a, b)| a != b) {
        Some((a, b)) => Err(format!("bus-dt found {a:?} where fdt found {b:?}")),
        None if ours.len() != theirs.len() => Err(format!(
            "bus-dt found {} compatible nodes, fdt {}",
            ours.len(),
            theirs.len()
        )),
        None => Ok(FdtCheck::Agreed),
    }
}

fn be32(blob: &[u8], at: usize) -> Option<u32> {
    Some(u32::from_be_bytes(blob.get(at..at.checked_add(4)?)?.try_into().ok()?))
}

/// Every token of the structure block as (token, its bytes in `blob`), walked from the
/// header's `off_dt_struct` to FDT_END; `None` if the walk leaves the blob first.
fn structure_tokens(blob: &[u8]) -> Option<Vec<(u32, Range<usize>)>> {
    let mut at = be32(blob, 8)? as usize;
    let mut tokens = Vec::new();
    loop {
        let token = be32(blob, at)?;
        let end = match token {
            FDT_BEGIN_NODE => {
                let name = at + 4;
                let nul = name + blob.get(name..)?.iter().position(|&b| b == 0)?;
                (nul + 1).next_multiple_of(4)
            }
            FDT_PROP => (at + 12).checked_add(be32(blob, at + 4)? as usize)?.next_multiple_of(4),
            FDT_END_NODE | FDT_NOP | FDT_END => at + 4,
            _ => return None,
        };
        tokens.push((token, at..end));
        if token == FDT_END {
            return Some(tokens);
        }
        at = end;
    }
}

/// `blob` with an FDT_NOP before every token of its structure block inside the root node, the header's offsets and
/// sizes fixed: the same tree, as libfdt's `fdt_nop_property()` / `fdt_nop_node()` leave
/// blobs. Expects dtc's layout (structure block, then strings block, at the end).
pub fn with_nops(blob: &[u8]) -> Vec<u8> {
    let tokens = structure_tokens(blob).expect("a blob that walks");
    let struct_start = be32(blob, 8).unwrap() as usize;
    let strings_start = be32(blob, 12).unwrap() as usize;
    let strings_len = be32(blob, 32).unwrap() as usize;
    let struct_end = tokens.last().unwrap().1.end;
    assert!(struct_end <= strings_start, "strings block after the structure block");
    let mut out = blob[..struct_start].to_vec();
    // Not before the root node nor before FDT_END: libfdt never leaves one there (it only
    // overwrites properties and nodes), and dtoolkit refuses both.
    for (i, (token, bytes)) in tokens.iter().enumerate() {
        if i > 0 && *token != FDT_END {
            out.extend(FDT_NOP.to_be_bytes());
        }
        out.extend(&blob[bytes.clone()]);
    }
    let new_struct_len = out.len() - struct_start;
    let new_strings_start = out.len();
    out.extend(&blob[strings_start..strings_start + strings_len]);
    let set = |out: &mut Vec<u8>, at: usize, value: usize| out[at..at + 4].copy_from_slice(&(value as u32).to_be_bytes());
    let total = out.len();
    set(&mut out, 4, total);
    set(&mut out, 12, new_strings_start);
    set(&mut out, 36, new_struct_len);
    out
}

#[test]
fn fixtures_agree_with_the_fdt_crate() {
    for (name, blob) in fixtures() {
        assert_eq!(compare_with_fdt(&blob), Ok(FdtCheck::Agreed), "{name}");
    }
}

#[test]
fn a_blob_the_fdt_crate_cannot_walk_fails_the_check() {
    let (_, mut blob) = fixtures().into_iter().find(|(name, _)| name == "qemu-virt.dtb").unwrap();
    // A magic the crate refuses; bus-dt's walk of the tokens does not look at it.
    blob[0] ^= 0xff;
    assert!(compare_with_fdt(&blob).is_err_and(|e| e.contains("cannot walk")));
}

#[test]
fn blobs_with_nop_tokens_are_left_to_the_oracle() {
    for (name, blob) in fixtures() {
        let nops = with_nops(&blob);
        // Why the gate: the fdt crate loses nodes after the NOPs (it finds fewer compatible
        // nodes, or none), where bus-dt and dtoolkit read the same tree as without them.
        let lost = theirs(&nops).is_none_or(|found| found.len() < ours(&blob).len());
        assert!(lost, "{name}: the fdt crate now reads NOPs: the gate can go");
        assert_eq!(compare_with_fdt(&nops), Ok(FdtCheck::SkippedNops), "{name}");
        assert_eq!(ours(&nops), ours(&blob), "{name}: bus-dt reads the same tree with NOPs");
        super::dt_oracle::compare_with_oracle(&nops).unwrap_or_else(|e| panic!("{name} with NOPs: {e}"));
        assert_eq!(dt_oracle::devices(&nops), dt_oracle::devices(&blob), "{name}: the oracle too");
    }
}

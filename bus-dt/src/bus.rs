//! [`DtBus`]: a validated blob as a `registry::Bus`, plus the few whole-board facts a
//! kernel needs before any driver runs.

use alloc::string::String;
use alloc::vec;
use alloc::vec::Vec;

use registry::{Bus, BusError, DeviceSpec, MmioRegion};

use crate::bytes::c_string;
use crate::tree::{base_name, NodeId, Tree};
use crate::{devices, header, translate, DtError};

/// The devices of one flattened device tree blob.
#[derive(Debug)]
pub struct DtBus<'a> {
    tree: Tree<'a>,
}

impl<'a> DtBus<'a> {
    /// Validates `blob` completely; bytes past the header's totalsize are ignored.
    ///
    /// # Errors
    /// The first thing found wrong with the header or the structure block.
    pub fn new(blob: &'a [u8]) -> Result<Self, DtError> {
        let layout = header::parse(blob)?;
        let blob = blob.get(..layout.total).unwrap_or_default();
        Ok(DtBus {
            tree: Tree::parse(blob, &layout)?,
        })
    }

    /// The path of the console device from `/chosen`'s `stdout-path`, without the
    /// `:options` suffix; an alias (`serial0:115200n8`) is resolved through `/aliases`,
    /// and `None` if that alias does not exist.
    #[must_use]
    pub fn chosen_stdout_path(&self) -> Option<&'a str> {
        let chosen = self.tree.child(self.tree.root(), "chosen")?;
        let value = ["stdout-path", "linux,stdout-path"]
            .iter()
            .find_map(|name| self.string_property(chosen, name))?;
        let path = value.split(':').next().unwrap_or(value);
        if path.starts_with('/') {
            return Some(path);
        }
        let aliases = self.tree.child(self.tree.root(), "aliases")?;
        self.string_property(aliases, path)
    }

    /// RAM from the `/memory` nodes (`device_type = "memory"`), skipping disabled ones.
    #[must_use]
    pub fn memory_regions(&self) -> Vec<MmioRegion> {
        let root = self.tree.root();
        let memory_nodes = self
            .tree
            .node(root)
            .children
            .iter()
            .copied()
            .filter(|&node| {
                let is_memory = self.string_property(node, "device_type") == Some("memory")
                    || base_name(self.tree.node(node).name) == "memory";
                let status = self.string_property(node, "status");
                is_memory && matches!(status, None | Some("okay" | "ok"))
            });
        memory_nodes
            .flat_map(|node| translate::regions(&self.tree, node).0)
            .collect()
    }

    /// The root node's `compatible` list: what board this is, most specific first.
    #[must_use]
    pub fn compatible_root(&self) -> Vec<String> {
        devices::string_list(self.tree.property(self.tree.root(), "compatible"))
    }

    /// The root node's `model`: the board's human-readable name.
    #[must_use]
    pub fn model(&self) -> Option<&'a str> {
        self.string_property(self.tree.root(), "model")
    }

    /// A single-string property: the bytes before the first NUL, if they are UTF-8.
    fn string_property(&self, node: NodeId, name: &str) -> Option<&'a str> {
        let value = self.tree.property(node, name)?;
        let text = c_string(value, 0).unwrap_or(value);
        core::str::from_utf8(text).ok()
    }
}

impl Bus for DtBus<'_> {
    fn name(&self) -> &str {
        "devicetree"
    }

    /// The root node as the one root device, its subtree below it. Cannot fail: the
    /// blob was validated in [`DtBus::new`], and what cannot be decoded becomes notes.
    fn enumerate(&self) -> Result<Vec<DeviceSpec>, BusError> {
        Ok(vec![devices::device_tree(&self.tree)])
    }
}

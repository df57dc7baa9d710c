//! The structure block, checked token by token and turned into an indexed node tree.
//!
//! Parsing is the validation: a blob that parses has balanced nodes, one root, bounded
//! depth, and every name and value inside its block, so later stages only look things up.

use alloc::collections::BTreeMap;
use alloc::string::String;
use alloc::vec::Vec;

use crate::bytes::{align4, be32, c_string};
use crate::header::Layout;
use crate::DtError;

const FDT_BEGIN_NODE: u32 = 1;
const FDT_END_NODE: u32 = 2;
const FDT_PROP: u32 = 3;
const FDT_NOP: u32 = 4;
const FDT_END: u32 = 9;

/// Deepest nesting accepted, root being level 1; real trees stay under 10. The bound keeps
/// the recursive walks in `devices` shallow on a small kernel stack.
pub(crate) const MAX_DEPTH: usize = 64;

/// A node's index in its [`Tree`]; only the parser makes them, so they are always valid.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) struct NodeId(usize);

#[derive(Debug)]
pub(crate) struct Property<'a> {
    pub name: &'a str,
    pub value: &'a [u8],
}

#[derive(Debug)]
pub(crate) struct Node<'a> {
    /// Name with unit address (`uart@9000000`); empty for the root.
    pub name: &'a str,
    pub parent: Option<NodeId>,
    pub properties: Vec<Property<'a>>,
    pub children: Vec<NodeId>,
}

/// Stands in for a node that does not exist, so lookups need no panicking path.
static NO_NODE: Node<'static> = Node {
    name: "",
    parent: None,
    properties: Vec::new(),
    children: Vec::new(),
};

/// All nodes of a validated blob; the root is always present.
#[derive(Debug)]
pub(crate) struct Tree<'a> {
    nodes: Vec<Node<'a>>,
    phandles: BTreeMap<u32, NodeId>,
}

impl<'a> Tree<'a> {
    /// Walks the whole structure block of `blob`, refusing anything malformed.
    pub fn parse(blob: &'a [u8], layout: &Layout) -> Result<Self, DtError> {
        // The layout was checked against the blob, so these always succeed.
        let structure = blob.get(layout.structure.clone()).unwrap_or_default();
        let strings = blob.get(layout.strings.clone()).unwrap_or_default();
        let mut walk = Walk {
            structure,
            strings,
            base: layout.structure.start,
            pos: 0,
        };
        let mut nodes: Vec<Node<'a>> = Vec::new();
        let mut open: Vec<NodeId> = Vec::new();

        loop {
            let at = walk.offset();
            match walk.token()? {
                FDT_BEGIN_NODE => {
                    let name = walk.node_name()?;
                    if open.len() >= MAX_DEPTH {
                        return Err(DtError::TooDeep {
                            offset: at,
                            limit: MAX_DEPTH,
                        });
                    }
                    let parent = open.last().copied();
                    if parent.is_none() && !nodes.is_empty() {
                        return Err(DtError::SecondRoot { offset: at });
                    }
                    let id = NodeId(nodes.len());
                    if let Some(parent_node) = parent.and_then(|NodeId(i)| nodes.get_mut(i)) {
                        parent_node.children.push(id);
                    }
                    nodes.push(Node {
                        name,
                        parent,
                        properties: Vec::new(),
                        children: Vec::new(),
                    });
                    open.push(id);
                }
                FDT_END_NODE => {
                    open.pop()
                        .ok_or(DtError::EndNodeWithoutBeginNode { offset: at })?;
                }
                FDT_PROP => {
                    let NodeId(current) = *open
                        .last()
                        .ok_or(DtError::PropertyOutsideNode { offset: at })?;
                    let property = walk.property(at)?;
                    if let Some(node) = nodes.get_mut(current) {
                        node.properties.push(property);
                    }
                }
                FDT_NOP => {}
                FDT_END if !open.is_empty() => return Err(DtError::EndInsideNode { offset: at }),
                FDT_END if nodes.is_empty() => return Err(DtError::NoRoot),
                FDT_END => break,
                token => return Err(DtError::UnknownToken { offset: at, token }),
            }
        }

        let mut tree = Tree {
            nodes,
            phandles: BTreeMap::new(),
        };
        tree.phandles = tree.collect_phandles();
        Ok(tree)
    }

    pub fn root(&self) -> NodeId {
        NodeId(0)
    }

    pub fn node(&self, NodeId(i): NodeId) -> &Node<'a> {
        self.nodes.get(i).unwrap_or(&NO_NODE)
    }

    pub fn parent(&self, id: NodeId) -> Option<NodeId> {
        self.node(id).parent
    }

    /// The node's property `name`; the first one if a malformed blob repeats it.
    pub fn property(&self, id: NodeId, name: &str) -> Option<&'a [u8]> {
        let properties = &self.node(id).properties;
        properties.iter().find(|p| p.name == name).map(|p| p.value)
    }

    pub fn has_property(&self, id: NodeId, name: &str) -> bool {
        self.property(id, name).is_some()
    }

    /// The child of `id` named `name`, or when `name` has no unit address, the first child
    /// whose name before `@` is `name` (`memory` finds `memory@40000000`).
    pub fn child(&self, id: NodeId, name: &str) -> Option<NodeId> {
        let children = &self.node(id).children;
        let named = |child: &&NodeId| {
            let child_name = self.node(**child).name;
            child_name == name || (!name.contains('@') && base_name(child_name) == name)
        };
        children.iter().find(named).copied()
    }

    pub fn by_phandle(&self, phandle: u32) -> Option<NodeId> {
        self.phandles.get(&phandle).copied()
    }

    /// The node's full path, `/` for the root.
    pub fn path(&self, id: NodeId) -> String {
        let mut names = Vec::new();
        let mut current = Some(id);
        while let Some(node) = current.filter(|&n| n != self.root()) {
            names.push(self.node(node).name);
            current = self.parent(node);
        }
        if names.is_empty() {
            return String::from("/");
        }
        let mut path = String::new();
        for name in names.iter().rev() {
            path.push('/');
            path.push_str(name);
        }
        path
    }

    /// `phandle` (or the older `linux,phandle`) of every node; 0 and `0xffffffff` are
    /// not valid phandles, and the first node wins when a malformed blob repeats one.
    fn collect_phandles(&self) -> BTreeMap<u32, NodeId> {
        let mut phandles = BTreeMap::new();
        for (i, node) in self.nodes.iter().enumerate() {
            let phandle = ["phandle", "linux,phandle"].iter().find_map(|name| {
                let property = node.properties.iter().find(|p| p.name == *name)?;
                crate::cells::single_cell(property.value)
            });
            if let Some(phandle) = phandle.filter(|&p| p != 0 && p != u32::MAX) {
                phandles.entry(phandle).or_insert(NodeId(i));
            }
        }
        phandles
    }
}

/// A node name without its unit address: `uart@9000000` -> `uart`.
pub(crate) fn base_name(name: &str) -> &str {
    name.split('@').next().unwrap_or(name)
}

/// A cursor over the structure block.
struct Walk<'a> {
    structure: &'a [u8],
    strings: &'a [u8],
    /// Offset of the structure block in the blob, for error messages.
    base: usize,
    pos: usize,
}

impl<'a> Walk<'a> {
    /// The current position as a blob offset.
    fn offset(&self) -> usize {
        self.base.saturating_add(self.pos)
    }

    fn token(&mut self) -> Result<u32, DtError> {
        let token = be32(self.structure, self.pos).ok_or(if self.pos >= self.structure.len() {
            DtError::MissingEnd
        } else {
            DtError::TruncatedToken {
                offset: self.offset(),
            }
        })?;
        self.pos = self.pos.saturating_add(4);
        Ok(token)
    }

    fn node_name(&mut self) -> Result<&'a str, DtError> {
        let offset = self.offset();
        let name =
            c_string(self.structure, self.pos).ok_or(DtError::NodeNameUnterminated { offset })?;
        let name = core::str::from_utf8(name).map_err(|_| DtError::NodeNameNotUtf8 { offset })?;
        self.advance(name.len().saturating_add(1));
        Ok(name)
    }

    /// The property whose `FDT_PROP` token was at `at`.
    fn property(&mut self, at: usize) -> Result<Property<'a>, DtError> {
        let truncated = DtError::TruncatedToken { offset: at };
        let len = be32(self.structure, self.pos).ok_or(truncated)?;
        let name_offset = be32(self.structure, self.pos.saturating_add(4)).ok_or(truncated)?;
        self.pos = self.pos.saturating_add(8);

        let value = usize::try_from(len)
            .ok()
            .and_then(|len| Some(self.pos..self.pos.checked_add(len)?))
            .and_then(|range| self.structure.get(range))
            .ok_or(DtError::PropertyPastStructureBlock { offset: at })?;

        let name_at = usize::try_from(name_offset).unwrap_or(usize::MAX);
        if name_at >= self.strings.len() {
            return Err(DtError::PropertyNameOutOfRange {
                offset: at,
                name_offset,
            });
        }
        let name = c_string(self.strings, name_at).ok_or(DtError::PropertyNameUnterminated {
            offset: at,
            name_offset,
        })?;
        let name = core::str::from_utf8(name).map_err(|_| DtError::PropertyNameNotUtf8 {
            offset: at,
            name_offset,
        })?;

        self.advance(value.len());
        Ok(Property { name, value })
    }

    /// Skips `len` bytes and the padding that realigns the next token.
    fn advance(&mut self, len: usize) {
        self.pos = self
            .pos
            .checked_add(len)
            .and_then(align4)
            .unwrap_or(usize::MAX);
    }
}

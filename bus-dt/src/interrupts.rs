//! `interrupts` / `interrupts-extended` to [`Irq`]s, naming each line's controller.

use alloc::format;
use alloc::string::{String, ToString};
use alloc::vec::Vec;

use registry::Irq;

use crate::cells::{cells, count, single_cell};
use crate::gic;
use crate::tree::{NodeId, Tree};

/// The node's interrupt lines, plus notes for what could not be resolved.
pub(crate) fn irqs(tree: &Tree, node: NodeId) -> (Vec<Irq>, Vec<String>) {
    let mut found = Vec::new();
    let mut notes = Vec::new();
    // `interrupts-extended` wins when both are present (DT spec 0.4, 2.4.1).
    if let Some(extended) = tree.property(node, "interrupts-extended") {
        extended_irqs(tree, &cells(extended), &mut found, &mut notes);
    } else if let Some(interrupts) = tree.property(node, "interrupts") {
        match interrupt_parent(tree, node).and_then(|c| Controller::new(tree, c)) {
            Ok(controller) => {
                let specifiers = cells(interrupts);
                controller.decode_all(&specifiers, &mut found, &mut notes);
            }
            Err(note) => notes.push(note),
        }
    }
    (found, notes)
}

/// `interrupts-extended`: (controller phandle, that controller's specifier cells) repeated.
fn extended_irqs(tree: &Tree, extended: &[u32], found: &mut Vec<Irq>, notes: &mut Vec<String>) {
    let mut rest = extended;
    while let Some((&phandle, tail)) = rest.split_first() {
        // Without the controller its cell count is unknown, so the rest cannot be split.
        let Some(node) = tree.by_phandle(phandle) else {
            notes.push(format!(
                "interrupts-extended names phandle {phandle:#x}, which no node has"
            ));
            return;
        };
        let controller = match Controller::new(tree, node) {
            Ok(controller) => controller,
            Err(note) => {
                notes.push(note);
                return;
            }
        };
        if tail.len() < controller.cells {
            notes.push(format!(
                "interrupts-extended ends inside a {} specifier",
                controller.path
            ));
            return;
        }
        let (specifier, tail) = tail.split_at(controller.cells);
        controller.decode_all(specifier, found, notes);
        rest = tail;
    }
}

/// The node that receives the node's `interrupts`: named by `interrupt-parent` on the
/// node or its nearest ancestor that has one, unless a closer ancestor is itself an
/// interrupt controller or nexus (has `#interrupt-cells`) - the rule Linux follows.
fn interrupt_parent(tree: &Tree, node: NodeId) -> Result<NodeId, String> {
    let mut current = node;
    // Each step goes one level up, so this ends within the tree's depth.
    loop {
        if let Some(value) = tree.property(current, "interrupt-parent") {
            let path = tree.path(current);
            let phandle = single_cell(value)
                .ok_or_else(|| format!("{path} has a {}-byte interrupt-parent", value.len()))?;
            return tree
                .by_phandle(phandle)
                .ok_or_else(|| format!("interrupt-parent {phandle:#x} on {path} names no node"));
        }
        current = tree
            .parent(current)
            .ok_or_else(|| "interrupts but no interrupt parent".to_string())?;
        if tree.has_property(current, "#interrupt-cells") {
            return Ok(current);
        }
    }
}

/// An interrupt controller as far as decoding its specifiers needs.
struct Controller {
    path: String,
    cells: usize,
    is_gic: bool,
    /// An `interrupt-map` nexus (e.g. a PCI host) rather than a controller.
    is_nexus: bool,
}

impl Controller {
    fn new(tree: &Tree, node: NodeId) -> Result<Self, String> {
        let path = tree.path(node);
        if !tree.has_property(node, "#interrupt-cells") {
            return Err(format!(
                "interrupt controller {path} has no #interrupt-cells"
            ));
        }
        let cells = count(tree, node, "#interrupt-cells", 0)?;
        let is_nexus = tree.has_property(node, "interrupt-map")
            && !tree.has_property(node, "interrupt-controller");
        let is_gic = gic::is_gic(tree.property(node, "compatible").unwrap_or_default());
        Ok(Controller {
            path,
            cells,
            is_gic,
            is_nexus,
        })
    }

    /// Splits `specifiers` into this controller's groups of cells and decodes each.
    fn decode_all(&self, specifiers: &[u32], found: &mut Vec<Irq>, notes: &mut Vec<String>) {
        if self.is_nexus {
            // Following interrupt-map needs the child's unit address; left to PCI support.
            let path = &self.path;
            notes.push(format!(
                "interrupts go through the interrupt-map of {path}: not followed"
            ));
        } else if self.cells == 0 {
            // A controller with a single line: nothing to split, the line is implied.
            found.push(self.irq(&[]));
        } else {
            self.decode_groups(specifiers, found, notes);
        }
    }

    fn decode_groups(&self, specifiers: &[u32], found: &mut Vec<Irq>, notes: &mut Vec<String>) {
        let mut groups = specifiers.chunks_exact(self.cells);
        found.extend(groups.by_ref().map(|group| self.irq(group)));
        if !groups.remainder().is_empty() {
            notes.push(format!("interrupts end inside a {} specifier", self.path));
        }
    }

    fn irq(&self, specifier: &[u32]) -> Irq {
        let decoded = if self.is_gic {
            gic::decode(specifier)
        } else {
            None
        };
        let (number, label) = decoded.unwrap_or_else(|| (None, raw_label(specifier)));
        Irq {
            controller: self.path.clone(),
            cells: specifier.to_vec(),
            number,
            label,
        }
    }
}

/// One interrupt of `controller` given by its specifier cells (an `interrupt-map` entry's
/// parent side); the number of cells consumed is the controller's `#interrupt-cells`.
pub(crate) fn decode_one(tree: &Tree, controller: NodeId, specifier: &[u32]) -> Result<(Irq, usize), String> {
    let controller = Controller::new(tree, controller)?;
    let cells = specifier
        .get(..controller.cells)
        .ok_or_else(|| format!("a {} specifier is cut short", controller.path))?;
    Ok((controller.irq(cells), controller.cells))
}

/// Cells as written in a `.dts`: `<5 2>`.
fn raw_label(specifier: &[u32]) -> String {
    let cells: Vec<String> = specifier.iter().map(|cell| cell.to_string()).collect();
    format!("<{}>", cells.join(" "))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn raw_labels_look_like_dts() {
        assert_eq!(raw_label(&[5, 2]), "<5 2>");
        assert_eq!(raw_label(&[]), "<>");
    }
}

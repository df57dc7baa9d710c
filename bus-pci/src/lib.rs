//! PCI bus support: configuration-space access (ECAM and legacy port I/O), enumeration through
//! bridges, BAR sizing and assignment, capability lists.
//!
//! Empty until the PCI work lands (issue "bus-pci and the x86-64 boards"); the crate exists so
//! the workspace layout is the architecture from the start.
#![no_std]

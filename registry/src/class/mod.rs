//! Device classes: what a kernel asks for (a block device, a NIC, a display, a serial port),
//! whatever driver is behind it. U-Boot calls these uclasses, Zephyr a device's `api`.
//!
//! A driver declares its class statically ([`Driver::class`](crate::Driver::class), so the host
//! `lsdev` can predict instance names) and publishes one class object at probe with
//! [`ProbeContext::publish`](crate::ProbeContext::publish). A class object is an
//! `Arc<dyn Trait>` whose methods take `&self` (the driver locks inside), `Send + Sync`, so a
//! consumer may keep it, move it out of the [`Registry`](crate::Registry) and, once the kernel
//! runs on several CPUs, share it between them.
//!
//! Every device whose driver has a class gets an instance name, per class in tree order
//! (depth first, parents before children): `blk0`, `blk1`, `net0`, `fb0`, `ttyS0`. Consumers
//! look up instances with [`Registry::instances`](crate::Registry::instances) (all of a class)
//! and [`Registry::instance`](crate::Registry::instance) (by instance name or device path).

pub mod block;
pub mod display;
mod lookup;
pub mod net;
#[cfg(feature = "smoltcp")]
pub mod net_smoltcp;
pub mod serial;

use alloc::string::String;
use alloc::sync::Arc;
use core::fmt;

pub use block::BlockDevice;
pub use display::Display;
pub use lookup::Instance;
pub use net::NetDevice;
pub use serial::SerialPort;

/// The classes a driver can publish (room for more: input, rtc, ...).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum Class {
    Block,
    Net,
    Display,
    Serial,
}

impl Class {
    /// Every class, in the order `lsdev` documents them.
    pub const ALL: [Class; 4] = [Class::Block, Class::Net, Class::Display, Class::Serial];

    /// The word `lsdev` and the JSON use.
    pub fn name(self) -> &'static str {
        match self {
            Class::Block => "block",
            Class::Net => "net",
            Class::Display => "display",
            Class::Serial => "serial",
        }
    }

    /// The prefix of instance names, as Linux and U-Boot users know them.
    pub fn instance_prefix(self) -> &'static str {
        match self {
            Class::Block => "blk",
            Class::Net => "net",
            Class::Display => "fb",
            Class::Serial => "ttyS",
        }
    }
}

impl fmt::Display for Class {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.name())
    }
}

/// What a driver publishes: its device behind one class interface.
#[derive(Clone)]
pub enum ClassObject {
    Block(Arc<dyn BlockDevice>),
    Net(Arc<dyn NetDevice>),
    Display(Arc<dyn Display>),
    Serial(Arc<dyn SerialPort>),
}

impl ClassObject {
    pub fn class(&self) -> Class {
        match self {
            ClassObject::Block(_) => Class::Block,
            ClassObject::Net(_) => Class::Net,
            ClassObject::Display(_) => Class::Display,
            ClassObject::Serial(_) => Class::Serial,
        }
    }
}

impl fmt::Debug for ClassObject {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "ClassObject({})", self.class())
    }
}

/// A class interface as a type, so lookups are typed: `registry.instances::<dyn BlockDevice>()`.
pub trait ClassInterface: Send + Sync {
    const CLASS: Class;
    /// The object's handle, if it is of this class.
    fn from_object(object: &ClassObject) -> Option<Arc<Self>>;
}

macro_rules! class_interface {
    ($trait:ident, $variant:ident) => {
        impl ClassInterface for dyn $trait {
            const CLASS: Class = Class::$variant;
            fn from_object(object: &ClassObject) -> Option<Arc<Self>> {
                match object {
                    ClassObject::$variant(handle) => Some(Arc::clone(handle)),
                    _ => None,
                }
            }
        }
    };
}
class_interface!(BlockDevice, Block);
class_interface!(NetDevice, Net);
class_interface!(Display, Display);
class_interface!(SerialPort, Serial);

/// The instance name of the `index`th device of `class`: `blk0`, `ttyS1`.
pub fn instance_name(class: Class, index: usize) -> String {
    alloc::format!("{}{index}", class.instance_prefix())
}

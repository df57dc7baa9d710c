//! On aarch64: the GICv3 CPU interface's system registers, and the CPU's affinity.

use core::arch::asm;

use crate::{IccAccess, IccRegister};

struct SystemRegisters;

static SYSTEM_REGISTERS: SystemRegisters = SystemRegisters;

/// The calling CPU's own GICv3 CPU interface registers.
pub fn system_registers() -> &'static dyn IccAccess {
    &SYSTEM_REGISTERS
}

/// The calling CPU's `MPIDR_EL1`, whose affinity fields name it to a GICv3.
pub fn mpidr() -> u64 {
    let value: u64;
    // SAFETY: reading MPIDR_EL1 has no side effects.
    unsafe { asm!("mrs {}, mpidr_el1", out(reg) value, options(nomem, nostack, preserves_flags)) };
    value
}

/// `mrs` of the register with the given encoding (the assembler may not know GICv3 names).
macro_rules! read_register {
    ($encoding:literal) => {{
        let value: u64;
        // SAFETY: reading an ICC register of this CPU; the only one with an effect,
        // ICC_IAR1_EL1, acknowledges an interrupt, which is what the caller asked for. No
        // `nomem`: the read must stay ordered with the kernel's device accesses.
        unsafe { asm!(concat!("mrs {}, ", $encoding), out(reg) value, options(nostack, preserves_flags)) };
        value
    }};
}

/// `msr` to the register with the given encoding, then `isb` so the write has taken effect.
macro_rules! write_register {
    ($encoding:literal, $value:expr) => {{
        // SAFETY: writing an ICC register of this CPU changes how interrupts reach it, which
        // is the GIC driver's business; no memory is touched.
        unsafe { asm!(concat!("msr ", $encoding, ", {}"), "isb", in(reg) $value, options(nostack, preserves_flags)) };
    }};
}

impl IccAccess for SystemRegisters {
    fn read(&self, register: IccRegister) -> u64 {
        match register {
            IccRegister::Sre => read_register!("S3_0_C12_C12_5"),
            IccRegister::Pmr => read_register!("S3_0_C4_C6_0"),
            IccRegister::Bpr1 => read_register!("S3_0_C12_C12_3"),
            IccRegister::Ctlr => read_register!("S3_0_C12_C12_4"),
            IccRegister::Igrpen1 => read_register!("S3_0_C12_C12_7"),
            IccRegister::Iar1 => read_register!("S3_0_C12_C12_0"),
            // Write-only: reading it is undefined, so it is not read.
            IccRegister::Eoir1 => 0,
        }
    }

    fn write(&self, register: IccRegister, value: u64) {
        match register {
            IccRegister::Sre => write_register!("S3_0_C12_C12_5", value),
            IccRegister::Pmr => write_register!("S3_0_C4_C6_0", value),
            IccRegister::Bpr1 => write_register!("S3_0_C12_C12_3", value),
            IccRegister::Ctlr => write_register!("S3_0_C12_C12_4", value),
            IccRegister::Igrpen1 => write_register!("S3_0_C12_C12_7", value),
            IccRegister::Eoir1 => write_register!("S3_0_C12_C12_1", value),
            // Read-only: writing it is undefined, so it is not written.
            IccRegister::Iar1 => {}
        }
    }
}

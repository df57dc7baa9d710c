//! `fault stack|write-text|exec-data`: breaks the kernel's memory protection on purpose, so the
//! boot tests can check each violation ends in a clean fault report (and the fatal exit status)
//! rather than in silent corruption. Each prints the address it is about to touch first.

use core::hint::black_box;

use registry::Registry;

use super::{shell_command, Command};

shell_command!(FAULT = Command {
    name: "fault",
    usage: "fault stack|write-text|exec-data  overflow the stack / write kernel text / run data: a fatal fault",
    run: fault,
});

/// An instruction that returns, in the architecture's encoding: a harmless function, if the
/// data it sits in could be run.
#[cfg(target_arch = "aarch64")]
const RETURN: [u8; 4] = 0xd65f_03c0_u32.to_le_bytes(); // ret
#[cfg(target_arch = "x86_64")]
const RETURN: [u8; 4] = [0xc3, 0xcc, 0xcc, 0xcc]; // ret; int3

/// Data (in .data, read-write) that holds code.
#[repr(C, align(16))]
struct CodeInData([u8; 4]);
static mut CODE_IN_DATA: CodeInData = CodeInData(RETURN);

fn fault(_: &mut Registry, args: &[&str]) {
    match args {
        ["stack"] => {
            println!("fault: recursing without end on the kernel stack");
            let depth = recurse(0);
            println!("fault: the recursion came back at depth {depth}: the stack has no end");
        }
        ["write-text"] => {
            let text = fault as fn(&mut Registry, &[&str]) as usize as *mut u8;
            println!("fault: writing to kernel text at {:#x}", text as usize);
            // SAFETY: none: this is the violation the command exists for. The byte written is
            // the byte read, so if the write goes through (no protection) the code is unchanged.
            unsafe { text.write_volatile(text.read_volatile()) };
            println!("fault: the write to kernel text went through: text is writable");
        }
        ["exec-data"] => {
            let code = (&raw mut CODE_IN_DATA).cast::<u8>();
            println!("fault: running data at {:#x}", code as usize);
            make_executable_visible(code as usize);
            // SAFETY: none: this is the violation the command exists for. If data is
            // executable, the bytes are a function that returns at once.
            let function: extern "C" fn() = unsafe { core::mem::transmute(code) };
            function();
            println!("fault: data ran as code: data is executable");
        }
        _ => println!("usage: fault stack|write-text|exec-data"),
    }
}

/// Calls itself with a 1 KiB frame until the stack ends; returns only if it never does.
#[inline(never)]
fn recurse(depth: u64) -> u64 {
    let mut frame = [0u8; 1024];
    black_box(&mut frame);
    if black_box(depth) == u64::MAX {
        return depth;
    }
    recurse(depth + 1).wrapping_add(u64::from(black_box(frame[0])))
}

/// The instruction cache does not see data writes on its own (ARM ARM D7.5.9): clean the data
/// line and invalidate the instruction line, as loading code would.
#[cfg(target_arch = "aarch64")]
fn make_executable_visible(address: usize) {
    // SAFETY: cache maintenance by address on memory the kernel owns has no other effect.
    unsafe {
        core::arch::asm!(
            "dc cvau, {0}", "dsb ish", "ic ivau, {0}", "dsb ish", "isb",
            in(reg) address,
            options(nostack, preserves_flags),
        )
    };
}

/// x86 keeps instruction fetches coherent with data writes.
#[cfg(target_arch = "x86_64")]
fn make_executable_visible(_: usize) {}

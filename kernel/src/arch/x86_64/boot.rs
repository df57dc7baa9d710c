//! Boot entry: the PVH note, and the assembly that takes the CPU from the loader's 32-bit
//! hand-off to 64-bit Rust.
//!
//! QEMU's x86 `-kernel` boots an ELF file through the PVH entry (the x86/HVM direct boot ABI,
//! Xen's `docs/misc/pvh.pandoc`; Firecracker and cloud-hypervisor do the same): it loads the
//! ELF's segments at their physical addresses and enters the address in the
//! `XEN_ELFNOTE_PHYS32_ENTRY` note in 32-bit protected mode: paging off, flat 4 GiB code and
//! data segments, interrupts off, `ebx` = the physical address of the `hvm_start_info`
//! structure (its RSDP pointer leads to the ACPI tables: `acpi.rs`), no stack.
//!
//! .bss is already zero: it is the part of the data segment beyond what the file holds
//! (`p_memsz` > `p_filesz`), which an ELF loader fills with zeros (QEMU does, when it copies the
//! segments into RAM at reset). Clearing it again would cost more than it looks: under nested
//! KVM the first touch of each page is expensive, and the 32 MiB heap took 4 s (measured).
//!
//! The entry code, in order: picks the page tables (`paging.rs`) and loads CR3,
//! enables PAE, long mode (EFER.LME) and paging, loads a GDT with a 64-bit code segment and
//! jumps to it, switches to the boot stack and calls [`rust_entry`].
//!
//! SSE and x87 are left as the loader hands them over (PVH: every CR0 bit but PE clear, CR4
//! clear), which is enough: `x86_64-unknown-none` is a soft-float target, so the compiler emits
//! none of their instructions. The boot map has no NX and ring 0 ignores its read-only bits
//! (CR0.WP clear); the kernel map (`paging.rs`) turns both on.

use super::{acpi, exceptions, paging, timer};
use core::arch::global_asm;

/// Size of the boot CPU's stack, the kernel's stack (exceptions have their own:
/// exceptions.rs). A multiple of the page size: a guard page sits below it.
const BOOT_STACK_SIZE: usize = 256 * 1024;

/// The ELF note type whose descriptor is the 32-bit physical entry address (Xen's
/// `public/elfnote.h`).
const XEN_ELFNOTE_PHYS32_ENTRY: u32 = 18;

/// The kernel's code segment selector: entry 1 of the GDT below.
pub(super) const KERNEL_CODE_SELECTOR: u16 = 0x08;

/// A 64-bit code segment descriptor: present, ring 0, execute/read, long mode (L), with the
/// accessed bit already set so that the CPU never writes to the read-only GDT.
pub(super) const CODE_64_DESCRIPTOR: u64 = 0x00af_9b00_0000_ffff;

const CR0_PAGING: u32 = 1 << 31;
const CR4_PHYSICAL_ADDRESS_EXTENSION: u32 = 1 << 5;
const EFER_MSR: u32 = 0xc000_0080;
const EFER_LONG_MODE_ENABLE: u32 = 1 << 8;

global_asm!(
    r#"
    // The PVH entry note. QEMU reads the descriptor as a 64-bit word (as Linux writes it), at a
    // 4-byte aligned offset: the note segment is 4-byte aligned.
    .section .note.Xen, "a", @note
    .balign 4
    .long   4                           // name size: "Xen" and its NUL
    .long   8                           // descriptor size
    .long   {phys32_entry}              // type
    .asciz  "Xen"
    .quad   pvh_entry

    .section .text.boot, "ax"
    .code32
    .global pvh_entry
pvh_entry:
    cld                                 // the ABI leaves the direction flag open; Rust wants it clear
    mov     %ebx, %esi                  // the hvm_start_info address, which cpuid overwrites

    // With 1 GiB pages the map reaches the 64-bit PCI window (paging.rs). Every CPU that has
    // long mode has this CPUID leaf.
    mov     $0x80000001, %eax
    cpuid
    mov     $boot_pml4_4gib, %eax
    bt      ${page_1gib_bit}, %edx
    jnc     1f
    mov     $boot_pml4_1tib, %eax
1:  mov     %eax, %cr3

    mov     %cr4, %eax
    or      ${cr4_pae}, %eax
    mov     %eax, %cr4
    mov     ${efer}, %ecx
    rdmsr
    or      ${efer_lme}, %eax
    wrmsr
    mov     %cr0, %eax
    or      ${cr0_pg}, %eax
    mov     %eax, %cr0                  // long mode, still running the loader's 32-bit segment

    lgdt    .Lgdt_pointer
    ljmpl   ${code_selector}, $.Llong_mode

    .code64
.Llong_mode:
    // 64-bit mode ignores data segments; null selectors are valid at ring 0.
    xor     %eax, %eax
    mov     %eax, %ds
    mov     %eax, %es
    mov     %eax, %ss
    mov     %eax, %fs
    mov     %eax, %gs
    lea     .Lboot_stack_top(%rip), %rsp
    mov     %esi, %edi                  // rust_entry's argument, zero-extended
    call    {rust_entry}                // does not return
    ud2

    .section .rodata.boot_gdt, "a"
    .balign 8
.Lgdt:
    .quad   0                           // the null descriptor
    .quad   {code_descriptor}           // KERNEL_CODE_SELECTOR
.Lgdt_end:
.Lgdt_pointer:
    .word   .Lgdt_end - .Lgdt - 1
    .long   .Lgdt

    // The boot stack, with a guard page below it that the kernel map leaves unmapped
    // (paging.rs).
    .section .bss.boot_stack, "aw", @nobits
    .balign 4096
    .global __boot_stack_guard
__boot_stack_guard:
    .space  4096
    .space  {stack_size}
.Lboot_stack_top:
"#,
    phys32_entry = const XEN_ELFNOTE_PHYS32_ENTRY,
    page_1gib_bit = const paging::CPUID_1GIB_PAGES_BIT,
    cr4_pae = const CR4_PHYSICAL_ADDRESS_EXTENSION,
    efer = const EFER_MSR,
    efer_lme = const EFER_LONG_MODE_ENABLE,
    cr0_pg = const CR0_PAGING,
    code_selector = const KERNEL_CODE_SELECTOR,
    code_descriptor = const CODE_64_DESCRIPTOR,
    stack_size = const BOOT_STACK_SIZE,
    rust_entry = sym rust_entry,
    options(att_syntax),
);

/// The first Rust code: runs on the boot stack, in long mode, with .bss zeroed;
/// `start_info` is the loader's `hvm_start_info` address.
extern "C" fn rust_entry(start_info: u64) -> ! {
    acpi::set_start_info(start_info);
    exceptions::install();
    timer::calibrate();
    crate::kernel_main(0)
}

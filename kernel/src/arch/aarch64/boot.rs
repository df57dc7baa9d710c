//! Boot entry: the arm64 Image header, and the assembly that takes the boot
//! CPU from the loader's hand-off to Rust.
//!
//! The loader (QEMU's `-kernel`, or a firmware) follows the arm64 Linux boot
//! protocol (Linux `Documentation/arch/arm64/booting.rst`): because the image
//! starts with an Image header, it loads the file at a 2 MiB aligned base +
//! `text_offset` and jumps to its first byte with the MMU off, at EL2 or EL1,
//! and `x0` = the physical address of the device tree blob.
//!
//! The entry code, in order: parks every CPU but the boot CPU, drops from EL2
//! to EL1, installs the exception vectors, enables FP/SIMD, turns the MMU on
//! (see `mmu.rs`), zeroes .bss, switches to the boot stack and calls
//! [`rust_entry`].

use super::{mmu, power};
use core::arch::global_asm;
use core::sync::atomic::{AtomicU64, Ordering};

/// The exception level the loader entered the kernel at (1 or 2).
static BOOT_EL: AtomicU64 = AtomicU64::new(0);

/// One line for the boot log: where the kernel was entered and where it runs.
pub fn describe_entry() -> alloc::string::String {
    alloc::format!("cpu: entered at EL{}, running at EL1", BOOT_EL.load(Ordering::Relaxed))
}

/// Size of the boot CPU's stack, the kernel's stack (fatal exceptions have their own:
/// exceptions.rs). A multiple of the page size: a guard page sits below it.
const BOOT_STACK_SIZE: usize = 256 * 1024;

/// Image header `text_offset`: load 2 MiB above the base, where the linker
/// script places the kernel.
const IMAGE_TEXT_OFFSET: u64 = 0x20_0000;

/// Image header `flags`: little-endian (bit 0 clear), 4 KiB pages (bits 1-2 =
/// 1), base as close to the start of RAM as possible (bit 3 clear), as this
/// kernel is linked for a fixed address.
const IMAGE_FLAGS: u64 = 0b0010;

/// Image header `magic`: "ARM\x64" read as a little-endian word.
const IMAGE_MAGIC: u32 = 0x644d_5241;

/// `HCR_EL2` for running EL1: EL1 is AArch64 (RW); nothing traps to EL2.
const HCR_EL2_EL1_IS_AARCH64: u64 = 1 << 31;

/// `SCTLR_EL2` with only its RES1 bits (29, 28, 23, 22, 18, 16, 11, 5, 4): MMU, caches and
/// alignment checks off, little-endian (Linux's `INIT_SCTLR_EL2_MMU_OFF`).
const SCTLR_EL2_MMU_OFF: u64 = 0x30c5_0830;

/// `ICC_SRE_EL2.SRE` (bit 0) and `.Enable` (bit 3): EL2 uses the system registers, and EL1
/// may access `ICC_SRE_EL1` without trapping.
const ICC_SRE_EL2_SRE_ENABLE: u64 = 1 << 0 | 1 << 3;

/// `CNTHCTL_EL2`: EL1 may read the physical counter and use the physical
/// timer (EL1PCTEN, EL1PCEN).
const CNTHCTL_EL2_EL1_TIMER_ACCESS: u64 = 0b11;

/// `CPTR_EL2` with only its RES1 bits set, so FP/SIMD does not trap to EL2.
const CPTR_EL2_NO_TRAPS: u64 = 0x33ff;

/// `SPSR_EL2` for the return to EL1: EL1 using `SP_EL1`, with debug, SError,
/// IRQ and FIQ masked.
const SPSR_EL1H_ALL_MASKED: u64 = 0x3c5;

/// `CPACR_EL1.FPEN` = 0b11: FP/SIMD instructions do not trap. rustc emits
/// NEON code for aarch64-unknown-none.
const CPACR_EL1_FP_ENABLED: u64 = 0b11 << 20;

/// `MPIDR_EL1` affinity fields (Aff3, Aff2, Aff1, Aff0): all zero on the boot
/// CPU of QEMU virt.
const MPIDR_AFFINITY_MASK: u64 = 0xff_00ff_ffff;

global_asm!(
    r#"
    .section .text.boot, "ax"
    .global _start
_start:
    // The 64-byte arm64 Image header. Its first word is code: the jump past it.
    b       .Lprimary_entry             // code0
    .long   0                           // code1
    .quad   {text_offset}               // text_offset
    .quad   __image_size                // image_size, .bss included (link.ld)
    .quad   {image_flags}               // flags
    .quad   0                           // res2
    .quad   0                           // res3
    .quad   0                           // res4
    .long   {image_magic}               // magic
    .long   0                           // res5: no PE/COFF header

.Lprimary_entry:
    mov     x19, x0                     // the DTB address, kept for Rust

    // Only the boot CPU runs the kernel; any other that gets here sleeps.
    mrs     x1, mpidr_el1
    ldr     x2, ={affinity_mask}
    tst     x1, x2
    b.ne    .Lpark

    mrs     x20, CurrentEL
    lsr     x20, x20, #2                // the exception level we were entered at, for Rust
    cmp     x20, #1
    b.eq    .Lat_el1
    cmp     x20, #2
    b.ne    .Lpark                      // EL3 (QEMU -M virt,secure=on) needs firmware: unsupported

    // Entered at EL2 (QEMU -M virt,virtualization=on, or firmware on real hardware): every
    // EL2 register that decides what EL1 sees resets to an UNKNOWN value on hardware (QEMU
    // resets them sensibly), so each gets a known one before the drop to EL1, as Linux's
    // init_el2_state (arch/arm64/include/asm/el2_setup.h) does for a kernel not staying at EL2.
    ldr     x1, ={sctlr_el2}
    msr     sctlr_el2, x1               // EL2's own MMU and caches off, little-endian
    isb
    ldr     x1, ={hcr_el2}
    msr     hcr_el2, x1
    mov     x1, #{cnthctl_el2}
    msr     cnthctl_el2, x1
    msr     cntvoff_el2, xzr            // the virtual counter reads like the physical one
    mov     x1, #{cptr_el2}
    msr     cptr_el2, x1
    msr     hstr_el2, xzr               // no CP15 traps
    msr     vttbr_el2, xzr              // no stage-2 translation (HCR_EL2.VM is clear anyway)
    // EL1 reads of MIDR_EL1 and MPIDR_EL1 return these: the CPU's own values.
    mrs     x1, midr_el1
    msr     vpidr_el2, x1
    mrs     x1, mpidr_el1
    msr     vmpidr_el2, x1
    // Self-hosted debug and the PMU: nothing traps; EL1 sees every event counter
    // (HPMN = PMCR_EL0.N, when the CPU has a PMU: ID_AA64DFR0_EL1.PMUVer).
    mov     x1, xzr
    mrs     x2, id_aa64dfr0_el1
    ubfx    x2, x2, #8, #4              // PMUVer
    cbz     x2, 1f
    cmp     x2, #0xf                    // IMPLEMENTATION DEFINED PMU: leave HPMN 0
    b.eq    1f
    mrs     x1, pmcr_el0
    ubfx    x1, x1, #11, #5             // N
1:  msr     mdcr_el2, x1
    // A GICv3 CPU interface reached through system registers (ID_AA64PFR0_EL1.GIC): EL1's
    // ICC_* accesses trap to EL2 unless ICC_SRE_EL2.Enable; SRE keeps EL2 off the memory-mapped
    // interface; ICH_HCR_EL2 = 0: no virtual interrupts.
    mrs     x1, id_aa64pfr0_el1
    ubfx    x1, x1, #24, #4             // GIC
    cbz     x1, 2f
    mrs     x1, s3_4_c12_c9_5           // ICC_SRE_EL2, by encoding
    mov     x2, #{icc_sre_el2_sre_enable}
    orr     x1, x1, x2
    msr     s3_4_c12_c9_5, x1
    isb
    msr     s3_4_c12_c11_0, xzr         // ICH_HCR_EL2
2:
    ldr     x1, ={sctlr_mmu_off}
    msr     sctlr_el1, x1
    mov     x1, #{spsr_el2}
    msr     spsr_el2, x1
    adr     x1, .Lat_el1
    msr     elr_el2, x1
    eret

.Lat_el1:
    msr     daifset, #0xf               // masked until the GIC is up (interrupts.rs)

    // Faults from here on are reported on the console (exceptions.rs).
    adrp    x1, exception_vector_table
    add     x1, x1, :lo12:exception_vector_table
    msr     vbar_el1, x1

    mov     x1, #{cpacr_el1}
    msr     cpacr_el1, x1
    isb

    // The MMU (mmu.rs). TCR_EL1.IPS = the CPU's physical address size,
    // capped at what 4 KiB pages can address without FEAT_LPA2.
    ldr     x1, ={mair}
    msr     mair_el1, x1
    ldr     x1, ={tcr_without_ips}
    mrs     x2, id_aa64mmfr0_el1
    and     x2, x2, #0xf                // PARange
    mov     x3, #{max_ips}
    cmp     x2, x3
    csel    x2, x2, x3, lo
    bfi     x1, x2, #32, #3             // IPS
    msr     tcr_el1, x1
    adrp    x1, .Llevel0_table
    add     x1, x1, :lo12:.Llevel0_table
    msr     ttbr0_el1, x1
    isb
    tlbi    vmalle1                     // drop whatever the loader left in the TLB
    dsb     ish
    isb
    ldr     x1, ={sctlr_mmu_on}
    msr     sctlr_el1, x1
    isb
    ic      iallu                       // instructions fetched before now were uncached
    dsb     ish
    isb

    // Zero .bss: 16-byte aligned at both ends (link.ld).
    adrp    x1, __bss_start
    add     x1, x1, :lo12:__bss_start
    adrp    x2, __bss_end
    add     x2, x2, :lo12:__bss_end
.Lzero_bss:
    cmp     x1, x2
    b.hs    .Lbss_zeroed
    stp     xzr, xzr, [x1], #16
    b       .Lzero_bss
.Lbss_zeroed:

    adrp    x1, .Lboot_stack_top
    add     x1, x1, :lo12:.Lboot_stack_top
    mov     sp, x1

    mov     x0, x19
    mov     x1, x20
    bl      {rust_entry}                // does not return

.Lpark:
    wfe
    b       .Lpark

    // Level-0 translation table: two entries for 40-bit addresses, each
    // covering 512 GiB through a level-1 table (mmu.rs). A table this small
    // must be aligned to 64 bytes.
    .section .rodata.boot_level0_table, "a"
    .balign 64
.Llevel0_table:
    .quad   {level1_low} + {table_descriptor}
    .quad   {level1_high} + {table_descriptor}

    // The boot stack, with a guard page below it that the kernel map leaves unmapped (mmu.rs).
    .section .bss.boot_stack, "aw", %nobits
    .balign 4096
    .global __boot_stack_guard
__boot_stack_guard:
    .space  4096
    .space  {stack_size}
.Lboot_stack_top:
"#,
    text_offset = const IMAGE_TEXT_OFFSET,
    image_flags = const IMAGE_FLAGS,
    image_magic = const IMAGE_MAGIC,
    affinity_mask = const MPIDR_AFFINITY_MASK,
    sctlr_el2 = const SCTLR_EL2_MMU_OFF,
    hcr_el2 = const HCR_EL2_EL1_IS_AARCH64,
    icc_sre_el2_sre_enable = const ICC_SRE_EL2_SRE_ENABLE,
    cnthctl_el2 = const CNTHCTL_EL2_EL1_TIMER_ACCESS,
    cptr_el2 = const CPTR_EL2_NO_TRAPS,
    sctlr_mmu_off = const mmu::SCTLR_RESERVED_ONES,
    spsr_el2 = const SPSR_EL1H_ALL_MASKED,
    cpacr_el1 = const CPACR_EL1_FP_ENABLED,
    mair = const mmu::MAIR,
    tcr_without_ips = const mmu::TCR_WITHOUT_IPS,
    max_ips = const mmu::MAX_IPS,
    sctlr_mmu_on = const mmu::SCTLR_MMU_ON,
    level1_low = sym mmu::LEVEL1_LOW,
    level1_high = sym mmu::LEVEL1_HIGH,
    table_descriptor = const mmu::TABLE_DESCRIPTOR,
    stack_size = const BOOT_STACK_SIZE,
    rust_entry = sym rust_entry,
);

/// The first Rust code: runs on the boot stack, at EL1, with the MMU on and
/// .bss zeroed. `boot_el` is the exception level the loader entered us at.
extern "C" fn rust_entry(dtb_phys: usize, boot_el: u64) -> ! {
    BOOT_EL.store(boot_el, Ordering::Relaxed);
    power::select_psci_conduit(boot_el);
    crate::kernel_main(dtb_phys)
}

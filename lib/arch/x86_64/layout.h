/* SPDX-License-Identifier: BSD-3-Clause */
/* Where the VMM puts things in guest-physical memory at boot (x86_64). */
#ifndef CVM_ARCH_X86_64_LAYOUT_H
#define CVM_ARCH_X86_64_LAYOUT_H

#define X86_BOOT_GDT 0x500ULL	 /* 4 entries: null, null, code64 (0x10), data (0x18) */
#define X86_BOOT_IDT 0x520ULL	 /* an empty IDT */
#define X86_ZERO_PAGE 0x7000ULL	 /* struct boot_params */
#define X86_BOOT_STACK 0x8ff0ULL /* initial RSP/RBP */
#define X86_PML4 0x9000ULL	 /* identity page tables: PML4, */
#define X86_PDPT 0xa000ULL	 /*   one PDPT, */
#define X86_PD 0xb000ULL	 /*   four PDs of 2 MiB pages: 0..4 GiB */
#define X86_PD_COUNT 4
#define X86_CMDLINE 0x20000ULL	    /* kernel command line */
#define X86_CMDLINE_MAX 0x10000ULL  /* bytes reserved for it, NUL included */
#define X86_EBDA_START 0x9fc00ULL   /* RAM ends here in the first MiB */
#define X86_HIMEM_START 0x100000ULL /* 1 MiB: bzImage protected-mode code */
#define X86_BIOS_START 0xa0000ULL   /* VGA + BIOS area, reserved up to 1 MiB */
#define X86_ACPI_START 0xe0000ULL   /* ACPI tables, RSDP first: where Linux scans for it */
#define X86_ACPI_END 0x100000ULL    /*   (exclusive); inside the e820 reserved range */

/* The default initrd_addr_max when the kernel gives none (boot protocol < 2.03, vmlinux). */
#define X86_INITRD_ADDR_MAX_DEFAULT 0x37ffffffULL

#endif

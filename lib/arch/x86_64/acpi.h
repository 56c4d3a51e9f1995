/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * ACPI tables for an x86_64 guest (ACPI 6.4): RSDP -> XSDT -> FADT, MADT;
 * FADT -> DSDT. Distribution kernels are built without an MP-table parser
 * (CONFIG_X86_MPPARSE off), so the MADT is how Linux finds the vCPUs and
 * the IOAPIC. See docs/acpi.md for the choices.
 *
 * - FADT: hardware-reduced ACPI (no PM1/GPE blocks, no SCI, no FACS), no
 *   fixed power/sleep buttons, IA-PC boot flags (legacy devices, 8042, no
 *   VGA, RTC present or not; MSI allowed), and with an 8042 the reset
 *   register: I/O port 0x64, value 0xFE.
 * - MADT: LAPIC at 0xfee00000, PCAT_COMPAT, one enabled Processor Local
 *   APIC per vCPU (UID i, APIC id i), one IOAPIC (GSI base 0), the ISA
 *   IRQ0 -> GSI 2 override, LINT1 as NMI on all processors.
 * - DSDT: \_SB.COM1..COM4 (PNP0501), PS2K (PNP0303), RTC_ (PNP0B00) and
 *   PCI0 (PNP0A03, bus 0, config ports, I/O windows, one 32-bit MMIO
 *   window, no _PRT) as configured. Hardware-reduced Linux installs no
 *   8259 and sets up no ISA IRQs by itself: an ISA device's IRQ reaches
 *   the IOAPIC only through its _CRS here.
 */
#ifndef CVM_ARCH_X86_64_ACPI_H
#define CVM_ARCH_X86_64_ACPI_H

#include <stdbool.h>
#include <stdint.h>

#include "core/mem.h"
#include "util/err.h"

/* APIC ids are 8 bits in the MADT entries used; 0xff is the broadcast id. */
#define X86_ACPI_MAX_VCPUS 254
#define X86_ACPI_LAPIC_ADDR 0xfee00000ULL
#define X86_ACPI_NR_COM 4

struct x86_acpi_config {
	unsigned int nr_vcpus; /* 1..X86_ACPI_MAX_VCPUS; vCPU i has APIC id i, ACPI UID i */
	uint64_t ioapic_addr;  /* below 4 GiB, e.g. 0xfec00000 */
	uint32_t ioapic_id;    /* 0..255 */
	/*
	 * FADT SCI_INT: an ISA IRQ, 1..15 but not 2 (9 on a PC). Hardware-
	 * reduced ACPI has no SCI, so no override is written for it, but
	 * Linux matches override source IRQs against this field: 0 would make
	 * it take the IRQ0 override for the SCI's.
	 */
	uint16_t sci_irq;
	bool i8042;	     /* 8042 at 0x60/0x64, IRQ 1: boot flag, PS2K, reset register */
	bool rtc;	     /* MC146818 at 0x70/0x71 (no IRQ); false: "CMOS RTC not present" */
	uint8_t serial_mask; /* bit i: COM(i+1) at 0x3f8/0x2f8/0x3e8/0x2e8, IRQ 4/3/4/3 */
	/*
	 * PCI host bridge (bus 0, mechanism #1) with the MMIO window
	 * [pci_mmio_start, pci_mmio_end) below 4 GiB; pci_mmio_end 0: no PCI0.
	 * With ACPI on, Linux scans only the PCI root buses that the DSDT
	 * lists.
	 */
	uint64_t pci_mmio_start, pci_mmio_end;
	/*
	 * Power-off: the FADT's sleep control register is this I/O port (the
	 * sleep status register the next one) and the DSDT has \_S5 with
	 * SLP_TYP X86_ACPI_S5_TYPE, so the guest powers off by writing
	 * (X86_ACPI_S5_TYPE << 2) | X86_ACPI_SLP_EN there. 0: none.
	 */
	uint16_t sleep_port;
};

#define X86_ACPI_S5_TYPE 5
#define X86_ACPI_SLP_EN 0x20

/*
 * x86_setup_acpi() - write the tables into [X86_ACPI_START, X86_ACPI_END),
 * RSDP first (at X86_ACPI_START, 16-byte aligned, where Linux's scan of
 * 0xE0000-0xFFFFF finds it). The whole range is zeroed first, so no stale
 * RSDP stays behind.
 *
 * Arguments: @m guest RAM; @c the machine; @rsdp_addr receives the RSDP's
 * guest-physical address (for boot_params.acpi_rsdp_addr); @err may be NULL.
 * Returns 0; -EINVAL for a bad @c (message names the field); -EFAULT when
 * the range is not all guest RAM; -ENOSPC when the tables do not fit.
 */
int x86_setup_acpi(const struct guest_mem *m, const struct x86_acpi_config *c, uint64_t *rsdp_addr,
		   struct cvm_errbuf *err);

/*
 * x86_acpi_build() - the same into [@base, @base + @size); @base must be
 * 16-byte aligned. Outside 0xE0000-0xFFFFF a guest finds the tables only
 * through boot_params.acpi_rsdp_addr. Nothing is written on error.
 */
int x86_acpi_build(const struct guest_mem *m, const struct x86_acpi_config *c, uint64_t base,
		   uint64_t size, uint64_t *rsdp_addr, struct cvm_errbuf *err);

#endif

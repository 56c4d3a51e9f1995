// SPDX-License-Identifier: BSD-3-Clause
/* PCI configuration mechanism #1 (ports 0xcf8/0xcfc), bus 0 only. */
#include "hw.h"

#define PCI_ADDR 0xcf8
#define PCI_DATA 0xcfc

static void pci_select(uint32_t bdf, unsigned int off)
{
	outl(PCI_ADDR, 0x80000000u | bdf << 8 | (off & 0xfc));
}

uint8_t pci_read8(uint32_t bdf, unsigned int off)
{
	pci_select(bdf, off);
	return inb((uint16_t)(PCI_DATA + (off & 3)));
}

uint16_t pci_read16(uint32_t bdf, unsigned int off)
{
	pci_select(bdf, off);
	return inw((uint16_t)(PCI_DATA + (off & 2)));
}

uint32_t pci_read32(uint32_t bdf, unsigned int off)
{
	pci_select(bdf, off);
	return inl(PCI_DATA);
}

void pci_write16(uint32_t bdf, unsigned int off, uint16_t v)
{
	pci_select(bdf, off);
	outw((uint16_t)(PCI_DATA + (off & 2)), v);
}

void pci_write32(uint32_t bdf, unsigned int off, uint32_t v)
{
	pci_select(bdf, off);
	outl(PCI_DATA, v);
}

unsigned int pci_find(uint16_t vendor, uint16_t device, uint32_t *bdfs, unsigned int max)
{
	unsigned int n = 0;

	for (unsigned int slot = 0; slot < 32; slot++) {
		uint32_t id = pci_read32(PCI_BDF(0, slot, 0), 0x00);
		unsigned int nfn = 1;

		if ((id & 0xffff) == 0xffff || (id & 0xffff) == 0)
			continue;
		if (pci_read8(PCI_BDF(0, slot, 0), 0x0e) & 0x80)
			nfn = 8; /* multifunction */
		for (unsigned int fn = 0; fn < nfn; fn++) {
			uint32_t bdf = PCI_BDF(0, slot, fn);

			if (fn)
				id = pci_read32(bdf, 0x00);
			if ((id & 0xffff) == 0xffff)
				continue;
			if ((id & 0xffff) == vendor && (id >> 16) == device) {
				if (n < max)
					bdfs[n] = bdf;
				n++;
			}
		}
	}
	return n;
}

uint64_t pci_bar_addr(uint32_t bdf, unsigned int bar, char *why, size_t whylen)
{
	uint32_t lo, hi = 0;
	uint64_t a;

	if (bar > 5) {
		snprintf(why, whylen, "BAR index %u", bar);
		return 0;
	}
	lo = pci_read32(bdf, 0x10 + 4 * bar);
	if (lo & 1) {
		snprintf(why, whylen, "BAR%u is an I/O BAR (0x%08x), want memory", bar, lo);
		return 0;
	}
	if (((lo >> 1) & 3) == 2) { /* 64-bit */
		if (bar == 5) {
			snprintf(why, whylen, "BAR5 claims to be 64-bit");
			return 0;
		}
		hi = pci_read32(bdf, 0x10 + 4 * (bar + 1));
	}
	a = (uint64_t)hi << 32 | (lo & ~0xfu);
	if (!a) {
		snprintf(why, whylen, "BAR%u has no address assigned", bar);
		return 0;
	}
	return a;
}

/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * One PCI bus behind configuration mechanism #1 (ports 0xcf8 address,
 * 0xcfc-0xcff data), with a host bridge at 00:00.0 and up to 31 devices.
 *
 * Each device has a 256-byte configuration space image and a write mask;
 * guest writes change only writable bits, so BAR sizing (writing all-ones
 * and reading back the size mask) works by itself. Memory BARs (32- or
 * 64-bit) are assigned addresses in the MMIO window below 4 GiB when the
 * device is added, and registered on the MMIO bus while the device's memory
 * decoding is on; when the guest moves a BAR, its range moves with it.
 */
#ifndef CVM_DEVICES_PCI_H
#define CVM_DEVICES_PCI_H

#include <pthread.h>
#include <stdbool.h>
#include <stdint.h>

#include "core/bus.h"

#define PCI_NR_SLOTS 32
#define PCI_NR_BARS 6
#define PCI_CFG_SIZE 256
#define PCI_CONFIG_ADDR_PORT 0xcf8
#define PCI_CONFIG_DATA_PORT 0xcfc

struct pci_dev;

/*
 * INTx: pin A of the device in slot @slot (1..31) is wired to this IOAPIC
 * GSI / ISA IRQ. The ACPI _PRT says the same, so the guest finds it.
 */
static inline unsigned int pci_intx_gsi(unsigned int slot)
{
	static const unsigned char lines[4] = { 10, 11, 5, 9 };

	return lines[(slot + 3) % 4];
}

struct pci_bar {
	uint64_t size; /* 0: unused; else a power of two >= 4096 */
	bool is64;     /* takes this BAR and the next */
	uint64_t addr; /* current guest-physical address */
	bool mapped;   /* registered on the MMIO bus at addr */
	const struct cvm_io_ops *ops;
	void *opaque;
};

struct pci_dev_ops {
	/* After the bus applied a config write (offset/len as the guest wrote them). */
	void (*cfg_written)(struct pci_dev *d, uint32_t off, uint32_t len);
	/* A BAR's mapping changed: @old/@new addresses, 0 for "not mapped". */
	void (*bar_moved)(struct pci_dev *d, unsigned int bar, uint64_t old, uint64_t new);
};

struct pci_dev {
	uint8_t cfg[PCI_CFG_SIZE];
	uint8_t wmask[PCI_CFG_SIZE]; /* writable bits */
	uint8_t w1c[PCI_CFG_SIZE];   /* write-1-to-clear bits (status register) */
	struct pci_bar bars[PCI_NR_BARS];
	const struct pci_dev_ops *ops;
	void *opaque;
	const char *name;
	unsigned int slot;
	struct pci_bus *bus;
	uint8_t next_cap; /* where pci_add_cap puts the next capability */
};

struct pci_bus {
	pthread_mutex_t lock; /* config accesses and BAR moves */
	struct cvm_bus *mmio;
	uint32_t config_addr;		       /* the 0xcf8 register */
	uint64_t win_start, win_end, win_next; /* MMIO window for BARs */
	struct pci_dev bridge;
	struct pci_dev *devs[PCI_NR_SLOTS];
};

int pci_bus_init(struct pci_bus *bus, struct cvm_bus *mmio, uint64_t win_start, uint64_t win_end);
void pci_bus_destroy(struct pci_bus *bus);

/* Ops for the PIO bus: 0xcf8 (4 bytes) and 0xcfc (4 bytes), opaque = the pci_bus. */
extern const struct cvm_io_ops pci_config_addr_ops;
extern const struct cvm_io_ops pci_config_data_ops;

/*
 * pci_dev_init() - a type-0 header with the IDs and class; status has the
 * capability list bit once a capability is added.
 */
void pci_dev_init(struct pci_dev *d, uint16_t vendor, uint16_t device, uint32_t class_rev,
		  uint16_t subsys_vendor, uint16_t subsys_id);

/* Declare BAR @bar (memory, size a power of two); its MMIO goes to @ops/@opaque. */
int pci_dev_set_bar(struct pci_dev *d, unsigned int bar, uint64_t size, bool is64,
		    const struct cvm_io_ops *ops, void *opaque);

/*
 * pci_add_cap() - append a capability of @len bytes (ID and next pointer
 * filled in) and return its offset in config space, or 0 if it does not fit.
 * The caller fills the body and sets its wmask bytes.
 */
uint8_t pci_add_cap(struct pci_dev *d, uint8_t id, uint8_t len);

/* pci_add_device() - put @d in the first free slot, assign BAR addresses, map them. */
int pci_add_device(struct pci_bus *bus, struct pci_dev *d);

/* Little-endian config space accessors for device code. */
static inline uint32_t pci_cfg_read(const struct pci_dev *d, uint32_t off, uint32_t len)
{
	uint32_t v = 0;

	for (uint32_t i = 0; i < len && off + i < PCI_CFG_SIZE; i++)
		v |= (uint32_t)d->cfg[off + i] << (8 * i);
	return v;
}

static inline void pci_cfg_set(struct pci_dev *d, uint32_t off, uint32_t len, uint32_t v)
{
	for (uint32_t i = 0; i < len && off + i < PCI_CFG_SIZE; i++)
		d->cfg[off + i] = (uint8_t)(v >> (8 * i));
}

static inline void pci_wmask_set(struct pci_dev *d, uint32_t off, uint32_t len, uint32_t mask)
{
	for (uint32_t i = 0; i < len && off + i < PCI_CFG_SIZE; i++)
		d->wmask[off + i] = (uint8_t)(mask >> (8 * i));
}

/* For tests and device code: a guest config access to device @slot. */
uint32_t pci_config_read(struct pci_bus *bus, unsigned int slot, uint32_t off, uint32_t len);
void pci_config_write(struct pci_bus *bus, unsigned int slot, uint32_t off, uint32_t len,
		      uint32_t val);

#endif

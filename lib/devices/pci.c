// SPDX-License-Identifier: BSD-3-Clause
/* The PCI bus: configuration mechanism #1, config space images, BAR mapping. */
#include "devices/pci.h"

#include <errno.h>
#include <string.h>

#define PCI_VENDOR_ID 0x00
#define PCI_COMMAND 0x04
#define PCI_STATUS 0x06
#define PCI_CLASS_REV 0x08
#define PCI_HEADER_TYPE 0x0e
#define PCI_BAR0 0x10
#define PCI_SUBSYS_VENDOR 0x2c
#define PCI_CAP_PTR 0x34
#define PCI_INTERRUPT_LINE 0x3c
#define PCI_FIRST_CAP 0x40

#define PCI_COMMAND_MEMORY 0x2
#define PCI_COMMAND_MASTER 0x4
#define PCI_COMMAND_INTX_DISABLE 0x400
#define PCI_STATUS_CAP_LIST 0x10
#define PCI_BAR_MEM_64 0x4

/* The host bridge: Red Hat's generic PCIe host bridge IDs, which need no quirks. */
#define BRIDGE_VENDOR 0x1b36
#define BRIDGE_DEVICE 0x0008

void pci_dev_init(struct pci_dev *d, uint16_t vendor, uint16_t device, uint32_t class_rev,
		  uint16_t subsys_vendor, uint16_t subsys_id)
{
	memset(d->cfg, 0, sizeof(d->cfg));
	memset(d->wmask, 0, sizeof(d->wmask));
	memset(d->w1c, 0, sizeof(d->w1c));
	memset(d->bars, 0, sizeof(d->bars));
	pci_cfg_set(d, PCI_VENDOR_ID, 2, vendor);
	pci_cfg_set(d, PCI_VENDOR_ID + 2, 2, device);
	pci_cfg_set(d, PCI_CLASS_REV, 4, class_rev);
	pci_cfg_set(d, PCI_SUBSYS_VENDOR, 2, subsys_vendor);
	pci_cfg_set(d, PCI_SUBSYS_VENDOR + 2, 2, subsys_id);
	pci_wmask_set(d, PCI_COMMAND, 2,
		      PCI_COMMAND_MEMORY | PCI_COMMAND_MASTER | PCI_COMMAND_INTX_DISABLE);
	d->w1c[PCI_STATUS + 1] = 0xf9; /* error bits */
	d->wmask[PCI_INTERRUPT_LINE] = 0xff;
	d->next_cap = PCI_FIRST_CAP;
}

int pci_dev_set_bar(struct pci_dev *d, unsigned int bar, uint64_t size, bool is64,
		    const struct cvm_io_ops *ops, void *opaque)
{
	if (bar >= PCI_NR_BARS || (is64 && bar + 1 >= PCI_NR_BARS) || size < 4096 ||
	    (size & (size - 1)) || size > (1ULL << 31))
		return -EINVAL;
	d->bars[bar] = (struct pci_bar){ .size = size, .is64 = is64, .ops = ops, .opaque = opaque };
	pci_cfg_set(d, PCI_BAR0 + 4 * bar, 4, is64 ? PCI_BAR_MEM_64 : 0);
	pci_wmask_set(d, PCI_BAR0 + 4 * bar, 4, (uint32_t) ~(size - 1) & 0xfffffff0u);
	if (is64)
		pci_wmask_set(d, PCI_BAR0 + 4 * (bar + 1), 4, 0xffffffffu);
	return 0;
}

uint8_t pci_add_cap(struct pci_dev *d, uint8_t id, uint8_t len)
{
	uint8_t off = d->next_cap;

	if (len < 2 || off + len > PCI_CFG_SIZE)
		return 0;
	d->cfg[off] = id;
	d->cfg[off + 1] = 0;
	/* Link it at the end of the list. */
	if (!d->cfg[PCI_CAP_PTR]) {
		d->cfg[PCI_CAP_PTR] = off;
	} else {
		uint8_t p = d->cfg[PCI_CAP_PTR];

		while (d->cfg[p + 1])
			p = d->cfg[p + 1];
		d->cfg[p + 1] = off;
	}
	d->cfg[PCI_STATUS] |= PCI_STATUS_CAP_LIST;
	d->next_cap = (uint8_t)((off + len + 3) & ~3);
	return off;
}

static uint64_t bar_addr(const struct pci_dev *d, unsigned int bar)
{
	uint64_t a = pci_cfg_read(d, PCI_BAR0 + 4 * bar, 4) & ~0xfULL;

	if (d->bars[bar].is64)
		a |= (uint64_t)pci_cfg_read(d, PCI_BAR0 + 4 * (bar + 1), 4) << 32;
	return a;
}

/*
 * Map each BAR where the guest put it, while memory decoding is on. An
 * address that is 0, wraps, or overlaps another device stays unmapped: the
 * guest gets all-ones there, as on real hardware with a bad assignment.
 */
static void update_bars(struct pci_dev *d)
{
	bool decode = pci_cfg_read(d, PCI_COMMAND, 2) & PCI_COMMAND_MEMORY;

	for (unsigned int i = 0; i < PCI_NR_BARS; i++) {
		struct pci_bar *b = &d->bars[i];
		uint64_t addr = bar_addr(d, i), old = b->mapped ? b->addr : 0;
		bool want = decode && b->size && addr && addr + b->size > addr;

		if (!b->size)
			continue;
		if (b->mapped && (!want || addr != b->addr)) {
			bus_unregister(d->bus->mmio, b->addr, b->opaque);
			b->mapped = false;
		}
		if (want && !b->mapped &&
		    bus_register(d->bus->mmio, addr, b->size, b->ops, b->opaque, d->name) == 0) {
			b->mapped = true;
			b->addr = addr;
		}
		uint64_t now = b->mapped ? b->addr : 0;

		if (now != old && d->ops && d->ops->bar_moved)
			d->ops->bar_moved(d, i, old, now);
		if (b->is64)
			i++;
	}
}

static void dev_write(struct pci_dev *d, uint32_t off, uint32_t len, uint32_t val)
{
	for (uint32_t i = 0; i < len && off + i < PCI_CFG_SIZE; i++) {
		uint8_t b = (uint8_t)(val >> (8 * i)), m = d->wmask[off + i];

		d->cfg[off + i] = (uint8_t)((d->cfg[off + i] & ~m) | (b & m));
		d->cfg[off + i] &= (uint8_t) ~(b & d->w1c[off + i]);
	}
	if ((off < PCI_COMMAND + 2 && off + len > PCI_COMMAND) ||
	    (off < PCI_BAR0 + 24 && off + len > PCI_BAR0))
		update_bars(d);
	if (d->ops && d->ops->cfg_written)
		d->ops->cfg_written(d, off, len);
}

static struct pci_dev *slot_dev(struct pci_bus *bus, unsigned int slot)
{
	return slot < PCI_NR_SLOTS ? bus->devs[slot] : NULL;
}

uint32_t pci_config_read(struct pci_bus *bus, unsigned int slot, uint32_t off, uint32_t len)
{
	struct pci_dev *d;
	uint32_t v;

	if (len == 0 || len > 4 || off >= PCI_CFG_SIZE || off + len > PCI_CFG_SIZE)
		return 0xffffffffu;
	pthread_mutex_lock(&bus->lock);
	d = slot_dev(bus, slot);
	v = d ? pci_cfg_read(d, off, len) : 0xffffffffu;
	pthread_mutex_unlock(&bus->lock);
	return v;
}

void pci_config_write(struct pci_bus *bus, unsigned int slot, uint32_t off, uint32_t len,
		      uint32_t val)
{
	struct pci_dev *d;

	if (len == 0 || len > 4 || off >= PCI_CFG_SIZE || off + len > PCI_CFG_SIZE)
		return;
	pthread_mutex_lock(&bus->lock);
	d = slot_dev(bus, slot);
	if (d)
		dev_write(d, off, len, val);
	pthread_mutex_unlock(&bus->lock);
}

static void addr_read(void *opaque, uint64_t off, uint8_t *data, uint32_t len)
{
	struct pci_bus *bus = opaque;
	uint32_t v;

	pthread_mutex_lock(&bus->lock);
	v = bus->config_addr;
	pthread_mutex_unlock(&bus->lock);
	for (uint32_t i = 0; i < len; i++)
		data[i] = off + i < 4 ? (uint8_t)(v >> (8 * (off + i))) : 0xff;
}

static void addr_write(void *opaque, uint64_t off, const uint8_t *data, uint32_t len)
{
	struct pci_bus *bus = opaque;

	/* Only whole-register writes select a config address (byte writes to 0xcf8 are not ours). */
	if (off != 0 || len != 4)
		return;
	pthread_mutex_lock(&bus->lock);
	bus->config_addr = (uint32_t)data[0] | (uint32_t)data[1] << 8 | (uint32_t)data[2] << 16 |
			   (uint32_t)data[3] << 24;
	bus->config_addr &= 0x80fffffcu;
	pthread_mutex_unlock(&bus->lock);
}

/* Decode 0xcf8: -1 when disabled, or not bus 0 function 0. */
static int decode_slot(uint32_t a, uint32_t *reg)
{
	if (!(a & 0x80000000u) || ((a >> 16) & 0xff) || ((a >> 8) & 7))
		return -1;
	*reg = a & 0xfc;
	return (int)((a >> 11) & 0x1f);
}

static void data_read(void *opaque, uint64_t off, uint8_t *data, uint32_t len)
{
	struct pci_bus *bus = opaque;
	uint32_t reg, v = 0xffffffffu;
	int slot;

	pthread_mutex_lock(&bus->lock);
	slot = decode_slot(bus->config_addr, &reg);
	pthread_mutex_unlock(&bus->lock);
	if (slot >= 0 && off + len <= 4)
		v = pci_config_read(bus, (unsigned int)slot, reg + (uint32_t)off, len);
	for (uint32_t i = 0; i < len; i++)
		data[i] = (uint8_t)(v >> (8 * (i & 3)));
}

static void data_write(void *opaque, uint64_t off, const uint8_t *data, uint32_t len)
{
	struct pci_bus *bus = opaque;
	uint32_t reg, v = 0;
	int slot;

	if (off + len > 4)
		return;
	for (uint32_t i = 0; i < len; i++)
		v |= (uint32_t)data[i] << (8 * i);
	pthread_mutex_lock(&bus->lock);
	slot = decode_slot(bus->config_addr, &reg);
	pthread_mutex_unlock(&bus->lock);
	if (slot >= 0)
		pci_config_write(bus, (unsigned int)slot, reg + (uint32_t)off, len, v);
}

const struct cvm_io_ops pci_config_addr_ops = { .read = addr_read, .write = addr_write };
const struct cvm_io_ops pci_config_data_ops = { .read = data_read, .write = data_write };

int pci_bus_init(struct pci_bus *bus, struct cvm_bus *mmio, uint64_t win_start, uint64_t win_end)
{
	memset(bus, 0, sizeof(*bus));
	pthread_mutex_init(&bus->lock, NULL);
	bus->mmio = mmio;
	bus->win_start = bus->win_next = win_start;
	bus->win_end = win_end;
	pci_dev_init(&bus->bridge, BRIDGE_VENDOR, BRIDGE_DEVICE, 0x06000000, 0, 0);
	bus->bridge.name = "host-bridge";
	bus->bridge.bus = bus;
	bus->devs[0] = &bus->bridge;
	return 0;
}

void pci_bus_destroy(struct pci_bus *bus)
{
	pthread_mutex_destroy(&bus->lock);
}

int pci_add_device(struct pci_bus *bus, struct pci_dev *d)
{
	unsigned int slot;
	int rc = 0;

	pthread_mutex_lock(&bus->lock);
	for (slot = 1; slot < PCI_NR_SLOTS && bus->devs[slot]; slot++)
		;
	if (slot == PCI_NR_SLOTS) {
		rc = -ENOSPC;
		goto out;
	}
	/* Assign BARs, largest alignment first is not needed: each is size-aligned. */
	uint64_t next = bus->win_next;

	for (unsigned int i = 0; i < PCI_NR_BARS; i++) {
		struct pci_bar *b = &d->bars[i];

		if (!b->size)
			continue;
		next = (next + b->size - 1) & ~(b->size - 1);
		if (next + b->size > bus->win_end) {
			rc = -ENOSPC;
			goto out;
		}
		pci_cfg_set(d, PCI_BAR0 + 4 * i, 4,
			    (uint32_t)next | (pci_cfg_read(d, PCI_BAR0 + 4 * i, 4) & 0xf));
		if (b->is64)
			pci_cfg_set(d, PCI_BAR0 + 4 * (i + 1), 4, (uint32_t)(next >> 32));
		next += b->size;
		if (b->is64)
			i++;
	}
	bus->win_next = next;
	d->slot = slot;
	d->bus = bus;
	if (d->cfg[0x3d]) /* an interrupt pin: say where it is wired */
		d->cfg[0x3c] = (uint8_t)pci_intx_gsi(slot);
	bus->devs[slot] = d;
	update_bars(d);
out:
	pthread_mutex_unlock(&bus->lock);
	return rc;
}

// SPDX-License-Identifier: BSD-3-Clause
/* PCI configuration space and BAR mapping; MSI-X table, mask and pending bits. */
#include <criterion/criterion.h>
#include <errno.h>
#include <fcntl.h>
#include <string.h>
#include <sys/ioctl.h>
#include <unistd.h>

#include <linux/kvm.h>

#include "devices/msix.h"
#include "devices/pci.h"
#include "test_util_kvm.h"

struct rec {
	int reads, writes;
	uint64_t off;
	unsigned int moves;
	uint64_t moved_old, moved_new;
};

static void rd(void *o, uint64_t off, uint8_t *d, uint32_t len)
{
	struct rec *r = o;

	r->reads++;
	r->off = off;
	memset(d, 0xab, len);
}

static void wr(void *o, uint64_t off, const uint8_t *d, uint32_t len)
{
	struct rec *r = o;

	(void)d;
	(void)len;
	r->writes++;
	r->off = off;
}

static const struct cvm_io_ops rec_ops = { .read = rd, .write = wr };

static void moved(struct pci_dev *d, unsigned int bar, uint64_t old, uint64_t new)
{
	struct rec *r = d->opaque;

	(void)bar;
	r->moves++;
	r->moved_old = old;
	r->moved_new = new;
}

static const struct pci_dev_ops dev_ops = { .bar_moved = moved };

static struct cvm_bus mmio;
static struct pci_bus pci;
static struct pci_dev dev;
static struct rec rec;

static void setup(void)
{
	memset(&rec, 0, sizeof(rec));
	bus_init(&mmio);
	pci_bus_init(&pci, &mmio, 0xc0000000, 0xfec00000);
	pci_dev_init(&dev, 0x1af4, 0x1042, 0x01800001, 0x1af4, 0x1042);
	dev.ops = &dev_ops;
	dev.opaque = &rec;
	dev.name = "test";
	cr_assert_eq(pci_dev_set_bar(&dev, 0, 0x8000, true, &rec_ops, &rec), 0);
	cr_assert_eq(pci_dev_set_bar(&dev, 2, 0x1000, false, &rec_ops, &rec), 0);
	cr_assert_eq(pci_add_device(&pci, &dev), 0);
}

static void teardown(void)
{
	pci_bus_destroy(&pci);
	bus_destroy(&mmio);
}

TestSuite(pci, .init = setup, .fini = teardown);

/* A config access through ports 0xcf8/0xcfc, as a guest does it. */
static uint32_t cfg_rd(unsigned int slot, unsigned int fn, uint32_t reg, uint32_t len)
{
	uint32_t a = 0x80000000u | slot << 11 | fn << 8 | (reg & 0xfc), v = 0;
	uint8_t b[4];

	pci_config_addr_ops.write(&pci, 0, (uint8_t *)&a, 4);
	pci_config_data_ops.read(&pci, reg & 3, b, len);
	memcpy(&v, b, len);
	return v;
}

static void cfg_wr(unsigned int slot, uint32_t reg, uint32_t len, uint32_t v)
{
	uint32_t a = 0x80000000u | slot << 11 | (reg & 0xfc);

	pci_config_addr_ops.write(&pci, 0, (uint8_t *)&a, 4);
	pci_config_data_ops.write(&pci, reg & 3, (uint8_t *)&v, len);
}

Test(pci, ids_and_empty_slots)
{
	cr_assert_eq(cfg_rd(0, 0, 0, 4), 0x00081b36, "host bridge");
	cr_assert_eq(cfg_rd(0, 0, 0x0a, 2), 0x0600, "class: host bridge");
	cr_assert_eq(cfg_rd(1, 0, 0, 4), 0x10421af4);
	cr_assert_eq(cfg_rd(1, 0, 0x08, 1), 0x01, "revision");
	cr_assert_eq(cfg_rd(2, 0, 0, 4), 0xffffffff, "empty slot");
	cr_assert_eq(cfg_rd(1, 3, 0, 4), 0xffffffff, "function 3 does not exist");
	cr_assert_eq(cfg_rd(1, 0, 0x02, 2), 0x1042, "16-bit read at offset 2");
	/* Without the enable bit nothing is selected. */
	uint32_t a = 1 << 11;
	uint8_t b[4];

	pci_config_addr_ops.write(&pci, 0, (uint8_t *)&a, 4);
	pci_config_data_ops.read(&pci, 0, b, 4);
	cr_assert_eq(b[0], 0xff);
}

Test(pci, read_only_fields_stay)
{
	cfg_wr(1, 0, 4, 0x12345678);
	cr_assert_eq(cfg_rd(1, 0, 0, 4), 0x10421af4);
	cfg_wr(1, 0x08, 4, 0);
	cr_assert_eq(cfg_rd(1, 0, 0x08, 4), 0x01800001);
	cfg_wr(1, 0x3c, 1, 0x0b); /* interrupt line is writable */
	cr_assert_eq(cfg_rd(1, 0, 0x3c, 1), 0x0b);
}

Test(pci, bars_assigned_aligned_and_sized)
{
	uint32_t lo = cfg_rd(1, 0, 0x10, 4), hi = cfg_rd(1, 0, 0x14, 4), b2 = cfg_rd(1, 0, 0x18, 4);

	cr_assert_eq(lo & 0xf, 0x4, "64-bit memory BAR");
	cr_assert_eq(hi, 0);
	cr_assert_geq(lo & ~0xfu, 0xc0000000u);
	cr_assert_eq((lo & ~0xfu) % 0x8000, 0, "aligned to its size");
	cr_assert_eq(b2 % 0x1000, 0);
	cr_assert_neq(b2, lo & ~0xfu);
	/* Sizing: all-ones reads back the size mask and the type bits. */
	cfg_wr(1, 0x10, 4, 0xffffffff);
	cfg_wr(1, 0x14, 4, 0xffffffff);
	cr_assert_eq(cfg_rd(1, 0, 0x10, 4), 0xffff8004);
	cr_assert_eq(cfg_rd(1, 0, 0x14, 4), 0xffffffff);
	cfg_wr(1, 0x18, 4, 0xffffffff);
	cr_assert_eq(cfg_rd(1, 0, 0x18, 4), 0xfffff000);
	/* Unused BARs read 0 and stay 0. */
	cfg_wr(1, 0x1c, 4, 0xffffffff);
	cr_assert_eq(cfg_rd(1, 0, 0x1c, 4), 0);
}

Test(pci, mapped_only_while_decoding)
{
	uint64_t addr = cfg_rd(1, 0, 0x10, 4) & ~0xfu;
	uint8_t v;

	cr_assert_eq(bus_read(&mmio, addr + 0x10, &v, 1), -ENOENT, "memory decoding is off");
	cfg_wr(1, 0x04, 2, 0x0006); /* memory + bus master */
	cr_assert_eq(cfg_rd(1, 0, 0x04, 2), 0x0006);
	cr_assert_eq(bus_read(&mmio, addr + 0x10, &v, 1), 0);
	cr_assert_eq(rec.off, 0x10, "offset relative to the BAR");
	cr_assert_eq(rec.moves, 2, "both BARs reported mapped");
	cfg_wr(1, 0x04, 2, 0);
	cr_assert_eq(bus_read(&mmio, addr + 0x10, &v, 1), -ENOENT);
}

Test(pci, guest_moves_a_bar)
{
	uint64_t old = cfg_rd(1, 0, 0x10, 4) & ~0xfu;
	uint8_t v;

	cfg_wr(1, 0x04, 2, 0x0002);
	cfg_wr(1, 0x10, 4, 0xd0000000);
	cr_assert_eq(rec.moved_old, old);
	cr_assert_eq(rec.moved_new, 0xd0000000);
	cr_assert_eq(bus_read(&mmio, old, &v, 1), -ENOENT, "old place unmapped");
	cr_assert_eq(bus_read(&mmio, 0xd0000000 + 0x7fff, &v, 1), 0, "new place mapped");
	/* An address that would overlap the other BAR stays unmapped. */
	uint64_t b2 = cfg_rd(1, 0, 0x18, 4);

	cfg_wr(1, 0x10, 4, (uint32_t)b2 & ~0x7fffu);
	cr_assert_eq(rec.moved_new, 0, "overlapping address: not mapped");
}

Test(pci, status_error_bits_write_one_to_clear)
{
	dev.cfg[0x07] = 0x80; /* pretend a parity error was recorded */
	cfg_wr(1, 0x06, 2, 0x8000);
	cr_assert_eq(cfg_rd(1, 0, 0x06, 2) & 0x8000, 0);
}

Test(pci, capability_chain)
{
	uint8_t a = pci_add_cap(&dev, 0x09, 16), b = pci_add_cap(&dev, 0x11, 12);

	cr_assert_eq(a, 0x40);
	cr_assert_eq(b, 0x50);
	cr_assert(cfg_rd(1, 0, 0x06, 2) & 0x10, "capability list bit");
	cr_assert_eq(cfg_rd(1, 0, 0x34, 1), 0x40);
	cr_assert_eq(cfg_rd(1, 0, 0x41, 1), 0x50);
	cr_assert_eq(cfg_rd(1, 0, 0x51, 1), 0);
	cr_assert_eq(pci_add_cap(&dev, 0x09, 250), 0, "does not fit");
}

Test(pci, odd_accesses_are_harmless)
{
	uint8_t b[8];

	pci_config_data_ops.read(&pci, 2, b, 4); /* straddles the data port */
	cr_assert_eq(b[0], 0xff);
	cr_assert_eq(pci_config_read(&pci, 1, 0xfe, 4), 0xffffffff);
	pci_config_write(&pci, 40, 0, 4, 0);
	pci_config_write(&pci, 1, 0x100, 4, 0);
}

static void tw(struct msix *x, uint64_t off, uint32_t v)
{
	msix_table_write(x, off, (uint8_t *)&v, 4);
}

static uint32_t tr(struct msix *x, uint64_t off)
{
	uint32_t v;

	msix_table_read(x, off, (uint8_t *)&v, 4);
	return v;
}

Test(pci, msix_table_mask_and_pending)
{
	int vmfd = tu_kvm_vm();
	struct irq_router r;
	struct msix x;
	uint8_t pba;

	irq_router_init(&r, vmfd);
	cr_assert_eq(msix_init(&x, &dev, &r, 3, 0, 0x4000, 0x5000), 0);
	uint8_t cap = x.cap;

	cr_assert_eq(pci_cfg_read(&dev, cap, 1), 0x11);
	cr_assert_eq(pci_cfg_read(&dev, cap + 2, 2), 2, "table size - 1");
	cr_assert_eq(pci_cfg_read(&dev, cap + 4, 4), 0x4000);
	cr_assert_eq(tr(&x, 12), 1, "vectors start masked");
	cr_assert_not(msix_notify(&x, 0), "MSI-X is off");

	tw(&x, 16, 0xfee00000);
	tw(&x, 20, 0);
	tw(&x, 24, 0x41);
	cr_assert_eq(tr(&x, 16), 0xfee00000);
	cr_assert_eq(tr(&x, 24), 0x41);
	tw(&x, 28, 0xfffffffe); /* reserved control bits are ignored */
	cr_assert_eq(tr(&x, 28), 0);
	tw(&x, 28, 1);

	/* Enable through config space, as the guest does. */
	pci_cfg_set(&dev, cap + 2, 2, 0x8000 | 2);
	msix_cfg_written(&x, cap + 2, 2);
	cr_assert(msix_enabled(&x));
	cr_assert(msix_notify(&x, 1));
	msix_pba_read(&x, 0, &pba, 1);
	cr_assert_eq(pba, 0x2, "masked vector 1 is pending");
	tw(&x, 28, 0); /* unmask: delivered, no longer pending */
	msix_pba_read(&x, 0, &pba, 1);
	cr_assert_eq(pba, 0);
	cr_assert(msix_notify(&x, 1));
	msix_pba_read(&x, 0, &pba, 1);
	cr_assert_eq(pba, 0, "unmasked: sent at once");
	/* Function mask holds every vector. */
	pci_cfg_set(&dev, cap + 2, 2, 0xc000 | 2);
	msix_cfg_written(&x, cap + 2, 2);
	cr_assert(msix_notify(&x, 1));
	msix_pba_read(&x, 0, &pba, 1);
	cr_assert_eq(pba, 0x2);

	/* Out of range and odd accesses. */
	cr_assert_not(msix_notify(&x, 3));
	cr_assert_eq(tr(&x, 3 * 16), 0xffffffff);
	uint16_t h = 0x1234;

	msix_table_write(&x, 16, (uint8_t *)&h, 2);
	cr_assert_eq(tr(&x, 16), 0xfee00000, "2-byte writes are ignored");
	msix_destroy(&x);
	irq_router_destroy(&r);
	close(vmfd);
}

Test(pci, msix_garbage_address_refused)
{
	int vmfd = tu_kvm_vm();
	struct irq_router r;
	int gsi;

	irq_router_init(&r, vmfd);
	gsi = irq_alloc_msi_gsi(&r);
	cr_assert_geq(gsi, IRQ_NR_LEGACY_GSI);
	cr_assert_eq(irq_set_msi_route(&r, gsi, true, 0x12345678, 0x30), -EINVAL);
	cr_assert_eq(irq_set_msi_route(&r, gsi, true, 0xfee01000, 0x30), 0);
	cr_assert_eq(irq_set_msi_route(&r, 5, true, 0xfee00000, 0x30), -EINVAL, "legacy GSI");
	irq_free_msi_gsi(&r, gsi);
	cr_assert_eq(irq_set_msi_route(&r, gsi, true, 0xfee00000, 0x30), -EINVAL, "freed");
	irq_router_destroy(&r);
	close(vmfd);
}

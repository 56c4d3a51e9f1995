// SPDX-License-Identifier: BSD-3-Clause
/*
 * The transport's registers, abused:
 *
 *   evil_regs (blk, rng, vsock): queue_size writes of 0, 3, 255, 0xffff and
 *	above the maximum are refused (the register keeps a power of two no
 *	larger than the maximum) and the queue then works with a size of 8;
 *	registers of queue indexes beyond num_queues read 0 and change
 *	nothing; a request published and kicked before DRIVER_OK is not
 *	touched until DRIVER_OK; kicks of a queue that is not enabled, beyond
 *	num_queues, and of other widths; features never offered are refused
 *	(FEATURES_OK does not stick); rings outside RAM, or misaligned, put the
 *	device in DEVICE_NEEDS_RESET at DRIVER_OK; MSI-X vector registers
 *	written beyond the table read back VIRTIO_MSI_NO_VECTOR (0xffff).
 *   evil_msix (blk): MSI-X table and PBA accesses beyond the table and of
 *	odd widths; a vector with a garbage address; storms of vector and
 *	function mask toggles while requests complete; then a masked vector
 *	must show its pending bit in the PBA and deliver once unmasked.
 *
 * Every device must work afterwards; lines "EVIL <device> <what>: ok".
 */
#include "t_evil.h"

#define CC(f) offsetof(struct virtio_pci_common_cfg, f)
#define MSIX_VEC 0x40

static uint8_t rbuf[EV_SECTOR] __attribute__((aligned(4096)));

static uint16_t rd16(struct edev *e, size_t off)
{
	return mmio_read16(e->d.common + off);
}

static void wr16(struct edev *e, size_t off, uint16_t v)
{
	mmio_write16(e->d.common + off, v);
}

/* Reset and negotiate, without queues. */
static int start(const char *t, struct edev *e)
{
	e->d.nvqs = 0;
	if (vdev_negotiate(&e->d, e->want, 0)) {
		fail(t, "%s: %s", e->name, virtio_err);
		return -1;
	}
	return 0;
}

static int queue_sizes(const char *t, struct edev *e)
{
	static const uint16_t bad[] = { 0, 3, 255, 257, 0x7fff, 0xffff, 1000 };
	uint16_t max, got;

	if (start(t, e))
		return -1;
	wr16(e, CC(queue_select), 0);
	max = rd16(e, CC(queue_size));
	for (unsigned int i = 0; i < ARRAY_SIZE(bad); i++) {
		wr16(e, CC(queue_size), bad[i]);
		got = rd16(e, CC(queue_size));
		if (!got || got > max || (got & (got - 1))) {
			fail(t, "%s: queue_size reads %u after writing %u (max %u)", e->name, got,
			     bad[i], max);
			return -1;
		}
	}
	wr16(e, CC(queue_size), (uint16_t)(max * 2));
	if (rd16(e, CC(queue_size)) == max * 2) {
		fail(t, "%s: queue_size took %u, above its maximum %u", e->name, max * 2, max);
		return -1;
	}
	for (unsigned int i = 0; i < e->nq; i++) {
		if (ev_setup_vq(e, i, 8)) {
			fail(t, "%s: %s", e->name, virtio_err);
			return -1;
		}
	}
	if (vdev_driver_ok(&e->d)) {
		fail(t, "%s: %s", e->name, virtio_err);
		return -1;
	}
	if (e->kind == EV_VSOCK)
		e->cid = vdev_cfg64(&e->d, 0);
	return ev_use(t, e, "queues of 8 after bad queue_size writes");
}

/* Registers of queues that do not exist, then the real ones must be untouched. */
static int ghost_queues(const char *t, struct edev *e)
{
	uint16_t sel[] = { e->d.num_queues, (uint16_t)(e->d.num_queues + 1), 0x7fff, 0xffff };

	if (start(t, e))
		return -1;
	for (unsigned int i = 0; i < ARRAY_SIZE(sel); i++) {
		wr16(e, CC(queue_select), sel[i]);
		wr16(e, CC(queue_size), 4);
		mmio_write32(e->d.common + CC(queue_desc_lo), 0x1000);
		wr16(e, CC(queue_msix_vector), 0);
		wr16(e, CC(queue_enable), 1);
		if (rd16(e, CC(queue_size)) || rd16(e, CC(queue_enable)) ||
		    mmio_read32(e->d.common + CC(queue_desc_lo))) {
			fail(t, "%s: queue %u (of %u) has registers", e->name, sel[i],
			     e->d.num_queues);
			return -1;
		}
	}
	wr16(e, CC(queue_select), 0);
	if (rd16(e, CC(queue_enable)) || mmio_read32(e->d.common + CC(queue_desc_lo))) {
		fail(t, "%s: queue 0 changed by writes to other queue indexes", e->name);
		return -1;
	}
	return ev_open(t, e) || ev_use(t, e, "after ghost queue registers") ? -1 : 0;
}

/* A request kicked before DRIVER_OK: untouched until then, served after. */
static int early_kick(const char *t, struct edev *e)
{
	struct vq *q = &e->d.vqs[0];
	struct vq_buf v = { rbuf, 64, true };
	uint32_t id, len;

	if (e->kind != EV_RNG)
		return 0;
	if (start(t, e) || ev_setup_vq(e, 0, 0)) {
		fail(t, "%s: %s", e->name, virtio_err);
		return -1;
	}
	vq_add(q, &v, 1, false, false);
	if (!ev_wait_used(q, &id, &len, 20000)) {
		fail(t, "%s: a buffer was used before DRIVER_OK", e->name);
		return -1;
	}
	if (vdev_driver_ok(&e->d)) {
		fail(t, "%s: %s", e->name, virtio_err);
		return -1;
	}
	if (ev_wait_used(q, &id, &len, 2000000) || len != 64) {
		fail(t, "%s: the buffer made available before DRIVER_OK was not served after it",
		     e->name);
		return -1;
	}
	return ev_use(t, e, "after a kick before DRIVER_OK");
}

/* Kicks of disabled queues, queues beyond num_queues, odd widths and values. */
static int stray_kicks(const char *t, struct edev *e)
{
	struct vdev *d = &e->d;

	if (ev_open(t, e))
		return -1;
	for (unsigned int q = e->nq; q < d->num_queues + 8u; q++) {
		uintptr_t a = d->notify_base + (uintptr_t)q * d->notify_mult;

		mmio_write16(a, (uint16_t)q);
		mmio_write32(a, 0xffffffffu);
		mmio_write8(a + 1, 0xff);
	}
	mmio_write16(d->vqs[0].notify, 0x7fff);
	mmio_write32(d->vqs[0].notify, 0);
	mmio_write8(d->vqs[0].notify, 0);
	return ev_use(t, e, "after stray kicks");
}

/* Features the device never offered: FEATURES_OK must not stick. */
static int bad_features(const char *t, struct edev *e)
{
	uint8_t s;

	vdev_reset(&e->d);
	for (int i = 0; i < 10000 && vdev_status(&e->d); i++)
		cpu_relax();
	wr16(e, CC(device_status), 0); /* the 8-bit register, written 16 bits wide: ignored */
	mmio_write8(e->d.common + CC(device_status), VIRTIO_CONFIG_S_ACKNOWLEDGE);
	mmio_write8(e->d.common + CC(device_status),
		    VIRTIO_CONFIG_S_ACKNOWLEDGE | VIRTIO_CONFIG_S_DRIVER);
	mmio_write32(e->d.common + CC(guest_feature_select), 1);
	mmio_write32(e->d.common + CC(guest_feature), 0x80000001u); /* VERSION_1 | bit 63 */
	mmio_write32(e->d.common + CC(guest_feature_select), 7);
	mmio_write32(e->d.common + CC(guest_feature), 0xffffffffu);
	mmio_write8(e->d.common + CC(device_status), VIRTIO_CONFIG_S_ACKNOWLEDGE |
							     VIRTIO_CONFIG_S_DRIVER |
							     VIRTIO_CONFIG_S_FEATURES_OK);
	s = vdev_status(&e->d);
	if (s & VIRTIO_CONFIG_S_FEATURES_OK) {
		fail(t, "%s: FEATURES_OK accepted with feature bit 63", e->name);
		return -1;
	}
	/* DRIVER_OK anyway: the device must not come alive. */
	mmio_write8(e->d.common + CC(device_status), s | VIRTIO_CONFIG_S_DRIVER_OK);
	return ev_open(t, e) || ev_use(t, e, "after refused features") ? -1 : 0;
}

/* Rings outside RAM or misaligned (queue 0): DEVICE_NEEDS_RESET at DRIVER_OK. */
static int bad_rings(const char *t, struct edev *e)
{
	static const struct {
		const char *what;
		unsigned int ring; /* 0 desc, 1 avail, 2 used */
		uint64_t delta;	   /* added to the right address */
		uint64_t abs;	   /* or, when not 0, the address */
	} cases[] = {
		{ "descriptor table in the PCI hole", 0, 0, 0xd0000000ULL },
		{ "descriptor table straddling the end of RAM", 0, 0, 0x0fffff80ULL },
		{ "descriptor table misaligned", 0, 8, 0 },
		{ "avail ring at 2^64 - 2", 1, 0, 0xfffffffffffffffeULL },
		{ "avail ring misaligned", 1, 1, 0 },
		{ "used ring on the LAPIC", 2, 0, 0xfee00000ULL },
		{ "used ring misaligned", 2, 2, 0 },
	};
	static const size_t regs[3] = { CC(queue_desc_lo), CC(queue_avail_lo), CC(queue_used_lo) };

	for (unsigned int i = 0; i < ARRAY_SIZE(cases); i++) {
		uint64_t a[3] = { (uintptr_t)e->pages, (uintptr_t)e->pages + 256,
				  (uintptr_t)e->pages + 512 };
		unsigned int r = cases[i].ring;

		if (start(t, e))
			return -1;
		for (unsigned int q = 1; q < e->nq; q++) {
			if (ev_setup_vq(e, q, 0)) {
				fail(t, "%s: %s", e->name, virtio_err);
				return -1;
			}
		}
		a[r] = cases[i].abs ? cases[i].abs : a[r] + cases[i].delta;
		wr16(e, CC(queue_select), 0);
		wr16(e, CC(queue_size), 16);
		for (unsigned int k = 0; k < 3; k++) {
			mmio_write32(e->d.common + regs[k], (uint32_t)a[k]);
			mmio_write32(e->d.common + regs[k] + 4, (uint32_t)(a[k] >> 32));
		}
		wr16(e, CC(queue_enable), 1);
		mmio_write8(e->d.common + CC(device_status),
			    vdev_status(&e->d) | VIRTIO_CONFIG_S_DRIVER_OK);
		if (ev_broken(t, e, cases[i].what) || ev_open(t, e) || ev_use(t, e, cases[i].what))
			return -1;
	}
	return 0;
}

/* MSI-X vector registers beyond the table read back NO_VECTOR. */
static int bad_vectors(const char *t, struct edev *e)
{
	uint16_t nvec = e->d.msix_size;
	uint16_t bad[] = { nvec, (uint16_t)(nvec + 1), 0x100, 0x7ff, 0xfffe };

	if (!nvec) {
		fail(t, "%s: no MSI-X table", e->name);
		return -1;
	}
	if (ev_open(t, e))
		return -1;
	wr16(e, CC(queue_select), 0);
	for (unsigned int i = 0; i < ARRAY_SIZE(bad); i++) {
		uint16_t c, q;

		wr16(e, CC(msix_config), bad[i]);
		wr16(e, CC(queue_msix_vector), bad[i]);
		c = rd16(e, CC(msix_config));
		q = rd16(e, CC(queue_msix_vector));
		if (c != VIRTIO_MSI_NO_VECTOR || q != VIRTIO_MSI_NO_VECTOR) {
			fail(t,
			     "%s: vector %u of a %u-entry table reads back config 0x%x queue 0x%x",
			     e->name, bad[i], nvec, c, q);
			return -1;
		}
	}
	wr16(e, CC(msix_config), (uint16_t)(nvec - 1));
	if (rd16(e, CC(msix_config)) != nvec - 1) {
		fail(t, "%s: msix_config refused vector %u", e->name, nvec - 1);
		return -1;
	}
	wr16(e, CC(msix_config), VIRTIO_MSI_NO_VECTOR);
	wr16(e, CC(queue_msix_vector), VIRTIO_MSI_NO_VECTOR);
	return ev_use(t, e, "after bad vectors");
}

void test_evil_regs(const struct boot_params *bp)
{
	const char *t = "evil_regs";
	static const struct {
		const char *what;
		int (*fn)(const char *t, struct edev *e);
	} steps[] = {
		{ "queue sizes", queue_sizes },	  { "ghost queues", ghost_queues },
		{ "early kick", early_kick },	  { "stray kicks", stray_kicks },
		{ "bad features", bad_features }, { "bad rings", bad_rings },
		{ "bad vectors", bad_vectors },
	};
	static struct edev devs[3];
	static const enum ev_kind kinds[] = { EV_BLK, EV_RNG, EV_VSOCK };

	(void)bp;
	for (unsigned int k = 0; k < ARRAY_SIZE(kinds); k++)
		if (ev_find(t, &devs[k], kinds[k], 0) || ev_open(t, &devs[k]))
			return;
	for (unsigned int k = 0; k < ARRAY_SIZE(kinds); k++) {
		for (unsigned int s = 0; s < ARRAY_SIZE(steps); s++) {
			if (steps[s].fn(t, &devs[k]))
				return;
			/* The others never noticed. */
			for (unsigned int o = 0; o < ARRAY_SIZE(kinds); o++)
				if (o != k && ev_use(t, &devs[o], steps[s].what))
					return;
			printf("EVIL %s %s: ok\n", devs[k].name, steps[s].what);
		}
	}
	pass(t);
}

/* ---- MSI-X ---- */

static volatile unsigned int irqs;

static void msix_handler(struct irq_frame *f)
{
	(void)f;
	irqs++;
	lapic_write(LAPIC_EOI, 0);
}

/* With interrupts on for a while: did @irqs move past @from? */
static bool irq_came(unsigned int from, unsigned long loops)
{
	bool got = false;

	sti();
	for (unsigned long i = 0; i < loops && !got; i++) {
		cpu_relax();
		got = irqs != from;
	}
	cli();
	return got;
}

static void entry_write(struct vdev *d, unsigned int i, unsigned int w, uint32_t v)
{
	mmio_write32(d->msix_table + 16 * i + 4 * w, v);
}

/* One read of sector 3 through queue 0 (vector 0), completion polled. */
static int blk_read3(const char *t, struct edev *e)
{
	unsigned int st;

	if (ev_blk_rw(t, e, VIRTIO_BLK_T_IN, 3, rbuf, EV_SECTOR, &st))
		return -1;
	if (st != VIRTIO_BLK_S_OK || rbuf[7] != ev_pattern(3, 7)) {
		fail(t, "%s: read status 0x%x", e->name, st);
		return -1;
	}
	return 0;
}

static int msix_table_abuse(const char *t, struct edev *e)
{
	struct vdev *d = &e->d;
	uintptr_t pba = d->msix_table + 0x1000; /* VP_MSIX_PBA_OFF - VP_MSIX_TABLE_OFF */

	for (unsigned int i = d->msix_size; i < 256; i += 7) {
		for (unsigned int w = 0; w < 4; w++) {
			entry_write(d, i, w, 0xfee00000u | i);
			if (mmio_read32(d->msix_table + 16 * i + 4 * w) != 0xffffffffu) {
				fail(t, "MSI-X entry %u (of %u) word %u reads back", i,
				     d->msix_size, w);
				return -1;
			}
		}
	}
	/* Odd widths on a real entry: ignored, read as all-ones. */
	mmio_write16(d->msix_table + 2, 0x1234);
	mmio_write8(d->msix_table + 8, 0x55);
	if (mmio_read32(d->msix_table) != 0xfee00000u || mmio_read16(d->msix_table) != 0xffff) {
		fail(t, "MSI-X entry 0 address 0x%x after odd-width writes",
		     mmio_read32(d->msix_table));
		return -1;
	}
	for (unsigned int off = 0; off < 0x3000; off += 0x100) {
		mmio_write32(pba + off, 0xffffffffu);
		mmio_write8(pba + off + 5, 0xff);
	}
	if (mmio_read32(pba) & ~1u) {
		fail(t, "PBA reads 0x%x after writes", mmio_read32(pba));
		return -1;
	}
	return 0;
}

void test_evil_msix(const struct boot_params *bp)
{
	const char *t = "evil_msix";
	static struct edev blk, rng;
	struct vdev *d = &blk.d;
	uint16_t ctrl;
	unsigned int from;

	(void)bp;
	idt_install(t);
	idt_set_handler(MSIX_VEC, msix_handler);
	pic_init(0);
	lapic_write(LAPIC_SVR, 0x1ff);
	if (ev_find(t, &blk, EV_BLK, 0) || ev_find(t, &rng, EV_RNG, 0) || ev_open(t, &rng))
		return;
	blk.d.nvqs = 0;
	if (vdev_negotiate(d, blk.want, 0) || vdev_msix_enable(d, 0, MSIX_VEC) ||
	    ev_setup_vq(&blk, 0, 0)) {
		fail(t, "%s", virtio_err);
		return;
	}
	mmio_write16(d->common + CC(queue_select), 0);
	mmio_write16(d->common + CC(queue_msix_vector), 0);
	if (vdev_driver_ok(d)) {
		fail(t, "%s", virtio_err);
		return;
	}
	from = irqs;
	if (blk_read3(t, &blk) || !irq_came(from, 200000)) {
		fail(t, "no MSI-X interrupt for a completion");
		return;
	}
	if (msix_table_abuse(t, &blk))
		return;
	printf("EVIL msix table and PBA abuse: ok\n");

	/* A garbage message address: the completion works, the interrupt goes nowhere. */
	entry_write(d, 0, 0, 0x12345678u);
	if (blk_read3(t, &blk))
		return;
	entry_write(d, 0, 0, 0xfee00000u);

	/* Storms: vector and function mask toggled around requests. */
	ctrl = pci_read16(d->bdf, d->msix_cap + 2);
	for (unsigned int i = 0; i < 200; i++) {
		entry_write(d, 0, 3, 1);
		entry_write(d, 0, 3, 0);
		pci_write16(d->bdf, d->msix_cap + 2, ctrl | 0x4000);
		pci_write16(d->bdf, d->msix_cap + 2, ctrl & ~0x4000);
		if (i % 20 == 0 && blk_read3(t, &blk))
			return;
		if (i % 50 == 0 && ev_use(t, &rng, "MSI-X storm"))
			return;
	}
	irq_came(irqs, 20000); /* take what the storm left pending */
	printf("EVIL msix mask storm: ok\n");

	/* Masked: the completion is pending in the PBA, and delivered on unmask. */
	entry_write(d, 0, 3, 1);
	from = irqs;
	if (blk_read3(t, &blk))
		return;
	if (irq_came(from, 20000) || !(mmio_read32(d->msix_table + 0x1000) & 1)) {
		fail(t, "masked vector 0: interrupts %u, PBA 0x%x", irqs - from,
		     mmio_read32(d->msix_table + 0x1000));
		return;
	}
	entry_write(d, 0, 3, 0);
	if (!irq_came(from, 200000) || (mmio_read32(d->msix_table + 0x1000) & 1)) {
		fail(t, "unmasked vector 0: interrupts %u, PBA 0x%x", irqs - from,
		     mmio_read32(d->msix_table + 0x1000));
		return;
	}
	if (ev_healthy(t, &blk, "after MSI-X abuse") || ev_use(t, &rng, "after MSI-X abuse"))
		return;
	printf("EVIL msix pending bit: ok\n");
	pass(t);
}

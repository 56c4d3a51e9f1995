// SPDX-License-Identifier: BSD-3-Clause
/*
 * evil_reset: virtio-blk reset while requests are in flight. One queue of
 * up to 256 entries, each request an indirect table (as t_blk_deep.c), so
 * that on an O_DIRECT disk the device has up to 128 of them in flight in
 * Linux AIO when the guest pulls the rug:
 *
 *   1. 256 writes of sectors EV_RESET_SECTOR.. published with one kick, and
 *      the device reset at once (device_status 0, read back until 0);
 *   2. set up again, 255 reads and then a chain that loops, one kick: the
 *      device must go to DEVICE_NEEDS_RESET with reads still in flight;
 *      reset;
 *   after each reset, the old used ring and status bytes (zeroed by us)
 *   must stay untouched: the device gave the rings up;
 *   3. set up again: 256 writes of ev_byte() data, then 256 reads that must
 *      return it, and sector 3 must still hold the host's pattern.
 *
 * The virtio-rng device must work between the steps. The host checks the
 * image: sectors 256..511 hold ev_byte(), everything else its pattern.
 */
#include "t_evil.h"

#define DEEP 256
#define CC(f) offsetof(struct virtio_pci_common_cfg, f)

static uint8_t ring[3 * 4096] __attribute__((aligned(4096)));
static struct vring_desc tables[DEEP][3] __attribute__((aligned(16)));
static struct virtio_blk_outhdr hdrs[DEEP];
static volatile uint8_t status[DEEP];
static uint8_t data[DEEP][EV_SECTOR] __attribute__((aligned(4096)));

struct deep {
	struct edev *e;
	struct vring_desc *desc;
	struct vring_avail *avail;
	struct vring_used *used;
	uint16_t size, avail_idx, last_used;
	uintptr_t notify;
};

static int deep_open(const char *t, struct deep *q)
{
	struct vdev *d = &q->e->d;
	uint16_t max, off;

	d->nvqs = 0;
	if (vdev_negotiate(d, q->e->want, 1ULL << VIRTIO_RING_F_INDIRECT_DESC)) {
		fail(t, "%s", virtio_err);
		return -1;
	}
	memset(ring, 0, sizeof(ring));
	mmio_write16(d->common + CC(queue_select), 0);
	max = mmio_read16(d->common + CC(queue_size));
	q->size = max < DEEP ? max : DEEP;
	mmio_write16(d->common + CC(queue_size), q->size);
	q->desc = (struct vring_desc *)ring;
	q->avail = (struct vring_avail *)(ring + 4096);
	q->used = (struct vring_used *)(ring + 8192);
	q->avail_idx = q->last_used = 0;
	mmio_write32(d->common + CC(queue_desc_lo), (uint32_t)(uintptr_t)q->desc);
	mmio_write32(d->common + CC(queue_desc_hi), 0);
	mmio_write32(d->common + CC(queue_avail_lo), (uint32_t)(uintptr_t)q->avail);
	mmio_write32(d->common + CC(queue_avail_hi), 0);
	mmio_write32(d->common + CC(queue_used_lo), (uint32_t)(uintptr_t)q->used);
	mmio_write32(d->common + CC(queue_used_hi), 0);
	mmio_write16(d->common + CC(queue_msix_vector), VIRTIO_MSI_NO_VECTOR);
	off = mmio_read16(d->common + CC(queue_notify_off));
	q->notify = d->notify_base + (uintptr_t)off * d->notify_mult;
	q->avail->flags = VRING_AVAIL_F_NO_INTERRUPT;
	mmio_write16(d->common + CC(queue_enable), 1);
	if (vdev_driver_ok(d)) {
		fail(t, "%s", virtio_err);
		return -1;
	}
	return 0;
}

static void put(struct deep *q, unsigned int i, uint32_t type, uint64_t sector)
{
	uint16_t fl = type == VIRTIO_BLK_T_IN ? VRING_DESC_F_WRITE : 0;

	hdrs[i] = (struct virtio_blk_outhdr){ .type = type, .sector = sector };
	status[i] = 0xee;
	tables[i][0] =
		(struct vring_desc){ (uintptr_t)&hdrs[i], sizeof(hdrs[i]), VRING_DESC_F_NEXT, 1 };
	tables[i][1] = (struct vring_desc){ (uintptr_t)data[i], EV_SECTOR,
					    (uint16_t)(VRING_DESC_F_NEXT | fl), 2 };
	tables[i][2] = (struct vring_desc){ (uintptr_t)&status[i], 1, VRING_DESC_F_WRITE, 0 };
	q->desc[i] = (struct vring_desc){ (uintptr_t)tables[i], sizeof(tables[i]),
					  VRING_DESC_F_INDIRECT, 0 };
	q->avail->ring[q->avail_idx % q->size] = (uint16_t)i;
	q->avail_idx++;
}

static void kick(struct deep *q)
{
	barrier();
	*(volatile uint16_t *)&q->avail->idx = q->avail_idx;
	mb();
	mmio_write16(q->notify, 0);
}

/* Reset, read back until 0, then the rings must stay as we leave them. */
static int reset_quiet(const char *t, struct deep *q, const char *what)
{
	struct vdev *d = &q->e->d;
	int i;

	vdev_reset(d);
	for (i = 0; i < 100000 && vdev_status(d); i++)
		cpu_relax();
	if (vdev_status(d)) {
		fail(t, "%s: device_status 0x%02x after the reset", what, vdev_status(d));
		return -1;
	}
	memset(q->used, 0, 4096);
	for (unsigned int k = 0; k < DEEP; k++)
		status[k] = 0x77;
	delay_loops(50000);
	if (!mem_all(q->used, 4096, 0)) {
		fail(t, "%s: the device wrote the used ring after the reset", what);
		return -1;
	}
	for (unsigned int k = 0; k < DEEP; k++) {
		if (status[k] != 0x77) {
			fail(t, "%s: the device wrote status %u after the reset", what, k);
			return -1;
		}
	}
	return 0;
}

/* Wait for all @n, each OK. */
static int run(const char *t, struct deep *q, unsigned int n, const char *what)
{
	unsigned long spins = 0;
	unsigned int done = 0;

	kick(q);
	while (done < n) {
		uint16_t u = *(volatile uint16_t *)&q->used->idx;

		if (u == q->last_used) {
			if (++spins > 20000000ul) {
				fail(t, "%s: %u of %u done (status 0x%02x)", what, done, n,
				     vdev_status(&q->e->d));
				return -1;
			}
			cpu_relax();
			continue;
		}
		barrier();
		for (; q->last_used != u; q->last_used++, done++) {
			uint32_t id = q->used->ring[q->last_used % q->size].id;

			if (id >= n || status[id] != VIRTIO_BLK_S_OK) {
				fail(t, "%s: used id %u status 0x%x", what, id,
				     id < n ? status[id] : 0);
				return -1;
			}
		}
	}
	return 0;
}

void test_evil_reset(const struct boot_params *bp)
{
	const char *t = "evil_reset";
	static struct edev blk, rng;
	struct deep q = { .e = &blk };
	unsigned int n;

	(void)bp;
	if (ev_find(t, &blk, EV_BLK, 0) || ev_find(t, &rng, EV_RNG, 0) || ev_open(t, &rng) ||
	    deep_open(t, &q))
		return;
	n = q.size;
	if (n < 8) {
		fail(t, "queue size %u", n);
		return;
	}
	/* 1. Writes in flight, reset. */
	for (unsigned int i = 0; i < n; i++) {
		memset(data[i], 0xe0 + (i & 15), EV_SECTOR);
		put(&q, i, VIRTIO_BLK_T_OUT, EV_RESET_SECTOR + i);
	}
	kick(&q);
	if (reset_quiet(t, &q, "writes in flight") || ev_use(t, &rng, "after a reset"))
		return;
	printf("EVIL virtio-blk reset with %u writes in flight: ok\n", n);

	/* 2. Reads in flight and a loop behind them: NEEDS_RESET, then reset. */
	if (deep_open(t, &q))
		return;
	for (unsigned int i = 0; i + 1 < n; i++)
		put(&q, i, VIRTIO_BLK_T_IN, EV_RESET_SECTOR + i);
	q.desc[n - 1] = (struct vring_desc){ (uintptr_t)data[n - 1], 16,
					     VRING_DESC_F_WRITE | VRING_DESC_F_NEXT,
					     (uint16_t)(n - 1) };
	q.avail->ring[q.avail_idx % q.size] = (uint16_t)(n - 1);
	q.avail_idx++;
	kick(&q);
	if (ev_broken(t, &blk, "reads in flight and a loop") ||
	    reset_quiet(t, &q, "broken with reads in flight") || ev_use(t, &rng, "after a reset"))
		return;
	printf("EVIL virtio-blk broken with %u reads in flight: ok\n", n - 1);

	/* 3. Set up again: everything works, the data is ours. */
	if (deep_open(t, &q))
		return;
	for (unsigned int i = 0; i < n; i++) {
		for (unsigned int b = 0; b < EV_SECTOR; b++)
			data[i][b] = ev_byte(EV_RESET_SECTOR + i, b);
		put(&q, i, VIRTIO_BLK_T_OUT, EV_RESET_SECTOR + i);
	}
	if (run(t, &q, n, "writes"))
		return;
	memset(data, 0, sizeof(data));
	for (unsigned int i = 0; i < n; i++)
		put(&q, i, VIRTIO_BLK_T_IN, i < n - 1 ? EV_RESET_SECTOR + i : 3);
	if (run(t, &q, n, "reads"))
		return;
	for (unsigned int i = 0; i < n; i++) {
		uint64_t s = i < n - 1 ? EV_RESET_SECTOR + i : 3;

		for (unsigned int b = 0; b < EV_SECTOR; b++) {
			uint8_t want = s == 3 ? ev_pattern(s, b) : ev_byte(s, b);

			if (data[i][b] != want) {
				fail(t, "sector %llu byte %u is 0x%02x, want 0x%02x",
				     (unsigned long long)s, b, data[i][b], want);
				return;
			}
		}
	}
	if (ev_use(t, &rng, "at the end"))
		return;
	printf("EVIL virtio-blk %u sectors written and read back after the resets\n", n);
	pass(t);
}

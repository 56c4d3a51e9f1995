// SPDX-License-Identifier: BSD-3-Clause
/*
 * blk_deep: a whole queue of virtio-blk requests in flight at once, as
 * Linux's driver has them under load. One 256-entry queue (or the device's
 * size, if smaller); every request is a single indirect descriptor, so
 * that the ring holds as many requests as entries, more than the device
 * keeps in flight (lib/virtio/blk_aio.h), which makes it wait for free
 * slots and resume on completions.
 *
 *   1. N requests published with one notification: OUT of 512 bytes to
 *      sector i for every i except i == N / 2, which is a FLUSH;
 *   2. all N must complete with status OK, each head exactly once;
 *   3. N INs of the same sectors (the FLUSH slot reads sector N / 2, which
 *      nobody wrote: it must still hold the host's pattern), one
 *      notification, then every byte is checked.
 *
 * The host (tests/integration/test_blk.c) fills vda with 0xa5 first and
 * checks the image afterwards. Written data: 32-bit words deep_word(i, w).
 * Line: "BLK deep <N> requests, <K> notifications".
 */
#include "hw.h"

#define SECTOR 512
#define DEEP_MAX 256
#define CC(f) offsetof(struct virtio_pci_common_cfg, f)

static uint8_t ring_mem[3 * 4096] __attribute__((aligned(4096)));
static struct vring_desc tables[DEEP_MAX][3] __attribute__((aligned(16)));
static struct virtio_blk_outhdr hdrs[DEEP_MAX];
static volatile uint8_t status[DEEP_MAX];
static uint32_t data[DEEP_MAX][SECTOR / 4] __attribute__((aligned(4096)));
static uint8_t seen[DEEP_MAX];

static uint32_t deep_word(unsigned int i, unsigned int w)
{
	return 0xd0000000u | i << 12 | w;
}

struct deepq {
	struct vdev d;
	struct vring_desc *desc;
	struct vring_avail *avail;
	struct vring_used *used;
	uint16_t size, avail_idx, last_used;
	uintptr_t notify;
	unsigned int notifies;
};

static struct deepq dq;

static int deep_setup(const char *t, struct deepq *q)
{
	uint32_t bdf;

	if (pci_find(0x1af4, 0x1042, &bdf, 1) < 1) {
		fail(t, "no virtio-blk PCI function (1af4:1042) on bus 0");
		return -1;
	}
	if (vdev_probe(&q->d, bdf) || vdev_negotiate(&q->d, 1ULL << VIRTIO_BLK_F_FLUSH,
						     1ULL << VIRTIO_RING_F_INDIRECT_DESC)) {
		fail(t, "%s", virtio_err);
		return -1;
	}
	q->size = vdev_queue_size(&q->d, 0, DEEP_MAX);
	if (q->size < 4) {
		fail(t, "queue 0: queue_size %u", q->size);
		return -1;
	}
	q->desc = (struct vring_desc *)ring_mem;
	q->avail = (struct vring_avail *)(ring_mem + 4096);
	q->used = (struct vring_used *)(ring_mem + 8192);
	if (vdev_queue_program(&q->d, 0, q->desc, q->avail, q->used, VIRTIO_MSI_NO_VECTOR,
			       &q->notify)) {
		fail(t, "%s", virtio_err);
		return -1;
	}
	q->avail->flags = VRING_AVAIL_F_NO_INTERRUPT;
	mmio_write16(q->d.common + CC(queue_enable), 1);
	if (vdev_driver_ok(&q->d)) {
		fail(t, "%s", virtio_err);
		return -1;
	}
	return 0;
}

/* Request @i in descriptor @i: an indirect table of header, data, status. */
static void deep_put(struct deepq *q, unsigned int i, uint32_t type, uint64_t sector)
{
	bool flush = type == VIRTIO_BLK_T_FLUSH;
	uint16_t data_flags = type == VIRTIO_BLK_T_IN ? VRING_DESC_F_WRITE : 0;
	unsigned int n = flush ? 2 : 3;

	hdrs[i] = (struct virtio_blk_outhdr){ .type = type, .sector = sector };
	status[i] = 0xee;
	tables[i][0] =
		(struct vring_desc){ (uintptr_t)&hdrs[i], sizeof(hdrs[i]), VRING_DESC_F_NEXT, 1 };
	if (!flush)
		tables[i][1] = (struct vring_desc){ (uintptr_t)data[i], SECTOR,
						    (uint16_t)(VRING_DESC_F_NEXT | data_flags), 2 };
	tables[i][n - 1] = (struct vring_desc){ (uintptr_t)&status[i], 1, VRING_DESC_F_WRITE, 0 };
	q->desc[i] = (struct vring_desc){ (uintptr_t)tables[i], n * sizeof(tables[i][0]),
					  VRING_DESC_F_INDIRECT, 0 };
	q->avail->ring[q->avail_idx % q->size] = (uint16_t)i;
	q->avail_idx++;
}

/* Publish, notify once, wait for all @n; each head once, every status OK. */
static int deep_run(const char *t, struct deepq *q, unsigned int n, const char *what)
{
	unsigned long spins = 0;
	unsigned int done = 0;

	memset(seen, 0, sizeof(seen));
	barrier();
	*(volatile uint16_t *)&q->avail->idx = q->avail_idx;
	mb();
	mmio_write16(q->notify, 0);
	q->notifies++;
	while (done < n) {
		uint16_t uidx = *(volatile uint16_t *)&q->used->idx;

		if (uidx == q->last_used) {
			if (++spins > 400000000ul) {
				fail(t, "%s: %u of %u requests completed", what, done, n);
				return -1;
			}
			cpu_relax();
			continue;
		}
		barrier();
		while (q->last_used != uidx) {
			uint32_t id = q->used->ring[q->last_used % q->size].id;

			q->last_used++;
			if (id >= n || seen[id]++) {
				fail(t, "%s: used id %u is not an outstanding request", what, id);
				return -1;
			}
			if (status[id] != VIRTIO_BLK_S_OK) {
				fail(t, "%s: request %u (type %u) has status 0x%x", what, id,
				     hdrs[id].type, status[id]);
				return -1;
			}
			done++;
		}
	}
	return 0;
}

void test_blk_deep(const struct boot_params *bp)
{
	const char *t = "blk_deep";
	struct deepq *q = &dq;
	unsigned int n, flush_at;

	(void)bp;
	if (deep_setup(t, q))
		return;
	n = q->size;
	flush_at = n / 2;
	if (vdev_cfg64(&q->d, offsetof(struct virtio_blk_config, capacity)) < n) {
		fail(t, "the disk has fewer than %u sectors", n);
		return;
	}
	for (unsigned int i = 0; i < n; i++) {
		for (unsigned int w = 0; w < SECTOR / 4; w++)
			data[i][w] = deep_word(i, w);
		deep_put(q, i, i == flush_at ? VIRTIO_BLK_T_FLUSH : VIRTIO_BLK_T_OUT, i);
	}
	if (deep_run(t, q, n, "writes"))
		return;
	memset(data, 0, sizeof(data));
	for (unsigned int i = 0; i < n; i++)
		deep_put(q, i, VIRTIO_BLK_T_IN, i);
	if (deep_run(t, q, n, "reads"))
		return;
	for (unsigned int i = 0; i < n; i++) {
		for (unsigned int w = 0; w < SECTOR / 4; w++) {
			uint32_t want = i == flush_at ? 0xa5a5a5a5u : deep_word(i, w);

			if (data[i][w] != want) {
				fail(t, "sector %u word %u reads 0x%x, want 0x%x", i, w, data[i][w],
				     want);
				return;
			}
		}
	}
	printf("BLK deep %u requests, %u notifications\n", n, q->notifies);
	pass(t);
}

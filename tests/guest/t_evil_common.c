// SPDX-License-Identifier: BSD-3-Clause
/*
 * The malicious-guest suite's driver half (see t_evil.h): devices opened
 * again and again on ring pages of their own, and one real request per
 * device kind to show that a device (still) works.
 */
#include "t_evil.h"

#include <linux/virtio_net.h>
#include <linux/virtio_vsock.h>

#define CC(f) offsetof(struct virtio_pci_common_cfg, f)
#define EV_STATUS_POLLS 20000
#define EV_USED_POLLS 2000000UL
#define VERR(...) (snprintf(virtio_err, sizeof(virtio_err), __VA_ARGS__), -1)

static const uint16_t pci_ids[EV_KINDS] = { 0x1042, 0x1044, 0x1053, 0x1041 };
static const char *const kind_names[EV_KINDS] = { "virtio-blk", "virtio-rng", "virtio-vsock",
						  "virtio-net" };

static uint8_t ev_ring_pages[8][EV_MAXQ][4096] __attribute__((aligned(4096)));
static unsigned int ev_ring_next;
static uint8_t blk_buf[EV_SECTOR] __attribute__((aligned(4096)));
static uint8_t rng_buf[128] __attribute__((aligned(64)));
static uint8_t vs_rx[EV_MAXQ][256] __attribute__((aligned(64)));
static uint8_t net_frame[12 + 60] __attribute__((aligned(64)));

int ev_find(const char *t, struct edev *e, enum ev_kind kind, unsigned int nth)
{
	uint32_t bdfs[4];
	unsigned int n = pci_find(0x1af4, pci_ids[kind], bdfs, 4);

	memset(e, 0, sizeof(*e));
	e->kind = kind;
	e->name = kind_names[kind];
	if (n <= nth) {
		fail(t, "%u %s PCI functions (1af4:%04x), want %u", n, e->name, pci_ids[kind],
		     nth + 1);
		return -1;
	}
	if (ev_ring_next >= ARRAY_SIZE(ev_ring_pages)) {
		fail(t, "out of ring pages");
		return -1;
	}
	e->pages = ev_ring_pages[ev_ring_next++][0];
	e->want = 1ULL << VIRTIO_RING_F_INDIRECT_DESC;
	switch (kind) {
	case EV_BLK:
	case EV_RNG:
		e->nq = 1;
		break;
	case EV_VSOCK:
		e->nq = 2; /* rx, tx; the event queue stays off */
		e->attackq = 1;
		break;
	case EV_NET:
		e->nq = 2;
		e->attackq = 1;
		e->want |= 1ULL << VIRTIO_NET_F_MAC;
		break;
	default:
		break;
	}
	if (vdev_probe(&e->d, bdfs[nth])) {
		fail(t, "%s: %s", e->name, virtio_err);
		return -1;
	}
	return 0;
}

int ev_setup_vq(struct edev *e, unsigned int qi, uint16_t size)
{
	struct vdev *d = &e->d;
	uint8_t *page = e->pages + 4096 * qi;
	struct vq *q = &d->vqs[qi];
	uint16_t max, off;

	if (qi >= EV_MAXQ)
		return VERR("queue %u: only %u ring pages", qi, EV_MAXQ);
	mmio_write16(d->common + CC(queue_select), (uint16_t)qi);
	max = mmio_read16(d->common + CC(queue_size));
	if (!max)
		return VERR("queue %u: queue_size 0", qi);
	if (!size)
		size = max < VQ_RING ? max : VQ_RING;
	mmio_write16(d->common + CC(queue_size), size);
	memset(page, 0, 4096);
	memset(q, 0, sizeof(*q));
	q->dev = d;
	q->index = (uint16_t)qi;
	q->size = size;
	q->msix_vector = VIRTIO_MSI_NO_VECTOR;
	q->desc = (struct vring_desc *)page;
	q->avail = (struct vring_avail *)(page + 256);
	q->used = (struct vring_used *)(page + 512);
	q->indirect = (struct vring_desc *)(page + 1024);
	q->scratch = page + 2048;
	mmio_write32(d->common + CC(queue_desc_lo), (uint32_t)(uintptr_t)q->desc);
	mmio_write32(d->common + CC(queue_desc_hi), 0);
	mmio_write32(d->common + CC(queue_avail_lo), (uint32_t)(uintptr_t)q->avail);
	mmio_write32(d->common + CC(queue_avail_hi), 0);
	mmio_write32(d->common + CC(queue_used_lo), (uint32_t)(uintptr_t)q->used);
	mmio_write32(d->common + CC(queue_used_hi), 0);
	mmio_write16(d->common + CC(queue_msix_vector), VIRTIO_MSI_NO_VECTOR);
	off = mmio_read16(d->common + CC(queue_notify_off));
	if ((uint64_t)off * d->notify_mult + 2 > d->notify_len)
		return VERR("queue %u: notify offset %u outside the notify region", qi, off);
	q->notify = d->notify_base + (uintptr_t)off * d->notify_mult;
	mmio_write16(d->common + CC(queue_enable), 1);
	if (d->nvqs <= qi)
		d->nvqs = qi + 1;
	return 0;
}

int ev_open(const char *t, struct edev *e)
{
	struct vdev *d = &e->d;

	d->nvqs = 0;
	if (vdev_negotiate(d, e->want, 0)) {
		fail(t, "%s: %s", e->name, virtio_err);
		return -1;
	}
	for (unsigned int i = 0; i < e->nq; i++) {
		if (ev_setup_vq(e, i, 0)) {
			fail(t, "%s: %s", e->name, virtio_err);
			return -1;
		}
	}
	if (vdev_driver_ok(d)) {
		fail(t, "%s: %s", e->name, virtio_err);
		return -1;
	}
	if (e->kind == EV_VSOCK)
		e->cid = vdev_cfg64(d, 0);
	return 0;
}

int ev_broken(const char *t, struct edev *e, const char *what)
{
	uint8_t s = 0;

	for (int i = 0; i < EV_STATUS_POLLS; i++) {
		s = vdev_status(&e->d);
		if (s & VIRTIO_CONFIG_S_NEEDS_RESET)
			return 0;
		delay_loops(20);
	}
	fail(t, "%s: %s: device status 0x%02x, no DEVICE_NEEDS_RESET", e->name, what, s);
	return -1;
}

int ev_healthy(const char *t, struct edev *e, const char *what)
{
	uint8_t s = vdev_status(&e->d);

	if (!(s & VIRTIO_CONFIG_S_DRIVER_OK) ||
	    (s & (VIRTIO_CONFIG_S_NEEDS_RESET | VIRTIO_CONFIG_S_FAILED))) {
		fail(t, "%s: %s: device status 0x%02x", e->name, what, s);
		return -1;
	}
	return 0;
}

void ev_publish(struct vq *q, uint16_t head)
{
	q->avail->ring[q->avail_idx % q->size] = head;
	barrier();
	q->avail_idx++;
	*(volatile uint16_t *)&q->avail->idx = q->avail_idx;
	mb();
	mmio_write16(q->notify, q->index);
}

int ev_wait_used(struct vq *q, uint32_t *id, uint32_t *len, unsigned long polls)
{
	for (unsigned long i = 0; i < polls; i++) {
		if (vq_used_ready(q)) {
			const volatile struct vring_used_elem *u;

			barrier();
			u = &q->used->ring[q->last_used % q->size];
			*id = u->id;
			*len = u->len;
			q->last_used++;
			return 0;
		}
		cpu_relax();
	}
	return -1;
}

uint64_t ev_ram_end(const struct boot_params *bp)
{
	uint64_t end = 0;

	for (unsigned int i = 0; i < bp->e820_entries && i < ARRAY_SIZE(bp->e820_table); i++) {
		const struct boot_e820_entry *r = &bp->e820_table[i];

		if (r->type == 1 && r->addr + r->size <= 0x100000000ULL && r->addr + r->size > end)
			end = r->addr + r->size;
	}
	return end;
}

int ev_blk_rw(const char *t, struct edev *e, uint32_t type, uint64_t sector, void *buf,
	      uint32_t len, unsigned int *status)
{
	struct vq *q = &e->d.vqs[0];
	struct virtio_blk_outhdr *h = (struct virtio_blk_outhdr *)q->scratch;
	uint8_t *st = q->scratch + 64;
	struct vq_buf v[3] = {
		{ h, sizeof(*h), false },
		{ buf, len, type == VIRTIO_BLK_T_IN },
		{ st, 1, true },
	};
	uint32_t id, used;
	int head;

	*h = (struct virtio_blk_outhdr){ .type = type, .sector = sector };
	*st = 0xee;
	head = vq_add(q, v, 3, false, false);
	if (head < 0 || ev_wait_used(q, &id, &used, EV_USED_POLLS)) {
		fail(t, "%s: request type %u sector %llu never completed (status 0x%02x)", e->name,
		     type, (unsigned long long)sector, vdev_status(&e->d));
		return -1;
	}
	if ((int)id != head) {
		fail(t, "%s: used id %u, want %d", e->name, id, head);
		return -1;
	}
	*status = *st == 0xee ? 0x1ee : *st;
	return 0;
}

static int use_blk(const char *t, struct edev *e, const char *what)
{
	unsigned int st;

	for (unsigned int i = 0; i < EV_SECTOR; i++)
		blk_buf[i] = ev_byte(EV_USE_SECTOR, i);
	if (ev_blk_rw(t, e, VIRTIO_BLK_T_OUT, EV_USE_SECTOR, blk_buf, EV_SECTOR, &st))
		return -1;
	if (st != VIRTIO_BLK_S_OK) {
		fail(t, "%s: %s: write status 0x%x", e->name, what, st);
		return -1;
	}
	memset(blk_buf, 0, sizeof(blk_buf));
	if (ev_blk_rw(t, e, VIRTIO_BLK_T_IN, EV_USE_SECTOR, blk_buf, EV_SECTOR, &st))
		return -1;
	for (unsigned int i = 0; i < EV_SECTOR; i++) {
		if (st != VIRTIO_BLK_S_OK || blk_buf[i] != ev_byte(EV_USE_SECTOR, i)) {
			fail(t, "%s: %s: read back status 0x%x, byte %u 0x%02x", e->name, what, st,
			     i, blk_buf[i]);
			return -1;
		}
	}
	if (ev_blk_rw(t, e, VIRTIO_BLK_T_IN, 3, blk_buf, EV_SECTOR, &st))
		return -1;
	for (unsigned int i = 0; i < EV_SECTOR; i++) {
		if (st != VIRTIO_BLK_S_OK || blk_buf[i] != ev_pattern(3, i)) {
			fail(t, "%s: %s: sector 3: status 0x%x, byte %u 0x%02x", e->name, what, st,
			     i, blk_buf[i]);
			return -1;
		}
	}
	return 0;
}

static int use_rng(const char *t, struct edev *e, const char *what)
{
	struct vq *q = &e->d.vqs[0];
	struct vq_buf v = { rng_buf, 64, true };
	uint32_t id, len;

	memset(rng_buf, 0, sizeof(rng_buf));
	if (vq_add(q, &v, 1, false, false) < 0 || ev_wait_used(q, &id, &len, EV_USED_POLLS)) {
		fail(t, "%s: %s: no answer (status 0x%02x)", e->name, what, vdev_status(&e->d));
		return -1;
	}
	if (len != 64 || mem_all(rng_buf, 64, 0) || !mem_all(rng_buf + 64, 64, 0)) {
		fail(t, "%s: %s: used length %u", e->name, what, len);
		return -1;
	}
	return 0;
}

int ev_vsock_rst(const char *t, struct edev *e, uint32_t port)
{
	struct vq *rx = &e->d.vqs[0], *tx = &e->d.vqs[1];
	struct virtio_vsock_hdr *h = (struct virtio_vsock_hdr *)tx->scratch;
	const struct virtio_vsock_hdr *r = (const struct virtio_vsock_hdr *)vs_rx[0];
	struct vq_buf rb = { vs_rx[0], sizeof(vs_rx[0]), true }, tb = { h, sizeof(*h), false };
	uint32_t id, len;

	memset(vs_rx[0], 0, sizeof(vs_rx[0]));
	*h = (struct virtio_vsock_hdr){
		.src_cid = e->cid,
		.dst_cid = 2,
		.src_port = 0x4000 + e->uses,
		.dst_port = port,
		.type = VIRTIO_VSOCK_TYPE_STREAM,
		.op = VIRTIO_VSOCK_OP_RW, /* for no connection: the device answers RST */
	};
	if (vq_add(rx, &rb, 1, false, false) < 0 || vq_add(tx, &tb, 1, false, false) < 0 ||
	    ev_wait_used(tx, &id, &len, EV_USED_POLLS)) {
		fail(t, "%s: tx packet not taken (status 0x%02x)", e->name, vdev_status(&e->d));
		return -1;
	}
	if (ev_wait_used(rx, &id, &len, EV_USED_POLLS)) {
		fail(t, "%s: no RST for port %u (status 0x%02x)", e->name, port,
		     vdev_status(&e->d));
		return -1;
	}
	if (len < sizeof(*r) || r->op != VIRTIO_VSOCK_OP_RST || r->dst_port != 0x4000 + e->uses ||
	    r->src_port != port) {
		fail(t, "%s: rx packet of %u bytes, op %u, ports %u -> %u", e->name, len, r->op,
		     r->src_port, r->dst_port);
		return -1;
	}
	return 0;
}

static int use_net(const char *t, struct edev *e, const char *what)
{
	struct vq *q = &e->d.vqs[1];
	struct vq_buf v = { net_frame, sizeof(net_frame), false };
	uint32_t id, len;

	memset(net_frame, 0, sizeof(net_frame));
	memset(net_frame + 12, 0xff, 6); /* broadcast */
	for (unsigned int i = 0; i < 6; i++)
		net_frame[12 + 6 + i] = vdev_cfg8(&e->d, i);
	net_frame[12 + 12] = 0x88; /* local experimental ethertype 0x88b5 */
	net_frame[12 + 13] = 0xb5;
	memcpy(net_frame + 12 + 14, "cvm evil", 8);
	if (vq_add(q, &v, 1, false, false) < 0 || ev_wait_used(q, &id, &len, EV_USED_POLLS)) {
		fail(t, "%s: %s: tx frame not taken (status 0x%02x)", e->name, what,
		     vdev_status(&e->d));
		return -1;
	}
	return 0;
}

int ev_use(const char *t, struct edev *e, const char *what)
{
	int rc = -1;

	e->uses++;
	switch (e->kind) {
	case EV_BLK:
		rc = use_blk(t, e, what);
		break;
	case EV_RNG:
		rc = use_rng(t, e, what);
		break;
	case EV_VSOCK:
		rc = ev_vsock_rst(t, e, 9999);
		break;
	case EV_NET:
		rc = use_net(t, e, what);
		break;
	default:
		break;
	}
	return rc ? rc : ev_healthy(t, e, what);
}

int ev_recover(const char *t, struct edev *e, struct edev *others, unsigned int nothers,
	       const char *what)
{
	if (ev_open(t, e) || ev_use(t, e, what))
		return -1;
	for (unsigned int i = 0; i < nothers; i++)
		if (ev_use(t, &others[i], what))
			return -1;
	return 0;
}

// SPDX-License-Identifier: BSD-3-Clause
/*
 * evil_vq_{blk,rng,vsock,net}: malformed descriptor chains on a queue of
 * the device (blk and rng: the requestq; vsock and net: the TX queue; vsock
 * also its RX queue). Each attack is made on a freshly set up device:
 *
 *   fatal ones (loops in the ring or in an indirect table, indirect tables
 *   or buffers outside guest RAM, straddling its end, in the PCI hole, in
 *   the device's own BAR, wrapping past 2^64, a buffer of 0xffffffff bytes,
 *   ...): the device must go to DEVICE_NEEDS_RESET;
 *   chains whose lengths sum past 2^32 (28 buffers of 160 MiB, all inside
 *   RAM): a request-level error (blk: VIRTIO_BLK_S_IOERR) or a short
 *   answer, and the device stays usable without a reset.
 *
 * After each one the device is reset, set up again and must work, and so
 * must the other devices. Lines: "EVIL <device> <attack>: <outcome>".
 */
#include "t_evil.h"

#include <linux/virtio_vsock.h>

#define W VRING_DESC_F_WRITE
#define N VRING_DESC_F_NEXT
#define I VRING_DESC_F_INDIRECT

struct ectx {
	const char *t;
	struct edev *e;
	struct vq *q;
	uint64_t ram_end, bar0;
	uint8_t *buf; /* 64 bytes of scratch in the queue's own page */
};

static void dset(struct vring_desc *t, unsigned int i, uint64_t addr, uint32_t len, uint16_t flags,
		 uint16_t next)
{
	t[i] = (struct vring_desc){ .addr = addr, .len = len, .flags = flags, .next = next };
}

#define BUF(x) ((uintptr_t)(x)->buf)
#define TBL(x) ((uintptr_t)(x)->q->indirect)

/* A chain of one descriptor @d0 (and the indirect table as set up). */
static int one(struct ectx *x, uint64_t addr, uint32_t len, uint16_t flags)
{
	dset(x->q->desc, 0, addr, len, flags, 0);
	ev_publish(x->q, 0);
	return 0;
}

static int ring_loop(struct ectx *x)
{
	dset(x->q->desc, 0, BUF(x), 16, W | N, 1);
	dset(x->q->desc, 1, BUF(x) + 16, 16, W | N, 0);
	ev_publish(x->q, 0);
	return 0;
}

static int ring_self_loop(struct ectx *x)
{
	return one(x, BUF(x), 16, W | N); /* next 0: itself */
}

static int ring_next_oob(struct ectx *x)
{
	dset(x->q->desc, 0, BUF(x), 16, W | N, 0x1234);
	ev_publish(x->q, 0);
	return 0;
}

static int ring_head_oob(struct ectx *x)
{
	dset(x->q->desc, 0, BUF(x), 16, W, 0);
	ev_publish(x->q, 0x8000);
	return 0;
}

static int avail_jump(struct ectx *x)
{
	struct vq *q = x->q;

	dset(q->desc, 0, BUF(x), 16, W, 0);
	for (unsigned int i = 0; i < q->size; i++)
		q->avail->ring[i] = 0;
	q->avail_idx = (uint16_t)(q->avail_idx + q->size + 1);
	*(volatile uint16_t *)&q->avail->idx = q->avail_idx;
	mb();
	mmio_write16(q->notify, q->index);
	return 0;
}

static int zero_len(struct ectx *x)
{
	return one(x, BUF(x), 0, W);
}

static int readable_after_writable(struct ectx *x)
{
	dset(x->q->desc, 0, BUF(x), 16, W | N, 1);
	dset(x->q->desc, 1, BUF(x) + 16, 16, 0, 0);
	ev_publish(x->q, 0);
	return 0;
}

static int ind_loop(struct ectx *x)
{
	dset(x->q->indirect, 0, BUF(x), 16, W | N, 1);
	dset(x->q->indirect, 1, BUF(x) + 16, 16, W | N, 0);
	return one(x, TBL(x), 2 * 16, I);
}

static int ind_self_loop(struct ectx *x)
{
	dset(x->q->indirect, 0, BUF(x), 16, W | N, 0);
	return one(x, TBL(x), 16, I);
}

static int ind_next_oob(struct ectx *x)
{
	dset(x->q->indirect, 0, BUF(x), 16, W | N, 7);
	dset(x->q->indirect, 1, BUF(x) + 16, 16, W, 0);
	return one(x, TBL(x), 2 * 16, I);
}

static int ind_nested(struct ectx *x)
{
	dset(x->q->indirect, 0, TBL(x), 16, I, 0);
	return one(x, TBL(x), 16, I);
}

static int ind_with_next(struct ectx *x)
{
	dset(x->q->indirect, 0, BUF(x), 16, W, 0);
	dset(x->q->desc, 0, TBL(x), 16, I | N, 1);
	dset(x->q->desc, 1, BUF(x), 16, W, 0);
	ev_publish(x->q, 0);
	return 0;
}

static int ind_odd_len(struct ectx *x)
{
	dset(x->q->indirect, 0, BUF(x), 16, W, 0);
	return one(x, TBL(x), 24, I);
}

static int ind_huge(struct ectx *x)
{
	return one(x, TBL(x), 0xfffffff0u, I);
}

static int ind_ram_end(struct ectx *x)
{
	return one(x, x->ram_end, 64, I);
}

static int ind_straddle(struct ectx *x)
{
	return one(x, x->ram_end - 32, 64, I);
}

static int ind_pci_hole(struct ectx *x)
{
	return one(x, 0xd0000000ULL, 64, I);
}

static int ind_own_bar(struct ectx *x)
{
	return one(x, x->bar0, 64, I);
}

static int ind_wrap64(struct ectx *x)
{
	return one(x, 0xfffffffffffffff0ULL, 32, I);
}

static int ind_buf_outside(struct ectx *x)
{
	dset(x->q->indirect, 0, BUF(x), 16, W | N, 1);
	dset(x->q->indirect, 1, x->ram_end - 8, 16, W, 0);
	return one(x, TBL(x), 2 * 16, I);
}

static int buf_len_max(struct ectx *x)
{
	return one(x, BUF(x), 0xffffffffu, W);
}

static int buf_wrap64(struct ectx *x)
{
	return one(x, 0xffffffffffff0000ULL, 0x20000, W);
}

static int buf_straddle(struct ectx *x)
{
	return one(x, x->ram_end - 8, 16, W);
}

static int buf_pci_hole(struct ectx *x)
{
	return one(x, 0xfec00000ULL, 16, W); /* the IOAPIC */
}

static int buf_above_4g(struct ectx *x)
{
	return one(x, 0x100000000ULL, 16, W);
}

/* A chain of @pre (readable, in the scratch), EV_BIG_N big buffers, and @post. */
static int big_chain(struct ectx *x, uint32_t pre, bool big_write, uint32_t post, uint32_t *len)
{
	struct vq *q = x->q;
	unsigned int n = 0;
	uint32_t id;

	if (x->ram_end < EV_BIG_BASE + EV_BIG_LEN) {
		fail(x->t, "RAM ends at 0x%llx: run with -m 256", (unsigned long long)x->ram_end);
		return -1;
	}
	if (pre)
		dset(q->indirect, n++, BUF(x), pre, 0, 0);
	for (unsigned int i = 0; i < EV_BIG_N; i++)
		dset(q->indirect, n++, EV_BIG_BASE, EV_BIG_LEN, big_write ? W : 0, 0);
	if (post)
		dset(q->indirect, n++, BUF(x) + 48, post, W, 0);
	for (unsigned int i = 0; i + 1 < n; i++) {
		q->indirect[i].flags |= N;
		q->indirect[i].next = (uint16_t)(i + 1);
	}
	one(x, TBL(x), n * 16, I);
	if (ev_wait_used(q, &id, len, 3000000)) {
		fail(x->t, "%s: a chain of %u bytes in all: no used entry (status 0x%02x)",
		     x->e->name, EV_BIG_N * EV_BIG_LEN, vdev_status(&x->e->d));
		return -1;
	}
	return 0;
}

static int big_blk(struct ectx *x, uint32_t type)
{
	struct virtio_blk_outhdr *h = (struct virtio_blk_outhdr *)x->buf;
	volatile uint8_t *st = type == VIRTIO_BLK_T_IN ?
				       (uint8_t *)(uintptr_t)(EV_BIG_BASE + EV_BIG_LEN - 1) :
				       x->buf + 48;
	uint32_t len;

	*h = (struct virtio_blk_outhdr){ .type = type, .sector = 0 };
	*st = 0xee;
	if (big_chain(x, sizeof(*h), type == VIRTIO_BLK_T_IN, type == VIRTIO_BLK_T_IN ? 0 : 1,
		      &len))
		return -1;
	if (*st != VIRTIO_BLK_S_IOERR) {
		fail(x->t, "%s: %s of > 4 GiB: status 0x%02x, want IOERR", x->e->name,
		     type == VIRTIO_BLK_T_IN ? "IN" : "OUT", *st);
		return -1;
	}
	return 0;
}

static int big_in(struct ectx *x)
{
	return big_blk(x, VIRTIO_BLK_T_IN);
}

static int big_out(struct ectx *x)
{
	return big_blk(x, VIRTIO_BLK_T_OUT);
}

static int big_rng(struct ectx *x)
{
	uint32_t len;

	if (big_chain(x, 0, true, 0, &len))
		return -1;
	if (len == 0 || len > 1u << 20) {
		fail(x->t, "%s: > 4 GiB of writable buffers: used length %u", x->e->name, len);
		return -1;
	}
	return 0;
}

static uint8_t vs_rxbuf[256] __attribute__((aligned(64)));

static int big_vsock(struct ectx *x)
{
	struct virtio_vsock_hdr *h = (struct virtio_vsock_hdr *)x->buf;
	struct vq *rx = &x->e->d.vqs[0];
	struct vq_buf rb = { vs_rxbuf, sizeof(vs_rxbuf), true };
	uint32_t id, len;

	*h = (struct virtio_vsock_hdr){ .src_cid = x->e->cid,
					.dst_cid = 2,
					.src_port = 0x3000,
					.dst_port = 9998,
					.type = VIRTIO_VSOCK_TYPE_STREAM,
					.op = VIRTIO_VSOCK_OP_RW };
	if (vq_add(rx, &rb, 1, false, false) < 0 || big_chain(x, sizeof(*h), false, 0, &len))
		return -1;
	if (ev_wait_used(rx, &id, &len, 2000000)) {
		fail(x->t, "%s: no RST for a > 4 GiB packet", x->e->name);
		return -1;
	}
	return 0;
}

static int big_net(struct ectx *x)
{
	uint32_t len;

	memset(x->buf, 0, 12);
	return big_chain(x, 12, false, 0, &len);
}

/* The RX queue of vsock: a loop there is found when the device has a packet to give. */
static int vsock_rx_loop(struct ectx *x)
{
	struct vq *rx = &x->e->d.vqs[0], *tx = &x->e->d.vqs[1];
	struct virtio_vsock_hdr *h = (struct virtio_vsock_hdr *)tx->scratch;
	struct vq_buf tb = { h, sizeof(*h), false };

	dset(rx->desc, 0, (uintptr_t)vs_rxbuf, 64, W | N, 1);
	dset(rx->desc, 1, (uintptr_t)vs_rxbuf + 64, 64, W | N, 0);
	ev_publish(rx, 0);
	*h = (struct virtio_vsock_hdr){ .src_cid = x->e->cid,
					.dst_cid = 2,
					.src_port = 0x3001,
					.dst_port = 9997,
					.type = VIRTIO_VSOCK_TYPE_STREAM,
					.op = VIRTIO_VSOCK_OP_RW };
	return vq_add(tx, &tb, 1, false, false) < 0 ? -1 : 0;
}

struct attack {
	const char *name;
	int (*fn)(struct ectx *x);
	bool fatal;
};

static const struct attack common_attacks[] = {
	{ "ring loop", ring_loop, true },
	{ "ring self loop", ring_self_loop, true },
	{ "ring next out of range", ring_next_oob, true },
	{ "avail head out of range", ring_head_oob, true },
	{ "avail idx jumps past the size", avail_jump, true },
	{ "zero-length buffer", zero_len, true },
	{ "readable after writable", readable_after_writable, true },
	{ "indirect loop", ind_loop, true },
	{ "indirect self loop", ind_self_loop, true },
	{ "indirect next out of range", ind_next_oob, true },
	{ "indirect inside indirect", ind_nested, true },
	{ "indirect with NEXT", ind_with_next, true },
	{ "indirect table of 24 bytes", ind_odd_len, true },
	{ "indirect table of 4 GiB", ind_huge, true },
	{ "indirect table at the end of RAM", ind_ram_end, true },
	{ "indirect table straddling the end of RAM", ind_straddle, true },
	{ "indirect table in the PCI hole", ind_pci_hole, true },
	{ "indirect table in the device's BAR", ind_own_bar, true },
	{ "indirect table wrapping 2^64", ind_wrap64, true },
	{ "indirect buffer straddling the end of RAM", ind_buf_outside, true },
	{ "buffer of 0xffffffff bytes", buf_len_max, true },
	{ "buffer wrapping 2^64", buf_wrap64, true },
	{ "buffer straddling the end of RAM", buf_straddle, true },
	{ "buffer on the IOAPIC", buf_pci_hole, true },
	{ "buffer above 4 GiB", buf_above_4g, true },
};

static int run_one(const char *t, struct ectx *x, const struct attack *a, struct edev *others,
		   unsigned int nothers)
{
	struct edev *e = x->e;

	x->q = &e->d.vqs[e->attackq];
	x->buf = x->q->scratch + 128;
	if (a->fn(x))
		return -1;
	if (a->fatal ? ev_broken(t, e, a->name) : ev_healthy(t, e, a->name))
		return -1;
	printf("EVIL %s %s: %s\n", e->name, a->name, a->fatal ? "needs reset" : "answered");
	return ev_recover(t, e, others, nothers, a->name);
}

static void evil_vq(const char *t, const struct boot_params *bp, enum ev_kind kind,
		    const struct attack *extra, unsigned int nextra)
{
	static struct edev devs[2];
	struct edev *e = &devs[0], *other = &devs[1];
	char why[128];
	struct ectx x;

	if (ev_find(t, e, kind, 0) || ev_find(t, other, kind == EV_BLK ? EV_RNG : EV_BLK, 0) ||
	    ev_open(t, e) || ev_open(t, other) || ev_use(t, e, "first use") ||
	    ev_use(t, other, "first use"))
		return;
	x = (struct ectx){ .t = t, .e = e, .ram_end = ev_ram_end(bp) };
	x.bar0 = pci_bar_addr(e->d.bdf, 0, why, sizeof(why));
	if (!x.bar0 || x.ram_end < (16u << 20)) {
		fail(t, "BAR0 0x%llx (%s), RAM end 0x%llx", (unsigned long long)x.bar0, why,
		     (unsigned long long)x.ram_end);
		return;
	}
	for (unsigned int i = 0; i < ARRAY_SIZE(common_attacks); i++)
		if (run_one(t, &x, &common_attacks[i], other, 1))
			return;
	for (unsigned int i = 0; i < nextra; i++)
		if (run_one(t, &x, &extra[i], other, 1))
			return;
	pass(t);
}

void test_evil_vq_blk(const struct boot_params *bp)
{
	static const struct attack extra[] = {
		{ "IN of more than 4 GiB", big_in, false },
		{ "OUT of more than 4 GiB", big_out, false },
	};

	evil_vq("evil_vq_blk", bp, EV_BLK, extra, ARRAY_SIZE(extra));
}

void test_evil_vq_rng(const struct boot_params *bp)
{
	static const struct attack extra[] = {
		{ "more than 4 GiB of buffers", big_rng, false },
	};

	evil_vq("evil_vq_rng", bp, EV_RNG, extra, ARRAY_SIZE(extra));
}

void test_evil_vq_vsock(const struct boot_params *bp)
{
	static const struct attack extra[] = {
		{ "tx packet of more than 4 GiB", big_vsock, false },
		{ "rx ring loop", vsock_rx_loop, true },
	};

	evil_vq("evil_vq_vsock", bp, EV_VSOCK, extra, ARRAY_SIZE(extra));
}

void test_evil_vq_net(const struct boot_params *bp)
{
	static const struct attack extra[] = {
		{ "tx frame of more than 4 GiB", big_net, false },
	};

	evil_vq("evil_vq_net", bp, EV_NET, extra, ARRAY_SIZE(extra));
}

// SPDX-License-Identifier: BSD-3-Clause
/*
 * virtio-rng: rng_fill() on hand-built chains (readable buffers ignored,
 * the per-chain cap), rng_serve() on a ring in guest memory, and the whole
 * device behind its virtio-pci function (that part needs /dev/kvm).
 */
#include <criterion/criterion.h>
#include <errno.h>
#include <limits.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include <linux/virtio_config.h>
#include <linux/virtio_pci.h>

#include "test_util_kvm.h"
#include "test_util_vq.h"
#include "virtio/rng.h"

#define FILL 0xa5 /* what a buffer holds before the device writes it */
#define KIB 1024u

static struct vq_chain *chain_new(void)
{
	struct vq_chain *c = calloc(1, sizeof(*c));

	cr_assert_not_null(c);
	return c;
}

/* Appends a buffer of @len bytes at @p (readable ones must come first, as vq_pop gives them). */
static void add(struct vq_chain *c, void *p, uint32_t len, bool write)
{
	cr_assert_lt(c->nr, VQ_MAX_BUFS);
	c->bufs[c->nr] = (struct vq_buf){
		.gpa = 0x10000ull * (c->nr + 1), .len = len, .write = write, .host = p
	};
	c->nr++;
	*(write ? &c->in_len : &c->out_len) += len;
	c->nr_out += !write;
}

static uint8_t *buf_new(size_t len)
{
	uint8_t *p = malloc(len ? len : 1);

	cr_assert_not_null(p);
	memset(p, FILL, len);
	return p;
}

static void expect_untouched(const uint8_t *p, size_t from, size_t to, const char *what)
{
	for (size_t i = from; i < to; i++)
		cr_assert_eq(p[i], FILL, "%s: byte %zu was written (0x%02x)", what, i, p[i]);
}

/*
 * [from, to) was written: no 32-byte block still holds only the fill byte
 * (chance 2^-256 per block for random data).
 */
static void expect_random(const uint8_t *p, size_t from, size_t to, const char *what)
{
	for (size_t b = from; b < to; b += 32) {
		size_t end = b + 32 < to ? b + 32 : to, i;

		if (end - b < 16)
			break; /* a short tail: too likely to match by chance */
		for (i = b; i < end && p[i] == FILL; i++)
			;
		cr_assert_lt(i, end, "%s: bytes %zu..%zu were not written", what, b, end - 1);
	}
}

Test(rng_fill, one_buffer)
{
	struct vq_chain *c = chain_new();
	uint8_t *a = buf_new(64), *b = buf_new(64);

	add(c, a, 64, true);
	cr_assert_eq(rng_fill(c), 64);
	expect_random(a, 0, 64, "first fill");
	/* A second request gets other bytes. */
	c->bufs[0].host = b;
	cr_assert_eq(rng_fill(c), 64);
	expect_random(b, 0, 64, "second fill");
	cr_assert_neq(memcmp(a, b, 64), 0, "two requests got the same 64 bytes");
	free(a);
	free(b);
	free(c);
}

Test(rng_fill, several_buffers_in_order)
{
	struct vq_chain *c = chain_new();
	uint8_t *a = buf_new(100), *b = buf_new(1), *d = buf_new(4000);

	add(c, a, 100, true);
	add(c, b, 1, true);
	add(c, d, 4000, true);
	cr_assert_eq(rng_fill(c), 4101);
	expect_random(a, 0, 100, "buffer 0");
	expect_random(d, 0, 4000, "buffer 2");
	free(a);
	free(b);
	free(d);
	free(c);
}

/* The spec forbids driver-readable buffers; a hostile guest sends them anyway. */
Test(rng_fill, readable_buffers_are_ignored)
{
	struct vq_chain *c = chain_new();
	uint8_t *r1 = buf_new(512), *r2 = buf_new(16), *w = buf_new(256);

	add(c, r1, 512, false);
	add(c, r2, 16, false);
	add(c, w, 256, true);
	cr_assert_eq(rng_fill(c), 256, "only the writable bytes count");
	expect_untouched(r1, 0, 512, "readable buffer 0");
	expect_untouched(r2, 0, 16, "readable buffer 1");
	expect_random(w, 0, 256, "writable buffer");
	free(r1);
	free(r2);
	free(w);
	free(c);
}

Test(rng_fill, only_readable_or_empty)
{
	struct vq_chain *c = chain_new();
	uint8_t *r = buf_new(64);

	cr_assert_eq(rng_fill(c), 0, "an empty chain");
	add(c, r, 64, false);
	cr_assert_eq(rng_fill(c), 0, "a chain without writable buffers");
	expect_untouched(r, 0, 64, "readable buffer");
	/* A writable buffer of length 0 (vq_pop refuses them; rng_fill copes). */
	add(c, r, 0, true);
	cr_assert_eq(rng_fill(c), 0);
	expect_untouched(r, 0, 64, "readable buffer");
	free(r);
	free(c);
}

Test(rng_fill, capped_per_chain)
{
	const size_t big = 1024 * KIB;
	struct vq_chain *c = chain_new();
	uint8_t *p = buf_new(big);

	cr_assert_eq(RNG_MAX_PER_CHAIN, 64 * KIB);
	add(c, p, (uint32_t)big, true);
	cr_assert_eq(rng_fill(c), RNG_MAX_PER_CHAIN, "a 1 MiB request is capped");
	expect_random(p, 0, RNG_MAX_PER_CHAIN, "the first 64 KiB");
	expect_untouched(p, RNG_MAX_PER_CHAIN, big, "beyond the cap");
	free(p);
	free(c);
}

Test(rng_fill, cap_spans_buffers)
{
	struct vq_chain *c = chain_new();
	uint8_t *a = buf_new(40 * KIB), *b = buf_new(40 * KIB), *d = buf_new(40 * KIB);

	add(c, a, 40 * KIB, true);
	add(c, b, 40 * KIB, true);
	add(c, d, 40 * KIB, true);
	cr_assert_eq(rng_fill(c), RNG_MAX_PER_CHAIN);
	expect_random(a, 0, 40 * KIB, "buffer 0");
	expect_random(b, 0, 24 * KIB, "buffer 1 up to the cap");
	expect_untouched(b, 24 * KIB, 40 * KIB, "buffer 1 past the cap");
	expect_untouched(d, 0, 40 * KIB, "buffer 2");
	free(a);
	free(b);
	free(d);
	free(c);
}

/* Exactly the cap, and many small buffers that add up to far more. */
Test(rng_fill, cap_exact_and_many_buffers)
{
	struct vq_chain *c = chain_new();
	uint8_t *p = buf_new(RNG_MAX_PER_CHAIN);
	uint8_t *many = buf_new((size_t)VQ_MAX_BUFS * KIB);

	add(c, p, RNG_MAX_PER_CHAIN, true);
	cr_assert_eq(rng_fill(c), RNG_MAX_PER_CHAIN);
	memset(c, 0, sizeof(*c));
	for (unsigned int i = 0; i < VQ_MAX_BUFS; i++)
		add(c, many + (size_t)i * KIB, KIB, true);
	cr_assert_eq(rng_fill(c), RNG_MAX_PER_CHAIN, "%u buffers of 1 KiB", VQ_MAX_BUFS);
	expect_random(many, 0, RNG_MAX_PER_CHAIN, "the first 64 buffers");
	expect_untouched(many, RNG_MAX_PER_CHAIN, (size_t)VQ_MAX_BUFS * KIB, "the rest");
	free(p);
	free(many);
	free(c);
}

/* A corrupt count never makes rng_fill read past bufs[] (ASan watches). */
Test(rng_fill, corrupt_counts)
{
	struct vq_chain *c = chain_new();
	uint8_t *p = buf_new(64);

	add(c, p, 64, true);
	c->nr = UINT_MAX;
	c->nr_out = UINT_MAX;
	c->in_len = UINT64_MAX;
	cr_assert_eq(rng_fill(c), 64);
	/* A writable buffer without a host address is skipped. */
	c->bufs[0].host = NULL;
	cr_assert_eq(rng_fill(c), 0);
	free(p);
	free(c);
}

/* ---- rng_serve() on a ring in guest memory ---- */

#define QSIZE 16
#define BUF(n) (TVQ_DATA + 0x100000ULL * (n)) /* 1 MiB apart */
#define R 0
#define RN VIRTQ_DESC_F_NEXT
#define W VIRTQ_DESC_F_WRITE
#define WN (VIRTQ_DESC_F_WRITE | VIRTQ_DESC_F_NEXT)

/* Guest bytes [@base + @from, @base + @to) still hold tvq_fill(@base, ..., @seed). */
static void expect_filled(struct tvq *t, uint64_t base, uint64_t from, uint64_t to,
			  unsigned int seed)
{
	const uint8_t *p = gmem_ptr(&t->m, base, to);

	cr_assert_not_null(p);
	for (uint64_t i = from; i < to; i++)
		cr_assert_eq(p[i], tvq_pattern(seed, i), "guest byte 0x%llx was written",
			     (unsigned long long)(base + i));
}

/*
 * [@base + @from, @base + @to) was overwritten with random bytes: about one
 * in 256 of them matches the old pattern by chance, far fewer than one in 32.
 */
static void expect_written(struct tvq *t, uint64_t base, uint64_t from, uint64_t to,
			   unsigned int seed)
{
	const uint8_t *p = gmem_ptr(&t->m, base, to);
	uint64_t same = 0;

	cr_assert_not_null(p);
	for (uint64_t i = from; i < to; i++)
		same += p[i] == tvq_pattern(seed, i);
	cr_assert_lt(same, (to - from) / 32 + 4, "%llu of %llu bytes at 0x%llx were not written",
		     (unsigned long long)same, (unsigned long long)(to - from),
		     (unsigned long long)(base + from));
}

static void expect_used(struct tvq *t, uint16_t slot, uint32_t id, uint32_t len)
{
	uint32_t got_id, got_len;

	tvq_used_elem(t, slot, &got_id, &got_len);
	cr_assert_eq(got_id, id, "used[%u].id %u, want %u", slot, got_id, id);
	cr_assert_eq(got_len, len, "used[%u].len %u, want %u", slot, got_len, len);
}

Test(rng_serve, answers_every_chain)
{
	struct tvq t;
	struct cvm_errbuf e = { "" };

	tvq_setup(&t, 16 * GMEM_MIB, QSIZE, false, false);
	for (unsigned int n = 0; n < 5; n++)
		tvq_fill(&t, BUF(n), 0x100000, n);
	/* 0: 64 bytes. 2: 1 MiB, capped. 3-4: a readable buffer, then 300 writable bytes. */
	tvq_desc(&t, TVQ_DESC, 0, BUF(0), 64, W, 0);
	tvq_desc(&t, TVQ_DESC, 2, BUF(1), 0x100000, W, 0);
	tvq_desc(&t, TVQ_DESC, 3, BUF(2), 200, RN, 4);
	tvq_desc(&t, TVQ_DESC, 4, BUF(3), 300, W, 0);
	tvq_post(&t, 0);
	tvq_post(&t, 2);
	tvq_post(&t, 3);
	cr_assert_eq(rng_serve(&t.q, &t.c, &e), 3, "%s", e.msg);
	cr_assert_eq(tvq_used_idx(&t), 3);
	expect_used(&t, 0, 0, 64);
	expect_used(&t, 1, 2, RNG_MAX_PER_CHAIN);
	expect_used(&t, 2, 3, 300);
	expect_written(&t, BUF(0), 0, 64, 0);
	expect_written(&t, BUF(1), 0, RNG_MAX_PER_CHAIN, 1);
	expect_filled(&t, BUF(1), RNG_MAX_PER_CHAIN, 0x100000, 1); /* past the cap */
	expect_written(&t, BUF(3), 0, 300, 3);
	expect_filled(&t, BUF(2), 0, 200, 2);	     /* readable */
	expect_filled(&t, BUF(3), 300, 0x100000, 3); /* past the buffer */
	expect_filled(&t, BUF(4), 0, 0x100000, 4);   /* never offered */
	cr_assert_neq(memcmp(gmem_ptr(&t.m, BUF(0), 64), gmem_ptr(&t.m, BUF(3), 64), 64), 0);
	/* An empty ring: nothing to do, notifications left on. */
	cr_assert_eq(rng_serve(&t.q, &t.c, &e), 0, "%s", e.msg);
	cr_assert_eq(tvq_used_idx(&t), 3);
	cr_assert_eq(tvq_used_flags(&t) & VIRTQ_USED_F_NO_NOTIFY, 0);
	tvq_teardown(&t);
}

Test(rng_serve, malformed_ring)
{
	struct tvq t;
	struct cvm_errbuf e = { "" };

	tvq_setup(&t, 16 * GMEM_MIB, QSIZE, false, false);
	tvq_desc(&t, TVQ_DESC, 0, BUF(0), 64, W, 0);
	tvq_post(&t, 0);
	tvq_post(&t, QSIZE + 3); /* a head outside the table */
	cr_assert_eq(rng_serve(&t.q, &t.c, &e), -EPROTO);
	cr_assert_neq(e.msg[0], '\0', "no message");
	cr_assert_eq(tvq_used_idx(&t), 1, "the good chain before it was answered");
	/* A buffer outside guest RAM. */
	tvq_teardown(&t);
	tvq_setup(&t, 16 * GMEM_MIB, QSIZE, false, false);
	tvq_desc(&t, TVQ_DESC, 0, 15 * GMEM_MIB, 2 * GMEM_MIB, W, 0);
	tvq_post(&t, 0);
	cr_assert_eq(rng_serve(&t.q, &t.c, &e), -EPROTO);
	cr_assert_eq(tvq_used_idx(&t), 0);
	tvq_teardown(&t);
}

/* ---- the device behind virtio-pci (KVM for the MSI-X routes and ioeventfds) ---- */

struct tdev {
	int vmfd;
	struct tvq t;
	struct irq_router router;
	struct cvm_logger quiet;
	struct rng_dev *r;
};

static void tdev_create(struct tdev *d)
{
	struct cvm_errbuf err = { "" };

	memset(d, 0, sizeof(*d));
	d->vmfd = tu_kvm_vm();
	d->quiet.level = CVM_LOG_ERROR;
	tvq_setup(&d->t, 16 * GMEM_MIB, QSIZE, false, false);
	irq_router_init(&d->router, d->vmfd);

	struct virtio_env env = {
		.mem = &d->t.m, .log = &d->quiet, .vm_fd = d->vmfd, .router = &d->router
	};

	cr_assert_eq(rng_dev_create(&d->r, &env, &err), 0, "%s", err.msg);
}

static void tdev_destroy(struct tdev *d)
{
	rng_dev_destroy(d->r);
	irq_router_destroy(&d->router);
	tvq_teardown(&d->t);
	close(d->vmfd);
}

static uint32_t br(struct tdev *d, uint64_t off, uint32_t len)
{
	struct pci_bar *b = &d->r->vp.pci.bars[0];
	uint8_t v[8] = { 0 };
	uint32_t x = 0;

	b->ops->read(b->opaque, off, v, len);
	memcpy(&x, v, len < 4 ? len : 4);
	return x;
}

static void bw(struct tdev *d, uint64_t off, uint32_t len, uint32_t v)
{
	struct pci_bar *b = &d->r->vp.pci.bars[0];

	b->ops->write(b->opaque, off, (uint8_t *)&v, len);
}

#define COMMON(f) (VP_COMMON_OFF + VIRTIO_PCI_COMMON_##f)

Test(rng_dev, pci_function)
{
	struct tdev d;
	struct pci_dev *p;
	unsigned int caps = 0, c;

	tdev_create(&d);
	p = &d.r->vp.pci;
	cr_assert_eq(pci_cfg_read(p, 0, 4), 0x10441af4, "1af4:1044");
	cr_assert_eq(p->cfg[0x08], 1, "revision 1: modern");
	cr_assert_eq(p->cfg[0x0b], 0xff, "class: other");
	cr_assert_eq(pci_cfg_read(p, 0x2e, 2), 0x1044, "subsystem id");
	c = p->cfg[0x34];
	for (int n = 0; c && n < 16; n++, c = p->cfg[c + 1])
		if (p->cfg[c] == 0x09)
			caps |= 1u << p->cfg[c + 3];
	cr_assert_eq(caps,
		     1u << VIRTIO_PCI_CAP_COMMON_CFG | 1u << VIRTIO_PCI_CAP_NOTIFY_CFG |
			     1u << VIRTIO_PCI_CAP_ISR_CFG,
		     "capabilities 0x%x: no DEVICE_CFG for a device without configuration", caps);
	cr_assert_eq(br(&d, COMMON(NUMQ), 2), 1, "one queue");
	bw(&d, COMMON(DFSELECT), 4, 0);
	cr_assert_eq(br(&d, COMMON(DF), 4) & 0xffffff, 0, "no device-specific features");
	bw(&d, COMMON(DFSELECT), 4, 1);
	cr_assert(br(&d, COMMON(DF), 4) & 1, "VERSION_1");
	cr_assert_eq(br(&d, VP_DEVICE_OFF, 4), 0, "no configuration space");
	tdev_destroy(&d);
}

Test(rng_dev, driver_ok_serves_the_queue)
{
	struct cvm_errbuf err = { "" };
	struct timespec ts = { 0, 10 * 1000 * 1000 };
	struct tdev d;
	struct tvq *t = &d.t;

	tdev_create(&d);
	tvq_fill(t, BUF(0), 4096, 7);
	tvq_fill(t, BUF(1), 4096, 8);
	tvq_desc(t, TVQ_DESC, 0, BUF(0), 32, WN, 1);
	tvq_desc(t, TVQ_DESC, 1, BUF(0) + 1024, 32, W, 0);
	tvq_post(t, 0);
	cr_assert_eq(virtio_pci_start(&d.r->vp, NULL, &err), 0, "%s", err.msg);
	bw(&d, COMMON(STATUS), 1, VIRTIO_CONFIG_S_ACKNOWLEDGE | VIRTIO_CONFIG_S_DRIVER);
	bw(&d, COMMON(GFSELECT), 4, 1);
	bw(&d, COMMON(GF), 4, 1);
	bw(&d, COMMON(STATUS), 1, 0x0b);
	cr_assert(br(&d, COMMON(STATUS), 1) & VIRTIO_CONFIG_S_FEATURES_OK);
	bw(&d, COMMON(Q_SELECT), 2, 0);
	bw(&d, COMMON(Q_SIZE), 2, QSIZE);
	bw(&d, COMMON(Q_DESCLO), 4, (uint32_t)TVQ_DESC);
	bw(&d, COMMON(Q_AVAILLO), 4, (uint32_t)TVQ_AVAIL);
	bw(&d, COMMON(Q_USEDLO), 4, (uint32_t)TVQ_USED);
	bw(&d, COMMON(Q_ENABLE), 2, 1);
	/* DRIVER_OK kicks the queue once: the chain already there is answered. */
	bw(&d, COMMON(STATUS), 1, 0x0f);
	for (int i = 0; i < 300 && tvq_used_idx(t) < 1; i++)
		nanosleep(&ts, NULL);
	cr_assert_eq(tvq_used_idx(t), 1, "the request was not answered");
	expect_used(t, 0, 0, 64);
	expect_written(t, BUF(0), 0, 32, 7);
	expect_filled(t, BUF(0), 32, 1024, 7);
	expect_written(t, BUF(0), 1024, 1056, 7);
	expect_filled(t, BUF(0), 1056, 4096, 7);
	cr_assert_eq(br(&d, COMMON(STATUS), 1) & VIRTIO_CONFIG_S_NEEDS_RESET, 0);

	/* A guest kick after a second request. */
	tvq_desc(t, TVQ_DESC, 2, BUF(1), 100, W, 0);
	tvq_post(t, 2);
	bw(&d, VP_NOTIFY_OFF, 2, 0);
	for (int i = 0; i < 300 && tvq_used_idx(t) < 2; i++)
		nanosleep(&ts, NULL);
	cr_assert_eq(tvq_used_idx(t), 2, "the kicked request was not answered");
	expect_used(t, 1, 2, 100);
	expect_written(t, BUF(1), 0, 100, 8);
	expect_filled(t, BUF(1), 100, 4096, 8);
	virtio_pci_stop(&d.r->vp);
	tdev_destroy(&d);
}

// SPDX-License-Identifier: BSD-3-Clause
/*
 * virtio-blk through the virtio-pci driver of virtio.c. The host tests
 * (tests/integration/test_blk.c, test_blk_discard.c) prepare the disks:
 *
 *   blk_read, blk_errors, blk_mq, blk_msix, blk_event_idx, blk_indirect:
 *	vda holds the pattern of pattern_byte(): byte i of sector s is byte i
 *	of s (32-bit LE) for i < 4, else (s * 31 + i) & 0xff.
 *   blk_write: writes write_byte() to sectors 10..17 of vda.
 *   blk_multi: sector 0 of the k-th disk starts with "DISK<k>".
 *   blk_discard (--rwdisk, >= 512 sectors): writes discard_word() to
 *	sectors 0..255, then WRITE_ZEROES 16..31, WRITE_ZEROES with UNMAP
 *	32..47 and DISCARD 64..127; everything else stays as it was.
 *   blk_discard_ro (-d): vda holds the pattern of pattern_byte(); every
 *	DISCARD and WRITE_ZEROES must fail and change nothing.
 *
 * Lines: "BLK capacity <sectors>", "BLK id <serial>", "BLK queues <n>",
 * "BLK disk <k> <signature>", "BLK discard config ...", "BLK discarded
 * 64..127 reads <z> zero <p> pattern <o> other sectors"; "SKIP name: why"
 * when the device does not offer the feature a variant tests.
 */
#include "hw.h"

#define SECTOR 512
#define MSIX_VECTOR 0x40
#define TIMER_VECTOR 0x41

struct blk {
	struct vdev d;
	uint64_t capacity;
	uint32_t seg_max, size_max, blk_size;
	uint16_t nq;
};

static uint8_t iobuf[16 * SECTOR] __attribute__((aligned(4096)));
static struct blk blks[4];

/* What a request returned: status byte (0x100 + x when the device wrote none), used len. */
struct blk_res {
	unsigned int status;
	uint32_t len;
};

static uint8_t pattern_byte(uint64_t s, unsigned int i)
{
	if (i < 4)
		return (uint8_t)(s >> (8 * i));
	return (uint8_t)(s * 31 + i);
}

static uint8_t write_byte(uint64_t s, unsigned int i)
{
	return (uint8_t)(s * 7 + i * 3 + 0x5a);
}

#define BLK_WANT                                                        \
	(1ULL << VIRTIO_BLK_F_SEG_MAX | 1ULL << VIRTIO_BLK_F_SIZE_MAX | \
	 1ULL << VIRTIO_BLK_F_BLK_SIZE | 1ULL << VIRTIO_BLK_F_FLUSH | 1ULL << VIRTIO_BLK_F_RO)

static int find_disks(const char *t, uint32_t *bdfs, unsigned int max, unsigned int want)
{
	unsigned int n = pci_find(0x1af4, 0x1042, bdfs, max);

	if (n < want) {
		fail(t, "%u virtio-blk PCI functions (1af4:1042) on bus 0, want %u", n, want);
		return -1;
	}
	return (int)n;
}

/*
 * Sets up @b on @bdf: features BLK_WANT | @want, @nq queues (0: all the
 * device has, up to VDEV_MAX_VQ), queue 0..nq-1 on MSI-X entry 0 when
 * @msix, else polled.
 */
static int blk_open(const char *t, struct blk *b, uint32_t bdf, uint64_t want, unsigned int nq,
		    bool msix)
{
	struct vdev *d = &b->d;

	memset(b, 0, sizeof(*b));
	if (vdev_probe(d, bdf) || vdev_negotiate(d, BLK_WANT | want, 0)) {
		fail(t, "%s", virtio_err);
		return -1;
	}
	printf("VIRTIO %02x.%x features offered 0x%llx accepted 0x%llx\n", (bdf >> 3) & 31, bdf & 7,
	       (unsigned long long)d->dev_features, (unsigned long long)d->features);
	b->capacity = vdev_cfg64(d, offsetof(struct virtio_blk_config, capacity));
	b->size_max = vdev_has(d, VIRTIO_BLK_F_SIZE_MAX) ?
			      vdev_cfg32(d, offsetof(struct virtio_blk_config, size_max)) :
			      0;
	b->seg_max = vdev_has(d, VIRTIO_BLK_F_SEG_MAX) ?
			     vdev_cfg32(d, offsetof(struct virtio_blk_config, seg_max)) :
			     0;
	b->blk_size = vdev_has(d, VIRTIO_BLK_F_BLK_SIZE) ?
			      vdev_cfg32(d, offsetof(struct virtio_blk_config, blk_size)) :
			      SECTOR;
	b->nq = vdev_has(d, VIRTIO_BLK_F_MQ) ?
			vdev_cfg16(d, offsetof(struct virtio_blk_config, num_queues)) :
			1;
	if (!b->nq) {
		fail(t, "MQ negotiated but num_queues is 0");
		return -1;
	}
	if (!nq)
		nq = b->nq < VDEV_MAX_VQ ? b->nq : VDEV_MAX_VQ;
	if (nq > b->nq) {
		fail(t, "want %u queues, the device has %u", nq, b->nq);
		return -1;
	}
	if (msix && vdev_msix_enable(d, 0, MSIX_VECTOR)) {
		fail(t, "%s", virtio_err);
		return -1;
	}
	for (unsigned int i = 0; i < nq; i++) {
		if (vdev_setup_vq(d, i, msix ? 0 : VIRTIO_MSI_NO_VECTOR)) {
			fail(t, "%s", virtio_err);
			return -1;
		}
	}
	if (vdev_driver_ok(d)) {
		fail(t, "%s", virtio_err);
		return -1;
	}
	return 0;
}

/*
 * One request on queue @qi: header, @len bytes at @buf split into @segs
 * equal descriptors (device-writable for IN and GET_ID), status byte.
 * Returns 0 with @r filled, -1 (FAIL printed) when it never completed.
 */
static int blk_submit(struct blk *b, unsigned int qi, uint32_t type, uint64_t sector, void *buf,
		      uint32_t len, unsigned int segs, bool indirect)
{
	struct vq *q = &b->d.vqs[qi];
	struct virtio_blk_outhdr *h = (struct virtio_blk_outhdr *)q->scratch;
	uint8_t *status = q->scratch + 64;
	struct vq_buf v[VQ_RING];
	/* The data of OUT, DISCARD and WRITE_ZEROES (the segments) is device-readable. */
	bool in = type != VIRTIO_BLK_T_OUT && type != VIRTIO_BLK_T_DISCARD &&
		  type != VIRTIO_BLK_T_WRITE_ZEROES;
	unsigned int n = 0;

	if (segs + 2 > VQ_RING || (len && !segs))
		return -1;
	h->type = type;
	h->ioprio = 0;
	h->sector = sector;
	*status = 0xee;
	v[n++] = (struct vq_buf){ h, sizeof(*h), false };
	for (unsigned int i = 0; len && i < segs; i++) {
		uint32_t part = len / segs + (i + 1 == segs ? len % segs : 0);

		v[n++] = (struct vq_buf){ (uint8_t *)buf + i * (len / segs), part, in };
	}
	v[n++] = (struct vq_buf){ status, 1, true };
	return vq_add(q, v, n, indirect, false);
}

static int blk_complete(const char *t, struct blk *b, unsigned int qi, int head, struct blk_res *r)
{
	struct vq *q = &b->d.vqs[qi];
	uint32_t id;

	if (vq_poll(q, &id, &r->len)) {
		fail(t, "%s", virtio_err);
		return -1;
	}
	if ((int)id != head) {
		fail(t, "queue %u: used id %u, want head %d", qi, id, head);
		return -1;
	}
	r->status = q->scratch[64] == 0xee ? 0x1ee : q->scratch[64];
	return 0;
}

static int blk_req(const char *t, struct blk *b, unsigned int qi, uint32_t type, uint64_t sector,
		   void *buf, uint32_t len, unsigned int segs, bool indirect, struct blk_res *r)
{
	int head = blk_submit(b, qi, type, sector, buf, len, segs, indirect);

	if (head < 0) {
		fail(t, "cannot queue the request: %s", virtio_err);
		return -1;
	}
	return blk_complete(t, b, qi, head, r);
}

/* A read that must succeed and match the pattern; @segs descriptors. */
static int read_check(const char *t, struct blk *b, unsigned int qi, uint64_t sector,
		      unsigned int count, unsigned int segs, bool indirect)
{
	struct blk_res r;
	uint32_t len = count * SECTOR;

	memset(iobuf, 0xcc, len);
	if (blk_req(t, b, qi, VIRTIO_BLK_T_IN, sector, iobuf, len, segs, indirect, &r))
		return -1;
	if (r.status != VIRTIO_BLK_S_OK) {
		fail(t, "read of %u sectors at %llu (%u descriptors%s, queue %u): status 0x%x",
		     count, (unsigned long long)sector, segs, indirect ? ", indirect" : "", qi,
		     r.status);
		return -1;
	}
	if (r.len > len + 1) {
		fail(t, "read of %u bytes: the device says it wrote %u", len + 1, r.len);
		return -1;
	}
	if (r.len != len + 1)
		printf("NOTE read of %u sectors: used len %u, want %u\n", count, r.len, len + 1);
	for (unsigned int s = 0; s < count; s++) {
		for (unsigned int i = 0; i < SECTOR; i++) {
			uint8_t want = pattern_byte(sector + s, i);

			if (iobuf[s * SECTOR + i] != want) {
				fail(t, "sector %llu byte %u is 0x%02x, want 0x%02x (queue %u)",
				     (unsigned long long)(sector + s), i, iobuf[s * SECTOR + i],
				     want, qi);
				return -1;
			}
		}
	}
	return 0;
}

/* How many descriptors to split 8 sectors into, given seg_max and size_max. */
static unsigned int segs_for_8(const struct blk *b)
{
	unsigned int segs = 8;

	if (b->seg_max)
		while (segs > b->seg_max)
			segs /= 2;
	if (b->size_max && 8 * SECTOR / segs > b->size_max)
		return 0;
	return segs;
}

void test_blk_read(const struct boot_params *bp)
{
	const char *t = "blk_read";
	uint32_t bdf;
	struct blk *b = &blks[0];
	unsigned int segs;

	(void)bp;
	if (find_disks(t, &bdf, 1, 1) < 0 || blk_open(t, b, bdf, 0, 1, false))
		return;
	printf("BLK capacity %llu\n", (unsigned long long)b->capacity);
	printf("BLK seg_max %u size_max %u blk_size %u\n", b->seg_max, b->size_max, b->blk_size);
	if (b->capacity < 16) {
		fail(t, "capacity %llu sectors: the test disk is larger",
		     (unsigned long long)b->capacity);
		return;
	}
	segs = segs_for_8(b);
	if (!segs) {
		fail(t, "size_max %u does not allow 8 sectors in %u segments", b->size_max,
		     b->seg_max);
		return;
	}
	if (read_check(t, b, 0, 0, 1, 1, false) || read_check(t, b, 0, 1, 1, 1, false) ||
	    read_check(t, b, 0, b->capacity - 1, 1, 1, false) ||
	    read_check(t, b, 0, b->capacity / 2, 8, segs, false))
		return;
	pass(t);
}

void test_blk_write(const struct boot_params *bp)
{
	const char *t = "blk_write";
	uint32_t bdf;
	struct blk *b = &blks[0];
	struct blk_res r;

	(void)bp;
	if (find_disks(t, &bdf, 1, 1) < 0 || blk_open(t, b, bdf, 0, 1, false))
		return;
	printf("BLK capacity %llu\n", (unsigned long long)b->capacity);
	if (b->d.dev_features & (1ULL << VIRTIO_BLK_F_RO)) {
		fail(t, "the device offers VIRTIO_BLK_F_RO for a writable disk");
		return;
	}
	if (!vdev_has(&b->d, VIRTIO_BLK_F_FLUSH)) {
		fail(t, "VIRTIO_BLK_F_FLUSH not offered");
		return;
	}
	for (unsigned int s = 0; s < 8; s++)
		for (unsigned int i = 0; i < SECTOR; i++)
			iobuf[s * SECTOR + i] = write_byte(10 + s, i);
	if (blk_req(t, b, 0, VIRTIO_BLK_T_OUT, 10, iobuf, 8 * SECTOR, b->seg_max >= 4 ? 4 : 1,
		    false, &r))
		return;
	if (r.status != VIRTIO_BLK_S_OK) {
		fail(t, "write of sectors 10..17: status 0x%x", r.status);
		return;
	}
	if (blk_req(t, b, 0, VIRTIO_BLK_T_FLUSH, 0, NULL, 0, 0, false, &r))
		return;
	if (r.status != VIRTIO_BLK_S_OK) {
		fail(t, "flush: status 0x%x", r.status);
		return;
	}
	memset(iobuf, 0, 8 * SECTOR);
	if (blk_req(t, b, 0, VIRTIO_BLK_T_IN, 10, iobuf, 8 * SECTOR, 1, false, &r))
		return;
	if (r.status != VIRTIO_BLK_S_OK) {
		fail(t, "read back of sectors 10..17: status 0x%x", r.status);
		return;
	}
	for (unsigned int s = 0; s < 8; s++) {
		for (unsigned int i = 0; i < SECTOR; i++) {
			if (iobuf[s * SECTOR + i] != write_byte(10 + s, i)) {
				fail(t, "read back: sector %u byte %u is 0x%02x, want 0x%02x",
				     10 + s, i, iobuf[s * SECTOR + i], write_byte(10 + s, i));
				return;
			}
		}
	}
	pass(t);
}

/* A request that must end with @want (and not break the device). */
static int expect_status(const char *t, struct blk *b, const char *what, uint32_t type,
			 uint64_t sector, uint32_t len, unsigned int want, unsigned int alt)
{
	struct blk_res r;

	memset(iobuf, 0, len ? len : 1);
	if (blk_req(t, b, 0, type, sector, iobuf, len, len ? 1 : 0, false, &r))
		return -1;
	printf("BLK %s: status %u\n", what, r.status);
	if (r.status != want && r.status != alt) {
		fail(t, "%s: status 0x%x, want %u", what, r.status, want);
		return -1;
	}
	if (vdev_status(&b->d) & (VIRTIO_CONFIG_S_NEEDS_RESET | VIRTIO_CONFIG_S_FAILED)) {
		fail(t, "%s: device status 0x%02x", what, vdev_status(&b->d));
		return -1;
	}
	return 0;
}

void test_blk_errors(const struct boot_params *bp)
{
	const char *t = "blk_errors";
	uint32_t bdf;
	struct blk *b = &blks[0];
	struct blk_res r;
	char id[VIRTIO_BLK_ID_BYTES + 1];

	(void)bp;
	if (find_disks(t, &bdf, 1, 1) < 0 || blk_open(t, b, bdf, 0, 1, false))
		return;
	printf("BLK capacity %llu\n", (unsigned long long)b->capacity);
	if (!vdev_has(&b->d, VIRTIO_BLK_F_RO)) {
		fail(t, "VIRTIO_BLK_F_RO not offered for a read-only (-d) disk");
		return;
	}
	if (expect_status(t, b, "read at sector capacity", VIRTIO_BLK_T_IN, b->capacity, SECTOR,
			  VIRTIO_BLK_S_IOERR, VIRTIO_BLK_S_IOERR) ||
	    expect_status(t, b, "read across the end", VIRTIO_BLK_T_IN, b->capacity - 1, 2 * SECTOR,
			  VIRTIO_BLK_S_IOERR, VIRTIO_BLK_S_IOERR) ||
	    expect_status(t, b, "read of 100 bytes", VIRTIO_BLK_T_IN, 0, 100, VIRTIO_BLK_S_IOERR,
			  VIRTIO_BLK_S_IOERR) ||
	    expect_status(t, b, "request type 0x7f", 0x7f, 0, SECTOR, VIRTIO_BLK_S_UNSUPP,
			  VIRTIO_BLK_S_UNSUPP))
		return;

	memset(iobuf, 0, VIRTIO_BLK_ID_BYTES);
	if (blk_req(t, b, 0, VIRTIO_BLK_T_GET_ID, 0, iobuf, VIRTIO_BLK_ID_BYTES, 1, false, &r))
		return;
	if (r.status != VIRTIO_BLK_S_OK) {
		fail(t, "GET_ID: status 0x%x", r.status);
		return;
	}
	for (unsigned int i = 0; i < VIRTIO_BLK_ID_BYTES; i++)
		id[i] = iobuf[i] >= 0x20 && iobuf[i] < 0x7f ? (char)iobuf[i] :
			iobuf[i]			    ? '?' :
							      '\0';
	id[VIRTIO_BLK_ID_BYTES] = '\0';
	printf("BLK id %s\n", id);

	/* A write to the read-only disk, then the data must be unchanged. */
	for (unsigned int i = 0; i < SECTOR; i++)
		iobuf[i] = 0xa5;
	if (blk_req(t, b, 0, VIRTIO_BLK_T_OUT, 0, iobuf, SECTOR, 1, false, &r))
		return;
	printf("BLK write to read-only: status %u\n", r.status);
	if (r.status != VIRTIO_BLK_S_IOERR && r.status != VIRTIO_BLK_S_UNSUPP) {
		fail(t, "write to a read-only disk: status 0x%x, want IOERR", r.status);
		return;
	}
	if (read_check(t, b, 0, 0, 1, 1, false))
		return;
	pass(t);
}

void test_blk_mq(const struct boot_params *bp)
{
	const char *t = "blk_mq";
	uint32_t bdf;
	struct blk *b = &blks[0];
	static uint8_t bufs[VDEV_MAX_VQ][SECTOR] __attribute__((aligned(512)));
	int heads[VDEV_MAX_VQ];

	(void)bp;
	if (find_disks(t, &bdf, 1, 1) < 0 || blk_open(t, b, bdf, 1ULL << VIRTIO_BLK_F_MQ, 0, false))
		return;
	if (!vdev_has(&b->d, VIRTIO_BLK_F_MQ)) {
		fail(t, "VIRTIO_BLK_F_MQ not offered (features 0x%llx)",
		     (unsigned long long)b->d.dev_features);
		return;
	}
	printf("BLK queues %u of %u\n", b->d.nvqs, b->nq);
	/* A read on every queue at once, then collect them. */
	for (unsigned int q = 0; q < b->d.nvqs; q++) {
		memset(bufs[q], 0, SECTOR);
		heads[q] = blk_submit(b, q, VIRTIO_BLK_T_IN, q + 3, bufs[q], SECTOR, 1, false);
		if (heads[q] < 0) {
			fail(t, "queue %u: %s", q, virtio_err);
			return;
		}
	}
	for (unsigned int q = 0; q < b->d.nvqs; q++) {
		struct blk_res r;

		if (blk_complete(t, b, q, heads[q], &r))
			return;
		if (r.status != VIRTIO_BLK_S_OK) {
			fail(t, "queue %u: read status 0x%x", q, r.status);
			return;
		}
		for (unsigned int i = 0; i < SECTOR; i++) {
			if (bufs[q][i] != pattern_byte(q + 3, i)) {
				fail(t, "queue %u: sector %u byte %u is 0x%02x, want 0x%02x", q,
				     q + 3, i, bufs[q][i], pattern_byte(q + 3, i));
				return;
			}
		}
	}
	/* And each queue once more, one at a time. */
	for (unsigned int q = 0; q < b->d.nvqs; q++)
		if (read_check(t, b, q, 2 * q, 2, 2, false))
			return;
	pass(t);
}

void test_blk_multi(const struct boot_params *bp)
{
	const char *t = "blk_multi";
	uint32_t bdfs[ARRAY_SIZE(blks)];
	char arg[16];
	unsigned int want = 3;
	int n;

	if (cmdline_get(bp, "cvm.arg", arg, sizeof(arg)) > 0 && arg[0] >= '1' && arg[0] <= '4')
		want = (unsigned int)(arg[0] - '0');
	n = find_disks(t, bdfs, ARRAY_SIZE(bdfs), want);
	if (n < 0)
		return;
	if ((unsigned int)n != want) {
		fail(t, "%d virtio-blk functions, want %u", n, want);
		return;
	}
	for (unsigned int k = 0; k < want; k++) {
		struct blk *b = &blks[k];
		struct blk_res r;
		char sig[8];

		if (blk_open(t, b, bdfs[k], 0, 1, false))
			return;
		memset(iobuf, 0, SECTOR);
		if (blk_req(t, b, 0, VIRTIO_BLK_T_IN, 0, iobuf, SECTOR, 1, false, &r))
			return;
		if (r.status != VIRTIO_BLK_S_OK) {
			fail(t, "disk %u (slot %u): read status 0x%x", k, (bdfs[k] >> 3) & 31,
			     r.status);
			return;
		}
		memcpy(sig, iobuf, 5);
		sig[5] = '\0';
		for (int i = 0; i < 5; i++)
			if (sig[i] < 0x20 || sig[i] >= 0x7f)
				sig[i] = '?';
		printf("BLK disk %u slot %u %s capacity %llu\n", k, (bdfs[k] >> 3) & 31, sig,
		       (unsigned long long)b->capacity);
		if (memcmp(iobuf, "DISK", 4) || iobuf[4] != '0' + k) {
			fail(t, "disk %u (slot %u) has signature '%s', want 'DISK%u'", k,
			     (bdfs[k] >> 3) & 31, sig, k);
			return;
		}
	}
	pass(t);
}

/* MSI-X: the LAPIC must be software-enabled; a LAPIC timer bounds the wait. */
static volatile unsigned int msix_count, timer_ticks;
static volatile uint16_t *msix_used_idx; /* the queue's used->idx */
static volatile uint16_t msix_seen_idx;	 /* its value when the interrupt came */

static void msix_handler(struct irq_frame *f)
{
	(void)f;
	if (msix_used_idx)
		msix_seen_idx = *msix_used_idx;
	msix_count++;
	lapic_write(LAPIC_EOI, 0);
}

static void timer_handler(struct irq_frame *f)
{
	(void)f;
	timer_ticks++;
	lapic_write(LAPIC_EOI, 0);
}

#define LAPIC_LVT_TIMER 0x320
#define LAPIC_TIMER_INIT 0x380
#define LAPIC_TIMER_DIV 0x3e0

/* Sleeps in hlt until @count moves past @from or ~@max_ticks timer ticks passed. */
static void wait_irq(volatile unsigned int *count, unsigned int from, unsigned int max_ticks)
{
	unsigned int start = timer_ticks;

	lapic_write(LAPIC_TIMER_DIV, 0x3);		      /* divide by 16 */
	lapic_write(LAPIC_LVT_TIMER, 0x20000 | TIMER_VECTOR); /* periodic */
	lapic_write(LAPIC_TIMER_INIT, 200000);
	while (*count == from && timer_ticks - start < max_ticks)
		sti_hlt();
	cli();
	lapic_write(LAPIC_LVT_TIMER, 0x10000 | TIMER_VECTOR); /* masked */
	lapic_write(LAPIC_TIMER_INIT, 0);
}

void test_blk_msix(const struct boot_params *bp)
{
	const char *t = "blk_msix";
	uint32_t bdf;
	struct blk *b = &blks[0];
	struct vq *q;
	int head;
	struct blk_res r;
	unsigned int early;

	(void)bp;
	idt_install(t);
	idt_set_handler(MSIX_VECTOR, msix_handler);
	idt_set_handler(TIMER_VECTOR, timer_handler);
	pic_init(0); /* legacy IRQs remapped and masked */
	lapic_write(LAPIC_SVR, 0x1ff);
	if (find_disks(t, &bdf, 1, 1) < 0 || blk_open(t, b, bdf, 0, 1, true))
		return;
	q = &b->d.vqs[0];
	printf("BLK msix table %u entries\n", b->d.msix_size);
	/* Nothing may be pending before the request: take anything early now. */
	msix_used_idx = (volatile uint16_t *)&q->used->idx;
	sti();
	delay_loops(2000);
	cli();
	early = msix_count;
	if (early)
		printf("NOTE %u MSI-X interrupt(s) before any request, used->idx %u\n", early,
		       msix_seen_idx);
	msix_count = 0;
	msix_seen_idx = 0;
	memset(iobuf, 0, SECTOR);
	head = blk_submit(b, 0, VIRTIO_BLK_T_IN, 5, iobuf, SECTOR, 1, false);
	if (head < 0) {
		fail(t, "%s", virtio_err);
		return;
	}
	wait_irq(&msix_count, 0, 2000);
	printf("BLK msix interrupts %u timer ticks %u\n", msix_count, timer_ticks);
	if (!msix_count) {
		fail(t, "no MSI-X interrupt (vector 0x%x) after %u timer ticks; used->idx %u",
		     MSIX_VECTOR, timer_ticks, *(volatile uint16_t *)&q->used->idx);
		return;
	}
	if (msix_seen_idx == 0) {
		/* Let the completion land, to tell a late used->idx from none at all. */
		delay_loops(20000);
		fail(t,
		     "the MSI-X interrupt came while used->idx was still 0 (it is %u a "
		     "moment later): the device signalled before publishing the used entry",
		     *(volatile uint16_t *)&q->used->idx);
		return;
	}
	if (blk_complete(t, b, 0, head, &r))
		return;
	if (r.status != VIRTIO_BLK_S_OK) {
		fail(t, "read status 0x%x", r.status);
		return;
	}
	for (unsigned int i = 0; i < SECTOR; i++) {
		if (iobuf[i] != pattern_byte(5, i)) {
			fail(t, "sector 5 byte %u is 0x%02x, want 0x%02x", i, iobuf[i],
			     pattern_byte(5, i));
			return;
		}
	}
	if (early) {
		fail(t,
		     "the request completed by MSI-X, but the device also sent %u interrupt(s) "
		     "with nothing in the used ring, before any request (at DRIVER_OK?)",
		     early);
		return;
	}
	pass(t);
}

void test_blk_event_idx(const struct boot_params *bp)
{
	const char *t = "blk_event_idx";
	uint32_t bdf;
	struct blk *b = &blks[0];
	struct vq *q;

	(void)bp;
	if (find_disks(t, &bdf, 1, 1) < 0 ||
	    blk_open(t, b, bdf, 1ULL << VIRTIO_RING_F_EVENT_IDX, 1, false))
		return;
	if (!vdev_has(&b->d, VIRTIO_RING_F_EVENT_IDX)) {
		printf("SKIP %s: VIRTIO_F_RING_EVENT_IDX not offered (features 0x%llx)\n", t,
		       (unsigned long long)b->d.dev_features);
		return;
	}
	q = &b->d.vqs[0];
	/*
	 * Notifications are sent only when avail_event says the device wants
	 * one: a device that never updates avail_event stalls here.
	 */
	for (unsigned int k = 0; k < 2 * VQ_RING + 3; k++) {
		if (read_check(t, b, 0, k % 20, 1, 1, false)) {
			printf("NOTE avail_event %u after %u requests\n", *vq_avail_event(q), k);
			return;
		}
	}
	/* Two requests published behind one notification check. */
	{
		static uint8_t two[2][SECTOR] __attribute__((aligned(512)));
		uint16_t old = q->avail_idx;
		int h[2];

		for (int k = 0; k < 2; k++) {
			struct vq_buf v[3] = {
				{ q->scratch + 128 * k, sizeof(struct virtio_blk_outhdr), false },
				{ two[k], SECTOR, true },
				{ q->scratch + 128 * k + 64, 1, true },
			};
			struct virtio_blk_outhdr *h0 = (struct virtio_blk_outhdr *)v[0].addr;

			h0->type = VIRTIO_BLK_T_IN;
			h0->ioprio = 0;
			h0->sector = 7 + k;
			*(uint8_t *)v[2].addr = 0xee;
			h[k] = vq_add(q, v, 3, false, true);
		}
		vq_kick(q, old);
		for (int k = 0; k < 2; k++) {
			uint32_t id, len;

			if (vq_poll(q, &id, &len)) {
				fail(t, "batch of two: %s", virtio_err);
				return;
			}
			if ((int)id != h[0] && (int)id != h[1]) {
				fail(t, "batch of two: used id %u, heads %d %d", id, h[0], h[1]);
				return;
			}
		}
		for (unsigned int k = 0; k < 2; k++) {
			if (q->scratch[128 * k + 64] != VIRTIO_BLK_S_OK) {
				fail(t, "batch of two: request %u status 0x%x", k,
				     q->scratch[128 * k + 64]);
				return;
			}
			for (unsigned int i = 0; i < SECTOR; i++) {
				if (two[k][i] != pattern_byte(7 + k, i)) {
					fail(t,
					     "batch of two: sector %u byte %u is 0x%02x, want "
					     "0x%02x",
					     7 + k, i, two[k][i], pattern_byte(7 + k, i));
					return;
				}
			}
		}
	}
	printf("BLK notifies %u skipped %u avail_event %u\n", q->notifies, q->notifies_skipped,
	       *vq_avail_event(q));
	pass(t);
}

void test_blk_indirect(const struct boot_params *bp)
{
	const char *t = "blk_indirect";
	uint32_t bdf;
	struct blk *b = &blks[0];

	(void)bp;
	if (find_disks(t, &bdf, 1, 1) < 0 ||
	    blk_open(t, b, bdf, 1ULL << VIRTIO_RING_F_INDIRECT_DESC, 1, false))
		return;
	if (!vdev_has(&b->d, VIRTIO_RING_F_INDIRECT_DESC)) {
		printf("SKIP %s: VIRTIO_F_INDIRECT_DESC not offered (features 0x%llx)\n", t,
		       (unsigned long long)b->d.dev_features);
		return;
	}
	/* 8 sectors in 8 data descriptors of one indirect table, then mixed with direct. */
	unsigned int segs = segs_for_8(b);

	if (!segs) {
		fail(t, "size_max %u does not allow 8 sectors in %u segments", b->size_max,
		     b->seg_max);
		return;
	}
	if (read_check(t, b, 0, 0, 8, segs, true) || read_check(t, b, 0, 9, 1, 1, false) ||
	    read_check(t, b, 0, 11, 2, 2, true) || read_check(t, b, 0, b->capacity - 1, 1, 1, true))
		return;
	pass(t);
}

/*
 * INTx: with MSI-X off, a completion raises INTA# on the line that config
 * space (and the DSDT's _PRT) name; it reaches the CPU through the 8259.
 * Reading the virtio ISR acknowledges it.
 */
static volatile unsigned int intx_count;
static volatile uint8_t intx_isr;
static unsigned int intx_line;

static void intx_handler(struct irq_frame *f)
{
	(void)f;
	intx_isr |= *(volatile uint8_t *)blks[0].d.isr; /* read-to-clear lowers the line */
	intx_count++;
	pic_eoi(intx_line);
}

void test_blk_intx(const struct boot_params *bp)
{
	const char *t = "blk_intx";
	uint32_t bdf;
	struct blk *b = &blks[0];
	struct blk_res r;
	int head;

	(void)bp;
	if (find_disks(t, &bdf, 1, 1) < 0)
		return;
	intx_line = pci_read8(bdf, 0x3c);
	printf("BLK intx pin %u line %u\n", pci_read8(bdf, 0x3d), intx_line);
	if (pci_read8(bdf, 0x3d) != 1 || intx_line == 0 || intx_line >= 16 || intx_line == 2) {
		fail(t, "interrupt pin %u line %u: want pin A on an ISA line", pci_read8(bdf, 0x3d),
		     intx_line);
		return;
	}
	idt_install(t);
	idt_set_handler(0x20 + intx_line, intx_handler);
	idt_set_handler(TIMER_VECTOR, timer_handler);
	pic_init((uint16_t)(1u << intx_line | 1u << 2));
	lapic_write(LAPIC_SVR, 0x1ff);
	if (blk_open(t, b, bdf, 0, 1, false))
		return;
	memset(iobuf, 0, SECTOR);
	head = blk_submit(b, 0, VIRTIO_BLK_T_IN, 7, iobuf, SECTOR, 1, false);
	if (head < 0) {
		fail(t, "%s", virtio_err);
		return;
	}
	wait_irq(&intx_count, 0, 2000);
	printf("BLK intx interrupts %u isr 0x%x timer ticks %u\n", intx_count, intx_isr,
	       timer_ticks);
	if (!intx_count) {
		fail(t, "no interrupt on IRQ %u (PIC IRR 0x%x)", intx_line, pic_read_irr());
		return;
	}
	if (!(intx_isr & 1)) {
		fail(t, "the interrupt came with ISR 0x%x, want the queue bit", intx_isr);
		return;
	}
	if (blk_complete(t, b, 0, head, &r))
		return;
	if (r.status != VIRTIO_BLK_S_OK || iobuf[0] != pattern_byte(7, 0)) {
		fail(t, "read status 0x%x, byte 0x%02x", r.status, iobuf[0]);
		return;
	}
	pass(t);
}

/*
 * DISCARD and WRITE_ZEROES. blk_discard owns sectors 0..255 of a writable
 * disk: word j of sector s is discard_word(s, j) (never 0), except where
 * zeroed or discarded.
 */
#define DISC_SECTORS 256u
#define DISC_CHUNK 16u /* sectors per read or write: all of iobuf */
#define DISC_WORDS (SECTOR / 8)

static struct virtio_blk_discard_write_zeroes dwz_segs[2] __attribute__((aligned(64)));
static uint8_t disc_tail[8 * SECTOR] __attribute__((aligned(512)));

static uint64_t discard_word(uint64_t s, unsigned int j)
{
	return 0xa5a5a5a5a5a5a5a5ULL ^ (s << 32 | j);
}

/* A set of acceptable status bytes. */
#define ST(x) (1u << (x))

/*
 * One DISCARD or WRITE_ZEROES request: segment {@sector, @num, @flags},
 * @seglen bytes of it (16; less for a short one, 32 for two copies, 0 for
 * none). Passes when the status is in @accept (ST() bits) and the device is
 * still alive; prints "BLK <what>: status <n>".
 */
static int expect_dwz(const char *t, struct blk *b, const char *what, uint32_t type,
		      uint64_t sector, uint32_t num, uint32_t flags, uint32_t seglen,
		      unsigned int accept)
{
	struct blk_res r;

	for (unsigned int k = 0; k < ARRAY_SIZE(dwz_segs); k++) {
		dwz_segs[k].sector = sector;
		dwz_segs[k].num_sectors = num;
		dwz_segs[k].flags = flags;
	}
	if (blk_req(t, b, 0, type, 0, dwz_segs, seglen, seglen ? 1 : 0, false, &r))
		return -1;
	printf("BLK %s: status %u\n", what, r.status);
	if (r.status > 2 || !(accept & ST(r.status))) {
		fail(t, "%s: status 0x%x, want one of%s%s%s", what, r.status,
		     accept & ST(VIRTIO_BLK_S_OK) ? " OK" : "",
		     accept & ST(VIRTIO_BLK_S_IOERR) ? " IOERR" : "",
		     accept & ST(VIRTIO_BLK_S_UNSUPP) ? " UNSUPP" : "");
		return -1;
	}
	if (r.len != 1)
		printf("NOTE %s: used len %u, want 1 (the status byte)\n", what, r.len);
	if (vdev_status(&b->d) & (VIRTIO_CONFIG_S_NEEDS_RESET | VIRTIO_CONFIG_S_FAILED)) {
		fail(t, "%s: device status 0x%02x", what, vdev_status(&b->d));
		return -1;
	}
	return 0;
}

/* Writes discard_word() to sectors 0..DISC_SECTORS-1 and flushes. */
static int discard_fill(const char *t, struct blk *b)
{
	uint64_t *w = (uint64_t *)iobuf;
	struct blk_res r;

	for (unsigned int s0 = 0; s0 < DISC_SECTORS; s0 += DISC_CHUNK) {
		for (unsigned int s = 0; s < DISC_CHUNK; s++)
			for (unsigned int j = 0; j < DISC_WORDS; j++)
				w[s * DISC_WORDS + j] = discard_word(s0 + s, j);
		if (blk_req(t, b, 0, VIRTIO_BLK_T_OUT, s0, iobuf, DISC_CHUNK * SECTOR, 1, false,
			    &r))
			return -1;
		if (r.status != VIRTIO_BLK_S_OK) {
			fail(t, "write of sectors %u..%u: status 0x%x", s0, s0 + DISC_CHUNK - 1,
			     r.status);
			return -1;
		}
	}
	if (blk_req(t, b, 0, VIRTIO_BLK_T_FLUSH, 0, NULL, 0, 0, false, &r))
		return -1;
	if (r.status != VIRTIO_BLK_S_OK) {
		fail(t, "flush: status 0x%x", r.status);
		return -1;
	}
	return 0;
}

/*
 * Reads sectors 0..DISC_SECTORS-1 back: 16..47 must be zero, 64..127 are
 * counted in @zero / @pat / @other, the rest must hold discard_word().
 */
static int discard_verify(const char *t, struct blk *b, const char *when, unsigned int *zero,
			  unsigned int *pat, unsigned int *other)
{
	const uint64_t *w = (const uint64_t *)iobuf;
	struct blk_res r;

	*zero = *pat = *other = 0;
	for (unsigned int s0 = 0; s0 < DISC_SECTORS; s0 += DISC_CHUNK) {
		memset(iobuf, 0xcc, DISC_CHUNK * SECTOR);
		if (blk_req(t, b, 0, VIRTIO_BLK_T_IN, s0, iobuf, DISC_CHUNK * SECTOR, 1, false, &r))
			return -1;
		if (r.status != VIRTIO_BLK_S_OK) {
			fail(t, "%s: read of sectors %u..%u: status 0x%x", when, s0,
			     s0 + DISC_CHUNK - 1, r.status);
			return -1;
		}
		for (unsigned int s = s0; s < s0 + DISC_CHUNK; s++) {
			const uint64_t *sw = w + (s - s0) * DISC_WORDS;
			bool zeroed = s >= 16 && s < 48;
			unsigned int nz = 0, np = 0;

			for (unsigned int j = 0; j < DISC_WORDS; j++) {
				nz += sw[j] == 0;
				np += sw[j] == discard_word(s, j);
			}
			if (s >= 64 && s < 128) {
				*zero += nz == DISC_WORDS;
				*pat += np == DISC_WORDS;
				*other += nz != DISC_WORDS && np != DISC_WORDS;
				continue;
			}
			if (zeroed ? nz == DISC_WORDS : np == DISC_WORDS)
				continue;
			for (unsigned int j = 0; j < DISC_WORDS; j++) {
				uint64_t want = zeroed ? 0 : discard_word(s, j);

				if (sw[j] != want) {
					fail(t, "%s: sector %u word %u is 0x%llx, want 0x%llx%s",
					     when, s, j, (unsigned long long)sw[j],
					     (unsigned long long)want,
					     zeroed ? " (zeroed by WRITE_ZEROES)" :
						      " (the pattern written)");
					return -1;
				}
			}
		}
	}
	return 0;
}

/* Reads the last 8 sectors into @buf. */
static int read_tail(const char *t, struct blk *b, uint8_t *buf)
{
	struct blk_res r;

	memset(buf, 0xcc, 8 * SECTOR);
	if (blk_req(t, b, 0, VIRTIO_BLK_T_IN, b->capacity - 8, buf, 8 * SECTOR, 1, false, &r))
		return -1;
	if (r.status != VIRTIO_BLK_S_OK) {
		fail(t, "read of the last 8 sectors: status 0x%x", r.status);
		return -1;
	}
	return 0;
}

void test_blk_discard(const struct boot_params *bp)
{
	const char *t = "blk_discard";
	const uint32_t D = VIRTIO_BLK_T_DISCARD, WZ = VIRTIO_BLK_T_WRITE_ZEROES;
	const uint32_t UNMAP = VIRTIO_BLK_WRITE_ZEROES_FLAG_UNMAP;
	const unsigned int OK = ST(VIRTIO_BLK_S_OK), IOERR = ST(VIRTIO_BLK_S_IOERR),
			   UNSUPP = ST(VIRTIO_BLK_S_UNSUPP);
	const uint32_t SEG = sizeof(struct virtio_blk_discard_write_zeroes);
	uint32_t bdf, max_d, max_dseg, align, max_wz, max_wzseg;
	struct blk *b = &blks[0];
	unsigned int zero, pat, other, zero2, pat2, other2;
	uint64_t cap;

	(void)bp;
	if (find_disks(t, &bdf, 1, 1) < 0 ||
	    blk_open(t, b, bdf, 1ULL << VIRTIO_BLK_F_DISCARD | 1ULL << VIRTIO_BLK_F_WRITE_ZEROES, 1,
		     false))
		return;
	cap = b->capacity;
	printf("BLK capacity %llu\n", (unsigned long long)cap);
	if (vdev_has(&b->d, VIRTIO_BLK_F_RO)) {
		fail(t, "VIRTIO_BLK_F_RO offered for a writable (--rwdisk) disk");
		return;
	}
	if (!vdev_has(&b->d, VIRTIO_BLK_F_DISCARD) || !vdev_has(&b->d, VIRTIO_BLK_F_WRITE_ZEROES) ||
	    !vdev_has(&b->d, VIRTIO_BLK_F_FLUSH)) {
		fail(t,
		     "VIRTIO_BLK_F_DISCARD, _WRITE_ZEROES and _FLUSH not all offered "
		     "(features 0x%llx)",
		     (unsigned long long)b->d.dev_features);
		return;
	}
	max_d = vdev_cfg32(&b->d, offsetof(struct virtio_blk_config, max_discard_sectors));
	max_dseg = vdev_cfg32(&b->d, offsetof(struct virtio_blk_config, max_discard_seg));
	align = vdev_cfg32(&b->d, offsetof(struct virtio_blk_config, discard_sector_alignment));
	max_wz = vdev_cfg32(&b->d, offsetof(struct virtio_blk_config, max_write_zeroes_sectors));
	max_wzseg = vdev_cfg32(&b->d, offsetof(struct virtio_blk_config, max_write_zeroes_seg));
	printf("BLK discard config max_discard_sectors %u max_discard_seg %u "
	       "discard_sector_alignment %u max_write_zeroes_sectors %u max_write_zeroes_seg %u "
	       "write_zeroes_may_unmap %u\n",
	       max_d, max_dseg, align, max_wz, max_wzseg,
	       vdev_cfg8(&b->d, offsetof(struct virtio_blk_config, write_zeroes_may_unmap)));
	if (max_d < 64 || !max_dseg || max_wz < 16 || !max_wzseg || align > 64 ||
	    (align && 64 % align)) {
		fail(t, "the config does not allow a 64-sector DISCARD at sector 64 or a 16-sector "
			"WRITE_ZEROES in one segment");
		return;
	}
	if (cap < 2 * DISC_SECTORS) {
		fail(t, "capacity %llu sectors: the test disk is larger", (unsigned long long)cap);
		return;
	}

	if (discard_fill(t, b) || read_tail(t, b, disc_tail))
		return;
	if (expect_dwz(t, b, "WRITE_ZEROES 16..31", WZ, 16, 16, 0, SEG, OK) ||
	    expect_dwz(t, b, "WRITE_ZEROES UNMAP 32..47", WZ, 32, 16, UNMAP, SEG, OK) ||
	    expect_dwz(t, b, "DISCARD 64..127", D, 64, 64, 0, SEG, OK))
		return;
	if (discard_verify(t, b, "after DISCARD and WRITE_ZEROES", &zero, &pat, &other))
		return;
	printf("BLK discarded 64..127 reads %u zero %u pattern %u other sectors\n", zero, pat,
	       other);

	/* Out of range, malformed and unsupported: errors, and nothing changes. */
	if (expect_dwz(t, b, "WRITE_ZEROES across the end", WZ, cap - 8, 16, 0, SEG, IOERR) ||
	    expect_dwz(t, b, "WRITE_ZEROES UNMAP across the end", WZ, cap - 8, 16, UNMAP, SEG,
		       IOERR) ||
	    expect_dwz(t, b, "WRITE_ZEROES at sector capacity", WZ, cap, 1, 0, SEG, IOERR) ||
	    expect_dwz(t, b, "DISCARD across the end", D, cap - 8, 16, 0, SEG, IOERR) ||
	    expect_dwz(t, b, "DISCARD at sector capacity", D, cap, 1, 0, SEG, IOERR) ||
	    (max_wz < ~0u && expect_dwz(t, b, "WRITE_ZEROES of max_write_zeroes_sectors + 1", WZ, 0,
					max_wz + 1, 0, SEG, IOERR)) ||
	    (max_d < ~0u && expect_dwz(t, b, "DISCARD of max_discard_sectors + 1", D, 0, max_d + 1,
				       0, SEG, IOERR)) ||
	    /* sector + num_sectors wraps around 2^64 */
	    expect_dwz(t, b, "WRITE_ZEROES at sector 2^64 - 8", WZ, ~0ULL - 7, 16, 0, SEG,
		       IOERR | UNSUPP) ||
	    expect_dwz(t, b, "DISCARD at sector 2^64 - 8", D, ~0ULL - 7, 16, 0, SEG,
		       IOERR | UNSUPP) ||
	    /* sector * 512 wraps to byte 128 * 512 */
	    expect_dwz(t, b, "WRITE_ZEROES at sector 2^55 + 128", WZ, (1ULL << 55) + 128, 8, 0, SEG,
		       IOERR | UNSUPP) ||
	    expect_dwz(t, b, "DISCARD at sector 2^55 + 128", D, (1ULL << 55) + 128, 8, 0, SEG,
		       IOERR | UNSUPP) ||
	    /* unknown flags; UNMAP on a DISCARD (the spec says UNSUPP for both) */
	    expect_dwz(t, b, "WRITE_ZEROES flags 0x2", WZ, 128, 8, 2, SEG, UNSUPP) ||
	    expect_dwz(t, b, "DISCARD with UNMAP", D, 128, 8, UNMAP, SEG, UNSUPP) ||
	    /* malformed segments (0 sectors: a no-op is fine too, as in QEMU) */
	    expect_dwz(t, b, "WRITE_ZEROES of 0 sectors", WZ, 128, 0, 0, SEG,
		       OK | IOERR | UNSUPP) ||
	    expect_dwz(t, b, "DISCARD of 0 sectors", D, 128, 0, 0, SEG, OK | IOERR | UNSUPP) ||
	    expect_dwz(t, b, "WRITE_ZEROES with an 8-byte segment", WZ, 128, 8, 0, 8,
		       IOERR | UNSUPP) ||
	    expect_dwz(t, b, "DISCARD without a segment", D, 128, 8, 0, 0, IOERR | UNSUPP))
		return;
	if (max_wzseg == 1 && expect_dwz(t, b, "WRITE_ZEROES with 2 segments (max 1)", WZ, 128, 8,
					 0, 2 * SEG, IOERR | UNSUPP))
		return;
	if (max_dseg == 1 && expect_dwz(t, b, "DISCARD with 2 segments (max 1)", D, 128, 8, 0,
					2 * SEG, IOERR | UNSUPP))
		return;

	/* The device still works, and none of that changed the disk. */
	if (discard_verify(t, b, "after the bad requests", &zero2, &pat2, &other2) ||
	    read_tail(t, b, iobuf))
		return;
	if (memcmp(iobuf, disc_tail, 8 * SECTOR)) {
		fail(t, "the last 8 sectors changed after the bad requests");
		return;
	}
	if (zero2 != zero || pat2 != pat) {
		fail(t, "discarded 64..127 read %u zero %u pattern, then %u zero %u pattern", zero,
		     pat, zero2, pat2);
		return;
	}
	pass(t);
}

void test_blk_discard_ro(const struct boot_params *bp)
{
	const char *t = "blk_discard_ro";
	const uint32_t D = VIRTIO_BLK_T_DISCARD, WZ = VIRTIO_BLK_T_WRITE_ZEROES;
	const uint32_t SEG = sizeof(struct virtio_blk_discard_write_zeroes);
	const unsigned int IOERR = ST(VIRTIO_BLK_S_IOERR), UNSUPP = ST(VIRTIO_BLK_S_UNSUPP);
	uint32_t bdf;
	struct blk *b = &blks[0];

	(void)bp;
	if (find_disks(t, &bdf, 1, 1) < 0 ||
	    blk_open(t, b, bdf, 1ULL << VIRTIO_BLK_F_DISCARD | 1ULL << VIRTIO_BLK_F_WRITE_ZEROES, 1,
		     false))
		return;
	printf("BLK capacity %llu\n", (unsigned long long)b->capacity);
	if (!vdev_has(&b->d, VIRTIO_BLK_F_RO)) {
		fail(t, "VIRTIO_BLK_F_RO not offered for a read-only (-d) disk");
		return;
	}
	if (vdev_has(&b->d, VIRTIO_BLK_F_DISCARD) || vdev_has(&b->d, VIRTIO_BLK_F_WRITE_ZEROES)) {
		fail(t, "a read-only disk offers DISCARD or WRITE_ZEROES (features 0x%llx)",
		     (unsigned long long)b->d.dev_features);
		return;
	}
	if (b->capacity < 128) {
		fail(t, "capacity %llu sectors: the test disk is larger",
		     (unsigned long long)b->capacity);
		return;
	}
	/* Not negotiated, and the disk is read-only: each must fail. */
	if (expect_dwz(t, b, "WRITE_ZEROES 16..31", WZ, 16, 16, 0, SEG, IOERR | UNSUPP) ||
	    expect_dwz(t, b, "WRITE_ZEROES UNMAP 32..47", WZ, 32, 16,
		       VIRTIO_BLK_WRITE_ZEROES_FLAG_UNMAP, SEG, IOERR | UNSUPP) ||
	    expect_dwz(t, b, "DISCARD 64..127", D, 64, 64, 0, SEG, IOERR | UNSUPP))
		return;
	for (unsigned int s = 0; s < 128; s += DISC_CHUNK)
		if (read_check(t, b, 0, s, DISC_CHUNK, 1, false))
			return;
	pass(t);
}

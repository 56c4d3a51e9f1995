// SPDX-License-Identifier: BSD-3-Clause
/*
 * Host-side faults under a virtio-blk disk (tests/integration/test_fault.c,
 * test_safety.c prepare them). One polled queue; every request is header,
 * one data buffer, status.
 *
 *   fault_fill: the image lies on a file system too small for it. Writes
 *	sectors 0..63 with fill_word() and FLUSHes (both must succeed), then
 *	writes 64 KiB requests from sector 64 on until one fails with IOERR,
 *	then reads sectors 0..63 back. Lines: "FILL flushed 64",
 *	"FILL ioerr at sector <s> status <st>", "FILL flush after <st>",
 *	"FILL readback ok".
 *   fault_eio: "EIO ready", then waits for a byte on COM1 (meanwhile the
 *	host cuts the second half of the loop device's backing file away);
 *	reads sector 3/4 of the disk (must fail with IOERR), then reads,
 *	writes and reads back sectors at the start (must work). Line:
 *	"EIO read <s> status <st>".
 *   fault_flushed: writes numbered 4 KiB blocks (flushed_word()), FLUSH
 *	after each batch of 4, then "FLUSHED <n>" (blocks acknowledged so
 *	far). With cvm.arg=reset<k> it resets itself after k batches; else
 *	it stops at the end of the disk with "FLUSHED end" and halts.
 *
 * Data is filled with rep stosq and compared with repe cmpsq: ring 0 is
 * emulated here (~2M instructions/s).
 */
#include "hw.h"

#define SECTOR 512
#define CHUNK (64 * 1024)
#define FB_SIZE 4096 /* fault_flushed block */
#define FB_BATCH 4

struct fblk {
	struct vdev d;
	struct vq *q;
	uint64_t capacity;
};

static struct fblk fb;
static uint64_t buf[CHUNK / 8] __attribute__((aligned(4096)));
static uint64_t want[CHUNK / 8] __attribute__((aligned(4096)));

static uint64_t fill_word(uint64_t q)
{
	return 0xf111000000000000ull ^ (q * 0x9e3779b97f4a7c15ull);
}

/* Qword @q of fault_flushed block @b (also in tests/integration/test_safety.c). */
static uint64_t flushed_word(uint64_t b, uint64_t q)
{
	return 0x5afe000000000000ull | b << 16 | q;
}

static int fblk_open(const char *t, struct fblk *f)
{
	uint32_t bdf;

	memset(f, 0, sizeof(*f));
	if (pci_find(0x1af4, 0x1042, &bdf, 1) < 1) {
		fail(t, "no virtio-blk PCI function (1af4:1042) on bus 0");
		return -1;
	}
	if (vdev_probe(&f->d, bdf) || vdev_negotiate(&f->d, 1ULL << VIRTIO_BLK_F_FLUSH, 0) ||
	    vdev_setup_vq(&f->d, 0, VIRTIO_MSI_NO_VECTOR) || vdev_driver_ok(&f->d)) {
		fail(t, "%s", virtio_err);
		return -1;
	}
	if (!vdev_has(&f->d, VIRTIO_BLK_F_FLUSH)) {
		fail(t, "FLUSH not offered");
		return -1;
	}
	f->q = &f->d.vqs[0];
	f->capacity = vdev_cfg64(&f->d, offsetof(struct virtio_blk_config, capacity));
	return 0;
}

/*
 * One request: @len bytes at @data (none for FLUSH). Returns the status
 * byte (0x1ee when the device wrote none), or -1 with FAIL printed when it
 * never completed.
 */
static int fblk_req(const char *t, struct fblk *f, uint32_t type, uint64_t sector, void *data,
		    uint32_t len)
{
	struct virtio_blk_outhdr *h = (struct virtio_blk_outhdr *)f->q->scratch;
	uint8_t *st = f->q->scratch + 64;
	struct vq_buf v[3];
	unsigned int n = 0;
	uint32_t used;

	*h = (struct virtio_blk_outhdr){ .type = type, .sector = sector };
	*st = 0xee;
	v[n++] = (struct vq_buf){ h, sizeof(*h), false };
	if (len)
		v[n++] = (struct vq_buf){ data, len, type == VIRTIO_BLK_T_IN };
	v[n++] = (struct vq_buf){ st, 1, true };
	if (vq_request(t, f->q, v, n, &used))
		return -1;
	return *st == 0xee ? 0x1ee : *st;
}

/* A request that must succeed. */
static int fblk_ok(const char *t, struct fblk *f, uint32_t type, uint64_t sector, void *data,
		   uint32_t len)
{
	int st = fblk_req(t, f, type, sector, data, len);

	if (st < 0)
		return -1;
	if (st != VIRTIO_BLK_S_OK) {
		fail(t, "request type %u at sector %llu (%u bytes): status 0x%x", type,
		     (unsigned long long)sector, len, st);
		return -1;
	}
	return 0;
}

static void fill_qwords(uint64_t *d, uint64_t v, size_t n)
{
	__asm__ volatile("rep stosq" : "+D"(d), "+c"(n) : "a"(v) : "memory");
}

/* Whether the first @n qwords of @a and @b are equal. */
static bool same_qwords(const uint64_t *a, const uint64_t *b, size_t n)
{
	uint8_t ne;

	if (!n)
		return true;
	__asm__ volatile("repe cmpsq; setne %3"
			 : "+S"(a), "+D"(b), "+c"(n), "=r"(ne)
			 :
			 : "memory", "cc");
	return !ne;
}

void test_fault_fill(const struct boot_params *bp)
{
	const char *t = "fault_fill";
	struct fblk *f = &fb;
	uint64_t s;
	int st;

	(void)bp;
	if (fblk_open(t, f))
		return;
	/* 64 sectors = 32 KiB of fill_word(): 4096 qwords, a loop of its own. */
	for (uint64_t q = 0; q < 64 * SECTOR / 8; q++)
		want[q] = fill_word(q);
	if (fblk_ok(t, f, VIRTIO_BLK_T_OUT, 0, want, 64 * SECTOR) ||
	    fblk_ok(t, f, VIRTIO_BLK_T_FLUSH, 0, NULL, 0))
		return;
	printf("FILL flushed 64\n");
	fill_qwords(buf, 0x7777777777777777ull, CHUNK / 8);
	for (s = 64; s + CHUNK / SECTOR <= f->capacity; s += CHUNK / SECTOR) {
		st = fblk_req(t, f, VIRTIO_BLK_T_OUT, s, buf, CHUNK);
		if (st < 0)
			return;
		if (st != VIRTIO_BLK_S_OK)
			break;
	}
	if (s + CHUNK / SECTOR > f->capacity) {
		fail(t, "all %llu sectors written without an error",
		     (unsigned long long)f->capacity);
		return;
	}
	printf("FILL ioerr at sector %llu status %d\n", (unsigned long long)s, st);
	if (st != VIRTIO_BLK_S_IOERR) {
		fail(t, "status 0x%x, want IOERR", st);
		return;
	}
	st = fblk_req(t, f, VIRTIO_BLK_T_FLUSH, 0, NULL, 0);
	if (st < 0)
		return;
	printf("FILL flush after %d\n", st);
	fill_qwords(buf, 0, 64 * SECTOR / 8);
	if (fblk_ok(t, f, VIRTIO_BLK_T_IN, 0, buf, 64 * SECTOR))
		return;
	if (!same_qwords(buf, want, 64 * SECTOR / 8)) {
		fail(t, "sectors 0..63 read back different");
		return;
	}
	printf("FILL readback ok\n");
	pass(t);
}

void test_fault_eio(const struct boot_params *bp)
{
	const char *t = "fault_eio";
	struct fblk *f = &fb;
	uint64_t cut;
	int st, c;

	(void)bp;
	if (fblk_open(t, f))
		return;
	cut = f->capacity / 4 * 3;
	printf("EIO ready\n");
	c = getc_serial(20000000ul);
	if (c < 0) {
		fail(t, "no go from the host");
		return;
	}
	st = fblk_req(t, f, VIRTIO_BLK_T_IN, cut, buf, SECTOR);
	if (st < 0)
		return;
	printf("EIO read %llu status %d\n", (unsigned long long)cut, st);
	if (st != VIRTIO_BLK_S_IOERR) {
		fail(t, "reading sector %llu past the backing file's end: status 0x%x, want IOERR",
		     (unsigned long long)cut, st);
		return;
	}
	for (uint64_t q = 0; q < SECTOR / 8; q++)
		want[q] = fill_word(q);
	if (fblk_ok(t, f, VIRTIO_BLK_T_IN, 8, buf, SECTOR) ||
	    fblk_ok(t, f, VIRTIO_BLK_T_OUT, 16, want, SECTOR) ||
	    fblk_ok(t, f, VIRTIO_BLK_T_FLUSH, 0, NULL, 0))
		return;
	fill_qwords(buf, 0, SECTOR / 8);
	if (fblk_ok(t, f, VIRTIO_BLK_T_IN, 16, buf, SECTOR))
		return;
	if (!same_qwords(buf, want, SECTOR / 8)) {
		fail(t, "sector 16 reads back different");
		return;
	}
	pass(t);
}

void test_fault_flushed(const struct boot_params *bp)
{
	const char *t = "fault_flushed";
	struct fblk *f = &fb;
	uint64_t blocks, b = 0;
	unsigned long reset_after = 0, batches = 0;
	char arg[32];

	if (cmdline_get(bp, "cvm.arg", arg, sizeof(arg)) > 5 && !strncmp(arg, "reset", 5))
		for (const char *p = arg + 5; *p >= '0' && *p <= '9'; p++)
			reset_after = reset_after * 10 + (unsigned long)(*p - '0');
	if (fblk_open(t, f))
		return;
	blocks = f->capacity / (FB_SIZE / SECTOR);
	while (b + FB_BATCH <= blocks) {
		for (unsigned int i = 0; i < FB_BATCH; i++, b++) {
			uint64_t *p = buf + i * (FB_SIZE / 8);

			for (uint64_t q = 0; q < FB_SIZE / 8; q++)
				p[q] = flushed_word(b, q);
			if (fblk_ok(t, f, VIRTIO_BLK_T_OUT, b * (FB_SIZE / SECTOR), p, FB_SIZE))
				return;
		}
		if (fblk_ok(t, f, VIRTIO_BLK_T_FLUSH, 0, NULL, 0))
			return;
		printf("FLUSHED %llu\n", (unsigned long long)b);
		if (reset_after && ++batches == reset_after)
			reset();
	}
	printf("FLUSHED end\n");
	cli();
	for (;;)
		__asm__ volatile("hlt");
}

int fault_blk_check(const char *t)
{
	struct fblk *f = &fb;

	if (fblk_open(t, f))
		return -1;
	for (uint64_t q = 0; q < SECTOR / 8; q++)
		want[q] = fill_word(q);
	fill_qwords(buf, 0, SECTOR / 8);
	if (fblk_ok(t, f, VIRTIO_BLK_T_OUT, 1, want, SECTOR) ||
	    fblk_ok(t, f, VIRTIO_BLK_T_FLUSH, 0, NULL, 0) ||
	    fblk_ok(t, f, VIRTIO_BLK_T_IN, 1, buf, SECTOR))
		return -1;
	if (!same_qwords(buf, want, SECTOR / 8)) {
		fail(t, "vda sector 1 reads back different");
		return -1;
	}
	printf("BLK ok\n");
	return 0;
}

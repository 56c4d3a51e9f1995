// SPDX-License-Identifier: BSD-3-Clause
/*
 * virtio-blk requests in flight: blk_rw_prepare() picks the requests that
 * may go to the disk asynchronously (and checks them as blk_handle() does),
 * blk_rw_finish() completes them, carrying on a short or failed transfer by
 * hand, and blk_aio keeps up to BLK_AIO_DEPTH of them going through Linux
 * native AIO.
 */
#include <criterion/criterion.h>
#include <endian.h>
#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "virtio/blk.h"
#include "virtio/blk_aio.h"

#define SECT 512u
#define DISK_SIZE (1u << 20)

static uint8_t pat(uint64_t off)
{
	return (uint8_t)(off * 7 + (off >> 9) * 13 + 1);
}

static char path[64];
static struct blk_disk disk;

/* A 1 MiB pattern image under /var/tmp (a disk file system, for O_DIRECT). */
static void open_disk(bool direct, bool ro)
{
	struct blk_disk_opts o = { .direct = direct, .read_only = ro };
	struct cvm_errbuf e = { { 0 } };
	uint8_t *buf = malloc(DISK_SIZE);
	int fd, rc;

	cr_assert_not_null(buf);
	for (uint32_t i = 0; i < DISK_SIZE; i++)
		buf[i] = pat(i);
	snprintf(path, sizeof(path), "/var/tmp/cvm-blk-aio-XXXXXX");
	fd = mkstemp(path);
	cr_assert_geq(fd, 0);
	cr_assert_eq(write(fd, buf, DISK_SIZE), (ssize_t)DISK_SIZE);
	close(fd);
	free(buf);
	rc = blk_disk_open(&disk, path, &o, &e);
	unlink(path);
	if (rc && direct)
		cr_skip_test("O_DIRECT refused under /var/tmp: %s", e.msg);
	cr_assert_eq(rc, 0, "%s", e.msg);
}

static void close_disk(void)
{
	blk_disk_close(&disk);
}

/* A chain: header, then data buffers, then the status byte. */
struct req {
	struct vq_chain c;
	struct virtio_blk_outhdr h;
	uint8_t status;
};

static void add(struct vq_chain *c, void *p, uint32_t len, bool write)
{
	c->bufs[c->nr] = (struct vq_buf){
		.gpa = 0x1000ull * (c->nr + 1), .len = len, .write = write, .host = p
	};
	c->nr++;
	c->nr_out += !write;
}

static struct req *req_new(uint32_t type, uint64_t sector)
{
	struct req *r = calloc(1, sizeof(*r));

	cr_assert_not_null(r);
	r->h = (struct virtio_blk_outhdr){ .type = htole32(type), .sector = htole64(sector) };
	r->status = 0xee;
	add(&r->c, &r->h, sizeof(r->h), false);
	return r;
}

static void req_status(struct req *r)
{
	add(&r->c, &r->status, 1, true);
}

static uint8_t *abuf(size_t len)
{
	uint8_t *p = aligned_alloc(4096, (len + 4095) & ~(size_t)4095);

	cr_assert_not_null(p);
	memset(p, 0xcc, len);
	return p;
}

static void expect_pat(const uint8_t *p, uint64_t off, size_t len)
{
	for (size_t i = 0; i < len; i++)
		cr_assert_eq(p[i], pat(off + i), "byte %zu (disk offset %llu): 0x%02x, want 0x%02x",
			     i, (unsigned long long)(off + i), p[i], pat(off + i));
}

TestSuite(blk_aio, .fini = close_disk);

Test(blk_aio, prepare_read)
{
	struct req *r = req_new(VIRTIO_BLK_T_IN, 4);
	uint8_t *a = abuf(4096);
	struct blk_rw io;

	open_disk(true, false);
	add(&r->c, a, 1024, true);
	add(&r->c, a + 1024, 3072, true);
	req_status(r);
	cr_assert(blk_rw_prepare(&disk, &r->c, &io));
	cr_assert_eq(io.off, 4 * SECT);
	cr_assert_eq(io.len, 4096);
	cr_assert(!io.write);
	cr_assert_eq(io.cnt, 2);
	cr_assert_eq(io.iov[0].iov_base, a);
	cr_assert_eq(io.iov[1].iov_len, 3072);
	cr_assert_eq(io.status, &r->status);
	free(a);
	free(r);
}

/* What blk_handle() serves: anything but a plain, checked read or write. */
Test(blk_aio, prepare_refuses)
{
	static const struct {
		uint32_t type;
		uint64_t sector;
		uint32_t len, skew;
		bool ro, no_status;
	} bad[] = {
		{ VIRTIO_BLK_T_FLUSH, 0, 0, 0, false, false },
		{ VIRTIO_BLK_T_GET_ID, 0, 20, 0, false, false },
		{ VIRTIO_BLK_T_DISCARD, 0, 16, 0, false, false },
		{ 99, 0, 512, 0, false, false },
		{ VIRTIO_BLK_T_IN, 0, 0, 0, false, false },		     /* no data */
		{ VIRTIO_BLK_T_IN, 0, 100, 0, false, false },		     /* not whole sectors */
		{ VIRTIO_BLK_T_IN, DISK_SIZE / SECT, 512, 0, false, false }, /* past the end */
		{ VIRTIO_BLK_T_IN, DISK_SIZE / SECT - 1, 1024, 0, false, false },
		{ VIRTIO_BLK_T_IN, ~0ull / 256, 512, 0, false, false }, /* sector * 512 wraps */
		{ VIRTIO_BLK_T_IN, 0, 512, 3, false, false }, /* misaligned for O_DIRECT */
		{ VIRTIO_BLK_T_OUT, 0, 512, 0, true, false }, /* read-only disk */
		{ VIRTIO_BLK_T_IN, 0, 512, 0, false, true },  /* no status byte */
	};
	uint8_t *a = abuf(8192);

	for (size_t k = 0; k < sizeof(bad) / sizeof(bad[0]); k++) {
		struct req *r = req_new(bad[k].type, bad[k].sector);
		bool w = bad[k].type != VIRTIO_BLK_T_OUT && bad[k].type != VIRTIO_BLK_T_DISCARD;
		struct blk_rw io;

		open_disk(true, bad[k].ro);
		if (bad[k].len)
			add(&r->c, a + bad[k].skew, bad[k].len, w && !bad[k].no_status);
		if (!bad[k].no_status)
			req_status(r);
		cr_assert(!blk_rw_prepare(&disk, &r->c, &io), "case %zu was taken", k);
		close_disk();
		free(r);
	}
	free(a);
}

/* More buffers than one asynchronous request carries: blk_handle()'s. */
Test(blk_aio, prepare_too_many_buffers)
{
	struct req *r = req_new(VIRTIO_BLK_T_IN, 0);
	uint8_t *a = abuf((BLK_RW_MAX_IOV + 1) * SECT);
	struct blk_rw io;

	open_disk(false, false);
	for (unsigned int i = 0; i <= BLK_RW_MAX_IOV; i++)
		add(&r->c, a + i * SECT, SECT, true);
	req_status(r);
	cr_assert(!blk_rw_prepare(&disk, &r->c, &io));
	r->c.nr -= 2; /* exactly BLK_RW_MAX_IOV data buffers */
	req_status(r);
	cr_assert(blk_rw_prepare(&disk, &r->c, &io));
	cr_assert_eq(io.cnt, (int)BLK_RW_MAX_IOV);
	free(a);
	free(r);
}

/* A transfer that came back short or failed is finished by hand. */
Test(blk_aio, finish_carries_on)
{
	static const int64_t results[] = { 4096, 1536, 0, -EAGAIN, -EINVAL };
	uint8_t *a = abuf(4096);

	open_disk(true, false);
	for (size_t k = 0; k < sizeof(results) / sizeof(results[0]); k++) {
		struct req *r = req_new(VIRTIO_BLK_T_IN, 8);
		struct blk_rw io;
		uint32_t written = 0;
		int64_t res = results[k];

		memset(a, 0xcc, 4096);
		add(&r->c, a, 4096, true);
		req_status(r);
		cr_assert(blk_rw_prepare(&disk, &r->c, &io));
		/* What the kernel would have done of it. */
		if (res > 0)
			cr_assert_eq(pread(disk.fd, a, (size_t)res, 8 * SECT), res);
		cr_assert_eq(blk_rw_finish(&disk, &io, res, &written), VIRTIO_BLK_S_OK);
		cr_assert_eq(r->status, VIRTIO_BLK_S_OK);
		cr_assert_eq(written, 4097, "case %zu: used length %u", k, written);
		expect_pat(a, 8 * SECT, 4096);
		free(r);
	}
	free(a);
}

/* A write finished by hand after a short transfer lands whole. */
Test(blk_aio, finish_write)
{
	uint8_t *a = abuf(2048), *back = abuf(2048);
	struct req *r = req_new(VIRTIO_BLK_T_OUT, 16);
	struct blk_rw io;
	uint32_t written = 0;

	open_disk(true, false);
	for (int i = 0; i < 2048; i++)
		a[i] = (uint8_t)(i ^ 0x5a);
	add(&r->c, a, 2048, false);
	req_status(r);
	cr_assert(blk_rw_prepare(&disk, &r->c, &io));
	cr_assert(io.write);
	cr_assert_eq(pwrite(disk.fd, a, 512, 16 * SECT), 512);
	cr_assert_eq(blk_rw_finish(&disk, &io, 512, &written), VIRTIO_BLK_S_OK);
	cr_assert_eq(written, 1);
	cr_assert_eq(pread(disk.fd, back, 2048, 16 * SECT), 2048);
	cr_assert_eq(memcmp(a, back, 2048), 0);
	free(a);
	free(back);
	free(r);
}

struct reaped {
	unsigned int n, bad;
};

static void on_done(void *opaque, struct blk_aio_slot *s, int64_t res)
{
	struct reaped *rp = opaque;

	rp->n++;
	if (res != (int64_t)s->io.len)
		rp->bad++;
}

/* BLK_AIO_DEPTH reads at once through the kernel; the eventfd says when. */
Test(blk_aio, full_depth)
{
	struct blk_aio a;
	struct reaped rp = { 0 };
	uint8_t *mem = abuf(BLK_AIO_DEPTH * 4096), *st = calloc(BLK_AIO_DEPTH, 1);
	unsigned int got = 0;

	open_disk(true, false);
	cr_assert_eq(blk_aio_init(&a), 0);
	cr_assert(blk_aio_ready(&a), "io_setup failed: %s", strerror(errno));
	for (unsigned int i = 0; i < BLK_AIO_DEPTH; i++) {
		struct blk_aio_slot *s = blk_aio_get(&a);

		cr_assert_not_null(s, "slot %u", i);
		s->io = (struct blk_rw){ .off = (uint64_t)(BLK_AIO_DEPTH - 1 - i) * 4096,
					 .len = 4096,
					 .cnt = 1,
					 .status = st + i };
		s->io.iov[0] = (struct iovec){ mem + i * 4096, 4096 };
		blk_aio_queue(&a, s, disk.fd);
	}
	cr_assert_null(blk_aio_get(&a), "more than BLK_AIO_DEPTH slots");
	blk_aio_submit(&a, on_done, &rp);
	cr_assert_eq(a.inflight + rp.n, BLK_AIO_DEPTH);
	while (got < BLK_AIO_DEPTH) {
		struct pollfd p = { .fd = a.efd, .events = POLLIN };

		cr_assert_eq(poll(&p, 1, 10000), 1, "no completion in 10 s");
		blk_aio_reap(&a, false, on_done, &rp);
		got = rp.n;
	}
	cr_assert_eq(rp.bad, 0, "%u reads came back short or failed", rp.bad);
	cr_assert_eq(a.inflight, 0);
	for (unsigned int i = 0; i < BLK_AIO_DEPTH; i++)
		expect_pat(mem + i * 4096, (uint64_t)(BLK_AIO_DEPTH - 1 - i) * 4096, 4096);
	cr_assert_not_null(blk_aio_get(&a), "the slots were not given back");
	blk_aio_fini(&a);
	free(mem);
	free(st);
}

/* Queues a 4 KiB request for disk offset @off into @buf. */
static void queue_one(struct blk_aio *a, uint64_t off, uint8_t *buf, bool write, uint8_t *st)
{
	struct blk_aio_slot *s = blk_aio_get(a);

	cr_assert_not_null(s);
	s->io = (struct blk_rw){ .off = off, .len = 4096, .cnt = 2, .write = write, .status = st };
	s->io.iov[0] = (struct iovec){ buf, 1024 };
	s->io.iov[1] = (struct iovec){ buf + 1024, 3072 };
	blk_aio_queue(a, s, disk.fd);
}

/*
 * Requests that continue one another go to the kernel as one I/O, and each
 * still gets exactly its own bytes; a gap, a change of direction or the
 * merge limits start a new I/O.
 */
Test(blk_aio, merge_contiguous)
{
	struct blk_aio a;
	struct reaped rp = { 0 };
	uint8_t *mem = abuf(16 * 4096), st[16];
	/* 0-3 contiguous, 5 after a gap, 6 a write (to its own block) */
	static const uint64_t offs[] = { 8192, 12288, 16384, 20480, 65536, 69632 };

	open_disk(true, false);
	cr_assert_eq(blk_aio_init(&a), 0);
	cr_assert(blk_aio_ready(&a));
	for (unsigned int i = 0; i < 6; i++)
		queue_one(&a, offs[i], mem + i * 4096, false, st + i);
	memset(mem + 6 * 4096, 0x3c, 4096);
	queue_one(&a, 73728, mem + 6 * 4096, true, st + 6);
	blk_aio_submit(&a, on_done, &rp);
	cr_assert_eq(a.merged, 4, "%lu requests merged, want 4 (1-3 into 0, 5 into 4)", a.merged);
	cr_assert_eq(a.inflight, 3, "%u kernel I/Os, want 3", a.inflight);
	blk_aio_reap(&a, true, on_done, &rp);
	cr_assert_eq(rp.n, 7);
	cr_assert_eq(rp.bad, 0, "%u requests did not get their whole length", rp.bad);
	for (unsigned int i = 0; i < 6; i++)
		expect_pat(mem + i * 4096, offs[i], 4096);
	blk_aio_fini(&a);
	free(mem);
}

struct shares {
	int64_t res[8];
	unsigned int n;
};

static void on_share(void *opaque, struct blk_aio_slot *s, int64_t res)
{
	struct shares *sh = opaque;

	(void)s;
	sh->res[sh->n++] = res;
}

/* A merged I/O that fell short or failed: each request gets its share. */
Test(blk_aio, merge_short_or_failed)
{
	static const struct {
		int64_t res, want[3];
	} cases[] = {
		{ 12288, { 4096, 4096, 4096 } },
		{ 6144, { 4096, 2048, 0 } },
		{ 0, { 0, 0, 0 } },
		{ -EIO, { -EIO, -EIO, -EIO } },
	};
	uint8_t *mem = abuf(3 * 4096), st[3];

	open_disk(true, false);
	for (size_t k = 0; k < sizeof(cases) / sizeof(cases[0]); k++) {
		struct blk_aio a;
		struct shares sh = { .n = 0 };

		cr_assert_eq(blk_aio_init(&a), 0);
		for (unsigned int i = 0; i < 3; i++)
			queue_one(&a, (uint64_t)i * 4096, mem + i * 4096, false, st + i);
		blk_aio_merge(&a);
		cr_assert_eq(a.nr_pending, 1);
		cr_assert_eq(a.pending[0]->aio_nbytes, 6, "iovecs of the merged I/O");
		a.nr_pending = 0; /* completed here, not by the kernel */
		blk_aio_complete(&a, &a.slots[a.pending[0]->aio_data], cases[k].res, on_share, &sh);
		cr_assert_eq(sh.n, 3);
		for (unsigned int i = 0; i < 3; i++)
			cr_assert_eq(sh.res[i], cases[k].want[i], "case %zu request %u: %lld", k, i,
				     (long long)sh.res[i]);
		cr_assert_eq(a.nr_free, BLK_AIO_DEPTH, "slots not given back");
		blk_aio_fini(&a);
	}
	free(mem);
}

// SPDX-License-Identifier: BSD-3-Clause
/*
 * virtio-blk request engine and disk opening. Chains are built by hand over
 * host buffers. Every image is unlinked (its directory removed) right after
 * blk_disk_open(), so nothing is left behind when an assertion fails; a
 * second descriptor (t->fd) checks what reached the image.
 */
#include <criterion/criterion.h>
#include <endian.h>
#include <errno.h>
#include <fcntl.h>
#include <linux/capability.h>
#include <linux/loop.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <unistd.h>

#include "virtio/blk.h"

#define SECT 512u
#define PAT (-1) /* expect_buf(): the image pattern rather than a fill byte */
#define NELEM(a) (sizeof(a) / sizeof((a)[0]))
#define IN VIRTIO_BLK_T_IN
#define OUT VIRTIO_BLK_T_OUT
#define OK VIRTIO_BLK_S_OK
#define IOERR VIRTIO_BLK_S_IOERR
#define UNSUPP VIRTIO_BLK_S_UNSUPP

struct tdisk {
	struct blk_disk d;
	int fd; /* the same image, to check it */
	uint64_t size;
};

/* A chain: header, data buffers added by the test, a 1-byte status. */
struct treq {
	struct vq_chain *c;
	struct virtio_blk_outhdr hdr;
	uint8_t status;
};

static uint8_t pat(uint64_t i)
{
	return (uint8_t)(i * 31 + (i >> 9) * 7) | 1; /* never 0, differs per sector */
}

static char *mkpath(const char *dir, const char *name)
{
	char *p;

	cr_assert_gt(asprintf(&p, "%s/%s", dir, name), 0);
	return p;
}

static char *tmpdir(const char *base)
{
	char *t = mkpath(base, "cvm-blk-XXXXXX");

	cr_assert_not_null(mkdtemp(t), "mkdtemp in %s: %s", base, strerror(errno));
	return t;
}

static void write_image(const char *path, uint64_t size)
{
	int fd = open(path, O_WRONLY | O_CREAT | O_TRUNC, 0644);
	uint8_t buf[4096];

	cr_assert_geq(fd, 0, "%s: %s", path, strerror(errno));
	for (uint64_t off = 0; off < size; off += sizeof(buf)) {
		size_t n = size - off < sizeof(buf) ? size - off : sizeof(buf);

		for (size_t i = 0; i < n; i++)
			buf[i] = pat(off + i);
		cr_assert_eq(pwrite(fd, buf, n, (off_t)off), (ssize_t)n);
	}
	close(fd);
}

/* A fresh image of @size pattern bytes under @base; *@rc or assert success. */
static void tdisk_make_at(struct tdisk *t, const char *base, uint64_t size,
			  const struct blk_disk_opts *o, int *rc, struct cvm_errbuf *e)
{
	char *dir = tmpdir(base), *path = mkpath(dir, "disk.img");
	int r;

	write_image(path, size);
	r = blk_disk_open(&t->d, path, o, e);
	t->fd = open(path, O_RDWR);
	t->size = size;
	unlink(path);
	rmdir(dir);
	free(path);
	free(dir);
	cr_assert_geq(t->fd, 0);
	if (rc)
		*rc = r;
	else
		cr_assert_eq(r, 0, "blk_disk_open: %d %s", r, e->msg);
}

static void tdisk_make(struct tdisk *t, uint64_t size, const struct blk_disk_opts *o)
{
	tdisk_make_at(t, "/tmp", size, o, NULL, &(struct cvm_errbuf){ { 0 } });
}

static void tdisk_free(struct tdisk *t)
{
	blk_disk_close(&t->d);
	close(t->fd);
}

static void add(struct vq_chain *c, void *p, uint32_t len, bool write)
{
	cr_assert_lt(c->nr, VQ_MAX_BUFS);
	cr_assert(write || c->nr == c->nr_out, "test bug: readable buffer after a writable one");
	c->bufs[c->nr] = (struct vq_buf){
		.gpa = 0x10000ull * (c->nr + 1), .len = len, .write = write, .host = p
	};
	c->nr++;
	*(write ? &c->in_len : &c->out_len) += len;
	c->nr_out += !write;
}

static void req_init(struct treq *r, uint32_t type, uint64_t sector)
{
	r->c = calloc(1, sizeof(*r->c));
	cr_assert_not_null(r->c);
	r->hdr = (struct virtio_blk_outhdr){ .type = htole32(type), .sector = htole64(sector) };
	r->status = 0xee;
	add(r->c, &r->hdr, sizeof(r->hdr), false);
}

/* Adds the status buffer, runs, frees; checks return value == status byte. */
static uint8_t req_run(struct treq *r, struct tdisk *t, uint32_t *written)
{
	uint8_t st;

	add(r->c, &r->status, 1, true);
	st = blk_handle(&t->d, r->c, written);
	cr_assert_eq(st, r->status, "returned %u, status byte %u", st, r->status);
	free(r->c);
	return st;
}

/* A request with one data buffer (none when @len is 0); *@w must be @want_w. */
static uint8_t req1(struct tdisk *t, uint32_t type, uint64_t sector, void *p, uint32_t len,
		    bool write, uint32_t want_w)
{
	struct treq r;
	uint32_t w;
	uint8_t st;

	req_init(&r, type, sector);
	if (len)
		add(r.c, p, len, write);
	st = req_run(&r, t, &w);
	cr_assert_eq(w, want_w, "type %u: written %u, expected %u", type, w, want_w);
	return st;
}

static void expect_buf(const uint8_t *p, uint64_t off, size_t len, int v)
{
	for (size_t i = 0; i < len; i++) {
		uint8_t want = v == PAT ? pat(off + i) : (uint8_t)v;

		cr_assert_eq(p[i], want, "byte %zu (offset %llu): 0x%02x, expected 0x%02x", i,
			     (unsigned long long)(off + i), p[i], want);
	}
}

/* Image bytes [off, off + len) are @want (or, @want NULL, all @v). */
static void expect_disk(struct tdisk *t, uint64_t off, size_t len, const uint8_t *want, int v)
{
	uint8_t *got = malloc(len);

	cr_assert_not_null(got);
	cr_assert_eq(pread(t->fd, got, len, (off_t)off), (ssize_t)len);
	if (want)
		cr_assert_eq(memcmp(got, want, len), 0, "image at %llu differs",
			     (unsigned long long)off);
	else
		expect_buf(got, off, len, v);
	free(got);
}

static void expect_size(struct tdisk *t)
{
	cr_assert_eq(lseek(t->fd, 0, SEEK_END), (off_t)t->size, "the image changed size");
}

/* ---- IN / OUT ---- */

Test(blk, read_several_segments)
{
	uint8_t a[100], b[924], c[512], hdr2[8], big[2 * SECT + 1];
	struct tdisk t;
	struct treq r;
	uint32_t w;

	tdisk_make(&t, 64 * 1024, NULL);
	req_init(&r, IN, 3);
	r.c->bufs[0].len = 8; /* the header split over two readable buffers */
	memcpy(hdr2, (uint8_t *)&r.hdr + 8, 8);
	add(r.c, hdr2, 8, false);
	add(r.c, a, sizeof(a), true);
	add(r.c, b, sizeof(b), true);
	add(r.c, c, sizeof(c), true);
	cr_assert_eq(req_run(&r, &t, &w), OK);
	cr_assert_eq(w, 3 * SECT + 1);
	expect_buf(a, 3 * SECT, sizeof(a), PAT);
	expect_buf(b, 3 * SECT + 100, sizeof(b), PAT);
	expect_buf(c, 3 * SECT + 1024, sizeof(c), PAT);

	/* the status as the last byte of a data buffer */
	req_init(&r, IN, 6);
	add(r.c, big, sizeof(big), true);
	cr_assert_eq(blk_handle(&t.d, r.c, &w), OK);
	free(r.c);
	cr_assert_eq(w, sizeof(big));
	expect_buf(big, 6 * SECT, 2 * SECT, PAT);
	cr_assert_eq(big[2 * SECT], OK);
	tdisk_free(&t);
}

Test(blk, write_round_trip)
{
	uint8_t data[4 * SECT], back[4 * SECT];
	struct tdisk t;
	struct treq r;
	uint32_t w;

	tdisk_make(&t, 64 * 1024, NULL);
	for (size_t i = 0; i < sizeof(data); i++)
		data[i] = (uint8_t)(0xa5 ^ i ^ (i >> 8));
	req_init(&r, OUT, 10);
	add(r.c, data, 7, false);
	add(r.c, data + 7, sizeof(data) - 7 - 600, false);
	add(r.c, data + sizeof(data) - 600, 600, false);
	cr_assert_eq(req_run(&r, &t, &w), OK);
	cr_assert_eq(w, 1, "OUT writes only the status");
	expect_disk(&t, 10 * SECT, sizeof(data), data, 0);
	expect_disk(&t, 9 * SECT, SECT, NULL, PAT);
	expect_disk(&t, 14 * SECT, SECT, NULL, PAT);
	cr_assert_eq(req1(&t, IN, 10, back, sizeof(back), true, sizeof(back) + 1), OK);
	cr_assert_eq(memcmp(back, data, sizeof(data)), 0);
	tdisk_free(&t);
}

Test(blk, range_checks)
{
	static const uint64_t bad[] = {
		15, 16, 1ull << 54, UINT64_MAX / SECT, UINT64_MAX / SECT + 1, UINT64_MAX
	};
	uint8_t buf[2 * SECT];
	struct tdisk t;

	tdisk_make(&t, 16 * SECT, NULL);
	cr_assert_eq(req1(&t, IN, 14, buf, sizeof(buf), true, sizeof(buf) + 1), OK, "last two");
	expect_buf(buf, 14 * SECT, sizeof(buf), PAT);
	for (size_t i = 0; i < NELEM(bad); i++) {
		memset(buf, 0xaa, sizeof(buf));
		cr_assert_eq(req1(&t, IN, bad[i], buf, sizeof(buf), true, 1), IOERR, "sector %llx",
			     (unsigned long long)bad[i]);
		expect_buf(buf, 0, sizeof(buf), 0xaa);
		cr_assert_eq(req1(&t, OUT, bad[i], buf, sizeof(buf), false, 1), IOERR);
	}
	/* lengths that are not whole sectors */
	cr_assert_eq(req1(&t, IN, 0, buf, SECT - 1, true, 1), IOERR);
	expect_buf(buf, 0, sizeof(buf), 0xaa);
	cr_assert_eq(req1(&t, OUT, 0, buf, SECT + 1, false, 1), IOERR);
	expect_disk(&t, 0, t.size, NULL, PAT);
	expect_size(&t);
	cr_assert_eq(req1(&t, IN, 16, NULL, 0, true, 1), OK, "no data at all: nothing to do");
	tdisk_free(&t);
}

Test(blk, too_long_request)
{
	uint8_t *buf = malloc(BLK_SIZE_MAX);
	struct tdisk t;
	struct treq r;
	uint32_t w;

	cr_assert_not_null(buf);
	tdisk_make(&t, SECT, NULL);
	cr_assert_eq(ftruncate(t.fd, 256 << 20), 0); /* sparse 256 MiB */
	t.d.size = 256 << 20;
	memset(buf, 0xaa, BLK_SIZE_MAX);
	req_init(&r, IN, 0);
	for (unsigned int i = 0; i <= BLK_SEG_MAX; i++) /* one segment too many */
		add(r.c, buf, BLK_SIZE_MAX, true);
	cr_assert_eq(req_run(&r, &t, &w), IOERR);
	cr_assert_eq(w, 1);
	expect_buf(buf, 0, BLK_SIZE_MAX, 0xaa);
	req_init(&r, IN, 1); /* exactly the limit (overlapping buffers) */
	for (unsigned int i = 0; i < BLK_SEG_MAX; i++)
		add(r.c, buf, BLK_SIZE_MAX, true);
	cr_assert_eq(req_run(&r, &t, &w), OK);
	cr_assert_eq(w, BLK_MAX_DATA + 1);
	expect_buf(buf, 0, BLK_SIZE_MAX, 0); /* sector 1 and on are a hole */
	free(buf);
	tdisk_free(&t);
}

Test(blk, eof_and_host_errors)
{
	uint8_t buf[4 * SECT];
	struct tdisk t;

	tdisk_make(&t, 16 * SECT, NULL);
	cr_assert_eq(ftruncate(t.fd, 4 * SECT), 0); /* the image shrinks under the VM */
	memset(buf, 0xaa, sizeof(buf));
	/* no short reads; written: the two sectors that were read, and the status */
	cr_assert_eq(req1(&t, IN, 2, buf, sizeof(buf), true, 2 * SECT + 1), IOERR);
	expect_buf(buf, 2 * SECT, 2 * SECT, PAT);
	close(t.d.fd); /* a descriptor that can neither be read nor synced */
	t.d.fd = open("/dev/null", O_WRONLY);
	cr_assert_geq(t.d.fd, 0);
	cr_assert_eq(req1(&t, IN, 0, buf, SECT, true, 1), IOERR);
	cr_assert_eq(req1(&t, VIRTIO_BLK_T_FLUSH, 0, NULL, 0, true, 1), IOERR);
	tdisk_free(&t);
}

/* ---- malformed chains ---- */

Test(blk, malformed)
{
	uint8_t data[SECT];
	struct tdisk t;
	struct treq r;
	uint32_t w = 77;

	tdisk_make(&t, 16 * SECT, NULL);
	req_init(&r, VIRTIO_BLK_T_GET_ID, 0); /* a 15-byte header */
	r.c->bufs[0].len = 15;
	cr_assert_eq(req_run(&r, &t, &w), IOERR);
	cr_assert_eq(w, 1);
	req_init(&r, IN, 0); /* no readable buffer at all */
	r.c->nr = r.c->nr_out = 0;
	cr_assert_eq(req_run(&r, &t, &w), IOERR);
	cr_assert_eq(w, 1);

	memset(data, 0x11, sizeof(data));
	req_init(&r, OUT, 0); /* no status byte */
	add(r.c, data, sizeof(data), false);
	cr_assert_eq(blk_handle(&t.d, r.c, &w), IOERR);
	cr_assert_eq(w, 0);
	expect_disk(&t, 0, SECT, NULL, PAT);
	cr_assert_eq(data[SECT - 1], 0x11);
	free(r.c);

	req_init(&r, IN, 0); /* inconsistent counts */
	add(r.c, data, sizeof(data), true);
	r.c->nr_out = 2;
	r.c->nr = 1;
	w = 77;
	cr_assert_eq(blk_handle(&t.d, r.c, &w), IOERR);
	cr_assert_eq(w, 0);
	expect_buf(data, 0, sizeof(data), 0x11);
	free(r.c);

	req_init(&r, IN, 0); /* a buffer without a host pointer */
	add(r.c, NULL, SECT, true);
	add(r.c, data, 1, true);
	cr_assert_eq(blk_handle(&t.d, r.c, &w), IOERR);
	cr_assert_eq(w, 0);
	free(r.c);
	tdisk_free(&t);
}

/* ---- read-only, FLUSH, GET_ID, unknown ---- */

Test(blk, read_only)
{
	struct virtio_blk_discard_write_zeroes seg = { .num_sectors = htole32(1) };
	struct blk_disk_opts o = { .read_only = true };
	uint8_t buf[SECT] = { 0 };
	struct tdisk t;

	tdisk_make(&t, 16 * SECT, &o);
	cr_assert(t.d.read_only);
	close(t.d.fd); /* the engine itself refuses, even with a writable descriptor */
	t.d.fd = dup(t.fd);
	cr_assert_eq(req1(&t, OUT, 0, buf, sizeof(buf), false, 1), IOERR);
	cr_assert_eq(req1(&t, VIRTIO_BLK_T_DISCARD, 0, &seg, sizeof(seg), false, 1), IOERR);
	cr_assert_eq(req1(&t, VIRTIO_BLK_T_WRITE_ZEROES, 0, &seg, sizeof(seg), false, 1), IOERR);
	expect_disk(&t, 0, 2 * SECT, NULL, PAT);
	cr_assert_eq(req1(&t, VIRTIO_BLK_T_FLUSH, 0, NULL, 0, true, 1), OK);
	cr_assert_eq(req1(&t, IN, 1, buf, sizeof(buf), true, SECT + 1), OK);
	expect_buf(buf, SECT, SECT, PAT);
	tdisk_free(&t);
}

Test(blk, flush)
{
	struct tdisk t;

	tdisk_make(&t, 16 * SECT, NULL);
	cr_assert_eq(req1(&t, VIRTIO_BLK_T_FLUSH, 0, NULL, 0, true, 1), OK);
	cr_assert_eq(req1(&t, VIRTIO_BLK_T_FLUSH, 12345, NULL, 0, true, 1), OK, "sector unused");
	tdisk_free(&t);
}

Test(blk, get_id)
{
	struct blk_disk_opts o = { .serial = "cvm-test-serial" };
	struct blk_disk_opts o20 = { .serial = "0123456789abcdefghij" };
	uint8_t buf[32];
	struct tdisk t;
	struct stat st;
	char want[64];

	tdisk_make(&t, 16 * SECT, &o);
	memset(buf, 0xaa, sizeof(buf));
	cr_assert_eq(req1(&t, VIRTIO_BLK_T_GET_ID, 0, buf, 20, true, 21), OK);
	cr_assert_eq(memcmp(buf, "cvm-test-serial\0\0\0\0\0", 20), 0, "id %.20s", buf);
	memset(buf, 0xaa, sizeof(buf));
	cr_assert_eq(req1(&t, VIRTIO_BLK_T_GET_ID, 0, buf, 30, true, 21), OK, "still 20 bytes");
	cr_assert_eq(memcmp(buf, "cvm-test-serial\0\0\0\0\0", 20), 0);
	expect_buf(buf + 20, 0, 10, 0xaa);
	memset(buf, 0xaa, sizeof(buf));
	cr_assert_eq(req1(&t, VIRTIO_BLK_T_GET_ID, 0, buf, 4, true, 5), OK, "short: truncated");
	cr_assert_eq(memcmp(buf, "cvm-", 4), 0);
	cr_assert_eq(buf[4], 0xaa);
	cr_assert_eq(req1(&t, VIRTIO_BLK_T_GET_ID, 0, NULL, 0, true, 1), OK, "no room at all");
	tdisk_free(&t);

	tdisk_make(&t, 16 * SECT, &o20);
	cr_assert_eq(req1(&t, VIRTIO_BLK_T_GET_ID, 0, buf, 21, true, 21), OK);
	cr_assert_eq(memcmp(buf, "0123456789abcdefghij", 20), 0, "no NUL at 20 bytes");
	tdisk_free(&t);

	tdisk_make(&t, 16 * SECT, NULL); /* derived from st_dev / st_ino */
	cr_assert_eq(fstat(t.fd, &st), 0);
	snprintf(want, sizeof(want), "%llx-%llx", (unsigned long long)st.st_dev,
		 (unsigned long long)st.st_ino);
	want[20] = 0;
	memset(buf, 0, sizeof(buf));
	cr_assert_eq(req1(&t, VIRTIO_BLK_T_GET_ID, 0, buf, 20, true, 21), OK);
	cr_assert_str_eq((char *)buf, want);
	tdisk_free(&t);
}

Test(blk, unknown_type)
{
	static const uint32_t types[] = {
		2, 3, 5, 10, 14, 15, 0x80000000u, 0x80000001u, UINT32_MAX
	};
	uint8_t buf[SECT];
	struct tdisk t;

	tdisk_make(&t, 16 * SECT, NULL);
	for (size_t i = 0; i < NELEM(types); i++) {
		memset(buf, 0xaa, sizeof(buf));
		cr_assert_eq(req1(&t, types[i], 0, buf, sizeof(buf), true, 1), UNSUPP, "type 0x%x",
			     types[i]);
		expect_buf(buf, 0, sizeof(buf), 0xaa);
	}
	tdisk_free(&t);
}

/* ---- DISCARD / WRITE_ZEROES ---- */

static uint8_t dwz(struct tdisk *t, uint32_t type, uint64_t sector, uint32_t n, uint32_t flags,
		   unsigned int nseg)
{
	struct virtio_blk_discard_write_zeroes seg[2];

	for (int i = 0; i < 2; i++)
		seg[i] = (struct virtio_blk_discard_write_zeroes){ .sector = htole64(sector),
								   .num_sectors = htole32(n),
								   .flags = htole32(flags) };
	return req1(t, type, 0, seg, nseg * sizeof(seg[0]), false, 1);
}

#define DISCARD VIRTIO_BLK_T_DISCARD
#define WZ VIRTIO_BLK_T_WRITE_ZEROES

Test(blk, discard_punches_a_hole)
{
	struct stat before, after;
	struct tdisk t;

	tdisk_make(&t, 1 << 20, NULL);
	cr_assert_eq(fsync(t.fd), 0);
	cr_assert_eq(fstat(t.fd, &before), 0);
	if (fallocate(t.fd, FALLOC_FL_PUNCH_HOLE | FALLOC_FL_KEEP_SIZE, 1 << 20, SECT) &&
	    errno == EOPNOTSUPP)
		cr_skip_test("this file system cannot punch holes");
	cr_assert_eq(dwz(&t, DISCARD, 256, 256, 0, 1), OK);
	cr_assert_eq(fstat(t.fd, &after), 0);
	cr_expect_lt(after.st_blocks, before.st_blocks, "st_blocks %lld -> %lld",
		     (long long)before.st_blocks, (long long)after.st_blocks);
	expect_disk(&t, 256 * SECT, 256 * SECT, NULL, 0);
	expect_disk(&t, 255 * SECT, SECT, NULL, PAT);
	expect_disk(&t, 512 * SECT, SECT, NULL, PAT);
	expect_size(&t);
	tdisk_free(&t);
}

Test(blk, write_zeroes)
{
	struct stat before, after;
	struct tdisk t;

	tdisk_make(&t, 64 * SECT, NULL);
	cr_assert_eq(dwz(&t, WZ, 5, 3, 0, 1), OK);
	expect_disk(&t, 4 * SECT, SECT, NULL, PAT);
	expect_disk(&t, 5 * SECT, 3 * SECT, NULL, 0);
	expect_disk(&t, 8 * SECT, SECT, NULL, PAT);
	cr_assert_eq(fsync(t.fd), 0);
	cr_assert_eq(fstat(t.fd, &before), 0);
	cr_assert_eq(dwz(&t, WZ, 16, 16, VIRTIO_BLK_WRITE_ZEROES_FLAG_UNMAP, 1), OK);
	cr_assert_eq(fstat(t.fd, &after), 0);
	cr_expect_lt(after.st_blocks, before.st_blocks, "UNMAP did not deallocate");
	expect_disk(&t, 15 * SECT, SECT, NULL, PAT);
	expect_disk(&t, 16 * SECT, 16 * SECT, NULL, 0);
	expect_disk(&t, 32 * SECT, SECT, NULL, PAT);
	cr_assert_eq(dwz(&t, WZ, 63, 1, 0, 1), OK, "the last sector");
	expect_disk(&t, 63 * SECT, SECT, NULL, 0);
	expect_size(&t);
	tdisk_free(&t);
}

/* tmpfs has no FALLOC_FL_ZERO_RANGE: zeroes are written by hand. */
Test(blk, write_zeroes_fallback)
{
	struct stat st;
	struct tdisk t;

	if (stat("/dev/shm", &st) || !S_ISDIR(st.st_mode))
		cr_skip_test("no /dev/shm");
	tdisk_make_at(&t, "/dev/shm", 3 << 20, NULL, NULL, &(struct cvm_errbuf){ { 0 } });
	cr_expect_neq(fallocate(t.fd, FALLOC_FL_ZERO_RANGE, 0, SECT), 0,
		      "ZERO_RANGE works on /dev/shm: the fallback is not exercised");
	expect_disk(&t, 0, SECT, NULL, PAT);
	cr_assert_eq(dwz(&t, WZ, 3, 4100, 0, 1), OK); /* > 1 MiB: several chunks */
	expect_disk(&t, 2 * SECT, SECT, NULL, PAT);
	expect_disk(&t, 3 * SECT, 4100 * SECT, NULL, 0);
	expect_disk(&t, 4103 * SECT, SECT, NULL, PAT);
	tdisk_free(&t);
}

Test(blk, discard_write_zeroes_rejects)
{
	struct tdisk t;
	uint8_t seg[20] = { [8] = 1 };

	tdisk_make(&t, 64 * SECT, NULL);
	/* documented choice: more than max_*_seg (1) segments -> UNSUPP */
	cr_assert_eq(dwz(&t, DISCARD, 0, 1, 0, 2), UNSUPP);
	cr_assert_eq(dwz(&t, WZ, 0, 1, 0, 2), UNSUPP);
	cr_assert_eq(dwz(&t, WZ, 0, 1, 0, 0), IOERR, "no segment");
	cr_assert_eq(req1(&t, WZ, 0, seg, sizeof(seg), false, 1), IOERR, "a partial segment");
	/* UNMAP is not for DISCARD; unknown bits are for nobody */
	cr_assert_eq(dwz(&t, DISCARD, 0, 1, VIRTIO_BLK_WRITE_ZEROES_FLAG_UNMAP, 1), UNSUPP);
	cr_assert_eq(dwz(&t, DISCARD, 0, 1, 2, 1), UNSUPP);
	cr_assert_eq(dwz(&t, WZ, 0, 1, 3, 1), UNSUPP);
	cr_assert_eq(dwz(&t, WZ, 0, 1, 0x80000000u, 1), UNSUPP);
	cr_assert_eq(dwz(&t, WZ, 63, 2, 0, 1), IOERR);
	cr_assert_eq(dwz(&t, DISCARD, 64, 1, 0, 1), IOERR);
	cr_assert_eq(dwz(&t, WZ, UINT64_MAX, 1, 0, 1), IOERR);
	cr_assert_eq(dwz(&t, DISCARD, UINT64_MAX / SECT, 1, 0, 1), IOERR);
	cr_assert_eq(dwz(&t, WZ, 0, UINT32_MAX, 0, 1), IOERR);
	expect_disk(&t, 0, 64 * SECT, NULL, PAT);
	cr_assert_eq(dwz(&t, DISCARD, 64, 0, 0, 1), OK, "an empty range at the end");
	expect_size(&t);
	/* longer than max_*_sectors, on a (sparse) disk large enough */
	cr_assert_eq(ftruncate(t.fd, 2ull << 30), 0);
	t.d.size = 2ull << 30;
	cr_assert_eq(dwz(&t, WZ, 0, BLK_MAX_WRITE_ZEROES_SECTORS + 1, 0, 1), IOERR);
	cr_assert_eq(dwz(&t, DISCARD, 0, BLK_MAX_DISCARD_SECTORS + 1, 0, 1), IOERR);
	expect_disk(&t, 0, 64 * SECT, NULL, PAT);
	tdisk_free(&t);
}

/* ---- features, config ---- */

Test(blk, features_and_config)
{
	struct blk_disk_opts ro = { .read_only = true };
	struct virtio_blk_config cfg;
	struct tdisk t;
	uint64_t f;

	tdisk_make(&t, 3 << 20, NULL);
	f = blk_features(&t.d, 1);
	cr_assert_eq(f,
		     1ull << VIRTIO_BLK_F_SIZE_MAX | 1ull << VIRTIO_BLK_F_SEG_MAX |
			     1ull << VIRTIO_BLK_F_BLK_SIZE | 1ull << VIRTIO_BLK_F_FLUSH |
			     1ull << VIRTIO_BLK_F_DISCARD | 1ull << VIRTIO_BLK_F_WRITE_ZEROES,
		     "features 0x%llx", (unsigned long long)f);
	cr_assert(blk_features(&t.d, 4) & 1ull << VIRTIO_BLK_F_MQ);
	blk_config(&t.d, 4, &cfg);
	cr_assert_eq(le64toh(cfg.capacity), (3 << 20) / SECT);
	cr_assert_eq(le32toh(cfg.seg_max), 126);
	cr_assert_eq(le32toh(cfg.size_max), BLK_SIZE_MAX);
	cr_assert_eq(le32toh(cfg.blk_size), 512);
	cr_assert_eq(le16toh(cfg.num_queues), 4);
	cr_assert_eq(le32toh(cfg.max_discard_seg), 1);
	cr_assert_eq(le32toh(cfg.max_write_zeroes_seg), 1);
	cr_assert_eq(le32toh(cfg.discard_sector_alignment), 8);
	cr_assert_eq(le32toh(cfg.max_discard_sectors), BLK_MAX_DISCARD_SECTORS);
	cr_assert_eq(le32toh(cfg.max_write_zeroes_sectors), BLK_MAX_WRITE_ZEROES_SECTORS);
	cr_assert_eq(cfg.write_zeroes_may_unmap, 1);
	cr_assert_eq(cfg.wce, 0);
	tdisk_free(&t);

	tdisk_make(&t, 3 << 20, &ro);
	f = blk_features(&t.d, 1);
	cr_assert(f & 1ull << VIRTIO_BLK_F_RO);
	cr_assert_not(f & (1ull << VIRTIO_BLK_F_DISCARD | 1ull << VIRTIO_BLK_F_WRITE_ZEROES |
			   1ull << VIRTIO_BLK_F_MQ));
	blk_config(&t.d, 1, &cfg);
	cr_assert_eq(le16toh(cfg.num_queues), 1);
	tdisk_free(&t);
}

/* ---- O_DIRECT and block devices ---- */

/* IN then OUT of @len bytes in @nseg segments at @p (aligned or not). */
static void round_trip(struct tdisk *t, uint8_t *p, uint32_t seg, unsigned int nseg,
		       uint64_t sector)
{
	uint32_t len = seg * nseg;
	struct treq r;
	uint32_t w;

	req_init(&r, IN, sector);
	for (unsigned int i = 0; i < nseg; i++)
		add(r.c, p + i * seg, seg, true);
	cr_assert_eq(req_run(&r, t, &w), OK);
	cr_assert_eq(w, len + 1);
	expect_buf(p, sector * SECT, len, PAT);
	for (uint32_t i = 0; i < len; i++)
		p[i] = (uint8_t)(i * 13 + (i >> 12) + sector);
	req_init(&r, OUT, sector + 1);
	for (unsigned int i = 0; i < nseg; i++)
		add(r.c, p + i * seg, seg, false);
	cr_assert_eq(req_run(&r, t, &w), OK);
	cr_assert_eq(req1(t, VIRTIO_BLK_T_FLUSH, 0, NULL, 0, true, 1), OK);
	expect_disk(t, (sector + 1) * SECT, len, p, 0);
}

Test(blk, direct_io)
{
	struct blk_disk_opts o = { .direct = true };
	struct cvm_errbuf e = { { 0 } };
	uint8_t *mem = aligned_alloc(4096, 3 << 20);
	struct tdisk t;
	int rc;

	cr_assert_not_null(mem);
	tdisk_make_at(&t, "/var/tmp", 8 << 20, &o, &rc, &e);
	if (rc) {
		cr_assert_eq(rc, -EINVAL, "rc %d: %s", rc, e.msg);
		cr_assert_not_null(strstr(e.msg, "direct I/O"), "%s", e.msg);
		cr_skip_test("O_DIRECT refused under /var/tmp: %s", e.msg);
	}
	cr_assert(t.d.direct);
	cr_assert(fcntl(t.d.fd, F_GETFL) & O_DIRECT);
	round_trip(&t, mem, 4096, 2, 8);	     /* aligned: straight through */
	round_trip(&t, mem + 3, 4096, 2, 100);	     /* unaligned: bounced */
	round_trip(&t, mem + 1, 512 << 10, 5, 1000); /* bounced in several chunks */
	free(mem);
	tdisk_free(&t);
}

/* Attaches @backing to a free loop device (detached on last close). */
static int loop_attach(int backing, char *name, size_t n)
{
	int ctl = open("/dev/loop-control", O_RDWR | O_CLOEXEC), fd = -1;

	for (int tries = 0; ctl >= 0 && tries < 16; tries++) {
		struct loop_config cfg = { .fd = (uint32_t)backing,
					   .info.lo_flags = LO_FLAGS_AUTOCLEAR };
		int nr = ioctl(ctl, LOOP_CTL_GET_FREE);

		if (nr < 0)
			break;
		snprintf(name, n, "/dev/loop%d", nr);
		fd = open(name, O_RDWR | O_CLOEXEC);
		if (fd < 0 || !ioctl(fd, LOOP_CONFIGURE, &cfg))
			break;
		close(fd);
		fd = -1;
		if (errno != EBUSY)
			break;
	}
	if (ctl >= 0)
		close(ctl);
	return fd;
}

Test(blk, block_device)
{
	struct blk_disk_opts opts[2] = { { .serial = "loop" }, { .direct = true } };
	uint8_t *mem = aligned_alloc(4096, 8192);
	struct tdisk file;
	char name[64];
	int loop;

	cr_assert_not_null(mem);
	tdisk_make(&file, 1 << 20, NULL);
	loop = loop_attach(file.fd, name, sizeof(name));
	if (loop < 0)
		cr_skip_test("no loop device: %s", strerror(errno));
	for (int i = 0; i < 2; i++) {
		struct cvm_errbuf e = { { 0 } };
		struct tdisk t = { .fd = loop, .size = 1 << 20 }; /* checked through the device */
		int rc = blk_disk_open(&t.d, name, &opts[i], &e);

		cr_assert_eq(rc, 0, "%s: %s", name, e.msg);
		cr_assert(t.d.is_blkdev);
		cr_assert_eq(t.d.size, 1 << 20);
		round_trip(&t, mem + i, 2048, 2, 2039 - 50 * i); /* up to the end */
		cr_assert_eq(dwz(&t, WZ, 200, 9, 0, 1), OK);
		expect_disk(&t, 200 * SECT, 9 * SECT, NULL, 0);
		expect_disk(&t, 209 * SECT, SECT, NULL, PAT);
		cr_assert_eq(dwz(&t, DISCARD, 256, 8, 0, 1), OK);
		cr_assert_eq(dwz(&t, DISCARD, 2048, 1, 0, 1), IOERR);
		blk_disk_close(&t.d);
	}
	close(loop);
	free(mem);
	tdisk_free(&file);
}

/* ---- opening ---- */

/* What blk_disk_open() did; checked only after the test has cleaned up. */
struct ores {
	int rc;
	bool fd_reset, leaked; /* on failure: d->fd == -1; a descriptor left open */
	struct cvm_errbuf e;
};

static struct ores open_at(const char *path, const struct blk_disk_opts *o, struct blk_disk *d)
{
	struct ores r = { .e = { { 0 } } };
	int probe = dup(0), again;

	close(probe);
	r.rc = blk_disk_open(d, path, o, &r.e);
	again = dup(0);
	close(again);
	r.fd_reset = !r.rc || d->fd == -1;
	r.leaked = r.rc && again != probe;
	return r;
}

static void expect_ok(const struct ores *r)
{
	cr_assert_eq(r->rc, 0, "rc %d: %s", r->rc, r->e.msg);
}

static void expect_err(const struct ores *r, int want, const char *path, const char *what)
{
	cr_assert_eq(r->rc, want, "rc %d (%s), expected %d; message: %s", r->rc, strerror(-r->rc),
		     want, r->e.msg);
	cr_assert(r->fd_reset, "d->fd is not -1 after a failure");
	cr_assert_not(r->leaked, "a descriptor leaked");
	cr_assert_not_null(strstr(r->e.msg, path), "\"%s\" does not name %s", r->e.msg, path);
	cr_assert_not_null(strstr(r->e.msg, what), "\"%s\" lacks \"%s\"", r->e.msg, what);
}

Test(blk_open, bad_paths)
{
	struct blk_disk_opts ro = { .read_only = true },
			     ser = { .serial = "123456789012345678901" };
	char *dir = tmpdir("/tmp"), *missing = mkpath(dir, "missing.img"),
	     *odd = mkpath(dir, "odd.img"), *empty = mkpath(dir, "empty.img"),
	     *fifo = mkpath(dir, "fifo"), *good = mkpath(dir, "good.img");
	struct blk_disk d;
	struct ores r[9];
	int fifo_rc = mkfifo(fifo, 0600);

	write_image(odd, 1000);
	write_image(empty, 0);
	write_image(good, 4096);
	r[0] = open_at(missing, NULL, &d);
	r[1] = open_at(dir, NULL, &d);
	r[2] = open_at(dir, &ro, &d);
	r[3] = open_at(odd, NULL, &d);
	r[4] = open_at(empty, &ro, &d);
	r[5] = open_at(fifo, &ro, &d); /* must not hang */
	r[6] = open_at(good, &ser, &d);
	r[7] = open_at("/dev/null", &ro, &d);
	ser.serial = "12345678901234567890";
	r[8] = open_at(good, &ser, &d);
	blk_disk_close(&d);
	blk_disk_close(&d); /* twice is harmless */
	unlink(odd), unlink(empty), unlink(fifo), unlink(good), rmdir(dir);

	cr_assert_eq(fifo_rc, 0);
	expect_err(&r[0], -ENOENT, missing, "does not exist");
	expect_err(&r[1], -EISDIR, dir, "is a directory");
	expect_err(&r[2], -EISDIR, dir, "is a directory");
	expect_err(&r[3], -EINVAL, odd, "1000 bytes is not a multiple of 512");
	expect_err(&r[4], -EINVAL, empty, "empty");
	expect_err(&r[5], -EINVAL, fifo, "not a regular file or a block device");
	expect_err(&r[6], -EINVAL, good, "longer than 20 bytes");
	expect_err(&r[7], -EINVAL, "/dev/null", "not a regular file");
	expect_ok(&r[8]);
	cr_assert_eq(d.fd, -1);
	free(missing), free(odd), free(empty), free(fifo), free(good), free(dir);
}

Test(blk_open, locking)
{
	struct blk_disk_opts ro = { .read_only = true };
	char *dir = tmpdir("/tmp"), *path = mkpath(dir, "disk.img");
	struct blk_disk a, b, c;
	struct ores r[7];
	uint64_t size;

	write_image(path, 8192);
	r[0] = open_at(path, NULL, &a);
	r[1] = open_at(path, NULL, &b); /* a second writer */
	r[2] = open_at(path, &ro, &b);	/* a reader while written */
	blk_disk_close(&a);
	r[3] = open_at(path, &ro, &b);
	r[4] = open_at(path, &ro, &c);	/* two readers */
	r[5] = open_at(path, NULL, &a); /* and then no writer */
	blk_disk_close(&b);
	blk_disk_close(&c);
	r[6] = open_at(path, NULL, &a); /* all gone: a writer again */
	size = a.size;
	blk_disk_close(&a);
	unlink(path);
	rmdir(dir);

	expect_ok(&r[0]);
	expect_err(&r[1], -EBUSY, path, "is in use by another VM (locked)");
	expect_err(&r[2], -EBUSY, path, "is in use by another VM (locked)");
	expect_ok(&r[3]);
	expect_ok(&r[4]);
	expect_err(&r[5], -EBUSY, path, "is in use by another VM (locked)");
	expect_ok(&r[6]);
	cr_assert_eq(size, 8192);
	free(path);
	free(dir);
}

/* Drops CAP_DAC_OVERRIDE and CAP_DAC_READ_SEARCH (this test process only). */
static bool drop_dac_caps(void)
{
	struct __user_cap_header_struct hdr = { .version = _LINUX_CAPABILITY_VERSION_3 };
	struct __user_cap_data_struct data[2];

	if (syscall(SYS_capget, &hdr, data))
		return false;
	data[0].effective &= ~((1u << CAP_DAC_OVERRIDE) | (1u << CAP_DAC_READ_SEARCH));
	return syscall(SYS_capset, &hdr, data) == 0;
}

Test(blk_open, unwritable)
{
	struct blk_disk_opts ro = { .read_only = true };
	char *dir = tmpdir("/tmp"), *path = mkpath(dir, "disk.img");
	struct blk_disk d;
	struct ores r[2];
	int fd;

	write_image(path, 8192);
	fd = chmod(path, 0444) ? -1 : open(path, O_RDWR);
	if (fd >= 0) {
		close(fd);
		if (!drop_dac_caps()) {
			unlink(path), rmdir(dir);
			cr_skip_test("running as root and cannot drop CAP_DAC_OVERRIDE");
		}
	}
	r[0] = open_at(path, NULL, &d);
	r[1] = open_at(path, &ro, &d);
	blk_disk_close(&d);
	unlink(path);
	rmdir(dir);
	expect_err(&r[0], -EACCES, path, "for writing"); /* also fails if chmod did */
	expect_ok(&r[1]);
	free(path);
	free(dir);
}

// SPDX-License-Identifier: BSD-3-Clause
/*
 * Fuzz target: virtio-blk requests. Chains come from a ring built from the
 * input (fz_vq_build()) and go, as in blk_dev.c, either through
 * blk_rw_prepare() + the I/O + blk_rw_finish() or through blk_handle(), on
 * a 64 KiB memfd image refilled with a pattern for every input.
 *
 * Invariants: the image keeps its size (nothing is written past its end),
 * a read-only disk keeps its bytes, the status byte in guest memory is the
 * status returned, the used length never exceeds the writable bytes, and a
 * prepared request lies in the image and in guest RAM.
 *
 * Input: u8 disk options (bit 0 read-only, bit 1 O_DIRECT rules, bit 2
 * asynchronous path first, bit 3 4 KiB buffer alignment, bit 6 short
 * transfers), the ring, then per chain a u8 result kind and a u32 length
 * for the asynchronous path.
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <unistd.h>

#include "fuzz_util.h"
#include "virtio/blk.h"

#define IMG_SIZE (64u * 1024)

#define OPT_RO 0x01
#define OPT_DIRECT 0x02
#define OPT_ASYNC 0x04
#define OPT_ALIGN4K 0x08
#define OPT_SHORT 0x40

static struct blk_disk disk;
static int memfd = -1;
static uint8_t pattern[IMG_SIZE], image[IMG_SIZE];
static struct vq_chain chain;
static struct blk_rw io;

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static void setup(void)
{
	struct blk_disk_opts o = { .serial = "fuzz-disk" };
	struct cvm_errbuf err;
	char path[64];

	memfd = memfd_create("fuzz-blk", MFD_CLOEXEC);
	FZ_CHECK(memfd >= 0, "memfd_create");
	for (unsigned int i = 0; i < IMG_SIZE; i++)
		pattern[i] = (uint8_t)(i * 31 + (i >> 9));
	snprintf(path, sizeof(path), "/proc/self/fd/%d", memfd);
	FZ_CHECK(ftruncate(memfd, IMG_SIZE) == 0, "ftruncate");
	FZ_CHECK(blk_disk_open(&disk, path, &o, &err) == 0, "blk_disk_open: %s", err.msg);
	FZ_CHECK(disk.size == IMG_SIZE, "disk size %llu", (unsigned long long)disk.size);
}

static void check_image(bool ro)
{
	struct stat st;

	FZ_CHECK(fstat(disk.fd, &st) == 0 && st.st_size == IMG_SIZE,
		 "the image is now %lld bytes, not %u", (long long)st.st_size, IMG_SIZE);
	if (ro) {
		FZ_CHECK(pread(disk.fd, image, IMG_SIZE, 0) == IMG_SIZE, "pread");
		FZ_CHECK(!memcmp(image, pattern, IMG_SIZE), "a read-only disk was written");
	}
}

/* The status byte: the last byte of the writable stream. */
static int status_in_guest(const struct vq_chain *c)
{
	for (unsigned int i = c->nr; i-- > c->nr_out;)
		if (c->bufs[i].len)
			return c->bufs[i].host[c->bufs[i].len - 1];
	return -1;
}

/* The asynchronous path, as blk_dev.c drives it. False: not taken. */
static bool try_async(const struct vq_chain *c, struct fz *f, uint8_t opts, uint32_t *written,
		      uint8_t *st)
{
	uint8_t kind = fz_u8(f);
	uint32_t cut = fz_u32(f);
	uint64_t sum = 0;
	int64_t res;
	ssize_t r;

	if (!blk_rw_prepare(&disk, c, &io))
		return false;
	FZ_CHECK(io.len && io.len % BLK_SECTOR_SIZE == 0 && io.len <= BLK_MAX_DATA,
		 "prepared length %llu", (unsigned long long)io.len);
	FZ_CHECK(io.off % BLK_SECTOR_SIZE == 0 && io.off + io.len <= disk.size,
		 "prepared [%llu, +%llu) is outside the image", (unsigned long long)io.off,
		 (unsigned long long)io.len);
	FZ_CHECK(!io.write || !disk.read_only, "a write prepared on a read-only disk");
	FZ_CHECK(io.cnt > 0 && io.cnt <= (int)BLK_RW_MAX_IOV, "iov count %d", io.cnt);
	for (int i = 0; i < io.cnt; i++) {
		uint8_t *p = io.iov[i].iov_base;

		FZ_CHECK(p >= fz_mem()->base &&
				 p + io.iov[i].iov_len <= fz_mem()->base + FZ_MEM_SIZE,
			 "iov %d is outside guest RAM", i);
		sum += io.iov[i].iov_len;
	}
	FZ_CHECK(sum == io.len, "iov holds %llu bytes, want %llu", (unsigned long long)sum,
		 (unsigned long long)io.len);
	FZ_CHECK(io.status >= fz_mem()->base && io.status < fz_mem()->base + FZ_MEM_SIZE,
		 "status outside guest RAM");

	if (io.write)
		r = pwritev(disk.fd, io.iov, io.cnt, (off_t)io.off);
	else
		r = preadv(disk.fd, io.iov, io.cnt, (off_t)io.off);
	res = r < 0 ? -errno : r;
	if (opts & OPT_SHORT) {
		switch (kind % 4) {
		case 0: /* the I/O moved fewer bytes */
			res = cut % (io.len + 1);
			break;
		case 1:
			res = -(int64_t)(cut % 200);
			break;
		case 2: /* more than asked */
			res = (int64_t)io.len + cut;
			break;
		default:
			break;
		}
	}
	*st = blk_rw_finish(&disk, &io, res, written);
	FZ_CHECK(*written == (io.write ? 1 : io.len + 1) || *st != VIRTIO_BLK_S_OK,
		 "used length %u for a %s of %llu bytes", *written, io.write ? "write" : "read",
		 (unsigned long long)io.len);
	return true;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct fz f = { data, size };
	uint8_t opts = fz_u8(&f);
	struct cvm_errbuf err;
	struct virtq q;

	if (memfd < 0)
		setup();
	FZ_CHECK(ftruncate(memfd, 0) == 0 && ftruncate(memfd, IMG_SIZE) == 0, "ftruncate");
	FZ_CHECK(pwrite(memfd, pattern, IMG_SIZE, 0) == IMG_SIZE, "pwrite");
	disk.read_only = opts & OPT_RO;
	disk.direct = opts & OPT_DIRECT;
	disk.dio_mem_align = opts & OPT_ALIGN4K ? 4096 : 512;
	if (fz_vq_build(&q, &f))
		return 0;

	for (unsigned int i = 0; i < FZ_VQ_MAX; i++) {
		uint32_t written = 0;
		uint8_t st;
		int rc = vq_pop(&q, &chain, &err);

		if (rc != 1)
			break;
		if (!(opts & OPT_ASYNC) || !try_async(&chain, &f, opts, &written, &st))
			st = blk_handle(&disk, &chain, &written);
		FZ_CHECK(st == VIRTIO_BLK_S_OK || st == VIRTIO_BLK_S_IOERR ||
				 st == VIRTIO_BLK_S_UNSUPP,
			 "status %u", st);
		FZ_CHECK(written <= chain.in_len, "used length %u, %llu writable bytes", written,
			 (unsigned long long)chain.in_len);
		FZ_CHECK((written == 0) == (chain.in_len == 0), "used length %u, %llu writable",
			 written, (unsigned long long)chain.in_len);
		if (chain.in_len)
			FZ_CHECK(status_in_guest(&chain) == st, "status %u, in guest %d", st,
				 status_in_guest(&chain));
		check_image(disk.read_only);
		vq_push(&q, chain.head, written);
	}
	check_image(disk.read_only);
	return 0;
}

// SPDX-License-Identifier: BSD-3-Clause
/* virtio-blk: disk images and the request engine (see blk.h). */
#include "virtio/blk.h"

#include "util/mmbuf.h"

#include <endian.h>
#include <errno.h>
#include <fcntl.h>
#include <linux/fs.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/file.h>
#include <sys/ioctl.h>
#include <sys/stat.h>
#include <sys/uio.h>
#include <unistd.h>

#define BLK_HDR_SIZE ((uint64_t)sizeof(struct virtio_blk_outhdr))
#define BLK_DWZ_SIZE ((uint64_t)sizeof(struct virtio_blk_discard_write_zeroes))
#define BLK_BOUNCE_MAX (1u << 20) /* bounce / zero buffer size */
#define BLK_BOUNCE_ALIGN 4096u

/* ---- the chain as two byte streams ---- */

/* The readable (or writable) stream of a chain and its length. */
struct span {
	const struct vq_chain *c;
	bool readable;
	uint64_t len;
};

/*
 * Splits @c into its readable and writable streams, recomputing their
 * lengths from the buffers. False when the chain itself is inconsistent.
 */
static bool chain_spans(const struct vq_chain *c, struct span *rd, struct span *wr)
{
	if (c->nr > VQ_MAX_BUFS || c->nr_out > c->nr)
		return false;
	*rd = (struct span){ .c = c, .readable = true };
	*wr = (struct span){ .c = c, .readable = false };
	for (unsigned int i = 0; i < c->nr; i++) {
		if (c->bufs[i].len && !c->bufs[i].host)
			return false;
		if (i < c->nr_out)
			rd->len += c->bufs[i].len;
		else
			wr->len += c->bufs[i].len;
	}
	return true;
}

/* ---- host I/O ---- */

/* Drops @n bytes from the front of *@iov / *@cnt. */
static void iov_advance(struct iovec **iov, int *cnt, size_t n)
{
	while (*cnt && n >= (*iov)->iov_len) {
		n -= (*iov)->iov_len;
		(*iov)++;
		(*cnt)--;
	}
	if (*cnt) {
		(*iov)->iov_base = (uint8_t *)(*iov)->iov_base + n;
		(*iov)->iov_len -= n;
	}
}

/*
 * Reads or writes the whole of *@iov at @off, looping over short transfers
 * and EINTR. Advances *@iov / *@cnt past what moved and adds that to *@done.
 * Returns 0, -EIO at end of file, or -errno.
 */
static int rw_loop(int fd, struct iovec **iov, int *cnt, uint64_t off, bool wr, uint64_t *done)
{
	iov_advance(iov, cnt, 0);
	while (*cnt) {
		ssize_t r;

		if (wr)
			r = pwritev(fd, *iov, *cnt, (off_t)off);
		else
			r = preadv(fd, *iov, *cnt, (off_t)off);
		if (r < 0 && errno == EINTR)
			continue;
		if (r < 0)
			return -errno;
		if (r == 0)
			return -EIO;
		off += (uint64_t)r;
		*done += (uint64_t)r;
		iov_advance(iov, cnt, (size_t)r);
	}
	return 0;
}

static void *bounce_alloc(const struct blk_disk *d, uint64_t len, size_t *sz)
{
	/* From mmap, not malloc (the device may run in a forked process): page-aligned. */
	if (d->dio_mem_align > BLK_BOUNCE_ALIGN)
		return NULL;
	*sz = len < BLK_BOUNCE_MAX ? (size_t)len : BLK_BOUNCE_MAX;
	if (*sz == 0)
		*sz = BLK_BOUNCE_ALIGN;
	return mm_alloc(*sz);
}

/* Copies between a flat buffer and bytes [pos, pos + len) of @iov. */
static void iov_flat(const struct iovec *iov, int cnt, size_t pos, uint8_t *buf, size_t len,
		     bool to_iov)
{
	for (int i = 0; i < cnt && len; i++) {
		size_t n;

		if (pos >= iov[i].iov_len) {
			pos -= iov[i].iov_len;
			continue;
		}
		n = iov[i].iov_len - pos;
		if (n > len)
			n = len;
		if (to_iov)
			memcpy((uint8_t *)iov[i].iov_base + pos, buf, n);
		else
			memcpy(buf, (uint8_t *)iov[i].iov_base + pos, n);
		buf += n;
		len -= n;
		pos = 0;
	}
}

/* O_DIRECT with guest buffers it cannot take: go through an aligned buffer. */
static int rw_bounce(const struct blk_disk *d, const struct iovec *iov, int cnt, uint64_t off,
		     uint64_t len, bool wr, uint64_t *done)
{
	size_t sz;
	uint8_t *buf = bounce_alloc(d, len, &sz);
	uint64_t pos = 0;
	int rc = 0;

	if (!buf)
		return -ENOMEM;
	while (pos < len && !rc) {
		size_t n = len - pos < sz ? (size_t)(len - pos) : sz;
		struct iovec one = { .iov_base = buf, .iov_len = n }, *p = &one;
		uint64_t moved = 0;
		int c1 = 1;

		if (wr)
			iov_flat(iov, cnt, pos, buf, n, false);
		rc = rw_loop(d->fd, &p, &c1, off + pos, wr, &moved);
		if (!wr)
			iov_flat(iov, cnt, pos, buf, moved, true);
		pos += moved;
		*done += moved;
	}
	mm_free(buf, sz);
	return rc;
}

/* O_DIRECT wants each buffer aligned and each length a whole sector. */
static bool iov_aligned(const struct iovec *iov, int cnt, uint32_t align)
{
	for (int i = 0; i < cnt; i++)
		if (((uintptr_t)iov[i].iov_base & (align - 1)) ||
		    (iov[i].iov_len & (BLK_SECTOR_SIZE - 1)))
			return false;
	return true;
}

/* Moves @len bytes between the disk at @off and @iov; *@done: bytes moved. */
static int disk_rw(const struct blk_disk *d, struct iovec *iov, int cnt, uint64_t off, uint64_t len,
		   bool wr, uint64_t *done)
{
	int rc;

	*done = 0;
	if (d->direct && !iov_aligned(iov, cnt, d->dio_mem_align))
		return rw_bounce(d, iov, cnt, off, len, wr, done);
	rc = rw_loop(d->fd, &iov, &cnt, off, wr, done);
	if (rc == -EINVAL && d->direct) /* finish what O_DIRECT refused */
		rc = rw_bounce(d, iov, cnt, off + *done, len - *done, wr, done);
	return rc;
}

static int write_zeroes_by_hand(const struct blk_disk *d, uint64_t off, uint64_t len)
{
	size_t sz;
	uint8_t *buf = bounce_alloc(d, len, &sz);
	uint64_t pos = 0;
	int rc = 0;

	if (!buf)
		return -ENOMEM;
	memset(buf, 0, sz);
	while (pos < len && !rc) {
		size_t n = len - pos < sz ? (size_t)(len - pos) : sz;
		struct iovec one = { .iov_base = buf, .iov_len = n }, *p = &one;
		int c1 = 1;

		rc = rw_loop(d->fd, &p, &c1, off + pos, true, &pos);
	}
	mm_free(buf, sz);
	return rc;
}

static int falloc(int fd, int mode, uint64_t off, uint64_t len)
{
	while (fallocate(fd, mode, (off_t)off, (off_t)len)) {
		if (errno != EINTR)
			return -errno;
	}
	return 0;
}

/* ---- requests ---- */

/* [sector * 512, + len) lies within the disk: sets *@off. */
static bool range_ok(const struct blk_disk *d, uint64_t sector, uint64_t len, uint64_t *off)
{
	if (sector > UINT64_MAX / BLK_SECTOR_SIZE)
		return false;
	*off = sector * BLK_SECTOR_SIZE;
	return len <= d->size && *off <= d->size - len;
}

static uint8_t do_rw(const struct blk_disk *d, const struct span *s, uint64_t start, uint64_t len,
		     uint64_t sector, bool wr, uint64_t *done)
{
	struct iovec iov[VQ_MAX_BUFS];
	uint64_t off;
	int cnt;

	if (wr && d->read_only)
		return VIRTIO_BLK_S_IOERR;
	if (len % BLK_SECTOR_SIZE || len > BLK_MAX_DATA || !range_ok(d, sector, len, &off))
		return VIRTIO_BLK_S_IOERR;
	if (!len)
		return VIRTIO_BLK_S_OK;
	cnt = vq_iov(s->c, s->readable, start, len, iov, VQ_MAX_BUFS);
	return disk_rw(d, iov, cnt, off, len, wr, done) ? VIRTIO_BLK_S_IOERR : VIRTIO_BLK_S_OK;
}

static uint8_t do_flush(const struct blk_disk *d)
{
	if (d->read_only)
		return VIRTIO_BLK_S_OK;
	while (fdatasync(d->fd)) {
		if (errno != EINTR)
			return VIRTIO_BLK_S_IOERR;
	}
	return VIRTIO_BLK_S_OK;
}

/* DISCARD and WRITE_ZEROES: the segment(s) follow the header. */
static uint8_t do_dwz(const struct blk_disk *d, const struct span *rd, bool zero)
{
	struct virtio_blk_discard_write_zeroes seg;
	uint64_t len = rd->len - BLK_HDR_SIZE, off, sectors;
	uint32_t flags, known = zero ? VIRTIO_BLK_WRITE_ZEROES_FLAG_UNMAP : 0;
	int rc;

	if (!len || len % BLK_DWZ_SIZE)
		return VIRTIO_BLK_S_IOERR;
	if (len / BLK_DWZ_SIZE > BLK_MAX_DWZ_SEG)
		return VIRTIO_BLK_S_UNSUPP;
	vq_copy_from(rd->c, BLK_HDR_SIZE, &seg, sizeof(seg));
	flags = le32toh(seg.flags);
	if (flags & ~known)
		return VIRTIO_BLK_S_UNSUPP;
	if (d->read_only)
		return VIRTIO_BLK_S_IOERR;
	sectors = le32toh(seg.num_sectors);
	if (sectors > (zero ? BLK_MAX_WRITE_ZEROES_SECTORS : BLK_MAX_DISCARD_SECTORS) ||
	    !range_ok(d, le64toh(seg.sector), sectors * BLK_SECTOR_SIZE, &off))
		return VIRTIO_BLK_S_IOERR;
	if (!sectors)
		return VIRTIO_BLK_S_OK;
	len = sectors * BLK_SECTOR_SIZE;
	if (!zero) {
		/* A hint: where holes cannot be punched, the data just stays. */
		rc = falloc(d->fd, FALLOC_FL_PUNCH_HOLE | FALLOC_FL_KEEP_SIZE, off, len);
		return rc && rc != -EOPNOTSUPP ? VIRTIO_BLK_S_IOERR : VIRTIO_BLK_S_OK;
	}
	rc = -EOPNOTSUPP;
	if (flags & VIRTIO_BLK_WRITE_ZEROES_FLAG_UNMAP)
		rc = falloc(d->fd, FALLOC_FL_PUNCH_HOLE | FALLOC_FL_KEEP_SIZE, off, len);
	if (rc == -EOPNOTSUPP)
		rc = falloc(d->fd, FALLOC_FL_ZERO_RANGE | FALLOC_FL_KEEP_SIZE, off, len);
	if (rc == -EOPNOTSUPP)
		rc = write_zeroes_by_hand(d, off, len);
	return rc ? VIRTIO_BLK_S_IOERR : VIRTIO_BLK_S_OK;
}

uint8_t blk_handle(struct blk_disk *d, const struct vq_chain *c, uint32_t *written)
{
	struct virtio_blk_outhdr h;
	struct span rd, wr;
	uint64_t done = 0, n;
	uint8_t st;

	*written = 0;
	if (!chain_spans(c, &rd, &wr) || !wr.len)
		return VIRTIO_BLK_S_IOERR;
	if (vq_copy_from(c, 0, &h, sizeof(h)) != sizeof(h)) {
		st = VIRTIO_BLK_S_IOERR;
		goto out;
	}
	switch (le32toh(h.type)) {
	case VIRTIO_BLK_T_IN:
		st = do_rw(d, &wr, 0, wr.len - 1, le64toh(h.sector), false, &done);
		break;
	case VIRTIO_BLK_T_OUT:
		st = do_rw(d, &rd, BLK_HDR_SIZE, rd.len - BLK_HDR_SIZE, le64toh(h.sector), true,
			   &done);
		done = 0; /* the device wrote no data into the chain */
		break;
	case VIRTIO_BLK_T_FLUSH:
		st = do_flush(d);
		break;
	case VIRTIO_BLK_T_GET_ID:
		n = wr.len - 1 < sizeof(d->id) ? wr.len - 1 : sizeof(d->id);
		done = vq_copy_to(c, 0, d->id, n);
		st = VIRTIO_BLK_S_OK;
		break;
	case VIRTIO_BLK_T_DISCARD:
	case VIRTIO_BLK_T_WRITE_ZEROES:
		st = do_dwz(d, &rd, le32toh(h.type) == VIRTIO_BLK_T_WRITE_ZEROES);
		break;
	default:
		st = VIRTIO_BLK_S_UNSUPP;
		break;
	}
out:
	vq_copy_to(c, wr.len - 1, &st, 1);
	*written = (uint32_t)done + 1; /* done <= BLK_MAX_DATA */
	return st;
}

/* ---- features and configuration ---- */

uint64_t blk_features(const struct blk_disk *d, unsigned int num_queues)
{
	uint64_t f = 1ull << VIRTIO_BLK_F_SIZE_MAX | 1ull << VIRTIO_BLK_F_SEG_MAX |
		     1ull << VIRTIO_BLK_F_BLK_SIZE | 1ull << VIRTIO_BLK_F_FLUSH;

	if (num_queues > 1)
		f |= 1ull << VIRTIO_BLK_F_MQ;
	if (d->read_only)
		f |= 1ull << VIRTIO_BLK_F_RO;
	else
		f |= 1ull << VIRTIO_BLK_F_DISCARD | 1ull << VIRTIO_BLK_F_WRITE_ZEROES;
	return f;
}

void blk_config(const struct blk_disk *d, unsigned int num_queues, struct virtio_blk_config *cfg)
{
	memset(cfg, 0, sizeof(*cfg));
	cfg->capacity = htole64(d->size / BLK_SECTOR_SIZE);
	cfg->size_max = htole32(BLK_SIZE_MAX);
	cfg->seg_max = htole32(BLK_SEG_MAX);
	cfg->blk_size = htole32(BLK_SECTOR_SIZE);
	cfg->num_queues = htole16(num_queues < 1 ? 1 : num_queues > 0xffff ? 0xffff : num_queues);
	cfg->max_discard_sectors = htole32(BLK_MAX_DISCARD_SECTORS);
	cfg->max_discard_seg = htole32(BLK_MAX_DWZ_SEG);
	cfg->discard_sector_alignment = htole32(BLK_DISCARD_ALIGN_SECTORS);
	cfg->max_write_zeroes_sectors = htole32(BLK_MAX_WRITE_ZEROES_SECTORS);
	cfg->max_write_zeroes_seg = htole32(BLK_MAX_DWZ_SEG);
	cfg->write_zeroes_may_unmap = 1;
}

/* ---- requests in flight (asynchronous I/O, see blk_dev.c) ---- */

/* Host address of the last byte of the writable stream (the status). */
static uint8_t *status_ptr(const struct vq_chain *c)
{
	for (unsigned int i = c->nr; i-- > c->nr_out;)
		if (c->bufs[i].len)
			return c->bufs[i].host + c->bufs[i].len - 1;
	return NULL;
}

bool blk_rw_prepare(const struct blk_disk *d, const struct vq_chain *c, struct blk_rw *io)
{
	struct virtio_blk_outhdr h;
	struct span rd, wr;
	const struct span *s;
	uint64_t start, sum = 0;
	uint32_t type;

	if (!chain_spans(c, &rd, &wr) || !wr.len || vq_copy_from(c, 0, &h, sizeof(h)) != sizeof(h))
		return false;
	type = le32toh(h.type);
	if (type != VIRTIO_BLK_T_IN && type != VIRTIO_BLK_T_OUT)
		return false;
	io->write = type == VIRTIO_BLK_T_OUT;
	s = io->write ? &rd : &wr;
	start = io->write ? BLK_HDR_SIZE : 0;
	io->len = io->write ? rd.len - BLK_HDR_SIZE : wr.len - 1;
	if ((io->write && d->read_only) || !io->len || io->len % BLK_SECTOR_SIZE ||
	    io->len > BLK_MAX_DATA || !range_ok(d, le64toh(h.sector), io->len, &io->off))
		return false;
	io->cnt = vq_iov(s->c, s->readable, start, io->len, io->iov, BLK_RW_MAX_IOV);
	for (int i = 0; i < io->cnt; i++)
		sum += io->iov[i].iov_len;
	if (sum != io->len || (d->direct && !iov_aligned(io->iov, io->cnt, d->dio_mem_align)))
		return false;
	io->status = status_ptr(c);
	return io->status != NULL;
}

uint8_t blk_rw_finish(const struct blk_disk *d, struct blk_rw *io, int64_t res, uint32_t *written)
{
	uint64_t done = res > 0 ? (uint64_t)res : 0, more = 0;
	uint8_t st = VIRTIO_BLK_S_OK;

	if (done > io->len)
		done = io->len;
	if (done < io->len) {
		struct iovec *iov = io->iov;
		int cnt = io->cnt;

		iov_advance(&iov, &cnt, (size_t)done);
		if (disk_rw(d, iov, cnt, io->off + done, io->len - done, io->write, &more))
			st = VIRTIO_BLK_S_IOERR;
	}
	*io->status = st;
	*written = io->write ? 1 : (uint32_t)(done + more) + 1; /* <= BLK_MAX_DATA + 1 */
	return st;
}

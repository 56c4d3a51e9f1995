// SPDX-License-Identifier: BSD-3-Clause
/* virtio-blk: opening a disk image (see blk.h). */
#include "virtio/blk.h"

#include <errno.h>
#include <fcntl.h>
#include <linux/fs.h>
#include <stdio.h>
#include <string.h>
#include <sys/file.h>
#include <sys/ioctl.h>
#include <sys/stat.h>
#include <unistd.h>

/* ---- opening ---- */

static int open_error(const char *path, bool ro, bool direct, int e, struct cvm_errbuf *err)
{
	switch (e) {
	case ENOENT:
		return errf(err, -e, "disk image %s does not exist", path);
	case EISDIR:
		return errf(err, -e, "disk image %s is a directory", path);
	case EACCES:
	case EPERM:
	case EROFS:
		if (!ro)
			return errf(err, -e, "cannot open disk image %s for writing: %s", path,
				    strerror(e));
		break;
	case EINVAL:
		if (direct)
			return errf(err, -e,
				    "disk image %s: its file system does not support "
				    "O_DIRECT (direct I/O)",
				    path);
		break;
	}
	return errf(err, -e, "cannot open disk image %s: %s", path, strerror(e));
}

/* O_DIRECT: learn the buffer alignment; refuse offsets coarser than 512. */
static int direct_setup(struct blk_disk *d, const char *path, struct cvm_errbuf *err)
{
	uint32_t mem = BLK_SECTOR_SIZE, offa = BLK_SECTOR_SIZE;
#ifdef STATX_DIOALIGN
	struct statx sx;

	if (!statx(d->fd, "", AT_EMPTY_PATH, STATX_DIOALIGN, &sx) &&
	    (sx.stx_mask & STATX_DIOALIGN)) {
		if (!sx.stx_dio_offset_align)
			return errf(err, -EINVAL,
				    "disk image %s: its file system does not "
				    "support O_DIRECT (direct I/O)",
				    path);
		mem = sx.stx_dio_mem_align;
		offa = sx.stx_dio_offset_align;
	} else
#endif
		if (d->is_blkdev) {
		int ss = 0;

		if (!ioctl(d->fd, BLKSSZGET, &ss) && ss > 0)
			mem = offa = (uint32_t)ss;
	}
	if (offa > BLK_SECTOR_SIZE)
		return errf(err, -EINVAL,
			    "disk image %s: direct I/O needs %u-byte alignment, "
			    "more than the 512-byte sectors of virtio-blk",
			    path, offa);
	d->dio_mem_align = mem && !(mem & (mem - 1)) ? mem : BLK_SECTOR_SIZE;
	return 0;
}

static int disk_setup(struct blk_disk *d, const char *path, const struct blk_disk_opts *o,
		      struct cvm_errbuf *err)
{
	struct stat st;
	int fl;

	if (fstat(d->fd, &st))
		return errf(err, -errno, "cannot stat disk image %s: %s", path, strerror(errno));
	if (S_ISDIR(st.st_mode))
		return errf(err, -EISDIR, "disk image %s is a directory", path);
	if (!S_ISREG(st.st_mode) && !S_ISBLK(st.st_mode))
		return errf(err, -EINVAL, "disk image %s is not a regular file or a block device",
			    path);
	d->is_blkdev = S_ISBLK(st.st_mode);
	fl = fcntl(d->fd, F_GETFL);
	if (fl < 0 || fcntl(d->fd, F_SETFL, fl & ~O_NONBLOCK))
		return errf(err, -errno, "disk image %s: fcntl: %s", path, strerror(errno));
	if (flock(d->fd, (d->read_only ? LOCK_SH : LOCK_EX) | LOCK_NB)) {
		if (errno == EWOULDBLOCK)
			return errf(err, -EBUSY, "disk image %s is in use by another VM (locked)",
				    path);
		return errf(err, -errno, "cannot lock disk image %s: %s", path, strerror(errno));
	}
	if (d->is_blkdev) {
		if (ioctl(d->fd, BLKGETSIZE64, &d->size))
			return errf(err, -errno, "disk image %s: BLKGETSIZE64: %s", path,
				    strerror(errno));
	} else {
		d->size = (uint64_t)st.st_size;
	}
	if (!d->size)
		return errf(err, -EINVAL, "disk image %s is empty (0 bytes)", path);
	if (d->size % BLK_SECTOR_SIZE)
		return errf(err, -EINVAL, "disk image %s: %llu bytes is not a multiple of 512",
			    path, (unsigned long long)d->size);
	if (d->direct) {
		int rc = direct_setup(d, path, err);

		if (rc)
			return rc;
	}
	if (o->serial) {
		memcpy(d->id, o->serial, strlen(o->serial));
	} else {
		char id[48];
		int n = snprintf(id, sizeof(id), "%llx-%llx", (unsigned long long)st.st_dev,
				 (unsigned long long)st.st_ino);

		memcpy(d->id, id, (size_t)n < sizeof(d->id) ? (size_t)n : sizeof(d->id));
	}
	return 0;
}

int blk_disk_open(struct blk_disk *d, const char *path, const struct blk_disk_opts *o,
		  struct cvm_errbuf *err)
{
	const struct blk_disk_opts none = { 0 };
	int flags, rc;

	memset(d, 0, sizeof(*d));
	d->fd = -1;
	if (!o)
		o = &none;
	if (!path || !*path)
		return errf(err, -EINVAL, "no disk image path given");
	if (o->serial && strlen(o->serial) > VIRTIO_BLK_ID_BYTES)
		return errf(err, -EINVAL, "disk image %s: serial \"%s\" is longer than %d bytes",
			    path, o->serial, VIRTIO_BLK_ID_BYTES);
	d->read_only = o->read_only;
	d->direct = o->direct;
	/* O_NONBLOCK: opening a FIFO must not hang; cleared once it is known
	 * to be a file or a block device. */
	flags = (o->read_only ? O_RDONLY : O_RDWR) | O_CLOEXEC | O_NOCTTY | O_NONBLOCK;
	if (o->direct)
		flags |= O_DIRECT;
	d->fd = open(path, flags);
	if (d->fd < 0)
		return open_error(path, o->read_only, o->direct, errno, err);
	rc = disk_setup(d, path, o, err);
	if (rc)
		blk_disk_close(d);
	return rc;
}

void blk_disk_close(struct blk_disk *d)
{
	if (d->fd >= 0)
		close(d->fd);
	d->fd = -1;
}

/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * virtio-blk (virtio 1.x, section 5.2): the disk image and the request
 * engine, without any transport. The transport (virtio-pci) pops chains,
 * hands each one to blk_handle() and pushes it back with the byte count that
 * blk_handle() reports.
 *
 * Every field of a request comes from the guest and is checked: a request is
 * either carried out whole on the sectors it names, or answered with
 * VIRTIO_BLK_S_IOERR / VIRTIO_BLK_S_UNSUPP without touching the disk or any
 * guest byte except the status. blk_handle() keeps no state of its own, so
 * several queues (threads) may call it on the same disk at once.
 *
 * System calls used while handling requests (for the seccomp policy):
 * preadv, pwritev, fdatasync, fallocate, and mmap/munmap (via malloc) for
 * the bounce buffer of unaligned O_DIRECT requests and zero-filling.
 */
#ifndef CVM_VIRTIO_BLK_H
#define CVM_VIRTIO_BLK_H

#include <linux/virtio_blk.h>
#include <stdbool.h>
#include <stdint.h>
#include <sys/uio.h>

#include "util/err.h"
#include "virtio/virtqueue.h"

#define BLK_SECTOR_SIZE 512u
/* Largest data segment the guest may use (config size_max), in bytes. */
#define BLK_SIZE_MAX (1u << 20)
/* Most data segments in one request (config seg_max). Linux adds the header
 * and the status; 126 + 2 fits a 128-entry queue without indirect tables. */
#define BLK_SEG_MAX 126u
/* Largest IN/OUT data length accepted: seg_max * size_max. Longer requests
 * get IOERR (this also keeps the used length within 32 bits). */
#define BLK_MAX_DATA ((uint64_t)BLK_SEG_MAX * BLK_SIZE_MAX)
/* Limits of one DISCARD / WRITE_ZEROES segment, in 512-byte sectors (1 GiB:
 * bounds the work of one request when zeroes must be written by hand). */
#define BLK_MAX_DISCARD_SECTORS (1u << 21)
#define BLK_MAX_WRITE_ZEROES_SECTORS (1u << 21)
/* Segments per DISCARD / WRITE_ZEROES request; more are answered UNSUPP. */
#define BLK_MAX_DWZ_SEG 1u
/* discard_sector_alignment: 8 sectors = 4 KiB, the block size of common host
 * file systems, so that a punched hole frees whole blocks. A hint only: any
 * 512-byte aligned range is accepted. */
#define BLK_DISCARD_ALIGN_SECTORS 8u

struct blk_disk_opts {
	bool read_only; /* open O_RDONLY, offer VIRTIO_BLK_F_RO */
	bool direct;	/* O_DIRECT instead of the host page cache */
	/* GET_ID string, at most 20 bytes; NULL: derived from st_dev/st_ino. */
	const char *serial;
};

struct blk_disk {
	int fd;	       /* -1 when closed */
	uint64_t size; /* bytes, a non-zero multiple of 512 */
	bool read_only;
	bool direct;
	bool is_blkdev;		      /* a block device rather than a regular file */
	uint32_t dio_mem_align;	      /* O_DIRECT buffer alignment (direct only) */
	char id[VIRTIO_BLK_ID_BYTES]; /* NUL-padded, no NUL when 20 bytes long */
};

/*
 * blk_disk_open() - open the disk image at @path for a virtio-blk device.
 *
 * Arguments: @d is filled in (d->fd is -1 on failure); @path a regular file
 * or a block device; @o options (NULL: read-write, cached, derived serial);
 * @err receives a message naming @path on failure (may be NULL).
 *
 * The file is opened O_RDONLY or O_RDWR, O_CLOEXEC, plus O_DIRECT when asked
 * (the file system must then accept 512-byte aligned direct I/O), and locked
 * with flock(): shared for read-only disks, exclusive for writable ones, so
 * that two VMs never write one image.
 *
 * Returns 0, or -ENOENT (missing), -EISDIR (a directory), -EINVAL (neither a
 * regular file nor a block device; empty; size not a multiple of 512; serial
 * longer than 20 bytes; O_DIRECT not supported), -EACCES / -EROFS (not
 * writable for a writable disk), -EBUSY (locked by another VM), or another
 * -errno from open/fstat/ioctl.
 */
int blk_disk_open(struct blk_disk *d, const char *path, const struct blk_disk_opts *o,
		  struct cvm_errbuf *err);

/* blk_disk_close() - close the image (drops the lock). Safe to call twice. */
void blk_disk_close(struct blk_disk *d);

/*
 * blk_features() - the device feature bits of @d: SIZE_MAX, SEG_MAX,
 * BLK_SIZE, FLUSH, MQ when @num_queues > 1, RO when read-only, DISCARD and
 * WRITE_ZEROES when writable. Transport bits (VERSION_1, ...) are not
 * included.
 */
uint64_t blk_features(const struct blk_disk *d, unsigned int num_queues);

/*
 * blk_config() - fill the device configuration space (little-endian) for
 * @d with @num_queues request queues. Fields not listed in blk_features()
 * (geometry, topology, wce, secure erase) are zero.
 */
void blk_config(const struct blk_disk *d, unsigned int num_queues, struct virtio_blk_config *cfg);

/*
 * blk_handle() - carry out one request.
 *
 * Arguments: @d the disk; @c the chain (readable buffers first, @c->nr_out
 * of them, then writable ones; host pointers valid; c->out_len/in_len are
 * not trusted and recomputed); @written receives what goes into the used
 * ring: data bytes the device wrote (IN, GET_ID) plus 1 for the status byte,
 * or 0 when the chain has no writable byte at all.
 *
 * The request is the 16-byte header (struct virtio_blk_outhdr) at the start
 * of the readable stream; the status is the last byte of the writable
 * stream. IN reads into the writable bytes before it; OUT writes the
 * readable bytes after the header; DISCARD / WRITE_ZEROES take exactly one
 * struct virtio_blk_discard_write_zeroes after the header (more segments:
 * UNSUPP; none or a partial one: IOERR). GET_ID copies as much of the
 * 20-byte id as fits (OK even when truncated).
 *
 * Returns the status written: VIRTIO_BLK_S_OK, _IOERR (malformed request,
 * out-of-range or misaligned sectors, write to a read-only disk, host I/O
 * error) or _UNSUPP (unknown type, unknown flags, too many segments).
 */
uint8_t blk_handle(struct blk_disk *d, const struct vq_chain *c, uint32_t *written);

/* Most guest buffers of one request that asynchronous I/O takes (seg_max
 * data segments fit); longer chains are served by blk_handle(). */
#define BLK_RW_MAX_IOV 128u

/* An IN or OUT request on its way to the disk (asynchronous I/O). */
struct blk_rw {
	uint64_t off; /* byte offset in the image */
	uint64_t len; /* data bytes, a multiple of 512, > 0 */
	bool write;
	int cnt;	 /* iov entries */
	uint8_t *status; /* the request's status byte in guest memory */
	struct iovec iov[BLK_RW_MAX_IOV];
};

/*
 * blk_rw_prepare() - can @c go to the disk as one positioned read or write
 * of the guest's own buffers? True for a well-formed IN or OUT request with
 * data, in range, on a writable disk for OUT, with at most BLK_RW_MAX_IOV
 * buffers that O_DIRECT takes as they are (aligned): @io is filled. False
 * for everything else, which blk_handle() serves (and answers).
 * @c is checked as blk_handle() checks it; nothing is read from the disk.
 */
bool blk_rw_prepare(const struct blk_disk *d, const struct vq_chain *c, struct blk_rw *io);

/*
 * blk_rw_finish() - complete @io after its read or write returned @res
 * (bytes moved, or -errno). A short or failed transfer is carried on
 * synchronously from where it stopped (O_DIRECT refusals go through an
 * aligned buffer); the status byte is written. @written receives the used
 * length (data read + 1 for IN, 1 for OUT). Returns the status.
 */
uint8_t blk_rw_finish(const struct blk_disk *d, struct blk_rw *io, int64_t res, uint32_t *written);

#endif

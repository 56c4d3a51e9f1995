/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * Requests in flight for an O_DIRECT virtio-blk disk: Linux native AIO
 * (io_setup/io_submit/io_getevents), completions signalled on an eventfd
 * that the device's worker watches. A disk opened with O_DIRECT waits for
 * the device on every request; serving one request at a time leaves the
 * device idle between them, so each device keeps up to BLK_AIO_DEPTH reads
 * and writes going at once (blk_dev.c decides which requests go here).
 *
 * Memory for the slots is allocated when the device is created (in the
 * VMM, before a sandboxed device's process is forked); the AIO context is
 * set up by the worker itself on first use (contexts are not inherited
 * across fork). Where io_setup fails (ENOSYS, aio-max-nr reached), the
 * device serves every request synchronously, as for a cached disk.
 *
 * System calls (for the block policy): io_setup, io_submit, io_getevents,
 * io_destroy (threads only; a device process just exits), read (eventfd).
 */
#ifndef CVM_VIRTIO_BLK_AIO_H
#define CVM_VIRTIO_BLK_AIO_H

#include <linux/aio_abi.h>
#include <stdbool.h>
#include <stdint.h>

#include "virtio/blk.h"

#define BLK_AIO_DEPTH 128u
/*
 * Requests queued together that continue one another on the disk (same
 * direction, each starting where the last ended) go to the kernel as one
 * read or write of their buffers together, as QEMU's virtio-blk does
 * (virtio_blk_submit_multireq): at most this many buffers and bytes.
 */
#define BLK_AIO_MERGE_IOV 512u
#define BLK_AIO_MERGE_BYTES (4u << 20)

struct blk_aio_slot {
	struct blk_rw io;
	struct iocb cb;
	uint16_t head;	/* the chain's head, for the used ring */
	uint16_t queue; /* which queue it came from */
	/* Merged: the next request of the same kernel I/O (slot index), or -1. */
	int next;
};

struct blk_aio {
	int efd;	   /* completions: an eventfd, -1 when not in use */
	aio_context_t ctx; /* 0 until set up */
	bool broken;	   /* io_setup failed: serve synchronously */
	unsigned int inflight;
	unsigned int nr_free, nr_pending;
	struct blk_aio_slot *slots; /* BLK_AIO_DEPTH */
	uint16_t *free;		    /* indexes of free slots */
	struct iocb **pending;	    /* queued, not yet submitted */
	struct iovec *merge_iov;    /* BLK_AIO_DEPTH x BLK_AIO_MERGE_IOV */
	unsigned long merged;	    /* requests that rode on another\'s I/O */
};

/*
 * Completion callback: @s finished with @res (bytes or -errno) and is free
 * again once this returns. Where the functions below take one, NULL drops
 * the results (the rings are gone: a reset, a stop).
 */
typedef void (*blk_aio_done_fn)(void *opaque, struct blk_aio_slot *s, int64_t res);

/* blk_aio_init() - allocate slots and the eventfd. 0 or -errno. */
int blk_aio_init(struct blk_aio *a);
/* blk_aio_fini() - wait for what is in flight, free everything. */
void blk_aio_fini(struct blk_aio *a);

/*
 * blk_aio_ready() - on the worker: set the context up if it is not yet.
 * False when asynchronous I/O is not available (then serve synchronously).
 */
bool blk_aio_ready(struct blk_aio *a);

/* blk_aio_get() - a free slot, or NULL when BLK_AIO_DEPTH are busy. */
struct blk_aio_slot *blk_aio_get(struct blk_aio *a);
/* blk_aio_put() - give back a slot that was not queued. */
void blk_aio_put(struct blk_aio *a, struct blk_aio_slot *s);

/* blk_aio_queue() - queue @s (its io filled) on @fd for the next submit. */
void blk_aio_queue(struct blk_aio *a, struct blk_aio_slot *s, int fd);

/*
 * blk_aio_submit() - hand the queued requests to the kernel. Those it does
 * not take are completed at once through @done with -EAGAIN (the caller's
 * completion then carries them out synchronously).
 */
void blk_aio_submit(struct blk_aio *a, blk_aio_done_fn done, void *opaque);

/*
 * blk_aio_merge() - fold runs of queued requests that continue one another
 * into one iocb each (blk_aio_submit() does it first).
 */
void blk_aio_merge(struct blk_aio *a);

/*
 * blk_aio_complete() - complete the requests of the kernel I/O led by @s,
 * which moved @res bytes or failed with it: in disk order each request
 * gets its share through @done (a request the transfer fell short of
 * carries on by hand in blk_rw_finish()); the slots are free afterwards.
 */
void blk_aio_complete(struct blk_aio *a, struct blk_aio_slot *s, int64_t res, blk_aio_done_fn done,
		      void *opaque);

/*
 * blk_aio_reap() - complete finished requests through @done: without
 * waiting (@wait_all false, after the eventfd fired), or until nothing is
 * in flight. Returns how many completed.
 */
unsigned int blk_aio_reap(struct blk_aio *a, bool wait_all, blk_aio_done_fn done, void *opaque);

#endif

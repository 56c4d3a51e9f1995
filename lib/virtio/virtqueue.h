/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * The split virtqueue (virtio 1.x, section 2.7), device side.
 *
 * The guest owns the rings and is hostile: every index, address, length and
 * flag read from them is checked before use. A malformed ring or chain makes
 * vq_pop() fail with -EPROTO and a message; the caller then marks the device
 * broken (DEVICE_NEEDS_RESET) and stops using the queue. Nothing here ever
 * reads or writes outside guest RAM.
 *
 * Concurrency: one thread uses a queue at a time (the device's worker). The
 * guest writes the rings concurrently; reads of avail->idx are acquire loads
 * and the used->idx store is a release store, with full fences where the
 * event-index protocol needs them.
 */
#ifndef CVM_VIRTIO_VIRTQUEUE_H
#define CVM_VIRTIO_VIRTQUEUE_H

#include <stdbool.h>
#include <stdint.h>

#include "core/mem.h"
#include "util/err.h"

#define VQ_MAX_SIZE 32768 /* the split ring's limit */
#define VQ_MAX_BUFS 512	  /* longest chain accepted, indirect tables included */

/* Descriptor flags and ring flags (virtio 1.x 2.7.5, 2.7.6, 2.7.8). */
#define VIRTQ_DESC_F_NEXT 1
#define VIRTQ_DESC_F_WRITE 2
#define VIRTQ_DESC_F_INDIRECT 4
#define VIRTQ_AVAIL_F_NO_INTERRUPT 1
#define VIRTQ_USED_F_NO_NOTIFY 1

struct virtq {
	const struct guest_mem *mem;
	uint16_t size; /* a power of two, 1..VQ_MAX_SIZE */
	uint64_t desc_gpa, avail_gpa, used_gpa;
	bool event_idx;		 /* VIRTIO_F_RING_EVENT_IDX negotiated */
	bool indirect;		 /* VIRTIO_F_INDIRECT_DESC negotiated */
	uint16_t last_avail;	 /* next avail ring entry to take */
	uint16_t used_idx;	 /* our copy of used->idx */
	uint16_t signalled_used; /* used_idx when the guest was last signalled */
	bool signalled_valid;
};

/* One buffer of a chain, already translated to a host pointer. */
struct vq_buf {
	uint64_t gpa;
	uint32_t len;
	bool write; /* device-writable (VIRTQ_DESC_F_WRITE) */
	uint8_t *host;
};

struct vq_chain {
	uint16_t head;	     /* descriptor index to give back in the used ring */
	unsigned int nr;     /* buffers in bufs[]: readable ones first, then writable */
	unsigned int nr_out; /* how many of them are readable (driver -> device) */
	uint64_t out_len;    /* total bytes of the readable buffers */
	uint64_t in_len;     /* total bytes of the writable buffers */
	struct vq_buf bufs[VQ_MAX_BUFS];
};

/*
 * vq_init() - set up @q from the addresses the driver wrote. Checks that the
 * size is a power of two <= VQ_MAX_SIZE, the alignment (desc 16, avail 2,
 * used 4) and that all three rings lie wholly in guest RAM.
 * Returns 0 or -EINVAL with a message.
 */
int vq_init(struct virtq *q, const struct guest_mem *m, uint16_t size, uint64_t desc,
	    uint64_t avail, uint64_t used, bool event_idx, bool indirect, struct cvm_errbuf *err);

/*
 * vq_pop() - take the next available chain.
 * Returns 1 with @c filled, 0 when the ring is empty, -EPROTO for a
 * malformed ring or chain: avail->idx more than size ahead, a head or next
 * index >= size, a loop or a chain longer than size (or VQ_MAX_BUFS), a
 * buffer not wholly in guest RAM, a zero-length or wrapping buffer, a
 * readable buffer after a writable one, an indirect descriptor when not
 * negotiated, with NEXT set, inside an indirect table, or with a table
 * length that is not a multiple of 16 or is 0, and totals that overflow.
 */
int vq_pop(struct virtq *q, struct vq_chain *c, struct cvm_errbuf *err);

/*
 * vq_unpop() - undo the last @nr vq_pop()s that were not pushed: those
 * chains are taken again by the next vq_pop()s, in the same order. Safe
 * because a driver never takes back a buffer it made available.
 */
void vq_unpop(struct virtq *q, unsigned int nr);

/*
 * vq_push() - return chain @head with @written bytes written by the device.
 * Returns 0 or -EPROTO if @head is out of range.
 */
int vq_push(struct virtq *q, uint16_t head, uint32_t written);

/*
 * vq_should_signal() - after one or more vq_push(): must the guest be
 * interrupted? Honours VIRTQ_AVAIL_F_NO_INTERRUPT, or used_event when
 * EVENT_IDX was negotiated (virtio 1.x 2.7.10). Records what was signalled.
 */
bool vq_should_signal(struct virtq *q);

/*
 * vq_enable_notify() / vq_disable_notify() - ask the guest to (not) kick us
 * (VIRTQ_USED_F_NO_NOTIFY, or avail_event with EVENT_IDX). After enabling,
 * the caller must check vq_has_work() again to close the race with a
 * buffer added meanwhile.
 */
void vq_enable_notify(struct virtq *q);
void vq_disable_notify(struct virtq *q);

/* True when the avail ring holds chains not yet taken. */
bool vq_has_work(struct virtq *q);

/*
 * vq_copy_from() / vq_copy_to() - copy between a chain's readable
 * (resp. writable) buffers, seen as one byte stream, and host memory,
 * starting @off bytes into that stream. Return the bytes copied (short when
 * the stream ends).
 */
uint64_t vq_copy_from(const struct vq_chain *c, uint64_t off, void *dst, uint64_t len);
uint64_t vq_copy_to(const struct vq_chain *c, uint64_t off, const void *src, uint64_t len);

/*
 * vq_iov() - the bytes [off, off + len) of the chain's readable (@readable)
 * or writable stream as at most @max iovecs, for readv/writev/sendmsg.
 * Returns how many were filled (fewer when the stream or @max ends first).
 */
struct iovec;
int vq_iov(const struct vq_chain *c, bool readable, uint64_t off, uint64_t len, struct iovec *iov,
	   int max);

#endif

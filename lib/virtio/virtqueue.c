// SPDX-License-Identifier: BSD-3-Clause
/*
 * The split virtqueue, device side (virtio 1.x, 2.7).
 *
 * Layout in guest memory (all little-endian, which is also the host's order):
 *   desc:  struct vq_desc[size]                                  align 16
 *   avail: le16 flags, le16 idx, le16 ring[size], le16 used_event align 2
 *   used:  le16 flags, le16 idx, { le32 id, le32 len }[size],
 *          le16 avail_event                                      align 4
 *
 * Everything the guest wrote is read exactly once into a local and checked
 * there: ring fields with __atomic loads (which the compiler may not repeat),
 * descriptors with memcpy() into a local followed by a compiler barrier, so
 * that no later use of the copy can turn into a second read of guest memory.
 *
 * Choices the spec leaves open:
 * - A zero-length buffer is an error (-EPROTO), not skipped: no driver we
 *   know of submits one, and accepting it would only give the device a
 *   buffer with no bytes to validate.
 * - An indirect descriptor must be the last of its direct chain (NEXT is
 *   not allowed with INDIRECT); its WRITE flag is ignored, as 2.7.5.3.2 says.
 * - An indirect table holds at most VQ_MAX_BUFS entries, independent of the
 *   queue size; a whole chain (direct and indirect buffers) at most
 *   VQ_MAX_BUFS buffers.
 * - signalled_used is the used index at the last vq_should_signal() call
 *   that had EVENT_IDX, whether or not it signalled (as Linux vhost does): if
 *   it did not signal, the guest's used_event was not in the range, so that
 *   range never needs a signal again.
 */
#include "virtio/virtqueue.h"

#include <errno.h>
#include <string.h>
#include <sys/uio.h>

struct vq_desc {
	uint64_t addr;
	uint32_t len;
	uint16_t flags;
	uint16_t next;
};

_Static_assert(sizeof(struct vq_desc) == 16, "virtq descriptor is 16 bytes");

#define VQ_DESC_SIZE 16u
#define VQ_AVAIL_RING 4u /* offset of avail->ring[] */
#define VQ_USED_RING 4u	 /* offset of used->ring[] */
#define VQ_USED_ELEM 8u

static uint64_t desc_bytes(uint16_t size)
{
	return (uint64_t)VQ_DESC_SIZE * size;
}

static uint64_t avail_bytes(uint16_t size)
{
	return VQ_AVAIL_RING + 2ull * size + 2; /* + used_event */
}

static uint64_t used_bytes(uint16_t size)
{
	return VQ_USED_RING + (uint64_t)VQ_USED_ELEM * size + 2; /* + avail_event */
}

/* Host views of the three rings; NULL if @q was never set up. */
static uint8_t *ring_desc(const struct virtq *q)
{
	if (!q->mem || !q->size)
		return NULL;
	return gmem_ptr(q->mem, q->desc_gpa, desc_bytes(q->size));
}

static uint8_t *ring_avail(const struct virtq *q)
{
	if (!q->mem || !q->size)
		return NULL;
	return gmem_ptr(q->mem, q->avail_gpa, avail_bytes(q->size));
}

static uint8_t *ring_used(const struct virtq *q)
{
	if (!q->mem || !q->size)
		return NULL;
	return gmem_ptr(q->mem, q->used_gpa, used_bytes(q->size));
}

static uint16_t load16(const uint8_t *p)
{
	return __atomic_load_n((const uint16_t *)p, __ATOMIC_RELAXED);
}

static uint16_t load16_acquire(const uint8_t *p)
{
	return __atomic_load_n((const uint16_t *)p, __ATOMIC_ACQUIRE);
}

static void store16(uint8_t *p, uint16_t v)
{
	__atomic_store_n((uint16_t *)p, v, __ATOMIC_RELAXED);
}

/* One snapshot of a descriptor: later uses of @d never re-read @p. */
static void read_desc(struct vq_desc *d, const uint8_t *p)
{
	memcpy(d, p, sizeof(*d));
	__asm__ __volatile__("" : : "r"(d) : "memory");
}

int vq_init(struct virtq *q, const struct guest_mem *m, uint16_t size, uint64_t desc,
	    uint64_t avail, uint64_t used, bool event_idx, bool indirect, struct cvm_errbuf *err)
{
	memset(q, 0, sizeof(*q));
	if (!m)
		return errf(err, -EINVAL, "virtqueue: no guest memory");
	if (size == 0 || size > VQ_MAX_SIZE || (size & (size - 1)))
		return errf(err, -EINVAL,
			    "virtqueue: size %u is not a power of two between 1 and %u", size,
			    VQ_MAX_SIZE);
	if (desc % 16)
		return errf(err, -EINVAL,
			    "virtqueue: descriptor table at 0x%llx is not 16-byte aligned",
			    (unsigned long long)desc);
	if (avail % 2)
		return errf(err, -EINVAL, "virtqueue: avail ring at 0x%llx is not 2-byte aligned",
			    (unsigned long long)avail);
	if (used % 4)
		return errf(err, -EINVAL, "virtqueue: used ring at 0x%llx is not 4-byte aligned",
			    (unsigned long long)used);
	if (!gmem_ptr(m, desc, desc_bytes(size)))
		return errf(err, -EINVAL,
			    "virtqueue: descriptor table [0x%llx, +0x%llx) is not in guest RAM",
			    (unsigned long long)desc, (unsigned long long)desc_bytes(size));
	if (!gmem_ptr(m, avail, avail_bytes(size)))
		return errf(err, -EINVAL,
			    "virtqueue: avail ring [0x%llx, +0x%llx) is not in guest RAM",
			    (unsigned long long)avail, (unsigned long long)avail_bytes(size));
	if (!gmem_ptr(m, used, used_bytes(size)))
		return errf(err, -EINVAL,
			    "virtqueue: used ring [0x%llx, +0x%llx) is not in guest RAM",
			    (unsigned long long)used, (unsigned long long)used_bytes(size));

	q->mem = m;
	q->size = size;
	q->desc_gpa = desc;
	q->avail_gpa = avail;
	q->used_gpa = used;
	q->event_idx = event_idx;
	q->indirect = indirect;
	return 0;
}

/* Appends the buffer of descriptor @d (from @where, for messages) to @c. */
static int add_buf(const struct virtq *q, struct vq_chain *c, const struct vq_desc *d,
		   const char *where, unsigned int idx, struct cvm_errbuf *err)
{
	bool write = d->flags & VIRTQ_DESC_F_WRITE;
	uint8_t *host;

	if (c->nr >= VQ_MAX_BUFS)
		return errf(err, -EPROTO, "virtqueue: chain at head %u has more than %u buffers",
			    c->head, VQ_MAX_BUFS);
	if (d->len == 0)
		return errf(err, -EPROTO, "virtqueue: %s descriptor %u has length 0", where, idx);
	if (d->addr + d->len < d->addr)
		return errf(err, -EPROTO,
			    "virtqueue: %s descriptor %u: buffer 0x%llx+0x%x wraps around", where,
			    idx, (unsigned long long)d->addr, d->len);
	host = gmem_ptr(q->mem, d->addr, d->len);
	if (!host)
		return errf(
			err, -EPROTO,
			"virtqueue: %s descriptor %u: buffer [0x%llx, +0x%x) is not in guest RAM",
			where, idx, (unsigned long long)d->addr, d->len);
	if (!write && c->nr != c->nr_out)
		return errf(err, -EPROTO,
			    "virtqueue: %s descriptor %u is readable but follows a writable one",
			    where, idx);
	if (write) {
		if (c->in_len + d->len < c->in_len)
			return errf(err, -EPROTO, "virtqueue: writable total overflows");
		c->in_len += d->len;
	} else {
		if (c->out_len + d->len < c->out_len)
			return errf(err, -EPROTO, "virtqueue: readable total overflows");
		c->out_len += d->len;
		c->nr_out++;
	}
	c->bufs[c->nr++] = (struct vq_buf){
		.gpa = d->addr,
		.len = d->len,
		.write = write,
		.host = host,
	};
	return 0;
}

/* Walks the indirect table that descriptor @ind (index @idx) points to. */
static int walk_indirect(const struct virtq *q, struct vq_chain *c, const struct vq_desc *ind,
			 unsigned int idx, struct cvm_errbuf *err)
{
	const uint8_t *tbl;
	unsigned int n, count = 0;
	uint16_t i = 0;

	if (!q->indirect)
		return errf(
			err, -EPROTO,
			"virtqueue: descriptor %u is indirect but INDIRECT_DESC was not negotiated",
			idx);
	if (ind->flags & VIRTQ_DESC_F_NEXT)
		return errf(err, -EPROTO, "virtqueue: descriptor %u has both INDIRECT and NEXT",
			    idx);
	if (ind->len == 0 || ind->len % VQ_DESC_SIZE)
		return errf(
			err, -EPROTO,
			"virtqueue: indirect table of descriptor %u has length %u, not a non-zero multiple of 16",
			idx, ind->len);
	n = ind->len / VQ_DESC_SIZE;
	if (n > VQ_MAX_BUFS)
		return errf(
			err, -EPROTO,
			"virtqueue: indirect table of descriptor %u has %u entries, more than %u",
			idx, n, VQ_MAX_BUFS);
	tbl = gmem_ptr(q->mem, ind->addr, ind->len);
	if (!tbl)
		return errf(
			err, -EPROTO,
			"virtqueue: indirect table [0x%llx, +0x%x) of descriptor %u is not in guest RAM",
			(unsigned long long)ind->addr, ind->len, idx);

	for (;;) {
		struct vq_desc d;
		int rc;

		if (++count > n)
			return errf(
				err, -EPROTO,
				"virtqueue: indirect chain of descriptor %u is longer than its table (%u entries): a loop?",
				idx, n);
		read_desc(&d, tbl + (uint64_t)i * VQ_DESC_SIZE);
		if (d.flags & VIRTQ_DESC_F_INDIRECT)
			return errf(
				err, -EPROTO,
				"virtqueue: indirect descriptor %u inside the indirect table of descriptor %u",
				i, idx);
		rc = add_buf(q, c, &d, "indirect", i, err);
		if (rc)
			return rc;
		if (!(d.flags & VIRTQ_DESC_F_NEXT))
			return 0;
		if (d.next >= n)
			return errf(
				err, -EPROTO,
				"virtqueue: indirect descriptor %u: next %u is beyond the table (%u entries)",
				i, d.next, n);
		i = d.next;
	}
}

int vq_pop(struct virtq *q, struct vq_chain *c, struct cvm_errbuf *err)
{
	const uint8_t *desc = ring_desc(q);
	const uint8_t *avail = ring_avail(q);
	uint16_t avail_idx, pending, head, i;
	unsigned int count = 0;

	if (!desc || !avail)
		return errf(err, -EPROTO, "virtqueue: queue is not set up");

	avail_idx = load16_acquire(avail + 2);
	pending = (uint16_t)(avail_idx - q->last_avail);
	if (pending > q->size)
		return errf(err, -EPROTO,
			    "virtqueue: avail index moved by %u, more than the queue size %u",
			    pending, q->size);
	if (pending == 0)
		return 0;

	head = load16(avail + VQ_AVAIL_RING + 2u * (q->last_avail & (q->size - 1)));
	if (head >= q->size)
		return errf(err, -EPROTO, "virtqueue: avail ring entry %u: head %u >= size %u",
			    q->last_avail & (q->size - 1), head, q->size);

	c->head = head;
	c->nr = 0;
	c->nr_out = 0;
	c->out_len = 0;
	c->in_len = 0;

	for (i = head;;) {
		struct vq_desc d;
		int rc;

		if (++count > q->size)
			return errf(
				err, -EPROTO,
				"virtqueue: chain at head %u is longer than the queue size %u: a loop?",
				head, q->size);
		read_desc(&d, desc + (uint64_t)i * VQ_DESC_SIZE);
		if (d.flags & VIRTQ_DESC_F_INDIRECT) {
			rc = walk_indirect(q, c, &d, i, err);
			if (rc)
				return rc;
			break;
		}
		rc = add_buf(q, c, &d, "direct", i, err);
		if (rc)
			return rc;
		if (!(d.flags & VIRTQ_DESC_F_NEXT))
			break;
		if (d.next >= q->size)
			return errf(err, -EPROTO, "virtqueue: descriptor %u: next %u >= size %u", i,
				    d.next, q->size);
		i = d.next;
	}

	q->last_avail++;
	return 1;
}

void vq_unpop(struct virtq *q, unsigned int nr)
{
	q->last_avail = (uint16_t)(q->last_avail - nr);
}

int vq_push(struct virtq *q, uint16_t head, uint32_t written)
{
	uint8_t *used = ring_used(q);
	uint8_t *elem;

	if (!used || head >= q->size)
		return -EPROTO;
	elem = used + VQ_USED_RING + (uint64_t)VQ_USED_ELEM * (q->used_idx & (q->size - 1));
	__atomic_store_n((uint32_t *)elem, (uint32_t)head, __ATOMIC_RELAXED);
	__atomic_store_n((uint32_t *)(elem + 4), written, __ATOMIC_RELAXED);
	q->used_idx++;
	/* The element must be visible before the index that publishes it. */
	__atomic_store_n((uint16_t *)(used + 2), q->used_idx, __ATOMIC_RELEASE);
	return 0;
}

/* virtio 1.x 2.7.10: signal if used_event lies in [old, new). */
static bool need_event(uint16_t event, uint16_t new_idx, uint16_t old)
{
	return (uint16_t)(new_idx - event - 1) < (uint16_t)(new_idx - old);
}

bool vq_should_signal(struct virtq *q)
{
	const uint8_t *avail = ring_avail(q);
	uint16_t old, event;
	bool valid;

	if (!avail)
		return false;
	/*
	 * Order our used->idx store before the reads of flags/used_event, so
	 * that a guest re-enabling interrupts concurrently is not missed.
	 */
	__atomic_thread_fence(__ATOMIC_SEQ_CST);
	if (!q->event_idx)
		return !(load16(avail) & VIRTQ_AVAIL_F_NO_INTERRUPT);

	old = q->signalled_used;
	valid = q->signalled_valid;
	q->signalled_used = q->used_idx;
	q->signalled_valid = true;
	if (!valid)
		return true;
	event = load16(avail + VQ_AVAIL_RING + 2u * q->size);
	return need_event(event, q->used_idx, old);
}

void vq_enable_notify(struct virtq *q)
{
	uint8_t *used = ring_used(q);

	if (!used)
		return;
	if (q->event_idx)
		store16(used + VQ_USED_RING + (uint64_t)VQ_USED_ELEM * q->size, q->last_avail);
	else
		store16(used, 0);
	/* Publish before the caller re-reads avail->idx (vq_has_work()). */
	__atomic_thread_fence(__ATOMIC_SEQ_CST);
}

void vq_disable_notify(struct virtq *q)
{
	uint8_t *used = ring_used(q);

	/* With EVENT_IDX a stale avail_event already suppresses kicks. */
	if (!used || q->event_idx)
		return;
	store16(used, VIRTQ_USED_F_NO_NOTIFY);
	__atomic_thread_fence(__ATOMIC_SEQ_CST);
}

bool vq_has_work(struct virtq *q)
{
	const uint8_t *avail = ring_avail(q);

	if (!avail)
		return false;
	return load16_acquire(avail + 2) != q->last_avail;
}

/*
 * Copies between the byte stream of bufs[first, end), from offset @off, and
 * host memory: into @to when it is not NULL, else out of @from.
 */
static uint64_t copy_stream(const struct vq_chain *c, unsigned int first, unsigned int end,
			    uint64_t off, uint8_t *to, const uint8_t *from, uint64_t len)
{
	uint64_t done = 0;

	for (unsigned int i = first; i < end && done < len; i++) {
		const struct vq_buf *b = &c->bufs[i];
		uint64_t n;

		if (off >= b->len) {
			off -= b->len;
			continue;
		}
		n = b->len - off;
		if (n > len - done)
			n = len - done;
		if (to)
			memcpy(to + done, b->host + off, n);
		else
			memcpy(b->host + off, from + done, n);
		done += n;
		off = 0;
	}
	return done;
}

/* The chain's counts, clamped so that a corrupted chain cannot overrun bufs[]. */
static void chain_split(const struct vq_chain *c, unsigned int *nr, unsigned int *nr_out)
{
	*nr = c->nr < VQ_MAX_BUFS ? c->nr : VQ_MAX_BUFS;
	*nr_out = c->nr_out < *nr ? c->nr_out : *nr;
}

uint64_t vq_copy_from(const struct vq_chain *c, uint64_t off, void *dst, uint64_t len)
{
	unsigned int nr, nr_out;

	chain_split(c, &nr, &nr_out);
	return copy_stream(c, 0, nr_out, off, dst, NULL, len);
}

uint64_t vq_copy_to(const struct vq_chain *c, uint64_t off, const void *src, uint64_t len)
{
	unsigned int nr, nr_out;

	chain_split(c, &nr, &nr_out);
	return copy_stream(c, nr_out, nr, off, NULL, src, len);
}

int vq_iov(const struct vq_chain *c, bool readable, uint64_t off, uint64_t len, struct iovec *iov,
	   int max)
{
	unsigned int nr, nr_out, first, end;
	int n = 0;

	chain_split(c, &nr, &nr_out);
	first = readable ? 0 : nr_out;
	end = readable ? nr_out : nr;
	for (unsigned int i = first; i < end && len && n < max; i++) {
		const struct vq_buf *b = &c->bufs[i];
		uint64_t take;

		if (off >= b->len) {
			off -= b->len;
			continue;
		}
		take = b->len - off < len ? b->len - off : len;
		iov[n++] = (struct iovec){ .iov_base = b->host + off, .iov_len = take };
		len -= take;
		off = 0;
	}
	return n;
}

// SPDX-License-Identifier: BSD-3-Clause
/* virtio-blk: requests in flight through Linux native AIO (see blk_aio.h). */
#include "virtio/blk_aio.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <sys/eventfd.h>
#include <sys/syscall.h>
#include <time.h>
#include <unistd.h>

static long sys_io_setup(unsigned int nr, aio_context_t *ctx)
{
	return syscall(SYS_io_setup, nr, ctx);
}

static long sys_io_destroy(aio_context_t ctx)
{
	return syscall(SYS_io_destroy, ctx);
}

static long sys_io_submit(aio_context_t ctx, long nr, struct iocb **cbs)
{
	return syscall(SYS_io_submit, ctx, nr, cbs);
}

static long sys_io_getevents(aio_context_t ctx, long min, long max, struct io_event *ev,
			     struct timespec *ts)
{
	return syscall(SYS_io_getevents, ctx, min, max, ev, ts);
}

int blk_aio_init(struct blk_aio *a)
{
	memset(a, 0, sizeof(*a));
	a->efd = eventfd(0, EFD_CLOEXEC | EFD_NONBLOCK);
	if (a->efd < 0)
		return -errno;
	a->slots = calloc(BLK_AIO_DEPTH, sizeof(*a->slots));
	a->free = calloc(BLK_AIO_DEPTH, sizeof(*a->free));
	a->pending = calloc(BLK_AIO_DEPTH, sizeof(*a->pending));
	/* Large but untouched until requests merge (calloc maps it lazily). */
	a->merge_iov = calloc((size_t)BLK_AIO_DEPTH * BLK_AIO_MERGE_IOV, sizeof(*a->merge_iov));
	if (!a->slots || !a->free || !a->pending || !a->merge_iov) {
		blk_aio_fini(a);
		return -ENOMEM;
	}
	for (unsigned int i = 0; i < BLK_AIO_DEPTH; i++)
		a->free[i] = (uint16_t)(BLK_AIO_DEPTH - 1 - i);
	a->nr_free = BLK_AIO_DEPTH;
	return 0;
}

void blk_aio_fini(struct blk_aio *a)
{
	if (a->ctx) {
		blk_aio_reap(a, true, NULL, NULL);
		sys_io_destroy(a->ctx);
		a->ctx = 0;
	}
	if (a->efd >= 0)
		close(a->efd);
	a->efd = -1;
	free(a->slots);
	free(a->free);
	free(a->pending);
	free(a->merge_iov);
	a->merge_iov = NULL;
	a->slots = NULL;
	a->free = NULL;
	a->pending = NULL;
}

bool blk_aio_ready(struct blk_aio *a)
{
	if (a->ctx)
		return true;
	if (a->broken || !a->slots)
		return false;
	if (sys_io_setup(BLK_AIO_DEPTH, &a->ctx)) {
		a->ctx = 0;
		a->broken = true;
		return false;
	}
	return true;
}

struct blk_aio_slot *blk_aio_get(struct blk_aio *a)
{
	if (!a->nr_free)
		return NULL;
	return &a->slots[a->free[--a->nr_free]];
}

void blk_aio_put(struct blk_aio *a, struct blk_aio_slot *s)
{
	a->free[a->nr_free++] = (uint16_t)(s - a->slots);
}

void blk_aio_queue(struct blk_aio *a, struct blk_aio_slot *s, int fd)
{
	struct iocb *cb = &s->cb;

	memset(cb, 0, sizeof(*cb));
	cb->aio_data = (uint64_t)(s - a->slots);
	cb->aio_lio_opcode = s->io.write ? IOCB_CMD_PWRITEV : IOCB_CMD_PREADV;
	cb->aio_fildes = (uint32_t)fd;
	cb->aio_buf = (uint64_t)(uintptr_t)s->io.iov;
	cb->aio_nbytes = (uint64_t)s->io.cnt;
	cb->aio_offset = (int64_t)s->io.off;
	cb->aio_flags = IOCB_FLAG_RESFD;
	cb->aio_resfd = (uint32_t)a->efd;
	s->next = -1;
	a->pending[a->nr_pending++] = cb;
}

static struct blk_aio_slot *slot_of(struct blk_aio *a, const struct iocb *cb)
{
	return &a->slots[cb->aio_data];
}

void blk_aio_complete(struct blk_aio *a, struct blk_aio_slot *s, int64_t res, blk_aio_done_fn done,
		      void *opaque)
{
	while (s) {
		struct blk_aio_slot *next = s->next >= 0 ? &a->slots[s->next] : NULL;
		int64_t share = res;

		if (res >= 0) {
			share = res < (int64_t)s->io.len ? res : (int64_t)s->io.len;
			res -= share;
		}
		if (done)
			done(opaque, s, share);
		blk_aio_put(a, s);
		s = next;
	}
}

/* May @s ride on @lead's I/O, whose chain ends with @last? */
static bool can_merge(const struct iocb *lead, const struct blk_aio_slot *last,
		      const struct blk_aio_slot *s)
{
	return lead->aio_lio_opcode == s->cb.aio_lio_opcode &&
	       lead->aio_fildes == s->cb.aio_fildes && last->io.off + last->io.len == s->io.off &&
	       lead->aio_nbytes + (uint64_t)s->io.cnt <= BLK_AIO_MERGE_IOV &&
	       s->io.off + s->io.len - (uint64_t)lead->aio_offset <= BLK_AIO_MERGE_BYTES;
}

void blk_aio_merge(struct blk_aio *a)
{
	unsigned int out = 0;

	for (unsigned int i = 0; i < a->nr_pending;) {
		struct iocb *lead = a->pending[i];
		struct blk_aio_slot *first = slot_of(a, lead), *last = first;
		struct iovec *iov = a->merge_iov + lead->aio_data * BLK_AIO_MERGE_IOV;
		unsigned int j = i + 1;

		while (j < a->nr_pending && can_merge(lead, last, slot_of(a, a->pending[j]))) {
			struct blk_aio_slot *s = slot_of(a, a->pending[j]);

			if (last == first) { /* the leader's own buffers first */
				memcpy(iov, first->io.iov, (size_t)first->io.cnt * sizeof(*iov));
				lead->aio_buf = (uint64_t)(uintptr_t)iov;
			}
			memcpy(iov + lead->aio_nbytes, s->io.iov, (size_t)s->io.cnt * sizeof(*iov));
			lead->aio_nbytes += (uint64_t)s->io.cnt;
			last->next = (int)a->pending[j]->aio_data;
			last = s;
			a->merged++;
			j++;
		}
		a->pending[out++] = lead;
		i = j;
	}
	a->nr_pending = out;
}

void blk_aio_submit(struct blk_aio *a, blk_aio_done_fn done, void *opaque)
{
	unsigned int at = 0;

	blk_aio_merge(a);
	while (at < a->nr_pending) {
		long n = sys_io_submit(a->ctx, (long)(a->nr_pending - at), a->pending + at);

		if (n < 0 && errno == EINTR)
			continue;
		if (n <= 0) {
			/* Not taken (EAGAIN, or a request it refused): done by hand. */
			struct iocb *cb = a->pending[at++];

			blk_aio_complete(a, slot_of(a, cb), -EAGAIN, done, opaque);
			continue;
		}
		a->inflight += (unsigned int)n;
		at += (unsigned int)n;
	}
	a->nr_pending = 0;
}

unsigned int blk_aio_reap(struct blk_aio *a, bool wait_all, blk_aio_done_fn done, void *opaque)
{
	struct io_event ev[32];
	unsigned int total = 0;
	uint64_t cnt;

	if (!wait_all && read(a->efd, &cnt, sizeof(cnt)) < 0 && errno != EAGAIN)
		return 0;
	while (a->inflight) {
		struct timespec zero = { 0, 0 };
		long want = a->inflight < 32 ? (long)a->inflight : 32;
		long n = sys_io_getevents(a->ctx, wait_all ? want : 0, want, ev,
					  wait_all ? NULL : &zero);

		if (n < 0 && errno == EINTR)
			continue;
		if (n <= 0)
			break;
		for (long i = 0; i < n; i++) {
			uint64_t idx = ev[i].data;

			if (idx >= BLK_AIO_DEPTH) /* cannot happen: we set it */
				continue;
			a->inflight--;
			blk_aio_complete(a, &a->slots[idx], ev[i].res, done, opaque);
		}
		total += (unsigned int)n;
	}
	if (wait_all && a->efd >= 0) /* the eventfd's count is stale now */
		(void)!read(a->efd, &cnt, sizeof(cnt));
	return total;
}

// SPDX-License-Identifier: BSD-3-Clause
/* Builders of split virtqueues in guest memory, playing the driver's part. */
#include "test_util_vq.h"

#include <criterion/criterion.h>
#include <errno.h>
#include <string.h>

static uint8_t *tvq_ptr(const struct tvq *t, uint64_t gpa, uint64_t len)
{
	uint8_t *p = gmem_ptr(&t->m, gpa, len);

	cr_assert_not_null(p, "test bug: [0x%llx, +0x%llx) is not in guest RAM",
			   (unsigned long long)gpa, (unsigned long long)len);
	return p;
}

static void tvq_w16(struct tvq *t, uint64_t gpa, uint16_t v)
{
	__atomic_store_n((uint16_t *)tvq_ptr(t, gpa, 2), v, __ATOMIC_RELEASE);
}

static uint16_t tvq_r16(const struct tvq *t, uint64_t gpa)
{
	return __atomic_load_n((uint16_t *)tvq_ptr(t, gpa, 2), __ATOMIC_ACQUIRE);
}

void tvq_setup(struct tvq *t, uint64_t mem_bytes, uint16_t size, bool event_idx, bool indirect)
{
	struct cvm_errbuf e = { "" };

	memset(t, 0, sizeof(*t));
	cr_assert_eq(gmem_create(&t->m, mem_bytes, &e), 0, "gmem_create: %s", e.msg);
	cr_assert_eq(vq_init(&t->q, &t->m, size, TVQ_DESC, TVQ_AVAIL, TVQ_USED, event_idx, indirect,
			     &e),
		     0, "vq_init: %s", e.msg);
}

void tvq_teardown(struct tvq *t)
{
	gmem_destroy(&t->m);
}

void tvq_start_at(struct tvq *t, uint16_t idx)
{
	t->q.last_avail = idx;
	t->q.used_idx = idx;
	t->avail_idx = idx;
	tvq_w16(t, TVQ_AVAIL + 2, idx);
	tvq_w16(t, TVQ_USED + 2, idx);
}

void tvq_desc(struct tvq *t, uint64_t table, uint16_t i, uint64_t addr, uint32_t len,
	      uint16_t flags, uint16_t next)
{
	uint8_t *p = tvq_ptr(t, table + 16ULL * i, 16);

	memcpy(p, &addr, 8);
	memcpy(p + 8, &len, 4);
	memcpy(p + 12, &flags, 2);
	memcpy(p + 14, &next, 2);
}

void tvq_post(struct tvq *t, uint16_t head)
{
	tvq_w16(t, TVQ_AVAIL + 4 + 2ULL * (t->avail_idx & (t->q.size - 1)), head);
	tvq_set_avail_idx(t, (uint16_t)(t->avail_idx + 1));
}

void tvq_set_avail_idx(struct tvq *t, uint16_t idx)
{
	t->avail_idx = idx;
	tvq_w16(t, TVQ_AVAIL + 2, idx);
}

void tvq_set_avail_flags(struct tvq *t, uint16_t flags)
{
	tvq_w16(t, TVQ_AVAIL, flags);
}

void tvq_set_used_event(struct tvq *t, uint16_t v)
{
	tvq_w16(t, TVQ_AVAIL + 4 + 2ULL * t->q.size, v);
}

uint16_t tvq_used_idx(const struct tvq *t)
{
	return tvq_r16(t, TVQ_USED + 2);
}

uint16_t tvq_used_flags(const struct tvq *t)
{
	return tvq_r16(t, TVQ_USED);
}

uint16_t tvq_avail_event(const struct tvq *t)
{
	return tvq_r16(t, TVQ_USED + 4 + 8ULL * t->q.size);
}

void tvq_used_elem(const struct tvq *t, uint16_t slot, uint32_t *id, uint32_t *len)
{
	const uint8_t *p = tvq_ptr(t, TVQ_USED + 4 + 8ULL * slot, 8);

	memcpy(id, p, 4);
	memcpy(len, p + 4, 4);
}

void tvq_fill(struct tvq *t, uint64_t gpa, uint64_t len, unsigned int seed)
{
	uint8_t *p = tvq_ptr(t, gpa, len);

	for (uint64_t i = 0; i < len; i++)
		p[i] = tvq_pattern(seed, i);
}

void tvq_expect_pattern(const struct tvq *t, uint64_t gpa, uint64_t len, unsigned int seed)
{
	const uint8_t *p = tvq_ptr(t, gpa, len);

	for (uint64_t i = 0; i < len; i++)
		cr_assert_eq(p[i], tvq_pattern(seed, i), "guest byte 0x%llx: 0x%02x, want 0x%02x",
			     (unsigned long long)(gpa + i), p[i], tvq_pattern(seed, i));
}

void tvq_expect_chain(struct tvq *t, uint16_t head, unsigned int nr, unsigned int nr_out)
{
	struct cvm_errbuf e = { "" };
	int rc = vq_pop(&t->q, &t->c, &e);

	cr_assert_eq(rc, 1, "vq_pop: %d (%s)", rc, e.msg);
	cr_assert_eq(t->c.head, head, "head %u, want %u", t->c.head, head);
	cr_assert_eq(t->c.nr, nr, "%u buffers, want %u", t->c.nr, nr);
	cr_assert_eq(t->c.nr_out, nr_out, "%u readable, want %u", t->c.nr_out, nr_out);
}

void tvq_expect_pop_fail(struct tvq *t, const char *what)
{
	struct cvm_errbuf e = { "" };
	uint16_t last = t->q.last_avail, used = t->q.used_idx;
	int rc = vq_pop(&t->q, &t->c, &e);

	cr_assert_eq(rc, -EPROTO, "vq_pop returned %d, want -EPROTO (%s)", rc, e.msg);
	cr_assert(strstr(e.msg, what) != NULL, "message \"%s\" does not say \"%s\"", e.msg, what);
	cr_assert_eq(t->q.last_avail, last, "last_avail moved on a malformed chain");
	cr_assert_eq(t->q.used_idx, used);
}

void tvq_expect_buf(const struct tvq *t, unsigned int i, uint64_t gpa, uint32_t len, bool write)
{
	const struct vq_buf *b = &t->c.bufs[i];

	cr_assert_lt(i, t->c.nr);
	cr_assert_eq(b->gpa, gpa, "buf %u gpa 0x%llx, want 0x%llx", i, (unsigned long long)b->gpa,
		     (unsigned long long)gpa);
	cr_assert_eq(b->len, len, "buf %u len %u, want %u", i, b->len, len);
	cr_assert_eq(b->write, write, "buf %u write %d, want %d", i, b->write, write);
	cr_assert_eq(b->host, gmem_ptr(&t->m, gpa, len), "buf %u host pointer", i);
}

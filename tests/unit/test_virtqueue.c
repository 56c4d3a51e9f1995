// SPDX-License-Identifier: BSD-3-Clause
/* The split virtqueue, device side: good chains, every malformed one, signalling. */
#include <criterion/criterion.h>
#include <sys/uio.h>
#include <errno.h>
#include <pthread.h>
#include <sched.h>
#include <string.h>
#include <time.h>

#include "test_util_vq.h"
#include "virtio/virtqueue.h"

#define MEM16 (16 * GMEM_MIB)
#define R 0				 /* readable, last */
#define RN VIRTQ_DESC_F_NEXT		 /* readable, more follow */
#define W VIRTQ_DESC_F_WRITE		 /* writable, last */
#define WN (VIRTQ_DESC_F_WRITE | RN)	 /* writable, more follow */
#define IND VIRTQ_DESC_F_INDIRECT	 /* an indirect table */
#define TBL (TVQ_DATA + 0x100000)	 /* an indirect table */
#define TBL2 (TVQ_DATA + 0x200000)	 /* another one */
#define BUF(n) (TVQ_DATA + 0x1000 * (n)) /* data buffer n */

/* ---- vq_init ---- */

Test(vq_init, good_queue)
{
	struct guest_mem m;
	struct virtq q;
	struct cvm_errbuf e = { "" };

	cr_assert_eq(gmem_create(&m, MEM16, NULL), 0);
	memset(&q, 0xa5, sizeof(q));
	cr_assert_eq(vq_init(&q, &m, 256, 0x1000, 0x3000, 0x4000, true, false, &e), 0, "%s", e.msg);
	cr_assert_eq(q.mem, &m);
	cr_assert_eq(q.size, 256);
	cr_assert_eq(q.desc_gpa, 0x1000);
	cr_assert_eq(q.avail_gpa, 0x3000);
	cr_assert_eq(q.used_gpa, 0x4000);
	cr_assert(q.event_idx);
	cr_assert(!q.indirect);
	cr_assert_eq(q.last_avail, 0);
	cr_assert_eq(q.used_idx, 0);
	cr_assert(!q.signalled_valid);
	/* The largest queue, and size 1, and rings that end exactly at the end of RAM. */
	cr_assert_eq(vq_init(&q, &m, VQ_MAX_SIZE, 0x100000, 0x200000, 0x300000, false, true, &e), 0,
		     "%s", e.msg);
	cr_assert_eq(q.size, VQ_MAX_SIZE);
	cr_assert(q.indirect && !q.event_idx);
	cr_assert_eq(vq_init(&q, &m, 1, MEM16 - 48, MEM16 - 8, MEM16 - 24, false, false, &e), 0,
		     "%s", e.msg);
	gmem_destroy(&m);
}

Test(vq_init, bad_size)
{
	static const uint16_t bad[] = { 0, 3, 6, 100, 65535, 32769, 49152 };
	struct guest_mem m;
	struct virtq q;

	cr_assert_eq(gmem_create(&m, MEM16, NULL), 0);
	for (unsigned int i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		struct cvm_errbuf e = { "" };

		cr_assert_eq(vq_init(&q, &m, bad[i], TVQ_DESC, TVQ_AVAIL, TVQ_USED, false, false,
				     &e),
			     -EINVAL, "size %u accepted", bad[i]);
		cr_assert(strstr(e.msg, "power of two"), "size %u: %s", bad[i], e.msg);
		cr_assert_eq(q.size, 0, "a failed vq_init leaves a usable queue");
	}
	gmem_destroy(&m);
}

static void expect_init_fail(struct guest_mem *m, uint16_t size, uint64_t d, uint64_t a, uint64_t u,
			     const char *what)
{
	struct cvm_errbuf e = { "" };
	struct virtq q;
	struct vq_chain c;

	cr_assert_eq(vq_init(&q, m, size, d, a, u, false, false, &e), -EINVAL,
		     "desc 0x%llx avail 0x%llx used 0x%llx accepted", (unsigned long long)d,
		     (unsigned long long)a, (unsigned long long)u);
	cr_assert(strstr(e.msg, what), "message \"%s\" does not say \"%s\"", e.msg, what);
	/* The queue is unusable afterwards, not half set up. */
	cr_assert_eq(vq_pop(&q, &c, NULL), -EPROTO);
	cr_assert_eq(vq_push(&q, 0, 0), -EPROTO);
}

Test(vq_init, misaligned_rings)
{
	struct guest_mem m;

	cr_assert_eq(gmem_create(&m, MEM16, NULL), 0);
	expect_init_fail(&m, 8, TVQ_DESC + 8, TVQ_AVAIL, TVQ_USED, "descriptor table");
	expect_init_fail(&m, 8, TVQ_DESC + 1, TVQ_AVAIL, TVQ_USED, "16-byte aligned");
	expect_init_fail(&m, 8, TVQ_DESC, TVQ_AVAIL + 1, TVQ_USED, "avail ring");
	expect_init_fail(&m, 8, TVQ_DESC, TVQ_AVAIL + 1, TVQ_USED, "2-byte aligned");
	expect_init_fail(&m, 8, TVQ_DESC, TVQ_AVAIL, TVQ_USED + 2, "used ring");
	expect_init_fail(&m, 8, TVQ_DESC, TVQ_AVAIL, TVQ_USED + 2, "4-byte aligned");
	gmem_destroy(&m);
}

Test(vq_init, rings_outside_ram)
{
	struct guest_mem m;

	cr_assert_eq(gmem_create(&m, MEM16, NULL), 0);
	/* Wholly outside, straddling the end by a few bytes, and wrapping. */
	expect_init_fail(&m, 8, MEM16, TVQ_AVAIL, TVQ_USED, "descriptor table");
	expect_init_fail(&m, 8, MEM16 - 16 * 8 + 16, TVQ_AVAIL, TVQ_USED, "not in guest RAM");
	expect_init_fail(&m, 8, UINT64_MAX - 15, TVQ_AVAIL, TVQ_USED, "descriptor table");
	/* The avail ring includes used_event: 4 + 2 * 8 + 2 = 22 bytes. */
	expect_init_fail(&m, 8, TVQ_DESC, MEM16 - 20, TVQ_USED, "avail ring");
	expect_init_fail(&m, 8, TVQ_DESC, 1ULL << 40, TVQ_USED, "avail ring");
	/* The used ring includes avail_event: 4 + 8 * 8 + 2 = 70 bytes. */
	expect_init_fail(&m, 8, TVQ_DESC, TVQ_AVAIL, MEM16 - 68, "used ring");
	expect_init_fail(&m, 8, TVQ_DESC, TVQ_AVAIL, UINT64_MAX - 3, "used ring");
	/* The biggest queue does not fit at the top of a small RAM. */
	expect_init_fail(&m, VQ_MAX_SIZE, MEM16 - 0x10000, TVQ_AVAIL, TVQ_USED, "descriptor");
	gmem_destroy(&m);
}

Test(vq_init, rings_in_the_hole)
{
	struct guest_mem m;

	cr_assert_eq(gmem_create(&m, 5ULL << 30, NULL), 0);
	expect_init_fail(&m, 8, GMEM_HOLE_START - 64, TVQ_AVAIL, TVQ_USED, "descriptor table");
	expect_init_fail(&m, 8, TVQ_DESC, GMEM_HOLE_START + 0x1000, TVQ_USED, "avail ring");
	expect_init_fail(&m, 8, TVQ_DESC, TVQ_AVAIL, GMEM_HOLE_END - 4, "used ring");
	/* The same rings above 4 GiB are fine. */
	struct virtq q;
	struct cvm_errbuf e = { "" };

	cr_assert_eq(vq_init(&q, &m, 8, GMEM_HOLE_END, GMEM_HOLE_END + 0x1000,
			     GMEM_HOLE_END + 0x2000, false, false, &e),
		     0, "%s", e.msg);
	gmem_destroy(&m);
}

Test(vq_init, no_memory)
{
	struct virtq q;
	struct cvm_errbuf e = { "" };

	cr_assert_eq(vq_init(&q, NULL, 8, TVQ_DESC, TVQ_AVAIL, TVQ_USED, false, false, &e),
		     -EINVAL);
	cr_assert(e.msg[0]);
}

Test(vq_init, queue_never_set_up)
{
	struct virtq q;
	struct vq_chain c;
	struct cvm_errbuf e = { "" };

	memset(&q, 0, sizeof(q));
	cr_assert_eq(vq_pop(&q, &c, &e), -EPROTO);
	cr_assert(strstr(e.msg, "not set up"), "%s", e.msg);
	cr_assert_eq(vq_push(&q, 0, 0), -EPROTO);
	cr_assert(!vq_has_work(&q));
	cr_assert(!vq_should_signal(&q));
	vq_enable_notify(&q);
	vq_disable_notify(&q);
}

/* ---- vq_pop: good chains ---- */

Test(vq_pop, empty_ring)
{
	struct tvq t;
	struct cvm_errbuf e = { "" };

	tvq_setup(&t, MEM16, 8, false, false);
	cr_assert(!vq_has_work(&t.q));
	cr_assert_eq(vq_pop(&t.q, &t.c, &e), 0, "%s", e.msg);
	cr_assert_eq(t.q.last_avail, 0);
	/* A descriptor written but not published is not taken. */
	tvq_desc(&t, TVQ_DESC, 0, BUF(0), 16, R, 0);
	cr_assert_eq(vq_pop(&t.q, &t.c, &e), 0);
	tvq_post(&t, 0);
	cr_assert(vq_has_work(&t.q));
	tvq_expect_chain(&t, 0, 1, 1);
	cr_assert(!vq_has_work(&t.q));
	cr_assert_eq(vq_pop(&t.q, &t.c, &e), 0);
	tvq_teardown(&t);
}

Test(vq_pop, single_buffer)
{
	struct tvq t;

	tvq_setup(&t, MEM16, 8, false, false);
	tvq_desc(&t, TVQ_DESC, 5, BUF(1) + 3, 100, W, 0);
	tvq_post(&t, 5);
	tvq_expect_chain(&t, 5, 1, 0);
	tvq_expect_buf(&t, 0, BUF(1) + 3, 100, true);
	cr_assert_eq(t.c.bufs[0].host, t.m.base + BUF(1) + 3);
	cr_assert_eq(t.c.in_len, 100);
	cr_assert_eq(t.c.out_len, 0);
	cr_assert_eq(t.q.last_avail, 1);
	tvq_teardown(&t);
}

Test(vq_pop, readable_then_writable_chain)
{
	struct tvq t;

	tvq_setup(&t, MEM16, 8, false, false);
	/* 5 -> 2 -> 7 -> 0 -> 3: two readable, three writable, out of order. */
	tvq_desc(&t, TVQ_DESC, 5, BUF(1), 16, RN, 2);
	tvq_desc(&t, TVQ_DESC, 2, BUF(2), 4096, RN, 7);
	tvq_desc(&t, TVQ_DESC, 7, BUF(4), 512, WN, 0);
	tvq_desc(&t, TVQ_DESC, 0, BUF(5), 1, WN, 3);
	tvq_desc(&t, TVQ_DESC, 3, BUF(6) + 1, 7, W, 6); /* next ignored without NEXT */
	tvq_post(&t, 5);
	tvq_expect_chain(&t, 5, 5, 2);
	tvq_expect_buf(&t, 0, BUF(1), 16, false);
	tvq_expect_buf(&t, 1, BUF(2), 4096, false);
	tvq_expect_buf(&t, 2, BUF(4), 512, true);
	tvq_expect_buf(&t, 3, BUF(5), 1, true);
	tvq_expect_buf(&t, 4, BUF(6) + 1, 7, true);
	cr_assert_eq(t.c.out_len, 16 + 4096);
	cr_assert_eq(t.c.in_len, 512 + 1 + 7);
	tvq_teardown(&t);
}

Test(vq_pop, several_chains_in_order_and_a_full_ring)
{
	struct tvq t;

	tvq_setup(&t, MEM16, 4, false, false);
	for (uint16_t i = 0; i < 4; i++)
		tvq_desc(&t, TVQ_DESC, i, BUF(i), 10 + i, i % 2 ? W : R, 0);
	/* Exactly size chains outstanding is allowed. */
	tvq_post(&t, 2);
	tvq_post(&t, 0);
	tvq_post(&t, 3);
	tvq_post(&t, 1);
	tvq_expect_chain(&t, 2, 1, 1);
	cr_assert_eq(t.c.out_len, 12);
	tvq_expect_chain(&t, 0, 1, 1);
	cr_assert_eq(t.c.out_len, 10);
	tvq_expect_chain(&t, 3, 1, 0);
	cr_assert_eq(t.c.in_len, 13);
	tvq_expect_chain(&t, 1, 1, 0);
	cr_assert_eq(t.c.in_len, 11);
	cr_assert_eq(vq_pop(&t.q, &t.c, NULL), 0);
	/* The ring slots are reused after the first lap. */
	tvq_post(&t, 3);
	tvq_expect_chain(&t, 3, 1, 0);
	tvq_teardown(&t);
}

Test(vq_pop, longest_direct_chain_is_the_queue_size)
{
	struct tvq t;

	tvq_setup(&t, MEM16, 16, false, false);
	for (uint16_t i = 0; i < 16; i++)
		tvq_desc(&t, TVQ_DESC, i, BUF(i), 8, i < 15 ? RN : R, (i + 1) % 16);
	tvq_post(&t, 0);
	tvq_expect_chain(&t, 0, 16, 16);
	cr_assert_eq(t.c.out_len, 16 * 8);
	tvq_teardown(&t);
}

Test(vq_pop, wraparound_of_16_bit_indices)
{
	struct tvq t;
	uint32_t id, len;

	tvq_setup(&t, MEM16, 4, false, false);
	tvq_start_at(&t, 65533);
	for (uint16_t i = 0; i < 4; i++)
		tvq_desc(&t, TVQ_DESC, i, BUF(i), 32, W, 0);
	for (uint16_t i = 0; i < 4; i++)
		tvq_post(&t, (uint16_t)(3 - i));
	cr_assert_eq(t.avail_idx, 1);
	for (uint16_t i = 0; i < 4; i++) {
		tvq_expect_chain(&t, (uint16_t)(3 - i), 1, 0);
		cr_assert_eq(vq_push(&t.q, t.c.head, 100 + i), 0);
	}
	cr_assert_eq(t.q.last_avail, 1);
	cr_assert_eq(t.q.used_idx, 1);
	cr_assert_eq(tvq_used_idx(&t), 1);
	cr_assert(!vq_has_work(&t.q));
	/* 65533 % 4 = 1: the elements went to slots 1, 2, 3, 0. */
	for (uint16_t i = 0; i < 4; i++) {
		tvq_used_elem(&t, (uint16_t)((65533 + i) % 4), &id, &len);
		cr_assert_eq(id, 3 - i, "slot %u id %u", (65533 + i) % 4, id);
		cr_assert_eq(len, 100 + i);
	}
	tvq_teardown(&t);
}

Test(vq_pop, indirect_table)
{
	struct tvq t;

	tvq_setup(&t, MEM16, 8, false, true);
	/* A direct readable buffer, then an indirect table: R, W, W out of order. */
	tvq_desc(&t, TVQ_DESC, 1, BUF(0), 12, RN, 6);
	tvq_desc(&t, TVQ_DESC, 6, TBL, 4 * 16, IND, 0);
	tvq_desc(&t, TBL, 0, BUF(1), 20, RN, 3);
	tvq_desc(&t, TBL, 3, BUF(2), 30, WN, 1);
	tvq_desc(&t, TBL, 1, BUF(3), 40, W, 2);
	tvq_desc(&t, TBL, 2, 0xdead0000000ULL, 0, IND, 2); /* unused entry */
	tvq_post(&t, 1);
	tvq_expect_chain(&t, 1, 4, 2);
	tvq_expect_buf(&t, 0, BUF(0), 12, false);
	tvq_expect_buf(&t, 1, BUF(1), 20, false);
	tvq_expect_buf(&t, 2, BUF(2), 30, true);
	tvq_expect_buf(&t, 3, BUF(3), 40, true);
	cr_assert_eq(t.c.out_len, 32);
	cr_assert_eq(t.c.in_len, 70);
	cr_assert_eq(t.c.head, 1);
	tvq_teardown(&t);
}

Test(vq_pop, indirect_head_with_write_flag_ignored)
{
	struct tvq t;

	tvq_setup(&t, MEM16, 8, false, true);
	/* The WRITE flag on the descriptor of the table means nothing (2.7.5.3.2). */
	tvq_desc(&t, TVQ_DESC, 0, TBL + 16, 16, IND | W, 0);
	tvq_desc(&t, TBL, 1, BUF(7), 9, R, 0);
	tvq_post(&t, 0);
	tvq_expect_chain(&t, 0, 1, 1);
	tvq_expect_buf(&t, 0, BUF(7), 9, false);
	tvq_teardown(&t);
}

Test(vq_pop, max_bufs)
{
	struct tvq t;

	/* A full indirect table of VQ_MAX_BUFS entries is fine. */
	tvq_setup(&t, MEM16, 8, false, true);
	for (uint16_t i = 0; i < VQ_MAX_BUFS; i++)
		tvq_desc(&t, TBL, i, BUF(i % 64), 4, i < VQ_MAX_BUFS - 1 ? WN : W, i + 1);
	tvq_desc(&t, TVQ_DESC, 0, TBL, VQ_MAX_BUFS * 16, IND, 0);
	tvq_post(&t, 0);
	tvq_expect_chain(&t, 0, VQ_MAX_BUFS, 0);
	cr_assert_eq(t.c.in_len, 4 * VQ_MAX_BUFS);
	/* One direct buffer more makes VQ_MAX_BUFS + 1. */
	tvq_desc(&t, TVQ_DESC, 1, BUF(100), 4, RN, 2);
	tvq_desc(&t, TVQ_DESC, 2, TBL, VQ_MAX_BUFS * 16, IND, 0);
	tvq_post(&t, 1);
	tvq_expect_pop_fail(&t, "more than 512 buffers");
	tvq_teardown(&t);

	/* A direct chain of VQ_MAX_BUFS in a bigger queue, then one more. */
	tvq_setup(&t, MEM16, 2 * VQ_MAX_BUFS, false, false);
	for (uint16_t i = 0; i < VQ_MAX_BUFS + 1; i++)
		tvq_desc(&t, TVQ_DESC, i, BUF(i % 64), 4, RN, i + 1);
	tvq_desc(&t, TVQ_DESC, VQ_MAX_BUFS - 1, BUF(0), 4, R, 0);
	tvq_post(&t, 0);
	tvq_expect_chain(&t, 0, VQ_MAX_BUFS, VQ_MAX_BUFS);
	tvq_desc(&t, TVQ_DESC, VQ_MAX_BUFS - 1, BUF(0), 4, RN, VQ_MAX_BUFS);
	tvq_post(&t, 0);
	tvq_expect_pop_fail(&t, "more than 512 buffers");
	tvq_teardown(&t);
}

Test(vq_pop, buffers_above_4g_and_totals_beyond_4g)
{
	struct tvq t;

	tvq_setup(&t, 8ULL << 30, 8, false, false);
	/* 3 GiB - 1 below the hole, 2 GiB above it: 5 GiB - 1 readable in total. */
	tvq_desc(&t, TVQ_DESC, 0, 1, (uint32_t)(GMEM_HOLE_START - 1), RN, 1);
	tvq_desc(&t, TVQ_DESC, 1, GMEM_HOLE_END, (uint32_t)(2 * GMEM_GIB), RN, 2);
	/* And 2 x (4 GiB - 1) writable: more than UINT32_MAX again, same bytes. */
	tvq_desc(&t, TVQ_DESC, 2, GMEM_HOLE_END, UINT32_MAX, WN, 3);
	tvq_desc(&t, TVQ_DESC, 3, GMEM_HOLE_END + 1, UINT32_MAX - 1, W, 0);
	tvq_post(&t, 0);
	tvq_expect_chain(&t, 0, 4, 2);
	cr_assert_eq(t.c.out_len, 5ULL * GMEM_GIB - 1);
	cr_assert_eq(t.c.in_len, 2ULL * UINT32_MAX - 1);
	tvq_expect_buf(&t, 0, 1, (uint32_t)(GMEM_HOLE_START - 1), false);
	tvq_expect_buf(&t, 1, GMEM_HOLE_END, (uint32_t)(2 * GMEM_GIB), false);
	cr_assert_eq(t.c.bufs[1].host, t.m.base + GMEM_HOLE_START);
	tvq_teardown(&t);
}

Test(vq_pop, buffer_ending_at_the_end_of_ram)
{
	struct tvq t;

	tvq_setup(&t, MEM16, 8, false, false);
	tvq_desc(&t, TVQ_DESC, 0, MEM16 - 16, 16, W, 0);
	tvq_post(&t, 0);
	tvq_expect_chain(&t, 0, 1, 0);
	tvq_expect_buf(&t, 0, MEM16 - 16, 16, true);
	tvq_teardown(&t);
}

/* ---- vq_pop: malformed rings and chains ---- */

/* A queue of 8 with chain 0 posted; descriptor 0 is given. */
static void bad_one(struct tvq *t, uint64_t mem, bool indirect, uint64_t addr, uint32_t len,
		    uint16_t flags, uint16_t next)
{
	tvq_setup(t, mem, 8, false, indirect);
	tvq_desc(t, TVQ_DESC, 0, addr, len, flags, next);
	tvq_post(t, 0);
}

Test(vq_bad, head_out_of_range)
{
	struct tvq t;

	tvq_setup(&t, MEM16, 8, false, false);
	tvq_desc(&t, TVQ_DESC, 0, BUF(0), 8, R, 0);
	tvq_post(&t, 8);
	tvq_expect_pop_fail(&t, "head 8 >= size 8");
	tvq_set_avail_idx(&t, 0);
	tvq_post(&t, 65535);
	tvq_expect_pop_fail(&t, "head 65535");
	/* The slot is fixed: the chain is then taken. */
	tvq_set_avail_idx(&t, 0);
	tvq_post(&t, 7);
	tvq_desc(&t, TVQ_DESC, 7, BUF(0), 8, R, 0);
	tvq_expect_chain(&t, 7, 1, 1);
	tvq_teardown(&t);
}

Test(vq_bad, next_out_of_range)
{
	struct tvq t;

	bad_one(&t, MEM16, false, BUF(0), 8, RN, 8);
	tvq_expect_pop_fail(&t, "next 8 >= size 8");
	tvq_desc(&t, TVQ_DESC, 0, BUF(0), 8, RN, 1);
	tvq_desc(&t, TVQ_DESC, 1, BUF(0), 8, RN, 0xffff);
	tvq_expect_pop_fail(&t, "descriptor 1: next 65535");
	tvq_teardown(&t);
}

Test(vq_bad, two_descriptor_loop)
{
	struct tvq t;

	bad_one(&t, MEM16, false, BUF(0), 8, RN, 1);
	tvq_desc(&t, TVQ_DESC, 1, BUF(1), 8, RN, 0);
	tvq_expect_pop_fail(&t, "longer than the queue size");
	tvq_teardown(&t);
}

Test(vq_bad, self_loop)
{
	struct tvq t;

	bad_one(&t, MEM16, false, BUF(0), 8, WN, 0);
	tvq_expect_pop_fail(&t, "loop");
	tvq_teardown(&t);
}

Test(vq_bad, chain_longer_than_size)
{
	struct tvq t;

	/* 0 -> 1 -> ... -> 7 -> 3 -> ...: all descriptors, then round again. */
	tvq_setup(&t, MEM16, 8, false, false);
	for (uint16_t i = 0; i < 8; i++)
		tvq_desc(&t, TVQ_DESC, i, BUF(i), 8, RN, i < 7 ? i + 1 : 3);
	tvq_post(&t, 0);
	tvq_expect_pop_fail(&t, "longer than the queue size 8");
	tvq_teardown(&t);
}

Test(vq_bad, buffer_outside_ram)
{
	struct tvq t;

	bad_one(&t, MEM16, false, MEM16, 1, R, 0);
	tvq_expect_pop_fail(&t, "not in guest RAM");
	tvq_desc(&t, TVQ_DESC, 0, 1ULL << 40, 4096, W, 0);
	tvq_expect_pop_fail(&t, "not in guest RAM");
	/* Second in a chain. */
	tvq_desc(&t, TVQ_DESC, 0, BUF(0), 8, RN, 4);
	tvq_desc(&t, TVQ_DESC, 4, 0x7fff0000000ULL, 8, R, 0);
	tvq_expect_pop_fail(&t, "descriptor 4");
	tvq_teardown(&t);
}

Test(vq_bad, buffer_straddling_the_end_of_ram)
{
	struct tvq t;

	bad_one(&t, MEM16, false, MEM16 - 8, 9, R, 0);
	tvq_expect_pop_fail(&t, "not in guest RAM");
	tvq_desc(&t, TVQ_DESC, 0, 0, UINT32_MAX, W, 0);
	tvq_expect_pop_fail(&t, "not in guest RAM");
	tvq_teardown(&t);
}

Test(vq_bad, buffer_straddling_the_hole)
{
	struct tvq t;

	bad_one(&t, 5ULL << 30, false, GMEM_HOLE_START - 8, 16, R, 0);
	tvq_expect_pop_fail(&t, "not in guest RAM");
	/* Inside the hole, and from the hole into high RAM. */
	tvq_desc(&t, TVQ_DESC, 0, GMEM_HOLE_START + 4096, 16, W, 0);
	tvq_expect_pop_fail(&t, "not in guest RAM");
	tvq_desc(&t, TVQ_DESC, 0, GMEM_HOLE_END - 8, 16, W, 0);
	tvq_expect_pop_fail(&t, "not in guest RAM");
	/* Below the top of high RAM (5 GiB of RAM ends at 6 GiB) and across it. */
	tvq_desc(&t, TVQ_DESC, 0, 6 * GMEM_GIB - 8, 16, W, 0);
	tvq_expect_pop_fail(&t, "not in guest RAM");
	tvq_desc(&t, TVQ_DESC, 0, 6 * GMEM_GIB - 16, 16, W, 0);
	tvq_expect_chain(&t, 0, 1, 0);
	tvq_teardown(&t);
}

Test(vq_bad, address_plus_length_wraps)
{
	struct tvq t;

	bad_one(&t, MEM16, false, UINT64_MAX - 7, 16, R, 0);
	tvq_expect_pop_fail(&t, "wraps");
	tvq_desc(&t, TVQ_DESC, 0, UINT64_MAX - 1, 1, R, 0);
	tvq_expect_pop_fail(&t, "not in guest RAM"); /* ends at 2^64 - 1: no wrap */
	tvq_desc(&t, TVQ_DESC, 0, UINT64_MAX, 1, R, 0);
	tvq_expect_pop_fail(&t, "wraps"); /* ends at 2^64 */
	tvq_desc(&t, TVQ_DESC, 0, UINT64_MAX, 2, R, 0);
	tvq_expect_pop_fail(&t, "wraps");
	tvq_teardown(&t);
}

Test(vq_bad, zero_length)
{
	struct tvq t;

	bad_one(&t, MEM16, false, BUF(0), 0, R, 0);
	tvq_expect_pop_fail(&t, "length 0");
	/* In the middle of a chain. */
	tvq_desc(&t, TVQ_DESC, 0, BUF(0), 8, RN, 1);
	tvq_desc(&t, TVQ_DESC, 1, BUF(1), 0, WN, 2);
	tvq_desc(&t, TVQ_DESC, 2, BUF(2), 8, W, 0);
	tvq_expect_pop_fail(&t, "descriptor 1 has length 0");
	tvq_teardown(&t);
}

Test(vq_bad, readable_after_writable)
{
	struct tvq t;

	bad_one(&t, MEM16, false, BUF(0), 8, RN, 1);
	tvq_desc(&t, TVQ_DESC, 1, BUF(1), 8, WN, 2);
	tvq_desc(&t, TVQ_DESC, 2, BUF(2), 8, R, 0);
	tvq_expect_pop_fail(&t, "readable but follows a writable");
	tvq_teardown(&t);
}

Test(vq_bad, readable_in_indirect_after_writable_direct)
{
	struct tvq t;

	bad_one(&t, MEM16, true, BUF(0), 8, WN, 1);
	tvq_desc(&t, TVQ_DESC, 1, TBL, 16, IND, 0);
	tvq_desc(&t, TBL, 0, BUF(1), 8, R, 0);
	tvq_expect_pop_fail(&t, "readable but follows a writable");
	tvq_teardown(&t);
}

Test(vq_bad, indirect_not_negotiated)
{
	struct tvq t;

	bad_one(&t, MEM16, false, TBL, 16, IND, 0);
	tvq_desc(&t, TBL, 0, BUF(1), 8, R, 0);
	tvq_expect_pop_fail(&t, "INDIRECT_DESC was not negotiated");
	tvq_teardown(&t);
}

Test(vq_bad, indirect_with_next)
{
	struct tvq t;

	bad_one(&t, MEM16, true, TBL, 16, IND | RN, 1);
	tvq_desc(&t, TBL, 0, BUF(1), 8, R, 0);
	tvq_desc(&t, TVQ_DESC, 1, BUF(2), 8, W, 0);
	tvq_expect_pop_fail(&t, "both INDIRECT and NEXT");
	tvq_teardown(&t);
}

Test(vq_bad, indirect_inside_indirect)
{
	struct tvq t;

	bad_one(&t, MEM16, true, TBL, 32, IND, 0);
	tvq_desc(&t, TBL, 0, BUF(1), 8, RN, 1);
	tvq_desc(&t, TBL, 1, TBL2, 16, IND, 0);
	tvq_desc(&t, TBL2, 0, BUF(2), 8, W, 0);
	tvq_expect_pop_fail(&t, "indirect descriptor 1 inside the indirect table");
	tvq_teardown(&t);
}

Test(vq_bad, indirect_table_length)
{
	struct tvq t;

	bad_one(&t, MEM16, true, TBL, 24, IND, 0);
	for (uint16_t i = 0; i < VQ_MAX_BUFS + 1; i++)
		tvq_desc(&t, TBL, i, BUF(1), 8, R, 0);
	tvq_expect_pop_fail(&t, "length 24, not a non-zero multiple of 16");
	tvq_desc(&t, TVQ_DESC, 0, TBL, 0, IND, 0);
	tvq_expect_pop_fail(&t, "length 0");
	tvq_desc(&t, TVQ_DESC, 0, TBL, 15, IND, 0);
	tvq_expect_pop_fail(&t, "not a non-zero multiple of 16");
	tvq_desc(&t, TVQ_DESC, 0, TBL, (VQ_MAX_BUFS + 1) * 16, IND, 0);
	tvq_expect_pop_fail(&t, "513 entries, more than 512");
	tvq_desc(&t, TVQ_DESC, 0, TBL, 0xfffffff0u, IND, 0);
	tvq_expect_pop_fail(&t, "more than 512");
	/* The same table with a good length works. */
	tvq_desc(&t, TVQ_DESC, 0, TBL, 16, IND, 0);
	tvq_expect_chain(&t, 0, 1, 1);
	tvq_teardown(&t);
}

Test(vq_bad, indirect_table_outside_ram)
{
	struct tvq t;

	bad_one(&t, MEM16, true, MEM16 - 16, 32, IND, 0);
	tvq_expect_pop_fail(&t, "indirect table [0xfffff0, +0x20)");
	tvq_desc(&t, TVQ_DESC, 0, MEM16, 16, IND, 0);
	tvq_expect_pop_fail(&t, "not in guest RAM");
	tvq_desc(&t, TVQ_DESC, 0, UINT64_MAX - 15, 32, IND, 0);
	tvq_expect_pop_fail(&t, "not in guest RAM");
	tvq_teardown(&t);

	bad_one(&t, 5ULL << 30, true, GMEM_HOLE_START - 16, 32, IND, 0);
	tvq_expect_pop_fail(&t, "not in guest RAM");
	tvq_teardown(&t);
}

Test(vq_bad, indirect_next_out_of_range)
{
	struct tvq t;

	bad_one(&t, MEM16, true, TBL, 3 * 16, IND, 0);
	tvq_desc(&t, TBL, 0, BUF(1), 8, RN, 2);
	tvq_desc(&t, TBL, 2, BUF(2), 8, RN, 3); /* entry 3 exists in memory, not in the table */
	tvq_desc(&t, TBL, 3, BUF(3), 8, R, 0);
	tvq_expect_pop_fail(&t, "indirect descriptor 2: next 3 is beyond the table (3 entries)");
	tvq_teardown(&t);
}

Test(vq_bad, indirect_loop)
{
	struct tvq t;

	bad_one(&t, MEM16, true, TBL, 2 * 16, IND, 0);
	tvq_desc(&t, TBL, 0, BUF(1), 8, RN, 1);
	tvq_desc(&t, TBL, 1, BUF(2), 8, RN, 0);
	tvq_expect_pop_fail(&t, "longer than its table");
	tvq_desc(&t, TBL, 1, BUF(2), 8, RN, 1);
	tvq_expect_pop_fail(&t, "a loop");
	tvq_teardown(&t);
}

Test(vq_bad, bad_buffer_in_indirect_table)
{
	struct tvq t;

	bad_one(&t, MEM16, true, TBL, 2 * 16, IND, 0);
	tvq_desc(&t, TBL, 0, BUF(1), 8, RN, 1);
	tvq_desc(&t, TBL, 1, BUF(2), 0, R, 0);
	tvq_expect_pop_fail(&t, "indirect descriptor 1 has length 0");
	tvq_desc(&t, TBL, 1, MEM16 - 4, 8, R, 0);
	tvq_expect_pop_fail(&t, "indirect descriptor 1: buffer");
	tvq_desc(&t, TBL, 1, UINT64_MAX - 2, 8, R, 0);
	tvq_expect_pop_fail(&t, "wraps");
	tvq_teardown(&t);
}

Test(vq_bad, avail_index_jumps_too_far)
{
	struct tvq t;

	tvq_setup(&t, MEM16, 8, false, false);
	tvq_desc(&t, TVQ_DESC, 0, BUF(0), 8, R, 0);
	tvq_set_avail_idx(&t, 9);
	tvq_expect_pop_fail(&t, "avail index moved by 9, more than the queue size 8");
	cr_assert(vq_has_work(&t.q));
	/* Backwards is as bad: 65535 ahead. */
	tvq_start_at(&t, 100);
	tvq_set_avail_idx(&t, 99);
	tvq_expect_pop_fail(&t, "moved by 65535");
	/* And across the wrap. */
	tvq_start_at(&t, 65530);
	tvq_set_avail_idx(&t, 3);
	tvq_expect_pop_fail(&t, "moved by 9");
	/* Exactly size ahead across the wrap is fine. */
	tvq_set_avail_idx(&t, 2);
	for (uint16_t i = 0; i < 8; i++)
		tvq_desc(&t, TVQ_DESC, 0, BUF(0), 8, R, 0);
	memset(t.m.base + TVQ_AVAIL + 4, 0, 16);
	for (int i = 0; i < 8; i++)
		tvq_expect_chain(&t, 0, 1, 1);
	cr_assert_eq(vq_pop(&t.q, &t.c, NULL), 0);
	tvq_teardown(&t);
}

Test(vq_bad, no_errbuf)
{
	struct tvq t;

	bad_one(&t, MEM16, false, BUF(0), 0, R, 0);
	cr_assert_eq(vq_pop(&t.q, &t.c, NULL), -EPROTO);
	tvq_teardown(&t);
}

/*
 * The guest rewrites the descriptor while we pop it. Whatever we accept
 * must be one consistent snapshot: a buffer in RAM whose pointer matches
 * its address and length, never a checked address with an unchecked one.
 */
struct flipper {
	uint8_t *desc;
	bool started;
	bool stop;
};

static void *flip(void *arg)
{
	struct flipper *f = arg;
	uint64_t addrs[2] = { BUF(3), 0xffffffff00000000ULL };
	uint32_t lens[2] = { 64, 0 };

	__atomic_store_n(&f->started, true, __ATOMIC_RELEASE);
	for (unsigned int i = 0; !__atomic_load_n(&f->stop, __ATOMIC_ACQUIRE); i++) {
		__atomic_store_n((uint64_t *)f->desc, addrs[i & 1], __ATOMIC_RELAXED);
		__atomic_store_n((uint32_t *)(f->desc + 8), lens[(i >> 1) & 1], __ATOMIC_RELAXED);
		__atomic_store_n((uint16_t *)(f->desc + 12), (uint16_t)((i >> 2) & 1 ? W : R),
				 __ATOMIC_RELAXED);
	}
	return NULL;
}

Test(vq_bad, descriptor_changing_under_us, .timeout = 60)
{
	struct tvq t;
	struct flipper f = { 0 };
	struct timespec t0, now;
	pthread_t th;
	unsigned long good = 0, bad = 0, n;

	bad_one(&t, MEM16, false, BUF(3), 64, R, 0);
	f.desc = t.m.base + TVQ_DESC;
	cr_assert_eq(pthread_create(&th, NULL, flip, &f), 0);
	while (!__atomic_load_n(&f.started, __ATOMIC_ACQUIRE))
		sched_yield();
	clock_gettime(CLOCK_MONOTONIC, &t0);
	/* At least 200000 pops, and until both outcomes were seen often (at most 3 s). */
	for (n = 0;; n++) {
		int rc = vq_pop(&t.q, &t.c, NULL);

		if (rc == 1) {
			const struct vq_buf *b = &t.c.bufs[0];

			good++;
			cr_assert_eq(t.c.nr, 1);
			cr_assert_eq(b->gpa, BUF(3));
			cr_assert_eq(b->len, 64);
			cr_assert_eq(b->host, t.m.base + BUF(3));
			cr_assert_eq(t.c.nr_out, b->write ? 0u : 1u);
			cr_assert_eq(b->write ? t.c.in_len : t.c.out_len, 64);
			cr_assert_eq(b->write ? t.c.out_len : t.c.in_len, 0);
			t.q.last_avail = 0;
		} else {
			cr_assert_eq(rc, -EPROTO);
			cr_assert_eq(t.q.last_avail, 0);
			bad++;
		}
		if (n % 1024)
			continue;
		clock_gettime(CLOCK_MONOTONIC, &now);
		if (now.tv_sec - t0.tv_sec >= 3)
			break;
		if (n >= 200000 && good >= 20000 && bad >= 20000)
			break;
	}
	__atomic_store_n(&f.stop, true, __ATOMIC_RELEASE);
	pthread_join(th, NULL);
	cr_log_info("%lu pops: %lu taken, %lu refused", n + 1, good, bad);
	tvq_teardown(&t);
}

/* ---- vq_push ---- */

Test(vq_push, writes_element_then_index)
{
	struct tvq t;
	uint32_t id, len;

	tvq_setup(&t, MEM16, 8, false, false);
	cr_assert_eq(vq_push(&t.q, 6, 1234), 0);
	cr_assert_eq(tvq_used_idx(&t), 1);
	cr_assert_eq(t.q.used_idx, 1);
	tvq_used_elem(&t, 0, &id, &len);
	cr_assert_eq(id, 6);
	cr_assert_eq(len, 1234);
	cr_assert_eq(vq_push(&t.q, 0, UINT32_MAX), 0);
	tvq_used_elem(&t, 1, &id, &len);
	cr_assert_eq(id, 0);
	cr_assert_eq(len, UINT32_MAX);
	cr_assert_eq(tvq_used_idx(&t), 2);
	/* Nothing else in the used ring was touched. */
	for (uint16_t s = 2; s < 8; s++) {
		tvq_used_elem(&t, s, &id, &len);
		cr_assert_eq(id, 0);
		cr_assert_eq(len, 0);
	}
	cr_assert_eq(tvq_used_flags(&t), 0);
	tvq_teardown(&t);
}

Test(vq_push, head_out_of_range)
{
	struct tvq t;
	uint32_t id, len;

	tvq_setup(&t, MEM16, 8, false, false);
	cr_assert_eq(vq_push(&t.q, 8, 1), -EPROTO);
	cr_assert_eq(vq_push(&t.q, 65535, 1), -EPROTO);
	cr_assert_eq(t.q.used_idx, 0);
	cr_assert_eq(tvq_used_idx(&t), 0);
	tvq_used_elem(&t, 0, &id, &len);
	cr_assert_eq(id, 0);
	cr_assert_eq(len, 0);
	cr_assert_eq(vq_push(&t.q, 7, 1), 0);
	tvq_teardown(&t);
}

/* ---- vq_should_signal ---- */

Test(vq_signal, no_interrupt_flag)
{
	struct tvq t;

	tvq_setup(&t, MEM16, 8, false, false);
	vq_push(&t.q, 0, 0);
	cr_assert(vq_should_signal(&t.q));
	cr_assert(vq_should_signal(&t.q)); /* no event index: every time */
	tvq_set_avail_flags(&t, VIRTQ_AVAIL_F_NO_INTERRUPT);
	vq_push(&t.q, 0, 0);
	cr_assert(!vq_should_signal(&t.q));
	/* Other bits are not NO_INTERRUPT. */
	tvq_set_avail_flags(&t, 0xfffe);
	cr_assert(vq_should_signal(&t.q));
	tvq_set_avail_flags(&t, 0);
	cr_assert(vq_should_signal(&t.q));
	/* used_event means nothing without EVENT_IDX. */
	tvq_set_used_event(&t, 100);
	cr_assert(vq_should_signal(&t.q));
	tvq_teardown(&t);
}

Test(vq_signal, event_idx_decisions)
{
	struct tvq t;

	tvq_setup(&t, MEM16, 8, true, false);
	/* The first time after set-up always signals, wherever used_event is. */
	tvq_set_used_event(&t, 1000);
	vq_push(&t.q, 0, 0);
	cr_assert(vq_should_signal(&t.q));
	cr_assert(t.q.signalled_valid);
	cr_assert_eq(t.q.signalled_used, 1);
	/* used_event = 1: signal once used->idx passes 1 (1 -> 2). */
	tvq_set_used_event(&t, 1);
	vq_push(&t.q, 0, 0);
	cr_assert(vq_should_signal(&t.q));
	/* used_event = 5 at idx 2: no signal at 3, 4, 5; signal at 6. */
	tvq_set_used_event(&t, 5);
	for (int i = 3; i <= 5; i++) {
		vq_push(&t.q, 0, 0);
		cr_assert(!vq_should_signal(&t.q), "signalled at used idx %d", i);
	}
	vq_push(&t.q, 0, 0);
	cr_assert(vq_should_signal(&t.q));
	cr_assert_eq(t.q.signalled_used, 6);
	/* A batch of pushes that crosses used_event: one signal. */
	tvq_set_used_event(&t, 7);
	vq_push(&t.q, 0, 0);
	vq_push(&t.q, 0, 0);
	vq_push(&t.q, 0, 0);
	cr_assert(vq_should_signal(&t.q));
	/* used_event behind us (the guest did not move it): no signal. */
	tvq_set_used_event(&t, 2);
	vq_push(&t.q, 0, 0);
	cr_assert(!vq_should_signal(&t.q));
	/* No new used entries since the last call: no signal, used_event at or just behind. */
	tvq_set_used_event(&t, t.q.used_idx);
	cr_assert(!vq_should_signal(&t.q));
	tvq_set_used_event(&t, (uint16_t)(t.q.used_idx - 1));
	cr_assert(!vq_should_signal(&t.q));
	/* used_event one behind the last signalled index: the guest saw that one already. */
	vq_push(&t.q, 0, 0);
	cr_assert(!vq_should_signal(&t.q));
	/* used_event exactly at the last signalled index: signal. */
	tvq_set_used_event(&t, t.q.used_idx);
	vq_push(&t.q, 0, 0);
	cr_assert(vq_should_signal(&t.q));
	/* NO_INTERRUPT is ignored with EVENT_IDX (2.7.10). */
	tvq_set_avail_flags(&t, VIRTQ_AVAIL_F_NO_INTERRUPT);
	tvq_set_used_event(&t, t.q.used_idx);
	vq_push(&t.q, 0, 0);
	cr_assert(vq_should_signal(&t.q));
	tvq_set_avail_flags(&t, 0);
	tvq_set_used_event(&t, (uint16_t)(t.q.used_idx + 1));
	vq_push(&t.q, 0, 0);
	cr_assert(!vq_should_signal(&t.q));
	tvq_teardown(&t);
}

Test(vq_signal, event_idx_wraparound)
{
	struct tvq t;

	tvq_setup(&t, MEM16, 8, true, false);
	tvq_start_at(&t, 65534);
	t.q.signalled_used = 65534;
	t.q.signalled_valid = true;
	/* used_event 65535, idx 65534 -> 0 in one batch: signal. */
	tvq_set_used_event(&t, 65535);
	vq_push(&t.q, 0, 0);
	vq_push(&t.q, 0, 0);
	cr_assert_eq(t.q.used_idx, 0);
	cr_assert_eq(tvq_used_idx(&t), 0);
	cr_assert(vq_should_signal(&t.q));
	cr_assert_eq(t.q.signalled_used, 0);
	/* used_event 1 (past the wrap): not at 0 -> 1, yes at 1 -> 2. */
	tvq_set_used_event(&t, 1);
	vq_push(&t.q, 0, 0);
	cr_assert(!vq_should_signal(&t.q));
	vq_push(&t.q, 0, 0);
	cr_assert(vq_should_signal(&t.q));
	/* used_event just before the wrap seen from after it: 65535 is behind 2. */
	tvq_set_used_event(&t, 65535);
	vq_push(&t.q, 0, 0);
	cr_assert(!vq_should_signal(&t.q));
	/* Re-initialising forgets what was signalled. */
	struct cvm_errbuf e = { "" };

	cr_assert_eq(vq_init(&t.q, &t.m, 8, TVQ_DESC, TVQ_AVAIL, TVQ_USED, true, false, &e), 0);
	cr_assert(!t.q.signalled_valid);
	cr_assert(vq_should_signal(&t.q));
	tvq_teardown(&t);
}

/* ---- notifications ---- */

Test(vq_notify, flags_without_event_idx)
{
	struct tvq t;

	tvq_setup(&t, MEM16, 8, false, false);
	cr_assert_eq(tvq_used_flags(&t), 0);
	vq_disable_notify(&t.q);
	cr_assert_eq(tvq_used_flags(&t), VIRTQ_USED_F_NO_NOTIFY);
	vq_disable_notify(&t.q);
	cr_assert_eq(tvq_used_flags(&t), VIRTQ_USED_F_NO_NOTIFY);
	vq_enable_notify(&t.q);
	cr_assert_eq(tvq_used_flags(&t), 0);
	cr_assert_eq(tvq_avail_event(&t), 0);
	/* After enabling, work posted meanwhile is seen. */
	tvq_desc(&t, TVQ_DESC, 0, BUF(0), 8, R, 0);
	tvq_post(&t, 0);
	cr_assert(vq_has_work(&t.q));
	tvq_teardown(&t);
}

Test(vq_notify, avail_event_with_event_idx)
{
	struct tvq t;

	tvq_setup(&t, MEM16, 8, true, false);
	tvq_desc(&t, TVQ_DESC, 0, BUF(0), 8, R, 0);
	tvq_post(&t, 0);
	tvq_post(&t, 0);
	tvq_expect_chain(&t, 0, 1, 1);
	tvq_expect_chain(&t, 0, 1, 1);
	vq_enable_notify(&t.q);
	cr_assert_eq(tvq_avail_event(&t), 2);
	cr_assert_eq(tvq_used_flags(&t), 0, "used->flags written with EVENT_IDX");
	/* Disabling is a no-op: the avail_event left behind suppresses kicks. */
	tvq_post(&t, 0);
	tvq_expect_chain(&t, 0, 1, 1);
	vq_disable_notify(&t.q);
	cr_assert_eq(tvq_avail_event(&t), 2);
	cr_assert_eq(tvq_used_flags(&t), 0);
	vq_enable_notify(&t.q);
	cr_assert_eq(tvq_avail_event(&t), 3);
	/* Across the wrap. */
	tvq_start_at(&t, 65535);
	tvq_post(&t, 0);
	tvq_expect_chain(&t, 0, 1, 1);
	vq_enable_notify(&t.q);
	cr_assert_eq(tvq_avail_event(&t), 0);
	cr_assert(!vq_has_work(&t.q));
	tvq_teardown(&t);
}

/* ---- vq_copy_from / vq_copy_to ---- */

/* readable 3, 5, 7 bytes; writable 4, 1, 6 bytes; each buffer with guards. */
static void copy_chain(struct tvq *t)
{
	static const uint32_t lens[6] = { 3, 5, 7, 4, 1, 6 };

	tvq_setup(t, MEM16, 8, false, false);
	memset(t->m.base + BUF(0), 0xee, 0x10000);
	for (uint16_t i = 0; i < 6; i++)
		tvq_desc(t, TVQ_DESC, i, BUF(i) + 8, lens[i], (i >= 3 ? W : 0) | (i < 5 ? RN : 0),
			 i + 1);
	/* The readable stream is pattern 1 laid over the three buffers. */
	for (uint64_t off = 0, i = 0; i < 3; off += lens[i], i++)
		for (uint32_t k = 0; k < lens[i]; k++)
			t->m.base[BUF(i) + 8 + k] = tvq_pattern(1, off + k);
	tvq_post(t, 0);
	tvq_expect_chain(t, 0, 6, 3);
	cr_assert_eq(t->c.out_len, 15);
	cr_assert_eq(t->c.in_len, 11);
}

Test(vq_copy, from_readable_stream)
{
	struct tvq t;
	uint8_t buf[64];

	copy_chain(&t);
	for (uint64_t off = 0; off <= 16; off++) {
		for (uint64_t len = 0; len <= 20; len++) {
			uint64_t want = off >= 15 ? 0 : (15 - off < len ? 15 - off : len);

			memset(buf, 0x5a, sizeof(buf));
			cr_assert_eq(vq_copy_from(&t.c, off, buf, len), want, "off %llu len %llu",
				     (unsigned long long)off, (unsigned long long)len);
			for (uint64_t k = 0; k < want; k++)
				cr_assert_eq(buf[k], tvq_pattern(1, off + k), "off %llu byte %llu",
					     (unsigned long long)off, (unsigned long long)k);
			cr_assert_eq(buf[want], 0x5a, "wrote past the copied bytes");
		}
	}
	cr_assert_eq(vq_copy_from(&t.c, UINT64_MAX, buf, 4), 0);
	tvq_teardown(&t);
}

Test(vq_copy, to_writable_stream)
{
	static const uint32_t wlen[3] = { 4, 1, 6 };
	struct tvq t;
	uint8_t src[32];

	copy_chain(&t);
	for (uint64_t k = 0; k < sizeof(src); k++)
		src[k] = tvq_pattern(2, k);
	/* Bytes 3..7 of the stream: the end of buf 3, all of buf 4, start of buf 5. */
	cr_assert_eq(vq_copy_to(&t.c, 3, src, 5), 5);
	cr_assert_eq(t.m.base[BUF(3) + 8 + 2], 0xee);
	cr_assert_eq(t.m.base[BUF(3) + 8 + 3], src[0]);
	cr_assert_eq(t.m.base[BUF(4) + 8], src[1]);
	cr_assert_eq(t.m.base[BUF(5) + 8], src[2]);
	cr_assert_eq(t.m.base[BUF(5) + 8 + 2], src[4]);
	cr_assert_eq(t.m.base[BUF(5) + 8 + 3], 0xee);
	/* A short stream: 20 bytes asked from offset 0, 11 fit. */
	cr_assert_eq(vq_copy_to(&t.c, 0, src, 20), 11);
	for (uint64_t off = 0, i = 0; i < 3; off += wlen[i], i++) {
		cr_assert_eq(memcmp(t.m.base + BUF(3 + i) + 8, src + off, wlen[i]), 0);
		/* Guards before and after each writable buffer are intact. */
		cr_assert_eq(t.m.base[BUF(3 + i) + 7], 0xee);
		cr_assert_eq(t.m.base[BUF(3 + i) + 8 + wlen[i]], 0xee);
	}
	cr_assert_eq(vq_copy_to(&t.c, 11, src, 1), 0);
	cr_assert_eq(vq_copy_to(&t.c, 10, src, 5), 1);
	cr_assert_eq(t.m.base[BUF(5) + 8 + 5], src[0]);
	/* The readable buffers were not written. */
	for (uint64_t off = 0, i = 0; i < 3; off += 3 + 2 * i, i++) {
		cr_assert_eq(t.m.base[BUF(i) + 7], 0xee);
		cr_assert_eq(t.m.base[BUF(i) + 8 + 3 + 2 * i], 0xee);
		for (uint32_t k = 0; k < 3 + 2 * i; k++)
			cr_assert_eq(t.m.base[BUF(i) + 8 + k], tvq_pattern(1, off + k));
	}
	tvq_teardown(&t);
}

Test(vq_copy, each_side_only_sees_its_buffers)
{
	struct tvq t;
	uint8_t buf[300];

	/* Only writable buffers: nothing to read. */
	tvq_setup(&t, MEM16, 8, false, false);
	tvq_desc(&t, TVQ_DESC, 0, BUF(0), 200, W, 0);
	tvq_post(&t, 0);
	tvq_expect_chain(&t, 0, 1, 0);
	cr_assert_eq(vq_copy_from(&t.c, 0, buf, sizeof(buf)), 0);
	for (unsigned int k = 0; k < sizeof(buf); k++)
		buf[k] = tvq_pattern(4, k);
	cr_assert_eq(vq_copy_to(&t.c, 0, buf, sizeof(buf)), 200);
	tvq_expect_pattern(&t, BUF(0), 200, 4);
	cr_assert_eq(t.m.base[BUF(0) + 200], 0);
	/* Only readable buffers: nothing to write. */
	tvq_fill(&t, BUF(1), 256, 5);
	tvq_desc(&t, TVQ_DESC, 1, BUF(1), 256, R, 0);
	tvq_post(&t, 1);
	tvq_expect_chain(&t, 1, 1, 1);
	cr_assert_eq(vq_copy_to(&t.c, 0, buf, 4), 0);
	tvq_expect_pattern(&t, BUF(1), 256, 5);
	memset(buf, 0, sizeof(buf));
	cr_assert_eq(vq_copy_from(&t.c, 0, buf, sizeof(buf)), 256);
	for (unsigned int k = 0; k < 256; k++)
		cr_assert_eq(buf[k], tvq_pattern(5, k));
	cr_assert_eq(buf[256], 0);
	tvq_teardown(&t);
}

Test(vq_pop, unpop_gives_the_same_chains_again)
{
	struct tvq t;
	struct cvm_errbuf e = { "" };

	tvq_setup(&t, MEM16, 8, false, false);
	tvq_start_at(&t, 65535); /* across the 16-bit wrap */
	tvq_desc(&t, TVQ_DESC, 2, BUF(0), 16, W, 0);
	tvq_desc(&t, TVQ_DESC, 6, BUF(1), 32, W, 0);
	tvq_post(&t, 2);
	tvq_post(&t, 6);
	tvq_expect_chain(&t, 2, 1, 0);
	tvq_expect_chain(&t, 6, 1, 0);
	cr_assert(!vq_has_work(&t.q));
	vq_unpop(&t.q, 2);
	cr_assert(vq_has_work(&t.q));
	tvq_expect_chain(&t, 2, 1, 0);
	vq_unpop(&t.q, 1);
	tvq_expect_chain(&t, 2, 1, 0);
	tvq_expect_chain(&t, 6, 1, 0);
	cr_assert_eq(vq_pop(&t.q, &t.c, &e), 0);
	tvq_teardown(&t);
}

Test(vq_copy, iov_spans_buffers)
{
	struct vq_chain c = { .nr = 4, .nr_out = 2 };
	uint8_t a[10], b[20], w1[5], w2[7];
	struct iovec iov[4];

	c.bufs[0] = (struct vq_buf){ .len = sizeof(a), .host = a };
	c.bufs[1] = (struct vq_buf){ .len = sizeof(b), .host = b };
	c.bufs[2] = (struct vq_buf){ .len = sizeof(w1), .host = w1, .write = true };
	c.bufs[3] = (struct vq_buf){ .len = sizeof(w2), .host = w2, .write = true };
	/* Readable bytes 8..15: the last 2 of a, the first 6 of b. */
	cr_assert_eq(vq_iov(&c, true, 8, 8, iov, 4), 2);
	cr_assert_eq(iov[0].iov_base, a + 8);
	cr_assert_eq(iov[0].iov_len, 2);
	cr_assert_eq(iov[1].iov_base, b);
	cr_assert_eq(iov[1].iov_len, 6);
	/* Past the readable stream: only what there is. */
	cr_assert_eq(vq_iov(&c, true, 25, 100, iov, 4), 1);
	cr_assert_eq(iov[0].iov_len, 5);
	cr_assert_eq(vq_iov(&c, true, 30, 1, iov, 4), 0);
	/* The writable stream starts at the first writable buffer. */
	cr_assert_eq(vq_iov(&c, false, 3, 100, iov, 4), 2);
	cr_assert_eq(iov[0].iov_base, w1 + 3);
	cr_assert_eq(iov[0].iov_len, 2);
	cr_assert_eq(iov[1].iov_base, w2);
	cr_assert_eq(iov[1].iov_len, 7);
	/* @max bounds the count. */
	cr_assert_eq(vq_iov(&c, false, 0, 100, iov, 1), 1);
	/* A chain whose counts are corrupt is clamped, not trusted. */
	c.nr_out = 9;
	cr_assert_leq(vq_iov(&c, true, 0, 1000, iov, 4), 4);
}

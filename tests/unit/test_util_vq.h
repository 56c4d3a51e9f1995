/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * Builders of split virtqueues in guest memory, playing the driver's part,
 * for the virtqueue and virtio device unit tests.
 */
#ifndef CVM_TESTS_UNIT_TEST_UTIL_VQ_H
#define CVM_TESTS_UNIT_TEST_UTIL_VQ_H

#include <stdbool.h>
#include <stdint.h>

#include "core/mem.h"
#include "virtio/virtqueue.h"

/* Where tvq_setup() puts the rings (room for VQ_MAX_SIZE entries each). */
#define TVQ_DESC 0x100000ULL
#define TVQ_AVAIL 0x180000ULL
#define TVQ_USED 0x1a0000ULL
/* Free guest memory for buffers and indirect tables starts here. */
#define TVQ_DATA 0x200000ULL

struct tvq {
	struct guest_mem m;
	struct virtq q;
	uint16_t avail_idx; /* the driver's next avail->idx */
	struct vq_chain c;  /* for the tests' vq_pop() calls */
};

/* gmem_create(@mem_bytes) and vq_init() with the rings at TVQ_*; asserts. */
void tvq_setup(struct tvq *t, uint64_t mem_bytes, uint16_t size, bool event_idx, bool indirect);
void tvq_teardown(struct tvq *t);

/* Both sides start at index @idx: last_avail, used_idx, avail->idx, used->idx. */
void tvq_start_at(struct tvq *t, uint16_t idx);

/* Writes descriptor @i of the table at @table (TVQ_DESC or an indirect one). */
void tvq_desc(struct tvq *t, uint64_t table, uint16_t i, uint64_t addr, uint32_t len,
	      uint16_t flags, uint16_t next);

/* Puts @head in the next avail ring slot and publishes it (avail->idx++). */
void tvq_post(struct tvq *t, uint16_t head);
/* Writes avail->idx directly (t->avail_idx too). */
void tvq_set_avail_idx(struct tvq *t, uint16_t idx);
void tvq_set_avail_flags(struct tvq *t, uint16_t flags);
void tvq_set_used_event(struct tvq *t, uint16_t v);

/* What the device wrote. */
uint16_t tvq_used_idx(const struct tvq *t);
uint16_t tvq_used_flags(const struct tvq *t);
uint16_t tvq_avail_event(const struct tvq *t);
void tvq_used_elem(const struct tvq *t, uint16_t slot, uint32_t *id, uint32_t *len);

/* Fills guest [gpa, gpa + len) with the pattern @seed, or checks it. */
void tvq_fill(struct tvq *t, uint64_t gpa, uint64_t len, unsigned int seed);
void tvq_expect_pattern(const struct tvq *t, uint64_t gpa, uint64_t len, unsigned int seed);
static inline uint8_t tvq_pattern(unsigned int seed, uint64_t i)
{
	return (uint8_t)(seed * 57u + i * 13u + (i >> 8) + 1);
}

/* vq_pop() returns 1 and the chain has @nr buffers, @nr_out of them readable. */
void tvq_expect_chain(struct tvq *t, uint16_t head, unsigned int nr, unsigned int nr_out);
/* vq_pop() returns -EPROTO, the message contains @what, and nothing moved. */
void tvq_expect_pop_fail(struct tvq *t, const char *what);
/* Buffer @i of t->c is [gpa, gpa + len), writable or not, at the right host address. */
void tvq_expect_buf(const struct tvq *t, unsigned int i, uint64_t gpa, uint32_t len, bool write);

#endif

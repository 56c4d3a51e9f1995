// SPDX-License-Identifier: BSD-3-Clause
/*
 * Fuzz target: the split virtqueue, device side. The rings, the descriptor
 * table and the guest's buffers (indirect tables too) are bytes of the
 * input (see fz_vq_build()); the device pops every chain it can, checks
 * it, copies through it and pushes it back, as a device's worker would.
 *
 * Input: the ring (fz_vq_build()), then u8 operations: bit 0 unpop the
 * chain and pop it again (it must be the same), bit 1 push it back with
 * a written length from the next u32, bit 2 enable notifications (else
 * disable), bit 3 ask vq_should_signal(); bit 7 ends the operations. Then
 * the driver's queue setup as vq_init() gets it: u16 size, u64 desc, avail
 * and used addresses, u8 flags; what vq_init() accepts lies in guest RAM and
 * is popped from (the same memory, seen through other rings).
 */
#include <errno.h>
#include <string.h>

#include "fuzz_util.h"

static struct vq_chain chain, again;

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct fz f = { data, size };
	struct virtq q;
	struct cvm_errbuf err;
	int rc;

	if (fz_vq_build(&q, &f))
		return 0;
	for (unsigned int i = 0; i < 2u * FZ_VQ_MAX; i++) {
		uint8_t op = fz_u8(&f);
		uint16_t last = q.last_avail, used = q.used_idx;
		bool work = vq_has_work(&q);

		if (op & 0x80)
			break;
		err.msg[0] = 0;
		rc = vq_pop(&q, &chain, &err);
		FZ_CHECK(rc == 1 || rc == 0 || rc == -EPROTO, "vq_pop returned %d", rc);
		if (rc != 1) {
			FZ_CHECK(q.last_avail == last && q.used_idx == used,
				 "a failed or empty vq_pop moved the ring");
			FZ_CHECK(rc == 0 || err.msg[0], "-EPROTO without a message");
			FZ_CHECK(rc != 0 || !work, "vq_has_work but vq_pop found nothing");
			break;
		}
		FZ_CHECK(q.last_avail == (uint16_t)(last + 1), "vq_pop did not advance by one");
		if (op & 1) {
			/* Nothing was written yet: the same chain comes out again. */
			vq_unpop(&q, 1);
			FZ_CHECK(q.last_avail == last, "vq_unpop");
			rc = vq_pop(&q, &again, &err);
			FZ_CHECK(rc == 1 && again.head == chain.head && again.nr == chain.nr &&
					 again.nr_out == chain.nr_out &&
					 again.in_len == chain.in_len &&
					 again.out_len == chain.out_len &&
					 !memcmp(again.bufs, chain.bufs,
						 chain.nr * sizeof(chain.bufs[0])),
				 "the chain popped again differs (rc %d)", rc);
		}
		fz_chain_check(&q, &chain);
		if (op & 2) {
			FZ_CHECK(vq_push(&q, chain.head, fz_u32(&f)) == 0, "vq_push of head %u",
				 chain.head);
			FZ_CHECK(q.used_idx == (uint16_t)(used + 1), "vq_push did not advance");
		}
		if (op & 4)
			vq_enable_notify(&q);
		else
			vq_disable_notify(&q);
		if (op & 8)
			(void)vq_should_signal(&q);
	}
	/* Heads out of range are refused. */
	FZ_CHECK(vq_push(&q, q.size, 0) == -EPROTO, "vq_push of head %u accepted", q.size);

	/* Any queue setup the driver may write. */
	{
		uint16_t qsize = fz_u16(&f);
		uint64_t d = fz_u64(&f), a = fz_u64(&f), u = fz_u64(&f);
		uint8_t fl = fz_u8(&f);
		const struct guest_mem *m = fz_mem();

		rc = vq_init(&q, m, qsize, d, a, u, fl & 1, fl & 2, &err);
		FZ_CHECK(rc == 0 || rc == -EINVAL, "vq_init: %d", rc);
		if (rc) {
			FZ_CHECK(q.size == 0, "a failed vq_init left a queue of size %u", q.size);
			FZ_CHECK(vq_pop(&q, &chain, &err) == -EPROTO, "vq_pop on a failed queue");
			return 0;
		}
		FZ_CHECK(qsize && !(qsize & (qsize - 1)) && qsize <= VQ_MAX_SIZE, "size %u", qsize);
		FZ_CHECK(gmem_ptr(m, d, 16ULL * qsize) && gmem_ptr(m, a, 6 + 2ULL * qsize) &&
				 gmem_ptr(m, u, 6 + 8ULL * qsize),
			 "rings outside guest RAM accepted");
		for (unsigned int i = 0; i < 4 && vq_pop(&q, &chain, &err) == 1; i++) {
			fz_chain_check(&q, &chain);
			vq_push(&q, chain.head, (uint32_t)chain.in_len);
		}
		vq_enable_notify(&q);
		(void)vq_should_signal(&q);
	}
	return 0;
}

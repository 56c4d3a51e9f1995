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
 * disable), bit 3 ask vq_should_signal().
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
	return 0;
}

// SPDX-License-Identifier: BSD-3-Clause
/*
 * The virtio-wayland tests (wl.h) of sessions that go wrong underneath:
 * device resets, a BAR moved, a peer that never reads or a guest that
 * stops reading, the VFDs running out, the compositor killed.
 *
 *   wl_reset: a device reset mid-session forgets every VFD and unmaps the
 *	buffers; then everything works again from scratch.
 *   wl_bar_move: BAR 2 moved by the guest with a buffer mapped: its bytes
 *	follow to the new address; new buffers work there.
 *   wl_held: a peer that never reads: a VFD_SEND the device holds is freed
 *	by a device reset, and finished with an error when the peer closes.
 *   wl_many: buffers until OUT_OF_MEMORY (64 or more first); no context
 *	then either; a freed slot is reused; after closing all, 64 MiB fits.
 *   wl_flood: 200 get_registry at once while the guest stops reading: the
 *	in queue fills, commands are still answered, then every global arrives.
 *   wl_compositor_gone: a context does a roundtrip and prints "WL ready";
 *	the host then kills the compositor: the context must get VFD_HUP, a
 *	new VFD_NEW_CTX an error response, and memory VFDs must still work.
 */
#include "wl.h"

/*
 * A device reset in the middle of a session (connections open, buffers
 * mapped, compositor bytes unread): afterwards no VFD of before exists, the
 * old buffers are gone from the region, and everything works again from
 * scratch.
 */
void test_wl_reset(const struct boot_params *bp)
{
	const char *t = "wl_reset";
	struct wl *w = &wl0;
	struct wlctx *c;
	uint64_t off4, off5;
	volatile uint64_t *q;
	struct wbuf b;

	(void)bp;
	if (!(c = setup_pool_ctx(t, w, &off4)) || shm_new(t, w, 5, 4096, &off5) ||
	    shm_pattern(t, w->shm + (uintptr_t)off5, 4096, 0x5555aaaa5555aaaaULL))
		return;
	/* Unread compositor bytes on the in queue at the reset. */
	w->hold = true;
	send_begin(&b, c->vfd, NULL, 0);
	req_sync(&b, c, OBJ_SHM_ID);
	if (wl_expect(t, w, b.len, WL_RESP_OK, "VFD_SEND sync (not read)"))
		return;
	printf("WL resetting the device\n");
	vdev_reset(&w->d);
	if (wl_open(t, w))
		return;
	if (wl_expect(t, w, mk_vfd(WL_CMD_VFD_CLOSE, SHM_VFD), WL_RESP_INVALID_ID,
		      "VFD_CLOSE 4 after the reset") ||
	    wl_expect(t, w, mk_vfd(WL_CMD_VFD_CLOSE, 1), WL_RESP_INVALID_ID,
		      "VFD_CLOSE ctx 1 after the reset"))
		return;
	q = (volatile uint64_t *)(w->shm + (uintptr_t)off5);
	printf("WL old buffer 5 after the reset reads 0x%llx\n", (unsigned long long)q[0]);
	if (q[0] == 0x5555aaaa5555aaaaULL) {
		fail(t, "buffer 5 is still mapped at offset 0x%llx after the device reset",
		     (unsigned long long)off5);
		return;
	}
	if (w->recvs || w->stray) {
		fail(t, "%u VFD_RECVs and %u other in-queue messages from before the reset",
		     w->recvs, w->stray);
		return;
	}
	/* From scratch: the same ids, a roundtrip, a pool. */
	if (!(c = ctx_new(t, w, 1)) || ctx_registry(t, w, c, OBJ_REG, OBJ_CB1) ||
	    shm_new(t, w, SHM_VFD, POOL_SIZE, &off4) ||
	    shm_pattern(t, w->shm + (uintptr_t)off4, POOL_SIZE, 4) ||
	    send_pool(t, w, c, SHM_VFD, POOL_SIZE, 32) ||
	    ctx_wait(t, w, c, OBJ_CB2, "create_pool after the reset") ||
	    ctx_ok(t, c, OBJ_CB2, "create_pool after the reset"))
		return;
	if (wl_expect(t, w, mk_vfd(WL_CMD_VFD_CLOSE, SHM_VFD), WL_RESP_OK, "VFD_CLOSE 4") ||
	    wl_expect(t, w, mk_vfd(WL_CMD_VFD_CLOSE, 1), WL_RESP_OK, "VFD_CLOSE ctx 1"))
		return;
	pass(t);
}

/*
 * The guest moves BAR 2 (the region) while a buffer is mapped: the buffer's
 * bytes must be at the new address, and new buffers work there too.
 */
void test_wl_bar_move(const struct boot_params *bp)
{
	static const uint64_t cands[] = { 0xe0000000ULL, 0xc0000000ULL };
	const char *t = "wl_bar_move";
	struct wl *w = &wl0;
	struct wlctx *c;
	uint64_t off4, off9, old, dest = 0;
	uint32_t bdf, lo, all[32];
	unsigned int nall;
	uint16_t cmdreg;
	volatile uint64_t *q;
	long bad;

	(void)bp;
	if (!(c = setup_pool_ctx(t, w, &off4)))
		return;
	bdf = w->d.bdf;
	old = w->shm; /* the capability's offset is 0 (checked below) */
	lo = pci_read32(bdf, 0x10 + 4 * 2);
	if ((pci_bar_addr(bdf, 2, (char[8]){ 0 }, 8)) != old) {
		fail(t, "the region is not at the start of BAR2");
		return;
	}
	/* A 256 MiB-aligned window no other BAR starts in. */
	nall = 0;
	for (uint32_t dev = 0; dev < 32 && nall < ARRAY_SIZE(all); dev++) {
		uint32_t b = PCI_BDF(0, dev, 0);

		if (pci_read16(b, 0) != 0xffff)
			all[nall++] = b;
	}
	for (unsigned int k = 0; k < ARRAY_SIZE(cands) && !dest; k++) {
		bool busy = cands[k] < old + w->shm_len && old < cands[k] + w->shm_len;

		for (unsigned int i = 0; i < nall && !busy; i++) {
			for (unsigned int bar = 0; bar < 6; bar++) {
				char why[64];
				uint64_t a;

				if (all[i] == bdf && bar == 2)
					continue;
				a = pci_bar_addr(all[i], bar, why, sizeof(why));
				if (a >= cands[k] && a < cands[k] + w->shm_len) {
					printf("WL %02x.0 BAR%u at 0x%llx is in 0x%llx's window\n",
					       (all[i] >> 3) & 31, bar, (unsigned long long)a,
					       (unsigned long long)cands[k]);
					busy = true;
				}
				if (((pci_read32(all[i], 0x10 + 4 * bar) >> 1) & 3) == 2)
					bar++;
			}
		}
		if (!busy && w->shm_len <= 0x10000000ULL)
			dest = cands[k];
	}
	if (!dest) {
		printf("SKIP %s: no free 256 MiB window for BAR2\n", t);
		return;
	}
	if (w->d.common >= old && w->d.common < old + w->shm_len) {
		fail(t, "the COMMON capability is inside BAR2's region");
		return;
	}
	printf("WL moving BAR2 from 0x%llx to 0x%llx\n", (unsigned long long)old,
	       (unsigned long long)dest);
	cmdreg = pci_read16(bdf, 0x04);
	pci_write16(bdf, 0x04, cmdreg & (uint16_t)~0x2);
	pci_write32(bdf, 0x10 + 4 * 2, (uint32_t)dest | (lo & 0xf));
	pci_write32(bdf, 0x10 + 4 * 3, (uint32_t)(dest >> 32));
	pci_write16(bdf, 0x04, cmdreg);
	if (pci_bar_addr(bdf, 2, (char[8]){ 0 }, 8) != dest) {
		fail(t, "BAR2 reads 0x%08x after writing 0x%llx", pci_read32(bdf, 0x18),
		     (unsigned long long)dest);
		return;
	}
	w->shm = (uintptr_t)dest;
	q = (volatile uint64_t *)(w->shm + (uintptr_t)off4);
	bad = shm_pattern_bad(w->shm + (uintptr_t)off4, POOL_SIZE, PATTERN4);
	if (bad >= 0) {
		fail(t, "after the move, buffer 4 qword %u reads 0x%llx at 0x%llx", (uint32_t)bad,
		     (unsigned long long)q[bad], (unsigned long long)(uintptr_t)&q[bad]);
		return;
	}
	/* Nothing of it is left at the old address. */
	{
		uint64_t v = *(volatile uint64_t *)(old + (uintptr_t)off4);

		printf("WL old address 0x%llx now reads 0x%llx\n", (unsigned long long)(old + off4),
		       (unsigned long long)v);
		if (v == PATTERN4) {
			fail(t, "buffer 4 is still mapped at the old BAR2 address 0x%llx",
			     (unsigned long long)(old + off4));
			return;
		}
	}
	if (shm_new(t, w, 9, 4096, &off9) ||
	    shm_pattern(t, w->shm + (uintptr_t)off9, 4096, 0x9999999999999999ULL) ||
	    send_pool(t, w, c, SHM_VFD, POOL_SIZE, 32) ||
	    ctx_wait(t, w, c, OBJ_CB2, "create_pool after the move") ||
	    ctx_ok(t, c, OBJ_CB2, "create_pool after the move") ||
	    wl_expect(t, w, mk_vfd(WL_CMD_VFD_CLOSE, 9), WL_RESP_OK, "VFD_CLOSE 9") ||
	    wl_expect(t, w, mk_vfd(WL_CMD_VFD_CLOSE, SHM_VFD), WL_RESP_OK, "VFD_CLOSE 4") ||
	    wl_expect(t, w, mk_vfd(WL_CMD_VFD_CLOSE, 1), WL_RESP_OK, "VFD_CLOSE ctx 1"))
		return;
	pass(t);
}

#define HELD_CHUNK 4000
#define HELD_MAX 2000	    /* 8 MB: far more than a socket buffer */
#define HELD_POLLS 100000UL /* a send that takes longer is held (or slow: see wl_held) */

/*
 * VFD_SENDs of HELD_CHUNK bytes to @ctx until one is not answered within
 * HELD_POLLS (the peer does not read: the device holds it) or, with @err,
 * one is answered with an error (in *@err). Returns the number answered OK
 * (a held one still in flight), or -1 with FAIL.
 */
static int fill_until_held(const char *t, struct wl *w, uint32_t ctx, uint32_t *err)
{
	struct wbuf b;

	for (int n = 0; n < HELD_MAX; n++) {
		struct vq_buf v[2] = { { cmd, 0, false }, { resp, 64, true } };
		uint32_t id, len;
		unsigned long i;

		send_begin(&b, ctx, NULL, 0);
		memset(cmd + b.len, 'a' + n % 26, HELD_CHUNK);
		v[0].len = b.len + HELD_CHUNK;
		memset(resp, 0xee, 64);
		if (vq_add(w->out, v, 2, false, false) < 0) {
			fail(t, "%s", virtio_err);
			return -1;
		}
		for (i = 0; i < HELD_POLLS && !vq_used_ready(w->out); i++)
			cpu_relax();
		if (i == HELD_POLLS)
			return n;
		vq_poll(w->out, &id, &len);
		if (err && resp_is_err(get32(resp))) {
			*err = get32(resp);
			return n;
		}
		if (get32(resp) != WL_RESP_OK) {
			fail(t, "VFD_SEND %d of %u bytes to ctx %u answered 0x%x (%s)", n,
			     HELD_CHUNK, ctx, get32(resp), resp_name(get32(resp)));
			return -1;
		}
	}
	fail(t, "%d VFD_SENDs of %u bytes to a peer that does not read, none held", HELD_MAX,
	     HELD_CHUNK);
	return -1;
}

/*
 * A peer that never reads (test_wl_robust.c's fake compositor in hold mode): the
 * device holds a VFD_SEND it cannot finish. A device reset frees it; on a
 * second connection, the host closing it finishes the held send with an
 * error, then VFD_HUP. The device works on after both.
 */
void test_wl_held(const struct boot_params *bp)
{
	const char *t = "wl_held";
	struct wl *w = &wl0;
	struct wlctx *c;
	uint64_t off;
	uint32_t id, len;
	int n;

	(void)bp;
	if (wl_open(t, w) || !(c = ctx_new(t, w, 1)))
		return;
	c->raw = true;
	if ((n = fill_until_held(t, w, 1, NULL)) < 0)
		return;
	printf("WL held after %d sends of %u bytes; resetting\n", n, HELD_CHUNK);
	vdev_reset(&w->d);
	if (wl_open(t, w) || shm_new(t, w, 5, 4096, &off) ||
	    wl_expect(t, w, mk_vfd(WL_CMD_VFD_CLOSE, 1), WL_RESP_INVALID_ID,
		      "VFD_CLOSE 1 after reset"))
		return;

	if (!(c = ctx_new(t, w, 2)))
		return;
	c->raw = true;
	/* Held until the host closes; a send that was only slow just goes on filling. */
	for (unsigned int round = 0;; round++) {
		uint32_t err = 0;

		if ((n = fill_until_held(t, w, 2, &err)) < 0)
			return;
		if (!err) {
			printf("WL held after %d sends of %u bytes; waiting for the host to close\n",
			       n, HELD_CHUNK);
			if (vq_poll(w->out, &id, &len)) {
				fail(t, "the held VFD_SEND never finished: %s", virtio_err);
				return;
			}
			err = get32(resp);
		}
		printf("WL VFD_SEND finished: %s (0x%x)\n", resp_name(err), err);
		if (resp_is_err(err))
			break;
		if (err != WL_RESP_OK || round == 20) {
			fail(t, "VFD_SENDs to a peer that closed answered 0x%x (%s), want an error",
			     err, resp_name(err));
			return;
		}
	}
	pump_until(w, &c->hup);
	if (!c->hup) {
		fail(t, "no VFD_HUP for ctx 2 after the host closed it");
		return;
	}
	if (wl_expect(t, w, mk_vfd(WL_CMD_VFD_CLOSE, 2), WL_RESP_OK, "VFD_CLOSE ctx 2") ||
	    wl_expect(t, w, mk_vfd(WL_CMD_VFD_CLOSE, 5), WL_RESP_OK, "VFD_CLOSE 5") ||
	    shm_new(t, w, 6, 4096, &off) ||
	    wl_expect(t, w, mk_vfd(WL_CMD_VFD_CLOSE, 6), WL_RESP_OK, "VFD_CLOSE 6"))
		return;
	pass(t);
}

#define MANY_BASE 1000
#define MANY_MAX 600

static uint64_t many_off[MANY_MAX];

/*
 * VFDs until the device says no: the limit must be an error response
 * (OUT_OF_MEMORY), with at least 64 buffers mapped, each its own memory;
 * then a context cannot be opened either, a closed slot is usable again,
 * and after closing all a 64 MiB buffer fits.
 */
void test_wl_many(const struct boot_params *bp)
{
	const char *t = "wl_many";
	struct wl *w = &wl0;
	uint64_t off;
	unsigned int n;
	int64_t r = 0;

	(void)bp;
	if (wl_open(t, w))
		return;
	for (n = 0; n < MANY_MAX; n++) {
		r = wl_cmd(t, w, mk_vfd_new(WL_CMD_VFD_NEW, MANY_BASE + n, 0, 4096), sizeof(resp));
		if (r != WL_RESP_VFD_NEW)
			break;
		off = get64(resp + 16) << 12;
		if (off + 4096 > w->shm_len) {
			fail(t, "VFD_NEW %u: offset 0x%llx outside the region", n,
			     (unsigned long long)off);
			return;
		}
		*(volatile uint64_t *)(w->shm + (uintptr_t)off) = MANY_BASE + n;
		many_off[n] = off;
	}
	printf("WL %u buffers, then %s (0x%x)\n", n, resp_name((uint32_t)r), (uint32_t)r);
	if (r < 0)
		return;
	if (n == MANY_MAX || n < 64 || r != WL_RESP_OUT_OF_MEMORY) {
		fail(t, "%u buffers, then 0x%x (%s): want 64 or more, then OUT_OF_MEMORY", n,
		     (uint32_t)r, resp_name((uint32_t)r));
		return;
	}
	/* Each buffer still holds its own number. */
	for (unsigned int i = 0; i < n; i++) {
		struct wbuf b;
		int64_t q;
		uint64_t v = *(volatile uint64_t *)(w->shm + (uintptr_t)many_off[i]);

		if (v != MANY_BASE + i) {
			fail(t, "buffer %u at 0x%llx holds %llu", MANY_BASE + i,
			     (unsigned long long)many_off[i], (unsigned long long)v);
			return;
		}
		/* A VFD_SEND to a buffer is INVALID_TYPE, which proves the id exists. */
		send_begin(&b, MANY_BASE + i, NULL, 0);
		put32(cmd + b.len, 0);
		q = wl_cmd(t, w, b.len + 4, sizeof(resp));
		if (q != WL_RESP_INVALID_TYPE) {
			fail(t, "VFD %u: a VFD_SEND to it answered 0x%x", MANY_BASE + i,
			     (uint32_t)q);
			return;
		}
	}
	r = wl_cmd(t, w, mk_vfd_new(WL_CMD_VFD_NEW_CTX, 1, 0, 0), sizeof(resp));
	printf("WL VFD_NEW_CTX with every VFD taken -> %s (0x%x)\n", resp_name((uint32_t)r),
	       (uint32_t)r);
	if (r < 0)
		return;
	if (!resp_is_err((uint32_t)r)) {
		fail(t, "VFD_NEW_CTX with every VFD taken answered 0x%x (%s)", (uint32_t)r,
		     resp_name((uint32_t)r));
		return;
	}
	/* A slot in the middle, freed and taken again. */
	if (wl_expect(t, w, mk_vfd(WL_CMD_VFD_CLOSE, MANY_BASE + n / 2), WL_RESP_OK,
		      "VFD_CLOSE one in the middle") ||
	    shm_new(t, w, 7, 4096, &off) || shm_pattern(t, w->shm + (uintptr_t)off, 4096, 7))
		return;
	/* Close all; then a big one fits. */
	for (unsigned int i = 0; i < n; i++) {
		int64_t q;

		if (i == n / 2)
			continue;
		q = wl_cmd(t, w, mk_vfd(WL_CMD_VFD_CLOSE, MANY_BASE + i), sizeof(resp));
		if (q != WL_RESP_OK) {
			fail(t, "VFD_CLOSE %u answered 0x%x", MANY_BASE + i, (uint32_t)q);
			return;
		}
	}
	if (wl_expect(t, w, mk_vfd(WL_CMD_VFD_CLOSE, 7), WL_RESP_OK, "VFD_CLOSE 7") ||
	    shm_new(t, w, 8, 64 << 20, &off) ||
	    shm_pattern(t, w->shm + (uintptr_t)off + (63 << 20), 1 << 20, 8) ||
	    wl_expect(t, w, mk_vfd(WL_CMD_VFD_CLOSE, 8), WL_RESP_OK, "VFD_CLOSE 8"))
		return;
	pass(t);
}

#define FLOOD_REGS 200

/*
 * A guest that stops reading: 200 get_registry in one VFD_SEND make the
 * compositor send far more than the 16 posted in buffers hold. While the
 * guest does not read, the device must keep answering commands; then every
 * byte must arrive, in order (the stream parses, and the global count is
 * exactly 200 times one registry's).
 */
void test_wl_flood(const struct boot_params *bp)
{
	const char *t = "wl_flood";
	struct wl *w = &wl0;
	struct wlctx *c;
	struct wbuf b;
	uint64_t off;
	unsigned int per, filled = 0;
	const uint32_t sync_id = OBJ_CB1 + 1 + FLOOD_REGS;

	(void)bp;
	if (!(c = open_quiet_ctx(t, w)))
		return;
	per = c->nglobals;
	c->nglobals = 0;
	send_begin(&b, c->vfd, NULL, 0);
	req_registries(&b, c, OBJ_CB1 + 1, FLOOD_REGS);
	req_sync(&b, c, sync_id);
	w->hold = true;
	if (wl_expect(t, w, b.len, WL_RESP_OK, "VFD_SEND 200 x get_registry + sync"))
		return;
	/* Not reading: the in queue fills up; commands are still answered. */
	for (unsigned long i = 0; i < WL_WAIT_POLLS && filled < w->in->size; i++) {
		filled = (uint16_t)(*(volatile uint16_t *)&w->in->used->idx - w->in->last_used);
		cpu_relax();
	}
	printf("WL in buffers filled while not reading: %u of %u\n", filled, w->in->size);
	if (filled != w->in->size) {
		fail(t, "only %u of %u in buffers used for %u bytes of globals", filled,
		     w->in->size, FLOOD_REGS * per * 20);
		return;
	}
	if (shm_new(t, w, 30, 4096, &off) || wl_expect(t, w, mk_vfd(WL_CMD_VFD_CLOSE, 30),
						       WL_RESP_OK, "VFD_CLOSE 30 (in queue full)"))
		return;
	w->hold = false;
	if (ctx_wait(t, w, c, sync_id, "200 registries") || ctx_ok(t, c, sync_id, "200 registries"))
		return;
	printf("WL flood: %u globals in %u VFD_RECVs, %u per registry\n", c->nglobals, w->recvs,
	       per);
	if (c->nglobals != FLOOD_REGS * per) {
		fail(t, "%u globals for %u registries of %u", c->nglobals, FLOOD_REGS, per);
		return;
	}
	if (wl_expect(t, w, mk_vfd(WL_CMD_VFD_CLOSE, 1), WL_RESP_OK, "VFD_CLOSE ctx 1"))
		return;
	wl_pass(t, w);
}

/* The host kills the compositor after "WL ready" (polls exit on PAUSE: ~30 us each). */
#define WL_GONE_POLLS WL_WAIT_POLLS

void test_wl_compositor_gone(const struct boot_params *bp)
{
	const char *t = "wl_compositor_gone";
	struct wl *w = &wl0;
	struct wlctx *c;
	uint64_t off;
	int64_t r;
	unsigned long i;

	(void)bp;
	if (wl_open(t, w) || !(c = ctx_new(t, w, 1)) || ctx_registry(t, w, c, OBJ_REG, OBJ_CB1))
		return;
	printf("WL ready\n");
	for (i = 0; !c->hup && !c->bad && i < WL_GONE_POLLS; i++)
		if (!in_pump(w))
			cpu_relax();
	if (!c->hup) {
		fail(t, "no VFD_HUP for ctx 1 after %lu polls once the compositor was killed%s%s",
		     i, c->bad ? ": " : "", c->bad ? c->why : "");
		return;
	}
	/* A new connection cannot be made; the device says so and keeps working. */
	r = wl_cmd(t, w, mk_vfd_new(WL_CMD_VFD_NEW_CTX, 2, 0, 0), sizeof(resp));
	if (r < 0)
		return;
	printf("WL VFD_NEW_CTX 2 without a compositor -> %s (0x%x)\n", resp_name((uint32_t)r),
	       (uint32_t)r);
	if (!resp_is_err((uint32_t)r)) {
		fail(t, "VFD_NEW_CTX without a compositor answered 0x%x (%s), want an error",
		     (uint32_t)r, resp_name((uint32_t)r));
		return;
	}
	if (wl_expect(t, w, mk_vfd(WL_CMD_VFD_CLOSE, 1), WL_RESP_OK, "VFD_CLOSE hung-up ctx 1") ||
	    shm_new(t, w, 3, 4096, &off) || shm_pattern(t, w->shm + (uintptr_t)off, 4096, 3) ||
	    wl_expect(t, w, mk_vfd(WL_CMD_VFD_CLOSE, 3), WL_RESP_OK, "VFD_CLOSE 3"))
		return;
	wl_pass(t, w);
}

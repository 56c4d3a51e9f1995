// SPDX-License-Identifier: BSD-3-Clause
/*
 * The virtio-wayland tests (wl.h) of the device's less travelled paths:
 * descriptors from the host, fewer features negotiated, chains laid out
 * otherwise, VIRTIO_RING_F_EVENT_IDX.
 *
 *   wl_host_fds: descriptors from the host side (a fake compositor of
 *	test_wl_hostfds.c): two memfds (one sealed: read-only), two pipe ends.
 *   wl_noshm, wl_legacy: the pool test without USE_SHMEM (guest-physical
 *	pfns), and also without TRANS_FLAGS (the old VFD flags).
 *   wl_chains: indirect and split chains (a 3-part VFD_SEND, a VFD_NEW and
 *	its response split in two), 16-byte in buffers given back empty.
 *   wl_event_idx: with VIRTIO_RING_F_EVENT_IDX negotiated, 40 commands in a
 *	row and more globals than posted in buffers must all get through.
 */
#include "wl.h"

/*
 * Descriptors from the host side (tests/integration/test_wl_hostfds.c's fake
 * compositor, not weston): on connect it sends "HOSTFDS\n" with a sealed
 * memfd of 5000 bytes (a keymap's partial last page), an unsealed memfd, a
 * pipe's read end and another pipe's write end. They must arrive as four
 * VFD_NEW (host ids) before a VFD_RECV naming them; the memfds mapped in
 * the region (the sealed one read-only: a guest write must not change it,
 * nor end the VM); "PIPEDATA" and a HUP on the first pipe; "GUESTPIPE"
 * written into the second; a write into the unsealed memfd, which the host
 * checks; 28 VFDs in one VFD_SEND (a guest buffer 26 times, the host's
 * sealed memfd passed back, a guest-writes pipe), whose bytes the host
 * checks; "BYE\n" on the connection, which the host answers by closing it
 * (VFD_HUP).
 */
void test_wl_host_fds(const struct boot_params *bp)
{
	const char *t = "wl_host_fds";
	struct wl *w = &wl0;
	struct wlctx *c;
	struct hostvfd *ro, *rw, *pr, *pw;
	volatile uint8_t *p;

	(void)bp;
	if (wl_open(t, w) || !(c = ctx_new(t, w, 1)))
		return;
	c->raw = true;
	if (raw_wait(t, w, c, 8, "the host's first message"))
		return;
	printf("WL host sent %u bytes with %u VFDs; %u host VFD_NEWs\n", c->len, c->nrecv_ids,
	       w->nhost);
	for (unsigned int i = 0; i < w->nhost; i++)
		printf("WL host vfd 0x%x flags 0x%x pfn 0x%llx size %u\n", w->host[i].id,
		       w->host[i].flags, (unsigned long long)w->host[i].pfn, w->host[i].size);
	if (c->len != 8 || memcmp(c->buf, "HOSTFDS\n", 8)) {
		fail(t, "the host's message is not \"HOSTFDS\\n\" (%u bytes)", c->len);
		return;
	}
	if (c->nrecv_ids != 4 || w->nhost != 4) {
		fail(t, "%u VFDs in the VFD_RECV and %u VFD_NEWs, want 4 and 4", c->nrecv_ids,
		     w->nhost);
		return;
	}
	for (unsigned int i = 0; i < 4; i++) {
		if (c->recv_ids[i] != w->host[i].id || !(w->host[i].id & WL_HOST_ID)) {
			fail(t, "VFD_RECV id %u is 0x%x, VFD_NEW %u announced 0x%x", i,
			     c->recv_ids[i], i, w->host[i].id);
			return;
		}
	}
	ro = &w->host[0];
	rw = &w->host[1];
	pr = &w->host[2];
	pw = &w->host[3];
	if (ro->size != 8192 || rw->size != 4096 || (ro->pfn << 12) + ro->size > w->shm_len ||
	    (rw->pfn << 12) + rw->size > w->shm_len) {
		fail(t,
		     "memfds: pfn 0x%llx size %u and pfn 0x%llx size %u, want sizes 8192 and "
		     "4096 in the region",
		     (unsigned long long)ro->pfn, ro->size, (unsigned long long)rw->pfn, rw->size);
		return;
	}
	if (!(pr->flags & WL_VFD_READ) || !(pw->flags & WL_VFD_WRITE)) {
		fail(t, "pipe flags 0x%x and 0x%x, want READ and WRITE", pr->flags, pw->flags);
		return;
	}
	/* The memfds' bytes, through the region. */
	p = (volatile uint8_t *)(w->shm + (uintptr_t)(ro->pfn << 12));
	/* 5000 bytes, then zeros to the end of the last page. */
	for (unsigned int i = 0; i < 8192; i++) {
		uint8_t want = i < 9	? (uint8_t) "CVMHOSTFD"[i] :
			       i < 5000 ? (uint8_t)(i * 7 + 1) :
					  0;

		if (p[i] != want) {
			fail(t, "sealed memfd byte %u is 0x%02x, want 0x%02x", i, p[i], want);
			return;
		}
	}
	/* A write to the read-only mapping: no effect, and the VM goes on. */
	*(volatile uint64_t *)p = 0x4141414141414141ULL;
	if (p[0] != 'C' || p[7] != 'F') {
		fail(t, "a guest write changed the sealed (read-only) memfd");
		return;
	}
	p = (volatile uint8_t *)(w->shm + (uintptr_t)(rw->pfn << 12));
	for (unsigned int i = 0; i < 9; i++) {
		if (p[i] != (uint8_t) "CVMHOSTRW"[i]) {
			fail(t, "unsealed memfd byte %u is 0x%02x", i, p[i]);
			return;
		}
	}
	memcpy((void *)(p + 100), "GUESTWROTE", 10);
	/* The first pipe: data, then HUP. */
	pump_until(w, &pr->hup);
	printf("WL host pipe: \"%s\" (%u bytes), HUP %s\n", w->pipe_buf, w->pipe_total,
	       pr->hup ? "yes" : "no");
	if (!pr->hup || strcmp(w->pipe_buf, "PIPEDATA")) {
		fail(t, "the host's pipe did not deliver \"PIPEDATA\" and a HUP");
		return;
	}
	{
		struct wbuf b;

		send_begin(&b, pr->id, NULL, 0);
		cmd[b.len] = 'X';
		if (wl_expect_err(t, w, b.len + 1, "VFD_SEND into the host's read pipe"))
			return;
	}
	if (send_raw(t, w, pw->id, "GUESTPIPE", WL_RESP_OK, "VFD_SEND into the host's pipe") ||
	    wl_expect(t, w, mk_vfd(WL_CMD_VFD_CLOSE, pw->id), WL_RESP_OK, "VFD_CLOSE write pipe"))
		return;
	/*
	 * The most VFDs one VFD_SEND carries, 28: a guest buffer 26 times (the
	 * host checks its bytes), the host's sealed memfd back to it, and a
	 * guest-writes pipe (the host reads it).
	 */
	{
		uint32_t ids[WL_SEND_MAX];
		uint64_t goff;
		struct wbuf b;

		if (shm_new(t, w, 60, 4096, &goff) ||
		    wl_expect(t, w, mk_vfd_new(WL_CMD_VFD_NEW_PIPE, 61, WL_VFD_WRITE, 0),
			      WL_RESP_VFD_NEW, "VFD_NEW_PIPE 61 WRITE"))
			return;
		memcpy((void *)(w->shm + (uintptr_t)goff), "GUESTMEM", 8);
		for (unsigned int i = 0; i < WL_SEND_MAX - 1; i++)
			ids[i] = 60;
		ids[WL_SEND_MAX - 2] = ro->id; /* the host's own sealed memfd, passed back */
		ids[WL_SEND_MAX - 1] = 61;
		send_begin(&b, c->vfd, ids, WL_SEND_MAX);
		memcpy(cmd + b.len, "FDS28\n", 6);
		if (wl_expect(t, w, b.len + 6, WL_RESP_OK, "VFD_SEND with 28 VFDs") ||
		    send_raw(t, w, 61, "GPIPE2", WL_RESP_OK, "VFD_SEND into pipe 61") ||
		    wl_expect(t, w, mk_vfd(WL_CMD_VFD_CLOSE, 61), WL_RESP_OK,
			      "VFD_CLOSE pipe 61") ||
		    wl_expect(t, w, mk_vfd(WL_CMD_VFD_CLOSE, 60), WL_RESP_OK, "VFD_CLOSE 60"))
			return;
	}
	if (send_raw(t, w, c->vfd, "BYE\n", WL_RESP_OK, "VFD_SEND BYE"))
		return;
	pump_until(w, &c->hup);
	if (!c->hup) {
		fail(t, "no VFD_HUP after the host closed the connection");
		return;
	}
	if (wl_expect(t, w, mk_vfd(WL_CMD_VFD_CLOSE, ro->id), WL_RESP_OK,
		      "VFD_CLOSE sealed memfd") ||
	    wl_expect(t, w, mk_vfd(WL_CMD_VFD_CLOSE, rw->id), WL_RESP_OK, "VFD_CLOSE memfd") ||
	    wl_expect(t, w, mk_vfd(WL_CMD_VFD_CLOSE, pr->id), WL_RESP_OK, "VFD_CLOSE read pipe") ||
	    wl_expect(t, w, mk_vfd(WL_CMD_VFD_CLOSE, 1), WL_RESP_OK, "VFD_CLOSE ctx 1"))
		return;
	wl_pass(t, w);
}

/* The pool test with fewer features: @want instead of TRANS_FLAGS | USE_SHMEM. */
static void wl_fewer_features(const char *t, uint64_t want)
{
	struct wl *w = &wl0;
	struct wlctx *c;
	uint64_t off;

	wl_want = want;
	if (!(c = setup_pool_ctx(t, w, &off)))
		return;
	if (w->d.features != (want | 1ULL << VIRTIO_F_VERSION_1)) {
		fail(t, "accepted features 0x%llx", (unsigned long long)w->d.features);
		return;
	}
	if (send_pool(t, w, c, SHM_VFD, POOL_SIZE, 32) ||
	    ctx_wait(t, w, c, OBJ_CB2, "create_pool+create_buffer") ||
	    ctx_ok(t, c, OBJ_CB2, "create_pool+create_buffer") ||
	    wl_expect(t, w, mk_vfd(WL_CMD_VFD_CLOSE, SHM_VFD), WL_RESP_OK, "VFD_CLOSE shm 4") ||
	    wl_expect(t, w, mk_vfd(WL_CMD_VFD_CLOSE, 1), WL_RESP_OK, "VFD_CLOSE ctx 1"))
		return;
	pass(t);
}

/* TRANS_FLAGS without USE_SHMEM: pfns are guest-physical. */
void test_wl_noshm(const struct boot_params *bp)
{
	(void)bp;
	wl_fewer_features("wl_noshm", 1ULL << VIRTIO_WL_F_TRANS_FLAGS);
}

/* Neither: guest-physical pfns and the old flags (CONTROL contexts, WRITE|MAP buffers). */
void test_wl_legacy(const struct boot_params *bp)
{
	(void)bp;
	wl_fewer_features("wl_legacy", 0);
}

/*
 * Chains laid out otherwise than one buffer per part: indirect descriptors
 * negotiated; a VFD_SEND in three readable descriptors (header,
 * get_registry, sync) through an indirect table; a VFD_NEW split 8 + 56
 * with its response split 4 + 60; every even in buffer only 16 bytes long,
 * which the device must give back empty without writing past it,
 * delivering the messages in the others.
 */
void test_wl_chains(const struct boot_params *bp)
{
	static uint8_t hdr[16], req1[12], req2[12], r1[4], r2[64];
	const char *t = "wl_chains";
	struct wl *w = &wl0;
	struct wlctx *c;
	uint32_t id, len;
	int head;

	(void)bp;
	wl_want |= 1ULL << VIRTIO_RING_F_INDIRECT_DESC;
	wl_small_even = true;
	for (unsigned int i = 0; i < VQ_RING; i += 2)
		memset(inbufs[i], 0xcc, IN_BUF);
	if (wl_open(t, w))
		return;
	if (!vdev_has(&w->d, VIRTIO_RING_F_INDIRECT_DESC)) {
		fail(t, "INDIRECT_DESC not accepted (0x%llx)", (unsigned long long)w->d.features);
		return;
	}
	if (!(c = ctx_new(t, w, 1)))
		return;
	c->quiet = true;
	/* VFD_SEND header | get_registry(2) | sync(3), indirect. */
	put32(hdr, WL_CMD_VFD_SEND);
	put32(hdr + 4, 0);
	put32(hdr + 8, 1);
	put32(hdr + 12, 0);
	put32(req1, 1);
	put32(req1 + 4, 12u << 16 | 1);
	put32(req1 + 8, OBJ_REG);
	put32(req2, 1);
	put32(req2 + 4, 12u << 16 | 0);
	put32(req2 + 8, OBJ_CB1);
	ctx_obj(c, OBJ_REG, OBJ_REGISTRY);
	ctx_obj(c, OBJ_CB1, OBJ_CALLBACK);
	{
		struct vq_buf v[4] = { { hdr, 16, false },
				       { req1, 12, false },
				       { req2, 12, false },
				       { r2, 64, true } };

		memset(r2, 0xee, sizeof(r2));
		head = vq_add(w->out, v, 4, true, false);
		if (head < 0 || vq_poll(w->out, &id, &len)) {
			fail(t, "indirect VFD_SEND: %s", virtio_err);
			return;
		}
		printf("WL indirect 3-part VFD_SEND -> %s (0x%x), used %u\n", resp_name(get32(r2)),
		       get32(r2), len);
		if ((int)id != head || get32(r2) != WL_RESP_OK) {
			fail(t, "indirect VFD_SEND: used id %u (head %d), response 0x%x", id, head,
			     get32(r2));
			return;
		}
	}
	if (ctx_wait(t, w, c, OBJ_CB1, "registry via split chains") ||
	    ctx_ok(t, c, OBJ_CB1, "registry via split chains"))
		return;
	printf("WL %u globals through %u in buffers; %u small ones given back empty\n", c->nglobals,
	       w->recvs, w->empties);
	if (!c->comp_name || !c->shm_name) {
		fail(t, "the globals lack wl_compositor or wl_shm");
		return;
	}
	if (!w->empties) {
		fail(t, "no 16-byte in buffer came back empty: were they used?");
		return;
	}
	for (unsigned int i = 0; i < VQ_RING; i += 2) {
		if (!mem_all(inbufs[i] + SMALL_IN, IN_BUF - SMALL_IN, 0xcc)) {
			fail(t, "the device wrote past the 16-byte in buffer %u", i);
			return;
		}
	}
	/* VFD_NEW: command 8 + 56, response 4 + 60. */
	mk_vfd_new(WL_CMD_VFD_NEW, 4, 0, 8192);
	{
		struct vq_buf v[4] = {
			{ cmd, 8, false }, { cmd + 8, 56, false }, { r1, 4, true }, { r2, 60, true }
		};
		uint64_t pfn;

		memset(r1, 0xee, sizeof(r1));
		memset(r2, 0xee, sizeof(r2));
		head = vq_add(w->out, v, 4, false, false);
		if (head < 0 || vq_poll(w->out, &id, &len)) {
			fail(t, "split VFD_NEW: %s", virtio_err);
			return;
		}
		/* r2 holds response bytes 4.. : flags at 0, id at 4, pfn at 12, size at 20. */
		pfn = get64(r2 + 12);
		printf("WL split VFD_NEW -> type 0x%x id %u pfn 0x%llx size %u, used %u\n",
		       get32(r1), get32(r2 + 4), (unsigned long long)pfn, get32(r2 + 20), len);
		if (get32(r1) != WL_RESP_VFD_NEW || get32(r2 + 4) != 4 || get32(r2 + 20) != 8192 ||
		    (pfn << 12) + 8192 > w->shm_len || len < 32) {
			fail(t, "split VFD_NEW answered type 0x%x id %u size %u (used %u)",
			     get32(r1), get32(r2 + 4), get32(r2 + 20), len);
			return;
		}
		if (shm_pattern(t, w->shm + (uintptr_t)(pfn << 12), 8192, 44))
			return;
	}
	if (wl_expect(t, w, mk_vfd(WL_CMD_VFD_CLOSE, 4), WL_RESP_OK, "VFD_CLOSE 4") ||
	    wl_expect(t, w, mk_vfd(WL_CMD_VFD_CLOSE, 1), WL_RESP_OK, "VFD_CLOSE ctx 1"))
		return;
	wl_pass(t, w);
}

#define EVIDX_CMDS 40
#define EVIDX_REGS 200

/*
 * VIRTIO_RING_F_EVENT_IDX, which the device offers (and Linux's virtio core
 * always accepts): the driver kicks only when avail_event says so, so the
 * device must keep publishing it. Forty commands in a row, then two hundred
 * registries' globals (more than the posted in buffers: the driver's
 * re-posts must reach the device).
 */
void test_wl_event_idx(const struct boot_params *bp)
{
	const char *t = "wl_event_idx";
	struct wl *w = &wl0;
	struct wlctx *c;
	struct wbuf b;
	uint64_t off;
	unsigned int per;
	const uint32_t sync_id = OBJ_CB1 + 1 + EVIDX_REGS;

	(void)bp;
	wl_want |= 1ULL << VIRTIO_RING_F_EVENT_IDX;
	if (wl_open(t, w))
		return;
	if (!vdev_has(&w->d, VIRTIO_RING_F_EVENT_IDX)) {
		fail(t, "EVENT_IDX not accepted (offered 0x%llx)",
		     (unsigned long long)w->d.dev_features);
		return;
	}
	for (unsigned int i = 0; i < EVIDX_CMDS / 2; i++) {
		if (shm_new(t, w, 100 + i, 4096, &off) ||
		    wl_expect(t, w, mk_vfd(WL_CMD_VFD_CLOSE, 100 + i), WL_RESP_OK, "VFD_CLOSE"))
			return;
	}
	printf("WL %u commands with EVENT_IDX; %u kicks, %u suppressed\n", EVIDX_CMDS,
	       w->out->notifies, w->out->notifies_skipped);
	if (!(c = ctx_new(t, w, 1)))
		return;
	c->quiet = true;
	if (ctx_registry(t, w, c, OBJ_REG, OBJ_CB1))
		return;
	per = c->nglobals;
	c->nglobals = 0;
	send_begin(&b, c->vfd, NULL, 0);
	req_registries(&b, c, OBJ_CB1 + 1, EVIDX_REGS);
	req_sync(&b, c, sync_id);
	if (wl_expect(t, w, b.len, WL_RESP_OK, "VFD_SEND 200 x get_registry + sync") ||
	    ctx_wait(t, w, c, sync_id, "200 registries") || ctx_ok(t, c, sync_id, "200 registries"))
		return;
	printf("WL %u globals in %u VFD_RECVs\n", c->nglobals, w->recvs);
	if (c->nglobals != EVIDX_REGS * per) {
		fail(t, "%u globals for %u registries of %u", c->nglobals, EVIDX_REGS, per);
		return;
	}
	if (wl_expect(t, w, mk_vfd(WL_CMD_VFD_CLOSE, 1), WL_RESP_OK, "VFD_CLOSE ctx 1"))
		return;
	pass(t);
}

// SPDX-License-Identifier: BSD-3-Clause
/*
 * virtio-wayland driven from the guest (wl.h), talking the Wayland wire
 * protocol to the compositor the host test started
 * (tests/integration/test_wl.c runs weston's headless backend): the basic
 * session, and what the device and the compositor make of bad input.
 * t_wl_shot.c, t_wl_paths.c, t_wl_irq.c and t_wl_robust.c hold the others.
 *
 *   wl: VERSION_1 | TRANS_FLAGS | USE_SHMEM; a context (VFD_NEW_CTX 1) does
 *	wl_display.get_registry + sync and must see wl_compositor and wl_shm
 *	("WL global <name> <interface> <version>" lines); a VFD_NEW of 8192
 *	bytes must lie in the shared-memory region (capability type 8, BAR 2),
 *	which must hold a pattern written there; wl_shm.create_pool with that
 *	VFD as its fd, wl_shm_pool.create_buffer 64x32 ARGB8888 and a sync
 *	must come back done without a wl_display.error; then VFD_CLOSE of the
 *	memory and of the context is OK.
 *   wl_bad_pool: the same pool, then a create_buffer that does not fit it
 *	(256 x 1000 bytes in 8192): the compositor must answer with
 *	wl_display.error (object: the pool, code 1 invalid_stride) and close
 *	the connection, which the device reports as VFD_HUP.
 *   wl_garbage: malformed commands get error responses (unknown type,
 *	unknown ids, vfd_count 29, host-bit ids, size 0 / larger than the
 *	region, a reused id, DMABUF, a 4-byte header), Wayland garbage ends
 *	only its own connection (error + HUP), and a fresh context still does
 *	a full roundtrip; VFD_NEW_CTX_NAMED "" is the default socket, an
 *	unknown name an error.
 *   wl_absent: passes when there is no 1af4:107f function.
 */
#include "wl.h"

void test_wl(const struct boot_params *bp)
{
	const char *t = "wl";
	struct wl *w = &wl0;
	struct wlctx *c;
	uint64_t off4, off9;
	long bad;

	(void)bp;
	if (!(c = setup_pool_ctx(t, w, &off4)))
		return;
	if (w->d.features != (1ULL << VIRTIO_F_VERSION_1 | 1ULL << VIRTIO_WL_F_TRANS_FLAGS |
			      1ULL << VIRTIO_WL_F_USE_SHMEM)) {
		fail(t, "accepted features 0x%llx", (unsigned long long)w->d.features);
		return;
	}
	/* A second allocation lies elsewhere in the region: VFD 4's pattern survives it. */
	if (shm_new(t, w, 9, 4096, &off9) ||
	    shm_pattern(t, w->shm + (uintptr_t)off9, 4096, 0x1111222233334444ULL))
		return;
	if (off9 < off4 + POOL_SIZE && off4 < off9 + 4096) {
		fail(t, "VFD 9 at 0x%llx overlaps VFD 4 at 0x%llx", (unsigned long long)off9,
		     (unsigned long long)off4);
		return;
	}
	bad = shm_pattern_bad(w->shm + (uintptr_t)off4, POOL_SIZE, PATTERN4);
	if (bad >= 0) {
		fail(t, "VFD 4 qword %u changed to 0x%llx", (uint32_t)bad,
		     (unsigned long long)((volatile uint64_t *)(w->shm + (uintptr_t)off4))[bad]);
		return;
	}
	if (wl_expect(t, w, mk_vfd_new(WL_CMD_VFD_NEW, SHM_VFD, 0, 4096), WL_RESP_INVALID_ID,
		      "VFD_NEW 4 (in use)") ||
	    wl_expect(t, w, mk_vfd(WL_CMD_VFD_CLOSE, 9), WL_RESP_OK, "VFD_CLOSE 9"))
		return;
	if (send_pool(t, w, c, SHM_VFD, POOL_SIZE, 32) ||
	    ctx_wait(t, w, c, OBJ_CB2, "create_pool+create_buffer") ||
	    ctx_ok(t, c, OBJ_CB2, "create_pool+create_buffer"))
		return;
	printf("WL ctx %u: pool and 64x32 buffer accepted; wl_shm formats %u (ARGB8888 %s)\n",
	       c->vfd, c->shm_formats, c->argb ? "yes" : "no");
	if (!c->argb) {
		fail(t, "wl_shm did not announce ARGB8888");
		return;
	}
	if (wl_expect(t, w, mk_vfd(WL_CMD_VFD_CLOSE, SHM_VFD), WL_RESP_OK, "VFD_CLOSE shm 4") ||
	    wl_expect(t, w, mk_vfd(WL_CMD_VFD_CLOSE, SHM_VFD), WL_RESP_INVALID_ID,
		      "VFD_CLOSE shm 4 again"))
		return;
	/* The connection still works after the close (the compositor keeps its own mapping). */
	{
		struct wbuf b;

		send_begin(&b, c->vfd, NULL, 0);
		req_sync(&b, c, OBJ_CB3);
		if (wl_expect(t, w, b.len, WL_RESP_OK, "VFD_SEND sync") ||
		    ctx_wait(t, w, c, OBJ_CB3, "sync after VFD_CLOSE") ||
		    ctx_ok(t, c, OBJ_CB3, "sync after VFD_CLOSE"))
			return;
	}
	if (wl_expect(t, w, mk_vfd(WL_CMD_VFD_CLOSE, c->vfd), WL_RESP_OK, "VFD_CLOSE ctx 1"))
		return;
	wl_pass(t, w);
}

void test_wl_bad_pool(const struct boot_params *bp)
{
	const char *t = "wl_bad_pool";
	struct wl *w = &wl0;
	struct wlctx *c;
	uint64_t off;

	(void)bp;
	if (!(c = setup_pool_ctx(t, w, &off)))
		return;
	/* 256 * 1000 bytes from offset 0 in an 8192-byte pool. */
	if (send_pool(t, w, c, SHM_VFD, POOL_SIZE, 1000) ||
	    ctx_wait(t, w, c, OBJ_CB2, "oversized create_buffer"))
		return;
	if (c->bad) {
		fail(t, "compositor stream: %s", c->why);
		return;
	}
	if (!c->error) {
		fail(t,
		     "no wl_display.error for a 256x1000-byte buffer in an 8192-byte pool "
		     "(sync done %s, HUP %s)",
		     cb_done(c, OBJ_CB2) ? "yes" : "no", c->hup ? "yes" : "no");
		return;
	}
	if (c->err_obj != OBJ_POOL_ID || c->err_code != 1) {
		fail(t,
		     "wl_display.error on object %u code %u, want the pool (%u) and "
		     "invalid_stride (1)",
		     c->err_obj, c->err_code, OBJ_POOL_ID);
		return;
	}
	/* Then the compositor drops the client: VFD_HUP. */
	pump_until(w, &c->hup);
	if (!c->hup) {
		fail(t, "no VFD_HUP for ctx %u after wl_display.error", c->vfd);
		return;
	}
	if (cb_done(c, OBJ_CB2)) {
		fail(t, "the sync after the bad create_buffer completed");
		return;
	}
	/* Sending on the dead connection must not break the device. */
	{
		struct wbuf b;
		int64_t r;

		send_begin(&b, c->vfd, NULL, 0);
		req_sync(&b, c, OBJ_CB3);
		r = wl_cmd(t, w, b.len, sizeof(resp));
		if (r < 0)
			return;
		printf("WL VFD_SEND on the hung-up ctx -> %s (0x%x)\n", resp_name((uint32_t)r),
		       (uint32_t)r);
	}
	if (wl_expect(t, w, mk_vfd(WL_CMD_VFD_CLOSE, c->vfd), WL_RESP_OK,
		      "VFD_CLOSE hung-up ctx") ||
	    wl_expect(t, w, mk_vfd(WL_CMD_VFD_CLOSE, SHM_VFD), WL_RESP_OK, "VFD_CLOSE shm 4"))
		return;
	/* And a new connection works. */
	c->used = false;
	if (!(c = ctx_new(t, w, 11)))
		return;
	c->quiet = true;
	if (ctx_registry(t, w, c, OBJ_REG, OBJ_CB1))
		return;
	pass(t);
}

void test_wl_garbage(const struct boot_params *bp)
{
	const char *t = "wl_garbage";
	struct wl *w = &wl0;
	struct wlctx *c;
	uint64_t off;
	uint32_t len;

	(void)bp;
	if (wl_open(t, w) || !(c = ctx_new(t, w, 1)))
		return;
	c->quiet = true;
	if (shm_new(t, w, SHM_VFD, 4096, &off))
		return;

	/* Unknown command type. */
	memset(cmd, 0, 64);
	put32(cmd, 0x1ff);
	if (wl_expect(t, w, 64, WL_RESP_INVALID_CMD, "type 0x1ff"))
		return;
	/* A response type as a command. */
	put32(cmd, WL_RESP_OK);
	if (wl_expect(t, w, 64, WL_RESP_INVALID_CMD, "type RESP_OK"))
		return;
	/* VFD_SEND to an unknown vfd. */
	send_begin(&(struct wbuf){ 0 }, 77, NULL, 0);
	put32(cmd + 16, 0x12345678);
	if (wl_expect(t, w, 20, WL_RESP_INVALID_ID, "VFD_SEND to vfd 77"))
		return;
	/* VFD_SEND carrying an unknown vfd. */
	{
		uint32_t ids[1] = { 78 };

		/* With bytes: VFDs without bytes are an error of their own. */
		send_begin(&(struct wbuf){ 0 }, c->vfd, ids, 1);
		put32(cmd + 20, 0x12345678);
		if (wl_expect(t, w, 24, WL_RESP_INVALID_ID, "VFD_SEND carrying vfd 78"))
			return;
	}
	/* vfd_count 29. */
	{
		uint32_t ids[29];

		for (unsigned int i = 0; i < 29; i++)
			ids[i] = SHM_VFD;
		send_begin(&(struct wbuf){ 0 }, c->vfd, ids, 29);
		if (wl_expect(t, w, 16 + 4 * 29, WL_RESP_INVALID_CMD, "VFD_SEND vfd_count 29"))
			return;
		/* A count far beyond the bytes there. */
		send_begin(&(struct wbuf){ 0 }, c->vfd, NULL, 0);
		put32(cmd + 12, 0xffffffff);
		if (wl_expect(t, w, 16, WL_RESP_INVALID_CMD, "VFD_SEND vfd_count 0xffffffff"))
			return;
		/* 2 ids announced, 1 present. */
		send_begin(&(struct wbuf){ 0 }, c->vfd, ids, 1);
		put32(cmd + 12, 2);
		if (wl_expect_err(t, w, 20, "VFD_SEND vfd_count 2 with 1 id"))
			return;
	}
	/* VFD_SEND to the shm VFD (not a connection). */
	send_begin(&(struct wbuf){ 0 }, SHM_VFD, NULL, 0);
	put32(cmd + 16, 0);
	if (wl_expect_err(t, w, 20, "VFD_SEND to the shm vfd"))
		return;
	/* Host ids. */
	if (wl_expect(t, w, mk_vfd_new(WL_CMD_VFD_NEW, WL_HOST_ID | 5, 0, 4096), WL_RESP_INVALID_ID,
		      "VFD_NEW id 0x40000005") ||
	    wl_expect(t, w, mk_vfd_new(WL_CMD_VFD_NEW_CTX, WL_HOST_ID | 6, 0, 0),
		      WL_RESP_INVALID_ID, "VFD_NEW_CTX id 0x40000006"))
		return;
	/* Sizes. */
	if (wl_expect_err(t, w, mk_vfd_new(WL_CMD_VFD_NEW, 20, 0, 0), "VFD_NEW size 0"))
		return;
	{
		uint64_t big = w->shm_len + 4096;
		char what[64];

		if (big > 0xfffff000ULL)
			big = 0xfffff000ULL;
		snprintf(what, sizeof(what), "VFD_NEW size 0x%llx", (unsigned long long)big);
		if (big > w->shm_len &&
		    wl_expect_err(t, w, mk_vfd_new(WL_CMD_VFD_NEW, 21, 0, (uint32_t)big), what))
			return;
		if (wl_expect_err(t, w, mk_vfd_new(WL_CMD_VFD_NEW, 22, 0, 0xffffffffu),
				  "VFD_NEW size 0xffffffff"))
			return;
	}
	/* Flags must be 0 with TRANS_FLAGS. */
	if (wl_expect(t, w, mk_vfd_new(WL_CMD_VFD_NEW, 23, 0x3, 4096), WL_RESP_INVALID_FLAGS,
		      "VFD_NEW flags 3"))
		return;
	/* Ids in use, by a context and by memory. */
	if (wl_expect(t, w, mk_vfd_new(WL_CMD_VFD_NEW_CTX, c->vfd, 0, 0), WL_RESP_INVALID_ID,
		      "VFD_NEW_CTX 1 again") ||
	    wl_expect(t, w, mk_vfd_new(WL_CMD_VFD_NEW_CTX, SHM_VFD, 0, 0), WL_RESP_INVALID_ID,
		      "VFD_NEW_CTX 4 (the shm id)") ||
	    wl_expect(t, w, mk_vfd_new(WL_CMD_VFD_NEW, c->vfd, 0, 4096), WL_RESP_INVALID_ID,
		      "VFD_NEW 1 (the ctx id)"))
		return;
	/* Unknown closes. */
	if (wl_expect(t, w, mk_vfd(WL_CMD_VFD_CLOSE, 99), WL_RESP_INVALID_ID, "VFD_CLOSE 99") ||
	    wl_expect(t, w, mk_vfd(WL_CMD_VFD_CLOSE, WL_HOST_ID | 1), WL_RESP_INVALID_ID,
		      "VFD_CLOSE 0x40000001"))
		return;
	/* DMABUF is not there. */
	if (wl_expect_err(t, w, mk_vfd_new(WL_CMD_VFD_NEW_DMABUF, 24, 0, 0), "VFD_NEW_DMABUF"))
		return;
	/* Truncated commands: a 4-byte header, an 8-byte VFD_NEW, a 10-byte VFD_CLOSE. */
	{
		static const struct {
			uint32_t type, len;
		} trunc[] = {
			{ WL_CMD_VFD_NEW, 4 },
			{ WL_CMD_VFD_NEW, 8 },
			{ WL_CMD_VFD_CLOSE, 10 },
			{ WL_CMD_VFD_SEND, 12 },
			{ WL_CMD_VFD_NEW_CTX, 8 },
			{ WL_CMD_VFD_NEW_PIPE, 20 },
			{ WL_CMD_VFD_NEW_CTX_NAMED, 40 },
		};

		for (unsigned int i = 0; i < ARRAY_SIZE(trunc); i++) {
			int64_t r;

			memset(cmd, 0, 64);
			put32(cmd, trunc[i].type);
			put32(cmd + 8, 30 + i);
			r = wl_cmd(t, w, trunc[i].len, sizeof(resp));
			if (r < 0)
				return;
			printf("WL type 0x%x truncated to %u bytes -> %s (0x%x)\n", trunc[i].type,
			       trunc[i].len, resp_name((uint32_t)r), (uint32_t)r);
			if (r != 0 && !resp_is_err((uint32_t)r)) {
				fail(t, "type 0x%x truncated to %u bytes answered 0x%x (%s)",
				     trunc[i].type, trunc[i].len, (uint32_t)r,
				     resp_name((uint32_t)r));
				return;
			}
		}
	}
	/* A response buffer of 4 bytes: the device must not write past it (or fail). */
	{
		struct vq_buf v[2] = { { cmd, 12, false }, { resp, 4, true } };
		uint32_t used;

		mk_vfd(WL_CMD_VFD_CLOSE, 98);
		memset(resp, 0xee, sizeof(resp));
		if (vq_request(t, w->out, v, 2, &used))
			return;
		printf("WL VFD_CLOSE with a 4-byte response buffer: used %u\n", used);
		if (used > 4 || !mem_all(resp + 4, sizeof(resp) - 4, 0xee)) {
			fail(t, "a 4-byte response buffer: used %u, bytes after it written", used);
			return;
		}
	}
	/* Memory still closes, contexts still open. */
	if (wl_expect(t, w, mk_vfd(WL_CMD_VFD_CLOSE, SHM_VFD), WL_RESP_OK, "VFD_CLOSE shm 4"))
		return;
	if (vdev_status(&w->d) & (VIRTIO_CONFIG_S_NEEDS_RESET | VIRTIO_CONFIG_S_FAILED)) {
		fail(t, "device status 0x%02x after the garbage", vdev_status(&w->d));
		return;
	}

	/* Wayland garbage on ctx 1: a request to object 999 that does not exist. */
	{
		struct wbuf b;

		send_begin(&b, c->vfd, NULL, 0);
		w_begin(&b, 999, 0);
		w_u32(&b, 0xdeadbeef);
		w_end(&b);
		req_sync(&b, c, 2);
		len = b.len;
		if (wl_expect(t, w, len, WL_RESP_OK, "VFD_SEND request to object 999") ||
		    ctx_wait(t, w, c, 2, "garbage request"))
			return;
		if (!c->error || c->err_obj != 1 || c->err_code != 0) {
			fail(t,
			     "no wl_display.error invalid_object for a request to object 999 "
			     "(error %s object %u code %u, done %s, HUP %s)",
			     c->error ? "yes" : "no", c->err_obj, c->err_code,
			     cb_done(c, 2) ? "yes" : "no", c->hup ? "yes" : "no");
			return;
		}
		pump_until(w, &c->hup);
		if (!c->hup) {
			fail(t, "no VFD_HUP for ctx %u after the protocol error", c->vfd);
			return;
		}
		if (wl_expect(t, w, mk_vfd(WL_CMD_VFD_CLOSE, c->vfd), WL_RESP_OK,
			      "VFD_CLOSE hung-up ctx 1"))
			return;
		c->used = false;
	}
	/* A fresh context: a full roundtrip. */
	if (!(c = ctx_new(t, w, 40)))
		return;
	c->quiet = true;
	if (ctx_registry(t, w, c, OBJ_REG, OBJ_CB1))
		return;
	if (wl_expect(t, w, mk_vfd(WL_CMD_VFD_CLOSE, c->vfd), WL_RESP_OK, "VFD_CLOSE ctx 40"))
		return;
	/* VFD_NEW_CTX_NAMED: an unknown name is an error; "" is the default socket. */
	mk_vfd_new(WL_CMD_VFD_NEW_CTX_NAMED, 41, 0, 0);
	memcpy(cmd + 28, "no-such-wayland-socket", 23);
	if (wl_expect_err(t, w, 64, "VFD_NEW_CTX_NAMED 41 \"no-such-wayland-socket\""))
		return;
	mk_vfd_new(WL_CMD_VFD_NEW_CTX_NAMED, 42, 0, 0);
	if (wl_expect(t, w, 64, WL_RESP_VFD_NEW, "VFD_NEW_CTX_NAMED 42 \"\"") ||
	    wl_expect(t, w, mk_vfd(WL_CMD_VFD_CLOSE, 42), WL_RESP_OK, "VFD_CLOSE ctx 42") ||
	    wl_expect(t, w, mk_vfd(WL_CMD_VFD_CLOSE, 41), WL_RESP_INVALID_ID, "VFD_CLOSE 41"))
		return;
	wl_pass(t, w);
}
void test_wl_absent(const struct boot_params *bp)
{
	const char *t = "wl_absent";
	uint32_t bdf;

	(void)bp;
	if (pci_find(0x1af4, WL_DEVICE, &bdf, 1)) {
		fail(t, "a virtio-wayland PCI function (1af4:%04x) is at %02x.%x", WL_DEVICE,
		     (bdf >> 3) & 31, bdf & 7);
		return;
	}
	pass(t);
}

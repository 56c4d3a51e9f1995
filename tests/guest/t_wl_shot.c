// SPDX-License-Identifier: BSD-3-Clause
/*
 * The virtio-wayland tests (wl.h) that need weston's desktop shell with
 * --debug (tests/integration/test_wl.c): what the compositor draws comes
 * back to the guest, through shared memory and through a pipe.
 *
 *   wl_shot: the guest's picture, shown fullscreen by the compositor, comes
 *	back byte for byte in a screenshot the compositor writes into another
 *	guest buffer (weston_screenshooter): shared memory in both directions.
 *   wl_pipe: a guest-reads pipe (VFD_NEW_PIPE) as the fd of weston's
 *	debug stream: the scene graph weston writes arrives as VFD_RECVs on the
 *	pipe's id, its close as VFD_HUP.
 */
#include "wl.h"

static inline uint32_t shot_px(uint32_t x, uint32_t y)
{
	return ((y * 0x9e3779b1u) ^ (x * 0x85ebca77u) ^ (x << 16)) & 0xffffff;
}

#define SHOT_VFD 20

/* surface.attach(@buf) + damage + frame(@cb) + commit. */
static void w_show(struct wbuf *b, struct wlctx *c, uint32_t surf, uint32_t buf, uint32_t cb,
		   uint32_t width, uint32_t height)
{
	w_begin(b, surf, 1); /* attach(buffer, x, y) */
	w_u32(b, buf);
	w_u32(b, 0);
	w_u32(b, 0);
	w_end(b);
	w_begin(b, surf, 2); /* damage(x, y, w, h) */
	w_u32(b, 0);
	w_u32(b, 0);
	w_u32(b, width);
	w_u32(b, height);
	w_end(b);
	w_begin(b, surf, 3); /* frame(new_id) */
	w_u32(b, cb);
	w_end(b);
	ctx_obj(c, cb, OBJ_CALLBACK);
	w_begin(b, surf, 6); /* commit */
	w_end(b);
}

#define SHOT_TRIES 8

/*
 * The guest's pixels on the compositor's screen and back: a fullscreen
 * xdg_toplevel shows buffer A, written by the guest in the shared-memory
 * region; weston_screenshooter.take_shot then makes the compositor copy its
 * output into buffer B, in the same region. B must equal A: the compositor
 * read the guest's writes, and the guest reads the compositor's. Needs
 * weston --use-pixman --debug with desktop-shell (test_wl.c); a few shots
 * are allowed while the shell's animations settle.
 */
void test_wl_shot(const struct boot_params *bp)
{
	enum {
		COMP = 4,
		WM,
		OUT,
		SHOOTER,
		SHM,
		CB_GLOBALS,
		POOL,
		BUF_A,
		BUF_B,
		SURF,
		XSURF,
		TOP,
		CB_CFG,
		NEXT_ID
	};
	const char *t = "wl_shot";
	struct wl *w = &wl0;
	struct wlctx *c;
	struct wbuf b;
	uint64_t off;
	uint32_t W, H, fb, bad = 0, first_bad = 0, next = NEXT_ID, shot;
	volatile uint32_t *pa, *pb;

	(void)bp;
	if (!(c = open_quiet_ctx(t, w)))
		return;
	if (!c->wm_name || !c->out_name || !c->shot_name) {
		fail(t,
		     "globals: xdg_wm_base %u wl_output %u weston_screenshooter %u (weston needs "
		     "--debug for the screenshooter)",
		     c->wm_name, c->out_name, c->shot_name);
		return;
	}
	send_begin(&b, c->vfd, NULL, 0);
	w_bind(&b, c, c->comp_name, "wl_compositor", 4, COMP, OBJ_OTHER);
	w_bind(&b, c, c->wm_name, "xdg_wm_base", 1, WM, OBJ_WM_BASE);
	w_bind(&b, c, c->out_name, "wl_output", 2, OUT, OBJ_OUTPUT);
	w_bind(&b, c, c->shot_name, "weston_screenshooter", 1, SHOOTER, OBJ_SHOOTER);
	w_bind(&b, c, c->shm_name, "wl_shm", 1, SHM, OBJ_SHM);
	req_sync(&b, c, CB_GLOBALS);
	if (wl_expect(t, w, b.len, WL_RESP_OK, "VFD_SEND binds") ||
	    ctx_wait(t, w, c, CB_GLOBALS, "binds") || ctx_ok(t, c, CB_GLOBALS, "binds"))
		return;
	W = c->out_w;
	H = c->out_h;
	printf("WL output %ux%u\n", W, H);
	if (!W || !H || W > 1024 || H > 1024) {
		fail(t, "output mode %ux%u (the test wants at most 1024x1024)", W, H);
		return;
	}
	fb = W * H * 4;
	if (shm_new(t, w, SHOT_VFD, 2 * fb, &off))
		return;
	pa = (volatile uint32_t *)(w->shm + (uintptr_t)off);
	pb = (volatile uint32_t *)(w->shm + (uintptr_t)off + fb);
	for (uint32_t y = 0; y < H; y++)
		for (uint32_t x = 0; x < W; x++)
			pa[y * W + x] = 0xff000000u | shot_px(x, y);

	/* Pool, buffers A and B, a fullscreen toplevel; the commit asks for a configure. */
	send_begin(&b, c->vfd, (const uint32_t[]){ SHOT_VFD }, 1);
	w_begin(&b, SHM, 0); /* create_pool(new_id, fd, size) */
	w_u32(&b, POOL);
	w_u32(&b, 2 * fb);
	w_end(&b);
	ctx_obj(c, POOL, OBJ_POOL);
	for (uint32_t k = 0; k < 2; k++) {
		w_begin(&b, POOL, 0);
		w_u32(&b, BUF_A + k);
		w_u32(&b, k * fb);
		w_u32(&b, W);
		w_u32(&b, H);
		w_u32(&b, W * 4);
		w_u32(&b, 1); /* XRGB8888 */
		w_end(&b);
		ctx_obj(c, BUF_A + k, OBJ_BUFFER);
	}
	w_begin(&b, COMP, 0); /* create_surface */
	w_u32(&b, SURF);
	w_end(&b);
	ctx_obj(c, SURF, OBJ_OTHER);
	w_begin(&b, WM, 2); /* get_xdg_surface(new_id, surface) */
	w_u32(&b, XSURF);
	w_u32(&b, SURF);
	w_end(&b);
	ctx_obj(c, XSURF, OBJ_XDG_SURFACE);
	w_begin(&b, XSURF, 1); /* get_toplevel */
	w_u32(&b, TOP);
	w_end(&b);
	ctx_obj(c, TOP, OBJ_TOPLEVEL);
	w_begin(&b, TOP, 11); /* set_fullscreen(output) */
	w_u32(&b, OUT);
	w_end(&b);
	w_begin(&b, SURF, 6); /* commit */
	w_end(&b);
	req_sync(&b, c, CB_CFG);
	if (wl_expect(t, w, b.len, WL_RESP_OK, "VFD_SEND pool+buffers+toplevel") ||
	    ctx_wait(t, w, c, CB_CFG, "toplevel") || ctx_ok(t, c, CB_CFG, "toplevel") ||
	    ctx_wait_flag(t, w, c, &c->configured, "xdg_surface.configure") ||
	    ctx_pong(t, w, c, WM))
		return;

	/* ack, show A; once its frame is done, shoot; again after another frame if needed. */
	send_begin(&b, c->vfd, NULL, 0);
	w_begin(&b, XSURF, 4); /* ack_configure(serial) */
	w_u32(&b, c->cfg_serial);
	w_end(&b);
	for (shot = 1; shot <= SHOT_TRIES; shot++) {
		uint32_t cb = next++;

		w_show(&b, c, SURF, BUF_A, cb, W, H);
		if (wl_expect(t, w, b.len, WL_RESP_OK, "VFD_SEND show A") ||
		    ctx_wait(t, w, c, cb, "frame callback") || ctx_ok(t, c, cb, "frame") ||
		    ctx_pong(t, w, c, WM))
			return;
		for (uint32_t i = 0; i < W * H; i++)
			pb[i] = 0x005a5a5a;
		c->shot_done = false;
		send_begin(&b, c->vfd, NULL, 0);
		w_begin(&b, SHOOTER, 0); /* take_shot(output, buffer) */
		w_u32(&b, OUT);
		w_u32(&b, BUF_B);
		w_end(&b);
		if (wl_expect(t, w, b.len, WL_RESP_OK, "VFD_SEND take_shot") ||
		    ctx_wait_flag(t, w, c, &c->shot_done, "weston_screenshooter.done"))
			return;
		bad = 0;
		for (uint32_t i = 0; i < W * H; i++) {
			if ((pb[i] & 0xffffff) != (pa[i] & 0xffffff) && !bad++)
				first_bad = i;
		}
		printf("WL screenshot %u: %u of %u pixels differ from the guest's picture; "
		       "B[0] 0x%08x A[0] 0x%08x\n",
		       shot, bad, W * H, pb[0], pa[0]);
		if (!bad)
			break;
		send_begin(&b, c->vfd, NULL, 0);
	}
	if (bad) {
		fail(t, "after %u screenshots pixel %u,%u is 0x%08x, the guest drew 0x%08x",
		     SHOT_TRIES, first_bad % W, first_bad / W, pb[first_bad], pa[first_bad]);
		return;
	}
	if (wl_expect(t, w, mk_vfd(WL_CMD_VFD_CLOSE, SHOT_VFD), WL_RESP_OK, "VFD_CLOSE 20") ||
	    wl_expect(t, w, mk_vfd(WL_CMD_VFD_CLOSE, 1), WL_RESP_OK, "VFD_CLOSE ctx 1"))
		return;
	pass(t);
}

#define PIPE_VFD 50

/*
 * A pipe the compositor writes: VFD_NEW_PIPE (READ: the guest reads) sent
 * as the fd of weston_debug_v1.subscribe("scene-graph"); weston writes its
 * scene graph into it and closes it, which must arrive as VFD_RECVs on the
 * pipe's id and then VFD_HUP. Needs weston --debug.
 */
void test_wl_pipe(const struct boot_params *bp)
{
	const char *t = "wl_pipe";
	struct wl *w = &wl0;
	struct wlctx *c;
	struct wbuf b;

	(void)bp;
	if (!(c = open_quiet_ctx(t, w)))
		return;
	if (!c->dbg_name) {
		fail(t, "no weston_debug_v1 global (weston needs --debug)");
		return;
	}
	if (wl_expect(t, w, mk_vfd_new(WL_CMD_VFD_NEW_PIPE, 51, WL_VFD_READ | WL_VFD_WRITE, 0),
		      WL_RESP_INVALID_FLAGS, "VFD_NEW_PIPE flags READ|WRITE") ||
	    wl_expect(t, w, mk_vfd_new(WL_CMD_VFD_NEW_PIPE, 51, 0, 0), WL_RESP_INVALID_FLAGS,
		      "VFD_NEW_PIPE flags 0") ||
	    wl_expect(t, w, mk_vfd_new(WL_CMD_VFD_NEW_PIPE, WL_HOST_ID | 51, WL_VFD_READ, 0),
		      WL_RESP_INVALID_ID, "VFD_NEW_PIPE id 0x40000033") ||
	    wl_expect(t, w, mk_vfd_new(WL_CMD_VFD_NEW_PIPE, PIPE_VFD, WL_VFD_READ, 0),
		      WL_RESP_VFD_NEW, "VFD_NEW_PIPE 50 READ"))
		return;
	w->pipe_id = PIPE_VFD;
	/* The guest reads this pipe: sending bytes into it is wrong. */
	send_begin(&b, PIPE_VFD, NULL, 0);
	w_u32(&b, 0x41414141);
	if (wl_expect_err(t, w, b.len, "VFD_SEND into a guest-reads pipe"))
		return;

	send_begin(&b, c->vfd, (const uint32_t[]){ PIPE_VFD }, 1);
	w_bind(&b, c, c->dbg_name, "weston_debug_v1", 1, 4, OBJ_DEBUG);
	w_begin(&b, 4, 1); /* subscribe(name, streamfd, new_id stream) */
	w_str(&b, "scene-graph");
	w_u32(&b, 5);
	w_end(&b);
	ctx_obj(c, 5, OBJ_DEBUG_STREAM);
	req_sync(&b, c, 6);
	if (wl_expect(t, w, b.len, WL_RESP_OK, "VFD_SEND subscribe(scene-graph, pipe 50)") ||
	    ctx_wait(t, w, c, 6, "subscribe") || ctx_ok(t, c, 6, "subscribe") ||
	    ctx_wait_flag(t, w, c, &w->pipe_hup, "VFD_HUP of the pipe"))
		return;
	pump_until(w, &c->stream_done);
	{
		char first[64];
		uint32_t k = 0;

		while (k < sizeof(first) - 1 && k < w->pipe_len && w->pipe_buf[k] != '\n') {
			first[k] = w->pipe_buf[k];
			k++;
		}
		first[k] = '\0';
		printf("WL pipe: %u bytes, first line \"%s\"; stream %s\n", w->pipe_total, first,
		       !c->stream_done	? "open" :
		       c->stream_failed ? "failed" :
					  "complete");
		if (strncmp(first, "Weston scene graph at ", 22) || !c->stream_done ||
		    c->stream_failed) {
			fail(t, "the compositor's scene graph did not come through the pipe");
			return;
		}
	}
	if (wl_expect(t, w, mk_vfd(WL_CMD_VFD_CLOSE, PIPE_VFD), WL_RESP_OK, "VFD_CLOSE pipe 50") ||
	    wl_expect(t, w, mk_vfd(WL_CMD_VFD_CLOSE, 1), WL_RESP_OK, "VFD_CLOSE ctx 1"))
		return;
	wl_pass(t, w);
}

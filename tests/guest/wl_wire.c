// SPDX-License-Identifier: BSD-3-Clause
/*
 * The Wayland wire protocol of the wl tests (wl.h), over virtio-wayland
 * contexts: the compositor's events parsed as far as the tests follow
 * them, requests built into VFD_SENDs, registry and sync roundtrips, and
 * the bounded waits for them.
 */
#include "wl.h"

static void ctx_bad(struct wlctx *c, const char *why, uint32_t a, uint32_t b)
{
	if (!c->bad)
		snprintf(c->why, sizeof(c->why), "%s (%u, %u)", why, a, b);
	c->bad = true;
}

/* A Wayland string argument at @p (@left bytes): its length incl. padding, or 0 if bad. */
static uint32_t wl_string(const uint8_t *p, uint32_t left, char *out, size_t outsz)
{
	uint32_t n, padded;

	if (left < 4)
		return 0;
	n = get32(p);
	padded = 4 + ((n + 3) & ~3u);
	if (!n || n > left - 4 || padded > left || p[4 + n - 1] != '\0')
		return 0;
	if (outsz) {
		size_t k = n - 1 < outsz - 1 ? n - 1 : outsz - 1;

		memcpy(out, p + 4, k);
		out[k] = '\0';
	}
	return padded;
}

/* One whole Wayland event @m of @size bytes on connection @c. */
static void wl_event(struct wlctx *c, const uint8_t *m, uint32_t size)
{
	uint32_t obj = get32(m), op = get32(m + 4) & 0xffff;
	const uint8_t *a = m + 8;
	uint32_t left = size - 8;
	enum wl_obj type = obj < WL_NOBJ ? (enum wl_obj)c->type[obj] : OBJ_NONE;
	char s[64];

	switch (type) {
	case OBJ_DISPLAY:
		if (op == 0) { /* error(object, code, message) */
			if (left < 12 ||
			    !wl_string(a + 8, left - 8, c->err_msg, sizeof(c->err_msg))) {
				ctx_bad(c, "short wl_display.error", size, 0);
				return;
			}
			c->error = true;
			c->err_obj = get32(a);
			c->err_code = get32(a + 4);
			printf("WL ctx %u: wl_display.error object %u code %u: %s\n", c->vfd,
			       c->err_obj, c->err_code, c->err_msg);
		} else if (op == 1) { /* delete_id(id) */
			if (left >= 4 && get32(a) < WL_NOBJ)
				c->type[get32(a)] = OBJ_NONE;
		}
		return;
	case OBJ_REGISTRY:
		if (op == 0) { /* global(name, interface, version) */
			uint32_t n;

			if (left < 12 || !(n = wl_string(a + 4, left - 4, s, sizeof(s))) ||
			    left < 4 + n + 4) {
				ctx_bad(c, "short wl_registry.global", size, 0);
				return;
			}
			c->nglobals++;
			if (!c->quiet)
				printf("WL global %u %s %u\n", get32(a), s, get32(a + 4 + n));
			if (!strcmp(s, "wl_shm")) {
				c->shm_name = get32(a);
				c->shm_ver = get32(a + 4 + n);
			} else if (!strcmp(s, "xdg_wm_base")) {
				c->wm_name = get32(a);
			} else if (!strcmp(s, "wl_output")) {
				c->out_name = get32(a);
			} else if (!strcmp(s, "weston_debug_v1")) {
				c->dbg_name = get32(a);
			} else if (!strcmp(s, "weston_screenshooter")) {
				c->shot_name = get32(a);
			} else if (!strcmp(s, "wl_compositor")) {
				c->comp_name = get32(a);
				c->comp_ver = get32(a + 4 + n);
			}
		}
		return;
	case OBJ_CALLBACK:
		if (op == 0)
			c->done[obj / 64] |= 1ULL << (obj % 64);
		return;
	case OBJ_OUTPUT:
		if (op == 1 && left >= 16 && (get32(a) & 1)) { /* mode(flags, w, h, refresh) */
			c->out_w = get32(a + 4);
			c->out_h = get32(a + 8);
		}
		return;
	case OBJ_WM_BASE:
		if (op == 0 && left >= 4) { /* ping(serial) */
			c->ping_serial = get32(a);
			c->ping = true;
		}
		return;
	case OBJ_XDG_SURFACE:
		if (op == 0 && left >= 4) { /* configure(serial) */
			c->cfg_serial = get32(a);
			c->configured = true;
		}
		return;
	case OBJ_SHOOTER:
		if (op == 0)
			c->shot_done = true;
		return;
	case OBJ_DEBUG_STREAM:
		if (op == 0 || op == 1) { /* complete, failure(message) */
			c->stream_done = true;
			c->stream_failed = op == 1;
		}
		return;
	case OBJ_SHM:
		if (op == 0 && left >= 4) {
			c->shm_formats++;
			if (get32(a) == 0)
				c->argb = true;
		}
		return;
	default:
		return; /* wl_buffer.release and anything we do not follow */
	}
}

/* Appends @n bytes from the compositor to @c's stream and handles its whole messages. */
void wl_stream(struct wlctx *c, const uint8_t *p, uint32_t n)
{
	uint32_t off = 0;

	if (n > WL_STREAM - c->len) {
		ctx_bad(c, "stream buffer overflow", c->len, n);
		return;
	}
	memcpy(c->buf + c->len, p, n);
	c->len += n;
	if (c->raw)
		return;
	while (c->len - off >= 8 && !c->bad) {
		uint32_t size = get32(c->buf + off + 4) >> 16;

		if (size < 8 || (size & 3)) {
			ctx_bad(c, "event of bad size", size, get32(c->buf + off));
			break;
		}
		if (c->len - off < size)
			break; /* the rest comes in a later VFD_RECV */
		wl_event(c, c->buf + off, size);
		off += size;
	}
	if (off) {
		c->len -= off;
		for (uint32_t i = 0; i < c->len; i++)
			c->buf[i] = c->buf[off + i];
	}
}
/* ---- Wayland requests, built after a VFD_SEND header in cmd[] ---- */

void send_begin(struct wbuf *b, uint32_t ctx, const uint32_t *ids, uint32_t n)
{
	memset(cmd, 0, 16);
	put32(cmd, WL_CMD_VFD_SEND);
	put32(cmd + 8, ctx);
	put32(cmd + 12, n);
	for (uint32_t i = 0; i < n; i++)
		put32(cmd + 16 + 4 * i, ids[i]);
	b->len = 16 + 4 * n;
}

void w_u32(struct wbuf *b, uint32_t v)
{
	put32(cmd + b->len, v);
	b->len += 4;
}

void w_str(struct wbuf *b, const char *s)
{
	uint32_t n = (uint32_t)strlen(s) + 1;

	w_u32(b, n);
	memset(cmd + b->len, 0, (n + 3) & ~3u);
	memcpy(cmd + b->len, s, n);
	b->len += (n + 3) & ~3u;
}

void w_begin(struct wbuf *b, uint32_t obj, uint16_t op)
{
	b->open = b->len;
	w_u32(b, obj);
	w_u32(b, op);
}

void w_end(struct wbuf *b)
{
	uint32_t size = b->len - b->open;

	put32(cmd + b->open + 4, size << 16 | (get32(cmd + b->open + 4) & 0xffff));
}

void ctx_obj(struct wlctx *c, uint32_t id, enum wl_obj type)
{
	if (id < WL_NOBJ)
		c->type[id] = (uint8_t)type;
}

/* wl_display.sync(new_id @cb) */
void req_sync(struct wbuf *b, struct wlctx *c, uint32_t cb)
{
	w_begin(b, 1, 0);
	w_u32(b, cb);
	w_end(b);
	ctx_obj(c, cb, OBJ_CALLBACK);
}

void req_registries(struct wbuf *b, struct wlctx *c, uint32_t first, uint32_t n)
{
	for (uint32_t i = 0; i < n; i++) {
		w_begin(b, 1, 1); /* get_registry */
		w_u32(b, first + i);
		w_end(b);
		ctx_obj(c, first + i, OBJ_REGISTRY);
	}
}

bool cb_done(const struct wlctx *c, uint32_t cb)
{
	return cb < WL_NOBJ && (c->done[cb / 64] >> (cb % 64)) & 1;
}

/* Whether the wait is over: @cb done (cb != 0), a HUP, an error or a bad stream. */
bool ctx_settled(const struct wlctx *c, uint32_t cb)
{
	return (cb && cb_done(c, cb)) || c->hup || c->error || c->bad;
}

/* Pumps the in queue until ctx_settled(@c, @cb); -1 with FAIL printed on timeout. */
int ctx_wait(const char *t, struct wl *w, struct wlctx *c, uint32_t cb, const char *what)
{
	for (unsigned long i = 0; !ctx_settled(c, cb); i++) {
		if (i == WL_WAIT_POLLS) {
			fail(t,
			     "ctx %u: %s: nothing after %lu polls (%u VFD_RECVs so far, %u bytes "
			     "unparsed)",
			     c->vfd, what, WL_WAIT_POLLS, w->recvs, c->len);
			return -1;
		}
		if (!in_pump(w))
			cpu_relax();
	}
	return 0;
}

/* After a wait that should have ended with done(@cb): 0, or -1 with FAIL printed. */
int ctx_ok(const char *t, struct wlctx *c, uint32_t cb, const char *what)
{
	if (c->bad) {
		fail(t, "ctx %u: %s: compositor stream: %s", c->vfd, what, c->why);
		return -1;
	}
	if (c->error) {
		fail(t, "ctx %u: %s: wl_display.error object %u code %u: %s", c->vfd, what,
		     c->err_obj, c->err_code, c->err_msg);
		return -1;
	}
	if (c->hup) {
		fail(t, "ctx %u: %s: VFD_HUP (the compositor closed the connection)", c->vfd, what);
		return -1;
	}
	if (!(cb_done(c, cb))) {
		fail(t, "ctx %u: %s: no wl_callback.done", c->vfd, what);
		return -1;
	}
	return 0;
}

/* get_registry(@reg) + sync(@cb), waited for; wl_compositor and wl_shm must be there. */
int ctx_registry(const char *t, struct wl *w, struct wlctx *c, uint32_t reg, uint32_t cb)
{
	struct wbuf b;

	send_begin(&b, c->vfd, NULL, 0);
	req_registries(&b, c, reg, 1);
	req_sync(&b, c, cb);
	if (wl_expect(t, w, b.len, WL_RESP_OK, "VFD_SEND get_registry+sync") ||
	    ctx_wait(t, w, c, cb, "registry roundtrip") || ctx_ok(t, c, cb, "registry roundtrip"))
		return -1;
	printf("WL ctx %u: %u globals, wl_compositor name %u v%u, wl_shm name %u v%u\n", c->vfd,
	       c->nglobals, c->comp_name, c->comp_ver, c->shm_name, c->shm_ver);
	if (!c->comp_name || !c->shm_name) {
		fail(t, "ctx %u: the globals lack %s", c->vfd,
		     !c->comp_name ? "wl_compositor" : "wl_shm");
		return -1;
	}
	return 0;
}
struct wlctx *open_quiet_ctx(const char *t, struct wl *w)
{
	struct wlctx *c;

	if (wl_open(t, w) || !(c = ctx_new(t, w, 1)))
		return NULL;
	c->quiet = true;
	if (ctx_registry(t, w, c, OBJ_REG, OBJ_CB1))
		return NULL;
	return c;
}

/*
 * registry.bind(wl_shm) and wl_shm.create_pool(fd = VFD @vfd, @size), then
 * create_buffer(offset 0, 64 x @height, stride 256, ARGB8888) and sync(OBJ_CB2)
 * in one VFD_SEND carrying @vfd.
 */
int send_pool(const char *t, struct wl *w, struct wlctx *c, uint32_t vfd, uint32_t size,
	      int32_t height)
{
	struct wbuf b;

	send_begin(&b, c->vfd, &vfd, 1);
	w_begin(&b, OBJ_REG, 0); /* wl_registry.bind(name, interface, version, new_id) */
	w_u32(&b, c->shm_name);
	w_str(&b, "wl_shm");
	w_u32(&b, 1);
	w_u32(&b, OBJ_SHM_ID);
	w_end(&b);
	ctx_obj(c, OBJ_SHM_ID, OBJ_SHM);
	w_begin(&b, OBJ_SHM_ID, 0); /* wl_shm.create_pool(new_id, fd, size) */
	w_u32(&b, OBJ_POOL_ID);
	w_u32(&b, size);
	w_end(&b);
	ctx_obj(c, OBJ_POOL_ID, OBJ_POOL);
	w_begin(&b, OBJ_POOL_ID, 0); /* create_buffer(new_id, offset, w, h, stride, format) */
	w_u32(&b, OBJ_BUF_ID);
	w_u32(&b, 0);
	w_u32(&b, 64);
	w_u32(&b, (uint32_t)height);
	w_u32(&b, 256);
	w_u32(&b, 0); /* WL_SHM_FORMAT_ARGB8888 */
	w_end(&b);
	ctx_obj(c, OBJ_BUF_ID, OBJ_BUFFER);
	req_sync(&b, c, OBJ_CB2);
	return wl_expect(t, w, b.len, WL_RESP_OK, "VFD_SEND bind+create_pool+create_buffer+sync");
}

/* Open, context 1, registry roundtrip, VFD 4 of 8192 bytes with a pattern at *@off. */
struct wlctx *setup_pool_ctx(const char *t, struct wl *w, uint64_t *off)
{
	struct wlctx *c;

	if (wl_open(t, w) || !(c = ctx_new(t, w, 1)) || ctx_registry(t, w, c, OBJ_REG, OBJ_CB1))
		return NULL;
	if (shm_new(t, w, SHM_VFD, POOL_SIZE, off) ||
	    shm_pattern(t, w->shm + (uintptr_t)*off, POOL_SIZE, PATTERN4))
		return NULL;
	return c;
}
/* Pumps the in queue until *@flag, a HUP, an error or a bad stream; answers pings. */
int ctx_wait_flag(const char *t, struct wl *w, struct wlctx *c, const bool *flag, const char *what)
{
	for (unsigned long i = 0; !*flag && !c->hup && !c->error && !c->bad; i++) {
		if (i == WL_WAIT_POLLS) {
			fail(t, "ctx %u: %s: nothing after %lu polls", c->vfd, what, WL_WAIT_POLLS);
			return -1;
		}
		if (!in_pump(w))
			cpu_relax();
	}
	if (c->bad || c->error || c->hup) {
		fail(t, "ctx %u: %s: %s%s", c->vfd, what,
		     c->bad   ? "compositor stream: " :
		     c->error ? "wl_display.error: " :
				"VFD_HUP",
		     c->bad   ? c->why :
		     c->error ? c->err_msg :
				"");
		return -1;
	}
	return 0;
}

/* xdg_wm_base.pong for a ping that came (the shell may drop clients that do not answer). */
int ctx_pong(const char *t, struct wl *w, struct wlctx *c, uint32_t wm)
{
	struct wbuf b;

	if (!c->ping)
		return 0;
	c->ping = false;
	send_begin(&b, c->vfd, NULL, 0);
	w_begin(&b, wm, 3);
	w_u32(&b, c->ping_serial);
	w_end(&b);
	return wl_expect(t, w, b.len, WL_RESP_OK, "VFD_SEND pong");
}

void w_bind(struct wbuf *b, struct wlctx *c, uint32_t name, const char *iface, uint32_t ver,
	    uint32_t id, enum wl_obj type)
{
	w_begin(b, OBJ_REG, 0);
	w_u32(b, name);
	w_str(b, iface);
	w_u32(b, ver);
	w_u32(b, id);
	w_end(b);
	ctx_obj(c, id, type);
}
/* Waits (bounded) until @c holds @n raw bytes, or a HUP / error. */
int raw_wait(const char *t, struct wl *w, struct wlctx *c, uint32_t n, const char *what)
{
	for (unsigned long i = 0; c->len < n && !c->hup && !c->bad; i++) {
		if (i == WL_WAIT_POLLS) {
			fail(t, "ctx %u: %s: %u of %u bytes after %lu polls", c->vfd, what, c->len,
			     n, WL_WAIT_POLLS);
			return -1;
		}
		if (!in_pump(w))
			cpu_relax();
	}
	if (c->len < n) {
		fail(t, "ctx %u: %s: %u of %u bytes, then %s", c->vfd, what, c->len, n,
		     c->hup ? "VFD_HUP" : c->why);
		return -1;
	}
	return 0;
}

/* VFD_SEND of raw bytes @s (no VFDs) to @id. */
int send_raw(const char *t, struct wl *w, uint32_t id, const char *s, uint32_t want,
	     const char *what)
{
	struct wbuf b;
	uint32_t n = (uint32_t)strlen(s);

	send_begin(&b, id, NULL, 0);
	memcpy(cmd + b.len, s, n);
	return wl_expect(t, w, b.len + n, want, what);
}

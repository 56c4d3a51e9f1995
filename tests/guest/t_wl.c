// SPDX-License-Identifier: BSD-3-Clause
/*
 * virtio-wayland (1af4:107f, virtio device id 63; crosvm's virtio-wl and the
 * ChromeOS uapi linux/virtio_wl.h) driven from the guest, talking the
 * Wayland wire protocol to the compositor the host test started
 * (tests/integration/test_wl.c runs weston's headless backend).
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
 *   wl_shot: the guest's picture, shown fullscreen by the compositor, comes
 *	back byte for byte in a screenshot the compositor writes into another
 *	guest buffer (weston_screenshooter): shared memory in both directions.
 *   wl_flood: 200 get_registry at once while the guest stops reading: the
 *	in queue fills, commands are still answered, then every global arrives.
 *   wl_pipe: a guest-reads pipe (VFD_NEW_PIPE) as the fd of weston's
 *	debug stream: the scene graph weston writes arrives as VFD_RECVs on the
 *	pipe's id, its close as VFD_HUP.
 *   wl_host_fds: descriptors from the host side (a fake compositor of
 *	test_wl.c): two memfds (one sealed: read-only), two pipe ends.
 *   wl_reset: a device reset mid-session forgets every VFD and unmaps the
 *	buffers; then everything works again from scratch.
 *   wl_noshm, wl_legacy: the pool test without USE_SHMEM (guest-physical
 *	pfns), and also without TRANS_FLAGS (the old VFD flags).
 *   wl_bar_move: BAR 2 moved by the guest with a buffer mapped: its bytes
 *	follow to the new address; new buffers work there.
 *   wl_held: a peer that never reads: a VFD_SEND the device holds is freed
 *	by a device reset, and finished with an error when the peer closes.
 *   wl_many: buffers until OUT_OF_MEMORY (64 or more first); no context
 *	then either; a freed slot is reused; after closing all, 64 MiB fits.
 *   wl_chains: indirect and split chains (a 3-part VFD_SEND, a VFD_NEW and
 *	its response split in two), 16-byte in buffers given back empty.
 *   wl_event_idx: with VIRTIO_RING_F_EVENT_IDX negotiated, 40 commands in a
 *	row and more globals than posted in buffers must all get through.
 *   wl_msix: the same roundtrip driven by MSI-X interrupts (in queue 0x40,
 *	out queue 0x42), the guest asleep in hlt meanwhile.
 *   wl_spurious: with MSI-X, no interrupt at DRIVER_OK, and the out queue's
 *	vector once per answer, not for in-queue traffic.
 *   wl_compositor_gone: a context does a roundtrip and prints "WL ready";
 *	the host then kills the compositor: the context must get VFD_HUP, a
 *	new VFD_NEW_CTX an error response, and memory VFDs must still work.
 *   wl_absent: passes when there is no 1af4:107f function.
 *
 * Everything is polled; every wait is bounded.
 */
#include "hw.h"

#define WL_DEVICE 0x107f /* 0x1040 + 63 */

#define VIRTIO_WL_F_TRANS_FLAGS 1
#define VIRTIO_WL_F_USE_SHMEM 3

#define WL_CMD_VFD_NEW 0x100
#define WL_CMD_VFD_CLOSE 0x101
#define WL_CMD_VFD_SEND 0x102
#define WL_CMD_VFD_RECV 0x103
#define WL_CMD_VFD_NEW_CTX 0x104
#define WL_CMD_VFD_NEW_PIPE 0x105
#define WL_CMD_VFD_HUP 0x106
#define WL_CMD_VFD_NEW_DMABUF 0x107
#define WL_CMD_VFD_NEW_CTX_NAMED 0x10a
#define WL_RESP_OK 0x1000
#define WL_RESP_VFD_NEW 0x1001
#define WL_RESP_ERR 0x1100
#define WL_RESP_OUT_OF_MEMORY 0x1101
#define WL_RESP_INVALID_ID 0x1102
#define WL_RESP_INVALID_TYPE 0x1103
#define WL_RESP_INVALID_FLAGS 0x1104
#define WL_RESP_INVALID_CMD 0x1105

#define WL_VFD_WRITE 0x1
#define WL_VFD_READ 0x2
#define WL_VFD_MAP 0x2 /* without TRANS_FLAGS */
#define WL_VFD_CONTROL 0x4
#define WL_HOST_ID 0x40000000u
#define WL_SEND_MAX 28

#define PCI_CAP_SHM 8 /* VIRTIO_PCI_CAP_SHARED_MEMORY_CFG */

#define IN_BUF 4096
#define WL_STREAM 8192 /* per-connection buffer of not yet parsed Wayland bytes */
#define WL_NCTX 4
#define WL_NOBJ 256
#define WL_WAIT_POLLS 1500000UL /* 10-45 s: a poll may be a PAUSE exit */

/* Wayland object types, as far as we follow them. */
enum wl_obj {
	OBJ_NONE,
	OBJ_DISPLAY,
	OBJ_REGISTRY,
	OBJ_CALLBACK,
	OBJ_SHM,
	OBJ_POOL,
	OBJ_BUFFER,
	OBJ_OUTPUT,
	OBJ_WM_BASE,
	OBJ_XDG_SURFACE,
	OBJ_TOPLEVEL,
	OBJ_SHOOTER,
	OBJ_DEBUG,
	OBJ_DEBUG_STREAM,
	OBJ_OTHER,
};

struct wlctx {
	bool used, hup;
	uint32_t vfd;
	uint8_t type[WL_NOBJ];	     /* enum wl_obj of each object id we created */
	uint64_t done[WL_NOBJ / 64]; /* callbacks whose done arrived (a bitmap) */
	uint32_t shm_name, shm_ver, comp_name, comp_ver;
	uint32_t wm_name, out_name, shot_name; /* xdg_wm_base, wl_output, weston_screenshooter */
	uint32_t out_w, out_h;		       /* wl_output's current mode */
	uint32_t cfg_serial, ping_serial;
	bool configured, ping, shot_done;
	uint32_t dbg_name; /* weston_debug_v1 (weston --debug) */
	bool stream_done;  /* weston_debug_stream_v1.complete or .failure */
	bool stream_failed;
	unsigned int nglobals, shm_formats, host_vfds;
	bool argb;  /* wl_shm announced format 0 */
	bool error; /* wl_display.error arrived */
	uint32_t err_obj, err_code;
	char err_msg[96];
	bool bad; /* the byte stream did not parse */
	char why[96];
	bool quiet;			 /* do not print the globals */
	bool raw;			 /* not Wayland: keep the bytes, do not parse */
	uint32_t recv_ids[4], nrecv_ids; /* the VFD ids of the last VFD_RECV with any */
	uint32_t len;
	uint8_t buf[WL_STREAM];
};

struct wl {
	struct vdev d;
	struct vq *in, *out;
	uintptr_t shm;	  /* guest address of the shared-memory region, 0: none */
	uint64_t shm_len; /* its length */
	uint16_t in_kicked;
	unsigned int recvs, hups, stray; /* in-queue messages seen; for unknown vfds */
	bool hold;			 /* wl_cmd() leaves the in queue alone */
	unsigned int empties;		 /* in buffers given back with nothing in them */
	uint32_t pipe_id;		 /* a guest-reads pipe VFD, 0: none */
	uint32_t pipe_len, pipe_total;	 /* bytes kept in pipe_buf, bytes received */
	bool pipe_hup;
	char pipe_buf[1024];
	struct hostvfd {
		uint32_t id, flags, size;
		uint64_t pfn;
		bool hup;
	} host[8]; /* VFDs the host side passed (VFD_NEW on the in queue) */
	unsigned int nhost;
	struct wlctx c[WL_NCTX];
};

static uint8_t inbufs[VQ_RING][IN_BUF] __attribute__((aligned(4096)));
static uint8_t cmd[4096] __attribute__((aligned(64)));
static uint8_t resp[256] __attribute__((aligned(64)));
static struct wl wl0;

static inline void put32(uint8_t *p, uint32_t v)
{
	memcpy(p, &v, 4);
}

static inline uint32_t get32(const uint8_t *p)
{
	uint32_t v;

	memcpy(&v, p, 4);
	return v;
}

static inline uint64_t get64(const uint8_t *p)
{
	uint64_t v;

	memcpy(&v, p, 8);
	return v;
}

static const char *resp_name(uint32_t type)
{
	switch (type) {
	case WL_RESP_OK:
		return "OK";
	case WL_RESP_VFD_NEW:
		return "VFD_NEW";
	case WL_RESP_ERR:
		return "ERR";
	case WL_RESP_OUT_OF_MEMORY:
		return "OUT_OF_MEMORY";
	case WL_RESP_INVALID_ID:
		return "INVALID_ID";
	case WL_RESP_INVALID_TYPE:
		return "INVALID_TYPE";
	case WL_RESP_INVALID_FLAGS:
		return "INVALID_FLAGS";
	case WL_RESP_INVALID_CMD:
		return "INVALID_CMD";
	}
	return "?";
}

static bool resp_is_err(uint32_t type)
{
	return type >= WL_RESP_ERR && type <= WL_RESP_INVALID_CMD;
}

/* ---- the in queue: device -> guest ---- */

static void in_post(struct wl *w, unsigned int i)
{
	struct vq *q = w->in;

	q->avail->ring[q->avail_idx % q->size] = (uint16_t)i;
	barrier();
	q->avail_idx++;
	*(volatile uint16_t *)&q->avail->idx = q->avail_idx;
}

static void in_kick(struct wl *w)
{
	if (w->in->avail_idx != w->in_kicked) {
		vq_kick(w->in, w->in_kicked);
		w->in_kicked = w->in->avail_idx;
	}
}

static struct wlctx *ctx_find(struct wl *w, uint32_t vfd)
{
	for (unsigned int i = 0; i < WL_NCTX; i++)
		if (w->c[i].used && w->c[i].vfd == vfd)
			return &w->c[i];
	return NULL;
}

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
static void wl_stream(struct wlctx *c, const uint8_t *p, uint32_t n)
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

static struct hostvfd *host_find(struct wl *w, uint32_t id)
{
	for (unsigned int i = 0; i < w->nhost; i++)
		if (w->host[i].id == id)
			return &w->host[i];
	return NULL;
}

/* One in-queue message of @len bytes. */
static void in_msg(struct wl *w, const uint8_t *m, uint32_t len)
{
	uint32_t type = len >= 8 ? get32(m) : 0;
	struct wlctx *c;

	if (!len) { /* a buffer too small for the message it was popped for */
		w->empties++;
		return;
	}
	switch (type) {
	case WL_CMD_VFD_RECV: {
		uint32_t n;

		if (len < 16 || (n = get32(m + 12)) > WL_SEND_MAX || 16 + 4 * n > len) {
			printf("WL in: malformed VFD_RECV of %u bytes\n", len);
			w->stray++;
			return;
		}
		w->recvs++;
		if ((w->pipe_id && get32(m + 8) == w->pipe_id) || host_find(w, get32(m + 8))) {
			uint32_t k = len - 16 - 4 * n, room = sizeof(w->pipe_buf) - 1 - w->pipe_len;

			memcpy(w->pipe_buf + w->pipe_len, m + 16 + 4 * n, k < room ? k : room);
			w->pipe_len += k < room ? k : room;
			w->pipe_buf[w->pipe_len] = '\0';
			w->pipe_total += k;
			if (n)
				w->stray++;
			return;
		}
		c = ctx_find(w, get32(m + 8));
		if (!c) {
			printf("WL in: VFD_RECV for unknown vfd 0x%x\n", get32(m + 8));
			w->stray++;
			return;
		}
		c->host_vfds += n;
		if (n) {
			c->nrecv_ids = n;
			for (uint32_t i = 0; i < n && i < ARRAY_SIZE(c->recv_ids); i++)
				c->recv_ids[i] = get32(m + 16 + 4 * i);
		}
		wl_stream(c, m + 16 + 4 * n, len - 16 - 4 * n);
		return;
	}
	case WL_CMD_VFD_NEW:
		/* An fd the compositor passed: announced before the VFD_RECV carrying it. */
		if (len >= 16)
			printf("WL in: host VFD_NEW id 0x%x flags 0x%x\n", get32(m + 8),
			       get32(m + 12));
		if (len < 16 || !(get32(m + 8) & WL_HOST_ID)) {
			w->stray++;
			return;
		}
		if (w->nhost < ARRAY_SIZE(w->host)) {
			struct hostvfd *h = &w->host[w->nhost++];

			h->id = get32(m + 8);
			h->flags = get32(m + 12);
			h->pfn = len >= 32 ? get64(m + 16) : 0;
			h->size = len >= 32 ? get32(m + 24) : 0;
			h->hup = false;
		}
		return;
	case WL_CMD_VFD_HUP:
		w->hups++;
		if (w->pipe_id && len >= 12 && get32(m + 8) == w->pipe_id) {
			printf("WL in: VFD_HUP pipe %u\n", w->pipe_id);
			w->pipe_hup = true;
			return;
		}
		if (len >= 12 && host_find(w, get32(m + 8))) {
			printf("WL in: VFD_HUP host vfd 0x%x\n", get32(m + 8));
			host_find(w, get32(m + 8))->hup = true;
			w->pipe_hup = true;
			return;
		}
		c = len >= 12 ? ctx_find(w, get32(m + 8)) : NULL;
		if (!c) {
			printf("WL in: VFD_HUP for unknown vfd 0x%x\n",
			       len >= 12 ? get32(m + 8) : 0);
			w->stray++;
			return;
		}
		printf("WL in: VFD_HUP ctx %u\n", c->vfd);
		c->hup = true;
		return;
	default:
		printf("WL in: message type 0x%x of %u bytes\n", type, len);
		w->stray++;
	}
}

/* Handles the used in-queue buffers; returns how many. */
static unsigned int in_pump(struct wl *w)
{
	struct vq *q = w->in;
	unsigned int n = 0;

	while (vq_used_ready(q)) {
		uint32_t id, len;

		barrier();
		id = q->used->ring[q->last_used % q->size].id;
		len = q->used->ring[q->last_used % q->size].len;
		q->last_used++;
		if (id >= VQ_RING) {
			printf("WL in: used id %u\n", id);
			w->stray++;
			continue;
		}
		in_msg(w, inbufs[id], len > IN_BUF ? IN_BUF : len);
		in_post(w, id);
		n++;
	}
	if (n)
		in_kick(w);
	return n;
}

/* ---- the out queue: guest -> device commands ---- */

/*
 * One command of @len bytes in cmd[], answered in resp[] (@rlen writable
 * bytes). Returns the response type (0 when the device wrote fewer than 8
 * bytes), or -1 with FAIL printed.
 */
static int64_t wl_cmd(const char *t, struct wl *w, uint32_t len, uint32_t rlen)
{
	struct vq_buf v[2] = { { cmd, len, false }, { resp, rlen, true } };
	uint32_t used;

	memset(resp, 0xee, sizeof(resp));
	if (vq_request(t, w->out, v, 2, &used))
		return -1;
	if (!w->hold)
		in_pump(w); /* keep the in queue moving */
	if (used < 8)
		return 0;
	return get32(resp);
}

/* A command expected to answer @want; returns 0 or -1 with FAIL printed. */
static int wl_expect(const char *t, struct wl *w, uint32_t len, uint32_t want, const char *what)
{
	int64_t r = wl_cmd(t, w, len, sizeof(resp));

	if (r < 0)
		return -1;
	printf("WL %s -> %s (0x%x)\n", what, resp_name((uint32_t)r), (uint32_t)r);
	if (r != want) {
		fail(t, "%s answered 0x%x (%s), want 0x%x (%s)", what, (uint32_t)r,
		     resp_name((uint32_t)r), want, resp_name(want));
		return -1;
	}
	return 0;
}

/* A command expected to fail with any error response; returns 0 or -1 with FAIL printed. */
static int wl_expect_err(const char *t, struct wl *w, uint32_t len, const char *what)
{
	int64_t r = wl_cmd(t, w, len, sizeof(resp));

	if (r < 0)
		return -1;
	printf("WL %s -> %s (0x%x)\n", what, resp_name((uint32_t)r), (uint32_t)r);
	if (!resp_is_err((uint32_t)r)) {
		fail(t, "%s answered 0x%x (%s), want an error response", what, (uint32_t)r,
		     resp_name((uint32_t)r));
		return -1;
	}
	return 0;
}

/* cmd[] = the 64-byte virtio_wl_ctrl_vfd_new. */
static uint32_t mk_vfd_new(uint32_t type, uint32_t id, uint32_t flags, uint32_t size)
{
	memset(cmd, 0, 64);
	put32(cmd, type);
	put32(cmd + 8, id);
	put32(cmd + 12, flags);
	put32(cmd + 24, size);
	return 64;
}

/* cmd[] = {hdr, id} (VFD_CLOSE and friends). */
static uint32_t mk_vfd(uint32_t type, uint32_t id)
{
	memset(cmd, 0, 12);
	put32(cmd, type);
	put32(cmd + 8, id);
	return 12;
}

/* ---- Wayland requests, built after a VFD_SEND header in cmd[] ---- */

struct wbuf {
	uint32_t len;  /* bytes in cmd[] so far */
	uint32_t open; /* offset of the message being built */
};

static void send_begin(struct wbuf *b, uint32_t ctx, const uint32_t *ids, uint32_t n)
{
	memset(cmd, 0, 16);
	put32(cmd, WL_CMD_VFD_SEND);
	put32(cmd + 8, ctx);
	put32(cmd + 12, n);
	for (uint32_t i = 0; i < n; i++)
		put32(cmd + 16 + 4 * i, ids[i]);
	b->len = 16 + 4 * n;
}

static void w_u32(struct wbuf *b, uint32_t v)
{
	put32(cmd + b->len, v);
	b->len += 4;
}

static void w_str(struct wbuf *b, const char *s)
{
	uint32_t n = (uint32_t)strlen(s) + 1;

	w_u32(b, n);
	memset(cmd + b->len, 0, (n + 3) & ~3u);
	memcpy(cmd + b->len, s, n);
	b->len += (n + 3) & ~3u;
}

static void w_begin(struct wbuf *b, uint32_t obj, uint16_t op)
{
	b->open = b->len;
	w_u32(b, obj);
	w_u32(b, op);
}

static void w_end(struct wbuf *b)
{
	uint32_t size = b->len - b->open;

	put32(cmd + b->open + 4, size << 16 | (get32(cmd + b->open + 4) & 0xffff));
}

static void ctx_obj(struct wlctx *c, uint32_t id, enum wl_obj type)
{
	if (id < WL_NOBJ)
		c->type[id] = (uint8_t)type;
}

/* wl_display.sync(new_id @cb) */
static void req_sync(struct wbuf *b, struct wlctx *c, uint32_t cb)
{
	w_begin(b, 1, 0);
	w_u32(b, cb);
	w_end(b);
	ctx_obj(c, cb, OBJ_CALLBACK);
}

/* ---- device setup ---- */

/* The shared-memory capability (type 8, shmid 0): region address and length. */
static int find_shm(const char *t, struct wl *w)
{
	uint32_t bdf = w->d.bdf;
	unsigned int ptr = pci_read8(bdf, 0x34) & 0xfc, n = 0;

	while (ptr && n++ < 48) {
		uint32_t h = pci_read32(bdf, ptr);

		if ((uint8_t)h == 0x09 && (uint8_t)(h >> 24) == PCI_CAP_SHM) {
			uint8_t clen = (uint8_t)(h >> 16);
			uint32_t bs = pci_read32(bdf, ptr + 4);
			uint8_t bar = (uint8_t)bs, shmid = (uint8_t)(bs >> 8);
			uint64_t off, len, base;
			char why[128];

			if (clen < 24) {
				fail(t, "shared-memory capability of %u bytes, want 24", clen);
				return -1;
			}
			off = pci_read32(bdf, ptr + 8) | (uint64_t)pci_read32(bdf, ptr + 16) << 32;
			len = pci_read32(bdf, ptr + 12) | (uint64_t)pci_read32(bdf, ptr + 20) << 32;
			printf("WL shm cap: bar %u shmid %u offset 0x%llx length 0x%llx\n", bar,
			       shmid, (unsigned long long)off, (unsigned long long)len);
			if (shmid != 0) {
				ptr = (h >> 8) & 0xfc;
				continue;
			}
			if (bar != 2) {
				fail(t, "shared memory in BAR%u, want BAR2", bar);
				return -1;
			}
			base = pci_bar_addr(bdf, bar, why, sizeof(why));
			if (!base) {
				fail(t, "shared-memory BAR: %s", why);
				return -1;
			}
			if (!len || len & 4095 || off & 4095) {
				fail(t, "shared memory offset 0x%llx length 0x%llx",
				     (unsigned long long)off, (unsigned long long)len);
				return -1;
			}
			if (base + off + len > 0x100000000ULL) {
				fail(t, "shared memory at 0x%llx + 0x%llx is above 4 GiB",
				     (unsigned long long)(base + off), (unsigned long long)len);
				return -1;
			}
			w->shm = (uintptr_t)(base + off);
			w->shm_len = len;
			printf("WL shm at 0x%llx, 0x%llx bytes\n", (unsigned long long)w->shm,
			       (unsigned long long)len);
			return 0;
		}
		ptr = (h >> 8) & 0xfc;
	}
	fail(t, "no shared-memory capability (virtio cap type 8) with shmid 0");
	return -1;
}

/* wl_chains: every even in buffer (the first posted, too) only SMALL_IN bytes long. */
#define SMALL_IN 16
static bool wl_small_even;

/* wl_msix: MSI-X entries 0 (in queue) and 1 (out queue) instead of polling only. */
#define WL_VEC_IN 0x40
#define WL_VEC_TIMER 0x41
#define WL_VEC_OUT 0x42
static bool wl_msix;

/* The device features wl_open() asks for (wl_noshm and wl_legacy ask for fewer). */
static uint64_t wl_want = 1ULL << VIRTIO_WL_F_TRANS_FLAGS | 1ULL << VIRTIO_WL_F_USE_SHMEM;

static int wl_open(const char *t, struct wl *w)
{
	uint64_t want = wl_want;
	uint32_t bdf;

	memset(w, 0, sizeof(*w));
	if (pci_find(0x1af4, WL_DEVICE, &bdf, 1) != 1) {
		fail(t, "no virtio-wayland PCI function (1af4:%04x)", WL_DEVICE);
		return -1;
	}
	if (vdev_probe(&w->d, bdf) || vdev_negotiate(&w->d, want, want) ||
	    (wl_msix &&
	     (vdev_msix_enable(&w->d, 0, WL_VEC_IN) || vdev_msix_enable(&w->d, 1, WL_VEC_OUT))) ||
	    vdev_setup_vq(&w->d, 0, wl_msix ? 0 : VIRTIO_MSI_NO_VECTOR) ||
	    vdev_setup_vq(&w->d, 1, wl_msix ? 1 : VIRTIO_MSI_NO_VECTOR) || vdev_driver_ok(&w->d)) {
		fail(t, "%s", virtio_err);
		return -1;
	}
	printf("VIRTIO %02x.%x features offered 0x%llx accepted 0x%llx queues %u\n",
	       (bdf >> 3) & 31, bdf & 7, (unsigned long long)w->d.dev_features,
	       (unsigned long long)w->d.features, w->d.num_queues);
	if (w->d.num_queues < 2) {
		fail(t, "%u queues, want 2 (in, out)", w->d.num_queues);
		return -1;
	}
	if (find_shm(t, w))
		return -1;
	w->in = &w->d.vqs[0];
	w->out = &w->d.vqs[1];
	for (unsigned int i = 0; i < w->in->size; i++)
		w->in->desc[i] = (struct vring_desc){ (uintptr_t)inbufs[i],
						      wl_small_even && !(i % 2) ? SMALL_IN : IN_BUF,
						      VRING_DESC_F_WRITE, 0 };
	for (unsigned int i = 0; i < w->in->size; i++)
		in_post(w, i);
	in_kick(w);
	return 0;
}

/*
 * VFD_NEW_CTX @id: a new connection to the compositor, tracked in w->c[].
 * The slot is taken before the command: the compositor may speak first, and
 * its bytes may be on the in queue before the response is.
 */
static struct wlctx *ctx_new(const char *t, struct wl *w, uint32_t id)
{
	struct wlctx *c = NULL;
	int64_t r;

	for (unsigned int i = 0; i < WL_NCTX && !c; i++)
		if (!w->c[i].used)
			c = &w->c[i];
	if (!c) {
		fail(t, "out of context slots");
		return NULL;
	}
	memset(c, 0, sizeof(*c) - WL_STREAM);
	c->used = true;
	c->vfd = id;
	c->type[1] = OBJ_DISPLAY;
	r = wl_cmd(t, w, mk_vfd_new(WL_CMD_VFD_NEW_CTX, id, 0, 0), sizeof(resp));
	if (r < 0)
		goto fail;
	printf("WL VFD_NEW_CTX %u -> %s (0x%x) id %u flags 0x%x\n", id, resp_name((uint32_t)r),
	       (uint32_t)r, get32(resp + 8), get32(resp + 12));
	if (r != WL_RESP_VFD_NEW) {
		fail(t, "VFD_NEW_CTX %u answered 0x%x (%s), want RESP_VFD_NEW", id, (uint32_t)r,
		     resp_name((uint32_t)r));
		goto fail;
	}
	if (get32(resp + 8) != id) {
		fail(t, "VFD_NEW_CTX %u answered for id %u", id, get32(resp + 8));
		goto fail;
	}
	if (vdev_has(&w->d, VIRTIO_WL_F_TRANS_FLAGS) &&
	    (get32(resp + 12) & (WL_VFD_READ | WL_VFD_WRITE)) != (WL_VFD_READ | WL_VFD_WRITE)) {
		fail(t, "VFD_NEW_CTX %u: flags 0x%x, want READ|WRITE", id, get32(resp + 12));
		goto fail;
	}
	if (!vdev_has(&w->d, VIRTIO_WL_F_TRANS_FLAGS) && get32(resp + 12) != WL_VFD_CONTROL) {
		fail(t, "VFD_NEW_CTX %u without TRANS_FLAGS: flags 0x%x, want CONTROL (0x4)", id,
		     get32(resp + 12));
		goto fail;
	}
	return c;
fail:
	c->used = false;
	return NULL;
}

static bool cb_done(const struct wlctx *c, uint32_t cb)
{
	return cb < WL_NOBJ && (c->done[cb / 64] >> (cb % 64)) & 1;
}

/* Whether the wait is over: @cb done (cb != 0), a HUP, an error or a bad stream. */
static bool ctx_settled(const struct wlctx *c, uint32_t cb)
{
	return (cb && cb_done(c, cb)) || c->hup || c->error || c->bad;
}

/* Pumps the in queue until ctx_settled(@c, @cb); -1 with FAIL printed on timeout. */
static int ctx_wait(const char *t, struct wl *w, struct wlctx *c, uint32_t cb, const char *what)
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
static int ctx_ok(const char *t, struct wlctx *c, uint32_t cb, const char *what)
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
static int ctx_registry(const char *t, struct wl *w, struct wlctx *c, uint32_t reg, uint32_t cb)
{
	struct wbuf b;

	send_begin(&b, c->vfd, NULL, 0);
	w_begin(&b, 1, 1); /* wl_display.get_registry(new_id) */
	w_u32(&b, reg);
	w_end(&b);
	ctx_obj(c, reg, OBJ_REGISTRY);
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

/* VFD_NEW @id of @size bytes; its offset in the region into *@off. */
static int shm_new(const char *t, struct wl *w, uint32_t id, uint32_t size, uint64_t *off)
{
	uint64_t pfn;
	uint32_t got;
	/* Without TRANS_FLAGS the old flags: WRITE | MAP for a buffer the guest maps. */
	uint32_t flags = vdev_has(&w->d, VIRTIO_WL_F_TRANS_FLAGS) ? 0 : WL_VFD_WRITE | WL_VFD_MAP;
	int64_t r = wl_cmd(t, w, mk_vfd_new(WL_CMD_VFD_NEW, id, flags, size), sizeof(resp));

	if (r < 0)
		return -1;
	pfn = get64(resp + 16);
	got = get32(resp + 24);
	printf("WL VFD_NEW %u size %u -> %s (0x%x) id %u flags 0x%x pfn 0x%llx size %u\n", id, size,
	       resp_name((uint32_t)r), (uint32_t)r, get32(resp + 8), get32(resp + 12),
	       (unsigned long long)pfn, got);
	if (r != WL_RESP_VFD_NEW) {
		fail(t, "VFD_NEW %u answered 0x%x (%s)", id, (uint32_t)r, resp_name((uint32_t)r));
		return -1;
	}
	if (get32(resp + 8) != id) {
		fail(t, "VFD_NEW %u answered for id %u", id, get32(resp + 8));
		return -1;
	}
	if (got != ((size + 4095) & ~4095u)) {
		fail(t, "VFD_NEW %u of %u bytes: size %u", id, size, got);
		return -1;
	}
	if (!vdev_has(&w->d, VIRTIO_WL_F_USE_SHMEM)) {
		/* Without USE_SHMEM the pfn is guest-physical. */
		if ((pfn << 12) < w->shm || (pfn << 12) + got > w->shm + w->shm_len) {
			fail(t,
			     "VFD_NEW %u: guest-physical pfn 0x%llx + %u bytes is outside the "
			     "region at 0x%llx",
			     id, (unsigned long long)pfn, got, (unsigned long long)w->shm);
			return -1;
		}
		*off = (pfn << 12) - w->shm;
		return 0;
	}
	if (pfn > (w->shm_len >> 12) || (pfn << 12) + got > w->shm_len) {
		fail(t, "VFD_NEW %u: pfn 0x%llx + %u bytes is outside the 0x%llx-byte region", id,
		     (unsigned long long)pfn, got, (unsigned long long)w->shm_len);
		return -1;
	}
	*off = pfn << 12;
	return 0;
}

/* Writes a pattern (seeded by @seed) over @len bytes at @p and reads it back. */
static int shm_pattern(const char *t, uintptr_t p, uint32_t len, uint64_t seed)
{
	volatile uint64_t *q = (volatile uint64_t *)p;

	for (uint32_t i = 0; i < len / 8; i++)
		q[i] = seed ^ ((uint64_t)i * 0x9e3779b97f4a7c15ULL);
	for (uint32_t i = 0; i < len / 8; i++) {
		if (q[i] != (seed ^ ((uint64_t)i * 0x9e3779b97f4a7c15ULL))) {
			fail(t, "shared memory at 0x%llx: qword %u reads 0x%llx after the write",
			     (unsigned long long)p, i, (unsigned long long)q[i]);
			return -1;
		}
	}
	return 0;
}

/*
 * Object ids: libwayland-server wants a client's new ids in order, without
 * gaps (wl_map_reserve_new), so they are numbered as they are created.
 */
#define OBJ_REG 2
#define OBJ_CB1 3
#define OBJ_SHM_ID 4
#define OBJ_POOL_ID 5
#define OBJ_BUF_ID 6
#define OBJ_CB2 7
#define OBJ_CB3 8
#define SHM_VFD 4
#define POOL_SIZE 8192

/*
 * registry.bind(wl_shm) and wl_shm.create_pool(fd = VFD @vfd, @size), then
 * create_buffer(offset 0, 64 x @height, stride 256, ARGB8888) and sync(OBJ_CB2)
 * in one VFD_SEND carrying @vfd.
 */
static int send_pool(const char *t, struct wl *w, struct wlctx *c, uint32_t vfd, uint32_t size,
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

#define PATTERN4 0x574c574c574c574cULL

/* Open, context 1, registry roundtrip, VFD 4 of 8192 bytes with a pattern at *@off. */
static struct wlctx *setup_pool_ctx(const char *t, struct wl *w, uint64_t *off)
{
	struct wlctx *c;

	if (wl_open(t, w) || !(c = ctx_new(t, w, 1)) || ctx_registry(t, w, c, OBJ_REG, OBJ_CB1))
		return NULL;
	if (shm_new(t, w, SHM_VFD, POOL_SIZE, off) ||
	    shm_pattern(t, w->shm + (uintptr_t)*off, POOL_SIZE, PATTERN4))
		return NULL;
	return c;
}

void test_wl(const struct boot_params *bp)
{
	const char *t = "wl";
	struct wl *w = &wl0;
	struct wlctx *c;
	uint64_t off4, off9;

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
	{
		volatile uint64_t *q = (volatile uint64_t *)(w->shm + (uintptr_t)off4);

		for (uint32_t i = 0; i < POOL_SIZE / 8; i++) {
			if (q[i] != (PATTERN4 ^ ((uint64_t)i * 0x9e3779b97f4a7c15ULL))) {
				fail(t, "VFD 4 qword %u changed to 0x%llx", i,
				     (unsigned long long)q[i]);
				return;
			}
		}
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
	if (w->stray) {
		fail(t, "%u unexpected in-queue messages", w->stray);
		return;
	}
	pass(t);
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
	{
		unsigned long i;

		for (i = 0; !c->hup && i < WL_WAIT_POLLS; i++)
			if (!in_pump(w))
				cpu_relax();
		if (!c->hup) {
			fail(t, "no VFD_HUP for ctx %u after wl_display.error", c->vfd);
			return;
		}
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
		for (unsigned long i = 0; !c->hup && i < WL_WAIT_POLLS; i++)
			if (!in_pump(w))
				cpu_relax();
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
	if (w->stray) {
		fail(t, "%u unexpected in-queue messages", w->stray);
		return;
	}
	pass(t);
}

/* Pumps the in queue until *@flag, a HUP, an error or a bad stream; answers pings. */
static int ctx_wait_flag(const char *t, struct wl *w, struct wlctx *c, const bool *flag,
			 const char *what)
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
static int ctx_pong(const char *t, struct wl *w, struct wlctx *c, uint32_t wm)
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

static void w_bind(struct wbuf *b, struct wlctx *c, uint32_t name, const char *iface, uint32_t ver,
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
	if (wl_open(t, w) || !(c = ctx_new(t, w, 1)))
		return;
	c->quiet = true;
	if (ctx_registry(t, w, c, OBJ_REG, OBJ_CB1))
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
	if (wl_open(t, w) || !(c = ctx_new(t, w, 1)))
		return;
	c->quiet = true;
	if (ctx_registry(t, w, c, OBJ_REG, OBJ_CB1))
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
	for (unsigned long i = 0; !c->stream_done && i < WL_WAIT_POLLS; i++)
		if (!in_pump(w))
			cpu_relax();
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
	if (w->stray) {
		fail(t, "%u unexpected in-queue messages", w->stray);
		return;
	}
	pass(t);
}

/* Waits (bounded) until @c holds @n raw bytes, or a HUP / error. */
static int raw_wait(const char *t, struct wl *w, struct wlctx *c, uint32_t n, const char *what)
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
static int send_raw(const char *t, struct wl *w, uint32_t id, const char *s, uint32_t want,
		    const char *what)
{
	struct wbuf b;
	uint32_t n = (uint32_t)strlen(s);

	send_begin(&b, id, NULL, 0);
	memcpy(cmd + b.len, s, n);
	return wl_expect(t, w, b.len + n, want, what);
}

/*
 * Descriptors from the host side (tests/integration/test_wl.c's fake
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
	for (unsigned long i = 0; !pr->hup && i < WL_WAIT_POLLS; i++)
		if (!in_pump(w))
			cpu_relax();
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
	for (unsigned long i = 0; !c->hup && i < WL_WAIT_POLLS; i++)
		if (!in_pump(w))
			cpu_relax();
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
	if (w->stray) {
		fail(t, "%u unexpected in-queue messages", w->stray);
		return;
	}
	pass(t);
}

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
	for (uint32_t i = 0; i < POOL_SIZE / 8; i++) {
		if (q[i] != (PATTERN4 ^ ((uint64_t)i * 0x9e3779b97f4a7c15ULL))) {
			fail(t, "after the move, buffer 4 qword %u reads 0x%llx at 0x%llx", i,
			     (unsigned long long)q[i], (unsigned long long)(uintptr_t)&q[i]);
			return;
		}
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
 * A peer that never reads (test_wl.c's fake compositor in hold mode): the
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
	for (unsigned long i = 0; !c->hup && i < WL_WAIT_POLLS; i++)
		if (!in_pump(w))
			cpu_relax();
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
	if (w->stray) {
		fail(t, "%u unexpected in-queue messages", w->stray);
		return;
	}
	pass(t);
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
	for (uint32_t i = 0; i < EVIDX_REGS; i++) {
		w_begin(&b, 1, 1); /* get_registry */
		w_u32(&b, OBJ_CB1 + 1 + i);
		w_end(&b);
		ctx_obj(c, OBJ_CB1 + 1 + i, OBJ_REGISTRY);
	}
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

static volatile unsigned int irq_in, irq_out, irq_ticks;
static volatile uint16_t *irq_in_used; /* the in queue's used->idx */
static volatile uint16_t irq_in_seen;  /* its value at the last in-queue interrupt */

static void wl_in_irq(struct irq_frame *f)
{
	(void)f;
	if (irq_in_used)
		irq_in_seen = *irq_in_used;
	irq_in++;
	lapic_write(LAPIC_EOI, 0);
}

static void wl_out_irq(struct irq_frame *f)
{
	(void)f;
	irq_out++;
	lapic_write(LAPIC_EOI, 0);
}

static void wl_timer_irq(struct irq_frame *f)
{
	(void)f;
	irq_ticks++;
	lapic_write(LAPIC_EOI, 0);
}

#define LAPIC_LVT_TIMER 0x320
#define LAPIC_TIMER_INIT 0x380
#define LAPIC_TIMER_DIV 0x3e0

/* Sleeps in hlt until @count moves past @from or ~@max_ticks LAPIC timer ticks passed. */
static void wait_irq(volatile unsigned int *count, unsigned int from, unsigned int max_ticks)
{
	unsigned int start = irq_ticks;

	lapic_write(LAPIC_TIMER_DIV, 0x3);		      /* divide by 16 */
	lapic_write(LAPIC_LVT_TIMER, 0x20000 | WL_VEC_TIMER); /* periodic */
	lapic_write(LAPIC_TIMER_INIT, 200000);
	while (*count == from && irq_ticks - start < max_ticks)
		sti_hlt();
	cli();
	lapic_write(LAPIC_LVT_TIMER, 0x10000 | WL_VEC_TIMER); /* masked */
	lapic_write(LAPIC_TIMER_INIT, 0);
}

/*
 * Interrupts instead of polling: MSI-X vector 0x40 for the in queue, 0x42
 * for the out queue. The guest sleeps in hlt until the in-queue interrupt
 * says the compositor's answer is there (used->idx already moved when it
 * comes); commands are answered with an out-queue interrupt.
 */
void test_wl_msix(const struct boot_params *bp)
{
	const char *t = "wl_msix";
	struct wl *w = &wl0;
	struct wlctx *c;
	struct wbuf b;
	unsigned int before, rounds = 0;

	(void)bp;
	idt_install(t);
	idt_set_handler(WL_VEC_IN, wl_in_irq);
	idt_set_handler(WL_VEC_OUT, wl_out_irq);
	idt_set_handler(WL_VEC_TIMER, wl_timer_irq);
	pic_init(0);
	lapic_write(LAPIC_SVR, 0x1ff);
	wl_msix = true;
	if (wl_open(t, w))
		return;
	irq_in_used = (volatile uint16_t *)&w->in->used->idx;
	sti();
	delay_loops(2000);
	cli();
	printf("WL interrupts before any command: in %u out %u\n", irq_in, irq_out);
	before = irq_out;
	if (!(c = ctx_new(t, w, 1)))
		return;
	c->quiet = true;
	wait_irq(&irq_out, before, 500);
	if (irq_out == before) {
		fail(t, "no out-queue MSI-X interrupt for VFD_NEW_CTX's response");
		return;
	}
	send_begin(&b, c->vfd, NULL, 0);
	w_begin(&b, 1, 1);
	w_u32(&b, OBJ_REG);
	w_end(&b);
	ctx_obj(c, OBJ_REG, OBJ_REGISTRY);
	req_sync(&b, c, OBJ_CB1);
	w->hold = true; /* the in queue is read after its interrupt, not by wl_cmd() */
	if (wl_expect(t, w, b.len, WL_RESP_OK, "VFD_SEND get_registry+sync"))
		return;
	while (!ctx_settled(c, OBJ_CB1) && rounds++ < 50) {
		before = irq_in;
		if (!vq_used_ready(w->in))
			wait_irq(&irq_in, before, 500);
		if (irq_in == before && !vq_used_ready(w->in))
			break;
		if (irq_in != before && !irq_in_seen) {
			fail(t, "the in-queue interrupt came while its used->idx was still 0");
			return;
		}
		in_pump(w);
	}
	/* Take what is still pending (the answer may have come while we were busy). */
	sti();
	delay_loops(2000);
	cli();
	printf("WL interrupts: in %u out %u, %u timer ticks, %u VFD_RECVs\n", irq_in, irq_out,
	       irq_ticks, w->recvs);
	if (ctx_ok(t, c, OBJ_CB1, "registry roundtrip by interrupts"))
		return;
	if (!irq_in) {
		fail(t, "the compositor's answer came without an in-queue MSI-X interrupt");
		return;
	}
	if (!irq_in_seen) {
		fail(t, "the in-queue interrupt came while its used->idx was still 0");
		return;
	}
	/* Two commands so far: more out-queue interrupts are spurious (noted, not failed). */
	printf("WL out-queue interrupts %u for %u answers\n", irq_out, w->out->last_used);
	w->hold = false;
	if (wl_expect(t, w, mk_vfd(WL_CMD_VFD_CLOSE, 1), WL_RESP_OK, "VFD_CLOSE ctx 1"))
		return;
	pass(t);
}

/*
 * No interrupt without a used entry: with MSI-X, the out queue's vector
 * must fire once per answer, not at DRIVER_OK and not for the compositor's
 * bytes arriving on the in queue (blk_msix holds virtio-blk to the same).
 */
void test_wl_spurious(const struct boot_params *bp)
{
	const char *t = "wl_spurious";
	struct wl *w = &wl0;
	struct wlctx *c;
	uint64_t off;
	unsigned int early;

	(void)bp;
	idt_install(t);
	idt_set_handler(WL_VEC_IN, wl_in_irq);
	idt_set_handler(WL_VEC_OUT, wl_out_irq);
	idt_set_handler(WL_VEC_TIMER, wl_timer_irq);
	pic_init(0);
	lapic_write(LAPIC_SVR, 0x1ff);
	wl_msix = true;
	if (wl_open(t, w))
		return;
	sti();
	delay_loops(5000);
	cli();
	early = irq_out + irq_in;
	irq_out = irq_in = 0;
	/* Interrupts on while we poll: each is taken (and counted) as it comes. */
	sti();
	for (unsigned int i = 0; i < 4; i++)
		if (shm_new(t, w, 10 + i, 4096, &off) ||
		    wl_expect(t, w, mk_vfd(WL_CMD_VFD_CLOSE, 10 + i), WL_RESP_OK, "VFD_CLOSE"))
			return;
	if (!(c = ctx_new(t, w, 1)))
		return;
	c->quiet = true;
	if (ctx_registry(t, w, c, OBJ_REG, OBJ_CB1))
		return;
	delay_loops(5000);
	cli();
	printf("WL interrupts: %u before any command; out queue %u for %u answers; in queue %u "
	       "for %u messages\n",
	       early, irq_out, w->out->last_used, irq_in, w->in->last_used);
	if (early) {
		fail(t, "%u interrupt(s) before any command (at DRIVER_OK?)", early);
		return;
	}
	if (irq_out > w->out->last_used) {
		fail(t, "%u out-queue interrupts for %u answers: %u without a used entry", irq_out,
		     w->out->last_used, irq_out - w->out->last_used);
		return;
	}
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
	if (wl_open(t, w) || !(c = ctx_new(t, w, 1)))
		return;
	c->quiet = true;
	if (ctx_registry(t, w, c, OBJ_REG, OBJ_CB1))
		return;
	per = c->nglobals;
	c->nglobals = 0;
	send_begin(&b, c->vfd, NULL, 0);
	for (uint32_t i = 0; i < FLOOD_REGS; i++) {
		w_begin(&b, 1, 1); /* get_registry */
		w_u32(&b, OBJ_CB1 + 1 + i);
		w_end(&b);
		ctx_obj(c, OBJ_CB1 + 1 + i, OBJ_REGISTRY);
	}
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
	if (w->stray) {
		fail(t, "%u unexpected in-queue messages", w->stray);
		return;
	}
	pass(t);
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
	if (w->stray) {
		fail(t, "%u unexpected in-queue messages", w->stray);
		return;
	}
	pass(t);
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

/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * The guest side of the virtio-wayland tests (t_wl*.c): a polled driver
 * for virtio-wayland (1af4:107f, virtio device id 63; crosvm's virtio-wl
 * and the ChromeOS uapi linux/virtio_wl.h) in wl_lib.c, and the Wayland
 * wire protocol spoken over its contexts in wl_wire.c, to the compositor
 * the host test started (tests/integration/test_wl*.c).
 *
 * Everything is polled; every wait is bounded. One device state, wl0, is
 * shared by all the tests: each starts with wl_open().
 */
#ifndef CVM_GUEST_WL_H
#define CVM_GUEST_WL_H

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

/* The in-queue buffers, the command and the response buffer; the device state. */
extern uint8_t inbufs[VQ_RING][IN_BUF];
extern uint8_t cmd[4096];
extern uint8_t resp[256];
extern struct wl wl0;

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
/* wl_chains: every even in buffer (the first posted, too) only SMALL_IN bytes long. */
#define SMALL_IN 16
extern bool wl_small_even;

/* wl_msix: MSI-X entries 0 (in queue) and 1 (out queue) instead of polling only. */
#define WL_VEC_IN 0x40
#define WL_VEC_TIMER 0x41
#define WL_VEC_OUT 0x42
extern bool wl_msix;

/* The device features wl_open() asks for (wl_noshm and wl_legacy ask for fewer). */
extern uint64_t wl_want;

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
#define PATTERN4 0x574c574c574c574cULL

/* ---- wl_lib.c: the device ---- */

const char *resp_name(uint32_t type);
bool resp_is_err(uint32_t type);
/* Handles the used in-queue buffers; returns how many. */
unsigned int in_pump(struct wl *w);
/* Pumps the in queue until *@flag or WL_WAIT_POLLS polls. */
void pump_until(struct wl *w, const bool *flag);
/*
 * One command of @len bytes in cmd[], answered in resp[] (@rlen writable
 * bytes). Returns the response type (0 when the device wrote fewer than 8
 * bytes), or -1 with FAIL printed.
 */
int64_t wl_cmd(const char *t, struct wl *w, uint32_t len, uint32_t rlen);
/* A command expected to answer @want; returns 0 or -1 with FAIL printed. */
int wl_expect(const char *t, struct wl *w, uint32_t len, uint32_t want, const char *what);
/* A command expected to fail with any error response; returns 0 or -1 with FAIL printed. */
int wl_expect_err(const char *t, struct wl *w, uint32_t len, const char *what);
/* cmd[] = the 64-byte virtio_wl_ctrl_vfd_new. */
uint32_t mk_vfd_new(uint32_t type, uint32_t id, uint32_t flags, uint32_t size);
/* cmd[] = {hdr, id} (VFD_CLOSE and friends). */
uint32_t mk_vfd(uint32_t type, uint32_t id);
/* Probes, negotiates wl_want, sets up both queues and posts the in buffers. */
int wl_open(const char *t, struct wl *w);
/* VFD_NEW_CTX @id: a new connection to the compositor, tracked in w->c[]. */
struct wlctx *ctx_new(const char *t, struct wl *w, uint32_t id);
/* VFD_NEW @id of @size bytes; its offset in the region into *@off. */
int shm_new(const char *t, struct wl *w, uint32_t id, uint32_t size, uint64_t *off);
/* The first qword of @len bytes at @p that is not the pattern of @seed, or -1. */
long shm_pattern_bad(uintptr_t p, uint32_t len, uint64_t seed);
/* Writes a pattern (seeded by @seed) over @len bytes at @p and reads it back. */
int shm_pattern(const char *t, uintptr_t p, uint32_t len, uint64_t seed);
/* PASS @t, or FAIL when unexpected in-queue messages came. */
void wl_pass(const char *t, const struct wl *w);

/* ---- wl_wire.c: the Wayland wire protocol ---- */

/* Appends @n bytes from the compositor to @c's stream and handles its whole messages. */
void wl_stream(struct wlctx *c, const uint8_t *p, uint32_t n);

/* ---- Wayland requests, built after a VFD_SEND header in cmd[] ---- */

struct wbuf {
	uint32_t len;  /* bytes in cmd[] so far */
	uint32_t open; /* offset of the message being built */
};

void send_begin(struct wbuf *b, uint32_t ctx, const uint32_t *ids, uint32_t n);
void w_u32(struct wbuf *b, uint32_t v);
void w_str(struct wbuf *b, const char *s);
void w_begin(struct wbuf *b, uint32_t obj, uint16_t op);
void w_end(struct wbuf *b);
void ctx_obj(struct wlctx *c, uint32_t id, enum wl_obj type);
/* wl_display.sync(new_id @cb) */
void req_sync(struct wbuf *b, struct wlctx *c, uint32_t cb);
/* @n wl_display.get_registry, new ids @first... */
void req_registries(struct wbuf *b, struct wlctx *c, uint32_t first, uint32_t n);
/* wl_registry(OBJ_REG).bind(@name, @iface, @ver, new_id @id of @type) */
void w_bind(struct wbuf *b, struct wlctx *c, uint32_t name, const char *iface, uint32_t ver,
	    uint32_t id, enum wl_obj type);
bool cb_done(const struct wlctx *c, uint32_t cb);
/* Whether the wait is over: @cb done (cb != 0), a HUP, an error or a bad stream. */
bool ctx_settled(const struct wlctx *c, uint32_t cb);
/* Pumps the in queue until ctx_settled(@c, @cb); -1 with FAIL printed on timeout. */
int ctx_wait(const char *t, struct wl *w, struct wlctx *c, uint32_t cb, const char *what);
/* After a wait that should have ended with done(@cb): 0, or -1 with FAIL printed. */
int ctx_ok(const char *t, struct wlctx *c, uint32_t cb, const char *what);
/* get_registry(@reg) + sync(@cb), waited for; wl_compositor and wl_shm must be there. */
int ctx_registry(const char *t, struct wl *w, struct wlctx *c, uint32_t reg, uint32_t cb);
/* Open, context 1 (quiet), registry roundtrip: the context, or NULL with FAIL printed. */
struct wlctx *open_quiet_ctx(const char *t, struct wl *w);
/*
 * registry.bind(wl_shm) and wl_shm.create_pool(fd = VFD @vfd, @size), then
 * create_buffer(offset 0, 64 x @height, stride 256, ARGB8888) and sync(OBJ_CB2)
 * in one VFD_SEND carrying @vfd.
 */
int send_pool(const char *t, struct wl *w, struct wlctx *c, uint32_t vfd, uint32_t size,
	      int32_t height);
/* Open, context 1, registry roundtrip, VFD 4 of 8192 bytes with a pattern at *@off. */
struct wlctx *setup_pool_ctx(const char *t, struct wl *w, uint64_t *off);
/* Pumps the in queue until *@flag, a HUP, an error or a bad stream; answers pings. */
int ctx_wait_flag(const char *t, struct wl *w, struct wlctx *c, const bool *flag, const char *what);
/* xdg_wm_base.pong for a ping that came (the shell may drop clients that do not answer). */
int ctx_pong(const char *t, struct wl *w, struct wlctx *c, uint32_t wm);
/* Waits (bounded) until @c holds @n raw bytes, or a HUP / error. */
int raw_wait(const char *t, struct wl *w, struct wlctx *c, uint32_t n, const char *what);
/* VFD_SEND of raw bytes @s (no VFDs) to @id. */
int send_raw(const char *t, struct wl *w, uint32_t id, const char *s, uint32_t want,
	     const char *what);

#endif

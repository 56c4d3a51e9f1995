// SPDX-License-Identifier: BSD-3-Clause
/*
 * The virtio-wayland driver of the wl tests (wl.h): probe and feature
 * negotiation, the shared-memory region, the in queue (device -> guest:
 * VFD_RECV, host VFD_NEW, VFD_HUP) and the out queue's commands.
 */
#include "wl.h"

uint8_t inbufs[VQ_RING][IN_BUF] __attribute__((aligned(4096)));
uint8_t cmd[4096] __attribute__((aligned(64)));
uint8_t resp[256] __attribute__((aligned(64)));
struct wl wl0;
bool wl_small_even;
bool wl_msix;
uint64_t wl_want = 1ULL << VIRTIO_WL_F_TRANS_FLAGS | 1ULL << VIRTIO_WL_F_USE_SHMEM;

const char *resp_name(uint32_t type)
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

bool resp_is_err(uint32_t type)
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
unsigned int in_pump(struct wl *w)
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

void pump_until(struct wl *w, const bool *flag)
{
	for (unsigned long i = 0; !*flag && i < WL_WAIT_POLLS; i++)
		if (!in_pump(w))
			cpu_relax();
}

/* ---- the out queue: guest -> device commands ---- */

/*
 * One command of @len bytes in cmd[], answered in resp[] (@rlen writable
 * bytes). Returns the response type (0 when the device wrote fewer than 8
 * bytes), or -1 with FAIL printed.
 */
int64_t wl_cmd(const char *t, struct wl *w, uint32_t len, uint32_t rlen)
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
int wl_expect(const char *t, struct wl *w, uint32_t len, uint32_t want, const char *what)
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
int wl_expect_err(const char *t, struct wl *w, uint32_t len, const char *what)
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
uint32_t mk_vfd_new(uint32_t type, uint32_t id, uint32_t flags, uint32_t size)
{
	memset(cmd, 0, 64);
	put32(cmd, type);
	put32(cmd + 8, id);
	put32(cmd + 12, flags);
	put32(cmd + 24, size);
	return 64;
}

/* cmd[] = {hdr, id} (VFD_CLOSE and friends). */
uint32_t mk_vfd(uint32_t type, uint32_t id)
{
	memset(cmd, 0, 12);
	put32(cmd, type);
	put32(cmd + 8, id);
	return 12;
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

int wl_open(const char *t, struct wl *w)
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
struct wlctx *ctx_new(const char *t, struct wl *w, uint32_t id)
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
/* VFD_NEW @id of @size bytes; its offset in the region into *@off. */
int shm_new(const char *t, struct wl *w, uint32_t id, uint32_t size, uint64_t *off)
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

static inline uint64_t pattern_qword(uint64_t seed, uint32_t i)
{
	return seed ^ ((uint64_t)i * 0x9e3779b97f4a7c15ULL);
}

long shm_pattern_bad(uintptr_t p, uint32_t len, uint64_t seed)
{
	volatile uint64_t *q = (volatile uint64_t *)p;

	for (uint32_t i = 0; i < len / 8; i++)
		if (q[i] != pattern_qword(seed, i))
			return (long)i;
	return -1;
}

/* Writes a pattern (seeded by @seed) over @len bytes at @p and reads it back. */
int shm_pattern(const char *t, uintptr_t p, uint32_t len, uint64_t seed)
{
	volatile uint64_t *q = (volatile uint64_t *)p;
	long bad;

	for (uint32_t i = 0; i < len / 8; i++)
		q[i] = pattern_qword(seed, i);
	bad = shm_pattern_bad(p, len, seed);
	if (bad >= 0) {
		fail(t, "shared memory at 0x%llx: qword %u reads 0x%llx after the write",
		     (unsigned long long)p, (uint32_t)bad, (unsigned long long)q[bad]);
		return -1;
	}
	return 0;
}

void wl_pass(const char *t, const struct wl *w)
{
	if (w->stray) {
		fail(t, "%u unexpected in-queue messages", w->stray);
		return;
	}
	pass(t);
}

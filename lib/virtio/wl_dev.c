// SPDX-License-Identifier: BSD-3-Clause
/*
 * virtio-wl: the VFD table, the shared memory region's allocator, and the
 * device's life (the transport's callbacks, creation, reset, destruction).
 * See wl.h.
 */
#include "virtio/wl_vfd.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <unistd.h>

#include "util/mmbuf.h"
#include "util/sock.h"

#define PCI_CLASS_DISPLAY_OTHER 0x038000

/* --- VFDs --------------------------------------------------------------------------------- */

struct wl_vfd *wl_vfd_find(struct wl_dev *w, uint32_t id)
{
	for (unsigned int i = 0; i < WL_MAX_VFDS; i++)
		if (w->vfds[i].kind != WL_FREE && w->vfds[i].id == id)
			return &w->vfds[i];
	return NULL;
}

int wl_vfd_slot(struct wl_dev *w)
{
	for (unsigned int i = 0; i < WL_MAX_VFDS; i++)
		if (w->vfds[i].kind == WL_FREE)
			return (int)i;
	return -1;
}

static bool is_held_target(const struct wl_dev *w, const struct wl_vfd *v)
{
	return w->held && w->held_cmd.id == v->id;
}

void wl_vfd_watch(struct wl_dev *w, unsigned int i)
{
	struct wl_vfd *v = &w->vfds[i];
	uint32_t ev = 0;
	bool want = false;

	if ((v->kind == WL_CTX || v->kind == WL_PIPE) && v->fd >= 0) {
		/* Reading (and hang-ups, which epoll always reports) while there is room. */
		if (!v->hup && !w->paused) {
			want = true;
			if (v->kind == WL_CTX || (v->flags & WL_VFD_READ))
				ev |= EPOLLIN;
		}
		if (is_held_target(w, v)) {
			want = true;
			ev |= EPOLLOUT;
		}
	}
	if (!want) {
		if (v->watched != UINT32_MAX)
			virtio_pci_unwatch_fd(&w->vp, v->fd);
		v->watched = UINT32_MAX;
		return;
	}
	if (v->watched != ev && virtio_pci_watch_fd(&w->vp, v->fd, ev, i) == 0)
		v->watched = ev;
}

void wl_vfd_watch_all(struct wl_dev *w)
{
	for (unsigned int i = 0; i < WL_MAX_VFDS; i++)
		if (w->vfds[i].kind != WL_FREE)
			wl_vfd_watch(w, i);
}

void wl_vfd_close(struct wl_dev *w, unsigned int i)
{
	struct wl_vfd *v = &w->vfds[i];

	if (v->kind == WL_FREE)
		return;
	if (v->watched != UINT32_MAX)
		virtio_pci_unwatch_fd(&w->vp, v->fd);
	if (v->kind == WL_SHM)
		virtio_pci_shm_unmap(&w->vp, i);
	if (v->fd >= 0)
		close(v->fd);
	if (v->remote_fd >= 0)
		close(v->remote_fd);
	*v = (struct wl_vfd){ .kind = WL_FREE, .fd = -1, .remote_fd = -1, .watched = UINT32_MAX };
}

uint64_t wl_region_alloc(struct wl_dev *w, uint64_t size)
{
	/* First fit: the start of the region, or the end of any mapping. */
	for (int c = -1; c < (int)WL_MAX_VFDS; c++) {
		uint64_t at = c < 0 ? 0 : w->vfds[c].off + w->vfds[c].size;
		bool ok = true;

		if (c >= 0 && w->vfds[c].kind != WL_SHM)
			continue;
		if (at > WL_SHM_SIZE || size > WL_SHM_SIZE - at)
			continue;
		for (unsigned int i = 0; ok && i < WL_MAX_VFDS; i++) {
			const struct wl_vfd *o = &w->vfds[i];

			if (o->kind == WL_SHM && at < o->off + o->size && o->off < at + size)
				ok = false;
		}
		if (ok)
			return at;
	}
	return UINT64_MAX;
}

uint64_t wl_vfd_pfn(const struct wl_dev *w, const struct wl_vfd *v)
{
	if (v->kind != WL_SHM)
		return w->use_shmem ? WL_SHM_SIZE / WL_PAGE : 0; /* crosvm's "no pfn" */
	return (w->use_shmem ? v->off : v->gpa) / WL_PAGE;
}

/* --- the transport's callbacks ------------------------------------------------------------ */

static int run(struct wl_dev *w, struct virtio_pci *vp)
{
	struct virtq *out = virtio_pci_queue(vp, WL_Q_OUT), *in = virtio_pci_queue(vp, WL_Q_IN);
	int rc = 0, n;

	if (out) {
		rc = wl_process_out(w, out);
		/* Only for answers: without EVENT_IDX every call would interrupt. */
		if (w->out_answered)
			virtio_pci_queue_done(vp, WL_Q_OUT);
		w->out_answered = false;
	}
	if (in && rc == 0) {
		n = wl_fill_in(w, in);
		if (n < 0)
			rc = n;
		else if (n)
			virtio_pci_queue_done(vp, WL_Q_IN);
	}
	return rc;
}

static int wl_queue_notify(void *opaque, struct virtio_pci *vp, unsigned int q)
{
	(void)q;
	return run(opaque, vp);
}

static int wl_fd_event(void *opaque, struct virtio_pci *vp, uint32_t tag, uint32_t events)
{
	wl_fd_ready(opaque, tag, events);
	return run(opaque, vp);
}

static void wl_activate(void *opaque, uint64_t features)
{
	struct wl_dev *w = opaque;

	w->use_trans = features & (1ULL << VIRTIO_WL_F_TRANS_FLAGS);
	w->use_shmem = features & (1ULL << VIRTIO_WL_F_USE_SHMEM);
}

static void close_all(struct wl_dev *w)
{
	for (unsigned int i = 0; i < WL_MAX_VFDS; i++)
		wl_vfd_close(w, i);
	wl_pend_reset(w);
	w->held = false;
	w->next_host_id = WL_HOST_ID_BIT;
}

static void wl_reset(void *opaque)
{
	close_all(opaque);
}

/* In the VMM: a new connection to the compositor. */
static int wl_broker_connect(void *opaque, uint32_t arg)
{
	struct wl_dev *w = opaque;

	return arg == 0 ? sock_connect_unix(w->sock_path) : -EINVAL;
}

static const struct virtio_dev_ops wl_ops = {
	.activate = wl_activate,
	.queue_notify = wl_queue_notify,
	.reset = wl_reset,
	.fd_event = wl_fd_event,
	.broker_connect = wl_broker_connect,
};

int wl_dev_create(struct wl_dev **out, const char *sock_path, uint32_t shm_slot_base,
		  const struct virtio_env *env, struct cvm_errbuf *err)
{
	struct wl_dev *w;
	int rc;

	*out = NULL;
	if (!sock_path || !*sock_path)
		return errf(err, -EINVAL, "virtio-wl: no compositor socket");
	w = calloc(1, sizeof(*w));
	if (!w)
		return errf(err, -ENOMEM, "out of memory");
	for (unsigned int i = 0; i < WL_MAX_VFDS; i++)
		w->vfds[i] = (struct wl_vfd){ .fd = -1, .remote_fd = -1, .watched = UINT32_MAX };
	w->next_host_id = WL_HOST_ID_BIT;
	snprintf(w->name, sizeof(w->name), "virtio-wl");
	w->sock_path = strdup(sock_path);
	w->pend = mm_alloc(WL_PENDING * sizeof(*w->pend));
	if (!w->sock_path || !w->pend) {
		rc = errf(err, -ENOMEM, "out of memory");
		goto fail;
	}

	struct virtio_pci_config c = {
		.name = w->name,
		.device_id = VIRTIO_ID_WL,
		.pci_class = PCI_CLASS_DISPLAY_OTHER << 8,
		.features = (1ULL << VIRTIO_WL_F_TRANS_FLAGS) | (1ULL << VIRTIO_WL_F_USE_SHMEM),
		.nr_queues = 2,
		.queue_max_size = VIRTIO_PCI_QUEUE_MAX_SIZE,
		.ops = &wl_ops,
		.policy = "wl",
		.max_fds = 2 * WL_MAX_VFDS + 2 * WL_SEND_MAX_VFDS,
		.opaque = w,
		.shm_size = WL_SHM_SIZE,
		.shm_slot_base = shm_slot_base,
	};

	rc = virtio_pci_init(&w->vp, &c, env, err);
	if (rc)
		goto fail;
	*out = w;
	return 0;
fail:
	wl_dev_destroy(w);
	return rc;
}

void wl_dev_destroy(struct wl_dev *w)
{
	if (!w)
		return;
	if (w->vp.inited) {
		virtio_pci_stop(&w->vp); /* the worker is done with the VFDs */
		close_all(w);
	}
	virtio_pci_destroy(&w->vp);
	mm_free(w->pend, WL_PENDING * sizeof(*w->pend));
	free(w->sock_path);
	free(w);
}

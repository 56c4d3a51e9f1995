// SPDX-License-Identifier: BSD-3-Clause
/*
 * virtio-wl, host to guest: what the compositor (or a pipe) sends becomes
 * messages in a bounded ring, which fills the guest's in-queue buffers.
 * Descriptors are read only while the ring has room for the longest burst
 * one read can cause (WL_SEND_MAX_VFDS VFD_NEW messages and a VFD_RECV):
 * a guest that stops taking messages pauses its connections, it loses
 * nothing.
 */
#include "virtio/wl_vfd.h"

#include <errno.h>
#include <fcntl.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/socket.h>
#include <unistd.h>

#define ROOM_FOR_READ (WL_SEND_MAX_VFDS + 1)

struct wl_pending *wl_pend_push(struct wl_dev *w, uint32_t owner)
{
	struct wl_pending *e;

	if (w->pend_len == WL_PENDING)
		return NULL;
	e = &w->pend[(w->pend_head + w->pend_len++) % WL_PENDING];
	e->owner = owner;
	e->len = 0;
	if (!w->paused && WL_PENDING - w->pend_len < ROOM_FOR_READ) {
		w->paused = true;
		wl_vfd_watch_all(w);
	}
	return e;
}

void wl_pend_drop(struct wl_dev *w, uint32_t id)
{
	for (unsigned int k = 0; k < w->pend_len; k++) {
		struct wl_pending *e = &w->pend[(w->pend_head + k) % WL_PENDING];

		if (!e->len || e->owner != id)
			continue;
		e->len = 0; /* skipped when its turn comes */
		if (wl_get32(e->buf) == WL_CMD_VFD_NEW) {
			uint32_t nid = wl_get32(e->buf + 8);
			struct wl_vfd *v = wl_vfd_find(w, nid);

			if (v)
				wl_vfd_close(w, (unsigned int)(v - w->vfds));
			wl_pend_drop(w, nid); /* what it read: the guest never knew it */
		}
	}
}

void wl_pend_reset(struct wl_dev *w)
{
	w->pend_head = w->pend_len = 0;
	w->paused = false;
}

static void push_hup(struct wl_dev *w, struct wl_vfd *v)
{
	struct wl_pending *e;

	if (v->hup)
		return;
	e = wl_pend_push(w, v->id);
	if (!e)
		return; /* epoll reports the hang-up again once there is room */
	e->len = (uint32_t)wl_enc_hup(e->buf, v->id);
	v->hup = true;
	wl_vfd_watch(w, (unsigned int)(v - w->vfds));
}

/* A host id no VFD has. */
static uint32_t next_host_id(struct wl_dev *w)
{
	for (;;) {
		uint32_t id = w->next_host_id++;

		if (w->next_host_id >= 2 * WL_HOST_ID_BIT)
			w->next_host_id = WL_HOST_ID_BIT;
		if (id >= WL_HOST_ID_BIT && !wl_vfd_find(w, id))
			return id;
	}
}

/*
 * A descriptor the compositor sent: a new VFD, announced with VFD_NEW.
 * Something seekable with a size is shared memory (mapped for the guest),
 * something unseekable a pipe (readable or writable as it was opened),
 * anything else opaque (the guest can only pass it on). Returns its id, or
 * 0 when no VFD is left (@fd is closed).
 */
static uint32_t adopt(struct wl_dev *w, int fd, uint32_t owner)
{
	int slot = wl_vfd_slot(w);
	struct wl_vfd *v;
	struct wl_pending *e;
	off_t end;
	uint32_t flags = 0;

	if (slot < 0) {
		close(fd);
		return 0;
	}
	v = &w->vfds[slot];
	*v = (struct wl_vfd){ .kind = WL_OPAQUE, .fd = fd, .remote_fd = -1, .watched = UINT32_MAX };
	v->id = next_host_id(w);
	end = lseek(fd, 0, SEEK_END);
	if (end > 0 && (uint64_t)end <= WL_SHM_SIZE) {
		uint64_t size = ((uint64_t)end + WL_PAGE - 1) & ~(WL_PAGE - 1);
		uint64_t off = wl_region_alloc(w, size);

		if (off != UINT64_MAX &&
		    virtio_pci_shm_map(&w->vp, (unsigned int)slot, off, size, fd, &v->gpa) == 0) {
			v->kind = WL_SHM;
			v->off = off;
			v->size = size;
			flags = w->use_trans ? 0 : WL_VFD_WRITE | WL_VFD_MAP;
		}
	} else if (end < 0 && errno == ESPIPE) {
		int fl = fcntl(fd, F_GETFL);

		v->kind = WL_PIPE;
		v->flags = (fl & O_ACCMODE) == O_WRONLY ? WL_VFD_WRITE :
			   (fl & O_ACCMODE) == O_RDWR	? WL_VFD_READ | WL_VFD_WRITE :
							  WL_VFD_READ;
		flags = w->use_trans ? v->flags : 0;
		fcntl(fd, F_SETFL, fl | O_NONBLOCK);
	}
	e = wl_pend_push(w, owner);
	if (e) /* always: the caller made room */
		e->len = (uint32_t)wl_enc_new(e->buf, WL_CMD_VFD_NEW, v->id, flags,
					      wl_vfd_pfn(w, v), (uint32_t)v->size);
	wl_vfd_watch(w, (unsigned int)slot);
	return v->id;
}

/* Collect the descriptors of a recvmsg() (at most @max, the rest closed); -1 when some were lost. */
static int take_fds(struct msghdr *m, int *fds, int max)
{
	int n = 0, lost = (m->msg_flags & MSG_CTRUNC) ? 1 : 0;

	for (struct cmsghdr *c = CMSG_FIRSTHDR(m); c; c = CMSG_NXTHDR(m, c)) {
		if (c->cmsg_level != SOL_SOCKET || c->cmsg_type != SCM_RIGHTS)
			continue;
		for (size_t i = 0; i < (c->cmsg_len - CMSG_LEN(0)) / sizeof(int); i++) {
			int fd;

			memcpy(&fd, CMSG_DATA(c) + i * sizeof(int), sizeof(int));
			if (n < max) {
				fds[n++] = fd;
			} else {
				close(fd);
				lost = 1;
			}
		}
	}
	return lost ? -n - 1 : n;
}

/*
 * One read from a context (bytes and descriptors) or a pipe the guest reads
 * (bytes): VFD_NEW for each descriptor, then VFD_RECV; VFD_HUP at the end.
 */
static void read_vfd(struct wl_dev *w, struct wl_vfd *v)
{
	uint8_t data[WL_RECV_DATA_MAX];
	union {
		char buf[CMSG_SPACE(sizeof(int) * WL_SEND_MAX_VFDS)];
		struct cmsghdr align;
	} cbuf;
	struct iovec iov = { .iov_base = data, .iov_len = sizeof(data) };
	struct msghdr m = { .msg_iov = &iov,
			    .msg_iovlen = 1,
			    .msg_control = cbuf.buf,
			    .msg_controllen = sizeof(cbuf.buf) };
	int fds[WL_SEND_MAX_VFDS], nfd;
	uint32_t ids[WL_SEND_MAX_VFDS], owner = v->id;
	ssize_t n = v->kind == WL_CTX ? recvmsg(v->fd, &m, MSG_DONTWAIT | MSG_CMSG_CLOEXEC) :
					read(v->fd, data, sizeof(data));
	struct wl_pending *e;

	if (n < 0 && (errno == EAGAIN || errno == EINTR))
		return;
	if (n <= 0) {
		push_hup(w, v);
		return;
	}
	nfd = v->kind == WL_CTX ? take_fds(&m, fds, WL_SEND_MAX_VFDS) : 0;
	if (nfd < 0) {
		/* Descriptors were dropped: the stream cannot be delivered faithfully. */
		log_warn(w->vp.log,
			 "%s: the compositor sent more than %d descriptors at once; "
			 "closing that connection",
			 w->name, WL_SEND_MAX_VFDS);
		for (int i = 0; i < -nfd - 1; i++)
			close(fds[i]);
		push_hup(w, v);
		return;
	}
	for (int i = 0; i < nfd; i++) {
		ids[i] = adopt(w, fds[i], owner);
		if (!ids[i]) {
			log_warn(w->vp.log,
				 "%s: no VFD left for a descriptor from the compositor; "
				 "closing that connection",
				 w->name);
			for (int k = i + 1; k < nfd; k++)
				close(fds[k]);
			push_hup(w, v);
			return;
		}
	}
	e = wl_pend_push(w, owner);
	if (e)
		e->len = (uint32_t)wl_enc_recv(e->buf, owner, ids, (uint32_t)nfd, data, (size_t)n);
}

int wl_fd_ready(struct wl_dev *w, uint32_t tag, uint32_t events)
{
	struct wl_vfd *v;

	if (tag >= WL_MAX_VFDS)
		return 0;
	v = &w->vfds[tag];
	if (v->kind == WL_FREE || v->hup || v->watched == UINT32_MAX)
		return 0;
	if ((events & EPOLLIN) && !w->paused) {
		if (v->kind == WL_CTX || v->kind == WL_PIPE)
			read_vfd(w, v);
	} else if ((events & (EPOLLHUP | EPOLLERR)) &&
		   !(w->paused && (v->kind == WL_CTX || (v->flags & WL_VFD_READ)))) {
		/* Paused, what the device reads waits: data may be in front of the hang-up. */
		push_hup(w, v);
	}
	return 0;
}

int wl_fill_in(struct wl_dev *w, struct virtq *q)
{
	struct cvm_errbuf err = { "" };
	int pushed = 0;

	while (w->pend_len) {
		struct wl_pending *e = &w->pend[w->pend_head];
		int rc;

		if (e->len) {
			rc = vq_pop(q, &w->in, &err);
			if (rc < 0) {
				vp_warn_guest(&w->vp, "%s: in queue: %s", w->name, err.msg);
				return -EPROTO;
			}
			if (rc == 0) {
				/* No buffer: ask for a kick when one comes (EVENT_IDX). */
				vq_enable_notify(q);
				if (vq_has_work(q))
					continue;
				break;
			}
			if (w->in.in_len < e->len) {
				vp_warn_guest(
					&w->vp,
					"%s: in-queue buffer of %llu bytes for a %u-byte message",
					w->name, (unsigned long long)w->in.in_len, e->len);
				if (vq_push(q, w->in.head, 0))
					return -EPROTO;
				pushed++;
				continue;
			}
			vq_copy_to(&w->in, 0, e->buf, e->len);
			if (vq_push(q, w->in.head, e->len))
				return -EPROTO;
			pushed++;
		}
		w->pend_head = (w->pend_head + 1) % WL_PENDING;
		w->pend_len--;
	}
	if (w->paused && WL_PENDING - w->pend_len >= ROOM_FOR_READ) {
		w->paused = false;
		wl_vfd_watch_all(w);
	}
	return pushed;
}

// SPDX-License-Identifier: BSD-3-Clause
/*
 * virtio-wl: the guest's commands (the out queue). See wl.h; the VFDs and
 * the device's life are wl_dev.c, the in queue wl_in.c, the messages
 * wl_msg.c.
 *
 * A VFD_SEND to a context or pipe that cannot take all its bytes now is
 * held: the out queue waits (commands are answered in order) until epoll
 * says the descriptor is writable, and the rest goes then. Nothing the
 * guest sends is dropped or reordered, and no other VFD is blocked from
 * receiving meanwhile.
 */
#include "virtio/wl_vfd.h"

#include <errno.h>
#include <fcntl.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/socket.h>
#include <sys/uio.h>
#include <unistd.h>

#include "util/io.h"

#define SEND_IOV 64
/* --- commands ----------------------------------------------------------------------------- */

struct reply {
	uint8_t buf[WL_NEW_LEN];
	size_t len;
};

static uint32_t reply_new(struct reply *r, const struct wl_dev *w, const struct wl_vfd *v,
			  uint32_t flags)
{
	r->len = wl_enc_new(r->buf, WL_RESP_VFD_NEW, v->id, flags, wl_vfd_pfn(w, v),
			    (uint32_t)v->size);
	return 0;
}

/* A new VFD in slot @slot (the caller checked it is free). */
static struct wl_vfd *vfd_init(struct wl_dev *w, int slot, enum wl_kind kind, uint32_t id, int fd)
{
	struct wl_vfd *v = &w->vfds[slot];

	*v = (struct wl_vfd){
		.kind = kind, .id = id, .fd = fd, .remote_fd = -1, .watched = UINT32_MAX
	};
	return v;
}

static uint32_t cmd_new(struct wl_dev *w, const struct wl_cmd *c, struct reply *r)
{
	uint64_t size = ((uint64_t)c->size + WL_PAGE - 1) & ~(WL_PAGE - 1), off;
	int slot, fd, rc;
	struct wl_vfd *v;

	if (w->use_trans ? c->flags != 0 : (c->flags & ~(WL_VFD_WRITE | WL_VFD_MAP)) != 0)
		return WL_RESP_INVALID_FLAGS;
	if (wl_vfd_find(w, c->id))
		return WL_RESP_INVALID_ID;
	if (!size)
		return WL_RESP_ERR;
	slot = wl_vfd_slot(w);
	off = size > WL_SHM_SIZE ? UINT64_MAX : wl_region_alloc(w, size);
	if (slot < 0 || off == UINT64_MAX)
		return WL_RESP_OUT_OF_MEMORY;
	fd = memfd_create("cvm-wl", MFD_CLOEXEC | MFD_ALLOW_SEALING);
	if (fd < 0)
		return WL_RESP_OUT_OF_MEMORY;
	/* Sealed at its size: the compositor cannot shrink it under the guest. */
	if (ftruncate(fd, (off_t)size) ||
	    fcntl(fd, F_ADD_SEALS, F_SEAL_SHRINK | F_SEAL_GROW | F_SEAL_SEAL)) {
		close(fd);
		return WL_RESP_OUT_OF_MEMORY;
	}
	v = vfd_init(w, slot, WL_SHM, c->id, fd);
	v->off = off;
	v->size = size;
	rc = virtio_pci_shm_map(&w->vp, (unsigned int)slot, off, size, fd, &v->gpa);
	if (rc) {
		log_debug(w->vp.log, "%s: cannot map %llu bytes for the guest: %s", w->name,
			  (unsigned long long)size, strerror(-rc));
		v->kind = WL_OPAQUE; /* not mapped: nothing to unmap */
		wl_vfd_close(w, (unsigned int)slot);
		return WL_RESP_OUT_OF_MEMORY;
	}
	return reply_new(r, w, v, c->flags);
}

static uint32_t cmd_new_ctx(struct wl_dev *w, const struct wl_cmd *c, struct reply *r)
{
	int slot, fd;
	struct wl_vfd *v;

	if (c->type == WL_CMD_VFD_NEW_CTX_NAMED && c->name[0])
		return WL_RESP_ERR; /* only the one compositor, named "" */
	if (wl_vfd_find(w, c->id))
		return WL_RESP_INVALID_ID;
	slot = wl_vfd_slot(w);
	if (slot < 0)
		return WL_RESP_OUT_OF_MEMORY;
	fd = virtio_pci_broker_connect(&w->vp, 0);
	if (fd < 0) {
		log_warn(w->vp.log, "%s: cannot connect to the compositor: %s", w->name,
			 strerror(-fd));
		return WL_RESP_ERR;
	}
	v = vfd_init(w, slot, WL_CTX, c->id, fd);
	wl_vfd_watch(w, (unsigned int)slot);
	return reply_new(r, w, v, w->use_trans ? WL_VFD_READ | WL_VFD_WRITE : WL_VFD_CONTROL);
}

static uint32_t cmd_new_pipe(struct wl_dev *w, const struct wl_cmd *c, struct reply *r)
{
	int slot, p[2];
	struct wl_vfd *v;
	bool guest_writes = c->flags == WL_VFD_WRITE;

	if (c->flags != WL_VFD_WRITE && c->flags != WL_VFD_READ)
		return WL_RESP_INVALID_FLAGS;
	if (wl_vfd_find(w, c->id))
		return WL_RESP_INVALID_ID;
	slot = wl_vfd_slot(w);
	if (slot < 0)
		return WL_RESP_OUT_OF_MEMORY;
	if (pipe2(p, O_CLOEXEC))
		return WL_RESP_OUT_OF_MEMORY;
	/* Only our end is non-blocking: the other end's file is the receiver's. */
	v = vfd_init(w, slot, WL_PIPE, c->id, guest_writes ? p[1] : p[0]);
	v->remote_fd = guest_writes ? p[0] : p[1];
	v->flags = c->flags;
	fcntl(v->fd, F_SETFL, fcntl(v->fd, F_GETFL) | O_NONBLOCK);
	wl_vfd_watch(w, (unsigned int)slot);
	return reply_new(r, w, v, 0);
}

static uint32_t cmd_close(struct wl_dev *w, const struct wl_cmd *c)
{
	struct wl_vfd *v = wl_vfd_find(w, c->id);

	if (!v)
		return WL_RESP_INVALID_ID;
	wl_pend_drop(w, c->id);
	wl_vfd_close(w, (unsigned int)(v - w->vfds));
	return WL_RESP_OK;
}

/* The descriptors VFD_SEND names; 0 or the error to answer with. */
static uint32_t send_fds(struct wl_dev *w, const struct wl_cmd *c, int *fds)
{
	for (uint32_t i = 0; i < c->nr_ids; i++) {
		struct wl_vfd *v = wl_vfd_find(w, c->ids[i]);

		if (!v)
			return WL_RESP_INVALID_ID;
		fds[i] = v->kind == WL_PIPE ? v->remote_fd : v->fd;
		if (fds[i] < 0)
			return WL_RESP_INVALID_TYPE; /* a pipe end already sent */
	}
	return 0;
}

static uint32_t send_check(struct wl_dev *w, const struct wl_cmd *c, uint64_t data_len)
{
	struct wl_vfd *t = wl_vfd_find(w, c->id);
	int fds[WL_SEND_MAX_VFDS];
	uint32_t rc;

	if (!t)
		return WL_RESP_INVALID_ID;
	rc = send_fds(w, c, fds);
	if (rc)
		return rc;
	if (t->kind == WL_CTX)
		return c->nr_ids && !data_len ? WL_RESP_ERR : 0; /* descriptors ride on bytes */
	if (t->kind == WL_PIPE && (t->flags & WL_VFD_WRITE))
		return c->nr_ids ? WL_RESP_INVALID_TYPE : 0;
	return WL_RESP_INVALID_TYPE;
}

/*
 * writev() to a pipe whose reader may be gone: EPIPE, never SIGPIPE. The
 * device process ignores SIGPIPE (and its policy has no rt_sigprocmask);
 * without the sandbox the device runs in a program that need not.
 */
static ssize_t pipe_writev(const struct wl_dev *w, int fd, const struct iovec *iov, int n)
{
	return w->vp.in_child ? writev(fd, iov, n) : io_writev_nosigpipe(fd, iov, n);
}

/* Send what is left of the held VFD_SEND: 0 when done (@code set), -EAGAIN when still held. */
static int send_more(struct wl_dev *w, uint32_t *code)
{
	const struct wl_cmd *c = &w->held_cmd;
	struct wl_vfd *t = wl_vfd_find(w, c->id);
	uint64_t total = w->out.out_len - c->data_off;

	*code = WL_RESP_OK;
	while (t && w->held_sent < total) {
		struct iovec iov[SEND_IOV];
		union {
			char buf[CMSG_SPACE(sizeof(int) * WL_SEND_MAX_VFDS)];
			struct cmsghdr align;
		} cbuf;
		struct msghdr m = { .msg_iov = iov };
		ssize_t n;

		m.msg_iovlen = (size_t)vq_iov(&w->out, true, c->data_off + w->held_sent,
					      total - w->held_sent, iov, SEND_IOV);
		if (t->kind == WL_CTX && !w->held_sent && c->nr_ids) {
			struct cmsghdr *cm;

			memset(&cbuf, 0, sizeof(cbuf));
			m.msg_control = cbuf.buf;
			m.msg_controllen = CMSG_SPACE(sizeof(int) * c->nr_ids);
			cm = CMSG_FIRSTHDR(&m);
			cm->cmsg_level = SOL_SOCKET;
			cm->cmsg_type = SCM_RIGHTS;
			cm->cmsg_len = CMSG_LEN(sizeof(int) * c->nr_ids);
			if (send_fds(w, c, (int *)CMSG_DATA(cm))) {
				*code = WL_RESP_INVALID_ID;
				return 0;
			}
		}
		if (t->kind == WL_CTX)
			n = sendmsg(t->fd, &m, MSG_NOSIGNAL | MSG_DONTWAIT);
		else
			n = pipe_writev(w, t->fd, iov, (int)m.msg_iovlen);
		if (n < 0 && errno == EINTR)
			continue;
		if (n < 0 && errno == EAGAIN)
			return -EAGAIN;
		if (n <= 0) {
			log_debug(w->vp.log, "%s: VFD_SEND to 0x%x: %s", w->name, c->id,
				  n < 0 ? strerror(errno) : "nothing written");
			*code = WL_RESP_ERR;
			return 0;
		}
		w->held_sent += (uint64_t)n;
	}
	if (!t) {
		*code = WL_RESP_INVALID_ID;
		return 0;
	}
	/* Pipe ends that went to the compositor are its now: our end sees its hang-up. */
	for (uint32_t i = 0; i < c->nr_ids; i++) {
		struct wl_vfd *v = wl_vfd_find(w, c->ids[i]);

		if (v && v->kind == WL_PIPE && v->remote_fd >= 0) {
			close(v->remote_fd);
			v->remote_fd = -1;
		}
	}
	return 0;
}

static int answer(struct wl_dev *w, struct virtq *q, const struct reply *r)
{
	uint64_t n = vq_copy_to(&w->out, 0, r->buf, r->len);

	if (n < r->len)
		vp_warn_guest(&w->vp, "%s: response buffer of %llu bytes for a %zu-byte response",
			      w->name, (unsigned long long)w->out.in_len, r->len);
	if (vq_push(q, w->out.head, (uint32_t)n))
		return -EPROTO;
	w->out_answered = true;
	return 0;
}

/* Handle the chain in w->out: 0 answered, -EAGAIN held, -EPROTO broken. */
static int execute(struct wl_dev *w, struct virtq *q)
{
	uint8_t buf[WL_CMD_MAX];
	uint64_t n = vq_copy_from(&w->out, 0, buf,
				  w->out.out_len < WL_CMD_MAX ? w->out.out_len : WL_CMD_MAX);
	struct wl_cmd *c = &w->held_cmd;
	struct reply r = { .len = 0 };
	uint32_t code = wl_parse_cmd(buf, (size_t)n, w->out.out_len, c);

	if (!code) {
		switch (c->type) {
		case WL_CMD_VFD_NEW:
			code = cmd_new(w, c, &r);
			break;
		case WL_CMD_VFD_NEW_CTX:
		case WL_CMD_VFD_NEW_CTX_NAMED:
			code = cmd_new_ctx(w, c, &r);
			break;
		case WL_CMD_VFD_NEW_PIPE:
			code = cmd_new_pipe(w, c, &r);
			break;
		case WL_CMD_VFD_CLOSE:
			code = cmd_close(w, c);
			break;
		case WL_CMD_VFD_SEND:
			code = send_check(w, c, w->out.out_len - c->data_off);
			if (code)
				break;
			w->held_sent = 0;
			w->held = true;
			if (send_more(w, &code) == -EAGAIN) {
				wl_vfd_watch(w, (unsigned int)(wl_vfd_find(w, c->id) - w->vfds));
				return -EAGAIN;
			}
			w->held = false;
			break;
		}
	} else if (code == WL_RESP_INVALID_CMD || code == WL_RESP_ERR) {
		vp_warn_guest(&w->vp, "%s: bad command (type 0x%x, %llu bytes)", w->name, c->type,
			      (unsigned long long)w->out.out_len);
	}
	if (!r.len)
		r.len = wl_enc_resp(r.buf, code ? code : WL_RESP_OK);
	return answer(w, q, &r);
}

int wl_process_out(struct wl_dev *w, struct virtq *q)
{
	struct cvm_errbuf err = { "" };
	int rc;

	if (w->held) {
		uint32_t code;
		struct wl_vfd *t = wl_vfd_find(w, w->held_cmd.id);
		struct reply r = { .len = 0 };

		if (send_more(w, &code) == -EAGAIN)
			return 0;
		w->held = false;
		if (t)
			wl_vfd_watch(w, (unsigned int)(t - w->vfds));
		r.len = wl_enc_resp(r.buf, code);
		if (answer(w, q, &r))
			return -EPROTO;
	}
	for (;;) {
		while ((rc = vq_pop(q, &w->out, &err)) == 1) {
			rc = execute(w, q);
			if (rc == -EAGAIN)
				return 0;
			if (rc)
				return rc;
		}
		if (rc < 0)
			break;
		/* EVENT_IDX: ask for the next kick (avail_event), then close the race. */
		vq_enable_notify(q);
		if (!vq_has_work(q))
			break;
	}
	if (rc < 0) {
		vp_warn_guest(&w->vp, "%s: out queue: %s", w->name, err.msg);
		return -EPROTO;
	}
	return 0;
}

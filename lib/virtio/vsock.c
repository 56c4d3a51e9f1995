// SPDX-License-Identifier: BSD-3-Clause
/*
 * virtio-vsock, userspace backend (see vsock.h for the host-side scheme).
 *
 * Every header the guest sends is checked: the chain must hold the 44-byte
 * header and the payload it announces, src_cid must be the guest's CID,
 * dst_cid the host (2), type STREAM and op one of REQUEST..CREDIT_REQUEST.
 * A packet that breaks those rules is dropped (RST when it names a
 * connection); a guest that exceeds the credit it was given loses the
 * connection (RST).
 */
#include "util/mmbuf.h"
#include "util/sock.h"
#include "virtio/vsock_conn.h"

#include <endian.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/uio.h>
#include <sys/un.h>
#include <unistd.h>

#define VIRTIO_ID_VSOCK 19
#define VIRTIO_VSOCK_F_STREAM 0
#define PCI_CLASS_COMMUNICATION_OTHER 0x078000
#define VSOCK_IOV_MAX 64

/* --- guest -> host ------------------------------------------------------------------------- */

static void guest_connect(struct vsock_dev *v, const struct virtio_vsock_hdr *h)
{
	uint32_t local = le32toh(h->dst_port), peer = le32toh(h->src_port);
	struct vsock_conn *c;
	int fd;

	if (conn_find(v, local, peer)) {
		gwarn(v, "%s: guest port %u asked for host port %u twice", v->name, peer, local);
		rst_push(v, local, peer);
		return;
	}
	fd = virtio_pci_broker_connect(&v->vp, local);
	if (fd < 0) {
		log_debug(v->vp.log, "%s: guest port %u -> %s_%u: %s", v->name, peer, v->uds_path,
			  local, strerror(-fd));
		rst_push(v, local, peer);
		return;
	}
	c = conn_alloc(v, fd);
	if (!c) {
		gwarn(v, "%s: too many connections (%d), refusing guest port %u", v->name,
		      VSOCK_MAX_CONNS, peer);
		close(fd);
		rst_push(v, local, peer);
		return;
	}
	c->state = VC_OPEN;
	c->local_port = local;
	c->peer_port = peer;
	c->peer_buf_alloc = le32toh(h->buf_alloc);
	c->peer_fwd_cnt = le32toh(h->fwd_cnt);
	c->need_response = true;
	conn_watch(v, c);
}

/* RW: the payload goes to the socket, or to wbuf when the socket is full. */
static void guest_data(struct vsock_dev *v, struct vsock_conn *c, const struct vq_chain *ch,
		       uint32_t len)
{
	uint32_t off = 0;

	if (c->guest_no_send) {
		gwarn(v, "%s: guest port %u sent data after SHUTDOWN(SEND)", v->name, c->peer_port);
		conn_close(v, c, true);
		return;
	}
	if ((uint64_t)(c->rx_cnt - c->fwd_cnt) + len > VSOCK_BUF_ALLOC) {
		gwarn(v, "%s: guest port %u exceeded its credit (%u bytes in flight + %u)", v->name,
		      c->peer_port, c->rx_cnt - c->fwd_cnt, len);
		conn_close(v, c, true);
		return;
	}
	c->rx_cnt += len;
	if (!c->wlen) {
		struct iovec iov[VSOCK_IOV_MAX];
		struct msghdr m = { .msg_iov = iov };
		ssize_t n;

		m.msg_iovlen = (size_t)vq_iov(ch, true, VSOCK_HDR_LEN, len, iov, VSOCK_IOV_MAX);
		do
			n = sendmsg(c->fd, &m, MSG_NOSIGNAL | MSG_DONTWAIT);
		while (n < 0 && errno == EINTR);
		if (n < 0 && errno != EAGAIN) {
			conn_close(v, c, true);
			return;
		}
		if (n > 0) {
			off = (uint32_t)n;
			c->fwd_cnt += (uint32_t)n;
		}
	}
	if (off < len) {
		uint32_t need = c->wlen + (len - off);

		if (need > c->wcap) {
			uint32_t cap = c->wcap ? c->wcap : 16384;
			uint8_t *nb;

			while (cap < need)
				cap *= 2;
			nb = mm_realloc(c->wbuf, c->wcap, cap); /* no malloc in a device process */
			if (!nb) {
				log_warn(v->vp.log, "%s: out of memory", v->name);
				conn_close(v, c, true);
				return;
			}
			c->wbuf = nb;
			c->wcap = cap;
		}
		vq_copy_from(ch, VSOCK_HDR_LEN + off, c->wbuf + c->wlen, len - off);
		c->wlen = need;
	}
	if (c->fwd_cnt - c->fwd_cnt_sent >= VSOCK_CREDIT_THRESHOLD)
		c->need_credit = true;
	conn_watch(v, c);
}

static const char *const op_names[] = { "INVALID",  "REQUEST", "RESPONSE",	"RST",
					"SHUTDOWN", "RW",      "CREDIT_UPDATE", "CREDIT_REQUEST" };

static void guest_packet(struct vsock_dev *v, const struct vq_chain *ch)
{
	struct virtio_vsock_hdr h;
	struct vsock_conn *c;
	uint32_t len, local, peer;
	uint16_t op;

	if (ch->out_len < VSOCK_HDR_LEN) {
		gwarn(v, "%s: tx chain of %llu readable bytes, shorter than a header", v->name,
		      (unsigned long long)ch->out_len);
		return;
	}
	vq_copy_from(ch, 0, &h, VSOCK_HDR_LEN);
	len = le32toh(h.len);
	op = le16toh(h.op);
	local = le32toh(h.dst_port);
	peer = le32toh(h.src_port);
	if (le64toh(h.src_cid) != v->cid || le64toh(h.dst_cid) != VSOCK_HOST_CID) {
		gwarn(v, "%s: packet from cid %llu to cid %llu dropped (want %llu -> 2)", v->name,
		      (unsigned long long)le64toh(h.src_cid),
		      (unsigned long long)le64toh(h.dst_cid), (unsigned long long)v->cid);
		return;
	}
	if (len > ch->out_len - VSOCK_HDR_LEN || len > VSOCK_MAX_PKT ||
	    (len && op != VIRTIO_VSOCK_OP_RW)) {
		gwarn(v, "%s: packet (op %u) announces %u payload bytes in a %llu-byte chain",
		      v->name, op, len, (unsigned long long)ch->out_len);
		if (op != VIRTIO_VSOCK_OP_RST)
			rst_push(v, local, peer);
		return;
	}
	if (le16toh(h.type) != VIRTIO_VSOCK_TYPE_STREAM || op == VIRTIO_VSOCK_OP_INVALID ||
	    op > VIRTIO_VSOCK_OP_CREDIT_REQUEST) {
		gwarn(v, "%s: packet type %u op %u from guest port %u not supported", v->name,
		      le16toh(h.type), op, peer);
		c = conn_find(v, local, peer);
		if (c)
			conn_close(v, c, true);
		else if (op != VIRTIO_VSOCK_OP_RST)
			rst_push(v, local, peer);
		return;
	}
	if (op == VIRTIO_VSOCK_OP_REQUEST) {
		guest_connect(v, &h);
		return;
	}
	c = conn_find(v, local, peer);
	if (!c) {
		log_debug(v->vp.log, "%s: %s for no connection (%u -> %u)", v->name, op_names[op],
			  peer, local);
		if (op != VIRTIO_VSOCK_OP_RST)
			rst_push(v, local, peer);
		return;
	}
	c->peer_buf_alloc = le32toh(h.buf_alloc);
	c->peer_fwd_cnt = le32toh(h.fwd_cnt);
	if (op == VIRTIO_VSOCK_OP_RST) {
		conn_close(v, c, false);
		return;
	}
	if (c->state == VC_REQUEST) {
		char ok[24];
		int n;

		if (op != VIRTIO_VSOCK_OP_RESPONSE || c->need_request) {
			conn_close(v, c, true);
			return;
		}
		n = snprintf(ok, sizeof(ok), "OK %u\n", c->local_port);
		if (send(c->fd, ok, (size_t)n, MSG_NOSIGNAL | MSG_DONTWAIT) != n) {
			conn_close(v, c, true);
			return;
		}
		c->state = VC_OPEN;
		conn_watch(v, c);
		return;
	}
	switch (op) {
	case VIRTIO_VSOCK_OP_RESPONSE:
		gwarn(v, "%s: RESPONSE on an open connection (guest port %u)", v->name, peer);
		conn_close(v, c, true);
		return;
	case VIRTIO_VSOCK_OP_SHUTDOWN: {
		uint32_t f = le32toh(h.flags);

		if (f & VIRTIO_VSOCK_SHUTDOWN_RCV)
			c->guest_no_rcv = true;
		if (f & VIRTIO_VSOCK_SHUTDOWN_SEND)
			c->guest_no_send = true;
		conn_check_done(v, c);
		if (c->state == VC_OPEN)
			conn_watch(v, c);
		return;
	}
	case VIRTIO_VSOCK_OP_RW:
		guest_data(v, c, ch, len);
		return;
	case VIRTIO_VSOCK_OP_CREDIT_REQUEST:
		c->need_credit = true;
		return;
	default: /* CREDIT_UPDATE: the credit was taken above */
		return;
	}
}

int vsock_process_tx(struct vsock_dev *v, struct virtq *q, bool *rx_work)
{
	struct cvm_errbuf err;
	unsigned int done = 0;
	int rc;

	for (;;) {
		vq_disable_notify(q);
		while ((rc = vq_pop(q, &v->tx_chain, &err)) == 1) {
			guest_packet(v, &v->tx_chain);
			if (vq_push(q, v->tx_chain.head, 0))
				return -EPROTO;
			done++;
		}
		if (rc < 0) {
			vp_warn_guest(&v->vp, "%s: tx queue: %s", v->name, err.msg);
			return rc;
		}
		vq_enable_notify(q);
		if (!vq_has_work(q))
			break;
	}
	*rx_work = true;
	return (int)done;
}

/* --- host -> guest ------------------------------------------------------------------------- */

static void rx_header(struct vsock_dev *v, struct virtio_vsock_hdr *h, uint32_t local,
		      uint32_t peer, uint16_t op)
{
	memset(h, 0, sizeof(*h));
	h->src_cid = htole64(VSOCK_HOST_CID);
	h->dst_cid = htole64(v->cid);
	h->src_port = htole32(local);
	h->dst_port = htole32(peer);
	h->type = htole16(VIRTIO_VSOCK_TYPE_STREAM);
	h->op = htole16(op);
	h->buf_alloc = htole32(VSOCK_BUF_ALLOC);
}

static void conn_header(struct vsock_dev *v, struct vsock_conn *c, struct virtio_vsock_hdr *h,
			uint16_t op)
{
	rx_header(v, h, c->local_port, c->peer_port, op);
	h->fwd_cnt = htole32(c->fwd_cnt);
	c->fwd_cnt_sent = c->fwd_cnt;
	c->need_credit = false;
}

/* A control packet owed by some connection: fills @h, returns true. */
static bool next_control(struct vsock_dev *v, struct virtio_vsock_hdr *h)
{
	if (v->rst_len) {
		struct vsock_rst *r = &v->rst[v->rst_head];

		rx_header(v, h, r->local_port, r->peer_port, VIRTIO_VSOCK_OP_RST);
		v->rst_head = (v->rst_head + 1) % VSOCK_RST_RING;
		v->rst_len--;
		return true;
	}
	for (unsigned int i = 0; i < VSOCK_MAX_CONNS && v->nr_conns; i++) {
		struct vsock_conn *c = &v->conns[i];

		if (c->state == VC_REQUEST && c->need_request) {
			conn_header(v, c, h, VIRTIO_VSOCK_OP_REQUEST);
			c->need_request = false;
			return true;
		}
		if (c->state != VC_OPEN)
			continue;
		if (c->need_response) {
			conn_header(v, c, h, VIRTIO_VSOCK_OP_RESPONSE);
			c->need_response = false;
			return true;
		}
		if (c->need_shutdown) {
			conn_header(v, c, h, VIRTIO_VSOCK_OP_SHUTDOWN);
			h->flags = htole32(VIRTIO_VSOCK_SHUTDOWN_SEND);
			c->need_shutdown = false;
			return true;
		}
		if (c->need_credit) {
			conn_header(v, c, h, VIRTIO_VSOCK_OP_CREDIT_UPDATE);
			return true;
		}
	}
	return false;
}

/*
 * Read from the next connection that has data, credit and no pending
 * control packet into @ch. Returns the payload length (> 0) with @h filled,
 * or 0 when no connection has anything, or when @ch has room for a header
 * only (it waits for a control packet: a read into no buffer would return
 * 0, which is end of file).
 */
static uint32_t next_data(struct vsock_dev *v, const struct vq_chain *ch,
			  struct virtio_vsock_hdr *h)
{
	uint64_t room = ch->in_len - VSOCK_HDR_LEN;

	if (!room)
		return 0;
	for (unsigned int k = 0; k < VSOCK_MAX_CONNS && v->nr_conns; k++) {
		unsigned int i = (v->rr + k) % VSOCK_MAX_CONNS;
		struct vsock_conn *c = &v->conns[i];
		struct iovec iov[VSOCK_IOV_MAX];
		uint32_t credit;
		ssize_t n;
		int niov;

		if (c->state != VC_OPEN || !c->readable || c->host_eof || c->guest_no_rcv)
			continue;
		credit = conn_peer_credit(c);
		if (!credit)
			continue;
		niov = vq_iov(ch, false, VSOCK_HDR_LEN, credit < room ? credit : room, iov,
			      VSOCK_IOV_MAX);
		do
			n = readv(c->fd, iov, niov);
		while (n < 0 && errno == EINTR);
		if (n > 0) {
			conn_header(v, c, h, VIRTIO_VSOCK_OP_RW);
			h->len = htole32((uint32_t)n);
			c->tx_cnt += (uint32_t)n;
			v->rr = i + 1;
			return (uint32_t)n;
		}
		c->readable = false;
		if (n == 0) {
			c->host_eof = true;
			c->need_shutdown = true;
			conn_check_done(v, c);
		} else if (errno != EAGAIN) {
			conn_close(v, c, true);
		}
		if (c->state == VC_OPEN)
			conn_watch(v, c);
	}
	return 0;
}

int vsock_fill_rx(struct vsock_dev *v, struct virtq *q, unsigned int *pushed)
{
	struct cvm_errbuf err;
	struct virtio_vsock_hdr h;

	for (;;) {
		uint32_t written;
		int rc;

		if (!v->rx_held) {
			if (!v->rst_len && !v->nr_conns)
				return 0; /* nothing could be sent: leave the buffers there */
			rc = vq_pop(q, &v->rx_chain, &err);
			if (rc < 0) {
				vp_warn_guest(&v->vp, "%s: rx queue: %s", v->name, err.msg);
				return rc;
			}
			if (rc == 0)
				return 0;
			if (v->rx_chain.in_len < VSOCK_HDR_LEN ||
			    v->rx_chain.in_len - VSOCK_HDR_LEN > UINT32_MAX) {
				gwarn(v, "%s: rx buffer of %llu writable bytes", v->name,
				      (unsigned long long)v->rx_chain.in_len);
				if (vq_push(q, v->rx_chain.head, 0))
					return -EPROTO;
				(*pushed)++;
				continue;
			}
			v->rx_held = true;
		}
		if (next_control(v, &h))
			written = VSOCK_HDR_LEN;
		else {
			uint32_t n = next_data(v, &v->rx_chain, &h);

			if (!n) {
				/* Reading may have queued a SHUTDOWN or RST. */
				if (!next_control(v, &h))
					return 0;
				written = VSOCK_HDR_LEN;
			} else {
				written = VSOCK_HDR_LEN + n;
			}
		}
		vq_copy_to(&v->rx_chain, 0, &h, VSOCK_HDR_LEN);
		v->rx_held = false;
		if (vq_push(q, v->rx_chain.head, written))
			return -EPROTO;
		(*pushed)++;
	}
}

/* --- the virtio device --------------------------------------------------------------------- */

static int vsock_run(struct vsock_dev *v, struct virtio_pci *vp, bool tx)
{
	struct virtq *txq = virtio_pci_queue(vp, VSOCK_Q_TX);
	struct virtq *rxq = virtio_pci_queue(vp, VSOCK_Q_RX);
	unsigned int pushed = 0;
	bool rx_work = true;
	int rc;

	if (tx && txq) {
		rc = vsock_process_tx(v, txq, &rx_work);
		if (rc < 0)
			return rc;
		if (rc > 0)
			virtio_pci_queue_done(vp, VSOCK_Q_TX);
	}
	if (rxq && rx_work) {
		rc = vsock_fill_rx(v, rxq, &pushed);
		if (pushed)
			virtio_pci_queue_done(vp, VSOCK_Q_RX);
		if (rc < 0)
			return rc;
	}
	return 0;
}

static void vsock_config_read(void *opaque, uint32_t off, uint8_t *data, uint32_t len)
{
	struct vsock_dev *v = opaque;

	memcpy(data, (const uint8_t *)&v->config + off, len);
}

static int vsock_queue_notify(void *opaque, struct virtio_pci *vp, unsigned int q)
{
	if (q == VSOCK_Q_EVENT)
		return 0; /* we never send events; the buffers just wait */
	return vsock_run(opaque, vp, true);
}

static int vsock_fd_event(void *opaque, struct virtio_pci *vp, uint32_t tag, uint32_t events)
{
	vsock_fd_ready(opaque, tag, events);
	return vsock_run(opaque, vp, false);
}

static void vsock_close_all(struct vsock_dev *v)
{
	for (unsigned int i = 0; i < VSOCK_MAX_CONNS; i++)
		conn_close(v, &v->conns[i], false);
	v->rst_len = 0;
	v->rx_held = false;
}

/*
 * The driver reset the device: connections the guest knew of are gone
 * (without RST: the new driver never heard of them). Host connections
 * still in their handshake, or whose REQUEST was not sent yet, stay for
 * the next driver.
 */
static void vsock_reset(void *opaque)
{
	struct vsock_dev *v = opaque;

	for (unsigned int i = 0; i < VSOCK_MAX_CONNS; i++) {
		struct vsock_conn *c = &v->conns[i];

		if (c->state != VC_HANDSHAKE && !(c->state == VC_REQUEST && c->need_request))
			conn_close(v, c, false);
	}
	v->rst_len = 0;
	v->rx_held = false;
}

static unsigned int vsock_keep_fds(void *opaque, int *fds, unsigned int max)
{
	struct vsock_dev *v = opaque;

	if (max < 1 || v->listen_fd < 0)
		return 0;
	fds[0] = v->listen_fd;
	return 1;
}

/* In the VMM: a guest connection to host port @port goes to <uds_path>_<port>. */
static int vsock_broker_connect(void *opaque, uint32_t port)
{
	struct vsock_dev *v = opaque;
	char path[sizeof(((struct sockaddr_un *)0)->sun_path) + 1];

	if (snprintf(path, sizeof(path), "%s_%u", v->uds_path, port) >= (int)sizeof(path))
		return -ENAMETOOLONG;
	return sock_connect_unix(path);
}

static const struct virtio_dev_ops vsock_ops = {
	.keep_fds = vsock_keep_fds,
	.broker_connect = vsock_broker_connect,
	.config_read = vsock_config_read,
	.queue_notify = vsock_queue_notify,
	.reset = vsock_reset,
	.fd_event = vsock_fd_event,
};

int vsock_dev_create(struct vsock_dev **out, uint64_t cid, const char *uds_path,
		     const struct virtio_env *env, struct cvm_errbuf *err)
{
	struct vsock_dev *v;
	struct stat st;
	int rc;

	*out = NULL;
	if (cid < 3 || cid > UINT32_MAX - 1)
		return errf(err, -EINVAL, "vsock: cid %llu is reserved (use 3 .. 4294967294)",
			    (unsigned long long)cid);
	if (!uds_path || !*uds_path)
		return errf(err, -EINVAL, "vsock: no socket path");
	v = calloc(1, sizeof(*v));
	if (!v)
		return errf(err, -ENOMEM, "out of memory");
	v->listen_fd = -1;
	for (unsigned int i = 0; i < VSOCK_MAX_CONNS; i++)
		v->conns[i].fd = -1;
	v->cid = cid;
	v->next_port = VSOCK_EPHEMERAL_BASE;
	v->config.guest_cid = htole64(cid);
	snprintf(v->name, sizeof(v->name), "virtio-vsock cid %llu", (unsigned long long)cid);
	v->uds_path = strdup(uds_path);
	if (!v->uds_path) {
		rc = errf(err, -ENOMEM, "out of memory");
		goto fail;
	}

	struct virtio_pci_config c = {
		.name = v->name,
		.device_id = VIRTIO_ID_VSOCK,
		.pci_class = PCI_CLASS_COMMUNICATION_OTHER << 8,
		.features = 1ULL << VIRTIO_VSOCK_F_STREAM,
		.config_len = sizeof(v->config),
		.nr_queues = 3,
		.queue_max_size = VIRTIO_PCI_QUEUE_MAX_SIZE,
		.ops = &vsock_ops,
		.policy = "vsock",
		.max_fds = VSOCK_MAX_CONNS + 8,
		.opaque = v,
	};

	rc = virtio_pci_init(&v->vp, &c, env, err);
	if (rc)
		goto fail;
	rc = uds_listen(v, err);
	if (rc)
		goto fail;
	if (lstat(v->uds_path, &st) == 0) {
		v->uds_dev = st.st_dev;
		v->uds_ino = st.st_ino;
	}
	rc = virtio_pci_watch_fd(&v->vp, v->listen_fd, EPOLLIN, 0);
	if (rc) {
		errf(err, rc, "vsock: cannot watch %s: %s", v->uds_path, strerror(-rc));
		goto fail;
	}
	*out = v;
	return 0;
fail:
	vsock_dev_destroy(v);
	return rc;
}

void vsock_dev_destroy(struct vsock_dev *v)
{
	struct stat st;

	if (!v)
		return;
	vsock_close_all(v);
	virtio_pci_destroy(&v->vp);
	if (v->listen_fd >= 0) {
		close(v->listen_fd);
		/* Remove our socket, not one a later VM put at the same path. */
		if (lstat(v->uds_path, &st) == 0 && st.st_dev == v->uds_dev &&
		    st.st_ino == v->uds_ino)
			unlink(v->uds_path);
	}
	free(v->uds_path);
	free(v);
}

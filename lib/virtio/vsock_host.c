// SPDX-License-Identifier: BSD-3-Clause
/*
 * virtio-vsock, host side: connections and their AF_UNIX sockets, the
 * listening socket at uds_path and the "CONNECT <port>" handshake, served on
 * the device's worker thread (see vsock.h for the scheme).
 */
#include "util/mmbuf.h"
#include "virtio/vsock_conn.h"

#include <endian.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <unistd.h>

#define VSOCK_ACCEPT_BATCH 16

/* --- connections ------------------------------------------------------------------------- */

static uint32_t conn_tag(const struct vsock_dev *v, const struct vsock_conn *c)
{
	return 1 + (uint32_t)(c - v->conns);
}

struct vsock_conn *conn_find(struct vsock_dev *v, uint32_t local, uint32_t peer)
{
	if (!v->nr_conns)
		return NULL;
	for (unsigned int i = 0; i < VSOCK_MAX_CONNS; i++) {
		struct vsock_conn *c = &v->conns[i];

		if (c->state != VC_FREE && c->state != VC_HANDSHAKE && c->local_port == local &&
		    c->peer_port == peer)
			return c;
	}
	return NULL;
}

struct vsock_conn *conn_alloc(struct vsock_dev *v, int fd)
{
	if (v->nr_conns >= VSOCK_MAX_CONNS)
		return NULL;
	for (unsigned int i = 0; i < VSOCK_MAX_CONNS; i++) {
		struct vsock_conn *c = &v->conns[i];

		if (c->state == VC_FREE) {
			memset(c, 0, sizeof(*c));
			c->fd = fd;
			c->watched = UINT32_MAX; /* not registered yet */
			v->nr_conns++;
			return c;
		}
	}
	return NULL;
}

void rst_push(struct vsock_dev *v, uint32_t local, uint32_t peer)
{
	if (v->rst_len == VSOCK_RST_RING) {
		log_debug(v->vp.log, "%s: RST queue full, dropping one for port %u", v->name, peer);
		return;
	}
	v->rst[(v->rst_head + v->rst_len++) % VSOCK_RST_RING] =
		(struct vsock_rst){ .local_port = local, .peer_port = peer };
}

/* Free @c; with @rst, tell the guest (when it knows of the connection). */
void conn_close(struct vsock_dev *v, struct vsock_conn *c, bool rst)
{
	if (c->state == VC_FREE)
		return;
	if (rst && (c->state == VC_OPEN || (c->state == VC_REQUEST && !c->need_request)))
		rst_push(v, c->local_port, c->peer_port);
	if (c->fd >= 0) {
		if (c->watched != UINT32_MAX)
			virtio_pci_unwatch_fd(&v->vp, c->fd);
		close(c->fd);
	}
	mm_free(c->wbuf, c->wcap);
	memset(c, 0, sizeof(*c));
	c->state = VC_FREE;
	c->fd = -1;
	v->nr_conns--;
}

/* Ask epoll for what @c can use now. */
void conn_watch(struct vsock_dev *v, struct vsock_conn *c)
{
	uint32_t ev = 0;

	if (c->state == VC_HANDSHAKE)
		ev = EPOLLIN;
	else if (c->state == VC_OPEN) {
		if (!c->readable && !c->host_eof && !c->guest_no_rcv)
			ev |= EPOLLIN;
		if (c->wlen)
			ev |= EPOLLOUT;
	}
	if (ev == c->watched || (!ev && c->watched == UINT32_MAX))
		return;
	/*
	 * Nothing to wait for: out of the epoll set, not in it with no events,
	 * where a peer's hang-up (EPOLLHUP, reported whatever was asked) would
	 * wake the worker again and again until the guest moves.
	 */
	if (!ev) {
		virtio_pci_unwatch_fd(&v->vp, c->fd);
		c->watched = UINT32_MAX;
		return;
	}
	if (virtio_pci_watch_fd(&v->vp, c->fd, ev, conn_tag(v, c))) {
		log_warn(v->vp.log, "%s: cannot watch a connection: %s", v->name, strerror(errno));
		conn_close(v, c, true);
		return;
	}
	c->watched = ev;
}

uint32_t conn_peer_credit(const struct vsock_conn *c)
{
	uint32_t in_flight = c->tx_cnt - c->peer_fwd_cnt;

	return in_flight > c->peer_buf_alloc ? 0 : c->peer_buf_alloc - in_flight;
}

/* Both directions finished, or the guest's SHUTDOWN(SEND) can reach the socket. */
void conn_check_done(struct vsock_dev *v, struct vsock_conn *c)
{
	if (c->state != VC_OPEN || c->wlen)
		return;
	if (c->guest_no_send && !c->shut_wr_done) {
		shutdown(c->fd, SHUT_WR);
		c->shut_wr_done = true;
	}
	if (c->guest_no_send && (c->host_eof || c->guest_no_rcv))
		conn_close(v, c, true);
}

/* Write buffered guest data to the socket. Returns 0, or -1 when @c was closed. */
static int conn_flush(struct vsock_dev *v, struct vsock_conn *c)
{
	uint32_t before = c->wlen;

	while (c->wlen) {
		ssize_t n = send(c->fd, c->wbuf, c->wlen, MSG_NOSIGNAL | MSG_DONTWAIT);

		if (n < 0 && errno == EINTR)
			continue;
		if (n < 0 && errno == EAGAIN)
			break;
		if (n <= 0) {
			conn_close(v, c, true);
			return -1;
		}
		memmove(c->wbuf, c->wbuf + n, c->wlen - (size_t)n);
		c->wlen -= (uint32_t)n;
		c->fwd_cnt += (uint32_t)n;
	}
	if (c->fwd_cnt - c->fwd_cnt_sent >= VSOCK_CREDIT_THRESHOLD ||
	    (before && !c->wlen && c->fwd_cnt != c->fwd_cnt_sent))
		c->need_credit = true;
	conn_check_done(v, c);
	return 0;
}

/* --- the listening socket ------------------------------------------------------------------ */

int uds_listen(struct vsock_dev *v, struct cvm_errbuf *err)
{
	struct sockaddr_un sa = { .sun_family = AF_UNIX };
	const char *path = v->uds_path;
	struct stat st;

	/* uds_path + "_4294967295" must fit too. */
	if (strlen(path) + 11 >= sizeof(sa.sun_path))
		return errf(err, -ENAMETOOLONG, "vsock socket path %s is too long (max %zu bytes)",
			    path, sizeof(sa.sun_path) - 12);
	strcpy(sa.sun_path, path);
	for (int attempt = 0; attempt < 2; attempt++) {
		int fd = socket(AF_UNIX, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);

		if (fd < 0)
			return errf(err, -errno, "socket: %s", strerror(errno));
		if (bind(fd, (struct sockaddr *)&sa, sizeof(sa)) == 0) {
			if (listen(fd, 64)) {
				int e = errno;

				close(fd);
				unlink(path);
				return errf(err, -e, "listen on %s: %s", path, strerror(e));
			}
			v->listen_fd = fd;
			return 0;
		}
		int e = errno;

		if (e != EADDRINUSE) {
			close(fd);
			return errf(err, -e, "cannot bind the vsock socket %s: %s", path,
				    strerror(e));
		}
		/* Something is there: a live listener (in use), a stale socket, or not a socket. */
		if (connect(fd, (struct sockaddr *)&sa, sizeof(sa)) == 0 || errno == EAGAIN) {
			close(fd);
			return errf(err, -EADDRINUSE,
				    "vsock: cid or socket in use: %s has a listener (another VM?)",
				    path);
		}
		close(fd);
		if (lstat(path, &st) == 0 && !S_ISSOCK(st.st_mode))
			return errf(err, -EEXIST, "vsock: %s exists and is not a socket", path);
		if (unlink(path) && errno != ENOENT)
			return errf(err, -errno, "cannot remove the stale socket %s: %s", path,
				    strerror(errno));
		log_debug(v->vp.log, "%s: replaced the stale socket %s", v->name, path);
	}
	return errf(err, -EADDRINUSE, "vsock: cid or socket in use: %s", path);
}

static void listener_ready(struct vsock_dev *v)
{
	for (int i = 0; i < VSOCK_ACCEPT_BATCH; i++) {
		int fd = accept4(v->listen_fd, NULL, NULL, SOCK_NONBLOCK | SOCK_CLOEXEC);
		struct vsock_conn *c;

		if (fd < 0) {
			if (errno != EAGAIN && errno != EINTR && errno != ECONNABORTED)
				log_warn(v->vp.log, "%s: accept: %s", v->name, strerror(errno));
			return;
		}
		c = conn_alloc(v, fd);
		if (!c) {
			log_warn(v->vp.log, "%s: too many connections (%d), refusing one", v->name,
				 VSOCK_MAX_CONNS);
			close(fd);
			continue;
		}
		c->state = VC_HANDSHAKE;
		conn_watch(v, c);
	}
}

/* A host port for a host-initiated connection, unused by any other. */
static uint32_t alloc_port(struct vsock_dev *v)
{
	for (;;) {
		uint32_t p = v->next_port++;
		bool used = false;

		if (v->next_port == 0)
			v->next_port = VSOCK_EPHEMERAL_BASE;
		for (unsigned int i = 0; i < VSOCK_MAX_CONNS && !used; i++)
			used = v->conns[i].state != VC_FREE && v->conns[i].local_port == p;
		if (!used)
			return p;
	}
}

/* "CONNECT <port>\n": returns 0 with @port, -1 for anything else. */
static int parse_connect(const char *s, size_t len, uint32_t *port)
{
	uint64_t p = 0;
	size_t i = 8;

	if (len < 10 || memcmp(s, "CONNECT ", 8) || s[len - 1] != '\n')
		return -1;
	for (; i < len - 1; i++) {
		if (s[i] < '0' || s[i] > '9' || i - 8 >= 10)
			return -1;
		p = p * 10 + (uint64_t)(s[i] - '0');
	}
	if (p > UINT32_MAX)
		return -1;
	*port = (uint32_t)p;
	return 0;
}

static void handshake_ready(struct vsock_dev *v, struct vsock_conn *c)
{
	ssize_t n = recv(c->fd, c->line, sizeof(c->line), MSG_PEEK | MSG_DONTWAIT);
	char *nl;
	uint32_t port;

	if (n < 0 && (errno == EAGAIN || errno == EINTR))
		return;
	if (n <= 0) {
		conn_close(v, c, false);
		return;
	}
	nl = memchr(c->line, '\n', (size_t)n);
	if (!nl) {
		if ((size_t)n == sizeof(c->line)) {
			gwarn(v, "%s: a host connection sent no CONNECT line, closing it", v->name);
			conn_close(v, c, false);
		}
		return; /* a partial line: wait for the rest */
	}
	c->line_len = (uint32_t)(nl - c->line + 1);
	/* Consume exactly the line: what follows is the stream's data. */
	if (recv(c->fd, c->line, c->line_len, MSG_DONTWAIT) != (ssize_t)c->line_len ||
	    parse_connect(c->line, c->line_len, &port)) {
		gwarn(v, "%s: a host connection sent a bad CONNECT line, closing it", v->name);
		conn_close(v, c, false);
		return;
	}
	c->state = VC_REQUEST;
	c->local_port = alloc_port(v);
	c->peer_port = port;
	c->need_request = true;
	conn_watch(v, c);
}

void vsock_fd_ready(struct vsock_dev *v, uint32_t tag, uint32_t events)
{
	struct vsock_conn *c;

	if (tag == 0) {
		listener_ready(v);
		return;
	}
	if (tag > VSOCK_MAX_CONNS)
		return;
	c = &v->conns[tag - 1];
	switch (c->state) {
	case VC_HANDSHAKE:
		handshake_ready(v, c);
		return;
	case VC_OPEN:
		if (events & (EPOLLIN | EPOLLHUP | EPOLLERR))
			c->readable = true;
		if ((events & (EPOLLOUT | EPOLLHUP | EPOLLERR)) && c->wlen && conn_flush(v, c))
			return;
		if (c->state == VC_OPEN)
			conn_watch(v, c);
		return;
	default:
		return; /* a stale event for a reused slot */
	}
}

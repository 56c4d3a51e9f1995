// SPDX-License-Identifier: BSD-3-Clause
/*
 * Fuzz target: virtio-vsock packets from a hostile guest. One device is
 * created (its listening socket in a private directory) and brought back to
 * its initial state after every input: every connection closed, every
 * counter reset. A host program listens on port 1024 (<uds>_1024), so that a
 * guest REQUEST to that port opens a connection and RW data flows through it.
 *
 * Input: the tx ring (fz_vq_build()), the rx ring (fz_vq_build_at(FZ_VQ2)),
 * u8 host actions (bit 0: a host program connects to the device and sends
 * the line that follows as u8 length + bytes; bit 1: the host end of every
 * connection writes the u16 length + bytes that follow), and again for a
 * second round of tx/rx processing.
 *
 * Invariants: vsock_process_tx()/vsock_fill_rx() return >= 0 or -EPROTO;
 * the per-connection buffer accounting stays within the credit.
 */
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <unistd.h>

#include "fuzz_util.h"
#include "virtio/vsock_conn.h"

#define HOST_PORT 1024
#define GUEST_CID 3
#define MAX_PEERS 64

static char dir[64], path[128];
static int listener = -1;
static int peers[MAX_PEERS];
static unsigned int nr_peers;

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static int unix_socket(const char *p, bool do_listen)
{
	struct sockaddr_un sa = { .sun_family = AF_UNIX };
	int fd = socket(AF_UNIX, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);

	FZ_CHECK(fd >= 0, "socket");
	snprintf(sa.sun_path, sizeof(sa.sun_path), "%s", p);
	if (do_listen) {
		unlink(p);
		FZ_CHECK(bind(fd, (struct sockaddr *)&sa, sizeof(sa)) == 0, "bind %s", p);
		FZ_CHECK(listen(fd, 128) == 0, "listen");
	} else if (connect(fd, (struct sockaddr *)&sa, sizeof(sa))) {
		close(fd);
		return -1;
	}
	return fd;
}

static void cleanup(void)
{
	char p[160];

	if (!dir[0])
		return;
	snprintf(p, sizeof(p), "%s_%u", path, HOST_PORT);
	unlink(p);
	unlink(path);
	rmdir(dir);
}

static void setup(void)
{
	char p[160];

	snprintf(dir, sizeof(dir), "/tmp/cvm-fuzz-vsock-XXXXXX");
	FZ_CHECK(mkdtemp(dir), "mkdtemp");
	snprintf(path, sizeof(path), "%s/v.sock", dir);
	snprintf(p, sizeof(p), "%s_%u", path, HOST_PORT);
	listener = unix_socket(p, true);
	atexit(cleanup);
}

/* Accept what the device connected to port 1024 (up to MAX_PEERS). */
static void accept_peers(void)
{
	int fd;

	while (nr_peers < MAX_PEERS &&
	       (fd = accept4(listener, NULL, NULL, SOCK_NONBLOCK | SOCK_CLOEXEC)) >= 0)
		peers[nr_peers++] = fd;
}

static void check_conns(const struct vsock_dev *v)
{
	unsigned int used = 0;

	for (unsigned int i = 0; i < VSOCK_MAX_CONNS; i++) {
		const struct vsock_conn *c = &v->conns[i];

		if (c->state == VC_FREE)
			continue;
		used++;
		FZ_CHECK(c->fd >= 0, "connection %u has no socket", i);
		FZ_CHECK(c->wlen <= c->wcap, "connection %u: wlen %u > wcap %u", i, c->wlen,
			 c->wcap);
		FZ_CHECK(c->wlen <= c->rx_cnt - c->fwd_cnt &&
				 c->rx_cnt - c->fwd_cnt <= VSOCK_BUF_ALLOC,
			 "connection %u: wlen %u, rx_cnt %u, fwd_cnt %u", i, c->wlen, c->rx_cnt,
			 c->fwd_cnt);
	}
	FZ_CHECK(used == v->nr_conns, "%u connections in use, nr_conns %u", used, v->nr_conns);
	FZ_CHECK(v->rst_len <= VSOCK_RST_RING, "rst_len %u", v->rst_len);
}

static void host_actions(struct vsock_dev *v, struct fz *f, int *client)
{
	uint8_t act = fz_u8(f);
	uint8_t buf[4096];

	if ((act & 1) && *client < 0) {
		uint8_t n = fz_u8(f);

		fz_bytes(f, buf, n);
		*client = unix_socket(path, false);
		if (*client >= 0) {
			if (n && send(*client, buf, n, MSG_NOSIGNAL) < 0)
				FZ_CHECK(errno == EAGAIN, "write: %d", errno);
			vsock_fd_ready(v, 0, EPOLLIN);
		}
	}
	accept_peers();
	if (act & 2) {
		uint16_t n = fz_u16(f) % sizeof(buf);

		fz_bytes(f, buf, n);
		for (unsigned int i = 0; i < nr_peers && n; i++)
			if (send(peers[i], buf, n, MSG_NOSIGNAL) < 0)
				FZ_CHECK(errno == EAGAIN || errno == EPIPE, "write: %d", errno);
	}
	for (unsigned int i = 0; i < VSOCK_MAX_CONNS; i++)
		if (v->conns[i].state != VC_FREE)
			vsock_fd_ready(v, 1 + i, act & 4 ? EPOLLIN | EPOLLOUT : EPOLLIN);
	check_conns(v);
}

/* The device as vsock_dev_create() left it: no connection, no state from the last input. */
static void reset_dev(struct vsock_dev *v)
{
	int fd;

	/* Host programs the device did not accept yet. */
	while ((fd = accept4(v->listen_fd, NULL, NULL, SOCK_CLOEXEC)) >= 0)
		close(fd);
	for (unsigned int i = 0; i < VSOCK_MAX_CONNS; i++)
		conn_close(v, &v->conns[i], false);
	FZ_CHECK(v->nr_conns == 0, "%u connections after closing them all", v->nr_conns);
	v->rr = 0;
	v->next_port = VSOCK_EPHEMERAL_BASE;
	v->rst_head = v->rst_len = 0;
	v->rx_held = false;
	v->warnings = 0;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	static struct vsock_dev *v;
	struct fz f = { data, size };
	struct virtq txq, rxq;
	struct cvm_errbuf err;
	int client = -1;

	if (listener < 0) {
		setup();
		FZ_CHECK(vsock_dev_create(&v, GUEST_CID, path, fz_env(), &err) == 0,
			 "vsock_dev_create: %s", err.msg);
	}
	if (fz_vq_build(&txq, &f) || fz_vq_build_at(&rxq, &f, FZ_VQ2))
		return 0;
	for (unsigned int round = 0; round < 2; round++) {
		unsigned int pushed = 0;
		bool rx_work = false;
		int rc;

		host_actions(v, &f, &client);
		rc = vsock_process_tx(v, &txq, &rx_work);
		FZ_CHECK(rc >= 0 || rc == -EPROTO, "vsock_process_tx: %d", rc);
		check_conns(v);
		host_actions(v, &f, &client);
		rc = vsock_fill_rx(v, &rxq, &pushed);
		FZ_CHECK(rc >= 0 || rc == -EPROTO, "vsock_fill_rx: %d", rc);
		check_conns(v);
	}
	reset_dev(v);
	for (unsigned int i = 0; i < nr_peers; i++)
		close(peers[i]);
	nr_peers = 0;
	accept_peers();
	for (unsigned int i = 0; i < nr_peers; i++)
		close(peers[i]);
	nr_peers = 0;
	if (client >= 0)
		close(client);
	return 0;
}

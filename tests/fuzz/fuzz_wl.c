// SPDX-License-Identifier: BSD-3-Clause
/*
 * Fuzz target: virtio-wl (wl.c, wl_in.c, wl_msg.c) between a hostile guest
 * and a hostile compositor. One device is created, its compositor an
 * AF_UNIX listener in a private directory, and reset (the driver's reset:
 * every VFD closed, the in ring emptied) after every input; the harness
 * accepts the connections VFD_NEW_CTX opens, in order, as peers 0, 1, ...
 * and gives the device's end a small send buffer, so that VFD_SEND is
 * often held.
 *
 * Input:
 *   u8  features: bit 0 TRANS_FLAGS, bit 1 USE_SHMEM (through ops->activate)
 *   the out ring (fz_vq_build()), the in ring (fz_vq_build_at(FZ_VQ2))
 *   then up to MAX_STEPS steps, u8 op (mod 5):
 *     0  wl_process_out()
 *     1  wl_fill_in()
 *     2  a peer sends: u8 peer, u16 length (mod 8192) + bytes, u8 descriptor
 *        count (mod 32), each u8 kind (mod 6: memfd of u16 * 64 bytes, sealed
 *        memfd of u16 * 64 bytes, pipe read end, pipe write end, socket,
 *        /dev/null)
 *     3  a peer: u8 peer, u8 what (mod 3: close, read what is there,
 *        shutdown(SHUT_WR))
 *     4  events: what the device's epoll set reports, then a stale or
 *        made-up one: u8 slot, u8 events (bit 0 IN, 1 OUT, 2 HUP, 3 ERR)
 *   and a last wl_process_out() and wl_fill_in().
 *
 * Invariants: the entry points return 0 (fill: >= 0) or -EPROTO; VFD ids
 * are unique, free slots hold no descriptor, shared memory VFDs lie inside
 * the region without overlapping and match the transport's mappings; the
 * in ring's bookkeeping stays in bounds and the device is paused whenever
 * one more read might not fit; after the reset, no VFD, message or held
 * command is left and no descriptor is open that was not before.
 */
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/mman.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <unistd.h>

#include "fuzz_util.h"
#include "virtio/wl.h"

#define MAX_PEERS 16
#define MAX_STEPS 128
#define ROOM_FOR_READ (WL_SEND_MAX_VFDS + 1) /* wl_in.c */

static char dir[64], path[128];
static int listener = -1;
static int peers[MAX_PEERS];
static unsigned int nr_peers;

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static void cleanup(void)
{
	if (!dir[0])
		return;
	unlink(path);
	rmdir(dir);
}

static void setup(void)
{
	struct sockaddr_un sa = { .sun_family = AF_UNIX };

	snprintf(dir, sizeof(dir), "/tmp/cvm-fuzz-wl-XXXXXX");
	FZ_CHECK(mkdtemp(dir), "mkdtemp");
	snprintf(path, sizeof(path), "%s/wayland-0", dir);
	memcpy(sa.sun_path, path, strlen(path) + 1);
	listener = socket(AF_UNIX, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
	FZ_CHECK(listener >= 0, "socket");
	FZ_CHECK(bind(listener, (struct sockaddr *)&sa, sizeof(sa)) == 0, "bind %s", path);
	FZ_CHECK(listen(listener, 256) == 0, "listen");
	atexit(cleanup);
	for (unsigned int i = 0; i < MAX_PEERS; i++)
		peers[i] = -1;
}

/* Take the connections the device opened; small send buffers on its side. */
static void accept_peers(struct wl_dev *w)
{
	int fd, sz = 65536;

	while ((fd = accept4(listener, NULL, NULL, SOCK_NONBLOCK | SOCK_CLOEXEC)) >= 0) {
		if (nr_peers < MAX_PEERS)
			peers[nr_peers++] = fd;
		else
			close(fd);
	}
	for (unsigned int i = 0; i < WL_MAX_VFDS; i++)
		if (w->vfds[i].kind == WL_CTX && w->vfds[i].fd >= 0)
			setsockopt(w->vfds[i].fd, SOL_SOCKET, SO_SNDBUF, &sz, sizeof(sz));
}

static void check_dev(const struct wl_dev *w)
{
	const struct vp_shm_map *maps = w->vp.shm_maps;

	FZ_CHECK(w->pend_len <= WL_PENDING && w->pend_head < WL_PENDING, "pend %u/%u", w->pend_head,
		 w->pend_len);
	FZ_CHECK(w->paused || WL_PENDING - w->pend_len >= ROOM_FOR_READ,
		 "not paused with %u messages owed", w->pend_len);
	for (unsigned int k = 0; k < w->pend_len; k++) {
		const struct wl_pending *e = &w->pend[(w->pend_head + k) % WL_PENDING];

		FZ_CHECK(e->len <= WL_MSG_MAX, "a %u-byte message", e->len);
	}
	for (unsigned int i = 0; i < WL_MAX_VFDS; i++) {
		const struct wl_vfd *v = &w->vfds[i];

		if (v->kind == WL_FREE) {
			FZ_CHECK(v->fd < 0 && v->remote_fd < 0 && v->watched == UINT32_MAX,
				 "free slot %u: fd %d, remote %d, watched 0x%x", i, v->fd,
				 v->remote_fd, v->watched);
			FZ_CHECK(!maps[i].size, "free slot %u is mapped", i);
			continue;
		}
		FZ_CHECK(v->fd >= 0, "VFD 0x%x (slot %u) has no descriptor", v->id, i);
		FZ_CHECK(v->kind == WL_PIPE || v->remote_fd < 0, "VFD 0x%x: a remote end", v->id);
		for (unsigned int k = i + 1; k < WL_MAX_VFDS; k++)
			FZ_CHECK(w->vfds[k].kind == WL_FREE || w->vfds[k].id != v->id,
				 "two VFDs 0x%x (slots %u, %u)", v->id, i, k);
		if (v->kind != WL_SHM) {
			FZ_CHECK(!maps[i].size, "VFD 0x%x (kind %d) is mapped", v->id, v->kind);
			continue;
		}
		FZ_CHECK(v->size && v->size % 4096 == 0 && v->off % 4096 == 0 &&
				 v->off < WL_SHM_SIZE && v->size <= WL_SHM_SIZE - v->off,
			 "VFD 0x%x at [0x%llx, +0x%llx)", v->id, (unsigned long long)v->off,
			 (unsigned long long)v->size);
		FZ_CHECK(maps[i].size == v->size && maps[i].off == v->off && maps[i].host,
			 "VFD 0x%x and mapping %u differ", v->id, i);
		for (unsigned int k = i + 1; k < WL_MAX_VFDS; k++) {
			const struct wl_vfd *o = &w->vfds[k];

			FZ_CHECK(o->kind != WL_SHM || o->off >= v->off + v->size ||
					 v->off >= o->off + o->size,
				 "VFDs 0x%x and 0x%x overlap", v->id, o->id);
		}
	}
}

/* A descriptor for the compositor to send; -1 when none could be made. */
static int make_fd(struct fz *f, int *keep)
{
	uint8_t kind = fz_u8(f) % 6;
	int p[2], fd = -1;

	*keep = -1;
	switch (kind) {
	case 0:
	case 1:
		fd = memfd_create("fz-wl", MFD_CLOEXEC | (kind ? MFD_ALLOW_SEALING : 0));
		if (fd < 0)
			return -1;
		if (ftruncate(fd, (off_t)fz_u16(f) * 64))
			FZ_CHECK(0, "ftruncate: %d", errno);
		if (kind)
			fcntl(fd, F_ADD_SEALS, F_SEAL_SHRINK | F_SEAL_GROW | F_SEAL_WRITE);
		return fd;
	case 2:
	case 3:
		if (pipe2(p, O_CLOEXEC | O_NONBLOCK))
			return -1;
		*keep = p[kind == 2 ? 1 : 0];
		if (kind == 2 && write(p[1], "k", 1) != 1)
			FZ_CHECK(0, "write: %d", errno);
		return p[kind == 2 ? 0 : 1];
	case 4:
		if (socketpair(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC | SOCK_NONBLOCK, 0, p))
			return -1;
		*keep = p[1];
		if (write(p[1], "k", 1) != 1)
			FZ_CHECK(0, "write: %d", errno);
		return p[0];
	default:
		return open("/dev/null", O_RDWR | O_CLOEXEC);
	}
}

/* A peer sends bytes and descriptors (the other ends of its pipes and sockets: closed after). */
static void peer_send(struct fz *f)
{
	static uint8_t buf[8192];
	uint8_t p = fz_u8(f);
	uint16_t len = fz_u16(f) % sizeof(buf);
	unsigned int nfd;
	int fds[32], keep[32];
	union {
		char b[CMSG_SPACE(sizeof(int) * 32)];
		struct cmsghdr align;
	} cb;
	struct iovec iov = { buf, len };
	struct msghdr m = { .msg_iov = &iov, .msg_iovlen = 1 };

	fz_bytes(f, buf, len);
	nfd = fz_u8(f) % 32;
	for (unsigned int i = 0; i < nfd; i++) {
		fds[i] = make_fd(f, &keep[i]);
		if (fds[i] < 0) {
			nfd = i;
			break;
		}
	}
	if (nfd) {
		struct cmsghdr *c;

		memset(&cb, 0, sizeof(cb));
		m.msg_control = cb.b;
		m.msg_controllen = CMSG_SPACE(sizeof(int) * nfd);
		c = CMSG_FIRSTHDR(&m);
		c->cmsg_level = SOL_SOCKET;
		c->cmsg_type = SCM_RIGHTS;
		c->cmsg_len = CMSG_LEN(sizeof(int) * nfd);
		memcpy(CMSG_DATA(c), fds, sizeof(int) * nfd);
	}
	if (p % MAX_PEERS < nr_peers && peers[p % MAX_PEERS] >= 0 && (len || nfd) &&
	    sendmsg(peers[p % MAX_PEERS], &m, MSG_NOSIGNAL | MSG_DONTWAIT) < 0)
		FZ_CHECK(errno == EAGAIN || errno == EPIPE || errno == ECONNRESET ||
				 errno == ETOOMANYREFS,
			 "sendmsg: %d", errno);
	for (unsigned int i = 0; i < nfd; i++) {
		close(fds[i]);
		if (keep[i] >= 0)
			close(keep[i]);
	}
}

static void peer_act(struct fz *f)
{
	static uint8_t buf[65536];
	uint8_t p = fz_u8(f) % MAX_PEERS, what = fz_u8(f) % 3;
	union {
		char b[CMSG_SPACE(sizeof(int) * 64)];
		struct cmsghdr align;
	} cb;

	if (p >= nr_peers || peers[p] < 0)
		return;
	if (what == 0) {
		close(peers[p]);
		peers[p] = -1;
	} else if (what == 1) {
		for (int i = 0; i < 64; i++) {
			struct iovec iov = { buf, sizeof(buf) };
			struct msghdr m = { .msg_iov = &iov,
					    .msg_iovlen = 1,
					    .msg_control = cb.b,
					    .msg_controllen = sizeof(cb.b) };
			ssize_t n = recvmsg(peers[p], &m, MSG_DONTWAIT | MSG_CMSG_CLOEXEC);

			if (n <= 0)
				break;
			/* The descriptors the guest sent: checked for what they claim, closed. */
			for (struct cmsghdr *c = CMSG_FIRSTHDR(&m); c; c = CMSG_NXTHDR(&m, c)) {
				size_t k = (c->cmsg_len - CMSG_LEN(0)) / sizeof(int);

				for (size_t j = 0; j < k; j++) {
					int fd;

					memcpy(&fd, CMSG_DATA(c) + j * sizeof(int), sizeof(int));
					close(fd);
				}
			}
		}
	} else {
		shutdown(peers[p], SHUT_WR);
	}
}

static void events(struct wl_dev *w, struct fz *f)
{
	struct epoll_event ev[32];
	int n = epoll_wait(w->vp.ep_fd, ev, 32, 0);
	uint8_t slot = fz_u8(f), bits = fz_u8(f);
	uint32_t e = 0;

	for (int i = 0; i < n; i++)
		if (ev[i].data.u32 >= VP_MAX_DEV_TAG && ev[i].data.u32 != 0xffffffffu)
			FZ_CHECK(wl_fd_ready(w, ev[i].data.u32 % VP_MAX_DEV_TAG, ev[i].events) == 0,
				 "wl_fd_ready");
	check_dev(w);
	if (bits & 1)
		e |= EPOLLIN;
	if (bits & 2)
		e |= EPOLLOUT;
	if (bits & 4)
		e |= EPOLLHUP;
	if (bits & 8)
		e |= EPOLLERR;
	FZ_CHECK(wl_fd_ready(w, slot, e) == 0, "wl_fd_ready");
}

/* FUZZ_VERBOSE=1: the device's state after every step. */
static void trace(const struct wl_dev *w, const struct virtq *outq, const struct virtq *inq, int op)
{
	static int verbose = -1;
	unsigned int n[5] = { 0 };

	if (verbose < 0)
		verbose = getenv("FUZZ_VERBOSE") != NULL;
	if (!verbose)
		return;
	for (unsigned int i = 0; i < WL_MAX_VFDS; i++)
		n[w->vfds[i].kind]++;
	fprintf(stderr,
		"fuzz_wl: op %d: ctx %u shm %u pipe %u opaque %u, held %d, paused %d, "
		"%u owed, %u answered, %u delivered, %u peers, sent %llu\n",
		op, n[WL_CTX], n[WL_SHM], n[WL_PIPE], n[WL_OPAQUE], w->held, w->paused, w->pend_len,
		outq->used_idx, inq->used_idx, nr_peers, (unsigned long long)w->held_sent);
}

static void run_out(struct wl_dev *w, struct virtq *q)
{
	int rc = wl_process_out(w, q);

	FZ_CHECK(rc == 0 || rc == -EPROTO, "wl_process_out: %d", rc);
	accept_peers(w);
}

static void run_in(struct wl_dev *w, struct virtq *q)
{
	int rc = wl_fill_in(w, q);

	FZ_CHECK(rc >= 0 || rc == -EPROTO, "wl_fill_in: %d", rc);
}

/*
 * Descriptors of the kinds the device and the harness make (memfds,
 * sockets, /dev/null) open in this process: the same after every input.
 * Pipes are left out: libFuzzer's symbolizer opens some while it runs.
 */
static unsigned int nr_fds(void)
{
	DIR *d = opendir("/proc/self/fd");
	struct dirent *e;
	unsigned int n = 0;

	FZ_CHECK(d, "/proc/self/fd: %d", errno);
	while ((e = readdir(d))) {
		char p[64], t[64];
		ssize_t k;

		snprintf(p, sizeof(p), "/proc/self/fd/%s", e->d_name);
		k = readlink(p, t, sizeof(t) - 1);
		if (k <= 0)
			continue;
		t[k] = 0;
		n += !strncmp(t, "/memfd:", 7) || !strncmp(t, "socket:", 7) ||
		     !strcmp(t, "/dev/null");
	}
	closedir(d);
	return n;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	static unsigned int fds_after;
	static struct wl_dev *w;
	struct fz f = { data, size };
	struct virtq outq, inq;
	struct cvm_errbuf err;
	uint8_t feat;
	int fd;

	if (listener < 0) {
		setup();
		FZ_CHECK(wl_dev_create(&w, path, 0, fz_env(), &err) == 0, "wl_dev_create: %s",
			 err.msg);
	}
	feat = fz_u8(&f);
	w->vp.cfg.ops->activate(w, (feat & 1 ? 1ULL << VIRTIO_WL_F_TRANS_FLAGS : 0) |
					   (feat & 2 ? 1ULL << VIRTIO_WL_F_USE_SHMEM : 0));
	if (fz_vq_build(&outq, &f) || fz_vq_build_at(&inq, &f, FZ_VQ2))
		goto out;
	for (unsigned int step = 0; step < MAX_STEPS && f.n; step++) {
		int op = fz_u8(&f) % 5;

		switch (op) {
		case 0:
			run_out(w, &outq);
			break;
		case 1:
			run_in(w, &inq);
			break;
		case 2:
			peer_send(&f);
			break;
		case 3:
			peer_act(&f);
			break;
		default:
			events(w, &f);
			break;
		}
		check_dev(w);
		trace(w, &outq, &inq, op);
	}
	run_out(w, &outq);
	run_in(w, &inq);
	check_dev(w);
	trace(w, &outq, &inq, -1);
out:
	/* Back to the state wl_dev_create() left: the driver's reset. */
	w->vp.cfg.ops->reset(w);
	check_dev(w);
	for (unsigned int i = 0; i < WL_MAX_VFDS; i++)
		FZ_CHECK(w->vfds[i].kind == WL_FREE, "slot %u in use after a reset", i);
	FZ_CHECK(!w->held && !w->pend_len && !w->paused, "state left after a reset");
	for (unsigned int i = 0; i < nr_peers; i++)
		if (peers[i] >= 0)
			close(peers[i]);
	nr_peers = 0;
	while ((fd = accept4(listener, NULL, NULL, SOCK_CLOEXEC)) >= 0)
		close(fd);
	if (!fds_after)
		fds_after = nr_fds();
	FZ_CHECK(nr_fds() <= fds_after,
		 "%u memfds, sockets and /dev/null open, %u after the first input", nr_fds(),
		 fds_after);
	return 0;
}

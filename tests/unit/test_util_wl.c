// SPDX-License-Identifier: BSD-3-Clause
/*
 * The virtio-wl device tests' rig: a device driven through its out and in
 * queues (rings built with test_util_vq, one guest memory per queue)
 * against a real AF_UNIX "compositor" listening in a temporary directory.
 */
#include "test_util_wl.h"

#include <criterion/criterion.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <unistd.h>

#include "test_util_kvm.h"

/* --- commands, as the guest driver lays them out ------------------------------------------ */

/* struct virtio_wl_ctrl_vfd_new (VFD_NEW, VFD_NEW_PIPE): 28 bytes up to its union. */
size_t twl_mk_new(uint8_t *b, uint32_t type, uint32_t id, uint32_t flags, uint32_t size)
{
	memset(b, 0, WL_NEW_LEN);
	twl_put32(b, type);
	twl_put32(b + 8, id);
	twl_put32(b + 12, flags);
	twl_put32(b + 24, size);
	return WL_NEW_LEN;
}

/* struct virtio_wl_ctrl_vfd (VFD_NEW_CTX, VFD_CLOSE). */
size_t twl_mk_vfd(uint8_t *b, uint32_t type, uint32_t id)
{
	memset(b, 0, 12);
	twl_put32(b, type);
	twl_put32(b + 8, id);
	return 12;
}

/* struct virtio_wl_ctrl_vfd_new_ctx_named. */
size_t twl_mk_named(uint8_t *b, uint32_t id, const char *name)
{
	memset(b, 0, 60);
	twl_put32(b, WL_CMD_VFD_NEW_CTX_NAMED);
	twl_put32(b + 8, id);
	memcpy(b + 28, name, strnlen(name, 32));
	return 60;
}

/* struct virtio_wl_ctrl_vfd_send, its ids, then @len bytes of @data. */
size_t twl_mk_send(uint8_t *b, uint32_t id, const uint32_t *ids, uint32_t nr, const void *data,
		   size_t len)
{
	memset(b, 0, 16);
	twl_put32(b, WL_CMD_VFD_SEND);
	twl_put32(b + 8, id);
	twl_put32(b + 12, nr);
	for (uint32_t i = 0; i < nr; i++)
		twl_put32(b + 16 + 4 * i, ids[i]);
	if (len)
		memcpy(b + 16 + 4 * nr, data, len);
	return 16 + 4 * nr + len;
}

/* --- the wl suite: a VM for the MSI-X irqfds, a directory for the compositor's socket ------- */

static struct cvm_logger quiet = { .level = CVM_LOG_ERROR };
static struct irq_router router;
static struct guest_mem mem;
static struct virtio_env env;
static int vmfd = -1;
static char dir[64];
char twl_path[128];

static void setup(void)
{
	/* MSI-X vectors are irqfds: a VM that never runs (the BAR is never mapped). */
	vmfd = tu_kvm_vm();
	cr_assert_eq(gmem_create(&mem, 4 * GMEM_MIB, NULL), 0);
	irq_router_init(&router, vmfd);
	env = (struct virtio_env){ .mem = &mem, .log = &quiet, .vm_fd = vmfd, .router = &router };
	snprintf(dir, sizeof(dir), "/tmp/cvm-wl-ut-XXXXXX");
	cr_assert(mkdtemp(dir));
	snprintf(twl_path, sizeof(twl_path), "%s/wayland-0", dir);
}

static void teardown(void)
{
	unlink(twl_path);
	rmdir(dir);
	irq_router_destroy(&router);
	gmem_destroy(&mem);
	close(vmfd);
}

TestSuite(wl, .init = setup, .fini = teardown);

/* --- the device and its queues ------------------------------------------------------------ */

void twl_rig_up(struct twl_rig *r)
{
	struct sockaddr_un sa = { .sun_family = AF_UNIX };
	struct cvm_errbuf err = { "" };

	memset(r, 0, sizeof(*r));
	r->lfd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
	cr_assert_geq(r->lfd, 0);
	cr_assert_lt(strlen(twl_path), sizeof(sa.sun_path));
	memcpy(sa.sun_path, twl_path, strlen(twl_path) + 1);
	cr_assert_eq(bind(r->lfd, (struct sockaddr *)&sa, sizeof(sa)), 0);
	cr_assert_eq(listen(r->lfd, 16), 0);
	cr_assert_eq(wl_dev_create(&r->w, twl_path, 0, &env, &err), 0, "%s", err.msg);
	tvq_setup(&r->out, 32 * GMEM_MIB, TWL_QSIZE, false, false);
	tvq_setup(&r->in, 4 * GMEM_MIB, TWL_QSIZE, false, false);
}

void twl_rig_down(struct twl_rig *r)
{
	wl_dev_destroy(r->w);
	tvq_teardown(&r->out);
	tvq_teardown(&r->in);
	close(r->lfd);
}

uint64_t twl_out_gpa(uint16_t k)
{
	return TVQ_DATA + (uint64_t)(k % TWL_OUT_SLOTS) * TWL_OUT_SLOT;
}

/*
 * Post a chain: @len readable bytes (at @cmd_gpa, or copied from @cmd into
 * the chain's slot), then @resp_len writable ones (none when 0).
 */
uint16_t twl_post_at(struct twl_rig *r, uint64_t cmd_gpa, size_t len, uint32_t resp_len)
{
	uint16_t k = r->out_posted++, d = (uint16_t)(2 * (k % TWL_OUT_SLOTS));

	tvq_desc(&r->out, TVQ_DESC, d, cmd_gpa, (uint32_t)len, resp_len ? VIRTQ_DESC_F_NEXT : 0,
		 (uint16_t)(d + 1));
	/* A guard pattern, past the buffer too. */
	memset(gmem_ptr(&r->out.m, twl_out_gpa(k) + TWL_OUT_RESP, 0x100), 0xcc, 0x100);
	if (resp_len) {
		tvq_desc(&r->out, TVQ_DESC, (uint16_t)(d + 1), twl_out_gpa(k) + TWL_OUT_RESP,
			 resp_len, VIRTQ_DESC_F_WRITE, 0);
	}
	tvq_post(&r->out, d);
	return k;
}

uint16_t twl_post(struct twl_rig *r, const void *cmd, size_t len, uint32_t resp_len)
{
	uint16_t k = r->out_posted;

	memcpy(gmem_ptr(&r->out.m, twl_out_gpa(k), len), cmd, len);
	return twl_post_at(r, twl_out_gpa(k), len, resp_len);
}

uint16_t twl_post_big_send(struct twl_rig *r, uint32_t id, size_t len)
{
	uint8_t hdr[16];

	twl_mk_send(hdr, id, NULL, 0, NULL, 0);
	memcpy(gmem_ptr(&r->out.m, TWL_OUT_BIG, 16), hdr, 16);
	return twl_post_at(r, TWL_OUT_BIG, 16 + len, 8);
}

void twl_run_out(struct twl_rig *r)
{
	cr_assert_eq(wl_process_out(r->w, &r->out.q), 0);
}

/* The next response, if the device gave one: its chain's slot number, length and bytes. */
bool twl_next_resp(struct twl_rig *r, uint16_t *k, uint32_t *len, uint8_t *buf)
{
	uint32_t id, n;
	uint16_t want = r->out_seen;

	if (tvq_used_idx(&r->out) == r->out_seen)
		return false;
	tvq_used_elem(&r->out, r->out_seen % TWL_QSIZE, &id, &n);
	r->out_seen++;
	cr_assert_eq(id, 2 * (want % TWL_OUT_SLOTS),
		     "used head %u, want %u (answered out of order)", id,
		     2 * (want % TWL_OUT_SLOTS));
	if (k)
		*k = want;
	*len = n;
	if (buf && n)
		memcpy(buf, gmem_ptr(&r->out.m, twl_out_gpa(want) + TWL_OUT_RESP, n), n);
	return true;
}

/* Run one command with a 64-byte response buffer; returns the response code. */
uint32_t twl_cmd_full(struct twl_rig *r, const void *cmd, size_t len, uint8_t *resp)
{
	uint8_t b[WL_NEW_LEN];
	uint32_t n;

	twl_post(r, cmd, len, WL_NEW_LEN);
	twl_run_out(r);
	cr_assert(twl_next_resp(r, NULL, &n, b), "no response");
	cr_assert_eq(tvq_used_idx(&r->out), r->out_seen, "more than one response");
	cr_assert(n == 8 || n == WL_NEW_LEN, "a %u-byte response", n);
	if (resp)
		memcpy(resp, b, n);
	return twl_get32(b);
}

uint32_t twl_cmd(struct twl_rig *r, const void *c, size_t len)
{
	return twl_cmd_full(r, c, len, NULL);
}

uint32_t twl_new_shm(struct twl_rig *r, uint32_t id, uint32_t flags, uint32_t size, uint8_t *resp)
{
	uint8_t b[WL_NEW_LEN];

	return twl_cmd_full(r, b, twl_mk_new(b, WL_CMD_VFD_NEW, id, flags, size), resp);
}

uint32_t twl_new_pipe(struct twl_rig *r, uint32_t id, uint32_t flags)
{
	uint8_t b[WL_NEW_LEN];

	return twl_cmd(r, b, twl_mk_new(b, WL_CMD_VFD_NEW_PIPE, id, flags, 0));
}

uint32_t twl_close_vfd(struct twl_rig *r, uint32_t id)
{
	uint8_t b[12];

	return twl_cmd(r, b, twl_mk_vfd(b, WL_CMD_VFD_CLOSE, id));
}

uint32_t twl_send_vfd(struct twl_rig *r, uint32_t id, const uint32_t *ids, uint32_t nr,
		      const void *data, size_t len)
{
	uint8_t b[512];

	cr_assert_leq(16 + 4 * nr + len, sizeof(b));
	return twl_cmd(r, b, twl_mk_send(b, id, ids, nr, data, len));
}

/* VFD_NEW_CTX @id; returns the compositor's end of the connection. */
int twl_new_ctx(struct twl_rig *r, uint32_t id)
{
	uint8_t b[WL_NEW_LEN], resp[WL_NEW_LEN];
	int fd;

	cr_assert_eq(twl_cmd_full(r, b, twl_mk_vfd(b, WL_CMD_VFD_NEW_CTX, id), resp),
		     WL_RESP_VFD_NEW);
	cr_assert_eq(twl_get32(resp + 8), id);
	cr_assert_eq(twl_get32(resp + 12),
		     r->w->use_trans ? WL_VFD_READ | WL_VFD_WRITE : WL_VFD_CONTROL);
	fd = accept4(r->lfd, NULL, NULL, SOCK_CLOEXEC);
	cr_assert_geq(fd, 0, "the device did not connect");
	return fd;
}

unsigned int twl_slot_of(struct twl_rig *r, uint32_t id)
{
	for (unsigned int i = 0; i < WL_MAX_VFDS; i++)
		if (r->w->vfds[i].kind != WL_FREE && r->w->vfds[i].id == id)
			return i;
	cr_assert_fail("no VFD 0x%x", id);
	return 0;
}

unsigned int twl_nr_vfds(struct twl_rig *r)
{
	unsigned int n = 0;

	for (unsigned int i = 0; i < WL_MAX_VFDS; i++)
		n += r->w->vfds[i].kind != WL_FREE;
	return n;
}

void twl_shrink_sndbuf(struct twl_rig *r, uint32_t id)
{
	int sz = 4096;

	cr_assert_eq(setsockopt(r->w->vfds[twl_slot_of(r, id)].fd, SOL_SOCKET, SO_SNDBUF, &sz,
				sizeof(sz)),
		     0);
}

/* The device reads VFD @id (epoll said it is readable). */
void twl_ready(struct twl_rig *r, uint32_t id)
{
	cr_assert_eq(wl_fd_ready(r->w, twl_slot_of(r, id), EPOLLIN), 0);
}

/* Post @n in-queue buffers of TWL_IN_BUF bytes and let the device fill them; returns how many it did. */
int twl_fill(struct twl_rig *r, unsigned int n)
{
	int rc;

	for (unsigned int i = 0; i < n; i++) {
		uint16_t d = r->in_posted++ % TWL_QSIZE;

		tvq_desc(&r->in, TVQ_DESC, d, TVQ_DATA + (uint64_t)d * TWL_IN_BUF, TWL_IN_BUF,
			 VIRTQ_DESC_F_WRITE, 0);
		tvq_post(&r->in, d);
	}
	rc = wl_fill_in(r->w, &r->in.q);
	cr_assert_geq(rc, 0);
	return rc;
}

/* The next message the device put in the in queue; its length, 0 when none. */
uint32_t twl_next_msg(struct twl_rig *r, uint8_t *buf)
{
	uint32_t id, len;

	if (tvq_used_idx(&r->in) == r->in_seen)
		return 0;
	tvq_used_elem(&r->in, r->in_seen % TWL_QSIZE, &id, &len);
	cr_assert_eq(id, r->in_seen % TWL_QSIZE);
	r->in_seen++;
	cr_assert_leq(len, TWL_IN_BUF);
	memcpy(buf, gmem_ptr(&r->in.m, TVQ_DATA + (uint64_t)id * TWL_IN_BUF, len), len);
	return len;
}

/* --- the compositor's end ---------------------------------------------------------------- */

/* Nothing is waiting on @fd. */
void twl_expect_nothing(int fd)
{
	char c;
	ssize_t n = recv(fd, &c, 1, MSG_DONTWAIT);

	cr_assert(n < 0 && errno == EAGAIN, "the compositor got something (%zd)", n);
}

/* Read exactly @len bytes (and at most 28 descriptors into @fds) from @fd. */
int twl_recv_all(int fd, void *buf, size_t len, int *fds)
{
	size_t got = 0;
	int nfd = 0;

	while (got < len) {
		union {
			char b[CMSG_SPACE(sizeof(int) * WL_SEND_MAX_VFDS)];
			struct cmsghdr align;
		} cb;
		struct iovec iov = { (uint8_t *)buf + got, len - got };
		struct msghdr m = { .msg_iov = &iov,
				    .msg_iovlen = 1,
				    .msg_control = cb.b,
				    .msg_controllen = sizeof(cb.b) };
		ssize_t n = recvmsg(fd, &m, MSG_DONTWAIT | MSG_CMSG_CLOEXEC);

		cr_assert_gt(n, 0, "recvmsg after %zu of %zu bytes: %s", got, len,
			     n < 0 ? strerror(errno) : "EOF");
		for (struct cmsghdr *c = CMSG_FIRSTHDR(&m); c; c = CMSG_NXTHDR(&m, c)) {
			size_t k = (c->cmsg_len - CMSG_LEN(0)) / sizeof(int);

			cr_assert(fds, "descriptors nobody expected");
			memcpy(fds + nfd, CMSG_DATA(c), k * sizeof(int));
			nfd += (int)k;
		}
		got += (size_t)n;
	}
	return nfd;
}

/* The compositor sends @len bytes and @nfd descriptors. */
void twl_comp_send(int fd, const void *data, size_t len, const int *fds, int nfd)
{
	union {
		char b[CMSG_SPACE(sizeof(int) * 32)];
		struct cmsghdr align;
	} cb;
	struct iovec iov = { (void *)data, len };
	struct msghdr m = { .msg_iov = &iov, .msg_iovlen = 1 };

	if (nfd) {
		struct cmsghdr *c;

		memset(&cb, 0, sizeof(cb));
		m.msg_control = cb.b;
		m.msg_controllen = CMSG_SPACE(sizeof(int) * (size_t)nfd);
		c = CMSG_FIRSTHDR(&m);
		c->cmsg_level = SOL_SOCKET;
		c->cmsg_type = SCM_RIGHTS;
		c->cmsg_len = CMSG_LEN(sizeof(int) * (size_t)nfd);
		memcpy(CMSG_DATA(c), fds, sizeof(int) * (size_t)nfd);
	}
	cr_assert_eq(sendmsg(fd, &m, MSG_NOSIGNAL), (ssize_t)len);
}

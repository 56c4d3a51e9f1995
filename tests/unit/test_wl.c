// SPDX-License-Identifier: BSD-3-Clause
/*
 * virtio-wl device: the message parser and encoders (wl_msg.c), then a
 * device driven through its out and in queues (rings built with
 * test_util_vq, one guest memory per queue) against a real AF_UNIX
 * "compositor" listening in a temporary directory. Without a sandbox the
 * device connects through its broker_connect op directly; the VM (for the
 * MSI-X irqfds) never maps the shared memory BAR, so VFD_NEW only mmaps and
 * records.
 */
#include <criterion/criterion.h>
#include <endian.h>
#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/mman.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <unistd.h>

#include "test_util_kvm.h"
#include "test_util_vq.h"
#include "virtio/wl.h"

static void put32(uint8_t *p, uint32_t v)
{
	v = htole32(v);
	memcpy(p, &v, 4);
}

static uint32_t get32(const uint8_t *p)
{
	uint32_t v;

	memcpy(&v, p, 4);
	return le32toh(v);
}

static uint64_t get64(const uint8_t *p)
{
	uint64_t v;

	memcpy(&v, p, 8);
	return le64toh(v);
}

/* --- commands, as the guest driver lays them out ------------------------------------------ */

/* struct virtio_wl_ctrl_vfd_new (VFD_NEW, VFD_NEW_PIPE): 28 bytes up to its union. */
static size_t mk_new(uint8_t *b, uint32_t type, uint32_t id, uint32_t flags, uint32_t size)
{
	memset(b, 0, WL_NEW_LEN);
	put32(b, type);
	put32(b + 8, id);
	put32(b + 12, flags);
	put32(b + 24, size);
	return WL_NEW_LEN;
}

/* struct virtio_wl_ctrl_vfd (VFD_NEW_CTX, VFD_CLOSE). */
static size_t mk_vfd(uint8_t *b, uint32_t type, uint32_t id)
{
	memset(b, 0, 12);
	put32(b, type);
	put32(b + 8, id);
	return 12;
}

/* struct virtio_wl_ctrl_vfd_new_ctx_named. */
static size_t mk_named(uint8_t *b, uint32_t id, const char *name)
{
	memset(b, 0, 60);
	put32(b, WL_CMD_VFD_NEW_CTX_NAMED);
	put32(b + 8, id);
	memcpy(b + 28, name, strnlen(name, 32));
	return 60;
}

/* struct virtio_wl_ctrl_vfd_send, its ids, then @len bytes of @data. */
static size_t mk_send(uint8_t *b, uint32_t id, const uint32_t *ids, uint32_t nr, const void *data,
		      size_t len)
{
	memset(b, 0, 16);
	put32(b, WL_CMD_VFD_SEND);
	put32(b + 8, id);
	put32(b + 12, nr);
	for (uint32_t i = 0; i < nr; i++)
		put32(b + 16 + 4 * i, ids[i]);
	if (len)
		memcpy(b + 16 + 4 * nr, data, len);
	return 16 + 4 * nr + len;
}

/* --- wl_parse_cmd() and the encoders ------------------------------------------------------ */

static uint32_t parse(const uint8_t *b, size_t len, struct wl_cmd *c)
{
	return wl_parse_cmd(b, len < WL_CMD_MAX ? len : WL_CMD_MAX, len, c);
}

Test(wl_msg, truncated_header)
{
	uint8_t b[8] = { 0x04, 0x01, 0, 0, 0, 0, 0, 0 }; /* VFD_NEW_CTX */
	struct wl_cmd c;

	for (size_t n = 0; n < 8; n++)
		cr_assert_eq(wl_parse_cmd(b, n, n, &c), WL_RESP_ERR, "a %zu-byte header parsed", n);
	/* More bytes said to be there than the chain has. */
	cr_assert_eq(wl_parse_cmd(b, 8, 7, &c), WL_RESP_ERR);
}

Test(wl_msg, truncated_commands)
{
	uint8_t b[WL_CMD_MAX];
	struct wl_cmd c;

	mk_new(b, WL_CMD_VFD_NEW, 5, WL_VFD_WRITE, 0x12345);
	for (size_t n = 8; n < 28; n++)
		cr_assert_eq(parse(b, n, &c), WL_RESP_ERR, "VFD_NEW of %zu bytes", n);
	cr_assert_eq(parse(b, 28, &c), 0);
	cr_assert_eq(c.type, WL_CMD_VFD_NEW);
	cr_assert_eq(c.id, 5);
	cr_assert_eq(c.flags, WL_VFD_WRITE);
	cr_assert_eq(c.size, 0x12345);

	mk_new(b, WL_CMD_VFD_NEW_PIPE, 6, WL_VFD_READ, 0);
	for (size_t n = 8; n < 28; n++)
		cr_assert_eq(parse(b, n, &c), WL_RESP_ERR, "VFD_NEW_PIPE of %zu bytes", n);
	cr_assert_eq(parse(b, 28, &c), 0);
	cr_assert_eq(c.flags, WL_VFD_READ);

	mk_vfd(b, WL_CMD_VFD_NEW_CTX, 7);
	for (size_t n = 8; n < 12; n++)
		cr_assert_eq(parse(b, n, &c), WL_RESP_ERR, "VFD_NEW_CTX of %zu bytes", n);
	cr_assert_eq(parse(b, 12, &c), 0);
	cr_assert_eq(c.id, 7);
	mk_vfd(b, WL_CMD_VFD_CLOSE, 8);
	cr_assert_eq(parse(b, 11, &c), WL_RESP_ERR);
	cr_assert_eq(parse(b, 12, &c), 0);

	/* NAMED: the 32-byte name must be all there, and comes out terminated. */
	mk_named(b, 9, "abcdefghijklmnopqrstuvwxyz012345");
	for (size_t n = 8; n < 60; n++)
		cr_assert_eq(parse(b, n, &c), WL_RESP_ERR, "VFD_NEW_CTX_NAMED of %zu bytes", n);
	cr_assert_eq(parse(b, 60, &c), 0);
	cr_assert_eq(c.id, 9);
	cr_assert_str_eq(c.name, "abcdefghijklmnopqrstuvwxyz012345");
	mk_named(b, 9, "");
	cr_assert_eq(parse(b, 60, &c), 0);
	cr_assert_str_eq(c.name, "");
}

Test(wl_msg, send_counts)
{
	uint8_t b[WL_CMD_MAX + 64];
	uint32_t ids[WL_SEND_MAX_VFDS];
	struct wl_cmd c;
	size_t n;

	for (uint32_t i = 0; i < WL_SEND_MAX_VFDS; i++)
		ids[i] = 100 + i;
	/* 28 ids: the most there may be; data after them. */
	n = mk_send(b, 3, ids, WL_SEND_MAX_VFDS, "xyz", 3);
	cr_assert_eq(n, 16 + 4 * 28 + 3);
	cr_assert_eq(parse(b, n, &c), 0);
	cr_assert_eq(c.nr_ids, 28);
	cr_assert_eq(c.id, 3);
	cr_assert_eq(c.data_off, 16 + 4 * 28);
	for (uint32_t i = 0; i < 28; i++)
		cr_assert_eq(c.ids[i], 100 + i);
	/* 29: INVALID_CMD, however long the chain. */
	put32(b + 12, 29);
	cr_assert_eq(parse(b, sizeof(b), &c), WL_RESP_INVALID_CMD);
	put32(b + 12, 0xffffffff);
	cr_assert_eq(parse(b, sizeof(b), &c), WL_RESP_INVALID_CMD);
	/* Ids cut off: 3 announced, 2 there; the header itself cut. */
	n = mk_send(b, 3, ids, 3, NULL, 0);
	cr_assert_eq(parse(b, n - 1, &c), WL_RESP_ERR);
	cr_assert_eq(parse(b, n - 4, &c), WL_RESP_ERR);
	cr_assert_eq(parse(b, n, &c), 0);
	cr_assert_eq(c.data_off, n);
	for (size_t k = 8; k < 16; k++)
		cr_assert_eq(parse(b, k, &c), WL_RESP_ERR, "VFD_SEND of %zu bytes", k);
	/* Host ids are fine in SEND and CLOSE (the guest got them from VFD_NEW). */
	ids[0] = WL_HOST_ID_BIT | 5;
	n = mk_send(b, WL_HOST_ID_BIT | 1, ids, 1, NULL, 0);
	cr_assert_eq(parse(b, n, &c), 0);
	cr_assert_eq(c.id, WL_HOST_ID_BIT | 1);
	mk_vfd(b, WL_CMD_VFD_CLOSE, WL_HOST_ID_BIT | 7);
	cr_assert_eq(parse(b, 12, &c), 0);
}

Test(wl_msg, bad_types_and_ids)
{
	static const uint32_t bad[] = {
		0,
		1,
		0xff,
		WL_CMD_VFD_RECV,
		WL_CMD_VFD_HUP,
		WL_CMD_VFD_NEW_DMABUF,
		WL_CMD_VFD_DMABUF_SYNC,
		WL_CMD_VFD_SEND_FOREIGN_ID,
		WL_CMD_VFD_NEW_CTX_NAMED + 1,
		WL_RESP_OK,
		WL_RESP_VFD_NEW,
		WL_RESP_ERR,
		0xffffffff,
	};
	uint8_t b[WL_CMD_MAX] = { 0 };
	struct wl_cmd c;

	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		put32(b, bad[i]);
		cr_assert_eq(parse(b, sizeof(b), &c), WL_RESP_INVALID_CMD, "type 0x%x", bad[i]);
		cr_assert_eq(parse(b, 8, &c), WL_RESP_INVALID_CMD, "type 0x%x, 8 bytes", bad[i]);
	}
	/* A guest that makes a VFD may not use the device's id space. */
	mk_new(b, WL_CMD_VFD_NEW, WL_HOST_ID_BIT, 0, 4096);
	cr_assert_eq(parse(b, 28, &c), WL_RESP_INVALID_ID);
	mk_new(b, WL_CMD_VFD_NEW_PIPE, WL_HOST_ID_BIT | 3, WL_VFD_READ, 0);
	cr_assert_eq(parse(b, 28, &c), WL_RESP_INVALID_ID);
	mk_vfd(b, WL_CMD_VFD_NEW_CTX, 0xffffffff);
	cr_assert_eq(parse(b, 12, &c), WL_RESP_INVALID_ID);
	mk_named(b, WL_HOST_ID_BIT, "");
	cr_assert_eq(parse(b, 60, &c), WL_RESP_INVALID_ID);
	mk_vfd(b, WL_CMD_VFD_NEW_CTX, WL_HOST_ID_BIT - 1);
	cr_assert_eq(parse(b, 12, &c), 0);
}

Test(wl_msg, encoders)
{
	uint8_t b[WL_MSG_MAX + 64];
	uint32_t ids[WL_SEND_MAX_VFDS + 2];
	uint8_t data[WL_RECV_DATA_MAX + 10];

	memset(b, 0xee, sizeof(b));
	cr_assert_eq(wl_enc_new(b, WL_CMD_VFD_NEW, 0x40000001, 0x3, 0x1122334455667788ULL, 8192),
		     64);
	cr_assert_eq(get32(b), WL_CMD_VFD_NEW);
	cr_assert_eq(get32(b + 4), 0, "hdr.flags");
	cr_assert_eq(get32(b + 8), 0x40000001);
	cr_assert_eq(get32(b + 12), 3);
	cr_assert_eq(get64(b + 16), 0x1122334455667788ULL);
	cr_assert_eq(get32(b + 24), 8192);
	for (int i = 28; i < 64; i++)
		cr_assert_eq(b[i], 0, "VFD_NEW byte %d", i);
	cr_assert_eq(b[64], 0xee, "VFD_NEW wrote past 64 bytes");
	/* Byte order spelled out: little endian whatever the host. */
	cr_assert_eq(b[8], 0x01);
	cr_assert_eq(b[11], 0x40);
	cr_assert_eq(b[16], 0x88);
	cr_assert_eq(b[23], 0x11);

	memset(b, 0xee, sizeof(b));
	cr_assert_eq(wl_enc_hup(b, 0x01020304), 12);
	cr_assert_eq(get32(b), WL_CMD_VFD_HUP);
	cr_assert_eq(get32(b + 4), 0);
	cr_assert_eq(get32(b + 8), 0x01020304);
	cr_assert_eq(b[12], 0xee);

	memset(b, 0xee, sizeof(b));
	cr_assert_eq(wl_enc_resp(b, WL_RESP_INVALID_FLAGS), 8);
	cr_assert_eq(get32(b), WL_RESP_INVALID_FLAGS);
	cr_assert_eq(get32(b + 4), 0);
	cr_assert_eq(b[8], 0xee);

	memset(b, 0xee, sizeof(b));
	ids[0] = 0x40000005;
	ids[1] = 0x40000006;
	cr_assert_eq(wl_enc_recv(b, 7, ids, 2, "hello", 5), 16 + 8 + 5);
	cr_assert_eq(get32(b), WL_CMD_VFD_RECV);
	cr_assert_eq(get32(b + 4), 0);
	cr_assert_eq(get32(b + 8), 7);
	cr_assert_eq(get32(b + 12), 2);
	cr_assert_eq(get32(b + 16), 0x40000005);
	cr_assert_eq(get32(b + 20), 0x40000006);
	cr_assert(!memcmp(b + 24, "hello", 5));
	cr_assert_eq(b[29], 0xee);
	cr_assert_eq(wl_enc_recv(b, 7, NULL, 0, NULL, 0), 16);
	cr_assert_eq(get32(b + 12), 0);

	/* Clamped to what fits in WL_MSG_MAX. */
	for (uint32_t i = 0; i < WL_SEND_MAX_VFDS + 2; i++)
		ids[i] = i;
	memset(data, 0x5a, sizeof(data));
	memset(b, 0xee, sizeof(b));
	cr_assert_eq(wl_enc_recv(b, 1, ids, WL_SEND_MAX_VFDS + 2, data, sizeof(data)), WL_MSG_MAX);
	cr_assert_eq(get32(b + 12), WL_SEND_MAX_VFDS);
	cr_assert_eq(b[WL_MSG_MAX], 0xee);
}

/* --- the device ---------------------------------------------------------------------------- */

static struct cvm_logger quiet = { .level = CVM_LOG_ERROR };
static struct irq_router router;
static struct guest_mem mem;
static struct virtio_env env;
static int vmfd = -1;
static char dir[64], path[128];

static void setup(void)
{
	/* MSI-X vectors are irqfds: a VM that never runs (the BAR is never mapped). */
	vmfd = tu_kvm_vm();
	cr_assert_eq(gmem_create(&mem, 4 * GMEM_MIB, NULL), 0);
	irq_router_init(&router, vmfd);
	env = (struct virtio_env){ .mem = &mem, .log = &quiet, .vm_fd = vmfd, .router = &router };
	snprintf(dir, sizeof(dir), "/tmp/cvm-wl-ut-XXXXXX");
	cr_assert(mkdtemp(dir));
	snprintf(path, sizeof(path), "%s/wayland-0", dir);
}

static void teardown(void)
{
	unlink(path);
	rmdir(dir);
	irq_router_destroy(&router);
	gmem_destroy(&mem);
	close(vmfd);
}

TestSuite(wl, .init = setup, .fini = teardown);

#define QSIZE 64
#define OUT_SLOTS 32		/* chains of two descriptors each */
#define OUT_SLOT 0x20000ULL	/* guest bytes per out chain: command, then response */
#define OUT_RESP 0x1f000ULL	/* the response buffer's place in its slot */
#define OUT_BIG (24 * GMEM_MIB) /* a large command's readable buffer */
#define IN_BUF 4096

/* A device, its queues, and the compositor's listening socket. */
struct rig {
	struct wl_dev *w;
	struct tvq out, in;
	int lfd;
	uint16_t out_posted, out_seen;
	uint16_t in_posted, in_seen;
};

static void rig_up(struct rig *r)
{
	struct sockaddr_un sa = { .sun_family = AF_UNIX };
	struct cvm_errbuf err = { "" };

	memset(r, 0, sizeof(*r));
	r->lfd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
	cr_assert_geq(r->lfd, 0);
	cr_assert_lt(strlen(path), sizeof(sa.sun_path));
	memcpy(sa.sun_path, path, strlen(path) + 1);
	cr_assert_eq(bind(r->lfd, (struct sockaddr *)&sa, sizeof(sa)), 0);
	cr_assert_eq(listen(r->lfd, 16), 0);
	cr_assert_eq(wl_dev_create(&r->w, path, 0, &env, &err), 0, "%s", err.msg);
	tvq_setup(&r->out, 32 * GMEM_MIB, QSIZE, false, false);
	tvq_setup(&r->in, 4 * GMEM_MIB, QSIZE, false, false);
}

static void rig_down(struct rig *r)
{
	wl_dev_destroy(r->w);
	tvq_teardown(&r->out);
	tvq_teardown(&r->in);
	close(r->lfd);
}

static uint64_t out_gpa(uint16_t k)
{
	return TVQ_DATA + (uint64_t)(k % OUT_SLOTS) * OUT_SLOT;
}

/*
 * Post a chain: @len readable bytes (at @cmd_gpa, or copied from @cmd into
 * the chain's slot), then @resp_len writable ones (none when 0).
 */
static uint16_t post_at(struct rig *r, uint64_t cmd_gpa, size_t len, uint32_t resp_len)
{
	uint16_t k = r->out_posted++, d = (uint16_t)(2 * (k % OUT_SLOTS));

	tvq_desc(&r->out, TVQ_DESC, d, cmd_gpa, (uint32_t)len, resp_len ? VIRTQ_DESC_F_NEXT : 0,
		 (uint16_t)(d + 1));
	/* A guard pattern, past the buffer too. */
	memset(gmem_ptr(&r->out.m, out_gpa(k) + OUT_RESP, 0x100), 0xcc, 0x100);
	if (resp_len) {
		tvq_desc(&r->out, TVQ_DESC, (uint16_t)(d + 1), out_gpa(k) + OUT_RESP, resp_len,
			 VIRTQ_DESC_F_WRITE, 0);
	}
	tvq_post(&r->out, d);
	return k;
}

static uint16_t post(struct rig *r, const void *cmd, size_t len, uint32_t resp_len)
{
	uint16_t k = r->out_posted;

	memcpy(gmem_ptr(&r->out.m, out_gpa(k), len), cmd, len);
	return post_at(r, out_gpa(k), len, resp_len);
}

static void run_out(struct rig *r)
{
	cr_assert_eq(wl_process_out(r->w, &r->out.q), 0);
}

/* The next response, if the device gave one: its chain's slot number, length and bytes. */
static bool next_resp(struct rig *r, uint16_t *k, uint32_t *len, uint8_t *buf)
{
	uint32_t id, n;
	uint16_t want = r->out_seen;

	if (tvq_used_idx(&r->out) == r->out_seen)
		return false;
	tvq_used_elem(&r->out, r->out_seen % QSIZE, &id, &n);
	r->out_seen++;
	cr_assert_eq(id, 2 * (want % OUT_SLOTS), "used head %u, want %u (answered out of order)",
		     id, 2 * (want % OUT_SLOTS));
	if (k)
		*k = want;
	*len = n;
	if (buf && n)
		memcpy(buf, gmem_ptr(&r->out.m, out_gpa(want) + OUT_RESP, n), n);
	return true;
}

/* Run one command with a 64-byte response buffer; returns the response code. */
static uint32_t cmd_full(struct rig *r, const void *cmd, size_t len, uint8_t *resp)
{
	uint8_t b[WL_NEW_LEN];
	uint32_t n;

	post(r, cmd, len, WL_NEW_LEN);
	run_out(r);
	cr_assert(next_resp(r, NULL, &n, b), "no response");
	cr_assert_eq(tvq_used_idx(&r->out), r->out_seen, "more than one response");
	cr_assert(n == 8 || n == WL_NEW_LEN, "a %u-byte response", n);
	if (resp)
		memcpy(resp, b, n);
	return get32(b);
}

static uint32_t cmd(struct rig *r, const void *c, size_t len)
{
	return cmd_full(r, c, len, NULL);
}

static uint32_t new_shm(struct rig *r, uint32_t id, uint32_t flags, uint32_t size, uint8_t *resp)
{
	uint8_t b[WL_NEW_LEN];

	return cmd_full(r, b, mk_new(b, WL_CMD_VFD_NEW, id, flags, size), resp);
}

static uint32_t new_pipe(struct rig *r, uint32_t id, uint32_t flags)
{
	uint8_t b[WL_NEW_LEN];

	return cmd(r, b, mk_new(b, WL_CMD_VFD_NEW_PIPE, id, flags, 0));
}

static uint32_t close_vfd(struct rig *r, uint32_t id)
{
	uint8_t b[12];

	return cmd(r, b, mk_vfd(b, WL_CMD_VFD_CLOSE, id));
}

static uint32_t send_vfd(struct rig *r, uint32_t id, const uint32_t *ids, uint32_t nr,
			 const void *data, size_t len)
{
	uint8_t b[512];

	cr_assert_leq(16 + 4 * nr + len, sizeof(b));
	return cmd(r, b, mk_send(b, id, ids, nr, data, len));
}

/* VFD_NEW_CTX @id; returns the compositor's end of the connection. */
static int new_ctx(struct rig *r, uint32_t id)
{
	uint8_t b[WL_NEW_LEN], resp[WL_NEW_LEN];
	int fd;

	cr_assert_eq(cmd_full(r, b, mk_vfd(b, WL_CMD_VFD_NEW_CTX, id), resp), WL_RESP_VFD_NEW);
	cr_assert_eq(get32(resp + 8), id);
	cr_assert_eq(get32(resp + 12),
		     r->w->use_trans ? WL_VFD_READ | WL_VFD_WRITE : WL_VFD_CONTROL);
	fd = accept4(r->lfd, NULL, NULL, SOCK_CLOEXEC);
	cr_assert_geq(fd, 0, "the device did not connect");
	return fd;
}

static unsigned int slot_of(struct rig *r, uint32_t id)
{
	for (unsigned int i = 0; i < WL_MAX_VFDS; i++)
		if (r->w->vfds[i].kind != WL_FREE && r->w->vfds[i].id == id)
			return i;
	cr_assert_fail("no VFD 0x%x", id);
	return 0;
}

static unsigned int nr_vfds(struct rig *r)
{
	unsigned int n = 0;

	for (unsigned int i = 0; i < WL_MAX_VFDS; i++)
		n += r->w->vfds[i].kind != WL_FREE;
	return n;
}

/* The device reads VFD @id (epoll said it is readable). */
static void ready(struct rig *r, uint32_t id)
{
	cr_assert_eq(wl_fd_ready(r->w, slot_of(r, id), EPOLLIN), 0);
}

/* Post @n in-queue buffers of IN_BUF bytes and let the device fill them; returns how many it did. */
static int fill(struct rig *r, unsigned int n)
{
	int rc;

	for (unsigned int i = 0; i < n; i++) {
		uint16_t d = r->in_posted++ % QSIZE;

		tvq_desc(&r->in, TVQ_DESC, d, TVQ_DATA + (uint64_t)d * IN_BUF, IN_BUF,
			 VIRTQ_DESC_F_WRITE, 0);
		tvq_post(&r->in, d);
	}
	rc = wl_fill_in(r->w, &r->in.q);
	cr_assert_geq(rc, 0);
	return rc;
}

/* The next message the device put in the in queue; its length, 0 when none. */
static uint32_t next_msg(struct rig *r, uint8_t *buf)
{
	uint32_t id, len;

	if (tvq_used_idx(&r->in) == r->in_seen)
		return 0;
	tvq_used_elem(&r->in, r->in_seen % QSIZE, &id, &len);
	cr_assert_eq(id, r->in_seen % QSIZE);
	r->in_seen++;
	cr_assert_leq(len, IN_BUF);
	memcpy(buf, gmem_ptr(&r->in.m, TVQ_DATA + (uint64_t)id * IN_BUF, len), len);
	return len;
}

/* Nothing is waiting on @fd. */
static void expect_nothing(int fd)
{
	char c;
	ssize_t n = recv(fd, &c, 1, MSG_DONTWAIT);

	cr_assert(n < 0 && errno == EAGAIN, "the compositor got something (%zd)", n);
}

/* Read exactly @len bytes (and at most 28 descriptors into @fds) from @fd. */
static int recv_all(int fd, void *buf, size_t len, int *fds)
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
static void comp_send(int fd, const void *data, size_t len, const int *fds, int nfd)
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

Test(wl, send_bytes_reach_the_compositor)
{
	static const char msg[] = "\x01\x00\x00\x00\x0c\x00\x01\x00wl_display.get_registry";
	struct rig r;
	char buf[sizeof(msg)];
	int c;

	rig_up(&r);
	c = new_ctx(&r, 1);
	cr_assert_eq(send_vfd(&r, 1, NULL, 0, msg, sizeof(msg)), WL_RESP_OK);
	recv_all(c, buf, sizeof(msg), NULL);
	cr_assert(!memcmp(buf, msg, sizeof(msg)));
	expect_nothing(c);
	/* An empty send: OK, nothing sent. */
	cr_assert_eq(send_vfd(&r, 1, NULL, 0, NULL, 0), WL_RESP_OK);
	expect_nothing(c);
	/* A second context is a second connection. */
	{
		int c2 = new_ctx(&r, 2);

		cr_assert_eq(send_vfd(&r, 2, NULL, 0, "two", 3), WL_RESP_OK);
		recv_all(c2, buf, 3, NULL);
		cr_assert(!memcmp(buf, "two", 3));
		expect_nothing(c);
		close(c2);
	}
	close(c);
	rig_down(&r);
}

/* Bytes spread over several readable buffers arrive in order. */
Test(wl, send_from_scattered_buffers)
{
	struct rig r;
	uint8_t hdr[16], got[3000];
	uint16_t k;
	uint32_t n;
	int c;

	rig_up(&r);
	c = new_ctx(&r, 1);
	mk_send(hdr, 1, NULL, 0, NULL, 0);
	k = r.out_posted++;
	memcpy(gmem_ptr(&r.out.m, out_gpa(k), 16), hdr, 16);
	tvq_fill(&r.out, out_gpa(k) + 16, 1000, 1);
	tvq_fill(&r.out, out_gpa(k) + 0x8000, 2000, 2);
	/* [hdr + 1000 bytes] [2000 bytes] [response], descriptors 2, 3, 4 */
	tvq_desc(&r.out, TVQ_DESC, 2, out_gpa(k), 1016, VIRTQ_DESC_F_NEXT, 3);
	tvq_desc(&r.out, TVQ_DESC, 3, out_gpa(k) + 0x8000, 2000, VIRTQ_DESC_F_NEXT, 4);
	tvq_desc(&r.out, TVQ_DESC, 4, out_gpa(k) + OUT_RESP, 8, VIRTQ_DESC_F_WRITE, 0);
	tvq_post(&r.out, 2);
	run_out(&r);
	cr_assert(next_resp(&r, NULL, &n, NULL));
	cr_assert_eq(n, 8);
	cr_assert_eq(get32(gmem_ptr(&r.out.m, out_gpa(k) + OUT_RESP, 4)), WL_RESP_OK);
	recv_all(c, got, sizeof(got), NULL);
	for (int i = 0; i < 1000; i++)
		cr_assert_eq(got[i], tvq_pattern(1, (uint64_t)i), "byte %d", i);
	for (int i = 0; i < 2000; i++)
		cr_assert_eq(got[1000 + i], tvq_pattern(2, (uint64_t)i), "byte %d", 1000 + i);
	close(c);
	rig_down(&r);
}

Test(wl, send_shm_passes_the_same_memory)
{
	struct rig r;
	uint8_t resp[WL_NEW_LEN];
	uint32_t ids[1] = { 7 };
	struct stat st;
	char buf[2];
	int c, fd = -1;
	uint8_t *host, *m;
	unsigned int s;

	rig_up(&r);
	r.w->use_shmem = true;
	c = new_ctx(&r, 1);
	cr_assert_eq(new_shm(&r, 7, 0, 5000, resp), WL_RESP_VFD_NEW);
	cr_assert_eq(get32(resp + 8), 7);
	cr_assert_eq(get32(resp + 24), 8192, "size %u: not rounded up to pages", get32(resp + 24));
	s = slot_of(&r, 7);
	cr_assert_eq(get64(resp + 16), r.w->vfds[s].off / 4096);
	host = r.w->vp.shm_maps[s].host;
	cr_assert_not_null(host);
	cr_assert_eq(r.w->vp.shm_maps[s].size, 8192);

	cr_assert_eq(send_vfd(&r, 1, ids, 1, "x", 1), WL_RESP_OK);
	cr_assert_eq(recv_all(c, buf, 1, &fd), 1);
	cr_assert_eq(buf[0], 'x');
	cr_assert_eq(fstat(fd, &st), 0);
	cr_assert_eq(st.st_size, 8192);
	/* The compositor writes through its descriptor; the guest's mapping sees it, and back. */
	cr_assert_eq(pwrite(fd, "pixels", 6, 8192 - 6), 6);
	cr_assert(!memcmp(host + 8192 - 6, "pixels", 6));
	m = mmap(NULL, 8192, PROT_READ | PROT_WRITE, MAP_SHARED, fd, 0);
	cr_assert_neq(m, MAP_FAILED);
	memcpy(host + 100, "guest", 5);
	cr_assert(!memcmp(m + 100, "guest", 5));
	/* Sealed at its size: the compositor cannot shrink it under the guest. */
	cr_assert_neq(ftruncate(fd, 4096), 0);
	munmap(m, 8192);
	close(fd);
	/* Still the guest's: it can be sent again. */
	cr_assert_eq(send_vfd(&r, 1, ids, 1, "y", 1), WL_RESP_OK);
	cr_assert_eq(recv_all(c, buf, 1, &fd), 1);
	close(fd);
	cr_assert_eq(close_vfd(&r, 7), WL_RESP_OK);
	cr_assert_null(r.w->vp.shm_maps[s].host);
	close(c);
	rig_down(&r);
}

/* A pipe the guest reads: its write end goes to the compositor, what it writes comes back. */
Test(wl, send_pipe_end)
{
	struct rig r;
	uint8_t msg[IN_BUF];
	uint32_t ids[1] = { 9 }, len;
	char b;
	int c, fd = -1;

	rig_up(&r);
	r.w->use_trans = true;
	c = new_ctx(&r, 1);
	cr_assert_eq(new_pipe(&r, 9, WL_VFD_READ), WL_RESP_VFD_NEW);
	cr_assert_eq(send_vfd(&r, 1, ids, 1, "p", 1), WL_RESP_OK);
	cr_assert_eq(recv_all(c, &b, 1, &fd), 1);
	cr_assert_eq(fcntl(fd, F_GETFL) & O_ACCMODE, O_WRONLY);
	/* Sent once: the device's copy of that end is gone, it cannot go twice. */
	cr_assert_eq(send_vfd(&r, 1, ids, 1, "p", 1), WL_RESP_INVALID_TYPE);
	expect_nothing(c);
	cr_assert_eq(write(fd, "clipboard", 9), 9);
	ready(&r, 9);
	cr_assert_eq(fill(&r, 1), 1);
	len = next_msg(&r, msg);
	cr_assert_eq(len, 16 + 9);
	cr_assert_eq(get32(msg), WL_CMD_VFD_RECV);
	cr_assert_eq(get32(msg + 8), 9);
	cr_assert_eq(get32(msg + 12), 0);
	cr_assert(!memcmp(msg + 16, "clipboard", 9));
	/* The compositor closes it: the guest hears the hang-up. */
	close(fd);
	ready(&r, 9);
	cr_assert_eq(fill(&r, 1), 1);
	cr_assert_eq(next_msg(&r, msg), 12);
	cr_assert_eq(get32(msg), WL_CMD_VFD_HUP);
	cr_assert_eq(get32(msg + 8), 9);
	close(c);
	rig_down(&r);
}

/* A pipe the guest writes: VFD_SEND to it writes the pipe. */
Test(wl, write_pipe)
{
	struct rig r;
	uint32_t ids[1] = { 4 };
	char b[8] = "";
	int c, fd = -1;

	rig_up(&r);
	c = new_ctx(&r, 1);
	cr_assert_eq(new_pipe(&r, 4, WL_VFD_WRITE), WL_RESP_VFD_NEW);
	cr_assert_eq(send_vfd(&r, 1, ids, 1, "p", 1), WL_RESP_OK);
	cr_assert_eq(recv_all(c, b, 1, &fd), 1);
	cr_assert_eq(fcntl(fd, F_GETFL) & O_ACCMODE, O_RDONLY);
	cr_assert_eq(send_vfd(&r, 4, NULL, 0, "text", 4), WL_RESP_OK);
	cr_assert_eq(read(fd, b, sizeof(b)), 4);
	cr_assert(!memcmp(b, "text", 4));
	close(fd);
	close(c);
	rig_down(&r);
}

Test(wl, compositor_fds_become_vfds)
{
	struct rig r;
	uint8_t msg[IN_BUF];
	uint32_t len, hid[3];
	int c, fds[3], p[2], q[2];
	unsigned int s;
	uint8_t *host;

	rig_up(&r);
	r.w->use_trans = true;
	r.w->use_shmem = true;
	c = new_ctx(&r, 1);
	fds[0] = memfd_create("pool", MFD_CLOEXEC);
	cr_assert_eq(ftruncate(fds[0], 8192), 0);
	cr_assert_eq(pipe2(p, O_CLOEXEC), 0);
	cr_assert_eq(pipe2(q, O_CLOEXEC), 0);
	fds[1] = p[0]; /* the guest reads */
	fds[2] = q[1]; /* the guest writes */
	comp_send(c, "hello", 5, fds, 3);
	ready(&r, 1);
	/* Nothing before the guest gives buffers, then everything in order. */
	cr_assert_eq(tvq_used_idx(&r.in), 0);
	cr_assert_eq(fill(&r, 8), 4);
	for (int i = 0; i < 3; i++) {
		len = next_msg(&r, msg);
		cr_assert_eq(len, WL_NEW_LEN, "message %d: %u bytes", i, len);
		cr_assert_eq(get32(msg), WL_CMD_VFD_NEW, "message %d", i);
		hid[i] = get32(msg + 8);
		cr_assert(hid[i] & WL_HOST_ID_BIT, "id 0x%x", hid[i]);
		for (int k = 0; k < i; k++)
			cr_assert_neq(hid[i], hid[k]);
	}
	len = next_msg(&r, msg);
	cr_assert_eq(len, 16 + 12 + 5);
	cr_assert_eq(get32(msg), WL_CMD_VFD_RECV);
	cr_assert_eq(get32(msg + 8), 1);
	cr_assert_eq(get32(msg + 12), 3);
	for (int i = 0; i < 3; i++)
		cr_assert_eq(get32(msg + 16 + 4 * i), hid[i]);
	cr_assert(!memcmp(msg + 28, "hello", 5));
	cr_assert_eq(next_msg(&r, msg), 0);

	/* The memfd: mapped, its pfn and size announced; the pipes' flags their access modes. */
	s = slot_of(&r, hid[0]);
	cr_assert_eq(r.w->vfds[s].kind, WL_SHM);
	cr_assert_eq(r.w->vfds[s].size, 8192);
	host = r.w->vp.shm_maps[s].host;
	cr_assert_not_null(host);
	cr_assert_eq(pwrite(fds[0], "abc", 3, 4096), 3);
	cr_assert(!memcmp(host + 4096, "abc", 3));
	cr_assert_eq(r.w->vfds[slot_of(&r, hid[1])].kind, WL_PIPE);
	cr_assert_eq(r.w->vfds[slot_of(&r, hid[1])].flags, WL_VFD_READ);
	cr_assert_eq(r.w->vfds[slot_of(&r, hid[2])].flags, WL_VFD_WRITE);
	{
		/* The three VFD_NEW messages again, checked field by field. */
		uint8_t b[WL_NEW_LEN];

		wl_enc_new(b, WL_CMD_VFD_NEW, hid[0], 0, r.w->vfds[s].off / 4096, 8192);
		cr_assert(!memcmp(gmem_ptr(&r.in.m, TVQ_DATA, WL_NEW_LEN), b, WL_NEW_LEN));
		cr_assert_eq(get32(gmem_ptr(&r.in.m, TVQ_DATA + IN_BUF + 12, 4)), WL_VFD_READ);
		cr_assert_eq(get32(gmem_ptr(&r.in.m, TVQ_DATA + 2 * IN_BUF + 12, 4)), WL_VFD_WRITE);
	}
	/* The guest reads the pipe it was given... */
	cr_assert_eq(write(p[1], "sel", 3), 3);
	ready(&r, hid[1]);
	cr_assert_eq(fill(&r, 1), 1);
	len = next_msg(&r, msg);
	cr_assert_eq(len, 16 + 3);
	cr_assert_eq(get32(msg + 8), hid[1]);
	cr_assert(!memcmp(msg + 16, "sel", 3));
	/* ... and writes the other. */
	cr_assert_eq(send_vfd(&r, hid[2], NULL, 0, "dnd", 3), WL_RESP_OK);
	cr_assert_eq(read(q[0], msg, 8), 3);
	cr_assert(!memcmp(msg, "dnd", 3));

	/* The compositor hangs up: VFD_HUP for the context. */
	close(c);
	ready(&r, 1);
	cr_assert_eq(fill(&r, 1), 1);
	cr_assert_eq(next_msg(&r, msg), 12);
	cr_assert_eq(get32(msg), WL_CMD_VFD_HUP);
	cr_assert_eq(get32(msg + 8), 1);
	/* Once. */
	cr_assert_eq(wl_fd_ready(r.w, slot_of(&r, 1), EPOLLIN | EPOLLHUP), 0);
	cr_assert_eq(fill(&r, 1), 0);
	/* Sending to a hung-up context fails, and the device carries on. */
	cr_assert_eq(send_vfd(&r, 1, NULL, 0, "x", 1), WL_RESP_ERR);
	cr_assert_eq(close_vfd(&r, 1), WL_RESP_OK);
	for (int i = 0; i < 3; i++)
		close(fds[i]);
	close(p[1]);
	close(q[0]);
	rig_down(&r);
}

/* Without TRANS_FLAGS (the older driver): pipes from the compositor are announced with flags 0. */
Test(wl, compositor_fds_legacy_flags)
{
	struct rig r;
	uint8_t msg[IN_BUF];
	int c, p[2];

	rig_up(&r);
	c = new_ctx(&r, 1);
	cr_assert_eq(pipe2(p, O_CLOEXEC), 0);
	comp_send(c, "h", 1, &p[0], 1);
	ready(&r, 1);
	cr_assert_eq(fill(&r, 4), 2);
	cr_assert_eq(next_msg(&r, msg), WL_NEW_LEN);
	cr_assert_eq(get32(msg + 12), 0);
	cr_assert_eq(next_msg(&r, msg), 16 + 4 + 1);
	close(p[0]);
	close(p[1]);
	close(c);
	rig_down(&r);
}

Test(wl, error_responses)
{
	struct rig r;
	uint8_t b[WL_CMD_MAX];
	uint32_t ids[2] = { 5, 99 };
	int c;

	rig_up(&r);
	c = new_ctx(&r, 1);
	cr_assert_eq(new_shm(&r, 5, 0, 4096, NULL), WL_RESP_VFD_NEW);
	/* SEND to nobody; SEND naming an unknown VFD: nothing reaches the compositor. */
	cr_assert_eq(send_vfd(&r, 77, NULL, 0, "x", 1), WL_RESP_INVALID_ID);
	cr_assert_eq(send_vfd(&r, 1, ids, 2, "x", 1), WL_RESP_INVALID_ID);
	ids[1] = WL_HOST_ID_BIT | 1;
	cr_assert_eq(send_vfd(&r, 1, ids, 2, "x", 1), WL_RESP_INVALID_ID);
	expect_nothing(c);
	/* Descriptors without bytes cannot travel on a stream. */
	cr_assert_eq(send_vfd(&r, 1, ids, 1, NULL, 0), WL_RESP_ERR);
	expect_nothing(c);
	/* SEND to a shm VFD. */
	cr_assert_eq(send_vfd(&r, 5, NULL, 0, "x", 1), WL_RESP_INVALID_TYPE);
	/* VFD_NEW: size 0, too large, a duplicate id (of a shm or a context). */
	cr_assert_eq(new_shm(&r, 6, 0, 0, NULL), WL_RESP_ERR);
	cr_assert_eq(new_shm(&r, 6, 0, (uint32_t)(WL_SHM_SIZE + 1), NULL), WL_RESP_OUT_OF_MEMORY);
	cr_assert_eq(new_shm(&r, 6, 0, 0xffffffff, NULL), WL_RESP_OUT_OF_MEMORY);
	cr_assert_eq(new_shm(&r, 5, 0, 4096, NULL), WL_RESP_INVALID_ID);
	cr_assert_eq(new_shm(&r, 1, 0, 4096, NULL), WL_RESP_INVALID_ID);
	cr_assert_eq(new_pipe(&r, 5, WL_VFD_READ), WL_RESP_INVALID_ID);
	cr_assert_eq(cmd(&r, b, mk_vfd(b, WL_CMD_VFD_NEW_CTX, 5)), WL_RESP_INVALID_ID);
	/* Old flags: WRITE and MAP allowed, anything else not. */
	cr_assert_eq(new_shm(&r, 6, WL_VFD_WRITE | WL_VFD_MAP, 4096, NULL), WL_RESP_VFD_NEW);
	cr_assert_eq(new_shm(&r, 8, WL_VFD_CONTROL, 4096, NULL), WL_RESP_INVALID_FLAGS);
	/* TRANS_FLAGS negotiated: VFD_NEW takes no flags at all. */
	r.w->use_trans = true;
	cr_assert_eq(new_shm(&r, 8, WL_VFD_WRITE, 4096, NULL), WL_RESP_INVALID_FLAGS);
	cr_assert_eq(new_shm(&r, 8, 0, 4096, NULL), WL_RESP_VFD_NEW);
	/* NEW_PIPE: exactly one of READ and WRITE. */
	cr_assert_eq(new_pipe(&r, 10, 0), WL_RESP_INVALID_FLAGS);
	cr_assert_eq(new_pipe(&r, 10, WL_VFD_READ | WL_VFD_WRITE), WL_RESP_INVALID_FLAGS);
	cr_assert_eq(new_pipe(&r, 10, WL_VFD_CONTROL), WL_RESP_INVALID_FLAGS);
	cr_assert_eq(new_pipe(&r, 10, WL_VFD_WRITE), WL_RESP_VFD_NEW);
	cr_assert_eq(new_pipe(&r, 11, WL_VFD_READ), WL_RESP_VFD_NEW);
	/* Descriptors to a pipe; bytes to a pipe the guest reads. */
	cr_assert_eq(send_vfd(&r, 10, ids, 1, "x", 1), WL_RESP_INVALID_TYPE);
	cr_assert_eq(send_vfd(&r, 11, NULL, 0, "x", 1), WL_RESP_INVALID_TYPE);
	/* CLOSE of nothing, twice-closed. */
	cr_assert_eq(close_vfd(&r, 12345), WL_RESP_INVALID_ID);
	cr_assert_eq(close_vfd(&r, 8), WL_RESP_OK);
	cr_assert_eq(close_vfd(&r, 8), WL_RESP_INVALID_ID);
	/* NAMED: only the compositor named "". */
	cr_assert_eq(cmd(&r, b, mk_named(b, 20, "wayland-1")), WL_RESP_ERR);
	cr_assert_eq(cmd(&r, b, mk_named(b, 20, "")), WL_RESP_VFD_NEW);
	close(accept(r.lfd, NULL, NULL));
	/* Malformed and unsupported commands through the queue. */
	cr_assert_eq(cmd(&r, b, 7), WL_RESP_ERR);
	put32(b, WL_CMD_VFD_NEW_DMABUF);
	cr_assert_eq(cmd(&r, b, 64), WL_RESP_INVALID_CMD);
	put32(b, WL_CMD_VFD_SEND_FOREIGN_ID);
	cr_assert_eq(cmd(&r, b, 64), WL_RESP_INVALID_CMD);
	mk_new(b, WL_CMD_VFD_NEW, WL_HOST_ID_BIT | 1, 0, 4096);
	cr_assert_eq(cmd(&r, b, 64), WL_RESP_INVALID_ID);
	put32(b, WL_CMD_VFD_SEND);
	put32(b + 8, 1);
	put32(b + 12, 29);
	cr_assert_eq(cmd(&r, b, 128), WL_RESP_INVALID_CMD);
	expect_nothing(c);
	/* After all that, the context still works. */
	cr_assert_eq(send_vfd(&r, 1, NULL, 0, "ok", 2), WL_RESP_OK);
	recv_all(c, b, 2, NULL);
	cr_assert(!memcmp(b, "ok", 2));
	close(c);
	rig_down(&r);
}

/* No compositor listening: NEW_CTX fails, nothing is left behind. */
Test(wl, no_compositor)
{
	struct rig r;
	uint8_t b[12];

	rig_up(&r);
	close(r.lfd);
	unlink(path);
	r.lfd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
	cr_assert_eq(cmd(&r, b, mk_vfd(b, WL_CMD_VFD_NEW_CTX, 1)), WL_RESP_ERR);
	cr_assert_eq(nr_vfds(&r), 0);
	rig_down(&r);
}

/* Response buffers too small for the response, or none at all: truncated, never overrun. */
Test(wl, small_response_buffers)
{
	struct rig r;
	uint8_t b[WL_NEW_LEN], got[WL_NEW_LEN];
	uint32_t n;
	uint16_t k;

	rig_up(&r);
	mk_new(b, WL_CMD_VFD_NEW, 3, 0, 4096);
	k = post(&r, b, WL_NEW_LEN, 10);
	run_out(&r);
	cr_assert(next_resp(&r, NULL, &n, got));
	cr_assert_eq(n, 10);
	cr_assert_eq(get32(got), WL_RESP_VFD_NEW);
	cr_assert_eq(*(uint8_t *)gmem_ptr(&r.out.m, out_gpa(k) + OUT_RESP + 10, 1), 0xcc);
	/* The VFD exists all the same (a driver would not do this, but nothing breaks). */
	cr_assert_eq(nr_vfds(&r), 1);
	mk_new(b, WL_CMD_VFD_NEW, 4, 0, 4096);
	post(&r, b, WL_NEW_LEN, 0);
	mk_vfd(b, WL_CMD_VFD_CLOSE, 999);
	k = post(&r, b, 12, 1);
	run_out(&r);
	cr_assert(next_resp(&r, NULL, &n, got));
	cr_assert_eq(n, 0);
	cr_assert(next_resp(&r, NULL, &n, got));
	cr_assert_eq(n, 1);
	cr_assert_eq(got[0], WL_RESP_INVALID_ID & 0xff);
	cr_assert_eq(*(uint8_t *)gmem_ptr(&r.out.m, out_gpa(k) + OUT_RESP + 1, 1), 0xcc);
	/* A command with no readable part at all. */
	k = r.out_posted++;
	tvq_desc(&r.out, TVQ_DESC, (uint16_t)(2 * (k % OUT_SLOTS)), out_gpa(k) + OUT_RESP, 8,
		 VIRTQ_DESC_F_WRITE, 0);
	tvq_post(&r.out, (uint16_t)(2 * (k % OUT_SLOTS)));
	run_out(&r);
	cr_assert(next_resp(&r, NULL, &n, got));
	cr_assert_eq(n, 8);
	cr_assert_eq(get32(got), WL_RESP_ERR);
	cr_assert_eq(nr_vfds(&r), 2);
	rig_down(&r);
}

/* In-queue buffers too small for a message: returned empty, the message waits for a bigger one. */
Test(wl, small_in_buffers)
{
	struct rig r;
	uint8_t msg[IN_BUF];
	uint32_t id, len;
	int c;

	rig_up(&r);
	c = new_ctx(&r, 1);
	comp_send(c, "0123456789", 10, NULL, 0);
	ready(&r, 1);
	tvq_desc(&r.in, TVQ_DESC, 0, TVQ_DATA, 20, VIRTQ_DESC_F_WRITE, 0);
	tvq_post(&r.in, 0);
	r.in_posted = 1;
	cr_assert_eq(wl_fill_in(r.w, &r.in.q), 1);
	tvq_used_elem(&r.in, 0, &id, &len);
	r.in_seen = 1;
	cr_assert_eq(len, 0);
	cr_assert_eq(fill(&r, 1), 1);
	cr_assert_eq(next_msg(&r, msg), 26);
	cr_assert(!memcmp(msg + 16, "0123456789", 10));
	close(c);
	rig_down(&r);
}

/* The compositor does not read: a large SEND is held, later commands wait behind it. */
Test(wl, send_flow_control)
{
	const size_t big = 3 * GMEM_MIB;
	struct rig r;
	uint8_t hdr[16], b[WL_NEW_LEN], *got;
	size_t total = big + 4, have = 0;
	unsigned int s, rounds = 0, resps = 0;
	uint16_t k, first;
	uint32_t n;
	int c, sz = 4096;

	rig_up(&r);
	c = new_ctx(&r, 1);
	s = slot_of(&r, 1);
	cr_assert_eq(setsockopt(r.w->vfds[s].fd, SOL_SOCKET, SO_SNDBUF, &sz, sizeof(sz)), 0);
	cr_assert_eq(setsockopt(c, SOL_SOCKET, SO_RCVBUF, &sz, sizeof(sz)), 0);
	got = malloc(total);
	cr_assert_not_null(got);

	/* 3 MiB, then 4 bytes, then a NEW_PIPE: nothing is answered yet. */
	mk_send(hdr, 1, NULL, 0, NULL, 0);
	memcpy(gmem_ptr(&r.out.m, OUT_BIG, 16), hdr, 16);
	tvq_fill(&r.out, OUT_BIG + 16, big, 3);
	first = post_at(&r, OUT_BIG, 16 + big, 8);
	post(&r, b, mk_send(b, 1, NULL, 0, "tail", 4), 8);
	post(&r, b, mk_new(b, WL_CMD_VFD_NEW_PIPE, 2, WL_VFD_READ, 0), WL_NEW_LEN);
	run_out(&r);
	cr_assert_eq(tvq_used_idx(&r.out), r.out_seen, "a held command was answered");
	cr_assert(r.w->held);
	cr_assert(r.w->vfds[s].watched & EPOLLOUT, "nobody waits for the socket to drain");
	run_out(&r);
	cr_assert_eq(tvq_used_idx(&r.out), r.out_seen);
	cr_assert_eq(nr_vfds(&r), 1, "a command behind the held one ran");

	/* The compositor reads; epoll says the socket is writable; the rest goes. */
	while (have < total || resps < 3) {
		ssize_t m = recv(c, got + have, total - have, MSG_DONTWAIT);

		if (m > 0)
			have += (size_t)m;
		cr_assert_eq(wl_fd_ready(r.w, s, EPOLLOUT), 0);
		run_out(&r);
		while (next_resp(&r, &k, &n, b)) {
			cr_assert_eq(k, (uint16_t)(first + resps));
			cr_assert_eq(get32(b), resps < 2 ? WL_RESP_OK : WL_RESP_VFD_NEW,
				     "response %u: 0x%x", resps, get32(b));
			if (resps == 0)
				cr_assert_eq(n, 8);
			resps++;
		}
		cr_assert_lt(++rounds, 100000, "stuck at %zu of %zu bytes, %u responses", have,
			     total, resps);
	}
	cr_assert_gt(rounds, 2, "the socket never filled");
	for (size_t i = 0; i < big; i++)
		if (got[i] != tvq_pattern(3, i))
			cr_assert_fail("byte %zu: 0x%02x, want 0x%02x", i, got[i],
				       tvq_pattern(3, i));
	cr_assert(!memcmp(got + big, "tail", 4));
	cr_assert(!r.w->held);
	cr_assert_eq(nr_vfds(&r), 2);
	expect_nothing(c);
	free(got);
	close(c);
	rig_down(&r);
}

/* A held SEND whose compositor goes away: answered with an error, the queue moves on. */
Test(wl, held_send_peer_gone)
{
	const size_t big = 2 * GMEM_MIB;
	struct rig r;
	uint8_t hdr[16], b[WL_NEW_LEN];
	unsigned int s;
	uint32_t n;
	int c, sz = 4096;

	rig_up(&r);
	c = new_ctx(&r, 1);
	s = slot_of(&r, 1);
	cr_assert_eq(setsockopt(r.w->vfds[s].fd, SOL_SOCKET, SO_SNDBUF, &sz, sizeof(sz)), 0);
	mk_send(hdr, 1, NULL, 0, NULL, 0);
	memcpy(gmem_ptr(&r.out.m, OUT_BIG, 16), hdr, 16);
	post_at(&r, OUT_BIG, 16 + big, 8);
	post(&r, b, mk_new(b, WL_CMD_VFD_NEW_PIPE, 2, WL_VFD_READ, 0), WL_NEW_LEN);
	run_out(&r);
	cr_assert_eq(tvq_used_idx(&r.out), r.out_seen);
	close(c);
	cr_assert_eq(wl_fd_ready(r.w, s, EPOLLOUT | EPOLLHUP), 0);
	run_out(&r);
	cr_assert(next_resp(&r, NULL, &n, b));
	cr_assert_eq(get32(b), WL_RESP_ERR);
	cr_assert(next_resp(&r, NULL, &n, b));
	cr_assert_eq(get32(b), WL_RESP_VFD_NEW);
	cr_assert(!r.w->held);
	rig_down(&r);
}

/* The guest posts no in buffers: the device stops reading, and loses nothing. */
Test(wl, in_ring_pauses)
{
	struct rig r;
	uint8_t msg[IN_BUF], *want, *got;
	size_t nwant = 0, ngot = 0;
	unsigned int i, paused_at = 0;
	uint32_t len;
	int c;

	rig_up(&r);
	c = new_ctx(&r, 1);
	want = malloc(1 << 20);
	got = malloc(1 << 20);
	for (i = 0; i < 200; i++) {
		char line[32];
		int n = snprintf(line, sizeof(line), "event %u;", i);

		comp_send(c, line, (size_t)n, NULL, 0);
		memcpy(want + nwant, line, (size_t)n);
		nwant += (size_t)n;
		/* epoll reports the socket readable only while the device watches it. */
		if (r.w->vfds[slot_of(&r, 1)].watched != UINT32_MAX)
			ready(&r, 1);
		if (r.w->paused && !paused_at)
			paused_at = i + 1;
	}
	cr_assert(r.w->paused, "the device never paused");
	cr_assert_leq(paused_at, WL_PENDING);
	cr_assert_eq(r.w->vfds[slot_of(&r, 1)].watched, UINT32_MAX, "still watched while paused");
	/* Calls regardless of epoll (a stale event) read nothing either. */
	ready(&r, 1);
	cr_assert_eq(r.w->pend_len, paused_at);

	/* Buffers come: everything arrives, in order, byte for byte. */
	for (int round = 0; round < 100 && ngot < nwant; round++) {
		fill(&r, 16);
		while ((len = next_msg(&r, msg))) {
			cr_assert_eq(get32(msg), WL_CMD_VFD_RECV);
			cr_assert_eq(get32(msg + 8), 1);
			cr_assert_eq(get32(msg + 12), 0);
			memcpy(got + ngot, msg + 16, len - 16);
			ngot += len - 16;
		}
		if (!r.w->paused)
			ready(&r, 1);
	}
	cr_assert_eq(ngot, nwant);
	cr_assert(!memcmp(got, want, nwant));
	cr_assert(!r.w->paused);
	free(want);
	free(got);
	close(c);
	rig_down(&r);
}

Test(wl, vfd_exhaustion)
{
	struct rig r;
	uint8_t resp[WL_NEW_LEN], b[WL_NEW_LEN];
	uint64_t pfn[WL_MAX_VFDS + 1];
	int c, fd;

	rig_up(&r);
	r.w->use_shmem = true;
	for (uint32_t id = 1; id <= WL_MAX_VFDS; id++) {
		cr_assert_eq(new_shm(&r, id, 0, 4096, resp), WL_RESP_VFD_NEW, "VFD %u", id);
		pfn[id] = get64(resp + 16);
		for (uint32_t k = 1; k < id; k++)
			cr_assert_neq(pfn[k], pfn[id], "VFDs %u and %u overlap", k, id);
	}
	cr_assert_eq(new_shm(&r, 1000, 0, 4096, NULL), WL_RESP_OUT_OF_MEMORY);
	cr_assert_eq(new_pipe(&r, 1000, WL_VFD_READ), WL_RESP_OUT_OF_MEMORY);
	cr_assert_eq(cmd(&r, b, mk_vfd(b, WL_CMD_VFD_NEW_CTX, 1000)), WL_RESP_OUT_OF_MEMORY);
	fcntl(r.lfd, F_SETFL, O_NONBLOCK);
	cr_assert(accept(r.lfd, NULL, NULL) < 0 && errno == EAGAIN, "a connection was opened");
	fcntl(r.lfd, F_SETFL, 0);
	/* Close some: the slots and their space are used again. */
	cr_assert_eq(close_vfd(&r, 10), WL_RESP_OK);
	cr_assert_eq(close_vfd(&r, 11), WL_RESP_OK);
	cr_assert_eq(new_shm(&r, 1000, 0, 8192, resp), WL_RESP_VFD_NEW);
	cr_assert_eq(get64(resp + 16), pfn[10] < pfn[11] ? pfn[10] : pfn[11]);
	cr_assert_eq(pfn[11], pfn[10] + 1, "first fit should have put them together");
	cr_assert_eq(close_vfd(&r, 50), WL_RESP_OK);
	c = new_ctx(&r, 1001);
	cr_assert_eq(send_vfd(&r, 1001, NULL, 0, "alive", 5), WL_RESP_OK);
	recv_all(c, b, 5, NULL);
	cr_assert_eq(new_shm(&r, 1002, 0, 4096, NULL), WL_RESP_VFD_NEW);
	cr_assert_eq(nr_vfds(&r), WL_MAX_VFDS);
	/* Full again: a descriptor from the compositor finds no VFD; its context is hung up. */
	fd = memfd_create("x", MFD_CLOEXEC);
	cr_assert_eq(ftruncate(fd, 4096), 0);
	comp_send(c, "m", 1, &fd, 1);
	close(fd);
	ready(&r, 1001);
	cr_assert_eq(fill(&r, 4), 1);
	cr_assert_eq(next_msg(&r, b), 12);
	cr_assert_eq(get32(b), WL_CMD_VFD_HUP);
	cr_assert_eq(get32(b + 8), 1001);
	cr_assert_eq(nr_vfds(&r), WL_MAX_VFDS);
	for (uint32_t id = 1; id <= WL_MAX_VFDS; id++)
		if (id != 10 && id != 11 && id != 50)
			cr_assert_eq(close_vfd(&r, id), WL_RESP_OK);
	cr_assert_eq(nr_vfds(&r), 3);
	close(c);
	rig_down(&r);
}

/* The region (256 MiB): first fit, freed space found again, no overlap. */
Test(wl, region_allocator)
{
	struct rig r;
	uint8_t resp[WL_NEW_LEN];
	const uint32_t mib = 1 << 20;

	rig_up(&r);
	r.w->use_shmem = true;
	cr_assert_eq(new_shm(&r, 1, 0, 100 * mib, resp), WL_RESP_VFD_NEW);
	cr_assert_eq(get64(resp + 16), 0);
	cr_assert_eq(new_shm(&r, 2, 0, 100 * mib, resp), WL_RESP_VFD_NEW);
	cr_assert_eq(get64(resp + 16), 100 * mib / 4096);
	cr_assert_eq(new_shm(&r, 3, 0, 56 * mib, resp), WL_RESP_VFD_NEW);
	cr_assert_eq(get64(resp + 16), 200 * mib / 4096);
	/* Full. */
	cr_assert_eq(new_shm(&r, 4, 0, 1, NULL), WL_RESP_OUT_OF_MEMORY);
	/* A hole of 100 MiB: 60 fits, then 40, not 41. */
	cr_assert_eq(close_vfd(&r, 1), WL_RESP_OK);
	cr_assert_eq(new_shm(&r, 4, 0, 60 * mib, resp), WL_RESP_VFD_NEW);
	cr_assert_eq(get64(resp + 16), 0);
	cr_assert_eq(new_shm(&r, 5, 0, 41 * mib, NULL), WL_RESP_OUT_OF_MEMORY);
	cr_assert_eq(new_shm(&r, 5, 0, 40 * mib, resp), WL_RESP_VFD_NEW);
	cr_assert_eq(get64(resp + 16), 60 * mib / 4096);
	/* A hole in the middle. */
	cr_assert_eq(close_vfd(&r, 2), WL_RESP_OK);
	cr_assert_eq(new_shm(&r, 6, 0, 100 * mib, resp), WL_RESP_VFD_NEW);
	cr_assert_eq(get64(resp + 16), 100 * mib / 4096);
	/* The whole region at once, once everything is gone. */
	for (uint32_t id = 3; id <= 6; id++)
		cr_assert_eq(close_vfd(&r, id), WL_RESP_OK);
	cr_assert_eq(new_shm(&r, 7, 0, (uint32_t)WL_SHM_SIZE, resp), WL_RESP_VFD_NEW);
	cr_assert_eq(get32(resp + 24), WL_SHM_SIZE);
	rig_down(&r);
}

/* Closing a context forgets what it still owed the guest, the VFDs it announced too. */
Test(wl, close_drops_pending)
{
	struct rig r;
	uint8_t msg[IN_BUF];
	int c1, c2, fd;

	rig_up(&r);
	c1 = new_ctx(&r, 1);
	c2 = new_ctx(&r, 2);
	comp_send(c2, "before", 6, NULL, 0);
	ready(&r, 2);
	fd = memfd_create("x", MFD_CLOEXEC);
	cr_assert_eq(ftruncate(fd, 4096), 0);
	comp_send(c1, "gone", 4, &fd, 1);
	close(fd);
	ready(&r, 1);
	comp_send(c2, "after", 5, NULL, 0);
	ready(&r, 2);
	cr_assert_eq(nr_vfds(&r), 3);
	cr_assert_eq(close_vfd(&r, 1), WL_RESP_OK);
	cr_assert_eq(nr_vfds(&r), 1, "the VFD announced to a closed context lives on");
	cr_assert_eq(fill(&r, 8), 2);
	cr_assert_eq(next_msg(&r, msg), 16 + 6);
	cr_assert_eq(get32(msg + 8), 2);
	cr_assert(!memcmp(msg + 16, "before", 6));
	cr_assert_eq(next_msg(&r, msg), 16 + 5);
	cr_assert(!memcmp(msg + 16, "after", 5));
	cr_assert_eq(next_msg(&r, msg), 0);
	close(c1);
	close(c2);
	rig_down(&r);
}

/* Destroying a device with everything in flight frees everything (LeakSanitizer). */
Test(wl, destroy_busy)
{
	struct rig r;
	uint8_t hdr[16], b[WL_NEW_LEN];
	int c, fd, sz = 4096;

	rig_up(&r);
	c = new_ctx(&r, 1);
	cr_assert_eq(new_shm(&r, 2, 0, 4096, NULL), WL_RESP_VFD_NEW);
	cr_assert_eq(new_pipe(&r, 3, WL_VFD_READ), WL_RESP_VFD_NEW);
	fd = memfd_create("x", MFD_CLOEXEC);
	cr_assert_eq(ftruncate(fd, 4096), 0);
	comp_send(c, "m", 1, &fd, 1);
	close(fd);
	ready(&r, 1);
	cr_assert_eq(setsockopt(r.w->vfds[slot_of(&r, 1)].fd, SOL_SOCKET, SO_SNDBUF, &sz,
				sizeof(sz)),
		     0);
	mk_send(hdr, 1, NULL, 0, NULL, 0);
	memcpy(gmem_ptr(&r.out.m, OUT_BIG, 16), hdr, 16);
	post_at(&r, OUT_BIG, 16 + GMEM_MIB, 8);
	post(&r, b, mk_new(b, WL_CMD_VFD_NEW_PIPE, 4, WL_VFD_READ, 0), WL_NEW_LEN);
	run_out(&r);
	cr_assert(r.w->held);
	cr_assert_gt(r.w->pend_len, 0);
	close(c);
	rig_down(&r);
}

/* What epoll says about the device's descriptors, handed to wl_fd_ready() as the worker does. */
static unsigned int pump(struct rig *r)
{
	struct epoll_event ev[16];
	unsigned int n = 0;
	int k = epoll_wait(r->w->vp.ep_fd, ev, 16, 0);

	for (int i = 0; i < k; i++) {
		/* Device descriptors: tags above the queues' (virtio_pci.c's DEV_TAG_BASE + tag). */
		if (ev[i].data.u32 < VP_MAX_DEV_TAG || ev[i].data.u32 == 0xffffffffu)
			continue;
		cr_assert_eq(wl_fd_ready(r->w, ev[i].data.u32 % VP_MAX_DEV_TAG, ev[i].events), 0);
		n++;
	}
	return n;
}

/*
 * The compositor answers a context whose VFD_SEND is held, then hangs up,
 * while the in ring is paused: its last bytes must reach the guest before
 * the hang-up (a compositor sends wl_display.error, then disconnects).
 */
Test(wl, hangup_while_paused_keeps_data)
{
	const size_t big = 2 * GMEM_MIB;
	struct rig r;
	uint8_t hdr[16], msg[IN_BUF];
	unsigned int s;
	uint32_t len;
	int c1, c2, sz = 4096;
	bool got_data = false, got_hup = false;

	rig_up(&r);
	c1 = new_ctx(&r, 1);
	c2 = new_ctx(&r, 2);
	s = slot_of(&r, 1);
	cr_assert_eq(setsockopt(r.w->vfds[s].fd, SOL_SOCKET, SO_SNDBUF, &sz, sizeof(sz)), 0);
	mk_send(hdr, 1, NULL, 0, NULL, 0);
	memcpy(gmem_ptr(&r.out.m, OUT_BIG, 16), hdr, 16);
	post_at(&r, OUT_BIG, 16 + big, 8);
	run_out(&r);
	cr_assert(r.w->held);
	/* Context 2 fills the ring: paused. */
	for (int i = 0; i < WL_PENDING && !r.w->paused; i++) {
		comp_send(c2, "e", 1, NULL, 0);
		pump(&r);
	}
	cr_assert(r.w->paused);
	/* Context 1's compositor: a last message, then gone. */
	comp_send(c1, "error", 5, NULL, 0);
	close(c1);
	pump(&r);
	run_out(&r); /* the held send fails: the compositor is gone */
	/* The guest takes its messages; everything context 1 sent comes before its hang-up. */
	for (int round = 0; round < 20 && !got_hup; round++) {
		fill(&r, 16);
		while ((len = next_msg(&r, msg))) {
			if (get32(msg + 8) != 1)
				continue;
			if (get32(msg) == WL_CMD_VFD_RECV) {
				cr_assert(!got_hup, "data after the hang-up");
				cr_assert_eq(len, 16 + 5);
				cr_assert(!memcmp(msg + 16, "error", 5));
				got_data = true;
			} else {
				cr_assert_eq(get32(msg), WL_CMD_VFD_HUP);
				got_hup = true;
			}
		}
		pump(&r);
		run_out(&r);
	}
	cr_assert(got_hup, "no hang-up");
	cr_assert(got_data, "the compositor's last message was lost");
	close(c2);
	rig_down(&r);
}

/*
 * The compositor closes the read end of a pipe the guest writes: VFD_SEND
 * to it fails (EPIPE) and nothing else happens. In a process that does not
 * ignore SIGPIPE (the device without its sandbox, in a program that embeds
 * libcvm) the write must not raise it.
 */
Test(wl, write_to_closed_pipe)
{
	struct rig r;
	uint32_t ids[1] = { 4 };
	char b;
	int c, fd = -1;

	signal(SIGPIPE, SIG_DFL);
	rig_up(&r);
	c = new_ctx(&r, 1);
	cr_assert_eq(new_pipe(&r, 4, WL_VFD_WRITE), WL_RESP_VFD_NEW);
	cr_assert_eq(send_vfd(&r, 1, ids, 1, "p", 1), WL_RESP_OK);
	cr_assert_eq(recv_all(c, &b, 1, &fd), 1);
	close(fd);
	cr_assert_eq(send_vfd(&r, 4, NULL, 0, "lost", 4), WL_RESP_ERR);
	/* And the device carries on. */
	cr_assert_eq(send_vfd(&r, 1, NULL, 0, "ok", 2), WL_RESP_OK);
	recv_all(c, &b, 1, NULL);
	close(c);
	rig_down(&r);
}

/*
 * A pipe the compositor sent on a context the guest then closes before
 * hearing of it: the pipe goes, and so does what it read meanwhile (its
 * own VFD_RECV and VFD_HUP), which would name a VFD the guest never knew.
 */
Test(wl, close_drops_what_announced_vfds_owe)
{
	struct rig r;
	uint8_t msg[IN_BUF];
	uint32_t hid = 0;
	int c, p[2];

	rig_up(&r);
	c = new_ctx(&r, 1);
	cr_assert_eq(pipe2(p, O_CLOEXEC), 0);
	comp_send(c, "x", 1, &p[0], 1);
	close(p[0]);
	ready(&r, 1);
	for (unsigned int i = 0; i < WL_MAX_VFDS; i++)
		if (r.w->vfds[i].kind == WL_PIPE)
			hid = r.w->vfds[i].id;
	cr_assert(hid & WL_HOST_ID_BIT);
	cr_assert_eq(write(p[1], "p", 1), 1);
	ready(&r, hid);
	close(p[1]);
	ready(&r, hid);
	cr_assert_eq(r.w->pend_len, 4, "VFD_NEW, VFD_RECV, the pipe's VFD_RECV and VFD_HUP");
	cr_assert_eq(close_vfd(&r, 1), WL_RESP_OK);
	cr_assert_eq(nr_vfds(&r), 0);
	cr_assert_eq(fill(&r, 8), 0);
	cr_assert_eq(next_msg(&r, msg), 0);
	close(c);
	rig_down(&r);
}

/* A memfd the compositor may not write (a keymap, say): mapped read-only, still announced. */
Test(wl, compositor_readonly_memfd)
{
	struct rig r;
	uint8_t msg[IN_BUF];
	char proc[64];
	int c, fd, ro;
	unsigned int s;

	rig_up(&r);
	r.w->use_shmem = true;
	c = new_ctx(&r, 1);
	fd = memfd_create("keymap", MFD_CLOEXEC);
	cr_assert_eq(ftruncate(fd, 4096), 0);
	cr_assert_eq(pwrite(fd, "xkb_keymap", 10, 0), 10);
	snprintf(proc, sizeof(proc), "/proc/self/fd/%d", fd);
	ro = open(proc, O_RDONLY | O_CLOEXEC);
	cr_assert_geq(ro, 0);
	comp_send(c, "k", 1, &ro, 1);
	close(ro);
	ready(&r, 1);
	cr_assert_eq(fill(&r, 2), 2);
	cr_assert_eq(next_msg(&r, msg), WL_NEW_LEN);
	s = slot_of(&r, get32(msg + 8));
	cr_assert_eq(r.w->vfds[s].kind, WL_SHM);
	cr_assert_eq(get32(msg + 24), 4096);
	cr_assert_eq(get64(msg + 16), r.w->vfds[s].off / 4096);
	cr_assert(r.w->vp.shm_maps[s].ro);
	cr_assert(!memcmp(r.w->vp.shm_maps[s].host, "xkb_keymap", 10));
	cr_assert_eq(next_msg(&r, msg), 16 + 4 + 1);
	close(fd);
	close(c);
	rig_down(&r);
}

/* A keymap is rarely a whole number of pages: it is mapped rounded up, as crosvm does. */
Test(wl, compositor_memfd_of_odd_size)
{
	struct rig r;
	uint8_t msg[IN_BUF];
	int c, fd;
	unsigned int s;

	rig_up(&r);
	r.w->use_shmem = true;
	c = new_ctx(&r, 1);
	fd = memfd_create("keymap", MFD_CLOEXEC);
	cr_assert_eq(ftruncate(fd, 5000), 0);
	cr_assert_eq(pwrite(fd, "xkb_keymap", 10, 4990), 10);
	comp_send(c, "k", 1, &fd, 1);
	ready(&r, 1);
	cr_assert_eq(fill(&r, 2), 2);
	cr_assert_eq(next_msg(&r, msg), WL_NEW_LEN);
	s = slot_of(&r, get32(msg + 8));
	cr_assert_eq(r.w->vfds[s].kind, WL_SHM, "mapped, not opaque");
	cr_assert_eq(get32(msg + 24), 8192);
	cr_assert(!memcmp((uint8_t *)r.w->vp.shm_maps[s].host + 4990, "xkb_keymap", 10));
	close(fd);
	close(c);
	rig_down(&r);
}

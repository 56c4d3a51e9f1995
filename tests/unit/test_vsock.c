// SPDX-License-Identifier: BSD-3-Clause
/*
 * virtio-vsock device: the listening socket (CID lock, stale and live
 * sockets), and packets from a hostile guest, driven through tx and rx
 * rings built with test_util_vq (one guest memory per queue).
 */
#include <criterion/criterion.h>
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <unistd.h>

#include "test_util_kvm.h"
#include "test_util_vq.h"
#include "virtio/vsock.h"

static struct cvm_logger quiet = { .level = CVM_LOG_ERROR };
static struct irq_router router;
static struct guest_mem mem;
static struct virtio_env env;
static int vmfd = -1;
static char dir[64], path[128];

static void setup(void)
{
	vmfd = tu_kvm_vm();
	cr_assert_eq(gmem_create(&mem, 16 * GMEM_MIB, NULL), 0);
	irq_router_init(&router, vmfd);
	env = (struct virtio_env){ .mem = &mem, .log = &quiet, .vm_fd = vmfd, .router = &router };
	snprintf(dir, sizeof(dir), "/tmp/cvm-vsock-ut-XXXXXX");
	cr_assert(mkdtemp(dir));
	snprintf(path, sizeof(path), "%s/v.sock", dir);
}

static void teardown(void)
{
	char p[160];

	snprintf(p, sizeof(p), "rm -rf '%s'", dir);
	cr_assert_eq(system(p), 0);
	irq_router_destroy(&router);
	gmem_destroy(&mem);
	close(vmfd);
}

TestSuite(vsock, .init = setup, .fini = teardown);

static int listen_at(const char *p)
{
	struct sockaddr_un sa = { .sun_family = AF_UNIX };
	int fd = socket(AF_UNIX, SOCK_STREAM, 0);

	snprintf(sa.sun_path, sizeof(sa.sun_path), "%s", p);
	cr_assert_eq(bind(fd, (struct sockaddr *)&sa, sizeof(sa)), 0);
	cr_assert_eq(listen(fd, 4), 0);
	return fd;
}

Test(vsock, reserved_cids)
{
	struct cvm_errbuf err = { "" };
	struct vsock_dev *v;

	for (uint64_t cid = 0; cid < 3; cid++)
		cr_assert_eq(vsock_dev_create(&v, cid, path, &env, &err), -EINVAL);
	cr_assert_eq(vsock_dev_create(&v, 0xffffffffULL, path, &env, &err), -EINVAL);
	cr_assert(!v);
}

Test(vsock, socket_is_the_lock)
{
	struct cvm_errbuf err = { "" };
	struct vsock_dev *v, *w;
	struct stat st;
	int fd;

	cr_assert_eq(vsock_dev_create(&v, 3, path, &env, &err), 0, "%s", err.msg);
	cr_assert_eq(lstat(path, &st), 0);
	cr_assert(S_ISSOCK(st.st_mode));
	/* A second device on the same path: in use. */
	cr_assert_eq(vsock_dev_create(&w, 4, path, &env, &err), -EADDRINUSE);
	cr_assert(strstr(err.msg, "in use"), "%s", err.msg);
	vsock_dev_destroy(v);
	cr_assert(lstat(path, &st) && errno == ENOENT, "the socket outlived its device");

	/* Someone else listens: in use. Once they are gone (stale): replaced. */
	fd = listen_at(path);
	cr_assert_eq(vsock_dev_create(&w, 4, path, &env, &err), -EADDRINUSE);
	close(fd);
	cr_assert_eq(vsock_dev_create(&w, 4, path, &env, &err), 0, "%s", err.msg);
	vsock_dev_destroy(w);

	/* Not a socket: left alone. */
	cr_assert_eq(close(creat(path, 0600)), 0);
	cr_assert_eq(vsock_dev_create(&w, 4, path, &env, &err), -EEXIST);
	cr_assert_eq(lstat(path, &st), 0);
	cr_assert(S_ISREG(st.st_mode));
}

/* A device plus tx and rx rings of 16 entries, with buffers at TVQ_DATA. */
struct rig {
	struct vsock_dev *v;
	struct tvq tx, rx;
	uint16_t rx_posted;
};

static void rig_up(struct rig *r)
{
	struct cvm_errbuf err = { "" };

	cr_assert_eq(vsock_dev_create(&r->v, 5, path, &env, &err), 0, "%s", err.msg);
	tvq_setup(&r->tx, 8 * GMEM_MIB, 16, false, false);
	tvq_setup(&r->rx, 8 * GMEM_MIB, 16, false, false);
	r->rx_posted = 0;
}

static void rig_down(struct rig *r)
{
	vsock_dev_destroy(r->v);
	tvq_teardown(&r->tx);
	tvq_teardown(&r->rx);
}

static struct virtio_vsock_hdr hdr(uint64_t src, uint64_t dst, uint32_t sport, uint32_t dport,
				   uint16_t op, uint32_t len)
{
	return (struct virtio_vsock_hdr){ .src_cid = src,
					  .dst_cid = dst,
					  .src_port = sport,
					  .dst_port = dport,
					  .len = len,
					  .type = 1,
					  .op = op,
					  .buf_alloc = 65536 };
}

/* Guest sends @h with @len payload bytes in a chain of @chain bytes. */
static void send_pkt(struct rig *r, const struct virtio_vsock_hdr *h, uint32_t chain)
{
	uint64_t gpa = TVQ_DATA + (uint64_t)(r->tx.avail_idx % 16) * 65536;
	bool rx_work = false;

	memcpy(gmem_ptr(&r->tx.m, gpa, sizeof(*h)), h, sizeof(*h));
	tvq_desc(&r->tx, TVQ_DESC, r->tx.avail_idx % 16, gpa, chain, 0, 0);
	tvq_post(&r->tx, r->tx.avail_idx % 16);
	cr_assert_geq(vsock_process_tx(r->v, &r->tx.q, &rx_work), 0);
}

/* One rx buffer posted; returns the packet the device put there, op 0 if none. */
static struct virtio_vsock_hdr recv_pkt(struct rig *r)
{
	uint16_t slot = r->rx_posted % 16, used = tvq_used_idx(&r->rx);
	struct virtio_vsock_hdr h = { 0 };
	unsigned int pushed = 0;
	uint32_t id, len;

	if (used == r->rx_posted) {
		tvq_desc(&r->rx, TVQ_DESC, slot, TVQ_DATA + (uint64_t)slot * 4096, 4096,
			 VIRTQ_DESC_F_WRITE, 0);
		tvq_post(&r->rx, slot);
		r->rx_posted++;
	}
	cr_assert_geq(vsock_fill_rx(r->v, &r->rx.q, &pushed), 0);
	if (pushed) {
		cr_assert_eq(pushed, 1);
		tvq_used_elem(&r->rx, used % 16, &id, &len);
		cr_assert_lt(id, 16);
		cr_assert_geq(len, 44);
		memcpy(&h, gmem_ptr(&r->rx.m, TVQ_DATA + (uint64_t)id * 4096, sizeof(h)),
		       sizeof(h));
	}
	return h;
}

Test(vsock, connect_refused_and_accepted)
{
	struct rig r;
	struct virtio_vsock_hdr h, p;
	char p80[160];
	int lfd;

	rig_up(&r);
	/* Nobody on <path>_80: RST. */
	h = hdr(5, 2, 1000, 80, VIRTIO_VSOCK_OP_REQUEST, 0);
	send_pkt(&r, &h, 44);
	p = recv_pkt(&r);
	cr_assert_eq(p.op, VIRTIO_VSOCK_OP_RST);
	cr_assert_eq(p.src_port, 80);
	cr_assert_eq(p.dst_port, 1000);
	cr_assert_eq(p.dst_cid, 5);
	/* Someone listens: RESPONSE, then data reaches the socket. */
	snprintf(p80, sizeof(p80), "%s_80", path);
	lfd = listen_at(p80);
	send_pkt(&r, &h, 44);
	p = recv_pkt(&r);
	cr_assert_eq(p.op, VIRTIO_VSOCK_OP_RESPONSE);
	cr_assert_eq(p.buf_alloc, VSOCK_BUF_ALLOC);
	{
		int c = accept(lfd, NULL, NULL);
		char buf[8] = "";

		h = hdr(5, 2, 1000, 80, VIRTIO_VSOCK_OP_RW, 5);
		uint64_t gpa = TVQ_DATA + (uint64_t)(r.tx.avail_idx % 16) * 65536;

		memcpy(gmem_ptr(&r.tx.m, gpa + 44, 5), "hello", 5);
		send_pkt(&r, &h, 49);
		cr_assert_eq(read(c, buf, sizeof(buf)), 5);
		cr_assert_str_eq(buf, "hello");
		close(c);
	}
	close(lfd);
	rig_down(&r);
}

Test(vsock, hostile_headers)
{
	struct rig r;
	struct virtio_vsock_hdr h, p;

	rig_up(&r);
	/* Wrong source or destination CID: dropped, nothing sent back. */
	h = hdr(6, 2, 1000, 80, VIRTIO_VSOCK_OP_REQUEST, 0);
	send_pkt(&r, &h, 44);
	h = hdr(5, 3, 1000, 80, VIRTIO_VSOCK_OP_REQUEST, 0);
	send_pkt(&r, &h, 44);
	p = recv_pkt(&r);
	cr_assert_eq(p.op, 0, "op %u for a packet with a forged cid", p.op);
	/* A chain shorter than the header: dropped. */
	h = hdr(5, 2, 1000, 80, VIRTIO_VSOCK_OP_REQUEST, 0);
	send_pkt(&r, &h, 20);
	cr_assert_eq(recv_pkt(&r).op, 0);
	/* Payload longer than the chain, bad type, bad op: RST. */
	h = hdr(5, 2, 1000, 80, VIRTIO_VSOCK_OP_RW, 100);
	send_pkt(&r, &h, 60);
	cr_assert_eq(recv_pkt(&r).op, VIRTIO_VSOCK_OP_RST);
	h = hdr(5, 2, 1000, 80, VIRTIO_VSOCK_OP_REQUEST, 0);
	h.type = 2;
	send_pkt(&r, &h, 44);
	cr_assert_eq(recv_pkt(&r).op, VIRTIO_VSOCK_OP_RST);
	h = hdr(5, 2, 1000, 80, 99, 0);
	send_pkt(&r, &h, 44);
	cr_assert_eq(recv_pkt(&r).op, VIRTIO_VSOCK_OP_RST);
	/* Data for no connection: RST; an RST for none: nothing. */
	h = hdr(5, 2, 1000, 80, VIRTIO_VSOCK_OP_RW, 4);
	send_pkt(&r, &h, 48);
	cr_assert_eq(recv_pkt(&r).op, VIRTIO_VSOCK_OP_RST);
	h = hdr(5, 2, 1000, 80, VIRTIO_VSOCK_OP_RST, 0);
	send_pkt(&r, &h, 44);
	cr_assert_eq(recv_pkt(&r).op, 0);
	rig_down(&r);
}

/* A host socket that never reads: the guest may send its credit, then loses the connection. */
Test(vsock, credit_is_enforced)
{
	struct rig r;
	struct virtio_vsock_hdr h, p;
	char p81[160];
	int lfd, c;
	uint32_t sent = 0;

	rig_up(&r);
	snprintf(p81, sizeof(p81), "%s_81", path);
	lfd = listen_at(p81);
	h = hdr(5, 2, 1000, 81, VIRTIO_VSOCK_OP_REQUEST, 0);
	send_pkt(&r, &h, 44);
	cr_assert_eq(recv_pkt(&r).op, VIRTIO_VSOCK_OP_RESPONSE);
	c = accept(lfd, NULL, NULL);
	/* Fill the socket and the device's buffer: at most VSOCK_BUF_ALLOC past fwd_cnt. */
	for (int i = 0; i < 64; i++) {
		h = hdr(5, 2, 1000, 81, VIRTIO_VSOCK_OP_RW, 65536 - 44);
		send_pkt(&r, &h, 65536);
		sent += 65536 - 44;
		p = recv_pkt(&r);
		if (p.op == VIRTIO_VSOCK_OP_RST)
			break;
	}
	cr_assert_eq(p.op, VIRTIO_VSOCK_OP_RST, "the device took %u bytes", sent);
	cr_assert_gt(sent, VSOCK_BUF_ALLOC);
	close(c);
	close(lfd);
	rig_down(&r);
}

/*
 * An rx buffer with room for the header only: no data fits, and the empty
 * read it would take must not pass for the host closing its end (it used
 * to: SHUTDOWN to the guest, and the host's data was never read again).
 */
Test(vsock, header_only_rx_buffer_is_not_eof)
{
	struct rig r;
	struct virtio_vsock_hdr h, p;
	struct vsock_conn *conn = NULL;
	unsigned int pushed = 0;
	char p82[160];
	int lfd, c;

	rig_up(&r);
	snprintf(p82, sizeof(p82), "%s_82", path);
	lfd = listen_at(p82);
	h = hdr(5, 2, 1000, 82, VIRTIO_VSOCK_OP_REQUEST, 0);
	send_pkt(&r, &h, 44);
	cr_assert_eq(recv_pkt(&r).op, VIRTIO_VSOCK_OP_RESPONSE);
	c = accept(lfd, NULL, NULL);
	cr_assert_eq(write(c, "data", 4), 4);
	for (unsigned int i = 0; i < VSOCK_MAX_CONNS; i++)
		if (r.v->conns[i].state == VC_OPEN && r.v->conns[i].peer_port == 1000) {
			conn = &r.v->conns[i];
			vsock_fd_ready(r.v, 1 + i, EPOLLIN);
		}
	cr_assert_not_null(conn);

	tvq_desc(&r.rx, TVQ_DESC, r.rx_posted % 16, TVQ_DATA + (uint64_t)(r.rx_posted % 16) * 4096,
		 44, VIRTQ_DESC_F_WRITE, 0);
	tvq_post(&r.rx, r.rx_posted % 16);
	r.rx_posted++;
	cr_assert_geq(vsock_fill_rx(r.v, &r.rx.q, &pushed), 0);
	if (pushed) {
		memcpy(&p, gmem_ptr(&r.rx.m, TVQ_DATA, sizeof(p)), sizeof(p));
		cr_assert_neq(p.op, VIRTIO_VSOCK_OP_SHUTDOWN, "SHUTDOWN for a header-only buffer");
	}
	cr_assert_eq(conn->state, VC_OPEN);
	cr_assert(!conn->host_eof, "a header-only rx buffer passed for the host's end of file");
	close(c);
	close(lfd);
	rig_down(&r);
}

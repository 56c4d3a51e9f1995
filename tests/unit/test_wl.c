// SPDX-License-Identifier: BSD-3-Clause
/*
 * virtio-wl device basics (test_util_wl.h's rig): bytes and descriptors
 * sent both ways, shared memory and pipes, and the error responses.
 */
#include <criterion/criterion.h>
#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <stdio.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/mman.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <unistd.h>

#include "test_util_wl.h"

Test(wl, send_bytes_reach_the_compositor)
{
	static const char msg[] = "\x01\x00\x00\x00\x0c\x00\x01\x00wl_display.get_registry";
	struct twl_rig r;
	char buf[sizeof(msg)];
	int c;

	twl_rig_up(&r);
	c = twl_new_ctx(&r, 1);
	cr_assert_eq(twl_send_vfd(&r, 1, NULL, 0, msg, sizeof(msg)), WL_RESP_OK);
	twl_recv_all(c, buf, sizeof(msg), NULL);
	cr_assert(!memcmp(buf, msg, sizeof(msg)));
	twl_expect_nothing(c);
	/* An empty send: OK, nothing sent. */
	cr_assert_eq(twl_send_vfd(&r, 1, NULL, 0, NULL, 0), WL_RESP_OK);
	twl_expect_nothing(c);
	/* A second context is a second connection. */
	{
		int c2 = twl_new_ctx(&r, 2);

		cr_assert_eq(twl_send_vfd(&r, 2, NULL, 0, "two", 3), WL_RESP_OK);
		twl_recv_all(c2, buf, 3, NULL);
		cr_assert(!memcmp(buf, "two", 3));
		twl_expect_nothing(c);
		close(c2);
	}
	close(c);
	twl_rig_down(&r);
}

/* Bytes spread over several readable buffers arrive in order. */
Test(wl, send_from_scattered_buffers)
{
	struct twl_rig r;
	uint8_t hdr[16], got[3000];
	uint16_t k;
	uint32_t n;
	int c;

	twl_rig_up(&r);
	c = twl_new_ctx(&r, 1);
	twl_mk_send(hdr, 1, NULL, 0, NULL, 0);
	k = r.out_posted++;
	memcpy(gmem_ptr(&r.out.m, twl_out_gpa(k), 16), hdr, 16);
	tvq_fill(&r.out, twl_out_gpa(k) + 16, 1000, 1);
	tvq_fill(&r.out, twl_out_gpa(k) + 0x8000, 2000, 2);
	/* [hdr + 1000 bytes] [2000 bytes] [response], descriptors 2, 3, 4 */
	tvq_desc(&r.out, TVQ_DESC, 2, twl_out_gpa(k), 1016, VIRTQ_DESC_F_NEXT, 3);
	tvq_desc(&r.out, TVQ_DESC, 3, twl_out_gpa(k) + 0x8000, 2000, VIRTQ_DESC_F_NEXT, 4);
	tvq_desc(&r.out, TVQ_DESC, 4, twl_out_gpa(k) + TWL_OUT_RESP, 8, VIRTQ_DESC_F_WRITE, 0);
	tvq_post(&r.out, 2);
	twl_run_out(&r);
	cr_assert(twl_next_resp(&r, NULL, &n, NULL));
	cr_assert_eq(n, 8);
	cr_assert_eq(twl_get32(gmem_ptr(&r.out.m, twl_out_gpa(k) + TWL_OUT_RESP, 4)), WL_RESP_OK);
	twl_recv_all(c, got, sizeof(got), NULL);
	for (int i = 0; i < 1000; i++)
		cr_assert_eq(got[i], tvq_pattern(1, (uint64_t)i), "byte %d", i);
	for (int i = 0; i < 2000; i++)
		cr_assert_eq(got[1000 + i], tvq_pattern(2, (uint64_t)i), "byte %d", 1000 + i);
	close(c);
	twl_rig_down(&r);
}

Test(wl, send_shm_passes_the_same_memory)
{
	struct twl_rig r;
	uint8_t resp[WL_NEW_LEN];
	uint32_t ids[1] = { 7 };
	struct stat st;
	char buf[2];
	int c, fd = -1;
	uint8_t *host, *m;
	unsigned int s;

	twl_rig_up(&r);
	r.w->use_shmem = true;
	c = twl_new_ctx(&r, 1);
	cr_assert_eq(twl_new_shm(&r, 7, 0, 5000, resp), WL_RESP_VFD_NEW);
	cr_assert_eq(twl_get32(resp + 8), 7);
	cr_assert_eq(twl_get32(resp + 24), 8192, "size %u: not rounded up to pages",
		     twl_get32(resp + 24));
	s = twl_slot_of(&r, 7);
	cr_assert_eq(twl_get64(resp + 16), r.w->vfds[s].off / 4096);
	host = r.w->vp.shm_maps[s].host;
	cr_assert_not_null(host);
	cr_assert_eq(r.w->vp.shm_maps[s].size, 8192);

	cr_assert_eq(twl_send_vfd(&r, 1, ids, 1, "x", 1), WL_RESP_OK);
	cr_assert_eq(twl_recv_all(c, buf, 1, &fd), 1);
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
	cr_assert_eq(twl_send_vfd(&r, 1, ids, 1, "y", 1), WL_RESP_OK);
	cr_assert_eq(twl_recv_all(c, buf, 1, &fd), 1);
	close(fd);
	cr_assert_eq(twl_close_vfd(&r, 7), WL_RESP_OK);
	cr_assert_null(r.w->vp.shm_maps[s].host);
	close(c);
	twl_rig_down(&r);
}

/* A pipe the guest reads: its write end goes to the compositor, what it writes comes back. */
Test(wl, send_pipe_end)
{
	struct twl_rig r;
	uint8_t msg[TWL_IN_BUF];
	uint32_t ids[1] = { 9 }, len;
	char b;
	int c, fd = -1;

	twl_rig_up(&r);
	r.w->use_trans = true;
	c = twl_new_ctx(&r, 1);
	cr_assert_eq(twl_new_pipe(&r, 9, WL_VFD_READ), WL_RESP_VFD_NEW);
	cr_assert_eq(twl_send_vfd(&r, 1, ids, 1, "p", 1), WL_RESP_OK);
	cr_assert_eq(twl_recv_all(c, &b, 1, &fd), 1);
	cr_assert_eq(fcntl(fd, F_GETFL) & O_ACCMODE, O_WRONLY);
	/* Sent once: the device's copy of that end is gone, it cannot go twice. */
	cr_assert_eq(twl_send_vfd(&r, 1, ids, 1, "p", 1), WL_RESP_INVALID_TYPE);
	twl_expect_nothing(c);
	cr_assert_eq(write(fd, "clipboard", 9), 9);
	twl_ready(&r, 9);
	cr_assert_eq(twl_fill(&r, 1), 1);
	len = twl_next_msg(&r, msg);
	cr_assert_eq(len, 16 + 9);
	cr_assert_eq(twl_get32(msg), WL_CMD_VFD_RECV);
	cr_assert_eq(twl_get32(msg + 8), 9);
	cr_assert_eq(twl_get32(msg + 12), 0);
	cr_assert(!memcmp(msg + 16, "clipboard", 9));
	/* The compositor closes it: the guest hears the hang-up. */
	close(fd);
	twl_ready(&r, 9);
	cr_assert_eq(twl_fill(&r, 1), 1);
	cr_assert_eq(twl_next_msg(&r, msg), 12);
	cr_assert_eq(twl_get32(msg), WL_CMD_VFD_HUP);
	cr_assert_eq(twl_get32(msg + 8), 9);
	close(c);
	twl_rig_down(&r);
}

/* A pipe the guest writes: VFD_SEND to it writes the pipe. */
Test(wl, write_pipe)
{
	struct twl_rig r;
	uint32_t ids[1] = { 4 };
	char b[8] = "";
	int c, fd = -1;

	twl_rig_up(&r);
	c = twl_new_ctx(&r, 1);
	cr_assert_eq(twl_new_pipe(&r, 4, WL_VFD_WRITE), WL_RESP_VFD_NEW);
	cr_assert_eq(twl_send_vfd(&r, 1, ids, 1, "p", 1), WL_RESP_OK);
	cr_assert_eq(twl_recv_all(c, b, 1, &fd), 1);
	cr_assert_eq(fcntl(fd, F_GETFL) & O_ACCMODE, O_RDONLY);
	cr_assert_eq(twl_send_vfd(&r, 4, NULL, 0, "text", 4), WL_RESP_OK);
	cr_assert_eq(read(fd, b, sizeof(b)), 4);
	cr_assert(!memcmp(b, "text", 4));
	close(fd);
	close(c);
	twl_rig_down(&r);
}

Test(wl, compositor_fds_become_vfds)
{
	struct twl_rig r;
	uint8_t msg[TWL_IN_BUF];
	uint32_t len, hid[3];
	int c, fds[3], p[2], q[2];
	unsigned int s;
	uint8_t *host;

	twl_rig_up(&r);
	r.w->use_trans = true;
	r.w->use_shmem = true;
	c = twl_new_ctx(&r, 1);
	fds[0] = memfd_create("pool", MFD_CLOEXEC);
	cr_assert_eq(ftruncate(fds[0], 8192), 0);
	cr_assert_eq(pipe2(p, O_CLOEXEC), 0);
	cr_assert_eq(pipe2(q, O_CLOEXEC), 0);
	fds[1] = p[0]; /* the guest reads */
	fds[2] = q[1]; /* the guest writes */
	twl_comp_send(c, "hello", 5, fds, 3);
	twl_ready(&r, 1);
	/* Nothing before the guest gives buffers, then everything in order. */
	cr_assert_eq(tvq_used_idx(&r.in), 0);
	cr_assert_eq(twl_fill(&r, 8), 4);
	for (int i = 0; i < 3; i++) {
		len = twl_next_msg(&r, msg);
		cr_assert_eq(len, WL_NEW_LEN, "message %d: %u bytes", i, len);
		cr_assert_eq(twl_get32(msg), WL_CMD_VFD_NEW, "message %d", i);
		hid[i] = twl_get32(msg + 8);
		cr_assert(hid[i] & WL_HOST_ID_BIT, "id 0x%x", hid[i]);
		for (int k = 0; k < i; k++)
			cr_assert_neq(hid[i], hid[k]);
	}
	len = twl_next_msg(&r, msg);
	cr_assert_eq(len, 16 + 12 + 5);
	cr_assert_eq(twl_get32(msg), WL_CMD_VFD_RECV);
	cr_assert_eq(twl_get32(msg + 8), 1);
	cr_assert_eq(twl_get32(msg + 12), 3);
	for (int i = 0; i < 3; i++)
		cr_assert_eq(twl_get32(msg + 16 + 4 * i), hid[i]);
	cr_assert(!memcmp(msg + 28, "hello", 5));
	cr_assert_eq(twl_next_msg(&r, msg), 0);

	/* The memfd: mapped, its pfn and size announced; the pipes' flags their access modes. */
	s = twl_slot_of(&r, hid[0]);
	cr_assert_eq(r.w->vfds[s].kind, WL_SHM);
	cr_assert_eq(r.w->vfds[s].size, 8192);
	host = r.w->vp.shm_maps[s].host;
	cr_assert_not_null(host);
	cr_assert_eq(pwrite(fds[0], "abc", 3, 4096), 3);
	cr_assert(!memcmp(host + 4096, "abc", 3));
	cr_assert_eq(r.w->vfds[twl_slot_of(&r, hid[1])].kind, WL_PIPE);
	cr_assert_eq(r.w->vfds[twl_slot_of(&r, hid[1])].flags, WL_VFD_READ);
	cr_assert_eq(r.w->vfds[twl_slot_of(&r, hid[2])].flags, WL_VFD_WRITE);
	{
		/* The three VFD_NEW messages again, checked field by field. */
		uint8_t b[WL_NEW_LEN];

		wl_enc_new(b, WL_CMD_VFD_NEW, hid[0], 0, r.w->vfds[s].off / 4096, 8192);
		cr_assert(!memcmp(gmem_ptr(&r.in.m, TVQ_DATA, WL_NEW_LEN), b, WL_NEW_LEN));
		cr_assert_eq(twl_get32(gmem_ptr(&r.in.m, TVQ_DATA + TWL_IN_BUF + 12, 4)),
			     WL_VFD_READ);
		cr_assert_eq(twl_get32(gmem_ptr(&r.in.m, TVQ_DATA + 2 * TWL_IN_BUF + 12, 4)),
			     WL_VFD_WRITE);
	}
	/* The guest reads the pipe it was given... */
	cr_assert_eq(write(p[1], "sel", 3), 3);
	twl_ready(&r, hid[1]);
	cr_assert_eq(twl_fill(&r, 1), 1);
	len = twl_next_msg(&r, msg);
	cr_assert_eq(len, 16 + 3);
	cr_assert_eq(twl_get32(msg + 8), hid[1]);
	cr_assert(!memcmp(msg + 16, "sel", 3));
	/* ... and writes the other. */
	cr_assert_eq(twl_send_vfd(&r, hid[2], NULL, 0, "dnd", 3), WL_RESP_OK);
	cr_assert_eq(read(q[0], msg, 8), 3);
	cr_assert(!memcmp(msg, "dnd", 3));

	/* The compositor hangs up: VFD_HUP for the context. */
	close(c);
	twl_ready(&r, 1);
	cr_assert_eq(twl_fill(&r, 1), 1);
	cr_assert_eq(twl_next_msg(&r, msg), 12);
	cr_assert_eq(twl_get32(msg), WL_CMD_VFD_HUP);
	cr_assert_eq(twl_get32(msg + 8), 1);
	/* Once. */
	cr_assert_eq(wl_fd_ready(r.w, twl_slot_of(&r, 1), EPOLLIN | EPOLLHUP), 0);
	cr_assert_eq(twl_fill(&r, 1), 0);
	/* Sending to a hung-up context fails, and the device carries on. */
	cr_assert_eq(twl_send_vfd(&r, 1, NULL, 0, "x", 1), WL_RESP_ERR);
	cr_assert_eq(twl_close_vfd(&r, 1), WL_RESP_OK);
	for (int i = 0; i < 3; i++)
		close(fds[i]);
	close(p[1]);
	close(q[0]);
	twl_rig_down(&r);
}

/* Without TRANS_FLAGS (the older driver): pipes from the compositor are announced with flags 0. */
Test(wl, compositor_fds_legacy_flags)
{
	struct twl_rig r;
	uint8_t msg[TWL_IN_BUF];
	int c, p[2];

	twl_rig_up(&r);
	c = twl_new_ctx(&r, 1);
	cr_assert_eq(pipe2(p, O_CLOEXEC), 0);
	twl_comp_send(c, "h", 1, &p[0], 1);
	twl_ready(&r, 1);
	cr_assert_eq(twl_fill(&r, 4), 2);
	cr_assert_eq(twl_next_msg(&r, msg), WL_NEW_LEN);
	cr_assert_eq(twl_get32(msg + 12), 0);
	cr_assert_eq(twl_next_msg(&r, msg), 16 + 4 + 1);
	close(p[0]);
	close(p[1]);
	close(c);
	twl_rig_down(&r);
}

Test(wl, error_responses)
{
	struct twl_rig r;
	uint8_t b[WL_CMD_MAX];
	uint32_t ids[2] = { 5, 99 };
	int c;

	twl_rig_up(&r);
	c = twl_new_ctx(&r, 1);
	cr_assert_eq(twl_new_shm(&r, 5, 0, 4096, NULL), WL_RESP_VFD_NEW);
	/* SEND to nobody; SEND naming an unknown VFD: nothing reaches the compositor. */
	cr_assert_eq(twl_send_vfd(&r, 77, NULL, 0, "x", 1), WL_RESP_INVALID_ID);
	cr_assert_eq(twl_send_vfd(&r, 1, ids, 2, "x", 1), WL_RESP_INVALID_ID);
	ids[1] = WL_HOST_ID_BIT | 1;
	cr_assert_eq(twl_send_vfd(&r, 1, ids, 2, "x", 1), WL_RESP_INVALID_ID);
	twl_expect_nothing(c);
	/* Descriptors without bytes cannot travel on a stream. */
	cr_assert_eq(twl_send_vfd(&r, 1, ids, 1, NULL, 0), WL_RESP_ERR);
	twl_expect_nothing(c);
	/* SEND to a shm VFD. */
	cr_assert_eq(twl_send_vfd(&r, 5, NULL, 0, "x", 1), WL_RESP_INVALID_TYPE);
	/* VFD_NEW: size 0, too large, a duplicate id (of a shm or a context). */
	cr_assert_eq(twl_new_shm(&r, 6, 0, 0, NULL), WL_RESP_ERR);
	cr_assert_eq(twl_new_shm(&r, 6, 0, (uint32_t)(WL_SHM_SIZE + 1), NULL),
		     WL_RESP_OUT_OF_MEMORY);
	cr_assert_eq(twl_new_shm(&r, 6, 0, 0xffffffff, NULL), WL_RESP_OUT_OF_MEMORY);
	cr_assert_eq(twl_new_shm(&r, 5, 0, 4096, NULL), WL_RESP_INVALID_ID);
	cr_assert_eq(twl_new_shm(&r, 1, 0, 4096, NULL), WL_RESP_INVALID_ID);
	cr_assert_eq(twl_new_pipe(&r, 5, WL_VFD_READ), WL_RESP_INVALID_ID);
	cr_assert_eq(twl_cmd(&r, b, twl_mk_vfd(b, WL_CMD_VFD_NEW_CTX, 5)), WL_RESP_INVALID_ID);
	/* Old flags: WRITE and MAP allowed, anything else not. */
	cr_assert_eq(twl_new_shm(&r, 6, WL_VFD_WRITE | WL_VFD_MAP, 4096, NULL), WL_RESP_VFD_NEW);
	cr_assert_eq(twl_new_shm(&r, 8, WL_VFD_CONTROL, 4096, NULL), WL_RESP_INVALID_FLAGS);
	/* TRANS_FLAGS negotiated: VFD_NEW takes no flags at all. */
	r.w->use_trans = true;
	cr_assert_eq(twl_new_shm(&r, 8, WL_VFD_WRITE, 4096, NULL), WL_RESP_INVALID_FLAGS);
	cr_assert_eq(twl_new_shm(&r, 8, 0, 4096, NULL), WL_RESP_VFD_NEW);
	/* NEW_PIPE: exactly one of READ and WRITE. */
	cr_assert_eq(twl_new_pipe(&r, 10, 0), WL_RESP_INVALID_FLAGS);
	cr_assert_eq(twl_new_pipe(&r, 10, WL_VFD_READ | WL_VFD_WRITE), WL_RESP_INVALID_FLAGS);
	cr_assert_eq(twl_new_pipe(&r, 10, WL_VFD_CONTROL), WL_RESP_INVALID_FLAGS);
	cr_assert_eq(twl_new_pipe(&r, 10, WL_VFD_WRITE), WL_RESP_VFD_NEW);
	cr_assert_eq(twl_new_pipe(&r, 11, WL_VFD_READ), WL_RESP_VFD_NEW);
	/* Descriptors to a pipe; bytes to a pipe the guest reads. */
	cr_assert_eq(twl_send_vfd(&r, 10, ids, 1, "x", 1), WL_RESP_INVALID_TYPE);
	cr_assert_eq(twl_send_vfd(&r, 11, NULL, 0, "x", 1), WL_RESP_INVALID_TYPE);
	/* CLOSE of nothing, twice-closed. */
	cr_assert_eq(twl_close_vfd(&r, 12345), WL_RESP_INVALID_ID);
	cr_assert_eq(twl_close_vfd(&r, 8), WL_RESP_OK);
	cr_assert_eq(twl_close_vfd(&r, 8), WL_RESP_INVALID_ID);
	/* NAMED: only the compositor named "". */
	cr_assert_eq(twl_cmd(&r, b, twl_mk_named(b, 20, "wayland-1")), WL_RESP_ERR);
	cr_assert_eq(twl_cmd(&r, b, twl_mk_named(b, 20, "")), WL_RESP_VFD_NEW);
	close(accept(r.lfd, NULL, NULL));
	/* Malformed and unsupported commands through the queue. */
	cr_assert_eq(twl_cmd(&r, b, 7), WL_RESP_ERR);
	twl_put32(b, WL_CMD_VFD_NEW_DMABUF);
	cr_assert_eq(twl_cmd(&r, b, 64), WL_RESP_INVALID_CMD);
	twl_put32(b, WL_CMD_VFD_SEND_FOREIGN_ID);
	cr_assert_eq(twl_cmd(&r, b, 64), WL_RESP_INVALID_CMD);
	twl_mk_new(b, WL_CMD_VFD_NEW, WL_HOST_ID_BIT | 1, 0, 4096);
	cr_assert_eq(twl_cmd(&r, b, 64), WL_RESP_INVALID_ID);
	twl_put32(b, WL_CMD_VFD_SEND);
	twl_put32(b + 8, 1);
	twl_put32(b + 12, 29);
	cr_assert_eq(twl_cmd(&r, b, 128), WL_RESP_INVALID_CMD);
	twl_expect_nothing(c);
	/* After all that, the context still works. */
	cr_assert_eq(twl_send_vfd(&r, 1, NULL, 0, "ok", 2), WL_RESP_OK);
	twl_recv_all(c, b, 2, NULL);
	cr_assert(!memcmp(b, "ok", 2));
	close(c);
	twl_rig_down(&r);
}

/* No compositor listening: NEW_CTX fails, nothing is left behind. */
Test(wl, no_compositor)
{
	struct twl_rig r;
	uint8_t b[12];

	twl_rig_up(&r);
	close(r.lfd);
	unlink(twl_path);
	r.lfd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
	cr_assert_eq(twl_cmd(&r, b, twl_mk_vfd(b, WL_CMD_VFD_NEW_CTX, 1)), WL_RESP_ERR);
	cr_assert_eq(twl_nr_vfds(&r), 0);
	twl_rig_down(&r);
}

/* Response buffers too small for the response, or none at all: truncated, never overrun. */
Test(wl, small_response_buffers)
{
	struct twl_rig r;
	uint8_t b[WL_NEW_LEN], got[WL_NEW_LEN];
	uint32_t n;
	uint16_t k;

	twl_rig_up(&r);
	twl_mk_new(b, WL_CMD_VFD_NEW, 3, 0, 4096);
	k = twl_post(&r, b, WL_NEW_LEN, 10);
	twl_run_out(&r);
	cr_assert(twl_next_resp(&r, NULL, &n, got));
	cr_assert_eq(n, 10);
	cr_assert_eq(twl_get32(got), WL_RESP_VFD_NEW);
	cr_assert_eq(*(uint8_t *)gmem_ptr(&r.out.m, twl_out_gpa(k) + TWL_OUT_RESP + 10, 1), 0xcc);
	/* The VFD exists all the same (a driver would not do this, but nothing breaks). */
	cr_assert_eq(twl_nr_vfds(&r), 1);
	twl_mk_new(b, WL_CMD_VFD_NEW, 4, 0, 4096);
	twl_post(&r, b, WL_NEW_LEN, 0);
	twl_mk_vfd(b, WL_CMD_VFD_CLOSE, 999);
	k = twl_post(&r, b, 12, 1);
	twl_run_out(&r);
	cr_assert(twl_next_resp(&r, NULL, &n, got));
	cr_assert_eq(n, 0);
	cr_assert(twl_next_resp(&r, NULL, &n, got));
	cr_assert_eq(n, 1);
	cr_assert_eq(got[0], WL_RESP_INVALID_ID & 0xff);
	cr_assert_eq(*(uint8_t *)gmem_ptr(&r.out.m, twl_out_gpa(k) + TWL_OUT_RESP + 1, 1), 0xcc);
	/* A command with no readable part at all. */
	k = r.out_posted++;
	tvq_desc(&r.out, TVQ_DESC, (uint16_t)(2 * (k % TWL_OUT_SLOTS)),
		 twl_out_gpa(k) + TWL_OUT_RESP, 8, VIRTQ_DESC_F_WRITE, 0);
	tvq_post(&r.out, (uint16_t)(2 * (k % TWL_OUT_SLOTS)));
	twl_run_out(&r);
	cr_assert(twl_next_resp(&r, NULL, &n, got));
	cr_assert_eq(n, 8);
	cr_assert_eq(twl_get32(got), WL_RESP_ERR);
	cr_assert_eq(twl_nr_vfds(&r), 2);
	twl_rig_down(&r);
}

/*
 * The compositor closes the read end of a pipe the guest writes: VFD_SEND
 * to it fails (EPIPE) and nothing else happens. In a process that does not
 * ignore SIGPIPE (the device without its sandbox, in a program that embeds
 * libcvm) the write must not raise it.
 */
Test(wl, write_to_closed_pipe)
{
	struct twl_rig r;
	uint32_t ids[1] = { 4 };
	char b;
	int c, fd = -1;

	signal(SIGPIPE, SIG_DFL);
	twl_rig_up(&r);
	c = twl_new_ctx(&r, 1);
	cr_assert_eq(twl_new_pipe(&r, 4, WL_VFD_WRITE), WL_RESP_VFD_NEW);
	cr_assert_eq(twl_send_vfd(&r, 1, ids, 1, "p", 1), WL_RESP_OK);
	cr_assert_eq(twl_recv_all(c, &b, 1, &fd), 1);
	close(fd);
	cr_assert_eq(twl_send_vfd(&r, 4, NULL, 0, "lost", 4), WL_RESP_ERR);
	/* And the device carries on. */
	cr_assert_eq(twl_send_vfd(&r, 1, NULL, 0, "ok", 2), WL_RESP_OK);
	twl_recv_all(c, &b, 1, NULL);
	close(c);
	twl_rig_down(&r);
}

/* A memfd the compositor may not write (a keymap, say): mapped read-only, still announced. */
Test(wl, compositor_readonly_memfd)
{
	struct twl_rig r;
	uint8_t msg[TWL_IN_BUF];
	char proc[64];
	int c, fd, ro;
	unsigned int s;

	twl_rig_up(&r);
	r.w->use_shmem = true;
	c = twl_new_ctx(&r, 1);
	fd = memfd_create("keymap", MFD_CLOEXEC);
	cr_assert_eq(ftruncate(fd, 4096), 0);
	cr_assert_eq(pwrite(fd, "xkb_keymap", 10, 0), 10);
	snprintf(proc, sizeof(proc), "/proc/self/fd/%d", fd);
	ro = open(proc, O_RDONLY | O_CLOEXEC);
	cr_assert_geq(ro, 0);
	twl_comp_send(c, "k", 1, &ro, 1);
	close(ro);
	twl_ready(&r, 1);
	cr_assert_eq(twl_fill(&r, 2), 2);
	cr_assert_eq(twl_next_msg(&r, msg), WL_NEW_LEN);
	s = twl_slot_of(&r, twl_get32(msg + 8));
	cr_assert_eq(r.w->vfds[s].kind, WL_SHM);
	cr_assert_eq(twl_get32(msg + 24), 4096);
	cr_assert_eq(twl_get64(msg + 16), r.w->vfds[s].off / 4096);
	cr_assert(r.w->vp.shm_maps[s].ro);
	cr_assert(!memcmp(r.w->vp.shm_maps[s].host, "xkb_keymap", 10));
	cr_assert_eq(twl_next_msg(&r, msg), 16 + 4 + 1);
	close(fd);
	close(c);
	twl_rig_down(&r);
}

/* A keymap is rarely a whole number of pages: it is mapped rounded up, as crosvm does. */
Test(wl, compositor_memfd_of_odd_size)
{
	struct twl_rig r;
	uint8_t msg[TWL_IN_BUF];
	int c, fd;
	unsigned int s;

	twl_rig_up(&r);
	r.w->use_shmem = true;
	c = twl_new_ctx(&r, 1);
	fd = memfd_create("keymap", MFD_CLOEXEC);
	cr_assert_eq(ftruncate(fd, 5000), 0);
	cr_assert_eq(pwrite(fd, "xkb_keymap", 10, 4990), 10);
	twl_comp_send(c, "k", 1, &fd, 1);
	twl_ready(&r, 1);
	cr_assert_eq(twl_fill(&r, 2), 2);
	cr_assert_eq(twl_next_msg(&r, msg), WL_NEW_LEN);
	s = twl_slot_of(&r, twl_get32(msg + 8));
	cr_assert_eq(r.w->vfds[s].kind, WL_SHM, "mapped, not opaque");
	cr_assert_eq(twl_get32(msg + 24), 8192);
	cr_assert(!memcmp((uint8_t *)r.w->vp.shm_maps[s].host + 4990, "xkb_keymap", 10));
	close(fd);
	close(c);
	twl_rig_down(&r);
}

// SPDX-License-Identifier: BSD-3-Clause
/*
 * virtio-wl device flow (test_util_wl.h's rig): a VFD_SEND held while the
 * compositor does not read, the in ring pausing, hang-ups, running out of
 * VFDs and of the shared memory region, and what closing a context or
 * destroying the device drops.
 */
#include <criterion/criterion.h>
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/mman.h>
#include <sys/socket.h>
#include <unistd.h>

#include "test_util_wl.h"

/* In-queue buffers too small for a message: returned empty, the message waits for a bigger one. */
Test(wl, small_in_buffers)
{
	struct twl_rig r;
	uint8_t msg[TWL_IN_BUF];
	uint32_t id, len;
	int c;

	twl_rig_up(&r);
	c = twl_new_ctx(&r, 1);
	twl_comp_send(c, "0123456789", 10, NULL, 0);
	twl_ready(&r, 1);
	tvq_desc(&r.in, TVQ_DESC, 0, TVQ_DATA, 20, VIRTQ_DESC_F_WRITE, 0);
	tvq_post(&r.in, 0);
	r.in_posted = 1;
	cr_assert_eq(wl_fill_in(r.w, &r.in.q), 1);
	tvq_used_elem(&r.in, 0, &id, &len);
	r.in_seen = 1;
	cr_assert_eq(len, 0);
	cr_assert_eq(twl_fill(&r, 1), 1);
	cr_assert_eq(twl_next_msg(&r, msg), 26);
	cr_assert(!memcmp(msg + 16, "0123456789", 10));
	close(c);
	twl_rig_down(&r);
}

/* The compositor does not read: a large SEND is held, later commands wait behind it. */
Test(wl, send_flow_control)
{
	const size_t big = 3 * GMEM_MIB;
	struct twl_rig r;
	uint8_t b[WL_NEW_LEN], *got;
	size_t total = big + 4, have = 0;
	unsigned int s, rounds = 0, resps = 0;
	uint16_t k, first;
	uint32_t n;
	int c, sz = 4096;

	twl_rig_up(&r);
	c = twl_new_ctx(&r, 1);
	s = twl_slot_of(&r, 1);
	twl_shrink_sndbuf(&r, 1);
	cr_assert_eq(setsockopt(c, SOL_SOCKET, SO_RCVBUF, &sz, sizeof(sz)), 0);
	got = malloc(total);
	cr_assert_not_null(got);

	/* 3 MiB, then 4 bytes, then a NEW_PIPE: nothing is answered yet. */
	tvq_fill(&r.out, TWL_OUT_BIG + 16, big, 3);
	first = twl_post_big_send(&r, 1, big);
	twl_post(&r, b, twl_mk_send(b, 1, NULL, 0, "tail", 4), 8);
	twl_post(&r, b, twl_mk_new(b, WL_CMD_VFD_NEW_PIPE, 2, WL_VFD_READ, 0), WL_NEW_LEN);
	twl_run_out(&r);
	cr_assert_eq(tvq_used_idx(&r.out), r.out_seen, "a held command was answered");
	cr_assert(r.w->held);
	cr_assert(r.w->vfds[s].watched & EPOLLOUT, "nobody waits for the socket to drain");
	twl_run_out(&r);
	cr_assert_eq(tvq_used_idx(&r.out), r.out_seen);
	cr_assert_eq(twl_nr_vfds(&r), 1, "a command behind the held one ran");

	/* The compositor reads; epoll says the socket is writable; the rest goes. */
	while (have < total || resps < 3) {
		ssize_t m = recv(c, got + have, total - have, MSG_DONTWAIT);

		if (m > 0)
			have += (size_t)m;
		cr_assert_eq(wl_fd_ready(r.w, s, EPOLLOUT), 0);
		twl_run_out(&r);
		while (twl_next_resp(&r, &k, &n, b)) {
			cr_assert_eq(k, (uint16_t)(first + resps));
			cr_assert_eq(twl_get32(b), resps < 2 ? WL_RESP_OK : WL_RESP_VFD_NEW,
				     "response %u: 0x%x", resps, twl_get32(b));
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
	cr_assert_eq(twl_nr_vfds(&r), 2);
	twl_expect_nothing(c);
	free(got);
	close(c);
	twl_rig_down(&r);
}

/* A held SEND whose compositor goes away: answered with an error, the queue moves on. */
Test(wl, held_send_peer_gone)
{
	const size_t big = 2 * GMEM_MIB;
	struct twl_rig r;
	uint8_t b[WL_NEW_LEN];
	unsigned int s;
	uint32_t n;
	int c;

	twl_rig_up(&r);
	c = twl_new_ctx(&r, 1);
	s = twl_slot_of(&r, 1);
	twl_shrink_sndbuf(&r, 1);
	twl_post_big_send(&r, 1, big);
	twl_post(&r, b, twl_mk_new(b, WL_CMD_VFD_NEW_PIPE, 2, WL_VFD_READ, 0), WL_NEW_LEN);
	twl_run_out(&r);
	cr_assert_eq(tvq_used_idx(&r.out), r.out_seen);
	close(c);
	cr_assert_eq(wl_fd_ready(r.w, s, EPOLLOUT | EPOLLHUP), 0);
	twl_run_out(&r);
	cr_assert(twl_next_resp(&r, NULL, &n, b));
	cr_assert_eq(twl_get32(b), WL_RESP_ERR);
	cr_assert(twl_next_resp(&r, NULL, &n, b));
	cr_assert_eq(twl_get32(b), WL_RESP_VFD_NEW);
	cr_assert(!r.w->held);
	twl_rig_down(&r);
}

/* The guest posts no in buffers: the device stops reading, and loses nothing. */
Test(wl, in_ring_pauses)
{
	struct twl_rig r;
	uint8_t msg[TWL_IN_BUF], *want, *got;
	size_t nwant = 0, ngot = 0;
	unsigned int i, paused_at = 0;
	uint32_t len;
	int c;

	twl_rig_up(&r);
	c = twl_new_ctx(&r, 1);
	want = malloc(1 << 20);
	got = malloc(1 << 20);
	for (i = 0; i < 200; i++) {
		char line[32];
		int n = snprintf(line, sizeof(line), "event %u;", i);

		twl_comp_send(c, line, (size_t)n, NULL, 0);
		memcpy(want + nwant, line, (size_t)n);
		nwant += (size_t)n;
		/* epoll reports the socket readable only while the device watches it. */
		if (r.w->vfds[twl_slot_of(&r, 1)].watched != UINT32_MAX)
			twl_ready(&r, 1);
		if (r.w->paused && !paused_at)
			paused_at = i + 1;
	}
	cr_assert(r.w->paused, "the device never paused");
	cr_assert_leq(paused_at, WL_PENDING);
	cr_assert_eq(r.w->vfds[twl_slot_of(&r, 1)].watched, UINT32_MAX,
		     "still watched while paused");
	/* Calls regardless of epoll (a stale event) read nothing either. */
	twl_ready(&r, 1);
	cr_assert_eq(r.w->pend_len, paused_at);

	/* Buffers come: everything arrives, in order, byte for byte. */
	for (int round = 0; round < 100 && ngot < nwant; round++) {
		twl_fill(&r, 16);
		while ((len = twl_next_msg(&r, msg))) {
			cr_assert_eq(twl_get32(msg), WL_CMD_VFD_RECV);
			cr_assert_eq(twl_get32(msg + 8), 1);
			cr_assert_eq(twl_get32(msg + 12), 0);
			memcpy(got + ngot, msg + 16, len - 16);
			ngot += len - 16;
		}
		if (!r.w->paused)
			twl_ready(&r, 1);
	}
	cr_assert_eq(ngot, nwant);
	cr_assert(!memcmp(got, want, nwant));
	cr_assert(!r.w->paused);
	free(want);
	free(got);
	close(c);
	twl_rig_down(&r);
}

Test(wl, vfd_exhaustion)
{
	struct twl_rig r;
	uint8_t resp[WL_NEW_LEN], b[WL_NEW_LEN];
	uint64_t pfn[WL_MAX_VFDS + 1];
	int c, fd;

	twl_rig_up(&r);
	r.w->use_shmem = true;
	for (uint32_t id = 1; id <= WL_MAX_VFDS; id++) {
		cr_assert_eq(twl_new_shm(&r, id, 0, 4096, resp), WL_RESP_VFD_NEW, "VFD %u", id);
		pfn[id] = twl_get64(resp + 16);
		for (uint32_t k = 1; k < id; k++)
			cr_assert_neq(pfn[k], pfn[id], "VFDs %u and %u overlap", k, id);
	}
	cr_assert_eq(twl_new_shm(&r, 1000, 0, 4096, NULL), WL_RESP_OUT_OF_MEMORY);
	cr_assert_eq(twl_new_pipe(&r, 1000, WL_VFD_READ), WL_RESP_OUT_OF_MEMORY);
	cr_assert_eq(twl_cmd(&r, b, twl_mk_vfd(b, WL_CMD_VFD_NEW_CTX, 1000)),
		     WL_RESP_OUT_OF_MEMORY);
	fcntl(r.lfd, F_SETFL, O_NONBLOCK);
	cr_assert(accept(r.lfd, NULL, NULL) < 0 && errno == EAGAIN, "a connection was opened");
	fcntl(r.lfd, F_SETFL, 0);
	/* Close some: the slots and their space are used again. */
	cr_assert_eq(twl_close_vfd(&r, 10), WL_RESP_OK);
	cr_assert_eq(twl_close_vfd(&r, 11), WL_RESP_OK);
	cr_assert_eq(twl_new_shm(&r, 1000, 0, 8192, resp), WL_RESP_VFD_NEW);
	cr_assert_eq(twl_get64(resp + 16), pfn[10] < pfn[11] ? pfn[10] : pfn[11]);
	cr_assert_eq(pfn[11], pfn[10] + 1, "first fit should have put them together");
	cr_assert_eq(twl_close_vfd(&r, 50), WL_RESP_OK);
	c = twl_new_ctx(&r, 1001);
	cr_assert_eq(twl_send_vfd(&r, 1001, NULL, 0, "alive", 5), WL_RESP_OK);
	twl_recv_all(c, b, 5, NULL);
	cr_assert_eq(twl_new_shm(&r, 1002, 0, 4096, NULL), WL_RESP_VFD_NEW);
	cr_assert_eq(twl_nr_vfds(&r), WL_MAX_VFDS);
	/* Full again: a descriptor from the compositor finds no VFD; its context is hung up. */
	fd = memfd_create("x", MFD_CLOEXEC);
	cr_assert_eq(ftruncate(fd, 4096), 0);
	twl_comp_send(c, "m", 1, &fd, 1);
	close(fd);
	twl_ready(&r, 1001);
	cr_assert_eq(twl_fill(&r, 4), 1);
	cr_assert_eq(twl_next_msg(&r, b), 12);
	cr_assert_eq(twl_get32(b), WL_CMD_VFD_HUP);
	cr_assert_eq(twl_get32(b + 8), 1001);
	cr_assert_eq(twl_nr_vfds(&r), WL_MAX_VFDS);
	for (uint32_t id = 1; id <= WL_MAX_VFDS; id++)
		if (id != 10 && id != 11 && id != 50)
			cr_assert_eq(twl_close_vfd(&r, id), WL_RESP_OK);
	cr_assert_eq(twl_nr_vfds(&r), 3);
	close(c);
	twl_rig_down(&r);
}

/* The region (256 MiB): first fit, freed space found again, no overlap. */
Test(wl, region_allocator)
{
	struct twl_rig r;
	uint8_t resp[WL_NEW_LEN];
	const uint32_t mib = 1 << 20;

	twl_rig_up(&r);
	r.w->use_shmem = true;
	cr_assert_eq(twl_new_shm(&r, 1, 0, 100 * mib, resp), WL_RESP_VFD_NEW);
	cr_assert_eq(twl_get64(resp + 16), 0);
	cr_assert_eq(twl_new_shm(&r, 2, 0, 100 * mib, resp), WL_RESP_VFD_NEW);
	cr_assert_eq(twl_get64(resp + 16), 100 * mib / 4096);
	cr_assert_eq(twl_new_shm(&r, 3, 0, 56 * mib, resp), WL_RESP_VFD_NEW);
	cr_assert_eq(twl_get64(resp + 16), 200 * mib / 4096);
	/* Full. */
	cr_assert_eq(twl_new_shm(&r, 4, 0, 1, NULL), WL_RESP_OUT_OF_MEMORY);
	/* A hole of 100 MiB: 60 fits, then 40, not 41. */
	cr_assert_eq(twl_close_vfd(&r, 1), WL_RESP_OK);
	cr_assert_eq(twl_new_shm(&r, 4, 0, 60 * mib, resp), WL_RESP_VFD_NEW);
	cr_assert_eq(twl_get64(resp + 16), 0);
	cr_assert_eq(twl_new_shm(&r, 5, 0, 41 * mib, NULL), WL_RESP_OUT_OF_MEMORY);
	cr_assert_eq(twl_new_shm(&r, 5, 0, 40 * mib, resp), WL_RESP_VFD_NEW);
	cr_assert_eq(twl_get64(resp + 16), 60 * mib / 4096);
	/* A hole in the middle. */
	cr_assert_eq(twl_close_vfd(&r, 2), WL_RESP_OK);
	cr_assert_eq(twl_new_shm(&r, 6, 0, 100 * mib, resp), WL_RESP_VFD_NEW);
	cr_assert_eq(twl_get64(resp + 16), 100 * mib / 4096);
	/* The whole region at once, once everything is gone. */
	for (uint32_t id = 3; id <= 6; id++)
		cr_assert_eq(twl_close_vfd(&r, id), WL_RESP_OK);
	cr_assert_eq(twl_new_shm(&r, 7, 0, (uint32_t)WL_SHM_SIZE, resp), WL_RESP_VFD_NEW);
	cr_assert_eq(twl_get32(resp + 24), WL_SHM_SIZE);
	twl_rig_down(&r);
}

/* Closing a context forgets what it still owed the guest, the VFDs it announced too. */
Test(wl, close_drops_pending)
{
	struct twl_rig r;
	uint8_t msg[TWL_IN_BUF];
	int c1, c2, fd;

	twl_rig_up(&r);
	c1 = twl_new_ctx(&r, 1);
	c2 = twl_new_ctx(&r, 2);
	twl_comp_send(c2, "before", 6, NULL, 0);
	twl_ready(&r, 2);
	fd = memfd_create("x", MFD_CLOEXEC);
	cr_assert_eq(ftruncate(fd, 4096), 0);
	twl_comp_send(c1, "gone", 4, &fd, 1);
	close(fd);
	twl_ready(&r, 1);
	twl_comp_send(c2, "after", 5, NULL, 0);
	twl_ready(&r, 2);
	cr_assert_eq(twl_nr_vfds(&r), 3);
	cr_assert_eq(twl_close_vfd(&r, 1), WL_RESP_OK);
	cr_assert_eq(twl_nr_vfds(&r), 1, "the VFD announced to a closed context lives on");
	cr_assert_eq(twl_fill(&r, 8), 2);
	cr_assert_eq(twl_next_msg(&r, msg), 16 + 6);
	cr_assert_eq(twl_get32(msg + 8), 2);
	cr_assert(!memcmp(msg + 16, "before", 6));
	cr_assert_eq(twl_next_msg(&r, msg), 16 + 5);
	cr_assert(!memcmp(msg + 16, "after", 5));
	cr_assert_eq(twl_next_msg(&r, msg), 0);
	close(c1);
	close(c2);
	twl_rig_down(&r);
}

/* Destroying a device with everything in flight frees everything (LeakSanitizer). */
Test(wl, destroy_busy)
{
	struct twl_rig r;
	uint8_t b[WL_NEW_LEN];
	int c, fd;

	twl_rig_up(&r);
	c = twl_new_ctx(&r, 1);
	cr_assert_eq(twl_new_shm(&r, 2, 0, 4096, NULL), WL_RESP_VFD_NEW);
	cr_assert_eq(twl_new_pipe(&r, 3, WL_VFD_READ), WL_RESP_VFD_NEW);
	fd = memfd_create("x", MFD_CLOEXEC);
	cr_assert_eq(ftruncate(fd, 4096), 0);
	twl_comp_send(c, "m", 1, &fd, 1);
	close(fd);
	twl_ready(&r, 1);
	twl_shrink_sndbuf(&r, 1);
	twl_post_big_send(&r, 1, GMEM_MIB);
	twl_post(&r, b, twl_mk_new(b, WL_CMD_VFD_NEW_PIPE, 4, WL_VFD_READ, 0), WL_NEW_LEN);
	twl_run_out(&r);
	cr_assert(r.w->held);
	cr_assert_gt(r.w->pend_len, 0);
	close(c);
	twl_rig_down(&r);
}

/* What epoll says about the device's descriptors, handed to wl_fd_ready() as the worker does. */
static unsigned int pump(struct twl_rig *r)
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
	struct twl_rig r;
	uint8_t msg[TWL_IN_BUF];
	uint32_t len;
	int c1, c2;
	bool got_data = false, got_hup = false;

	twl_rig_up(&r);
	c1 = twl_new_ctx(&r, 1);
	c2 = twl_new_ctx(&r, 2);
	twl_shrink_sndbuf(&r, 1);
	twl_post_big_send(&r, 1, big);
	twl_run_out(&r);
	cr_assert(r.w->held);
	/* Context 2 fills the ring: paused. */
	for (int i = 0; i < WL_PENDING && !r.w->paused; i++) {
		twl_comp_send(c2, "e", 1, NULL, 0);
		pump(&r);
	}
	cr_assert(r.w->paused);
	/* Context 1's compositor: a last message, then gone. */
	twl_comp_send(c1, "error", 5, NULL, 0);
	close(c1);
	pump(&r);
	twl_run_out(&r); /* the held send fails: the compositor is gone */
	/* The guest takes its messages; everything context 1 sent comes before its hang-up. */
	for (int round = 0; round < 20 && !got_hup; round++) {
		twl_fill(&r, 16);
		while ((len = twl_next_msg(&r, msg))) {
			if (twl_get32(msg + 8) != 1)
				continue;
			if (twl_get32(msg) == WL_CMD_VFD_RECV) {
				cr_assert(!got_hup, "data after the hang-up");
				cr_assert_eq(len, 16 + 5);
				cr_assert(!memcmp(msg + 16, "error", 5));
				got_data = true;
			} else {
				cr_assert_eq(twl_get32(msg), WL_CMD_VFD_HUP);
				got_hup = true;
			}
		}
		pump(&r);
		twl_run_out(&r);
	}
	cr_assert(got_hup, "no hang-up");
	cr_assert(got_data, "the compositor's last message was lost");
	close(c2);
	twl_rig_down(&r);
}

/*
 * A pipe the compositor sent on a context the guest then closes before
 * hearing of it: the pipe goes, and so does what it read meanwhile (its
 * own VFD_RECV and VFD_HUP), which would name a VFD the guest never knew.
 */
Test(wl, close_drops_what_announced_vfds_owe)
{
	struct twl_rig r;
	uint8_t msg[TWL_IN_BUF];
	uint32_t hid = 0;
	int c, p[2];

	twl_rig_up(&r);
	c = twl_new_ctx(&r, 1);
	cr_assert_eq(pipe2(p, O_CLOEXEC), 0);
	twl_comp_send(c, "x", 1, &p[0], 1);
	close(p[0]);
	twl_ready(&r, 1);
	for (unsigned int i = 0; i < WL_MAX_VFDS; i++)
		if (r.w->vfds[i].kind == WL_PIPE)
			hid = r.w->vfds[i].id;
	cr_assert(hid & WL_HOST_ID_BIT);
	cr_assert_eq(write(p[1], "p", 1), 1);
	twl_ready(&r, hid);
	close(p[1]);
	twl_ready(&r, hid);
	cr_assert_eq(r.w->pend_len, 4, "VFD_NEW, VFD_RECV, the pipe's VFD_RECV and VFD_HUP");
	cr_assert_eq(twl_close_vfd(&r, 1), WL_RESP_OK);
	cr_assert_eq(twl_nr_vfds(&r), 0);
	cr_assert_eq(twl_fill(&r, 8), 0);
	cr_assert_eq(twl_next_msg(&r, msg), 0);
	close(c);
	twl_rig_down(&r);
}

// SPDX-License-Identifier: BSD-3-Clause
/*
 * virtio-wayland sessions that go wrong underneath (test_wl.c says how the
 * wl suite runs): the compositor killed, BAR 2 moved, a device reset, a
 * peer that never reads, the VFDs running out, a guest that stops reading.
 */
#include <criterion/criterion.h>

#include <pthread.h>
#include <signal.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <unistd.h>

#include "cvmproc.h"
#include "wllib.h"

#ifndef CVM_GUEST
#error "CVM_GUEST (path of cvm-guest.elf) must be defined"
#endif

/*
 * The compositor dies under a connected guest: the context gets VFD_HUP,
 * new contexts get an error response, the device keeps working.
 */
Test(wl, compositor_killed_mid_session)
{
	const char *args[] = { "--wayland-sock", NULL, "-p", "cvm.test=wl_compositor_gone",
			       CVM_GUEST,	 NULL };
	struct runner_result r;
	struct fproc p;

	REQUIRE_KVM();
	weston_start("wayland-cvm");
	args[1] = wsock;
	unsetenv("XDG_RUNTIME_DIR");
	unsetenv("WAYLAND_DISPLAY");
	fproc_start(&p, args);
	if (!fproc_wait(&p, "WL ready\n", WL_TIMEOUT)) {
		fproc_finish(&p, &r, 0);
		cr_assert_run(&r, false, "the guest never printed 'WL ready'");
	}
	kill(-weston, SIGKILL);
	waitpid(weston, &weston_status, 0);
	weston_reaped = true;
	fproc_finish(&p, &r, WL_TIMEOUT);
	runner_assert_passed(&r, "wl_compositor_gone");
	cr_assert_run(&r, strstr(r.out, "WL in: VFD_HUP ctx 1\n"), "no VFD_HUP for ctx 1");
	runner_free(&r);
}

/*
 * The guest moves BAR 2 with a buffer mapped (--no-rng leaves a free 256 MiB
 * window at 0xe0000000): the buffer follows, the old address is empty.
 */
Test(wl, bar2_moved_by_the_guest)
{
	const char *extra[4] = { "--no-rng", "--wayland-sock", NULL, NULL };
	struct runner_result r;

	REQUIRE_KVM();
	weston_start("wayland-cvm");
	extra[2] = wsock;
	unsetenv("XDG_RUNTIME_DIR");
	run_wl(&r, "wl_bar_move", extra);
	runner_assert_passed(&r, "wl_bar_move");
	cr_assert_run(&r, strstr(r.out, "WL moving BAR2 from "), "BAR2 was not moved");
	assert_weston_fine(&r);
	runner_free(&r);
}

/* A device reset mid-session: every VFD forgotten, buffers unmapped, then all works again. */
Test(wl, device_reset_mid_session)
{
	struct runner_result r;

	wl_guest_test("wl_reset", &r);
	cr_assert_run(&r, strstr(r.out, "WL old buffer 5 after the reset reads 0x0\n"),
		      "the old buffer still reads as something after the reset");
	runner_free(&r);
}

/*
 * The fake compositor of wl_held: it never reads. It closes the second
 * connection HOLD_CLOSE_S after accepting it and keeps the first until the
 * test is over.
 */
#define HOLD_CLOSE_S 5.0

struct holdsrv {
	int lfd;
	pthread_t th;
	volatile bool stop;
	unsigned int accepted;
	bool closed2;
};

static void *holdsrv_main(void *arg)
{
	struct holdsrv *h = arg;
	int c[2] = { -1, -1 };
	double t2 = 0;

	while (!h->stop) {
		if (h->accepted < 2 && fake_wait(h->lfd, 100) > 0) {
			c[h->accepted] = accept4(h->lfd, NULL, NULL, SOCK_CLOEXEC);
			if (c[h->accepted] >= 0 && ++h->accepted == 2)
				t2 = fproc_now();
		} else {
			usleep(50000);
		}
		if (t2 && !h->closed2 && fproc_now() - t2 > HOLD_CLOSE_S) {
			close(c[1]);
			c[1] = -1;
			h->closed2 = true;
		}
	}
	close(c[0]);
	close(c[1]);
	return NULL;
}

/* A VFD_SEND held by the device (the peer never reads): reset, peer gone. */
Test(wl, held_send)
{
	const char *extra[3] = { "--wayland-sock", NULL, NULL };
	struct holdsrv h = { .lfd = -1 };
	struct runner_result r;

	REQUIRE_KVM();
	h.lfd = fake_listen("hold-wl");
	cr_assert_eq(pthread_create(&h.th, NULL, holdsrv_main, &h), 0);
	extra[1] = wsock;
	unsetenv("XDG_RUNTIME_DIR");
	run_wl(&r, "wl_held", extra);
	h.stop = true;
	pthread_join(h.th, NULL);
	close(h.lfd);
	runner_assert_passed(&r, "wl_held");
	cr_assert_run(&r, h.accepted == 2 && h.closed2, "the fake compositor saw %u connections",
		      h.accepted);
	runner_free(&r);
}

/* VFDs until OUT_OF_MEMORY, then everything freed and reused. */
Test(wl, vfd_exhaustion)
{
	struct runner_result r;

	wl_guest_test("wl_many", &r);
	runner_free(&r);
}

/* A guest that stops reading: commands still answered, then no byte lost. */
Test(wl, in_queue_backpressure)
{
	struct runner_result r;

	wl_guest_test("wl_flood", &r);
	cr_assert_run(&r, strstr(r.out, "WL in buffers filled while not reading: 16 of 16"),
		      "the in queue did not fill up");
	runner_free(&r);
}

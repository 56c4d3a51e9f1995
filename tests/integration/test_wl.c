// SPDX-License-Identifier: BSD-3-Clause
/*
 * virtio-wayland through `cvm run --wayland-sock PATH`, against a real
 * compositor: Debian's weston with its headless backend, on a private
 * XDG_RUNTIME_DIR, in its own process group (wllib.c). The guest side is
 * tests/guest/t_wl*.c, whose comments say what each guest test checks.
 *
 * Most tests use weston with kiosk-shell, which starts no helper clients.
 * wl_shot and wl_pipe need a compositor that repaints, takes screenshots
 * and has debug streams: weston with desktop-shell, the pixman renderer, a
 * 320x240 output and --debug (weston_screenshooter, weston_debug_v1).
 * After every guest run against weston, weston must still be alive and
 * still serve a client of ours (a registry roundtrip over the same
 * socket): nothing the guest sent may break it.
 *
 * The other files of the suite: test_wl_hostfds.c (wl_host_fds against a
 * fake compositor of ours that passes descriptors to the guest),
 * test_wl_robust.c (sessions that go wrong underneath) and test_wl_cli.c
 * (how `cvm run` finds the compositor, or does not).
 */
#include <criterion/criterion.h>

#include <string.h>

#include "wllib.h"

TestSuite(wl, .fini = weston_stop);

/* The fixture itself: weston comes up and serves a host client. */
Test(wl, fixture_weston_serves)
{
	weston_start("wayland-cvm");
	assert_weston_fine(NULL);
}

Test(wl, registry_and_shm_pool)
{
	struct runner_result r;

	wl_guest_test("wl", &r);
	cr_assert_run(&r, has_global(r.out, "wl_compositor"), "no 'WL global ... wl_compositor'");
	cr_assert_run(&r, has_global(r.out, "wl_shm"), "no 'WL global ... wl_shm'");
	cr_assert_run(&r, strstr(r.out, "buffer accepted"), "no 'pool and 64x32 buffer accepted'");
	runner_free(&r);
}

/*
 * Shared memory both ways: the guest's picture on weston's (pixman) screen
 * comes back exactly in a screenshot weston writes into another guest buffer.
 */
Test(wl, screenshot_roundtrip)
{
	struct runner_result r;

	wl_guest_test_shell("wl_shot", &r, true);
	cr_assert_run(&r, strstr(r.out, " 0 of 76800 pixels differ"), "no exact screenshot");
	runner_free(&r);
}

Test(wl, compositor_rejects_oversized_buffer)
{
	struct runner_result r;

	wl_guest_test("wl_bad_pool", &r);
	cr_assert_run(&r, strstr(r.out, "wl_display.error object 5 code 1"),
		      "no invalid_stride error on the pool");
	cr_assert_run(&r, strstr(r.out, "WL in: VFD_HUP ctx 1\n"), "no VFD_HUP for ctx 1");
	runner_free(&r);
}

Test(wl, garbage_breaks_only_its_connection)
{
	struct runner_result r;

	wl_guest_test("wl_garbage", &r);
	cr_assert_run(&r, strstr(r.out, "WL in: VFD_HUP ctx 1\n"), "no VFD_HUP for ctx 1");
	runner_free(&r);
}

/* A pipe VFD the compositor writes (weston's debug stream): data, then HUP. */
Test(wl, compositor_writes_a_pipe)
{
	struct runner_result r;

	wl_guest_test_shell("wl_pipe", &r, true);
	cr_assert_run(&r, strstr(r.out, "first line \"Weston scene graph at "),
		      "no scene graph through the pipe");
	cr_assert_run(&r, strstr(r.out, "WL in: VFD_HUP pipe 50\n"), "no VFD_HUP for the pipe");
	runner_free(&r);
}

/* Without USE_SHMEM (guest-physical pfns), and without TRANS_FLAGS too. */
Test(wl, fewer_features)
{
	struct runner_result r;

	wl_guest_test("wl_noshm", &r);
	cr_assert_run(&r, strstr(r.out, "accepted 0x100000002 "), "features not VERSION_1|TRANS");
	runner_free(&r);
	weston_stop();
	wl_guest_test("wl_legacy", &r);
	cr_assert_run(&r, strstr(r.out, "accepted 0x100000000 "), "features not VERSION_1 only");
	runner_free(&r);
}

/* The roundtrip driven by MSI-X interrupts, the guest asleep in hlt. */
Test(wl, msix_interrupts)
{
	struct runner_result r;

	wl_guest_test("wl_msix", &r);
	runner_free(&r);
}

/*
 * No spurious MSI-X interrupts: the out queue's vector fires once per
 * answer, not at DRIVER_OK nor for every fd event (run() used to signal
 * after every wl_process_out(), answered or not).
 */
Test(wl, no_spurious_interrupts)
{
	struct runner_result r;

	wl_guest_test("wl_spurious", &r);
	runner_free(&r);
}

/* Indirect and split chains; 16-byte in buffers given back empty. */
Test(wl, chain_layouts)
{
	struct runner_result r;

	wl_guest_test("wl_chains", &r);
	cr_assert_run(&r, strstr(r.out, "used 64\n"), "no split VFD_NEW response");
	runner_free(&r);
}

/*
 * With VIRTIO_RING_F_EVENT_IDX (offered, and always accepted by Linux's
 * virtio core) the out queue used to stall after the first command: the
 * device never published avail_event, so the driver stopped kicking.
 */
Test(wl, event_idx)
{
	struct runner_result r;

	wl_guest_test("wl_event_idx", &r);
	runner_free(&r);
}

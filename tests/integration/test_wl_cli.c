// SPDX-License-Identifier: BSD-3-Clause
/*
 * How `cvm run` finds the compositor (test_wl.c says how the wl suite
 * runs): a missing socket or one that is no socket is a clear error;
 * `--no-wl` removes the device even with $XDG_RUNTIME_DIR/wayland-0 there,
 * which is used by default; a runtime dir without wayland-0 (or no
 * XDG_RUNTIME_DIR) means no device and a normal run.
 */
#include <criterion/criterion.h>

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "wllib.h"

/* The guest test can fail: without the device, wl reports it. */
Test(wl, guest_test_fails_without_device)
{
	const char *extra[] = { "--no-wl", NULL };
	struct runner_result r;
	char *line;

	REQUIRE_KVM();
	unsetenv("XDG_RUNTIME_DIR");
	run_wl(&r, "wl", extra);
	cr_assert_run(&r, r.exited && r.status == 0, "cvm did not exit 0");
	line = find_line(r.out, "FAIL wl: no virtio-wayland");
	cr_assert_run(&r, line, "the wl test did not fail without the device");
	free(line);
	runner_free(&r);
}

/* A socket that is not there: a clear error, at once. */
Test(wl, missing_socket_is_an_error)
{
	const char *path = "/nonexistent/cvm-wl-test/wayland-9";
	const char *extra[] = { "--wayland-sock", path, NULL };
	struct runner_opts o = { .timeout_s = 30 };
	struct runner_result r;

	REQUIRE_KVM();
	runner_guest(&r, &o, "wl_absent", extra);
	cr_assert_run(&r, !r.timed_out, "cvm hung with a missing wayland socket");
	cr_assert_run(&r, r.exited && r.status != 0, "cvm exited 0 with a missing wayland socket");
	cr_assert_run(&r, strstr(r.err, path), "the error does not name %s", path);
	cr_assert_run(&r, !strstr(r.out, "PASS "), "the guest ran");
	cr_assert_run(&r, !runner_sanitizer_report(&r), "sanitizer report");
	runner_free(&r);
}

/* A path that exists but is no socket: an error too. */
Test(wl, non_socket_is_an_error)
{
	const char *extra[] = { "--wayland-sock", NULL, NULL };
	struct runner_opts o = { .timeout_s = 30 };
	struct runner_result r;
	char file[256];
	char *dir;

	REQUIRE_KVM();
	dir = make_temp_dir();
	cr_assert(dir);
	snprintf(file, sizeof(file), "%s/wayland-0", dir);
	free(dir);
	cr_assert_eq(write_file(file, "x", 1), 0);
	extra[1] = file;
	runner_guest(&r, &o, "wl_absent", extra);
	unlink(file);
	*strrchr(file, '/') = '\0';
	rmdir(file);
	file[strlen(file)] = '/';
	cr_assert_run(&r, !r.timed_out, "cvm hung with a regular file as wayland socket");
	cr_assert_run(&r, r.exited && r.status != 0, "cvm exited 0 with a regular file as socket");
	cr_assert_run(&r, strstr(r.err, file), "the error does not name %s", file);
	runner_free(&r);
}

/* $XDG_RUNTIME_DIR/wayland-0 is used by default; --no-wl turns the device off. */
Test(wl, default_socket_and_no_wl)
{
	const char *off[] = { "--no-wl", NULL };
	struct runner_result r;

	REQUIRE_KVM();
	weston_start("wayland-0");
	setenv("XDG_RUNTIME_DIR", wdir, 1);
	unsetenv("WAYLAND_DISPLAY");
	run_wl(&r, "wl_absent", off);
	runner_assert_passed(&r, "wl_absent");
	runner_free(&r);
	run_wl(&r, "wl", NULL);
	runner_assert_passed(&r, "wl");
	assert_weston_fine(&r);
	runner_free(&r);
	unsetenv("XDG_RUNTIME_DIR");
}

/* A runtime dir without wayland-0: no device, and the VM runs normally. */
Test(wl, runtime_dir_without_socket)
{
	struct runner_result r;
	char *dir;

	REQUIRE_KVM();
	dir = make_temp_dir();
	cr_assert(dir);
	setenv("XDG_RUNTIME_DIR", dir, 1);
	unsetenv("WAYLAND_DISPLAY");
	run_wl(&r, "wl_absent", NULL);
	unsetenv("XDG_RUNTIME_DIR");
	rm_rf(dir);
	free(dir);
	runner_assert_passed(&r, "wl_absent");
	runner_free(&r);
	/* And with no XDG_RUNTIME_DIR at all. */
	run_wl(&r, "wl_absent", NULL);
	runner_assert_passed(&r, "wl_absent");
	runner_free(&r);
}

// SPDX-License-Identifier: BSD-3-Clause
/*
 * The custom-device examples (examples/custom_pio.c, examples/custom_virtio.c,
 * built against this tree's libcvm) running the guest's tests of the same
 * name (tests/guest/t_custom.c). The examples take the policy directory
 * from CVM_POLICY_DIR and turn the sandbox off with CVM_NO_SANDBOX=1, set
 * here from runner_sandboxed(): like every guest test, these run once
 * sandboxed and once not.
 */
#include <criterion/criterion.h>

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "runner.h"

#ifndef CVM_GUEST
#error "CVM_GUEST (path of cvm-guest.elf) must be defined"
#endif
#if !defined(CVM_EXAMPLE_PIO) || !defined(CVM_EXAMPLE_VIRTIO)
#error "CVM_EXAMPLE_PIO and CVM_EXAMPLE_VIRTIO (paths of the examples) must be defined"
#endif

#define CUSTOM_TIMEOUT 60

TestSuite(custom);

/* Runs example @prog on the test guest with kernel command line @cmdline (NULL: none). */
static void run_example(struct runner_result *r, const char *prog, const char *cmdline)
{
	const char *argv[] = { prog, CVM_GUEST, cmdline, NULL };
	struct runner_opts o = { .timeout_s = CUSTOM_TIMEOUT };
	int rc;

	if (runner_sandboxed()) {
		setenv("CVM_POLICY_DIR", CVM_POLICY_SRC, 1);
		unsetenv("CVM_NO_SANDBOX");
	} else {
		unsetenv("CVM_POLICY_DIR");
		setenv("CVM_NO_SANDBOX", "1", 1);
	}
	rc = runner_exec(r, &o, argv);
	cr_assert(rc == 0, "cannot run %s: %s", prog, r->err);
}

/* @text has a line that is exactly @line. */
static bool has_line(const char *text, const char *line)
{
	size_t n = strlen(line);

	for (const char *p = text; p && *p; p = strchr(p, '\n'), p = p ? p + 1 : NULL)
		if (!strncmp(p, line, n) && (p[n] == '\n' || p[n] == '\0'))
			return true;
	return false;
}

/* The guest writes @code (its cvm.exit, or 42 when @code_arg is NULL); custom_pio exits with it. */
static void pio_exit(const char *code_arg, unsigned int code)
{
	char cmdline[64], line[64];
	struct runner_result r;

	REQUIRE_KVM();
	snprintf(cmdline, sizeof(cmdline), "cvm.test=custom_pio%s%s", code_arg ? " cvm.exit=" : "",
		 code_arg ? code_arg : "");
	run_example(&r, CVM_EXAMPLE_PIO, cmdline);
	cr_assert_run(&r, !runner_sanitizer_report(&r), "sanitizer report");
	cr_assert_run(&r, !strstr(r.out, "FAIL "), "the guest reported a failure");
	cr_assert_run(&r, has_line(r.out, "DEBUG-EXIT ID 0x4356"), "no 'DEBUG-EXIT ID 0x4356'");
	snprintf(line, sizeof(line), "DEBUG-EXIT write %u", code);
	cr_assert_run(&r, has_line(r.out, line), "no '%s' line", line);
	cr_assert_run(&r, !strstr(r.out, "AFTER"), "the guest ran on after the exit write");
	cr_assert_run(&r, r.exited && r.status == (int)(code & 0xff), "custom_pio did not exit %u",
		      code & 0xff);
	snprintf(line, sizeof(line), "custom_pio: guest wrote %u", code);
	cr_assert_run(&r, has_line(r.err, line), "no '%s' on stderr", line);
	runner_free(&r);
}

Test(custom, pio_default_42)
{
	pio_exit(NULL, 42);
}

Test(custom, pio_exit_7)
{
	pio_exit("7", 7);
}

/* outw: all 16 bits reach the device; the exit status keeps the low byte. */
Test(custom, pio_16_bit_value)
{
	pio_exit("300", 300);
}

/* A guest that never writes the port: custom_pio says so and exits 0. */
Test(custom, pio_no_write)
{
	struct runner_result r;

	REQUIRE_KVM();
	run_example(&r, CVM_EXAMPLE_PIO, NULL);
	cr_assert_run(&r, !runner_sanitizer_report(&r), "sanitizer report");
	cr_assert_run(&r, strstr(r.out, "Hello from a libcvm guest"), "no greeting");
	cr_assert_run(&r, r.exited && r.status == 0, "custom_pio did not exit 0");
	cr_assert_run(&r, strstr(r.err, "custom_pio: the guest stopped (reset) without writing"),
		      "no 'stopped without writing' on stderr");
	runner_free(&r);
}

Test(custom, virtio_echo)
{
	static const char *const lines[] = {
		"ECHO count 0",
		"ECHO 1 used 1",
		"ECHO 100 used 100",
		"ECHO 3000 used 3000",
		"ECHO count 3",
		"ECHO 16 used 0 (no writable buffer)",
		"ECHO 100 used 0 (50 writable bytes for 100)",
		"ECHO 26 used 26",
		"ECHO count 4",
		/* The program's count, kept by the device in a MAP_SHARED page. */
		"custom_virtio: 4 requests echoed, 2 rejected (guest stopped: reset)",
	};
	struct runner_result r;

	REQUIRE_KVM();
	run_example(&r, CVM_EXAMPLE_VIRTIO, "cvm.test=custom_virtio");
	runner_assert_passed(&r, "custom_virtio");
	for (size_t i = 0; i < sizeof(lines) / sizeof(lines[0]); i++)
		cr_assert_run(&r, has_line(r.out, lines[i]), "no '%s' line", lines[i]);
	/* cvm_device_log() from the device (its own process when sandboxed). */
	cr_assert_run(&r, strstr(r.err, "echo: request of 100 bytes with room for 50: rejected"),
		      "the device's log line is missing");
	runner_free(&r);
}

/* A guest that never uses the device: nothing counted, nothing broken. */
Test(custom, virtio_unused)
{
	struct runner_result r;

	REQUIRE_KVM();
	run_example(&r, CVM_EXAMPLE_VIRTIO, NULL);
	cr_assert_run(&r, !runner_sanitizer_report(&r), "sanitizer report");
	cr_assert_run(&r, r.exited && r.status == 0, "custom_virtio did not exit 0");
	cr_assert_run(&r, strstr(r.out, "Hello from a libcvm guest"), "no greeting");
	cr_assert_run(
		&r,
		has_line(r.out,
			 "custom_virtio: 0 requests echoed, 0 rejected (guest stopped: reset)"),
		"no '0 requests echoed' line");
	runner_free(&r);
}

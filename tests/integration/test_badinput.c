// SPDX-License-Identifier: BSD-3-Clause
/*
 * `cvm run` with bad input: missing, unreadable, truncated or garbage
 * kernels, impossible sizes, bad options. Every case must end with a
 * non-zero exit status and a message on stderr, never a crash, a hang or a
 * sanitizer report.
 */
#include <criterion/criterion.h>

#include <elf.h>
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/random.h>
#include <unistd.h>

#include "runner.h"

#ifndef CVM_GUEST
#error "CVM_GUEST (path of cvm-guest.elf) must be defined"
#endif

static char *tmpdir;

static void setup(void)
{
	tmpdir = make_temp_dir();
	cr_assert(tmpdir, "cannot create a temporary directory: %s", strerror(errno));
}

static void teardown(void)
{
	rm_rf(tmpdir);
	free(tmpdir);
	tmpdir = NULL;
}

TestSuite(bad_input, .init = setup, .fini = teardown);

static char *tmp_path(const char *name)
{
	char *p;

	cr_assert(asprintf(&p, "%s/%s", tmpdir, name) > 0);
	return p;
}

/*
 * Runs cvm with @args and checks it failed cleanly: a non-zero exit status,
 * not a signal or a timeout, no sanitizer report, "cvm" and every string of
 * @needles (NULL-terminated, may be NULL) in stderr.
 */
static void expect_failure(const char *const *args, const char *const *needles)
{
	struct runner_opts o = { .timeout_s = 30 };
	struct runner_result r;

	cr_assert_eq(runner_run(&r, &o, args), 0, "cannot run %s: %s", CVM_BIN, r.err);
	cr_log_info("%s: %.*s", runner_how(&r), (int)strcspn(r.err, "\n"), r.err);
	cr_assert_run(&r, !r.timed_out, "cvm hung");
	cr_assert_run(&r, !r.signaled, "cvm crashed");
	cr_assert_run(&r, !runner_sanitizer_report(&r), "sanitizer report");
	cr_assert_run(&r, r.exited && r.status != 0, "cvm did not fail");
	cr_assert_run(&r, r.err_len > 0 && strstr(r.err, "cvm"), "no error message on stderr");
	cr_assert_run(&r, !strstr(r.out, "Hello from a libcvm guest"), "the guest ran");
	for (; needles && *needles; needles++)
		cr_assert_run(&r, strstr(r.err, *needles), "stderr does not mention '%s'",
			      *needles);
	runner_free(&r);
}

static void expect_kernel_failure(const char *kernel)
{
	const char *args[] = { "run", "-m", "64", kernel, NULL };
	const char *needles[] = { kernel, NULL };

	REQUIRE_KVM();
	expect_failure(args, needles);
}

Test(bad_input, kernel_missing)
{
	char *p = tmp_path("no-such-vmlinux");

	expect_kernel_failure(p);
	free(p);
}

Test(bad_input, kernel_is_directory)
{
	expect_kernel_failure(tmpdir);
}

Test(bad_input, kernel_empty)
{
	char *p = tmp_path("empty");

	cr_assert_eq(write_file(p, "", 0), 0);
	expect_kernel_failure(p);
	free(p);
}

/*
 * Writes cvm-guest.elf cut to @len bytes, or (@len 0) cut in the middle of
 * the file contents of its last PT_LOAD segment: a file whose headers are
 * intact but whose segments are not all there.
 */
static void truncated_guest(size_t len)
{
	size_t full;
	char *elf = read_file(CVM_GUEST, &full);
	const Elf64_Ehdr *eh = (const Elf64_Ehdr *)elf;
	char *p = tmp_path("truncated.elf");

	cr_assert(elf && full > sizeof(*eh), "cannot read %s", CVM_GUEST);
	if (!len) {
		cr_assert(eh->e_phoff + (uint64_t)eh->e_phnum * sizeof(Elf64_Phdr) <= full);
		for (unsigned int i = 0; i < eh->e_phnum; i++) {
			const Elf64_Phdr *ph = (const Elf64_Phdr *)(elf + eh->e_phoff) + i;

			if (ph->p_type == PT_LOAD && ph->p_filesz > 1)
				len = ph->p_offset + ph->p_filesz / 2;
		}
	}
	cr_assert(len > 0 && len < full);
	cr_assert_eq(write_file(p, elf, len), 0);
	expect_kernel_failure(p);
	free(p);
	free(elf);
}

Test(bad_input, kernel_truncated_header)
{
	truncated_guest(100);
}

Test(bad_input, kernel_truncated_half)
{
	truncated_guest(0);
}

Test(bad_input, kernel_garbage)
{
	char *p = tmp_path("garbage");
	char data[65536];

	cr_assert_eq(getrandom(data, sizeof(data), 0), (ssize_t)sizeof(data));
	data[0] = 'X'; /* surely neither "\177ELF" nor a bzImage */
	cr_assert_eq(write_file(p, data, sizeof(data)), 0);
	expect_kernel_failure(p);
	free(p);
}

/* Usage errors: the CLI rejects them before it opens KVM. */
static void expect_usage_error(const char *opt, const char *val, const char *needle)
{
	const char *args[] = { "run", opt, val, CVM_GUEST, NULL };
	const char *needles[] = { needle, NULL };

	expect_failure(args, needles);
}

Test(bad_input, mem_zero)
{
	expect_usage_error("-m", "0", "-m");
}

Test(bad_input, mem_one)
{
	expect_usage_error("-m", "1", "-m");
}

Test(bad_input, mem_huge)
{
	expect_usage_error("-m", "99999999", "-m");
}

Test(bad_input, mem_not_a_number)
{
	expect_usage_error("-m", "lots", "-m");
}

Test(bad_input, cpus_zero)
{
	expect_usage_error("-c", "0", "-c");
}

Test(bad_input, cpus_huge)
{
	expect_usage_error("-c", "100000", "-c");
}

Test(bad_input, kernel_argument_missing)
{
	const char *args[] = { "run", "-m", "64", NULL };

	expect_failure(args, NULL);
}

Test(bad_input, unknown_option)
{
	const char *args[] = { "run", "--no-such-option", CVM_GUEST, NULL };
	const char *needles[] = { "--no-such-option", NULL };

	expect_failure(args, needles);
}

Test(bad_input, unknown_command)
{
	const char *args[] = { "frobnicate", NULL };
	const char *needles[] = { "frobnicate", NULL };

	expect_failure(args, needles);
}

Test(bad_input, initrd_missing)
{
	char *p = tmp_path("no-such-initrd");
	const char *args[] = { "run", "-m", "64", "-i", p, CVM_GUEST, NULL };
	const char *needles[] = { p, NULL };

	REQUIRE_KVM();
	expect_failure(args, needles);
	free(p);
}

Test(bad_input, initrd_too_large)
{
	char *p = tmp_path("huge-initrd");
	const char *args[] = { "run", "-m", "64", "-i", p, CVM_GUEST, NULL };
	const char *needles[] = { p, NULL };
	int fd;

	REQUIRE_KVM();
	fd = open(p, O_WRONLY | O_CREAT | O_TRUNC, 0644);
	cr_assert_geq(fd, 0);
	cr_assert_eq(ftruncate(fd, 100 << 20), 0); /* sparse: no disk used */
	close(fd);
	expect_failure(args, needles);
	free(p);
}

Test(bad_input, initrd_is_directory)
{
	const char *args[] = { "run", "-m", "64", "-i", tmpdir, CVM_GUEST, NULL };
	const char *needles[] = { tmpdir, NULL };

	REQUIRE_KVM();
	expect_failure(args, needles);
}

/* The sandbox's policies: a device never runs unfiltered because one is missing. */
static void need_sandbox(void)
{
	REQUIRE_KVM();
	if (!runner_sandboxed())
		cr_skip_test("the sandbox is off in this run");
}

/* Copy policy/x86_64/@name.policy into the test's directory. */
static void copy_policy(const char *name)
{
	char src[4096], *dst, *text;
	size_t len;

	snprintf(src, sizeof(src), "%s/%s.policy", CVM_POLICY_SRC, name);
	text = read_file(src, &len);
	cr_assert_not_null(text, "%s", src);
	cr_assert(asprintf(&dst, "%s/%s.policy", tmpdir, name) > 0);
	cr_assert_eq(write_file(dst, text, len), 0);
	free(text);
	free(dst);
}

Test(bad_input, policy_dir_missing)
{
	char *dir = tmp_path("no-such-dir");
	const char *args[] = { "run", "-m", "64", "--seccomp-policy-dir", dir, CVM_GUEST, NULL };
	const char *needles[] = { dir, "--disable-sandbox", NULL };

	need_sandbox();
	expect_failure(args, needles);
	free(dir);
}

/* Every policy the VM needs but the rng device's. */
Test(bad_input, policy_file_missing)
{
	char *file = tmp_path("rng_device.policy");
	const char *args[] = { "run", "-m", "64", "--seccomp-policy-dir", tmpdir, CVM_GUEST, NULL };
	const char *needles[] = { file, NULL };

	need_sandbox();
	copy_policy("common_device");
	copy_policy("serial");
	copy_policy("serial_device");
	expect_failure(args, needles);
	free(file);
}

/* A syntax error is reported with its file and line, and nothing runs. */
Test(bad_input, policy_syntax_error)
{
	static const char bad[] = "@include ./common_device.policy\nfdatasync: arg0 === 1\n";
	char *disk = tmp_path("disk.img"), *pol = tmp_path("block_device.policy");
	const char *args[] = { "run",	  "-m",	      "64",	  "--seccomp-policy-dir",
			       tmpdir,	  "--no-rng", "--rwdisk", disk,
			       CVM_GUEST, NULL };
	const char *needles[] = { "block_device.policy:2", NULL };
	char zero[4096] = { 0 };

	need_sandbox();
	copy_policy("common_device");
	copy_policy("serial");
	copy_policy("serial_device");
	cr_assert_eq(write_file(disk, zero, sizeof(zero)), 0);
	cr_assert_eq(write_file(pol, bad, sizeof(bad) - 1), 0);
	expect_failure(args, needles);
	free(pol);
	free(disk);
}

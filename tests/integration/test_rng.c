// SPDX-License-Identifier: BSD-3-Clause
/*
 * virtio-rng through `cvm run`: on by default, `--no-rng` removes it,
 * `--rng` asks for it explicitly. The guest's rng test (tests/guest/t_rng.c)
 * prints "RNG <hex of 16 bytes>" for each of its four requests; rng_absent
 * passes only when there is no 1af4:1044 function.
 */
#include <criterion/criterion.h>

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "runner.h"

#ifndef CVM_GUEST
#error "CVM_GUEST (path of cvm-guest.elf) must be defined"
#endif

#define RNG_TIMEOUT 60
#define RNG_REQS 4
#define RNG_HEX 32

TestSuite(rng);

/* Runs the guest's test @test with @extra options (NULL-terminated) before the kernel. */
static void run_guest(struct runner_result *r, const char *test, const char *const *extra)
{
	struct runner_opts o = { .timeout_s = RNG_TIMEOUT };

	runner_guest(r, &o, test, extra);
}

/*
 * The four "RNG <hex>" lines of a passed rng run, into @hex: 32 lower-case
 * hex digits each, pairwise different.
 */
static void rng_lines(const struct runner_result *r, char hex[RNG_REQS][RNG_HEX + 1])
{
	const char *l = r->out;
	unsigned int n = 0;

	while (l && *l) {
		const char *end = strchr(l, '\n');
		size_t len = end ? (size_t)(end - l) : strlen(l);

		if (len == 4 + RNG_HEX && !strncmp(l, "RNG ", 4)) {
			cr_assert_run(r, n < RNG_REQS, "more than %d 'RNG <hex>' lines", RNG_REQS);
			memcpy(hex[n], l + 4, RNG_HEX);
			hex[n][RNG_HEX] = '\0';
			cr_assert_run(r, strspn(hex[n], "0123456789abcdef") == RNG_HEX,
				      "'%s' is not 32 hex digits", hex[n]);
			n++;
		}
		l = end ? end + 1 : NULL;
	}
	cr_assert_run(r, n == RNG_REQS, "%u 'RNG <hex>' lines, want %d", n, RNG_REQS);
	for (unsigned int i = 0; i < RNG_REQS; i++)
		for (unsigned int j = 0; j < i; j++)
			cr_assert_run(r, strcmp(hex[i], hex[j]), "requests %u and %u both gave %s",
				      j, i, hex[i]);
}

/* On by default; a second VM gets other bytes than the first. */
Test(rng, default_on_and_fresh_per_run)
{
	char a[RNG_REQS][RNG_HEX + 1], b[RNG_REQS][RNG_HEX + 1];
	struct runner_result r1, r2;

	REQUIRE_KVM();
	run_guest(&r1, "rng", NULL);
	runner_assert_passed(&r1, "rng");
	rng_lines(&r1, a);
	run_guest(&r2, "rng", NULL);
	runner_assert_passed(&r2, "rng");
	rng_lines(&r2, b);
	for (unsigned int i = 0; i < RNG_REQS; i++)
		for (unsigned int j = 0; j < RNG_REQS; j++)
			cr_assert(strcmp(a[i], b[j]),
				  "run 1 request %u and run 2 request %u both gave %s", i, j, a[i]);
	/* The features line: VERSION_1 and nothing device-specific offered. */
	{
		unsigned int slot, fn, nq;
		unsigned long long offered, accepted;
		char *line = find_line(r1.out, "VIRTIO ");

		cr_assert_run(&r1,
			      line && sscanf(line,
					     "VIRTIO %x.%x features offered 0x%llx accepted 0x%llx "
					     "queues %u",
					     &slot, &fn, &offered, &accepted, &nq) == 5,
			      "no 'VIRTIO slot.fn features offered X accepted Y queues N' line");
		free(line);
		cr_assert_run(&r1, (offered >> 32) & 1, "VERSION_1 not offered (0x%llx)", offered);
		cr_assert_run(&r1, !(offered & 0xffffff), "device features 0x%llx offered",
			      offered & 0xffffff);
		cr_assert_run(&r1, nq == 1, "%u queues", nq);
	}
	runner_free(&r1);
	runner_free(&r2);
}

Test(rng, explicit_rng)
{
	const char *extra[] = { "--rng", NULL };
	char hex[RNG_REQS][RNG_HEX + 1];
	struct runner_result r;

	REQUIRE_KVM();
	run_guest(&r, "rng", extra);
	runner_assert_passed(&r, "rng");
	rng_lines(&r, hex);
	runner_free(&r);
}

Test(rng, no_rng_removes_the_device)
{
	const char *extra[] = { "--no-rng", NULL };
	struct runner_result r;
	char *line;

	REQUIRE_KVM();
	run_guest(&r, "rng_absent", extra);
	runner_assert_passed(&r, "rng_absent");
	runner_free(&r);
	/* And the rng test notices the missing device: it can fail. */
	run_guest(&r, "rng", extra);
	cr_assert_run(&r, r.exited && r.status == 0, "cvm did not exit 0");
	line = find_line(r.out, "FAIL rng: ");
	cr_assert_run(&r, line, "the rng test did not fail without the device");
	free(line);
	line = find_line(r.out, "RNG ");
	cr_assert_run(&r, !line, "an RNG line without a device: %s", line);
	runner_free(&r);
}

/* rng_absent fails when the device is there: it cannot pass by accident. */
Test(rng, absent_test_fails_by_default)
{
	struct runner_result r;
	char *line;

	REQUIRE_KVM();
	run_guest(&r, "rng_absent", NULL);
	cr_assert_run(&r, r.exited && r.status == 0, "cvm did not exit 0");
	line = find_line(r.out, "FAIL rng_absent: ");
	cr_assert_run(&r, line, "rng_absent passed with the default virtio-rng present");
	free(line);
	runner_free(&r);
}

/* The last of --rng / --no-rng wins. */
Test(rng, last_option_wins)
{
	const char *on[] = { "--no-rng", "--rng", NULL };
	const char *off[] = { "--rng", "--no-rng", NULL };
	struct runner_result r;

	REQUIRE_KVM();
	run_guest(&r, "rng", on);
	runner_assert_passed(&r, "rng");
	runner_free(&r);
	run_guest(&r, "rng_absent", off);
	runner_assert_passed(&r, "rng_absent");
	runner_free(&r);
}

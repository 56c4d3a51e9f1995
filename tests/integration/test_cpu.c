// SPDX-License-Identifier: BSD-3-Clause
/*
 * Guests that stop in ways other than a clean reset: int3 with no IDT and a
 * triple fault. What happens depends on the host:
 *  - with hardware-assisted KVM the CPU shuts down (triple fault), which the
 *    VMM treats as a reset: exit status 0;
 *  - on a nested KVM that emulates guest ring 0 (our CI hosts), instructions
 *    such as int3 end in KVM_EXIT_INTERNAL_ERROR, and cvm must fail with a
 *    message naming the RIP and the instruction bytes.
 * Either is accepted; anything else (a hang, a crash, a vague message) fails.
 */
#include <criterion/criterion.h>

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "runner.h"

#ifndef CVM_GUEST
#error "CVM_GUEST (path of cvm-guest.elf) must be defined"
#endif

/*
 * Runs cvm.test=@test; the guest prints "@marker ... at 0xADDR ..." with the
 * address of the instruction that stops it, whose first byte is @byte.
 */
static void expect_stop(const char *test, const char *marker, const char *byte)
{
	const char *args[] = { "run", "-m", "64", "-p", NULL, CVM_GUEST, NULL };
	char param[64], prefix[32], want[160];
	unsigned long addr = 0;
	struct runner_result r;
	char *line, *at;

	REQUIRE_KVM();
	snprintf(param, sizeof(param), "cvm.test=%s", test);
	args[4] = param;
	cr_assert_eq(runner_run(&r, NULL, args), 0);
	cr_log_info("cvm run %s: %s", test, runner_how(&r));

	cr_assert_run(&r, !r.timed_out && !r.signaled, "cvm hung or crashed");
	cr_assert_run(&r, !runner_sanitizer_report(&r), "sanitizer report");
	snprintf(prefix, sizeof(prefix), "%s ", marker);
	line = find_line(r.out, prefix);
	at = line ? strstr(line, " at 0x") : NULL;
	cr_assert_run(&r, at && sscanf(at, " at 0x%lx", &addr) == 1,
		      "the guest did not reach the test (no '%s... at 0xADDR' line)", prefix);
	free(line);
	cr_assert_run(&r, !strstr(r.out, "PASS ") && !strstr(r.out, "FAIL "),
		      "the guest went on after the instruction");

	if (r.exited && r.status == 0) {
		/* The CPU shut down (triple fault), which the VMM treats as a reset. */
		cr_log_info("%s: the vCPU shut down and the VM reset", test);
		runner_free(&r);
		return;
	}
	cr_assert_run(&r, r.exited && r.status == 1, "cvm neither exited 0 (reset) nor 1 (error)");
	snprintf(want, sizeof(want),
		 "cvm: error: vCPU 0: KVM internal error 1 (emulation failure) at RIP 0x%lx: "
		 "instruction bytes %s",
		 addr, byte);
	cr_assert_run(&r, strstr(r.err, want), "stderr lacks '%s'", want);
	runner_free(&r);
}

Test(cpu, int3)
{
	expect_stop("int3", "INT3", "cc");
}

Test(cpu, triple_fault)
{
	expect_stop("triple_fault", "TRIPLE_FAULT", "0f 0b");
}

static void run_cpuid(struct runner_result *r, const char *disable)
{
	const char *args[] = { "run", "-m", "32",      "-p", "cvm.test=cpuid",
			       NULL,  NULL, CVM_GUEST, NULL };

	if (disable) {
		args[5] = "--cpuid-disable";
		args[6] = disable;
	} else {
		args[5] = CVM_GUEST;
		args[6] = NULL;
	}
	cr_assert_eq(runner_run(r, NULL, args), 0);
}

Test(cpu, cpuid_filtered)
{
	struct runner_result r;

	REQUIRE_KVM();
	run_cpuid(&r, NULL);
	cr_assert_run(&r, r.exited && r.status == 0, "cvm did not exit 0");
	cr_assert_run(&r, strstr(r.out, "CPUID hypervisor=1 "), "hypervisor bit not set");
	cr_assert_run(&r, strstr(r.out, "apic=0 count=1"), "APIC id / count in leaf 1");
	cr_assert_run(&r, strstr(r.out, "CPUID pmu_version=0"), "PMU leaf not cleared");
	runner_free(&r);
}

Test(cpu, cpuid_disable_cx16)
{
	struct runner_result r;

	REQUIRE_KVM();
	run_cpuid(&r, "cx16");
	cr_assert_run(&r, r.exited && r.status == 0, "cvm did not exit 0");
	cr_assert_run(&r, strstr(r.out, " cx16=0 "), "cx16 still visible to the guest");
	runner_free(&r);
}

Test(cpu, cpuid_disable_unknown)
{
	struct runner_result r;

	REQUIRE_KVM();
	run_cpuid(&r, "cx16,warpdrive");
	cr_assert_run(&r, r.exited && r.status == 1, "cvm did not exit 1");
	cr_assert_run(&r, strstr(r.err, "unknown CPUID feature \"warpdrive\""),
		      "no message naming the feature");
	cr_assert_run(&r, !strstr(r.out, "CPUID"), "the guest ran anyway");
	runner_free(&r);
}

Test(cpu, unhandled_io_reads_all_ones)
{
	const char *args[] = { "run", "-m",	 "32", "-p", "cvm.test=unhandled_io",
			       "-v",  CVM_GUEST, NULL };
	struct runner_result r;

	REQUIRE_KVM();
	cr_assert_eq(runner_run(&r, NULL, args), 0);
	cr_assert_run(&r, r.exited && r.status == 0, "cvm did not exit 0");
	cr_assert_run(&r, strstr(r.out, "PASS unhandled_io"), "guest saw other than all-ones");
	/* Logged at debug level only (-v): */
	cr_assert_run(&r, strstr(r.err, "unhandled port read 0x510"), "no debug log of the port");
	cr_assert_run(&r, strstr(r.err, "unhandled MMIO write 0xd0000000"), "no debug log (MMIO)");
	runner_free(&r);
}

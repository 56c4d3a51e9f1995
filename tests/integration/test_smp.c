// SPDX-License-Identifier: BSD-3-Clause
/*
 * SMP through `cvm run -c N`: the guest's smp test (tests/guest/t_smp.c)
 * reads the MADT, starts every AP with INIT-SIPI-SIPI into a real-mode
 * trampoline and prints "AP <apic id> up" per AP and "CPUS <n>".
 */
#include <criterion/criterion.h>

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "runner.h"

#ifndef CVM_GUEST
#error "CVM_GUEST (path of cvm-guest.elf) must be defined"
#endif

/* Everything in the guest is emulated and APs start one by one: allow time. */
#define SMP_TIMEOUT 120

static void run_smp(struct runner_result *r, const char *cpus)
{
	struct runner_opts o = { .timeout_s = SMP_TIMEOUT };
	const char *args[] = { "run", "-c", cpus, "-p", "cvm.test=smp", CVM_GUEST, NULL };

	cr_assert_eq(runner_run(r, &o, args), 0, "cannot run %s: %s", CVM_BIN, r->err);
	cr_log_info("cvm run -c %s smp: %s", cpus, runner_how(r));
}

/* The APIC ids of the "AP <id> up" lines, in order; returns how many. */
static unsigned int ap_lines(const char *out, unsigned int *ids, unsigned int max)
{
	unsigned int n = 0;

	for (const char *l = out; l && *l; l = strchr(l, '\n') ? strchr(l, '\n') + 1 : NULL) {
		unsigned int id;
		char up[3];

		if (sscanf(l, "AP %u %2s", &id, up) == 2 && !strcmp(up, "up")) {
			if (n < max)
				ids[n] = id;
			n++;
		}
	}
	return n;
}

/* A passing run with @n vCPUs: "CPUS n", n - 1 distinct "AP k up" lines, none for the BSP. */
static void assert_cpus(const struct runner_result *r, unsigned int n)
{
	unsigned int ids[64], got, rev = 0;
	unsigned long long rsdp = 0;
	char want[32];
	char *line;

	runner_assert_passed(r, "smp");
	/* Our platform's ACPI: an ACPI 2.0 RSDP in the BIOS area, XSDT -> FADT, MADT. */
	line = find_line(r->out, "ACPI RSDP ");
	cr_assert_run(r, line && sscanf(line, "ACPI RSDP 0x%llx rev %u", &rsdp, &rev) == 2,
		      "no 'ACPI RSDP addr rev n' line");
	free(line);
	cr_assert_run(r, rev == 2, "RSDP revision %u, want 2 (XSDT)", rev);
	cr_assert_run(r, rsdp >= 0xe0000 && rsdp < 0x100000 && rsdp % 16 == 0,
		      "RSDP at 0x%llx: not 16-byte aligned in 0xE0000..0xFFFFF", rsdp);
	cr_assert_run(r, strstr(r->out, "\nACPI FACP "), "no FADT ('FACP') in the XSDT");
	cr_assert_run(r, strstr(r->out, "\nACPI APIC "), "no MADT ('APIC') in the XSDT");
	snprintf(want, sizeof(want), "CPUS %u", n);
	line = find_line(r->out, "CPUS ");
	cr_assert_run(r, line && !strcmp(line, want), "want the line '%s'", want);
	free(line);
	line = find_line(r->out, "MADT cpus ");
	cr_assert_run(r, line, "no 'MADT cpus' line");
	cr_assert_run(r, (unsigned int)atoi(line + strlen("MADT cpus ")) == n,
		      "the MADT lists %s, want %u", line, n);
	free(line);
	got = ap_lines(r->out, ids, 64);
	cr_assert_run(r, got == n - 1, "%u 'AP k up' lines, want %u", got, n - 1);
	for (unsigned int i = 0; i < got && i < 64; i++) {
		cr_assert_run(r, ids[i] != 0, "an AP says it has the BSP's APIC id 0");
		for (unsigned int j = 0; j < i; j++)
			cr_assert_run(r, ids[i] != ids[j], "APIC id %u came up twice", ids[i]);
	}
}

Test(smp, one_cpu)
{
	struct runner_result r;

	REQUIRE_KVM();
	run_smp(&r, "1");
	assert_cpus(&r, 1);
	runner_free(&r);
}

Test(smp, two_cpus)
{
	struct runner_result r;

	REQUIRE_KVM();
	run_smp(&r, "2");
	assert_cpus(&r, 2);
	cr_assert_run(&r, strstr(r.out, "AP 1 up\n"), "no 'AP 1 up' line");
	runner_free(&r);
}

/*
 * Beyond KVM_CAP_NR_VCPUS (2 on our hosts) but within KVM_CAP_MAX_VCPUS:
 * either the VM runs with 3 CPUs, or cvm refuses clearly, naming the limit.
 */
Test(smp, three_cpus)
{
	struct runner_result r;

	REQUIRE_KVM();
	run_smp(&r, "3");
	cr_assert_run(&r, !r.timed_out && !r.signaled, "cvm hung or crashed");
	cr_assert_run(&r, !runner_sanitizer_report(&r), "sanitizer report");
	if (r.exited && r.status == 0) {
		assert_cpus(&r, 3);
	} else {
		cr_log_info("-c 3 refused: %.*s", (int)strcspn(r.err, "\n"), r.err);
		cr_assert_run(&r,
			      strstr(r.err, "cvm") && strstr(r.err, "3") &&
				      (strstr(r.err, "vCPU") || strstr(r.err, "CPU")),
			      "-c 3 failed without an error naming the vCPU count and limit");
		cr_assert_run(&r, !strstr(r.out, "PASS smp"), "failed after the guest passed");
	}
	runner_free(&r);
}

// SPDX-License-Identifier: BSD-3-Clause
/*
 * Boots a real Linux kernel (Debian's cloud kernel, fetched on the first
 * run) with `cvm run -m 512 -p "console=ttyS0 ..." -i initramfs vmlinux`.
 *
 * Which outcome is right depends on the host, and the test decides from
 * what it sees:
 *  - hardware-assisted KVM: the kernel boots to our /init, which prints
 *    "cvm-linux-test: init reached" and restarts the VM: exit status 0;
 *  - a nested KVM that emulates guest ring 0 (our CI hosts, see
 *    HOST-NOTES.md): the kernel gets through early boot (banner, our command
 *    line, the e820 map, "Memory: ...K/...K available") and then stops on an
 *    instruction the emulator cannot run; cvm must fail with its
 *    emulation-failure message naming RIP and the instruction bytes.
 * Anything else fails with the captured output. A failed download fails the
 * test (with the reason); only a missing /dev/kvm skips it.
 */
#include <criterion/criterion.h>

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include "runner.h"

#ifndef CVM_LINUX_DIR
#error "CVM_LINUX_DIR, CVM_FETCH_KERNEL and CVM_INITRAMFS must be defined"
#endif

#define PARAMS "console=ttyS0 earlyprintk=ttyS0 reboot=k panic=-1"
#define MEM_MIB 512

static void fetch_kernel(void)
{
	const char *argv[] = { "/bin/sh", CVM_FETCH_KERNEL, CVM_LINUX_DIR, NULL };
	struct runner_opts o = { .timeout_s = 900 };
	struct runner_result r;

	cr_assert_eq(runner_exec(&r, &o, argv), 0, "cannot run fetch-kernel.sh: %s", r.err);
	cr_log_info("fetch-kernel.sh: %s", runner_how(&r));
	cr_assert_run(&r, r.exited && r.status == 0,
		      "could not get a Linux kernel into %s (fetch-kernel.sh failed)",
		      CVM_LINUX_DIR);
	runner_free(&r);
}

/* The rest of the first line after @needle, or NULL. */
static char *after(const char *text, const char *needle)
{
	const char *p = strstr(text, needle);

	return p ? find_line(p + strlen(needle), "") : NULL;
}

Test(linux_kernel, boot, .timeout = 1100)
{
	const char *args[] = {
		"run", "-m",   "512", "-c",	     "2",
		"-p",  PARAMS, "-i",  CVM_INITRAMFS, CVM_LINUX_DIR "/vmlinux",
		NULL,
	};
	struct runner_opts o = { .timeout_s = 180 };
	unsigned long avail = 0, total = 0;
	struct runner_result r;
	struct stat st;
	char *line;

	REQUIRE_KVM();
	cr_assert_eq(stat(CVM_INITRAMFS, &st), 0, "no initramfs at %s (build linux_initramfs)",
		     CVM_INITRAMFS);
	fetch_kernel();

	cr_assert_eq(runner_run(&r, &o, args), 0, "cannot run %s: %s", CVM_BIN, r.err);
	cr_log_info("Linux under cvm: %s", runner_how(&r));
	cr_assert_run(&r, !r.signaled && !r.timed_out, "cvm was killed or hung");
	cr_assert_run(&r, !runner_sanitizer_report(&r), "sanitizer report");

	/* ACPI (the MADT) is how a distribution kernel finds the CPUs: both of them. */
	cr_assert_run(&r, strstr(r.out, "Using ACPI (MADT) for SMP configuration information"),
		      "the kernel did not take the CPUs from the MADT");
	cr_assert_run(&r, strstr(r.out, "smpboot: Allowing 2 CPUs, 0 hotplug CPUs"),
		      "the kernel does not see 2 CPUs");
	cr_assert_run(&r, strstr(r.out, "ACPI: INT_SRC_OVR (bus 0 bus_irq 0 global_irq 2"),
		      "no IRQ0 -> GSI 2 override");

	if (r.exited && r.status == 0 && strstr(r.out, "cvm-linux-test: init reached\n")) {
		cr_log_info("Linux reached /init and restarted the VM (hardware-assisted KVM)");
		runner_free(&r);
		return;
	}

	/* The nested-KVM outcome: early boot, then an emulation failure. */
	cr_assert_run(&r, strstr(r.out, "Linux version "), "no kernel banner");
	line = after(r.out, "Command line: ");
	cr_assert_run(&r, line && !strcmp(line, PARAMS), "want 'Command line: %s', got '%s'",
		      PARAMS, line ? line : "(none)");
	free(line);
	line = after(r.out, "Memory: ");
	cr_assert_run(&r, line && sscanf(line, "%luK/%luK available", &avail, &total) == 2,
		      "no 'Memory: NK/MK available' line");
	free(line);
	cr_assert_run(&r,
		      total * 1024 >= 480ULL << 20 && total * 1024 <= (unsigned long long)MEM_MIB
									      << 20,
		      "the kernel sees %luK of RAM, want 480..%u MiB", total, MEM_MIB);
	cr_log_info("the kernel saw %luK/%luK of RAM (-m %u)", avail, total, MEM_MIB);
	cr_assert_run(&r, r.exited && r.status == 1,
		      "cvm neither exited 0 with /init reached nor 1 with an emulation failure");
	cr_assert_run(&r,
		      strstr(r.err, "(emulation failure) at RIP 0x") &&
			      strstr(r.err, ": instruction bytes "),
		      "stderr lacks the emulation-failure message with RIP and instruction bytes");
	cr_log_info("Linux stopped on an instruction this host's KVM cannot emulate: %s",
		    strstr(r.err, "cvm: error:") ? strstr(r.err, "cvm: error:") : r.err);
	runner_free(&r);
}

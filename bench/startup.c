// SPDX-License-Identifier: BSD-3-Clause
/*
 * startup: benchmark 1, process start to the guest's first serial byte and
 * to the VMM's exit, side by side:
 *
 *   libcvm            cvm run -m 128 GUEST (the greeting guest; sandbox on)
 *   libcvm-nosandbox  the same with --disable-sandbox
 *   qemu-microvm      qemu-system-x86_64 -M microvm -accel kvm -m 128 ...
 *                     -device i8042 -kernel GUEST (PVH entry; the i8042
 *                     reset ends QEMU under -no-reboot)
 *   bare-kvm          barekvm --startup 128
 *   bare-kvm-irqchip  barekvm --irqchip after --startup 128: the same with the
 *                     in-kernel interrupt controllers and PIT, as libcvm has
 *
 * Round-robin: one round runs each VMM once, in that order; --warmup rounds
 * (default 1) are not counted, then -n rounds (default 20). For each run:
 * ms from fork() to the first byte on the VMM's stdout (the guest's first
 * write to COM1) and to its exit (pidfd readable, after the kernel tore the
 * VM down). Reports median, p10, p90 per VMM and the ratios libcvm/bare-kvm
 * (goal < 1.5) and libcvm/qemu-microvm (goal < 0.2) of the first byte.
 *
 *   startup [-n RUNS] [--json FILE] [common options, see --help]
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "benchlib.h"

int main(int argc, char **argv)
{
	static const char help[] = "Benchmark 1: start to the first serial byte and to exit, "
				   "libcvm vs QEMU vs bare KVM.\n";
	struct bl_opts o = { 0 };
	struct bl_result res = { .name = "startup" };
	double *first[BL_VMM_COUNT], *exit_ms[BL_VMM_COUNT];
	bool on[BL_VMM_COUNT];
	int rc = bl_parse(argc, argv, "startup", help, &o), ret = 1;

	if (rc)
		return rc == 1 ? 0 : rc;
	if (!o.runs)
		o.runs = 20;
	if (!o.mem_mib)
		o.mem_mib = 128;
	bl_signals(NULL);
	for (int v = 0; v < BL_VMM_COUNT; v++) {
		first[v] = calloc((size_t)o.runs, sizeof(double));
		exit_ms[v] = calloc((size_t)o.runs, sizeof(double));
		on[v] = v != BL_QEMU || o.qemu;
	}
	if (!on[BL_QEMU])
		printf("startup: no QEMU rows: %s\n", bl_qemu_missing());

	printf("startup: %d warm-up + %d rounds of %s%s%s, guest %d MiB\n", o.warmup, o.runs,
	       "libcvm, libcvm-nosandbox, ", on[BL_QEMU] ? "qemu-microvm, " : "",
	       "bare-kvm, bare-kvm-irqchip", o.mem_mib);
	for (int r = -o.warmup; r < o.runs; r++) {
		for (int v = 0; v < BL_VMM_COUNT; v++) {
			const char *av[40];
			char buf[256];
			double f, e;

			if (!on[v])
				continue;
			bl_vmm_argv(&o, v, o.mem_mib, false, av, buf, sizeof(buf));
			if (bl_run_once((char *const *)av, bl_vmm_name[v], bl_vmm_greeting(v),
					o.timeout_ms, &f, &e)) {
				if (!bl_signal)
					fprintf(stderr, "startup: %s, %s %d failed\n",
						bl_vmm_name[v], r < 0 ? "warm-up round" : "round",
						r < 0 ? r + o.warmup + 1 : r + 1);
				goto out;
			}
			if (o.verbose)
				printf("%s %2d %-18s first byte %7.2f ms, exit %7.2f ms\n",
				       r < 0 ? "warm-up" : "round",
				       r < 0 ? r + o.warmup + 1 : r + 1, bl_vmm_name[v], f, e);
			if (r >= 0) {
				first[v][r] = f;
				exit_ms[v][r] = e;
			}
		}
	}

	for (int v = 0; v < BL_VMM_COUNT; v++) {
		if (!on[v])
			continue;
		bl_add_row(&res, bl_vmm_name[v], "first byte", "ms", first[v], o.runs);
		bl_add_row(&res, bl_vmm_name[v], "exit", "ms", exit_ms[v], o.runs);
	}
	bl_add_ratio(&res, "libcvm", "bare-kvm", "first byte", 1.5);
	bl_add_ratio(&res, "libcvm", "qemu-microvm", "first byte", 0.2);
	bl_add_ratio(&res, "libcvm-nosandbox", "bare-kvm", "first byte", 0);
	bl_add_ratio(&res, "libcvm-nosandbox", "qemu-microvm", "first byte", 0);
	bl_add_ratio(&res, "libcvm", "bare-kvm-irqchip", "first byte", 0);
	bl_add_ratio(&res, "libcvm", "bare-kvm", "exit", 0);
	bl_add_ratio(&res, "libcvm", "bare-kvm-irqchip", "exit", 0);
	bl_add_ratio(&res, "libcvm", "qemu-microvm", "exit", 0);
	bl_note(&res,
		"Guest %d MiB; %d rounds round-robin after %d warm-up; ms from fork() to "
		"the first byte on the VMM's stdout and to its exit.",
		o.mem_mib, o.runs, o.warmup);
	if (on[BL_QEMU])
		bl_note(&res, "QEMU: -M microvm -nodefaults -device i8042, PVH entry of the "
			      "same cvm-guest.elf.");
	else
		bl_note(&res, "No QEMU rows: %s.", bl_qemu_missing());
	bl_print(&res);
	if (o.json && bl_write_json(&res, o.json))
		goto out;
	ret = 0;
out:
	for (int v = 0; v < BL_VMM_COUNT; v++) {
		free(first[v]);
		free(exit_ms[v]);
	}
	if (bl_signal) {
		fprintf(stderr, "startup: interrupted (signal %d)\n", (int)bl_signal);
		return 128 + bl_signal;
	}
	return ret;
}

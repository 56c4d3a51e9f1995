// SPDX-License-Identifier: BSD-3-Clause
/*
 * memory: benchmark 4, the memory a VMM costs beyond the guest's own RAM.
 *
 * Each VMM runs the spin guest (it prints "SPIN" and halts) with 128 MiB;
 * once "SPIN" is out (plus --settle, 100 ms) the benchmark reads, for the
 * VMM and all its descendants (cvm's device processes):
 *
 *   PSS total    sum of Pss in smaps_rollup
 *   guest RAM    Pss of the guest-RAM mappings (smaps): the pages the guest
 *                (and the VMM's loader) touched
 *   overhead     PSS total - guest RAM: what the VMM itself costs, of it
 *   overhead anon  Pss_Anon: heaps, stacks, private copies
 *   overhead file  Pss_File: its share of its binaries and libraries
 *   exclusive    resident pages mapped only by these processes, once
 *                (pagemap + kpagecount; root only)
 *   page tables  VmPTE
 *   processes    the size of the tree
 *
 * then SIGTERM. The guest RAM is identified by its memfd's name:
 * "cvm-guest-ram" (libcvm), "memory-backend-memfd" (QEMU, given
 * -object memory-backend-memfd), "barekvm-guest-ram" (barekvm --spin).
 *
 *   libcvm            cvm run -m 128 -p cvm.test=spin GUEST
 *   libcvm-nosandbox  the same with --disable-sandbox
 *   qemu-microvm      qemu-system-x86_64 -M microvm,memory-backend=m
 *                     -object memory-backend-memfd,id=m,size=128M ...
 *   bare-kvm          barekvm --spin 128
 *
 *   memory [-n RUNS] [--json FILE] [--settle MS] [common options]
 */
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

#include "benchlib.h"

static const char *const ram_names[BL_VMM_COUNT] = {
	[BL_CVM] = "/memfd:cvm-guest-ram",	    [BL_CVM_NOSB] = "/memfd:cvm-guest-ram",
	[BL_QEMU] = "/memfd:memory-backend-memfd",  [BL_BARE] = "/memfd:barekvm-guest-ram",
	[BL_BARE_IRQ] = "/memfd:barekvm-guest-ram",
};

enum { M_PSS, M_RAM, M_OTHER, M_ANON, M_FILE, M_EXCL, M_PTE, M_PROCS, M_COUNT };

static const char *const metric_names[M_COUNT] = {
	[M_PSS] = "PSS total",	    [M_RAM] = "guest RAM",	[M_OTHER] = "overhead",
	[M_ANON] = "overhead anon", [M_FILE] = "overhead file", [M_EXCL] = "exclusive",
	[M_PTE] = "page tables",    [M_PROCS] = "processes",
};

/* One run: start, wait for SPIN, settle, sample, SIGTERM. */
static int one_run(const struct bl_opts *o, enum bl_vmm v, double *m)
{
	const char *argv[40];
	char buf[256];
	struct bl_proc p;
	struct bl_mem mm;
	double deadline;
	int st;

	bl_vmm_argv(o, v, o->mem_mib, true, argv, buf, sizeof(buf));
	if (bl_spawn(&p, (char *const *)argv))
		return -1;
	deadline = p.t0 + o->timeout_ms;
	if (bl_follow(&p, "SPIN", deadline)) {
		bl_finish(&p, SIGKILL, deadline);
		bl_print_log(&p, bl_vmm_name[v]);
		bl_drop_log(&p);
		return -1;
	}
	bl_sleep_ms(o->settle_ms);
	if (bl_signal || bl_sample_memory(p.pid, ram_names[v], &mm)) {
		bl_finish(&p, SIGKILL, deadline);
		bl_drop_log(&p);
		return -1;
	}
	/* A fresh deadline for the stop: the sample may have taken a while. */
	st = bl_finish(&p, SIGTERM, bl_now_ms() + o->timeout_ms);
	if (!(WIFEXITED(st) && WEXITSTATUS(st) == 0) &&
	    !(WIFSIGNALED(st) && WTERMSIG(st) == SIGTERM)) {
		fprintf(stderr, "memory: %s did not stop cleanly on SIGTERM\n", bl_vmm_name[v]);
		bl_print_log(&p, bl_vmm_name[v]);
		bl_drop_log(&p);
		return -1;
	}
	bl_drop_log(&p);
	m[M_PSS] = mm.pss;
	m[M_RAM] = mm.ram;
	m[M_OTHER] = mm.other;
	m[M_ANON] = mm.anon;
	m[M_FILE] = mm.file;
	m[M_EXCL] = mm.excl;
	m[M_PTE] = mm.pte;
	m[M_PROCS] = mm.procs;
	return 0;
}

int main(int argc, char **argv)
{
	static const char help[] = "Benchmark 4: VMM memory beyond guest RAM (PSS), libcvm vs "
				   "QEMU vs bare KVM.\n"
				   "      --settle MS      wait after SPIN before sampling (100)\n";
	struct bl_opts o = { 0 };
	struct bl_result res = { .name = "memory" };
	double *s[BL_VMM_COUNT][M_COUNT];
	bool on[BL_VMM_COUNT], excl = true;
	int rc = bl_parse(argc, argv, "memory", help, &o), ret = 1;

	if (rc)
		return rc == 1 ? 0 : rc;
	if (!o.runs)
		o.runs = 10;
	if (!o.mem_mib)
		o.mem_mib = 128;
	bl_signals(NULL);
	for (int v = 0; v < BL_VMM_COUNT; v++) {
		for (int k = 0; k < M_COUNT; k++)
			s[v][k] = calloc((size_t)o.runs, sizeof(double));
		/* The irqchip's memory is the kernel's: nothing to see in PSS. */
		on[v] = v != BL_BARE_IRQ && (v != BL_QEMU || o.qemu);
	}
	if (!on[BL_QEMU])
		printf("memory: no QEMU rows: %s\n", bl_qemu_missing());

	printf("memory: %d warm-up + %d rounds, spin guest, %d MiB, sample %d ms after SPIN\n",
	       o.warmup, o.runs, o.mem_mib, o.settle_ms);
	for (int r = -o.warmup; r < o.runs; r++) {
		for (int v = 0; v < BL_VMM_COUNT; v++) {
			double m[M_COUNT];

			if (!on[v])
				continue;
			if (one_run(&o, v, m)) {
				if (!bl_signal)
					fprintf(stderr, "memory: %s, %s %d failed\n",
						bl_vmm_name[v], r < 0 ? "warm-up round" : "round",
						r < 0 ? r + o.warmup + 1 : r + 1);
				goto out;
			}
			if (o.verbose)
				printf("%s %2d %-18s PSS %6.0f KiB, RAM %6.0f, overhead %6.0f, "
				       "exclusive %6.0f, PTE %4.0f KiB, %.0f procs\n",
				       r < 0 ? "warm-up" : "round",
				       r < 0 ? r + o.warmup + 1 : r + 1, bl_vmm_name[v], m[M_PSS],
				       m[M_RAM], m[M_OTHER], m[M_EXCL], m[M_PTE], m[M_PROCS]);
			if (r < 0)
				continue;
			if (m[M_EXCL] < 0)
				excl = false;
			for (int k = 0; k < M_COUNT; k++)
				s[v][k][r] = m[k];
		}
	}

	for (int v = 0; v < BL_VMM_COUNT; v++) {
		if (!on[v])
			continue;
		for (int k = 0; k < M_COUNT; k++) {
			if (k == M_EXCL && !excl)
				continue;
			bl_add_row(&res, bl_vmm_name[v], metric_names[k],
				   k == M_PROCS ? "count" : "KiB", s[v][k], o.runs);
		}
	}
	bl_add_ratio(&res, "libcvm", "qemu-microvm", "overhead", 0);
	bl_add_ratio(&res, "libcvm-nosandbox", "qemu-microvm", "overhead", 0);
	bl_add_ratio(&res, "libcvm", "qemu-microvm", "overhead anon", 0);
	bl_add_ratio(&res, "libcvm", "bare-kvm", "overhead", 0);
	bl_add_ratio(&res, "libcvm", "qemu-microvm", "PSS total", 0);
	bl_note(&res,
		"Spin guest, %d MiB, sampled %d ms after SPIN; %d rounds after %d warm-up. "
		"overhead = PSS total - guest RAM (Pss of the guest-RAM memfd mappings).",
		o.mem_mib, o.settle_ms, o.runs, o.warmup);
	if (!excl)
		bl_note(&res, "No exclusive rows: /proc/kpagecount and PFNs need root, and a "
			      "process with a mapping over 1 TiB (a sanitizer's shadow) is not "
			      "walked.");
	if (on[BL_QEMU])
		bl_note(&res, "QEMU: -M microvm -nodefaults -device i8042 with "
			      "memory-backend-memfd guest RAM.");
	else
		bl_note(&res, "No QEMU rows: %s.", bl_qemu_missing());
	bl_print(&res);
	if (o.json && bl_write_json(&res, o.json))
		goto out;
	ret = 0;
out:
	for (int v = 0; v < BL_VMM_COUNT; v++)
		for (int k = 0; k < M_COUNT; k++)
			free(s[v][k]);
	if (bl_signal) {
		fprintf(stderr, "memory: interrupted (signal %d)\n", (int)bl_signal);
		return 128 + bl_signal;
	}
	return ret;
}

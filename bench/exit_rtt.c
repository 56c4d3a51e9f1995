// SPDX-License-Identifier: BSD-3-Clause
/*
 * exit_rtt: benchmark 2, the round trip of a VM exit that the VMM does
 * nothing with: guest instruction -> KVM -> the VMM's KVM_RUN returns ->
 * the VMM looks the access up and drops it -> KVM_RUN -> next instruction.
 * The guest times N such exits with its TSC and prints cycles per exit:
 *
 *   exit       ring 3 (IOPL 3): `outb %al, $0x80` (the POST port: libcvm
 *              drops writes in the VMM process, sandbox or not; QEMU too)
 *   exit_r0    the same from ring 0
 *   exit_mmio  ring 3: a 32-bit read of GPA 0xd0000000, where nothing is
 *
 * run by, round-robin (one round runs every kind on every VMM; --warmup
 * rounds, default 1, are not counted, then -n rounds, default 10):
 *
 *   libcvm            cvm run -m 64 -p "cvm.test=bench_exit cvm.n=N" GUEST
 *   libcvm-nosandbox  the same with --disable-sandbox
 *   qemu-microvm      qemu-system-x86_64 -M microvm -accel kvm -m 64 ...
 *                     -device i8042 -kernel GUEST -append "cvm.test=..."
 *   bare-kvm          BAREKVM_N=N barekvm --exit 64 (the same loop,
 *                     hand-assembled; the VMM does nothing but KVM_RUN)
 *
 * (tests/guest/t_bench.c is the guest side, bench/barekvm.c the bare one.)
 * Reports median, p10, p90 of the cycles per exit and the ratios
 * libcvm/bare-kvm (goal for ring 3 `out`: < 1.2) and libcvm/qemu-microvm.
 *
 *   exit_rtt [-n RUNS] [--exits N] [--exits-r0 N] [--kinds LIST] [--json FILE]
 *            [common options, see --help]
 */
#include <errno.h>
#include <inttypes.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <time.h>
#include <x86intrin.h>

#include "benchlib.h"

struct kind {
	const char *name;   /* the guest's BENCH kind and barekvm's mode */
	const char *metric; /* row name */
	bool r0;
	bool goal; /* libcvm/bare-kvm < 1.2 */
};

static const struct kind kinds[] = {
	{ "exit", "pio exit, ring 3", false, true },
	{ "exit_r0", "pio exit, ring 0", true, false },
	{ "exit_mmio", "mmio exit, ring 3", false, false },
};
#define NKINDS (sizeof(kinds) / sizeof(kinds[0]))

static const enum bl_vmm vmms[] = { BL_CVM, BL_CVM_NOSB, BL_QEMU, BL_BARE };
#define NVMMS (sizeof(vmms) / sizeof(vmms[0]))

#define GOAL_BARE 1.2

static const char help[] =
	"Benchmark 2: the round trip of a VM exit the VMM ignores (port 0x80,\n"
	"unassigned MMIO), in guest TSC cycles: libcvm vs QEMU vs bare KVM.\n"
	"      --exits N        exits per ring-3 run (default 20000; 2000\n"
	"                       with CVM_BENCH_QUICK=1, as bench/run --quick sets)\n"
	"      --exits-r0 N     exits per ring-0 run (default 5000; 1000 quick;\n"
	"                       ring 0 is emulated on nested KVM)\n"
	"      --kinds LIST     of exit,exit_r0,exit_mmio (default: all)\n";

/* The command line of one run; @buf holds its strings. */
static void make_argv(const struct bl_opts *o, enum bl_vmm v, const struct kind *k, unsigned long n,
		      const char **av, char *buf, size_t blen)
{
	char *mem = buf, *param = buf + 16, *mode = buf + 160;
	int i = 0;

	snprintf(mem, 16, "%d", o->mem_mib);
	snprintf(param, 144, "cvm.test=bench_%s cvm.n=%lu", k->name, n);
	snprintf(mode, blen - 160, "--%s", k->name);
	switch (v) {
	case BL_CVM:
	case BL_CVM_NOSB:
		av[i++] = o->cvm;
		av[i++] = "run";
		av[i++] = "-m";
		av[i++] = mem;
		if (v == BL_CVM_NOSB) {
			av[i++] = "--disable-sandbox";
		} else if (o->policy_dir) {
			av[i++] = "--seccomp-policy-dir";
			av[i++] = o->policy_dir;
		}
		av[i++] = "-p";
		av[i++] = param;
		av[i++] = o->guest;
		break;
	case BL_QEMU:
		i = bl_qemu_args(av, i, o->qemu, "microvm", NULL, mem);
		av[i++] = "-device"; /* the guest resets through an i8042 */
		av[i++] = "i8042";
		av[i++] = "-kernel";
		av[i++] = o->guest;
		av[i++] = "-append";
		av[i++] = param;
		break;
	default:
		av[i++] = o->barekvm;
		av[i++] = mode;
		av[i++] = mem;
		break;
	}
	av[i] = NULL;
}

/* One run: cycles per exit, or -1 (printed). */
static double run_one(const struct bl_opts *o, enum bl_vmm v, const struct kind *k, unsigned long n)
{
	const char *av[40];
	char buf[512], want[64], pass[64], nbuf[32];
	struct bl_proc p;
	double deadline;
	unsigned long long got_n, cycles;
	const char *line;
	int st;

	make_argv(o, v, k, n, av, buf, sizeof(buf));
	snprintf(want, sizeof(want), "BENCH %s N ", k->name);
	snprintf(pass, sizeof(pass), "PASS bench_%s\n", k->name);
	snprintf(nbuf, sizeof(nbuf), "%lu", n);
	setenv("BAREKVM_N", nbuf, 1); /* for barekvm */
	if (bl_spawn(&p, (char *const *)av))
		return -1;
	/* ~100 us per ring-3 exit on nested KVM; allow 2.5 times that. */
	deadline = p.t0 + o->timeout_ms + (double)n * 0.25;
	/* To its end: the guest resets (cvm, QEMU) or barekvm exits after the result. */
	if (bl_follow(&p, NULL, deadline)) {
		bl_finish(&p, SIGKILL, deadline);
		bl_print_log(&p, bl_vmm_name[v]);
		bl_drop_log(&p);
		return -1;
	}
	st = bl_finish(&p, 0, deadline);
	line = strstr(p.head, want);
	if (!line || sscanf(line + strlen(want), "%llu cycles %llu", &got_n, &cycles) != 2 ||
	    got_n != n || !strstr(p.head, pass) || !WIFEXITED(st) || WEXITSTATUS(st) != 0) {
		if (!bl_signal)
			fprintf(stderr, "exit_rtt: %s %s: status %#x, output \"%.200s\"\n",
				bl_vmm_name[v], k->name, st, p.head);
		bl_print_log(&p, bl_vmm_name[v]);
		bl_drop_log(&p);
		return -1;
	}
	bl_drop_log(&p);
	return (double)cycles / (double)n;
}

/* The TSC rate in MHz (the guests' TSC runs at the host's rate here). */
static double tsc_mhz(void)
{
	double t0 = bl_now_ms();
	uint64_t c0 = __rdtsc(), c1;

	bl_sleep_ms(100);
	c1 = __rdtsc();
	return (double)(c1 - c0) / ((bl_now_ms() - t0) * 1e3);
}

/* Takes our own options out of argv (bl_parse knows the common ones). */
static int own_options(int *argc, char **argv, unsigned long *n3, unsigned long *n0, bool *want)
{
	int j = 1;

	for (int i = 1; i < *argc; i++) {
		const char *a = argv[i];

		if ((!strcmp(a, "--exits") || !strcmp(a, "--exits-r0")) && i + 1 < *argc) {
			unsigned long v = strtoul(argv[++i], NULL, 10);

			if (!v)
				return -1;
			if (!strcmp(a, "--exits"))
				*n3 = v;
			else
				*n0 = v;
		} else if (!strcmp(a, "--kinds") && i + 1 < *argc) {
			char *list = argv[++i], *save = NULL;

			for (size_t k = 0; k < NKINDS; k++)
				want[k] = false;
			for (char *t = strtok_r(list, ",", &save); t;
			     t = strtok_r(NULL, ",", &save)) {
				size_t k = 0;

				while (k < NKINDS && strcmp(t, kinds[k].name))
					k++;
				if (k == NKINDS)
					return -1;
				want[k] = true;
			}
		} else {
			argv[j++] = argv[i];
		}
	}
	*argc = j;
	argv[j] = NULL;
	return 0;
}

int main(int argc, char **argv)
{
	struct bl_opts o = { 0 };
	static struct bl_result res = { .name = "exit_rtt" };
	unsigned long n3 = 20000, n0 = 5000;
	bool want[NKINDS], on[NVMMS];
	double *samples[NKINDS][NVMMS];
	double mhz;
	int rc, ret = 1;

	for (size_t k = 0; k < NKINDS; k++)
		want[k] = true;
	if (getenv("CVM_BENCH_QUICK") && !strcmp(getenv("CVM_BENCH_QUICK"), "1")) {
		n3 = 2000; /* bench/run --quick: a check, not a measurement */
		n0 = 1000;
	}
	if (own_options(&argc, argv, &n3, &n0, want)) {
		fprintf(stderr, "exit_rtt: bad --exits, --exits-r0 or --kinds (see --help)\n");
		return 2;
	}
	rc = bl_parse(argc, argv, "exit_rtt", help, &o);
	if (rc)
		return rc == 1 ? 0 : rc;
	if (!o.runs)
		o.runs = 10;
	if (!o.mem_mib)
		o.mem_mib = 64;
	bl_signals(NULL);
	for (size_t v = 0; v < NVMMS; v++)
		on[v] = vmms[v] != BL_QEMU || o.qemu;
	if (!o.qemu)
		printf("exit_rtt: no QEMU rows: %s\n", bl_qemu_missing());
	for (size_t k = 0; k < NKINDS; k++)
		for (size_t v = 0; v < NVMMS; v++)
			samples[k][v] = calloc((size_t)o.runs, sizeof(double));
	mhz = tsc_mhz();
	printf("exit_rtt: %d warm-up + %d rounds; %lu exits per ring-3 run, %lu per ring-0 run; "
	       "guest %d MiB; TSC %.0f MHz\n",
	       o.warmup, o.runs, n3, n0, o.mem_mib, mhz);

	for (int r = -o.warmup; r < o.runs; r++) {
		for (size_t k = 0; k < NKINDS; k++) {
			if (!want[k])
				continue;
			for (size_t i = 0; i < NVMMS; i++) {
				/* Rotate the order, so that no VMM always follows the same one. */
				size_t v = (i + (size_t)(r + o.warmup)) % NVMMS;
				unsigned long n = kinds[k].r0 ? n0 : n3;
				double c;

				if (!on[v])
					continue;
				c = run_one(&o, vmms[v], &kinds[k], n);
				if (c < 0)
					goto out;
				if (o.verbose)
					printf("  round %d %-18s %-10s %.0f cycles/exit\n", r,
					       bl_vmm_name[vmms[v]], kinds[k].name, c);
				if (r >= 0)
					samples[k][v][r] = c;
			}
		}
	}

	for (size_t k = 0; k < NKINDS; k++) {
		if (!want[k])
			continue;
		for (size_t v = 0; v < NVMMS; v++)
			if (on[v])
				bl_add_row(&res, bl_vmm_name[vmms[v]], kinds[k].metric, "cycles",
					   samples[k][v], o.runs);
	}
	for (size_t k = 0; k < NKINDS; k++) {
		if (!want[k])
			continue;
		bl_add_ratio(&res, bl_vmm_name[BL_CVM], bl_vmm_name[BL_BARE], kinds[k].metric,
			     kinds[k].goal ? GOAL_BARE : 0);
		bl_add_ratio(&res, bl_vmm_name[BL_CVM_NOSB], bl_vmm_name[BL_BARE], kinds[k].metric,
			     0);
		bl_add_ratio(&res, bl_vmm_name[BL_CVM], bl_vmm_name[BL_QEMU], kinds[k].metric, 0);
	}
	bl_note(&res,
		"Guest TSC cycles per exit (TSC %.0f MHz), %lu exits per ring-3 run and %lu per "
		"ring-0 run, one VMM process per run.",
		mhz, n3, n0);
	if (want[0]) {
		const struct bl_row *c = bl_find_row(&res, bl_vmm_name[BL_CVM], kinds[0].metric);
		const struct bl_row *b = bl_find_row(&res, bl_vmm_name[BL_BARE], kinds[0].metric);

		if (c && b && mhz > 0)
			bl_note(&res,
				"Ring-3 port exit: libcvm %.1f us, bare KVM %.1f us; the VMM's "
				"share is the difference.",
				c->s.median / mhz, b->s.median / mhz);
	}
	bl_note(&res, "On nested KVM (kvm_pvm) guest ring 0 is emulated and ring-3 port I/O "
		      "faults to the host's emulator, so both cost far more than on bare metal.");
	bl_print(&res);
	if (o.json && bl_write_json(&res, o.json))
		goto out;
	ret = 0;
out:
	for (size_t k = 0; k < NKINDS; k++)
		for (size_t v = 0; v < NVMMS; v++)
			free(samples[k][v]);
	return bl_signal ? 128 + bl_signal : ret;
}

// SPDX-License-Identifier: BSD-3-Clause
/*
 * sandbox_cost: what the device sandbox costs, measured side by side with
 * --disable-sandbox in one interleaved run (on, off, on, off, ...).
 *
 * For two device sets (the default, virtio-rng only; and rng + a 16 MiB
 * --rwdisk + vsock), RUNS times each, with the sandbox on and off:
 *
 *  - start-up: the greeting guest; ms from fork() of `cvm run` to the first
 *    byte on its standard output (the guest prints first thing) and to its
 *    exit (the guest resets);
 *  - memory: the spin guest (it prints "SPIN" and halts); once "SPIN" is out,
 *    the PSS (smaps_rollup) of cvm and all its descendants, the part of it
 *    that is guest RAM (mappings of the memfd "cvm-guest-ram" in smaps), the
 *    rest, the resident pages that no process outside the tree maps, each
 *    counted once (pagemap + kpagecount, root only: PSS also moves with
 *    what else maps the same libraries, this does not), and the page tables
 *    (VmPTE); then SIGTERM.
 *
 * Prints median [min..max] for each and the ratio of the medians on/off.
 *
 *   sandbox_cost [-n RUNS] --cvm CVM --guest ELF [--policy-dir DIR]
 *                [--mem MiB] [--warmup N] [--timeout SEC] [--settle MS] [-v]
 */
#include <errno.h>
#include <fcntl.h>
#include <getopt.h>
#include <signal.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

#include "benchlib.h"

#define MAX_PROCS 64
#define DISK_BYTES (16LL << 20)

enum metric { M_FIRST, M_EXIT, M_PSS, M_RAM, M_OTHER, M_EXCL, M_PTE, M_PROCS, M_COUNT };

static const struct {
	const char *name, *fmt;
} metrics[M_COUNT] = {
	[M_FIRST] = { "first byte (ms)", "%.2f" }, /* greeting guest: to the first byte */
	[M_EXIT] = { "exit (ms)", "%.2f" },	   /* ... and to cvm's exit */
	[M_PSS] = { "PSS total (KiB)", "%.0f" },   /* spin guest: cvm + descendants */
	[M_RAM] = { "  guest RAM (KiB)", "%.0f" }, /* the memfd "cvm-guest-ram" */
	[M_OTHER] = { "  rest (KiB)", "%.0f" },	   /* PSS - guest RAM */
	[M_EXCL] = { "exclusive (KiB)", "%.0f" },  /* pages only the tree maps, once */
	[M_PTE] = { "page tables (KiB)", "%.0f" }, /* VmPTE */
	[M_PROCS] = { "processes", "%.0f" },	   /* cvm + descendants */
};

struct bench {
	const char *cvm, *guest, *policy_dir;
	int runs, warmup, mem_mib, timeout_ms, settle_ms;
	bool verbose;
	char dir[64], disk[96], sock[96], cid[24];
};

/* One device set; samples[sandbox off/on][metric][run]. */
struct config {
	const char *name;
	bool all;
	double *samples[2][M_COUNT];
};

/* Start `cvm run` with the sandbox on or off, all devices or the default, greeting or spin. */
static int start(const struct bench *b, bool all, bool sandbox, bool spin, struct bl_proc *p)
{
	char mem[16];
	const char *argv[24];
	int n = 0;

	snprintf(mem, sizeof(mem), "%d", b->mem_mib);
	argv[n++] = b->cvm;
	argv[n++] = "run";
	argv[n++] = "-m";
	argv[n++] = mem;
	if (!sandbox) {
		argv[n++] = "--disable-sandbox";
	} else if (b->policy_dir) {
		argv[n++] = "--seccomp-policy-dir";
		argv[n++] = b->policy_dir;
	}
	if (all) {
		argv[n++] = "--rwdisk";
		argv[n++] = b->disk;
		argv[n++] = "--cid";
		argv[n++] = b->cid;
		argv[n++] = "--vsock-uds";
		argv[n++] = b->sock;
	}
	if (spin) {
		argv[n++] = "-p";
		argv[n++] = "cvm.test=spin";
	}
	argv[n++] = b->guest;
	argv[n] = NULL;
	/* A socket left by a killed run would make the bind fail. */
	unlink(b->sock);
	return bl_spawn(p, (char *const *)argv);
}

/* cvm and its device processes: benchlib's sampler, guest RAM by its memfd's name. */
static int sample_memory(pid_t root, double *m)
{
	struct bl_mem mm;

	if (bl_sample_memory(root, "/memfd:cvm-guest-ram", &mm)) {
		fprintf(stderr, "sandbox_cost: cannot read the memory of cvm %d and its devices\n",
			(int)root);
		return -1;
	}
	m[M_PSS] = mm.pss;
	m[M_RAM] = mm.ram;
	m[M_OTHER] = mm.other;
	m[M_EXCL] = mm.excl;
	m[M_PTE] = mm.pte;
	m[M_PROCS] = mm.procs;
	return 0;
}

/* After a failure: what cvm said, then forget its log. */
static int failed(struct bl_proc *p)
{
	bl_print_log(p, "cvm");
	bl_drop_log(p);
	return -1;
}

/* The greeting guest: start-up and exit times. */
static int run_greeting(const struct bench *b, bool all, bool sandbox, double *m)
{
	struct bl_proc p;
	double deadline;
	int st;

	if (start(b, all, sandbox, false, &p))
		return -1;
	deadline = p.t0 + b->timeout_ms;
	if (bl_follow(&p, NULL, deadline)) {
		bl_finish(&p, SIGKILL, deadline);
		return failed(&p);
	}
	m[M_FIRST] = p.first_ms;
	m[M_EXIT] = p.exit_ms;
	st = bl_finish(&p, 0, deadline);
	if (!WIFEXITED(st) || WEXITSTATUS(st) != 0 || m[M_FIRST] < 0) {
		fprintf(stderr, "sandbox_cost: cvm (greeting) %s %d%s\n",
			WIFEXITED(st) ? "exited with" : "killed by signal",
			WIFEXITED(st) ? WEXITSTATUS(st) : WTERMSIG(st),
			m[M_FIRST] < 0 ? ", no output" : "");
		return failed(&p);
	}
	bl_drop_log(&p);
	return 0;
}

/* The spin guest: memory once it has halted, then SIGTERM. */
static int run_spin(const struct bench *b, bool all, bool sandbox, double *m)
{
	struct bl_proc p;
	double deadline;
	int st;

	if (start(b, all, sandbox, true, &p))
		return -1;
	deadline = p.t0 + b->timeout_ms;
	if (bl_follow(&p, "SPIN", deadline)) {
		bl_finish(&p, SIGKILL, deadline);
		return failed(&p);
	}
	bl_sleep_ms(b->settle_ms);
	if (bl_signal || sample_memory(p.pid, m)) {
		bl_finish(&p, SIGKILL, deadline);
		bl_drop_log(&p);
		return -1;
	}
	/* A fresh deadline for the stop: the sample may have taken a while. */
	st = bl_finish(&p, SIGTERM, bl_now_ms() + b->timeout_ms);
	if (!WIFEXITED(st) || WEXITSTATUS(st) != 0) {
		fprintf(stderr, "sandbox_cost: cvm (spin) did not stop cleanly on SIGTERM\n");
		return failed(&p);
	}
	bl_drop_log(&p);
	return 0;
}

static void cleanup(struct bench *b)
{
	if (!b->dir[0])
		return;
	unlink(b->disk);
	unlink(b->sock);
	rmdir(b->dir);
	b->dir[0] = '\0';
}

static int setup(struct bench *b)
{
	int fd;

	strcpy(b->dir, "/tmp/sandbox_cost.XXXXXX");
	if (!mkdtemp(b->dir)) {
		perror("sandbox_cost: mkdtemp");
		b->dir[0] = '\0';
		return -1;
	}
	snprintf(b->disk, sizeof(b->disk), "%s/disk.img", b->dir);
	snprintf(b->sock, sizeof(b->sock), "%s/vsock.sock", b->dir);
	/* A CID no other VM here is likely to hold: cvm locks it host-wide. */
	snprintf(b->cid, sizeof(b->cid), "%ld", 0x10000000L + (long)getpid());
	fd = open(b->disk, O_RDWR | O_CREAT | O_EXCL | O_CLOEXEC, 0600);
	if (fd < 0 || ftruncate(fd, DISK_BYTES)) {
		perror("sandbox_cost: disk image");
		if (fd >= 0)
			close(fd);
		return -1;
	}
	close(fd);
	return 0;
}

static void cell(char *out, size_t len, const char *fmt, double med, double lo, double hi)
{
	char a[32], b[32], c[32];

	if (lo < 0) { /* not measured (exclusive without root) */
		snprintf(out, len, "n/a");
		return;
	}
	snprintf(a, sizeof(a), fmt, med);
	snprintf(b, sizeof(b), fmt, lo);
	snprintf(c, sizeof(c), fmt, hi);
	snprintf(out, len, "%s [%s..%s]", a, b, c);
}

static void print_table(const struct bench *b, struct config *cfg, int ncfg)
{
	printf("\n%d runs each, interleaved; median [min..max]; guest %d MiB\n", b->runs,
	       b->mem_mib);
	printf("%-22s %-18s %-26s %-26s %s\n", "config", "metric", "sandbox on", "sandbox off",
	       "on/off");
	for (int c = 0; c < ncfg; c++) {
		for (int m = 0; m < M_COUNT; m++) {
			struct bl_stats st[2];
			double med[2];
			char on[112], off[112];

			bl_stats(cfg[c].samples[1][m], b->runs, &st[1]);
			bl_stats(cfg[c].samples[0][m], b->runs, &st[0]);
			med[1] = st[1].median;
			med[0] = st[0].median;
			cell(on, sizeof(on), metrics[m].fmt, med[1], st[1].min, st[1].max);
			cell(off, sizeof(off), metrics[m].fmt, med[0], st[0].min, st[0].max);
			printf("%-22s %-18s %-26s %-26s ", m ? "" : cfg[c].name, metrics[m].name,
			       on, off);
			if (med[0] > 0 && med[1] >= 0)
				printf("%.2f\n", med[1] / med[0]);
			else
				printf("-\n");
		}
	}
}

static const char usage[] =
	"usage: sandbox_cost [-n RUNS] --cvm CVM --guest ELF [--policy-dir DIR]\n"
	"                    [--mem MiB] [--warmup N] [--timeout SEC] [--settle MS] [-v]\n";

int main(int argc, char **argv)
{
	static const struct option opts[] = {
		{ "runs", required_argument, NULL, 'n' },
		{ "cvm", required_argument, NULL, 'c' },
		{ "guest", required_argument, NULL, 'g' },
		{ "policy-dir", required_argument, NULL, 'p' },
		{ "mem", required_argument, NULL, 'm' },
		{ "warmup", required_argument, NULL, 'w' },
		{ "timeout", required_argument, NULL, 't' },
		{ "settle", required_argument, NULL, 's' },
		{ "verbose", no_argument, NULL, 'v' },
		{ "help", no_argument, NULL, 'h' },
		{ NULL, 0, NULL, 0 },
	};
	struct bench b = {
		.runs = 20,
		.warmup = 1,
		.mem_mib = 64,
		.timeout_ms = 10000,
		.settle_ms = 100,
	};
	struct config cfg[] = {
		{ .name = "default (rng)", .all = false },
		{ .name = "all (rng+blk+vsock)", .all = true },
	};
	const int ncfg = sizeof(cfg) / sizeof(cfg[0]);
	int o, rc = 1;

	while ((o = getopt_long(argc, argv, "n:v", opts, NULL)) != -1) {
		switch (o) {
		case 'n':
			b.runs = atoi(optarg);
			break;
		case 'c':
			b.cvm = optarg;
			break;
		case 'g':
			b.guest = optarg;
			break;
		case 'p':
			b.policy_dir = optarg;
			break;
		case 'm':
			b.mem_mib = atoi(optarg);
			break;
		case 'w':
			b.warmup = atoi(optarg);
			break;
		case 't':
			b.timeout_ms = atoi(optarg) * 1000;
			break;
		case 's':
			b.settle_ms = atoi(optarg);
			break;
		case 'v':
			b.verbose = true;
			break;
		case 'h':
			fputs(usage, stdout);
			return 0;
		default:
			fputs(usage, stderr);
			return 2;
		}
	}
	if (optind != argc || !b.cvm || !b.guest || b.runs <= 0 || b.warmup < 0 || b.mem_mib < 16 ||
	    b.timeout_ms <= 0 || b.settle_ms < 0) {
		fputs(usage, stderr);
		return 2;
	}
	if (access(b.cvm, X_OK) || access(b.guest, R_OK)) {
		fprintf(stderr, "sandbox_cost: %s: %s\n", access(b.cvm, X_OK) ? b.cvm : b.guest,
			strerror(errno));
		return 2;
	}

	bl_signals(NULL);
	setvbuf(stdout, NULL, _IOLBF, 0);

	for (int c = 0; c < ncfg; c++)
		for (int s = 0; s < 2; s++)
			for (int m = 0; m < M_COUNT; m++)
				cfg[c].samples[s][m] = calloc(b.runs, sizeof(double));
	if (setup(&b))
		goto out;

	printf("sandbox_cost: %d warm-up + %d runs of each of 2 configs x sandbox on/off\n",
	       b.warmup, b.runs);
	for (int r = -b.warmup; r < b.runs; r++) {
		for (int c = 0; c < ncfg; c++) {
			for (int sandbox = 1; sandbox >= 0; sandbox--) {
				double m[M_COUNT];

				if (run_greeting(&b, cfg[c].all, sandbox, m) ||
				    run_spin(&b, cfg[c].all, sandbox, m)) {
					if (!bl_signal)
						fprintf(stderr,
							"sandbox_cost: %s %d, %s, sandbox %s failed\n",
							r < 0 ? "warm-up run" : "run",
							r < 0 ? r + b.warmup + 1 : r + 1,
							cfg[c].name, sandbox ? "on" : "off");
					goto out;
				}
				if (b.verbose)
					printf("%s %2d %-20s sandbox %-3s: first %.2f ms, exit "
					       "%.2f ms, PSS %.0f KiB (RAM %.0f), excl. %.0f KiB, PTE %.0f KiB, "
					       "%.0f procs\n",
					       r < 0 ? "warm-up" : "run",
					       r < 0 ? r + b.warmup + 1 : r + 1, cfg[c].name,
					       sandbox ? "on" : "off", m[M_FIRST], m[M_EXIT],
					       m[M_PSS], m[M_RAM], m[M_EXCL], m[M_PTE], m[M_PROCS]);
				if (r < 0)
					continue;
				for (int i = 0; i < M_COUNT; i++)
					cfg[c].samples[sandbox][i][r] = m[i];
			}
		}
		if (bl_signal)
			goto out;
	}
	print_table(&b, cfg, ncfg);
	rc = 0;
out:
	cleanup(&b);
	for (int c = 0; c < ncfg; c++)
		for (int s = 0; s < 2; s++)
			for (int m = 0; m < M_COUNT; m++)
				free(cfg[c].samples[s][m]);
	if (bl_signal) {
		fprintf(stderr, "sandbox_cost: interrupted (signal %d)\n", (int)bl_signal);
		return 128 + bl_signal;
	}
	return rc;
}

// SPDX-License-Identifier: BSD-3-Clause
/*
 * kernel: benchmark 6, a real Linux kernel under libcvm and QEMU.
 *
 * The Debian cloud kernel of the Linux boot test (tests/linux/fetch-kernel.sh
 * puts its vmlinux into CVM_LINUX_DIR; it is fetched when missing) is booted
 * with the same command line by
 *
 *   libcvm        cvm run -m 512 --cpuid-disable cx16,xsave -p PARAMS vmlinux
 *   qemu-microvm  qemu-system-x86_64 -M microvm -accel kvm
 *                 -cpu host,-xsave,-cx16,-arch-capabilities -m 512 -nodefaults
 *                 -no-user-config -display none -serial stdio -no-reboot
 *                 -kernel vmlinux -append PARAMS
 *
 * PARAMS = "console=ttyS0 earlyprintk=ttyS0 noxsave reboot=k panic=-1". Both
 * boot the same ELF vmlinux: cvm through the 64-bit boot protocol, QEMU
 * through its PVH note (XEN_ELFNOTE_PHYS32_ENTRY, which Debian's vmlinux
 * has). On a host whose KVM emulates guest ring 0 (HOST-NOTES.md) no kernel
 * gets past int3_selftest, so the finish line is the serial line containing
 * "x86/fpu: x87 FPU will use FXSAVE", printed shortly before it; the VMM is
 * stopped there (SIGTERM, then SIGKILL).
 *
 * Per run, interleaved (libcvm, QEMU, libcvm, ...): wall time from fork() to
 * that line, the guest's own printk time stamp on it, the VMM's CPU time
 * (utime + stime of its process, /proc/PID/stat, read at the line: cvm's
 * device processes are not in it) and the serial bytes printed until then.
 *
 * Then, unless --exits 0, one more run of each VMM under `perf stat` with
 * KVM's tracepoints (root, perf and tracefs needed; the run is not timed):
 * exits to the VMM (kvm_userspace_exit), port I/O to COM1 (kvm_pio on
 * 0x3f8-0x3ff), MMIO exits (kvm_mmio) and instructions KVM emulated
 * (kvm_emulate_insn). The serial exits times --exit-us (the round trip of
 * one port-I/O exit from guest ring 0; default 15 us, HOST-NOTES.md) over
 * the wall time is the serial share of the boot.
 *
 *   kernel [-n RUNS] [--kernel VMLINUX] [--exits N] [--exit-us US] [common options]
 */
#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include "benchlib.h"

#ifndef CVM_BENCH_LINUX_DIR
#error "CVM_BENCH_LINUX_DIR and CVM_BENCH_FETCH_KERNEL must be defined"
#endif

#define PARAMS "console=ttyS0 earlyprintk=ttyS0 noxsave reboot=k panic=-1"
#define MARKER "x86/fpu: x87 FPU will use FXSAVE"
#define MEM "512"
#define DEFAULT_RUNS 3
#define DEFAULT_TIMEOUT_S 300
#define OUT_MAX (4 << 20)

static const char help[] =
	"Boots the Debian cloud kernel of the Linux test under libcvm and QEMU (microvm)\n"
	"to the serial line \"" MARKER "\", interleaved.\n"
	"      --kernel VMLINUX the ELF vmlinux (default: " CVM_BENCH_LINUX_DIR "/vmlinux,\n"
	"                       fetched by tests/linux/fetch-kernel.sh when missing)\n"
	"      --exits N        exit-counting runs per VMM under perf stat (default 1; 0: none)\n"
	"      --exit-us US     one port-I/O exit from guest ring 0, for the serial share\n"
	"                       (default 15, HOST-NOTES.md; bench/exit_rtt measures it)\n"
	"Defaults here: -n 3, --warmup 0, --timeout 300, --mem 512; with CVM_BENCH_QUICK=1\n"
	"(bench/run --quick) one run and no counting run.\n";

enum { K_CVM, K_QEMU, K_N };
static const char *const kname[K_N] = { "libcvm", "qemu-microvm" };

struct kopts {
	const char *kernel;
	int exits;
	double exit_us;
	char kbuf[4096];
};

/* What one run saw. */
struct sample {
	double wall_ms, guest_s, cpu_s, bytes;
};

/* The exit counts of one counting run (-1: not counted). */
struct counts {
	double exits, serial, mmio, emulated, wall_ms;
};

/* A process started under perf stat: the VMM is its child. */
static volatile sig_atomic_t g_vmm;

static void kill_vmm(void)
{
	pid_t pid = g_vmm;

	if (pid > 0)
		kill(pid, SIGKILL);
}

/* Take our own options out of argv; note which common ones were given. */
static int own_opts(int *argc, char **argv, struct kopts *k, bool *runs, bool *warmup,
		    bool *timeout, bool *mem)
{
	int out = 1;

	for (int i = 1; i < *argc; i++) {
		const char *a = argv[i];

		if ((!strcmp(a, "--kernel") || !strcmp(a, "--exits") || !strcmp(a, "--exit-us")) &&
		    i + 1 < *argc) {
			const char *v = argv[++i];

			if (!strcmp(a, "--kernel"))
				k->kernel = v;
			else if (!strcmp(a, "--exits"))
				k->exits = atoi(v) < 0 ? -2 : atoi(v);
			else
				k->exit_us = atof(v);
			continue;
		}
		if (!strcmp(a, "-n") || !strcmp(a, "--runs") || !strncmp(a, "--runs=", 7))
			*runs = true;
		if (!strcmp(a, "--warmup") || !strncmp(a, "--warmup=", 9))
			*warmup = true;
		if (!strcmp(a, "--timeout") || !strncmp(a, "--timeout=", 10))
			*timeout = true;
		if (!strcmp(a, "--mem") || !strncmp(a, "--mem=", 6))
			*mem = true;
		argv[out++] = argv[i];
	}
	argv[out] = NULL;
	*argc = out;
	return k->exits < -1 || k->exit_us <= 0 ? -1 : 0;
}

static bool is_elf(const char *path)
{
	unsigned char m[4];
	int fd = open(path, O_RDONLY | O_CLOEXEC);
	bool ok = fd >= 0 && read(fd, m, 4) == 4 && m[0] == 0x7f && m[1] == 'E' && m[2] == 'L' &&
		  m[3] == 'F';

	if (fd >= 0)
		close(fd);
	return ok;
}

/* Run fetch-kernel.sh into CVM_BENCH_LINUX_DIR (15 minutes at most). */
static int fetch_kernel(void)
{
	char *argv[] = { "/bin/sh", CVM_BENCH_FETCH_KERNEL, CVM_BENCH_LINUX_DIR, NULL };
	struct bl_proc p;
	int st;

	fprintf(stderr, "kernel: no vmlinux yet: %s %s\n", CVM_BENCH_FETCH_KERNEL,
		CVM_BENCH_LINUX_DIR);
	if (bl_spawn(&p, argv))
		return -1;
	if (bl_follow(&p, NULL, p.t0 + 900e3)) {
		bl_finish(&p, SIGKILL, 0);
		bl_print_log(&p, "fetch-kernel.sh");
		bl_drop_log(&p);
		return -1;
	}
	st = bl_finish(&p, 0, 0);
	if (!WIFEXITED(st) || WEXITSTATUS(st)) {
		bl_print_log(&p, "fetch-kernel.sh");
		bl_drop_log(&p);
		return -1;
	}
	bl_drop_log(&p);
	return 0;
}

/* Read the whole file once, so that no run pays for the page cache. */
static void warm_file(const char *path)
{
	char buf[1 << 16];
	int fd = open(path, O_RDONLY | O_CLOEXEC);

	if (fd < 0)
		return;
	while (read(fd, buf, sizeof(buf)) > 0)
		;
	close(fd);
}

static int vmm_argv(const struct bl_opts *o, const struct kopts *k, int which, const char **argv)
{
	int n = 0;

	if (which == K_CVM) {
		argv[n++] = o->cvm;
		argv[n++] = "run";
		argv[n++] = "-m";
		argv[n++] = MEM;
		if (o->policy_dir) {
			argv[n++] = "--seccomp-policy-dir";
			argv[n++] = o->policy_dir;
		}
		argv[n++] = "--cpuid-disable";
		argv[n++] = "cx16,xsave";
		argv[n++] = "-p";
		argv[n++] = PARAMS;
		argv[n++] = k->kernel;
	} else {
		if (!o->qemu)
			return -1;
		/* -arch-capabilities: this host's KVM refuses QEMU's MSR 0x10a value. */
		n = bl_qemu_args(argv, n, o->qemu, "microvm",
				 "host,-xsave,-cx16,-arch-capabilities", MEM);
		argv[n++] = "-kernel";
		argv[n++] = k->kernel;
		argv[n++] = "-append";
		argv[n++] = PARAMS;
	}
	argv[n] = NULL;
	return 0;
}

/* utime + stime of @pid in seconds, or -1. */
static double cpu_seconds(pid_t pid)
{
	char path[64], buf[1024], *p;
	unsigned long ut, st;
	ssize_t n;
	int fd;

	snprintf(path, sizeof(path), "/proc/%d/stat", (int)pid);
	fd = open(path, O_RDONLY | O_CLOEXEC);
	if (fd < 0)
		return -1;
	n = read(fd, buf, sizeof(buf) - 1);
	close(fd);
	if (n <= 0)
		return -1;
	buf[n] = '\0';
	p = strrchr(buf, ')');
	/* After "pid (comm)": state is field 3, utime 14, stime 15. */
	if (!p ||
	    sscanf(p + 2, "%*c %*d %*d %*d %*d %*d %*u %*u %*u %*u %*u %lu %lu", &ut, &st) != 2)
		return -1;
	return (double)(ut + st) / (double)sysconf(_SC_CLK_TCK);
}

/* The first child of @pid (perf's VMM), or 0. */
static pid_t child_of(pid_t pid)
{
	char path[64], buf[64];
	ssize_t n;
	int fd;

	snprintf(path, sizeof(path), "/proc/%d/task/%d/children", (int)pid, (int)pid);
	fd = open(path, O_RDONLY | O_CLOEXEC);
	if (fd < 0)
		return 0;
	n = read(fd, buf, sizeof(buf) - 1);
	close(fd);
	if (n <= 0)
		return 0;
	buf[n] = '\0';
	return (pid_t)atoi(buf);
}

/*
 * Follow @p's output until a whole line containing MARKER or @deadline.
 * Fills @s (wall, guest stamp, bytes; CPU of @vmm). Returns 0 or -1.
 */
static int follow(struct bl_proc *p, pid_t vmm, double deadline, struct sample *s, char **outp)
{
	size_t len = 0, cap = 1 << 16;
	char *out = malloc(cap);
	int rc = -1;

	*outp = out;
	if (!out)
		return -1;
	out[0] = '\0';
	for (;;) {
		struct pollfd f = { .fd = p->out, .events = POLLIN };
		int left = (int)(deadline - bl_now_ms()), r;
		char *m, *eol;
		ssize_t n;

		if (bl_signal)
			break;
		if (left <= 0) {
			fprintf(stderr, "kernel: timed out waiting for \"%s\"\n", MARKER);
			break;
		}
		r = poll(&f, 1, left);
		if (r < 0 && errno == EINTR)
			continue;
		if (r <= 0)
			continue;
		if (len + 4096 + 1 > cap) {
			char *bigger = cap < OUT_MAX ? realloc(out, cap * 2) : NULL;

			if (!bigger) {
				fprintf(stderr, "kernel: more than %d bytes of output\n", OUT_MAX);
				break;
			}
			out = *outp = bigger;
			cap *= 2;
		}
		n = read(p->out, out + len, 4096);
		if (n < 0 && errno == EINTR)
			continue;
		if (n <= 0) {
			fprintf(stderr, "kernel: the VMM's output ended before \"%s\"\n", MARKER);
			break;
		}
		len += (size_t)n;
		out[len] = '\0';
		m = strstr(out, MARKER);
		eol = m ? strchr(m, '\n') : NULL;
		if (eol) {
			char *bol = m;

			s->wall_ms = bl_now_ms() - p->t0;
			s->cpu_s = cpu_seconds(vmm);
			s->bytes = (double)(eol + 1 - out);
			while (bol > out && bol[-1] != '\n')
				bol--;
			if (sscanf(bol, "[ %lf]", &s->guest_s) != 1)
				s->guest_s = -1;
			rc = 0;
			break;
		}
	}
	return rc;
}

/* Show the end of what the VMM printed, after a failure. */
static void show_tail(const char *who, const char *out)
{
	size_t n = out ? strlen(out) : 0;

	if (bl_signal)
		return;
	fprintf(stderr, "kernel: the last output of %s:\n%s\n", who,
		n > 2000 ? out + n - 2000 :
		out	 ? out :
			   "");
}

static int one_run(const struct bl_opts *o, const struct kopts *k, int which, struct sample *s)
{
	const char *argv[40];
	struct bl_proc p;
	char *out = NULL;
	int rc;

	if (vmm_argv(o, k, which, argv) || bl_spawn(&p, (char *const *)argv))
		return -1;
	rc = follow(&p, p.pid, p.t0 + o->timeout_ms, s, &out);
	/* cvm stops on SIGTERM; QEMU exits (it would keep running after the int3). */
	bl_finish(&p, SIGTERM, bl_now_ms() + 5000);
	if (rc) {
		show_tail(kname[which], out);
		bl_print_log(&p, kname[which]);
	}
	bl_drop_log(&p);
	free(out);
	return rc;
}

static bool can_count(const char *perf)
{
	return perf && geteuid() == 0 &&
	       !access("/sys/kernel/tracing/events/kvm/kvm_userspace_exit", F_OK);
}

static const char *find_perf(char *buf, size_t len)
{
	const char *path = getenv("PATH");

	while (path && *path) {
		const char *end = strchr(path, ':');
		size_t n = end ? (size_t)(end - path) : strlen(path);

		snprintf(buf, len, "%.*s/perf", (int)n, path);
		if (n && !access(buf, X_OK))
			return buf;
		path += n + (end ? 1 : 0);
	}
	return NULL;
}

/* One run under perf stat; fills @c. Returns 0 or -1. */
static int count_run(const struct bl_opts *o, const struct kopts *k, const char *perf, int which,
		     struct counts *c)
{
	char statf[] = "/tmp/cvm-bench-perf.XXXXXX", line[512];
	const char *argv[64], *vargv[40];
	struct sample s = { 0 };
	struct bl_proc p;
	char *out = NULL;
	double v[4] = { -1, -1, -1, -1 };
	int n = 0, fd, rc, i = 0;
	pid_t vmm = 0;
	FILE *f;

	if (vmm_argv(o, k, which, vargv))
		return -1;
	fd = mkostemp(statf, O_CLOEXEC);
	if (fd < 0)
		return -1;
	close(fd);
	argv[n++] = perf;
	argv[n++] = "stat";
	argv[n++] = "-x,";
	argv[n++] = "-o";
	argv[n++] = statf;
	argv[n++] = "-e";
	argv[n++] = "kvm:kvm_userspace_exit";
	argv[n++] = "-e";
	argv[n++] = "kvm:kvm_pio";
	argv[n++] = "--filter";
	argv[n++] = "port >= 0x3f8 && port <= 0x3ff";
	argv[n++] = "-e";
	argv[n++] = "kvm:kvm_mmio";
	argv[n++] = "-e";
	argv[n++] = "kvm:kvm_emulate_insn";
	argv[n++] = "--";
	for (int j = 0; vargv[j]; j++)
		argv[n++] = vargv[j];
	argv[n] = NULL;
	if (bl_spawn(&p, (char *const *)argv)) {
		unlink(statf);
		return -1;
	}
	/* perf forks the VMM right away; it must not outlive us if perf dies. */
	for (int tries = 0; tries < 500 && !vmm; tries++) {
		vmm = child_of(p.pid);
		if (!vmm)
			bl_sleep_ms(2);
	}
	g_vmm = vmm;
	rc = vmm ? follow(&p, vmm, p.t0 + o->timeout_ms, &s, &out) : -1;
	if (vmm) {
		kill(vmm, SIGTERM);
		/* perf exits when the VMM has; SIGKILL both after 5 s. */
		for (int t = 0; t < 500 && !kill(vmm, 0) && child_of(p.pid) == vmm; t++)
			bl_sleep_ms(10);
		if (child_of(p.pid) == vmm)
			kill(vmm, SIGKILL);
	}
	bl_finish(&p, 0, bl_now_ms() + 5000);
	g_vmm = 0;
	if (rc)
		show_tail(kname[which], out);
	free(out);
	f = rc ? NULL : fopen(statf, "re");
	while (f && fgets(line, sizeof(line), f)) {
		if (line[0] == '#' || line[0] == '\n' || i >= 4)
			continue;
		v[i++] = strncmp(line, "<not", 4) ? atof(line) : -1;
	}
	if (f)
		fclose(f);
	if (!rc && i != 4) {
		fprintf(stderr, "kernel: perf stat wrote %d counts, want 4\n", i);
		bl_print_log(&p, "perf stat");
		rc = -1;
	}
	bl_drop_log(&p);
	unlink(statf);
	c->exits = v[0];
	c->serial = v[1];
	c->mmio = v[2];
	c->emulated = v[3];
	c->wall_ms = s.wall_ms;
	return rc;
}

int main(int argc, char **argv)
{
	struct kopts k = { .exits = 1, .exit_us = 15 };
	bool runs = false, warmup = false, timeout = false, mem = false;
	struct bl_opts o = { 0 };
	static struct bl_result res = { .name = "kernel" };
	struct sample *s[K_N];
	struct counts cnt[K_N];
	char perfbuf[4096];
	const char *perf;
	int rc, nv = K_N, total;
	bool quick, exits_given;

	k.exits = -1;
	if (own_opts(&argc, argv, &k, &runs, &warmup, &timeout, &mem)) {
		fprintf(stderr, "kernel: --exits wants N >= 0, --exit-us a positive number\n");
		return 2;
	}
	exits_given = k.exits >= 0;
	if (!exits_given)
		k.exits = 1;
	rc = bl_parse(argc, argv, "kernel", help, &o);
	if (rc)
		return rc == 1 ? 0 : rc;
	if (!runs)
		o.runs = DEFAULT_RUNS;
	if (!warmup)
		o.warmup = 0;
	/* bench/run --quick: a check that it works, not a measurement (each run is ~1.5 min). */
	quick = getenv("CVM_BENCH_QUICK") && !strcmp(getenv("CVM_BENCH_QUICK"), "1");
	if (quick) {
		o.runs = 1;
		if (!exits_given)
			k.exits = 0;
	}
	if (!timeout)
		o.timeout_ms = DEFAULT_TIMEOUT_S * 1000;
	if (mem && o.mem_mib != 512)
		fprintf(stderr, "kernel: --mem is fixed at 512 MiB here; ignored\n");
	if (!k.kernel) {
		snprintf(k.kbuf, sizeof(k.kbuf), "%s/vmlinux", CVM_BENCH_LINUX_DIR);
		k.kernel = k.kbuf;
		if (!is_elf(k.kernel) && fetch_kernel())
			return 1;
	}
	if (!is_elf(k.kernel)) {
		fprintf(stderr, "kernel: %s is not an ELF vmlinux\n", k.kernel);
		return 2;
	}
	bl_signals(kill_vmm);
	warm_file(k.kernel);
	if (!o.qemu)
		nv = 1;
	total = o.warmup + o.runs;
	for (int v = 0; v < K_N; v++)
		s[v] = calloc((size_t)total, sizeof(struct sample));
	if (!s[0] || !s[1])
		return 1;

	printf("kernel: %s, %d run(s) each (+%d warm-up), interleaved; up to \"%s\"\n", k.kernel,
	       o.runs, o.warmup, MARKER);
	for (int r = 0; r < total; r++) {
		for (int v = 0; v < nv; v++) {
			struct sample *x = &s[v][r];

			if (one_run(&o, &k, v, x)) {
				fprintf(stderr, "kernel: %s run %d failed\n", kname[v], r + 1);
				return 1;
			}
			printf("%s run %d%s: %.2f s wall, guest clock %.2f s, VMM CPU %.2f s, "
			       "%.0f serial bytes\n",
			       kname[v], r + 1, r < o.warmup ? " (warm-up)" : "", x->wall_ms / 1e3,
			       x->guest_s, x->cpu_s, x->bytes);
		}
	}
	for (int v = 0; v < nv; v++) {
		double w[total], g[total], c[total], b[total];
		int n = 0;

		for (int r = o.warmup; r < total; r++, n++) {
			w[n] = s[v][r].wall_ms / 1e3;
			g[n] = s[v][r].guest_s;
			c[n] = s[v][r].cpu_s;
			b[n] = s[v][r].bytes;
		}
		bl_add_row(&res, kname[v], "to x86/fpu line", "s", w, n);
		bl_add_row(&res, kname[v], "guest clock at line", "s", g, n);
		bl_add_row(&res, kname[v], "VMM CPU at line", "s", c, n);
		bl_add_row(&res, kname[v], "serial bytes", "B", b, n);
	}

	perf = find_perf(perfbuf, sizeof(perfbuf));
	if (k.exits && !can_count(perf)) {
		bl_note(&res, "Exits not counted: %s.",
			!perf	       ? "perf is not installed (Debian linux-perf)" :
			geteuid() != 0 ? "perf's KVM tracepoints need root" :
					 "no KVM tracepoints in /sys/kernel/tracing");
		k.exits = 0;
	}
	for (int v = 0; v < nv && k.exits; v++) {
		double e[k.exits], se[k.exits], mm[k.exits], em[k.exits];

		for (int r = 0; r < k.exits; r++) {
			if (count_run(&o, &k, perf, v, &cnt[v])) {
				fprintf(stderr, "kernel: %s counting run failed\n", kname[v]);
				return 1;
			}
			e[r] = cnt[v].exits;
			se[r] = cnt[v].serial;
			mm[r] = cnt[v].mmio;
			em[r] = cnt[v].emulated;
			printf("%s under perf stat: %.0f exits to the VMM, %.0f of them COM1 port "
			       "I/O, %.0f MMIO; %.0f instructions emulated (%.1f s to the line)\n",
			       kname[v], e[r], se[r], mm[r], em[r], cnt[v].wall_ms / 1e3);
		}
		bl_add_row(&res, kname[v], "exits to VMM", "exits", e, k.exits);
		bl_add_row(&res, kname[v], "serial exits", "exits", se, k.exits);
		bl_add_row(&res, kname[v], "MMIO exits", "exits", mm, k.exits);
		bl_add_row(&res, kname[v], "emulated instructions", "insn", em, k.exits);
	}

	bl_add_ratio(&res, kname[K_CVM], kname[K_QEMU], "to x86/fpu line", 0);
	bl_add_ratio(&res, kname[K_CVM], kname[K_QEMU], "VMM CPU at line", 0);
	if (k.exits)
		bl_add_ratio(&res, kname[K_CVM], kname[K_QEMU], "emulated instructions", 0);
	bl_note(&res,
		"The Debian cloud kernel %s, -m 512, one vCPU, up to the serial line \"%s\" "
		"(the last before int3_selftest, which this host's KVM cannot emulate); "
		"both VMMs boot the same ELF vmlinux (QEMU microvm through its PVH note).",
		k.kernel, MARKER);
	for (int v = 0; v < nv; v++) {
		const struct bl_row *w = bl_find_row(&res, kname[v], "to x86/fpu line");
		const struct bl_row *se = bl_find_row(&res, kname[v], "serial exits");
		const struct bl_row *b = bl_find_row(&res, kname[v], "serial bytes");
		double ex = se ? se->s.median : 2 * b->s.median;

		bl_note(&res, "%s: %.0f serial exits%s x %.0f us = %.2f s, %.1f%% of the %.1f s.",
			kname[v], ex, se ? "" : " (2 per byte: LSR read + THR write)", k.exit_us,
			ex * k.exit_us / 1e6, 100 * ex * k.exit_us / 1e6 / w->s.median,
			w->s.median);
	}
	if (!o.qemu)
		bl_note(&res, "QEMU %s.", bl_qemu_missing());
	bl_print(&res);
	if (o.json && bl_write_json(&res, o.json))
		return 1;
	return 0;
}

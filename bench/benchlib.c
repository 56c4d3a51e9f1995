// SPDX-License-Identifier: BSD-3-Clause
/* benchlib: see benchlib.h. Process and memory code from sandbox_cost.c. */
#include "benchlib.h"

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <getopt.h>
#include <limits.h>
#include <math.h>
#include <poll.h>
#include <stdarg.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/prctl.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#ifndef CVM_BENCH_POLICY_DIR
#define CVM_BENCH_POLICY_DIR NULL
#endif

#define MAX_PROCS 64

/* ---- clock, statistics -------------------------------------------------- */

double bl_now_ms(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (double)ts.tv_sec * 1e3 + (double)ts.tv_nsec / 1e6;
}

void bl_sleep_ms(int ms)
{
	struct timespec ts = { .tv_sec = ms / 1000, .tv_nsec = (ms % 1000) * 1000000L };

	while (nanosleep(&ts, &ts) && errno == EINTR && !bl_signal)
		;
}

static int cmp_double(const void *a, const void *b)
{
	double x = *(const double *)a, y = *(const double *)b;

	return (x > y) - (x < y);
}

static double percentile(const double *sorted, int n, double p)
{
	double pos = p * (n - 1);
	int i = (int)pos;

	if (i >= n - 1)
		return sorted[n - 1];
	return sorted[i] + (pos - i) * (sorted[i + 1] - sorted[i]);
}

void bl_stats(const double *v, int n, struct bl_stats *out)
{
	double *s, sum = 0;

	memset(out, 0, sizeof(*out));
	if (n <= 0)
		return;
	s = malloc((size_t)n * sizeof(*s));
	if (!s)
		abort();
	memcpy(s, v, (size_t)n * sizeof(*s));
	qsort(s, (size_t)n, sizeof(*s), cmp_double);
	for (int i = 0; i < n; i++)
		sum += s[i];
	out->n = n;
	out->median = percentile(s, n, 0.5);
	out->p10 = percentile(s, n, 0.1);
	out->p90 = percentile(s, n, 0.9);
	out->min = s[0];
	out->max = s[n - 1];
	out->mean = sum / n;
	free(s);
}

/* ---- options ------------------------------------------------------------- */

static const char *qemu_missing;

const char *bl_qemu_missing(void)
{
	return qemu_missing;
}

/* @buf = the directory of this program + "/" + @rel. */
static const char *beside_exe(char *buf, size_t len, const char *rel)
{
	char exe[PATH_MAX];
	ssize_t n = readlink("/proc/self/exe", exe, sizeof(exe) - 1);
	char *slash;

	if (n <= 0)
		return NULL;
	exe[n] = '\0';
	slash = strrchr(exe, '/');
	if (!slash)
		return NULL;
	*slash = '\0';
	if (strlen(exe) + 1 + strlen(rel) >= len)
		return NULL;
	strcpy(buf, exe);
	strcat(buf, "/");
	strcat(buf, rel);
	return buf;
}

static const char *env_or(const char *name, const char *dflt)
{
	const char *v = getenv(name);

	return v && *v ? v : dflt;
}

/* The first executable @name in PATH, or NULL. */
static const char *in_path(const char *name, char *buf, size_t len)
{
	const char *path = getenv("PATH");

	if (!path || !*path)
		path = "/usr/local/bin:/usr/bin:/bin";
	while (*path) {
		size_t n = strcspn(path, ":");

		snprintf(buf, len, "%.*s/%s", (int)n, n ? path : ".", name);
		if (!access(buf, X_OK))
			return buf;
		path += n;
		if (*path == ':')
			path++;
	}
	return NULL;
}

int bl_parse(int argc, char **argv, const char *prog, const char *help, struct bl_opts *o)
{
	static const struct option opts[] = {
		{ "runs", required_argument, NULL, 'n' },
		{ "warmup", required_argument, NULL, 'w' },
		{ "json", required_argument, NULL, 'j' },
		{ "cvm", required_argument, NULL, 'c' },
		{ "guest", required_argument, NULL, 'g' },
		{ "policy-dir", required_argument, NULL, 'p' },
		{ "barekvm", required_argument, NULL, 'b' },
		{ "qemu", required_argument, NULL, 'q' },
		{ "no-qemu", no_argument, NULL, 'Q' },
		{ "mem", required_argument, NULL, 'm' },
		{ "timeout", required_argument, NULL, 't' },
		{ "settle", required_argument, NULL, 's' },
		{ "cpu", required_argument, NULL, 'C' },
		{ "verbose", no_argument, NULL, 'v' },
		{ "help", no_argument, NULL, 'h' },
		{ NULL, 0, NULL, 0 },
	};
	int c;

	o->warmup = 1;
	o->timeout_ms = 10000;
	o->settle_ms = 100;
	o->cvm = env_or("CVM_BENCH_CVM", beside_exe(o->cvm_buf, sizeof(o->cvm_buf), "../cvm"));
	o->guest = env_or("CVM_BENCH_GUEST", beside_exe(o->guest_buf, sizeof(o->guest_buf),
							"../tests/guest/cvm-guest.elf"));
	o->policy_dir = env_or("CVM_BENCH_POLICY_DIR", CVM_BENCH_POLICY_DIR);
	o->barekvm = env_or("CVM_BENCH_BAREKVM",
			    beside_exe(o->bare_buf, sizeof(o->bare_buf), "barekvm"));
	o->qemu = getenv("CVM_BENCH_QEMU");
	while ((c = getopt_long(argc, argv, "n:vh", opts, NULL)) != -1) {
		switch (c) {
		case 'n':
			o->runs = atoi(optarg);
			if (o->runs <= 0)
				goto usage;
			break;
		case 'w':
			o->warmup = atoi(optarg);
			break;
		case 'j':
			o->json = optarg;
			break;
		case 'c':
			o->cvm = optarg;
			break;
		case 'g':
			o->guest = optarg;
			break;
		case 'p':
			o->policy_dir = optarg;
			break;
		case 'b':
			o->barekvm = optarg;
			break;
		case 'q':
			o->qemu = optarg;
			break;
		case 'Q':
			o->no_qemu = true;
			break;
		case 'm':
			o->mem_mib = atoi(optarg);
			if (o->mem_mib < 16)
				goto usage;
			break;
		case 't':
			o->timeout_ms = atoi(optarg) * 1000;
			if (o->timeout_ms <= 0)
				goto usage;
			break;
		case 's':
			o->settle_ms = atoi(optarg);
			break;
		case 'C':
			o->cpu = atoi(optarg);
			break;
		case 'v':
			o->verbose = true;
			break;
		case 'h':
			printf("usage: %s [options]\n%s%s", prog, help, BL_USAGE);
			return 1;
		default:
			goto usage;
		}
	}
	if (optind != argc || o->warmup < 0 || o->settle_ms < 0 || o->cpu < 0)
		goto usage;
	if (!o->cvm || access(o->cvm, X_OK) || !o->guest || access(o->guest, R_OK) || !o->barekvm ||
	    access(o->barekvm, X_OK)) {
		const char *what = !o->cvm || access(o->cvm, X_OK)     ? o->cvm :
				   !o->guest || access(o->guest, R_OK) ? o->guest :
									 o->barekvm;

		fprintf(stderr, "%s: %s: %s\n", prog, what ? what : "(path unknown)",
			strerror(what ? errno : ENOENT));
		return 2;
	}
	if (o->no_qemu) {
		o->qemu = NULL;
		qemu_missing = "left out (--no-qemu)";
	} else if (o->qemu && *o->qemu) {
		if (access(o->qemu, X_OK)) {
			fprintf(stderr, "%s: %s: %s\n", prog, o->qemu, strerror(errno));
			return 2;
		}
	} else {
		o->qemu = in_path("qemu-system-x86_64", o->qemu_buf, sizeof(o->qemu_buf));
		if (!o->qemu)
			qemu_missing = "qemu-system-x86_64 not found in PATH (Debian package "
				       "qemu-system-x86)";
	}
	return 0;
usage:
	fprintf(stderr, "usage: %s [options]\n%s%s", prog, help, BL_USAGE);
	return 2;
}

/* ---- the VMMs compared ---------------------------------------------------- */

const char *const bl_vmm_name[BL_VMM_COUNT] = {
	[BL_CVM] = "libcvm",	[BL_CVM_NOSB] = "libcvm-nosandbox", [BL_QEMU] = "qemu-microvm",
	[BL_BARE] = "bare-kvm", [BL_BARE_IRQ] = "bare-kvm-irqchip",
};

const char *bl_vmm_greeting(enum bl_vmm v)
{
	return v == BL_BARE || v == BL_BARE_IRQ ? "B" : "Hello from a libcvm guest!";
}

int bl_qemu_args(const char **argv, int n, const char *qemu, const char *machine, const char *cpu,
		 const char *mem)
{
	argv[n++] = qemu;
	argv[n++] = "-M";
	argv[n++] = machine;
	argv[n++] = "-accel";
	argv[n++] = "kvm";
	if (cpu) {
		argv[n++] = "-cpu";
		argv[n++] = cpu;
	}
	argv[n++] = "-m";
	argv[n++] = mem;
	argv[n++] = "-nodefaults";
	argv[n++] = "-no-user-config";
	argv[n++] = "-display";
	argv[n++] = "none";
	argv[n++] = "-serial";
	argv[n++] = "stdio";
	argv[n++] = "-no-reboot";
	return n;
}

int bl_vmm_argv(const struct bl_opts *o, enum bl_vmm v, int mem_mib, bool spin, const char **argv,
		char *buf, size_t blen)
{
	char *mem = buf, *backend = buf + 16;
	int n = 0;

	if (blen < 128)
		return -1;
	snprintf(mem, 16, "%d", mem_mib);
	switch (v) {
	case BL_CVM:
	case BL_CVM_NOSB:
		argv[n++] = o->cvm;
		argv[n++] = "run";
		argv[n++] = "-m";
		argv[n++] = mem;
		if (v == BL_CVM_NOSB) {
			argv[n++] = "--disable-sandbox";
		} else if (o->policy_dir) {
			argv[n++] = "--seccomp-policy-dir";
			argv[n++] = o->policy_dir;
		}
		if (spin) {
			argv[n++] = "-p";
			argv[n++] = "cvm.test=spin";
		}
		argv[n++] = o->guest;
		break;
	case BL_QEMU:
		if (!o->qemu)
			return -1;
		n = bl_qemu_args(argv, n, o->qemu, spin ? "microvm,memory-backend=m" : "microvm",
				 NULL, mem);
		if (spin) {
			/* Guest RAM the memory benchmark can tell by its name. */
			snprintf(backend, blen - 16, "memory-backend-memfd,id=m,size=%dM", mem_mib);
			argv[n++] = "-object";
			argv[n++] = backend;
		}
		/* microvm has no i8042 of its own; the guest resets through one. */
		argv[n++] = "-device";
		argv[n++] = "i8042";
		argv[n++] = "-kernel";
		argv[n++] = o->guest;
		if (spin) {
			argv[n++] = "-append";
			argv[n++] = "cvm.test=spin";
		}
		break;
	case BL_BARE:
	case BL_BARE_IRQ:
		argv[n++] = o->barekvm;
		if (v == BL_BARE_IRQ) {
			argv[n++] = "--irqchip";
			argv[n++] = "after";
		}
		argv[n++] = spin ? "--spin" : "--startup";
		argv[n++] = mem;
		break;
	default:
		return -1;
	}
	argv[n] = NULL;
	return 0;
}

/* ---- signals ------------------------------------------------------------- */

volatile sig_atomic_t bl_signal;
static volatile sig_atomic_t g_child;
static void (*g_hook)(void);

void bl_interrupt(int sig)
{
	pid_t pid = g_child;

	bl_signal = sig;
	if (pid > 0)
		kill(pid, SIGKILL);
	if (g_hook)
		g_hook();
}

void bl_signals(void (*hook)(void))
{
	struct sigaction sa = { .sa_handler = bl_interrupt };

	g_hook = hook;
	sigemptyset(&sa.sa_mask);
	sigaction(SIGINT, &sa, NULL);
	sigaction(SIGTERM, &sa, NULL);
	sigaction(SIGHUP, &sa, NULL);
	setvbuf(stdout, NULL, _IOLBF, 0);
}

/* ---- one VMM process ----------------------------------------------------- */

int bl_spawn(struct bl_proc *p, char *const argv[])
{
	int out[2], log;
	pid_t parent = getpid();

	memset(p, 0, sizeof(*p));
	p->pid = -1;
	p->pidfd = p->out = -1;
	p->first_ms = p->exit_ms = -1;
	strcpy(p->log, "/tmp/cvm-bench-log.XXXXXX");
	log = mkostemp(p->log, O_CLOEXEC);
	if (log < 0) {
		perror("bench: mkostemp");
		p->log[0] = '\0';
		return -1;
	}
	if (pipe2(out, O_CLOEXEC)) {
		perror("bench: pipe");
		close(log);
		unlink(p->log);
		return -1;
	}
	p->t0 = bl_now_ms();
	p->pid = fork();
	if (p->pid < 0) {
		perror("bench: fork");
		close(out[0]);
		close(out[1]);
		close(log);
		unlink(p->log);
		return -1;
	}
	if (p->pid == 0) {
		int null = open("/dev/null", O_RDONLY);

		/* The VMM (and through it its devices) must not outlive us. */
		prctl(PR_SET_PDEATHSIG, SIGKILL);
		if (getppid() != parent)
			_exit(127);
		if (null < 0 || dup2(null, 0) < 0 || dup2(out[1], 1) < 0 || dup2(log, 2) < 0)
			_exit(127);
		execv(argv[0], argv);
		dprintf(2, "exec %s: %s\n", argv[0], strerror(errno));
		_exit(127);
	}
	g_child = p->pid;
	close(out[1]);
	close(log);
	p->out = out[0];
	p->pidfd = (int)syscall(SYS_pidfd_open, p->pid, 0);
	if (p->pidfd < 0) {
		perror("bench: pidfd_open");
		kill(p->pid, SIGKILL);
		waitpid(p->pid, NULL, 0);
		g_child = 0;
		close(p->out);
		unlink(p->log);
		return -1;
	}
	return 0;
}

int bl_follow(struct bl_proc *p, const char *needle, double deadline)
{
	char buf[512];
	bool eof = false;

	while (!eof || !p->gone) {
		struct pollfd f[2] = {
			{ .fd = eof ? -1 : p->out, .events = POLLIN },
			{ .fd = p->gone ? -1 : p->pidfd, .events = POLLIN },
		};
		int left = (int)(deadline - bl_now_ms()), r;

		if (bl_signal)
			return -1;
		if (left <= 0) {
			fprintf(stderr, "bench: %s (pid %d): timed out%s%s\n", "VMM", (int)p->pid,
				needle ? " waiting for " : "", needle ? needle : "");
			return -1;
		}
		r = poll(f, 2, left);
		if (r < 0 && errno == EINTR)
			continue;
		if (r < 0) {
			perror("bench: poll");
			return -1;
		}
		if (f[1].revents) {
			p->exit_ms = bl_now_ms() - p->t0;
			p->gone = true;
		}
		if (f[0].revents) {
			ssize_t n = read(p->out, buf, sizeof(buf));

			if (n < 0 && errno == EINTR)
				continue;
			if (n <= 0) {
				eof = true;
				continue;
			}
			if (p->first_ms < 0)
				p->first_ms = bl_now_ms() - p->t0;
			if (p->head_len + 1 < sizeof(p->head)) {
				size_t k = sizeof(p->head) - 1 - p->head_len;

				if (k > (size_t)n)
					k = (size_t)n;
				memcpy(p->head + p->head_len, buf, k);
				p->head_len += k;
				p->head[p->head_len] = '\0';
			}
			if (needle && strstr(p->head, needle))
				return 0;
		}
	}
	if (needle) {
		fprintf(stderr, "bench: VMM (pid %d) exited before %s\n", (int)p->pid, needle);
		return -1;
	}
	return 0;
}

int bl_finish(struct bl_proc *p, int sig, double deadline)
{
	int status = 0;

	if (p->pid <= 0)
		return -1;
	if (!p->gone && sig) {
		kill(p->pid, sig);
		/* Wait for a clean stop until the deadline, then SIGKILL. */
		while (sig != SIGKILL) {
			struct pollfd f = { .fd = p->pidfd, .events = POLLIN };
			int left = (int)(deadline - bl_now_ms());

			if (left <= 0) {
				fprintf(stderr, "bench: pid %d did not exit after signal %d\n",
					(int)p->pid, sig);
				kill(p->pid, SIGKILL);
				break;
			}
			if (poll(&f, 1, left) > 0)
				break;
		}
	}
	while (waitpid(p->pid, &status, 0) < 0 && errno == EINTR)
		;
	g_child = 0;
	close(p->pidfd);
	close(p->out);
	p->pid = -1;
	return status;
}

void bl_print_log(const struct bl_proc *p, const char *who)
{
	char buf[4096];
	int fd;
	ssize_t n;

	if (bl_signal || !p->log[0])
		return;
	fd = open(p->log, O_RDONLY | O_CLOEXEC);
	if (fd < 0)
		return;
	fprintf(stderr, "bench: %s's standard error:\n", who);
	while ((n = read(fd, buf, sizeof(buf))) > 0)
		fwrite(buf, 1, (size_t)n, stderr);
	close(fd);
}

void bl_drop_log(struct bl_proc *p)
{
	if (p->log[0])
		unlink(p->log);
	p->log[0] = '\0';
}

int bl_run_once(char *const argv[], const char *who, const char *expect, int timeout_ms,
		double *first_ms, double *exit_ms)
{
	struct bl_proc p;
	double deadline;
	int st;

	if (bl_spawn(&p, argv))
		return -1;
	deadline = p.t0 + timeout_ms;
	if (bl_follow(&p, NULL, deadline)) {
		bl_finish(&p, SIGKILL, deadline);
		bl_print_log(&p, who);
		bl_drop_log(&p);
		return -1;
	}
	st = bl_finish(&p, 0, deadline);
	if (!WIFEXITED(st) || WEXITSTATUS(st) != 0 || p.first_ms < 0 ||
	    (expect && !strstr(p.head, expect))) {
		if (!bl_signal) {
			fprintf(stderr, "bench: %s %s %d", who,
				WIFEXITED(st) ? "exited with" : "killed by signal",
				WIFEXITED(st) ? WEXITSTATUS(st) : WTERMSIG(st));
			if (p.first_ms < 0)
				fprintf(stderr, ", no output\n");
			else if (expect && !strstr(p.head, expect))
				fprintf(stderr, ", output without \"%s\": \"%.*s\"\n", expect, 80,
					p.head);
			else
				fprintf(stderr, "\n");
		}
		bl_print_log(&p, who);
		bl_drop_log(&p);
		return -1;
	}
	bl_drop_log(&p);
	*first_ms = p.first_ms;
	*exit_ms = p.exit_ms;
	return 0;
}

/* ---- memory of a process tree -------------------------------------------- */

/* The pids of @root and all its descendants (via task/<tid>/children). */
static int tree(pid_t root, pid_t *pids, int max)
{
	int n = 0;

	pids[n++] = root;
	for (int i = 0; i < n; i++) {
		char path[64];
		struct dirent *d;
		DIR *dir;

		snprintf(path, sizeof(path), "/proc/%d/task", (int)pids[i]);
		dir = opendir(path);
		if (!dir)
			return -1;
		while ((d = readdir(dir))) {
			char cpath[384];
			FILE *f;
			int c;

			if (d->d_name[0] == '.')
				continue;
			snprintf(cpath, sizeof(cpath), "%s/%s/children", path, d->d_name);
			f = fopen(cpath, "re");
			if (!f)
				continue; /* the thread ended */
			while (fscanf(f, "%d", &c) == 1) {
				if (n == max) {
					fclose(f);
					closedir(dir);
					return -1;
				}
				pids[n++] = c;
			}
			fclose(f);
		}
		closedir(dir);
	}
	return n;
}

/* The value in kB of the first line of /proc/<pid>/<file> starting with @key. */
static long proc_kb(pid_t pid, const char *file, const char *key)
{
	char path[64], line[256];
	size_t klen = strlen(key);
	long v = -1;
	FILE *f;

	snprintf(path, sizeof(path), "/proc/%d/%s", (int)pid, file);
	f = fopen(path, "re");
	if (!f)
		return -1;
	while (fgets(line, sizeof(line), f)) {
		if (!strncmp(line, key, klen)) {
			v = strtol(line + klen, NULL, 10);
			break;
		}
	}
	fclose(f);
	return v;
}

/* Pss in kB of @pid's mappings whose name contains @name. */
static long ram_pss(pid_t pid, const char *name)
{
	char path[64], line[512];
	bool in_ram = false;
	long sum = 0;
	FILE *f;

	snprintf(path, sizeof(path), "/proc/%d/smaps", (int)pid);
	f = fopen(path, "re");
	if (!f)
		return -1;
	while (fgets(line, sizeof(line), f)) {
		unsigned long lo, hi;
		int end = 0;

		/* Mapping headers start "lo-hi perms"; fields "Name: value kB". */
		if (sscanf(line, "%lx-%lx %n", &lo, &hi, &end) == 2 && end > 0)
			in_ram = strstr(line, name) != NULL;
		else if (in_ram && !strncmp(line, "Pss:", 4))
			sum += strtol(line + 4, NULL, 10);
		if (!strchr(line, '\n')) { /* a long path: skip the rest of the line */
			int c;

			while ((c = fgetc(f)) != EOF && c != '\n')
				;
		}
	}
	fclose(f);
	return sum;
}

static int cmp_u64(const void *a, const void *b)
{
	uint64_t x = *(const uint64_t *)a, y = *(const uint64_t *)b;

	return (x > y) - (x < y);
}

/* Append the frame numbers of @pid's resident pages to *pfns. */
static int add_pfns(pid_t pid, uint64_t **pfns, size_t *n, size_t *cap)
{
	char path[64], line[512];
	uint64_t buf[512];
	FILE *maps;
	int pm;

	snprintf(path, sizeof(path), "/proc/%d/maps", (int)pid);
	maps = fopen(path, "re");
	snprintf(path, sizeof(path), "/proc/%d/pagemap", (int)pid);
	pm = open(path, O_RDONLY | O_CLOEXEC);
	if (!maps || pm < 0) {
		if (maps)
			fclose(maps);
		if (pm >= 0)
			close(pm);
		return -1;
	}
	while (fgets(line, sizeof(line), maps)) {
		unsigned long lo, hi;

		if (sscanf(line, "%lx-%lx", &lo, &hi) == 2 && hi - lo > (1UL << 40))
			goto fail; /* AddressSanitizer's shadow: too big to walk */
		if (sscanf(line, "%lx-%lx", &lo, &hi) == 2 && !strstr(line, "[vsyscall]")) {
			for (unsigned long pg = lo / 4096; pg < hi / 4096;) {
				size_t want = hi / 4096 - pg;
				ssize_t got;

				if (want > sizeof(buf) / sizeof(buf[0]))
					want = sizeof(buf) / sizeof(buf[0]);
				got = pread(pm, buf, want * 8, (off_t)(pg * 8));
				if (got <= 0)
					break;
				for (ssize_t i = 0; i < got / 8; i++) {
					uint64_t pfn = buf[i] & ((1ULL << 55) - 1);

					if (!(buf[i] >> 63) || !pfn) /* absent, or no PFN for us */
						continue;
					if (*n == *cap) {
						uint64_t *p = realloc(*pfns, (*cap * 2 + 1024) * 8);

						if (!p)
							goto fail;
						*pfns = p;
						*cap = *cap * 2 + 1024;
					}
					(*pfns)[(*n)++] = pfn;
				}
				pg += (unsigned long)got / 8;
			}
		}
		if (!strchr(line, '\n')) {
			int c;

			while ((c = fgetc(maps)) != EOF && c != '\n')
				;
		}
	}
	fclose(maps);
	close(pm);
	return 0;
fail:
	fclose(maps);
	close(pm);
	return -1;
}

/*
 * KiB of resident pages mapped by the processes @pids and by no other
 * process, each page counted once. Needs root (PFNs, /proc/kpagecount);
 * -1 when they are not readable, or a mapping is over 1 TiB (a sanitizer's
 * shadow memory). Kernel memory is not in it.
 */
static double exclusive_kb(const pid_t *pids, int npids)
{
	uint64_t *pfns = NULL;
	size_t n = 0, cap = 0, excl = 0;
	int kpc = open("/proc/kpagecount", O_RDONLY | O_CLOEXEC);

	if (kpc < 0)
		return -1;
	for (int i = 0; i < npids; i++) {
		if (add_pfns(pids[i], &pfns, &n, &cap)) {
			free(pfns);
			close(kpc);
			return -1;
		}
	}
	if (n)
		qsort(pfns, n, sizeof(*pfns), cmp_u64);
	for (size_t i = 0, j; i < n; i = j) {
		uint64_t count;

		for (j = i + 1; j < n && pfns[j] == pfns[i]; j++)
			;
		/* Mapped j - i times in the tree; by anyone else too? */
		if (pread(kpc, &count, 8, (off_t)(pfns[i] * 8)) == 8 && count > 0 && count <= j - i)
			excl++;
	}
	free(pfns);
	close(kpc);
	return n ? (double)excl * 4 : -1;
}

int bl_sample_memory(pid_t root, const char *ram_name, struct bl_mem *m)
{
	pid_t pids[MAX_PROCS];
	int n = tree(root, pids, MAX_PROCS);
	long pss = 0, ram = 0, pte = 0, anon = 0, file = 0;

	if (n < 0) {
		fprintf(stderr, "bench: cannot list the processes of %d\n", (int)root);
		return -1;
	}
	for (int i = 0; i < n; i++) {
		long p = proc_kb(pids[i], "smaps_rollup", "Pss:");
		long r = ram_pss(pids[i], ram_name);
		long t = proc_kb(pids[i], "status", "VmPTE:");
		long a = proc_kb(pids[i], "smaps_rollup", "Pss_Anon:");
		long f = proc_kb(pids[i], "smaps_rollup", "Pss_File:");

		if (p < 0 || r < 0 || t < 0) {
			fprintf(stderr, "bench: cannot read /proc/%d/smaps*: %s\n", (int)pids[i],
				strerror(errno));
			return -1;
		}
		pss += p;
		ram += r;
		pte += t;
		anon += a > 0 ? a : 0; /* Pss_Anon/Pss_File: Linux 5.14 and later */
		file += f > 0 ? f : 0;
	}
	m->pss = (double)pss;
	m->ram = (double)ram;
	m->other = (double)(pss - ram);
	m->anon = (double)anon;
	m->file = (double)file;
	m->excl = exclusive_kb(pids, n);
	m->pte = (double)pte;
	m->procs = n;
	return 0;
}

/* ---- results ------------------------------------------------------------- */

static void copy(char *dst, size_t len, const char *src)
{
	snprintf(dst, len, "%s", src);
}

void bl_add_row(struct bl_result *r, const char *vmm, const char *metric, const char *unit,
		const double *samples, int n)
{
	struct bl_row *row;

	if (r->nrows == BL_MAX_ROWS || n <= 0)
		return;
	row = &r->rows[r->nrows++];
	copy(row->vmm, sizeof(row->vmm), vmm);
	copy(row->metric, sizeof(row->metric), metric);
	copy(row->unit, sizeof(row->unit), unit);
	bl_stats(samples, n, &row->s);
}

const struct bl_row *bl_find_row(const struct bl_result *r, const char *vmm, const char *metric)
{
	for (int i = 0; i < r->nrows; i++)
		if (!strcmp(r->rows[i].vmm, vmm) && !strcmp(r->rows[i].metric, metric))
			return &r->rows[i];
	return NULL;
}

void bl_add_ratio(struct bl_result *r, const char *num, const char *den, const char *metric,
		  double goal_max)
{
	const struct bl_row *a = bl_find_row(r, num, metric), *b = bl_find_row(r, den, metric);
	struct bl_ratio *q;

	if (r->nratios == BL_MAX_RATIOS)
		return;
	q = &r->ratios[r->nratios++];
	snprintf(q->name, sizeof(q->name), "%s/%s %s", num, den, metric);
	q->value = a && b && b->s.median > 0 ? a->s.median / b->s.median : -1;
	q->goal_max = goal_max;
	q->goal[0] = '\0';
	if (goal_max > 0)
		snprintf(q->goal, sizeof(q->goal), "< %g", goal_max);
}

void bl_note(struct bl_result *r, const char *fmt, ...)
{
	size_t len = strlen(r->notes);
	va_list ap;

	if (len && len + 1 < sizeof(r->notes))
		r->notes[len++] = ' ';
	r->notes[len] = '\0';
	va_start(ap, fmt);
	vsnprintf(r->notes + len, sizeof(r->notes) - len, fmt, ap);
	va_end(ap);
}

static const char *num(char *buf, size_t len, double v)
{
	double a = fabs(v);

	snprintf(buf, len, a >= 1000 ? "%.0f" : a >= 10 ? "%.1f" : "%.2f", v);
	return buf;
}

void bl_print(const struct bl_result *r)
{
	char a[32], b[32], c[32];

	printf("\n%s\n%-27s %-20s %-6s %10s %10s %10s %5s\n", r->name, "vmm", "metric", "unit",
	       "median", "p10", "p90", "n");
	for (int i = 0; i < r->nrows; i++) {
		const struct bl_row *w = &r->rows[i];

		printf("%-27s %-20s %-6s %10s %10s %10s %5d\n", w->vmm, w->metric, w->unit,
		       num(a, sizeof(a), w->s.median), num(b, sizeof(b), w->s.p10),
		       num(c, sizeof(c), w->s.p90), w->s.n);
	}
	if (r->nratios)
		printf("%-55s %10s %8s\n", "ratio of the medians", "value", "goal");
	for (int i = 0; i < r->nratios; i++) {
		const struct bl_ratio *q = &r->ratios[i];

		if (q->value < 0)
			snprintf(a, sizeof(a), "n/a");
		else
			snprintf(a, sizeof(a), "%.3g", q->value);
		if (q->goal_max > 0)
			printf("%-55s %10s %8s%s\n", q->name, a, q->goal,
			       q->value < 0	      ? "" :
			       q->value < q->goal_max ? "  met" :
							"  MISSED");
		else
			printf("%-55s %10s\n", q->name, a);
	}
	if (r->notes[0])
		printf("notes: %s\n", r->notes);
}

static void json_str(FILE *f, const char *s)
{
	fputc('"', f);
	for (; *s; s++) {
		unsigned char ch = (unsigned char)*s;

		if (ch == '"' || ch == '\\')
			fprintf(f, "\\%c", ch);
		else if (ch == '\n')
			fputs("\\n", f);
		else if (ch < 0x20)
			fprintf(f, "\\u%04x", ch);
		else
			fputc(ch, f);
	}
	fputc('"', f);
}

static void json_num(FILE *f, double v)
{
	if (isfinite(v))
		fprintf(f, "%.6g", v);
	else
		fputs("null", f);
}

int bl_write_json(const struct bl_result *r, const char *path)
{
	FILE *f = fopen(path, "we");

	if (!f) {
		fprintf(stderr, "bench: %s: %s\n", path, strerror(errno));
		return -1;
	}
	fputs("{\"name\": ", f);
	json_str(f, r->name);
	fputs(",\n \"rows\": [", f);
	for (int i = 0; i < r->nrows; i++) {
		const struct bl_row *w = &r->rows[i];

		fputs(i ? ",\n  {\"vmm\": " : "\n  {\"vmm\": ", f);
		json_str(f, w->vmm);
		fputs(", \"metric\": ", f);
		json_str(f, w->metric);
		fputs(", \"unit\": ", f);
		json_str(f, w->unit);
		fputs(", \"median\": ", f);
		json_num(f, w->s.median);
		fputs(", \"p10\": ", f);
		json_num(f, w->s.p10);
		fputs(", \"p90\": ", f);
		json_num(f, w->s.p90);
		fprintf(f, ", \"n\": %d}", w->s.n);
	}
	fputs("],\n \"ratios\": [", f);
	for (int i = 0; i < r->nratios; i++) {
		const struct bl_ratio *q = &r->ratios[i];

		fputs(i ? ",\n  {\"name\": " : "\n  {\"name\": ", f);
		json_str(f, q->name);
		fputs(", \"value\": ", f);
		if (q->value < 0)
			fputs("null", f);
		else
			json_num(f, q->value);
		fputs(", \"goal\": ", f);
		if (q->goal_max > 0)
			json_str(f, q->goal);
		else
			fputs("null", f);
		fputs(", \"met\": ", f);
		if (q->goal_max > 0 && q->value >= 0)
			fputs(q->value < q->goal_max ? "true" : "false", f);
		else
			fputs("null", f);
		fputc('}', f);
	}
	fputs("],\n \"notes\": ", f);
	json_str(f, r->notes);
	fputs("}\n", f);
	if (fclose(f)) {
		fprintf(stderr, "bench: %s: %s\n", path, strerror(errno));
		return -1;
	}
	return 0;
}

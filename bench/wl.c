// SPDX-License-Identifier: BSD-3-Clause
/*
 * wl: Wayland round trips through libcvm's virtio-wayland device against a
 * host client's on a plain Unix socket, both to the same weston.
 *
 * One weston (headless, kiosk shell, as tests/integration/wllib.c starts
 * it: a private XDG_RUNTIME_DIR, its own process group) serves, each round
 * (--warmup rounds, default 1, uncounted, then -n rounds, default 5; the
 * order rotates every round):
 *
 *   host              this program, N wl_display.sync round trips on its own
 *                     AF_UNIX connection (the raw wire protocol: write the
 *                     12-byte request, read until wl_callback.done and
 *                     wl_display.delete_id), busy-polling its non-blocking
 *                     socket as the guest polls its queues: the limit, no VM
 *                     in the way
 *   host-poll         the same client sleeping in poll() between reads, as
 *                     clients usually do (the scheduler's wake-ups count)
 *   libcvm            cvm run --wayland-sock SOCK -p "cvm.test=bench_wl cvm.n=N"
 *                     (tests/guest/t_bench_wl.c: the same N round trips, each a
 *                     VFD_SEND on a context and the VFD_RECVs back, polled
 *                     from guest ring 3, timed with the guest's TSC)
 *   libcvm-nosandbox  the same with --disable-sandbox
 *
 * Rows: the mean round trip (us), the rate (round trips/s) and the fastest
 * round trip of a run; ratios libcvm/host of the round trip and of the rate.
 * QEMU has no virtio-wayland device: there is no QEMU row.
 *
 * Without weston on PATH it prints why and exits 77 (skipped).
 *
 *   wl [-n RUNS] [--syncs N] [--json FILE] [common options, see --help]
 */
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <signal.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/prctl.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "benchlib.h"

#define DEFAULT_RUNS 5
#define DEFAULT_SYNCS 5000
#define QUICK_SYNCS 200
#define DEFAULT_TIMEOUT_S 60
#define WESTON_WAIT_MS 10000
#define SOCK_NAME "wayland-bench"
#define OUT_MAX (1 << 16)
#define EXIT_SKIP 77

enum who { W_HOST, W_HOST_POLL, W_CVM, W_CVM_NOSB, W_N };

static const char *const wname[W_N] = { "host", "host-poll", "libcvm", "libcvm-nosandbox" };

static const char help[] =
	"Wayland wl_display.sync round trips: a guest through libcvm's virtio-wayland\n"
	"device (sandboxed and not) against a host client on a Unix socket, both to\n"
	"the same headless weston (which must be installed; else exit 77).\n"
	"      --syncs N        round trips per run (default 5000; 200 with\n"
	"                       CVM_BENCH_QUICK=1, as bench/run --quick sets)\n"
	"Defaults here: -n 5, --warmup 1, --timeout 60, --mem 64.\n";

/* One run: the mean and the fastest round trip in us. */
struct run {
	double mean_us, min_us;
	double notify_us;   /* guest: the mean time of the out queue's notify write */
	unsigned int exits; /* guest: notifies written (VM exits) in the loop */
	unsigned int recvs; /* guest: VFD_RECVs that came in the loop */
};

static char g_dir[64], g_sock[108], g_log[128]; /* g_sock: as sun_path */
static volatile pid_t g_weston = -1;

static double now_us(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (double)ts.tv_sec * 1e6 + (double)ts.tv_nsec / 1e3;
}

/* ---- weston ------------------------------------------------------------------ */

static const char *find_weston(char *buf, size_t len)
{
	const char *path = getenv("PATH");

	if (!path || !*path)
		path = "/usr/local/bin:/usr/bin:/bin";
	while (*path) {
		const char *end = strchr(path, ':');
		size_t n = end ? (size_t)(end - path) : strlen(path);

		snprintf(buf, len, "%.*s/weston", (int)n, n ? path : ".");
		if (!access(buf, X_OK))
			return buf;
		path += n + (end ? 1 : 0);
	}
	return NULL;
}

static int sock_connect(const char *path)
{
	struct sockaddr_un sa = { .sun_family = AF_UNIX };
	size_t len = strlen(path);
	int fd;

	if (len >= sizeof(sa.sun_path)) {
		errno = ENAMETOOLONG;
		return -1;
	}
	memcpy(sa.sun_path, path, len + 1);
	fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
	if (fd < 0)
		return -1;
	if (connect(fd, (struct sockaddr *)&sa, sizeof(sa))) {
		close(fd);
		return -1;
	}
	return fd;
}

static void print_weston_log(void)
{
	char buf[4096];
	int fd = open(g_log, O_RDONLY | O_CLOEXEC);
	off_t end = fd >= 0 ? lseek(fd, 0, SEEK_END) : 0;
	ssize_t n;

	if (fd < 0)
		return;
	lseek(fd, end > (off_t)sizeof(buf) - 1 ? end - (off_t)sizeof(buf) + 1 : 0, SEEK_SET);
	n = read(fd, buf, sizeof(buf) - 1);
	close(fd);
	if (n > 0) {
		buf[n] = '\0';
		fprintf(stderr, "wl: the end of weston's log:\n%s\n", buf);
	}
}

/* Async-signal-safe: the whole process group. */
static void kill_weston(void)
{
	if (g_weston > 0)
		kill(-g_weston, SIGKILL);
}

static void weston_stop(void)
{
	DIR *d;

	if (g_weston > 0) {
		double t0 = bl_now_ms();
		int st;

		kill(-g_weston, SIGTERM);
		while (waitpid(g_weston, &st, WNOHANG) == 0 && bl_now_ms() - t0 < 5000)
			bl_sleep_ms(20);
		kill(-g_weston, SIGKILL); /* and whatever else of its group is left */
		waitpid(g_weston, &st, WNOHANG);
		g_weston = -1;
	}
	if (!g_dir[0])
		return;
	d = opendir(g_dir);
	for (struct dirent *e; d && (e = readdir(d));)
		if (strcmp(e->d_name, ".") && strcmp(e->d_name, ".."))
			unlinkat(dirfd(d), e->d_name, 0);
	if (d)
		closedir(d);
	rmdir(g_dir);
	g_dir[0] = '\0';
}

static int weston_start(const char *bin)
{
	char sockarg[64];
	double t0;
	int fd;
	pid_t pid;

	snprintf(g_dir, sizeof(g_dir), "/tmp/cvm-bench-wl.XXXXXX");
	if (!mkdtemp(g_dir)) { /* mode 0700, as XDG_RUNTIME_DIR must be */
		fprintf(stderr, "wl: mkdtemp: %s\n", strerror(errno));
		g_dir[0] = '\0';
		return -1;
	}
	snprintf(g_sock, sizeof(g_sock), "%s/%s", g_dir, SOCK_NAME);
	snprintf(g_log, sizeof(g_log), "%s/weston.log", g_dir);
	snprintf(sockarg, sizeof(sockarg), "--socket=%s", SOCK_NAME);
	pid = fork();
	if (pid < 0) {
		fprintf(stderr, "wl: fork: %s\n", strerror(errno));
		return -1;
	}
	if (pid == 0) {
		setpgid(0, 0);
		prctl(PR_SET_PDEATHSIG, SIGKILL);
		fd = open(g_log, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0600);
		if (fd < 0 || dup2(fd, 1) < 0 || dup2(fd, 2) < 0)
			_exit(126);
		fd = open("/dev/null", O_RDONLY);
		if (fd < 0 || dup2(fd, 0) < 0)
			_exit(126);
		setenv("XDG_RUNTIME_DIR", g_dir, 1);
		unsetenv("WAYLAND_DISPLAY");
		unsetenv("WAYLAND_SOCKET");
		unsetenv("DISPLAY");
		execl(bin, "weston", "--backend=headless-backend.so", sockarg, "--idle-time=0",
		      "--no-config", "--shell=kiosk-shell.so", (char *)NULL);
		dprintf(2, "cannot execute %s: %s\n", bin, strerror(errno));
		_exit(127);
	}
	setpgid(pid, pid);
	g_weston = pid;
	t0 = bl_now_ms();
	while ((fd = sock_connect(g_sock)) < 0) {
		int st;

		if (waitpid(pid, &st, WNOHANG) == pid) {
			g_weston = -1;
			fprintf(stderr,
				"wl: weston exited (status %#x) before %s accepted clients\n", st,
				g_sock);
			print_weston_log();
			return -1;
		}
		if (bl_signal || bl_now_ms() - t0 > WESTON_WAIT_MS) {
			fprintf(stderr, "wl: %s did not accept clients within %d s\n", g_sock,
				WESTON_WAIT_MS / 1000);
			print_weston_log();
			return -1;
		}
		bl_sleep_ms(20);
	}
	close(fd);
	printf("wl: weston (pid %d) up on %s after %.0f ms\n", (int)pid, g_sock, bl_now_ms() - t0);
	return 0;
}

/* ---- the host client --------------------------------------------------------- */

/*
 * Reads until wl_callback(@cb).done and wl_display.delete_id(@cb) came; a
 * bounded wait (@deadline, bl_now_ms() scale). 0, or -1 (printed).
 */
static uint8_t hbuf[4096];
static size_t hlen;

static int host_wait(int fd, uint32_t cb, double deadline, bool spin)
{
	unsigned long spins = 0;

	uint8_t *buf = hbuf;
	size_t len = hlen;
	bool done = false, deleted = false;

	while (!done || !deleted) {
		struct pollfd p = { .fd = fd, .events = POLLIN };
		size_t off = 0;
		ssize_t n = read(fd, buf + len, sizeof(hbuf) - len);

		if (n < 0 && errno == EAGAIN) {
			int left;

			if (spin && ++spins % 4096)
				continue; /* busy-poll, as the guest polls its queues */
			left = (int)(deadline - bl_now_ms());
			if (left <= 0 || bl_signal) {
				fprintf(stderr, "wl: host: no wl_callback.done in time\n");
				return -1;
			}
			if (!spin)
				poll(&p, 1, left);
			continue;
		}
		if (n <= 0) {
			fprintf(stderr, "wl: host: weston closed the connection (%s)\n",
				n ? strerror(errno) : "EOF");
			return -1;
		}
		len += (size_t)n;
		while (len - off >= 8) {
			uint32_t h[3] = { 0 }, size;

			memcpy(h, buf + off, 8);
			size = h[1] >> 16;
			if (size < 8 || size > sizeof(hbuf)) {
				fprintf(stderr, "wl: host: an event of %u bytes\n", size);
				return -1;
			}
			if (len - off < size)
				break;
			if (size >= 12)
				memcpy(&h[2], buf + off + 8, 4);
			if (h[0] == cb && (h[1] & 0xffff) == 0)
				done = true;
			else if (h[0] == 1 && (h[1] & 0xffff) == 1 && size >= 12 && h[2] == cb)
				deleted = true;
			else if (h[0] == 1 && (h[1] & 0xffff) == 0) {
				fprintf(stderr, "wl: host: wl_display.error\n");
				return -1;
			}
			off += size;
		}
		memmove(buf, buf + off, len - off);
		len -= off;
	}
	hlen = len;
	return 0;
}

/* @n sync round trips on a fresh connection (new id 2, reused after delete_id). */
static int host_run(const struct bl_opts *o, unsigned long n, bool spin, struct run *r)
{
	const uint32_t req[3] = { 1, 12u << 16 | 0, 2 };
	double deadline = bl_now_ms() + o->timeout_ms + (double)n, t0, min = 1e30;
	int fd = sock_connect(g_sock), rc = 0;

	if (fd < 0) {
		fprintf(stderr, "wl: host: connect %s: %s\n", g_sock, strerror(errno));
		return -1;
	}
	hlen = 0;
	fcntl(fd, F_SETFL, O_NONBLOCK);
	t0 = now_us();
	for (unsigned long i = 0; i < n && !rc; i++) {
		double s = now_us();

		if (write(fd, req, sizeof(req)) != (ssize_t)sizeof(req)) {
			fprintf(stderr, "wl: host: write: %s\n", strerror(errno));
			rc = -1;
			break;
		}
		rc = host_wait(fd, 2, deadline, spin);
		if (now_us() - s < min)
			min = now_us() - s;
	}
	r->mean_us = (now_us() - t0) / (double)n;
	r->min_us = min;
	r->exits = 0;
	r->recvs = 0;
	r->notify_us = 0;
	close(fd);
	return rc;
}

/* ---- the guest under cvm -------------------------------------------------------- */

/* Runs @argv to its end (deadline @ms); its stdout in @out. 0 when it exited 0. */
static int run_collect(char *const argv[], const char *who, double ms, char *out, size_t cap)
{
	size_t len = 0;
	struct bl_proc p;
	double deadline;
	int st, rc = 0;

	out[0] = '\0';
	if (bl_spawn(&p, argv))
		return -1;
	deadline = p.t0 + ms;
	for (;;) {
		struct pollfd f = { .fd = p.out, .events = POLLIN };
		int left = (int)(deadline - bl_now_ms());
		ssize_t n;

		if (bl_signal || left <= 0) {
			if (!bl_signal)
				fprintf(stderr, "wl: %s timed out after %.0f s\n", who, ms / 1000);
			rc = -1;
			break;
		}
		if (poll(&f, 1, left) <= 0)
			continue;
		n = read(p.out, out + len, len + 1 < cap ? cap - 1 - len : 0);
		if (n < 0 && errno == EINTR)
			continue;
		if (n <= 0)
			break;
		len += (size_t)n;
		out[len] = '\0';
	}
	st = bl_finish(&p, rc ? SIGKILL : 0, bl_now_ms() + 5000);
	if (!rc && (!WIFEXITED(st) || WEXITSTATUS(st))) {
		fprintf(stderr, "wl: %s ended with status %#x\n", who, st);
		rc = -1;
	}
	if (rc && !bl_signal) {
		fprintf(stderr, "wl: %s's output:\n%s\n", who, out);
		bl_print_log(&p, who);
	}
	bl_drop_log(&p);
	return rc;
}

static int vmm_run(const struct bl_opts *o, enum who w, unsigned long n, struct run *r)
{
	static char out[OUT_MAX];
	char mem[16], param[64];
	const char *av[16], *line;
	unsigned long long got_n, ns, min_ns, max_ns, notify_ns = 0;
	unsigned int out_exits = 0, in_exits = 0, recvs = 0;
	int i = 0;

	snprintf(mem, sizeof(mem), "%d", o->mem_mib);
	snprintf(param, sizeof(param), "cvm.test=bench_wl cvm.n=%lu", n);
	av[i++] = o->cvm;
	av[i++] = "run";
	av[i++] = "-m";
	av[i++] = mem;
	if (w == W_CVM_NOSB) {
		av[i++] = "--disable-sandbox";
	} else if (o->policy_dir) {
		av[i++] = "--seccomp-policy-dir";
		av[i++] = o->policy_dir;
	}
	av[i++] = "--wayland-sock";
	av[i++] = g_sock;
	av[i++] = "-p";
	av[i++] = param;
	av[i++] = o->guest;
	av[i] = NULL;
	/* The set-up runs in emulated ring 0 (seconds); then ~0.1-1 ms a round trip. */
	if (run_collect((char *const *)av, wname[w], o->timeout_ms + (double)n * 2, out,
			sizeof(out)))
		return -1;
	line = strstr(out, "BENCH wl sync n ");
	if (!line ||
	    sscanf(line,
		   "BENCH wl sync n %llu ns %llu min_ns %llu max_ns %llu out_notifies %u "
		   "in_notifies %u recvs %u notify_ns %llu",
		   &got_n, &ns, &min_ns, &max_ns, &out_exits, &in_exits, &recvs, &notify_ns) != 8 ||
	    got_n != n || !strstr(out, "PASS bench_wl")) {
		fprintf(stderr, "wl: %s: no result in the guest's output:\n%s\n", wname[w], out);
		return -1;
	}
	r->mean_us = (double)ns / 1e3 / (double)n;
	r->min_us = (double)min_ns / 1e3;
	r->exits = out_exits + in_exits;
	r->recvs = recvs;
	r->notify_us = (double)notify_ns / 1e3 / (double)(out_exits ? out_exits : 1);
	return 0;
}

/* ---- main -------------------------------------------------------------------------- */

static int own_opts(int *argc, char **argv, unsigned long *syncs, bool *runs, bool *timeout)
{
	int j = 1;

	for (int i = 1; i < *argc; i++) {
		const char *a = argv[i];

		if (!strcmp(a, "--syncs") && i + 1 < *argc) {
			*syncs = strtoul(argv[++i], NULL, 10);
			if (!*syncs)
				return -1;
			continue;
		}
		if (!strcmp(a, "-n") || !strcmp(a, "--runs") || !strncmp(a, "--runs=", 7))
			*runs = true;
		if (!strcmp(a, "--timeout") || !strncmp(a, "--timeout=", 10))
			*timeout = true;
		argv[j++] = argv[i];
	}
	argv[j] = NULL;
	*argc = j;
	return 0;
}

int main(int argc, char **argv)
{
	static struct bl_result res = { .name = "wl" };
	struct bl_opts o = { 0 };
	unsigned long syncs = DEFAULT_SYNCS;
	bool runs = false, timeout = false;
	char wbin[4096];
	struct run *rr[W_N];
	int rc, ret = 1, total;

	if (getenv("CVM_BENCH_QUICK") && !strcmp(getenv("CVM_BENCH_QUICK"), "1"))
		syncs = QUICK_SYNCS; /* bench/run --quick: a check, not a measurement */
	if (own_opts(&argc, argv, &syncs, &runs, &timeout)) {
		fprintf(stderr, "wl: bad --syncs (see --help)\n");
		return 2;
	}
	rc = bl_parse(argc, argv, "wl", help, &o);
	if (rc)
		return rc == 1 ? 0 : rc;
	if (!runs)
		o.runs = DEFAULT_RUNS;
	if (!timeout)
		o.timeout_ms = DEFAULT_TIMEOUT_S * 1000;
	if (!o.mem_mib)
		o.mem_mib = 64;
	if (!find_weston(wbin, sizeof(wbin))) {
		printf("wl: skipped: weston is not installed (Debian package weston; "
		       "scripts/deps installs it): no compositor to measure against\n");
		return EXIT_SKIP;
	}
	bl_signals(kill_weston);
	if (weston_start(wbin)) {
		weston_stop();
		return 1;
	}
	total = o.warmup + o.runs;
	for (int w = 0; w < W_N; w++)
		rr[w] = calloc((size_t)total, sizeof(struct run));
	printf("wl: %d warm-up + %d rounds of %lu wl_display.sync round trips; guest %d MiB; "
	       "no QEMU rows (QEMU has no virtio-wayland device)\n",
	       o.warmup, o.runs, syncs, o.mem_mib);
	for (int r = 0; r < total; r++) {
		for (int i = 0; i < W_N; i++) {
			int w = (i + r) % W_N; /* rotate: no side always follows the same one */
			struct run *x = &rr[w][r];

			if (!rr[w] || (w < W_CVM ? host_run(&o, syncs, w == W_HOST, x) :
						   vmm_run(&o, (enum who)w, syncs, x))) {
				fprintf(stderr, "wl: %s round %d failed\n", wname[w], r + 1);
				if (!bl_signal)
					print_weston_log();
				goto out;
			}
			printf("%-17s round %d%s: %8.1f us a round trip (fastest %.1f)", wname[w],
			       r + 1, r < o.warmup ? " (warm-up)" : "", x->mean_us, x->min_us);
			if (w >= W_CVM)
				printf(", %.2f notify exits (%.1f us each) and %.2f VFD_RECVs a "
				       "round trip",
				       (double)x->exits / (double)syncs, x->notify_us,
				       (double)x->recvs / (double)syncs);
			printf("\n");
		}
	}
	for (int w = 0; w < W_N; w++) {
		double mean[total], rate[total], min[total], nu[total];
		int k = 0;

		for (int r = o.warmup; r < total; r++, k++) {
			mean[k] = rr[w][r].mean_us;
			rate[k] = 1e6 / rr[w][r].mean_us;
			min[k] = rr[w][r].min_us;
			nu[k] = rr[w][r].notify_us;
		}
		bl_add_row(&res, wname[w], "sync round trip", "us", mean, k);
		bl_add_row(&res, wname[w], "sync rate", "1/s", rate, k);
		bl_add_row(&res, wname[w], "fastest round trip", "us", min, k);
		if (w >= W_CVM)
			bl_add_row(&res, wname[w], "notify exit", "us", nu, k);
	}
	for (int w = W_CVM; w < W_N; w++) {
		bl_add_ratio(&res, wname[w], wname[W_HOST], "sync round trip", 0);
		bl_add_ratio(&res, wname[w], wname[W_HOST], "sync rate", 0);
	}
	bl_note(&res,
		"%lu wl_display.sync round trips per run (request out, wl_callback.done and "
		"wl_display.delete_id back) to one headless weston (kiosk shell); \"sync round "
		"trip\" is the run's mean, \"fastest\" its quickest one. host: a native client on "
		"a Unix socket (raw wire protocol) that busy-polls its non-blocking socket, as the "
		"guest polls its queues (the limit); host-poll: the same client sleeping in poll() "
		"instead, as clients usually do; libcvm: tests/guest/t_bench_wl.c polling both "
		"virtqueues from guest ring 3 (EVENT_IDX, no interrupts), one VFD_SEND and its "
		"VFD_RECVs per round trip, timed with the guest's TSC; \"notify exit\" is the mean time of the "
		"guest's write to the out queue's notify address (an ioeventfd: the exit ends in "
		"KVM, which wakes the device).",
		syncs);
	bl_note(&res, "QEMU has no virtio-wayland device, so there is no QEMU row.");
	bl_print(&res);
	if (o.json && bl_write_json(&res, o.json))
		goto out;
	ret = 0;
out:
	weston_stop();
	for (int w = 0; w < W_N; w++)
		free(rr[w]);
	return bl_signal ? 128 + bl_signal : ret;
}

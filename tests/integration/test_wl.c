// SPDX-License-Identifier: BSD-3-Clause
/*
 * virtio-wayland through `cvm run --wayland-sock PATH`, against a real
 * compositor: Debian's weston with its headless backend, on a private
 * XDG_RUNTIME_DIR, in its own process group. The guest side is
 * tests/guest/t_wl.c, whose comment says what each guest test checks.
 *
 * Most tests use weston with kiosk-shell, which starts no helper clients.
 * wl_shot and wl_pipe need a compositor that repaints, takes screenshots
 * and has debug streams: weston with desktop-shell, the pixman renderer, a
 * 320x240 output and --debug (weston_screenshooter, weston_debug_v1).
 * wl_host_fds talks to a fake compositor of ours that passes descriptors
 * to the guest. After every guest run against weston, weston must still be
 * alive and still serve a client of ours (a registry roundtrip over the
 * same socket): nothing the guest sent may break it.
 *
 * The CLI tests: a missing socket or one that is no socket is a clear
 * error; `--no-wl` removes the device even with $XDG_RUNTIME_DIR/wayland-0
 * there, which is used by default; a runtime dir without wayland-0 (or no
 * XDG_RUNTIME_DIR) means no device and a normal run.
 */
#include <criterion/criterion.h>

#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <pthread.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "cvmproc.h"
#include "runner.h"

#ifndef CVM_GUEST
#error "CVM_GUEST (path of cvm-guest.elf) must be defined"
#endif

#define WL_TIMEOUT 90
#define WESTON_WAIT_S 10.0
#define WESTON_STOP_S 5.0

static char *wdir;	  /* weston's XDG_RUNTIME_DIR */
static char *wsock;	  /* its socket */
static char *wlog;	  /* its stdout + stderr */
static pid_t weston = -1; /* also its process group */
static int weston_status;
static bool weston_reaped;

static double now(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

/* The weston binary on $PATH (malloc'ed), or NULL. */
static char *find_weston(void)
{
	const char *path = getenv("PATH");
	char *copy, *save = NULL, *res = NULL;

	if (!path || !*path)
		path = "/usr/local/bin:/usr/bin:/bin";
	copy = strdup(path);
	cr_assert(copy);
	for (char *d = strtok_r(copy, ":", &save); d && !res; d = strtok_r(NULL, ":", &save)) {
		char *p;

		cr_assert(asprintf(&p, "%s/weston", *d ? d : ".") > 0);
		if (access(p, X_OK) == 0)
			res = p;
		else
			free(p);
	}
	free(copy);
	return res;
}

/* The end of weston's log (a static buffer, for failure messages). */
static const char *weston_log(void)
{
	static char tail[6001];
	size_t len = 0;
	char *s = wlog ? read_file(wlog, &len) : NULL;

	if (!s)
		return "(no log)";
	snprintf(tail, sizeof(tail), "%s", len > 6000 ? s + len - 6000 : s);
	free(s);
	return tail;
}

static bool weston_alive(void)
{
	if (weston < 0 || weston_reaped)
		return false;
	if (waitpid(weston, &weston_status, WNOHANG) == weston) {
		weston_reaped = true;
		return false;
	}
	return true;
}

/* Can a client connect to @path? */
static bool sock_connects(const char *path)
{
	struct sockaddr_un sa = { .sun_family = AF_UNIX };
	int fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
	bool ok;

	if (fd < 0)
		return false;
	snprintf(sa.sun_path, sizeof(sa.sun_path), "%s", path);
	ok = connect(fd, (struct sockaddr *)&sa, sizeof(sa)) == 0;
	close(fd);
	return ok;
}

/*
 * Starts weston (headless, kiosk shell) with XDG_RUNTIME_DIR = a fresh 0700
 * directory and socket @name there; waits (bounded) until it accepts
 * clients. Skips the test when weston is not installed.
 */
static void weston_start_shell(const char *name, bool desktop)
{
	char *bin = find_weston();
	struct stat st;
	double t0;

	if (!bin)
		cr_skip_test("!!! weston is not installed: the virtio-wayland tests need a "
			     "compositor (scripts/deps installs Debian's weston) !!!");
	wdir = make_temp_dir();
	cr_assert(wdir, "cannot create a temporary directory: %s", strerror(errno));
	cr_assert_eq(stat(wdir, &st), 0);
	cr_assert_eq(st.st_mode & 0777, 0700, "runtime dir mode %o", st.st_mode & 0777);
	cr_assert(asprintf(&wsock, "%s/%s", wdir, name) > 0);
	cr_assert(asprintf(&wlog, "%s.weston.log", wdir) > 0);
	weston_reaped = false;
	weston = fork();
	cr_assert_geq(weston, 0, "fork: %s", strerror(errno));
	if (weston == 0) {
		char sockarg[128];
		int fd = open(wlog, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0600);

		setpgid(0, 0);
		snprintf(sockarg, sizeof(sockarg), "--socket=%s", name);
		if (fd < 0 || dup2(fd, 1) < 0 || dup2(fd, 2) < 0)
			_exit(126);
		fd = open("/dev/null", O_RDONLY);
		if (fd < 0 || dup2(fd, 0) < 0)
			_exit(126);
		setenv("XDG_RUNTIME_DIR", wdir, 1);
		unsetenv("WAYLAND_DISPLAY");
		unsetenv("WAYLAND_SOCKET");
		unsetenv("DISPLAY");
		if (desktop) /* repaints, fullscreen toplevels, screenshots (wl_shot) */
			execl(bin, "weston", "--backend=headless-backend.so", "--use-pixman",
			      "--width=320", "--height=240", "--debug", sockarg, "--idle-time=0",
			      "--no-config", "--shell=desktop-shell.so", (char *)NULL);
		else
			execl(bin, "weston", "--backend=headless-backend.so", sockarg,
			      "--idle-time=0", "--no-config", "--shell=kiosk-shell.so",
			      (char *)NULL);
		dprintf(2, "cannot execute %s: %s\n", bin, strerror(errno));
		_exit(127);
	}
	setpgid(weston, weston);
	free(bin);
	t0 = now();
	while (!sock_connects(wsock)) {
		if (!weston_alive()) {
			const char *log = weston_log();

			cr_assert_fail(
				"weston exited (status 0x%x) before %s accepted clients:\n%s",
				weston_status, wsock, log);
		}
		if (now() - t0 > WESTON_WAIT_S) {
			const char *log = weston_log();

			cr_assert_fail(
				"weston's socket %s did not accept clients within %.0f s:\n%s",
				wsock, WESTON_WAIT_S, log);
		}
		usleep(50000);
	}
	cr_log_info("weston pid %d up on %s after %.2f s", (int)weston, wsock, now() - t0);
}

static void weston_start(const char *name)
{
	weston_start_shell(name, false);
}

static void weston_stop(void)
{
	fproc_cleanup();
	if (weston > 0) {
		double t0 = now();

		kill(-weston, SIGTERM);
		while (weston_alive() && now() - t0 < WESTON_STOP_S)
			usleep(20000);
		if (weston_alive()) {
			kill(-weston, SIGKILL);
			waitpid(weston, &weston_status, 0);
		}
		/* Whatever else of its group is left (helpers it spawned). */
		kill(-weston, SIGKILL);
	}
	weston = -1;
	rm_rf(wdir);
	if (wlog)
		unlink(wlog);
	free(wdir);
	free(wsock);
	free(wlog);
	wdir = wsock = wlog = NULL;
}

TestSuite(wl, .fini = weston_stop);

/*
 * A host client's registry roundtrip on @path: connect, get_registry(2),
 * sync(3), read until wl_callback(3).done. Returns the number of globals,
 * or -1 with @why filled.
 */
static int host_roundtrip(const char *path, bool *has_shm, char *why, size_t whylen)
{
	struct sockaddr_un sa = { .sun_family = AF_UNIX };
	const uint32_t req[] = { 1, 12u << 16 | 1, 2, 1, 12u << 16 | 0, 3 };
	static uint8_t buf[65536];
	size_t len = 0;
	int fd, globals = 0;
	double t0 = now();

	*has_shm = false;
	fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
	if (fd < 0) {
		snprintf(why, whylen, "socket: %s", strerror(errno));
		return -1;
	}
	snprintf(sa.sun_path, sizeof(sa.sun_path), "%s", path);
	if (connect(fd, (struct sockaddr *)&sa, sizeof(sa))) {
		snprintf(why, whylen, "connect %s: %s", path, strerror(errno));
		close(fd);
		return -1;
	}
	if (write(fd, req, sizeof(req)) != (ssize_t)sizeof(req)) {
		snprintf(why, whylen, "write: %s", strerror(errno));
		close(fd);
		return -1;
	}
	for (;;) {
		struct pollfd p = { .fd = fd, .events = POLLIN };
		size_t off = 0;
		ssize_t n;

		if (now() - t0 > 10 || poll(&p, 1, 1000) < 0) {
			snprintf(why, whylen, "no wl_callback.done within 10 s");
			break;
		}
		if (!(p.revents & (POLLIN | POLLHUP)))
			continue;
		n = read(fd, buf + len, sizeof(buf) - len);
		if (n <= 0) {
			snprintf(why, whylen, "the compositor closed the connection (%s)",
				 n ? strerror(errno) : "EOF");
			break;
		}
		len += (size_t)n;
		while (len - off >= 8) {
			uint32_t h[2], size;

			memcpy(h, buf + off, 8);
			size = h[1] >> 16;
			if (size < 8 || len - off < size)
				break;
			if (h[0] == 2 && (h[1] & 0xffff) == 0 && size >= 16) {
				uint32_t slen;

				memcpy(&slen, buf + off + 12, 4);
				globals++;
				if (slen == 7 && size >= 16 + 7 &&
				    !memcmp(buf + off + 16, "wl_shm", 7))
					*has_shm = true;
			}
			if (h[0] == 3 && (h[1] & 0xffff) == 0) {
				close(fd);
				return globals;
			}
			if (h[0] == 1 && (h[1] & 0xffff) == 0) {
				snprintf(why, whylen, "wl_display.error");
				close(fd);
				return -1;
			}
			off += size;
		}
		memmove(buf, buf + off, len - off);
		len -= off;
		if (len == sizeof(buf)) {
			snprintf(why, whylen, "a 64 KiB event");
			break;
		}
	}
	close(fd);
	return -1;
}

/* Weston still runs and still serves a client that is not the guest. */
static void assert_weston_fine(const struct runner_result *r)
{
	char why[160] = "";
	bool shm;
	int n;

	if (!weston_alive()) {
		const char *log = weston_log();

		cr_assert_fail(
			"weston died (status 0x%x) during the guest run\n%s\n----- weston -----\n"
			"%s",
			weston_status, r ? r->out : "", log);
	}
	n = host_roundtrip(wsock, &shm, why, sizeof(why));
	cr_assert(n > 0 && shm, "weston no longer serves a host client: %s (%d globals, wl_shm %s)",
		  why, n, shm ? "yes" : "no");
}

static void run_wl(struct runner_result *r, const char *test, const char *const *extra)
{
	struct runner_opts o = { .timeout_s = WL_TIMEOUT };

	runner_guest(r, &o, test, extra);
	cr_assert_run(r, !r->timed_out, "cvm run did not end within %d s", WL_TIMEOUT);
}

/* The guest printed "WL global <name> <iface> <version>" for @iface. */
static bool has_global(const char *out, const char *iface)
{
	char pat[64];

	snprintf(pat, sizeof(pat), " %s ", iface);
	for (const char *l = strstr(out, "WL global "); l; l = strstr(l + 1, "WL global ")) {
		const char *end = strchr(l, '\n');
		const char *hit = strstr(l, pat);

		if (hit && (!end || hit < end))
			return true;
	}
	return false;
}

/* Runs guest test @test against a fresh weston through --wayland-sock. */
static void wl_guest_test_shell(const char *test, struct runner_result *r, bool desktop)
{
	const char *extra[3] = { "--wayland-sock", NULL, NULL };

	REQUIRE_KVM();
	weston_start_shell("wayland-cvm", desktop);
	extra[1] = wsock;
	/* Only the explicit socket: nothing from the environment. */
	unsetenv("XDG_RUNTIME_DIR");
	unsetenv("WAYLAND_DISPLAY");
	run_wl(r, test, extra);
	runner_assert_passed(r, test);
	assert_weston_fine(r);
}

/* The fixture itself: weston comes up and serves a host client. */
Test(wl, fixture_weston_serves)
{
	weston_start("wayland-cvm");
	assert_weston_fine(NULL);
}

static void wl_guest_test(const char *test, struct runner_result *r)
{
	wl_guest_test_shell(test, r, false);
}

Test(wl, registry_and_shm_pool)
{
	struct runner_result r;

	wl_guest_test("wl", &r);
	cr_assert_run(&r, has_global(r.out, "wl_compositor"), "no 'WL global ... wl_compositor'");
	cr_assert_run(&r, has_global(r.out, "wl_shm"), "no 'WL global ... wl_shm'");
	cr_assert_run(&r, strstr(r.out, "buffer accepted"), "no 'pool and 64x32 buffer accepted'");
	runner_free(&r);
}

/*
 * Shared memory both ways: the guest's picture on weston's (pixman) screen
 * comes back exactly in a screenshot weston writes into another guest buffer.
 */
Test(wl, screenshot_roundtrip)
{
	struct runner_result r;

	wl_guest_test_shell("wl_shot", &r, true);
	cr_assert_run(&r, strstr(r.out, " 0 of 76800 pixels differ"), "no exact screenshot");
	runner_free(&r);
}

Test(wl, compositor_rejects_oversized_buffer)
{
	struct runner_result r;

	wl_guest_test("wl_bad_pool", &r);
	cr_assert_run(&r, strstr(r.out, "wl_display.error object 5 code 1"),
		      "no invalid_stride error on the pool");
	cr_assert_run(&r, strstr(r.out, "WL in: VFD_HUP ctx 1\n"), "no VFD_HUP for ctx 1");
	runner_free(&r);
}

Test(wl, garbage_breaks_only_its_connection)
{
	struct runner_result r;

	wl_guest_test("wl_garbage", &r);
	cr_assert_run(&r, strstr(r.out, "WL in: VFD_HUP ctx 1\n"), "no VFD_HUP for ctx 1");
	runner_free(&r);
}

/*
 * The compositor dies under a connected guest: the context gets VFD_HUP,
 * new contexts get an error response, the device keeps working.
 */
Test(wl, compositor_killed_mid_session)
{
	const char *args[] = { "--wayland-sock", NULL, "-p", "cvm.test=wl_compositor_gone",
			       CVM_GUEST,	 NULL };
	struct runner_result r;
	struct fproc p;

	REQUIRE_KVM();
	weston_start("wayland-cvm");
	args[1] = wsock;
	unsetenv("XDG_RUNTIME_DIR");
	unsetenv("WAYLAND_DISPLAY");
	fproc_start(&p, args);
	if (!fproc_wait(&p, "WL ready\n", WL_TIMEOUT)) {
		fproc_finish(&p, &r, 0);
		cr_assert_run(&r, false, "the guest never printed 'WL ready'");
	}
	kill(-weston, SIGKILL);
	waitpid(weston, &weston_status, 0);
	weston_reaped = true;
	fproc_finish(&p, &r, WL_TIMEOUT);
	runner_assert_passed(&r, "wl_compositor_gone");
	cr_assert_run(&r, strstr(r.out, "WL in: VFD_HUP ctx 1\n"), "no VFD_HUP for ctx 1");
	runner_free(&r);
}

/* A pipe VFD the compositor writes (weston's debug stream): data, then HUP. */
Test(wl, compositor_writes_a_pipe)
{
	struct runner_result r;

	wl_guest_test_shell("wl_pipe", &r, true);
	cr_assert_run(&r, strstr(r.out, "first line \"Weston scene graph at "),
		      "no scene graph through the pipe");
	cr_assert_run(&r, strstr(r.out, "WL in: VFD_HUP pipe 50\n"), "no VFD_HUP for the pipe");
	runner_free(&r);
}

/*
 * The fake compositor of wl_host_fds: on the first connection it sends
 * "HOSTFDS\n" with a sealed memfd (5000 bytes: "CVMHOSTFD", then byte i =
 * i * 7 + 1), an unsealed one (4096 bytes: "CVMHOSTRW"), a pipe's read end
 * (it writes "PIPEDATA" into the other end and closes it) and another
 * pipe's write end (it reads what comes until EOF); then it reads the
 * connection until "BYE\n" (with the 28 descriptors of "FDS28\n"), looks
 * at what the guest wrote at offset 100 of the unsealed memfd, and closes
 * the connection.
 */
struct fakesrv {
	int lfd;
	pthread_t th;
	char pipe_got[64];
	char conn_got[64];
	char mem_got[16];
	unsigned int nfds;  /* descriptors that came with the guest's bytes */
	char gmem_got[16];  /* the first 8 bytes of the first one */
	long gmem_size;	    /* its size */
	char gpipe_got[16]; /* what the last one (a pipe) carried */
	char back_got[16];  /* the one before: our sealed memfd, passed back */
	char err[160];
};

static int fake_wait(int fd, int ms)
{
	struct pollfd p = { .fd = fd, .events = POLLIN };

	return poll(&p, 1, ms);
}

/* Reads @fd until EOF (or @stop seen), at most @size - 1 bytes, for up to 60 s. */
static void fake_read(int fd, char *buf, size_t size, const char *stop)
{
	size_t len = 0;
	double t0 = now();

	while (len + 1 < size && now() - t0 < 60) {
		ssize_t n;

		if (fake_wait(fd, 200) <= 0)
			continue;
		n = read(fd, buf + len, size - 1 - len);
		if (n <= 0)
			break;
		len += (size_t)n;
		buf[len] = '\0';
		if (stop && strstr(buf, stop))
			break;
	}
	buf[len] = '\0';
}

/*
 * Reads the connection until "BYE\n" (60 s at most), keeping the
 * descriptors that come: the first must be a guest buffer, the last a pipe.
 */
static void fake_recv(struct fakesrv *f, int c)
{
	int got[64];
	size_t len = 0;
	double t0 = now();

	while (len + 1 < sizeof(f->conn_got) && now() - t0 < 60 && !strstr(f->conn_got, "BYE\n")) {
		char cbuf[CMSG_SPACE(32 * sizeof(int))];
		struct iovec io = { f->conn_got + len, sizeof(f->conn_got) - 1 - len };
		struct msghdr m = { .msg_iov = &io,
				    .msg_iovlen = 1,
				    .msg_control = cbuf,
				    .msg_controllen = sizeof(cbuf) };
		ssize_t n;

		if (fake_wait(c, 200) <= 0)
			continue;
		n = recvmsg(c, &m, MSG_CMSG_CLOEXEC);
		if (n <= 0)
			break;
		len += (size_t)n;
		f->conn_got[len] = '\0';
		for (struct cmsghdr *h = CMSG_FIRSTHDR(&m); h; h = CMSG_NXTHDR(&m, h)) {
			size_t k = (h->cmsg_len - CMSG_LEN(0)) / sizeof(int);

			if (h->cmsg_level != SOL_SOCKET || h->cmsg_type != SCM_RIGHTS)
				continue;
			for (size_t i = 0; i < k; i++) {
				int fd;

				memcpy(&fd, CMSG_DATA(h) + i * sizeof(int), sizeof(int));
				if (f->nfds < 64)
					got[f->nfds] = fd;
				else
					close(fd);
				f->nfds++;
			}
		}
	}
	if (f->nfds >= 2 && f->nfds <= 64) {
		struct stat st;

		if (pread(got[0], f->gmem_got, 8, 0) != 8 || fstat(got[0], &st))
			snprintf(f->err, sizeof(f->err), "the guest's buffer: %s", strerror(errno));
		else
			f->gmem_size = (long)st.st_size;
		if (pread(got[f->nfds - 2], f->back_got, 9, 0) != 9)
			snprintf(f->err, sizeof(f->err), "the memfd passed back: %s",
				 strerror(errno));
		fake_read(got[f->nfds - 1], f->gpipe_got, sizeof(f->gpipe_got), NULL);
	}
	for (unsigned int i = 0; i < f->nfds && i < 64; i++)
		close(got[i]);
}

static void *fakesrv_main(void *arg)
{
	struct fakesrv *f = arg;
	int c = -1, ro = -1, rw = -1, pa[2] = { -1, -1 }, pb[2] = { -1, -1 };
	uint8_t content[5000]; /* a last page only partly there, as in a keymap */
	char cbuf[CMSG_SPACE(4 * sizeof(int))];
	struct iovec io = { .iov_base = "HOSTFDS\n", .iov_len = 8 };
	struct msghdr m = { .msg_iov = &io, .msg_iovlen = 1 };
	struct cmsghdr *h;
	int fds[4];
	double t0 = now();

	while (c < 0 && now() - t0 < 60)
		if (fake_wait(f->lfd, 200) > 0)
			c = accept4(f->lfd, NULL, NULL, SOCK_CLOEXEC);
	if (c < 0) {
		snprintf(f->err, sizeof(f->err), "no connection within 60 s");
		return NULL;
	}
	memcpy(content, "CVMHOSTFD", 9);
	for (unsigned int i = 9; i < sizeof(content); i++)
		content[i] = (uint8_t)(i * 7 + 1);
	ro = memfd_create("cvm-test-ro", MFD_CLOEXEC | MFD_ALLOW_SEALING);
	rw = memfd_create("cvm-test-rw", MFD_CLOEXEC | MFD_ALLOW_SEALING);
	if (ro < 0 || rw < 0 || write(ro, content, sizeof(content)) != sizeof(content) ||
	    fcntl(ro, F_ADD_SEALS, F_SEAL_SHRINK | F_SEAL_GROW | F_SEAL_WRITE) ||
	    ftruncate(rw, 4096) || pwrite(rw, "CVMHOSTRW", 9, 0) != 9 || pipe2(pa, O_CLOEXEC) ||
	    pipe2(pb, O_CLOEXEC)) {
		snprintf(f->err, sizeof(f->err), "setting up the descriptors: %s", strerror(errno));
		goto out;
	}
	fds[0] = ro;
	fds[1] = rw;
	fds[2] = pa[0];
	fds[3] = pb[1];
	m.msg_control = cbuf;
	m.msg_controllen = sizeof(cbuf);
	h = CMSG_FIRSTHDR(&m);
	h->cmsg_level = SOL_SOCKET;
	h->cmsg_type = SCM_RIGHTS;
	h->cmsg_len = CMSG_LEN(sizeof(fds));
	memcpy(CMSG_DATA(h), fds, sizeof(fds));
	if (sendmsg(c, &m, MSG_NOSIGNAL) != 8) {
		snprintf(f->err, sizeof(f->err), "sendmsg: %s", strerror(errno));
		goto out;
	}
	close(pa[0]);
	close(pb[1]);
	pa[0] = pb[1] = -1;
	if (write(pa[1], "PIPEDATA", 8) != 8)
		snprintf(f->err, sizeof(f->err), "pipe write: %s", strerror(errno));
	close(pa[1]);
	pa[1] = -1;
	fake_read(pb[0], f->pipe_got, sizeof(f->pipe_got), NULL);
	fake_recv(f, c);
	if (pread(rw, f->mem_got, 10, 100) != 10)
		snprintf(f->err, sizeof(f->err), "pread: %s", strerror(errno));
out:
	close(c);
	close(ro);
	close(rw);
	for (int i = 0; i < 2; i++) {
		close(pa[i]);
		close(pb[i]);
	}
	return NULL;
}

Test(wl, descriptors_from_the_host)
{
	struct sockaddr_un sa = { .sun_family = AF_UNIX };
	const char *extra[3] = { "--wayland-sock", NULL, NULL };
	struct fakesrv f = { .lfd = -1 };
	struct runner_result r;

	REQUIRE_KVM();
	wdir = make_temp_dir();
	cr_assert(wdir);
	cr_assert(asprintf(&wsock, "%s/fake-wl", wdir) > 0);
	f.lfd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
	cr_assert_geq(f.lfd, 0);
	snprintf(sa.sun_path, sizeof(sa.sun_path), "%s", wsock);
	cr_assert_eq(bind(f.lfd, (struct sockaddr *)&sa, sizeof(sa)), 0, "bind %s: %s", wsock,
		     strerror(errno));
	cr_assert_eq(listen(f.lfd, 4), 0);
	cr_assert_eq(pthread_create(&f.th, NULL, fakesrv_main, &f), 0);
	extra[1] = wsock;
	unsetenv("XDG_RUNTIME_DIR");
	run_wl(&r, "wl_host_fds", extra);
	pthread_join(f.th, NULL);
	close(f.lfd);
	runner_assert_passed(&r, "wl_host_fds");
	cr_assert_run(&r, !f.err[0], "fake compositor: %s", f.err);
	cr_assert_run(&r, !strcmp(f.pipe_got, "GUESTPIPE"),
		      "the host's pipe got \"%s\", want \"GUESTPIPE\"", f.pipe_got);
	cr_assert_run(&r, !strcmp(f.conn_got, "FDS28\nBYE\n"),
		      "the connection got \"%s\", want FDS28 and BYE", f.conn_got);
	cr_assert_run(&r, f.nfds == 28, "%u descriptors came with FDS28, want 28", f.nfds);
	cr_assert_run(&r, !memcmp(f.gmem_got, "GUESTMEM", 8) && f.gmem_size == 4096,
		      "the guest's buffer holds \"%.8s\" and %ld bytes, want GUESTMEM and 4096",
		      f.gmem_got, f.gmem_size);
	cr_assert_run(&r, !memcmp(f.back_got, "CVMHOSTFD", 9),
		      "the sealed memfd passed back holds \"%.9s\"", f.back_got);
	cr_assert_run(&r, !strcmp(f.gpipe_got, "GPIPE2"),
		      "the guest's pipe carried \"%s\", want GPIPE2", f.gpipe_got);
	cr_assert_run(&r, !memcmp(f.mem_got, "GUESTWROTE", 10),
		      "the unsealed memfd at offset 100 holds \"%.10s\", want GUESTWROTE",
		      f.mem_got);
	runner_free(&r);
}

/* Without USE_SHMEM (guest-physical pfns), and without TRANS_FLAGS too. */
Test(wl, fewer_features)
{
	struct runner_result r;

	wl_guest_test("wl_noshm", &r);
	cr_assert_run(&r, strstr(r.out, "accepted 0x100000002 "), "features not VERSION_1|TRANS");
	runner_free(&r);
	weston_stop();
	wl_guest_test("wl_legacy", &r);
	cr_assert_run(&r, strstr(r.out, "accepted 0x100000000 "), "features not VERSION_1 only");
	runner_free(&r);
}

/*
 * The guest moves BAR 2 with a buffer mapped (--no-rng leaves a free 256 MiB
 * window at 0xe0000000): the buffer follows, the old address is empty.
 */
Test(wl, bar2_moved_by_the_guest)
{
	const char *extra[4] = { "--no-rng", "--wayland-sock", NULL, NULL };
	struct runner_result r;

	REQUIRE_KVM();
	weston_start("wayland-cvm");
	extra[2] = wsock;
	unsetenv("XDG_RUNTIME_DIR");
	run_wl(&r, "wl_bar_move", extra);
	runner_assert_passed(&r, "wl_bar_move");
	cr_assert_run(&r, strstr(r.out, "WL moving BAR2 from "), "BAR2 was not moved");
	assert_weston_fine(&r);
	runner_free(&r);
}

/* A device reset mid-session: every VFD forgotten, buffers unmapped, then all works again. */
Test(wl, device_reset_mid_session)
{
	struct runner_result r;

	wl_guest_test("wl_reset", &r);
	cr_assert_run(&r, strstr(r.out, "WL old buffer 5 after the reset reads 0x0\n"),
		      "the old buffer still reads as something after the reset");
	runner_free(&r);
}

/*
 * The fake compositor of wl_held: it never reads. It closes the second
 * connection HOLD_CLOSE_S after accepting it and keeps the first until the
 * test is over.
 */
#define HOLD_CLOSE_S 5.0

struct holdsrv {
	int lfd;
	pthread_t th;
	volatile bool stop;
	unsigned int accepted;
	bool closed2;
};

static void *holdsrv_main(void *arg)
{
	struct holdsrv *h = arg;
	int c[2] = { -1, -1 };
	double t2 = 0;

	while (!h->stop) {
		if (h->accepted < 2 && fake_wait(h->lfd, 100) > 0) {
			c[h->accepted] = accept4(h->lfd, NULL, NULL, SOCK_CLOEXEC);
			if (c[h->accepted] >= 0 && ++h->accepted == 2)
				t2 = now();
		} else {
			usleep(50000);
		}
		if (t2 && !h->closed2 && now() - t2 > HOLD_CLOSE_S) {
			close(c[1]);
			c[1] = -1;
			h->closed2 = true;
		}
	}
	close(c[0]);
	close(c[1]);
	return NULL;
}

/* A VFD_SEND held by the device (the peer never reads): reset, peer gone. */
Test(wl, held_send)
{
	struct sockaddr_un sa = { .sun_family = AF_UNIX };
	const char *extra[3] = { "--wayland-sock", NULL, NULL };
	struct holdsrv h = { .lfd = -1 };
	struct runner_result r;

	REQUIRE_KVM();
	wdir = make_temp_dir();
	cr_assert(wdir);
	cr_assert(asprintf(&wsock, "%s/hold-wl", wdir) > 0);
	h.lfd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
	cr_assert_geq(h.lfd, 0);
	snprintf(sa.sun_path, sizeof(sa.sun_path), "%s", wsock);
	cr_assert_eq(bind(h.lfd, (struct sockaddr *)&sa, sizeof(sa)), 0);
	cr_assert_eq(listen(h.lfd, 4), 0);
	cr_assert_eq(pthread_create(&h.th, NULL, holdsrv_main, &h), 0);
	extra[1] = wsock;
	unsetenv("XDG_RUNTIME_DIR");
	run_wl(&r, "wl_held", extra);
	h.stop = true;
	pthread_join(h.th, NULL);
	close(h.lfd);
	runner_assert_passed(&r, "wl_held");
	cr_assert_run(&r, h.accepted == 2 && h.closed2, "the fake compositor saw %u connections",
		      h.accepted);
	runner_free(&r);
}

/* VFDs until OUT_OF_MEMORY, then everything freed and reused. */
Test(wl, vfd_exhaustion)
{
	struct runner_result r;

	wl_guest_test("wl_many", &r);
	runner_free(&r);
}

/* The roundtrip driven by MSI-X interrupts, the guest asleep in hlt. */
Test(wl, msix_interrupts)
{
	struct runner_result r;

	wl_guest_test("wl_msix", &r);
	runner_free(&r);
}

/*
 * No spurious MSI-X interrupts: the out queue's vector fires once per
 * answer, not at DRIVER_OK nor for every fd event (run() used to signal
 * after every wl_process_out(), answered or not).
 */
Test(wl, no_spurious_interrupts)
{
	struct runner_result r;

	wl_guest_test("wl_spurious", &r);
	runner_free(&r);
}

/* Indirect and split chains; 16-byte in buffers given back empty. */
Test(wl, chain_layouts)
{
	struct runner_result r;

	wl_guest_test("wl_chains", &r);
	cr_assert_run(&r, strstr(r.out, "used 64\n"), "no split VFD_NEW response");
	runner_free(&r);
}

/*
 * With VIRTIO_RING_F_EVENT_IDX (offered, and always accepted by Linux's
 * virtio core) the out queue used to stall after the first command: the
 * device never published avail_event, so the driver stopped kicking.
 */
Test(wl, event_idx)
{
	struct runner_result r;

	wl_guest_test("wl_event_idx", &r);
	runner_free(&r);
}

/* A guest that stops reading: commands still answered, then no byte lost. */
Test(wl, in_queue_backpressure)
{
	struct runner_result r;

	wl_guest_test("wl_flood", &r);
	cr_assert_run(&r, strstr(r.out, "WL in buffers filled while not reading: 16 of 16"),
		      "the in queue did not fill up");
	runner_free(&r);
}

/* The guest test can fail: without the device, wl reports it. */
Test(wl, guest_test_fails_without_device)
{
	const char *extra[] = { "--no-wl", NULL };
	struct runner_result r;
	char *line;

	REQUIRE_KVM();
	unsetenv("XDG_RUNTIME_DIR");
	run_wl(&r, "wl", extra);
	cr_assert_run(&r, r.exited && r.status == 0, "cvm did not exit 0");
	line = find_line(r.out, "FAIL wl: no virtio-wayland");
	cr_assert_run(&r, line, "the wl test did not fail without the device");
	free(line);
	runner_free(&r);
}

/* A socket that is not there: a clear error, at once. */
Test(wl, missing_socket_is_an_error)
{
	const char *path = "/nonexistent/cvm-wl-test/wayland-9";
	const char *extra[] = { "--wayland-sock", path, NULL };
	struct runner_opts o = { .timeout_s = 30 };
	struct runner_result r;

	REQUIRE_KVM();
	runner_guest(&r, &o, "wl_absent", extra);
	cr_assert_run(&r, !r.timed_out, "cvm hung with a missing wayland socket");
	cr_assert_run(&r, r.exited && r.status != 0, "cvm exited 0 with a missing wayland socket");
	cr_assert_run(&r, strstr(r.err, path), "the error does not name %s", path);
	cr_assert_run(&r, !strstr(r.out, "PASS "), "the guest ran");
	cr_assert_run(&r, !runner_sanitizer_report(&r), "sanitizer report");
	runner_free(&r);
}

/* A path that exists but is no socket: an error too. */
Test(wl, non_socket_is_an_error)
{
	const char *extra[] = { "--wayland-sock", NULL, NULL };
	struct runner_opts o = { .timeout_s = 30 };
	struct runner_result r;
	char file[256];
	char *dir;

	REQUIRE_KVM();
	dir = make_temp_dir();
	cr_assert(dir);
	snprintf(file, sizeof(file), "%s/wayland-0", dir);
	free(dir);
	cr_assert_eq(write_file(file, "x", 1), 0);
	extra[1] = file;
	runner_guest(&r, &o, "wl_absent", extra);
	unlink(file);
	*strrchr(file, '/') = '\0';
	rmdir(file);
	file[strlen(file)] = '/';
	cr_assert_run(&r, !r.timed_out, "cvm hung with a regular file as wayland socket");
	cr_assert_run(&r, r.exited && r.status != 0, "cvm exited 0 with a regular file as socket");
	cr_assert_run(&r, strstr(r.err, file), "the error does not name %s", file);
	runner_free(&r);
}

/* $XDG_RUNTIME_DIR/wayland-0 is used by default; --no-wl turns the device off. */
Test(wl, default_socket_and_no_wl)
{
	const char *off[] = { "--no-wl", NULL };
	struct runner_result r;

	REQUIRE_KVM();
	weston_start("wayland-0");
	setenv("XDG_RUNTIME_DIR", wdir, 1);
	unsetenv("WAYLAND_DISPLAY");
	run_wl(&r, "wl_absent", off);
	runner_assert_passed(&r, "wl_absent");
	runner_free(&r);
	run_wl(&r, "wl", NULL);
	runner_assert_passed(&r, "wl");
	assert_weston_fine(&r);
	runner_free(&r);
	unsetenv("XDG_RUNTIME_DIR");
}

/* A runtime dir without wayland-0: no device, and the VM runs normally. */
Test(wl, runtime_dir_without_socket)
{
	struct runner_result r;
	char *dir;

	REQUIRE_KVM();
	dir = make_temp_dir();
	cr_assert(dir);
	setenv("XDG_RUNTIME_DIR", dir, 1);
	unsetenv("WAYLAND_DISPLAY");
	run_wl(&r, "wl_absent", NULL);
	unsetenv("XDG_RUNTIME_DIR");
	rm_rf(dir);
	free(dir);
	runner_assert_passed(&r, "wl_absent");
	runner_free(&r);
	/* And with no XDG_RUNTIME_DIR at all. */
	run_wl(&r, "wl_absent", NULL);
	runner_assert_passed(&r, "wl_absent");
	runner_free(&r);
}
